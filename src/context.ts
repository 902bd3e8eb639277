// Module-level functions: what the platform supports, and (as the Processes issue lands) the
// start method, cpuCount and friends.
import { native } from './binding.js';

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

export function capabilities(): Capabilities {
  cached ??= { ...native.capabilities(), platform: process.platform, arch: process.arch };
  return { ...cached };
}
