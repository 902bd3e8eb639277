// @ts-check
// One measurement in a fresh process: `node bench/lib/runner.js '<json spec>'`. It imports the
// workload, runs one contestant once, and prints one result line that starts with MARKER. The
// harness (bench/run.js) starts it as the leader of a new process group, kills the group when the
// time is up and sweeps any process that still carries the run's token, so a contestant may block
// this thread (Sync calls) without being able to hang the suite.
import { pathToFileURL } from 'node:url';
import { MARKER, Missing, firstLine } from './util.js';

/** @param {Record<string, unknown>} result */
function report(result) {
  process.stdout.write(`\n${MARKER}${JSON.stringify(result)}\n`);
}

async function main() {
  const spec = JSON.parse(process.argv[2] ?? '{}');
  const mod = await import(pathToFileURL(spec.file).href);
  const fn = mod.contestants?.[spec.contestant];
  if (typeof fn !== 'function') throw new Error(`${spec.file} has no contestant ${spec.contestant}`);
  const outcome = await fn(spec.ctx);
  const result = typeof outcome === 'number' ? { value: outcome } : outcome;
  if (!result || typeof result.value !== 'number' || !Number.isFinite(result.value) || result.value <= 0) {
    throw new Error(`contestant returned no positive finite figure: ${JSON.stringify(outcome)}`);
  }
  for (const [k, v] of Object.entries(result.also ?? {})) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`derived figure ${k} is ${v}`);
  }
  report({ status: 'ok', value: result.value, also: result.also ?? {}, note: result.note ?? null });
}

try {
  await main();
} catch (err) {
  if (err instanceof Missing) report({ status: 'missing', reason: err.message });
  else {
    report({ status: 'failed', reason: firstLine(err) });
    process.stderr.write(`${/** @type {Error} */ (err)?.stack ?? String(err)}\n`);
  }
}
// Whatever the contestant left behind (a handle, a timer), the result is out: give the library a
// moment to finish its own cleanup, then go. The harness reports processes that outlive this.
setTimeout(() => process.exit(0), 3000).unref();
