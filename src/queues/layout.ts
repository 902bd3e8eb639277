// The shared memory of a queue: a segment (segment.ts) holding a small queue block and a ring
// (ring.ts / native/ring.h).
//
//   offset  type  field
//   0       -     segment header (segment.ts), 64 bytes
//   64      u32   state            bit 0 shut down, bit 1 immediately (items dropped)
//   68      u32   done             JoinableQueue: tasks done (unfinished = enqueued - done)
//   72      u32   join signal      futex: bumped when unfinished reaches 0
//   76      u32   join wanted      a joiner sleeps: taskDone must wake it
//   80      u64   overflow bytes   bytes of side segments reserved (oversized messages)
//   88      u64   max overflow bytes
//   96      u32   queue id length, then 100: the id (ASCII, <= 60 bytes): names side segments
//   256     -     the ring (its own control block, meta and data: see native/ring.h)
//
// Record flags (the ring's 8 user bits): KIND_OBJECT or KIND_BYTES, plus OVERFLOW when the
// payload is the descriptor of a side segment (overflow.ts) rather than the message itself.
import { Ring } from '../ring/ring.js';
import { HEADER_BYTES, type SegmentKind } from '../segment.js';
import { checkInteger, checkOptionsBag, describe } from '../util.js';

export const QUEUE_KIND: SegmentKind = { tag: 'QUEU', version: 2, label: 'Queue' };
export const SIMPLE_QUEUE_KIND: SegmentKind = { tag: 'SQUE', version: 2, label: 'SimpleQueue' };
export const JOINABLE_QUEUE_KIND: SegmentKind = { tag: 'JQUE', version: 2, label: 'JoinableQueue' };

export const W_STATE = HEADER_BYTES / 4;
export const W_DONE = W_STATE + 1;
export const W_JOIN_SIGNAL = W_STATE + 2;
export const W_JOIN_WANTED = W_STATE + 3;
export const Q_OVERFLOW = 80 / 8;
export const Q_MAX_OVERFLOW = 88 / 8;
export const ID_LENGTH_OFFSET = 96;
export const ID_OFFSET = 100;
export const ID_MAX = 60;
export const RING_OFFSET = 256;

export const STATE_SHUT_DOWN = 1;
export const STATE_IMMEDIATE = 2;

export const KIND_OBJECT = 1;
export const KIND_BYTES = 2;
export const OVERFLOW = 4;

export const DEFAULT_CAPACITY = 1 << 20;
export const MIN_CAPACITY = 4096;
export const MAX_CAPACITY = 1 << 30;
export const DEFAULT_MAX_OVERFLOW = 2 ** 30;
/** The largest message: 2 GiB - 1 bytes. */
export const MAX_MESSAGE = 2 ** 31 - 1;

/** Options of `new Queue(...)`, `new SimpleQueue(...)`, `new JoinableQueue(...)`. */
export interface QueueOptions {
  /** The most items the queue holds; 0 (default) bounds only bytes. */
  maxsize?: number | undefined;
  /** Bytes of the shared ring (default 1 MiB), rounded up to a power of two; 4 KiB .. 1 GiB. */
  capacityBytes?: number | undefined;
  /** Bytes that messages larger than the ring may use in side segments at once (default 1 GiB). */
  maxOverflowBytes?: number | undefined;
  /** Makes a named queue that any process of this user can open with `Queue.open(name)`. */
  name?: string | undefined;
  /** With `name`: `true` (default; EEXIST when taken) or `'ifMissing'` (open or create atomically). */
  create?: true | 'ifMissing' | undefined;
  /** With `name`: permission bits (default 0o600). */
  mode?: number | undefined;
}

export interface QueueShape {
  maxsize: number;
  cells: number;
  maxOverflowBytes: number;
}

/** Validates constructor options; throws TypeError/RangeError before anything is touched. */
export function checkQueueOptions(options: unknown): QueueShape & Pick<QueueOptions, 'name' | 'create' | 'mode'> {
  checkOptionsBag(options);
  const o = (options ?? {}) as QueueOptions;
  const maxsize = o.maxsize === undefined ? 0 : checkInteger(o.maxsize, 'maxsize', 0, 2 ** 31 - 1);
  const capacity =
    o.capacityBytes === undefined
      ? DEFAULT_CAPACITY
      : checkInteger(o.capacityBytes, 'capacityBytes', MIN_CAPACITY, MAX_CAPACITY);
  const maxOverflowBytes =
    o.maxOverflowBytes === undefined
      ? DEFAULT_MAX_OVERFLOW
      : checkInteger(o.maxOverflowBytes, 'maxOverflowBytes', 0, Number.MAX_SAFE_INTEGER);
  if (o.create !== undefined && o.create !== true && o.create !== 'ifMissing') {
    throw new TypeError(`create must be true or 'ifMissing' (got ${describe(o.create)})`);
  }
  if (o.create !== undefined && o.name === undefined) throw new TypeError('create needs a name');
  if (o.mode !== undefined) checkInteger(o.mode, 'mode', 0, 0o777);
  return { maxsize, cells: Ring.cellsFor(capacity), maxOverflowBytes, name: o.name, create: o.create, mode: o.mode };
}

/** Bytes of the segment of a queue (after the segment header) for `cells` cells. */
export function queueBytes(cells: number): number {
  return RING_OFFSET - HEADER_BYTES + Ring.bytesFor(cells);
}

/** What a get attempt returns when it has no item yet. */
export const NOTHING: unique symbol = Symbol('nothing');
/** What reading an oversized message returns when its producer died before writing it. */
export const DROPPED: unique symbol = Symbol('dropped');
