// @ts-check
// The contestants of the queue workloads, shared by the 1->1 rows (small objects and 64-byte raw
// messages) and the 4->4 row. In every 1->1 contestant the runner process produces and one child
// process consumes: a warm-up pass through the same two processes, then the timed pass, from the
// first measured put to the consumer's acknowledgement that all `n` items arrived (checked by sum).
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  check,
  childPath,
  childTarget,
  forkChild,
  multiproc,
  needMethods,
  nextMessage,
  now,
  peer,
  reapProcess,
  runPython,
  sumTo,
  withCleanup,
  within,
} from './util.js';

/** @typedef {import('./types.js').Ctx} Ctx */
/** @typedef {'objects' | 'bytes'} Mode */

/** A 64-byte message whose first 4 bytes carry `i`, written into one reused buffer. */
function bytesMessage() {
  const buf = Buffer.alloc(64, 0x5a);
  return (/** @type {number} */ i) => {
    buf.writeUInt32LE(i, 0);
    return buf;
  };
}

/**
 * @param {Ctx} ctx
 * @param {Mode} mode
 */
export async function multiprocOneToOne(ctx, mode) {
  const { Queue, Process } = await multiproc('Queue', 'Process');
  return withCleanup(async (cleanup) => {
    const q = new Queue();
    cleanup.defer(() => q.close());
    const ack = new Queue();
    cleanup.defer(() => ack.close());
    if (mode === 'bytes') needMethods(q, 'Queue', 'putBytesSync', 'getBytesSync');
    const p = new Process({
      target: childTarget('queue.js', 'consume'),
      args: [q, ack, ctx.warm, ctx.n, mode],
      daemon: true,
    });
    p.start();
    cleanup.defer(() => reapProcess(p));
    const msg = bytesMessage();
    /** @type {(count: number) => void} */
    const send =
      mode === 'bytes'
        ? (count) => {
            for (let i = 0; i < count; i++) q.putBytesSync(msg(i));
          }
        : (count) => {
            for (let i = 0; i < count; i++) q.putSync({ i });
          };
    send(ctx.warm);
    check((await ack.get({ timeout: ctx.timeoutMs })) === 'warm', 'warm-up acknowledged');
    const t0 = now();
    send(ctx.n);
    const sum = await ack.get({ timeout: ctx.timeoutMs });
    const t1 = now();
    check(sum === sumTo(ctx.n), `checksum ${sum}`);
    await p.join({ timeout: 5000 });
    return (ctx.n * 1000) / (t1 - t0);
  });
}

/**
 * @param {Ctx} ctx
 * @param {Mode | '4x4'} mode
 */
export async function pythonQueue(ctx, mode) {
  return (await runPython(ctx, 'mp_queue.py', { mode, n: ctx.n, warm: ctx.warm })).value;
}

/**
 * child_process IPC: process.send() to a forked child.
 * @param {Ctx} ctx
 * @param {'json' | 'advanced'} serialization
 * @param {Mode} mode
 */
export async function ipcOneToOne(ctx, serialization, mode) {
  return withCleanup(async (cleanup) => {
    const child = forkChild('node-peer.js', ['consume'], cleanup, { serialization });
    await nextMessage(child, (m) => m?.ready, ctx.timeoutMs, 'ready');
    const msg = bytesMessage();
    /** @param {number} count */
    const pass = async (count) => {
      const done = nextMessage(child, (m) => m?.done !== undefined, ctx.timeoutMs, 'done');
      child.send({ cmd: 'expect', count });
      if (mode === 'bytes') for (let i = 0; i < count; i++) child.send(msg(i));
      else for (let i = 0; i < count; i++) child.send({ i });
      return (await done).done;
    };
    await pass(ctx.warm);
    const t0 = now();
    const sum = await pass(ctx.n);
    const t1 = now();
    check(sum === sumTo(ctx.n), `checksum ${sum}`);
    child.send({ cmd: 'stop' });
    return (ctx.n * 1000) / (t1 - t0);
  });
}

/**
 * worker_threads: postMessage to a worker (a MessagePort underneath); same process, other thread.
 * @param {Ctx} ctx
 * @param {Mode} mode
 */
export async function threadsOneToOne(ctx, mode) {
  return withCleanup(async (cleanup) => {
    const worker = new Worker(childPath('node-peer.js'), { workerData: 'consume' });
    cleanup.defer(() => worker.terminate());
    await nextMessage(worker, (m) => m?.ready, ctx.timeoutMs, 'ready');
    const bytes = new Uint8Array(64);
    /** @param {number} count */
    const pass = async (count) => {
      const done = nextMessage(worker, (m) => m?.done !== undefined, ctx.timeoutMs, 'done');
      worker.postMessage({ cmd: 'expect', count });
      if (mode === 'bytes') {
        for (let i = 0; i < count; i++) {
          new DataView(bytes.buffer).setUint32(0, i, true);
          worker.postMessage(bytes);
        }
      } else for (let i = 0; i < count; i++) worker.postMessage({ i });
      return (await done).done;
    };
    await pass(ctx.warm);
    const t0 = now();
    const sum = await pass(ctx.n);
    const t1 = now();
    check(sum === sumTo(ctx.n), `checksum ${sum}`);
    return (ctx.n * 1000) / (t1 - t0);
  });
}

/**
 * zeromq PUSH/PULL over ipc:// to a child process; objects as JSON text, raw as 64-byte frames.
 * @param {Ctx} ctx
 * @param {Mode} mode
 */
export async function zmqOneToOne(ctx, mode) {
  const zmq = await peer('zeromq');
  return withCleanup(async (cleanup) => {
    const path = `${os.tmpdir()}/mpbench-zmq-${process.pid}-${randomBytes(4).toString('hex')}.sock`;
    const push = new zmq.Push();
    cleanup.defer(() => rmSync(path, { force: true }));
    cleanup.defer(() => push.close());
    await push.bind(`ipc://${path}`);
    const child = forkChild('zmq-consumer.js', [`ipc://${path}`, mode, String(ctx.warm), String(ctx.n)], cleanup);
    await nextMessage(child, (m) => m?.ready, ctx.timeoutMs, 'ready');
    const msg = bytesMessage();
    /** @param {number} count */
    const pass = async (count) => {
      const done = nextMessage(child, (m) => m?.done !== undefined, ctx.timeoutMs, 'done');
      const sending = (async () => {
        if (mode === 'bytes') for (let i = 0; i < count; i++) await push.send(msg(i));
        else for (let i = 0; i < count; i++) await push.send(JSON.stringify({ i }));
      })();
      await within(sending, ctx.timeoutMs, 'push');
      return (await done).done;
    };
    await pass(ctx.warm);
    const t0 = now();
    const sum = await pass(ctx.n);
    const t1 = now();
    check(sum === sumTo(ctx.n), `checksum ${sum}`);
    child.send({ cmd: 'stop' });
    return (ctx.n * 1000) / (t1 - t0);
  });
}

/**
 * 4 producer processes -> 4 consumer processes through one queue; the runner only coordinates.
 * Warm-up pass, then all producers are released at once; timed until all 4 consumers have
 * reported their sums and counts (every item exactly once).
 * @param {Ctx} ctx
 */
export async function multiprocFourToFour(ctx) {
  const { Queue, Process } = await multiproc('Queue', 'Process');
  return withCleanup(async (cleanup) => {
    const per = Math.floor(ctx.n / 4);
    const wper = Math.max(1, Math.floor(ctx.warm / 4));
    const q = new Queue();
    cleanup.defer(() => q.close());
    const go = new Queue();
    cleanup.defer(() => go.close());
    const ack = new Queue();
    cleanup.defer(() => ack.close());
    /** @type {any[]} */
    const procs = [];
    cleanup.defer(() => Promise.all(procs.map((p) => reapProcess(p))));
    for (let k = 0; k < 4; k++) {
      procs.push(
        new Process({ target: childTarget('queue.js', 'produce'), args: [q, go, wper, per, k * per], daemon: true }),
      );
      procs.push(
        new Process({ target: childTarget('queue.js', 'consumeUntilSentinel'), args: [q, go, ack], daemon: true }),
      );
    }
    for (const p of procs) p.start();
    for (let k = 0; k < 4; k++) check((await ack.get({ timeout: ctx.timeoutMs })) === 'warm', 'warm-up acknowledged');
    const t0 = now();
    for (let k = 0; k < 8; k++) go.putSync(1);
    let sum = 0;
    let count = 0;
    for (let k = 0; k < 4; k++) {
      const r = await ack.get({ timeout: ctx.timeoutMs });
      sum += r.sum;
      count += r.count;
    }
    const t1 = now();
    check(count === per * 4 && sum === sumTo(per * 4), `lost or duplicated items: count ${count}, sum ${sum}`);
    return (per * 4 * 1000) / (t1 - t0);
  });
}
