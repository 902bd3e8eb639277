// Pipes and connections (Python's multiprocessing.connection): the public names.
export { Connection, MAX_MESSAGE_BYTES, type SyncTimeoutOptions } from './connection.js';
export {
  Listener,
  Client,
  type Address,
  type TcpAddress,
  type ListenerOptions,
  type ClientOptions,
  type AcceptOptions,
} from './listener.js';
export { wait } from './wait.js';
export { Pipe, type PipeOptions } from './pipe-handles.js';
export { PipeConnection } from './pipe.js';
