// The shared memory between the pool and one of its workers: one segment per worker (made by the
// pool, src/segment.ts), holding two single-producer single-consumer byte rings (spsc.ts) and the
// words both sides use to find each other. A worker that dies takes nothing else with it: its
// segment is closed and a fresh one made for its replacement.
//
// Offsets from the start of the segment (the first 64 bytes are segment.ts's header):
//
//   64   u32 state            worker writes: 0 starting, 1 ready (its initializer ran)
//   68   u32 started          worker writes: the seq of the task it runs (or ran last); 0 = none
//   72   u32 task capacity    pool writes at creation: bytes in the task ring (a power of two)
//   76   u32 result capacity  pool writes at creation: bytes in the result ring
//   128  u32 pool bell        futex: the worker bumps it to wake the pool
//   132  u32 pool wants data  the pool is parked waiting for results
//   136  u32 pool wants room  the pool is parked waiting for room in the task ring
//   192  u32 worker bell      futex: the pool bumps it to wake the worker
//   196  u32 worker wants data, 200 u32 worker wants room (as above, for the worker)
//   256  u32 task ring tail (pool)      320 u32 task ring head (worker)
//   384  u32 result ring tail (worker)  448 u32 result ring head (pool)
//   512  task ring data [task capacity], then result ring data [result capacity]
//
// Each side writes only its own words (plus the peer's "wants" flags, which it clears with a
// compare-exchange when it wakes the peer: see endpoint.ts). Everything read from here is
// untrusted: the rings bounds-check every position and length they read.
import type { SegmentKind } from '../segment.js';

export const POOL_SEGMENT: SegmentKind = { tag: 'POOL', version: 1, label: 'Pool worker channel' };

/** Where the pool's layout starts in the segment (segment.ts's HEADER_BYTES). */
export const LAYOUT_BASE = 64;
export const DATA_OFFSET = 512;

/** Int32 indices into the whole segment. */
export const enum Word {
  State = 16,
  Started = 17,
  TaskCapacity = 18,
  ResultCapacity = 19,
  PoolBell = 32,
  PoolWantsData = 33,
  PoolWantsRoom = 34,
  WorkerBell = 48,
  WorkerWantsData = 49,
  WorkerWantsRoom = 50,
  TaskTail = 64,
  TaskHead = 80,
  ResultTail = 96,
  ResultHead = 112,
}

export const enum WorkerState {
  Starting = 0,
  Ready = 1,
}

/** Ring sizes: big enough that a map chunk of 100k/8 numbers fits without fragmenting. */
export const TASK_RING_BYTES = 512 * 1024;
export const RESULT_RING_BYTES = 512 * 1024;

/** Bytes after the segment header. */
export function layoutBytes(taskCapacity: number, resultCapacity: number): number {
  return DATA_OFFSET - LAYOUT_BASE + taskCapacity + resultCapacity;
}
