// Bad input everywhere: one table over every export of the package. Each row calls an exported
// constructor, function or method with something wrong (wrong type, NaN, Infinity where it is not
// allowed, negative/huge/fractional numbers, bad names, bad handles, a negative timeout) and names
// the outcome API.md promises:
//
//   - constructors, Sync forms and other plain methods throw TypeError/RangeError (or the
//     documented error: ENOENT, EEXIST, Empty, ProcessError ...) before anything is touched;
//   - a method that returns a Promise never throws synchronously: it rejects;
//   - a timeout that is NaN or not a number is a TypeError; 0 or negative means "do not wait"
//     (a documented result, not an error); absent, null or Infinity means "wait forever";
//   - nothing crashes and nothing hangs: every promise must settle within SETTLE_MS.
//
// The last test fails when an export of the package has no row, so every new export gets rows.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import * as mp from 'multiproc';
import {
  AbortError,
  Array as SArray,
  AsyncResult,
  Barrier,
  BaseManager,
  BrokenBarrierError,
  BaseProxy,
  BoundedSemaphore,
  Client,
  Closed,
  Condition,
  Connection,
  Empty,
  Event,
  JoinableQueue,
  Listener,
  Lock,
  Manager,
  NamedSemaphore,
  Pipe,
  PipeConnection,
  Pool,
  Process,
  ProcessError,
  Queue,
  RLock,
  RawArray,
  RawValue,
  Semaphore,
  SerializationError,
  ShareableList,
  SharedArray,
  SharedMemory,
  SharedMemoryManager,
  SharedValue,
  SimpleQueue,
  SyncManager,
  TimeoutError,
  Value,
  atomicNotify,
  atomicWait,
  atomicWaitSync,
  deserialize,
  fromHandle,
  registerClass,
  serialize,
  wait,
  type BarrierProxy,
  type ConditionProxy,
  type DictProxy,
  type EventProxy,
  type HandleDescriptor,
  type JoinableQueueProxy,
  type ListProxy,
  type LockProxy,
  type NamespaceProxy,
  type QueueProxy,
  type SemaphoreProxy,
  type ValueProxy,
  type ArrayProxy,
} from 'multiproc';

type Export = keyof typeof mp;
type ErrorClass = abstract new (...args: never[]) => Error;
/** An error class, or an OS error's `code`. */
type ErrorSpec = ErrorClass | { code: string };
type Outcome =
  | { kind: 'throws'; error: ErrorSpec }
  | { kind: 'rejects'; error: ErrorSpec }
  | { kind: 'resolves'; check: (value: unknown) => boolean; what: string }
  | { kind: 'returns'; check: (value: unknown) => boolean; what: string };
type Row = [exported: Export, what: string, call: () => unknown, outcome: Outcome];

const SETTLE_MS = 5_000;
const throws = (error: ErrorSpec): Outcome => ({ kind: 'throws', error });
const rejects = (error: ErrorSpec): Outcome => ({ kind: 'rejects', error });
const resolvesTo = (expected: unknown): Outcome => ({
  kind: 'resolves',
  check: (value) => Object.is(value, expected) || JSON.stringify(value) === JSON.stringify(expected),
  what: JSON.stringify(expected),
});
const returns = (check: (value: unknown) => boolean, what: string): Outcome => ({ kind: 'returns', check, what });
const T = TypeError;
const R = RangeError;
/** Casts a deliberately wrong argument past the type checker. */
const bad = <X = never>(value: unknown): X => value as X;

const tag = `bad${process.pid}`;
const SHM_NAME = `mptest-${tag}-shm`;
const SEM_NAME = `mptest-${tag}-sem`;

// ---- fixtures: made once, closed and unlinked in afterAll ----

interface Fixtures {
  queue: Queue;
  objectQueue: Queue;
  namedQueue: Queue;
  simple: SimpleQueue;
  joinable: JoinableQueue;
  lock: Lock;
  heldLock: Lock;
  rlock: RLock;
  semaphore: Semaphore;
  emptySemaphore: Semaphore;
  bounded: BoundedSemaphore;
  condition: Condition;
  event: Event;
  barrier: Barrier;
  value: Value;
  rawValue: RawValue;
  array: SArray;
  rawArray: RawArray;
  shm: SharedMemory;
  list: ShareableList;
  smm: SharedMemoryManager;
  named: NamedSemaphore;
  pipe: [Connection, Connection];
  oneWay: [Connection, Connection];
  listener: Listener;
  tcpListener: Listener;
  process: Process;
  running: Process;
  pool: Pool;
  result: AsyncResult;
  manager: SyncManager;
  proxies: {
    dict: DictProxy;
    list: ListProxy;
    ns: NamespaceProxy;
    queue: QueueProxy;
    joinable: JoinableQueueProxy;
    lock: LockProxy;
    semaphore: SemaphoreProxy;
    condition: ConditionProxy;
    event: EventProxy;
    barrier: BarrierProxy;
    value: ValueProxy;
    array: ArrayProxy;
  };
  i32: Int32Array;
  pipeHandle: HandleDescriptor;
}

const fx = {} as Fixtures;
/** The handles of the fixtures, as JSON: rows that revive one must not unlink it. */
const fixtureHandles = new Set<string>();
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  const keep = <X extends { close(): void; unlink?(): void }>(object: X, unlink = false): X => {
    closers.push(() => {
      if (unlink) object.unlink?.();
      object.close();
    });
    return object;
  };
  fx.queue = keep(new Queue({ capacityBytes: 4096 }));
  fx.objectQueue = keep(new Queue());
  fx.objectQueue.putSync({ an: 'object' });
  fx.namedQueue = keep(new Queue({ name: `${tag}-q` }), true);
  fx.simple = keep(new SimpleQueue());
  fx.joinable = keep(new JoinableQueue());
  fx.joinable.putSync(1);
  fx.lock = keep(new Lock());
  fx.heldLock = keep(new Lock());
  fx.heldLock.acquireSync();
  closers.push(() => fx.heldLock.release());
  fx.rlock = keep(new RLock());
  fx.semaphore = keep(new Semaphore(1));
  fx.emptySemaphore = keep(new Semaphore(0));
  fx.bounded = keep(new BoundedSemaphore(1));
  fx.condition = keep(new Condition());
  fx.event = keep(new Event());
  fx.barrier = keep(new Barrier(2));
  fx.value = keep(new Value('i', 0));
  fx.rawValue = keep(new RawValue('d', 0));
  fx.array = keep(new SArray('i', 4));
  fx.rawArray = keep(new RawArray('B', 8));
  fx.i32 = new Int32Array(fx.array.view.buffer, fx.array.view.byteOffset, 4);
  fx.shm = keep(new SharedMemory({ name: SHM_NAME, create: true, size: 64 }), true);
  fx.list = keep(new ShareableList([1, 'ab', null]), true);
  fx.smm = new SharedMemoryManager();
  fx.named = keep(new NamedSemaphore({ name: SEM_NAME, create: true, value: 0 }), true);
  fx.pipe = Pipe();
  fx.oneWay = Pipe({ duplex: false });
  for (const end of [...fx.pipe, ...fx.oneWay]) keep(end);
  fx.listener = keep(new Listener());
  fx.tcpListener = keep(new Listener({ address: { port: 0 } }));
  fx.process = new Process({ target: () => 0 });
  fx.running = new Process({ target: () => new Promise((resolve) => setTimeout(resolve, 20_000)) });
  fx.running.start();
  closers.push(async () => {
    fx.running.kill();
    await fx.running.join({ timeout: 10_000 });
  });
  fx.pool = new Pool({ processes: 1 });
  closers.push(async () => {
    fx.pool.terminate();
    await fx.pool.join();
  });
  fx.result = fx.pool.applyAsync(() => 1);
  fx.manager = await Manager();
  closers.push(() => fx.manager.shutdown());
  const m = fx.manager;
  fx.proxies = {
    dict: await m.dict(),
    list: await m.list([1, 2]),
    ns: await m.Namespace(),
    queue: await m.Queue(),
    joinable: await m.JoinableQueue(),
    lock: await m.Lock(),
    semaphore: await m.Semaphore(0),
    condition: await m.Condition(),
    event: await m.Event(),
    barrier: await m.Barrier(2),
    value: await m.Value('i', 0),
    array: await m.Array('i', 3),
  };
  // Made by hand: a real end's toHandle() would pin that end until the handle is revived.
  fx.pipeHandle = {
    kind: PipeConnection.handleKind,
    version: 1,
    segment: `/mp-o-${tag}nopipe`,
    ends: [`/mp-o-${tag}nopipe0`, `/mp-o-${tag}nopipe1`],
    end: 0,
    duplex: true,
  };
  for (const object of Object.values(fx)) {
    if (object instanceof Connection) continue;
    const handle = (object as { toHandle?(): unknown }).toHandle?.();
    if (handle !== undefined) fixtureHandles.add(JSON.stringify(handle));
  }
}, 30_000);

afterAll(async () => {
  for (const close of closers.reverse()) {
    try {
      await close();
    } catch {
      // one failed close must not keep the others from running
    }
  }
  // Other test files may share /dev/shm: check only the unnamed segments of this file's fixtures.
  const mine = [...fixtureHandles]
    .map((json) => (JSON.parse(json) as { segment?: string }).segment ?? '')
    .filter((segment) => segment.startsWith('/mp-o-'));
  expect(mine.filter((segment) => existsSync(`/dev/shm${segment}`))).toEqual([]);
}, 30_000);

/** Closes (and unlinks, if named) whatever a row made when it unexpectedly succeeded. */
function cleanUp(made: unknown): void {
  if (made === null || typeof made !== 'object') return;
  if (typeof (made as Promise<unknown>).then === 'function') {
    void (made as Promise<unknown>).then(cleanUp, () => {});
    return;
  }
  const object = made as { close?(): void; unlink?(): void; terminate?(): void; toHandle?(): unknown };
  // A row may revive a fixture (fromHandle of a good descriptor): close that handle, never unlink.
  let identity = '';
  try {
    identity = JSON.stringify(object.toHandle?.());
  } catch {
    // no handle, or closed
  }
  if (!fixtureHandles.has(identity)) {
    try {
      object.unlink?.();
    } catch {
      // not named, or already gone
    }
  }
  try {
    object.terminate?.();
    object.close?.();
  } catch {
    // already closed
  }
}

function matches(error: unknown, spec: ErrorSpec): boolean {
  if (typeof spec === 'function') return error instanceof spec;
  return (error as { code?: unknown } | null)?.code === spec.code;
}

function describeSpec(spec: ErrorSpec): string {
  return typeof spec === 'function' ? spec.name : spec.code;
}

type Settled = { status: 'fulfilled'; value: unknown } | { status: 'rejected'; reason: unknown } | { status: 'hung' };

async function settle(promise: Promise<unknown>): Promise<Settled> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<Settled>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'hung' }), SETTLE_MS);
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Settled => ({ status: 'fulfilled', value }),
        (reason: unknown): Settled => ({ status: 'rejected', reason }),
      ),
      hung,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const isThenable = (value: unknown): value is Promise<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as Promise<unknown>).then === 'function';

/** Runs one row and says what happened, in words a failing assertion can show. */
async function runRow(call: () => unknown, outcome: Outcome): Promise<string> {
  let made: unknown;
  try {
    made = call();
  } catch (error) {
    if (outcome.kind === 'throws') {
      return matches(error, outcome.error)
        ? 'ok'
        : `threw ${String((error as Error)?.name)} (${String((error as Error)?.message)}), expected ${describeSpec(outcome.error)}`;
    }
    return `threw synchronously: ${String((error as Error)?.name)}: ${String((error as Error)?.message)}`;
  }
  if (outcome.kind === 'throws' || outcome.kind === 'returns') {
    if (isThenable(made)) {
      const settled = await settle(made);
      cleanUp(settled.status === 'fulfilled' ? settled.value : undefined);
      return `returned a Promise (${settled.status}) instead of ${outcome.kind === 'throws' ? 'throwing' : 'a value'}`;
    }
    if (outcome.kind === 'returns') {
      const ok = outcome.check(made);
      cleanUp(made);
      return ok ? 'ok' : `returned ${String(made)}, expected ${outcome.what}`;
    }
    cleanUp(made);
    return `returned ${String(made)}, expected a ${describeSpec(outcome.error)} throw`;
  }
  if (!isThenable(made)) {
    cleanUp(made);
    return `returned ${String(made)}, not a Promise`;
  }
  const settled = await settle(made);
  if (settled.status === 'hung') return `did not settle within ${SETTLE_MS} ms`;
  if (outcome.kind === 'rejects') {
    if (settled.status === 'fulfilled') {
      cleanUp(settled.value);
      return `resolved ${String(settled.value)}, expected a ${describeSpec(outcome.error)} rejection`;
    }
    const reason = settled.reason as Error;
    return matches(reason, outcome.error)
      ? 'ok'
      : `rejected with ${String(reason?.name)} (${String(reason?.message)}), expected ${describeSpec(outcome.error)}`;
  }
  if (settled.status === 'rejected') {
    const reason = settled.reason as Error;
    return `rejected with ${String(reason?.name)} (${String(reason?.message)}), expected ${outcome.what}`;
  }
  const ok = outcome.check(settled.value);
  cleanUp(settled.value);
  return ok ? 'ok' : `resolved ${String(settled.value)}, expected ${outcome.what}`;
}

// ---- the table ----

const NaN_ = Number.NaN;
const timeoutRows = (
  exported: Export,
  name: string,
  call: (options: never) => unknown,
  form: 'async' | 'sync' | 'timeout-only',
): Row[] => {
  const fail = form === 'async' ? rejects : throws;
  return [
    [exported, `${name}({ timeout: NaN })`, () => call(bad({ timeout: NaN_ })), fail(T)],
    [exported, `${name}({ timeout: '5' })`, () => call(bad({ timeout: '5' })), fail(T)],
    [exported, `${name}({ timeout: 5n })`, () => call(bad({ timeout: 5n })), fail(T)],
    [exported, `${name}(5) (options not an object)`, () => call(bad(5)), fail(T)],
    ...(form === 'async'
      ? ([[exported, `${name}({ signal: 'x' })`, () => call(bad({ signal: 'x' })), rejects(T)]] as Row[])
      : form === 'sync'
        ? ([[exported, `${name}({ block: 1 })`, () => call(bad({ block: 1 })), throws(T)]] as Row[])
        : []),
  ];
};
const handleRows = (exported: Export, name: string, revive: (descriptor: never) => unknown): Row[] => [
  [exported, `${name}(null)`, () => revive(bad(null)), throws(T)],
  [exported, `${name}(42)`, () => revive(bad(42)), throws(T)],
  [exported, `${name}({}) (no kind)`, () => revive(bad({})), throws(T)],
  [exported, `${name}(a handle of another kind)`, () => revive(bad(fx.event.toHandle())), throws(T)],
];

const rows: Row[] = [
  // ---- Process and module functions ----
  ['Process', 'no options', () => new Process(bad(undefined)), throws(T)],
  ['Process', 'options not an object', () => new Process(bad(5)), throws(T)],
  ['Process', 'no target', () => new Process(bad({})), throws(T)],
  ['Process', 'a number as target', () => new Process(bad({ target: 5 })), throws(T)],
  ['Process', 'a class as target', () => new Process(bad({ target: class Foo {} })), throws(T)],
  ['Process', 'a bound function', () => new Process({ target: (() => 0).bind(null) }), throws(T)],
  ['Process', 'module not a string', () => new Process(bad({ target: { module: 5 } })), throws(T)],
  ['Process', 'empty export name', () => new Process({ target: { module: './x.js', name: '' } }), throws(T)],
  ['Process', 'args not an array', () => new Process(bad({ target: () => 0, args: 5 })), throws(T)],
  ['Process', 'daemon not a boolean', () => new Process(bad({ target: () => 0, daemon: 'yes' })), throws(T)],
  ['Process', 'name not a string', () => new Process(bad({ target: () => 0, name: 5 })), throws(T)],
  ['Process', 'kwargs an array', () => new Process(bad({ target: () => 0, kwargs: [] })), throws(T)],
  ['Process', 'execArgv not strings', () => new Process(bad({ target: () => 0, execArgv: [5] })), throws(T)],
  ['Process', 'env not an object', () => new Process(bad({ target: () => 0, env: 5 })), throws(T)],
  ['Process', 'cwd not a string', () => new Process(bad({ target: () => 0, cwd: 5 })), throws(T)],
  [
    'Process',
    'start() with args holding a function',
    () => new Process({ target: () => 0, args: [() => 1] }).start(),
    throws(SerializationError),
  ],
  ...timeoutRows('Process', 'join', (o) => fx.running.join(o), 'async'),
  ['Process', 'joinSync({ timeout: NaN })', () => fx.running.joinSync(bad({ timeout: NaN_ })), throws(T)],
  ['Process', "joinSync({ timeout: '5' })", () => fx.running.joinSync(bad({ timeout: '5' })), throws(T)],
  ['Process', 'joinSync(5)', () => fx.running.joinSync(bad(5)), throws(T)],
  ['Process', 'join() of a process never started', () => fx.process.join(), rejects(ProcessError)],
  ['Process', 'joinSync() of a process never started', () => fx.process.joinSync(), throws(ProcessError)],
  [
    'Process',
    'join({ timeout: NaN }) of a process never started',
    () => fx.process.join(bad({ timeout: NaN_ })),
    rejects(T),
  ],
  ['Process', 'join({ timeout: -1 }) returns at once', () => fx.running.join({ timeout: -1 }), resolvesTo(undefined)],
  [
    'Process',
    'joinSync({ timeout: -1 }) returns at once',
    () => fx.running.joinSync({ timeout: -1 }),
    returns((v) => v === undefined, 'undefined'),
  ],
  ['Process', 'close() while running', () => fx.running.close(), throws(ProcessError)],
  ['Process', 'start() twice', () => fx.running.start(), throws(ProcessError)],
  ['Process', 'name = 5', () => (fx.process.name = bad(5)), throws(T)],
  ['Process', "daemon = 'yes'", () => (fx.process.daemon = bad('yes')), throws(T)],

  [
    'currentProcess',
    'ignores arguments',
    () => mp.currentProcess(...bad<[]>([5, 'x'])),
    returns((v) => (v as { pid: number }).pid === process.pid, 'the main process'),
  ],
  ['currentProcess', 'name = 5', () => (mp.currentProcess().name = bad(5)), throws(T)],
  ['parentProcess', 'ignores arguments', () => mp.parentProcess(...bad<[]>([5])), returns((v) => v === null, 'null')],
  ['activeChildren', 'ignores arguments', () => mp.activeChildren(...bad<[]>([5])), returns(Array.isArray, 'an array')],
  [
    'cpuCount',
    'ignores arguments',
    () => mp.cpuCount(...bad<[]>(['x'])),
    returns((v) => Number.isInteger(v) && (v as number) > 0, 'a positive integer'),
  ],
  [
    'capabilities',
    'ignores arguments',
    () => mp.capabilities(...bad<[]>([null])),
    returns((v) => typeof v === 'object' && v !== null, 'an object'),
  ],
  ['getContext', "getContext('fork')", () => mp.getContext(bad('fork')), throws(R)],
  ['getContext', 'getContext(5)', () => mp.getContext(bad(5)), throws(T)],
  ['setStartMethod', "setStartMethod('fork')", () => mp.setStartMethod(bad('fork'), { force: true }), throws(R)],
  ['setStartMethod', 'setStartMethod(5)', () => mp.setStartMethod(bad(5), { force: true }), throws(T)],
  ['setStartMethod', "setStartMethod('spawn', 5)", () => mp.setStartMethod('spawn', bad(5)), throws(T)],
  [
    'setStartMethod',
    "setStartMethod('spawn', { force: 'yes' })",
    () => mp.setStartMethod('spawn', bad({ force: 'yes' })),
    throws(T),
  ],
  [
    'getStartMethod',
    'ignores arguments',
    () => mp.getStartMethod(...bad<[]>([5])),
    returns((v) => v === 'spawn', "'spawn'"),
  ],
  [
    'getAllStartMethods',
    'ignores arguments',
    () => mp.getAllStartMethods(...bad<[]>([5])),
    returns((v) => JSON.stringify(v) === '["spawn"]', "['spawn']"),
  ],
  ['logToStderr', "logToStderr('loud')", () => mp.logToStderr(bad('loud')), throws(T)],
  ['logToStderr', 'logToStderr(5)', () => mp.logToStderr(bad(5)), throws(T)],
  ['logToStderr', "setLevel('loud')", () => mp.logToStderr().setLevel(bad('loud')), throws(T)],

  // ---- the serializer ----
  ['serialize', 'a function', () => serialize(() => 1), throws(SerializationError)],
  ['serialize', 'a symbol', () => serialize(Symbol('s')), throws(SerializationError)],
  [
    'serialize',
    'an unregistered class instance',
    () => serialize({ x: new (class Unregistered {})() }),
    throws(SerializationError),
  ],
  ['serialize', 'a SharedArrayBuffer', () => serialize(new SharedArrayBuffer(8)), throws(SerializationError)],
  ['serialize', 'a WeakMap', () => serialize(new WeakMap()), throws(SerializationError)],
  ['serialize', 'a Promise', () => serialize(Promise.resolve(1)), throws(SerializationError)],
  ['deserialize', 'a string', () => deserialize(bad('bytes')), throws(T)],
  ['deserialize', 'undefined', () => deserialize(bad(undefined)), throws(T)],
  ['deserialize', 'an ArrayBuffer', () => deserialize(bad(new ArrayBuffer(4))), throws(T)],
  ['deserialize', 'no bytes', () => deserialize(Buffer.alloc(0)), throws(SerializationError)],
  ['deserialize', 'an unknown format version', () => deserialize(Buffer.from([99, 1])), throws(SerializationError)],
  ['deserialize', 'an unknown tag', () => deserialize(Buffer.from([1, 77])), throws(SerializationError)],
  [
    'deserialize',
    'a truncated value',
    () => deserialize(serialize({ a: 'hello' }).subarray(0, 6)),
    throws(SerializationError),
  ],
  [
    'deserialize',
    'trailing bytes',
    () => deserialize(Buffer.concat([serialize(1), Buffer.from([0])])),
    throws(SerializationError),
  ],
  [
    'deserialize',
    'a string length of 4 GiB',
    () => deserialize(Buffer.from([1, 8, 0xff, 0xff, 0xff, 0xff])),
    throws(SerializationError),
  ],
  [
    'deserialize',
    'an array length of 4 G items',
    () => deserialize(Buffer.from([1, 13, 0xff, 0xff, 0xff, 0xff])),
    throws(SerializationError),
  ],
  [
    'deserialize',
    'a reference to nothing',
    () => deserialize(Buffer.from([1, 24, 9, 0, 0, 0])),
    throws(SerializationError),
  ],
  ['deserialize', '200 000 nested arrays', () => deserialize(nested(200_000)), throws(SerializationError)],
  [
    'deserialize',
    'a handle of an unknown kind',
    () => deserialize(handleMessage({ kind: 'Nope', version: 1 })),
    throws(T),
  ],
  [
    'deserialize',
    'a handle naming a missing segment',
    () => deserialize(handleMessage({ kind: 'Lock', version: 1, segment: `/mp-o-${tag}missing` })),
    throws({ code: 'ENOENT' }),
  ],
  [
    'deserialize',
    'a handle naming a file outside the library',
    () => deserialize(handleMessage({ kind: 'Lock', version: 1, segment: '/../../etc/passwd' })),
    throws(T),
  ],
  ['registerClass', 'a number as class', () => registerClass(bad(5), { name: 'X' }), throws(T)],
  ['registerClass', 'no options', () => registerClass(class A {}, bad(undefined)), throws(T)],
  ['registerClass', 'name not a string', () => registerClass(class A {}, bad({ name: 5 })), throws(T)],
  ['registerClass', 'an empty name', () => registerClass(class A {}, { name: '' }), throws(T)],
  [
    'registerClass',
    'toWire not a function',
    () => registerClass(class A {}, bad({ name: `${tag}A`, toWire: 5 })),
    throws(T),
  ],
  [
    'registerClass',
    'fromWire not a function',
    () => registerClass(class A {}, bad({ name: `${tag}B`, fromWire: 'x' })),
    throws(T),
  ],

  // ---- handles ----
  ['fromHandle', 'fromHandle(null)', () => fromHandle(bad(null)), throws(T)],
  ['fromHandle', 'fromHandle(42)', () => fromHandle(bad(42)), throws(T)],
  ['fromHandle', 'fromHandle({}) (no kind)', () => fromHandle(bad({})), throws(T)],
  ['fromHandle', 'an unknown kind', () => fromHandle({ kind: 'Nope', version: 1 }), throws(T)],
  ['fromHandle', 'kind not a string', () => fromHandle(bad({ kind: 5, version: 1 })), throws(T)],
  ['fromHandle', 'a version from the future', () => fromHandle({ ...fx.lock.toHandle(), version: 99 }), throws(R)],
  [
    'fromHandle',
    'a segment outside the library namespace',
    () => fromHandle({ kind: 'Lock', version: 1, segment: '/etc/passwd' }),
    throws(T),
  ],
  [
    'fromHandle',
    'a segment with dots',
    () => fromHandle({ kind: 'Lock', version: 1, segment: '/mp-o-../../x' }),
    throws(T),
  ],
  ['fromHandle', 'a segment not a string', () => fromHandle({ kind: 'Queue', version: 1, segment: 5 }), throws(T)],
  [
    'fromHandle',
    'a missing segment',
    () => fromHandle({ kind: 'Queue', version: 2, segment: `/mp-o-${tag}gone` }),
    throws({ code: 'ENOENT' }),
  ],
  [
    'fromHandle',
    "a Queue's segment under kind Lock",
    () => fromHandle({ ...fx.queue.toHandle(), kind: 'Lock', version: 1 }), // Lock's layout version
    throws(T),
  ],
  [
    'fromHandle',
    'a SharedMemory with a bad name',
    () => fromHandle({ kind: 'SharedMemory', version: 1, name: 'a/b' }),
    throws(R),
  ],
  ['fromHandle', 'a SharedMemory with no name', () => fromHandle({ kind: 'SharedMemory', version: 1 }), throws(T)],
  [
    'fromHandle',
    'a ShareableList with a number as name',
    () => fromHandle({ kind: 'ShareableList', version: 1, name: 5 }),
    throws(T),
  ],
  [
    'fromHandle',
    'a NamedSemaphore with an empty name',
    () => fromHandle({ kind: 'NamedSemaphore', version: 1, name: '' }),
    throws(R),
  ],
  [
    'fromHandle',
    'a Connection with garbage',
    () => fromHandle({ kind: 'Connection', version: 1, segment: 5 }),
    throws(T),
  ],
  [
    'fromHandle',
    'a proxy with a bad address',
    () => fromHandle({ kind: BaseProxy.handleKind, version: 1, address: 5 }),
    throws(T),
  ],

  // ---- shared memory ----
  ['SharedMemory', 'options not an object', () => new SharedMemory(bad(42)), throws(T)],
  ['SharedMemory', 'name not a string', () => new SharedMemory(bad({ name: 5 })), throws(T)],
  ['SharedMemory', 'empty name', () => new SharedMemory({ name: '/', create: true, size: 1 }), throws(R)],
  ['SharedMemory', 'inner slash', () => new SharedMemory({ name: 'a/b', create: true, size: 1 }), throws(R)],
  ['SharedMemory', 'NUL in name', () => new SharedMemory({ name: 'a\0b', create: true, size: 1 }), throws(R)],
  [
    'SharedMemory',
    'name too long',
    () => new SharedMemory({ name: 'x'.repeat(300), create: true, size: 1 }),
    throws(R),
  ],
  ['SharedMemory', "name '..'", () => new SharedMemory({ name: '..', create: true, size: 1 }), throws(R)],
  ['SharedMemory', 'attach without a name', () => new SharedMemory({}), throws(T)],
  ['SharedMemory', 'create without a size', () => new SharedMemory({ create: true }), throws(T)],
  [
    'SharedMemory',
    "create: 'ifMissing' without a size",
    () => new SharedMemory({ name: `${tag}x`, create: 'ifMissing' }),
    throws(T),
  ],
  ['SharedMemory', 'size zero', () => new SharedMemory({ create: true, size: 0 }), throws(R)],
  ['SharedMemory', 'negative size', () => new SharedMemory({ create: true, size: -1 }), throws(R)],
  ['SharedMemory', 'fractional size', () => new SharedMemory({ create: true, size: 1.5 }), throws(R)],
  ['SharedMemory', 'NaN size', () => new SharedMemory({ create: true, size: NaN_ }), throws(R)],
  ['SharedMemory', 'Infinity size', () => new SharedMemory({ create: true, size: Infinity }), throws(R)],
  ['SharedMemory', 'size not a number', () => new SharedMemory(bad({ create: true, size: '10' })), throws(T)],
  ['SharedMemory', 'absurd size', () => new SharedMemory({ create: true, size: 2 ** 60 }), throws(R)],
  ['SharedMemory', 'create not a boolean', () => new SharedMemory(bad({ create: 'yes', size: 1 })), throws(T)],
  ['SharedMemory', 'mode 0o7777', () => new SharedMemory({ create: true, size: 1, mode: 0o7777 }), throws(R)],
  ['SharedMemory', 'mode -1', () => new SharedMemory({ create: true, size: 1, mode: -1 }), throws(R)],
  ['SharedMemory', "mode '600'", () => new SharedMemory(bad({ create: true, size: 1, mode: '600' })), throws(T)],
  [
    'SharedMemory',
    'attach a missing name',
    () => new SharedMemory({ name: `mptest-${tag}-missing` }),
    throws({ code: 'ENOENT' }),
  ],
  [
    'SharedMemory',
    'create a taken name',
    () => new SharedMemory({ name: SHM_NAME, create: true, size: 8 }),
    throws({ code: 'EEXIST' }),
  ],
  ...handleRows('SharedMemory', 'SharedMemory.fromHandle', (d) => SharedMemory.fromHandle(d)),

  ['ShareableList', 'items a number', () => new ShareableList(bad(5)), throws(T)],
  ['ShareableList', 'an object item', () => new ShareableList(bad([{}])), throws(T)],
  ['ShareableList', 'a symbol item', () => new ShareableList(bad([Symbol('x')])), throws(T)],
  ['ShareableList', 'a bigint over 64 bits', () => new ShareableList([2n ** 64n]), throws(R)],
  ['ShareableList', 'options not an object', () => new ShareableList([1], bad(5)), throws(T)],
  ['ShareableList', 'name a number', () => new ShareableList([1], bad({ name: 5 })), throws(T)],
  ['ShareableList', 'name with a slash', () => new ShareableList([1], { name: 'a/b' }), throws(R)],
  [
    'ShareableList',
    'open a missing name',
    () => ShareableList.open(`mptest-${tag}-nolist`),
    throws({ code: 'ENOENT' }),
  ],
  ['ShareableList', 'open(5)', () => ShareableList.open(bad(5)), throws(T)],
  ['ShareableList', "get('0')", () => fx.list.get(bad('0')), throws(T)],
  ['ShareableList', 'get(3) past the end', () => fx.list.get(3), throws(R)],
  ['ShareableList', 'get(-4)', () => fx.list.get(-4), throws(R)],
  ['ShareableList', 'get(1.5)', () => fx.list.get(1.5), throws(R)],
  ['ShareableList', 'get(NaN)', () => fx.list.get(NaN_), throws(R)],
  ['ShareableList', 'set(0, {})', () => fx.list.set(0, bad({})), throws(T)],
  ['ShareableList', 'set(1, a string too long for its slot)', () => fx.list.set(1, 'x'.repeat(100)), throws(R)],
  ['ShareableList', 'set(9, 1)', () => fx.list.set(9, 1), throws(R)],
  ...handleRows('ShareableList', 'ShareableList.fromHandle', (d) => ShareableList.fromHandle(d)),

  ['SharedMemoryManager', 'SharedMemory() before start()', () => fx.smm.SharedMemory(8), throws(ProcessError)],
  ['SharedMemoryManager', 'start(), then SharedMemory(-1)', () => startedSmm().SharedMemory(-1), throws(R)],
  ['SharedMemoryManager', "SharedMemory('8')", () => startedSmm().SharedMemory(bad('8')), throws(T)],
  ['SharedMemoryManager', 'SharedMemory(NaN)', () => startedSmm().SharedMemory(NaN_), throws(R)],
  ['SharedMemoryManager', 'ShareableList(5)', () => startedSmm().ShareableList(bad(5)), throws(T)],
  ['SharedMemoryManager', 'start() twice', () => startedSmm().start(), throws(ProcessError)],

  // ---- sharedctypes ----
  ...valueRows(
    'Value',
    (...a) => new Value(...(a as [string])),
    (n) => Value.open(n),
  ),
  ...valueRows(
    'SharedValue',
    (...a) => new SharedValue(...(a as [string])),
    (n) => SharedValue.open(n),
  ),
  ...valueRows(
    'RawValue',
    (...a) => new RawValue(...(a as [string])),
    (n) => RawValue.open(n),
  ),
  ['Value', 'lock: 5', () => new Value('i', 0, bad({ lock: 5 })), throws(T)],
  ['Value', 'lock: a Semaphore', () => new Value('i', 0, bad({ lock: fx.semaphore })), throws(T)],
  ['Value', "value = 'x'", () => (fx.value.value = bad('x')), throws(T)],
  ['Value', 'value = 2 ** 40', () => (fx.value.value = 2 ** 40), throws(R)],
  ['Value', 'set(NaN) on an integer code', () => fx.value.set(NaN_), throws(T)],
  [
    'Value',
    'getLock() of a lock: false Value',
    () => trackLocal(new Value('i', 0, { lock: false })).getLock(),
    throws(T),
  ],
  ['RawValue', 'lock: true', () => new RawValue('i', 0, bad({ lock: true })), throws(T)],
  ['RawValue', "set('1') on a float code", () => fx.rawValue.set(bad('1')), throws(T)],
  ...handleRows('Value', 'Value.fromHandle', (d) => Value.fromHandle(d)),
  ...handleRows('RawValue', 'RawValue.fromHandle', (d) => RawValue.fromHandle(d)),
  ...arrayRows(
    'Array',
    (...a) => new SArray(...(a as [string, number])),
    (n) => SArray.open(n),
  ),
  ...arrayRows(
    'SharedArray',
    (...a) => new SharedArray(...(a as [string, number])),
    (n) => SharedArray.open(n),
  ),
  ...arrayRows(
    'RawArray',
    (...a) => new RawArray(...(a as [string, number])),
    (n) => RawArray.open(n),
  ),
  ['Array', 'lock: {}', () => new SArray('i', 2, bad({ lock: {} })), throws(T)],
  ['Array', 'get(-5) (Python-style negative indexes stop at -length)', () => fx.array.get(-5), throws(R)],
  ['Array', 'get(4) past the end', () => fx.array.get(4), throws(R)],
  ['Array', "get('0')", () => fx.array.get(bad('0')), throws(T)],
  ['Array', 'get(NaN)', () => fx.array.get(NaN_), throws(R)],
  ['Array', 'get(0.5)', () => fx.array.get(0.5), throws(R)],
  ['Array', "set(0, 'x')", () => fx.array.set(0, bad('x')), throws(T)],
  ['Array', 'set(0, 2 ** 31)', () => fx.array.set(0, 2 ** 31), throws(R)],
  ['Array', 'set(Infinity, 1)', () => fx.array.set(Infinity, 1), throws(R)],
  ['RawArray', 'set(0, 256) on a B array', () => fx.rawArray.set(0, 256), throws(R)],
  ['RawArray', 'set(0, -1) on a B array', () => fx.rawArray.set(0, -1), throws(R)],
  ['RawArray', 'set(0, 1n) on a B array', () => fx.rawArray.set(0, bad(1n)), throws(T)],
  ...handleRows('Array', 'Array.fromHandle', (d) => SArray.fromHandle(d)),
  ...handleRows('RawArray', 'RawArray.fromHandle', (d) => RawArray.fromHandle(d)),

  // ---- atomics ----
  ['atomicWait', 'view a number', () => atomicWait(bad(5), 0, 0, { timeout: 0 }), rejects(T)],
  ['atomicWait', 'view a Float64Array', () => atomicWait(bad(new Float64Array(2)), 0, 0, { timeout: 0 }), rejects(T)],
  ['atomicWait', 'index -1', () => atomicWait(fx.i32, -1, 0, { timeout: 0 }), rejects(R)],
  ['atomicWait', 'index past the end', () => atomicWait(fx.i32, 4, 0, { timeout: 0 }), rejects(R)],
  ['atomicWait', 'index 1.5', () => atomicWait(fx.i32, 1.5, 0, { timeout: 0 }), rejects(R)],
  ['atomicWait', 'index NaN', () => atomicWait(fx.i32, NaN_, 0, { timeout: 0 }), rejects(R)],
  ['atomicWait', "index '0'", () => atomicWait(fx.i32, bad('0'), 0, { timeout: 0 }), rejects(T)],
  ['atomicWait', "expected 'x'", () => atomicWait(fx.i32, 0, bad('x'), { timeout: 10 }), rejects(T)],
  ['atomicWait', 'expected NaN', () => atomicWait(fx.i32, 0, NaN_, { timeout: 10 }), rejects(R)],
  ['atomicWait', 'expected 1.5', () => atomicWait(fx.i32, 0, 1.5, { timeout: 10 }), rejects(R)],
  ['atomicWait', 'expected 2 ** 32', () => atomicWait(fx.i32, 0, 2 ** 32, { timeout: 10 }), rejects(R)],
  [
    'atomicWait',
    'a view over a SharedArrayBuffer',
    () => atomicWait(new Int32Array(new SharedArrayBuffer(8)), 0, 0, { timeout: 10 }),
    rejects(T),
  ],
  [
    'atomicWait',
    'a view over memory not made by multiproc',
    () => atomicWait(new Int32Array(4), 0, 0, { timeout: 10 }),
    rejects(T),
  ],
  ...timeoutRows('atomicWait', 'atomicWait', (o) => atomicWait(fx.i32, 0, 0, o), 'async'),
  ['atomicWait', 'timeout -1 does not wait', () => atomicWait(fx.i32, 0, 0, { timeout: -1 }), resolvesTo('timed-out')],
  [
    'atomicWait',
    'timeout -Infinity does not wait',
    () => atomicWait(fx.i32, 0, 0, { timeout: -Infinity }),
    resolvesTo('timed-out'),
  ],
  ['atomicWaitSync', 'view a number', () => atomicWaitSync(bad(5), 0, 0, { timeout: 0 }), throws(T)],
  ['atomicWaitSync', 'index -1', () => atomicWaitSync(fx.i32, -1, 0, { timeout: 0 }), throws(R)],
  ['atomicWaitSync', "expected 'x'", () => atomicWaitSync(fx.i32, 0, bad('x'), { timeout: 10 }), throws(T)],
  ['atomicWaitSync', 'timeout NaN', () => atomicWaitSync(fx.i32, 0, 0, { timeout: NaN_ }), throws(T)],
  ['atomicWaitSync', 'options 5', () => atomicWaitSync(fx.i32, 0, 0, bad(5)), throws(T)],
  [
    'atomicWaitSync',
    'timeout -1 does not wait',
    () => atomicWaitSync(fx.i32, 0, 0, { timeout: -1 }),
    returns((v) => v === 'timed-out', "'timed-out'"),
  ],
  ['atomicNotify', 'view a number', () => atomicNotify(bad(5), 0), throws(T)],
  ['atomicNotify', 'index 99', () => atomicNotify(fx.i32, 99), throws(R)],
  ['atomicNotify', 'count -1', () => atomicNotify(fx.i32, 0, -1), throws(R)],
  ['atomicNotify', 'count NaN', () => atomicNotify(fx.i32, 0, NaN_), throws(T)],
  ['atomicNotify', "count '1'", () => atomicNotify(fx.i32, 0, bad('1')), throws(T)],
  ['atomicNotify', 'count 1.5', () => atomicNotify(fx.i32, 0, 1.5), throws(R)],
  [
    'atomicNotify',
    'count 2 ** 40 wakes everyone',
    () => atomicNotify(fx.i32, 0, 2 ** 40),
    returns((v) => v === 0, '0 (nobody waits)'),
  ],
  ['atomicNotify', 'a view over memory not made by multiproc', () => atomicNotify(new Int32Array(4), 0), throws(T)],

  // ---- synchronization ----
  ...namedRows(
    'Lock',
    (o) => new Lock(o),
    (n) => Lock.open(n),
  ),
  ...namedRows(
    'RLock',
    (o) => new RLock(o),
    (n) => RLock.open(n),
  ),
  ...namedRows(
    'Semaphore',
    (o) => new Semaphore(1, o),
    (n) => Semaphore.open(n),
  ),
  ...namedRows(
    'BoundedSemaphore',
    (o) => new BoundedSemaphore(1, o),
    (n) => BoundedSemaphore.open(n),
  ),
  ...namedRows(
    'Condition',
    (o) => new Condition(null, o),
    (n) => Condition.open(n),
  ),
  ...namedRows(
    'Event',
    (o) => new Event(o),
    (n) => Event.open(n),
  ),
  ...namedRows(
    'Barrier',
    (o) => new Barrier(2, o),
    (name) => Barrier.open(name),
  ),
  ...lockRows('Lock', () => fx.lock),
  ...lockRows('RLock', () => fx.rlock),
  ...lockRows('Semaphore', () => fx.semaphore),
  ...lockRows('BoundedSemaphore', () => fx.bounded),
  ...lockRows('Condition', () => fx.condition),
  ['Lock', 'release() of a lock not held', () => fx.lock.release(), throws(ProcessError)],
  [
    'Lock',
    'acquire({ timeout: -1 }) of a held lock does not wait',
    () => fx.heldLock.acquire({ timeout: -1 }),
    resolvesTo(false),
  ],
  [
    'Lock',
    'acquire({ timeout: 0 }) of a held lock does not wait',
    () => fx.heldLock.acquire({ timeout: 0 }),
    resolvesTo(false),
  ],
  [
    'Lock',
    'acquireSync({ timeout: -1 }) of a held lock does not wait',
    () => fx.heldLock.acquireSync({ timeout: -1 }),
    returns((v) => v === false, 'false'),
  ],
  [
    'Lock',
    'acquireSync({ block: false, timeout: NaN })',
    () => fx.heldLock.acquireSync(bad({ block: false, timeout: NaN_ })),
    throws(T),
  ],
  ['RLock', 'release() of an RLock not held', () => fx.rlock.release(), throws(ProcessError)],
  ['Semaphore', 'value -1', () => new Semaphore(-1), throws(R)],
  ['Semaphore', 'value 1.5', () => new Semaphore(1.5), throws(R)],
  ['Semaphore', 'value NaN', () => new Semaphore(NaN_), throws(R)],
  ['Semaphore', 'value Infinity', () => new Semaphore(Infinity), throws(R)],
  ['Semaphore', 'value 2 ** 31', () => new Semaphore(2 ** 31), throws(R)],
  ['Semaphore', "value '1'", () => new Semaphore(bad('1')), throws(T)],
  [
    'Semaphore',
    'acquire({ timeout: -1 }) at zero does not wait',
    () => fx.emptySemaphore.acquire({ timeout: -1 }),
    resolvesTo(false),
  ],
  [
    'Semaphore',
    'acquireSync({ timeout: -5 }) at zero does not wait',
    () => fx.emptySemaphore.acquireSync({ timeout: -5 }),
    returns((v) => v === false, 'false'),
  ],
  ['BoundedSemaphore', 'value -1', () => new BoundedSemaphore(-1), throws(R)],
  ['BoundedSemaphore', "value '2'", () => new BoundedSemaphore(bad('2')), throws(T)],
  ['BoundedSemaphore', 'release() above the initial value', () => fx.bounded.release(), throws(R)],
  ['Condition', 'lock 5', () => new Condition(bad(5)), throws(T)],
  ['Condition', 'lock a Semaphore', () => new Condition(bad(fx.semaphore)), throws(T)],
  ['Condition', 'lock a plain object', () => new Condition(bad({ acquire() {} })), throws(T)],
  ['Condition', 'notify(-1)', () => withHeld(fx.condition, () => fx.condition.notify(-1)), throws(R)],
  ['Condition', "notify('1')", () => withHeld(fx.condition, () => fx.condition.notify(bad('1'))), throws(T)],
  ['Condition', 'notify(1.5)', () => withHeld(fx.condition, () => fx.condition.notify(1.5)), throws(R)],
  ['Condition', 'notify(NaN)', () => withHeld(fx.condition, () => fx.condition.notify(NaN_)), throws(R)],
  ['Condition', 'notify() without the lock', () => fx.condition.notify(), throws(ProcessError)],
  ['Condition', 'wait() without the lock', () => fx.condition.wait({ timeout: 10 }), rejects(ProcessError)],
  ['Condition', 'waitSync() without the lock', () => fx.condition.waitSync({ timeout: 10 }), throws(ProcessError)],
  ...timeoutRows('Condition', 'wait', (o) => fx.condition.wait(o), 'async'),
  ['Condition', 'waitSync({ timeout: NaN })', () => fx.condition.waitSync(bad({ timeout: NaN_ })), throws(T)],
  ['Condition', 'waitFor(5)', () => fx.condition.waitFor(bad(5)), rejects(T)],
  [
    'Condition',
    'waitFor(fn, { timeout: NaN })',
    () => fx.condition.waitFor(() => true, bad({ timeout: NaN_ })),
    rejects(T),
  ],
  ['Condition', 'waitForSync(5)', () => fx.condition.waitForSync(bad(5)), throws(T)],
  [
    'Condition',
    'wait({ timeout: -1 }) with the lock held does not wait',
    () => heldAsync(fx.condition, () => fx.condition.wait({ timeout: -1 })),
    resolvesTo(false),
  ],
  [
    'Condition',
    'waitFor(pred, { timeout: -1 }) with the lock held does not wait',
    () => heldAsync(fx.condition, () => fx.condition.waitFor(() => 0, { timeout: -1 })),
    resolvesTo(0),
  ],
  ['Event', 'options 5', () => new Event(bad(5)), throws(T)],
  ...timeoutRows('Event', 'wait', (o) => fx.event.wait(o), 'async'),
  ['Event', 'waitSync({ timeout: NaN })', () => fx.event.waitSync(bad({ timeout: NaN_ })), throws(T)],
  ['Event', "waitSync({ timeout: 'x' })", () => fx.event.waitSync(bad({ timeout: 'x' })), throws(T)],
  ['Event', 'waitSync(5)', () => fx.event.waitSync(bad(5)), throws(T)],
  ['Event', 'wait({ timeout: -1 }) does not wait', () => fx.event.wait({ timeout: -1 }), resolvesTo(false)],
  [
    'Event',
    'waitSync({ timeout: -1 }) does not wait',
    () => fx.event.waitSync({ timeout: -1 }),
    returns((v) => v === false, 'false'),
  ],
  ['Barrier', 'parties 0', () => new Barrier(0), throws(R)],
  ['Barrier', 'parties -1', () => new Barrier(-1), throws(R)],
  ['Barrier', 'parties 1.5', () => new Barrier(1.5), throws(R)],
  ['Barrier', 'parties NaN', () => new Barrier(NaN_), throws(R)],
  ['Barrier', 'parties Infinity', () => new Barrier(Infinity), throws(R)],
  ['Barrier', "parties '2'", () => new Barrier(bad('2')), throws(T)],
  ['Barrier', 'no parties', () => new Barrier(bad(undefined)), throws(T)],
  ['Barrier', 'action 5', () => new Barrier(2, bad({ action: 5 })), throws(T)],
  ['Barrier', 'timeout NaN', () => new Barrier(2, { timeout: NaN_ }), throws(T)],
  ['Barrier', "timeout 'x'", () => new Barrier(2, bad({ timeout: 'x' })), throws(T)],
  ...timeoutRows('Barrier', 'wait', (o) => fx.barrier.wait(o), 'async'),
  ['Barrier', 'waitSync({ timeout: NaN })', () => fx.barrier.waitSync(bad({ timeout: NaN_ })), throws(T)],
  ['Barrier', 'waitSync(5)', () => fx.barrier.waitSync(bad(5)), throws(T)],
  [
    'Barrier',
    'wait({ timeout: -1 }) does not wait: it breaks the barrier',
    () => trackLocal(new Barrier(2)).wait({ timeout: -1 }),
    rejects(BrokenBarrierError),
  ],
  [
    'Barrier',
    'waitSync({ timeout: -1 }) does not wait: it breaks the barrier',
    () => trackLocal(new Barrier(2)).waitSync({ timeout: -1 }),
    throws(BrokenBarrierError),
  ],
  [
    'Barrier',
    'fromHandle(handle, { action: 5 })',
    () => Barrier.fromHandle(fx.barrier.toHandle(), bad({ action: 5 })),
    throws(T),
  ],
  ...handleRows('Lock', 'Lock.fromHandle', (d) => Lock.fromHandle(d)),
  ['Lock', 'Lock.fromHandle(an RLock handle)', () => Lock.fromHandle(fx.rlock.toHandle()), throws(T)],
  [
    'Lock',
    'Lock.fromHandle(a bad segment)',
    () => Lock.fromHandle({ kind: 'Lock', version: 1, segment: 'x' }),
    throws(T),
  ],
  ...handleRows('RLock', 'RLock.fromHandle', (d) => RLock.fromHandle(d)),
  ...handleRows('Semaphore', 'Semaphore.fromHandle', (d) => Semaphore.fromHandle(d)),
  ...handleRows('BoundedSemaphore', 'BoundedSemaphore.fromHandle', (d) => BoundedSemaphore.fromHandle(d)),
  ...handleRows('Condition', 'Condition.fromHandle', (d) => Condition.fromHandle(d)),
  ['Event', 'Event.fromHandle(a Lock handle)', () => Event.fromHandle(fx.lock.toHandle()), throws(T)],
  ['Event', 'Event.fromHandle(null)', () => Event.fromHandle(bad(null)), throws(T)],
  ...handleRows('Barrier', 'Barrier.fromHandle', (d) => Barrier.fromHandle(d)),

  ['NamedSemaphore', 'no options', () => new NamedSemaphore(bad(undefined)), throws(T)],
  ['NamedSemaphore', 'no name', () => new NamedSemaphore(bad({})), throws(T)],
  ['NamedSemaphore', 'name 5', () => new NamedSemaphore(bad({ name: 5 })), throws(T)],
  ['NamedSemaphore', "name ''", () => new NamedSemaphore({ name: '' }), throws(R)],
  ['NamedSemaphore', "name 'a/b'", () => new NamedSemaphore({ name: 'a/b', create: true }), throws(R)],
  ['NamedSemaphore', 'name with NUL', () => new NamedSemaphore({ name: 'a\0b', create: true }), throws(R)],
  ['NamedSemaphore', 'name too long', () => new NamedSemaphore({ name: 'x'.repeat(300), create: true }), throws(R)],
  ['NamedSemaphore', "create 'yes'", () => new NamedSemaphore(bad({ name: `${tag}n`, create: 'yes' })), throws(T)],
  ['NamedSemaphore', 'value -1', () => new NamedSemaphore({ name: `${tag}n`, create: true, value: -1 }), throws(R)],
  ['NamedSemaphore', 'value 1.5', () => new NamedSemaphore({ name: `${tag}n`, create: true, value: 1.5 }), throws(R)],
  [
    'NamedSemaphore',
    'value 2 ** 40',
    () => new NamedSemaphore({ name: `${tag}n`, create: true, value: 2 ** 40 }),
    throws(R),
  ],
  [
    'NamedSemaphore',
    "value '1'",
    () => new NamedSemaphore(bad({ name: `${tag}n`, create: true, value: '1' })),
    throws(T),
  ],
  [
    'NamedSemaphore',
    'mode 0o7777',
    () => new NamedSemaphore({ name: `${tag}n`, create: true, mode: 0o7777 }),
    throws(R),
  ],
  [
    'NamedSemaphore',
    'open a missing name',
    () => NamedSemaphore.open(`mptest-${tag}-nosem`),
    throws({ code: 'ENOENT' }),
  ],
  [
    'NamedSemaphore',
    'create a taken name',
    () => new NamedSemaphore({ name: SEM_NAME, create: true }),
    throws({ code: 'EEXIST' }),
  ],
  ...timeoutRows('NamedSemaphore', 'acquire', (o) => fx.named.acquire(o), 'async'),
  ...timeoutRows('NamedSemaphore', 'acquireSync', (o) => fx.named.acquireSync(o), 'sync'),
  [
    'NamedSemaphore',
    'acquire({ timeout: -1 }) at zero does not wait',
    () => fx.named.acquire({ timeout: -1 }),
    resolvesTo(false),
  ],
  [
    'NamedSemaphore',
    'acquireSync({ timeout: -1 }) at zero does not wait',
    () => fx.named.acquireSync({ timeout: -1 }),
    returns((v) => v === false, 'false'),
  ],
  ['NamedSemaphore', 'withLock(5)', () => fx.named.withLock(bad(5)), rejects(T)],
  ['NamedSemaphore', 'withLockSync(5)', () => fx.named.withLockSync(bad(5)), throws(T)],
  ...handleRows('NamedSemaphore', 'NamedSemaphore.fromHandle', (d) => NamedSemaphore.fromHandle(d)),

  // ---- queues ----
  ...queueOptionRows('Queue', (o) => new Queue(o)),
  ...queueOptionRows('JoinableQueue', (o) => new JoinableQueue(o)),
  ['Queue', 'maxsize -1', () => new Queue({ maxsize: -1 }), throws(R)],
  ['Queue', 'maxsize 1.5', () => new Queue({ maxsize: 1.5 }), throws(R)],
  ['Queue', 'maxsize NaN', () => new Queue({ maxsize: NaN_ }), throws(R)],
  ['Queue', 'maxsize Infinity', () => new Queue({ maxsize: Infinity }), throws(R)],
  ['Queue', "maxsize '1'", () => new Queue(bad({ maxsize: '1' })), throws(T)],
  [
    'Queue',
    'open a taken name with create: true',
    () => new Queue({ name: `${tag}-q`, create: true }),
    throws({ code: 'EEXIST' }),
  ],
  ['Queue', 'create a taken name', () => new Queue({ name: `${tag}-q` }), throws({ code: 'EEXIST' })],
  ...timeoutRows('Queue', 'put', (o) => fx.queue.put(1, o), 'async'),
  ...timeoutRows('Queue', 'putSync', (o) => fx.queue.putSync(1, o), 'sync'),
  ...timeoutRows('Queue', 'get', (o) => fx.queue.get(o), 'async'),
  ...timeoutRows('Queue', 'getSync', (o) => fx.queue.getSync(o), 'sync'),
  ...timeoutRows('Queue', 'putBytes', (o) => fx.queue.putBytes(Buffer.alloc(1), o), 'async'),
  ...timeoutRows('Queue', 'getBytes', (o) => fx.queue.getBytes(o), 'async'),
  ...timeoutRows('Queue', 'getBytesSync', (o) => fx.queue.getBytesSync(o), 'sync'),
  ['Queue', 'put(a function)', () => fx.queue.put(() => 1), rejects(SerializationError)],
  ['Queue', 'putSync(a symbol)', () => fx.queue.putSync(Symbol('x')), throws(SerializationError)],
  ['Queue', 'putNowait(a function)', () => fx.queue.putNowait(() => 1), throws(SerializationError)],
  ['Queue', "putBytes('text')", () => fx.queue.putBytes(bad('text')), rejects(T)],
  ['Queue', 'putBytes(5)', () => fx.queue.putBytes(bad(5)), rejects(T)],
  ['Queue', 'putBytesSync([1, 2])', () => fx.queue.putBytesSync(bad([1, 2])), throws(T)],
  [
    'Queue',
    'get({ timeout: -1 }) of an empty queue does not wait',
    () => fx.queue.get({ timeout: -1 }),
    rejects(Empty),
  ],
  ['Queue', 'get({ timeout: 0 }) of an empty queue does not wait', () => fx.queue.get({ timeout: 0 }), rejects(Empty)],
  ['Queue', 'getSync({ timeout: -1 }) of an empty queue', () => fx.queue.getSync({ timeout: -1 }), throws(Empty)],
  ['Queue', 'getSync({ block: false }) of an empty queue', () => fx.queue.getSync({ block: false }), throws(Empty)],
  ['Queue', 'getNowait() of an empty queue', () => fx.queue.getNowait(), throws(Empty)],
  ['Queue', 'getNowait(5) ignores the argument', () => fx.queue.getNowait(...bad<[]>([5])), throws(Empty)],
  ['Queue', 'getBytes() of an object record', () => fx.objectQueue.getBytes({ timeout: 0 }), rejects(T)],
  ['Queue', 'getBytesSync() of an object record', () => fx.objectQueue.getBytesSync({ timeout: 0 }), throws(T)],
  ['Queue', 'putMany(5)', () => fx.queue.putMany(bad(5)), rejects(T)],
  ['Queue', 'putMany([a function])', () => fx.queue.putMany([() => 1]), rejects(SerializationError)],
  ['Queue', 'getMany(0)', () => fx.queue.getMany(0, { timeout: 0 }), rejects(R)],
  ['Queue', 'getMany(-1)', () => fx.queue.getMany(-1, { timeout: 0 }), rejects(R)],
  ['Queue', 'getMany(1.5)', () => fx.queue.getMany(1.5, { timeout: 0 }), rejects(R)],
  ['Queue', 'getMany(NaN)', () => fx.queue.getMany(NaN_, { timeout: 0 }), rejects(R)],
  ['Queue', "getMany('2')", () => fx.queue.getMany(bad('2'), { timeout: 0 }), rejects(T)],
  ['Queue', 'getMany(2, { timeout: NaN })', () => fx.queue.getMany(2, { timeout: NaN_ }), rejects(T)],
  [
    'Queue',
    'getMany(2, { timeout: -1 }) of an empty queue',
    () => fx.queue.getMany(2, { timeout: -1 }),
    rejects(Empty),
  ],
  ['Queue', 'shutdown(5)', () => fx.queue.shutdown(bad(5)), throws(T)],
  ['Queue', "shutdown({ immediate: 'yes' })", () => fx.queue.shutdown(bad({ immediate: 'yes' })), throws(T)],
  ['Queue', 'Queue.open(5)', () => Queue.open(bad(5)), throws(T)],
  ['Queue', "Queue.open('')", () => Queue.open(''), throws(R)],
  ['Queue', "Queue.open('a/b')", () => Queue.open('a/b'), throws(R)],
  ['Queue', 'Queue.open(a missing name)', () => Queue.open(`${tag}-none`), throws({ code: 'ENOENT' })],
  ['Queue', 'Queue.open(name, { mode: -1 })', () => Queue.open(`${tag}-q`, { mode: -1 }), throws(R)],
  ['Queue', 'Queue.open(name, 5)', () => Queue.open(`${tag}-q`, bad(5)), throws(T)],
  ...handleRows('Queue', 'Queue.fromHandle', (d) => Queue.fromHandle(d)),
  ['Queue', 'Queue.fromHandle(a SimpleQueue handle)', () => Queue.fromHandle(fx.simple.toHandle()), throws(T)],
  ['SimpleQueue', 'maxsize is not an option', () => new SimpleQueue(bad({ maxsize: 1 })), throws(T)],
  ['SimpleQueue', 'options 5', () => new SimpleQueue(bad(5)), throws(T)],
  ['SimpleQueue', 'capacityBytes 1', () => new SimpleQueue({ capacityBytes: 1 }), throws(R)],
  ['SimpleQueue', 'name with a slash', () => new SimpleQueue({ name: 'a/b' }), throws(R)],
  ...timeoutRows('SimpleQueue', 'get', (o) => fx.simple.get(o), 'async'),
  ...timeoutRows('SimpleQueue', 'getSync', (o) => fx.simple.getSync(o), 'sync'),
  ...timeoutRows('SimpleQueue', 'put', (o) => fx.simple.put(1, o), 'async'),
  ['SimpleQueue', 'put(a function)', () => fx.simple.put(() => 1), rejects(SerializationError)],
  ['SimpleQueue', 'get({ timeout: -1 }) of an empty queue', () => fx.simple.get({ timeout: -1 }), rejects(Empty)],
  ['SimpleQueue', 'SimpleQueue.open(5)', () => SimpleQueue.open(bad(5)), throws(T)],
  ['SimpleQueue', 'unlink() of a closed handle', () => closedNow(new SimpleQueue()).unlink(), throws(Closed)],
  ['Queue', 'unlink() of a closed handle', () => closedNow(new Queue()).unlink(), throws(Closed)],
  ...handleRows('SimpleQueue', 'SimpleQueue.fromHandle', (d) => SimpleQueue.fromHandle(d)),
  ['JoinableQueue', 'taskDone() more often than put', () => trackLocal(new JoinableQueue()).taskDone(), throws(R)],
  ...timeoutRows('JoinableQueue', 'join', (o) => fx.joinable.join(o), 'async'),
  ['JoinableQueue', 'joinSync({ timeout: NaN })', () => fx.joinable.joinSync(bad({ timeout: NaN_ })), throws(T)],
  ['JoinableQueue', 'joinSync(5)', () => fx.joinable.joinSync(bad(5)), throws(T)],
  [
    'JoinableQueue',
    'join({ timeout: -1 }) with a task pending does not wait',
    () => fx.joinable.join({ timeout: -1 }),
    resolvesTo(false),
  ],
  [
    'JoinableQueue',
    'joinSync({ timeout: -1 }) with a task pending',
    () => fx.joinable.joinSync({ timeout: -1 }),
    returns((v) => v === false, 'false'),
  ],
  ...handleRows('JoinableQueue', 'JoinableQueue.fromHandle', (d) => JoinableQueue.fromHandle(d)),

  // ---- pipes and connections ----
  ['Pipe', 'Pipe(null)', () => Pipe(bad(null)), throws(T)],
  ['Pipe', 'Pipe(5)', () => Pipe(bad(5)), throws(T)],
  ['Pipe', 'duplex: 1', () => Pipe(bad({ duplex: 1 })), throws(T)],
  ['Pipe', 'capacityBytes: 0', () => Pipe({ capacityBytes: 0 }), throws(R)],
  ['Pipe', 'capacityBytes: 2 GiB', () => Pipe({ capacityBytes: 2 ** 31 }), throws(R)],
  ['Pipe', 'capacityBytes: NaN', () => Pipe({ capacityBytes: NaN_ }), throws(R)],
  ['Pipe', "capacityBytes: '1'", () => Pipe(bad({ capacityBytes: '1' })), throws(T)],
  ...timeoutRows('Connection', 'send', (o) => fx.pipe[0].send(1, o), 'async'),
  ...timeoutRows('Connection', 'sendSync', (o) => fx.pipe[0].sendSync(1, o), 'timeout-only'),
  ...timeoutRows('Connection', 'recv', (o) => fx.pipe[1].recv(o), 'async'),
  ...timeoutRows('Connection', 'recvSync', (o) => fx.pipe[1].recvSync(o), 'timeout-only'),
  ...timeoutRows('Connection', 'poll', (o) => fx.pipe[1].poll(o), 'async'),
  ...timeoutRows('Connection', 'pollSync', (o) => fx.pipe[1].pollSync(o), 'timeout-only'),
  ['Connection', "sendBytesSync('text')", () => fx.pipe[0].sendBytesSync(bad('text')), throws(T)],
  ['Connection', 'sendBytesSync(buf, 5) past the end', () => fx.pipe[0].sendBytesSync(Buffer.alloc(4), 5), throws(R)],
  [
    'Connection',
    'sendBytesSync(buf, 1, 4) past the end',
    () => fx.pipe[0].sendBytesSync(Buffer.alloc(4), 1, 4),
    throws(R),
  ],
  ['Connection', 'sendBytesSync(buf, -1)', () => fx.pipe[0].sendBytesSync(Buffer.alloc(4), -1), throws(R)],
  ['Connection', 'sendBytesSync(buf, NaN)', () => fx.pipe[0].sendBytesSync(Buffer.alloc(4), NaN_), throws(R)],
  ['Connection', "sendBytesSync(buf, '1')", () => fx.pipe[0].sendBytesSync(Buffer.alloc(4), bad('1')), throws(T)],
  ['Connection', 'sendSync(a function)', () => fx.pipe[0].sendSync(() => 1), throws(SerializationError)],
  ['Connection', 'recvBytesSync(-1)', () => fx.pipe[1].recvBytesSync(-1), throws(R)],
  ['Connection', 'recvBytesSync(1.5)', () => fx.pipe[1].recvBytesSync(1.5), throws(R)],
  ['Connection', "recvBytesSync('9')", () => fx.pipe[1].recvBytesSync(bad('9')), throws(T)],
  [
    'Connection',
    'recvBytesIntoSync(buf, 9) past the end',
    () => fx.pipe[1].recvBytesIntoSync(Buffer.alloc(4), 9),
    throws(R),
  ],
  ['Connection', 'recvBytesIntoSync({})', () => fx.pipe[1].recvBytesIntoSync(bad({})), throws(T)],
  ['Connection', 'sendBytes(42)', () => fx.pipe[0].sendBytes(bad(42)), rejects(T)],
  ['Connection', 'sendBytes(buf, 0, 5) past the end', () => fx.pipe[0].sendBytes(Buffer.alloc(4), 0, 5), rejects(R)],
  ['Connection', 'sendBytes(buf, Infinity)', () => fx.pipe[0].sendBytes(Buffer.alloc(4), Infinity), rejects(R)],
  ['Connection', 'recvBytes(-1)', () => fx.pipe[1].recvBytes(-1), rejects(R)],
  ['Connection', 'recvBytes(NaN)', () => fx.pipe[1].recvBytes(NaN_), rejects(R)],
  ['Connection', 'recvBytesInto({})', () => fx.pipe[1].recvBytesInto(bad({})), rejects(T)],
  ['Connection', 'recvBytesInto(buf, -1)', () => fx.pipe[1].recvBytesInto(Buffer.alloc(4), -1), rejects(R)],
  ['Connection', 'send(a symbol)', () => fx.pipe[0].send(Symbol('x')), rejects(SerializationError)],
  ['Connection', 'send(a function)', () => fx.pipe[0].send(() => 1), rejects(SerializationError)],
  [
    'Connection',
    'recv({ timeout: -1 }) with nothing there',
    () => fx.pipe[1].recv({ timeout: -1 }),
    rejects(TimeoutError),
  ],
  [
    'Connection',
    'recvSync({ timeout: -1 }) with nothing there',
    () => fx.pipe[1].recvSync({ timeout: -1 }),
    throws(TimeoutError),
  ],
  ['Connection', 'poll({ timeout: -1 }) with nothing there', () => fx.pipe[1].poll({ timeout: -1 }), resolvesTo(false)],
  [
    'Connection',
    'pollSync({ timeout: -1 }) with nothing there',
    () => fx.pipe[1].pollSync({ timeout: -1 }),
    returns((v) => v === false, 'false'),
  ],
  ['Connection', 'send on the read end of a one-way pipe', () => fx.oneWay[0].send(1), rejects({ code: 'EBADF' })],
  [
    'Connection',
    'recvSync on the write end of a one-way pipe',
    () => fx.oneWay[1].recvSync(),
    throws({ code: 'EBADF' }),
  ],
  ['PipeConnection', 'fromHandle(null)', () => PipeConnection.fromHandle(bad(null)), throws(T)],
  [
    'PipeConnection',
    'fromHandle(an Event handle)',
    () => PipeConnection.fromHandle(bad(fx.event.toHandle())),
    throws(T),
  ],
  [
    'PipeConnection',
    'fromHandle(a well-formed descriptor of nothing)',
    () => PipeConnection.fromHandle(fx.pipeHandle),
    throws({ code: 'ENOENT' }),
  ],
  [
    'PipeConnection',
    'fromHandle(a version from the future)',
    () => PipeConnection.fromHandle({ ...fx.pipeHandle, version: 99 }),
    throws(R),
  ],
  [
    'PipeConnection',
    'fromHandle(a bad end name)',
    () => PipeConnection.fromHandle({ ...fx.pipeHandle, ends: ['/etc/passwd', 'x'] }),
    throws(T),
  ],
  ['PipeConnection', 'fromHandle(end 7)', () => PipeConnection.fromHandle({ ...fx.pipeHandle, end: 7 }), throws(T)],

  ['Listener', 'options 5', () => new Listener(bad(5)), throws(T)],
  ['Listener', 'maxMessageBytes 0', () => new Listener({ maxMessageBytes: 0 }), throws(R)],
  ['Listener', 'maxMessageBytes "1k"', () => new Listener(bad({ maxMessageBytes: '1k' })), throws(T)],
  ['Listener', 'address: 5', () => new Listener(bad({ address: 5 })), throws(T)],
  ['Listener', 'address: ""', () => new Listener({ address: '' }), throws(R)],
  ['Listener', 'address: a 200-byte path', () => new Listener({ address: `/tmp/${'x'.repeat(200)}` }), throws(R)],
  ['Listener', 'address: a path with NUL', () => new Listener({ address: '/tmp/a\0b' }), throws(R)],
  ['Listener', 'port: 70000', () => new Listener({ address: { port: 70_000 } }), throws(R)],
  ['Listener', 'port: -1', () => new Listener({ address: { port: -1 } }), throws(R)],
  ['Listener', 'port: NaN', () => new Listener({ address: { port: NaN_ } }), throws(R)],
  ['Listener', 'port: "80"', () => new Listener(bad({ address: { port: '80' } })), throws(T)],
  ['Listener', 'no port', () => new Listener(bad({ address: {} })), throws(T)],
  ['Listener', 'host: 1', () => new Listener(bad({ address: { host: 1, port: 0 } })), throws(T)],
  ['Listener', 'host: ""', () => new Listener({ address: { host: '', port: 0 } }), throws(R)],
  ['Listener', 'authkey: 5', () => new Listener(bad({ authkey: 5 })), throws(T)],
  ['Listener', 'authkey: ""', () => new Listener({ authkey: '' }), throws(R)],
  ['Listener', 'backlog: -1', () => new Listener({ backlog: -1 }), throws(R)],
  ['Listener', 'backlog: 1.5', () => new Listener({ backlog: 1.5 }), throws(R)],
  [
    'Listener',
    'a taken TCP address',
    () => new Listener({ address: fx.tcpListener.address }),
    throws({ code: 'EADDRINUSE' }),
  ],
  [
    'Listener',
    'a taken Unix path',
    () => new Listener({ address: fx.listener.address }),
    throws({ code: 'EADDRINUSE' }),
  ],
  ...timeoutRows('Listener', 'accept', (o) => fx.listener.accept(o), 'async'),
  [
    'Listener',
    'accept({ timeout: -1 }) with nobody connecting',
    () => fx.listener.accept({ timeout: -1 }),
    rejects(TimeoutError),
  ],
  ['Client', 'address 42', () => Client(bad(42)), rejects(T)],
  ['Client', 'maxMessageBytes 2**31', () => Client('/tmp/x.sock', { maxMessageBytes: 2 ** 31 }), rejects(R)],
  ['Client', 'address ""', () => Client(''), rejects(R)],
  ['Client', 'port 70000', () => Client({ port: 70_000 }), rejects(R)],
  ['Client', 'authkey 7', () => Client(fx.listener.address, bad({ authkey: 7 })), rejects(T)],
  ['Client', 'authkey ""', () => Client(fx.listener.address, { authkey: '' }), rejects(R)],
  ['Client', 'options 5', () => Client(fx.listener.address, bad(5)), rejects(T)],
  ['Client', 'timeout NaN', () => Client(fx.listener.address, { timeout: NaN_ }), rejects(T)],
  ['Client', "signal 'x'", () => Client(fx.listener.address, bad({ signal: 'x' })), rejects(T)],
  [
    'Client',
    'nobody listening on the path',
    () => Client(`/tmp/multiproc-${tag}-none.sock`),
    rejects({ code: 'ENOENT' }),
  ],
  [
    'Client',
    'an aborted signal',
    () => Client(fx.listener.address, { signal: AbortSignal.abort() }),
    rejects(AbortError),
  ],
  ['wait', 'wait(5)', () => wait(bad(5)), rejects(T)],
  ['wait', 'wait([5])', () => wait(bad([5])), rejects(T)],
  ['wait', 'wait([{}])', () => wait(bad([{}])), rejects(T)],
  ['wait', 'wait(null)', () => wait(bad(null)), rejects(T)],
  ...timeoutRows('wait', 'wait', (o) => wait([fx.pipe[1]], o), 'async'),
  [
    'wait',
    'wait([end], { timeout: -1 }) with nothing ready',
    () => wait([fx.pipe[1]], { timeout: -1 }),
    resolvesTo([]),
  ],

  // ---- pools ----
  ['Pool', 'options 5', () => new Pool(bad(5)), throws(T)],
  ['Pool', 'processes 0', () => new Pool({ processes: 0 }), throws(R)],
  ['Pool', 'processes -1', () => new Pool({ processes: -1 }), throws(R)],
  ['Pool', 'processes 1.5', () => new Pool({ processes: 1.5 }), throws(R)],
  ['Pool', 'processes NaN', () => new Pool({ processes: NaN_ }), throws(R)],
  ['Pool', "processes '2'", () => new Pool(bad({ processes: '2' })), throws(T)],
  ['Pool', 'maxTasksPerChild 0', () => new Pool({ processes: 1, maxTasksPerChild: 0 }), throws(R)],
  ['Pool', 'maxTasksPerChild Infinity', () => new Pool({ processes: 1, maxTasksPerChild: Infinity }), throws(R)],
  ['Pool', 'initializer 5', () => new Pool(bad({ processes: 1, initializer: 5 })), throws(T)],
  ['Pool', 'initargs 5', () => new Pool(bad({ processes: 1, initargs: 5 })), throws(T)],
  ['Pool', 'apply(5)', () => fx.pool.apply(bad(5)), rejects(T)],
  ['Pool', 'apply(fn, 5)', () => fx.pool.apply(() => 1, bad(5)), rejects(T)],
  ['Pool', 'apply(fn, [], { kwargs: [] })', () => fx.pool.apply(() => 1, [], bad({ kwargs: [] })), rejects(T)],
  ['Pool', "apply(fn, [], { signal: 'x' })", () => fx.pool.apply(() => 1, [], bad({ signal: 'x' })), rejects(T)],
  [
    'Pool',
    "apply(fn, [], { killOnAbort: 'yes' })",
    () => fx.pool.apply(() => 1, [], bad({ killOnAbort: 'yes' })),
    rejects(T),
  ],
  ['Pool', 'apply(fn, [a function])', () => fx.pool.apply((x: unknown) => x, [() => 1]), rejects(SerializationError)],
  ['Pool', 'applyAsync(5)', () => fx.pool.applyAsync(bad(5)), throws(T)],
  ['Pool', 'applyAsync(fn, 5)', () => fx.pool.applyAsync(() => 1, bad(5)), throws(T)],
  [
    'Pool',
    'applyAsync(fn, [], { callback: 5 })',
    () => fx.pool.applyAsync(() => 1, [], bad({ callback: 5 })),
    throws(T),
  ],
  ['Pool', 'map(fn, 5)', () => fx.pool.map((x: number) => x, bad(5)), rejects(T)],
  ['Pool', 'map(fn, [1], { chunksize: 0 })', () => fx.pool.map((x: number) => x, [1], { chunksize: 0 }), rejects(R)],
  [
    'Pool',
    'map(fn, [1], { chunksize: NaN })',
    () => fx.pool.map((x: number) => x, [1], { chunksize: NaN_ }),
    rejects(R),
  ],
  [
    'Pool',
    "map(fn, [1], { chunksize: '1' })",
    () => fx.pool.map((x: number) => x, [1], bad({ chunksize: '1' })),
    rejects(T),
  ],
  ['Pool', 'map(5, [1])', () => fx.pool.map(bad(5), [1]), rejects(T)],
  ['Pool', 'mapAsync(fn, 5)', () => fx.pool.mapAsync((x: number) => x, bad(5)), throws(T)],
  [
    'Pool',
    'mapAsync(fn, [1], { chunksize: -1 })',
    () => fx.pool.mapAsync((x: number) => x, [1], { chunksize: -1 }),
    throws(R),
  ],
  ['Pool', 'starmap(fn, [1])', () => fx.pool.starmap((x: number) => x, bad([1])), rejects(T)],
  ['Pool', 'starmap(fn, 5)', () => fx.pool.starmap((x: number) => x, bad(5)), rejects(T)],
  ['Pool', 'starmapAsync(fn, 5)', () => fx.pool.starmapAsync((x: number) => x, bad(5)), throws(T)],
  [
    'Pool',
    'starmapAsync(fn, [5]): the item is refused when read',
    () => fx.pool.starmapAsync((x: number) => x, bad([5])).get(),
    rejects(T),
  ],
  ['Pool', 'imap(fn, 5)', () => fx.pool.imap((x: number) => x, bad(5)), throws(T)],
  ['Pool', 'imap(fn, [1], { chunksize: 0 })', () => fx.pool.imap((x: number) => x, [1], { chunksize: 0 }), throws(R)],
  [
    'Pool',
    'imap(fn, [1], { buffersize: -1 })',
    () => fx.pool.imap((x: number) => x, [1], { buffersize: -1 }),
    throws(R),
  ],
  ['Pool', 'imapUnordered(fn, null)', () => fx.pool.imapUnordered((x: number) => x, bad(null)), throws(T)],
  ['Pool', 'imapUnordered(5, [1])', () => fx.pool.imapUnordered(bad(5), [1]), throws(T)],
  ['Pool', 'join() of a pool still open', () => fx.pool.join(), rejects(ProcessError)],
  ['AsyncResult', 'constructed by hand', () => new AsyncResult(Symbol('x')), throws(T)],
  ...timeoutRows('AsyncResult', 'get', (o) => fx.result.get(o), 'async'),
  ...timeoutRows('AsyncResult', 'wait', (o) => fx.result.wait(o), 'async'),

  // ---- managers ----
  ['Manager', 'Manager(5)', () => Manager(bad(5)), rejects(T)],
  ['Manager', 'address 5', () => Manager(bad({ address: 5 })), rejects(T)],
  ['Manager', "address ''", () => Manager({ address: '' }), rejects(R)],
  ['Manager', 'port 70000', () => Manager({ address: { port: 70_000 } }), rejects(R)],
  ['Manager', "authkey ''", () => Manager({ authkey: '' }), rejects(R)],
  ['Manager', 'authkey 5', () => Manager(bad({ authkey: 5 })), rejects(T)],
  ['Manager', 'maxMessageBytes 10', () => Manager({ maxMessageBytes: 10 }), rejects(R)],
  ['Manager', 'maxMessageBytes NaN', () => Manager({ maxMessageBytes: NaN_ }), rejects(R)],
  ['Manager', "maxMessageBytes '1'", () => Manager(bad({ maxMessageBytes: '1' })), rejects(T)],
  ['BaseManager', 'options 5', () => new BaseManager(bad(5)), throws(T)],
  ['BaseManager', "address ''", () => new BaseManager({ address: '' }), throws(R)],
  ['BaseManager', 'address 5', () => new BaseManager(bad({ address: 5 })), throws(T)],
  ['BaseManager', 'host 5', () => new BaseManager(bad({ address: { host: 5, port: 1 } })), throws(T)],
  ['BaseManager', 'port -1', () => new BaseManager({ address: { port: -1 } }), throws(R)],
  ['BaseManager', "authkey ''", () => new BaseManager({ authkey: '' }), throws(R)],
  ['BaseManager', 'maxMessageBytes 2 ** 40', () => new BaseManager({ maxMessageBytes: 2 ** 40 }), throws(R)],
  ['BaseManager', 'register(5)', () => BaseManager.register(bad(5)), throws(T)],
  ['BaseManager', "register('not an id!')", () => BaseManager.register('not an id!'), throws(R)],
  [
    'BaseManager',
    "register('start') clashes with a method",
    () => BaseManager.register('start', () => ({})),
    throws(R),
  ],
  [
    'BaseManager',
    'register(id, target, { exposed: 5 })',
    () => BaseManager.register(`T${tag}a`, () => ({}), bad({ exposed: 5 })),
    throws(T),
  ],
  [
    'BaseManager',
    "register(id, target, { exposed: ['constructor'] })",
    () => BaseManager.register(`T${tag}b`, () => ({}), { exposed: ['constructor'] }),
    throws(R),
  ],
  [
    'BaseManager',
    "register(id, target, { exposed: ['then'] })",
    () => BaseManager.register(`T${tag}c`, () => ({}), { exposed: ['then'] }),
    throws(R),
  ],
  [
    'BaseManager',
    'register(id, target, { methodToTypeid: 5 })',
    () => BaseManager.register(`T${tag}d`, () => ({}), bad({ methodToTypeid: 5 })),
    throws(T),
  ],
  [
    'BaseManager',
    "register(id, target, { createMethod: 'yes' })",
    () => BaseManager.register(`T${tag}e`, () => ({}), bad({ createMethod: 'yes' })),
    throws(T),
  ],
  ['BaseManager', 'register(id, 5)', () => BaseManager.register(`T${tag}f`, bad(5)), throws(T)],
  ['BaseManager', 'connect() without an address', () => new BaseManager().connect(), rejects(T)],
  [
    'BaseManager',
    'connect() on TCP without an authkey',
    () => new BaseManager({ address: { port: 1 } }).connect(),
    rejects(T),
  ],
  ['BaseManager', 'create() before start()', () => new BaseManager().create('x'), rejects(ProcessError)],
  [
    'BaseManager',
    'shutdown() of a manager never started does nothing',
    () => new BaseManager().shutdown(),
    resolvesTo(undefined),
  ],
  ['BaseManager', 'join({ timeout: NaN })', () => fx.manager.join({ timeout: NaN_ }), rejects(T)],
  ['BaseManager', 'create(5)', () => fx.manager.create(bad(5)), rejects(T)],
  ['BaseManager', "create('NoSuchType')", () => fx.manager.create('NoSuchType'), rejects(T)],
  ['SyncManager', 'address 5', () => new SyncManager(bad({ address: 5 })), throws(T)],
  ['SyncManager', 'dict(5)', () => fx.manager.dict(bad(5)), rejects(T)],
  ['SyncManager', 'list(5)', () => fx.manager.list(bad(5)), rejects(T)],
  ['SyncManager', 'Namespace(5)', () => fx.manager.Namespace(bad(5)), rejects(T)],
  ['SyncManager', 'Queue(-1)', () => fx.manager.Queue(-1), rejects(R)],
  ['SyncManager', "Queue('1')", () => fx.manager.Queue(bad('1')), rejects(T)],
  ['SyncManager', 'JoinableQueue(1.5)', () => fx.manager.JoinableQueue(1.5), rejects(R)],
  ['SyncManager', 'Semaphore(-1)', () => fx.manager.Semaphore(-1), rejects(R)],
  ['SyncManager', 'BoundedSemaphore(NaN)', () => fx.manager.BoundedSemaphore(NaN_), rejects(R)],
  ['SyncManager', 'Condition(5)', () => fx.manager.Condition(bad(5)), rejects(T)],
  ['SyncManager', 'Barrier(0)', () => fx.manager.Barrier(0), rejects(R)],
  ['SyncManager', "Barrier('2')", () => fx.manager.Barrier(bad('2')), rejects(T)],
  ['SyncManager', 'Barrier(2, { timeout: NaN })', () => fx.manager.Barrier(2, { timeout: NaN_ }), rejects(T)],
  ['SyncManager', "Value('zz')", () => fx.manager.Value('zz'), rejects(T)],
  ['SyncManager', "Value('i', 1.5)", () => fx.manager.Value('i', bad(1.5)), rejects(T)],
  ['SyncManager', "Array('i', -1)", () => fx.manager.Array('i', -1), rejects(R)],
  ['SyncManager', "Array('i', {})", () => fx.manager.Array('i', bad({})), rejects(T)],
  ['BaseProxy', 'fromHandle(null)', () => BaseProxy.fromHandle(bad(null)), throws(T)],
  [
    'BaseProxy',
    'fromHandle(a bad address)',
    () => BaseProxy.fromHandle({ kind: BaseProxy.handleKind, version: 1, address: 5 }),
    throws(T),
  ],
  ['BaseProxy', 'fromHandle(a Lock handle)', () => BaseProxy.fromHandle(fx.lock.toHandle()), throws(T)],
  ['BaseProxy', 'callMethod(5)', () => fx.proxies.dict.callMethod(bad(5)), rejects(T)],
  ['BaseProxy', 'callMethod(name, 5)', () => fx.proxies.dict.callMethod('get', bad(5)), rejects(T)],
  ['BaseProxy', "callMethod('constructor')", () => fx.proxies.dict.callMethod('constructor'), rejects(T)],
  ['BaseProxy', "callMethod('__proto__')", () => fx.proxies.dict.callMethod('__proto__'), rejects(T)],
  [
    'DictProxy',
    'getSync() (proxies are async only)',
    () => (fx.proxies.dict as unknown as { getSync(k: string): unknown }).getSync('a'),
    throws(T),
  ],
  ['DictProxy', 'update(5)', () => fx.proxies.dict.update(bad(5)), rejects(T)],
  [
    'DictProxy',
    'set(key, a function)',
    () =>
      fx.proxies.dict.set(
        'k',
        bad(() => 1),
      ),
    rejects(SerializationError),
  ],
  ['ListProxy', "get('x')", () => fx.proxies.list.get(bad('x')), rejects(T)],
  ['ListProxy', 'get(99)', () => fx.proxies.list.get(99), rejects(R)],
  ['ListProxy', 'get(1.5)', () => fx.proxies.list.get(1.5), rejects(R)],
  ['ListProxy', 'set(NaN, 1)', () => fx.proxies.list.set(NaN_, 1), rejects(R)],
  ['ListProxy', 'extend(5)', () => fx.proxies.list.extend(bad(5)), rejects(T)],
  ['ListProxy', 'insert(1.5, x)', () => fx.proxies.list.insert(1.5, 1), rejects(R)],
  ['ListProxy', 'remove(absent)', () => fx.proxies.list.remove(999), rejects(R)],
  [
    'ListProxy',
    'appendSync() (proxies are async only)',
    () => (fx.proxies.list as unknown as { appendSync(x: number): unknown }).appendSync(1),
    throws(T),
  ],
  ['NamespaceProxy', 'get(5)', () => fx.proxies.ns.get(bad(5)), rejects(T)],
  [
    'NamespaceProxy',
    "get('__proto__') finds no prototype",
    () => fx.proxies.ns.get('__proto__'),
    resolvesTo(undefined),
  ],
  [
    'NamespaceProxy',
    "get('constructor') finds no prototype",
    () => fx.proxies.ns.get('constructor'),
    resolvesTo(undefined),
  ],
  ['QueueProxy', 'get({ timeout: NaN })', () => fx.proxies.queue.get({ timeout: NaN_ }), rejects(T)],
  ['QueueProxy', "put(1, { timeout: 'x' })", () => fx.proxies.queue.put(1, bad({ timeout: 'x' })), rejects(T)],
  ['QueueProxy', "get({ signal: 'x' })", () => fx.proxies.queue.get(bad({ signal: 'x' })), rejects(T)],
  [
    'QueueProxy',
    'get({ timeout: -1 }) of an empty queue does not wait',
    () => fx.proxies.queue.get({ timeout: -1 }),
    rejects(Empty),
  ],
  ['QueueProxy', 'getNowait() of an empty queue', () => fx.proxies.queue.getNowait(), rejects(Empty)],
  ['QueueProxy', 'put(a function)', () => fx.proxies.queue.put(bad(() => 1)), rejects(SerializationError)],
  ['JoinableQueueProxy', 'taskDone() too often', () => fx.proxies.joinable.taskDone(), rejects(R)],
  ['JoinableQueueProxy', 'join({ timeout: NaN })', () => fx.proxies.joinable.join({ timeout: NaN_ }), rejects(T)],
  ['LockProxy', 'acquire({ timeout: NaN })', () => fx.proxies.lock.acquire({ timeout: NaN_ }), rejects(T)],
  ['LockProxy', 'acquire(5)', () => fx.proxies.lock.acquire(bad(5)), rejects(T)],
  ['LockProxy', 'withLock(5)', () => fx.proxies.lock.withLock(bad(5)), rejects(T)],
  ['LockProxy', 'release() of a lock not held', () => fx.proxies.lock.release(), rejects(ProcessError)],
  [
    'LockProxy',
    'acquireSync() (proxies are async only)',
    () => (fx.proxies.lock as unknown as { acquireSync(): unknown }).acquireSync(),
    throws(T),
  ],
  [
    'RLockProxy',
    'RLock proxies share LockProxy checks: acquire({ timeout: NaN })',
    async () => (await fx.manager.RLock()).acquire({ timeout: NaN_ }),
    rejects(T),
  ],
  [
    'SemaphoreProxy',
    'acquire({ timeout: -1 }) at zero does not wait',
    () => fx.proxies.semaphore.acquire({ timeout: -1 }),
    resolvesTo(false),
  ],
  ['SemaphoreProxy', 'release(-1)', () => fx.proxies.semaphore.release(-1), rejects(R)],
  ['SemaphoreProxy', "release('1')", () => fx.proxies.semaphore.release(bad('1')), rejects(T)],
  [
    'BoundedSemaphoreProxy',
    'release() above the initial value',
    async () => (await fx.manager.BoundedSemaphore(1)).release(),
    rejects(R),
  ],
  [
    'ConditionProxy',
    'wait() without the lock',
    () => fx.proxies.condition.wait({ timeout: 10 }),
    rejects(ProcessError),
  ],
  ['ConditionProxy', 'wait({ timeout: NaN })', () => fx.proxies.condition.wait({ timeout: NaN_ }), rejects(T)],
  ['ConditionProxy', 'waitFor(5)', () => fx.proxies.condition.waitFor(bad(5)), rejects(T)],
  ['ConditionProxy', 'notify(-1)', () => fx.proxies.condition.notify(-1), rejects(R)],
  ['EventProxy', "wait({ timeout: 'x' })", () => fx.proxies.event.wait(bad({ timeout: 'x' })), rejects(T)],
  [
    'EventProxy',
    'wait({ timeout: -1 }) does not wait',
    () => fx.proxies.event.wait({ timeout: -1 }),
    resolvesTo(false),
  ],
  ['BarrierProxy', 'wait({ timeout: NaN })', () => fx.proxies.barrier.wait({ timeout: NaN_ }), rejects(T)],
  ['ValueProxy', "set('x') on an 'i' value", () => fx.proxies.value.set(bad('x')), rejects(T)],
  ['ArrayProxy', 'get(99)', () => fx.proxies.array.get(99), rejects(R)],
  ['ArrayProxy', "set(0, 'x') on an 'i' array", () => fx.proxies.array.set(0, bad('x')), rejects(T)],
];

// ---- row factories shared by several exports ----

function namedRows(exported: Export, make: (options: never) => unknown, open: (name: never) => unknown): Row[] {
  return [
    [exported, 'options 5', () => make(bad(5)), throws(T)],
    [exported, 'options null', () => make(bad(null)), throws(T)],
    [exported, 'name 5', () => make(bad({ name: 5 })), throws(T)],
    [exported, "name ''", () => make(bad({ name: '' })), throws(R)],
    [exported, "name 'a/b'", () => make(bad({ name: 'a/b' })), throws(R)],
    [exported, 'name with NUL', () => make(bad({ name: 'a\0b' })), throws(R)],
    [exported, 'name of 201 characters', () => make(bad({ name: 'x'.repeat(201) })), throws(R)],
    [exported, 'create without a name', () => make(bad({ create: true })), throws(T)],
    [exported, "create 'yes'", () => make(bad({ name: `${tag}c`, create: 'yes' })), throws(T)],
    [exported, 'mode 0o7777', () => make(bad({ name: `${tag}c`, mode: 0o7777 })), throws(R)],
    [exported, "mode '600'", () => make(bad({ name: `${tag}c`, mode: '600' })), throws(T)],
    [exported, 'open(5)', () => open(bad(5)), throws(T)],
    [exported, "open('')", () => open(bad('')), throws(R)],
    [exported, 'open(a missing name)', () => open(bad(`${tag}-none`)), throws({ code: 'ENOENT' })],
  ];
}

function lockRows(exported: Export, lock: () => Lock | RLock | Semaphore | Condition): Row[] {
  return [
    ...timeoutRows(exported, 'acquire', (o) => lock().acquire(o), 'async'),
    ...timeoutRows(exported, 'acquireSync', (o) => lock().acquireSync(o), 'sync'),
    [exported, 'withLock(5)', () => lock().withLock(bad(5)), rejects(T)],
    [exported, 'withLock(fn, { timeout: NaN })', () => lock().withLock(() => 1, { timeout: NaN_ }), rejects(T)],
    [exported, 'withLockSync(5)', () => lock().withLockSync(bad(5)), throws(T)],
    [
      exported,
      'tryAcquire(5) ignores the argument',
      () => releaseIfTaken(lock(), lock().tryAcquire(...bad<[]>([5]))),
      returns((v) => v === true, 'true'),
    ],
  ];
}

function valueRows(exported: Export, make: (...args: unknown[]) => unknown, open: (name: never) => unknown): Row[] {
  return [
    [exported, 'no typecode', () => make(), throws(T)],
    [exported, "typecode 'zz'", () => make('zz'), throws(T)],
    [exported, 'typecode 5', () => make(5), throws(T)],
    [exported, "typecode ''", () => make(''), throws(T)],
    [exported, "'i' with 1.5", () => make('i', 1.5), throws(T)],
    [exported, "'i' with NaN", () => make('i', NaN_), throws(T)],
    [exported, "'i' with Infinity", () => make('i', Infinity), throws(T)],
    [exported, "'i' with 2 ** 40", () => make('i', 2 ** 40), throws(R)],
    [exported, "'i' with '1'", () => make('i', '1'), throws(T)],
    [exported, "'B' with -1", () => make('B', -1), throws(R)],
    [exported, "'q' with 1 (not a BigInt)", () => make('q', 1), throws(T)],
    [exported, "'q' with 2n ** 63n", () => make('q', 2n ** 63n), throws(R)],
    [exported, "'Q' with -1n", () => make('Q', -1n), throws(R)],
    [exported, "'?' with 1", () => make('?', 1), throws(T)],
    [exported, "'d' with '1.5'", () => make('d', '1.5'), throws(T)],
    [exported, 'options 5', () => make('i', 0, 5), throws(T)],
    [exported, 'name with a slash', () => make('i', 0, { name: 'a/b' }), throws(R)],
    [exported, 'open(5)', () => open(bad(5)), throws(T)],
    [exported, 'open(a missing name)', () => open(bad(`${tag}-none`)), throws({ code: 'ENOENT' })],
  ];
}

function arrayRows(exported: Export, make: (...args: unknown[]) => unknown, open: (name: never) => unknown): Row[] {
  return [
    [exported, 'no size', () => make('i'), throws(T)],
    [exported, "typecode 'zz'", () => make('zz', 1), throws(T)],
    [exported, 'size -1', () => make('i', -1), throws(R)],
    [exported, 'size 1.5', () => make('i', 1.5), throws(R)],
    [exported, 'size NaN', () => make('i', NaN_), throws(R)],
    [exported, 'size Infinity', () => make('i', Infinity), throws(R)],
    [exported, 'size 2 ** 40', () => make('i', 2 ** 40), throws(R)],
    [exported, 'init {}', () => make('i', {}), throws(T)],
    [exported, "init 'abc'", () => make('i', 'abc'), throws(T)],
    [exported, 'init [1, 1.5]', () => make('i', [1, 1.5]), throws(T)],
    [exported, "init [1, 'x']", () => make('d', [1, 'x']), throws(T)],
    [exported, 'init [2 ** 40]', () => make('i', [2 ** 40]), throws(R)],
    [exported, 'options 5', () => make('i', 2, 5), throws(T)],
    [exported, 'open(5)', () => open(bad(5)), throws(T)],
    [exported, 'open(a missing name)', () => open(bad(`${tag}-none`)), throws({ code: 'ENOENT' })],
  ];
}

function queueOptionRows(exported: Export, make: (options: never) => unknown): Row[] {
  return [
    [exported, 'options 5', () => make(bad(5)), throws(T)],
    [exported, 'options null', () => make(bad(null)), throws(T)],
    [exported, 'capacityBytes 100', () => make(bad({ capacityBytes: 100 })), throws(R)],
    [exported, 'capacityBytes 2 ** 40', () => make(bad({ capacityBytes: 2 ** 40 })), throws(R)],
    [exported, 'capacityBytes NaN', () => make(bad({ capacityBytes: NaN_ })), throws(R)],
    [exported, "capacityBytes '4096'", () => make(bad({ capacityBytes: '4096' })), throws(T)],
    [exported, 'maxOverflowBytes -1', () => make(bad({ maxOverflowBytes: -1 })), throws(R)],
    [exported, 'name 5', () => make(bad({ name: 5 })), throws(T)],
    [exported, "name ''", () => make(bad({ name: '' })), throws(R)],
    [exported, "name 'a/b'", () => make(bad({ name: 'a/b' })), throws(R)],
    [exported, 'create without a name', () => make(bad({ create: true })), throws(T)],
    [exported, "create 'yes'", () => make(bad({ name: `${tag}c`, create: 'yes' })), throws(T)],
    [exported, 'mode 0o1000', () => make(bad({ name: `${tag}c`, mode: 0o1000 })), throws(R)],
  ];
}

// ---- helpers used by rows ----

/** A message of `depth` arrays, each holding the next (format: serialize-format.ts). */
function nested(depth: number): Buffer {
  const parts = [Buffer.from([1])];
  for (let i = 0; i < depth; i++) parts.push(Buffer.from([13 /* T_ARRAY */, 1, 0, 0, 0]));
  parts.push(Buffer.from([1 /* T_NULL */]));
  return Buffer.concat(parts);
}

/** A serialized message holding one live handle with the given descriptor (format: serialize-format.ts). */
function handleMessage(descriptor: Record<string, unknown>): Buffer {
  const inner = serialize(descriptor);
  return Buffer.concat([inner.subarray(0, 1), Buffer.from([25 /* T_HANDLE */]), inner.subarray(1)]);
}

let smmStarted = false;
const startedSmm = (): SharedMemoryManager => {
  if (!smmStarted) {
    smmStarted = true;
    const smm = new SharedMemoryManager().start();
    closers.push(() => smm.shutdown());
    startedSmmInstance = smm;
  }
  return startedSmmInstance!;
};
let startedSmmInstance: SharedMemoryManager | undefined;

/** Closes `object` and returns it: for rows about what a closed handle does. */
function closedNow<X extends { close(): void }>(object: X): X {
  object.close();
  return object;
}

function trackLocal<X extends { close(): void }>(object: X): X {
  closers.push(() => object.close());
  return object;
}

function releaseIfTaken(lock: { release(): void }, taken: boolean): boolean {
  if (taken) lock.release();
  return taken;
}

function withHeld<X>(condition: Condition, fn: () => X): X {
  condition.acquireSync();
  try {
    return fn();
  } finally {
    condition.release();
  }
}

async function heldAsync<X>(condition: Condition, fn: () => Promise<X>): Promise<X> {
  await condition.acquire();
  try {
    return await fn();
  } finally {
    condition.release();
  }
}

// Exports that are not constructors or functions taking input, each with the reason.
const EXEMPT: Partial<Record<Export, string>> = {
  MultiprocError: 'an error class: any message is accepted',
  ProcessError: 'an error class',
  TimeoutError: 'an error class',
  Empty: 'an error class',
  Full: 'an error class',
  Closed: 'an error class',
  EOFError: 'an error class',
  BufferTooShort: 'an error class',
  BrokenBarrierError: 'an error class',
  AuthenticationError: 'an error class',
  RemoteError: 'an error class',
  WorkerDiedError: 'an error class',
  SerializationError: 'an error class',
  TargetError: 'an error class',
  ShutDown: 'an error class',
  AbortError: 'an error class',
  CorruptionError: 'an error class',
  TYPECODE_NAMES: 'a constant table, not a function',
};

describe('bad input to every export', () => {
  it.each(rows.map((row) => [`${row[0]}: ${row[1]}`, row] as const))('%s', async (_name, row) => {
    const [, , call, outcome] = row;
    expect(await runRow(call, outcome)).toBe('ok');
  });

  it('every export of the package has rows (or a stated reason not to)', () => {
    const covered = new Set(rows.map((row) => row[0]));
    const missing = Object.keys(mp).filter((name) => !covered.has(name as Export) && !(name in EXEMPT));
    expect(missing).toEqual([]);
    // And the table names only real exports.
    expect([...covered].filter((name) => !(name in mp))).toEqual([]);
    expect(Object.keys(EXEMPT).filter((name) => !(name in mp))).toEqual([]);
  });

  it('a raw peer that sends garbage never crashes the Listener side', async () => {
    // The listener has no key: its peer's frames are decoded straight away. Garbage is a
    // SerializationError on recv, a frame announcing -5 bytes is an EMSGSIZE error; never a crash.
    const accepted = fx.listener.accept({ timeout: 5_000 });
    const raw = connect(fx.listener.address as string);
    raw.on('error', () => {});
    const garbage = Buffer.from([0, 0, 0, 3, 1, 77, 0]);
    raw.write(Buffer.concat([garbage, Buffer.from([0xff, 0xff, 0xff, 0xfb])]));
    const connection = await accepted;
    try {
      await expect(connection.recv({ timeout: 5_000 })).rejects.toBeInstanceOf(SerializationError);
      await expect(connection.recv({ timeout: 5_000 })).rejects.toMatchObject({ code: 'EMSGSIZE' });
    } finally {
      connection.close();
      raw.destroy();
    }
  });
});
