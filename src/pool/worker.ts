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
  encodeInitFailed,
  Mode,
  readTasks,
  RESULT_HEADER,
  scratchOf,
  Status,
  ToWorker,
  truncated,
  u32,
  writeResultHeader,
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
  seq: number;
  fnId: number;
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
    if (typeof e?.name === 'string') Object.defineProperty(plain, 'name', { value: e.name, configurable: true, writable: true });
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

class WorkerLoop {
  readonly #endpoint: Endpoint;
  readonly #words: Int32Array;
  readonly #targets = new Map<number, Loaded>();
  readonly #queue = new Deque<LocalTask>();
  readonly #cancelled = new Set<number>();
  #lastStarted = 0;
  #stopping = false;
  // The result being written by #writeOk (fields, so the hot path makes no closure).
  #seq = 0;
  #busy = 0;
  readonly #onMessage = (data: Buffer, start: number, end: number): void => this.#message(data, start, end);
  readonly #writeOk = (bytes: Uint8Array): boolean => this.#send(this.#seq, Status.Ok, this.#busy, bytes);

  constructor(endpoint: Endpoint) {
    this.#endpoint = endpoint;
    this.#words = endpoint.words;
  }

  async run(): Promise<void> {
    let lastYield = performance.now();
    for (;;) {
      if (this.#endpoint.hasData()) this.#endpoint.receive(this.#onMessage);
      const task = this.#queue.shift();
      if (task === undefined) {
        if (this.#stopping) return;
        const seen = this.#endpoint.prepare(true);
        if (seen >= 0) await this.#endpoint.park(seen);
        this.#endpoint.settle();
        lastYield = performance.now();
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
      const now = performance.now();
      if (now - lastYield > YIELD_EVERY_MS) {
        // Tasks that never await would starve this process's own timers and I/O.
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
  }

  #message(data: Buffer, start: number, end: number): void {
    switch (data[start]) {
      case ToWorker.Define: {
        const fnId = u32(data, start + 1, end);
        const spec = checkSpec(JSON.parse(data.toString('utf8', start + 5, end)));
        const loaded: Loaded = { spec, fn: undefined, promise: loadTarget(spec) };
        loaded.promise.then(
          (fn) => (loaded.fn = fn),
          () => {}, // reported by each task that uses it
        );
        this.#targets.set(fnId, loaded);
        return;
      }
      case ToWorker.Tasks:
        return readTasks(data, start, end, (seq, fnId, mode, handles, from, to) => {
          const task: LocalTask = { seq, fnId, mode, args: undefined, bytes: undefined, failure: undefined };
          const payload = data.subarray(from, to);
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
          this.#queue.push(task);
        });
      case ToWorker.Cancel: {
        const seq = u32(data, start + 1, end);
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

  /** Runs a task and sends its result: true (sent), false (waits in the outbox), or a Promise. */
  #execute(task: LocalTask): boolean | Promise<void> {
    const loaded = this.#targets.get(task.fnId);
    if (loaded === undefined) return this.#fail(task.seq, 0, truncated()); // the pool defines every target first
    if (loaded.fn === undefined || task.bytes !== undefined) return this.#executeLater(task, loaded);
    if (task.failure !== undefined) return this.#fail(task.seq, 0, task.failure.error);
    return this.#call(task, loaded, loaded.fn, task.args);
  }

  // The target's module is still loading, or the arguments wait for it (it may register classes).
  async #executeLater(task: LocalTask, loaded: Loaded): Promise<void> {
    let fn: Callable;
    let args = task.args;
    let sent: boolean | Promise<void>;
    try {
      fn = loaded.fn ?? (await loaded.promise);
      if (libraryLoading !== undefined && !libraryLoaded) {
        await libraryLoading;
        libraryLoaded = true;
      }
      if (task.failure !== undefined) throw task.failure.error;
      if (task.bytes !== undefined) args = deserialize(task.bytes);
      sent = this.#call(task, loaded, fn, args);
    } catch (error) {
      sent = this.#fail(task.seq, 0, error);
    }
    if (sent !== true) await (sent === false ? this.#drain() : sent);
  }

  #call(task: LocalTask, loaded: Loaded, fn: Callable, args: unknown): boolean | Promise<void> {
    const t0 = performance.now();
    let value: unknown;
    try {
      value = run(fn, task.mode, args);
    } catch (error) {
      return this.#failExplained(task.seq, loaded, performance.now() - t0, error);
    }
    if (isThenable(value)) return this.#settleLater(task.seq, loaded, t0, value);
    return this.#ok(task.seq, performance.now() - t0, value);
  }

  async #settleLater(seq: number, loaded: Loaded, t0: number, pending: PromiseLike<unknown>): Promise<void> {
    let sent: boolean | Promise<void>;
    try {
      const value = await pending;
      sent = this.#ok(seq, performance.now() - t0, value);
    } catch (error) {
      sent = this.#failExplained(seq, loaded, performance.now() - t0, error);
    }
    if (sent !== true) await (sent === false ? this.#drain() : sent);
  }

  #ok(seq: number, busy: number, value: unknown): boolean {
    this.#seq = seq;
    this.#busy = busy;
    try {
      return serializeWith(value, this.#writeOk, 'result');
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
    if (at >= 0) {
      const data = this.#endpoint.outData;
      writeResultHeader(data, at, seq, status, busy);
      data.set(payload, at + RESULT_HEADER);
      this.#endpoint.commit();
      return true;
    }
    const message = scratchOf(size);
    writeResultHeader(message, 0, seq, status, busy);
    message.set(payload, RESULT_HEADER);
    return this.#endpoint.send(message.subarray(0, size));
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
      const message = withError(error, (bytes) => encodeInitFailed(bytes));
      endpoint.send(message); // best effort (it fits unless huge): the pool reads it at our exit
      throw error;
    }
  }
  Atomics.store(endpoint.words, Word.State, WorkerState.Ready);
  await new WorkerLoop(endpoint).run();
}
