// Synchronization primitives shared between processes (Python's multiprocessing.synchronize),
// plus the POSIX named semaphore for other programs.
export { Lock } from './lock.js';
export { RLock } from './rlock.js';
export type { WithLockOptions } from './lock-common.js';
export { Semaphore, BoundedSemaphore, SEM_VALUE_MAX, type SemaphoreOptions } from './semaphore.js';
export { Condition, type ConditionWaitOptions } from './condition.js';
export { Event } from './event.js';
export { Barrier, type BarrierAction, type BarrierOptions, type BarrierAttachOptions } from './barrier.js';
export type { NamedOptions } from './base.js';
export { NamedSemaphore, type NamedSemaphoreOptions } from './named-semaphore.js';
