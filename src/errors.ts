// Every error class of multiproc, each with a stable `code`. All are `instanceof MultiprocError`.
// OS failures from the addon are plain Errors shaped like Node's (`code` = errno name, `errno`,
// `syscall`, `path`), as fs errors are.

/** The base class of every error multiproc defines. */
export class MultiprocError extends Error {
  /** A stable, machine-readable identifier of the kind of failure. */
  readonly code: string;

  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    Object.defineProperty(this, 'name', {
      value: new.target.name,
      enumerable: false,
      configurable: true,
      writable: true,
    });
  }
}

/** Misuse of a process or of an object's ownership rules (start twice, release a lock not held). */
export class ProcessError extends MultiprocError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_MP_PROCESS', options);
  }
}

/** A wait ran out of time where the API reports it as an error (`AsyncResult#get`). */
export class TimeoutError extends MultiprocError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_MP_TIMEOUT', options);
  }
}

/** A get found (or, with a timeout, kept finding) the queue empty. */
export class Empty extends MultiprocError {
  constructor(message = 'the queue is empty', options?: ErrorOptions) {
    super(message, 'ERR_MP_EMPTY', options);
  }
}

/** A put found (or, with a timeout, kept finding) the queue full. */
export class Full extends MultiprocError {
  constructor(message = 'the queue is full', options?: ErrorOptions) {
    super(message, 'ERR_MP_FULL', options);
  }
}

/** The handle was closed in this process, or the object was unlinked. */
export class Closed extends MultiprocError {
  constructor(message = 'the object is closed', options?: ErrorOptions) {
    super(message, 'ERR_MP_CLOSED', options);
  }
}

/** The peer of a connection closed (or died) and nothing is left to read. */
export class EOFError extends MultiprocError {
  constructor(message = 'the peer closed the connection', options?: ErrorOptions) {
    super(message, 'ERR_MP_EOF', options);
  }
}

/** A message is longer than the buffer given for it; the message stays in place. */
export class BufferTooShort extends MultiprocError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_MP_BUFFER_TOO_SHORT', options);
  }
}

/** A barrier was broken: reset or aborted, a wait timed out, or its action threw. */
export class BrokenBarrierError extends MultiprocError {
  constructor(message = 'the barrier is broken', options?: ErrorOptions) {
    super(message, 'ERR_MP_BROKEN_BARRIER', options);
  }
}

/** The peer failed the HMAC challenge (wrong or missing authkey). */
export class AuthenticationError extends MultiprocError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_MP_AUTHENTICATION', options);
  }
}

/** An error that happened in another process: carries its `name`, `message` and `stack` text. */
export class RemoteError extends MultiprocError {
  readonly remoteName: string;
  readonly remoteMessage: string;
  readonly remoteStack: string | undefined;

  constructor(remote: { name: string; message: string; stack?: string | undefined }) {
    super(`${remote.name}: ${remote.message}`, 'ERR_MP_REMOTE');
    this.remoteName = remote.name;
    this.remoteMessage = remote.message;
    this.remoteStack = remote.stack;
    if (remote.stack !== undefined) this.stack = `RemoteError (from another process):\n${remote.stack}`;
  }
}

/** A worker process died while it held a task. */
export class WorkerDiedError extends MultiprocError {
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: string | null;

  constructor(message: string, details: { pid?: number; exitCode: number | null; signal: string | null }) {
    super(message, 'ERR_MP_WORKER_DIED');
    this.pid = details.pid;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
  }
}

/** A value cannot travel to another process; `path` names where it sits (`args[1].cb`). */
export class SerializationError extends MultiprocError {
  readonly path: string;

  constructor(message: string, path: string, options?: ErrorOptions) {
    super(message, 'ERR_MP_SERIALIZATION', options);
    this.path = path;
  }
}

/** A target could not be named, sent or rebuilt in the child. */
export class TargetError extends MultiprocError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_MP_TARGET', options);
  }
}

/** The queue was shut down (Python 3.13's `queue.ShutDown`). */
export class ShutDown extends MultiprocError {
  constructor(message = 'the queue was shut down', options?: ErrorOptions) {
    super(message, 'ERR_MP_SHUTDOWN', options);
  }
}

/** A wait was cancelled through its `AbortSignal`. */
export class AbortError extends MultiprocError {
  constructor(message = 'the operation was aborted', options?: ErrorOptions) {
    super(message, 'ABORT_ERR', options);
  }
}

/** Shared memory does not hold what this library wrote there (corrupt, hostile or foreign). */
export class CorruptionError extends MultiprocError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ECORRUPT', options);
  }
}
