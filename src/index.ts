// multiproc: Python's multiprocessing for Node.js. This file is the table of contents.
export {
  MultiprocError,
  ProcessError,
  TimeoutError,
  Empty,
  Full,
  Closed,
  EOFError,
  BufferTooShort,
  BrokenBarrierError,
  AuthenticationError,
  RemoteError,
  WorkerDiedError,
  SerializationError,
  TargetError,
  ShutDown,
  AbortError,
  CorruptionError,
} from './errors.js';
export { SharedMemory, type SharedMemoryOptions } from './shared-memory.js';
export { atomicWait, atomicWaitSync, atomicNotify } from './futex.js';
export { fromHandle, type HandleDescriptor, type Shareable } from './handles.js';
export { capabilities, type Capabilities } from './context.js';
export type { WaitOptions, SyncWaitOptions } from './util.js';
export { Process, type ProcessOptions, type CurrentProcess, type Logger, type LogLevel } from './process.js';
export {
  cpuCount,
  currentProcess,
  parentProcess,
  activeChildren,
  getContext,
  setStartMethod,
  getStartMethod,
  getAllStartMethods,
  logToStderr,
  type Context,
  type StartMethod,
} from './context.js';
export type { Target, ModuleTarget } from './target.js';
export { registerClass, serialize, deserialize, type ClassOptions } from './serialize.js';
export {
  Lock,
  RLock,
  Semaphore,
  BoundedSemaphore,
  Condition,
  Event,
  Barrier,
  type NamedOptions,
  type WithLockOptions,
  type SemaphoreOptions,
  type ConditionWaitOptions,
  type BarrierAction,
  type BarrierOptions,
  type BarrierAttachOptions,
  NamedSemaphore,
  type NamedSemaphoreOptions,
} from './synchronize/index.js';
export { ShareableList, type ShareableValue, type ShareableListOptions } from './shareable-list.js';
export { SharedMemoryManager } from './shared-memory-manager.js';
export {
  Value,
  Array,
  RawValue,
  RawArray,
  SharedValue,
  SharedArray,
  type SynchronizedOptions,
  type RawOptions,
  type SharedView,
} from './sharedctypes/index.js';
export { TYPECODE_NAMES, type Typecode, type ElementOf, type ViewOf } from './sharedctypes/typecodes.js';
export {
  Pipe,
  Connection,
  PipeConnection,
  Listener,
  Client,
  wait,
  type PipeOptions,
  type Address,
  type TcpAddress,
  type ListenerOptions,
  type ClientOptions,
  type AcceptOptions,
  type SyncTimeoutOptions,
} from './connection/index.js';
export {
  Pool,
  AsyncResult,
  type PoolOptions,
  type ApplyOptions,
  type MapOptions,
  type MapAsyncOptions,
  type ImapOptions,
  type ResultCallback,
  type ErrorCallback,
} from './pool/pool.js';
export {
  Manager,
  BaseManager,
  SyncManager,
  BaseProxy,
  DictProxy,
  ListProxy,
  NamespaceProxy,
  ValueProxy,
  ArrayProxy,
  QueueProxy,
  JoinableQueueProxy,
  LockProxy,
  RLockProxy,
  SemaphoreProxy,
  BoundedSemaphoreProxy,
  ConditionProxy,
  EventProxy,
  BarrierProxy,
  type Proxied,
  type BaseManagerOptions,
  type RegisterOptions,
  type ManagerBarrierOptions,
} from './managers/index.js';
export { Queue, SimpleQueue, JoinableQueue, type QueueOptions } from './queues/index.js';
