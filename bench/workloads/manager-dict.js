// @ts-check
// Manager dict set + get from a child process; one set + get pair counts as one operation.
import { check, childTarget, multiproc, reapProcess, runPython, withCleanup, within } from '../lib/util.js';

export const id = 'manager-dict';
export const title = 'Manager dict set+get from a child';
export const unit = 'ops/s';
/** @type {'higher'} */
export const direction = 'higher';
export const order = 120;
export const size = { full: 2_000, quick: 100 };
// A few thousand pairs: a fresh child runs its first calls in the interpreter, before the JIT warms up.
export const warm = { full: 5_000, quick: 20 };
export const goal = [{ vs: 'python', ratio: 4 }];
export const scale = { multiproc: 3 };
export const labels = { python: 'Python Manager().dict()' };
export const note =
  'a child awaits d.set(k, i) then d.get(k), n times after a warm-up, timed in the child; one op = one set + get pair.';

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  async multiproc(ctx) {
    const { Manager, Process } = await multiproc('Manager', 'Process');
    return withCleanup(async (cleanup) => {
      const manager = await within(Promise.resolve(Manager()), ctx.timeoutMs, 'Manager()');
      cleanup.defer(() => within(Promise.resolve(manager.shutdown()), 5000, 'manager.shutdown'));
      const d = await manager.dict();
      const p = new Process({ target: childTarget('manager.js', 'setGet'), args: [d, ctx.warm, ctx.n], daemon: true });
      p.start();
      cleanup.defer(() => reapProcess(p));
      await p.join({ timeout: ctx.timeoutMs });
      check(p.exitCode === 0, `child exited ${p.exitCode}`);
      const ms = await d.get('elapsedMs');
      check(typeof ms === 'number' && ms > 0, `no elapsed time in the dict: ${ms}`);
      return (ctx.n * 1000) / ms;
    });
  },
  python: async (ctx) => (await runPython(ctx, 'mp_manager.py', { mode: 'dict', n: ctx.n, warm: ctx.warm })).value,
};
