// Waiting on 32-bit words in shared memory from TypeScript: the async form parks in the native
// per-process waiter (never on the event loop, never on libuv's thread pool), the Sync form
// blocks this thread. Timeouts and AbortSignals are applied here, by cancelling the native wait.
import { native, WaitResult } from './binding.js';
import { AbortError } from './errors.js';
import { checkOptionsBag, checkSignal, deadlineOf, describe, remaining, timeoutOf, type WaitOptions } from './util.js';

export { WaitResult };

let nextWaitId = 1;

/**
 * Resolves when the word at `byteOffset` is woken or no longer holds `expected`, or when the
 * timeout runs out (`WaitResult.TimedOut`). Rejects with AbortError when `signal` aborts.
 */
export function waitWord(
  buffer: ArrayBuffer,
  byteOffset: number,
  expected: number,
  timeout: number,
  signal?: AbortSignal,
): Promise<WaitResult> {
  if (signal?.aborted) return Promise.reject(new AbortError());
  if (timeout <= 0) {
    const current = new Int32Array(buffer, byteOffset, 1)[0]! >>> 0;
    return Promise.resolve(current === expected >>> 0 ? WaitResult.TimedOut : WaitResult.ValueChanged);
  }
  const id = nextWaitId++;
  const parked = native.futexWaitAsync(buffer, byteOffset, expected, id);
  if (timeout === Infinity && signal === undefined) return parked;
  return new Promise<WaitResult>((resolve, reject) => {
    let outcome: WaitResult | 'aborted' | undefined;
    const timer =
      timeout === Infinity
        ? undefined
        : setTimeout(() => {
            outcome ??= WaitResult.TimedOut;
            native.futexCancel(id);
          }, timeout);
    const onAbort = (): void => {
      outcome ??= 'aborted';
      native.futexCancel(id);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    parked.then(
      (result) => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        // A wake that lands after the timer fired still counts as a wake: nothing is lost.
        if (result !== WaitResult.Cancelled || outcome === undefined) resolve(result);
        else if (outcome === 'aborted') reject(new AbortError());
        else resolve(outcome);
      },
      (error: unknown) => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * True when JavaScript listens for a signal other than SIGCHLD. A blocking wait interrupted by a
 * signal (EINTR) must then return to JavaScript so the listener runs; otherwise the signal was
 * one the runtime handles itself (libuv's SIGCHLD whenever a child exits) and is not news.
 */
export function signalListened(): boolean {
  for (const name of process.eventNames()) {
    if (typeof name === 'string' && name.startsWith('SIG') && name !== 'SIGCHLD') return true;
  }
  return false;
}

/**
 * Blocks this thread while the word holds `expected`, for at most `timeout` ms. A signal that
 * JavaScript listens for throws an error with code EINTR (Ctrl-C with a handler is never
 * swallowed); any other signal returns `WaitResult.Interrupted`, which callers treat as a
 * spurious wake: re-check, then wait again.
 */
export function waitWordSync(buffer: ArrayBuffer, byteOffset: number, expected: number, timeout: number): WaitResult {
  const result = native.futexWait(buffer, byteOffset, expected, timeout === Infinity ? -1 : timeout);
  if (result === WaitResult.Interrupted && signalListened()) {
    const error = new Error('EINTR: interrupted system call, futex') as NodeJS.ErrnoException;
    error.code = 'EINTR';
    error.errno = -4;
    error.syscall = 'futex';
    throw error;
  }
  return result;
}

function viewArgs(view: unknown, index: unknown): [ArrayBuffer, number] {
  if (!(view instanceof Int32Array) && !(view instanceof Uint32Array)) {
    throw new TypeError(`view must be an Int32Array or Uint32Array over shared memory (got ${describe(view)})`);
  }
  if (typeof index !== 'number') throw new TypeError(`index must be a number (got ${describe(index)})`);
  if (!Number.isInteger(index) || index < 0 || index >= view.length) {
    throw new RangeError(`index must be an integer from 0 to ${view.length - 1} (got ${index})`);
  }
  return [view.buffer as ArrayBuffer, view.byteOffset + index * 4];
}

/**
 * The cross-process twin of `Atomics.waitAsync`: resolves `'ok'` when woken, `'not-equal'` when
 * `view[index] !== expected`, `'timed-out'` when the timeout ran out. `view` must lie over
 * memory made by multiproc (a `view` or `buf`); `Atomics.wait` cannot wait across processes.
 */
export async function atomicWait(
  view: Int32Array | Uint32Array,
  index: number,
  expected: number,
  options?: WaitOptions,
): Promise<'ok' | 'not-equal' | 'timed-out'> {
  checkOptionsBag(options);
  checkSignal(options?.signal);
  const [buffer, byteOffset] = viewArgs(view, index);
  const result = await waitWord(buffer, byteOffset, expected, timeoutOf(options), options?.signal);
  return result === WaitResult.ValueChanged ? 'not-equal' : result === WaitResult.TimedOut ? 'timed-out' : 'ok';
}

/** The blocking form of {@link atomicWait}. */
export function atomicWaitSync(
  view: Int32Array | Uint32Array,
  index: number,
  expected: number,
  options?: { timeout?: number | null },
): 'ok' | 'not-equal' | 'timed-out' {
  checkOptionsBag(options);
  const [buffer, byteOffset] = viewArgs(view, index);
  const deadline = deadlineOf(timeoutOf(options));
  let result: WaitResult;
  do {
    // A signal JavaScript does not listen for is not a wake: wait out the rest of the time.
    result = waitWordSync(buffer, byteOffset, expected, remaining(deadline));
  } while (result === WaitResult.Interrupted);
  return result === WaitResult.ValueChanged ? 'not-equal' : result === WaitResult.TimedOut ? 'timed-out' : 'ok';
}

/** Wakes up to `count` waiters (default: all) on `view[index]`, in any process. */
export function atomicNotify(view: Int32Array | Uint32Array, index: number, count = Infinity): number {
  const [buffer, byteOffset] = viewArgs(view, index);
  if (typeof count !== 'number' || Number.isNaN(count)) throw new TypeError('count must be a number');
  if (count < 0 || (count !== Infinity && !Number.isInteger(count))) {
    throw new RangeError(`count must be a non-negative integer or Infinity (got ${count})`);
  }
  return native.futexWake(buffer, byteOffset, count === Infinity ? undefined : count);
}
