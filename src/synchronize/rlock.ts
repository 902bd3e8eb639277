// RLock: a recursive lock on the same lock word as Lock (layout in lock-common.ts), plus a
// recursion count written only by the owner.
//
// Async call chains. Ownership is per thread, and within a thread `withLock(fn)` narrows it to
// `fn`'s async call chain: `fn` runs in a new node of an AsyncLocalStorage; an acquire from code
// whose chain includes the node that holds the lock re-enters, any other chain of the same
// thread queues. Code outside every withLock (plain acquire/release) belongs to the root chain,
// which every chain includes: that is Python's per-thread RLock. The storage is entered only by
// withLock, so code that never uses it pays nothing for it.
import { AsyncLocalStorage } from 'node:async_hooks';

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
  COUNT,
  kOwned,
  kResume,
  kResumeSync,
  kSuspend,
  notHeld,
  run,
  selfDeadlock,
  WORD,
  type ChainNode,
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

export const RLOCK_KIND: SegmentKind = { tag: 'RLCK', version: 1, label: 'RLock' };

const chains = new AsyncLocalStorage<ChainNode>();
// Until some withLock enters `chains`, every caller is in the root chain: skip the lookups.
let chainsEntered = false;

function currentChain(): ChainNode | undefined {
  return chainsEntered ? chains.getStore() : undefined;
}
// The chain holding each RLock this thread holds, by segment name; absent = the root chain.
const holders = new Map<string, ChainNode>();

function inChain(holder: ChainNode | undefined): boolean {
  if (holder === undefined) return true;
  for (let node = currentChain(); node !== undefined; node = node.parent) if (node === holder) return true;
  return false;
}

/**
 * A recursive lock (Python's `multiprocessing.RLock`): the thread (and async call chain) that
 * holds it may acquire it again, and must release it as many times.
 */
export class RLock extends SharedObject {
  static readonly handleKind: string = 'RLock';
  readonly #site: WordSite;
  #base = 0;
  #ownerDied = false;

  /** Creates a recursive lock; `{ name }` makes it openable with `RLock.open(name)`. */
  constructor(options?: NamedOptions) {
    super(RLOCK_KIND, BYTES, () => {}, isAttaching() ? {} : namedOptions(options));
    this.#site = this.site(WORD);
  }

  /** Opens a recursive lock created with `{ name }`. Throws ENOENT when there is none. */
  static open(name: string): RLock {
    return attach(Segment.openNamed(RLOCK_KIND, name), () => new RLock());
  }

  /** Revives a descriptor made by `toHandle()`. */
  static fromHandle(descriptor: HandleDescriptor): RLock {
    return attach(handleSegment(RLOCK_KIND, RLock.handleKind, descriptor), () => new RLock());
  }

  /** True when the latest fresh acquisition through this handle took over from a dead owner. */
  get ownerDied(): boolean {
    return this.#ownerDied;
  }

  #me(): number {
    return this.#base !== 0 ? this.#base : (this.#base = ownerBase(ownerToken()));
  }

  #fresh(holder: ChainNode | undefined, outcome: Outcome): boolean {
    if (outcome === Outcome.TimedOut) return false;
    this.words[COUNT] = 1;
    if (holder !== undefined) holders.set(this.segment.segmentName, holder);
    else if (holders.size !== 0) holders.delete(this.segment.segmentName);
    this.#ownerDied = outcome === Outcome.OwnerDied;
    return true;
  }

  // True (and counted) when this thread holds the lock in a chain that includes the caller's.
  #reenter(base: number): boolean | 'other-chain' {
    if ((Atomics.load(this.words, WORD) & ~CONTENDED) !== base) return false;
    if (!inChain(holders.get(this.segment.segmentName))) return 'other-chain';
    const count = this.words[COUNT]!;
    if (count >= 0x7fffffff) throw new RangeError('RLock recursion is too deep');
    this.words[COUNT] = count < 1 ? 2 : count + 1;
    return true;
  }

  /** Takes the lock if free, or re-enters it; never waits. */
  tryAcquire(): boolean {
    return this.acquireSync({ block: false });
  }

  /**
   * Blocks until the lock is taken or re-entered (true) or `timeout` ms pass (false). Throws
   * ProcessError when another async chain of this thread holds it and no timeout is given.
   */
  acquireSync(options?: SyncWaitOptions): boolean {
    const words = this.words;
    const base = this.#base !== 0 ? this.#base : this.#me();
    const timeout = options === undefined ? Infinity : syncTimeoutOf(options);
    if (words.length === 0 || Atomics.load(words, 3) === 2) this.check();
    const holder = currentChain();
    if (Atomics.compareExchange(words, WORD, 0, base) === 0) return this.#fresh(holder, Outcome.Acquired);
    const reentered = this.#reenter(base);
    if (reentered === true) return true;
    if (reentered === 'other-chain' && timeout === Infinity) throw selfDeadlock(this.label);
    return this.#fresh(holder, acquireWordSync(this.#site, base, timeout));
  }

  /** Resolves true once taken or re-entered, false when `timeout` ms pass; AbortError on abort. */
  async acquire(options?: WaitOptions): Promise<boolean> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    return this.#acquire(timeoutOf(options), options?.signal, currentChain());
  }

  async #acquire(timeout: number, signal: AbortSignal | undefined, holder: ChainNode | undefined): Promise<boolean> {
    this.check();
    if (signal?.aborted) throw new AbortError();
    const base = this.#me();
    if (Atomics.compareExchange(this.words, WORD, 0, base) === 0) return this.#fresh(holder, Outcome.Acquired);
    if (this.#reenter(base) === true) return true;
    return this.#fresh(holder, await acquireWord(this.#site, base, timeout, signal));
  }

  /** Releases one level. Throws ProcessError when this thread does not hold the lock. */
  release(): void {
    const words = this.words;
    // #base is 0 when this handle never acquired: the thread may hold it through another handle.
    const base = this.#base !== 0 ? this.#base : words.length === 0 ? 0 : this.#me();
    if (base !== 0 && words.length !== 0 && (Atomics.load(words, WORD) & ~CONTENDED) === base) {
      const count = words[COUNT]!;
      if (count > 1) {
        words[COUNT] = count - 1;
        return;
      }
      words[COUNT] = 0;
      if (holders.size !== 0) holders.delete(this.segment.segmentName);
      if (Atomics.compareExchange(words, WORD, base, 0) === base) return;
      releaseWord(words, WORD, base);
      return;
    }
    this.check();
    throw notHeld(this.label, Atomics.load(words, WORD), this.#me());
  }

  /**
   * Runs `fn` holding the lock and returns its result; releases even when it throws. Inside
   * `fn`, and in every async call it makes, the lock re-enters; other async chains queue.
   */
  async withLock<T>(fn: () => T | Promise<T>, options?: WithLockOptions): Promise<Awaited<T>> {
    checkFn(fn);
    checkOptionsBag(options);
    checkSignal(options?.signal);
    const timeout = timeoutOf(options);
    const current = currentChain();
    const base = this.#me();
    this.check();
    if (this.#reenter(base) === true) {
      try {
        return await run(fn);
      } finally {
        this.release();
      }
    }
    const node: ChainNode = { parent: current };
    if (!(await this.#acquire(timeout, options?.signal, node)))
      throw new TimeoutError(`${this.label} not acquired within the timeout`);
    chainsEntered = true;
    return chains.run(node, async (): Promise<Awaited<T>> => {
      try {
        return await run(fn);
      } finally {
        this.release();
      }
    });
  }

  /** The blocking twin of `withLock`; `fn` should be synchronous. */
  withLockSync<T>(fn: () => T): T {
    if (typeof fn !== 'function') checkFn(fn);
    // The acquire and release fast paths, inline: this is the hot loop of shared counters, and
    // fewer calls matter most before the JIT has warmed up.
    const words = this.words;
    const base = this.#base;
    if (base !== 0 && words.length !== 0 && words[3] !== 2 && Atomics.compareExchange(words, WORD, 0, base) === 0) {
      words[COUNT] = 1;
      if (chainsEntered || holders.size !== 0) this.#fresh(currentChain(), Outcome.Acquired);
      else this.#ownerDied = false;
    } else {
      this.acquireSync();
    }
    try {
      return fn();
    } finally {
      // release()'s own fast path: the count is cleared before the word, which the next owner
      // may take at once.
      const me = this.#base;
      if (words[COUNT] === 1 && holders.size === 0 && (Atomics.load(words, WORD) & ~CONTENDED) === me) {
        words[COUNT] = 0;
        if (Atomics.compareExchange(words, WORD, me, 0) !== me) releaseWord(words, WORD, me);
      } else {
        this.release();
      }
    }
  }

  [kOwned](): boolean {
    return (
      this.words.length !== 0 &&
      (Atomics.load(this.words, WORD) & ~CONTENDED) === this.#me() &&
      inChain(holders.get(this.segment.segmentName))
    );
  }

  [kSuspend](): LockState {
    const count = Math.max(1, this.words[COUNT]!);
    const holder = holders.get(this.segment.segmentName);
    this.words[COUNT] = 1;
    this.release();
    return { count, holder };
  }

  [kResumeSync](state: LockState): void {
    this.check();
    const base = this.#me();
    const outcome =
      Atomics.compareExchange(this.words, WORD, 0, base) === 0
        ? Outcome.Acquired
        : acquireWordSync(this.#site, base, Infinity);
    this.#fresh(state.holder, outcome);
    this.words[COUNT] = state.count;
  }

  async [kResume](state: LockState): Promise<void> {
    this.check();
    const base = this.#me();
    const outcome =
      Atomics.compareExchange(this.words, WORD, 0, base) === 0
        ? Outcome.Acquired
        : await acquireWord(this.#site, base, Infinity, undefined);
    this.#fresh(state.holder, outcome);
    this.words[COUNT] = state.count;
  }

  override toString(): string {
    return `${this.label}(${this.segment.segmentName})`;
  }
}

registerHandleKind(RLock.handleKind, (descriptor) => RLock.fromHandle(descriptor));
