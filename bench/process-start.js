// @ts-check
// Cold start + join of a trivial target, against `node -e ''` spawned with child_process and
// awaited in the same run. N rounds, the three kinds interleaved, medians reported.
// Run: node bench/process-start.js [N]   (after `npx tsc -p tsconfig.json`)
import { spawn } from 'node:child_process';

import { currentProcess, Process } from 'multiproc';

// The trivial module target: a module that imports nothing (this file would load the library).
const NOOP_MODULE = 'data:text/javascript,export function noop() {}';

/** @param {() => Promise<unknown>} run */
async function time(run) {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

const nodeE = () =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', resolve);
  });

/** @param {import('multiproc').Target} target */
const processJoin = async (target) => {
  const p = new Process({ target });
  p.start();
  await p.join();
  if (p.exitCode !== 0) throw new Error(`the child exited with ${p.exitCode}`);
};

const median = (/** @type {number[]} */ values) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? NaN;

if (currentProcess().name === 'MainProcess') {
  const rounds = Number(process.argv[2] ?? 20);
  /** @type {Record<string, [() => Promise<unknown>, number[]]>} */
  const kinds = {
    "node -e ''": [nodeE, []],
    'Process, module target': [() => processJoin({ module: NOOP_MODULE, name: 'noop' }), []],
    'Process, function target': [() => processJoin(() => {}), []],
  };
  for (const [run] of Object.values(kinds)) await run(); // warm the page cache
  for (let round = 0; round < rounds; round++) {
    for (const [run, times] of Object.values(kinds)) times.push(await time(run));
  }
  const base = median(kinds["node -e ''"][1]);
  const rows = Object.entries(kinds).map(([kind, [, times]]) => ({
    kind,
    'median ms': median(times).toFixed(1),
    'min ms': Math.min(...times).toFixed(1),
    'vs node -e': (median(times) / base).toFixed(2),
  }));
  console.table(rows);
}
