// Semaphore and BoundedSemaphore: a counter word with futex waits, plus a table of which thread
// holds how many units, so that units held by a thread that died can be given back.
//
// Layout after the segment header (byte offsets from the start of the segment):
//
//   offset  type        field
//   64      i32         value: units available (never negative)
//   68      i32         waiters: threads parked (or about to park) on value
//   72      i32         initial value (constant)
//   76..127             reserved, zero
//   128     [i32, i32]  holders[64]: owner token (0 free, 1 being reclaimed), units it holds
//
// Waiting: a waiter counts itself in `waiters`, re-checks value, and parks on value == 0; a
// release adds to value and wakes one waiter when `waiters` is non-zero (the order makes a
// missed wake impossible: both sides use sequentially consistent atomics).
//
// What is guaranteed after a death (see README "Semaphores and dead holders"): a thread's entry
// counts what it acquired minus what it released. When a waiter finds no unit, it looks (before
// parking, then every 100 ms) for entries of dead threads and gives their units back, but never
// so many that more units would be out than the initial value allows: a semaphore used as a
// signal (initial value 0, released by one side, acquired by the other) never gains units from
// a death. Units released by a thread other than their acquirer may stay counted against the
// acquirer; a holder killed between its two atomic steps loses (never duplicates) that unit.
import { native, WaitResult } from '../binding.js';
import { AbortError, TimeoutError } from '../errors.js';
import { waitWord } from '../futex.js';
import { registerHandleKind, type HandleDescriptor } from '../handles.js';
import { isOwnerAlive, ownerToken } from '../liveness.js';
import { Segment, type SegmentKind } from '../segment.js';
import {
  checkInteger,
  checkOptionsBag,
  checkSignal,
  deadlineOf,
  remaining,
  syncTimeoutOf,
  timeoutOf,
  type SyncWaitOptions,
  type WaitOptions,
} from '../util.js';
import { attach, handleSegment, isAttaching, namedOptions, SharedObject, type NamedOptions } from './base.js';
import { parkSync, SLICE_MS, spinBudget } from './lock-word.js';

const VALUE = 16;
const WAITERS = 17;
const INITIAL = 18;
const TABLE = 32;
const ENTRIES = 64;
const BYTES = 64 + ENTRIES * 8;
const RECLAIMING = 1;
/** The largest value a semaphore holds (Python's SEM_VALUE_MAX on Linux). */
export const SEM_VALUE_MAX = 0x7fffffff;

export const SEMAPHORE_KIND: SegmentKind = { tag: 'SEMA', version: 1, label: 'Semaphore' };
export const BOUNDED_KIND: SegmentKind = { tag: 'BSEM', version: 1, label: 'BoundedSemaphore' };

/** Options of `new Semaphore(value, options)`: naming only. */
export type SemaphoreOptions = NamedOptions;

/**
 * A counting semaphore shared between processes (Python's `multiprocessing.Semaphore`).
 * `acquire` takes a unit, waiting while there is none; `release` gives one back (from any thread).
 */
export class Semaphore extends SharedObject {
  static readonly handleKind: string = 'Semaphore';
  protected static readonly segmentKind: SegmentKind = SEMAPHORE_KIND;
  #token = 0;
  #entry = -1;
  #ownerDied = false;
  readonly #bounded: boolean;

  /** `value` (default 1) is the initial number of units: an integer from 0 to 2^31 - 1. */
  constructor(value = 1, options?: SemaphoreOptions) {
    const attaching = isAttaching();
    if (!attaching) checkInteger(value, 'value', 0, SEM_VALUE_MAX);
    const kind = (new.target as unknown as { segmentKind: SegmentKind }).segmentKind;
    super(
      kind,
      BYTES,
      (words) => {
        words[VALUE] = value;
        words[INITIAL] = value;
      },
      attaching ? {} : namedOptions(options),
    );
    this.#bounded = kind === BOUNDED_KIND;
  }

  /** Opens a semaphore created with `{ name }`. Throws ENOENT when there is none. */
  static open(name: string): Semaphore {
    return attach(Segment.openNamed(this.segmentKind, name), () => new this());
  }

  /** Revives a descriptor made by `toHandle()`. */
  static fromHandle(descriptor: HandleDescriptor): Semaphore {
    return attach(handleSegment(this.segmentKind, this.handleKind, descriptor), () => new this());
  }

  /** True when the latest acquisition through this handle came from units a dead holder left. */
  get ownerDied(): boolean {
    return this.#ownerDied;
  }

  /** The number of units available now. */
  getValue(): number {
    this.check();
    return Math.max(0, Atomics.load(this.words, VALUE));
  }

  #me(): number {
    return this.#token !== 0 ? this.#token : (this.#token = ownerToken() | 0);
  }

  // One attempt: takes a unit if there is one.
  #take(): boolean {
    const words = this.words;
    const value = Atomics.load(words, VALUE);
    if (value < 0) this.corrupt(`value ${value}`);
    if (value === 0 || Atomics.compareExchange(words, VALUE, value, value - 1) !== value) return false;
    this.#track();
    return true;
  }

  /** Takes a unit if one is available (or a dead holder's can be recovered); never waits. */
  tryAcquire(): boolean {
    return this.acquireSync({ block: false });
  }

  /** Blocks until a unit is taken (true) or `timeout` ms pass (false). */
  acquireSync(options?: SyncWaitOptions): boolean {
    const timeout = options === undefined ? Infinity : syncTimeoutOf(options);
    this.check();
    if (this.#take()) return this.#took(false);
    if (timeout > 0) for (let i = spinBudget(); i > 0; i--) if (this.#take()) return this.#took(false);
    const words = this.words;
    Atomics.add(words, WAITERS, 1);
    try {
      const deadline = deadlineOf(timeout);
      let checkOwners = true;
      let recovered = false;
      let woken = false;
      for (;;) {
        this.check();
        if (this.#take()) return this.#took(recovered);
        if (checkOwners && this.#reclaimDead() > 0) {
          recovered = true;
          continue;
        }
        const left = remaining(deadline);
        if (left <= 0) return this.#gaveUp(woken);
        const result = parkSync(words.buffer as ArrayBuffer, VALUE * 4, 0, Math.min(left, SLICE_MS));
        woken = result === WaitResult.Woken;
        checkOwners = result === WaitResult.TimedOut;
      }
    } finally {
      if (words.length !== 0) Atomics.sub(words, WAITERS, 1);
    }
  }

  /** Resolves true once a unit is taken, false when `timeout` ms pass; AbortError on abort. */
  async acquire(options?: WaitOptions): Promise<boolean> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    const timeout = timeoutOf(options);
    const signal = options?.signal;
    this.check();
    if (signal?.aborted) throw new AbortError();
    if (this.#take()) return this.#took(false);
    const words = this.words;
    Atomics.add(words, WAITERS, 1);
    let woken = false;
    try {
      const deadline = deadlineOf(timeout);
      let checkOwners = true;
      let recovered = false;
      for (;;) {
        this.check();
        if (this.#take()) return this.#took(recovered);
        if (checkOwners && this.#reclaimDead() > 0) {
          recovered = true;
          continue;
        }
        const left = remaining(deadline);
        if (left <= 0) return this.#gaveUp(woken);
        const result = await waitWord(words.buffer as ArrayBuffer, VALUE * 4, 0, Math.min(left, SLICE_MS), signal);
        if (result === WaitResult.Cancelled) this.check();
        woken = result === WaitResult.Woken;
        checkOwners = result === WaitResult.TimedOut;
      }
    } catch (error) {
      this.#gaveUp(true);
      throw error;
    } finally {
      if (words.length !== 0) Atomics.sub(words, WAITERS, 1);
    }
  }

  #took(recovered: boolean): true {
    this.#ownerDied = recovered;
    return true;
  }

  // A waiter leaving without a unit may have consumed the wake of a release: pass it on.
  #gaveUp(woken: boolean): false {
    const words = this.words;
    if (woken && words.length !== 0 && Atomics.load(words, VALUE) > 0 && Atomics.load(words, WAITERS) > 1) {
      native.futexWake(words.buffer as ArrayBuffer, VALUE * 4, 1);
    }
    return false;
  }

  /**
   * Gives a unit back (any thread may). Throws RangeError when a BoundedSemaphore would exceed
   * its initial value, or the value would exceed 2^31 - 1.
   */
  release(): void {
    this.check();
    const words = this.words;
    const limit = this.#bounded ? Atomics.load(words, INITIAL) : SEM_VALUE_MAX;
    if (Atomics.load(words, VALUE) >= limit) throw this.#overRelease(limit);
    this.#untrack();
    for (;;) {
      const value = Atomics.load(words, VALUE);
      if (value >= limit) throw this.#overRelease(limit);
      if (Atomics.compareExchange(words, VALUE, value, value + 1) === value) break;
    }
    if (Atomics.load(words, WAITERS) > 0) native.futexWake(words.buffer as ArrayBuffer, VALUE * 4, 1);
  }

  #overRelease(limit: number): RangeError {
    return new RangeError(
      this.#bounded
        ? `${this.label} released too many times (its initial value is ${limit})`
        : `${this.label} value would exceed ${SEM_VALUE_MAX}`,
    );
  }

  /** Runs `fn` holding a unit and returns its result; gives the unit back even when it throws. */
  async withLock<T>(fn: () => T | Promise<T>, options?: WaitOptions): Promise<Awaited<T>> {
    if (typeof fn !== 'function') throw new TypeError('fn must be a function');
    if (!(await this.acquire(options))) throw new TimeoutError(`${this.label} not acquired within the timeout`);
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

  // Counts a unit against this thread's entry (claiming one if needed; untracked when full).
  #track(): void {
    const words = this.words;
    const me = this.#me();
    let entry = this.#entry;
    if (entry < 0 || Atomics.load(words, entry) !== me) entry = this.#claim(me);
    if (entry >= 0) Atomics.add(words, entry + 1, 1);
  }

  #untrack(): void {
    const words = this.words;
    const me = this.#me();
    let entry = this.#entry;
    if (entry < 0 || Atomics.load(words, entry) !== me) entry = this.#find(me);
    // Only this (live) thread changes its own count, so the check and the decrement cannot race.
    if (entry >= 0 && Atomics.load(words, entry + 1) > 0) Atomics.sub(words, entry + 1, 1);
  }

  #find(me: number): number {
    const words = this.words;
    for (let i = 0; i < ENTRIES; i++) {
      const at = TABLE + i * 2;
      if (Atomics.load(words, at) === me) return (this.#entry = at);
    }
    return -1;
  }

  #claim(me: number): number {
    const found = this.#find(me);
    if (found >= 0) return found;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < ENTRIES; i++) {
        const at = TABLE + i * 2;
        if (Atomics.load(this.words, at) === 0 && Atomics.compareExchange(this.words, at, 0, me) === 0) {
          Atomics.store(this.words, at + 1, 0);
          return (this.#entry = at);
        }
      }
      // Full: entries of dead threads are freed (their units given back), then try once more.
      this.#reclaimDead(true);
    }
    return -1;
  }

  /** Gives back units held by dead threads (bounded, see the file comment). Returns how many. */
  #reclaimDead(freeIdle = false): number {
    const words = this.words;
    let given = 0;
    for (let i = 0; i < ENTRIES; i++) {
      const at = TABLE + i * 2;
      const token = Atomics.load(words, at);
      if (token === 0 || token === RECLAIMING) continue;
      const held = Atomics.load(words, at + 1);
      if ((held <= 0 && !freeIdle) || isOwnerAlive(token >>> 0)) continue;
      if (Atomics.compareExchange(words, at, token, RECLAIMING) !== token) continue;
      const units = Math.max(0, Atomics.exchange(words, at + 1, 0));
      let others = 0;
      for (let j = 0; j < ENTRIES; j++) {
        if (j !== i) others += Math.max(0, Atomics.load(words, TABLE + j * 2 + 1));
      }
      const out = Atomics.load(words, INITIAL) - Atomics.load(words, VALUE) - others;
      const back = Math.min(units, Math.max(0, out));
      Atomics.store(words, at, 0);
      if (back > 0) {
        Atomics.add(words, VALUE, back);
        native.futexWake(words.buffer as ArrayBuffer, VALUE * 4, back);
        given += back;
      }
    }
    return given;
  }

  override toString(): string {
    return `${this.label}(value=${this.words.length === 0 ? '<closed>' : Atomics.load(this.words, VALUE)})`;
  }
}

/**
 * A semaphore that refuses to be released above its initial value (RangeError), as Python's
 * `multiprocessing.BoundedSemaphore`.
 */
export class BoundedSemaphore extends Semaphore {
  static override readonly handleKind: string = 'BoundedSemaphore';
  protected static override readonly segmentKind: SegmentKind = BOUNDED_KIND;

  /** `value` (default 1) is both the initial and the largest number of units. */
  constructor(value = 1, options?: SemaphoreOptions) {
    super(value, options);
  }

  /** Opens a bounded semaphore created with `{ name }`. Throws ENOENT when there is none. */
  static override open(name: string): BoundedSemaphore {
    return attach(Segment.openNamed(BOUNDED_KIND, name), () => new BoundedSemaphore());
  }

  /** Revives a descriptor made by `toHandle()`. */
  static override fromHandle(descriptor: HandleDescriptor): BoundedSemaphore {
    return attach(handleSegment(BOUNDED_KIND, BoundedSemaphore.handleKind, descriptor), () => new BoundedSemaphore());
  }
}

registerHandleKind(Semaphore.handleKind, (descriptor) => Semaphore.fromHandle(descriptor));
registerHandleKind(BoundedSemaphore.handleKind, (descriptor) => BoundedSemaphore.fromHandle(descriptor));
