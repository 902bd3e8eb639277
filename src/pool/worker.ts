// A pool worker's main loop, run in the child as the target of its Process (the child side of
// scheduler.ts). It maps its channel, runs the initializer, marks itself ready, then takes tasks
// in the order the pool sent them: before running one it records its seq in the `started` word,
// so that if it dies, the pool knows which task was running (that one fails) and which had not
// started (those go to another worker). Each result is published as soon as it exists, so a
// death loses only the task that was running.
//
// It waits with the async futex waiter, never a blocking wait, so timers and I/O that tasks leave
// behind keep running between tasks. Imports are kept to what a worker needs: start-up time is
// the pool's start-up time.
import { explainTargetFailure, loadTarget } from '../child.js';
import { deserialize, serializeWith } from '../serialize.js';
import type { TargetSpec } from '../target.js';
import { attachWorkerSegment } from './attach.js';
import { Deque } from './deque.js';
import { Endpoint } from './endpoint.js';
import { Word, WorkerState } from './layout.js';
import {
  allNumbers,
  HANDLES,
  Mode,
  NUMBERS,
  readNumbers,
  readTasks,
  RESULT_HEADER,
  scratchOf,
  Status,
  ToWorker,
  truncated,
  u32At,
  writeInitFailed,
  writeResultHeader,
  type Frame,
} from './protocol.js';

/** What a worker is started with (its Process argument). */
export interface WorkerDescriptor {
  segment: string;
  initializer: TargetSpec | null;
  initargs: unknown[];
}

type Callable = (...args: unknown[]) => unknown;

interface Loaded {
  spec: TargetSpec;
  fn: Callable | undefined;
  promise: Promise<Callable>;
}

interface LocalTask {
  readonly seq: number;
  readonly fnId: number;
  mode: Mode;
  /** Decoded arguments, or the bytes when the target's module (which may register classes) was not loaded yet. */
  args: unknown;
  bytes: Buffer | undefined;
  failure: { error: unknown } | undefined;
}

const EMPTY = new Uint8Array(0);
// The whole library, loaded the first time a task's arguments hold live handles.
let libraryLoading: Promise<unknown> | undefined;
let libraryLoaded = false;
const YIELD_EVERY_MS = 20;

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

// The seq after `b` (wrapping, never 0)?
const after = (a: number, b: number): boolean => ((a - b) | 0) > 0;

/** Encodes a thrown value; what cannot travel as it is travels as a plain Error with its text. */
function withError<R>(thrown: unknown, use: (bytes: Uint8Array) => R): R {
  try {
    return serializeWith(thrown, use, 'error');
  } catch {
    const e = thrown as { name?: unknown; message?: unknown; stack?: unknown } | null;
    const plain = new Error(typeof e?.message === 'string' ? e.message : safeString(thrown));
    if (typeof e?.name === 'string')
      Object.defineProperty(plain, 'name', { value: e.name, configurable: true, writable: true });
    plain.stack = typeof e?.stack === 'string' ? e.stack : `${plain.name}: ${plain.message}`;
    return serializeWith(plain, use, 'error');
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return 'a value that cannot be described';
  }
}

function checkSpec(spec: unknown): TargetSpec {
  const s = spec as Partial<Record<string, unknown>> | null;
  const ok =
    typeof s === 'object' &&
    s !== null &&
    typeof s.name === 'string' &&
    ((s.kind === 'module' && typeof s.url === 'string') ||
      (s.kind === 'function' && typeof s.source === 'string' && typeof s.base === 'string'));
  if (!ok) throw truncated();
  return s as TargetSpec;
}

/** Decodes a DEFINE message f[start..end); CorruptionError when it is not one. */
export function readDefine(f: Frame, start: number, end: number): { fnId: number; spec: TargetSpec } {
  const fnId = u32At(f, (start >>> 2) + 1, end);
  let spec: unknown;
  try {
    spec = JSON.parse(f.bytes.toString('utf8', start + 8, end));
  } catch {
    throw truncated(); // not JSON: a raw SyntaxError would not say that the channel is corrupt
  }
  return { fnId, spec: checkSpec(spec) };
}

class WorkerLoop {
  readonly #endpoint: Endpoint;
  readonly #words: Int32Array;
  readonly #targets = new Map<number, Loaded>();
  readonly #queue = new Deque<LocalTask>();
  readonly #cancelled = new Set<number>();
  #lastStarted = 0;
  #stopping = false;
  /** When the task being run started (the end of the previous one, or of the last wait). */
  #clock = 0;
  // The result being written by #writeBytes (fields, so the hot path makes no closure).
  #seq = 0;
  #busy = 0;
  readonly #onMessage = (frame: Frame, start: number, end: number): void => this.#message(frame, start, end);
  readonly #writeBytes = (bytes: Uint8Array): boolean => this.#send(this.#seq, Status.Ok, this.#busy, bytes);

  constructor(endpoint: Endpoint) {
    this.#endpoint = endpoint;
    this.#words = endpoint.words;
  }

  async run(): Promise<void> {
    let lastYield = performance.now();
    this.#clock = lastYield;
    for (;;) {
      if (this.#endpoint.hasData()) this.#endpoint.receive(this.#onMessage);
      const task = this.#queue.shift();
      if (task === undefined) {
        if (this.#stopping) return;
        const seen = this.#endpoint.prepare(true);
        if (seen >= 0) await this.#endpoint.park(seen);
        this.#endpoint.settle();
        lastYield = this.#clock = performance.now();
        continue;
      }
      let sent: boolean | Promise<void>;
      if (this.#cancelled.delete(task.seq)) sent = this.#send(task.seq, Status.Skipped, 0, EMPTY);
      else {
        this.#lastStarted = task.seq;
        Atomics.store(this.#words, Word.Started, task.seq | 0);
        sent = this.#execute(task);
      }
      // A sync target whose result fit in the ring costs no await at all.
      if (sent !== true) await (sent === false ? this.#drain() : sent);
      if (this.#clock - lastYield > YIELD_EVERY_MS) {
        // Tasks that never await would starve this process's own timers and I/O.
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = this.#clock = performance.now();
      }
    }
  }

  #message(f: Frame, start: number, end: number): void {
    switch (u32At(f, start >>> 2, end)) {
      case ToWorker.Define: {
        const { fnId, spec } = readDefine(f, start, end);
        const loaded: Loaded = { spec, fn: undefined, promise: loadTarget(spec) };
        loaded.promise.then(
          (fn) => (loaded.fn = fn),
          () => {}, // reported by each task that uses it
        );
        this.#targets.set(fnId, loaded);
        return;
      }
      case ToWorker.Tasks:
        return readTasks(f, start, end, (seq, fnId, flags, from, to) =>
          this.#queue.push(this.#task(f, seq, fnId, flags, from, to)),
        );
      case ToWorker.Cancel: {
        const seq = u32At(f, (start >>> 2) + 1, end);
        if (after(seq, this.#lastStarted)) this.#cancelled.add(seq);
        return;
      }
      case ToWorker.Stop:
        this.#stopping = true;
        return;
      default:
        throw truncated();
    }
  }

  #task(f: Frame, seq: number, fnId: number, flags: number, from: number, to: number): LocalTask {
    let mode = (flags & 0xff) as Mode;
    const task: LocalTask = { seq, fnId, mode, args: undefined, bytes: undefined, failure: undefined };
    if ((flags & NUMBERS) !== 0) {
      if (mode === Mode.Starmap) throw truncated();
      const args = readNumbers(f, from, to, mode === Mode.Call1);
      // fn(x) is a call of one argument however it was asked for.
      if (mode === Mode.Apply && (args as number[]).length === 1) {
        task.mode = mode = Mode.Call1;
        task.args = (args as number[])[0];
      } else task.args = args;
      return task;
    }
    const payload = f.bytes.subarray(from, to);
    const handles = (flags & HANDLES) !== 0;
    if (handles) libraryLoading ??= import('../index.js'); // registers every handle kind
    if (this.#targets.get(fnId)?.fn !== undefined && (!handles || libraryLoaded)) {
      try {
        task.args = deserialize(payload);
      } catch (error) {
        task.failure = { error };
      }
    } else {
      task.bytes = Buffer.from(payload); // the ring's bytes are reused once released
    }
    return task;
  }

  /** Runs a task and sends its result: true (sent), false (waits in the outbox), or a Promise. */
  #execute(task: LocalTask): boolean | Promise<void> {
    const loaded = this.#targets.get(task.fnId);
    if (loaded === undefined) return this.#fail(task.seq, 0, truncated()); // the pool defines every target first
    if (loaded.fn === undefined || task.bytes !== undefined) return this.#executeLater(task, loaded);
    if (task.failure !== undefined) return this.#fail(task.seq, 0, task.failure.error);
    return this.#call(task, loaded, loaded.fn, task.args);
  }

  // The target's module is still loading, or the arguments wait for it (it may register classes)
  // or for the library (they hold live handles).
  async #executeLater(task: LocalTask, loaded: Loaded): Promise<void> {
    let sent: boolean | Promise<void>;
    try {
      const fn = loaded.fn ?? (await loaded.promise);
      if (libraryLoading !== undefined && !libraryLoaded) {
        await libraryLoading;
        libraryLoaded = true;
      }
      if (task.failure !== undefined) throw task.failure.error;
      const args = task.bytes !== undefined ? deserialize(task.bytes) : task.args;
      this.#clock = performance.now();
      sent = this.#call(task, loaded, fn, args);
    } catch (error) {
      sent = this.#fail(task.seq, 0, error);
    }
    if (sent !== true) await (sent === false ? this.#drain() : sent);
  }

  #call(task: LocalTask, loaded: Loaded, fn: Callable, args: unknown): boolean | Promise<void> {
    let value: unknown;
    try {
      value = run(fn, task.mode, args);
    } catch (error) {
      return this.#failExplained(task.seq, loaded, this.#elapsed(), error);
    }
    if (isThenable(value)) return this.#settleLater(task, loaded, value);
    return this.#ok(task.seq, task.mode, this.#elapsed(), value);
  }

  /** Milliseconds since the task began (by the clock the previous one stopped). */
  #elapsed(): number {
    const now = performance.now();
    const busy = now - this.#clock;
    this.#clock = now;
    return busy;
  }

  async #settleLater(task: LocalTask, loaded: Loaded, pending: PromiseLike<unknown>): Promise<void> {
    let sent: boolean | Promise<void>;
    try {
      const value = await pending;
      sent = this.#ok(task.seq, task.mode, this.#elapsed(), value);
    } catch (error) {
      sent = this.#failExplained(task.seq, loaded, this.#elapsed(), error);
    }
    if (sent !== true) await (sent === false ? this.#drain() : sent);
  }

  #ok(seq: number, mode: Mode, busy: number, value: unknown): boolean {
    if (typeof value === 'number') return this.#sendNumbers(seq, busy, value, null);
    if (mode !== Mode.Apply && mode !== Mode.Call1 && allNumbers(value as unknown[])) {
      return this.#sendNumbers(seq, busy, 0, value as number[]);
    }
    this.#seq = seq;
    this.#busy = busy;
    try {
      return serializeWith(value, this.#writeBytes, 'result');
    } catch (error) {
      return this.#fail(seq, busy, error); // a result that cannot travel fails this task only
    }
  }

  async #failExplained(seq: number, loaded: Loaded, busy: number, error: unknown): Promise<void> {
    const explained = await explainTargetFailure(loaded.spec, error);
    if (!this.#fail(seq, busy, explained)) await this.#drain();
  }

  #fail(seq: number, busy: number, error: unknown): boolean {
    return withError(error, (bytes) => this.#send(seq, Status.Error, busy, bytes));
  }

  /** Writes a RESULT in place when it fits; otherwise it waits in the outbox (returns false). */
  #send(seq: number, status: Status, busy: number, payload: Uint8Array): boolean {
    const size = RESULT_HEADER + payload.length;
    const at = this.#endpoint.reserve(size);
    const frame = at >= 0 ? this.#endpoint.outFrame : scratchOf(size);
    const base = at >= 0 ? at : 0;
    writeResultHeader(frame, base, seq, status, false, busy);
    frame.bytes.set(payload, base + RESULT_HEADER);
    if (at < 0) return this.#endpoint.send(frame.bytes.subarray(0, size));
    this.#endpoint.commit();
    return true;
  }

  /** A result of plain numbers (`one`, or the array `many`) as float64s. */
  #sendNumbers(seq: number, busy: number, one: number, many: number[] | null): boolean {
    const size = RESULT_HEADER + (many === null ? 8 : many.length * 8);
    const at = this.#endpoint.reserve(size);
    const frame = at >= 0 ? this.#endpoint.outFrame : scratchOf(size);
    const base = at >= 0 ? at : 0;
    writeResultHeader(frame, base, seq, Status.Ok, true, busy);
    const d = (base + RESULT_HEADER) >>> 3;
    if (many === null) frame.f64[d] = one;
    else for (let k = 0; k < many.length; k++) frame.f64[d + k] = many[k]!;
    if (at < 0) return this.#endpoint.send(frame.bytes.subarray(0, size));
    this.#endpoint.commit();
    return true;
  }

  /** Waits until the outbox has gone into the ring (the pool drains results as they come). */
  async #drain(): Promise<void> {
    while (!this.#endpoint.flush()) {
      const seen = this.#endpoint.prepare(false);
      if (seen >= 0) await this.#endpoint.park(seen);
      this.#endpoint.settle();
    }
  }
}

/** Calls the target as the mode says; awaits only values that are promises. */
function run(fn: Callable, mode: Mode, payload: unknown): unknown {
  switch (mode) {
    case Mode.Apply:
      if (!Array.isArray(payload)) throw truncated();
      return fn(...(payload as unknown[]));
    case Mode.Call1:
      return fn(payload);
    case Mode.Map:
    case Mode.Starmap: {
      if (!Array.isArray(payload)) throw truncated();
      const items = payload as unknown[];
      const out = new Array<unknown>(items.length);
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        const value = mode === Mode.Map ? fn(item) : fn(...(item as unknown[]));
        if (isThenable(value)) return finishAsync(fn, mode, items, out, i, value);
        out[i] = value;
      }
      return out;
    }
  }
}

// The rest of a chunk once one item returned a promise.
async function finishAsync(
  fn: Callable,
  mode: Mode,
  items: unknown[],
  out: unknown[],
  from: number,
  pending: PromiseLike<unknown>,
): Promise<unknown[]> {
  out[from] = await pending;
  for (let i = from + 1; i < items.length; i++) {
    const item = items[i];
    out[i] = await (mode === Mode.Map ? fn(item) : fn(...(item as unknown[])));
  }
  return out;
}

/**
 * The worker process's target: serves tasks until the pool says stop. Throws (so that the child
 * exits with 1 and prints it) when the initializer fails, after telling the pool why.
 */
export async function poolWorker(descriptor: WorkerDescriptor): Promise<void> {
  const endpoint = new Endpoint(attachWorkerSegment(descriptor.segment), 'worker');
  const { initializer, initargs } = descriptor;
  if (initializer !== null) {
    try {
      const init = await loadTarget(initializer);
      try {
        const done = init(...initargs);
        if (isThenable(done)) await done;
      } catch (error) {
        throw await explainTargetFailure(initializer, error);
      }
    } catch (error) {
      // Best effort (it fits unless huge): the pool reads it when we have exited.
      withError(error, (bytes) =>
        endpoint.sendWith(8 + bytes.length, (frame, at) => writeInitFailed(frame, at, bytes)),
      );
      throw error;
    }
  }
  Atomics.store(endpoint.words, Word.State, WorkerState.Ready);
  await new WorkerLoop(endpoint).run();
}
