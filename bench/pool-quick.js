// @ts-check
// Quick numbers for Pool (the comparison with Python and piscina lives in bench/run.js, workloads
// pool-*). Run: node bench/pool-quick.js [map|apply|imap|start ...] [--rounds N]
//   map    Pool(2).map(square, 100k items), default chunksize, 10 times      goal >= 8.25 M tasks/s
//   apply  30k applyAsync(square, [i]) submitted at once, then every get()     goal >= 175 k/s
//   imap   for await of imap(square, 60k items, { chunksize: 1 })              goal >= 330 k/s
//   start  new Pool(2) until both workers ran a task; beside `node -e ''`      goal <= 1.2x node
//          (also shown: two `node -e ''` at once, the floor when two cores are not free)
// Prints the median of the rounds (default 5) and the figure of every round.
import { spawn } from 'node:child_process';

import { Pool } from '../dist/index.js';

const square = { module: new URL('./children/tasks.js', import.meta.url).href, name: 'square' };
const pid = { module: new URL('./children/tasks.js', import.meta.url).href, name: 'pid' };
const range = (/** @type {number} */ n) => Array.from({ length: n }, (_, i) => i);
const sumOfSquares = (/** @type {number} */ n) => ((n - 1) * n * (2 * n - 1)) / 6;

/** @param {boolean} ok @param {string} what */
function check(ok, what) {
  if (!ok) throw new Error(`wrong result: ${what}`);
}

/** @param {(pool: Pool) => Promise<number>} body */
async function withPool(body) {
  const pool = new Pool({ processes: 2 });
  try {
    return await body(pool);
  } finally {
    pool.close();
    await pool.join();
  }
}

/** @type {Record<string, { unit: string, run: () => Promise<number> }>} */
const modes = {
  map: {
    unit: 'M tasks/s',
    run: () =>
      withPool(async (pool) => {
        const items = range(100_000);
        await pool.map(square, range(2000));
        const t0 = performance.now();
        let total = 0;
        for (let r = 0; r < 10; r++)
          for (const v of /** @type {number[]} */ (await pool.map(square, items))) total += v;
        const ms = performance.now() - t0;
        check(total === sumOfSquares(100_000) * 10, 'map sum');
        return 1e6 / ms / 1e3;
      }),
  },
  apply: {
    unit: 'k tasks/s',
    run: () =>
      withPool(async (pool) => {
        const n = 30_000;
        await Promise.all(range(1000).map((i) => pool.applyAsync(square, [i]).get()));
        const t0 = performance.now();
        const results = /** @type {number[]} */ (
          await Promise.all(range(n).map((i) => pool.applyAsync(square, [i]).get()))
        );
        const ms = performance.now() - t0;
        check(results.reduce((s, v) => s + v, 0) === sumOfSquares(n), 'apply sum');
        return n / ms;
      }),
  },
  imap: {
    unit: 'k tasks/s',
    run: () =>
      withPool(async (pool) => {
        const n = 60_000;
        for await (const _ of pool.imap(square, range(1000), { chunksize: 1 }));
        const items = range(n);
        const t0 = performance.now();
        let total = 0;
        for await (const r of pool.imap(square, items, { chunksize: 1 })) total += /** @type {number} */ (r);
        const ms = performance.now() - t0;
        check(total === sumOfSquares(n), 'imap sum');
        return n / ms;
      }),
  },
  start: {
    unit: 'x node -e (ms)',
    run: async () => {
      const node = await nodeStart();
      const t1 = performance.now();
      await Promise.all([nodeStart(), nodeStart()]);
      const twoNodes = performance.now() - t1;
      const t0 = performance.now();
      const pool = new Pool({ processes: 2 });
      const pids = new Set();
      for (let k = 0; k < 1000 && pids.size < 2; k++) {
        for (const r of [pool.applyAsync(pid), pool.applyAsync(pid)]) pids.add(await r.get({ timeout: 20_000 }));
      }
      const ms = performance.now() - t0;
      pool.terminate();
      await pool.join();
      console.log(
        `  pool start ${ms.toFixed(1)} ms, node -e '' ${node.toFixed(1)} ms, two node -e '' at once ${twoNodes.toFixed(1)} ms`,
      );
      return ms / node;
    },
  },
};

function nodeStart() {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(performance.now() - t0));
  });
}

const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 5;
const chosen = args.length > 0 ? args : Object.keys(modes);
if (chosen.includes('start')) await modes.start.run(); // warm: the resource tracker, the page cache
for (const name of chosen) {
  const mode = modes[name];
  if (mode === undefined) throw new Error(`unknown mode ${name}; modes: ${Object.keys(modes).join(', ')}`);
  const figures = [];
  for (let r = 0; r < rounds; r++) figures.push(await mode.run());
  const sorted = [...figures].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(`${name}: ${median.toFixed(2)} ${mode.unit} (rounds: ${figures.map((f) => f.toFixed(2)).join(' ')})`);
}
