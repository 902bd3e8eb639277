// @ts-check
// Manager start until the first proxy answers (reported beside Python's; no goal yet).
import { median, multiproc, now, runPython, within } from '../lib/util.js';

export const id = 'manager-start';
export const title = 'Manager start until a proxy answers';
export const unit = 'ms';
/** @type {'lower'} */
export const direction = 'lower';
export const order = 125;
export const size = { full: 3, quick: 1 };
export const warm = { full: 1, quick: 0 };
/** @type {import('../lib/types.js').Goal[]} */
export const goal = [];
export const labels = { python: 'Python Manager() (default context)' };
export const note = 'await Manager(), await manager.dict(), await d.set(a, 1); then shutdown (not timed); median of n.';

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  async multiproc(ctx) {
    const { Manager } = await multiproc('Manager');
    /** @type {number[]} */
    const times = [];
    for (let r = 0; r < ctx.warm + ctx.n; r++) {
      const t0 = now();
      const manager = await within(Promise.resolve(Manager()), ctx.timeoutMs, 'Manager()');
      try {
        const d = await manager.dict();
        await d.set('a', 1);
        if (r >= ctx.warm) times.push(now() - t0);
      } finally {
        await within(Promise.resolve(manager.shutdown()), 5000, 'manager.shutdown');
      }
    }
    return median(times);
  },
  python: async (ctx) => (await runPython(ctx, 'mp_manager.py', { mode: 'start', n: ctx.n, warm: 0 })).value,
};
