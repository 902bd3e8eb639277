// Connection: one end of a Pipe, or one side of a Listener/Client socket (Python's
// multiprocessing.connection.Connection). This file holds the public surface, argument checks
// and the object encoding; the two transports (pipe.ts over shared memory, socket.ts over a
// stream socket) implement the few hooks at the bottom.
//
// Messages keep their boundaries and their order per direction. Objects go through the one
// serializer (serialize.ts); bytes go as they are. A message too long for the caller's limit
// raises BufferTooShort and stays where it is (stricter than Python, which drops it).
import { deserialize, serialize, serializeWithoutHandles } from '../serialize.js';
import { AbortError, Closed, TimeoutError } from '../errors.js';
import { checkOptionsBag, checkSignal, deadlineOf, describe, timeoutOf, type WaitOptions } from '../util.js';

/** Reaches a connection's readiness hooks (see wait.ts). */
export const kReadiness = Symbol('multiproc.readiness');

/** What wait() needs from a connection. */
export interface Readiness {
  ready(): boolean;
  wait(deadline: number, signal: AbortSignal): Promise<boolean>;
}

/** The largest message a connection carries: 2 GiB - 1 bytes, as Queue. */
export const MAX_MESSAGE_BYTES = 0x7fffffff;

/** One whole message taken from a transport. */
export interface Message {
  readonly bytes: Uint8Array;
  /** True when it was sent with sendBytes (pipes know; sockets cannot tell and say false). */
  readonly isBytes: boolean;
  /** True when `bytes` is a Buffer of its own that may be handed to the caller as it is. */
  readonly owned?: boolean;
}

/** Options of the blocking forms that may wait. */
export interface SyncTimeoutOptions {
  /** Milliseconds. Absent, null or Infinity: wait forever; 0 or negative: do not wait. */
  timeout?: number | null | undefined;
}

type Bytes = ArrayBufferView | ArrayBuffer;

function viewOf(buf: unknown, what: string): Uint8Array {
  if (buf instanceof Uint8Array) return buf;
  if (ArrayBuffer.isView(buf)) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  throw new TypeError(`${what} must be a Buffer, TypedArray, DataView or ArrayBuffer (got ${describe(buf)})`);
}

function checkByteCount(value: unknown, what: string, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`${what} must be a number (got ${describe(value)})`);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer from 0 to ${max} (got ${value})`);
  }
  return value;
}

/** The bytes `sendBytes(buf, offset, size)` means, checked as Python's send_bytes checks them. */
function sliceOf(buf: unknown, offset: unknown, size: unknown): Uint8Array {
  const view = viewOf(buf, 'buf');
  const start = offset === undefined ? 0 : checkByteCount(offset, 'offset', view.byteLength);
  const length = size === undefined ? view.byteLength - start : checkByteCount(size, 'size', view.byteLength - start);
  if (length > MAX_MESSAGE_BYTES) throw new RangeError(`a message is at most ${MAX_MESSAGE_BYTES} bytes`);
  return view.subarray(start, start + length);
}

function limitOf(maxLength: unknown): number {
  if (maxLength === undefined || maxLength === null) return Infinity;
  return checkByteCount(maxLength, 'maxLength', Number.MAX_SAFE_INTEGER);
}

function encode(obj: unknown, network: boolean): Uint8Array {
  // A TCP peer would refuse a handle unread (see SocketConnection): say so here, where the caller is.
  const bytes = network ? serializeWithoutHandles(obj, 'message', NETWORK_HANDLE) : serialize(obj, 'message');
  if (bytes.length > MAX_MESSAGE_BYTES) throw new RangeError(`a message is at most ${MAX_MESSAGE_BYTES} bytes`);
  return bytes;
}

function bufferOf(message: Message): Buffer {
  return message.owned && Buffer.isBuffer(message.bytes) ? message.bytes : Buffer.from(message.bytes);
}

function misuse(message: string): Error {
  return Object.assign(new Error(`EBADF: ${message}`), { code: 'EBADF', errno: -9 });
}

/**
 * One end of a connection: a `Pipe()` end or a `Listener`/`Client` socket. Async methods never
 * throw synchronously (bad arguments reject with TypeError/RangeError); `...Sync` forms throw.
 * After `close()` every call throws `Closed`. `recv` on a drained connection whose peer has
 * closed, or died, rejects with `EOFError`.
 */
export abstract class Connection {
  readonly #readable: boolean;
  readonly #writable: boolean;

  protected constructor(readable: boolean, writable: boolean) {
    this.#readable = readable;
    this.#writable = writable;
  }

  /** True once `close()` was called on this end in this process. */
  abstract get closed(): boolean;

  /** True when this end can receive. */
  get readable(): boolean {
    return this.#readable;
  }

  /** True when this end can send. */
  get writable(): boolean {
    return this.#writable;
  }

  /**
   * Sends an object (structured-clone semantics, handles travel). Resolves once the message is
   * handed over: the value may be changed at once. Rejects with SerializationError for what
   * cannot travel, `EPIPE` when the peer is gone, Closed after close.
   */
  send(obj: unknown, options?: WaitOptions): Promise<void> {
    try {
      const { deadline, signal } = this.#sendPrologue(options);
      return this._send(encode(obj, this._network), false, deadline, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@link send}. */
  sendSync(obj: unknown, options?: SyncTimeoutOptions): void {
    const { deadline } = this.#sendPrologue(options);
    this._sendSync(encode(obj, this._network), false, deadline);
  }

  /** Sends `size` bytes of `buf` from `offset` (in bytes) as one message, with no serialization. */
  sendBytes(buf: Bytes, offset?: number, size?: number, options?: WaitOptions): Promise<void> {
    try {
      const bytes = sliceOf(buf, offset, size);
      const { deadline, signal } = this.#sendPrologue(options);
      return this._send(bytes, true, deadline, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@link sendBytes}. */
  sendBytesSync(buf: Bytes, offset?: number, size?: number, options?: SyncTimeoutOptions): void {
    const bytes = sliceOf(buf, offset, size);
    const { deadline } = this.#sendPrologue(options);
    this._sendSync(bytes, true, deadline);
  }

  /**
   * Receives the next object. A message sent with `sendBytes` arrives as a Buffer on a Pipe.
   * Rejects with EOFError when the peer is gone and nothing is left, TimeoutError when
   * `timeout` runs out, AbortError when `signal` aborts (nothing is taken then).
   */
  async recv(options?: WaitOptions): Promise<unknown> {
    return this.#receive(Infinity, options, (message) => this._decode(message));
  }

  /** The blocking form of {@link recv}. */
  recvSync(options?: SyncTimeoutOptions): unknown {
    return this.#receiveSync(Infinity, options, (message) => this._decode(message));
  }

  /**
   * Receives the next message's bytes as a new Buffer. A message longer than `maxLength`
   * rejects with BufferTooShort and stays in place for the next call.
   */
  async recvBytes(maxLength?: number | null, options?: WaitOptions): Promise<Buffer> {
    return this.#receive(limitOf(maxLength), options, bufferOf);
  }

  /** The blocking form of {@link recvBytes}. */
  recvBytesSync(maxLength?: number | null, options?: SyncTimeoutOptions): Buffer {
    return this.#receiveSync(limitOf(maxLength), options, bufferOf);
  }

  /**
   * Receives the next message into `buf` at byte `offset` and resolves with its length. A
   * message that does not fit rejects with BufferTooShort and stays in place.
   */
  async recvBytesInto(buf: Bytes, offset?: number, options?: WaitOptions): Promise<number> {
    const [view, start] = intoArgs(buf, offset);
    return this.#receive(view.byteLength - start, options, (message) => {
      view.set(message.bytes, start);
      return message.bytes.byteLength;
    });
  }

  /** The blocking form of {@link recvBytesInto}. */
  recvBytesIntoSync(buf: Bytes, offset?: number, options?: SyncTimeoutOptions): number {
    const [view, start] = intoArgs(buf, offset);
    return this.#receiveSync(view.byteLength - start, options, (message) => {
      view.set(message.bytes, start);
      return message.bytes.byteLength;
    });
  }

  /**
   * Resolves true when a message is ready to read (or the peer is gone, so that recv would
   * reject with EOFError at once), false when `timeout` (default 0: do not wait) runs out.
   */
  async poll(options?: WaitOptions): Promise<boolean> {
    const { deadline, signal } = this.#recvPrologue(options, 0);
    for (;;) {
      if (this._ready()) return true;
      if (!(await this._waitReadable(deadline, signal))) return this._ready();
    }
  }

  /** The blocking form of {@link poll}. */
  pollSync(options?: SyncTimeoutOptions): boolean {
    const { deadline } = this.#recvPrologue(options, 0);
    for (;;) {
      if (this._ready()) return true;
      if (!this._waitReadableSync(deadline)) return this._ready();
    }
  }

  /** Ends this process's use of this end; its pending waits reject with Closed. Idempotent. */
  abstract close(): void;

  [Symbol.dispose](): void {
    this.close();
  }

  /** For wait(): `_ready` and a non-spinning `_waitReadable`, without making them public API. */
  static [kReadiness](connection: Connection): Readiness {
    return {
      ready: () => connection._ready(),
      wait: (deadline, signal) => connection._waitReadable(deadline, signal, false),
    };
  }

  // ---- shared plumbing ----

  #checkOpen(): void {
    if (this.closed) throw new Closed('the connection is closed');
  }

  #sendPrologue(options: WaitOptions | SyncTimeoutOptions | undefined): { deadline: number; signal?: AbortSignal } {
    checkOptionsBag(options);
    const signal = (options as WaitOptions | undefined)?.signal;
    checkSignal(signal);
    const deadline = deadlineOf(timeoutOf(options));
    this.#checkOpen();
    if (!this.#writable) throw misuse('this connection is read-only, send');
    if (signal?.aborted) throw new AbortError();
    return signal === undefined ? { deadline } : { deadline, signal };
  }

  #recvPrologue(
    options: WaitOptions | SyncTimeoutOptions | undefined,
    defaultTimeout = Infinity,
  ): { deadline: number; signal?: AbortSignal } {
    checkOptionsBag(options);
    const signal = (options as WaitOptions | undefined)?.signal;
    checkSignal(signal);
    const timeout = options?.timeout === undefined ? defaultTimeout : timeoutOf(options);
    this.#checkOpen();
    if (!this.#readable) throw misuse('this connection is write-only, recv');
    if (signal?.aborted) throw new AbortError();
    const deadline = deadlineOf(timeout);
    return signal === undefined ? { deadline } : { deadline, signal };
  }

  /** Waits for the next message and hands it to `use` at once (before anything else can run). */
  async #receive<R>(limit: number, options: WaitOptions | undefined, use: (message: Message) => R): Promise<R> {
    const { deadline, signal } = this.#recvPrologue(options);
    for (;;) {
      const message = this._take(limit);
      if (message !== null) return this.#use(message, use);
      if (!(await this._waitReadable(deadline, signal))) {
        const late = this._take(limit);
        if (late !== null) return this.#use(late, use);
        throw new TimeoutError('no message arrived within the timeout');
      }
    }
  }

  #receiveSync<R>(limit: number, options: SyncTimeoutOptions | undefined, use: (message: Message) => R): R {
    const { deadline } = this.#recvPrologue(options);
    for (;;) {
      const message = this._take(limit);
      if (message !== null) return this.#use(message, use);
      if (!this._waitReadableSync(deadline)) {
        const late = this._take(limit);
        if (late !== null) return this.#use(late, use);
        throw new TimeoutError('no message arrived within the timeout');
      }
    }
  }

  /** Hands the message to `use`, then lets the transport reuse its bytes. */
  #use<R>(message: Message, use: (message: Message) => R): R {
    try {
      return use(message);
    } finally {
      this._release();
    }
  }

  // ---- what a transport implements ----

  /**
   * True when the peer is on the network (a TCP socket): live handles (Queue, Lock, Pipe end,
   * proxy ...) name resources of one machine, so none is sent to it or revived from it.
   */
  protected get _network(): boolean {
    return false;
  }

  /** Turns a received object message into its value (a transport may check the bytes first). */
  protected _decode(message: Message): unknown {
    return decode(message);
  }

  /**
   * Takes the next whole message if one is here (null if not yet). Throws EOFError when nothing
   * is left and the peer is gone, BufferTooShort (taking nothing) when it is longer than
   * `limit`, Closed when this end is closed. The bytes may be a view valid until the next call.
   */
  protected abstract _take(limit: number): Message | null;
  /** Called once the caller is done with the bytes `_take` returned. */
  protected _release(): void {}
  /** True when `_take` would return a message or throw EOFError without waiting. */
  protected abstract _ready(): boolean;
  /**
   * Waits until `_take` may have something; false once `deadline` (performance.now()) passed.
   * `spin` allows a short busy-wait before parking (off when wait() watches many connections).
   */
  protected abstract _waitReadable(deadline: number, signal?: AbortSignal, spin?: boolean): Promise<boolean>;
  protected abstract _waitReadableSync(deadline: number): boolean;
  /** Sends one message; the bytes are the caller's only during the synchronous part of the call. */
  protected abstract _send(bytes: Uint8Array, isBytes: boolean, deadline: number, signal?: AbortSignal): Promise<void>;
  protected abstract _sendSync(bytes: Uint8Array, isBytes: boolean, deadline: number): void;
}

/** The error for a live handle that would cross to or from a network peer. */
const NETWORK_HANDLE =
  'a live handle (Queue, Lock, Pipe end, manager proxy ...) cannot travel over a TCP connection: it names ' +
  'resources of one machine; send plain data, or use a Unix-socket Listener on the same machine';

function decode(message: Message): unknown {
  return message.isBytes ? bufferOf(message) : deserialize(message.bytes);
}

function intoArgs(buf: unknown, offset: unknown): [Uint8Array, number] {
  const view = viewOf(buf, 'buf');
  const start = offset === undefined ? 0 : checkByteCount(offset, 'offset', view.byteLength);
  return [view, start];
}
