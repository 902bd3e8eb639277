// Module-level functions: what the platform supports, and (as the Processes issue lands) the
// start method, cpuCount and friends.
import { availableParallelism } from 'node:os';

import { native } from './binding.js';
import { ProcessError } from './errors.js';
import { activeChildren, currentProcess, logToStderr, parentProcess, Process } from './process.js';
import { checkBoolean, checkOptionsBag, describe } from './util.js';

/** What the running platform supports. Nothing fails silently where a feature is missing. */
export interface Capabilities {
  /** Cross-process futex waits (always true on Linux). */
  futex: boolean;
  /** futex_waitv (Linux 5.16+): needed by the async waiter. */
  futexWaitv: boolean;
  /** pidfd_open (Linux 5.3+): signals that cannot hit a recycled pid. */
  pidfd: boolean;
  /** memfd_create: anonymous segments the kernel frees with their last user. */
  memfd: boolean;
  /** PR_SET_PDEATHSIG: daemon children die with their parent. */
  parentDeathSignal: boolean;
  platform: NodeJS.Platform;
  arch: string;
}

let cached: Capabilities | undefined;

/** What the running platform supports (probed once): futex waits, futex_waitv, pidfd, memfd, parent-death signal. */
export function capabilities(): Capabilities {
  cached ??= { ...native.capabilities(), platform: process.platform, arch: process.arch };
  return { ...cached };
}

// ---- module functions of the Processes issue ----

/** How many processes can usefully run at once: `os.availableParallelism()` (CPU-quota aware). */
export function cpuCount(): number {
  return availableParallelism();
}

/** The start methods this platform offers. Children are always spawned: Node cannot fork a VM. */
export type StartMethod = 'spawn';

/** Python's context object: the start method and the process API bound to it. */
export interface Context {
  readonly startMethod: StartMethod;
  getStartMethod(): StartMethod;
  readonly Process: typeof Process;
  cpuCount: typeof cpuCount;
  currentProcess: typeof currentProcess;
  parentProcess: typeof parentProcess;
  activeChildren: typeof activeChildren;
  logToStderr: typeof logToStderr;
}

const spawnContext: Context = Object.freeze({
  startMethod: 'spawn' as const,
  getStartMethod: () => 'spawn' as const,
  Process,
  cpuCount,
  currentProcess,
  parentProcess,
  activeChildren,
  logToStderr,
});

function checkMethod(method: unknown): StartMethod {
  if (typeof method !== 'string') throw new TypeError(`method must be a string (got ${describe(method)})`);
  if (method !== 'spawn') {
    throw new RangeError(
      `start method ${JSON.stringify(method)} is not available: Node cannot fork a running VM, children are always spawned ('spawn')`,
    );
  }
  return method;
}

/** The context for `method` (only `'spawn'`, the default). RangeError for 'fork'/'forkserver'. */
export function getContext(method: StartMethod | null = null): Context {
  if (method !== null) checkMethod(method);
  return spawnContext;
}

let startMethodSet = false;

/**
 * Sets the start method (only `'spawn'` exists). As in Python, setting it a second time throws
 * ProcessError unless `{ force: true }`; RangeError for another method.
 */
export function setStartMethod(method: StartMethod, options?: { force?: boolean }): void {
  checkMethod(method);
  checkOptionsBag(options);
  if (options?.force !== undefined) checkBoolean(options.force, 'force');
  if (startMethodSet && options?.force !== true) throw new ProcessError('the start method has already been set');
  startMethodSet = true;
}

/** The start method: always `'spawn'`. */
export function getStartMethod(): StartMethod {
  return 'spawn';
}

/** Every start method this platform offers: `['spawn']`. */
export function getAllStartMethods(): StartMethod[] {
  return ['spawn'];
}

export { currentProcess, parentProcess, activeChildren, logToStderr } from './process.js';
