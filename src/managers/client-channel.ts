// A client's side of its shared-memory channel (channel.ts): requests into the request ring (or a
// queue while the ring is full), replies out of the reply ring, and when to poll or to sleep.
//
// After sending, the caller polls the reply ring briefly in the same turn (a reply usually comes
// back in a few microseconds, much less than waking a sleeping process costs), then between
// event-loop turns for a while, then sleeps: it raises its flag and waits for a doorbell on the
// socket (the connection's listen loop). Both budgets adapt: they shrink while replies keep
// coming late and grow while they come in time. When the machine has no core to spare
// (spin.ts) the caller does not poll: it parks on a futex for a short while (the server wakes it
// directly), then sleeps.
import type { ChannelEnd } from './channel.js';
import { spinAllowed } from '../spin.js';

// Budgets in milliseconds.
const SYNC_SPIN_MIN = 0.005;
const SYNC_SPIN_MAX = 0.05;
const ASYNC_SPIN_MIN = 0.05;
const ASYNC_SPIN_MAX = 0.5;
const BURST = 0.02;
const PARK_MIN = 0.05;
const PARK_MAX = 0.5;

/** What the channel needs from its connection. */
export interface ChannelOwner {
  /** False once the connection ended: stop everything. */
  readonly open: boolean;
  /** True while calls wait for replies. */
  readonly waiting: boolean;
  /** One reply (a view valid during the call); throws on a protocol violation. */
  onReply(bytes: Uint8Array): void;
  /** Sends the peer a doorbell. */
  ring(): void;
  /** Reads the socket for doorbells while something is outstanding. */
  listen(): void;
  /** The channel broke (corrupt): the connection is lost. */
  lost(error: unknown): void;
}

export class ClientChannel {
  readonly end: ChannelEnd;
  readonly #owner: ChannelOwner;
  /** Requests (or their rest) waiting for room in the request ring, in order. */
  #outgoing: { bytes: Buffer; offset: number }[] = [];
  #spinning = false;
  #spinStart = 0;
  #syncSpin = SYNC_SPIN_MAX;
  #asyncSpin = ASYNC_SPIN_MAX;
  #park = PARK_MAX / 2;

  constructor(end: ChannelEnd, owner: ChannelOwner) {
    this.end = end;
    this.#owner = owner;
  }

  /** True while requests wait for room in the ring. */
  get backlogged(): boolean {
    return this.#outgoing.length > 0;
  }

  /** Writes one encoded request (bytes valid during the call only), after any that wait for room. */
  write(bytes: Uint8Array): void {
    if (this.#outgoing.length > 0) {
      this.#outgoing.push({ bytes: Buffer.from(bytes), offset: 0 });
      return;
    }
    const end = this.end;
    const written = end.writer.write(bytes);
    if (written > 0 && end.claimPeerSleeping()) this.#owner.ring();
    if (written < bytes.byteLength) {
      this.#outgoing.push({ bytes: Buffer.from(bytes), offset: written });
      end.block();
      this.#flush();
      this.#owner.listen();
    }
  }

  /** Moves waiting requests into the ring as far as it has room; true when none is left. */
  #flush(): boolean {
    const end = this.end;
    let wrote = false;
    while (this.#outgoing.length > 0) {
      const first = this.#outgoing[0]!;
      const offset = end.writer.write(first.bytes, first.offset);
      wrote ||= offset > first.offset;
      first.offset = offset;
      if (offset < first.bytes.byteLength) break;
      this.#outgoing.shift();
    }
    if (wrote && end.claimPeerSleeping()) this.#owner.ring();
    if (this.#outgoing.length > 0) return false;
    end.unblock();
    return true;
  }

  /** Takes every reply in the ring; returns how many. */
  drain(): number {
    const end = this.end;
    let taken = 0;
    try {
      for (;;) {
        const bytes = end.reader.peek();
        if (bytes === null) break;
        try {
          this.#owner.onReply(bytes);
        } finally {
          end.reader.consume();
        }
        taken++;
      }
    } catch (error) {
      this.#owner.lost(error);
      return taken;
    }
    if (taken > 0 && end.claimPeerBlocked()) this.#owner.ring();
    return taken;
  }

  /** A request went out: poll for its reply for a moment, or sleep. */
  afterSend(): void {
    const owner = this.#owner;
    if (this.#spinning || !owner.waiting) return;
    if (!spinAllowed()) {
      this.#parkForReply();
      if (owner.waiting) this.sleep();
      return;
    }
    const start = performance.now();
    do {
      this.drain();
      if (!owner.waiting) {
        this.#syncSpin = Math.min(SYNC_SPIN_MAX, this.#syncSpin * 1.25);
        return;
      }
    } while (performance.now() - start < this.#syncSpin && owner.open);
    this.#syncSpin = Math.max(SYNC_SPIN_MIN, this.#syncSpin * 0.8);
    this.#startSpin();
  }

  /**
   * When polling is off (an overloaded machine), blocks for a short, adaptive while on a futex
   * instead: the server wakes this thread directly when it publishes a reply, which costs far less
   * than a doorbell through the event loop, and takes no CPU from anyone meanwhile.
   */
  #parkForReply(): void {
    const owner = this.#owner;
    const end = this.end;
    const deadline = performance.now() + this.#park;
    while (owner.waiting && owner.open) {
      end.park();
      if (this.drain() > 0) {
        end.wake();
        continue;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        end.wake();
        this.#park = Math.max(PARK_MIN, this.#park / 2);
        return;
      }
      end.reader.park(left);
      end.wake();
      this.drain();
    }
    if (owner.open && !owner.waiting) this.#park = Math.min(PARK_MAX, this.#park * 1.25);
  }

  /** A doorbell came: the server cleared our flag when it rang, so poll again or raise it again. */
  onDoorbell(): void {
    this.end.wake();
    if (this.#outgoing.length > 0) this.#flush();
    this.drain();
    if (!this.#owner.open || (!this.#owner.waiting && this.#outgoing.length === 0)) return;
    if (spinAllowed()) this.#startSpin();
    else if (!this.#spinning) this.#rearm();
  }

  /** Nothing is outstanding: no doorbell wanted. */
  idle(): void {
    this.end.wake();
  }

  #startSpin(): void {
    if (this.#spinning || !this.#owner.open) return;
    this.#spinning = true;
    this.#spinStart = performance.now();
    setImmediate(this.#burst);
  }

  // Polls between event-loop turns, then goes to sleep until a doorbell.
  readonly #burst = (): void => {
    const owner = this.#owner;
    if (!owner.open) {
      this.#spinning = false;
      return;
    }
    const start = performance.now();
    let now = start;
    while (spinAllowed() && now - start < BURST && owner.open) {
      if (this.#outgoing.length > 0) this.#flush();
      if (this.drain() > 0) {
        this.#spinStart = now;
        this.#asyncSpin = Math.min(ASYNC_SPIN_MAX, this.#asyncSpin * 1.5);
      }
      if (!owner.waiting && this.#outgoing.length === 0) {
        this.#spinning = false;
        return;
      }
      now = performance.now();
    }
    if (spinAllowed() && now - this.#spinStart < this.#asyncSpin && owner.open) {
      setImmediate(this.#burst);
      return;
    }
    this.#asyncSpin = Math.max(ASYNC_SPIN_MIN, this.#asyncSpin / 2);
    this.#spinning = false;
    this.#parkForReply();
    if (owner.waiting || this.#outgoing.length > 0) this.sleep();
  };

  /** Raises this side's flag (re-checking the ring after, see channel.ts) and waits for a doorbell. */
  sleep(): void {
    if (!this.#owner.open) return;
    this.#rearm();
    this.#owner.listen();
  }

  #rearm(): void {
    const end = this.end;
    const owner = this.#owner;
    for (;;) {
      end.sleep();
      const progressed = this.drain() > 0 || (this.#outgoing.length > 0 && this.#flush());
      if (!progressed || !owner.open) return;
      end.wake();
      if (!owner.waiting && this.#outgoing.length === 0) return;
    }
  }

  /** The connection ended: drop what waits, unmap. */
  close(): void {
    this.#outgoing = [];
    this.end.close();
  }
}
