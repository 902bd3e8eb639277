// How queue messages become bytes: the one place that names the serializer, so that switching
// it is a one-line change. Objects go through serialize.ts (structured clone plus live handles);
// `putBytes` bypasses this file entirely.
import { deserialize, deserializeRange, serialize, serializePrefix } from '../serialize.js';

/**
 * Encodes `value` and hands `use` the message as the first `length` bytes of `bytes`, valid only
 * during the call (the serializer's scratch: the ring copies it, so the fast path makes no copy
 * and no view of its own). Throws SerializationError naming the path of a value that cannot travel.
 */
export function encodeWith<R>(value: unknown, use: (bytes: Buffer, length: number) => R): R {
  return serializePrefix(value, use, 'item');
}

/** Encodes `value` into bytes that stay valid (for batches). Throws as encodeWith. */
export function encode(value: unknown, path = 'item'): Buffer {
  return serialize(value, path);
}

/** Decodes a message (the bytes may lie in the ring: the decoder copies what it keeps). */
export function decode(bytes: Uint8Array): unknown {
  return deserialize(bytes);
}

/** Decodes the message in `bytes[start, stop)` (a taken record in the ring: no view is made). */
export function decodeRange(bytes: Buffer, start: number, stop: number): unknown {
  return deserializeRange(bytes, start, stop);
}
