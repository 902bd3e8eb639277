// Typecodes of Value/Array (Python's `array`/ctypes codes, and readable names), the TypedArray
// each maps to, and the checks that refuse a value of the wrong type or out of range.
import { describe } from '../util.js';

type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

/** A single-character typecode: `b B h H i I l L q Q f d c ?`. */
export type Typecode = 'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'l' | 'L' | 'q' | 'Q' | 'f' | 'd' | 'c' | '?';

/** What an element of a typecode is, as JavaScript sees it. */
export type ElementOf<C extends string> = C extends
  'l' | 'L' | 'q' | 'Q' | 'int64' | 'uint64' | 'c_long' | 'c_ulong' | 'c_longlong' | 'c_ulonglong'
  ? bigint
  : C extends '?' | 'bool' | 'c_bool'
    ? boolean
    : number;

/** The TypedArray `view` gives for a typecode (Uint8Array for 'c' and '?'). */
export type ViewOf<C extends string> = C extends 'b' | 'int8' | 'c_byte'
  ? Int8Array
  : C extends 'B' | 'uint8' | 'c' | '?' | 'bool' | 'char' | 'c_ubyte' | 'c_char' | 'c_bool'
    ? Uint8Array
    : C extends 'h' | 'int16' | 'c_short'
      ? Int16Array
      : C extends 'H' | 'uint16' | 'c_ushort'
        ? Uint16Array
        : C extends 'i' | 'int32' | 'c_int'
          ? Int32Array
          : C extends 'I' | 'uint32' | 'c_uint'
            ? Uint32Array
            : C extends 'l' | 'q' | 'int64' | 'c_long' | 'c_longlong'
              ? BigInt64Array
              : C extends 'L' | 'Q' | 'uint64' | 'c_ulong' | 'c_ulonglong'
                ? BigUint64Array
                : C extends 'f' | 'float32' | 'c_float'
                  ? Float32Array
                  : C extends 'd' | 'float64' | 'c_double'
                    ? Float64Array
                    : | Int8Array
                      | Uint8Array
                      | Int16Array
                      | Uint16Array
                      | Int32Array
                      | Uint32Array
                      | BigInt64Array
                      | BigUint64Array
                      | Float32Array
                      | Float64Array;

export interface TypeInfo {
  readonly code: Typecode;
  readonly size: number;
  readonly array: TypedArrayConstructor;
  readonly kind: 'int' | 'bigint' | 'float' | 'bool';
  readonly min: number | bigint;
  readonly max: number | bigint;
  /** The zero of the type (0, 0n or false). */
  readonly zero: number | bigint | boolean;
  /** `encodeElement` specialised for this type (the fast check inline, errors out of line). */
  readonly encode: (value: unknown) => number | bigint;
}

type Untyped = Omit<TypeInfo, 'encode'>;

// Each type gets its own small closure so that the call site in a setter stays monomorphic for
// the type in use and the common case costs a couple of comparisons.
function withEncoder(info: Untyped): TypeInfo {
  const full = info as TypeInfo;
  const { min, max } = info;
  let encode: (value: unknown) => number | bigint;
  switch (info.kind) {
    case 'int':
      encode = (value) =>
        typeof value === 'number' && value >= (min as number) && value <= (max as number) && Math.trunc(value) === value
          ? value
          : encodeElement(full, value);
      break;
    case 'bigint':
      encode = (value) =>
        typeof value === 'bigint' && value >= (min as bigint) && value <= (max as bigint)
          ? value
          : encodeElement(full, value);
      break;
    case 'float':
      encode = (value) => (typeof value === 'number' ? value : encodeElement(full, value));
      break;
    case 'bool':
      encode = (value) => (value === true ? 1 : value === false ? 0 : encodeElement(full, value));
      break;
  }
  (full as { encode: typeof encode }).encode = encode;
  return full;
}

function int(code: Typecode, size: number, array: TypedArrayConstructor, signed: boolean): Untyped {
  const bits = size * 8;
  return {
    code,
    size,
    array,
    kind: 'int',
    min: signed ? -(2 ** (bits - 1)) : 0,
    max: signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1,
    zero: 0,
  };
}

function big(code: Typecode, signed: boolean): Untyped {
  return {
    code,
    size: 8,
    array: signed ? BigInt64Array : BigUint64Array,
    kind: 'bigint',
    min: signed ? -(2n ** 63n) : 0n,
    max: signed ? 2n ** 63n - 1n : 2n ** 64n - 1n,
    zero: 0n,
  };
}

const UNTYPED: Record<Typecode, Untyped> = {
  b: int('b', 1, Int8Array, true),
  B: int('B', 1, Uint8Array, false),
  h: int('h', 2, Int16Array, true),
  H: int('H', 2, Uint16Array, false),
  i: int('i', 4, Int32Array, true),
  I: int('I', 4, Uint32Array, false),
  // C long is 64-bit on Linux x86-64 and arm64, as Python's 'l'.
  l: big('l', true),
  L: big('L', false),
  q: big('q', true),
  Q: big('Q', false),
  f: { code: 'f', size: 4, array: Float32Array, kind: 'float', min: -Infinity, max: Infinity, zero: 0 },
  d: { code: 'd', size: 8, array: Float64Array, kind: 'float', min: -Infinity, max: Infinity, zero: 0 },
  c: int('c', 1, Uint8Array, false),
  '?': { code: '?', size: 1, array: Uint8Array, kind: 'bool', min: 0, max: 1, zero: false },
};
const TYPES = Object.fromEntries(Object.entries(UNTYPED).map(([code, info]) => [code, withEncoder(info)])) as Record<
  Typecode,
  TypeInfo
>;

const NAMES: Record<string, Typecode> = {
  int8: 'b',
  uint8: 'B',
  int16: 'h',
  uint16: 'H',
  int32: 'i',
  uint32: 'I',
  int64: 'q',
  uint64: 'Q',
  float32: 'f',
  float64: 'd',
  bool: '?',
  char: 'c',
  c_byte: 'b',
  c_ubyte: 'B',
  c_short: 'h',
  c_ushort: 'H',
  c_int: 'i',
  c_uint: 'I',
  c_long: 'l',
  c_ulong: 'L',
  c_longlong: 'q',
  c_ulonglong: 'Q',
  c_float: 'f',
  c_double: 'd',
  c_char: 'c',
  c_bool: '?',
};

/** Every typecode name accepted (single characters and names). */
export const TYPECODE_NAMES: readonly string[] = [...Object.keys(TYPES), ...Object.keys(NAMES)];

/** Looks a typecode or name up. TypeError for anything unknown. */
export function typeInfo(typecode: unknown): TypeInfo {
  if (typeof typecode === 'string') {
    const info = Object.hasOwn(TYPES, typecode)
      ? TYPES[typecode as Typecode]
      : Object.hasOwn(NAMES, typecode)
        ? TYPES[NAMES[typecode]!]
        : undefined;
    if (info !== undefined) return info;
  }
  throw new TypeError(
    `unknown typecode ${describe(typecode)}: use one of b B h H i I l L q Q f d c ? or a name such as 'int32', 'float64', 'bool'`,
  );
}

/**
 * Checks that `value` fits an element of `info` and returns what to store in its TypedArray.
 * TypeError for the wrong type (a number for a 64-bit code, 1.5 for an integer code, 1 for
 * '?'), RangeError for an integer out of range.
 */
export function encodeElement(info: TypeInfo, value: unknown): number | bigint {
  switch (info.kind) {
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        throw new TypeError(`typecode '${info.code}' takes an integer number (got ${describe(value)})`);
      }
      if (value < (info.min as number) || value > (info.max as number)) {
        throw new RangeError(`typecode '${info.code}' takes integers from ${info.min} to ${info.max} (got ${value})`);
      }
      return value;
    case 'bigint':
      if (typeof value !== 'bigint') {
        throw new TypeError(`typecode '${info.code}' is 64-bit and takes a BigInt (got ${describe(value)})`);
      }
      if (value < (info.min as bigint) || value > (info.max as bigint)) {
        throw new RangeError(`typecode '${info.code}' takes BigInts from ${info.min} to ${info.max} (got ${value})`);
      }
      return value;
    case 'float':
      if (typeof value !== 'number') {
        throw new TypeError(`typecode '${info.code}' takes a number (got ${describe(value)})`);
      }
      return value;
    case 'bool':
      if (typeof value !== 'boolean') {
        throw new TypeError(`typecode '?' takes a boolean (got ${describe(value)})`);
      }
      return value ? 1 : 0;
  }
}
