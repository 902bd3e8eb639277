// A check of a message from a network (TCP) peer before it is decoded: the manager server never
// revives a live handle sent from another machine (a handle names shared memory or a socket of
// this machine, and reviving one would let a peer make the server open them), and caps nesting.
//
// It walks the serializer's format (serialize-format.ts) exactly as deserialize.ts reads it,
// building nothing. Anything it does not recognise is refused, so a format change can make it
// refuse too much, never let a handle through.
import { SerializationError } from '../errors.js';
import {
  FORMAT_VERSION,
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
} from '../serialize-format.js';

function refuse(why: string): never {
  throw new SerializationError(`a message from a network peer was refused: ${why}`, 'message');
}

/**
 * Throws SerializationError when `bytes` holds a live handle, nests deeper than `maxDepth`, or is
 * not a well-formed message. Costs one pass over the bytes, no allocation.
 */
export function checkNetworkMessage(bytes: Uint8Array, maxDepth: number): void {
  walk(bytes, maxDepth, true);
}

/** True when a (local, trusted) message holds a live handle; false also when it is malformed. */
export function holdsHandle(bytes: Uint8Array): boolean {
  try {
    return walk(bytes, Infinity, false);
  } catch {
    return false;
  }
}

function walk(bytes: Uint8Array, maxDepth: number, refuseHandles: boolean): boolean {
  let found = false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.byteLength;
  let at = 0;

  const need = (n: number): void => {
    if (n < 0 || at + n > end) refuse('it is truncated');
  };
  const u8 = (): number => {
    need(1);
    return bytes[at++]!;
  };
  const u32 = (): number => {
    need(4);
    const n = view.getUint32(at, true);
    at += 4;
    return n;
  };
  const skip = (n: number): void => {
    need(n);
    at += n;
  };
  const string = (): void => {
    const tag = u8();
    if (tag === T_STR8) skip(u8());
    else if (tag === T_STR32) skip(u32());
    else if (tag === T_STR16) skip(u32() * 2);
    else refuse(`expected a string, found tag ${tag}`);
  };
  const count = (minBytesEach: number): number => {
    const n = u32();
    if (n * minBytesEach > end - at) refuse('a length runs past its end');
    return n;
  };

  // An explicit stack of "values still to read" would be longer; recursion is bounded by maxDepth.
  const value = (depth: number): void => {
    if (depth > maxDepth) refuse(`it nests deeper than ${maxDepth} levels`);
    const tag = u8();
    if (tag >= 0x80) return;
    switch (tag) {
      case T_UNDEFINED:
      case T_NULL:
      case T_FALSE:
      case T_TRUE:
        return;
      case T_INT8:
        return skip(1);
      case T_INT32:
        return skip(4);
      case T_FLOAT64:
      case T_BIGINT64:
      case T_DATE:
        return skip(8);
      case T_STR8:
      case T_STR32:
      case T_STR16:
        at--;
        return string();
      case T_BIGINT:
        return string();
      case T_OBJECT: {
        const n = count(3);
        for (let i = 0; i < n; i++) {
          string();
          value(depth + 1);
        }
        return;
      }
      case T_ARRAY: {
        const n = count(1);
        for (let i = 0; i < n; i++) value(depth + 1);
        return;
      }
      case T_SPARSE: {
        u32();
        const n = count(5);
        for (let i = 0; i < n; i++) {
          u32();
          value(depth + 1);
        }
        return;
      }
      case T_MAP: {
        const n = count(2);
        for (let i = 0; i < 2 * n; i++) value(depth + 1);
        return;
      }
      case T_SET: {
        const n = count(1);
        for (let i = 0; i < n; i++) value(depth + 1);
        return;
      }
      case T_REGEXP:
        string();
        return string();
      case T_ERROR: {
        string();
        string();
        value(depth + 1);
        const flags = u8();
        if (flags & 1) value(depth + 1);
        if (flags & 2) value(depth + 1);
        const n = count(3);
        for (let i = 0; i < n; i++) {
          string();
          value(depth + 1);
        }
        return;
      }
      case T_ARRAYBUFFER:
      case T_BUFFER:
      case T_DATAVIEW:
        return skip(u32());
      case T_TYPED:
        skip(1);
        return skip(u32());
      case T_REF:
        return skip(4);
      case T_CLASS:
        string();
        return value(depth + 1);
      case T_HANDLE:
        if (refuseHandles) {
          refuse(
            'it holds a live handle (a Queue, Lock, proxy, ...): handles are accepted only from local (Unix-socket) clients',
          );
        }
        found = true;
        return value(depth + 1);
      default:
        return refuse(`unknown tag ${tag}`);
    }
  };

  if (u8() !== FORMAT_VERSION) refuse('unsupported format version');
  value(0);
  if (at !== end) refuse('bytes are left over after the value');
  return found;
}
