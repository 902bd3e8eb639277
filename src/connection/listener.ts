// Listener and Client: socket connections between processes that did not make each other
// (Python's multiprocessing.connection.Listener / Client), over a Unix socket (address = a path)
// or TCP (address = { host, port }), with Python's HMAC challenge on `authkey` in both
// directions before the connection is handed to the caller.
//
// Sockets are bound synchronously (native/sockets.cc), so `new Listener()` throws EADDRINUSE
// and friends at once and `.address` holds the real port for `port: 0`; net.Server then owns
// the descriptor. Generated Unix socket paths live in a 0700 directory of this user.
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { native } from '../binding.js';
import { AbortError, Closed, TimeoutError } from '../errors.js';
import {
  checkInteger,
  checkOptionsBag,
  checkSignal,
  deadlineOf,
  describe,
  randomToken,
  remaining,
  timeoutOf,
  type WaitOptions,
} from '../util.js';
import { answerChallenge, authkeyOf, deliverChallenge } from './auth.js';
import { MAX_MESSAGE_BYTES, type Connection } from './connection.js';
import { PREAUTH_FRAME_BYTES, SocketConnection } from './socket.js';

/** A TCP address; `port: 0` picks a free port. `host` defaults to the loopback address. */
export interface TcpAddress {
  host?: string | undefined;
  port: number;
}

/** A Unix socket path, or a TCP address. */
export type Address = string | TcpAddress;

/** Options of `new Listener(...)`: the address to listen on and the authkey peers must know. */
export interface ListenerOptions {
  /** Where to listen. Default: a new Unix socket in a private (0700) directory of this user. */
  address?: Address | undefined;
  /** When given, every connection must prove it holds this key (and so must we). */
  authkey?: Buffer | Uint8Array | string | undefined;
  /** Pending connections the kernel queues (default 128; Python's default of 1 refuses bursts). */
  backlog?: number | undefined;
  /**
   * The largest message a peer may send on an accepted connection, in bytes (default and
   * maximum: 2 GiB - 1, as Python). A larger frame fails the receive with EMSGSIZE from its
   * header, before anything is buffered, and ends the connection.
   */
  maxMessageBytes?: number | undefined;
}

export interface ClientOptions extends WaitOptions {
  /** The Listener's key. Without one, no authentication takes place. */
  authkey?: Buffer | Uint8Array | string | undefined;
  /** The largest message the listener's side may send us (see ListenerOptions). */
  maxMessageBytes?: number | undefined;
}

function maxMessageOf(options: { maxMessageBytes?: unknown } | undefined): number {
  const value = options?.maxMessageBytes;
  return value === undefined ? MAX_MESSAGE_BYTES : checkInteger(value, 'maxMessageBytes', 1, MAX_MESSAGE_BYTES);
}

/** Options of `listener.accept()`: how long to wait for a connection, and a signal to stop. */
export type AcceptOptions = WaitOptions;

/** Python's CONNECTION_TIMEOUT: how long a peer may take over the handshake. */
const HANDSHAKE_MS = 20_000;
const LOOPBACK = '127.0.0.1';
const MAX_UNIX_PATH = 107;

/** The private directory for generated socket paths: created 0700, refused if anyone else can enter. */
export function socketDirectory(): string {
  const uid = process.geteuid?.() ?? 0;
  const dir = join(tmpdir(), `multiproc-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stat = lstatSync(dir);
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o077) !== 0) {
    throw Object.assign(new Error(`EACCES: ${dir} is not a private directory of this user, mkdir '${dir}'`), {
      code: 'EACCES',
      errno: -13,
      syscall: 'mkdir',
      path: dir,
    });
  }
  return dir;
}

function checkAddress(address: unknown): Address {
  if (typeof address === 'string') {
    if (address.length === 0 || Buffer.byteLength(address) > MAX_UNIX_PATH) {
      throw new RangeError(`a Unix socket path must be 1 to ${MAX_UNIX_PATH} bytes (got ${describe(address)})`);
    }
    if (address.includes('\0')) throw new RangeError('a Unix socket path must not contain NUL');
    return address;
  }
  if (typeof address !== 'object' || address === null || Array.isArray(address)) {
    throw new TypeError(`address must be a Unix socket path or { host, port } (got ${describe(address)})`);
  }
  const { host = LOOPBACK, port } = address as TcpAddress;
  if (typeof host !== 'string') throw new TypeError(`address.host must be a string (got ${describe(host)})`);
  if (host.length === 0 || host.includes('\0')) throw new RangeError('address.host must be a non-empty host name');
  return { host, port: checkInteger(port, 'address.port', 0, 65535) };
}

/**
 * Accepts authenticated socket connections (Python's `Listener`). `new Listener({ address,
 * authkey })` binds at once: it throws TypeError/RangeError for bad options and the OS error
 * (`EADDRINUSE`, `EACCES`, `ENOTFOUND` ...) when the address cannot be bound.
 */
export class Listener {
  readonly #server: Server;
  readonly #authkey: Buffer | undefined;
  readonly #maxMessage: number;
  readonly #address: Address;
  readonly #unlink: { path: string; ino: number } | null;
  readonly #incoming: Socket[] = [];
  readonly #waiters = new Set<() => void>();
  #lastAccepted: Address | null = null;
  #closed = false;

  constructor(options: ListenerOptions = {}) {
    checkOptionsBag(options);
    const address = options.address === undefined ? undefined : checkAddress(options.address);
    const backlog = options.backlog === undefined ? 128 : checkInteger(options.backlog, 'backlog', 0, 65535);
    this.#authkey = authkeyOf(options.authkey);
    this.#maxMessage = maxMessageOf(options);
    let fd: number;
    if (address === undefined || typeof address === 'string') {
      const path = address ?? join(socketDirectory(), `l-${randomToken()}.sock`);
      fd = native.unixListen(path, backlog);
      this.#address = path;
      this.#unlink = { path, ino: lstatSync(path).ino };
    } else {
      const bound = native.tcpListen(address.host!, address.port, backlog);
      fd = bound.fd;
      this.#address = { host: bound.host, port: bound.port };
      this.#unlink = null;
    }
    this.#server = new Server({ pauseOnConnect: true });
    this.#server.on('connection', (socket: Socket) => {
      socket.on('error', () => {}); // a peer that resets before accept() is dropped there
      socket.unref();
      this.#incoming.push(socket);
      for (const wake of [...this.#waiters]) wake();
    });
    this.#server.on('error', () => {}); // accept errors (EMFILE) are retried by libuv
    this.#server.listen({ fd, backlog });
    // A listener keeps the process alive only while an accept() waits.
    this.#server.unref();
  }

  /** The bound address: the path, or `{ host, port }` with the port actually bound. */
  get address(): Address {
    return typeof this.#address === 'string' ? this.#address : { ...this.#address };
  }

  /** The peer address of the last accepted connection (null for Unix sockets and before any). */
  get lastAccepted(): Address | null {
    return this.#lastAccepted;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Waits for the next connection and authenticates it (both ways) when there is an authkey.
   * Rejects with AuthenticationError when that peer fails (the connection is dropped), with
   * TimeoutError/AbortError when no connection came in time, Closed once the listener closes.
   */
  async accept(options?: AcceptOptions): Promise<Connection> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    const deadline = deadlineOf(timeoutOf(options));
    const signal = options?.signal;
    for (;;) {
      if (this.#closed) throw new Closed('the listener is closed');
      if (signal?.aborted) throw new AbortError();
      const socket = this.#incoming.shift();
      if (socket !== undefined) {
        if (socket.destroyed) continue;
        socket.resume();
        this.#lastAccepted = socket.remoteAddress ? { host: socket.remoteAddress, port: socket.remotePort ?? 0 } : null;
        const network = typeof this.#address !== 'string';
        const deadline = performance.now() + HANDSHAKE_MS;
        return handshake(socket, this.#authkey, 'server', signal, deadline, network, this.#maxMessage);
      }
      if (!(await this.#arrival(deadline, signal))) throw new TimeoutError('no connection arrived within the timeout');
    }
  }

  #arrival(deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    const timeout = remaining(deadline);
    if (timeout === 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      const finish = (outcome: boolean | Error): void => {
        this.#waiters.delete(wake);
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (this.#waiters.size === 0 && !this.#closed) this.#server.unref();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const wake = (): void => finish(true);
      const onAbort = (): void => finish(new AbortError());
      const timer = timeout === Infinity ? undefined : setTimeout(() => finish(false), timeout);
      this.#waiters.add(wake);
      this.#server.ref();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops listening, drops connections not yet accepted and removes the socket file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const socket of this.#incoming.splice(0)) socket.destroy();
    for (const wake of [...this.#waiters]) wake();
    if (this.#unlink !== null) {
      try {
        // Only our own socket file: not one that someone bound at that path since.
        if (lstatSync(this.#unlink.path).ino === this.#unlink.ino) unlinkSync(this.#unlink.path);
      } catch {
        // already gone
      }
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `Listener(${JSON.stringify(this.#address)}${this.#closed ? ', closed' : ''})`;
  }
}

/**
 * Connects to a Listener (Python's `Client`) and, with an `authkey`, authenticates both ways.
 * Rejects with the OS error (`ECONNREFUSED`, `ENOENT` ...), AuthenticationError on a key
 * mismatch, TimeoutError/AbortError when `timeout`/`signal` end the attempt.
 */
export async function Client(address: Address, options?: ClientOptions): Promise<Connection> {
  const target = checkAddress(address);
  checkOptionsBag(options);
  checkSignal(options?.signal);
  const authkey = authkeyOf(options?.authkey);
  const maxMessage = maxMessageOf(options);
  const timeout = timeoutOf(options);
  const deadline = Math.min(deadlineOf(timeout), performance.now() + HANDSHAKE_MS);
  const signal = options?.signal;
  if (signal?.aborted) throw new AbortError();
  const socket = await new Promise<Socket>((resolve, reject) => {
    const socket =
      typeof target === 'string'
        ? createConnection({ path: target })
        : createConnection({ host: target.host ?? LOOPBACK, port: target.port });
    const finish = (error?: Error): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', finish);
      socket.off('connect', onConnect);
      if (error === undefined) {
        resolve(socket);
      } else {
        socket.destroy();
        reject(error);
      }
    };
    const onConnect = (): void => finish();
    const onAbort = (): void => finish(new AbortError());
    const timer =
      timeout === Infinity
        ? undefined
        : setTimeout(() => finish(new TimeoutError('the listener did not answer within the timeout')), timeout);
    socket.once('connect', onConnect);
    socket.once('error', finish);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  return handshake(socket, authkey, 'client', signal, deadline, typeof target !== 'string', maxMessage);
}

/** Wraps a connected socket; with a key, runs the challenge both ways before handing it out. */
async function handshake(
  socket: Socket,
  authkey: Buffer | undefined,
  side: 'server' | 'client',
  signal: AbortSignal | undefined,
  deadline: number,
  network: boolean,
  maxMessage: number,
): Promise<Connection> {
  if (authkey === undefined) return new SocketConnection(socket, maxMessage, network);
  const connection = new SocketConnection(socket, PREAUTH_FRAME_BYTES, network);
  const onAbort = (): void => connection.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (side === 'server') {
      await deliverChallenge(connection, authkey, deadline);
      await answerChallenge(connection, authkey, deadline);
    } else {
      await answerChallenge(connection, authkey, deadline);
      await deliverChallenge(connection, authkey, deadline);
    }
  } catch (error) {
    connection.close();
    if (signal?.aborted) throw new AbortError();
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  connection.authenticated(maxMessage);
  return connection;
}
