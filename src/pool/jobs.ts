// Jobs of the eager kind: one applyAsync call (one task), one mapAsync/starmapAsync call (its
// chunks). Each job owns its AsyncResult and its AbortSignal listener, and turns its tasks'
// outcomes into one outcome. Lazy jobs (imap) live in imap.ts.
import { AbortError, SerializationError } from '../errors.js';
import { handlesWritten, serialize } from '../serialize.js';
import {
  newAsyncResult,
  settleResult,
  type AsyncResult,
  type ErrorCallback,
  type ResultCallback,
} from './async-result.js';
import { allNumbers, Mode } from './protocol.js';
import type { PoolCore } from './scheduler.js';
import { Task, type Encoded, type Job } from './tasks.js';

/** How a job reacts to its AbortSignal. */
export interface AbortOptions {
  signal?: AbortSignal | undefined;
  /** Kill the worker running the task when the signal aborts (it is replaced). */
  killOnAbort?: boolean | undefined;
}

/** Mode for chunks of `size` items of a map (MAP) or starmap (STARMAP). */
export function chunkMode(starmap: boolean, size: number): Mode {
  if (size === 1) return starmap ? Mode.Apply : Mode.Call1;
  return starmap ? Mode.Starmap : Mode.Map;
}

/** True when a task of `mode` returns one value rather than an array of them. */
export const singleValue = (mode: Mode): boolean => mode === Mode.Apply || mode === Mode.Call1;

/** Serializes a task's payload (`path` roots a SerializationError's path). */
export function encode(value: unknown, path: string): Encoded {
  const before = handlesWritten();
  const bytes = serialize(value, path);
  return { bytes, numbers: null, handles: handlesWritten() !== before };
}

/**
 * A task's payload: numbers travel as float64s (`items` is the caller's own copy), anything else
 * through the serializer. A SerializationError names the item's place in the whole input
 * (`items[1234].cb`), not in the chunk.
 */
export function encodeChunk(items: unknown[], mode: Mode, offset: number): Encoded {
  const first = items[0];
  if (mode === Mode.Call1) {
    if (typeof first === 'number') return { bytes: null, numbers: first, handles: false };
  } else if (mode === Mode.Apply) {
    if (Array.isArray(first) && first.length <= 16 && allNumbers(first)) {
      return { bytes: null, numbers: first.slice(), handles: false };
    }
  } else if (mode === Mode.Map && allNumbers(items)) {
    return { bytes: null, numbers: items as number[], handles: false };
  }
  return serializeChunk(items, mode, offset);
}

function serializeChunk(items: readonly unknown[], mode: Mode, offset: number): Encoded {
  try {
    return singleValue(mode) ? encode(items[0], 'items[0]') : encode(items, 'items');
  } catch (error) {
    if (!(error instanceof SerializationError)) throw error;
    const path = error.path.replace(/^items\[(\d+)\]/, (_, i: string) => `items[${offset + Number(i)}]`);
    const message = error.message.replace(error.path, path);
    throw new SerializationError(message, path, { cause: error.cause });
  }
}

abstract class SignalledJob<T> implements Job {
  readonly result: AsyncResult<T>;
  protected readonly core: PoolCore;
  readonly #signal: AbortSignal | undefined;
  readonly #kill: boolean;
  #onAbort: (() => void) | undefined;

  constructor(core: PoolCore, options: AbortOptions, callback?: ResultCallback<T>, errorCallback?: ErrorCallback) {
    this.core = core;
    this.result = newAsyncResult<T>(callback, errorCallback);
    this.#signal = options.signal;
    this.#kill = options.killOnAbort === true;
  }

  /** Arms the signal; false (and the result rejected) when it has already aborted. */
  protected arm(): boolean {
    const signal = this.#signal;
    if (signal === undefined) return true;
    if (signal.aborted) {
      this.finish(false, new AbortError());
      return false;
    }
    this.#onAbort = () => this.finish(false, new AbortError(), this.#kill);
    signal.addEventListener('abort', this.#onAbort, { once: true });
    return true;
  }

  abstract taskDone(task: Task, ok: boolean, value: unknown): void;

  /** Settles the result once; gives up the tasks still running. */
  finish(ok: boolean, value: unknown, kill = false): void {
    if (this.result.ready()) return;
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
    this.cancelAll(kill);
    settleResult(this.result, ok, value);
  }

  protected abstract cancelAll(kill: boolean): void;
}

/** One applyAsync call. */
export class ApplyJob<R> extends SignalledJob<R> {
  #task: Task | undefined;

  constructor(
    core: PoolCore,
    fnId: number,
    args: readonly unknown[],
    options: AbortOptions & { callback?: ResultCallback<R>; errorCallback?: ErrorCallback },
  ) {
    super(core, options, options.callback, options.errorCallback);
    let payload: Encoded;
    if (args.length === 1 && typeof args[0] === 'number') payload = { bytes: null, numbers: args[0], handles: false };
    else if (args.length <= 16 && allNumbers(args))
      payload = { bytes: null, numbers: args.slice() as number[], handles: false };
    else {
      try {
        payload = encode(args, 'args');
      } catch (error) {
        this.finish(false, error);
        return;
      }
    }
    if (!this.arm()) return;
    this.#task = new Task(this, 0, fnId, Mode.Apply, payload);
    core.submit(this.#task);
  }

  taskDone(_task: Task, ok: boolean, value: unknown): void {
    this.finish(ok, value);
  }

  protected cancelAll(kill: boolean): void {
    if (this.#task !== undefined) this.core.cancel(this.#task, kill);
  }
}

/** One mapAsync/starmapAsync call over items already in hand. */
export class MapJob<R> extends SignalledJob<R[]> {
  #tasks: Task[] = [];
  #offsets: number[] = [];
  #out: R[] = [];
  #remaining = 0;

  constructor(
    core: PoolCore,
    options: AbortOptions & { callback?: ResultCallback<R[]>; errorCallback?: ErrorCallback },
  ) {
    super(core, options, options.callback, options.errorCallback);
  }

  /** Splits `items` into chunks and submits them (or settles at once: empty input, bad item). */
  start(fnId: number, items: readonly unknown[], chunksize: number, starmap: boolean): void {
    if (this.result.ready()) return;
    this.#out = new Array<R>(items.length);
    if (items.length === 0) return this.finish(true, this.#out);
    const mode = chunkMode(starmap, chunksize);
    const payloads: Encoded[] = [];
    try {
      for (let offset = 0; offset < items.length; offset += chunksize) {
        const chunk = items.slice(offset, offset + chunksize);
        payloads.push(encodeChunk(chunk, mode, offset));
        this.#offsets.push(offset);
      }
    } catch (error) {
      return this.finish(false, error);
    }
    if (!this.arm()) return;
    this.#remaining = payloads.length;
    for (let i = 0; i < payloads.length; i++) this.#tasks.push(new Task(this, i, fnId, mode, payloads[i]!));
    for (const task of this.#tasks) this.core.submit(task);
  }

  /** Settles the result with `error` (the input could not be read). */
  fail(error: unknown): void {
    this.finish(false, error);
  }

  taskDone(task: Task, ok: boolean, value: unknown): void {
    if (!ok) return this.finish(false, value);
    const offset = this.#offsets[task.index]!;
    if (singleValue(task.mode)) this.#out[offset] = value as R;
    else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) this.#out[offset + i] = value[i] as R;
    else return this.finish(false, new TypeError('a pool worker returned a chunk that is not an array'));
    if (--this.#remaining === 0) this.finish(true, this.#out);
  }

  protected cancelAll(kill: boolean): void {
    for (const task of this.#tasks) this.core.cancel(task, kill);
  }
}
