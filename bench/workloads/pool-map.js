// @ts-check
// Pool(2).map of 100k trivial tasks with the default chunksize, repeated to give the timer some work.
import { check, now, runPython } from '../lib/util.js';
import {
  pythonChunks,
  range,
  squareTarget,
  sumOfSquares,
  withMultiprocPool,
  withPiscina,
  withWorkerpool,
} from '../lib/pools.js';

export const id = 'pool-map';
export const title = 'Pool(2).map of 100k trivial tasks';
export const unit = 'tasks/s';
/** @type {'higher'} */
export const direction = 'higher';
export const order = 80;
export const size = { full: 100_000, quick: 2_000 };
export const warm = { full: 2_000, quick: 100 };
export const goal = [{ vs: 'python', ratio: 1 }];
export const labels = {
  python: 'Python Pool(2).map',
  piscina: 'piscina, 2 threads, 8 chunks',
  workerpool: 'workerpool (process), 8 chunks',
};
export const note =
  "pool.map(square, 100k items) with the default chunksize (Python's rule: 8 chunks), 10 times; piscina and workerpool have no map and get the same 8 chunks.";

/** @param {import('../lib/types.js').Ctx} ctx */
const repeats = (ctx) => (ctx.quick ? 1 : 10);

/**
 * @param {import('../lib/types.js').Ctx} ctx
 * @param {(items: number[]) => Promise<number[]>} map
 */
async function timed(ctx, map) {
  await map(range(ctx.warm));
  const items = range(ctx.n);
  const t0 = now();
  let total = 0;
  for (let r = 0; r < repeats(ctx); r++) for (const v of await map(items)) total += v;
  const t1 = now();
  check(total === sumOfSquares(ctx.n) * repeats(ctx), `wrong sum ${total}`);
  return (ctx.n * repeats(ctx) * 1000) / (t1 - t0);
}

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  multiproc: (ctx) => withMultiprocPool(ctx, (pool) => timed(ctx, (items) => pool.map(squareTarget(), items))),
  python: async (ctx) =>
    (await runPython(ctx, 'mp_pool.py', { mode: 'map', n: ctx.n, warm: ctx.warm, repeat: repeats(ctx) })).value,
  piscina: (ctx) =>
    withPiscina((pool) =>
      timed(ctx, async (items) =>
        (await Promise.all(pythonChunks(items).map((c) => pool.run(c, { name: 'squareChunk' })))).flat(),
      ),
    ),
  workerpool: (ctx) =>
    withWorkerpool((pool) =>
      timed(ctx, async (items) =>
        (await Promise.all(pythonChunks(items).map((c) => pool.exec('squareChunk', [c])))).flat(),
      ),
    ),
};
