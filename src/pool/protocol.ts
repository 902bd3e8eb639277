// The messages of a worker channel (each one message of endpoint.ts). Every message starts
// 8-byte aligned (ring records do), and so does every payload inside it, so that headers are
// read and written as Uint32Array/Float64Array elements rather than byte by byte.
//
// pool -> worker
//   DEFINE  [u32 1][u32 fnId][UTF-8 JSON TargetSpec]           a target, sent once per worker
//   TASKS   [u32 2][u32 count] count x ([u32 seq][u32 fnId][u32 flags][u32 bytes][payload, padded to 8])
//   CANCEL  [u32 3][u32 seq]                                   skip that task if not started
//   STOP    [u32 4][u32 0]                                     exit once nothing is left to run
// worker -> pool
//   RESULT       [u32 1 | status << 8 | NUMBERS << 16][u32 seq][f64 busy ms][payload]
//   INIT_FAILED  [u32 2][u32 0][payload: the initializer's error]
//
// A task's flags are its mode, HANDLES (the payload holds live handles: the worker loads the
// whole library before decoding it) and NUMBERS. A payload is a serialize.ts message, or with
// NUMBERS a run of float64s: the arguments (APPLY), the items (MAP) or the item (CALL1) of a
// task, the value or the array of values of a result, when they are all plain numbers. Float64
// keeps every number bit for bit (-0, NaN), so this is the serializer's outcome, minus its cost.
// Everything is read from shared memory: every length is checked against the message.
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

export const enum Status {
  Ok = 0,
  Error = 1,
  Skipped = 2,
}

export const HANDLES = 0x100;
export const NUMBERS = 0x200;
export const TASK_HEADER = 16;
export const RESULT_HEADER = 16;

/** A byte buffer with aligned word views over the same memory (byteOffset a multiple of 8). */
export interface Frame {
  readonly bytes: Buffer;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
}

/** A frame over `length` bytes (a multiple of 8) of `buffer` at `offset` (a multiple of 8). */
export function frameOver(buffer: ArrayBufferLike, offset: number, length: number): Frame {
  return {
    bytes: Buffer.from(buffer, offset, length),
    u32: new Uint32Array(buffer, offset, length >>> 2),
    f64: new Float64Array(buffer, offset, length >>> 3),
  };
}

/** A new frame of at least `bytes` bytes, in memory of its own. */
export function newFrame(bytes: number): Frame {
  const length = (Math.max(bytes, 8) + 7) & ~7;
  return frameOver(new ArrayBuffer(length), 0, length);
}

export const pad8 = (n: number): number => (n + 7) & ~7;

let scratch = newFrame(64 * 1024);

/** A scratch frame of at least `bytes` (reused: its contents last until the next call). */
export function scratchOf(bytes: number): Frame {
  if (scratch.bytes.length < bytes) scratch = newFrame(Math.max(bytes, scratch.bytes.length * 2));
  return scratch;
}

/** What a TASKS message carries per task: serialized bytes, or numbers (one, or an array). */
export interface WireTask {
  seq: number;
  readonly fnId: number;
  readonly mode: Mode;
  readonly payload: Uint8Array | null;
  readonly numbers: number | number[] | null;
  readonly handles: boolean;
}

/** The bytes of a task's payload on the wire (before padding). */
export const payloadBytes = (task: WireTask): number =>
  task.numbers === null ? task.payload!.length : typeof task.numbers === 'number' ? 8 : task.numbers.length * 8;

/** Writes a DEFINE message at `at`; returns its size. */
export function writeDefine(f: Frame, at: number, fnId: number, specJson: string): number {
  f.u32[at >>> 2] = ToWorker.Define;
  f.u32[(at >>> 2) + 1] = fnId;
  return 8 + f.bytes.write(specJson, at + 8, 'utf8');
}

/** The size of the TASKS message for `tasks[from..to)`. */
export function tasksSize(tasks: readonly WireTask[], from: number, to: number): number {
  let size = 8;
  for (let i = from; i < to; i++) size += TASK_HEADER + pad8(payloadBytes(tasks[i]!));
  return size;
}

/** Writes the TASKS message for `tasks[from..to)` at `at` (a multiple of 8). */
export function writeTasks(f: Frame, at: number, tasks: readonly WireTask[], from: number, to: number): void {
  const { u32, f64 } = f;
  u32[at >>> 2] = ToWorker.Tasks;
  u32[(at >>> 2) + 1] = to - from;
  at += 8;
  for (let i = from; i < to; i++) {
    const task = tasks[i]!;
    const w = at >>> 2;
    const length = payloadBytes(task);
    u32[w] = task.seq;
    u32[w + 1] = task.fnId;
    u32[w + 3] = length;
    const numbers = task.numbers;
    if (numbers === null) {
      u32[w + 2] = task.handles ? task.mode | HANDLES : task.mode;
      f.bytes.set(task.payload!, at + TASK_HEADER);
    } else {
      u32[w + 2] = task.mode | NUMBERS;
      const d = (at + TASK_HEADER) >>> 3;
      if (typeof numbers === 'number') f64[d] = numbers;
      else for (let k = 0; k < numbers.length; k++) f64[d + k] = numbers[k]!;
    }
    at += TASK_HEADER + pad8(length);
  }
}

export function writeCancel(f: Frame, at: number, seq: number): void {
  f.u32[at >>> 2] = ToWorker.Cancel;
  f.u32[(at >>> 2) + 1] = seq;
}

export function writeStop(f: Frame, at: number): void {
  f.u32[at >>> 2] = ToWorker.Stop;
  f.u32[(at >>> 2) + 1] = 0;
}

/** Writes a RESULT header at `at`; the payload (`numbers`: float64s) follows at `at + RESULT_HEADER`. */
export function writeResultHeader(
  f: Frame,
  at: number,
  seq: number,
  status: Status,
  numbers: boolean,
  busyMs: number,
): void {
  f.u32[at >>> 2] = ToPool.Result | (status << 8) | (numbers ? 1 << 16 : 0);
  f.u32[(at >>> 2) + 1] = seq;
  f.f64[(at >>> 3) + 1] = busyMs;
}

export function writeInitFailed(f: Frame, at: number, payload: Uint8Array): void {
  f.u32[at >>> 2] = ToPool.InitFailed;
  f.u32[(at >>> 2) + 1] = 0;
  f.bytes.set(payload, at + 8);
}

// ---- reading (a message is f[start..end), start a multiple of 8; offsets checked against end) ----

export function truncated(): CorruptionError {
  return new CorruptionError('a pool message is truncated or malformed');
}

/** The u32 at word `index` of a message ending at byte `end`. */
export function u32At(f: Frame, index: number, end: number): number {
  if (index * 4 + 4 > end) throw truncated();
  return f.u32[index]!;
}

/** The numbers of a NUMBERS payload f[from..to): one number when `single`. */
export function readNumbers(f: Frame, from: number, to: number, single: boolean): number | number[] {
  const count = (to - from) / 8;
  if (!Number.isInteger(count) || (single && count !== 1)) throw truncated();
  const d = from >>> 3;
  if (single) return f.f64[d]!;
  const out = new Array<number>(count);
  for (let k = 0; k < count; k++) out[k] = f.f64[d + k]!;
  return out;
}

/** Calls `each` for every task of the TASKS message f[start..end) (payload offsets into f). */
export function readTasks(
  f: Frame,
  start: number,
  end: number,
  each: (seq: number, fnId: number, flags: number, from: number, to: number) => void,
): void {
  const count = u32At(f, (start >>> 2) + 1, end);
  let at = start + 8;
  for (let i = 0; i < count; i++) {
    if (at + TASK_HEADER > end) throw truncated();
    const w = at >>> 2;
    const flags = f.u32[w + 2]!;
    const length = f.u32[w + 3]!;
    const from = at + TASK_HEADER;
    if ((flags & 0xff) > Mode.Call1 || (flags & ~(0xff | HANDLES | NUMBERS)) !== 0 || length > end - from) {
      throw truncated();
    }
    each(f.u32[w]!, f.u32[w + 1]!, flags, from, from + length);
    at = from + pad8(length);
  }
  if (at !== end) throw truncated();
}

/** True when every element of `items` is a number (so the array can travel as float64s). */
export function allNumbers(items: readonly unknown[]): boolean {
  for (let i = 0; i < items.length; i++) if (typeof items[i] !== 'number') return false;
  return true;
}
