// Pool across real worker processes: every method's results and order, chunking, initializers,
// recycling, errors, dead workers, a broken initializer, terminate, abort, lazy imap over endless
// input, bad arguments, and that nothing (processes, shared memory) is left behind.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import {
  AbortError,
  activeChildren,
  cpuCount,
  AsyncResult,
  Closed,
  Pool,
  ProcessError,
  RemoteError,
  SerializationError,
  TimeoutError,
  Value,
  WorkerDiedError,
} from 'multiproc';

import { fixture, leftoverShm, sleep } from './helpers.js';

const tasks = fixture('pool-tasks.js');
const t = (name: string) => ({ module: tasks, name });
const pools: Pool[] = [];

function pool(options: ConstructorParameters<typeof Pool>[0] = { processes: 2 }): Pool {
  const p = new Pool(options);
  pools.push(p);
  return p;
}

/** Rejects if `promise` has not settled within `ms` (every wait in these tests is bounded). */
function within<T>(promise: Promise<T>, ms = 15_000, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids of the pool workers alive in this process (one pool at a time in these tests). */
function workerPids(): number[] {
  return activeChildren()
    .filter((c) => c.name.startsWith('SpawnPoolWorker'))
    .map((c) => c.pid!);
}

/** The pool channel segments a worker has mapped (from /proc), to check they are gone afterwards. */
function mappedSegments(pid: number): string[] {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
  const names = new Set([...maps.matchAll(/\/dev\/shm\/(mp-o-\S+)/g)].map((m) => m[1]!));
  // Segment header: 'MPSG' then the kind's tag; the pool's is 'POOL'.
  return [...names].filter((name) => tagOf(name) === 'POOL');
}

function tagOf(name: string): string {
  const fd = openSync(`/dev/shm/${name}`, 'r');
  try {
    const header = Buffer.alloc(8);
    readSync(fd, header, 0, 8, 0);
    return header.subarray(4, 8).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

afterEach(async () => {
  // The segments of the workers still alive must be gone once the pool is joined.
  const segments = workerPids().flatMap(mappedSegments);
  for (const p of pools.splice(0)) {
    p.terminate();
    await within(p.join(), 15_000, 'join after terminate');
  }
  const left = new Set(leftoverShm());
  expect(segments.filter((name) => left.has(name))).toEqual([]);
});

describe('Pool results', () => {
  it('apply, applyAsync, map, starmap and their async forms return the right values in order', async () => {
    const p = pool();
    expect(await p.apply(t('square'), [7])).toBe(49);
    const r = p.applyAsync(t('add'), [2, 3]);
    expect(r).toBeInstanceOf(AsyncResult);
    expect(await r.get({ timeout: 10_000 })).toBe(5);
    expect(r.ready()).toBe(true);
    expect(r.successful()).toBe(true);
    const items = Array.from({ length: 50 }, (_, i) => i);
    expect(await p.map(t('square'), items)).toEqual(items.map((x) => x * x));
    expect(await p.mapAsync(t('square'), new Set([1, 2, 3])).get()).toEqual([1, 4, 9]);
    expect(
      await p.starmap(t('add'), [
        [1, 2],
        [3, 4],
        [5, 6],
      ]),
    ).toEqual([3, 7, 11]);
    expect(await p.starmapAsync(t('add'), [[10, 1]]).get()).toEqual([11]);
    expect(await p.map(t('square'), [])).toEqual([]);
  });

  it('imap yields in input order and imapUnordered yields every result', async () => {
    const p = pool();
    const out: number[] = [];
    for await (const v of p.imap(t('square'), [1, 2, 3, 4, 5, 6, 7], { chunksize: 2 })) out.push(v as number);
    expect(out).toEqual([1, 4, 9, 16, 25, 36, 49]);
    const unordered: unknown[] = [];
    for await (const v of p.imapUnordered(t('asyncSquare'), [3, 1, 2])) unordered.push(v);
    expect(unordered.sort()).toEqual([1, 4, 9]);
  });

  it('runs self-contained function targets and async targets, and reads async iterables', async () => {
    const p = pool();
    expect(await p.map((x: number) => x * 3, [1, 2, 3])).toEqual([3, 6, 9]);
    expect(await p.apply(async (a: number) => a + 1, [1])).toBe(2);
    async function* numbers(): AsyncGenerator<number> {
      for (let i = 0; i < 5; i++) yield i;
    }
    expect(await p.map(t('square'), numbers())).toEqual([0, 1, 4, 9, 16]);
    const out: unknown[] = [];
    for await (const v of p.imap(t('square'), numbers())) out.push(v);
    expect(out).toEqual([0, 1, 4, 9, 16]);
  });

  it('calls callback and errorCallback once', async () => {
    const p = pool();
    const seen: unknown[] = [];
    const ok = p.applyAsync(t('square'), [4], { callback: (v) => seen.push(['ok', v]) });
    const bad = p.applyAsync(t('boom'), ['x'], { errorCallback: (e) => seen.push(['error', (e as Error).message]) });
    const all = p.mapAsync(t('square'), [1, 2], { callback: (v) => seen.push(['map', v]) });
    await within(Promise.all([ok.wait(), bad.wait(), all.wait()]));
    expect(seen).toContainEqual(['ok', 16]);
    expect(seen).toContainEqual(['error', 'x']);
    expect(seen).toContainEqual(['map', [1, 4]]);
    expect(seen).toHaveLength(3);
  });

  it('carries big arguments and results (larger than the channel ring) and passes kwargs', async () => {
    const p = pool();
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    const back = (await p.apply(t('reverseBytes'), [big])) as Buffer;
    expect(Buffer.isBuffer(back)).toBe(true);
    expect(back.equals(Buffer.from(big).reverse())).toBe(true);
    expect(await p.apply((a: number, kw: { b: number }) => a + kw.b, [1], { kwargs: { b: 2 } })).toBe(3);
  });

  it('numbers keep every bit (-0, NaN, big and fractional), mixed values keep their types', async () => {
    const p = pool();
    const numbers = [-0, NaN, 1.5, 2 ** 53, -(2 ** 31), Infinity, 1e-300];
    const back = (await p.map((x: unknown) => x, numbers, { chunksize: 3 })) as number[];
    numbers.forEach((n, i) => expect(Object.is(back[i], n)).toBe(true));
    expect(Object.is(await p.apply((x: number) => x, [-0]), -0)).toBe(true);
    expect(await p.apply((...xs: number[]) => xs, [1, 2, 3])).toEqual([1, 2, 3]);
    const mixed = [1, 'two', 3n, null, undefined, { four: 4 }, [5]];
    expect(await p.map((x: unknown) => x, mixed, { chunksize: 2 })).toEqual(mixed);
    expect(await p.map((x: number) => (x > 2 ? String(x) : x), [1, 2, 3, 4], { chunksize: 4 })).toEqual([
      1,
      2,
      '3',
      '4',
    ]);
    expect(
      await p.starmap(
        t('add'),
        [
          [1, 2],
          [3.5, -0],
        ],
        { chunksize: 1 },
      ),
    ).toEqual([3, 3.5]);
  });

  it('passes shared objects to tasks as live handles', async () => {
    const p = pool();
    const counter = new Value('i', 0);
    try {
      await p.map(t('increment'), [counter, counter, counter], { chunksize: 1 });
      expect(counter.value).toBe(3);
      p.close();
      await within(p.join());
    } finally {
      counter.close(); // the last holder: its segment goes with it
    }
  });
});

describe('chunks, initializer, recycling', () => {
  it('runs a chunk on one worker, and splits map by Python default chunksize', async () => {
    const p = pool();
    const byChunk = (await p.map(t('pidOf'), [0, 1, 2, 3, 4, 5, 6, 7], { chunksize: 4 })) as [number, number][];
    expect(new Set(byChunk.slice(0, 4).map(([, pid]) => pid)).size).toBe(1);
    expect(new Set(byChunk.slice(4).map(([, pid]) => pid)).size).toBe(1);
    // 16 items on 2 processes: ceil(16 / 8) = 2 items per chunk.
    const pairs = (await p.map(
      t('pidOf'),
      Array.from({ length: 16 }, (_, i) => i),
    )) as [number, number][];
    for (let i = 0; i < 16; i += 2) expect(pairs[i]![1]).toBe(pairs[i + 1]![1]);
  });

  it('runs the initializer with initargs in every worker before its tasks', async () => {
    const p = pool({ processes: 2, initializer: t('init'), initargs: [{ greeting: 'hi' }] });
    const results = (await p.map(t('readInit'), [0, 1, 2, 3], { chunksize: 1 })) as [unknown, number][];
    for (const [value] of results) expect(value).toEqual({ greeting: 'hi' });
  });

  it('maxTasksPerChild: 1 runs every task in a new process and loses nothing', async () => {
    const p = pool({ processes: 2, maxTasksPerChild: 1 });
    const pids = (await within(p.map(t('pid'), [0, 1, 2, 3, 4], { chunksize: 1 }), 30_000)) as number[];
    expect(new Set(pids).size).toBe(5);
    const more = await within(Promise.all([1, 2, 3].map((i) => p.apply(t('square'), [i]))), 30_000);
    expect(more).toEqual([1, 4, 9]);
  });
});

describe('errors', () => {
  it('rejects with the same name and message, the remote stack as a RemoteError cause', async () => {
    const p = pool();
    const error = (await p.apply(t('boom'), ['bad input']).catch((e: unknown) => e)) as Error & {
      code?: string;
      detail?: unknown;
    };
    expect(error).toBeInstanceOf(TypeError);
    expect(error.name).toBe('TypeError');
    expect(error.message).toBe('bad input');
    expect(error.code).toBe('EBOOM');
    expect(error.detail).toEqual({ n: 1 });
    expect(error.cause).toBeInstanceOf(RemoteError);
    const remote = error.cause as RemoteError;
    expect(remote.remoteName).toBe('TypeError');
    expect(remote.remoteStack).toMatch(/at boom \(.*pool-tasks\.js/);
    await expect(p.apply(t('throwString'))).rejects.toBe('plain string');
    await expect(p.map(t('failOn3'), [1, 2, 3, 4], { chunksize: 1 })).rejects.toThrow(RangeError);
    // The pool goes on.
    expect(await p.apply(t('square'), [3])).toBe(9);
  });

  it('a result that cannot be serialized rejects that task only', async () => {
    const p = pool({ processes: 1 });
    const bad = p.applyAsync(t('returnsFunction'));
    const good = p.applyAsync(t('square'), [5]);
    await expect(bad.get()).rejects.toBeInstanceOf(SerializationError);
    expect(await good.get()).toBe(25);
    expect(bad.successful()).toBe(false);
  });

  it('an argument that cannot be serialized rejects at once with SerializationError', async () => {
    const p = pool();
    await expect(p.apply(t('square'), [() => 1])).rejects.toBeInstanceOf(SerializationError);
    const error = await p.map(t('square'), [1, 2, { f: Symbol('x') }], { chunksize: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as SerializationError).path).toBe('items[2].f');
  });

  it('a failed AsyncResult that is never read causes no unhandled rejection', async () => {
    const p = pool();
    const unhandled: unknown[] = [];
    const listener = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      const r = p.applyAsync(t('boom'), ['never read']);
      await within(r.wait());
      expect(r.ready()).toBe(true);
      await sleep(50);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });

  it('AsyncResult: get with a timeout, wait, ready and successful before completion', async () => {
    const p = pool({ processes: 1 });
    const r = p.applyAsync(t('sleep'), [400, 'late']);
    expect(r.ready()).toBe(false);
    expect(() => r.successful()).toThrow(ProcessError);
    await expect(r.get({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(r.get({ timeout: 20 })).rejects.toBeInstanceOf(TimeoutError);
    await r.wait({ timeout: 10 });
    expect(await r.get({ timeout: 10_000 })).toBe('late');
    await expect(r.get({ timeout: Number.NaN })).rejects.toBeInstanceOf(TypeError);
  });
});

describe('dead workers', () => {
  it('a task that kills its worker rejects with WorkerDiedError; the other tasks run, later ones too', async () => {
    const p = pool();
    const before = new Set(await p.map(t('pid'), [0, 1], { chunksize: 1 }));
    const others = [1, 2, 3, 4, 5, 6].map((i) => p.applyAsync(t('sleep'), [20, i]));
    const killer = p.applyAsync(t('killSelf'));
    const error = (await within(killer.get().catch((e: unknown) => e))) as WorkerDiedError;
    expect(error).toBeInstanceOf(WorkerDiedError);
    expect(error.signal).toBe('SIGKILL');
    expect(error.exitCode).toBe(-9);
    expect(before.has(error.pid!)).toBe(true);
    expect(await within(Promise.all(others.map((r) => r.get())))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await within(p.map(t('square'), [1, 2, 3]))).toEqual([1, 4, 9]);
    const exited = (await p
      .applyAsync(t('exitWith'), [3])
      .get()
      .catch((e: unknown) => e)) as WorkerDiedError;
    expect(exited).toBeInstanceOf(WorkerDiedError);
    expect(exited.exitCode).toBe(3);
    expect(exited.signal).toBe(null);
    expect(await p.apply(t('square'), [4])).toBe(16);
  });

  it('a worker killed from outside while idle is replaced', async () => {
    const p = pool({ processes: 1 });
    const first = (await p.apply(t('pid'))) as number;
    process.kill(first, 'SIGKILL');
    for (let i = 0; i < 100 && alive(first); i++) await sleep(20);
    const second = (await within(p.apply(t('pid')))) as number;
    expect(second).not.toBe(first);
  });

  it('a chunk whose worker dies rejects the map; the pool goes on', async () => {
    const p = pool();
    const error = await within(
      p.starmap((kill: boolean) => (kill ? process.kill(process.pid, 'SIGKILL') : 1), [[false], [true]], {
        chunksize: 2,
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerDiedError);
    expect(await p.apply(t('square'), [2])).toBe(4);
  });

  it('a broken initializer breaks the pool: pending tasks reject and no more workers start', async () => {
    const p = pool({ processes: 2, initializer: t('badInit'), initargs: ['no database'] });
    const r = p.applyAsync(t('square'), [2]);
    const error = (await within(
      r.get().catch((e: unknown) => e),
      30_000,
    )) as WorkerDiedError;
    expect(error).toBeInstanceOf(WorkerDiedError);
    expect(error.message).toMatch(/broken/);
    expect((error.cause as Error).message).toBe('no database');
    expect(() => p.applyAsync(t('square'), [1])).toThrow(WorkerDiedError);
    await expect(p.map(t('square'), [1])).rejects.toBeInstanceOf(WorkerDiedError);
    p.close();
    await within(p.join());
  });

  it('terminate() during a long task returns at once; the task rejects with Closed and join resolves', async () => {
    const p = pool();
    const long = p.applyAsync(t('sleep'), [60_000, 'never']);
    const queued = p.applyAsync(t('square'), [2]);
    const pids = workerPids();
    expect(pids).toHaveLength(2);
    await sleep(200);
    p.terminate();
    await within(p.join(), 10_000, 'join after terminate');
    await expect(long.get()).rejects.toBeInstanceOf(Closed);
    const second = await queued.get().catch((e: unknown) => e);
    expect(second === 4 || second instanceof Closed).toBe(true);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    p.terminate(); // idempotent
  });
});

describe('abort', () => {
  it('aborting a queued task removes it; it never runs', async () => {
    const p = pool({ processes: 1 });
    const counter = new Value('i', 0);
    try {
      const first = p.applyAsync(t('sleep'), [300, 'first']);
      const controller = new AbortController();
      const second = p.applyAsync(t('increment'), [counter], { signal: controller.signal });
      controller.abort();
      await expect(second.get()).rejects.toBeInstanceOf(AbortError);
      expect(await first.get()).toBe('first');
      expect(await p.apply(t('square'), [3])).toBe(9);
      expect(counter.value).toBe(0);
      const already = p.applyAsync(t('square'), [1], { signal: AbortSignal.abort() });
      await expect(already.get()).rejects.toBeInstanceOf(AbortError);
    } finally {
      counter.close();
    }
  });

  it('a running task is stopped only with killOnAbort, which replaces its worker', async () => {
    const p = pool({ processes: 1 });
    const workerPid = (await p.apply(t('pid'))) as number;
    const plain = new AbortController();
    const running = p.applyAsync(t('sleep'), [300, 'done anyway'], { signal: plain.signal });
    await sleep(100);
    plain.abort();
    await expect(running.get()).rejects.toBeInstanceOf(AbortError);
    expect(await p.apply(t('pid'))).toBe(workerPid); // the same worker finished it, then ran this

    const killing = new AbortController();
    const doomed = p.applyAsync(t('sleep'), [60_000, 'never'], { signal: killing.signal, killOnAbort: true });
    await sleep(200);
    killing.abort();
    await expect(doomed.get()).rejects.toBeInstanceOf(AbortError);
    const next = await within(p.apply(t('pid')));
    expect(next).not.toBe(workerPid);
    expect(alive(workerPid)).toBe(false);
  });

  it('aborting a task already sent to a busy worker makes the worker skip it', async () => {
    const p = pool({ processes: 1 });
    const counter = new Value('i', 0);
    try {
      // Tiny tasks first: the prefetch window grows, so the next two go to the worker together.
      await p.map(
        t('square'),
        Array.from({ length: 200 }, (_, i) => i),
        { chunksize: 1 },
      );
      const controller = new AbortController();
      const first = p.applyAsync(t('sleep'), [300, 'first']);
      const second = p.applyAsync(t('increment'), [counter], { signal: controller.signal });
      await sleep(100);
      controller.abort();
      await expect(second.get()).rejects.toBeInstanceOf(AbortError);
      expect(await first.get()).toBe('first');
      expect(await p.apply(t('square'), [3])).toBe(9);
      expect(counter.value).toBe(0);
      p.close();
      await within(p.join());
    } finally {
      counter.close();
    }
  });

  it('aborting a map rejects it with AbortError', async () => {
    const p = pool();
    const controller = new AbortController();
    const job = p.map(t('sleep'), [100, 100, 100, 100], { chunksize: 1, signal: controller.signal });
    controller.abort();
    await expect(job).rejects.toBeInstanceOf(AbortError);
  });
});

describe('lazy imap', () => {
  it('reads an endless generator with bounded lookahead, and closes it on break', async () => {
    const p = pool();
    let pulled = 0;
    let closed = false;
    function* naturals(): Generator<number> {
      try {
        for (let i = 0; ; i++) {
          pulled++;
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    const out: number[] = [];
    for await (const v of p.imap(t('square'), naturals(), { chunksize: 2, buffersize: 8 })) {
      out.push(v as number);
      if (out.length === 100) break;
    }
    expect(out).toEqual(Array.from({ length: 100 }, (_, i) => i * i));
    expect(closed).toBe(true);
    expect(pulled).toBeLessThanOrEqual(100 + 8 * 2 + 2);
    expect(await p.apply(t('square'), [2])).toBe(4);
  });

  it('an input that throws midway rejects map and imap with that error and leaves the pool usable', async () => {
    const p = pool();
    function* failing(): Generator<number> {
      yield 1;
      yield 2;
      throw new Error('input broke');
    }
    await expect(p.map(t('square'), failing())).rejects.toThrow('input broke');
    await expect(p.mapAsync(t('square'), failing()).get()).rejects.toThrow('input broke');
    const out: unknown[] = [];
    const error = await (async () => {
      for await (const v of p.imap(t('square'), failing())) out.push(v);
    })().catch((e: unknown) => e);
    expect(out).toEqual([1, 4]);
    expect((error as Error).message).toBe('input broke');
    const failed: unknown[] = [];
    const taskError = await (async () => {
      for await (const v of p.imap(t('failOn3'), [1, 2, 3, 4])) failed.push(v);
    })().catch((e: unknown) => e);
    expect(failed).toEqual([1, 2]);
    expect(taskError).toBeInstanceOf(RangeError);
    expect(await p.map(t('square'), [5])).toEqual([25]);
  });

  it('imap stops with AbortError when its signal aborts', async () => {
    const p = pool();
    const controller = new AbortController();
    const it = p.imap(t('sleep'), [10, 10, 10, 5000, 10], { signal: controller.signal });
    const first = await it.next();
    expect(first.done).toBe(false);
    controller.abort();
    await expect(it.next()).rejects.toBeInstanceOf(AbortError);
    expect((await it.next()).done).toBe(true);
  });
});

describe('bad input and closed pools', () => {
  it.skipIf(cpuCount() > 4)('defaults to cpuCount() processes', async () => {
    const p = pool({});
    expect(p.processes).toBe(cpuCount());
    expect(await p.apply(t('square'), [2])).toBe(4);
  });

  it('throws TypeError/RangeError for bad options and arguments', async () => {
    expect(() => new Pool({ processes: 0 })).toThrow(RangeError);
    expect(() => new Pool({ processes: 1.5 })).toThrow(RangeError);
    expect(() => new Pool({ processes: '2' as unknown as number })).toThrow(TypeError);
    expect(() => new Pool({ maxTasksPerChild: 0 })).toThrow(RangeError);
    expect(() => new Pool({ initargs: 'x' as unknown as [] })).toThrow(TypeError);
    expect(() => new Pool({ initializer: 5 as unknown as () => void })).toThrow(TypeError);
    const p = pool({ processes: 1 });
    await expect(p.map(t('square'), 5 as unknown as number[])).rejects.toBeInstanceOf(TypeError);
    await expect(p.map(t('square'), [1], { chunksize: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(p.map(t('square'), [1], { chunksize: 1.5 })).rejects.toBeInstanceOf(RangeError);
    await expect(p.map(t('square'), [1], { chunksize: '2' as unknown as number })).rejects.toBeInstanceOf(TypeError);
    await expect(p.starmap(t('add'), [5] as unknown as number[][])).rejects.toBeInstanceOf(TypeError);
    expect(() => p.imap(t('square'), null as unknown as number[])).toThrow(TypeError);
    expect(() => p.imap(t('square'), [1], { chunksize: -1 })).toThrow(RangeError);
    expect(() => p.applyAsync(t('square'), 5 as unknown as number[])).toThrow(TypeError);
    expect(() => p.applyAsync(42 as unknown as () => void)).toThrow(TypeError);
    expect(() => p.applyAsync(t('square'), [1], { signal: 'x' as unknown as AbortSignal })).toThrow(TypeError);
    await expect(p.apply({ module: tasks, name: 'missing' })).rejects.toThrow(/no export "missing"/);
    await expect(p.join()).rejects.toBeInstanceOf(ProcessError);
  });

  it('a closed pool refuses new work, finishes what it has, and join resolves', async () => {
    const p = pool();
    const pending = p.mapAsync(t('sleep'), [50, 50, 50], { chunksize: 1 });
    p.close();
    p.close(); // idempotent
    expect(() => p.applyAsync(t('square'), [1])).toThrow(Closed);
    await expect(p.apply(t('square'), [1])).rejects.toBeInstanceOf(Closed);
    await expect(p.map(t('square'), [1])).rejects.toBeInstanceOf(Closed);
    expect(() => p.imap(t('square'), [1])).toThrow(Closed);
    await within(p.join());
    expect(await pending.get()).toEqual([undefined, undefined, undefined]);
  });

  it('await using (asyncDispose) closes and joins; no process or shared memory is left behind', async () => {
    const p = new Pool({ processes: 2 });
    const pids = (await p.map(t('pid'), [0, 1, 2, 3], { chunksize: 1 })) as number[];
    const workers = [...new Set(pids)];
    const segments = workers.flatMap(mappedSegments);
    expect(segments.length).toBeGreaterThan(0);
    await within(p[Symbol.asyncDispose]());
    for (const pid of workers) expect(alive(pid)).toBe(false);
    const left = new Set(leftoverShm());
    for (const name of segments) expect(left.has(name)).toBe(false);
  });
});
