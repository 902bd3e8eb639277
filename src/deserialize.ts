// The decoder of serialize.ts's format. Defensive: a truncated or hostile message throws
// SerializationError, never reads out of bounds, and `__proto__` keys stay own data.
import { SerializationError } from './errors.js';
import { fromHandle, type HandleDescriptor } from './handles.js';
import {
  classesByName,
  ERRORS,
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
  type RawBuffer,
} from './serialize-format.js';

const EMPTY = Buffer.alloc(0) as RawBuffer;
let src = EMPTY;
let at = 0;
let end = 0;
let objects: unknown[] = [];
/** The live handles this decode revived (closed again when it fails); null until the first. */
let revived: unknown[] | null = null;
const PENDING = Symbol('pending');

function corrupt(why: string): never {
  throw new SerializationError(`cannot decode the message: ${why}`, 'message');
}

function need(n: number): void {
  if (at + n > end) corrupt('it is truncated');
}

function readUint32(): number {
  need(4);
  const n = src.readUint32LE(at);
  at += 4;
  return n;
}

function readCount(minBytesEach: number): number {
  const n = readUint32();
  if (n * minBytesEach > end - at) corrupt('a length runs past its end');
  return n;
}

function readString(): string {
  need(1);
  const tag = src[at++]!;
  if (tag === T_STR8) {
    need(1);
    const length = src[at++]!;
    need(length);
    const start = at;
    at += length;
    if (length < 24) {
      let s = '';
      for (let i = start; i < at; i++) {
        const c = src[i]!;
        if (c >= 0x80) return src.utf8Slice(start, at);
        s += String.fromCharCode(c);
      }
      return s;
    }
    return src.utf8Slice(start, at);
  }
  if (tag === T_STR32) {
    const length = readUint32();
    need(length);
    at += length;
    return src.utf8Slice(at - length, at);
  }
  if (tag === T_STR16) {
    const length = readCount(2);
    let s = '';
    for (let i = 0; i < length; i++, at += 2) s += String.fromCharCode(src.readUint16LE(at));
    return s;
  }
  return corrupt(`expected a string, found tag ${tag}`);
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

function readProperties(target: Record<string, unknown>): void {
  const count = readCount(3);
  for (let i = 0; i < count; i++) {
    const key = readString();
    setOwn(target, key, readValue());
  }
}

function readBytes(): Buffer {
  const length = readUint32();
  need(length);
  at += length;
  return src.subarray(at - length, at);
}

// Decoded bytes are copies: the message may live in memory that is reused (a ring, a socket buffer).
function ownBuffer(bytes: Buffer): ArrayBuffer {
  const copy = new ArrayBuffer(bytes.length);
  bytes.copy(new Uint8Array(copy));
  return copy;
}

function readValue(): unknown {
  need(1);
  const tag = src[at++]!;
  if (tag >= 0x80) return tag & 0x7f;
  switch (tag) {
    case T_UNDEFINED:
      return undefined;
    case T_NULL:
      return null;
    case T_FALSE:
      return false;
    case T_TRUE:
      return true;
    case T_INT8:
      need(1);
      return src.readInt8(at++);
    case T_INT32:
      need(4);
      at += 4;
      return src.readInt32LE(at - 4);
    case T_FLOAT64:
      need(8);
      at += 8;
      return src.readDoubleLE(at - 8);
    case T_STR8:
    case T_STR32:
    case T_STR16:
      at--;
      return readString();
    case T_BIGINT64:
      need(8);
      at += 8;
      return src.readBigInt64LE(at - 8);
    case T_BIGINT: {
      const text = readString();
      if (!/^-?[0-9a-f]+$/.test(text)) corrupt('bad bigint');
      return text.startsWith('-') ? -BigInt(`0x${text.slice(1)}`) : BigInt(`0x${text}`);
    }
    case T_OBJECT: {
      const o: Record<string, unknown> = {};
      objects.push(o);
      readProperties(o);
      return o;
    }
    case T_ARRAY: {
      const length = readCount(1);
      const a: unknown[] = [];
      objects.push(a);
      for (let i = 0; i < length; i++) a.push(readValue());
      return a;
    }
    case T_SPARSE: {
      const length = readUint32();
      const count = readCount(5);
      const a: unknown[] = new Array(length);
      objects.push(a);
      for (let i = 0; i < count; i++) {
        const index = readUint32();
        if (index >= length) corrupt('a sparse index is out of range');
        a[index] = readValue();
      }
      return a;
    }
    case T_MAP: {
      const count = readCount(2);
      const m = new Map<unknown, unknown>();
      objects.push(m);
      for (let i = 0; i < count; i++) m.set(readValue(), readValue());
      return m;
    }
    case T_SET: {
      const count = readCount(1);
      const s = new Set<unknown>();
      objects.push(s);
      for (let i = 0; i < count; i++) s.add(readValue());
      return s;
    }
    case T_DATE: {
      need(8);
      at += 8;
      const d = new Date(src.readDoubleLE(at - 8));
      objects.push(d);
      return d;
    }
    case T_REGEXP: {
      const slot = objects.push(PENDING) - 1;
      const source = readString();
      let r: RegExp;
      try {
        r = new RegExp(source, readString());
      } catch {
        return corrupt('bad regular expression');
      }
      objects[slot] = r;
      return r;
    }
    case T_ERROR:
      return readError();
    case T_ARRAYBUFFER: {
      const bytes = readBytes();
      const b = ownBuffer(bytes);
      objects.push(b);
      return b;
    }
    case T_BUFFER: {
      const bytes = readBytes();
      const b = Buffer.allocUnsafe(bytes.length);
      bytes.copy(b);
      objects.push(b);
      return b;
    }
    case T_TYPED: {
      need(1);
      const Ctor = TYPED[src[at++]!];
      const bytes = readBytes();
      if (Ctor === undefined || bytes.length % Ctor.BYTES_PER_ELEMENT !== 0) corrupt('bad typed array');
      const t = new Ctor(ownBuffer(bytes));
      objects.push(t);
      return t;
    }
    case T_DATAVIEW: {
      const d = new DataView(ownBuffer(readBytes()));
      objects.push(d);
      return d;
    }
    case T_REF: {
      const id = readUint32();
      const target = objects[id];
      if (id >= objects.length) corrupt('a reference points nowhere');
      if (target === PENDING) corrupt('a registered class or handle refers to itself while being rebuilt');
      return target;
    }
    case T_HANDLE: {
      const slot = objects.push(PENDING) - 1;
      const descriptor = readValue() as HandleDescriptor;
      const live = fromHandle(descriptor);
      (revived ??= []).push(live);
      return (objects[slot] = live);
    }
    case T_CLASS:
      return readClass();
    default:
      return corrupt(`unknown tag ${tag}`);
  }
}

function readError(): Error {
  const slot = objects.push(PENDING) - 1;
  const name = readString();
  const message = readString();
  const stack = readValue();
  const Ctor = Object.hasOwn(ERRORS, name) ? ERRORS[name]! : Error;
  const e = new Ctor(message);
  if (e.name !== name) Object.defineProperty(e, 'name', { value: name, writable: true, configurable: true });
  if (typeof stack === 'string')
    Object.defineProperty(e, 'stack', { value: stack, writable: true, configurable: true });
  else delete e.stack;
  objects[slot] = e;
  need(1);
  const flags = src[at++]!;
  if (flags & 1) Object.defineProperty(e, 'cause', { value: readValue(), writable: true, configurable: true });
  if (flags & 2) Object.defineProperty(e, 'errors', { value: readValue(), writable: true, configurable: true });
  readProperties(e as unknown as Record<string, unknown>);
  return e;
}

function readClass(): unknown {
  const slot = objects.push(PENDING) - 1;
  const name = readString();
  const entry = classesByName.get(name);
  if (entry === undefined) {
    throw new SerializationError(
      `a ${name} arrived, but no class is registered under that name in this process (call registerClass)`,
      'message',
    );
  }
  if (entry.fromWire !== undefined) {
    const wire = readValue();
    return (objects[slot] = entry.fromWire(wire as never));
  }
  // Made before its fields are read, so fields may refer back to it.
  const instance = Object.create(entry.ctor.prototype as object) as Record<string, unknown>;
  objects[slot] = instance;
  const wire = readValue();
  if (typeof wire === 'object' && wire !== null) {
    for (const key of Object.keys(wire)) setOwn(instance, key, (wire as Record<string, unknown>)[key]);
  }
  return instance;
}

/**
 * Decodes a message made by {@link serialize}; handles revive as live objects. Throws
 * SerializationError when the bytes are not such a message (wrong version, truncated, corrupt).
 */
export function deserialize(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('deserialize needs a Buffer or Uint8Array');
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return deserializeRange(buffer, 0, buffer.length);
}

// Whether a decode is running: reviving a handle (or a registered class) may decode in turn.
let decoding = false;

/**
 * {@link deserialize} of the message in `bytes[start, stop)`, without making a view of it (the
 * queue's get path: a Buffer view costs more than decoding a small object).
 */
export function deserializeRange(bytes: Buffer, start: number, stop: number): unknown {
  if (!(start >= 0 && start <= stop && stop <= bytes.length)) throw new RangeError('the range is outside the bytes');
  if (decoding) {
    // Nested: decode with fresh state and give the outer decode its own back.
    const saved = { src, at, end, objects, revived };
    objects = [];
    try {
      return decodeMessage(bytes, start, stop);
    } finally {
      ({ src, at, end, objects, revived } = saved);
    }
  }
  decoding = true;
  try {
    return decodeMessage(bytes, start, stop);
  } finally {
    if (objects.length !== 0) objects = []; // keeps nothing alive
    revived = null;
    src = EMPTY;
    decoding = false;
  }
}

function decodeMessage(bytes: Buffer, start: number, stop: number): unknown {
  revived = null; // most messages hold no handle: no array for them
  src = bytes as RawBuffer;
  at = start;
  end = stop;
  try {
    need(1);
    const version = src[at++];
    if (version !== FORMAT_VERSION) {
      throw new SerializationError(
        `message format version ${version} is not supported (this multiproc reads version ${FORMAT_VERSION})`,
        'message',
      );
    }
    const value = readValue();
    if (at !== end) corrupt('bytes are left over after the value');
    return value;
  } catch (error) {
    // The handles revived before the failure belong to no one: let go of their mappings now
    // (a service fed corrupt messages would otherwise hold more and more until it exits).
    for (const live of revived ?? []) {
      try {
        (live as { close?: () => void }).close?.();
      } catch {
        // already unusable: nothing to let go
      }
    }
    if (error instanceof RangeError && /call stack/.test(error.message)) corrupt('it nests too deeply');
    throw error;
  }
}
