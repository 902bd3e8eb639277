// ShareableList: a fixed-length list of small values in a SharedMemory segment, laid out
// exactly as CPython's multiprocessing.shared_memory.ShareableList, so Python reads ours and we
// read Python's.
//
// Layout (native byte order: little-endian on every platform we support), N items:
//
//   offset                        type          field
//   0                             i64           N
//   8                             i64[N + 1]    allocated offsets of each item, from the data start
//   D = (N + 2) * 8               bytes         data: each item in its slot (8 bytes, or a multiple
//                                               of 8 for str/bytes, sized when the list was made)
//   F = D + offsets[N]            char[8][N]    each item's `struct` format, NUL-padded:
//                                               'q' int, 'd' float, 'xxxxxxx?' bool,
//                                               'xxxxxx?x' None, '<n>s' str/bytes
//   F + 8N                        i8[N]         back-transform code: 0 as is, 1 str, 2 bytes, 3 None
//
// Mapping of values: an integer number that is a safe integer (and not -0) is written as 'q'
// (Python int), any other number as 'd'; bigint as 'q' (RangeError outside int64); 'q' reads
// back as a number when safe, else a BigInt. Strings are UTF-8. As in Python, str/bytes lose
// trailing NUL characters/bytes (the slot is NUL-padded), and a slot never grows.
//
// Unlike Python (gh-145261), slots for str are sized from the UTF-8 length, not the number of
// characters, so multi-byte text is never cut. Offsets, lengths and formats read from memory are
// checked against the segment's size; anything out of bounds is a CorruptionError.
import { CorruptionError } from './errors.js';
import { registerHandleKind, type HandleDescriptor } from './handles.js';
import { SharedMemory } from './shared-memory.js';
import { checkOptionsBag, describe } from './util.js';

/** What a ShareableList holds. */
export type ShareableValue = number | bigint | boolean | string | Buffer | null;

/** Options of `new ShareableList(items, options)`. */
export interface ShareableListOptions {
  /** The segment name (a leading `/` is optional): with items, create it; with `null`, attach to it. */
  name?: string | undefined;
}

const HANDLE_VERSION = 1;
const ALIGN = 8;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
// Python asserts that every format fits 8 characters: '<n>s' with n of at most 7 digits.
const MAX_SLOT = 9_999_992;
const BOOL_FORMAT = 'xxxxxxx?';
const NONE_FORMAT = 'xxxxxx?x';
const enum Code {
  AsIs = 0,
  Str = 1,
  Bytes = 2,
  None = 3,
}

interface Encoded {
  format: string;
  code: Code;
  /** The payload for str/bytes; null for the fixed 8-byte kinds (written by `writeFixed`). */
  bytes: Buffer | null;
  value: ShareableValue;
}

function encode(value: unknown): Encoded {
  if (value === null) return { format: NONE_FORMAT, code: Code.None, bytes: null, value };
  switch (typeof value) {
    case 'number':
      return {
        format: Number.isSafeInteger(value) && !Object.is(value, -0) ? 'q' : 'd',
        code: Code.AsIs,
        bytes: null,
        value,
      };
    case 'bigint':
      if (value < INT64_MIN || value > INT64_MAX) {
        throw new RangeError(`a ShareableList stores integers of 64 bits (got ${value})`);
      }
      return { format: 'q', code: Code.AsIs, bytes: null, value };
    case 'boolean':
      return { format: BOOL_FORMAT, code: Code.AsIs, bytes: null, value };
    case 'string': {
      const bytes = Buffer.from(value, 'utf8');
      return { format: `${slotFor(bytes.length)}s`, code: Code.Str, bytes, value };
    }
    default:
      if (value instanceof Uint8Array) {
        const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        return { format: `${slotFor(bytes.length)}s`, code: Code.Bytes, bytes, value: bytes };
      }
      throw new TypeError(
        `a ShareableList holds numbers, bigints, booleans, strings, Buffers and null (got ${describe(value)})`,
      );
  }
}

// Python's rule: a multiple of 8 with room for at least one NUL after the data.
function slotFor(length: number): number {
  const slot = ALIGN * (Math.floor(length / ALIGN) + 1);
  if (slot > MAX_SLOT) throw new RangeError(`a ShareableList item is at most ${MAX_SLOT - 1} bytes (got ${length})`);
  return slot;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.compare(a, b) === 0;
  }
  const numeric = (x: unknown): boolean => typeof x === 'number' || typeof x === 'bigint';
  // 1 == 1n: Python's ints read back as numbers or BigInts depending on size.
  if (numeric(a) && numeric(b)) return a == b;
  return a === b;
}

/**
 * A fixed-length list of numbers, bigints, booleans, strings, Buffers and null in shared memory,
 * readable and writable by Python's `ShareableList`. `new ShareableList(items)` creates one
 * (named `name` when given); `new ShareableList(null, { name })` attaches to an existing one.
 * Throws TypeError for values it cannot hold, RangeError for values too big.
 */
export class ShareableList {
  static readonly handleKind = 'ShareableList';
  readonly #shm: SharedMemory;
  readonly #length: number;
  readonly #offsets: number[];
  readonly #dataStart: number;
  readonly #formatsStart: number;
  readonly #codesStart: number;

  constructor(items?: Iterable<ShareableValue> | null, options?: ShareableListOptions) {
    checkOptionsBag(options);
    const name = options?.name;
    if (name !== undefined && typeof name !== 'string')
      throw new TypeError(`name must be a string (got ${describe(name)})`);
    if (items === null || items === undefined) {
      if (name !== undefined) {
        this.#shm = new SharedMemory({ name });
        try {
          [this.#length, this.#offsets] = this.#readHeader();
        } catch (error) {
          this.#shm.close();
          throw error;
        }
      } else {
        [this.#shm, this.#length, this.#offsets] = ShareableList.#create([], name);
      }
    } else {
      if (typeof items !== 'object' || !(Symbol.iterator in items)) {
        throw new TypeError(`items must be an iterable or null (got ${describe(items)})`);
      }
      [this.#shm, this.#length, this.#offsets] = ShareableList.#create(globalThis.Array.from(items).map(encode), name);
    }
    this.#dataStart = (this.#length + 2) * 8;
    this.#formatsStart = this.#dataStart + this.#offsets[this.#length]!;
    this.#codesStart = this.#formatsStart + this.#length * 8;
  }

  static #create(encoded: Encoded[], name: string | undefined): [SharedMemory, number, number[]] {
    const n = encoded.length;
    const offsets = [0];
    for (const item of encoded)
      offsets.push(offsets[offsets.length - 1]! + (item.bytes === null ? ALIGN : Number.parseInt(item.format, 10)));
    const size = 8 + (n + 1) * 8 + offsets[n]! + n * 8 + n;
    const shm = new SharedMemory({ create: true, size, name });
    const buf = shm.buf;
    buf.writeBigInt64LE(BigInt(n), 0);
    for (let i = 0; i <= n; i++) buf.writeBigInt64LE(BigInt(offsets[i]!), 8 + i * 8);
    const dataStart = (n + 2) * 8;
    const formatsStart = dataStart + offsets[n]!;
    for (let i = 0; i < n; i++) {
      const item = encoded[i]!;
      buf.write(item.format, formatsStart + i * 8, 8, 'latin1');
      buf.writeInt8(item.code, formatsStart + n * 8 + i);
      writeItem(buf, dataStart + offsets[i]!, item);
    }
    return [shm, n, offsets];
  }

  // Reads and checks N and the offsets once; they never change after creation.
  #readHeader(): [number, number[]] {
    const buf = this.#shm.buf;
    const size = buf.length;
    const corrupt = (what: string): never => {
      throw new CorruptionError(`ShareableList ${this.#shm.name}: ${what}`);
    };
    if (size < 16) corrupt(`segment of ${size} bytes is too small`);
    const n = buf.readBigInt64LE(0);
    // 8 (N) + 8 (N + 1 offsets) + 9 (format and code) bytes per item at least.
    if (n < 0n || n > BigInt(Math.floor((size - 16) / 17))) corrupt(`length ${n} does not fit ${size} bytes`);
    const length = Number(n);
    const offsets: number[] = [];
    let previous = 0;
    for (let i = 0; i <= length; i++) {
      const offset = buf.readBigInt64LE(8 + i * 8);
      if (offset < BigInt(previous) || offset > BigInt(size) || (i === 0 && offset !== 0n))
        corrupt(`bad offset ${offset}`);
      previous = Number(offset);
      offsets.push(previous);
    }
    if ((length + 2) * 8 + previous + length * 9 > size) corrupt(`items need more than the ${size} bytes there are`);
    return [length, offsets];
  }

  /** Attaches to a list by name (as `new ShareableList(null, { name })`). */
  static open(name: string): ShareableList {
    return new ShareableList(null, { name });
  }

  /** Revives a descriptor made by `toHandle()`. */
  static fromHandle(descriptor: HandleDescriptor): ShareableList {
    if (typeof descriptor !== 'object' || descriptor === null || descriptor.kind !== ShareableList.handleKind) {
      throw new TypeError(`not a ShareableList handle: ${describe(descriptor)}`);
    }
    if (descriptor.version !== HANDLE_VERSION) {
      throw new RangeError(`ShareableList handle version ${String(descriptor.version)} is not supported`);
    }
    // Without a name the constructor would create a new, empty list (and leak its segment).
    if (typeof descriptor.name !== 'string') {
      throw new TypeError(`not a ShareableList handle: bad name ${describe(descriptor.name)}`);
    }
    return new ShareableList(null, { name: descriptor.name });
  }

  /** The SharedMemory holding the list. */
  get shm(): SharedMemory {
    return this.#shm;
  }

  /** The number of items (fixed). */
  get length(): number {
    return this.#length;
  }

  /** The `struct` formats of every item, joined (Python's `format`). */
  get format(): string {
    let out = '';
    for (let i = 0; i < this.#length; i++) out += this.#format(i);
    return out;
  }

  #position(index: unknown): number {
    if (typeof index !== 'number') throw new TypeError(`index must be a number (got ${describe(index)})`);
    const n = this.#length;
    if (!Number.isInteger(index) || index < -n || index >= n) {
      throw new RangeError(`index ${index} is out of range for length ${n}`);
    }
    return index < 0 ? index + n : index;
  }

  #format(i: number): string {
    const buf = this.#shm.buf;
    const raw = buf.subarray(this.#formatsStart + i * 8, this.#formatsStart + i * 8 + 8);
    const end = raw.indexOf(0);
    return raw.subarray(0, end < 0 ? 8 : end).toString('latin1');
  }

  /** The item at `index` (negative counts from the end). RangeError out of range. */
  get(index: number): ShareableValue {
    const i = this.#position(index);
    const buf = this.#shm.buf;
    const format = this.#format(i);
    const code = buf.readInt8(this.#codesStart + i);
    const at = this.#dataStart + this.#offsets[i]!;
    const slot = this.#offsets[i + 1]! - this.#offsets[i]!;
    const corrupt = (): never => {
      throw new CorruptionError(
        `ShareableList ${this.#shm.name}: item ${i} has format ${JSON.stringify(format)} and code ${code}`,
      );
    };
    if (code === Code.None) return null;
    if (format.endsWith('s')) {
      const n = /^\d{1,7}s$/.test(format) ? Number.parseInt(format, 10) : -1;
      if (n < 0 || n > slot) corrupt();
      const raw = buf.subarray(at, at + n);
      let end = raw.length;
      if (code === Code.Str || code === Code.Bytes) while (end > 0 && raw[end - 1] === 0) end--;
      if (code === Code.Str) return raw.toString('utf8', 0, end);
      if (code === Code.Bytes || code === Code.AsIs) return Buffer.from(raw.subarray(0, end));
      return corrupt();
    }
    if (code !== Code.AsIs || slot < 8) corrupt();
    switch (format) {
      case 'q': {
        const value = buf.readBigInt64LE(at);
        return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(value)
          : value;
      }
      case 'd':
        return buf.readDoubleLE(at);
      case BOOL_FORMAT:
        return buf[at + 7] !== 0;
      default:
        return corrupt();
    }
  }

  /**
   * Stores `value` at `index`. A string or Buffer must fit the slot made for that position when
   * the list was created (RangeError otherwise, nothing written); other values always fit.
   */
  set(index: number, value: ShareableValue): void {
    const i = this.#position(index);
    const item = encode(value);
    const buf = this.#shm.buf;
    if (item.bytes !== null) {
      const slot = this.#offsets[i + 1]! - this.#offsets[i]!;
      if (item.bytes.length > slot) {
        throw new RangeError(`item ${i} has room for ${slot} bytes; the value needs ${item.bytes.length}`);
      }
      // Python keeps a str/bytes slot's format ('<slot>s'); anything else becomes one.
      const current = this.#format(i);
      const n = /^\d{1,7}s$/.test(current) ? Number.parseInt(current, 10) : -1;
      item.format = n >= item.bytes.length && n <= slot ? current : `${slot}s`;
    }
    // Python's order: format and code first, then the value.
    buf.fill(0, this.#formatsStart + i * 8, this.#formatsStart + i * 8 + 8);
    buf.write(item.format, this.#formatsStart + i * 8, 8, 'latin1');
    buf.writeInt8(item.code, this.#codesStart + i);
    writeItem(buf, this.#dataStart + this.#offsets[i]!, item);
  }

  /** A copy of every item. */
  toArray(): ShareableValue[] {
    const out: ShareableValue[] = [];
    for (let i = 0; i < this.#length; i++) out.push(this.get(i));
    return out;
  }

  *[Symbol.iterator](): IterableIterator<ShareableValue> {
    for (let i = 0; i < this.#length; i++) yield this.get(i);
  }

  /** How many items equal `value` (numbers and bigints compare by value, Buffers by content). */
  count(value: ShareableValue): number {
    let n = 0;
    for (let i = 0; i < this.#length; i++) if (sameValue(this.get(i), value)) n++;
    return n;
  }

  /** The first index holding `value`, or -1 (Python raises ValueError). */
  index(value: ShareableValue): number {
    for (let i = 0; i < this.#length; i++) if (sameValue(this.get(i), value)) return i;
    return -1;
  }

  /** Unmaps this process's view. Idempotent. */
  close(): void {
    this.#shm.close();
  }

  /** Removes the segment's name (call it once, from one process). */
  unlink(): void {
    this.#shm.unlink();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** A JSON-safe descriptor that `fromHandle` revives (by name) in any process. */
  toHandle(): HandleDescriptor {
    return { kind: ShareableList.handleKind, version: HANDLE_VERSION, name: this.#shm.name };
  }

  toString(): string {
    return `ShareableList(${this.#length} items, name=${JSON.stringify(this.#shm.name)})`;
  }
}

function writeItem(buf: Buffer, at: number, item: Encoded): void {
  if (item.bytes !== null) {
    const n = Number.parseInt(item.format, 10);
    item.bytes.copy(buf, at);
    buf.fill(0, at + item.bytes.length, at + n);
    return;
  }
  buf.fill(0, at, at + 8);
  if (item.format === 'q') buf.writeBigInt64LE(BigInt(item.value as number | bigint), at);
  else if (item.format === 'd') buf.writeDoubleLE(item.value as number, at);
  else if (item.format === BOOL_FORMAT) buf[at + 7] = item.value ? 1 : 0;
}

registerHandleKind(ShareableList.handleKind, (descriptor) => ShareableList.fromHandle(descriptor));
