// The shared memory of a Pipe, and the byte ring that carries one direction of it.
//
// Segment 'PIPE' (after the 64-byte segment header of segment.ts):
//
//   offset  type      field
//   64      u32       capacity          bytes of each ring (a power of two, 4 KiB .. 1 GiB)
//   68      u32       rings             1 (one-way) or 2 (duplex)
//   72      u32[2]    closed[end]       1 once the last holder of that end closed it, or it was
//                                       found dead (set under the end's exclusive flock)
//   80      u32[2]    exports[end]      handles made by toHandle() and not yet revived
//   128 + 256*r       direction block of ring r:
//     +0    u32       tail              bytes ever written (wraps at 2^32); readers park on it
//     +4    u32       readersParked     readers parked on tail: a writer wakes only when > 0
//     +8    u32       writeLock         owner token of the writer (0: free)
//     +64   u32       head              bytes ever read; writers waiting for room park on it
//     +68   u32       writersParked     writers parked on head (or on the write lock)
//     +72   u32       readLock          owner token of the reader (0: free)
//   640 + capacity*r  ring r's bytes
//
// The writer's words and the reader's words sit on separate cache lines. A ring holds records,
// each 16-byte aligned so that a header never straddles the wrap:
//
//   +0 u32 size (this record's payload)  +4 u32 flags  +8 u32 total (the whole message's bytes)
//   +12 u32 check (size ^ flags ^ total ^ CHECK_SALT)  +16 payload, wrapping around the end
//
// A message that fits the ring is one record (FIRST | LAST); a longer one is a FIRST record, then
// middle records, then a LAST one, the writer holding the write lock throughout. Records are
// published by one seq-cst store of `tail` after their bytes are written, so a reader never sees
// a half-written record, even from a writer killed mid-copy. Every field is read once and
// checked: a bad one is a CorruptionError, never an out-of-bounds read or an endless loop.
//
// Memory order: JavaScript's Atomics are sequentially consistent. The writer copies the bytes
// with plain stores, then Atomics.store(tail): that store releases them. The reader's
// Atomics.load(tail) acquires them, and its Atomics.store(head) after copying releases the space
// back. Parking is Dekker-style: a reader increments readersParked, re-reads tail, then parks
// on tail with the value it saw (the kernel re-checks it); a writer stores tail, then reads
// readersParked. With both sides seq-cst, one of them sees the other: no lost wake-up.
import { native } from '../binding.js';
import { CorruptionError } from '../errors.js';
import { HEADER_BYTES } from '../segment.js';
import { isOwnerAlive } from '../liveness.js';

export const PIPE_KIND = { tag: 'PIPE', version: 1, label: 'Pipe' } as const;

const CAPACITY = HEADER_BYTES / 4;
const RINGS = CAPACITY + 1;
const CLOSED = CAPACITY + 2; // + end
const EXPORTS = CAPACITY + 4; // + end
const DIRECTIONS = 128;
const DIRECTION_BYTES = 256;
const DATA = DIRECTIONS + 2 * DIRECTION_BYTES;

const TAIL = 0;
const READERS_PARKED = 1;
const WRITE_LOCK = 2;
const HEAD = 16;
const WRITERS_PARKED = 17;
const READ_LOCK = 18;

export const RECORD_HEADER = 16;
const CHECK_SALT = 0x5049_5045; // 'PIPE'

/** Record flags. */
export const Flag = { first: 1, last: 2, bytes: 4, abort: 8 } as const;
const KNOWN_FLAGS = 15;

export const MIN_CAPACITY = 4096;
export const MAX_CAPACITY = 1 << 30;

/** Bytes of the segment body for `rings` rings of `capacity` bytes each. */
export function pipeBytes(capacity: number, rings: number): number {
  return DATA - HEADER_BYTES + capacity * rings;
}

/** Writes the fixed fields of a new pipe (the rest of a fresh segment is zero). */
export function initPipe(buffer: ArrayBuffer, capacity: number, rings: number): void {
  const words = new Int32Array(buffer);
  words[CAPACITY] = capacity;
  words[RINGS] = rings;
}

/** Reads and checks the fixed fields of a pipe someone else made. */
export function readPipeShape(buffer: ArrayBuffer): { capacity: number; rings: number } {
  const words = new Int32Array(buffer);
  const capacity = words[CAPACITY]!;
  const rings = words[RINGS]!;
  if (
    capacity < MIN_CAPACITY ||
    capacity > MAX_CAPACITY ||
    (capacity & (capacity - 1)) !== 0 ||
    (rings !== 1 && rings !== 2) ||
    pipeBytes(capacity, rings) + HEADER_BYTES !== buffer.byteLength
  ) {
    throw new CorruptionError(`a Pipe segment records capacity ${capacity} and ${rings} rings: not a pipe`);
  }
  return { capacity, rings };
}

/** The shared end flags: `closed[end]` and `exports[end]`. */
export class EndWords {
  readonly #words: Int32Array;
  readonly #buffer: ArrayBuffer;

  constructor(buffer: ArrayBuffer) {
    this.#buffer = buffer;
    this.#words = new Int32Array(buffer, 0, DATA / 4);
  }

  isClosed(end: number): boolean {
    return Atomics.load(this.#words, CLOSED + end) !== 0;
  }

  /** Marks the end closed for good and wakes every parked reader and writer, so they notice. */
  markClosed(end: number): void {
    Atomics.store(this.#words, CLOSED + end, 1);
    for (let r = 0; r < Atomics.load(this.#words, RINGS) && r < 2; r++) {
      const base = DIRECTIONS + r * DIRECTION_BYTES;
      native.futexWake(this.#buffer, base + TAIL * 4);
      native.futexWake(this.#buffer, base + HEAD * 4);
    }
  }

  addExport(end: number): void {
    Atomics.add(this.#words, EXPORTS + end, 1);
  }

  /** One exported handle was revived; never goes below 0 (a descriptor revived twice). */
  settleExport(end: number): void {
    for (;;) {
      const count = Atomics.load(this.#words, EXPORTS + end);
      if (count <= 0 || Atomics.compareExchange(this.#words, EXPORTS + end, count, count - 1) === count) return;
    }
  }

  pendingExports(end: number): number {
    return Atomics.load(this.#words, EXPORTS + end);
  }
}

/** A record's header, as checked by {@link ByteRing.peek}. */
export interface RecordHeader {
  readonly size: number;
  readonly flags: number;
  readonly total: number;
  /** Ring offset of the payload's first byte. */
  readonly at: number;
  /** Bytes the whole record takes (header, payload, alignment). */
  readonly span: number;
}

/** One direction of a pipe: a single-writer, single-reader ring (each side under its lock). */
export class ByteRing {
  readonly capacity: number;
  readonly #buffer: ArrayBuffer;
  readonly #words: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #base: number; // word index of the direction block
  readonly #data: number; // byte offset of the ring's bytes

  constructor(buffer: ArrayBuffer, ring: number, capacity: number) {
    this.capacity = capacity;
    this.#buffer = buffer;
    this.#words = new Int32Array(buffer);
    this.#bytes = new Uint8Array(buffer);
    this.#base = (DIRECTIONS + ring * DIRECTION_BYTES) / 4;
    this.#data = DATA + ring * capacity;
  }

  get buffer(): ArrayBuffer {
    return this.#buffer;
  }

  /** Byte offsets of the futex words readers and writers park on. */
  get tailOffset(): number {
    return (this.#base + TAIL) * 4;
  }

  get headOffset(): number {
    return (this.#base + HEAD) * 4;
  }

  tail(): number {
    return Atomics.load(this.#words, this.#base + TAIL) >>> 0;
  }

  head(): number {
    return Atomics.load(this.#words, this.#base + HEAD) >>> 0;
  }

  /** Bytes written and not yet read; CorruptionError when the indices make no sense. */
  used(): number {
    const used = (this.tail() - this.head()) >>> 0;
    if (used > this.capacity || used % RECORD_HEADER !== 0) {
      throw new CorruptionError(`a Pipe ring holds ${used} bytes of ${this.capacity}: its indices are corrupt`);
    }
    return used;
  }

  // ---- writer side (under the write lock) ----

  /** Room for a record of `size` payload bytes, keeping `reserve` bytes free (for an abort record). */
  fits(size: number, reserve: number): boolean {
    return this.capacity - this.used() >= RECORD_HEADER + align(size) + reserve;
  }

  /** Largest payload a record may carry now, keeping `reserve` bytes free. */
  room(reserve: number): number {
    return Math.max(0, this.capacity - this.used() - reserve - RECORD_HEADER) & ~(RECORD_HEADER - 1);
  }

  /** Writes one record (the caller checked it fits) and publishes it; wakes a parked reader. */
  write(flags: number, total: number, source: Uint8Array, start: number, size: number): void {
    const tail = this.tail();
    const at = tail & (this.capacity - 1);
    const header = (this.#data + at) / 4;
    this.#words[header] = size;
    this.#words[header + 1] = flags;
    this.#words[header + 2] = total;
    this.#words[header + 3] = (size ^ flags ^ total ^ CHECK_SALT) | 0;
    this.#copyIn(source, start, size, (at + RECORD_HEADER) & (this.capacity - 1));
    Atomics.store(this.#words, this.#base + TAIL, (tail + RECORD_HEADER + align(size)) | 0);
    if (Atomics.load(this.#words, this.#base + READERS_PARKED) > 0) native.futexWake(this.#buffer, this.tailOffset);
  }

  #copyIn(source: Uint8Array, start: number, size: number, at: number): void {
    const first = Math.min(size, this.capacity - at);
    this.#bytes.set(source.subarray(start, start + first), this.#data + at);
    if (first < size) this.#bytes.set(source.subarray(start + first, start + size), this.#data);
  }

  // ---- reader side (under the read lock) ----

  /** The next record's header, checked, or null when the ring is empty. */
  peek(): RecordHeader | null {
    const used = this.used();
    if (used === 0) return null;
    const at = this.head() & (this.capacity - 1);
    const header = (this.#data + at) / 4;
    const size = this.#words[header]! >>> 0;
    const flags = this.#words[header + 1]! >>> 0;
    const total = this.#words[header + 2]! >>> 0;
    const check = this.#words[header + 3]! >>> 0;
    const span = RECORD_HEADER + align(size);
    if (
      check !== (size ^ flags ^ total ^ CHECK_SALT) >>> 0 ||
      (flags & ~KNOWN_FLAGS) !== 0 ||
      size > this.capacity ||
      span > used ||
      size > total
    ) {
      throw new CorruptionError('a Pipe ring holds a corrupt record header');
    }
    return { size, flags, total, at: (at + RECORD_HEADER) & (this.capacity - 1), span };
  }

  /** The payload as a view into shared memory when it does not wrap (valid until `advance`). */
  view(record: RecordHeader): Uint8Array | null {
    if (record.at + record.size > this.capacity) return null;
    return this.#bytes.subarray(this.#data + record.at, this.#data + record.at + record.size);
  }

  /** Copies the payload into `target` at `offset`. */
  copyOut(record: RecordHeader, target: Uint8Array, offset: number): void {
    const first = Math.min(record.size, this.capacity - record.at);
    target.set(this.#bytes.subarray(this.#data + record.at, this.#data + record.at + first), offset);
    if (first < record.size) {
      target.set(this.#bytes.subarray(this.#data, this.#data + record.size - first), offset + first);
    }
  }

  /** Frees `span` bytes for the writer; wakes a writer parked for room. */
  advance(span: number): void {
    Atomics.store(this.#words, this.#base + HEAD, (this.head() + span) | 0);
    if (Atomics.load(this.#words, this.#base + WRITERS_PARKED) > 0) native.futexWake(this.#buffer, this.headOffset);
  }

  // ---- parking bookkeeping ----

  parkReader(delta: 1 | -1): void {
    Atomics.add(this.#words, this.#base + READERS_PARKED, delta);
  }

  parkWriter(delta: 1 | -1): void {
    Atomics.add(this.#words, this.#base + WRITERS_PARKED, delta);
  }

  // ---- the two locks: an owner token (liveness.ts) in a word; a dead owner's lock is taken over ----

  /** Takes the write (or read) lock for `token`: true when taken. Takes over a dead owner's. */
  tryLock(side: 'read' | 'write', token: number): boolean {
    const index = this.#base + (side === 'read' ? READ_LOCK : WRITE_LOCK);
    const owner = Atomics.compareExchange(this.#words, index, 0, token);
    if (owner === 0) return true;
    return false;
  }

  /** Takes the lock over from its owner when that thread or process has died. */
  breakDeadLock(side: 'read' | 'write'): boolean {
    const index = this.#base + (side === 'read' ? READ_LOCK : WRITE_LOCK);
    const owner = Atomics.load(this.#words, index);
    if (owner === 0 || isOwnerAlive(owner)) return false;
    return Atomics.compareExchange(this.#words, index, owner, 0) === owner;
  }

  /** Releases the lock; wakes the other parked readers (or writers), who may now take it. */
  unlock(side: 'read' | 'write', token: number): void {
    const index = this.#base + (side === 'read' ? READ_LOCK : WRITE_LOCK);
    if (Atomics.compareExchange(this.#words, index, token, 0) !== token) return;
    if (side === 'read') {
      if (Atomics.load(this.#words, this.#base + READERS_PARKED) > 0) native.futexWake(this.#buffer, this.tailOffset);
    } else if (Atomics.load(this.#words, this.#base + WRITERS_PARKED) > 0) {
      native.futexWake(this.#buffer, this.headOffset);
    }
  }
}

function align(size: number): number {
  return (size + RECORD_HEADER - 1) & ~(RECORD_HEADER - 1);
}
