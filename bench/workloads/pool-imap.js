// @ts-check
// Pool(2).imap with chunksize 1: results consumed as an async iterator, in order.
import { check, now, runPython } from '../lib/util.js';
import { range, squareTarget, sumOfSquares, withMultiprocPool } from '../lib/pools.js';

export const id = 'pool-imap';
export const title = 'Pool imap chunksize 1';
export const unit = 'tasks/s';
/** @type {'higher'} */
export const direction = 'higher';
export const order = 100;
export const size = { full: 20_000, quick: 300 };
export const warm = { full: 1_000, quick: 50 };
export const goal = [{ vs: 'python', ratio: 5 }];
export const scale = { multiproc: 3 };
export const labels = { python: 'Python imap' };
export const note = 'for await (const r of pool.imap(square, items, { chunksize: 1 })) over n items; 2 workers.';

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  multiproc: (ctx) =>
    withMultiprocPool(ctx, async (pool) => {
      const fn = squareTarget();
      for await (const _ of pool.imap(fn, range(ctx.warm), { chunksize: 1 }));
      const items = range(ctx.n);
      const t0 = now();
      let total = 0;
      for await (const r of pool.imap(fn, items, { chunksize: 1 })) total += r;
      const t1 = now();
      check(total === sumOfSquares(ctx.n), `wrong sum ${total}`);
      return (ctx.n * 1000) / (t1 - t0);
    }),
  python: async (ctx) =>
    (await runPython(ctx, 'mp_pool.py', { mode: 'imap', n: ctx.n, warm: ctx.warm, repeat: 1 })).value,
};
