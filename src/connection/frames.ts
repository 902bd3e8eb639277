// The byte stream of a socket connection cut into messages, in Python's wire format
// (multiprocessing/connection.py), so Python's Client and Listener can talk to ours:
//
//   i32 big-endian length n, then n bytes                  for n <= 0x7fffffff
//   i32 -1, then u64 big-endian length n, then n bytes     for longer messages (read, never sent:
//                                                          ours stop at 2 GiB - 1)
//
// Incoming bytes wait here, in arrival order, until a whole message is in. A peer is never
// allowed to make us buffer more than the frame cap it is under (a few hundred bytes before it
// has authenticated).
const HEADER_BYTES = 4;
const LONG_HEADER_BYTES = 12;

/** The next frame's header, once it has arrived. */
export interface FrameHeader {
  /** Bytes of the header itself (4, or 12 for the long form). */
  readonly headerBytes: number;
  /** Bytes of the payload. */
  readonly size: number;
}

/** The header for a payload of `size` bytes (at most 0x7fffffff). */
export function frameHeader(size: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeInt32BE(size, 0);
  return header;
}

/** Bytes received and not yet taken, as a list of chunks joined only when a frame needs it. */
export class Inbox {
  #chunks: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The next frame's header, or null while fewer bytes than a header are in. */
  header(): FrameHeader | null {
    if (this.#length < HEADER_BYTES) return null;
    const first = this.#front(HEADER_BYTES);
    const short = first.readInt32BE(0);
    if (short >= 0) return { headerBytes: HEADER_BYTES, size: short };
    if (short !== -1) return { headerBytes: HEADER_BYTES, size: -1 };
    if (this.#length < LONG_HEADER_BYTES) return null;
    const long = this.#front(LONG_HEADER_BYTES).readBigUInt64BE(HEADER_BYTES);
    // Anything beyond 2^53 is refused by the caller's cap anyway; keep it a safe number.
    const size = long > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(long);
    return { headerBytes: LONG_HEADER_BYTES, size };
  }

  /** The payload of the frame described by `header`, if all of it is in (a view; not removed). */
  peek(header: FrameHeader): Buffer | null {
    const total = header.headerBytes + header.size;
    if (this.#length < total) return null;
    return this.#front(total).subarray(header.headerBytes, total);
  }

  /** Removes the first `bytes` bytes. */
  discard(bytes: number): void {
    this.#length -= bytes;
    while (bytes > 0) {
      const first = this.#chunks[0]!;
      if (first.length <= bytes) {
        this.#chunks.shift();
        bytes -= first.length;
      } else {
        this.#chunks[0] = first.subarray(bytes);
        bytes = 0;
      }
    }
  }

  /** The first chunk, grown (by joining the following ones) to at least `bytes` bytes. */
  #front(bytes: number): Buffer {
    let first = this.#chunks[0]!;
    if (first.length >= bytes) return first;
    let count = 1;
    let joined = first.length;
    while (joined < bytes) joined += this.#chunks[count++]!.length;
    first = Buffer.concat(this.#chunks.slice(0, count), joined);
    this.#chunks.splice(0, count, first);
    return first;
  }
}
