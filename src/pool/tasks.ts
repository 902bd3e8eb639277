// What the scheduler moves around: a Task is one unit sent to one worker (an applyAsync call, or
// one chunk of a map), and belongs to a Job (the call that made it), which turns task outcomes
// into the caller's result. Also: how errors from workers are rebuilt here.
import { constants } from 'node:os';

import { RemoteError, SerializationError, TargetError, WorkerDiedError } from '../errors.js';
import type { Mode } from './protocol.js';

/** A task's payload as it will travel. */
export interface Encoded {
  bytes: Uint8Array | null;
  numbers: number | number[] | null;
  handles: boolean;
}

/** The call a task belongs to: told once per task whether it succeeded. */
export interface Job {
  /** `ok`: `value` is the task's value; otherwise the error it failed with. */
  taskDone(task: Task, ok: boolean, value: unknown): void;
}

/** Where a task is: waiting in the pool, or sent to a worker (`slot`, `seq`). */
export interface TaskHolder {
  readonly pid: number | undefined;
}

/** One unit of work for one worker. */
export class Task {
  readonly job: Job;
  /** Chunk index within its job (0 for apply). */
  readonly index: number;
  readonly fnId: number;
  readonly mode: Mode;
  /** The serialized arguments or items (null when they travel as `numbers`). */
  readonly payload: Uint8Array | null;
  /** Arguments or items that are all plain numbers (a copy), or the one number of a CALL1 task. */
  readonly numbers: number | number[] | null;
  /** The payload holds live handles (the worker must load the library to revive them). */
  readonly handles: boolean;
  /** The worker it was sent to (null while it waits in the pool). */
  slot: TaskHolder | null = null;
  seq = 0;
  /** Settled, cancelled or abandoned: a result that still arrives is dropped. */
  done = false;

  constructor(job: Job, index: number, fnId: number, mode: Mode, payload: Encoded) {
    this.job = job;
    this.payload = payload.bytes;
    this.numbers = payload.numbers;
    this.handles = payload.handles;
    this.index = index;
    this.fnId = fnId;
    this.mode = mode;
  }
}

/** Signal names by number, for WorkerDiedError. */
const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** The error for a task whose worker died while running it (exit code as Process: -N for signal N). */
export function workerDied(pid: number | undefined, exitCode: number | null, cause?: unknown): WorkerDiedError {
  const signal = exitCode !== null && exitCode < 0 ? (SIGNAL_NAMES.get(-exitCode) ?? `signal ${-exitCode}`) : null;
  const how = signal !== null ? `was killed by ${signal}` : `exited with code ${exitCode}`;
  const error = new WorkerDiedError(`the pool worker (pid ${pid}) ${how} while running this task`, {
    ...(pid === undefined ? {} : { pid }),
    exitCode,
    signal,
  });
  if (cause !== undefined) setCause(error, cause);
  return error;
}

export function setCause(error: Error, cause: unknown): void {
  Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
}

/**
 * Rebuilds what a task threw in the worker: an Error keeps its name, message and own properties,
 * and its stack text moves into a RemoteError in `cause` (the worker's own `cause`, if any, hangs
 * under that). The library's own TargetError and SerializationError come back as those classes.
 * Other thrown values are returned as they arrived.
 */
export function remoteError(thrown: unknown, pid: number | undefined): unknown {
  if (!(thrown instanceof Error)) return thrown;
  const remote = new RemoteError({ name: thrown.name, message: thrown.message, stack: thrown.stack });
  if (thrown.cause !== undefined) setCause(remote, thrown.cause);
  let error: Error = thrown;
  if (thrown.name === 'TargetError') error = new TargetError(thrown.message);
  else if (thrown.name === 'SerializationError') {
    const path = (thrown as { path?: unknown }).path;
    error = new SerializationError(thrown.message, typeof path === 'string' ? path : 'result');
  }
  setCause(error, remote);
  Object.defineProperty(error, 'stack', {
    value: `${error.name}: ${error.message}\n    at <pool worker, pid ${pid}> (its stack is in .cause)`,
    writable: true,
    configurable: true,
  });
  return error;
}
