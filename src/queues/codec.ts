// How queue messages become bytes: the one place that names the serializer, so that switching
// it is a one-line change. Objects go through serialize.ts (structured clone plus live handles);
// `putBytes` bypasses this file entirely.
import { deserialize, serialize, serializeWith } from '../serialize.js';

/**
 * Encodes `value` and hands the bytes to `use`, valid only during the call (a view over the
 * serializer's scratch buffer: the ring copies it, so the fast path makes no copy of its own).
 * Throws SerializationError naming the path of a value that cannot travel.
 */
export function encodeWith<R>(value: unknown, use: (bytes: Buffer) => R): R {
  return serializeWith(value, use, 'item');
}

/** Encodes `value` into bytes that stay valid (for batches). Throws as encodeWith. */
export function encode(value: unknown, path = 'item'): Buffer {
  return serialize(value, path);
}

/** Decodes a message (the bytes may lie in the ring: the decoder copies what it keeps). */
export function decode(bytes: Uint8Array): unknown {
  return deserialize(bytes);
}
