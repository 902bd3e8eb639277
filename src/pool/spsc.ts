// A single-producer single-consumer ring of byte records in shared memory: the pool's transport
// to one worker (one ring each way). A per-worker channel has exactly one writer and one reader,
// so no compare-and-swap, no claim and no crash recovery is needed: when a worker dies, the pool
// throws its whole segment away.
//
// Positions count bytes and grow forever (uint32, wrapping); index = position & (capacity - 1).
// Records are 8-byte aligned: {u32 length, u32 flags | check << 16} then the payload. A record
// never straddles the end of the data: one that would is preceded by a PAD record that fills the
// rest. A message longer than a quarter of the ring travels as several records, all but the last
// flagged CONTINUED, which the reader joins. `check` is the record's position / 8 (low 16 bits),
// so a reader that lost its place notices.
//
// Memory order: the producer writes the records, then stores tail (Atomics.store: sequentially
// consistent, so a release); the consumer loads tail (an acquire) before reading them, and stores
// head only once it no longer needs the bytes, which the producer loads before overwriting them.
import { CorruptionError } from '../errors.js';
import { frameOver, type Frame } from './protocol.js';

const HEADER = 8;
const CONTINUED = 1;
const PAD = 2;
/** The largest message the rings carry (as Queue and Connection): 2 GiB - 1 bytes. */
export const MAX_MESSAGE_BYTES = 0x7fffffff;

/** One direction of a worker's channel, seen from one side. */
export class SpscRing {
  /** The data area (records are read and written in place through it). */
  readonly frame: Frame;
  readonly #bytes: Buffer;
  readonly #view: DataView;
  readonly #words: Int32Array;
  readonly #tailIndex: number;
  readonly #headIndex: number;
  readonly #capacity: number;
  readonly #mask: number;
  /** The largest payload of one record. */
  readonly maxRecord: number;
  // Producer: its own tail, the last head it saw, and the record reserved but not committed.
  // Consumer: its own head (read, not yet released) and the head it last stored.
  #tail: number;
  #head: number;
  #reserved = 0;
  #released: number;
  /** After read(): the record's payload length, and whether more records of its message follow. */
  length = 0;
  continued = false;

  constructor(buffer: ArrayBuffer, dataOffset: number, capacity: number, tailIndex: number, headIndex: number) {
    if (capacity < 4096 || (capacity & (capacity - 1)) !== 0 || dataOffset + capacity > buffer.byteLength) {
      throw new CorruptionError(`a pool ring of ${capacity} bytes at ${dataOffset} does not fit its segment`);
    }
    this.frame = frameOver(buffer, dataOffset, capacity);
    this.#bytes = this.frame.bytes;
    this.#view = new DataView(buffer, dataOffset, capacity);
    this.#words = new Int32Array(buffer);
    this.#tailIndex = tailIndex;
    this.#headIndex = headIndex;
    this.#capacity = capacity;
    this.#mask = capacity - 1;
    this.maxRecord = capacity / 4 - HEADER;
    this.#tail = Atomics.load(this.#words, tailIndex) >>> 0;
    this.#head = Atomics.load(this.#words, headIndex) >>> 0;
    this.#released = this.#head;
  }

  // ---- producer ----

  /**
   * Makes room for one record of `size` bytes (at most `maxRecord`) and returns where in `frame`
   * its payload goes, or -1 when there is no room now. `commit()` publishes it.
   */
  reserve(size: number): number {
    if (size > this.maxRecord) return -1;
    const span = HEADER + ((size + 7) & ~7);
    let tail = this.#tail;
    const at = tail & this.#mask;
    const toEnd = this.#capacity - at;
    const need = span > toEnd ? toEnd + span : span;
    if (need > this.#capacity - ((tail - this.#head) >>> 0)) {
      const head = Atomics.load(this.#words, this.#headIndex) >>> 0;
      // The consumer cannot be ahead of what was written: anything else is corruption.
      if ((tail - head) >>> 0 > this.#capacity) throw this.#corrupt('head is ahead of tail');
      this.#head = head;
      if (need > this.#capacity - ((tail - head) >>> 0)) return -1;
    }
    if (span > toEnd) {
      this.#header(at, toEnd - HEADER, PAD, tail);
      tail = (tail + toEnd) >>> 0;
    }
    const start = tail & this.#mask;
    this.#header(start, size, 0, tail);
    this.#reserved = (tail + span) >>> 0;
    return start + HEADER;
  }

  /** Publishes what reserve() made room for. */
  commit(): void {
    this.#tail = this.#reserved;
    Atomics.store(this.#words, this.#tailIndex, this.#tail | 0);
  }

  /**
   * Writes `message` from `offset` on, as records of at most `maxRecord` bytes, while there is
   * room, and publishes them. Returns how far it got (`message.length` when all of it is in).
   */
  write(message: Uint8Array, offset = 0): number {
    const length = message.length;
    let wrote = false;
    while (offset < length) {
      const size = Math.min(length - offset, this.maxRecord);
      const at = this.reserve(size);
      if (at < 0) break;
      if (offset + size < length) this.#view.setUint32(at - 4, this.#view.getUint32(at - 4, true) | CONTINUED, true);
      this.#bytes.set(offset === 0 && size === length ? message : message.subarray(offset, offset + size), at);
      this.#tail = this.#reserved;
      offset += size;
      wrote = true;
    }
    if (wrote) Atomics.store(this.#words, this.#tailIndex, this.#tail | 0);
    return offset;
  }

  /** True when the next record of a message of `remaining` bytes would fit now. */
  hasRoom(remaining: number): boolean {
    const size = Math.min(remaining, this.maxRecord);
    const span = HEADER + ((size + 7) & ~7);
    const toEnd = this.#capacity - (this.#tail & this.#mask);
    const need = span > toEnd ? toEnd + span : span;
    this.#head = Atomics.load(this.#words, this.#headIndex) >>> 0;
    return need <= this.#capacity - ((this.#tail - this.#head) >>> 0);
  }

  #header(at: number, length: number, flags: number, position: number): void {
    this.#view.setUint32(at, length, true);
    this.#view.setUint32(at + 4, flags | (((position >>> 3) & 0xffff) << 16), true);
  }

  // ---- consumer ----

  /** True when a record is waiting to be read. */
  hasData(): boolean {
    return Atomics.load(this.#words, this.#tailIndex) >>> 0 !== this.#head;
  }

  /**
   * Reads the next record: returns where its payload starts in `frame` (valid until `release()`)
   * and sets `length` and `continued`; -1 when the ring is empty. Throws CorruptionError when
   * the ring does not hold what a producer writes.
   */
  read(): number {
    for (;;) {
      const tail = Atomics.load(this.#words, this.#tailIndex) >>> 0;
      const head = this.#head;
      const available = (tail - head) >>> 0;
      if (available === 0) return -1;
      if (available > this.#capacity || (available & 7) !== 0) throw this.#corrupt(`${available} bytes are pending`);
      const at = head & this.#mask;
      const length = this.#view.getUint32(at, true);
      const word = this.#view.getUint32(at + 4, true);
      if (word >>> 16 !== ((head >>> 3) & 0xffff)) throw this.#corrupt('a record is out of place');
      const flags = word & 0xffff;
      if (flags === PAD) {
        const span = this.#capacity - at;
        if (length !== span - HEADER || span > available) throw this.#corrupt('bad padding');
        this.#head = (head + span) >>> 0;
        continue;
      }
      const span = HEADER + ((length + 7) & ~7);
      if ((flags & ~CONTINUED) !== 0 || span > available || at + span > this.#capacity || length > this.maxRecord) {
        throw this.#corrupt(`bad record (length ${length}, flags ${flags})`);
      }
      this.#head = (head + span) >>> 0;
      this.length = length;
      this.continued = flags === CONTINUED;
      return at + HEADER;
    }
  }

  /** Gives the producer back the room of every record read so far. True if anything moved. */
  release(): boolean {
    if (this.#released === this.#head) return false;
    this.#released = this.#head;
    Atomics.store(this.#words, this.#headIndex, this.#head | 0);
    return true;
  }

  #corrupt(what: string): CorruptionError {
    return new CorruptionError(`the pool's shared ring is corrupt: ${what}`);
  }
}
