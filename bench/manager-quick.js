// @ts-check
// Quick numbers for the Manager (the full comparison lives in bench/run.js, rows manager-dict and
// manager-start). Run: node bench/manager-quick.js [rounds]
//   1. a child does d.set(k, i) then d.get(k), n times (one op = one pair), timed in the child
//   2. Manager() until a dict proxy has answered a call
// Python's figures (bench/peers/mp_manager.py) are measured in the same run, interleaved, when
// python3 is on the PATH, so that a busy machine slows both alike.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Manager, Process } from '../dist/index.js';

const rounds = Number(process.argv[2] ?? 3);
const N = 20_000;
const WARM = 2_000;
const setGet = { module: new URL('./children/manager.js', import.meta.url), name: 'setGet' };
const peer = fileURLToPath(new URL('./peers/mp_manager.py', import.meta.url));

/** @param {number[]} values */
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function multiprocPairs() {
  const manager = await Manager();
  try {
    const d = await manager.dict();
    const child = new Process({ target: setGet, args: [d, WARM, N], daemon: true });
    child.start();
    await child.join({ timeout: 60_000 });
    if (child.exitCode !== 0) throw new Error(`the child exited with ${child.exitCode}`);
    const ms = /** @type {number} */ (await d.get('elapsedMs'));
    return (N * 1000) / ms;
  } finally {
    await manager.shutdown();
  }
}

async function multiprocStart() {
  const t0 = performance.now();
  const manager = await Manager();
  const d = await manager.dict();
  await d.set('a', 1);
  const ms = performance.now() - t0;
  await manager.shutdown();
  return ms;
}

/** @param {string} mode @param {number} n @param {number} warm */
function python(mode, n, warm) {
  const run = spawnSync('python3', [peer, '--mode', mode, '--n', String(n), '--warm', String(warm)], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.error || run.status !== 0) return NaN;
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? 'null').value;
}

const pairs = { multiproc: /** @type {number[]} */ ([]), python: /** @type {number[]} */ ([]) };
const start = { multiproc: /** @type {number[]} */ ([]), python: /** @type {number[]} */ ([]) };
await multiprocStart(); // warm-up: first imports, the resource tracker
for (let round = 0; round < rounds; round++) {
  pairs.multiproc.push(await multiprocPairs());
  pairs.python.push(python('dict', 6_000, 200));
  start.multiproc.push(await multiprocStart());
  start.python.push(python('start', 3, 0));
  process.stderr.write(`round ${round + 1}/${rounds} done\n`);
}
const fmt = (/** @type {number} */ x) => (Number.isNaN(x) ? 'n/a' : x.toFixed(x < 100 ? 1 : 0));
const p = median(pairs.multiproc);
const q = median(pairs.python);
console.log(
  `load average before the last round: ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log(
  `d.set + d.get from a child: ${fmt(p)} pairs/s (Python ${fmt(q)}; ${fmt(p / q)}x)  all: ${pairs.multiproc.map(fmt).join(' ')} | ${pairs.python.map(fmt).join(' ')}`,
);
console.log(
  `Manager() until the first proxy answered: ${fmt(median(start.multiproc))} ms (Python ${fmt(median(start.python))} ms)  all: ${start.multiproc.map(fmt).join(' ')}`,
);
