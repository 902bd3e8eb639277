// What Lock and RLock share: their segment layout, the hooks Condition uses to give a lock up
// while it waits, and small helpers.
//
// Layout after the segment header (byte offsets from the start of the segment):
//
//   offset  type  field
//   64      i32   lock word: 0 free, else owner | CONTENDED (lock-word.ts)
//   68      i32   RLock only: recursion count, written only by the owner
//   72..127       reserved, zero
import { ProcessError } from '../errors.js';
import type { WaitOptions } from '../util.js';
import { CONTENDED } from './lock-word.js';

export const WORD = 16;
export const COUNT = 17;
export const BYTES = 64;

/** An async call chain of an RLock holder (rlock.ts). */
export interface ChainNode {
  readonly parent: ChainNode | undefined;
}

/** What Condition needs from its lock: give it up entirely while waiting, then restore it. */
export interface LockState {
  readonly count: number;
  readonly holder: ChainNode | undefined;
}
/** Is the lock held by the calling thread (and, for an RLock, its async chain)? */
export const kOwned = Symbol('owned');
/** Releases the lock entirely and returns what `kResume`/`kResumeSync` restore. */
export const kSuspend = Symbol('suspend');
/** Takes the lock back (no timeout) and restores the state `kSuspend` returned. */
export const kResume = Symbol('resume');
export const kResumeSync = Symbol('resumeSync');

/** Options of `withLock`: a timeout rejects with TimeoutError, an abort with AbortError. */
export type WithLockOptions = WaitOptions;

export function notHeld(label: string, word: number, base: number): ProcessError {
  const why = word === 0 || (word & ~CONTENDED) === base ? 'it is not held' : 'another thread or process holds it';
  return new ProcessError(`cannot release this ${label}: ${why}`);
}

export function selfDeadlock(label: string): ProcessError {
  return new ProcessError(
    `this thread already holds this ${label}: a blocking acquire with no timeout would wait forever (use acquire() from another async task, or a timeout)`,
  );
}

/** Calls `fn` and awaits what it returns; a synchronous throw becomes a rejection. */
export async function run<T>(fn: () => T | Promise<T>): Promise<Awaited<T>> {
  return (await fn()) as Awaited<T>;
}

export function checkFn(fn: unknown): void {
  if (typeof fn !== 'function') throw new TypeError('fn must be a function');
}
