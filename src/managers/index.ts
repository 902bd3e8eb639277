// Managers (Python's multiprocessing.managers): a server process holding objects that other
// processes, here or on other machines, use through proxies. See API.md section 8.
import './proxies.js';
import './sync-proxies.js';

export { BaseManager, type BaseManagerOptions, type RegisterOptions } from './base-manager.js';
export { SyncManager, Manager, type ManagerBarrierOptions } from './sync-manager.js';
export { BaseProxy, type Proxied } from './proxy.js';
export { DictProxy, ListProxy, NamespaceProxy, ValueProxy, ArrayProxy } from './proxies.js';
export {
  QueueProxy,
  JoinableQueueProxy,
  LockProxy,
  RLockProxy,
  SemaphoreProxy,
  BoundedSemaphoreProxy,
  ConditionProxy,
  EventProxy,
  BarrierProxy,
} from './sync-proxies.js';
