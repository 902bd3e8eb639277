// @ts-check
// Process start + join of a trivial target, against spawning `node -e ''` and waiting for its exit.
import { check, childTarget, multiproc, reapProcess, runPython, runToExit, medianOf } from '../lib/util.js';

export const id = 'process-start';
export const title = 'Process start+join';
export const unit = 'ms';
/** @type {'lower'} */
export const direction = 'lower';
export const order = 110;
export const size = { full: 5, quick: 2 };
export const warm = { full: 1, quick: 1 };
export const goal = [{ vs: 'node-e', ratio: 1 / 1.1, text: "time <= 1.1x node -e ''" }];
export const labels = { 'node-e': "node -e '' spawned + awaited", python: 'Python spawn start+join' };
export const note =
  'new Process({ target }) .start() + await join() of an empty target, n times after a warm-up start; median. The process start-up is the workload here.';

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  async multiproc(ctx) {
    const { Process } = await multiproc('Process');
    const target = childTarget('tasks.js', 'noop');
    return medianOf(ctx, async () => {
      const p = new Process({ target });
      try {
        p.start();
        await p.join({ timeout: ctx.timeoutMs });
        check(p.exitCode === 0, `exit code ${p.exitCode}`);
      } finally {
        await reapProcess(p);
      }
    });
  },
  'node-e': (ctx) => medianOf(ctx, () => runToExit(process.execPath, ['-e', ''])),
  python: async (ctx) => (await runPython(ctx, 'mp_process.py', { n: ctx.n })).value,
};
