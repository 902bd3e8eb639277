// Lock: a non-recursive, owner-aware futex lock word (lock-word.ts) in a small segment
// (layout in lock-common.ts). Ownership is per thread: the owner token of the main thread or a
// worker thread.
import { AbortError, TimeoutError } from '../errors.js';
import { registerHandleKind, type HandleDescriptor } from '../handles.js';
import { ownerToken } from '../liveness.js';
import { Segment, type SegmentKind } from '../segment.js';
import {
  checkOptionsBag,
  checkSignal,
  syncTimeoutOf,
  timeoutOf,
  type SyncWaitOptions,
  type WaitOptions,
} from '../util.js';
import { attach, handleSegment, isAttaching, namedOptions, SharedObject, type NamedOptions } from './base.js';
import {
  BYTES,
  checkFn,
  kOwned,
  kResume,
  kResumeSync,
  kSuspend,
  notHeld,
  run,
  selfDeadlock,
  WORD,
  type LockState,
  type WithLockOptions,
} from './lock-common.js';
import {
  acquireWord,
  acquireWordSync,
  CONTENDED,
  Outcome,
  ownerBase,
  releaseWord,
  type WordSite,
} from './lock-word.js';

export const LOCK_KIND: SegmentKind = { tag: 'LOCK', version: 1, label: 'Lock' };

/**
 * A non-recursive lock shared between processes (Python's `multiprocessing.Lock`). Owned by the
 * thread that acquired it: releasing it from elsewhere throws ProcessError. If the owner dies
 * holding it, the next acquirer takes it over within 1 s and sees `ownerDied === true`.
 */
export class Lock extends SharedObject {
  static readonly handleKind: string = 'Lock';
  readonly #site: WordSite;
  #base = 0;
  #ownerDied = false;

  /** Creates a lock; `{ name }` makes it openable with `Lock.open(name)`. Throws EEXIST for a taken name. */
  constructor(options?: NamedOptions) {
    super(LOCK_KIND, BYTES, () => {}, isAttaching() ? {} : namedOptions(options));
    this.#site = this.site(WORD);
  }

  /** Opens a lock created with `{ name }`. Throws ENOENT when there is none. */
  static open(name: string): Lock {
    return attach(Segment.openNamed(LOCK_KIND, name), () => new Lock());
  }

  /** Revives a descriptor made by `toHandle()`. */
  static fromHandle(descriptor: HandleDescriptor): Lock {
    return attach(handleSegment(LOCK_KIND, Lock.handleKind, descriptor), () => new Lock());
  }

  /** True when the latest acquisition through this handle took the lock over from a dead owner. */
  get ownerDied(): boolean {
    return this.#ownerDied;
  }

  #me(): number {
    return this.#base !== 0 ? this.#base : (this.#base = ownerBase(ownerToken()));
  }

  /** Takes the lock if it is free (or its owner died); never waits. */
  tryAcquire(): boolean {
    return this.acquireSync({ block: false });
  }

  /**
   * Blocks until the lock is taken (true) or `timeout` ms pass (false). `{ block: false }` does
   * not wait. Throws ProcessError when this thread holds the lock and no timeout is given.
   */
  acquireSync(options?: SyncWaitOptions): boolean {
    const words = this.words;
    const base = this.#base !== 0 ? this.#base : this.#me();
    if (options === undefined && words.length !== 0 && Atomics.load(words, 3) !== 2) {
      if (Atomics.compareExchange(words, WORD, 0, base) === 0) {
        this.#ownerDied = false;
        return true;
      }
    }
    const timeout = syncTimeoutOf(options);
    this.check();
    if (Atomics.compareExchange(words, WORD, 0, base) === 0) {
      this.#ownerDied = false;
      return true;
    }
    if ((Atomics.load(words, WORD) & ~CONTENDED) === base && timeout === Infinity) throw selfDeadlock(this.label);
    return this.#took(acquireWordSync(this.#site, base, timeout));
  }

  /**
   * Resolves true once the lock is taken, false when `timeout` ms pass first; rejects with
   * AbortError when `signal` aborts. A second acquire from the thread that holds it queues.
   */
  async acquire(options?: WaitOptions): Promise<boolean> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    const timeout = timeoutOf(options);
    this.check();
    if (options?.signal?.aborted) throw new AbortError();
    const base = this.#me();
    if (Atomics.compareExchange(this.words, WORD, 0, base) === 0) {
      this.#ownerDied = false;
      return true;
    }
    return this.#took(await acquireWord(this.#site, base, timeout, options?.signal));
  }

  #took(outcome: Outcome): boolean {
    if (outcome === Outcome.TimedOut) return false;
    this.#ownerDied = outcome === Outcome.OwnerDied;
    return true;
  }

  /** Releases the lock. Throws ProcessError when this thread does not hold it. */
  release(): void {
    const words = this.words;
    const base = this.#base;
    if (base !== 0 && words.length !== 0 && Atomics.compareExchange(words, WORD, base, 0) === base) return;
    this.check();
    const me = this.#me();
    if (!releaseWord(words, WORD, me)) throw notHeld(this.label, Atomics.load(words, WORD), me);
  }

  /** Runs `fn` (sync or async) holding the lock and returns its result; releases even when it throws. */
  async withLock<T>(fn: () => T | Promise<T>, options?: WithLockOptions): Promise<Awaited<T>> {
    checkFn(fn);
    if (!(await this.acquire(options))) throw new TimeoutError(`${this.label} not acquired within the timeout`);
    try {
      return await run(fn);
    } finally {
      this.release();
    }
  }

  /** The blocking twin of `withLock`: `fn` should be synchronous (the lock is released when it returns). */
  withLockSync<T>(fn: () => T): T {
    if (typeof fn !== 'function') checkFn(fn);
    // The acquire and release fast paths, inline: this is the hot loop of shared counters.
    const words = this.words;
    const base = this.#base;
    if (base !== 0 && words.length !== 0 && words[3] !== 2 && Atomics.compareExchange(words, WORD, 0, base) === 0) {
      this.#ownerDied = false;
    } else {
      this.acquireSync();
    }
    try {
      return fn();
    } finally {
      if (words.length === 0 || Atomics.compareExchange(words, WORD, this.#base, 0) !== this.#base) this.release();
    }
  }

  [kOwned](): boolean {
    return this.words.length !== 0 && (Atomics.load(this.words, WORD) & ~CONTENDED) === this.#me();
  }

  [kSuspend](): LockState {
    this.release();
    return { count: 1, holder: undefined };
  }

  [kResumeSync](_state: LockState): void {
    this.check();
    const base = this.#me();
    this.#took(
      Atomics.compareExchange(this.words, WORD, 0, base) === 0
        ? Outcome.Acquired
        : acquireWordSync(this.#site, base, Infinity),
    );
  }

  async [kResume](_state: LockState): Promise<void> {
    this.check();
    const base = this.#me();
    this.#took(
      Atomics.compareExchange(this.words, WORD, 0, base) === 0
        ? Outcome.Acquired
        : await acquireWord(this.#site, base, Infinity, undefined),
    );
  }

  override toString(): string {
    return `${this.label}(${this.segment.segmentName})`;
  }
}

registerHandleKind(Lock.handleKind, (descriptor) => Lock.fromHandle(descriptor));
