// How a blocked queue operation waits: a short spin when a CPU is free for it, then a park on a
// futex word of the ring; and how it gets past a party that died holding what it waits for.
import { isOwnerAlive, ownerToken } from '../liveness.js';
import { BlockerKind, type Dispose, type Ring } from '../ring/ring.js';
import { spinAllowed, spinUntil as spinFor } from '../spin.js';

/** How long a blocked operation waits before it asks whether its blocker is alive. */
export const GRACE_MS = 10;
/** Longest park while blocked by a claim: the blocker's liveness is checked again after it. */
export const LIVENESS_SLICE_MS = 50;
/** The longest spin before parking (ms). */
const SPIN_MS = 0.05;
const MAX_RETRIES = 8;

/** Spins (bounded in time, and only when spinning may pay: spin.ts) until `ready()`; true when it became ready. */
export function spinUntil(ready: () => boolean): boolean {
  return spinAllowed() && spinFor(ready, SPIN_MS);
}

// Liveness answers: a dead token stays dead (tokens are never reused); an alive answer is kept
// for a short while, so a waiter does not make a syscall per retry.
const deadTokens = new Set<number>();
const aliveUntil = new Map<number, number>();

function isDead(owner: number): boolean {
  if (owner < 0x10000 || deadTokens.has(owner)) return true;
  const now = performance.now();
  const until = aliveUntil.get(owner);
  if (until !== undefined && until > now) return false;
  if (isOwnerAlive(owner)) {
    if (aliveUntil.size > 1024) aliveUntil.clear();
    aliveUntil.set(owner, now + LIVENESS_SLICE_MS / 2);
    return false;
  }
  deadTokens.add(owner);
  aliveUntil.delete(owner);
  return true;
}

/**
 * The patience of one blocked operation. The grace time runs from when the operation stopped
 * making progress, whatever blocks it meanwhile: blockers alternate (another producer's brief
 * claim, then a dead consumer's record), so timing each blocker on its own could wait forever.
 */
export class Patience {
  #stalledSince = 0;
  readonly #timeout: number;
  #deadline = -1;

  /** `timeout`: ms the whole operation may wait (Infinity: no limit; 0: none). */
  constructor(timeout = Infinity) {
    this.#timeout = timeout;
  }

  /** Milliseconds left (the clock starts at the first call: fast paths never read it). */
  left(): number {
    if (this.#timeout === Infinity) return Infinity;
    if (this.#deadline < 0) this.#deadline = performance.now() + this.#timeout;
    return this.#deadline - performance.now();
  }

  /** Whether the operation is blocked by a claim (it must park in short slices). */
  blockedByClaim = false;

  /**
   * After the ring reported Busy or Full: recovers the blocker if its owner is dead and the
   * grace time is over (or the claim is this thread's own, left by an interrupted call). True
   * when something was recovered: retry at once.
   */
  handle(ring: Ring, dispose: Dispose): boolean {
    const now = performance.now();
    if (this.#stalledSince === 0) this.#stalledSince = now;
    this.blockedByClaim = ring.blockerKind !== BlockerKind.None;
    if (!this.blockedByClaim) return false;
    const owner = ring.blockerOwner;
    // A claim of our own thread at the tail can only be left by a call that threw midway (ring
    // calls are synchronous); a taken record of our own is an async get still reading it.
    const abandoned = owner === ownerToken() && ring.blockerKind !== BlockerKind.Taken;
    if (!abandoned && (now - this.#stalledSince < GRACE_MS || owner === ownerToken() || !isDead(owner))) {
      return false;
    }
    return ring.recover(dispose);
  }

  /**
   * Counts a retry without parking (after a spin, a recheck or a recovery). Past a few in a row
   * the caller parks briefly instead: with corrupt counters a retry could succeed forever
   * without the operation ever succeeding.
   */
  retry(): boolean {
    return ++this.#retries <= MAX_RETRIES;
  }

  /** The caller parked: retries start over. */
  parked(): void {
    this.#retries = 0;
  }

  #retries = 0;
}
