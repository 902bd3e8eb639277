// @ts-check
// Pipe ping-pong: the runner sends { i }, a child echoes it back; mean round trip.
import { Worker } from 'node:worker_threads';
import {
  check,
  childPath,
  childTarget,
  forkChild,
  multiproc,
  nextMessage,
  now,
  reapProcess,
  runPython,
  withCleanup,
  within,
} from '../lib/util.js';

export const id = 'pipe-pingpong';
export const title = 'Pipe ping-pong round trip';
export const unit = 'us';
/** @type {'lower'} */
export const direction = 'lower';
export const order = 40;
export const size = { full: 5_000, quick: 200 };
// 5,000: V8 needs about that many round trips to optimise both ends' send/recv path. Measured
// here with a Process child, mean per 1,000 round trips: 60-80 us for the first 2,000, 3-15 us
// after 5,000 (/tmp-style script in docs/DECISIONS.md). Python gets the same warm-up.
export const warm = { full: 5_000, quick: 50 };
export const goal = [{ vs: 'python', ratio: 2, text: '>= 2x Python (half the round trip)' }];
export const labels = { python: 'Python mp.Pipe', 'cp-json': 'child_process IPC (json)' };
export const note =
  'Pipe() with sendSync/recvSync on both ends (Python: send/recv); mean of n round trips of a small object after a warm-up of 5,000 (the JIT-cold first thousands are slower: see docs/DECISIONS.md).';

/** @typedef {import('../lib/types.js').Ctx} Ctx */

/**
 * Ping-pong over an event-driven channel: send, wait for the echo, send the next.
 * @param {{ send: (m: unknown) => unknown, on: Function, off: Function }} chan
 * @param {number} count
 * @param {number} ms
 * @returns {Promise<number>} elapsed ms
 */
function pingPong(chan, count, ms) {
  return within(
    new Promise((resolve) => {
      let i = 0;
      const t0 = now();
      const onMessage = (/** @type {any} */ m) => {
        if (m?.i !== i) return;
        if (++i === count) {
          chan.off('message', onMessage);
          resolve(now() - t0);
        } else chan.send({ i });
      };
      chan.on('message', onMessage);
      chan.send({ i });
    }),
    ms,
    'ping-pong',
  );
}

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  async multiproc(ctx) {
    const { Pipe, Process } = await multiproc('Pipe', 'Process');
    return withCleanup(async (cleanup) => {
      const [a, b] = Pipe();
      cleanup.defer(() => a.close());
      cleanup.defer(() => b.close());
      const p = new Process({ target: childTarget('pipe.js', 'echo'), args: [b], daemon: true });
      p.start();
      cleanup.defer(() => reapProcess(p));
      // The first answer proves the child holds its end (wait without blocking, in case it never starts).
      await a.send({ i: -1 });
      check((await a.recv({ timeout: ctx.timeoutMs })).i === -1, 'first echo');
      b.close();
      for (let i = 0; i < ctx.warm; i++) {
        a.sendSync({ i });
        a.recvSync();
      }
      const t0 = now();
      for (let i = 0; i < ctx.n; i++) {
        a.sendSync({ i });
        check(a.recvSync().i === i, 'echo');
      }
      const t1 = now();
      a.sendSync(null);
      await p.join({ timeout: 5000 });
      return ((t1 - t0) * 1000) / ctx.n;
    });
  },

  async python(ctx) {
    return (await runPython(ctx, 'mp_pipe.py', { n: ctx.n, warm: ctx.warm })).value;
  },

  async 'cp-json'(ctx) {
    return withCleanup(async (cleanup) => {
      const child = forkChild('node-peer.js', ['echo'], cleanup);
      await nextMessage(child, (m) => m?.ready, ctx.timeoutMs, 'ready');
      const chan = {
        send: (/** @type {any} */ m) => child.send(m),
        on: child.on.bind(child),
        off: child.off.bind(child),
      };
      await pingPong(chan, ctx.warm, ctx.timeoutMs);
      const ms = await pingPong(chan, ctx.n, ctx.timeoutMs);
      child.send({ cmd: 'stop' });
      return (ms * 1000) / ctx.n;
    });
  },

  async 'worker-threads'(ctx) {
    return withCleanup(async (cleanup) => {
      const worker = new Worker(childPath('node-peer.js'), { workerData: 'echo' });
      cleanup.defer(() => worker.terminate());
      await nextMessage(worker, (m) => m?.ready, ctx.timeoutMs, 'ready');
      const chan = {
        send: (/** @type {any} */ m) => worker.postMessage(m),
        on: worker.on.bind(worker),
        off: worker.off.bind(worker),
      };
      await pingPong(chan, ctx.warm, ctx.timeoutMs);
      const ms = await pingPong(chan, ctx.n, ctx.timeoutMs);
      return (ms * 1000) / ctx.n;
    });
  },
};
