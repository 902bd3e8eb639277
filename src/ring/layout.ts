// The layout of the ring (native/ring.h has the drawing and the algorithm), as constants shared
// by base.ts and ring.ts, plus the one-time initialisation of a fresh ring.

export const RING_MAGIC = 0x4752504d; // 'MPRG'
export const RING_VERSION = 2;
export const CELL_DATA = 56;
export const CELL_BYTES = CELL_DATA + 8;
export const RECORD_HEADER = 8;
export const CONTROL_BYTES = 512;
export const MIN_CELLS = 16;
export const MAX_CELLS = 1 << 24;
export const MAX_USER_FLAGS = 0xff;
/** The most records one take returns. */
export const MAX_BATCH = 256;

// Owner values that are not liveness tokens.
export const NOBODY = 0;
export const FREED = 1;
export const SKIPPED = 2;
export const FIRST_TOKEN = 0x10000;

// Control words, as indexes into a 32-bit view of the ring.
export const W_MAGIC = 0;
export const W_VERSION = 1;
export const W_CELLS = 2;
export const W_CELL_DATA = 3;
export const W_MAX_ITEMS = 4;
export const W_TAIL = 16; // E = {tail, enqueued}: one 64-bit word
export const W_ENQUEUED = 17;
export const W_HEAD = 32; // D = {head, dequeued}
export const W_DEQUEUED = 33;
export const W_RELEASED = 48;
export const W_DATA_SIGNAL = 64;
export const W_DATA_WANTED = 65;
export const W_SPACE_SIGNAL = 80;
export const W_SPACE_WANTED = 81;
// E, D and meta[0] as indexes into a 64-bit view of the ring.
export const Q_TAIL = 8;
export const Q_HEAD = 16;
export const Q_META = CONTROL_BYTES / 8;

export const enum RingStatus {
  Ok = 0,
  Empty = 1,
  Full = 2,
  Busy = 3,
  WrongKind = 4,
  TooBig = 5,
  Corrupt = 6,
}

export const enum BlockerKind {
  None = 0,
  Claim = 1,
  Unpublished = 2,
  Taken = 3,
}

const HIGH = 4294967296n;

/**
 * The 64-bit word {low, high} as a BigInt for a BigInt64Array (which keeps it mod 2^64). Built
 * from signed halves: V8 converts small integers to BigInt fast and 32-bit unsigned ones slowly.
 */
export function pack(low: number, high: number): bigint {
  const l = low | 0;
  return BigInt(high | 0) * HIGH + BigInt(l) + (l < 0 ? HIGH : 0n);
}

/** `owner` as the high half of a 64-bit word (to add to a tag). */
export function high(owner: number): bigint {
  return BigInt(owner | 0) * HIGH;
}

/** The low half alone (high 0). */
export function low(value: number): bigint {
  const l = value | 0;
  return l < 0 ? BigInt(l) + HIGH : BigInt(l);
}

/** Whether tag `seq` is older than `tag` (ring.h IsOlder: int32 distance). */
export function older(seq: number, tag: number): boolean {
  return ((tag - seq) | 0) > 0;
}

/** Bytes of a ring of `cells` cells. */
export function ringBytes(cells: number): number {
  return CONTROL_BYTES + cells * CELL_BYTES;
}

/** The cell count for a capacity in bytes: a power of two within the limits. */
export function ringCells(capacityBytes: number): number {
  const cells = Math.floor(capacityBytes / CELL_BYTES);
  if (cells <= MIN_CELLS) return MIN_CELLS;
  if (cells >= MAX_CELLS) return MAX_CELLS;
  return 2 ** Math.ceil(Math.log2(cells));
}

/** Lays out a fresh ring over zeroed memory at `offset` (64-byte aligned) of `buffer` (ring.h Init). */
export function initRing(buffer: ArrayBuffer, offset: number, cells: number, maxItems: number, start = 0): void {
  const u32 = new Uint32Array(buffer, offset, ringBytes(cells) / 4);
  u32[W_VERSION] = RING_VERSION;
  u32[W_CELLS] = cells;
  u32[W_CELL_DATA] = CELL_DATA;
  u32[W_MAX_ITEMS] = maxItems;
  u32[W_TAIL] = start;
  u32[W_HEAD] = start;
  u32[W_RELEASED] = start;
  const meta = CONTROL_BYTES / 4;
  for (let i = 0; i < cells; i++) {
    const p = (start + ((i - start) & (cells - 1))) >>> 0;
    u32[meta + 2 * i] = (2 * p - 1) >>> 0; // just older than the first position it serves
    u32[meta + 2 * i + 1] = FREED;
  }
  Atomics.store(u32, W_MAGIC, RING_MAGIC); // last: an attacher that sees it sees the rest
}
