// When a short busy-wait before parking pays. Waking a parked process costs ~20 us here, so a
// receiver that expects an answer within microseconds (ping-pong) spins briefly first. Spinning
// only helps when the peer has a CPU of its own: with more runnable threads than CPUs, the spin
// steals the very CPU the peer needs, so it is off then, and on single-CPU machines.
import { spinAllowed, spinUntil as spinFor } from '../spin.js';

/** How long one spin may last, in ms: about two wake-ups' worth. */
export const SPIN_MS = 0.05;
/** A spin is tried only when this connection was used this recently (ms): the peer is active. */
export const RECENT_MS = 2;

/**
 * How long an async receive may block its thread in a plain (Sync) futex wait before it parks
 * in the native waiter, in ms. That wait burns no CPU, and its wake-up is one thread hop where
 * the async park's is two (waiter thread, then the event loop): for a peer that answers within
 * this time it is the cheap way to wait, even on a busy machine where spinning is off.
 */
export const BRIEF_BLOCK_MS = 0.5;

/**
 * Whether a connection's short waits (spin, brief block) paid: each success raises a score, each
 * failure lowers it twice as fast, and below zero that kind of wait is skipped but for one try
 * in 32. So a peer that answers in microseconds is caught early, and one that does not costs
 * almost nothing. Both kinds are tried only when the connection was used in the last RECENT_MS.
 */
export class SpinPolicy {
  readonly #score = { spin: 0, block: 0 };
  #skipped = 0;

  /** Whether to try `kind` before this park. */
  should(kind: 'spin' | 'block', lastActive: number): boolean {
    if (performance.now() - lastActive >= RECENT_MS) return false;
    if (kind === 'spin' && !spinAllowed()) return false;
    return this.#score[kind] >= 0 || (++this.#skipped & 31) === 0;
  }

  /** Records how a try ended. */
  record(kind: 'spin' | 'block', success: boolean): void {
    const score = this.#score[kind];
    this.#score[kind] = success ? Math.min(score + 1, 8) : Math.max(score - 2, -8);
  }
}

/** Busy-waits until `changed()` or SPIN_MS pass; true when it changed. */
export function spinUntil(changed: () => boolean): boolean {
  return spinFor(changed, SPIN_MS);
}
