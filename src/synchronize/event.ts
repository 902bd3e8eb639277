// Event: a flag shared between processes that waiters can sleep on.
//
// Layout after the segment header (byte offsets from the start of the segment):
//
//   offset  type  field
//   64      u32   state: bit 0 the flag, bits 1-31 a generation bumped by every set() of a clear flag
//   68      i32   waiters: threads parked (or about to park) on state
//   72..127       reserved, zero
//
// A waiter parks on the exact state it saw with the flag clear. Any change of that word means a
// set() happened since (clear() only changes a word whose flag is set), so the waiter reports
// true even when another process cleared the flag again before it woke: threading.Event's
// semantics, and no set() is ever missed.
import { native } from '../binding.js';
import { AbortError } from '../errors.js';
import { waitWord } from '../futex.js';
import { registerHandleKind, type HandleDescriptor } from '../handles.js';
import { Segment, type SegmentKind } from '../segment.js';
import {
  checkOptionsBag,
  checkSignal,
  deadlineOf,
  remaining,
  timeoutOf,
  type SyncWaitOptions,
  type WaitOptions,
} from '../util.js';
import { parkSync } from './lock-word.js';
import { attach, handleSegment, isAttaching, namedOptions, SharedObject, type NamedOptions } from './base.js';

const STATE = 16;
const WAITERS = 17;
const BYTES = 64;

export const EVENT_KIND: SegmentKind = { tag: 'EVNT', version: 1, label: 'Event' };

/**
 * A flag shared between processes (Python's `multiprocessing.Event`): `set()` wakes every
 * waiter, `clear()` resets it, `wait()` sleeps until it is set.
 */
export class Event extends SharedObject {
  static readonly handleKind: string = 'Event';

  /** Creates a clear event; `{ name }` makes it openable with `Event.open(name)`. */
  constructor(options?: NamedOptions) {
    super(EVENT_KIND, BYTES, () => {}, isAttaching() ? {} : namedOptions(options));
  }

  /** Opens an event created with `{ name }`. Throws ENOENT when there is none. */
  static open(name: string): Event {
    return attach(Segment.openNamed(EVENT_KIND, name), () => new Event());
  }

  /** Revives a descriptor made by `toHandle()`. */
  static fromHandle(descriptor: HandleDescriptor): Event {
    return attach(handleSegment(EVENT_KIND, Event.handleKind, descriptor), () => new Event());
  }

  /** True when the flag is set. */
  isSet(): boolean {
    this.check();
    return (Atomics.load(this.words, STATE) & 1) === 1;
  }

  /** Sets the flag and wakes every waiter, in every process. */
  set(): void {
    this.check();
    const words = this.words;
    for (;;) {
      const state = Atomics.load(words, STATE);
      if ((state & 1) === 1) return;
      if (Atomics.compareExchange(words, STATE, state, (state + 2) | 1) === state) break;
    }
    if (Atomics.load(words, WAITERS) > 0) native.futexWake(words.buffer as ArrayBuffer, STATE * 4);
  }

  /** Clears the flag. */
  clear(): void {
    this.check();
    const words = this.words;
    for (;;) {
      const state = Atomics.load(words, STATE);
      if ((state & 1) === 0 || Atomics.compareExchange(words, STATE, state, state & ~1) === state) return;
    }
  }

  /** Blocks until the flag is set (true) or `timeout` ms pass (false). */
  waitSync(options?: Pick<SyncWaitOptions, 'timeout'>): boolean {
    checkOptionsBag(options);
    const timeout = timeoutOf(options);
    this.check();
    const words = this.words;
    const seen = Atomics.load(words, STATE);
    if ((seen & 1) === 1) return true;
    if (timeout <= 0) return false;
    Atomics.add(words, WAITERS, 1);
    try {
      const deadline = deadlineOf(timeout);
      for (;;) {
        this.check();
        if (Atomics.load(words, STATE) !== seen) return true;
        const left = remaining(deadline);
        if (left <= 0) return false;
        parkSync(words.buffer as ArrayBuffer, STATE * 4, seen, left);
      }
    } finally {
      if (words.length !== 0) Atomics.sub(words, WAITERS, 1);
    }
  }

  /** Resolves true once the flag is set, false when `timeout` ms pass; AbortError on abort. */
  async wait(options?: WaitOptions): Promise<boolean> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    const timeout = timeoutOf(options);
    this.check();
    if (options?.signal?.aborted) throw new AbortError();
    const words = this.words;
    const seen = Atomics.load(words, STATE);
    if ((seen & 1) === 1) return true;
    if (timeout <= 0) return false;
    Atomics.add(words, WAITERS, 1);
    try {
      const deadline = deadlineOf(timeout);
      for (;;) {
        this.check();
        if (Atomics.load(words, STATE) !== seen) return true;
        const left = remaining(deadline);
        if (left <= 0) return false;
        await waitWord(words.buffer as ArrayBuffer, STATE * 4, seen, left, options?.signal);
      }
    } finally {
      if (words.length !== 0) Atomics.sub(words, WAITERS, 1);
    }
  }

  override toString(): string {
    return `Event(${this.words.length === 0 ? 'closed' : this.isSet() ? 'set' : 'unset'})`;
  }
}

registerHandleKind(Event.handleKind, (descriptor) => Event.fromHandle(descriptor));
