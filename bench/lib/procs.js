// @ts-check
// The harness's side of one measurement: start a runner in its own process group with a token in
// its environment, enforce the time limit, and afterwards make sure that nothing it started is
// still running (every process carrying the token is reaped or killed) and note what it left in
// /dev/shm.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MARKER } from './util.js';

const RUNNER = fileURLToPath(new URL('./runner.js', import.meta.url));
const TOKEN_VAR = 'MULTIPROC_BENCH_TOKEN';

/**
 * @typedef {object} RunResult
 * @property {'ok' | 'missing' | 'failed'} status
 * @property {number} [value]
 * @property {Record<string, number>} [also]
 * @property {string | null} [note]
 * @property {string} [reason]
 * @property {string[]} warnings   leftovers found after the run
 * @property {string[]} shmLeft    names new in /dev/shm after the run that no process uses (a leak if
 *                                 they are still there at the end of the suite; another program's otherwise)
 * @property {number} wallMs
 */

/** The runner being waited for, so that Ctrl-C can take its process group down with the harness. */
let current = /** @type {number | null} */ (null);

/** Kills the running measurement's process group (on Ctrl-C). */
export function killCurrent() {
  if (current !== null) signalGroup(current, 'SIGKILL');
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** @returns {number[]} */
function pids() {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

/**
 * Processes whose environment carries this token (children of children included, whatever
 * process group or session they moved to) — except the library's own per-user daemons (its
 * resource tracker): a process that made its own session and runs a file of multiproc's dist/. Those
 * are designed to outlive their starter, serve every process of the user (other programs running
 * beside the suite included) and exit by themselves when idle; killing them would be wrong.
 * @param {string} token
 */
function carriers(token) {
  const needle = `${TOKEN_VAR}=${token}\0`;
  /** @type {{ pid: number, cmd: string }[]} */
  const found = [];
  for (const pid of pids()) {
    if (pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').includes(needle)) continue;
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
      if (session === pid && argv.some((a) => a.startsWith(DIST))) continue;
      found.push({ pid, cmd: argv.join(' ').slice(0, 120) });
    } catch {
      // gone, a zombie or not ours to read
    }
  }
  return found;
}

/** Names in /dev/shm now. */
export function shmNames() {
  try {
    return new Set(readdirSync('/dev/shm'));
  } catch {
    return new Set();
  }
}

/**
 * Of `names`, those that no live process maps or holds open: left behind, not merely in use by
 * another program running beside the suite.
 * @param {string[]} names
 */
function unused(names) {
  if (names.length === 0) return [];
  const used = new Set();
  for (const pid of pids()) {
    try {
      for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
        const i = line.indexOf('/dev/shm/');
        if (i >= 0) used.add(line.slice(i + 9).replace(/ \(deleted\)$/, ''));
      }
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith('/dev/shm/')) used.add(target.slice(9));
      }
    } catch {
      // gone or not ours
    }
  }
  return names.filter((n) => !used.has(n));
}

/** @param {number} pid @param {NodeJS.Signals} signal */
function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

/**
 * Runs one contestant of one workload in a fresh runner process.
 * @param {{ file: string, contestant: string, ctx: import('./types.js').Ctx }} spec
 * @returns {Promise<RunResult>}
 */
export async function runMeasurement(spec) {
  const token = randomBytes(8).toString('hex');
  const shmBefore = shmNames();
  const started = performance.now();
  const child = spawn(process.execPath, [RUNNER, JSON.stringify(spec)], {
    detached: true, // leader of its own process group: one kill reaches everything it started
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, [TOKEN_VAR]: token },
  });
  current = child.pid ?? null;
  let out = '';
  let err = '';
  let resultAt = 0;
  child.stdout.setEncoding('utf8').on('data', (d) => {
    out = (out + d).slice(-65536);
    if (!resultAt && out.includes(MARKER)) resultAt = performance.now();
  });
  child.stderr.setEncoding('utf8').on('data', (d) => (err = (err + d).slice(-8192)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    signalGroup(/** @type {number} */ (child.pid), 'SIGTERM');
    setTimeout(() => signalGroup(/** @type {number} */ (child.pid), 'SIGKILL'), 1000).unref();
  }, spec.ctx.timeoutMs);
  /** @type {[number | null, string | null]} */
  const [code, signal] = await new Promise((resolve) => {
    child.on('exit', (c, s) => resolve([c, s]));
    child.on('error', (e) => {
      err += String(e);
      resolve([null, 'spawn-error']);
    });
  });
  clearTimeout(timer);
  current = null;
  const exitedAt = performance.now();
  const wallMs = exitedAt - started;
  // Output written just before exit can arrive a moment after the exit event.
  if (!out.includes(MARKER) && !timedOut) await sleep(50);
  /** @type {string[]} */
  const warnings = [];

  // Reap everything that carries the token, in the runner's process group or escaped from it. Give
  // well-behaved helpers (Python's resource tracker) a moment to finish their own cleanup first;
  // after a timeout the group has been killed already, and what is left is killed at once.
  if (timedOut) signalGroup(/** @type {number} */ (child.pid), 'SIGKILL');
  let left = carriers(token);
  for (let waited = 0; left.length > 0 && waited < (timedOut ? 500 : 3000); waited += 100) {
    await sleep(100);
    left = carriers(token);
  }
  if (left.length > 0) {
    signalGroup(/** @type {number} */ (child.pid), 'SIGKILL');
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (!timedOut) {
      warnings.push(`killed ${left.length} leftover process(es): ${left.map((p) => p.cmd).join(' | ')}`);
    }
  }
  const shmNew = [...shmNames()].filter((n) => !shmBefore.has(n));
  const shmLeft = unused(shmNew);
  if (resultAt && exitedAt - resultAt > 2500) {
    warnings.push(`the runner stayed ${((exitedAt - resultAt) / 1000).toFixed(1)} s after its result (open handles)`);
  }

  if (timedOut && !resultAt) {
    return {
      status: 'failed',
      reason: `timed out after ${Math.round(spec.ctx.timeoutMs / 1000)} s (killed)`,
      warnings,
      shmLeft,
      wallMs,
    };
  }
  const line = out
    .split('\n')
    .filter((l) => l.startsWith(MARKER))
    .pop();
  if (!line) {
    const tail = err.trim().split('\n').slice(-1)[0] || 'no output';
    return {
      status: 'failed',
      reason: `runner exited (${code ?? signal}) without a result: ${tail.slice(0, 200)}`,
      warnings,
      shmLeft,
      wallMs,
    };
  }
  const result = JSON.parse(line.slice(MARKER.length));
  return { ...result, warnings, shmLeft, wallMs };
}
