// What Value, Array, RawValue and RawArray share: the segment layout, the checks and encoding
// of elements, the lock reference, and the value/array accessors.
//
// Layout (byte offsets from the start of the segment):
//
//   offset  type            field
//   0..63                   segment header (segment.ts)
//   64      u32             typecode, as a character code ('i' = 0x69)
//   68      u32             length in elements, low 32 bits
//   72      u32             length in elements, high 32 bits
//   76      u32             flags: bit 0 an Array (not a Value), bit 1 the lock was made for it
//   80      lock reference  the Value's/Array's lock (lock-ref.ts, 264 bytes; kind 0 for none)
//   4096    element[length] the data, on its own page: `view` never shares a page with control
//                           words, so no user write through `view` can corrupt them
import { constants as bufferConstants } from 'node:buffer';

import { Closed } from '../errors.js';
import type { SegmentKind } from '../segment.js';
import { namedOptions, SharedObject, type NamedOptions } from '../synchronize/base.js';
import { Lock } from '../synchronize/lock.js';
import { readLockRef, writeLockRef } from '../synchronize/lock-ref.js';
import { RLock } from '../synchronize/rlock.js';
import { checkInteger, checkOptionsBag, describe } from '../util.js';
import { encodeElement, typeInfo, type ElementOf, type TypeInfo, type ViewOf } from './typecodes.js';

const TYPECODE = 16;
const LENGTH_LOW = 17;
const LENGTH_HIGH = 18;
const FLAGS = 19;
const LOCK_REF = 80;
const DATA = 4096;
const IS_ARRAY = 1;
const OWNS_LOCK = 2;
const MAX_DATA_BYTES = bufferConstants.MAX_LENGTH - DATA;

export const VALUE_KIND: SegmentKind = { tag: 'VALU', version: 1, label: 'Value' };
export const ARRAY_KIND: SegmentKind = { tag: 'ARRY', version: 1, label: 'Array' };

/** Options of `RawValue` and `RawArray`: naming only. */
export type RawOptions = NamedOptions;

/** Options of `Value` and `Array`. */
export interface SynchronizedOptions extends NamedOptions {
  /**
   * `true` (default): a new RLock, as in Python (named like the object when `name` is given);
   * a Lock or RLock: that one; `false`: none (`getLock()` then throws TypeError).
   */
  lock?: boolean | Lock | RLock | undefined;
}

/** The TypedArray `view` returns: Uint8Array for 'c' and '?', BigInt64Array for 'q', ... */
export type SharedView =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** What a constructor asks for, checked before anything is created. */
export interface Made {
  info: TypeInfo;
  length: number;
  values: (number | bigint)[] | null;
  lock: boolean | Lock | RLock;
}

function checkLockOption(lock: unknown, allowed: boolean): boolean | Lock | RLock {
  if (lock === undefined) return allowed;
  if (!allowed) throw new TypeError('RawValue and RawArray take no lock: use Value or Array');
  if (typeof lock !== 'boolean' && !(lock instanceof Lock) && !(lock instanceof RLock)) {
    throw new TypeError(`lock must be a boolean, a Lock or an RLock (got ${describe(lock)})`);
  }
  return lock;
}

function encodeAll(info: TypeInfo, init: unknown, max: number): (number | bigint)[] {
  if (typeof init === 'string' || init === null || typeof init !== 'object') {
    throw new TypeError(`an Array is made from a length or an iterable of values (got ${describe(init)})`);
  }
  const values: (number | bigint)[] = [];
  const add = (item: unknown): void => {
    // Counted while reading, so a huge array-like or an endless iterable is refused, not read.
    if (values.length >= max) throw new RangeError(`an Array of typecode '${info.code}' holds at most ${max} elements`);
    try {
      values.push(encodeElement(info, item));
    } catch (error) {
      (error as Error).message = `element ${values.length}: ${(error as Error).message}`;
      throw error;
    }
  };
  if (Symbol.iterator in init) {
    for (const item of init as Iterable<unknown>) add(item);
    return values;
  }
  // An array-like must say how long it is: {} is not an empty Array.
  const { length } = init as { length?: unknown };
  if (typeof length !== 'number') {
    throw new TypeError(`an Array is made from a length or an iterable of values (got ${describe(init)})`);
  }
  checkInteger(length, 'length', 0, max);
  for (let i = 0; i < length; i++) add((init as ArrayLike<unknown>)[i]);
  return values;
}

/** Checks the arguments of a Value/RawValue constructor. */
export function makeValue(typecode: unknown, value: unknown, options: unknown, locked: boolean): Made {
  const info = typeInfo(typecode);
  checkOptionsBag(options);
  const lock = checkLockOption((options as SynchronizedOptions | undefined)?.lock, locked);
  return {
    info,
    length: 1,
    values: [value === undefined ? encodeElement(info, info.zero) : encodeElement(info, value)],
    lock,
  };
}

/** Checks the arguments of an Array/RawArray constructor. */
export function makeArray(typecode: unknown, sizeOrInit: unknown, options: unknown, locked: boolean): Made {
  const info = typeInfo(typecode);
  checkOptionsBag(options);
  const lock = checkLockOption((options as SynchronizedOptions | undefined)?.lock, locked);
  const max = Math.floor(MAX_DATA_BYTES / info.size);
  if (typeof sizeOrInit === 'number') {
    return { info, length: checkInteger(sizeOrInit, 'size', 0, max), values: null, lock };
  }
  const values = encodeAll(info, sizeOrInit, max);
  return { info, length: values.length, values, lock };
}

export function named(options: unknown): NamedOptions {
  return namedOptions(options as NamedOptions | undefined);
}

/** Common part of the four classes: a typed element array on the segment's second page. */
export abstract class SharedCTypes extends SharedObject {
  readonly #info: TypeInfo;
  /** The typed elements (empty once closed). Protected fields, not #private: the accessors of
   * Value/Array read them directly, which matters before the JIT warms up. */
  protected readonly data: SharedView;
  protected readonly isBool: boolean;
  protected readonly encode: (value: unknown) => number | bigint;
  readonly #length: number;
  readonly #lock: Lock | RLock | null;
  readonly #closeLock: boolean;

  protected constructor(kind: SegmentKind, isArray: boolean, made: Made | null, options: NamedOptions) {
    // Filled by `init`, which runs only when this call creates the segment.
    const created: { lock: Lock | RLock | null; made: boolean } | null =
      made === null ? null : { lock: null, made: false };
    const bytes = made === null ? 0 : Math.ceil((made.length * made.info.size) / 8) * 8;
    let initialized = false as boolean;
    super(
      kind,
      DATA - 64 + bytes,
      (words) => {
        const buffer = words.buffer as ArrayBuffer;
        const { info, length, values, lock } = made!;
        if (lock === true) {
          created!.made = true;
          created!.lock = new RLock(
            options.name === undefined ? undefined : { name: options.name, mode: options.mode },
          );
        } else if (lock !== false) {
          created!.lock = lock;
        }
        try {
          writeLockRef(buffer, LOCK_REF, created!.lock);
          words[TYPECODE] = info.code.charCodeAt(0);
          words[LENGTH_LOW] = length % 2 ** 32;
          words[LENGTH_HIGH] = Math.floor(length / 2 ** 32);
          words[FLAGS] = (isArray ? IS_ARRAY : 0) | (created!.made ? OWNS_LOCK : 0);
          if (values !== null) {
            (new info.array(buffer, DATA, length) as { set(values: ArrayLike<number | bigint>): void }).set(values);
          }
        } catch (error) {
          if (created!.made) created!.lock?.close();
          throw error;
        }
        initialized = true;
      },
      options,
    );
    const words = this.words;
    const code = words[TYPECODE]!;
    let info: TypeInfo | undefined;
    try {
      info = typeInfo(String.fromCharCode(code & 0x7f));
    } catch {
      info = undefined;
    }
    if (info === undefined || info.code.charCodeAt(0) !== code) this.corrupt(`typecode ${code}`);
    const length = (words[LENGTH_LOW]! >>> 0) + (words[LENGTH_HIGH]! >>> 0) * 2 ** 32;
    if (((words[FLAGS]! & IS_ARRAY) !== 0) !== isArray) this.corrupt('flags do not match the kind');
    if (DATA + length * info.size > words.byteLength) this.corrupt(`length ${length} does not fit the segment`);
    this.#info = info;
    this.encode = info.encode;
    this.isBool = info.kind === 'bool';
    this.#length = length;
    this.data = new info.array(words.buffer as ArrayBuffer, DATA, length);
    if (initialized) {
      this.#lock = created!.lock;
      this.#closeLock = created!.made;
    } else {
      // Opened (by name, handle, or 'ifMissing' finding one): use the lock the object records.
      this.#lock = this.synchronized() ? readLockRef(words.buffer as ArrayBuffer, LOCK_REF, this.label) : null;
      this.#closeLock = this.#lock !== null;
    }
  }

  // Overridden by Value/Array: whether this class exposes a lock.
  protected synchronized(): boolean {
    return false;
  }

  /** The single-character typecode ('i', 'd', ...). */
  get typecode(): string {
    return this.#info.code;
  }

  protected get viewOf(): SharedView {
    if (this.data.length !== this.#length || this.words.length === 0) throw new Closed(`${this.label} is closed`);
    return this.data;
  }

  protected get lengthOf(): number {
    return this.#length;
  }

  // Header word 3 is the segment state (segment.ts): 2 once anyone unlinked the object.
  protected readAt(index: number): number | bigint | boolean {
    const value = this.data[index];
    if (value === undefined || this.words[3] === 2) this.check();
    return this.isBool ? value !== 0 : value!;
  }

  protected writeAt(index: number, value: unknown): void {
    const encoded = this.encode(value);
    if (this.data.length === 0 || this.words[3] === 2) this.check();
    (this.data as unknown as (number | bigint)[])[index] = encoded;
  }

  protected index(index: unknown): number {
    if (typeof index !== 'number') throw new TypeError(`index must be a number (got ${describe(index)})`);
    const length = this.#length;
    if (!Number.isInteger(index) || index < -length || index >= length) {
      throw new RangeError(`index ${index} is out of range for length ${length}`);
    }
    return index < 0 ? index + length : index;
  }

  protected lockOf(): Lock | RLock {
    this.check();
    if (this.#lock === null) throw new TypeError(`this ${this.label} has no lock (it was made with { lock: false })`);
    return this.#lock;
  }

  /** Closes this handle (and the lock handle it opened). Idempotent. */
  override close(): void {
    super.close();
    if (this.#closeLock) this.#lock?.close();
  }

  /** Unlinks the object, and the lock that was made for it. */
  override unlink(): void {
    const ownsLock = this.words.length !== 0 && (this.words[FLAGS]! & OWNS_LOCK) !== 0;
    super.unlink();
    if (ownsLock && this.#lock !== null) {
      try {
        this.#lock.unlink();
      } catch {
        // already gone
      }
    }
  }
}

/** A single shared number/bigint/boolean: `value` reads and writes it (not atomic, no lock taken). */
export abstract class SharedValueBase<C extends string> extends SharedCTypes {
  /**
   * A zero-copy TypedArray of length 1 over the value (Uint8Array for 'c' and '?'): `Atomics`
   * on it are atomic across processes. Throws Closed once closed.
   */
  get view(): ViewOf<C> {
    return this.viewOf as ViewOf<C>;
  }

  /** The current value (BigInt for 64-bit codes, boolean for '?'). Throws Closed once closed. */
  get value(): ElementOf<C> {
    const value = this.data[0];
    if (value === undefined || this.words[3] === 2) this.check();
    return (this.isBool ? value !== 0 : value) as ElementOf<C>;
  }

  /** Stores a value; TypeError for the wrong type, RangeError for an integer out of range. */
  set value(value: ElementOf<C>) {
    const encoded = this.encode(value);
    if (this.data.length === 0 || this.words[3] === 2) this.check();
    (this.data as unknown as (number | bigint)[])[0] = encoded;
  }

  /** The same as reading `value`. */
  get(): ElementOf<C> {
    return this.readAt(0) as ElementOf<C>;
  }

  /** The same as writing `value`. */
  set(value: ElementOf<C>): void {
    this.writeAt(0, value);
  }

  override toString(): string {
    return `${this.label}('${this.typecode}', ${this.closed ? '<closed>' : String(this.value)})`;
  }
}

/** A fixed-length shared array of one typecode, with `get`/`set` by index and a zero-copy `view`. */
export abstract class SharedArrayBase<C extends string> extends SharedCTypes {
  /**
   * A zero-copy TypedArray over the shared elements (Uint8Array for 'c' and '?'), valid in every
   * process that has the array; `Atomics` on it are atomic across processes. Throws Closed once closed.
   */
  get view(): ViewOf<C> {
    return this.viewOf as ViewOf<C>;
  }

  /** The number of elements. */
  get length(): number {
    return this.lengthOf;
  }

  /** The element at `index` (negative counts from the end). RangeError out of range. */
  get(index: number): ElementOf<C> {
    return this.readAt(this.index(index)) as ElementOf<C>;
  }

  /** Stores `value` at `index`; TypeError/RangeError for a bad index or value. */
  set(index: number, value: ElementOf<C>): void {
    const at = this.index(index);
    this.writeAt(at, value);
  }

  /** A copy of the elements as a plain array. */
  toArray(): ElementOf<C>[] {
    const out: ElementOf<C>[] = [];
    for (let i = 0; i < this.lengthOf; i++) out.push(this.readAt(i) as ElementOf<C>);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<ElementOf<C>> {
    for (let i = 0; i < this.lengthOf; i++) yield this.readAt(i) as ElementOf<C>;
  }

  override toString(): string {
    return `${this.label}('${this.typecode}', length=${this.lengthOf})`;
  }
}
