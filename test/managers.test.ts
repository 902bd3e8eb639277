// Managers across real processes: the server process, SyncManager's proxies in the parent and in
// children, user types with BaseManager.register, remote (TCP) managers with authentication, and
// faults (a SIGKILLed server, a client killed mid-call, shutdown, wrong keys, hostile peers).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  AuthenticationError,
  BaseManager,
  BaseProxy,
  BrokenBarrierError,
  Client,
  Closed,
  DictProxy,
  Empty,
  Full,
  fromHandle,
  ListProxy,
  Lock,
  Manager,
  Process,
  ProcessError,
  RemoteError,
  SerializationError,
  serialize,
  SyncManager,
  TimeoutError,
  type Proxied,
} from 'multiproc';

import type { Counter } from './fixtures/manager-types.js';
import { fixture, runNode, sleep } from './helpers.js';

const targets = fixture('manager-targets.js');
const types = fixture('manager-types.js');
const started: Process[] = [];

function run(name: string, args: unknown[]): Process {
  const p = new Process({ target: { module: targets, name }, args });
  p.start();
  started.push(p);
  return p;
}

async function joined(p: Process, timeout = 20_000): Promise<number | null> {
  await p.join({ timeout });
  return p.exitCode;
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** Segments of the manager (channels, start-up words) in /dev/shm: their tag is MGCH or MGST. */
function managerSegments(): string[] {
  const found: string[] = [];
  for (const name of readdirSync('/dev/shm').filter((entry) => entry.startsWith('mp-o-'))) {
    try {
      const fd = openSync(`/dev/shm/${name}`, 'r');
      const head = Buffer.alloc(8);
      readSync(fd, head, 0, 8, 0);
      closeSync(fd);
      if (['MGCH', 'MGST'].includes(head.toString('latin1', 4, 8))) found.push(name);
    } catch {
      // removed meanwhile
    }
  }
  return found;
}

/** Socket files of managers started by this test run. */
function managerSockets(): string[] {
  const dir = join(tmpdir(), `multiproc-${process.geteuid?.() ?? 0}`);
  return existsSync(dir) ? readdirSync(dir).filter((entry) => entry.startsWith('m-')) : [];
}

afterAll(async () => {
  await until(() => managerSegments().length === 0 && managerSockets().length === 0, 5_000).catch(() => {});
  expect(managerSegments()).toEqual([]);
  expect(managerSockets()).toEqual([]);
});

afterEach(async () => {
  for (const p of started.splice(0)) {
    if (p.exitCode === null) p.kill();
    await p.join({ timeout: 5_000 });
  }
});

describe('SyncManager', () => {
  let manager: SyncManager;

  beforeAll(async () => {
    manager = await Manager();
  });

  afterAll(async () => {
    await manager.shutdown();
  });

  it('dict behaves as a Map with Python extras; a missing key reads as undefined', async () => {
    const d = await manager.dict<string, unknown>({ a: 1 });
    expect(d).toBeInstanceOf(DictProxy);
    await d.set('b', 2);
    expect(await d.get('a')).toBe(1);
    expect(await d.get('missing')).toBeUndefined();
    expect(await d.get('missing', 'fallback')).toBe('fallback');
    expect(await d.has('b')).toBe(true);
    expect(await d.delete('b')).toBe(true);
    expect(await d.delete('b')).toBe(false);
    await d.update({ c: 3, d: 4 });
    expect(await d.keys()).toEqual(['a', 'c', 'd']);
    expect(await d.values()).toEqual([1, 3, 4]);
    expect(await d.entries()).toEqual([
      ['a', 1],
      ['c', 3],
      ['d', 4],
    ]);
    expect(await d.size()).toBe(3);
    expect(await d.pop('c')).toBe(3);
    expect(await d.pop('c')).toBeUndefined();
    expect(await d.pop('c', 'none')).toBe('none');
    expect(await d.setdefault('e', 5)).toBe(5);
    expect(await d.setdefault('e', 6)).toBe(5);
    expect(await d.toObject()).toEqual({ a: 1, d: 4, e: 5 });
    await d.set('__proto__', 'plain key');
    expect(Object.getPrototypeOf(await d.toObject())).toBe(Object.prototype);
    expect((await d.toMap()).get('__proto__')).toBe('plain key');
    await d.clear();
    expect(await d.size()).toBe(0);
  });

  it('values travel with structured-clone semantics, and a result is a copy', async () => {
    const d = await manager.dict<string, unknown>();
    const value = { big: 2n ** 70n, when: new Date(5), bytes: Buffer.from('hi'), set: new Set([1]), nested: [-0] };
    await d.set('v', value);
    value.nested.push(1);
    const back = (await d.get('v')) as typeof value;
    expect(back).toEqual({
      big: 2n ** 70n,
      when: new Date(5),
      bytes: Buffer.from('hi'),
      set: new Set([1]),
      nested: [-0],
    });
    expect(Buffer.isBuffer(back.bytes)).toBe(true);
    back.nested.push(2);
    expect(((await d.get('v')) as typeof value).nested).toEqual([-0]);
  });

  it('list behaves as an Array with Python extras; out-of-range is a RangeError', async () => {
    const l = await manager.list([1, 2]);
    await l.append(3);
    await l.extend(new Set([4, 5]));
    expect(await l.get(0)).toBe(1);
    expect(await l.get(-1)).toBe(5);
    await l.set(0, 9);
    expect(await l.pop()).toBe(5);
    expect(await l.pop(0)).toBe(9);
    await l.insert(0, 1);
    await l.insert(-1, 7);
    expect(await l.toArray()).toEqual([1, 2, 3, 7, 4]);
    expect(await l.index(7)).toBe(3);
    expect(await l.index(70)).toBe(-1);
    await l.remove(7);
    expect(await l.count(2)).toBe(1);
    expect(await l.length()).toBe(4);
    expect(await l.slice(1, 3)).toEqual([2, 3]);
    const error = await l.get(10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/out of range/);
    const cause = (error as Error).cause as RemoteError;
    expect(cause).toBeInstanceOf(RemoteError);
    expect(cause.remoteName).toBe('RangeError');
    // The server's own frames (dist/ is bundled: a chunk file, or collections.js unbundled).
    expect(cause.remoteStack).toMatch(/RangeError: list index 10 out of range[^]*\n\s+at /);
    await expect(l.remove(70)).rejects.toThrow(RangeError);
    const objects = await manager.list([{ a: [1] }, { a: [2] }]);
    expect(await objects.index({ a: [2] })).toBe(1);
  });

  it('Namespace, Value and Array', async () => {
    const ns = await manager.Namespace({ x: 1 });
    await ns.set('y', 2);
    expect(await ns.get('x')).toBe(1);
    expect(await ns.toObject()).toEqual({ x: 1, y: 2 });
    const v = await manager.Value('i', 5);
    await v.set(-7);
    expect(await v.get()).toBe(-7);
    await expect(v.set(2 ** 40)).rejects.toThrow(RangeError);
    const q = await manager.Value('q', 1n);
    expect(await q.get()).toBe(1n);
    const a = await manager.Array('d', [1.5, 2.5]);
    await a.set(1, 3.5);
    expect(await a.toArray()).toEqual([1.5, 3.5]);
    expect(await a.length()).toBe(2);
    const zeros = await manager.Array('?', 3);
    expect(await zeros.toArray()).toEqual([false, false, false]);
    await expect(manager.Value('nope' as 'i', 1)).rejects.toThrow(TypeError);
  });

  it('a ...Sync method of a proxy throws TypeError', async () => {
    const d = await manager.dict();
    const q = await manager.Queue();
    const lock = await manager.Lock();
    expect(() => (d as unknown as { getSync(k: string): unknown }).getSync('a')).toThrow(TypeError);
    expect(() => (q as unknown as { getSync(): unknown }).getSync()).toThrow(/async only/);
    expect(() => (lock as unknown as { acquireSync(): unknown }).acquireSync()).toThrow(TypeError);
  });

  it('Queue and JoinableQueue: Empty, Full, timeouts, abort, and a producer child', async () => {
    const q = await manager.Queue<number>(1);
    await expect(q.getNowait()).rejects.toBeInstanceOf(Empty);
    await q.put(1);
    expect(await q.full()).toBe(true);
    await expect(q.putNowait(2)).rejects.toBeInstanceOf(Full);
    await expect(q.put(2, { timeout: 20 })).rejects.toBeInstanceOf(Full);
    expect(await q.get()).toBe(1);
    await expect(q.get({ timeout: 20 })).rejects.toBeInstanceOf(Empty);
    const controller = new AbortController();
    const aborted = q.get({ signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    await q.put(3);
    expect(await q.get()).toBe(3); // the aborted get took nothing
    await expect(q.get({ timeout: 'soon' as unknown as number })).rejects.toThrow(TypeError);

    const jq = await manager.JoinableQueue<number>();
    const producer = run('produce', [jq, 5]);
    const got: number[] = [];
    for (let i = 0; i < 5; i++) {
      got.push(await jq.get({ timeout: 20_000 }));
      await jq.taskDone();
    }
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(await joined(producer)).toBe(0);
    await expect(jq.taskDone()).rejects.toThrow(RangeError);
  });

  it('proxies travel to a child, which applies its calls in the order it made them', async () => {
    const d = await manager.dict<string, unknown>();
    const l = await manager.list<number>();
    const p = run('appendInOrder', [d, l, 500]);
    expect(await joined(p)).toBe(0);
    expect(await l.toArray()).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(await d.get('childPid')).toBe(p.pid);
    expect(await d.get('fromChild')).toEqual({ nested: [1, 2n, new Date(0)] });
  });

  it('a dict can hold shared objects and other proxies, which come back live', async () => {
    const d = await manager.dict<string, unknown>();
    const l = await manager.list<number>([1]);
    const lock = new Lock();
    try {
      await d.set('list', l);
      await d.set('lock', lock);
      const list = (await d.get('list')) as ListProxy<number>;
      expect(list).toBeInstanceOf(ListProxy);
      expect(list.referentId).toBe(l.referentId);
      await list.append(2);
      expect(await l.toArray()).toEqual([1, 2]);
      const back = (await d.get('lock')) as Lock;
      expect(back).toBeInstanceOf(Lock);
      expect(back.tryAcquire()).toBe(true);
      expect(lock.tryAcquire()).toBe(false); // the same lock
      back.release();
      back.close();
      const cond = await manager.Condition(await manager.Lock());
      await expect(manager.Condition(lock as never)).rejects.toThrow(TypeError);
      expect(await cond.withLock(() => 1)).toBe(1);
    } finally {
      lock.close();
    }
  });

  it("a child's last calls are carried out even when its target does not wait for them", async () => {
    const d = await manager.dict<string, unknown>();
    expect(await joined(run('fireAndForget', [d]))).toBe(0);
    expect(await d.get('late')).toBe('arrived');
  });

  it('Lock ownership; a lock held by a killed client goes to the next with ownerDied', async () => {
    const lock = await manager.Lock();
    const held = await manager.Event();
    expect(await lock.acquire()).toBe(true);
    expect(lock.ownerDied).toBe(false);
    expect(await lock.acquire({ timeout: 10 })).toBe(false); // a Lock does not re-enter
    await lock.release();
    await expect(lock.release()).rejects.toThrow(ProcessError);

    const holder = run('holdLock', [lock, held]);
    expect(await held.wait({ timeout: 20_000 })).toBe(true);
    expect(await lock.locked()).toBe(true);
    await expect(lock.release()).rejects.toThrow(/another process holds it/);
    const waiting = lock.acquire({ timeout: 20_000 });
    holder.kill();
    expect(await waiting).toBe(true);
    expect(lock.ownerDied).toBe(true);
    await lock.release();
    expect(await lock.tryAcquire()).toBe(true);
    expect(lock.ownerDied).toBe(false);
    await lock.release();
  });

  it('RLock re-enters; Semaphore and BoundedSemaphore count', async () => {
    const rlock = await manager.RLock();
    expect(await rlock.acquire()).toBe(true);
    expect(await rlock.acquire()).toBe(true);
    await rlock.release();
    expect(await rlock.withLock(() => 'inside')).toBe('inside');
    await rlock.release();
    await expect(rlock.release()).rejects.toThrow(ProcessError);

    const sem = await manager.Semaphore(2);
    expect(await sem.acquire()).toBe(true);
    expect(await sem.tryAcquire()).toBe(true);
    expect(await sem.tryAcquire()).toBe(false);
    expect(await sem.getValue()).toBe(0);
    await sem.release(2);
    expect(await sem.getValue()).toBe(2);
    const bounded = await manager.BoundedSemaphore(1);
    await expect(bounded.release()).rejects.toThrow(RangeError);
    await expect(bounded.withLock(async () => 1, { timeout: 50 })).resolves.toBe(1);
    await bounded.acquire();
    await expect(bounded.withLock(() => 1, { timeout: 20 })).rejects.toBeInstanceOf(TimeoutError);
  });

  it('Condition, Event and Barrier across processes', async () => {
    const cond = await manager.Condition();
    const ns = await manager.Namespace();
    await cond.acquire();
    await expect(cond.wait({ timeout: 10 })).resolves.toBe(false);
    const notifier = run('notifyReady', [cond, ns]);
    const ready = await cond.waitFor(() => ns.get('ready'), { timeout: 20_000 });
    await cond.release();
    expect(ready).toBe(true);
    expect(await joined(notifier)).toBe(0);
    await expect(cond.notify()).rejects.toThrow(ProcessError); // not held

    const withLock = await manager.Condition(await manager.Lock());
    expect(await withLock.withLock(() => 2)).toBe(2);

    const ev = await manager.Event();
    expect(await ev.wait({ timeout: 10 })).toBe(false);
    await ev.set();
    expect(await ev.isSet()).toBe(true);
    expect(await ev.wait()).toBe(true);

    const barrier = await manager.Barrier(2);
    expect(await barrier.parties()).toBe(2);
    const d = await manager.dict<string, number>();
    const child = run('meet', [barrier, d]);
    const mine = await barrier.wait({ timeout: 20_000 });
    expect(await joined(child)).toBe(0);
    expect([mine, await d.get('index')].sort()).toEqual([0, 1]);
    await expect(barrier.wait({ timeout: 20 })).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(await barrier.broken()).toBe(true);
    await barrier.reset();
    expect(await barrier.broken()).toBe(false);
  });

  it('a Barrier runs its action in the server; an action that throws breaks it', async () => {
    const ok = await manager.Barrier(1, { action: { module: types, name: 'okAction' } });
    expect(await ok.wait()).toBe(0);
    const failing = await manager.Barrier(1, { action: { module: types, name: 'failingAction' } });
    await expect(failing.wait()).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(await failing.broken()).toBe(true);
    await expect(manager.Barrier(0)).rejects.toThrow(RangeError);
  });

  it('a Barrier breaks at once when a waiting party dies', async () => {
    const barrier = await manager.Barrier(3);
    const waiting = await manager.Event();
    const child = run('waitAtBarrier', [barrier, waiting]);
    expect(await waiting.wait({ timeout: 20_000 })).toBe(true);
    await until(async () => (await barrier.nWaiting()) === 1);
    const mine = barrier.wait();
    child.kill();
    await expect(mine).rejects.toBeInstanceOf(BrokenBarrierError);
  });

  // A client killed in the middle of a call is a row of the fault matrix (test/faults.test.ts).

  it('the authkey is never in JSON; a process that knows it can revive a handle', async () => {
    const d = await manager.dict<string, number>({ n: 1 });
    const handle = d.toHandle();
    const json = JSON.stringify(handle);
    expect(json).not.toMatch(/authkey/);
    expect(JSON.parse(json)).toMatchObject({ kind: 'ManagerProxy', id: d.referentId, typeid: 'dict' });
    // Here the key is known, so the JSON alone is enough.
    const again = fromHandle(JSON.parse(json)) as DictProxy<string, number>;
    expect(await again.get('n')).toBe(1);
    // A plain node process does not know it.
    const result = await runNode(fixture('manager-revive.js'), [json]);
    expect(result.stdout.trim()).toBe('AuthenticationError');
  });
});

describe('BaseManager with registered types', () => {
  class CounterManager extends BaseManager {}
  CounterManager.register('Counter', { module: types, name: 'Counter' }, { methodToTypeid: { fork: 'Counter' } });
  CounterManager.register('Shared', { module: types, name: 'sharedCounter' });
  CounterManager.register('Greeter', { module: types, name: 'makeGreeter' });
  CounterManager.register('Later', { module: types, name: 'makeLater' });
  CounterManager.register('Narrow', { module: types, name: 'Counter' }, { exposed: ['value'] });

  it('makes proxies of user types; only public methods are exposed; errors keep name, message, code', async () => {
    await using manager = await new CounterManager().start();
    const counter = await manager.create<Proxied<Counter>>('Counter', 5);
    expect(counter).toBeInstanceOf(BaseProxy);
    expect(await counter.increment()).toBe(6);
    expect(await counter.increment(4)).toBe(10);
    expect(await counter.slowAdd(1, 5)).toBe(11);
    const viaMethod = await (manager as unknown as { Counter(n: number): Promise<Proxied<Counter>> }).Counter(1);
    expect(await viaMethod.value()).toBe(1);
    const error = (await counter.fail('no way').catch((e: unknown) => e)) as Error & { code?: string };
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe('no way');
    expect(error.code).toBe('E_COUNTER');
    expect((error.cause as RemoteError).remoteStack).toMatch(/manager-types\.js/);
    await expect(counter.callMethod('_secret')).rejects.toThrow(/does not expose "_secret"/);
    await expect(counter.callMethod('constructor')).rejects.toThrow(TypeError);
    expect(() => (counter as unknown as { getSync(): number }).getSync()).toThrow(TypeError);
    await expect(counter.callback()).rejects.toBeInstanceOf(SerializationError);
    const forked = (await counter.fork()) as unknown as Proxied<Counter>;
    expect(forked).toBeInstanceOf(BaseProxy);
    await forked.increment();
    expect([await forked.value(), await counter.value()]).toEqual([12, 11]);
    const narrow = await manager.create<Proxied<Counter>>('Narrow', 3);
    expect(await narrow.value()).toBe(3);
    expect((narrow as unknown as { increment?: unknown }).increment).toBeUndefined();
    await expect(narrow.callMethod('increment')).rejects.toThrow(TypeError);
  });

  it('factories: the same object is one referent; plain objects and async factories work', async () => {
    await using manager = await new CounterManager().start();
    const a = await manager.create<Proxied<Counter>>('Shared');
    const b = await manager.create<Proxied<Counter>>('Shared');
    expect(a.referentId).toBe(b.referentId);
    await a.increment();
    expect(await b.value()).toBe(101);
    const greeter = await manager.create<{ greet(who: string): Promise<string> }>('Greeter', 'Ada');
    expect(await greeter.greet('Bob')).toBe('Ada greets Bob');
    const later = await manager.create<Proxied<Counter>>('Later');
    expect(await later.value()).toBe(7);
    await expect(manager.create('Nope')).rejects.toThrow(/has no type "Nope"/);
    await expect(manager.create('bad typeid')).rejects.toThrow(RangeError);
  });

  it('a registered type is shared with children', async () => {
    await using manager = await new CounterManager().start();
    const counter = await manager.create<Proxied<Counter>>('Counter');
    const children = [run('count', [counter, 50]), run('count', [counter, 50])];
    for (const child of children) expect(await joined(child)).toBe(0);
    expect(await counter.value()).toBe(100);
  });

  it('register checks its arguments', () => {
    class M extends BaseManager {}
    expect(() => M.register('start', { module: types, name: 'Counter' })).toThrow(/clashes/);
    expect(() => M.register('T', { module: types, name: 'Counter' }, { exposed: ['constructor'] })).toThrow(RangeError);
    expect(() =>
      M.register('T', { module: types, name: 'Counter' }, { exposed: 'value' as unknown as string[] }),
    ).toThrow(TypeError);
    expect(() => M.register('1x')).toThrow(RangeError);
    expect(() => new M({ address: 5 as unknown as string })).toThrow(TypeError);
    expect(() => new M({ authkey: '' })).toThrow(RangeError);
  });
});

describe('remote managers (TCP)', () => {
  class RemoteManager extends BaseManager {}
  let server: ChildProcess;
  let address: { host: string; port: number };
  const authkey = 'correct horse battery staple';

  beforeAll(async () => {
    server = spawn(process.execPath, [fixture('manager-serve.js'), authkey], { stdio: ['pipe', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      server.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
      setTimeout(() => reject(new Error('the server did not start')), 20_000);
    });
    address = JSON.parse(line) as { host: string; port: number };
  });

  afterAll(async () => {
    server.stdin!.end();
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        server.kill('SIGKILL');
        resolve(undefined);
      }, 5_000);
      server.once('exit', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  });

  it('serves a client that connects with the authkey; the client cannot shut it down', async () => {
    expect(address.host).toBe('127.0.0.1');
    const manager = await new RemoteManager({ address, authkey }).connect();
    const counter = await manager.create<{ increment(): Promise<number>; value(): Promise<number> }>('Counter', 1);
    expect(await counter.increment()).toBe(2);
    const shared = await manager.create<{ value(): Promise<number> }>('shared');
    expect(await shared.value()).toBeGreaterThanOrEqual(100);
    await expect(manager.shutdown()).rejects.toThrow(ProcessError);
    // Handles name resources of this machine: never sent over TCP.
    const local = await Manager();
    try {
      const d = await local.dict();
      const loose = counter as unknown as { increment(by: unknown): Promise<number> };
      await expect(loose.increment(d)).rejects.toBeInstanceOf(SerializationError);
    } finally {
      await local.shutdown();
    }
    manager.close();
    await expect(counter.value()).rejects.toBeInstanceOf(Closed);
    await expect(manager.create('Counter')).rejects.toBeInstanceOf(Closed);
  });

  it('start() on TCP: another client connects with the key, and sees Closed after the shutdown', async () => {
    const manager = await Manager({ address: { port: 0 }, authkey: 'k3y' });
    const bound = manager.address as { host: string; port: number };
    expect(bound.host).toBe('127.0.0.1');
    expect(bound.port).toBeGreaterThan(0);
    const d = await manager.dict<string, number>();
    await d.set('x', 1);
    const other = await new SyncManager({ address: bound, authkey: 'k3y' }).connect();
    const l = await other.list([1, 2]);
    expect(await l.toArray()).toEqual([1, 2]);
    // A network peer's Barrier action would run its code in the server: refused.
    await expect(other.Barrier(1, { action: { module: types, name: 'okAction' } })).rejects.toThrow(/network peer/);
    await manager.shutdown();
    await expect(l.length()).rejects.toBeInstanceOf(Closed);
    await expect(d.get('x')).rejects.toBeInstanceOf(Closed);
    other.close();
  });

  it('a wrong authkey is refused with AuthenticationError', async () => {
    await expect(new RemoteManager({ address, authkey: 'wrong' }).connect()).rejects.toBeInstanceOf(
      AuthenticationError,
    );
  });

  it('a peer that sends a live handle or an oversized message is dropped, and others are still served', async () => {
    const raw = await Client(address, { authkey });
    // Hello, then a Create whose arguments hold a handle descriptor (tag T_HANDLE), built by hand.
    await raw.send([1, 1, { version: 1, channel: false }]);
    await raw.recv({ timeout: 10_000 });
    const local = await Manager();
    try {
      const d = await local.dict();
      // raw.send() refuses to send a handle to a TCP peer: the bytes are made by hand.
      await raw.sendBytes(serialize([2, 3, 'Counter', [d]]));
    } finally {
      await local.shutdown();
    }
    await expect(raw.recv({ timeout: 10_000 })).rejects.toMatchObject({ name: 'EOFError' });
    raw.close();
    const manager = await new RemoteManager({ address, authkey }).connect();
    const counter = await manager.create<{ value(): Promise<number> }>('Counter', 3);
    expect(await counter.value()).toBe(3);
    manager.close();
  });
});

describe('faults and lifetimes', () => {
  // A SIGKILLed server is a row of the fault matrix (test/faults.test.ts).

  it('calls after shutdown reject with Closed, and nothing is left behind', async () => {
    const manager = await Manager();
    const address = manager.address as string;
    expect(existsSync(address)).toBe(true);
    const d = await manager.dict();
    const q = await manager.Queue();
    const pending = q.get().catch((error: unknown) => error);
    await manager.shutdown();
    expect(await pending).toBeInstanceOf(Closed);
    await expect(d.get('a')).rejects.toBeInstanceOf(Closed);
    await expect(manager.list()).rejects.toBeInstanceOf(Closed);
    await manager.shutdown(); // repeatable
    expect(manager.process!.exitCode).toBe(0);
    expect(existsSync(address)).toBe(false);
    await until(() => managerSegments().length === 0);
  });

  it('await using shuts the manager down', async () => {
    let d: DictProxy | undefined;
    {
      await using manager = await Manager();
      d = await manager.dict();
    }
    await expect(d.size()).rejects.toBeInstanceOf(Closed);
  });

  it('message size limits and bad options', async () => {
    await using manager = await Manager({ maxMessageBytes: 4096 });
    const d = await manager.dict<string, Buffer>();
    await expect(d.set('big', Buffer.alloc(10_000))).rejects.toThrow(RangeError);
    await d.set('small', Buffer.alloc(100));
    expect((await d.get('small'))!.length).toBe(100);
    await expect(Manager({ maxMessageBytes: -1 })).rejects.toThrow(RangeError);
    await expect(new BaseManager().create('x')).rejects.toThrow(ProcessError);
    await expect(new BaseManager({ address: '/nonexistent/dir/x.sock', authkey: 'k' }).connect()).rejects.toThrow(
      /ENOENT|ECONNREFUSED/,
    );
    await expect(new BaseManager({ address: { host: '127.0.0.1', port: 1 } }).connect()).rejects.toThrow(TypeError);
  });
});
