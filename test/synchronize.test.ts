import { existsSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import {
  AbortError,
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  Closed,
  Condition,
  Event,
  Lock,
  Process,
  ProcessError,
  RLock,
  RawValue,
  Semaphore,
  TimeoutError,
  Value,
  fromHandle,
} from 'multiproc';

import { fixture, leftoverShm, sleep } from './helpers.js';
import { reapAll, spawnSync } from './sync-helpers.js';

const opened: Array<{ close(): void }> = [];

async function until(condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition not reached in time');
    await sleep(10);
  }
}
function track<T extends { close(): void }>(object: T): T {
  opened.push(object);
  return object;
}

afterEach(async () => {
  await reapAll();
  // Other test runs may share /dev/shm: check only the segments made here.
  const names = opened.map((object) => {
    try {
      return String((object as unknown as { toHandle(): { segment: string } }).toHandle().segment).slice(1);
    } catch {
      return '';
    }
  });
  for (const object of opened.splice(0)) object.close();
  expect(names.filter((name) => name.startsWith('mp-o-') && existsSync(`/dev/shm/${name}`))).toEqual([]);
});

describe('Lock', () => {
  it('acquires, refuses a second blocking-free acquire, and releases', () => {
    const lock = track(new Lock());
    expect(lock.acquireSync()).toBe(true);
    expect(lock.ownerDied).toBe(false);
    expect(lock.acquireSync({ block: false })).toBe(false);
    lock.release();
    expect(lock.tryAcquire()).toBe(true);
    lock.release();
  });

  it('throws ProcessError when releasing a lock that is not held', () => {
    const lock = track(new Lock());
    expect(() => lock.release()).toThrow(ProcessError);
    expect(() => lock.release()).toThrow(/not held/);
  });

  it('throws ProcessError when another process releases a lock held here', async () => {
    const lock = track(new Lock());
    lock.acquireSync();
    const child = spawnSync('release', { h: { lock: lock.toHandle() } });
    expect(await child.next()).toEqual({ error: 'ProcessError', code: 'ERR_MP_PROCESS' });
    expect(lock.tryAcquire()).toBe(false);
    lock.release();
  });

  it('a blocking acquire of a lock this thread holds throws at once instead of deadlocking', () => {
    const lock = track(new Lock());
    lock.acquireSync();
    expect(() => lock.acquireSync()).toThrow(ProcessError);
    const started = performance.now();
    expect(lock.acquireSync({ timeout: 30 })).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    lock.release();
  });

  it('a second async acquire from the same thread queues until the release', async () => {
    const lock = track(new Lock());
    expect(await lock.acquire()).toBe(true);
    let second = false;
    const queued = lock.acquire({ timeout: 5_000 }).then((ok) => (second = ok));
    await sleep(30);
    expect(second).toBe(false);
    lock.release();
    expect(await queued).toBe(true);
    lock.release();
  });

  it('times out (sync and async) with false, and 0 or negative means do not wait', async () => {
    const lock = track(new Lock());
    const child = spawnSync('hold', { h: { lock: lock.toHandle() } });
    expect(await child.next()).toEqual({ held: true });
    expect(lock.acquireSync({ timeout: 20 })).toBe(false);
    expect(await lock.acquire({ timeout: 20 })).toBe(false);
    expect(await lock.acquire({ timeout: 0 })).toBe(false);
    expect(await lock.acquire({ timeout: -1 })).toBe(false);
    expect(lock.acquireSync({ block: false, timeout: 1000 })).toBe(false);
  });

  it('rejects with AbortError on abort, and took nothing', async () => {
    const lock = track(new Lock());
    lock.acquireSync();
    const controller = new AbortController();
    const waiting = lock.acquire({ signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
    await expect(lock.acquire({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORT_ERR' });
    lock.release();
    expect(lock.tryAcquire()).toBe(true);
    lock.release();
  });

  it('withLock and withLockSync return the result and release even when fn throws', async () => {
    const lock = track(new Lock());
    expect(await lock.withLock(async () => 7)).toBe(7);
    expect(await lock.withLock(() => 'sync')).toBe('sync');
    expect(lock.withLockSync(() => 8)).toBe(8);
    await expect(
      lock.withLock(async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(() =>
      lock.withLockSync(() => {
        throw new Error('bang');
      }),
    ).toThrow('bang');
    expect(lock.tryAcquire()).toBe(true);
    lock.release();
  });

  it('gives mutual exclusion: 4 processes x 2,000 increments give an exact total', async () => {
    const lock = track(new Lock());
    const value = track(new RawValue('i', 0));
    const h = { lock: lock.toHandle(), value: value.toHandle() };
    const children = [0, 1, 2, 3].map((i) => spawnSync('increment', { h, n: 2_000, async: i % 2 === 1 }, 60_000));
    for (const child of children) expect(await child.next(60_000)).toEqual({ done: true });
    expect(value.value).toBe(8_000);
  });

  it('named: open by name, EEXIST for a taken name, ENOENT for a missing one', () => {
    const name = `t-lock-${process.pid}`;
    const lock = track(new Lock({ name }));
    try {
      expect(() => new Lock({ name })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      const again = track(new Lock({ name, create: 'ifMissing' }));
      const opened = track(Lock.open(name));
      expect(lock.tryAcquire()).toBe(true);
      expect(opened.tryAcquire()).toBe(false);
      expect(again.tryAcquire()).toBe(false);
      lock.release();
      expect(() => Lock.open(`${name}-missing`)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    } finally {
      lock.unlink();
    }
    expect(() => lock.tryAcquire()).toThrow(Closed);
  });

  it('close makes later calls throw Closed, is idempotent, and async calls reject', async () => {
    const lock = new Lock();
    lock.close();
    lock.close();
    expect(lock.closed).toBe(true);
    expect(() => lock.acquireSync()).toThrow(Closed);
    await expect(lock.acquire()).rejects.toBeInstanceOf(Closed);
  });

  it('closing a handle rejects its pending async acquire with Closed', async () => {
    const lock = track(new Lock());
    lock.acquireSync();
    const other = Lock.fromHandle(lock.toHandle());
    const waiting = other.acquire({ timeout: 10_000 });
    await sleep(20);
    other.close();
    await expect(waiting).rejects.toBeInstanceOf(Closed);
    lock.release();
  });
});

// A holder of each kind killed while another process waits (async, or blocked in acquireSync)
// is a row of the fault matrix, test/faults.test.ts.
describe('a lock is never lost with its owner', () => {
  it('an acquire after the holder was killed takes over at once', async () => {
    const lock = track(new Lock());
    const child = spawnSync('hold', { h: { lock: lock.toHandle() } });
    expect(await child.next()).toEqual({ held: true });
    child.kill('SIGKILL');
    await child.exited;
    expect(lock.tryAcquire()).toBe(true);
    expect(lock.ownerDied).toBe(true);
    lock.release();
  });
});

describe('RLock', () => {
  it('re-enters in the same thread and must be released as often', () => {
    const lock = track(new RLock());
    expect(lock.acquireSync()).toBe(true);
    expect(lock.acquireSync()).toBe(true);
    expect(lock.tryAcquire()).toBe(true);
    lock.release();
    lock.release();
    const other = track(RLock.fromHandle(lock.toHandle()));
    expect(other.tryAcquire()).toBe(true); // same thread, another handle: still re-entry
    other.release();
    // A handle that never acquired may release what this thread holds through another one.
    const third = track(RLock.fromHandle(lock.toHandle()));
    third.release();
    expect(() => lock.release()).toThrow(ProcessError);
  });

  it('refuses a release from another process', async () => {
    const lock = track(new RLock());
    lock.acquireSync();
    const child = spawnSync('release', { h: { lock: lock.toHandle() } });
    expect(await child.next()).toEqual({ error: 'ProcessError', code: 'ERR_MP_PROCESS' });
    lock.release();
  });

  it('withLock re-enters within its async call chain and serialises other chains', async () => {
    const lock = track(new RLock());
    let inside = 0;
    let overlap = false;
    const task = (): Promise<number> =>
      lock.withLock(async () => {
        inside++;
        if (inside > 1) overlap = true;
        await sleep(10);
        // Nested acquisitions in the same chain re-enter.
        const nested = await lock.withLock(async () => {
          await sleep(1);
          expect(await lock.acquire({ timeout: 0 })).toBe(true);
          lock.release();
          return 1;
        });
        inside--;
        return nested;
      });
    expect(await Promise.all([task(), task(), task()])).toEqual([1, 1, 1]);
    expect(overlap).toBe(false);
  });

  it('a blocking acquire while another async chain of this thread holds it throws ProcessError', async () => {
    const lock = track(new RLock());
    let release!: () => void;
    const held = lock.withLock(() => new Promise<void>((resolve) => (release = resolve)));
    await sleep(10);
    expect(() => lock.acquireSync()).toThrow(ProcessError);
    expect(lock.acquireSync({ timeout: 10 })).toBe(false);
    release();
    await held;
  });
});

describe('Semaphore and BoundedSemaphore', () => {
  it('counts units, reports getValue, times out when empty', async () => {
    const sem = track(new Semaphore(2));
    expect(sem.getValue()).toBe(2);
    expect(sem.acquireSync()).toBe(true);
    expect(await sem.acquire()).toBe(true);
    expect(sem.getValue()).toBe(0);
    expect(sem.tryAcquire()).toBe(false);
    expect(sem.acquireSync({ timeout: 20 })).toBe(false);
    expect(await sem.acquire({ timeout: 20 })).toBe(false);
    sem.release();
    sem.release();
    sem.release();
    expect(sem.getValue()).toBe(3);
  });

  it('a release in another process wakes a waiter here (sync and async)', async () => {
    const sem = track(new Semaphore(0));
    const child = spawnSync('release-later', { h: { lock: sem.toHandle() }, ms: 100 });
    expect(sem.acquireSync({ timeout: 10_000 })).toBe(true);
    await child.next();
    const child2 = spawnSync('release-later', { h: { lock: sem.toHandle() }, ms: 50 });
    expect(await sem.acquire({ timeout: 10_000 })).toBe(true);
    await child2.next();
  });

  it('BoundedSemaphore refuses to go above its initial value with RangeError', () => {
    const sem = track(new BoundedSemaphore(2));
    expect(() => sem.release()).toThrow(RangeError);
    sem.acquireSync();
    sem.release();
    expect(() => sem.release()).toThrow(RangeError);
    expect(sem.getValue()).toBe(2);
    expect(sem).toBeInstanceOf(Semaphore);
    expect(track(fromHandle(sem.toHandle()) as Semaphore)).toBeInstanceOf(BoundedSemaphore);
  });

  it('a signalling semaphore (initial 0) gains no units when a consumer dies', async () => {
    const sem = track(new Semaphore(0));
    sem.release();
    const child = spawnSync('hold', { h: { lock: sem.toHandle() } });
    expect(await child.next()).toEqual({ held: true });
    child.kill('SIGKILL');
    await child.exited;
    expect(sem.acquireSync({ timeout: 150 })).toBe(false);
    expect(sem.getValue()).toBe(0);
  });

  it('rejects bad values', () => {
    expect(() => new Semaphore(-1)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
    expect(() => new Semaphore('2' as never)).toThrow(TypeError);
    expect(() => new BoundedSemaphore(2 ** 31)).toThrow(RangeError);
  });
});

describe('Condition', () => {
  it('wait releases the lock and notify from another process wakes it', async () => {
    const cond = track(new Condition());
    const ready = track(new Semaphore(0));
    const child = spawnSync('cond-ready-wait', {
      h: { cond: cond.toHandle(), ready: ready.toHandle() },
      timeout: 10_000,
    });
    expect(await ready.acquire({ timeout: 10_000 })).toBe(true);
    cond.withLockSync(() => cond.notify());
    expect(await child.next()).toEqual({ notified: true });
  });

  it('a child waits until notified by this process', async () => {
    const cond = track(new Condition(track(new Lock())));
    const ready = track(new Semaphore(0));
    const child = spawnSync('cond-ready-wait', {
      h: { cond: cond.toHandle(), ready: ready.toHandle() },
      timeout: 10_000,
    });
    await ready.acquire({ timeout: 10_000 });
    await cond.withLock(async () => cond.notifyAll());
    expect(await child.next()).toEqual({ notified: true });
  });

  it('notify(1) wakes exactly one waiter, oldest first; notifyAll wakes the rest', async () => {
    const cond = track(new Condition());
    const order: number[] = [];
    const waiters = [0, 1, 2].map(async (i) => {
      await sleep(i * 5);
      await cond.withLock(async () => {
        if (await cond.wait({ timeout: 5_000 })) order.push(i);
      });
    });
    await sleep(60);
    await cond.withLock(() => cond.notify(1));
    await sleep(60);
    expect(order).toEqual([0]);
    await cond.withLock(() => cond.notifyAll());
    await Promise.all(waiters);
    expect(order.sort()).toEqual([0, 1, 2]);
  });

  it('wait times out with false, sync and async, and keeps the lock held afterwards', async () => {
    const cond = track(new Condition());
    cond.acquireSync();
    expect(cond.waitSync({ timeout: 20 })).toBe(false);
    expect(await cond.wait({ timeout: 20 })).toBe(false);
    cond.release();
    expect(() => cond.release()).toThrow(ProcessError);
  });

  it('waitFor returns the predicate result, and false-ish after the timeout', async () => {
    const cond = track(new Condition());
    let flag = 0;
    setTimeout(() => cond.withLock(() => ((flag = 5), cond.notifyAll())), 30);
    const result = await cond.withLock(() => cond.waitFor(() => flag, { timeout: 5_000 }));
    expect(result).toBe(5);
    expect(cond.withLockSync(() => cond.waitForSync(() => 0, { timeout: 10 }))).toBe(0);
  });

  it('wait and notify without holding the lock throw ProcessError', async () => {
    const cond = track(new Condition());
    expect(() => cond.notify()).toThrow(ProcessError);
    expect(() => cond.waitSync()).toThrow(ProcessError);
    await expect(cond.wait()).rejects.toBeInstanceOf(ProcessError);
    expect(() => new Condition({} as never)).toThrow(TypeError);
  });

  it('an aborted wait rejects with AbortError and still holds the lock', async () => {
    const cond = track(new Condition());
    await cond.acquire();
    await expect(cond.wait({ signal: AbortSignal.timeout(20) })).rejects.toBeInstanceOf(AbortError);
    cond.release();
  });

  it('named conditions share their lock when opened by name', () => {
    const name = `t-cond-${process.pid}`;
    const cond = track(new Condition(null, { name }));
    try {
      const opened = track(Condition.open(name));
      expect(cond.tryAcquire()).toBe(true);
      expect(opened.tryAcquire()).toBe(true); // the same RLock, same thread: re-entry
      opened.release();
      cond.release();
    } finally {
      cond.unlink();
    }
    expect(leftoverShm(`mp-n-${process.geteuid?.()}-COND-${name}`)).toEqual([]);
    expect(leftoverShm(`mp-n-${process.geteuid?.()}-RLCK-${name}`)).toEqual([]);
  });
});

describe('Event', () => {
  it('set, clear, isSet, and timed waits', async () => {
    const event = track(new Event());
    expect(event.isSet()).toBe(false);
    expect(event.waitSync({ timeout: 10 })).toBe(false);
    expect(await event.wait({ timeout: 10 })).toBe(false);
    event.set();
    expect(event.isSet()).toBe(true);
    expect(event.waitSync()).toBe(true);
    expect(await event.wait()).toBe(true);
    event.clear();
    expect(event.isSet()).toBe(false);
  });

  it('a set in another process wakes waiters here, sync and async', async () => {
    const event = track(new Event());
    spawnSync('event-set', { h: { event: event.toHandle() }, ms: 50 });
    expect(await event.wait({ timeout: 10_000 })).toBe(true);
    event.clear();
    spawnSync('event-set', { h: { event: event.toHandle() }, ms: 50 });
    expect(event.waitSync({ timeout: 10_000 })).toBe(true);
  });

  it('a set here wakes a waiter in another process', async () => {
    const event = track(new Event());
    const child = spawnSync('event-wait', { h: { event: event.toHandle() }, timeout: 10_000 });
    await sleep(100);
    event.set();
    expect(await child.next()).toEqual({ set: true });
  });

  it('aborting a wait rejects with AbortError', async () => {
    const event = track(new Event());
    await expect(event.wait({ signal: AbortSignal.timeout(20) })).rejects.toBeInstanceOf(AbortError);
  });
});

describe('Barrier', () => {
  it('releases all parties across processes, with distinct indexes, and runs the action once', async () => {
    let actions = 0;
    const barrier = track(new Barrier(3, { action: () => actions++ }));
    const children = [0, 1].map(() => spawnSync('barrier', { h: { barrier: barrier.toHandle() }, timeout: 10_000 }));
    await until(() => barrier.nWaiting === 2);
    const mine = await barrier.wait({ timeout: 10_000 });
    const theirs = await Promise.all(children.map((child) => child.next()));
    // The last party to arrive runs the action: here (the children may not have the action).
    const indexes = [mine, ...theirs.map((line) => line.index)];
    expect(new Set(indexes)).toEqual(new Set([0, 1, 2]));
    expect(actions).toBe(1);
    expect(barrier.nWaiting).toBe(0);
    expect(barrier.broken).toBe(false);
  });

  it('a function action runs in whichever process arrives last, compiled there from its source', async () => {
    const global = globalThis as { barrierActionRuns?: number };
    const barrier = track(
      new Barrier(2, {
        action: () => {
          const scope = globalThis as { barrierActionRuns?: number };
          scope.barrierActionRuns = (scope.barrierActionRuns ?? 0) + 1;
        },
      }),
    );
    const waiting = barrier.wait({ timeout: 10_000 });
    await until(() => barrier.nWaiting === 1);
    const child = spawnSync('barrier', { h: { barrier: barrier.toHandle() }, timeout: 10_000 });
    expect(await child.next()).toEqual({ index: 1, actionRuns: 1 });
    expect(await waiting).toBe(0);
    expect(global.barrierActionRuns).toBeUndefined();
  });

  it('a module action is loaded by every process that revives the barrier; one that throws breaks it', async () => {
    const barrier = track(
      new Barrier(2, { action: { module: fixture('sync-targets.js'), name: 'failingBarrierAction' } }),
    );
    const waiting = barrier.wait({ timeout: 10_000 }).catch((error: unknown) => error);
    await until(() => barrier.nWaiting === 1);
    const child = spawnSync('barrier', { h: { barrier: barrier.toHandle() }, timeout: 10_000, async: true });
    const line = await child.next();
    expect(line).toMatchObject({ error: 'Error', message: `the action failed in ${child.process.pid}` });
    expect(await waiting).toBeInstanceOf(BrokenBarrierError);
    expect(barrier.broken).toBe(true);
  });

  it('async parties in one process pass together; a timed-out wait breaks it for everyone', async () => {
    const barrier = track(new Barrier(3));
    expect(barrier.parties).toBe(3);
    const indexes = await Promise.all([barrier.wait(), barrier.wait(), barrier.wait()]);
    expect(indexes.sort()).toEqual([0, 1, 2]);
    const other = barrier.wait().catch((error: unknown) => error);
    await expect(barrier.wait({ timeout: 20 })).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(await other).toBeInstanceOf(BrokenBarrierError);
    expect(barrier.broken).toBe(true);
    expect(() => barrier.waitSync()).toThrow(BrokenBarrierError);
    barrier.reset();
    expect(barrier.broken).toBe(false);
  });

  it('abort and reset break waiting parties; an action that throws breaks it', async () => {
    const barrier = track(new Barrier(2));
    const waiting = barrier.wait().catch((error: unknown) => error);
    await sleep(10);
    barrier.abort();
    expect(await waiting).toBeInstanceOf(BrokenBarrierError);
    barrier.reset();
    const again = barrier.wait().catch((error: unknown) => error);
    await sleep(10);
    expect(barrier.nWaiting).toBe(1);
    barrier.reset();
    expect(await again).toBeInstanceOf(BrokenBarrierError);
    const failing = track(
      new Barrier(1, {
        action: () => {
          throw new Error('action failed');
        },
      }),
    );
    expect(() => failing.waitSync()).toThrow('action failed');
    expect(failing.broken).toBe(true);
  });

  it('a Sync wait with a timeout breaks the barrier in another process too', async () => {
    const barrier = track(new Barrier(3));
    const child = spawnSync('barrier', { h: { barrier: barrier.toHandle() }, timeout: 10_000 });
    await until(() => barrier.nWaiting === 1);
    expect(() => barrier.waitSync({ timeout: 30 })).toThrow(BrokenBarrierError);
    expect(await child.next()).toMatchObject({ error: 'BrokenBarrierError' });
  });

  it('rejects bad arguments', () => {
    expect(() => new Barrier(0)).toThrow(RangeError);
    expect(() => new Barrier('2' as never)).toThrow(TypeError);
    expect(() => new Barrier(2, { action: 5 as never })).toThrow(TypeError);
    expect(() => new Barrier(2, { timeout: Number.NaN })).toThrow(TypeError);
  });
});

describe('bad input', () => {
  const lock = (): Lock => track(new Lock());
  const table: Array<[string, () => unknown, ErrorConstructor]> = [
    ['acquireSync NaN timeout', () => lock().acquireSync({ timeout: Number.NaN }), TypeError],
    ['acquireSync string timeout', () => lock().acquireSync({ timeout: '1' as never }), TypeError],
    ['acquireSync block not boolean', () => lock().acquireSync({ block: 1 as never }), TypeError],
    ['options not an object', () => lock().acquireSync(5 as never), TypeError],
    ['withLockSync without a function', () => lock().withLockSync(5 as never), TypeError],
    ['a name that is not a string', () => new Lock({ name: 5 as never }), TypeError],
    ['a name with a slash', () => new Lock({ name: 'a/b' }), RangeError],
    ['create without a name', () => new Lock({ create: true }), TypeError],
    ['notify(-1)', () => track(new Condition()).notify(-1), RangeError],
    ['a handle of another kind', () => Lock.fromHandle(track(new RLock()).toHandle()), TypeError],
    ['a handle with a bad segment', () => Lock.fromHandle({ kind: 'Lock', version: 1, segment: 'x' }), TypeError],
  ];
  for (const [what, call, type] of table) {
    it(`${what} -> ${type.name}`, () => {
      expect(call).toThrow(type);
    });
  }

  it('async forms reject (never throw synchronously)', async () => {
    const l = lock();
    const pending = l.acquire({ timeout: Number.NaN });
    await expect(pending).rejects.toThrow(TypeError);
    await expect(l.acquire({ signal: 'x' as never })).rejects.toThrow(TypeError);
    await expect(track(new Event()).wait({ timeout: 'x' as never })).rejects.toThrow(TypeError);
    await expect(track(new Barrier(1)).wait({ timeout: Number.NaN })).rejects.toThrow(TypeError);
  });

  it('withLock rejects with TimeoutError when the lock is not acquired in time', async () => {
    const l = lock();
    l.acquireSync();
    const other = track(Lock.fromHandle(l.toHandle()));
    await expect(other.withLock(() => 1, { timeout: 10 })).rejects.toBeInstanceOf(TimeoutError);
    l.release();
  });
});

describe('handles in Process arguments', () => {
  it('a Value (with its lock), a Barrier and an Event reach Process children as live objects', async () => {
    const value = track(new Value('i', 0));
    const barrier = track(new Barrier(3));
    const done = track(new Event());
    const target = { module: fixture('sync-targets.js'), name: 'incrementThenMeet' };
    const children = [0, 1].map(() => new Process({ target, args: [value, 300, barrier, done] }));
    for (const child of children) child.start();
    try {
      expect(await barrier.wait({ timeout: 20_000 })).toBeGreaterThanOrEqual(0);
      expect(value.value).toBe(600);
      done.set();
      for (const child of children) await child.join({ timeout: 20_000 });
      expect(children.map((child) => child.exitCode)).toEqual([0, 0]);
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill();
      for (const child of children) await child.join({ timeout: 5_000 });
    }
  });
});
