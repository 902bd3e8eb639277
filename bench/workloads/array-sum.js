// @ts-check
// A child sums a 10 M-double shared Array through `view`, against summing a local Float64Array of the
// same values in the same child, in alternation (the "local" column comes from the same runs).
import { check, childTarget, multiproc, reapProcess, runPython, withCleanup } from '../lib/util.js';

export const id = 'array-sum';
export const title = 'Child sums a 10 M-double shared Array';
export const unit = 'ms';
/** @type {'lower'} */
export const direction = 'lower';
export const order = 70;
export const size = { full: 10_000_000, quick: 200_000 };
export const warm = { full: 1, quick: 1 };
export const derived = { local: 'multiproc' };
export const goal = [{ vs: 'local', ratio: 1 / 1.2, text: 'time <= 1.2x local Float64Array' }];
export const labels = {
  local: 'local Float64Array (same child)',
  python: 'Python sum(memoryview) (info)',
};
export const note =
  'the child sums a.view and a local copy alternately, 5 times each after a warm-up pass; medians. Python figure for information.';

const REPS = 5;

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  async multiproc(ctx) {
    const mp = await multiproc('Array', 'RawArray', 'Process');
    return withCleanup(async (cleanup) => {
      const a = new mp.Array('d', ctx.n);
      cleanup.defer(() => a.close());
      const view = /** @type {Float64Array} */ (a.view);
      for (let i = 0; i < view.length; i++) view[i] = (i % 1000) * 0.5;
      const res = new mp.RawArray('d', 4);
      cleanup.defer(() => res.close());
      const p = new mp.Process({
        target: childTarget('sync.js', 'sumSharedAndLocal'),
        args: [a, res, REPS],
        daemon: true,
      });
      p.start();
      cleanup.defer(() => reapProcess(p));
      await p.join({ timeout: ctx.timeoutMs });
      check(p.exitCode === 0, `child exited ${p.exitCode}`);
      const out = /** @type {Float64Array} */ (res.view);
      check(out[2] === out[3] && out[2] > 0, `sums differ: ${out[2]} vs ${out[3]}`);
      return { value: out[0], also: { local: out[1] } };
    });
  },

  async python(ctx) {
    return (await runPython(ctx, 'mp_array.py', { n: ctx.n, reps: REPS })).value;
  },
};
