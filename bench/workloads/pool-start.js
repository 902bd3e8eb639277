// @ts-check
// Pool(2) start-up: from `new Pool` until both workers have run a task.
import { check, median, multiproc, now, runPython, runToExit, within, childTarget, medianOf } from '../lib/util.js';

export const id = 'pool-start';
export const title = 'Pool(2) start until both workers ran a task';
export const unit = 'ms';
/** @type {'lower'} */
export const direction = 'lower';
export const order = 115;
export const size = { full: 3, quick: 1 };
export const warm = { full: 1, quick: 0 };
export const goal = [{ vs: 'node-e', ratio: 1 / 1.2, text: "time <= 1.2x node -e ''" }];
export const labels = { 'node-e': "node -e '' spawned + awaited", python: 'Python Pool(2), spawn' };
export const note =
  'new Pool({ processes: 2 }), then applyAsync(pid) two at a time until two distinct pids answered, then terminate; median of n.';

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  async multiproc(ctx) {
    const { Pool } = await multiproc('Pool');
    const fn = childTarget('tasks.js', 'pid');
    /** @type {number[]} */
    const times = [];
    for (let r = 0; r < ctx.warm + ctx.n; r++) {
      const t0 = now();
      const pool = new Pool({ processes: 2 });
      try {
        const pids = new Set();
        for (let k = 0; k < 1000 && pids.size < 2; k++) {
          const rs = [pool.applyAsync(fn, []), pool.applyAsync(fn, [])];
          for (const r of rs) pids.add(await r.get({ timeout: ctx.timeoutMs }));
        }
        check(pids.size === 2, 'the second worker never ran a task');
        if (r >= ctx.warm) times.push(now() - t0);
      } finally {
        pool.terminate();
        await within(Promise.resolve(pool.join()), 5000, 'pool.join after terminate');
      }
    }
    return median(times);
  },
  'node-e': (ctx) => medianOf(ctx, () => runToExit(process.execPath, ['-e', ''])),
  python: async (ctx) => (await runPython(ctx, 'mp_pool.py', { mode: 'start', n: ctx.n, warm: 0, repeat: 1 })).value,
};
