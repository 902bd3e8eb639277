// Condition: a condition variable shared between processes, over a Lock or RLock (by default a
// new RLock, as in Python).
//
// Layout after the segment header (byte offsets from the start of the segment):
//
//   offset  type            field
//   64      lock reference  which lock (lock-ref.ts, 264 bytes)
//   328     u32             next ticket: arrival order of waiters
//   332     u32             1 when the condition made its lock (unlink removes it too)
//   336..383                reserved, zero
//   384     [u32 x 4]       slots[240]: status (0 free, 1 waiting, 2 notified), owner token,
//                           ticket, reserved
//
// Every waiter takes a slot of its own and parks on the slot's status word, so notify(n) wakes
// exactly the n oldest live waiters (a pure sequence-number condvar would wake whoever happens
// to be between checks). Slots are claimed, notified and freed only by threads holding the lock,
// so those steps need no compare-and-swap; the waiter reads its status without the lock while it
// sleeps. A waiter that dies leaves its slot behind: notify skips (and frees) slots whose owner
// is dead, and a full table is swept the same way.
import { native } from '../binding.js';
import { AbortError, ProcessError } from '../errors.js';
import { waitWord } from '../futex.js';
import { registerHandleKind, type HandleDescriptor } from '../handles.js';
import { isOwnerAlive, ownerToken } from '../liveness.js';
import { Segment, type SegmentKind } from '../segment.js';
import {
  checkInteger,
  checkOptionsBag,
  checkSignal,
  deadlineOf,
  describe,
  remaining,
  timeoutOf,
  type SyncWaitOptions,
  type WaitOptions,
} from '../util.js';
import { parkSync } from './lock-word.js';
import { attach, handleSegment, isAttaching, namedOptions, SharedObject, type NamedOptions } from './base.js';
import { kOwned, kResume, kResumeSync, kSuspend, type WithLockOptions } from './lock-common.js';
import { Lock } from './lock.js';
import { RLock } from './rlock.js';
import { readLockRef, writeLockRef } from './lock-ref.js';

const LOCK_REF = 64;
const NEXT = 82;
const OWNS_LOCK = 83;
const SLOT0 = 96;
const SLOTS = 240;
const BYTES = SLOT0 * 4 + SLOTS * 16 - 64;
const FREE = 0;
const WAITING = 1;
const NOTIFIED = 2;

export const CONDITION_KIND: SegmentKind = { tag: 'COND', version: 1, label: 'Condition' };

/** The options of `wait`: a timeout in ms (absent: forever) and, for the async form, a signal. */
export type ConditionWaitOptions = WaitOptions;

/**
 * A condition variable shared between processes (Python's `multiprocessing.Condition`).
 * `wait` releases the lock, sleeps until notified (or the timeout), and takes the lock back.
 */
export class Condition extends SharedObject {
  static readonly handleKind: string = 'Condition';
  readonly #lock: Lock | RLock;
  readonly #closeLock: boolean;
  #token = 0;

  /**
   * `lock` must be a Lock or RLock of this library (default: a new RLock; named like the
   * condition when `{ name }` is given). Throws TypeError for anything else.
   */
  constructor(lock?: Lock | RLock | null, options?: NamedOptions) {
    const attaching = isAttaching();
    let named: NamedOptions = {};
    if (!attaching) {
      if (lock !== undefined && lock !== null && !(lock instanceof Lock) && !(lock instanceof RLock)) {
        throw new TypeError(`lock must be a Lock or an RLock (got ${describe(lock)})`);
      }
      named = namedOptions(options);
    }
    let used: Lock | RLock | undefined;
    let made = false;
    super(
      CONDITION_KIND,
      BYTES,
      (words) => {
        if (lock === undefined || lock === null) {
          used = new RLock(named.name === undefined ? undefined : { name: named.name, mode: named.mode });
          made = true;
        } else {
          used = lock;
        }
        try {
          writeLockRef(words.buffer as ArrayBuffer, LOCK_REF, used);
        } catch (error) {
          if (made) used.close();
          throw error;
        }
        words[OWNS_LOCK] = made ? 1 : 0;
      },
      named,
    );
    // Opened (by name, handle, or 'ifMissing' finding one): use the lock the condition records.
    this.#lock = used ?? this.#openLock();
    this.#closeLock = used === undefined || made;
  }

  #openLock(): Lock | RLock {
    const lock = readLockRef(this.words.buffer as ArrayBuffer, LOCK_REF, this.label);
    if (lock === null) this.corrupt('records no lock');
    return lock;
  }

  /** Opens a condition created with `{ name }`. Throws ENOENT when there is none. */
  static open(name: string): Condition {
    return attach(Segment.openNamed(CONDITION_KIND, name), () => new Condition());
  }

  /** Revives a descriptor made by `toHandle()`. */
  static fromHandle(descriptor: HandleDescriptor): Condition {
    return attach(handleSegment(CONDITION_KIND, Condition.handleKind, descriptor), () => new Condition());
  }

  /** The lock's `ownerDied`: true when the latest acquisition took over from a dead owner. */
  get ownerDied(): boolean {
    return this.#lock.ownerDied;
  }

  /** Acquires the underlying lock (see Lock#acquire). */
  acquire(options?: WaitOptions): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  /** Acquires the underlying lock, blocking (see Lock#acquireSync). */
  acquireSync(options?: SyncWaitOptions): boolean {
    return this.#lock.acquireSync(options);
  }

  /** Takes the underlying lock if free; never waits. */
  tryAcquire(): boolean {
    return this.#lock.tryAcquire();
  }

  /** Releases the underlying lock; ProcessError when this thread does not hold it. */
  release(): void {
    this.#lock.release();
  }

  /** Runs `fn` holding the underlying lock (see Lock#withLock). */
  withLock<T>(fn: () => T | Promise<T>, options?: WithLockOptions): Promise<Awaited<T>> {
    return this.#lock.withLock(fn, options);
  }

  /** Runs `fn` holding the underlying lock, blocking (see Lock#withLockSync). */
  withLockSync<T>(fn: () => T): T {
    return this.#lock.withLockSync(fn);
  }

  #me(): number {
    return this.#token !== 0 ? this.#token : (this.#token = ownerToken() | 0);
  }

  #mustOwn(what: string): void {
    this.check();
    if (!this.#lock[kOwned]())
      throw new ProcessError(`cannot ${what} a Condition whose lock this thread does not hold`);
  }

  #status(at: number): number {
    const status = Atomics.load(this.words, at);
    if (status !== FREE && status !== WAITING && status !== NOTIFIED) this.corrupt(`slot status ${status}`);
    return status;
  }

  // Under the lock.
  #claim(): number {
    const words = this.words;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < SLOTS; i++) {
        const at = SLOT0 + i * 4;
        if (this.#status(at) !== FREE) continue;
        Atomics.store(words, at + 1, this.#me());
        Atomics.store(words, at + 2, Atomics.add(words, NEXT, 1));
        Atomics.store(words, at, WAITING);
        return at;
      }
      for (let i = 0; i < SLOTS; i++) {
        const at = SLOT0 + i * 4;
        if (!isOwnerAlive(Atomics.load(words, at + 1) >>> 0)) this.#free(at);
      }
    }
    throw new ProcessError(`too many waiters on this Condition (at most ${SLOTS} at once)`);
  }

  #free(at: number): void {
    Atomics.store(this.words, at + 1, 0);
    Atomics.store(this.words, at, FREE);
  }

  // Under the lock: frees the slot; true when it had been notified.
  #leave(at: number): boolean {
    if (this.words.length === 0) return false;
    const notified = this.#status(at) === NOTIFIED;
    this.#free(at);
    return notified;
  }

  /**
   * Releases the lock, blocks until notified or `timeout` ms pass, takes the lock back (without
   * a timeout), and returns true when notified. Throws ProcessError when the lock is not held.
   */
  waitSync(options?: Pick<SyncWaitOptions, 'timeout'>): boolean {
    checkOptionsBag(options);
    const timeout = timeoutOf(options);
    this.#mustOwn('wait on');
    const at = this.#claim();
    const state = this.#lock[kSuspend]();
    let failure: unknown;
    try {
      const deadline = deadlineOf(timeout);
      for (;;) {
        if (this.words.length === 0 || this.#status(at) !== WAITING) break;
        const left = remaining(deadline);
        if (left <= 0) break;
        parkSync(this.words.buffer as ArrayBuffer, at * 4, WAITING, left);
      }
    } catch (error) {
      failure = error;
    }
    this.#lock[kResumeSync](state);
    return this.#finish(at, failure);
  }

  // Under the lock again: frees the slot and reports. A waiter that failed (EINTR, abort) takes
  // nothing: a notification that reached it goes to the next waiter.
  #finish(at: number, failure: unknown): boolean {
    const notified = this.#leave(at);
    if (failure === undefined) {
      this.check();
      return notified;
    }
    if (notified) this.#notify(1);
    throw failure;
  }

  /** The async twin of `waitSync`: resolves true when notified, false on timeout; AbortError on abort. */
  async wait(options?: ConditionWaitOptions): Promise<boolean> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    const timeout = timeoutOf(options);
    const signal = options?.signal;
    this.#mustOwn('wait on');
    if (signal?.aborted) throw new AbortError();
    const at = this.#claim();
    const state = this.#lock[kSuspend]();
    let failure: unknown;
    try {
      const deadline = deadlineOf(timeout);
      for (;;) {
        if (this.words.length === 0 || this.#status(at) !== WAITING) break;
        const left = remaining(deadline);
        if (left <= 0) break;
        await waitWord(this.words.buffer as ArrayBuffer, at * 4, WAITING, left, signal);
      }
    } catch (error) {
      failure = error;
    }
    await this.#lock[kResume](state);
    return this.#finish(at, failure);
  }

  /**
   * Waits until `predicate()` returns a truthy value (checked first, then after each wake-up),
   * or `timeout` ms pass; returns the predicate's last result. `predicate` may be async.
   */
  async waitFor<T>(predicate: () => T | Promise<T>, options?: ConditionWaitOptions): Promise<T> {
    if (typeof predicate !== 'function') throw new TypeError('predicate must be a function');
    checkOptionsBag(options);
    checkSignal(options?.signal);
    const deadline = deadlineOf(timeoutOf(options));
    let result = await predicate();
    while (!result) {
      const left = remaining(deadline);
      if (left <= 0) break;
      await this.wait({ timeout: left === Infinity ? undefined : left, signal: options?.signal });
      result = await predicate();
    }
    return result;
  }

  /** The blocking twin of `waitFor`; `predicate` must be synchronous. */
  waitForSync<T>(predicate: () => T, options?: Pick<SyncWaitOptions, 'timeout'>): T {
    if (typeof predicate !== 'function') throw new TypeError('predicate must be a function');
    checkOptionsBag(options);
    const deadline = deadlineOf(timeoutOf(options));
    let result = predicate();
    while (!result) {
      const left = remaining(deadline);
      if (left <= 0) break;
      this.waitSync({ timeout: left === Infinity ? undefined : left });
      result = predicate();
    }
    return result;
  }

  /** Wakes up to `n` (default 1) waiters, oldest first. ProcessError when the lock is not held. */
  notify(n = 1): void {
    checkInteger(n, 'n', 0);
    this.#mustOwn('notify');
    this.#notify(n);
  }

  /** Wakes every waiter. ProcessError when the lock is not held. */
  notifyAll(): void {
    this.#mustOwn('notify');
    this.#notify(Infinity);
  }

  // Under the lock.
  #notify(n: number): void {
    const words = this.words;
    const next = Atomics.load(words, NEXT);
    const waiting: Array<[age: number, at: number]> = [];
    for (let i = 0; i < SLOTS; i++) {
      const at = SLOT0 + i * 4;
      if (this.#status(at) === WAITING) waiting.push([(next - Atomics.load(words, at + 2)) >>> 0, at]);
    }
    waiting.sort((a, b) => b[0] - a[0]);
    const me = this.#me();
    let left = n;
    for (const [, at] of waiting) {
      if (left <= 0) break;
      const owner = Atomics.load(words, at + 1);
      if (owner !== me && !isOwnerAlive(owner >>> 0)) {
        this.#free(at);
        continue;
      }
      Atomics.store(words, at, NOTIFIED);
      native.futexWake(words.buffer as ArrayBuffer, at * 4, 1);
      left--;
    }
  }

  /** Closes this handle (and the lock handle it opened or made). Idempotent. */
  override close(): void {
    super.close();
    if (this.#closeLock) this.#lock.close();
  }

  /** Unlinks the condition, and its lock when the condition made that lock. */
  override unlink(): void {
    const madeLock = this.words.length !== 0 && Atomics.load(this.words, OWNS_LOCK) === 1;
    super.unlink();
    if (madeLock) {
      try {
        this.#lock.unlink();
      } catch {
        // already gone
      }
    }
  }

  override toString(): string {
    return `Condition(${String(this.#lock)})`;
  }
}

registerHandleKind(Condition.handleKind, (descriptor) => Condition.fromHandle(descriptor));
