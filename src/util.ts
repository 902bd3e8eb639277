// Argument checks and deadline arithmetic shared by every module.
import { randomBytes } from 'node:crypto';

/** Options every waiting call accepts. */
export interface WaitOptions {
  /** Milliseconds. Absent, null or Infinity: wait forever; 0 or negative: do not wait. */
  timeout?: number | null | undefined;
  /** Cancels the wait: the call rejects with AbortError and took nothing. */
  signal?: AbortSignal | undefined;
}

/** Options of blocking (`...Sync`) calls: Python's `block` and `timeout`. */
export interface SyncWaitOptions {
  block?: boolean | undefined;
  timeout?: number | null | undefined;
}

/** Reads `timeout` from an options bag: milliseconds, or Infinity for no limit; never negative. */
export function timeoutOf(options: { timeout?: number | null | undefined } | undefined, what = 'timeout'): number {
  const timeout = options?.timeout;
  if (timeout === undefined || timeout === null) return Infinity;
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) {
    throw new TypeError(`${what} must be a number of milliseconds, null or undefined (got ${describe(timeout)})`);
  }
  return timeout < 0 ? 0 : timeout;
}

/** The timeout of a Sync call: `{ block: false }` means 0, whatever `timeout` says. */
export function syncTimeoutOf(options: SyncWaitOptions | undefined): number {
  checkOptionsBag(options);
  if (options?.block !== undefined && typeof options.block !== 'boolean') {
    throw new TypeError(`block must be a boolean (got ${describe(options.block)})`);
  }
  const timeout = timeoutOf(options);
  return options?.block === false ? 0 : timeout;
}

export function checkOptionsBag(options: unknown, what = 'options'): void {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${what} must be an object (got ${describe(options)})`);
  }
}

export function checkSignal(signal: unknown): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`signal must be an AbortSignal (got ${describe(signal)})`);
  }
}

/** Absolute deadline on the monotonic clock, from a timeout in ms. */
export function deadlineOf(timeout: number): number {
  return timeout === Infinity ? Infinity : performance.now() + timeout;
}

/** Milliseconds left until `deadline` (0 when past, Infinity when unbounded). */
export function remaining(deadline: number): number {
  if (deadline === Infinity) return Infinity;
  return Math.max(0, deadline - performance.now());
}

export function checkInteger(value: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw new TypeError(`${what} must be a number (got ${describe(value)})`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${what} must be an integer from ${min} to ${max} (got ${value})`);
  }
  return value;
}

export function checkBoolean(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${what} must be a boolean (got ${describe(value)})`);
  return value;
}

/** A short, safe description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object')
    return Array.isArray(value) ? 'an array' : `an object (${value.constructor?.name ?? 'null prototype'})`;
  return `${typeof value} ${String(value)}`;
}

/** 128 random bits as a name-safe string: generated names cannot be guessed. */
export function randomToken(): string {
  return randomBytes(16).toString('base64url');
}
