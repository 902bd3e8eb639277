// The messages of a worker channel (each one message of endpoint.ts; integers little-endian).
//
// pool -> worker
//   DEFINE  [u8 1][u32 fnId][UTF-8 JSON TargetSpec]       a target, sent once per worker
//   TASKS   [u8 2][u32 count] count x ([u32 seq][u32 fnId][u8 mode | HANDLES][u32 length][payload])
//   CANCEL  [u8 3][u32 seq]                               skip that task if it has not started
//   STOP    [u8 4]                                        exit once the local queue is empty
// worker -> pool
//   RESULT       [u8 1][u32 seq][u8 status][f64 busy ms][payload]   one per task, in seq order
//   INIT_FAILED  [u8 2][payload: the initializer's error]
//
// Payloads are serialize.ts messages: the task's arguments (mode APPLY), its items (MAP, STARMAP),
// one item (CALL1); the result value (OK) or the thrown value (ERROR). All of this is read from
// shared memory, so every length is checked against the message before use. HANDLES marks a
// payload holding live handles: the worker loads the whole library before decoding it.
import { CorruptionError } from '../errors.js';

export const enum ToWorker {
  Define = 1,
  Tasks = 2,
  Cancel = 3,
  Stop = 4,
}

export const enum ToPool {
  Result = 1,
  InitFailed = 2,
}

/** How a worker calls the target with a task's payload. */
export const enum Mode {
  /** fn(...args) */
  Apply = 0,
  /** items.map(fn) */
  Map = 1,
  /** items.map((args) => fn(...args)) */
  Starmap = 2,
  /** fn(item): a chunk of one, without the array around it */
  Call1 = 3,
}

/** Or'ed into a task's mode byte when its payload holds live handles. */
export const HANDLES = 0x80;

export const enum Status {
  Ok = 0,
  Error = 1,
  Skipped = 2,
}

/** What a TASKS message carries per task. */
export interface WireTask {
  seq: number;
  fnId: number;
  mode: Mode;
  payload: Uint8Array;
  handles: boolean;
}

let scratch = Buffer.allocUnsafe(64 * 1024);

/** A scratch buffer of at least `bytes` (reused: its contents last until the next call). */
export function scratchOf(bytes: number): Buffer {
  if (scratch.length < bytes) scratch = Buffer.allocUnsafe(Math.max(bytes, scratch.length * 2));
  return scratch;
}

export const RESULT_HEADER = 14;

/** Writes a DEFINE message at `b[at..]`; returns its size. */
export function writeDefine(b: Buffer, at: number, fnId: number, specJson: string): number {
  b[at] = ToWorker.Define;
  b.writeUInt32LE(fnId, at + 1);
  return 5 + b.write(specJson, at + 5, 'utf8');
}

/** The size of the TASKS message for `tasks[from..to)`. */
export function tasksSize(tasks: readonly WireTask[], from: number, to: number): number {
  let size = 5;
  for (let i = from; i < to; i++) size += 13 + tasks[i]!.payload.length;
  return size;
}

/** Writes the TASKS message for `tasks[from..to)` at `b[at..]`. */
export function writeTasks(b: Buffer, at: number, tasks: readonly WireTask[], from: number, to: number): void {
  b[at] = ToWorker.Tasks;
  b.writeUInt32LE(to - from, at + 1);
  at += 5;
  for (let i = from; i < to; i++) {
    const task = tasks[i]!;
    b.writeUInt32LE(task.seq, at);
    b.writeUInt32LE(task.fnId, at + 4);
    b[at + 8] = task.handles ? task.mode | HANDLES : task.mode;
    b.writeUInt32LE(task.payload.length, at + 9);
    b.set(task.payload, at + 13);
    at += 13 + task.payload.length;
  }
}

export function encodeCancel(seq: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = ToWorker.Cancel;
  b.writeUInt32LE(seq, 1);
  return b;
}

export const STOP_MESSAGE = Uint8Array.of(ToWorker.Stop);

/** Writes the first RESULT_HEADER bytes of a RESULT message at `b[at..]` (the payload follows). */
export function writeResultHeader(b: Buffer, at: number, seq: number, status: Status, busyMs: number): void {
  b[at] = ToPool.Result;
  b.writeUInt32LE(seq, at + 1);
  b[at + 5] = status;
  b.writeDoubleLE(busyMs, at + 6);
}

export function encodeInitFailed(payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(1 + payload.length);
  b[0] = ToPool.InitFailed;
  b.set(payload, 1);
  return b;
}

// ---- reading (messages are data[start..end); every offset is checked against end) ----

export function truncated(): CorruptionError {
  return new CorruptionError('a pool message is truncated or malformed');
}

/** Reads a u32 at `at` of a message ending at `end`. */
export function u32(data: Buffer, at: number, end: number): number {
  if (at + 4 > end) throw truncated();
  return data.readUInt32LE(at);
}

/** Calls `each` for every task of the TASKS message `data[start..end)` (payload offsets into data). */
export function readTasks(
  data: Buffer,
  start: number,
  end: number,
  each: (seq: number, fnId: number, mode: Mode, handles: boolean, from: number, to: number) => void,
): void {
  const count = u32(data, start + 1, end);
  let at = start + 5;
  for (let i = 0; i < count; i++) {
    if (at + 13 > end) throw truncated();
    const seq = data.readUInt32LE(at);
    const fnId = data.readUInt32LE(at + 4);
    const mode = data[at + 8]! & ~HANDLES;
    const length = data.readUInt32LE(at + 9);
    const from = at + 13;
    if (mode > Mode.Call1 || length > end - from) throw truncated();
    each(seq, fnId, mode as Mode, (data[at + 8]! & HANDLES) !== 0, from, from + length);
    at = from + length;
  }
  if (at !== end) throw truncated();
}
