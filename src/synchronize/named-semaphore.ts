// NamedSemaphore: a POSIX named semaphore (sem_open), for coordinating with any program that
// opens the same name: C, Python (posix_ipc, or ctypes on libc), another Node service.
//
// The name is the raw POSIX name (glibc keeps it as /dev/shm/sem.<name>), not in the library's
// own namespace, so that other programs find it. Blocking waits happen only in the Sync forms
// (sem_clockwait in native/sem_wait.h). The async `acquire` never blocks the event loop and
// takes no thread: it polls sem_trywait with a timer whose delay doubles from 1 ms up to 10 ms,
// so an async waiter sees a release within about 10 ms (a POSIX semaphore offers no way to be
// told of a post short of blocking a thread in sem_wait).
import { chmodSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { native } from '../binding.js';
import { AbortError, Closed, TimeoutError } from '../errors.js';
import { registerHandleKind, type HandleDescriptor } from '../handles.js';
import { checkOwnership } from '../shared-memory.js';
import {
  checkInteger,
  checkOptionsBag,
  checkSignal,
  deadlineOf,
  describe,
  remaining,
  syncTimeoutOf,
  timeoutOf,
  type SyncWaitOptions,
  type WaitOptions,
} from '../util.js';
import { signalListened } from '../futex.js';
import { SEM_VALUE_MAX } from './semaphore.js';

const HANDLE_VERSION = 1;
const CREATE = 1;
const EXCLUSIVE = 2;
const POLL_FIRST_MS = 1;
const POLL_MAX_MS = 10;
// glibc stores /name as /dev/shm/sem.name, and NAME_MAX is 255.
const MAX_NAME_LENGTH = 251;

/** Options of `new NamedSemaphore(options)`. */
export interface NamedSemaphoreOptions {
  /** The POSIX name; a leading `/` is optional. Required. */
  name: string;
  /** `false` (default): open an existing one (ENOENT if missing); `true`: create (EEXIST if taken); `'ifMissing'`. */
  create?: boolean | 'ifMissing' | undefined;
  /** Initial value when this call creates it (default 1). */
  value?: number | undefined;
  /**
   * Permission bits. A created semaphore gets exactly this mode (default 0o600, whatever the
   * umask); when given on open, one readable or writable by others is accepted.
   */
  mode?: number | undefined;
}

function semName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError(`name must be a string (got ${describe(name)})`);
  const bare = name.startsWith('/') ? name.slice(1) : name;
  if (bare.length === 0 || bare.length > MAX_NAME_LENGTH) {
    throw new RangeError(`name must be 1 to ${MAX_NAME_LENGTH} characters (got ${JSON.stringify(name)})`);
  }
  if (bare.includes('/') || bare.includes('\0') || bare === '.' || bare === '..') {
    throw new RangeError(`name must not contain "/" (after its first character) or NUL (got ${JSON.stringify(name)})`);
  }
  return `/${bare}`;
}

function eintr(): NodeJS.ErrnoException {
  return Object.assign(new Error('EINTR: interrupted system call, sem_timedwait'), {
    code: 'EINTR',
    errno: -4,
    syscall: 'sem_timedwait',
  });
}

/**
 * A POSIX named semaphore. `acquire` takes a unit (waiting while there is none), `release` gives
 * one back. Throws TypeError/RangeError for bad options, ENOENT when opening a missing name,
 * EEXIST when creating a taken one, EACCES for one owned by another user or open to others.
 * It has no owner: a process that dies holding a unit does not give it back.
 */
export class NamedSemaphore {
  static readonly handleKind = 'NamedSemaphore';
  readonly #name: string;
  #handle: object | null;

  constructor(options: NamedSemaphoreOptions) {
    checkOptionsBag(options);
    if (options === undefined) throw new TypeError('options with a name are required');
    const name = semName(options.name);
    const { create = false, value = 1, mode } = options;
    if (create !== true && create !== false && create !== 'ifMissing') {
      throw new TypeError(`create must be true, false or 'ifMissing' (got ${describe(create)})`);
    }
    checkInteger(value, 'value', 0, SEM_VALUE_MAX);
    if (mode !== undefined) checkInteger(mode, 'mode', 0, 0o777);
    this.#name = name;
    this.#handle = NamedSemaphore.#open(name, create, value, mode);
  }

  static #open(name: string, create: boolean | 'ifMissing', value: number, mode: number | undefined): object {
    const path = `/dev/shm/sem.${name.slice(1)}`;
    for (let attempt = 0; ; attempt++) {
      if (create !== false) {
        try {
          const handle = native.semOpen(name, CREATE | EXCLUSIVE, mode ?? 0o600, value);
          try {
            chmodSync(path, mode ?? 0o600);
          } catch {
            // not where glibc keeps it (another libc): sem_open applied mode & ~umask
          }
          return handle;
        } catch (error) {
          if (create !== 'ifMissing' || (error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
      }
      try {
        const handle = native.semOpen(name, 0, 0, 0);
        try {
          const stat = statSync(path);
          checkOwnership(name, { uid: stat.uid, mode: stat.mode }, mode !== undefined);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
            native.semClose(handle);
            throw error;
          }
        }
        return handle;
      } catch (error) {
        // Unlinked between our two sem_open calls: try to create it again.
        if (create !== 'ifMissing' || (error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 3) throw error;
      }
    }
  }

  /** Opens an existing named semaphore (`new NamedSemaphore({ name })`). */
  static open(name: string): NamedSemaphore {
    return new NamedSemaphore({ name });
  }

  /** Revives a descriptor made by `toHandle()`. */
  static fromHandle(descriptor: HandleDescriptor): NamedSemaphore {
    if (typeof descriptor !== 'object' || descriptor === null || descriptor.kind !== NamedSemaphore.handleKind) {
      throw new TypeError(`not a NamedSemaphore handle: ${describe(descriptor)}`);
    }
    if (descriptor.version !== HANDLE_VERSION) {
      throw new RangeError(`NamedSemaphore handle version ${String(descriptor.version)} is not supported`);
    }
    return new NamedSemaphore({ name: descriptor.name as string });
  }

  /** The name, without the leading slash. */
  get name(): string {
    return this.#name.slice(1);
  }

  /** True once this handle is closed. */
  get closed(): boolean {
    return this.#handle === null;
  }

  #sem(): object {
    if (this.#handle === null) throw new Closed(`NamedSemaphore ${this.name} is closed`);
    return this.#handle;
  }

  /** The current value (never negative on Linux). */
  getValue(): number {
    return native.semGetValue(this.#sem());
  }

  /** Takes a unit if one is available; never waits. */
  tryAcquire(): boolean {
    return native.semTryWait(this.#sem());
  }

  /**
   * Blocks until a unit is taken (true) or `timeout` ms pass (false). A signal that JavaScript
   * listens for interrupts it with an EINTR error.
   */
  acquireSync(options?: SyncWaitOptions): boolean {
    const timeout = syncTimeoutOf(options);
    const deadline = deadlineOf(timeout);
    for (;;) {
      const left = remaining(deadline);
      const result = native.semWait(this.#sem(), left === Infinity ? -1 : left);
      if (result !== 3) return result === 0;
      // EINTR: surface it when JavaScript listens for signals, else (libuv's SIGCHLD) go on.
      if (signalListened()) throw eintr();
    }
  }

  /**
   * Resolves true once a unit is taken, false when `timeout` ms pass; AbortError on abort.
   * Polls (1 ms doubling to 10 ms) rather than blocking a thread: see the file comment.
   */
  async acquire(options?: WaitOptions): Promise<boolean> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    const timeout = timeoutOf(options);
    const signal = options?.signal;
    if (signal?.aborted) throw new AbortError();
    if (native.semTryWait(this.#sem())) return true;
    const deadline = deadlineOf(timeout);
    let delay = POLL_FIRST_MS;
    for (;;) {
      const left = remaining(deadline);
      if (left <= 0) return false;
      try {
        await sleep(Math.min(delay, left), undefined, { signal });
      } catch (error) {
        if (signal?.aborted) throw new AbortError();
        throw error;
      }
      if (native.semTryWait(this.#sem())) return true;
      delay = Math.min(delay * 2, POLL_MAX_MS);
    }
  }

  /** Gives a unit back. EOVERFLOW beyond SEM_VALUE_MAX. */
  release(): void {
    native.semPost(this.#sem());
  }

  /** Runs `fn` holding a unit and returns its result; gives the unit back even when it throws. */
  async withLock<T>(fn: () => T | Promise<T>, options?: WaitOptions): Promise<Awaited<T>> {
    if (typeof fn !== 'function') throw new TypeError('fn must be a function');
    if (!(await this.acquire(options)))
      throw new TimeoutError(`NamedSemaphore ${this.name} not acquired within the timeout`);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** The blocking twin of `withLock`; `fn` should be synchronous. */
  withLockSync<T>(fn: () => T): T {
    if (typeof fn !== 'function') throw new TypeError('fn must be a function');
    this.acquireSync();
    try {
      return fn();
    } finally {
      this.release();
    }
  }

  /** Closes this process's handle (sem_close). Idempotent. */
  close(): void {
    if (this.#handle === null) return;
    native.semClose(this.#handle);
    this.#handle = null;
  }

  /** Removes the name (sem_unlink); processes that have it open keep using it. ENOENT if already gone. */
  unlink(): void {
    native.semUnlink(this.#name);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** A JSON-safe descriptor that `fromHandle` revives (by name) in any process. */
  toHandle(): HandleDescriptor {
    return { kind: NamedSemaphore.handleKind, version: HANDLE_VERSION, name: this.#name };
  }

  toString(): string {
    return `NamedSemaphore(${JSON.stringify(this.name)})`;
  }
}

registerHandleKind(NamedSemaphore.handleKind, (descriptor) => NamedSemaphore.fromHandle(descriptor));
