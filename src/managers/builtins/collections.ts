// Server side of the manager's dict, list, Namespace, Value and Array. Values arrive as copies
// (the serializer's structured clone), so keys are compared as a Map compares them (primitives by
// value) and list items by structure (`index`, `remove`, `count`).
import { constants } from 'node:buffer';

import { checkInteger, describe } from '../../util.js';
import { encodeElement, typeInfo, type TypeInfo } from '../../sharedctypes/typecodes.js';

const MAX_LENGTH = constants.MAX_LENGTH;

/** Structural equality of two decoded values (what Python's == is for the list's methods). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b) || (a === 0 && b === 0)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => sameValue(item, other[i]));
  }
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (ArrayBuffer.isView(a)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = b as ArrayBufferView;
    return Buffer.from(x).equals(new Uint8Array(y.buffer, y.byteOffset, y.byteLength));
  }
  if (a instanceof Map) {
    const other = b as Map<unknown, unknown>;
    if (a.size !== other.size) return false;
    for (const [key, value] of a) if (!other.has(key) || !sameValue(value, other.get(key))) return false;
    return true;
  }
  if (a instanceof Set) {
    const other = b as Set<unknown>;
    return a.size === other.size && [...a].every((item) => other.has(item));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every(
    (key) =>
      Object.hasOwn(b, key) && sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
  );
}

function entriesOf(init: unknown, what: string): Iterable<[unknown, unknown]> {
  if (init === undefined || init === null) return [];
  if (init instanceof Map) return init.entries();
  if (Array.isArray(init)) {
    for (const pair of init) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError(`${what} takes an object, a Map or an array of [key, value] pairs`);
      }
    }
    return init as [unknown, unknown][];
  }
  if (typeof init === 'object') return Object.entries(init);
  throw new TypeError(`${what} takes an object, a Map or an array of [key, value] pairs (got ${describe(init)})`);
}

/** An object with no prototype: a `__proto__` key stays an ordinary key. */
function plainObject(entries: Iterable<[unknown, unknown]>): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of entries) out[String(key)] = value;
  return out;
}

/** Python's dict, as a Map. */
export class ManagedDict {
  static readonly exposed = [
    'get',
    'set',
    'has',
    'delete',
    'keys',
    'values',
    'entries',
    'size',
    'update',
    'pop',
    'setdefault',
    'clear',
    'toObject',
    'toMap',
  ];
  readonly #map = new Map<unknown, unknown>();

  constructor(init?: unknown) {
    for (const [key, value] of entriesOf(init, 'dict()')) this.#map.set(key, value);
  }

  get(key: unknown, fallback?: unknown): unknown {
    const value = this.#map.get(key);
    return value === undefined && !this.#map.has(key) ? fallback : value;
  }

  set(key: unknown, value: unknown): void {
    this.#map.set(key, value);
  }

  has(key: unknown): boolean {
    return this.#map.has(key);
  }

  delete(key: unknown): boolean {
    return this.#map.delete(key);
  }

  keys(): unknown[] {
    return [...this.#map.keys()];
  }

  values(): unknown[] {
    return [...this.#map.values()];
  }

  entries(): [unknown, unknown][] {
    return [...this.#map.entries()];
  }

  size(): number {
    return this.#map.size;
  }

  update(other: unknown): void {
    for (const [key, value] of entriesOf(other, 'update()')) this.#map.set(key, value);
  }

  pop(key: unknown, fallback?: unknown): unknown {
    if (!this.#map.has(key)) return fallback;
    const value = this.#map.get(key);
    this.#map.delete(key);
    return value;
  }

  setdefault(key: unknown, value?: unknown): unknown {
    if (this.#map.has(key)) return this.#map.get(key);
    this.#map.set(key, value);
    return value;
  }

  clear(): void {
    this.#map.clear();
  }

  toObject(): Record<string, unknown> {
    return plainObject(this.#map);
  }

  toMap(): Map<unknown, unknown> {
    return this.#map;
  }
}

/** Python's list. Indices may be negative (from the end); out of range is a RangeError. */
export class ManagedList {
  static readonly exposed = [
    'append',
    'extend',
    'get',
    'set',
    'pop',
    'insert',
    'remove',
    'index',
    'count',
    'reverse',
    'clear',
    'slice',
    'length',
    'toArray',
  ];
  #items: unknown[];

  constructor(init?: unknown) {
    this.#items = init === undefined || init === null ? [] : [...checkIterable(init, 'list()')];
  }

  append(item: unknown): void {
    this.#items.push(item);
  }

  extend(items: unknown): void {
    for (const item of checkIterable(items, 'extend()')) this.#items.push(item);
  }

  get(index: unknown): unknown {
    return this.#items[this.#at(index)];
  }

  set(index: unknown, value: unknown): void {
    this.#items[this.#at(index)] = value;
  }

  pop(index: unknown = -1): unknown {
    if (this.#items.length === 0) throw new RangeError('pop from an empty list');
    return this.#items.splice(this.#at(index), 1)[0];
  }

  insert(index: unknown, item: unknown): void {
    const length = this.#items.length;
    const i = integer(index, 'index');
    this.#items.splice(i < 0 ? Math.max(0, length + i) : Math.min(i, length), 0, item);
  }

  remove(item: unknown): void {
    const i = this.index(item);
    if (i < 0) throw new RangeError('list.remove(x): x is not in the list');
    this.#items.splice(i, 1);
  }

  /** The first index of an equal item, or -1. */
  index(item: unknown): number {
    return this.#items.findIndex((candidate) => sameValue(candidate, item));
  }

  count(item: unknown): number {
    return this.#items.filter((candidate) => sameValue(candidate, item)).length;
  }

  reverse(): void {
    this.#items.reverse();
  }

  clear(): void {
    this.#items = [];
  }

  slice(start?: unknown, end?: unknown): unknown[] {
    return this.#items.slice(
      start === undefined ? undefined : integer(start, 'start'),
      end === undefined ? undefined : integer(end, 'end'),
    );
  }

  length(): number {
    return this.#items.length;
  }

  toArray(): unknown[] {
    return this.#items;
  }

  #at(index: unknown): number {
    const length = this.#items.length;
    const i = integer(index, 'index');
    const at = i < 0 ? length + i : i;
    if (at < 0 || at >= length) throw new RangeError(`list index ${i} out of range (length ${length})`);
    return at;
  }
}

function integer(value: unknown, what: string): number {
  // A wrong type is a TypeError, a number that is not an integer a RangeError (util.checkInteger).
  return checkInteger(value, what, Number.MIN_SAFE_INTEGER);
}

function checkIterable(value: unknown, what: string): Iterable<unknown> {
  if (typeof value === 'string' || (typeof value === 'object' && value !== null && Symbol.iterator in value)) {
    return value as Iterable<unknown>;
  }
  throw new TypeError(`${what} takes an array or another iterable (got ${describe(value)})`);
}

/** Python's Namespace: named attributes. */
export class ManagedNamespace {
  static readonly exposed = ['get', 'set', 'has', 'delete', 'toObject'];
  readonly #attributes = new Map<string, unknown>();

  constructor(init?: unknown) {
    for (const [key, value] of entriesOf(init, 'Namespace()')) this.#attributes.set(name(key), value);
  }

  get(key: unknown): unknown {
    return this.#attributes.get(name(key));
  }

  set(key: unknown, value: unknown): void {
    this.#attributes.set(name(key), value);
  }

  has(key: unknown): boolean {
    return this.#attributes.has(name(key));
  }

  delete(key: unknown): boolean {
    return this.#attributes.delete(name(key));
  }

  toObject(): Record<string, unknown> {
    return plainObject(this.#attributes);
  }
}

function name(key: unknown): string {
  if (typeof key !== 'string') throw new TypeError(`a Namespace attribute name is a string (got ${describe(key)})`);
  return key;
}

function decodeElement(info: TypeInfo, raw: number | bigint): unknown {
  return info.kind === 'bool' ? raw !== 0 : raw;
}

/** Python's manager Value: one typed value (checked as the shared Value checks it). */
export class ManagedValue {
  static readonly exposed = ['get', 'set'];
  readonly #cell:
    | Int8Array
    | Uint8Array
    | Int16Array
    | Uint16Array
    | Int32Array
    | Uint32Array
    | Float32Array
    | Float64Array
    | BigInt64Array
    | BigUint64Array;
  readonly #info: TypeInfo;

  constructor(typecode: unknown, value?: unknown) {
    this.#info = typeInfo(typecode);
    this.#cell = new this.#info.array(1);
    if (value !== undefined) this.set(value);
  }

  get(): unknown {
    return decodeElement(this.#info, this.#cell[0]!);
  }

  set(value: unknown): void {
    (this.#cell as unknown as (number | bigint)[])[0] = encodeElement(this.#info, value);
  }
}

/** Python's manager Array: a fixed-length typed array. */
export class ManagedArray {
  static readonly exposed = ['get', 'set', 'length', 'toArray'];
  readonly #items: ManagedValue['get'] extends never ? never : ArrayLike<number | bigint>;
  readonly #info: TypeInfo;

  constructor(typecode: unknown, init: unknown) {
    const info = typeInfo(typecode);
    this.#info = info;
    if (typeof init === 'number') {
      // Bounded as the shared Array is: one buffer of at most buffer.constants.MAX_LENGTH bytes.
      this.#items = new info.array(checkInteger(init, 'length', 0, Math.floor(MAX_LENGTH / info.size)));
      return;
    }
    const values = [...checkIterable(init, 'Array()')];
    const items = new info.array(values.length);
    values.forEach((value, i) => ((items as unknown as (number | bigint)[])[i] = encodeElement(info, value)));
    this.#items = items;
  }

  get(index: unknown): unknown {
    return decodeElement(this.#info, this.#items[this.#at(index)]!);
  }

  set(index: unknown, value: unknown): void {
    (this.#items as unknown as (number | bigint)[])[this.#at(index)] = encodeElement(this.#info, value);
  }

  length(): number {
    return this.#items.length;
  }

  toArray(): unknown[] {
    return Array.from(this.#items, (raw) => decodeElement(this.#info, raw));
  }

  #at(index: unknown): number {
    const length = this.#items.length;
    const i = integer(index, 'index');
    const at = i < 0 ? length + i : i;
    if (at < 0 || at >= length) throw new RangeError(`array index ${i} out of range (length ${length})`);
    return at;
  }
}
