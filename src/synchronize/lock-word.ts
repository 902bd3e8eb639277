// The owner-aware lock word every lock of this library is built on (Lock, RLock, the mutex inside
// a Barrier), and the spin/park policy every blocking primitive shares.
//
// One 32-bit word in shared memory:
//
//   0                              free
//   owner | CONTENDED?             held; `owner` is the holder's ownerToken() with bit 15 cleared,
//                                  bit 15 (CONTENDED) set when someone may be parked on the word
//
// This is Drepper's three-state futex mutex ("Futexes Are Tricky", mutex3) with the owner
// recorded in the word: acquiring is one compareExchange(0 -> owner), releasing one
// compareExchange(owner -> 0) when nobody waits, so the uncontended path makes no system call.
// A waiter sets CONTENDED before it parks and parks on the exact value it saw, so a release
// that cleared the word (or an ABA re-acquisition by the same owner, which lacks the bit) makes
// the kernel refuse the sleep. A release that finds CONTENDED wakes one waiter.
//
// Why bit 15: owner tokens are `slot << 16 | generation & 0xffff` (slot >= 1), so any token
// with bit 15 cleared is still non-zero and still unique among live threads (a live slot has
// one owner). The cost is that liveness is checked for both values of that bit: a dead owner
// is mistaken for a live one only if its registry slot was claimed 32768 times since, which the
// random slot choice makes vanishingly rare.
//
// Memory order: JS Atomics are sequentially consistent, which covers the acquire (CAS) and
// release (CAS/exchange) orders a mutex needs; plain loads and stores of the data a lock guards
// are not moved across them by V8 (Atomics calls are effectful).
import { native, WaitResult } from '../binding.js';
import { AbortError, Closed } from '../errors.js';
import { waitWord, waitWordSync } from '../futex.js';
import { isOwnerAlive } from '../liveness.js';
import { spinAllowed } from '../spin.js';
import { deadlineOf, remaining } from '../util.js';

/** Bit 15 of a held lock word: a waiter may be parked on it. */
export const CONTENDED = 0x8000;
/** The longest a waiter sleeps before it checks whether the owner died. */
export const SLICE_MS = 100;

/** The value this thread writes into lock words: its owner token with bit 15 cleared. */
export function ownerBase(token: number): number {
  return token & ~CONTENDED;
}

/** Whether the owner recorded in a held lock word is still running. */
export function storedOwnerAlive(word: number): boolean {
  const base = (word & ~CONTENDED) >>> 0;
  return isOwnerAlive(base) || isOwnerAlive((base | CONTENDED) >>> 0);
}

/** Outcome of the slow acquire paths. */
export const enum Outcome {
  TimedOut = 0,
  Acquired = 1,
  /** Acquired from an owner that died holding it. */
  OwnerDied = 2,
}

// Spinning is worth it only while the holder is running on another core (spin.ts says when).
const SPIN_ITERATIONS = 400;

/** How many times a blocked acquire may re-check its word before parking (0: do not spin). */
export function spinBudget(): number {
  return spinAllowed() ? SPIN_ITERATIONS : 0;
}

/** waitWordSync: EINTR throws only when JavaScript listens for signals (see futex.ts). */
export function parkSync(buffer: ArrayBuffer, byteOffset: number, expected: number, timeout: number): WaitResult {
  return waitWordSync(buffer, byteOffset, expected, timeout);
}

/** A lock word inside a segment: the word array, the word's index, and how to tell it closed. */
export interface WordSite {
  /** Int32Array over the whole segment (length 0 once the segment is unmapped). */
  readonly words: Int32Array;
  readonly index: number;
  /** Throws Closed when the segment is closed here or was unlinked by anyone. */
  check(): void;
  readonly label: string;
}

function tryTake(words: Int32Array, index: number, base: number, spins: number): boolean {
  for (let i = 0; i < spins; i++) {
    if (Atomics.load(words, index) === 0 && Atomics.compareExchange(words, index, 0, base) === 0) return true;
  }
  return false;
}

/**
 * One step of the contended protocol. Returns an Outcome when the word was taken, null to retry
 * at once, false for "held, and not waiting" (when `park` is false), or the value to park on
 * (with CONTENDED set).
 */
function step(
  words: Int32Array,
  index: number,
  base: number,
  checkOwner: boolean,
  park: boolean,
): Outcome | number | null | false {
  const seen = Atomics.load(words, index);
  if (seen === 0) {
    // Whoever takes the word after waiting keeps CONTENDED: other waiters may still be parked.
    return Atomics.compareExchange(words, index, 0, park ? base | CONTENDED : base) === 0 ? Outcome.Acquired : null;
  }
  if (checkOwner && (seen & ~CONTENDED) !== base && !storedOwnerAlive(seen)) {
    return Atomics.compareExchange(words, index, seen, base | CONTENDED) === seen ? Outcome.OwnerDied : null;
  }
  if (!park) return false;
  if ((seen & CONTENDED) === 0 && Atomics.compareExchange(words, index, seen, seen | CONTENDED) !== seen) return null;
  return seen | CONTENDED;
}

/**
 * Blocks until the word is taken for `base` or `timeout` ms pass. The fast path (a free word)
 * is the caller's; this is what runs after it failed. Never returns early for a word this thread
 * holds: the caller decides about self-deadlock first.
 */
export function acquireWordSync(site: WordSite, base: number, timeout: number): Outcome {
  const { words, index } = site;
  if (timeout > 0 && tryTake(words, index, base, spinBudget())) return Outcome.Acquired;
  const deadline = deadlineOf(timeout);
  let checkOwner = true;
  let woken = false;
  for (;;) {
    site.check();
    const left = remaining(deadline);
    const next = step(words, index, base, checkOwner, left > 0);
    if (next === null) continue;
    if (next === Outcome.Acquired || next === Outcome.OwnerDied) return next;
    if (next === false) {
      // A wake we consumed must not be lost to the waiters still parked.
      if (woken) native.futexWake(words.buffer as ArrayBuffer, index * 4, 1);
      return Outcome.TimedOut;
    }
    const result = parkSync(words.buffer as ArrayBuffer, index * 4, next, Math.min(left, SLICE_MS));
    woken = result === WaitResult.Woken;
    checkOwner = result === WaitResult.TimedOut;
  }
}

/** The async twin of {@link acquireWordSync}: parks in the native waiter, never on the event loop. */
export async function acquireWord(
  site: WordSite,
  base: number,
  timeout: number,
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  const { words, index } = site;
  const deadline = deadlineOf(timeout);
  let checkOwner = true;
  let woken = false;
  for (;;) {
    site.check();
    if (signal?.aborted) {
      passOn(site);
      throw new AbortError();
    }
    const left = remaining(deadline);
    const next = step(words, index, base, checkOwner, left > 0);
    if (next === null) continue;
    if (next === Outcome.Acquired || next === Outcome.OwnerDied) return next;
    if (next === false) {
      if (woken) native.futexWake(words.buffer as ArrayBuffer, index * 4, 1);
      return Outcome.TimedOut;
    }
    let result: WaitResult;
    try {
      result = await waitWord(words.buffer as ArrayBuffer, index * 4, next, Math.min(left, SLICE_MS), signal);
    } catch (error) {
      passOn(site);
      throw error;
    }
    if (result === WaitResult.Cancelled) site.check();
    if (words.length === 0) throw new Closed(`${site.label} is closed`);
    woken = result === WaitResult.Woken;
    checkOwner = result === WaitResult.TimedOut;
  }
}

// An aborted waiter may have consumed the wake meant for the next one: hand it on.
function passOn(site: WordSite): void {
  if (site.words.length > 0 && (Atomics.load(site.words, site.index) & CONTENDED) !== 0) {
    native.futexWake(site.words.buffer as ArrayBuffer, site.index * 4, 1);
  }
}

/**
 * Releases a word this thread holds. Returns false (and changes nothing) when the word is not
 * held by `base`.
 */
export function releaseWord(words: Int32Array, index: number, base: number): boolean {
  if (Atomics.compareExchange(words, index, base, 0) === base) return true;
  const seen = Atomics.load(words, index);
  if ((seen & ~CONTENDED) !== base || seen === 0) return false;
  Atomics.store(words, index, 0);
  native.futexWake(words.buffer as ArrayBuffer, index * 4, 1);
  return true;
}
