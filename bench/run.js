// @ts-check
// The benchmark suite: `npm run bench` (builds, then `node bench/run.js`).
//
//   node bench/run.js                    every workload, 1 warm-up round + 5 measured rounds
//   node bench/run.js --filter queue     workloads whose id or title contains "queue" (repeatable, or a,b)
//   node bench/run.js --quick            smoke pass: one short round each (what CI runs)
//   node bench/run.js --rounds 3 --warmup 1 --timeout 30 --list
//
// Each measurement runs in a fresh runner process (bench/lib/runner.js) with a time limit; within a
// workload the contestants take turns, round after round (multiproc, peer A, peer B, then the next
// round starting one place later), so that a slow spell of this noisy machine hits them all alike.
// The table (stdout), bench/results/<latest|quick|filtered>.json and .svg come from the medians of
// the measured rounds. Progress goes to stderr.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, findPython } from './lib/machine.js';
import { killCurrent, runMeasurement, shmNames } from './lib/procs.js';
import { fmt, markdownTable, summarizeContestant, summarizeWorkload, svgChart } from './lib/report.js';

const HERE = new URL('./', import.meta.url);

/** Column names of the usual peers; a workload's `labels` override them. */
const LABELS = {
  multiproc: 'multiproc',
  python: 'Python',
  'cp-json': 'child_process IPC (json)',
  'cp-advanced': 'child_process IPC (advanced)',
  'worker-threads': 'worker_threads',
  zeromq: 'zeromq ipc://',
  piscina: 'piscina',
  workerpool: 'workerpool (process)',
  'node-e': "node -e ''",
};

const USAGE = `usage: node bench/run.js [--quick] [--filter text]... [--rounds n] [--warmup n] [--timeout s] [--list]`;

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      filter: { type: 'string', multiple: true, default: [] },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      timeout: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  const int = (/** @type {string | undefined} */ s, /** @type {number} */ dflt, /** @type {number} */ min) => {
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`expected an integer >= ${min}, got ${s}\n${USAGE}`);
    return n;
  };
  const quick = values.quick ?? false;
  return {
    quick,
    filters: (values.filter ?? [])
      .flatMap((f) => f.split(','))
      .map((f) => f.trim().toLowerCase())
      .filter(Boolean),
    rounds: int(values.rounds, quick ? 1 : 5, 1),
    warmup: int(values.warmup, quick ? 0 : 1, 0),
    timeoutMs: int(values.timeout, quick ? 20 : 30, 1) * 1000,
    list: values.list ?? false,
    help: values.help ?? false,
  };
}

/**
 * Loads and checks every bench/workloads/*.js. A file that does not load or is malformed is a
 * broken suite, reported and counted, never silently skipped.
 */
async function loadWorkloads() {
  /** @type {{ file: string, w: import('./lib/types.js').Workload }[]} */
  const loaded = [];
  /** @type {string[]} */
  const errors = [];
  const dir = new URL('workloads/', HERE);
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    const file = fileURLToPath(new URL(name, dir));
    try {
      const w = /** @type {import('./lib/types.js').Workload} */ (await import(pathToFileURL(file).href));
      const problems = [];
      if (typeof w.id !== 'string' || typeof w.title !== 'string' || typeof w.unit !== 'string') {
        problems.push('id, title and unit must be strings');
      }
      if (w.direction !== 'higher' && w.direction !== 'lower') problems.push('direction must be higher or lower');
      if (typeof w.contestants?.multiproc !== 'function') problems.push('contestants.multiproc must be a function');
      if (!w.size || !(w.size.full > 0) || !(w.size.quick > 0)) problems.push('size needs full and quick');
      const columns = new Set([...Object.keys(w.contestants ?? {}), ...Object.keys(w.derived ?? {})]);
      for (const g of w.goal ?? []) {
        if (!columns.has(g.vs) || !(g.ratio > 0)) problems.push(`goal against ${g.vs} is not a column or has no ratio`);
      }
      if (problems.length) throw new Error(problems.join('; '));
      loaded.push({ file, w });
    } catch (err) {
      errors.push(`${name}: ${/** @type {Error} */ (err).message?.split('\n')[0] ?? String(err)}`);
    }
  }
  loaded.sort((a, b) => (a.w.order ?? 99) - (b.w.order ?? 99) || a.w.id.localeCompare(b.w.id));
  return { loaded, errors };
}

/** @param {number} t0 */
const stamp = (t0) => `[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s]`;

async function main() {
  const opts = options();
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const t0 = performance.now();
  const { loaded, errors: loadErrors } = await loadWorkloads();
  for (const e of loadErrors) process.stderr.write(`bench: workload does not load: ${e}\n`);
  const chosen = loaded.filter(
    ({ w }) => opts.filters.length === 0 || opts.filters.some((f) => `${w.id} ${w.title}`.toLowerCase().includes(f)),
  );
  if (opts.list) {
    for (const { w } of loaded) process.stdout.write(`${w.id.padEnd(22)} ${w.title}\n`);
    return loadErrors.length ? 1 : 0;
  }
  if (chosen.length === 0) {
    process.stderr.write(`bench: no workload matches ${opts.filters.join(', ')}\n`);
    return 1;
  }

  const py = findPython();
  const machine = describeMachine(py.version);
  const machineLine =
    `Measured on ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, ` +
    `Python ${machine.python ?? `missing (${py.missing})`}, ${machine.kernel}, ${new Date().toISOString().slice(0, 10)}` +
    (machine.commit ? `, multiproc ${machine.commit}` : '');
  const methodLine =
    `Each figure is the median of ${opts.rounds} measured round(s)` +
    (opts.warmup ? ` after ${opts.warmup} warm-up round(s)` : '') +
    `, contestants interleaved within each round; the ratio compares medians, oriented so that > 1 means multiproc is better.`;
  process.stderr.write(
    `bench: ${chosen.length} workload(s), ${opts.warmup} warm-up + ${opts.rounds} measured round(s), ` +
      `timeout ${opts.timeoutMs / 1000} s per run; python: ${py.python ?? py.missing}\n`,
  );

  /** @type {import('./lib/report.js').WorkloadSummary[]} */
  const summaries = [];
  /** @type {string[]} */
  const peerFailures = [];
  /** @type {{ summary: import('./lib/report.js').WorkloadSummary, shmLeft: Record<string, Set<string>> }[]} */
  const shmChecks = [];
  for (const { file, w } of chosen) {
    const ids = Object.keys(w.contestants);
    const derived = w.derived ?? {};
    const labels = /** @type {Record<string, string>} */ ({ ...LABELS, ...(w.labels ?? {}) });
    /** @type {Record<string, { status: string, value?: number, reason?: string, round?: number }[]>} */
    const runs = {};
    /** @type {Record<string, string[]>} */
    const warnings = {};
    /** @type {Record<string, number>} */
    const wall = {};
    /** @type {Record<string, Set<string>>} */
    const shmLeft = {};
    for (const id of [...ids, ...Object.keys(derived)]) {
      runs[id] = [];
      warnings[id] = [];
      wall[id] = 0;
      shmLeft[id] = new Set();
    }
    /** @type {Set<string>} */
    const done = new Set();
    const n = opts.quick ? w.size.quick : w.size.full;
    const warmN = w.warm ? (opts.quick ? w.warm.quick : w.warm.full) : Math.max(1, Math.ceil(n / 10));
    /** @type {Record<string, import('./lib/types.js').Ctx>} */
    const ctxs = {};
    for (const id of ids) {
      const k = w.scale?.[id] ?? 1;
      ctxs[id] = {
        n: Math.max(1, Math.round(n * k)),
        warm: warmN > 0 ? Math.max(1, Math.round(warmN * k)) : 0,
        quick: opts.quick,
        python: py.python,
        pythonMissing: py.missing,
        timeoutMs: opts.timeoutMs,
      };
    }
    const total = opts.warmup + opts.rounds;
    for (let round = 0; round < total; round++) {
      const measured = round >= opts.warmup;
      const order = ids.map((_, i) => ids[(i + round) % ids.length]);
      /** @type {string[]} */
      const line = [];
      for (const id of order) {
        if (done.has(id)) continue;
        const res = await runMeasurement({ file, contestant: id, ctx: ctxs[id] });
        warnings[id].push(...res.warnings);
        wall[id] += res.wallMs;
        for (const name of res.shmLeft) shmLeft[id].add(name);
        if (res.status !== 'ok' || measured) runs[id].push({ ...res, round });
        for (const [col, src] of Object.entries(derived)) {
          if (src !== id) continue;
          const v = res.also?.[col];
          if (typeof v === 'number') {
            if (measured) runs[col].push({ status: 'ok', value: v, round });
          } else {
            const reason = `measured in ${id}'s run, which is ${res.status}: ${res.reason ?? 'no figure'}`;
            runs[col].push({ status: res.status === 'ok' ? 'failed' : res.status, reason });
          }
        }
        // A missing contestant stays missing; one that timed out or failed twice is not retried.
        const failures = runs[id].filter((r) => r.status === 'failed').length;
        if (res.status === 'missing' || /timed out/.test(res.reason ?? '') || failures >= 2) done.add(id);
        line.push(
          `${id} ${res.status === 'ok' ? fmt(/** @type {number} */ (res.value), w.unit) : res.status}` +
            (res.warnings.length ? ' (!)' : ''),
        );
      }
      if (line.length) {
        process.stderr.write(
          `${stamp(t0)} ${w.id} ${measured ? `round ${round - opts.warmup + 1}/${opts.rounds}` : 'warm-up'}: ${line.join(' | ')}\n`,
        );
      }
    }
    const contestants = [...ids, ...Object.keys(derived)].map((id) =>
      summarizeContestant(id, labels[id] ?? id, runs[id], warnings[id], wall[id]),
    );
    for (const c of contestants) {
      if (c.id !== 'multiproc' && !(c.id in derived) && c.failedRounds > 0) {
        peerFailures.push(`${w.id} / ${c.label}: ${c.reason}`);
      }
      for (const warning of c.warnings) process.stderr.write(`bench: ${w.id} / ${c.label}: ${warning}\n`);
    }
    const summary = summarizeWorkload(w, contestants);
    summaries.push(summary);
    shmChecks.push({ summary, shmLeft });
  }

  // Names a run left unused in /dev/shm are leaks if they are still there now; names that are gone
  // belonged to another program working beside the suite (a test creating and removing its own).
  const present = shmNames();
  for (const { summary, shmLeft } of shmChecks) {
    for (const c of summary.contestants) {
      const names = [...(shmLeft[c.id] ?? [])].filter((n) => present.has(n));
      if (names.length === 0) continue;
      c.warnings.push(`left in /dev/shm: ${names.join(', ')}`);
      process.stderr.write(`bench: ${summary.id} / ${c.label}: left in /dev/shm: ${names.join(', ')}\n`);
    }
  }

  const durationS = Math.round((performance.now() - t0) / 100) / 10;
  const loadAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const table = markdownTable(summaries, {
    machineLine:
      `${machineLine}; load average ${machine.loadAvgAtStart[0]} at start, ${loadAtEnd[0]} at end (${durationS} s)` +
      (opts.quick ? ' — **quick smoke pass: sizes too small for real figures**' : ''),
    methodLine,
  });
  const name = opts.quick ? 'quick' : opts.filters.length ? 'filtered' : 'latest';
  const resultsDir = new URL('results/', HERE);
  mkdirSync(resultsDir, { recursive: true });
  const json = {
    schema: 1,
    date: new Date().toISOString(),
    durationS,
    mode: {
      quick: opts.quick,
      filter: opts.filters,
      warmupRounds: opts.warmup,
      rounds: opts.rounds,
      timeoutS: opts.timeoutMs / 1000,
    },
    machine: { ...machine, loadAvgAtEnd: loadAtEnd },
    workloads: summaries.map((s) => {
      const w = /** @type {{ w: import('./lib/types.js').Workload }} */ (chosen.find((c) => c.w.id === s.id)).w;
      const n = opts.quick ? w.size.quick : w.size.full;
      /** @type {Record<string, number>} */
      const sizes = {};
      for (const id of Object.keys(w.contestants)) sizes[id] = Math.max(1, Math.round(n * (w.scale?.[id] ?? 1)));
      return { ...s, note: w.note ?? null, sizes };
    }),
    loadErrors,
    peerFailures,
    table,
  };
  writeFileSync(new URL(`${name}.json`, resultsDir), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(
    new URL(`${name}.svg`, resultsDir),
    svgChart(
      summaries,
      `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, Python ${machine.python ?? 'missing'}, ` +
        `${machine.kernel}; ${json.date.slice(0, 10)}; medians of ${opts.rounds} round(s)${opts.quick ? ' (quick pass)' : ''}`,
    ),
  );
  process.stdout.write(`${table}\n`);
  process.stderr.write(
    `bench: done in ${durationS} s; wrote bench/results/${name}.json and bench/results/${name}.svg\n`,
  );

  if (loadErrors.length) {
    process.stderr.write(`bench: ${loadErrors.length} workload file(s) do not load: the suite is broken\n`);
    return 1;
  }
  if (opts.quick && peerFailures.length) {
    process.stderr.write(`bench: peers failed (the suite has rotted):\n  ${peerFailures.join('\n  ')}\n`);
    return 1;
  }
  return 0;
}

process.on('SIGINT', () => {
  killCurrent();
  process.exit(130);
});
process.on('SIGTERM', () => {
  killCurrent();
  process.exit(143);
});

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench: the harness broke: ${/** @type {Error} */ (err)?.stack ?? String(err)}\n`);
  killCurrent();
  process.exitCode = 2;
}
