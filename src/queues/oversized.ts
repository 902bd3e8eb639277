// The queue's side of messages larger than its ring (the files themselves: overflow.ts): the
// budget of side-file bytes in the queue block, the producer's steps, and a consumer's read of
// a side file that may still be being written.
import { Full } from '../errors.js';
import { isOwnerAlive } from '../liveness.js';
import { RingStatus } from '../ring/ring.js';
import type { Patience } from './waiting.js';
import { decode } from './codec.js';
import type { Park, QueueCore } from './core.js';
import { DROPPED, KIND_BYTES, MAX_MESSAGE, NOTHING, OVERFLOW, Q_MAX_OVERFLOW, Q_OVERFLOW } from './layout.js';
import {
  missing,
  newDescriptor,
  parseDescriptor,
  readSideFile,
  removeSideFile,
  writeSideFile,
  type OverflowDescriptor,
} from './overflow.js';
import { LIVENESS_SLICE_MS } from './waiting.js';

/** A producer's progress through putting one oversized message. */
export interface OversizedPut {
  reserved: boolean;
  done: boolean;
}

export class Oversized {
  readonly #core: QueueCore;
  readonly #u64: BigUint64Array;
  readonly #pending = new Set<PendingRead>();

  constructor(core: QueueCore, u64: BigUint64Array) {
    this.#core = core;
    this.#u64 = u64;
  }

  /** The most bytes side files may hold at once. */
  get maxBytes(): number {
    return Number(Atomics.load(this.#u64, Q_MAX_OVERFLOW));
  }

  /** Bytes of side files reserved now. */
  get usedBytes(): number {
    return Number(Atomics.load(this.#u64, Q_OVERFLOW));
  }

  /** Throws RangeError for a message that could never go through. */
  checkLength(length: number): void {
    if (length > MAX_MESSAGE) throw new RangeError(`a message is at most ${MAX_MESSAGE} bytes (got ${length})`);
    const max = this.maxBytes;
    if (length > max) {
      throw new RangeError(
        `a ${length}-byte message is larger than the ring and than maxOverflowBytes (${max}): it can never go through`,
      );
    }
  }

  #reserve(length: number): boolean {
    const big = BigInt(length);
    for (;;) {
      const used = Atomics.load(this.#u64, Q_OVERFLOW);
      if (used + big > Atomics.load(this.#u64, Q_MAX_OVERFLOW)) return false;
      if (Atomics.compareExchange(this.#u64, Q_OVERFLOW, used, used + big) === used) return true;
    }
  }

  #unreserve(length: number): void {
    const big = BigInt(length);
    for (;;) {
      const used = Atomics.load(this.#u64, Q_OVERFLOW);
      const next = used > big ? used - big : 0n;
      if (Atomics.compareExchange(this.#u64, Q_OVERFLOW, used, next) === used) break;
    }
    this.#core.ring.notifySpace();
  }

  /**
   * One step of putting an oversized message: reserve budget, put the descriptor, write the
   * file (ring first, so a producer killed midway leaves nothing a consumer cannot clean up).
   */
  putStep(payload: Uint8Array, flags: number, patience: Patience, progress: OversizedPut): Park | null {
    const core = this.#core;
    const ring = core.ring;
    for (;;) {
      core.check();
      const descriptorLength = 12 + 120;
      if (!progress.reserved) {
        // Wait for room for the descriptor first: the reservation is held only across one put.
        if (ring.hasRoom(descriptorLength) && this.#reserve(payload.length)) {
          progress.reserved = true;
        } else {
          // What we wait for may be held by a consumer that died reading a message: its record
          // (and the budget of its side file) is recovered when a put runs into it, and this put
          // has put nothing yet. walk() names the taken record that holds the ring back, if any.
          if (ring.walk() === RingStatus.Ok && patience.handle(ring, core.dispose)) continue;
          const left = patience.left();
          if (left <= 0) throw new Full();
          const expected = ring.announceWantSpace();
          if (ring.hasRoom(descriptorLength) && this.usedBytes + payload.length <= this.maxBytes) continue;
          return { offset: ring.spaceSignalOffset, expected, ms: Math.min(left, LIVENESS_SLICE_MS * 4) };
        }
      }
      const bytes = newDescriptor(core.queueId, ring.owner, payload.length);
      let put = false;
      try {
        put = core.tryPut(bytes, flags | OVERFLOW, patience);
      } finally {
        if (!put) {
          progress.reserved = false;
          this.#unreserve(payload.length);
        }
      }
      if (!put) continue;
      const descriptor = parseDescriptor(bytes, core.queueId, MAX_MESSAGE);
      try {
        writeSideFile(descriptor, payload);
      } catch (error) {
        writeSideFile(descriptor, null); // a tombstone: the consumer drops the item
        throw error;
      } finally {
        ring.wakeData(); // a reader that took the descriptor parks until the file is in place
      }
      progress.done = true;
      return null;
    }
  }

  /** A consumer took an overflow record: its read, to try now and again until the file is there. */
  taken(view: Uint8Array, flags: number, position: number, cells: number): PendingRead {
    const core = this.#core;
    let descriptor: OverflowDescriptor;
    try {
      descriptor = parseDescriptor(view, core.queueId, MAX_MESSAGE);
    } catch (error) {
      core.ring.releaseRecord(position, cells);
      throw error;
    }
    const read = new PendingRead(this, descriptor, flags, position, cells);
    this.#pending.add(read);
    return read;
  }

  /** Frees what a record that nobody will read refers to (`producer`: only if it wrote it). */
  discard(view: Uint8Array, producer?: number): void {
    let descriptor: OverflowDescriptor;
    try {
      descriptor = parseDescriptor(view, this.#core.queueId, MAX_MESSAGE);
    } catch {
      return; // a producer that died before writing it whole reserved nothing we can name
    }
    if (producer !== undefined && descriptor.producer !== producer) return;
    removeSideFile(descriptor);
    this.#unreserve(descriptor.length);
  }

  /** On close: reads still waiting for their file give their items up. */
  abandonPending(): void {
    for (const read of this.#pending) read.finish(true);
    this.#pending.clear();
  }

  /** @internal */
  settle(read: PendingRead, length: number): void {
    this.#pending.delete(read);
    this.#unreserve(length);
    this.#core.ring.releaseRecord(read.position, read.cells);
  }

  /** @internal */
  get core(): QueueCore {
    return this.#core;
  }
}

/** A taken oversized message whose side file is read (possibly after waiting for it). */
export class PendingRead {
  readonly #owner: Oversized;
  readonly #descriptor: OverflowDescriptor;
  readonly #flags: number;
  readonly position: number;
  readonly cells: number;
  #finished = false;

  constructor(owner: Oversized, descriptor: OverflowDescriptor, flags: number, position: number, cells: number) {
    this.#owner = owner;
    this.#descriptor = descriptor;
    this.#flags = flags;
    this.position = position;
    this.cells = cells;
  }

  /** The value; NOTHING while the producer is still writing; DROPPED if it died first. */
  tryRead(): unknown {
    if (this.#finished) return DROPPED;
    let value: unknown;
    try {
      value = readSideFile(this.#descriptor, (payload) => {
        if (payload === null) return DROPPED;
        if ((this.#flags & KIND_BYTES) === 0) return decode(payload);
        return Buffer.from(payload);
      });
    } catch (error) {
      this.finish(false);
      throw error;
    }
    if (value === missing) {
      if (isOwnerAlive(this.#descriptor.producer)) return NOTHING;
      removeSideFile(this.#descriptor);
      value = DROPPED;
    }
    if (value === DROPPED) this.#owner.core.taskDone(1, false);
    this.finish(false);
    return value;
  }

  /** Frees the record and the budget (once); `abandoned`: this handle closes, the file goes too. */
  finish(abandoned: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    if (abandoned) removeSideFile(this.#descriptor);
    if (!this.#owner.core.segment.closed) this.#owner.settle(this, this.#descriptor.length);
  }
}
