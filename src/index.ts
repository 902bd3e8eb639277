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
