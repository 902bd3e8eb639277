// @ts-check
// Pool(2).applyAsync one task at a time: every task submitted, then every result awaited.
import { check, now, runPython } from '../lib/util.js';
import { range, squareTarget, sumOfSquares, withMultiprocPool, withPiscina, withWorkerpool } from '../lib/pools.js';

export const id = 'pool-apply';
export const title = 'Pool applyAsync one by one';
export const unit = 'tasks/s';
/** @type {'higher'} */
export const direction = 'higher';
export const order = 90;
export const size = { full: 10_000, quick: 300 };
export const warm = { full: 1_000, quick: 50 };
export const goal = [
  { vs: 'python', ratio: 5 },
  { vs: 'piscina', ratio: 3 },
];
export const scale = { multiproc: 3, workerpool: 0.6 };
export const labels = {
  python: 'Python apply_async',
  piscina: 'piscina run, 2 threads',
  workerpool: 'workerpool exec (process)',
};
export const note =
  'n calls of pool.applyAsync(square, [i]) (piscina.run(i), workerpool exec), then all results awaited; 2 workers each.';

/**
 * @param {import('../lib/types.js').Ctx} ctx
 * @param {(i: number) => Promise<number>} apply
 */
async function timed(ctx, apply) {
  await Promise.all(range(ctx.warm).map(apply));
  const t0 = now();
  const results = await Promise.all(range(ctx.n).map(apply));
  const t1 = now();
  check(results.reduce((s, v) => s + v, 0) === sumOfSquares(ctx.n), 'wrong sum');
  return (ctx.n * 1000) / (t1 - t0);
}

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  multiproc: (ctx) =>
    withMultiprocPool(ctx, (pool) => {
      const fn = squareTarget();
      return timed(ctx, (i) => pool.applyAsync(fn, [i]).get());
    }),
  python: async (ctx) =>
    (await runPython(ctx, 'mp_pool.py', { mode: 'apply', n: ctx.n, warm: ctx.warm, repeat: 1 })).value,
  piscina: (ctx) => withPiscina((pool) => timed(ctx, (i) => pool.run(i))),
  workerpool: (ctx) => withWorkerpool((pool) => timed(ctx, (i) => pool.exec('square', [i]))),
};
