// The engine of Queue, SimpleQueue and JoinableQueue: one segment with a queue block and a ring
// (layout.ts), and the put/get paths. Each blocking operation is a loop of attempts; an attempt
// either finishes or says which futex word to park on (a Park), so the async and Sync forms
// share every decision and differ only in how they park.
import { native } from '../binding.js';
import { Closed, CorruptionError, Empty, Full, ShutDown } from '../errors.js';
import { waitWord, waitWordSync } from '../futex.js';
import { ownerToken } from '../liveness.js';
import { Ring, RingStatus, type Dispose } from '../ring/ring.js';
import { Segment, type SegmentKind } from '../segment.js';
import { randomToken } from '../util.js';
import { decodeRange } from './codec.js';
import {
  ID_LENGTH_OFFSET,
  ID_MAX,
  ID_OFFSET,
  DROPPED,
  KIND_BYTES,
  NOTHING,
  OVERFLOW,
  Q_MAX_OVERFLOW,
  queueBytes,
  RING_OFFSET,
  STATE_IMMEDIATE,
  STATE_SHUT_DOWN,
  W_DONE,
  W_JOIN_SIGNAL,
  W_JOIN_WANTED,
  W_STATE,
  type QueueShape,
} from './layout.js';
import { Oversized, type PendingRead } from './oversized.js';
import { LIVENESS_SLICE_MS, Patience, spinUntil } from './waiting.js';

/** A futex wait an attempt asks for: on the word at `offset` while it holds `expected`. */
export interface Park {
  offset: number;
  expected: number;
  /** At most this long (ms); 0: do not wait, try again at once. */
  ms: number;
}
const AGAIN: Park = { offset: 0, expected: 0, ms: 0 };
/** The segment header's state word (segment.ts). */
const SEGMENT_STATE = 3;
// A Buffer's slice as a copy (TypedArray#slice makes a new Buffer through its species): one
// allocation and a memcpy, cheaper than allocUnsafe plus copy from a view.
const sliceCopy = Uint8Array.prototype.slice as (this: Buffer, start: number, end: number) => Buffer;

export class QueueCore {
  readonly segment: Segment;
  readonly ring: Ring;
  readonly maxsize: number;
  readonly queueId: string;
  readonly oversized: Oversized;
  readonly #u32: Uint32Array;
  readonly #one: Uint8Array[] = [new Uint8Array(0)];
  readonly #oneFlags = [0];
  readonly #oneLength = [0];
  readonly #dispose: Dispose;

  /** Makes a new queue segment (named or not) and lays out its block and ring. */
  static create(
    kind: SegmentKind,
    shape: QueueShape & {
      name?: string | undefined;
      create?: true | 'ifMissing' | undefined;
      mode?: number | undefined;
    },
  ): QueueCore {
    const segment = Segment.create(
      kind,
      queueBytes(shape.cells),
      (s) => {
        const buffer = s.buffer;
        const id = shape.name === undefined ? `o${s.segmentName.slice('/mp-o-'.length)}` : `n${randomToken()}`;
        new BigUint64Array(buffer, 0, RING_OFFSET / 8)[Q_MAX_OVERFLOW] = BigInt(shape.maxOverflowBytes);
        new Uint32Array(buffer, 0, RING_OFFSET / 4)[ID_LENGTH_OFFSET / 4] = id.length;
        Buffer.from(buffer, ID_OFFSET, ID_MAX).write(id, 'latin1');
        Ring.init(buffer, RING_OFFSET, shape.cells, shape.maxsize);
      },
      { name: shape.name, create: shape.name === undefined ? undefined : (shape.create ?? true), mode: shape.mode },
    );
    try {
      return new QueueCore(segment);
    } catch (error) {
      segment.close();
      throw error;
    }
  }

  /** Attaches to an existing queue segment. Throws CorruptionError when it does not hold one. */
  constructor(segment: Segment) {
    const buffer = segment.buffer;
    this.segment = segment;
    this.ring = new Ring(buffer, RING_OFFSET, ownerToken());
    this.#u32 = new Uint32Array(buffer, 0, RING_OFFSET / 4);
    this.maxsize = this.ring.maxItems;
    const idLength = this.#u32[ID_LENGTH_OFFSET / 4]!;
    const id = Buffer.from(buffer, ID_OFFSET, Math.min(idLength, ID_MAX)).toString('latin1');
    if (idLength === 0 || idLength > ID_MAX || !/^[on][A-Za-z0-9_-]+$/.test(id)) {
      throw new CorruptionError('the queue block is not valid (bad id)');
    }
    this.queueId = id;
    this.oversized = new Oversized(this, new BigUint64Array(buffer, 0, RING_OFFSET / 8));
    this.#dispose = (payload, flags, complete) => this.#disposeRecord(payload, flags, complete);
  }

  get dispose(): Dispose {
    return this.#dispose;
  }

  /** Throws Closed when this handle is closed or the queue was unlinked. */
  check(): void {
    // A plain read of the segment's state word (segment.ts: 2 = destroyed) on the fast path;
    // nothing is ordered by it, a process only has to notice an unlink soon.
    if (this.segment.closed || this.#u32[SEGMENT_STATE] === 2) this.segment.check();
  }

  /** The queue's state word (shutdown bits); a plain read, for the same reason. */
  get state(): number {
    return this.#u32[W_STATE]!;
  }

  /**
   * The get fast path: one attempt, no clock, no allocation but the item's. Returns NOTHING
   * when the slow path must decide (nothing ready, shutdown, a refused or oversized record).
   */
  takeFast(reject: number): unknown {
    this.check();
    const ring = this.ring;
    if (this.#u32[W_STATE] !== 0 || ring.tryTake(1, reject | OVERFLOW) !== RingStatus.Ok) return NOTHING;
    try {
      return this.#valueOf(0);
    } finally {
      ring.release();
    }
  }

  // ---- putting ----

  /**
   * One attempt at putting `bytes` (at most maxInline; with `length`, its first `length` bytes)
   * with `flags`; false when there is no room.
   */
  tryPut(bytes: Uint8Array, flags: number, patience: Patience | null, length = bytes.length): boolean {
    this.check();
    if ((this.state & STATE_SHUT_DOWN) !== 0) throw new ShutDown();
    this.#one[0] = bytes;
    this.#oneFlags[0] = flags;
    this.#oneLength[0] = length;
    for (let attempt = 0; attempt < 4; attempt++) {
      const status = this.ring.tryPut(this.#one, this.#oneFlags, 0, 1, this.#oneLength);
      if (status === RingStatus.Ok) return true;
      if (status === RingStatus.Corrupt) throw new CorruptionError('the queue’s shared memory is corrupt');
      if (!(patience ?? new Patience()).handle(this.ring, this.#dispose)) return false;
      // recovered something: try again (at most four times in this call)
    }
    return false;
  }

  /** Puts a prefix of `payloads[from .. from+count)` (all at most maxInline) as one claim; 0 when none fit. */
  tryPutBatch(payloads: readonly Uint8Array[], flags: readonly number[], from: number, count: number): number {
    this.check();
    if ((this.state & STATE_SHUT_DOWN) !== 0) throw new ShutDown();
    const status = this.ring.tryPut(payloads, flags, from, count);
    if (status === RingStatus.Corrupt) throw new CorruptionError('the queue’s shared memory is corrupt');
    return status === RingStatus.Ok ? this.ring.putCount : 0;
  }

  /**
   * One step of a blocking put: puts (null), or says where to park. Throws Full once the
   * patience's time is up, ShutDown, Closed, CorruptionError.
   */
  putStep(bytes: Uint8Array, flags: number, patience: Patience): Park | null {
    if (this.tryPut(bytes, flags, patience)) return null;
    const left = patience.left();
    if (left <= 0) throw new Full();
    if (patience.blockedByClaim || !patience.retry()) return this.#sleep(this.ring.spaceSignalOffset, left, patience);
    if (spinUntil(() => this.ring.hasRoom(bytes.length) || this.state !== 0)) return AGAIN;
    const expected = this.ring.announceWantSpace();
    if (this.tryPut(bytes, flags, patience)) return null;
    patience.parked();
    return { offset: this.ring.spaceSignalOffset, expected, ms: Math.min(left, LIVENESS_SLICE_MS * 4) };
  }

  /** Parks for a short while, woken by nobody in particular (a claimant that will finish soon). */
  #sleep(offset: number, left: number, patience: Patience): Park {
    patience.parked();
    return { offset, expected: Atomics.load(new Uint32Array(this.ring.buffer, offset, 1), 0), ms: Math.min(left, 1) };
  }

  // ---- getting ----

  /**
   * One step of a blocking get of up to `max` items (records with flags in `reject` refused):
   * returns the items, or a Park. Throws Empty when time is up, TypeError for a refused record,
   * ShutDown, Closed, CorruptionError.
   */
  getStep(max: number, reject: number, patience: Patience, out: unknown[]): Park | PendingRead | null {
    for (;;) {
      this.check();
      const state = this.state;
      if ((state & STATE_IMMEDIATE) !== 0) {
        this.drop();
        throw new ShutDown();
      }
      const ring = this.ring;
      const status = ring.tryTake(max, reject | (max > 1 ? OVERFLOW : 0));
      if (status === RingStatus.Ok) {
        const consumed = this.#consume(out);
        if (consumed === DROPPED) continue; // on to the next item
        return consumed;
      }
      if (status === RingStatus.WrongKind) {
        if (max > 1) return this.getStep(1, reject, patience, out); // an oversized one first
        throw new TypeError('the next item was put as an object: read it with get()');
      }
      if (status === RingStatus.Corrupt) throw new CorruptionError('the queue’s shared memory is corrupt');
      if (status === RingStatus.Busy && patience.handle(ring, this.#dispose) && patience.retry()) continue;
      if (status === RingStatus.Empty && (state & STATE_SHUT_DOWN) !== 0) throw new ShutDown();
      const left = patience.left();
      if (left <= 0) throw new Empty();
      if (status === RingStatus.Busy || !patience.retry()) {
        // A producer still writing the head record wakes us when it publishes; another consumer
        // about to move D does not. Park briefly either way and recheck liveness after it.
        const expected = ring.announceWantData();
        patience.parked();
        return { offset: ring.dataSignalOffset, expected, ms: Math.min(left, 1) };
      }
      if (spinUntil(() => ring.size() > 0 || this.state !== state)) continue;
      const expected = ring.announceWantData();
      if (ring.size() > 0 || this.state !== state) continue;
      patience.parked();
      return { offset: ring.dataSignalOffset, expected, ms: left };
    }
  }

  /** Takes more items without waiting (after a blocking take); false when none is ready. */
  takeMore(max: number, out: unknown[]): boolean {
    if (this.ring.tryTake(max, OVERFLOW) !== RingStatus.Ok) return false;
    this.#consume(out);
    return true;
  }

  /** The value of inline record `i` of the last take: a copy of its bytes, or the decoded object. */
  #valueOf(i: number): unknown {
    const ring = this.ring;
    const offset = ring.takenOffset[i]!;
    const end = offset + ring.takenLength[i]!;
    if ((ring.takenFlags[i]! & KIND_BYTES) !== 0) return sliceCopy.call(ring.data, offset, end);
    return decodeRange(ring.data, offset, end);
  }

  /** Turns the records of the last take into values (appended to `out`) and frees them. */
  #consume(out: unknown[]): null | PendingRead | typeof DROPPED {
    const ring = this.ring;
    const n = ring.takenCount;
    let pending: PendingRead | null = null;
    try {
      for (let i = 0; i < n; i++) {
        const flags = ring.takenFlags[i]!;
        if ((flags & OVERFLOW) !== 0) {
          // Only ever the single record of its take: read its side file, or wait for it.
          const offset = ring.takenOffset[i]!;
          const descriptor = ring.data.subarray(offset, offset + ring.takenLength[i]!);
          const [position, cells] = ring.takenPlace(i);
          ring.forgetTaken();
          pending = this.oversized.taken(descriptor, flags, position, cells);
          const value = pending.tryRead();
          if (value === NOTHING) return pending;
          pending = null;
          if (value === DROPPED) return DROPPED; // its producer died before writing it
          out.push(value);
          return null;
        }
        out.push(this.#valueOf(i));
      }
    } finally {
      if (pending === null) ring.release();
    }
    return null;
  }

  /** Drops every item left (immediate shutdown): their overflow files go, joiners are released. */
  drop(): void {
    const ring = this.ring;
    for (let guard = 0; guard < 1_000_000; guard++) {
      const status = ring.tryTake(64, 0);
      if (status !== RingStatus.Ok) return;
      const n = ring.takenCount;
      for (let i = 0; i < n; i++) {
        const offset = ring.takenOffset[i]!;
        this.#disposeRecord(ring.data.subarray(offset, offset + ring.takenLength[i]!), ring.takenFlags[i]!, true, true);
      }
      ring.release();
    }
  }

  // A record that no consumer will see: a dead producer's (complete false) or one dropped by an
  // immediate shutdown, both counted as done for join(); or one a dead consumer had taken
  // (complete true), lost with it as API.md says (join() then waits for its taskDone).
  #disposeRecord(payload: Buffer | null, flags: number, complete: boolean, dropped = false): void {
    if (!complete || dropped) this.taskDone(1, false);
    if (payload === null || (flags & OVERFLOW) === 0) return;
    // A dead producer's header may be a stale one from laps ago that happens to pass the ring's
    // check: its descriptor then names another producer, and is left alone.
    this.oversized.discard(payload, complete || dropped ? undefined : this.ring.blockerOwner);
  }

  // ---- JoinableQueue accounting (the block words exist for every kind; only it uses them) ----

  /** Tasks put and not yet marked done. */
  unfinished(): number {
    return (this.#enqueued() - Atomics.load(this.#u32, W_DONE)) | 0;
  }

  #enqueued(): number {
    return Atomics.load(new Uint32Array(this.ring.buffer, RING_OFFSET + 68, 1), 0);
  }

  /** Marks `count` tasks done; with `strict`, more than are unfinished is a RangeError. */
  taskDone(count: number, strict: boolean): void {
    const u = this.#u32;
    for (;;) {
      const done = Atomics.load(u, W_DONE);
      const unfinished = (this.#enqueued() - done) | 0;
      if (unfinished < count) {
        if (strict) throw new RangeError('taskDone() called more times than there were items');
        if (unfinished <= 0) return;
        count = unfinished;
      }
      if (Atomics.compareExchange(u, W_DONE, done, (done + count) >>> 0) !== done) continue;
      if (unfinished === count && Atomics.load(u, W_JOIN_WANTED) !== 0 && Atomics.exchange(u, W_JOIN_WANTED, 0) !== 0) {
        Atomics.add(u, W_JOIN_SIGNAL, 1);
        this.#wake(W_JOIN_SIGNAL * 4);
      }
      return;
    }
  }

  /** One step of join(): null once nothing is unfinished, else where to park (ms < 0: time is up). */
  joinStep(patience: Patience): Park | null {
    this.check();
    if (this.unfinished() <= 0) return null;
    const left = patience.left();
    if (left <= 0) return { offset: 0, expected: 0, ms: -1 };
    const expected = Atomics.load(this.#u32, W_JOIN_SIGNAL);
    Atomics.store(this.#u32, W_JOIN_WANTED, 1);
    if (this.unfinished() <= 0) return null;
    return { offset: W_JOIN_SIGNAL * 4, expected, ms: Math.min(left, LIVENESS_SLICE_MS * 20) };
  }

  // ---- shutdown ----

  /** Sets the lasting shutdown flag and wakes every waiter of every process. */
  shutdown(immediate: boolean): void {
    this.check();
    Atomics.or(this.#u32, W_STATE, STATE_SHUT_DOWN | (immediate ? STATE_IMMEDIATE : 0));
    if (immediate) this.drop();
    this.ring.wakeAll();
    Atomics.add(this.#u32, W_JOIN_SIGNAL, 1);
    this.#wake(W_JOIN_SIGNAL * 4);
  }

  #wake(offset: number): void {
    native.futexWake(this.segment.buffer, offset);
  }

  /** Parks as `park` says, blocking this thread. */
  parkSync(park: Park): void {
    if (park.ms <= 0) return;
    waitWordSync(this.segment.buffer, park.offset, park.expected, park.ms);
  }

  /** Parks as `park` says, without blocking the event loop. */
  async park(park: Park, signal: AbortSignal | undefined): Promise<void> {
    if (park.ms <= 0) return;
    await waitWord(this.segment.buffer, park.offset, park.expected, park.ms, signal);
  }

  /** Closes this handle; throws nothing. Items held by pending reads of side files are lost. */
  close(): void {
    if (this.segment.closed) return;
    this.oversized.abandonPending();
    this.segment.close();
  }

  closedError(): Closed {
    return new Closed(`${this.segment.kind.label} is closed`);
  }
}
