// THE serializer: every object that crosses a process boundary (Process arguments, Queue and Pipe
// messages, Pool tasks, Manager calls) goes through `serialize`/`deserialize`.
//
// Structured-clone semantics plus live handles, in one pass, into one reusable scratch buffer.
// The format is a tagged binary stream, versioned by its first byte, and stateless per message
// (no structure records are shared between messages: several consumers read one stream).
// bench/serialize.js compares it with node:v8 and msgpackr; docs/DECISIONS.md has the figures.
// Decoding is defensive: a truncated or hostile message throws SerializationError, never reads
// out of bounds, and `__proto__` keys stay own data.
import { SerializationError } from './errors.js';
import { isShareable } from './handles.js';
import {
  classesByCtor,
  FORMAT_VERSION,
  TYPED,
  T_ARRAY,
  T_ARRAYBUFFER,
  T_BIGINT,
  T_BIGINT64,
  T_BUFFER,
  T_CLASS,
  T_DATAVIEW,
  T_DATE,
  T_ERROR,
  T_FALSE,
  T_FLOAT64,
  T_HANDLE,
  T_INT32,
  T_INT8,
  T_MAP,
  T_NULL,
  T_OBJECT,
  T_REF,
  T_REGEXP,
  T_SET,
  T_SPARSE,
  T_STR16,
  T_STR32,
  T_STR8,
  T_TRUE,
  T_TYPED,
  T_UNDEFINED,
  isWellFormed,
  type RawBuffer,
  type TypedArrayConstructor,
} from './serialize-format.js';

export { registerClass, FORMAT_VERSION, type ClassOptions } from './serialize-format.js';

// ---- encoder state (module-level: closures over locals are what V8 optimises best) ----

// Messages are written one after another into a chunk and handed out as views of it (no copy
// per message, as msgpackr does); a full chunk is left to the views that still use it.
const CHUNK_BYTES = 64 * 1024;
let out = Buffer.allocUnsafeSlow(CHUNK_BYTES) as RawBuffer;
let view = new DataView(out.buffer, out.byteOffset, out.length);
let base = 0; // where the message being written starts in `out`
let pos = 0;
// The objects of the message being written, by id (for T_REF): the first SEEN_INLINE in an
// array searched linearly, the rest in a Map. Most messages hold a few objects, and clearing a
// Map after each one costs more than the whole encoding of `{ i }` (Map#clear allocates a new
// table: ~200 ns and garbage per message).
const SEEN_INLINE = 16;
let seen: (object | undefined)[] = [];
let refs = new Map<object, number>();
let refCount = 0;

/** The id of `v` if the message already holds it, else -1. */
function idOf(v: object): number {
  const inline = refCount < SEEN_INLINE ? refCount : SEEN_INLINE;
  for (let i = 0; i < inline; i++) if (seen[i] === v) return i;
  if (refCount > SEEN_INLINE) return refs.get(v) ?? -1;
  return -1;
}

function remember(v: object): void {
  if (refCount < SEEN_INLINE) seen[refCount] = v;
  else refs.set(v, refCount);
  refCount++;
}

/** Forgets the objects with ids from `first` on (all of them by default). */
function forget(first = 0): void {
  for (let i = first; i < refCount && i < SEEN_INLINE; i++) seen[i] = undefined;
  if (refCount > SEEN_INLINE) {
    if (first <= SEEN_INLINE) refs.clear();
    else for (const [object, id] of refs) if (id >= first) refs.delete(object);
  }
  refCount = first;
}
let busy = false;
let handleCount = 0;

/** While set: why a live handle may not be part of the message being encoded. */
let handlesRefused: string | null = null;

/**
 * {@link serialize} for a peer that must never receive live handles (a TCP peer): a handle
 * anywhere in `value` is a SerializationError saying `reason`, raised before any descriptor is made.
 */
export function serializeWithoutHandles(value: unknown, path: string, reason: string): Buffer {
  const outer = handlesRefused;
  handlesRefused = reason;
  try {
    return serialize(value, path);
  } finally {
    handlesRefused = outer;
  }
}

/** How many live handles have been written so far (tells a sender whether a message holds any). */
export function handlesWritten(): number {
  return handleCount;
}

class Unsupported extends Error {
  constructor(
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(reason);
  }
}

function newChunk(size: number): void {
  out = Buffer.allocUnsafeSlow(size) as RawBuffer;
  view = new DataView(out.buffer, out.byteOffset, out.length);
}

function grow(needed: number): void {
  const written = pos - base;
  // Doubling what is written keeps many small writes linear; a big one is sized to fit.
  const size = Math.max(CHUNK_BYTES, 2 * written + needed + 1024);
  const previous = out;
  newChunk(size);
  previous.copy(out, 0, base, pos);
  base = 0;
  pos = written;
}

function ensure(needed: number): void {
  if (pos + needed > out.length) grow(needed);
}

function writeUint32(n: number): void {
  ensure(4);
  view.setUint32(pos, n, true);
  pos += 4;
}

function writeString(s: string): void {
  const length = s.length;
  if (length < 64) {
    // At most 3 bytes per UTF-16 unit: fits a 1-byte length. ASCII is copied by hand (faster
    // than a call into C++ for short strings).
    ensure(2 + length * 3);
    const start = pos + 2;
    let p = start;
    for (let i = 0; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        p = -1;
        break;
      }
      out[p++] = c;
    }
    if (p < 0) {
      if (!isWellFormed(s)) return writeString16(s);
      p = start + out.utf8Write(s, start);
    }
    out[pos] = T_STR8;
    out[pos + 1] = p - start;
    pos = p;
    return;
  }
  if (!isWellFormed(s)) return writeString16(s);
  ensure(5 + length * 3);
  const written = out.utf8Write(s, pos + 5);
  out[pos] = T_STR32;
  view.setUint32(pos + 1, written, true);
  pos += 5 + written;
}

function writeString16(s: string): void {
  ensure(5 + s.length * 2);
  out[pos] = T_STR16;
  view.setUint32(pos + 1, s.length, true);
  pos += 5;
  for (let i = 0; i < s.length; i++, pos += 2) view.setUint16(pos, s.charCodeAt(i), true);
}

function writeBytes(tag: number, bytes: ArrayBufferView | ArrayBuffer, kind = -1): void {
  const source =
    bytes instanceof ArrayBuffer
      ? new Uint8Array(bytes)
      : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  ensure(6 + source.length);
  out[pos++] = tag;
  if (kind >= 0) out[pos++] = kind;
  view.setUint32(pos, source.length, true);
  pos += 4;
  out.set(source, pos);
  pos += source.length;
}

function writeValue(v: unknown): void {
  switch (typeof v) {
    case 'number':
      ensure(9);
      if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
        if (v >= 0 && v < 128) out[pos++] = 0x80 | v;
        else if (v >= -128 && v < 128) {
          out[pos++] = T_INT8;
          view.setInt8(pos++, v);
        } else {
          out[pos++] = T_INT32;
          view.setInt32(pos, v, true);
          pos += 4;
        }
      } else {
        out[pos++] = T_FLOAT64;
        view.setFloat64(pos, v, true);
        pos += 8;
      }
      return;
    case 'string':
      return writeString(v);
    case 'boolean':
      ensure(1);
      out[pos++] = v ? T_TRUE : T_FALSE;
      return;
    case 'undefined':
      ensure(1);
      out[pos++] = T_UNDEFINED;
      return;
    case 'object':
      if (v === null) {
        ensure(1);
        out[pos++] = T_NULL;
        return;
      }
      return writeObject(v);
    case 'bigint':
      if (BigInt.asIntN(64, v) === v) {
        ensure(9);
        out[pos++] = T_BIGINT64;
        view.setBigInt64(pos, v, true);
        pos += 8;
      } else {
        ensure(1);
        out[pos++] = T_BIGINT;
        writeString(v < 0n ? `-${(-v).toString(16)}` : v.toString(16));
      }
      return;
    case 'function':
      throw new Unsupported(v, 'a function cannot be sent to another process (use a target or a module reference)');
    default:
      throw new Unsupported(v, `a ${typeof v} cannot be sent to another process`);
  }
}

function writeObject(v: object): void {
  const id = idOf(v);
  if (id >= 0) {
    ensure(5);
    out[pos++] = T_REF;
    view.setUint32(pos, id, true);
    pos += 4;
    return;
  }
  remember(v);
  const ctor = (v as { constructor?: unknown }).constructor;
  if (ctor === Object) return writePlain(v as Record<string, unknown>);
  if (Array.isArray(v)) return writeArray(v);
  if (ArrayBuffer.isView(v)) {
    if (v instanceof Buffer) return writeBytes(T_BUFFER, v);
    if (v instanceof DataView) return writeBytes(T_DATAVIEW, v);
    const kind = TYPED.indexOf(v.constructor as TypedArrayConstructor);
    if (kind >= 0) return writeBytes(T_TYPED, v, kind);
    throw new Unsupported(v, `a ${v.constructor.name} cannot be sent to another process`);
  }
  if (isShareable(v)) {
    // Refused before toHandle(): making a descriptor has effects (a Pipe end keeps itself alive
    // for the receiver until the descriptor is revived).
    if (handlesRefused !== null) throw new Unsupported(v, handlesRefused);
    handleCount++;
    ensure(1);
    out[pos++] = T_HANDLE;
    return writeValue(v.toHandle());
  }
  const entry = classesByCtor.get(ctor);
  if (entry !== undefined) {
    ensure(1);
    out[pos++] = T_CLASS;
    writeString(entry.name);
    return writeValue(entry.toWire ? entry.toWire(v as never) : { ...v });
  }
  if (v instanceof Map) {
    ensure(5);
    out[pos++] = T_MAP;
    writeUint32(v.size);
    for (const [key, value] of v) {
      writeValue(key);
      writeValue(value);
    }
    return;
  }
  if (v instanceof Set) {
    ensure(5);
    out[pos++] = T_SET;
    writeUint32(v.size);
    for (const value of v) writeValue(value);
    return;
  }
  if (v instanceof Date) {
    ensure(9);
    out[pos++] = T_DATE;
    view.setFloat64(pos, v.getTime(), true);
    pos += 8;
    return;
  }
  if (v instanceof RegExp) {
    ensure(1);
    out[pos++] = T_REGEXP;
    writeString(v.source);
    return writeString(v.flags);
  }
  if (v instanceof Error) return writeError(v);
  if (v instanceof ArrayBuffer) return writeBytes(T_ARRAYBUFFER, v);
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) return writePlain(v as Record<string, unknown>);
  const name = typeof ctor === 'function' ? ctor.name : 'unknown';
  throw new Unsupported(
    v,
    v instanceof SharedArrayBuffer
      ? 'a SharedArrayBuffer cannot be shared with another process (use SharedMemory)'
      : `an instance of class ${name || '(anonymous)'} cannot be sent to another process unless the class is registered with registerClass()`,
  );
}

function writeProperties(v: object, keys: string[]): void {
  writeUint32(keys.length);
  for (const key of keys) {
    writeString(key);
    writeValue((v as Record<string, unknown>)[key]);
  }
}

function writePlain(v: Record<string, unknown>): void {
  ensure(1);
  out[pos++] = T_OBJECT;
  writeProperties(v, Object.keys(v));
}

function writeArray(v: unknown[]): void {
  const start = pos - base; // relative: the message may move to a bigger chunk meanwhile
  const firstRef = refCount;
  const length = v.length;
  ensure(5);
  out[pos++] = T_ARRAY;
  writeUint32(length);
  for (let i = 0; i < length; i++) {
    const item = v[i];
    if (item === undefined && !(i in v)) {
      // A hole: start again in the sparse form, which costs nothing per missing index (a huge
      // array with few elements stays small). Forget the objects written meanwhile.
      pos = base + start;
      if (refCount > firstRef) forget(firstRef);
      return writeSparse(v);
    }
    writeValue(item);
  }
}

function writeSparse(v: unknown[]): void {
  const indices: number[] = [];
  for (const key of Object.keys(v)) {
    const index = Number(key);
    if (index >>> 0 === index && index < v.length) indices.push(index);
  }
  ensure(9);
  out[pos++] = T_SPARSE;
  writeUint32(v.length);
  writeUint32(indices.length);
  for (const index of indices) {
    writeUint32(index);
    writeValue(v[index]);
  }
}

function writeError(e: Error): void {
  ensure(1);
  out[pos++] = T_ERROR;
  writeString(String(e.name));
  writeString(String(e.message));
  writeValue(typeof e.stack === 'string' ? e.stack : undefined);
  const hasCause = Object.hasOwn(e, 'cause');
  const hasErrors = e instanceof AggregateError;
  ensure(1);
  out[pos++] = (hasCause ? 1 : 0) | (hasErrors ? 2 : 0);
  if (hasCause) writeValue(e.cause);
  if (hasErrors) writeValue(e.errors);
  writeProperties(e, Object.keys(e));
}

function encode(value: unknown, path: string): void {
  if (out.length - pos < 1024) {
    newChunk(CHUNK_BYTES);
    pos = 0;
  }
  base = pos = (pos + 7) & ~7; // 8-aligned: later copies of the message are faster
  ensure(1);
  out[pos++] = FORMAT_VERSION;
  try {
    writeValue(value);
  } catch (error) {
    if (error instanceof Unsupported) {
      const where = findPath(value, error.value, path) ?? path;
      throw new SerializationError(`${where}: ${error.reason} (got ${describeValue(error.value)})`, where);
    }
    throw error;
  } finally {
    forget();
  }
}

// A toHandle()/toWire() that serializes in turn gets fresh state and leaves ours intact.
function reentrant<T>(run: () => T): T {
  const saved = { out, view, base, pos, seen, refs, refCount };
  newChunk(CHUNK_BYTES);
  pos = 0;
  seen = [];
  refs = new Map();
  refCount = 0;
  try {
    return run();
  } finally {
    ({ out, view, base, pos, seen, refs, refCount } = saved);
  }
}

/**
 * Encodes `value` into a new Buffer. Throws SerializationError naming the path (`args[1].cb`,
 * rooted at `path`) of the first value that cannot travel: a function, a symbol, an instance of
 * an unregistered class, a SharedArrayBuffer.
 */
export function serialize(value: unknown, path = 'value'): Buffer {
  if (busy) return reentrant(() => serialize(value, path));
  busy = true;
  try {
    encode(value, path);
    const result = out.subarray(base, pos);
    // A chunk grown for a big message is not kept for the small ones that follow.
    if (out.length > CHUNK_BYTES) pos = out.length;
    return result;
  } catch (error) {
    pos = base;
    throw error;
  } finally {
    busy = false;
  }
}

/**
 * Encodes `value` and hands the bytes to `use` as a view over the internal scratch buffer, valid
 * only during the call (no copy: for callers that copy the bytes into a ring or a socket anyway).
 * Returns what `use` returns. Throws as {@link serialize}.
 */
export function serializeWith<R>(value: unknown, use: (bytes: Buffer) => R, path = 'value'): R {
  const outer = viewUser;
  viewUser = use;
  try {
    return serializePrefix(value, asView, path) as R;
  } finally {
    viewUser = outer;
  }
}

let viewUser: ((bytes: Buffer) => unknown) | null = null;
function asView(bytes: Buffer, length: number): unknown {
  return viewUser!(bytes.subarray(0, length));
}

// The view serializePrefix hands out: made again only when the message starts elsewhere.
let prefixView = out.subarray(0);
let prefixOf = out;
let prefixBase = 0;

/**
 * {@link serializeWith} without making a view per message (~50 ns, more than encoding a small
 * object): `use` gets the first `length` bytes of `bytes` as the message, valid during the call.
 */
export function serializePrefix<R>(value: unknown, use: (bytes: Buffer, length: number) => R, path = 'value'): R {
  if (busy) return reentrant(() => serializePrefix(value, use, path));
  busy = true;
  try {
    encode(value, path);
    if (prefixOf !== out || prefixBase !== base) {
      prefixView = out.subarray(base);
      prefixOf = out;
      prefixBase = base;
    }
    return use(prefixView, pos - base);
  } finally {
    pos = base; // the space is reused by the next message
    busy = false;
  }
}

export { deserialize, deserializeRange } from './deserialize.js';

// ---- the path of a value that cannot travel (only computed when encoding failed) ----

/** A short description of a value for error messages. */
function describeValue(value: unknown): string {
  if (typeof value === 'function') return value.name ? `function ${value.name}` : 'an anonymous function';
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'object' && value !== null) return `an object of class ${value.constructor?.name ?? '?'}`;
  return typeof value;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** Walks `root` as the encoder does and returns the path at which `bad` sits. */
function findPath(root: unknown, bad: unknown, rootPath: string): string | undefined {
  const seen = new Set<object>();
  const walk = (value: unknown, path: string): string | undefined => {
    if (value === bad) return path;
    if (typeof value !== 'object' || value === null || seen.has(value)) return undefined;
    seen.add(value);
    if (ArrayBuffer.isView(value) || isShareable(value)) return undefined;
    const entry = classesByCtor.get(value.constructor);
    if (entry !== undefined) return walk(entry.toWire ? entry.toWire(value as never) : { ...value }, path);
    if (value instanceof Map) {
      for (const [key, item] of value) {
        const found = walk(key, `${path}<key>`) ?? walk(item, `${path}.get(${describeKey(key)})`);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (value instanceof Set) {
      let i = 0;
      for (const item of value) {
        const found = walk(item, `${path}<item ${i++}>`);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (value instanceof Error) {
      const found = walk(value.cause, child(path, 'cause'));
      if (found !== undefined) return found;
    }
    const keys = Object.keys(value);
    for (const key of keys) {
      const index = Array.isArray(value) ? Number(key) : NaN;
      const found = walk(
        (value as Record<string, unknown>)[key],
        Number.isInteger(index) ? child(path, index) : child(path, key),
      );
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk(root, rootPath);
}

function describeKey(key: unknown): string {
  return typeof key === 'string' ? JSON.stringify(key) : typeof key === 'number' ? String(key) : describeValue(key);
}
