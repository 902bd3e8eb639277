// The wire format shared by serialize.ts (encoder) and deserialize.ts (decoder): the version
// byte, the tags, and the registry of classes that may travel.

/** The version byte every message starts with. */
export const FORMAT_VERSION = 1;

// Tags. 0x80..0xff: the integers 0..127 inline.
export const T_UNDEFINED = 0;
export const T_NULL = 1;
export const T_FALSE = 2;
export const T_TRUE = 3;
export const T_INT8 = 4;
export const T_INT32 = 5;
export const T_FLOAT64 = 6;
export const T_STR8 = 7; // UTF-8, 1-byte length
export const T_STR32 = 8; // UTF-8, 4-byte length
export const T_STR16 = 9; // UTF-16 code units: strings with lone surrogates, which UTF-8 cannot hold
export const T_BIGINT64 = 10;
export const T_BIGINT = 11; // sign + hex digits
export const T_OBJECT = 12;
export const T_ARRAY = 13;
export const T_SPARSE = 14;
export const T_MAP = 15;
export const T_SET = 16;
export const T_DATE = 17;
export const T_REGEXP = 18;
export const T_ERROR = 19;
export const T_ARRAYBUFFER = 20;
export const T_TYPED = 21;
export const T_BUFFER = 22;
export const T_DATAVIEW = 23;
export const T_REF = 24;
export const T_HANDLE = 25;
export const T_CLASS = 26;

export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;
export const TYPED: TypedArrayConstructor[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];
export const ERRORS: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

// ---- registered classes ----

/** How a registered class travels: `toWire` makes a cloneable value, `fromWire` rebuilds. */
export interface ClassOptions<T> {
  /** The name both processes register the class under. */
  name: string;
  /** Default: the instance's own enumerable properties. */
  toWire?: (instance: T) => unknown;
  /** Default: a new object with the class's prototype and those properties. */
  fromWire?: (wire: never) => T;
}

interface ClassEntry {
  ctor: abstract new (...args: never[]) => unknown;
  name: string;
  toWire: ((instance: never) => unknown) | undefined;
  fromWire: ((wire: never) => unknown) | undefined;
}
export const classesByCtor = new Map<unknown, ClassEntry>();
export const classesByName = new Map<string, ClassEntry>();

/**
 * Lets instances of `Ctor` travel between processes. Register the class under the same `name` in
 * every process that sends or receives it. Throws TypeError for bad arguments and RangeError
 * when `name` is already registered to another class.
 */
export function registerClass<T>(Ctor: abstract new (...args: never[]) => T, options: ClassOptions<T>): void {
  if (typeof Ctor !== 'function' || typeof Ctor.prototype !== 'object') {
    throw new TypeError('registerClass needs a class (a constructor function)');
  }
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const { name, toWire, fromWire } = options;
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('options.name must be a non-empty string');
  if (toWire !== undefined && typeof toWire !== 'function') throw new TypeError('options.toWire must be a function');
  if (fromWire !== undefined && typeof fromWire !== 'function') {
    throw new TypeError('options.fromWire must be a function');
  }
  const taken = classesByName.get(name);
  if (taken !== undefined && taken.ctor !== Ctor) {
    throw new RangeError(`the class name ${JSON.stringify(name)} is already registered to another class`);
  }
  const entry: ClassEntry = { ctor: Ctor, name, toWire, fromWire } as ClassEntry;
  classesByCtor.set(Ctor, entry);
  classesByName.set(name, entry);
}

/** Node's own Buffer methods, without the argument checks of `write`/`toString` (on every Buffer). */
export interface RawBuffer extends Buffer {
  utf8Write(text: string, offset: number, maxLength?: number): number;
  utf8Slice(start: number, end: number): string;
}

/** String#isWellFormed (Node 20; ES2024 typings are not in our lib). */
export function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}
