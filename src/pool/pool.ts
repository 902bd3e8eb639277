// Pool (Python's multiprocessing.Pool): a fixed number of worker processes running targets. This
// file is the public surface: it validates arguments (TypeError/RangeError before anything is
// touched) and builds jobs; scheduler.ts runs them, worker.ts is the other side.
import { cpuCount } from '../context.js';
import type { ModuleTarget, Target } from '../target.js';
import { checkBoolean, checkInteger, checkOptionsBag, checkSignal, describe } from '../util.js';
import type { AsyncResult, ErrorCallback, ResultCallback } from './async-result.js';
import { ImapIterator } from './imap.js';
import { ApplyJob, MapJob } from './jobs.js';
import { PoolCore } from './scheduler.js';

export { AsyncResult, type ResultCallback, type ErrorCallback } from './async-result.js';

/** Options of `new Pool()`. */
export interface PoolOptions {
  /** Worker processes. Default: `cpuCount()`. RangeError below 1. */
  processes?: number | null | undefined;
  /** A target each worker runs once, with `initargs`, before its first task. */
  initializer?: Target | undefined;
  /** Arguments of the initializer (shared objects arrive as live handles). */
  initargs?: readonly unknown[] | undefined;
  /** Replace a worker after it has run this many tasks (a chunk is one task). Default: never. */
  maxTasksPerChild?: number | null | undefined;
}

/** Options of `apply` and `applyAsync`. */
export interface ApplyOptions<R = unknown> {
  /** Called with the value when the task succeeds (applyAsync). */
  callback?: ResultCallback<R> | undefined;
  /** Called with the error when the task fails (applyAsync). */
  errorCallback?: ErrorCallback | undefined;
  /** Passed to the target as one last argument (Python's kwds). */
  kwargs?: Record<string, unknown> | undefined;
  /** Aborting rejects with AbortError; a queued task is dropped, a running one runs on unheard... */
  signal?: AbortSignal | undefined;
  /** ...unless this is true: then its worker is killed (and replaced). */
  killOnAbort?: boolean | undefined;
}

/** Options of `map` and `starmap`. */
export interface MapOptions {
  /** Items per task. Default: Python's ceil(items / (4 * processes)). */
  chunksize?: number | undefined;
  /** Aborting rejects with AbortError and drops the chunks not yet run. */
  signal?: AbortSignal | undefined;
  /** With `signal`: kill the workers running this job's chunks. */
  killOnAbort?: boolean | undefined;
}

/** Options of `mapAsync` and `starmapAsync`. */
export interface MapAsyncOptions<R = unknown> extends MapOptions {
  /** Called once with the whole list of results. */
  callback?: ResultCallback<R[]> | undefined;
  errorCallback?: ErrorCallback | undefined;
}

/** Options of `imap` and `imapUnordered`. */
export interface ImapOptions {
  /** Items per task. Default 1. */
  chunksize?: number | undefined;
  /**
   * Most chunks in flight or waiting to be read; the input is read no further ahead (Python
   * 3.15's buffersize). Default: enough for 256 items per worker, and at least 2 chunks per worker.
   */
  buffersize?: number | undefined;
  /** Aborting ends the iteration with AbortError. */
  signal?: AbortSignal | undefined;
}

type Fn = (...args: never[]) => unknown;
type Result<F> = F extends (...args: never[]) => infer R ? Awaited<R> : unknown;
type Item<F> = F extends (item: infer A) => unknown ? A : unknown;
type Input<T> = Iterable<T> | AsyncIterable<T>;

function checkIterable(iterable: unknown, what = 'iterable'): Input<unknown> {
  const it = iterable as Record<symbol, unknown> | null | undefined;
  if (
    it === null ||
    it === undefined ||
    (typeof it[Symbol.iterator] !== 'function' && typeof it[Symbol.asyncIterator] !== 'function')
  ) {
    throw new TypeError(`${what} must be an iterable or async iterable (got ${describe(iterable)})`);
  }
  return iterable as Input<unknown>;
}

function checkChunksize(value: unknown, what = 'chunksize'): number | undefined {
  return value === undefined || value === null ? undefined : checkInteger(value, what, 1);
}

function checkAbort(options: { signal?: unknown; killOnAbort?: unknown } | undefined): void {
  checkSignal(options?.signal);
  if (options?.killOnAbort !== undefined) checkBoolean(options.killOnAbort, 'killOnAbort');
}

function rejecting<T>(run: () => AsyncResult<T>): Promise<T> {
  try {
    return run().get();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A pool of worker processes (Python's `multiprocessing.Pool`). The constructor throws
 * TypeError/RangeError for bad options, ProcessError in a daemon process (workers are its
 * children), and the OS error when a worker cannot be started. Methods that return an
 * AsyncResult or an iterator throw at once (bad arguments; Closed once the pool is closed);
 * methods that return a Promise reject instead.
 */
export class Pool {
  readonly #core: PoolCore;

  constructor(options: PoolOptions = {}) {
    checkOptionsBag(options);
    const { processes, initializer, initargs = [], maxTasksPerChild } = options;
    const count = processes === undefined || processes === null ? cpuCount() : checkInteger(processes, 'processes', 1);
    if (!Array.isArray(initargs)) throw new TypeError(`initargs must be an array (got ${describe(initargs)})`);
    const maxTasks =
      maxTasksPerChild === undefined || maxTasksPerChild === null
        ? 0
        : checkInteger(maxTasksPerChild, 'maxTasksPerChild', 1);
    if (
      initializer !== undefined &&
      typeof initializer !== 'function' &&
      (typeof initializer !== 'object' || initializer === null)
    ) {
      throw new TypeError(`initializer must be a function or { module, name } (got ${describe(initializer)})`);
    }
    this.#core = new PoolCore({ processes: count, initializer, initargs: [...initargs], maxTasksPerChild: maxTasks });
  }

  /** How many worker processes the pool keeps. */
  get processes(): number {
    return this.#core.processes;
  }

  /** Runs `fn(...args)` in a worker and resolves with its value (rejects as AsyncResult#get). */
  apply<F extends Fn>(fn: F, args?: readonly unknown[], options?: ApplyOptions<Result<F>>): Promise<Result<F>>;
  apply<R = unknown>(fn: ModuleTarget, args?: readonly unknown[], options?: ApplyOptions<R>): Promise<R>;
  apply(fn: Target, args?: readonly unknown[], options?: ApplyOptions): Promise<unknown> {
    return rejecting(() => this.applyAsync(fn as ModuleTarget, args, options));
  }

  /**
   * Submits `fn(...args)` and returns its AsyncResult. Throws TypeError for a bad target or
   * options, Closed when the pool is closed. An argument that cannot travel rejects the result
   * with SerializationError.
   */
  applyAsync<F extends Fn>(fn: F, args?: readonly unknown[], options?: ApplyOptions<Result<F>>): AsyncResult<Result<F>>;
  applyAsync<R = unknown>(fn: ModuleTarget, args?: readonly unknown[], options?: ApplyOptions<R>): AsyncResult<R>;
  applyAsync(fn: Target, args: readonly unknown[] = [], options?: ApplyOptions): AsyncResult<unknown> {
    if (!Array.isArray(args)) throw new TypeError(`args must be an array (got ${describe(args)})`);
    checkOptionsBag(options);
    checkAbort(options);
    const kwargs = options?.kwargs;
    if (kwargs !== undefined && (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs))) {
      throw new TypeError(`kwargs must be a plain object (got ${describe(kwargs)})`);
    }
    const fnId = this.#core.targetId(fn);
    this.#core.checkRunning();
    return new ApplyJob(this.#core, fnId, kwargs === undefined ? args : [...args, kwargs], options ?? {}).result;
  }

  /** `fn` applied to every item, in a list in input order (Python's map). */
  map<F extends Fn>(fn: F, iterable: Input<Item<F>>, options?: MapOptions): Promise<Result<F>[]>;
  map<R = unknown>(fn: ModuleTarget, iterable: Input<unknown>, options?: MapOptions): Promise<R[]>;
  map(fn: Target, iterable: Input<unknown>, options?: MapOptions): Promise<unknown[]> {
    return rejecting(() => this.#mapAsync(fn, iterable, options, false));
  }

  /** As map, returning an AsyncResult (its callback gets the whole list). */
  mapAsync<F extends Fn>(
    fn: F,
    iterable: Input<Item<F>>,
    options?: MapAsyncOptions<Result<F>>,
  ): AsyncResult<Result<F>[]>;
  mapAsync<R = unknown>(fn: ModuleTarget, iterable: Input<unknown>, options?: MapAsyncOptions<R>): AsyncResult<R[]>;
  mapAsync(fn: Target, iterable: Input<unknown>, options?: MapAsyncOptions): AsyncResult<unknown[]> {
    return this.#mapAsync(fn, iterable, options, false);
  }

  /** Like map, with each item an array of arguments: `fn(...item)`. */
  starmap<F extends Fn>(fn: F, iterable: Input<readonly unknown[]>, options?: MapOptions): Promise<Result<F>[]>;
  starmap<R = unknown>(fn: ModuleTarget, iterable: Input<readonly unknown[]>, options?: MapOptions): Promise<R[]>;
  starmap(fn: Target, iterable: Input<readonly unknown[]>, options?: MapOptions): Promise<unknown[]> {
    return rejecting(() => this.#mapAsync(fn, iterable, options, true));
  }

  /** As starmap, returning an AsyncResult. */
  starmapAsync<F extends Fn>(
    fn: F,
    iterable: Input<readonly unknown[]>,
    options?: MapAsyncOptions<Result<F>>,
  ): AsyncResult<Result<F>[]>;
  starmapAsync<R = unknown>(
    fn: ModuleTarget,
    iterable: Input<readonly unknown[]>,
    options?: MapAsyncOptions<R>,
  ): AsyncResult<R[]>;
  starmapAsync(fn: Target, iterable: Input<readonly unknown[]>, options?: MapAsyncOptions): AsyncResult<unknown[]> {
    return this.#mapAsync(fn, iterable, options, true);
  }

  #mapAsync(
    fn: Target,
    iterable: unknown,
    options: MapAsyncOptions | undefined,
    starmap: boolean,
  ): AsyncResult<unknown[]> {
    checkOptionsBag(options);
    const chunksize = checkChunksize(options?.chunksize);
    checkAbort(options);
    const input = checkIterable(iterable);
    const fnId = this.#core.targetId(fn);
    this.#core.checkRunning();
    const job = new MapJob<unknown>(this.#core, options ?? {});
    const start = (items: unknown[]): void => {
      if (starmap) items = items.map(argumentsOf);
      job.start(fnId, items, chunksize ?? Math.ceil(items.length / (4 * this.processes)), starmap);
    };
    if (typeof (input as Iterable<unknown>)[Symbol.iterator] === 'function') {
      try {
        start(Array.isArray(input) ? input : Array.from(input as Iterable<unknown>));
      } catch (error) {
        job.fail(error);
      }
    } else {
      // An async input is read to its end first (as Python turns map's input into a list); the
      // job counts as running meanwhile, so close() + join() wait for it.
      this.#core.feed(true);
      void collect(input as AsyncIterable<unknown>)
        .then(start, (error: unknown) => job.fail(error))
        .catch((error: unknown) => job.fail(error))
        .finally(() => this.#core.feed(false));
    }
    return job.result;
  }

  /** Results of `fn` over the items, lazily, in input order (an async iterator). */
  imap<F extends Fn>(fn: F, iterable: Input<Item<F>>, options?: ImapOptions): AsyncIterableIterator<Result<F>>;
  imap<R = unknown>(fn: ModuleTarget, iterable: Input<unknown>, options?: ImapOptions): AsyncIterableIterator<R>;
  imap(fn: Target, iterable: Input<unknown>, options?: ImapOptions): AsyncIterableIterator<unknown> {
    return this.#imap(fn, iterable, options, true);
  }

  /** As imap, in the order tasks complete. */
  imapUnordered<F extends Fn>(fn: F, iterable: Input<Item<F>>, options?: ImapOptions): AsyncIterableIterator<Result<F>>;
  imapUnordered<R = unknown>(
    fn: ModuleTarget,
    iterable: Input<unknown>,
    options?: ImapOptions,
  ): AsyncIterableIterator<R>;
  imapUnordered(fn: Target, iterable: Input<unknown>, options?: ImapOptions): AsyncIterableIterator<unknown> {
    return this.#imap(fn, iterable, options, false);
  }

  #imap(fn: Target, iterable: unknown, options: ImapOptions | undefined, ordered: boolean): ImapIterator<unknown> {
    checkOptionsBag(options);
    const chunksize = checkChunksize(options?.chunksize) ?? 1;
    const buffersize =
      checkChunksize(options?.buffersize, 'buffersize') ??
      Math.max(2 * this.processes, Math.ceil((256 * this.processes) / chunksize));
    checkSignal(options?.signal);
    const input = checkIterable(iterable);
    const fnId = this.#core.targetId(fn);
    this.#core.checkRunning();
    return new ImapIterator(this.#core, input, {
      fnId,
      starmap: false,
      ordered,
      chunksize,
      buffersize,
      signal: options?.signal,
    });
  }

  /** No new tasks; the workers exit once everything submitted has run. Idempotent. */
  close(): void {
    this.#core.close();
  }

  /**
   * Kills the workers now (SIGKILL) and rejects every unfinished task with Closed. Returns at
   * once, needing no lock or queue a worker may hold; `join()` then resolves once all are reaped.
   */
  terminate(): void {
    this.#core.terminate();
  }

  /**
   * Resolves once every worker has exited (after close(): every task has run). Rejects with
   * ProcessError when neither close() nor terminate() was called (as Python).
   */
  join(): Promise<void> {
    return this.#core.join();
  }

  /** `await using pool = new Pool()`: close() then join(). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.join();
  }

  get [Symbol.toStringTag](): string {
    return 'Pool';
  }
}

function argumentsOf(item: unknown, index: number): unknown[] {
  if (Array.isArray(item)) return item;
  if (item !== null && item !== undefined && typeof (item as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return Array.from(item as Iterable<unknown>);
  }
  throw new TypeError(`starmap items must be arrays of arguments (item ${index} is ${describe(item)})`);
}

async function collect(input: AsyncIterable<unknown>): Promise<unknown[]> {
  const items: unknown[] = [];
  for await (const item of input) items.push(item);
  return items;
}
