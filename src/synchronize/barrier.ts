// Barrier: `parties` processes (or async tasks) wait until all have arrived, then all go on.
// threading.Barrier's algorithm over words in shared memory, guarded by an internal lock word.
//
// Layout after the segment header (byte offsets from the start of the segment):
//
//   offset  type  field
//   64      i32   mutex: an owner-aware lock word (lock-word.ts) guarding the fields below
//   68      i32   parties (constant)
//   72      i32   count: parties arrived in the current cycle
//   76      u32   passes: cycles completed (a waiter passed when this moved on)
//   80      u32   resets: reset() calls (a waiter of an older reset is broken)
//   84      i32   broken: 1 after abort(), a timed-out wait or a failed action, until reset()
//   88      u32   phase: bumped on every pass, break and reset; waiters park on it
//   92      i32   waiters: threads parked (or about to park) on phase
//   96      i32   1 when the barrier was made with an action
//   104     f64   default timeout in ms (Infinity: none)
//   112     u32   length of the action's target spec (0: no action)
//   116..127      reserved, zero
//   128     [len] the action's target spec (target.ts TargetSpec) as JSON text: every process
//                 that attaches loads the action from it, as Python unpickles it by reference
//
// The spec is read once per handle and checked (length within the segment, JSON of the right
// shape): corrupt memory is a CorruptionError, never a load of arbitrary text as code beyond what
// a target of this user could name anyway.
import { native, WaitResult } from '../binding.js';
import { compileFunctionSync, loadTarget } from '../child.js';
import { AbortError, BrokenBarrierError, ProcessError } from '../errors.js';
import { waitWord } from '../futex.js';
import { addRevivalWork, registerHandleKind, type HandleDescriptor } from '../handles.js';
import { ownerToken } from '../liveness.js';
import { Segment, type SegmentKind } from '../segment.js';
import { prepareTarget, type Target, type TargetSpec } from '../target.js';
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
import { attach, handleSegment, isAttaching, namedOptions, SharedObject, type NamedOptions } from './base.js';
import {
  acquireWord,
  acquireWordSync,
  CONTENDED,
  Outcome,
  ownerBase,
  parkSync,
  releaseWord,
  type WordSite,
} from './lock-word.js';

const MUTEX = 16;
const PARTIES = 17;
const COUNT = 18;
const PASSES = 19;
const RESETS = 20;
const BROKEN = 21;
const PHASE = 22;
const WAITERS = 23;
const HAS_ACTION = 24;
const TIMEOUT_BYTE = 104;
const SPEC_LENGTH = 28;
const SPEC_BYTE = 128;
const BYTES = 64; // 64..127, then the spec
/** The largest action spec (a function target's source text) a barrier carries. */
const MAX_SPEC_BYTES = 64 * 1024;

export const BARRIER_KIND: SegmentKind = { tag: 'BARR', version: 2, label: 'Barrier' };

/**
 * What the last party runs before the others are released: a target (section 2 of API.md), so
 * that every process can run it: a module reference `{ module, name }`, or a self-contained
 * function (sent as source text to other processes).
 */
export type BarrierAction = Target;

type LocalAction = (...args: never[]) => unknown;

/** Options of `new Barrier(parties, options)`. */
export interface BarrierOptions extends NamedOptions {
  /**
   * Run by the last party to arrive, whichever process that is, before any party is released;
   * if it throws, the barrier breaks. A target: `{ module, name }` or a self-contained function
   * (the creator runs the function itself; other processes compile its source, so it may use
   * only its globals and import()). Every process that revives the barrier loads it.
   */
  action?: BarrierAction | undefined;
  /** Default timeout of `wait` in ms (absent: none). */
  timeout?: number | null | undefined;
}

/** Options of `Barrier.open` and `Barrier.fromHandle`. */
export interface BarrierAttachOptions {
  /**
   * A function this process runs as the action instead of loading the barrier's own (for an
   * action that needs this process's scope). Ignored for a barrier made without an action.
   */
  action?: LocalAction | undefined;
}

function checkLocalAction(action: unknown): LocalAction | undefined {
  if (action !== undefined && typeof action !== 'function') {
    throw new TypeError(`action must be a function (got ${describe(action)})`);
  }
  return action as LocalAction | undefined;
}

/** The creator's action: what it runs itself, and the spec the others load. */
function prepareAction(action: unknown): { local: LocalAction | undefined; spec: Buffer | undefined } {
  if (action === undefined) return { local: undefined, spec: undefined };
  if (typeof action !== 'function' && (typeof action !== 'object' || action === null)) {
    throw new TypeError(`action must be a function or { module, name } (got ${describe(action)})`);
  }
  const spec = Buffer.from(JSON.stringify(prepareTarget(action, process.cwd())), 'utf8');
  if (spec.length > MAX_SPEC_BYTES) {
    throw new RangeError(`the action's source is ${spec.length} bytes; a barrier carries at most ${MAX_SPEC_BYTES}`);
  }
  return { local: typeof action === 'function' ? (action as LocalAction) : undefined, spec };
}

function isSpec(value: unknown): value is TargetSpec {
  const spec = value as Record<string, unknown> | null;
  if (typeof spec !== 'object' || spec === null || typeof spec.name !== 'string') return false;
  if (spec.kind === 'module') return typeof spec.url === 'string';
  return spec.kind === 'function' && typeof spec.source === 'string' && typeof spec.base === 'string';
}

/**
 * A barrier shared between processes (Python's `multiprocessing.Barrier`). `wait()` resolves
 * with this party's arrival index (0 to parties - 1) once all parties have arrived, and rejects
 * with BrokenBarrierError when the barrier is broken, reset or aborted, or its wait times out.
 */
export class Barrier extends SharedObject {
  static readonly handleKind: string = 'Barrier';
  readonly #site: WordSite;
  #action: LocalAction | undefined;
  /** This process is loading the barrier's action (never rejects). */
  #loading: Promise<void> | undefined;
  #loadError: unknown;
  #base = 0;

  /** `parties` is an integer >= 1. Throws TypeError/RangeError for bad arguments. */
  constructor(parties: number, options?: BarrierOptions) {
    const attaching = isAttaching();
    let action: ReturnType<typeof prepareAction> = { local: undefined, spec: undefined };
    let timeout = Infinity;
    let named: NamedOptions = {};
    if (!attaching) {
      checkInteger(parties, 'parties', 1, 0x7fffffff);
      checkOptionsBag(options);
      action = prepareAction(options?.action);
      timeout = timeoutOf(options);
      named = namedOptions(
        options === undefined ? undefined : { name: options.name, create: options.create, mode: options.mode },
      );
    }
    const spec = action.spec;
    super(
      BARRIER_KIND,
      BYTES + (((spec?.length ?? 0) + 3) & ~3), // words span the whole segment
      (words) => {
        words[PARTIES] = parties;
        words[HAS_ACTION] = spec === undefined ? 0 : 1;
        words[SPEC_LENGTH] = spec?.length ?? 0;
        if (spec !== undefined) new Uint8Array(words.buffer as ArrayBuffer, SPEC_BYTE, spec.length).set(spec);
        new DataView(words.buffer as ArrayBuffer).setFloat64(TIMEOUT_BYTE, timeout, true);
      },
      named,
    );
    this.#site = this.site(MUTEX);
    if (this.parties < 1) this.corrupt(`parties ${this.parties}`);
    if (!attaching) this.#prepare(action.local);
  }

  /** Opens a barrier created with `{ name }`. Throws ENOENT when there is none. */
  static open(name: string, options?: BarrierAttachOptions): Barrier {
    checkOptionsBag(options);
    const local = checkLocalAction(options?.action);
    const barrier = attach(Segment.openNamed(BARRIER_KIND, name), () => new Barrier(0));
    barrier.#prepare(local);
    return barrier;
  }

  /** Revives a descriptor made by `toHandle()`; `action` overrides the barrier's own in this process. */
  static fromHandle(descriptor: HandleDescriptor, options?: BarrierAttachOptions): Barrier {
    checkOptionsBag(options);
    const local = checkLocalAction(options?.action);
    const barrier = attach(handleSegment(BARRIER_KIND, Barrier.handleKind, descriptor), () => new Barrier(0));
    barrier.#prepare(local);
    return barrier;
  }

  // The action this process runs: `local`, or the barrier's own, loaded in the background now
  // (the child's entry waits for that before it runs its target; wait() waits for it too).
  #prepare(local: LocalAction | undefined): void {
    if (Atomics.load(this.words, HAS_ACTION) !== 1) return;
    if (local !== undefined) {
      this.#action = local;
      return;
    }
    const spec = this.#readSpec();
    if (spec.kind === 'function') {
      // Compiled at once: a blocking waitSync right after reviving the barrier can run it.
      try {
        this.#action = compileFunctionSync(spec);
      } catch (error) {
        this.#loadError = error;
      }
      return;
    }
    this.#loading = loadTarget(spec, false).then(
      (fn) => {
        this.#action = fn;
        this.#loading = undefined;
      },
      (error: unknown) => {
        this.#loadError = error;
        this.#loading = undefined;
      },
    );
    addRevivalWork(this.#loading);
  }

  #readSpec(): TargetSpec {
    const length = Atomics.load(this.words, SPEC_LENGTH) >>> 0;
    const room = (this.segment.buffer.byteLength - SPEC_BYTE) | 0;
    if (length === 0 || length > MAX_SPEC_BYTES || length > room) this.corrupt(`action spec of ${length} bytes`);
    let spec: unknown;
    try {
      spec = JSON.parse(Buffer.from(this.segment.buffer, SPEC_BYTE, length).toString('utf8'));
    } catch {
      spec = undefined;
    }
    if (!isSpec(spec)) this.corrupt('an action spec that is not a target');
    return spec;
  }

  /** The number of parties. */
  get parties(): number {
    this.check();
    return Atomics.load(this.words, PARTIES);
  }

  /** How many parties are waiting now. */
  get nWaiting(): number {
    this.check();
    return Atomics.load(this.words, BROKEN) === 1 ? 0 : Atomics.load(this.words, COUNT);
  }

  /** True when the barrier is broken (until `reset()`). */
  get broken(): boolean {
    this.check();
    return Atomics.load(this.words, BROKEN) === 1;
  }

  #me(): number {
    return this.#base !== 0 ? this.#base : (this.#base = ownerBase(ownerToken()));
  }

  #lockSync(): void {
    this.check();
    const base = this.#me();
    if (Atomics.compareExchange(this.words, MUTEX, 0, base) === 0) return;
    if ((Atomics.load(this.words, MUTEX) & ~CONTENDED) === base) {
      throw new ProcessError(
        'an async wait of this thread is running the barrier action: a blocking call now would deadlock',
      );
    }
    acquireWordSync(this.#site, base, Infinity);
  }

  async #lock(): Promise<void> {
    this.check();
    const base = this.#me();
    if (Atomics.compareExchange(this.words, MUTEX, 0, base) === 0) return;
    const outcome = await acquireWord(this.#site, base, Infinity, undefined);
    if (outcome === Outcome.TimedOut) throw new Error('unreachable: an untimed acquire timed out');
  }

  #unlock(): void {
    if (this.words.length !== 0) releaseWord(this.words, MUTEX, this.#me());
  }

  // Under the mutex: marks the barrier broken and wakes every waiter.
  #break(): void {
    Atomics.store(this.words, BROKEN, 1);
    this.#bump();
  }

  #bump(): void {
    Atomics.add(this.words, PHASE, 1);
    if (Atomics.load(this.words, WAITERS) > 0) native.futexWake(this.words.buffer as ArrayBuffer, PHASE * 4);
  }

  #timeout(options: Pick<SyncWaitOptions, 'timeout'> | undefined): number {
    if (options?.timeout !== undefined) return timeoutOf(options);
    return new DataView(this.words.buffer as ArrayBuffer).getFloat64(TIMEOUT_BYTE, true);
  }

  // Under the mutex: registers an arrival. Returns the arrival index and the cycle's identity,
  // or `true` in `last` when this party completes the cycle (the caller runs the action).
  #arrive(): { index: number; passes: number; resets: number; last: boolean } {
    const words = this.words;
    if (Atomics.load(words, BROKEN) !== 0) throw new BrokenBarrierError();
    const parties = Atomics.load(words, PARTIES);
    const index = Atomics.load(words, COUNT);
    if (index < 0 || index >= parties) this.corrupt(`count ${index} of ${parties} parties`);
    Atomics.store(words, COUNT, index + 1);
    const last = index + 1 === parties;
    return { index, passes: Atomics.load(words, PASSES), resets: Atomics.load(words, RESETS), last };
  }

  // Under the mutex, by the last party: breaks the barrier when it has an action this process
  // could not load.
  #checkLoaded(): void {
    if (Atomics.load(this.words, HAS_ACTION) !== 1 || this.#action !== undefined) return;
    this.#break();
    throw new BrokenBarrierError('the barrier action could not be loaded in this process', { cause: this.#loadError });
  }

  // Under the mutex: the last party releases everyone.
  #pass(): void {
    Atomics.store(this.words, COUNT, 0);
    Atomics.add(this.words, PASSES, 1);
    this.#bump();
  }

  // Without the mutex: has this party's cycle ended, and how?
  #outcome(passes: number, resets: number): 'passed' | 'broken' | 'waiting' {
    const words = this.words;
    if (Atomics.load(words, PASSES) !== passes) return 'passed';
    if (Atomics.load(words, BROKEN) !== 0 || Atomics.load(words, RESETS) !== resets) return 'broken';
    return 'waiting';
  }

  // The wait timed out: under the mutex, break the barrier unless the cycle ended meanwhile.
  #expire(passes: number, resets: number): 'passed' | 'broken' {
    const outcome = this.#outcome(passes, resets);
    if (outcome === 'waiting') this.#break();
    return outcome === 'passed' ? 'passed' : 'broken';
  }

  /**
   * Blocks until all parties have arrived; returns this party's arrival index. Throws
   * BrokenBarrierError when the barrier is or becomes broken, or `timeout` ms pass (which breaks it).
   */
  waitSync(options?: Pick<SyncWaitOptions, 'timeout'>): number {
    checkOptionsBag(options);
    timeoutOf(options);
    this.#lockSync();
    let arrival;
    try {
      // A blocking last party cannot wait for the action's module to load: it does not arrive.
      const wouldBeLast = Atomics.load(this.words, COUNT) + 1 === Atomics.load(this.words, PARTIES);
      if (wouldBeLast && this.#loading !== undefined && Atomics.load(this.words, BROKEN) === 0) {
        throw new ProcessError(
          'the barrier action is still loading in this process: a blocking wait cannot run it yet (use await barrier.wait())',
        );
      }
      arrival = this.#arrive();
      if (arrival.last) {
        this.#checkLoaded();
        if (isThenable(this.#runAction())) {
          this.#break();
          throw new TypeError('an async barrier action needs wait(), not waitSync()');
        }
        this.#pass();
        return arrival.index;
      }
    } finally {
      this.#unlock();
    }
    const words = this.words;
    const deadline = deadlineOf(this.#timeout(options));
    Atomics.add(words, WAITERS, 1);
    try {
      for (;;) {
        this.check();
        const phase = Atomics.load(words, PHASE);
        const outcome = this.#outcome(arrival.passes, arrival.resets);
        if (outcome === 'passed') return arrival.index;
        if (outcome === 'broken') throw new BrokenBarrierError();
        const left = remaining(deadline);
        if (left <= 0) {
          this.#lockSync();
          try {
            if (this.#expire(arrival.passes, arrival.resets) === 'passed') return arrival.index;
          } finally {
            this.#unlock();
          }
          throw new BrokenBarrierError('the barrier wait timed out');
        }
        parkSync(words.buffer as ArrayBuffer, PHASE * 4, phase, left);
      }
    } finally {
      if (words.length !== 0) Atomics.sub(words, WAITERS, 1);
    }
  }

  /** The async twin of `waitSync`: resolves with the arrival index; AbortError on abort (which breaks it). */
  async wait(options?: WaitOptions): Promise<number> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    timeoutOf(options);
    const signal = options?.signal;
    this.check();
    if (signal?.aborted) throw new AbortError();
    await this.#lock();
    let arrival;
    try {
      arrival = this.#arrive();
      if (arrival.last) {
        // Only the last party needs the action: a party that waits for a module still being
        // evaluated (the main module, in its top-level await) must not wait for its import.
        if (this.#loading !== undefined) await this.#loading;
        this.#checkLoaded();
        const result = this.#runAction();
        if (isThenable(result)) {
          try {
            await result;
          } catch (error) {
            this.#break();
            throw error;
          }
        }
        this.#pass();
        return arrival.index;
      }
    } finally {
      this.#unlock();
    }
    const words = this.words;
    const deadline = deadlineOf(this.#timeout(options));
    Atomics.add(words, WAITERS, 1);
    try {
      for (;;) {
        this.check();
        const phase = Atomics.load(words, PHASE);
        const outcome = this.#outcome(arrival.passes, arrival.resets);
        if (outcome === 'passed') return arrival.index;
        if (outcome === 'broken') throw new BrokenBarrierError();
        const left = remaining(deadline);
        let aborted: unknown;
        if (left > 0) {
          try {
            const result = await waitWord(words.buffer as ArrayBuffer, PHASE * 4, phase, left, signal);
            if (result === WaitResult.Cancelled) this.check();
            continue;
          } catch (error) {
            if (!(error instanceof AbortError)) throw error;
            aborted = error;
          }
        }
        // Timed out or aborted: the party leaves, so the others can never pass; break it.
        await this.#lock();
        try {
          if (this.#expire(arrival.passes, arrival.resets) === 'passed') return arrival.index;
        } finally {
          this.#unlock();
        }
        throw aborted ?? new BrokenBarrierError('the barrier wait timed out');
      }
    } finally {
      if (words.length !== 0) Atomics.sub(words, WAITERS, 1);
    }
  }

  // Under the mutex, by the last party: an action that throws breaks the barrier, and its error
  // reaches this party (the others get BrokenBarrierError), as in Python.
  #runAction(): unknown {
    if (this.#action === undefined) return undefined;
    let result: unknown;
    try {
      result = this.#action();
    } catch (error) {
      this.#break();
      throw error;
    }
    // Never an unhandled rejection, whichever form awaits (or refuses) it.
    if (isThenable(result)) Promise.resolve(result).catch(() => {});
    return result;
  }

  /**
   * Returns the barrier to its empty state; parties waiting now get BrokenBarrierError. Blocks
   * briefly for the internal lock.
   */
  reset(): void {
    this.#lockSync();
    try {
      Atomics.store(this.words, COUNT, 0);
      Atomics.store(this.words, BROKEN, 0);
      Atomics.add(this.words, RESETS, 1);
      this.#bump();
    } finally {
      this.#unlock();
    }
  }

  /** Breaks the barrier: waiting and future `wait` calls throw BrokenBarrierError until `reset()`. */
  abort(): void {
    this.#lockSync();
    try {
      this.#break();
    } finally {
      this.#unlock();
    }
  }

  override toString(): string {
    if (this.words.length === 0) return 'Barrier(closed)';
    return `Barrier(parties=${this.parties}, waiting=${this.nWaiting}, broken=${this.broken})`;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

registerHandleKind(Barrier.handleKind, (descriptor) => Barrier.fromHandle(descriptor));
