// AsyncResult (Python's multiprocessing.pool.AsyncResult): the handle applyAsync, mapAsync and
// starmapAsync return. A result holds its outcome until someone asks: no Promise exists until
// get() or wait() is called, so a failed result that nobody reads never becomes an unhandled
// rejection.
import { AbortError, ProcessError, TimeoutError } from '../errors.js';
import { checkOptionsBag, checkSignal, describe, timeoutOf, type WaitOptions } from '../util.js';

const PENDING = 0;
const FULFILLED = 1;
const REJECTED = 2;

/** Called once with the value when a task succeeds (Python's `callback`). */
export type ResultCallback<T> = (value: T) => void;
/** Called once with the error when a task fails (Python's `error_callback`). */
export type ErrorCallback = (error: unknown) => void;

type Waiter = () => void;

let settle: <T>(result: AsyncResult<T>, ok: boolean, value: unknown) => boolean;
const token = Symbol('AsyncResult');

/**
 * The outcome of a task submitted with `applyAsync`, `mapAsync` or `starmapAsync`. Not
 * constructed by users (TypeError).
 */
export class AsyncResult<T = unknown> {
  #state = PENDING;
  #value: unknown = undefined;
  #waiters: Waiter[] | undefined;
  #promise: Promise<T> | undefined;
  #resolve: ((value: T) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  #callback: ResultCallback<T> | undefined;
  #errorCallback: ErrorCallback | undefined;

  /** @internal */
  constructor(key: symbol, callback?: ResultCallback<T>, errorCallback?: ErrorCallback) {
    if (key !== token) throw new TypeError('AsyncResult is made by Pool methods, not constructed');
    this.#callback = callback;
    this.#errorCallback = errorCallback;
  }

  static {
    settle = (result, ok, value) => result.#settle(ok, value);
  }

  /** True once the task has completed (succeeded or failed). */
  ready(): boolean {
    return this.#state !== PENDING;
  }

  /** Whether the task succeeded. Throws ProcessError when it has not completed yet (as Python's ValueError). */
  successful(): boolean {
    if (this.#state === PENDING) throw new ProcessError('the result is not ready yet: successful() needs ready()');
    return this.#state === FULFILLED;
  }

  /**
   * Resolves with the task's value, or rejects with its error (a thrown error keeps its `name` and
   * `message`, the worker's stack is a RemoteError in `cause`). Rejects with TimeoutError when
   * `timeout` ms pass first (the task goes on), AbortError when `signal` aborts the wait.
   */
  get(options?: WaitOptions): Promise<T> {
    if (options !== undefined) return this.#getWithin(options);
    if (this.#state === FULFILLED) return Promise.resolve(this.#value as T);
    if (this.#state === REJECTED) return Promise.reject(this.#value);
    // One Promise per result, made on demand and shared by every get() without options.
    return (this.#promise ??= new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    }));
  }

  async #getWithin(options: WaitOptions): Promise<T> {
    checkOptionsBag(options);
    checkSignal(options.signal);
    timeoutOf(options);
    if (options.signal?.aborted) throw new AbortError();
    if (this.#state === PENDING && !(await this.#wait(options))) {
      throw new TimeoutError(`the result was not ready within ${options.timeout} ms`);
    }
    if (this.#state === REJECTED) throw this.#value;
    return this.#value as T;
  }

  /**
   * Resolves when the task has completed or `timeout` ms have passed (check `ready()`). Rejects
   * with AbortError when `signal` aborts, TypeError for bad options.
   */
  async wait(options?: WaitOptions): Promise<void> {
    // #wait checks the options first: bad ones reject even when the result is already in.
    await this.#wait(options);
  }

  /** Resolves true when settled, false when the timeout ran out. */
  #wait(options: WaitOptions | undefined): Promise<boolean> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    const timeout = timeoutOf(options);
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AbortError());
    if (this.#state !== PENDING) return Promise.resolve(true);
    if (timeout <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      let done = false;
      const finish = (settled: boolean, error?: Error): void => {
        if (done) return;
        done = true;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve(settled);
        else reject(error);
      };
      const onAbort = (): void => finish(false, new AbortError());
      const timer = timeout === Infinity ? undefined : setTimeout(() => finish(false), timeout);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#addWaiter(() => finish(true));
    });
  }

  #addWaiter(waiter: Waiter): void {
    (this.#waiters ??= []).push(waiter);
  }

  #settle(ok: boolean, value: unknown): boolean {
    if (this.#state !== PENDING) return false;
    this.#state = ok ? FULFILLED : REJECTED;
    this.#value = value;
    const callback = ok ? this.#callback : this.#errorCallback;
    this.#callback = this.#errorCallback = undefined;
    if (callback !== undefined) {
      try {
        (callback as (v: unknown) => void)(value);
      } catch (error) {
        // As a throwing event listener does: the error surfaces as an uncaught exception.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    if (this.#promise !== undefined) {
      if (ok) this.#resolve!(value as T);
      else this.#reject!(value);
      this.#resolve = this.#reject = undefined;
    }
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters !== undefined) for (const waiter of waiters) waiter();
    return true;
  }

  get [Symbol.toStringTag](): string {
    return 'AsyncResult';
  }
}

/** Makes a pending result. @internal */
export function newAsyncResult<T>(callback?: ResultCallback<T>, errorCallback?: ErrorCallback): AsyncResult<T> {
  if (callback !== undefined && typeof callback !== 'function') {
    throw new TypeError(`callback must be a function (got ${describe(callback)})`);
  }
  if (errorCallback !== undefined && typeof errorCallback !== 'function') {
    throw new TypeError(`errorCallback must be a function (got ${describe(errorCallback)})`);
  }
  return new AsyncResult<T>(token, callback, errorCallback);
}

/** Settles a pending result (first call wins). @internal */
export function settleResult<T>(result: AsyncResult<T>, ok: boolean, value: unknown): boolean {
  return settle(result, ok, value);
}
