import { existsSync, readdirSync, statSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import {
  AbortError,
  Closed,
  Process,
  Empty,
  Full,
  JoinableQueue,
  Queue,
  RawArray,
  SerializationError,
  ShutDown,
  SimpleQueue,
  fromHandle,
} from 'multiproc';

import { fixture, runNode, sleep, STRESS } from './helpers.js';

const opened: { close(): void }[] = [];
function track<T extends { close(): void }>(q: T): T {
  opened.push(q);
  return q;
}
afterEach(() => {
  for (const q of opened.splice(0)) q.close();
});

// The children of the stress-sized test move a million items: they get more time.
const child = (mode: string, q: { toHandle(): object }, ...rest: (string | number)[]) =>
  runNode(
    fixture('queue-child.js'),
    [mode, JSON.stringify(q.toHandle()), ...rest.map(String)],
    STRESS ? 540_000 : 30_000,
  );

function overflowFiles(): string[] {
  return readdirSync('/dev/shm').filter((name) => name.includes('-QOVF-'));
}

describe('Queue options', () => {
  it('rejects bad options with TypeError/RangeError before touching anything', () => {
    expect(() => new Queue({ maxsize: -1 })).toThrow(RangeError);
    expect(() => new Queue({ maxsize: 1.5 })).toThrow(RangeError);
    expect(() => new Queue({ capacityBytes: 0 })).toThrow(RangeError);
    expect(() => new Queue({ capacityBytes: 2 ** 31 })).toThrow(RangeError);
    expect(() => new Queue({ maxsize: '3' as unknown as number })).toThrow(TypeError);
    expect(() => new Queue({ create: 'ifMissing' })).toThrow(TypeError);
    expect(() => new Queue(5 as unknown as object)).toThrow(TypeError);
    expect(() => new SimpleQueue({ maxsize: 1 } as object)).toThrow(TypeError);
  });

  it('an idle queue costs its capacityBytes plus at most 64 KiB of shared memory', () => {
    const q = track(new Queue());
    const { segment } = q.toHandle() as unknown as { segment: string };
    expect(statSync(`/dev/shm${segment}`).size).toBeLessThanOrEqual((1 << 20) + 64 * 1024);
  });

  it('async methods reject (never throw) on bad arguments', async () => {
    const q = track(new Queue());
    const bad = { timeout: Number.NaN };
    let pending: Promise<unknown> | undefined;
    expect(() => (pending = q.get(bad))).not.toThrow();
    await expect(pending).rejects.toThrow(TypeError);
    await expect(q.put(1, bad)).rejects.toThrow(TypeError);
    await expect(q.putBytes('nope' as unknown as Buffer)).rejects.toThrow(TypeError);
    await expect(q.getMany(0)).rejects.toThrow(RangeError);
    await expect(q.get({ signal: 'x' as unknown as AbortSignal })).rejects.toThrow(TypeError);
  });
});

describe('Queue in one process', () => {
  it('keeps FIFO order and carries structured-clone values', async () => {
    const q = track(new Queue<unknown>());
    const values = [1, 'two', { three: [3n, new Date(3)] }, new Map([[4, 4]]), null, undefined, Buffer.from('6')];
    for (const v of values) await q.put(v);
    expect(q.qsize()).toBe(values.length);
    for (const v of values) expect(await q.get()).toEqual(v);
    expect(q.empty()).toBe(true);
  });

  it('get rejects with Empty when nothing arrives within the timeout; nowait throws Empty', async () => {
    const q = track(new Queue());
    await expect(q.get({ timeout: 30 })).rejects.toBeInstanceOf(Empty);
    expect(() => q.getNowait()).toThrow(Empty);
    expect(() => q.getSync({ timeout: 0 })).toThrow(Empty);
    expect(() => q.getSync({ block: false })).toThrow(Empty);
  });

  it('maxsize bounds items: put waits, then rejects with Full; putNowait throws Full', async () => {
    const q = track(new Queue({ maxsize: 2 }));
    q.putSync(1);
    q.putNowait(2);
    expect(q.full()).toBe(true);
    expect(() => q.putNowait(3)).toThrow(Full);
    await expect(q.put(3, { timeout: 30 })).rejects.toBeInstanceOf(Full);
    const later = q.put(3);
    await sleep(20);
    expect(await q.get()).toBe(1);
    await later;
    expect([await q.get(), await q.get()]).toEqual([2, 3]);
  });

  it('a full ring makes put wait (backpressure) until a get frees room', async () => {
    const q = track(new Queue({ capacityBytes: 4096 }));
    let n = 0;
    while (!q.full()) q.putSync(n++);
    expect(() => q.putNowait(n)).toThrow(Full);
    const pending = q.put(n);
    expect(await q.get()).toBe(0);
    await pending;
    expect(q.qsize()).toBe(n);
  });

  it('moves raw bytes; get() of a bytes item is a Buffer; getBytes() of an object rejects and leaves it', async () => {
    const q = track(new Queue());
    await q.putBytes(Buffer.from('abc'));
    q.putBytesSync(new Uint16Array([1, 2]));
    await q.putBytes(new ArrayBuffer(3));
    await q.put({ o: 1 });
    expect((await q.getBytes()).toString()).toBe('abc');
    expect(await q.get()).toEqual(Buffer.from([1, 0, 2, 0]));
    expect(q.getBytesSync()).toEqual(Buffer.alloc(3));
    await expect(q.getBytes()).rejects.toThrow(TypeError);
    expect(() => q.getBytesSync()).toThrow(TypeError);
    expect(q.qsize()).toBe(1);
    expect(await q.get()).toEqual({ o: 1 });
  });

  it('a Buffer may be reused at once after putBytes: sent means copied', async () => {
    const q = track(new Queue());
    const buf = Buffer.from('first');
    await q.putBytes(buf);
    buf.write('xxxxx');
    expect((await q.getBytes()).toString()).toBe('first');
  });

  it('an unserializable value fails in the sender with SerializationError and puts nothing', async () => {
    const q = track(new Queue());
    await expect(q.put({ f: () => 1 })).rejects.toBeInstanceOf(SerializationError);
    expect(() => q.putSync(Symbol('s'))).toThrow(SerializationError);
    await expect(q.putMany([1, () => 2])).rejects.toBeInstanceOf(SerializationError);
    expect(q.qsize()).toBe(0);
  });

  it('messages larger than the ring go through, in order, through side files that are then removed', async () => {
    const q = track(new Queue({ capacityBytes: 8192 }));
    const big = Buffer.alloc(3 << 20, 7);
    await q.put('before');
    await q.putBytes(big);
    await q.put({ arr: new Array(20_000).fill(1) });
    q.putSync('after');
    expect(await q.get()).toBe('before');
    expect((await q.getBytes()).equals(big)).toBe(true);
    expect(((await q.get()) as { arr: number[] }).arr.length).toBe(20_000);
    expect(q.getSync()).toBe('after');
    expect(overflowFiles()).toEqual([]);
  });

  it('refuses a message larger than maxOverflowBytes with RangeError', async () => {
    const q = track(new Queue({ capacityBytes: 8192, maxOverflowBytes: 100_000 }));
    await expect(q.putBytes(Buffer.alloc(200_000))).rejects.toThrow(RangeError);
    await q.putBytes(Buffer.alloc(90_000));
    expect((await q.getBytes()).length).toBe(90_000);
  });

  it('putMany and getMany move batches in order', async () => {
    const q = track(new Queue<{ i: number }>());
    const items = Array.from({ length: 700 }, (_, i) => ({ i }));
    expect(await q.putMany(items)).toBe(700);
    const got: { i: number }[] = [];
    while (got.length < 700) got.push(...(await q.getMany(300)));
    expect(got).toEqual(items);
    await expect(q.getMany(5, { timeout: 10 })).rejects.toBeInstanceOf(Empty);
  });

  it('an aborted get rejects with AbortError and took nothing', async () => {
    const q = track(new Queue());
    const controller = new AbortController();
    const pending = q.get({ signal: controller.signal });
    await sleep(20);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    await q.put('kept');
    expect(await q.get()).toBe('kept');
  });

  it('close() rejects pending gets with Closed; later calls throw Closed', async () => {
    const q = new Queue();
    const pending = q.get();
    await sleep(20);
    q.close();
    q.close();
    await expect(pending).rejects.toBeInstanceOf(Closed);
    expect(() => q.qsize()).toThrow(Closed);
    await expect(q.put(1)).rejects.toBeInstanceOf(Closed);
  });

  it('shutdown: later puts throw ShutDown; gets drain and then throw; for await ends', async () => {
    const q = track(new Queue());
    await q.putMany([1, 2, 3]);
    q.shutdown();
    expect(q.isShutDown).toBe(true);
    await expect(q.put(4)).rejects.toBeInstanceOf(ShutDown);
    expect(await q.get()).toBe(1);
    const rest: unknown[] = [];
    for await (const item of q) rest.push(item);
    expect(rest).toEqual([2, 3]);
    await expect(q.get()).rejects.toBeInstanceOf(ShutDown);
  });

  it('shutdown({ immediate: true }) drops what is left and wakes a waiting get', async () => {
    const q = track(new Queue());
    const waiting = q.get();
    await sleep(20);
    q.shutdown({ immediate: true });
    await expect(waiting).rejects.toBeInstanceOf(ShutDown);
    const q2 = track(new Queue({ capacityBytes: 8192 }));
    await q2.put(1);
    await q2.putBytes(Buffer.alloc(100_000));
    q2.shutdown({ immediate: true });
    await expect(q2.get()).rejects.toBeInstanceOf(ShutDown);
    expect(overflowFiles()).toEqual([]);
  });
});

describe('JoinableQueue and SimpleQueue', () => {
  it('join resolves when every item was marked done; taskDone too often is a RangeError', async () => {
    const q = track(new JoinableQueue<number>());
    await q.putMany([1, 2]);
    expect(q.joinSync({ timeout: 0 })).toBe(false);
    const joined = q.join();
    await q.get();
    q.taskDone();
    expect(await q.join({ timeout: 20 })).toBe(false);
    await q.get();
    q.taskDone();
    expect(await joined).toBe(true);
    expect(q.joinSync()).toBe(true);
    expect(() => q.taskDone()).toThrow(RangeError);
  });

  it('an immediate shutdown counts dropped items as done', async () => {
    const q = track(new JoinableQueue());
    await q.putMany([1, 2, 3]);
    q.shutdown({ immediate: true });
    expect(await q.join({ timeout: 1000 })).toBe(true);
  });

  it('SimpleQueue puts and gets, across processes too', async () => {
    const q = track(new SimpleQueue<{ i: number; sum: number }>());
    expect(q.empty()).toBe(true);
    const result = await child('produce', q, 0, 50);
    expect(result.stderr).toBe('');
    let sum = 0;
    for (let n = 0; n < 50; n++) sum += (await q.get({ timeout: 10_000 })).i;
    expect(sum).toBe((49 * 50) / 2);
    expect(q.empty()).toBe(true);
  });
});

describe('Queue across processes', () => {
  it('a child consumes what the parent puts, and the reverse', async () => {
    const q = track(new Queue<{ i: number; sum: number; pad: string }>());
    const consumer = child('consume', q, 300);
    for (let i = 0; i < 300; i++) await q.put({ i, sum: checksumOf(i), pad: '' });
    const result = await consumer;
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ sum: (299 * 300) / 2 });
    const producer = await child('produce', q, 0, 100, 1000);
    expect(producer.code).toBe(0);
    for (let i = 0; i < 100; i++) expect((await q.get()).i).toBe(i);
  });

  // 8,000 items in npm test, 1,000,000 under npm run stress (MULTIPROC_STRESS=1).
  it(`4 producer and 4 consumer processes deliver every item exactly once (${STRESS ? '1 M' : '8,000'} items)`, async () => {
    const total = STRESS ? 1_000_000 : 8_000;
    const q = track(new Queue({ capacityBytes: 64 * 1024 }));
    // Every consumer checks each item's checksum and counts it here: each count must be 1.
    const seen = track(new RawArray('B', total));
    const per = total / 4;
    const runs = [
      ...[0, 1, 2, 3].map((p) => child('produce', q, p * per, per)),
      ...[0, 1, 2, 3].map(() => child('consume', q, per, JSON.stringify(seen.toHandle()))),
    ];
    const results = await Promise.all(runs);
    for (const r of results) expect([r.code, r.stderr]).toEqual([0, '']);
    const sum = results.slice(4).reduce((acc, r) => acc + (JSON.parse(r.stdout) as { sum: number }).sum, 0);
    expect(sum).toBe(((total - 1) * total) / 2);
    const view = seen.view as Uint8Array;
    const wrong = view.findIndex((n) => n !== 1);
    expect(wrong === -1 ? 'every item once' : `item ${wrong} seen ${view[wrong]} times`).toBe('every item once');
    expect(q.qsize()).toBe(0);
  }, 600_000);

  it('shutdown in one process ends the iteration of a consumer in another', async () => {
    const q = track(new Queue());
    const consumer = child('consume-until-shutdown', q);
    await q.putMany([1, 2, 3]);
    await sleep(100);
    const shut = await child('shutdown', q);
    expect(shut.code).toBe(0);
    const result = await consumer;
    expect(JSON.parse(result.stdout)).toEqual({ n: 3 });
    await expect(q.put(1)).rejects.toBeInstanceOf(ShutDown);
  });

  it('named queues open by name in another process; EEXIST and ENOENT as for segments', async () => {
    const name = `qtest-${process.pid}`;
    const q = track(new Queue<string>({ name }));
    expect(() => new Queue({ name })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => Queue.open(`${name}-missing`)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const again = track(new Queue({ name, create: 'ifMissing' }));
    const result = await runNode(fixture('queue-child.js'), ['open-named', '', name, 'Queue'], 20_000);
    expect(result.stderr).toBe('');
    expect(await again.get({ timeout: 5000 })).toMatch(/^hello from \d+$/);
    q.unlink();
    expect(() => q.qsize()).toThrow(Closed);
    expect(existsSync(`/dev/shm/mp-n-${process.geteuid?.()}-QUEU-${name}`)).toBe(false);
  });

  it('handles travel: toHandle/fromHandle, and a queue inside a message', async () => {
    const q = track(new Queue<{ reply: Queue<string> }>());
    expect(q.toHandle()).toEqual({ kind: 'Queue', version: 2, segment: expect.stringMatching(/^\/mp-o-/) });
    const same = track(fromHandle(q.toHandle()) as Queue<{ reply: Queue<string> }>);
    const asked = child('put-handle', q);
    const { reply } = await same.get({ timeout: 10_000 });
    expect(reply).toBeInstanceOf(Queue);
    await reply.put('pong');
    reply.close();
    expect(JSON.parse((await asked).stdout)).toEqual({ answer: 'pong' });
    expect(track(JoinableQueue.fromHandle(track(new JoinableQueue()).toHandle()))).toBeInstanceOf(JoinableQueue);
    expect(() => Queue.fromHandle({ kind: 'Lock', version: 1 })).toThrow(TypeError);
  });
});

describe('Queue and Process', () => {
  it('queues passed as Process arguments are live in the child', async () => {
    const tasks = track(new JoinableQueue<number>());
    const results = track(new Queue<number>());
    const workers = [0, 1].map(
      () => new Process({ target: { module: fixture('queue-targets.js'), name: 'doubler' }, args: [tasks, results] }),
    );
    for (const w of workers) w.start();
    await tasks.putMany([1, 2, 3, 4, 5]);
    expect(await tasks.join({ timeout: 20_000 })).toBe(true);
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push(await results.get({ timeout: 5000 }));
    expect(got.sort((a, b) => a - b)).toEqual([2, 4, 6, 8, 10]);
    tasks.shutdown();
    for (const w of workers) {
      await w.join({ timeout: 20_000 });
      expect(w.exitCode).toBe(0);
      w.close();
    }
  });
});

function checksumOf(i: number): number {
  return ((Math.imul(i, 2654435761) >>> 0) ^ 0x5bd1e995) >>> 0;
}
