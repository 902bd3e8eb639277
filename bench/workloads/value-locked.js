// @ts-check
// Value += 1 under its lock, 2 child processes x n each, released together.
import { check, childTarget, multiproc, now, reapProcess, runPython, withCleanup } from '../lib/util.js';

export const id = 'value-locked';
export const title = 'Value += under its lock, 2 processes';
export const unit = 'ops/s';
/** @type {'higher'} */
export const direction = 'higher';
export const order = 50;
export const size = { full: 100_000, quick: 2_000 };
export const warm = { full: 10_000, quick: 200 };
export const goal = [{ vs: 'python', ratio: 5 }];
export const labels = { python: 'Python mp.Value' };
export const note =
  'v.getLock().withLockSync(() => { v.value += 1 }) in 2 children (Python: with v.get_lock(): v.value += 1); timed from releasing both until both are done; the total is checked.';

/**
 * Waits until ctl[index] >= target, without blocking the runner's event loop.
 * @param {any} mp
 * @param {Int32Array} c
 * @param {number} index
 * @param {number} target
 * @param {number} ms
 */
async function waitCount(mp, c, index, target, ms) {
  const deadline = now() + ms;
  for (let cur = Atomics.load(c, index); cur < target; cur = Atomics.load(c, index)) {
    if (now() > deadline) throw new Error(`children did not report (${cur}/${target}) within ${ms} ms`);
    await mp.atomicWait(c, index, cur, { timeout: 100 });
  }
}

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  async multiproc(ctx) {
    const mp = await multiproc('Value', 'RawArray', 'Process', 'atomicWait', 'atomicNotify');
    return withCleanup(async (cleanup) => {
      const v = new mp.Value('i', 0);
      cleanup.defer(() => v.close());
      const ctl = new mp.RawArray('i', 4);
      cleanup.defer(() => ctl.close());
      const c = /** @type {Int32Array} */ (ctl.view);
      /** @type {any[]} */
      const procs = [];
      cleanup.defer(() => Promise.all(procs.map((p) => reapProcess(p))));
      for (let k = 0; k < 2; k++) {
        const p = new mp.Process({
          target: childTarget('sync.js', 'incrementLocked'),
          args: [v, ctl, ctx.warm, ctx.n],
          daemon: true,
        });
        p.start();
        procs.push(p);
      }
      await waitCount(mp, c, 0, 2, ctx.timeoutMs);
      const t0 = now();
      Atomics.store(c, 1, 1);
      mp.atomicNotify(c, 1);
      await waitCount(mp, c, 2, 2, ctx.timeoutMs);
      const t1 = now();
      for (const p of procs) await p.join({ timeout: 5000 });
      check(v.value === 2 * (ctx.warm + ctx.n), `lost increments: ${v.value}`);
      return (2 * ctx.n * 1000) / (t1 - t0);
    });
  },

  async python(ctx) {
    return (await runPython(ctx, 'mp_sync.py', { mode: 'value', n: ctx.n, warm: ctx.warm })).value;
  },
};
