// @ts-check
// Uncontended Lock acquire + release, in one process.
import { multiproc, now, runPython, withCleanup } from '../lib/util.js';

export const id = 'lock-uncontended';
export const title = 'Uncontended Lock acquire+release';
export const unit = 'ops/s';
/** @type {'higher'} */
export const direction = 'higher';
export const order = 60;
export const size = { full: 500_000, quick: 10_000 };
export const goal = [{ vs: 'python', ratio: 10 }];
export const scale = { multiproc: 4 };
export const labels = { python: 'Python mp.Lock acquire()+release()', 'python-with': 'Python `with lock:` (info)' };
export const note =
  'lock.acquireSync(); lock.release() against the same calls in Python, n times after a warm-up; Python `with lock:` (slower: the context manager) for information.';

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  async multiproc(ctx) {
    const { Lock } = await multiproc('Lock');
    return withCleanup(async (cleanup) => {
      const lock = new Lock();
      cleanup.defer(() => lock.close());
      for (let i = 0; i < ctx.warm; i++) {
        lock.acquireSync();
        lock.release();
      }
      const t0 = now();
      for (let i = 0; i < ctx.n; i++) {
        lock.acquireSync();
        lock.release();
      }
      const t1 = now();
      return (ctx.n * 1000) / (t1 - t0);
    });
  },

  async python(ctx) {
    return (await runPython(ctx, 'mp_sync.py', { mode: 'lock', n: ctx.n, warm: ctx.warm })).value;
  },
  async 'python-with'(ctx) {
    return (await runPython(ctx, 'mp_sync.py', { mode: 'lockwith', n: ctx.n, warm: ctx.warm })).value;
  },
};
