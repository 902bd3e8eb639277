// The shared-memory channel between a manager server and one local client: two single-producer
// single-consumer byte rings (requests: client -> server; replies: server -> client) in one
// segment, plus four flags that say when a doorbell is wanted. A request and its reply cost a
// few copies and no system call while both sides are awake; a side that goes to sleep returns
// to its event loop and is woken by a one-byte doorbell on the connection's socket (which also
// tells each side when the other has died).
//
// Layout (byte offsets from the start of the segment; each control word on its own cache line):
//
//   offset        type  field
//   64            u32   capacity C of each ring in bytes (a power of two; constant)
//   128           u32   requests.tail   bytes ever written by the client (mod 2^32)
//   192           u32   requests.head   bytes ever consumed by the server
//   256           u32   replies.tail    written by the server
//   320           u32   replies.head    consumed by the client
//   384           i32   serverSleeping  1: the server wants a doorbell when a request arrives
//   448           i32   clientSleeping  1: the same for the client; 2: the client is parked on
//                                       replies.tail (a futex) and wants a futex wake
//   512           i32   serverBlocked   1: the server waits for room in the reply ring
//   576           i32   clientBlocked   1: the client waits for room in the request ring
//   640           [C]   request ring data
//   640 + C       [C]   reply ring data
//
// A ring holds records of [u32 length][u32 flags][payload, padded to 8 bytes]. flags: MORE (the
// message continues in the next record: big messages stream through in fragments of at most C/4
// bytes), PAD (skip to the end of the ring: a record never wraps). Positions grow by multiples of
// 8, so a header never straddles the end.
//
// Memory order: a producer writes a record with plain stores, then publishes it with an atomic
// (sequentially consistent) store of tail; the consumer loads tail atomically before reading the
// record. Symmetrically for head and the producer's free space. A flag is set by its owner with
// an atomic store *before* it re-checks the ring, and cleared by the other side with a
// compare-exchange *after* it published: one of the two always sees the other (Dekker), and only
// the side whose exchange succeeded rings, so each sleep costs at most one doorbell.
//
// The peer is another process, possibly buggy or dead: every length and position read from the
// segment is read once and checked; a bad one throws CorruptionError (the connection is then
// dropped), never an out-of-bounds access or an endless loop.
import { Buffer } from 'node:buffer';

import { native } from '../binding.js';
import { CorruptionError } from '../errors.js';
import { HEADER_BYTES, Segment, type SegmentKind } from '../segment.js';

export const CHANNEL_KIND: SegmentKind = { tag: 'MGCH', version: 1, label: 'manager channel' };
/** Bytes of each ring of a new channel. */
export const DEFAULT_RING_BYTES = 128 * 1024;

const CAPACITY = 64 / 4;
const REQ_TAIL = 128 / 4;
const REQ_HEAD = 192 / 4;
const REP_TAIL = 256 / 4;
const REP_HEAD = 320 / 4;
const SERVER_SLEEPING = 384 / 4;
const CLIENT_SLEEPING = 448 / 4;
const SERVER_BLOCKED = 512 / 4;
const CLIENT_BLOCKED = 576 / 4;
const DATA = 640;
const CONTROL_BYTES = DATA - HEADER_BYTES;

/** What a side's sleeping flag says. */
const enum Sleeper {
  Awake = 0,
  /** In its event loop: ring the socket doorbell. */
  Doorbell = 1,
  /** Parked on the tail word of the ring it reads: futex-wake it. */
  Futex = 2,
}

const RECORD_HEADER = 8;
const F_MORE = 1;
const F_PAD = 2;
/** A fragment shorter than this is not worth cutting a message for: pad to the end instead. */
const MIN_SPLIT = 256;

const align8 = (n: number): number => (n + 7) & ~7;

function corrupt(why: string): never {
  throw new CorruptionError(`the manager channel is corrupt: ${why}`);
}

/** The consuming side of one ring. */
export class RingReader {
  readonly #words: Int32Array;
  readonly #tailAt: number;
  readonly #headAt: number;
  readonly #data: Uint8Array;
  readonly #view: DataView;
  readonly #capacity: number;
  readonly #limit: number;
  #head: number;
  #advance = 0;
  #parts: Buffer[] = [];
  #partBytes = 0;

  constructor(words: Int32Array, tailAt: number, headAt: number, data: Uint8Array, limit: number) {
    this.#words = words;
    this.#tailAt = tailAt;
    this.#headAt = headAt;
    this.#data = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.#capacity = data.byteLength;
    this.#limit = limit;
    this.#head = Atomics.load(words, headAt) >>> 0;
  }

  /**
   * Blocks this thread until the producer publishes (or `timeoutMs` passes): a park that yields the
   * CPU, for the short waits where going back to the event loop would cost more.
   */
  park(timeoutMs: number): void {
    const tail = Atomics.load(this.#words, this.#tailAt);
    if (tail >>> 0 !== (this.#head + this.#advance) >>> 0) return;
    native.futexWait(this.#words.buffer as ArrayBuffer, this.#words.byteOffset + this.#tailAt * 4, tail, timeoutMs);
  }

  /** True when a record is waiting (a whole message may need more). */
  get available(): boolean {
    return Atomics.load(this.#words, this.#tailAt) >>> 0 !== (this.#head + this.#advance) >>> 0;
  }

  /**
   * The next whole message, or null. The bytes are a view into the ring, valid until `consume()`
   * (or a fresh Buffer for a message that came in fragments). Throws CorruptionError for a bad
   * record and RangeError for a message above the limit.
   */
  peek(): Uint8Array | null {
    if (this.#advance !== 0) corrupt('peek() before consume()');
    const capacity = this.#capacity;
    for (;;) {
      const head = this.#head;
      const used = ((Atomics.load(this.#words, this.#tailAt) >>> 0) - head) >>> 0;
      if (used === 0) return null;
      if (used > capacity || used % 8 !== 0) corrupt(`${used} bytes in use in a ${capacity}-byte ring`);
      const at = head & (capacity - 1);
      const length = this.#view.getUint32(at, true);
      const flags = this.#view.getUint32(at + 4, true);
      if (flags === F_PAD) {
        const size = capacity - at;
        if (size > used) corrupt('a pad record runs past the written bytes');
        this.#commit(size);
        continue;
      }
      if ((flags & ~F_MORE) !== 0) corrupt(`bad record flags ${flags}`);
      const size = RECORD_HEADER + align8(length);
      if (length > capacity || at + size > capacity || size > used) corrupt(`a ${length}-byte record does not fit`);
      const payload = this.#data.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length);
      if (this.#partBytes + length > this.#limit) {
        throw new RangeError(`a message above the ${this.#limit}-byte limit arrived`);
      }
      if ((flags & F_MORE) === 0 && this.#parts.length === 0) {
        this.#advance = size;
        return payload;
      }
      this.#parts.push(Buffer.from(payload));
      this.#partBytes += length;
      this.#commit(size);
      if ((flags & F_MORE) !== 0) continue;
      const whole = Buffer.concat(this.#parts, this.#partBytes);
      this.#parts = [];
      this.#partBytes = 0;
      return whole;
    }
  }

  /** Releases the message `peek()` returned, making room for the producer. */
  consume(): void {
    if (this.#advance === 0) return;
    this.#commit(this.#advance);
    this.#advance = 0;
  }

  #commit(bytes: number): void {
    this.#head = (this.#head + bytes) >>> 0;
    Atomics.store(this.#words, this.#headAt, this.#head | 0);
  }
}

/** The producing side of one ring. */
export class RingWriter {
  readonly #words: Int32Array;
  readonly #tailAt: number;
  readonly #headAt: number;
  readonly #data: Uint8Array;
  readonly #view: DataView;
  readonly #capacity: number;
  readonly #maxFragment: number;
  #tail: number;

  constructor(words: Int32Array, tailAt: number, headAt: number, data: Uint8Array) {
    this.#words = words;
    this.#tailAt = tailAt;
    this.#headAt = headAt;
    this.#data = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.#capacity = data.byteLength;
    this.#maxFragment = this.#capacity / 4 - RECORD_HEADER;
    this.#tail = Atomics.load(words, tailAt) >>> 0;
  }

  /**
   * Writes `bytes` from `offset` as far as the free space allows and publishes it. Returns the
   * new offset: `bytes.length` when the whole message is in; less means "call again once the
   * consumer made room" (the rest follows as later fragments of the same message).
   */
  write(bytes: Uint8Array, offset = 0): number {
    const capacity = this.#capacity;
    let tail = this.#tail;
    const used = (tail - (Atomics.load(this.#words, this.#headAt) >>> 0)) >>> 0;
    if (used > capacity) corrupt(`the consumer claims ${used} bytes in use in a ${capacity}-byte ring`);
    let free = capacity - used;
    const total = bytes.byteLength;
    while (offset < total) {
      const at = tail & (capacity - 1);
      const contiguous = capacity - at;
      let length = Math.min(total - offset, this.#maxFragment);
      let size = RECORD_HEADER + align8(length);
      if (size > contiguous) {
        if (contiguous - RECORD_HEADER >= MIN_SPLIT) {
          length = contiguous - RECORD_HEADER;
          size = contiguous;
        } else {
          if (contiguous > free) break;
          this.#view.setUint32(at, 0, true);
          this.#view.setUint32(at + 4, F_PAD, true);
          tail = (tail + contiguous) >>> 0;
          free -= contiguous;
          continue;
        }
      }
      if (size > free) break;
      this.#view.setUint32(at, length, true);
      this.#view.setUint32(at + 4, offset + length < total ? F_MORE : 0, true);
      this.#data.set(bytes.subarray(offset, offset + length), at + RECORD_HEADER);
      tail = (tail + size) >>> 0;
      free -= size;
      offset += length;
    }
    if (tail !== this.#tail) {
      this.#tail = tail;
      Atomics.store(this.#words, this.#tailAt, tail | 0);
    }
    return offset;
  }
}

/** One side's view of a channel: its reader, its writer and the doorbell flags. */
export class ChannelEnd {
  readonly segment: Segment;
  readonly reader: RingReader;
  readonly writer: RingWriter;
  readonly #words: Int32Array;
  readonly #mySleeping: number;
  readonly #peerSleeping: number;
  readonly #myBlocked: number;
  readonly #peerBlocked: number;
  /** Where the tail word of the ring this side writes lies: the peer parks on it. */
  readonly #writerTailByte: number;

  private constructor(segment: Segment, side: 'server' | 'client', limit: number) {
    this.segment = segment;
    const buffer = segment.buffer;
    const words = new Int32Array(buffer, 0, DATA / 4);
    const capacity = Atomics.load(words, CAPACITY) >>> 0;
    if (capacity < 4096 || (capacity & (capacity - 1)) !== 0 || DATA + 2 * capacity !== segment.size) {
      corrupt(`capacity ${capacity} does not match a ${segment.size}-byte segment`);
    }
    const requests = new Uint8Array(buffer, DATA, capacity);
    const replies = new Uint8Array(buffer, DATA + capacity, capacity);
    this.#words = words;
    if (side === 'server') {
      this.reader = new RingReader(words, REQ_TAIL, REQ_HEAD, requests, limit);
      this.writer = new RingWriter(words, REP_TAIL, REP_HEAD, replies);
      [this.#mySleeping, this.#peerSleeping] = [SERVER_SLEEPING, CLIENT_SLEEPING];
      this.#writerTailByte = REP_TAIL * 4;
      [this.#myBlocked, this.#peerBlocked] = [SERVER_BLOCKED, CLIENT_BLOCKED];
    } else {
      this.reader = new RingReader(words, REP_TAIL, REP_HEAD, replies, limit);
      this.writer = new RingWriter(words, REQ_TAIL, REQ_HEAD, requests);
      [this.#mySleeping, this.#peerSleeping] = [CLIENT_SLEEPING, SERVER_SLEEPING];
      this.#writerTailByte = REQ_TAIL * 4;
      [this.#myBlocked, this.#peerBlocked] = [CLIENT_BLOCKED, SERVER_BLOCKED];
    }
  }

  /** The server makes a channel for one client. ENOSPC when /dev/shm is full. */
  static create(limit: number, ringBytes = DEFAULT_RING_BYTES): ChannelEnd {
    const segment = Segment.create(CHANNEL_KIND, CONTROL_BYTES + 2 * ringBytes, (s) => {
      new Int32Array(s.buffer, 0, DATA / 4)[CAPACITY] = ringBytes;
    });
    try {
      return new ChannelEnd(segment, 'server', limit);
    } catch (error) {
      segment.close();
      throw error;
    }
  }

  /** The client maps the channel its server named. */
  static open(segmentName: string, limit: number): ChannelEnd {
    const segment = Segment.openHandle(CHANNEL_KIND, segmentName);
    try {
      return new ChannelEnd(segment, 'client', limit);
    } catch (error) {
      segment.close();
      throw error;
    }
  }

  /** Announces that this side is about to sleep (wants a doorbell for data). Re-check after. */
  sleep(): void {
    if (this.segment.closed) return;
    Atomics.store(this.#words, this.#mySleeping, Sleeper.Doorbell);
  }

  /** Announces that this side parks on its reader's tail word (wants a futex wake). Re-check after. */
  park(): void {
    if (this.segment.closed) return;
    Atomics.store(this.#words, this.#mySleeping, Sleeper.Futex);
  }

  /** This side is awake again (spinning): no doorbell needed. */
  wake(): void {
    if (this.segment.closed) return;
    Atomics.store(this.#words, this.#mySleeping, 0);
  }

  /** Announces that this side waits for room to write. Re-check after. */
  block(): void {
    if (this.segment.closed) return;
    Atomics.store(this.#words, this.#myBlocked, 1);
  }

  unblock(): void {
    if (this.segment.closed) return;
    Atomics.store(this.#words, this.#myBlocked, 0);
  }

  /**
   * After publishing: wakes a peer parked on a futex, and returns true when the peer sleeps in its
   * event loop and this caller must ring its doorbell. At most one waker per sleep.
   */
  claimPeerSleeping(): boolean {
    if (this.segment.closed) return false;
    const state = Atomics.load(this.#words, this.#peerSleeping);
    if (state === Sleeper.Awake || Atomics.compareExchange(this.#words, this.#peerSleeping, state, 0) !== state) {
      return false;
    }
    if (state === Sleeper.Doorbell) return true;
    native.futexWake(this.#words.buffer as ArrayBuffer, this.#writerTailByte, 1);
    return false;
  }

  /** After consuming: true when the peer waited for room and this caller must ring it (once). */
  claimPeerBlocked(): boolean {
    if (this.segment.closed) return false;
    return (
      Atomics.load(this.#words, this.#peerBlocked) !== 0 &&
      Atomics.compareExchange(this.#words, this.#peerBlocked, 1, 0) === 1
    );
  }

  /** Unmaps this side; the last side to close removes the segment. Idempotent. */
  close(): void {
    this.segment.close();
  }
}
