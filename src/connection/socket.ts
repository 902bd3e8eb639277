// A Connection over a stream socket (Unix or TCP), as Listener.accept() and Client() make them.
//
// Async forms ride on net.Socket. The Sync forms cannot wait on the event loop, so they read and
// write the socket's (non-blocking) descriptor directly and park in poll(2): bytes they read join
// the same inbox, in order, because nothing else reads while a Sync call blocks the thread. A
// sendSync cannot jump ahead of bytes still queued in net.Socket, so it refuses (ProcessError)
// while an async send is unfinished; `await conn.send(x)` then `conn.sendSync(y)` is fine.
//
// These connections do not travel to other processes (no toHandle): sending one in a message
// fails with SerializationError. A socket keeps the process alive only while a call on it waits.
//
// A TCP peer may be on another machine (or be another user of this one): a live handle names
// resources of this machine, so a message from it that holds one is refused before anything in it
// is decoded (the bytes are walked as the manager server walks them), and none is sent to it.
import { readSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';

import { native } from '../binding.js';
import {
  AbortError,
  AuthenticationError,
  BufferTooShort,
  Closed,
  EOFError,
  ProcessError,
  SerializationError,
} from '../errors.js';
import { checkNetworkMessage } from './wire-guard.js';
import { T_HANDLE } from '../serialize-format.js';
import { remaining } from '../util.js';
import { Connection, MAX_MESSAGE_BYTES, type Message } from './connection.js';
import { frameHeader, Inbox, type FrameHeader } from './frames.js';

/** Frames a peer may send before it has authenticated (Python reads them with recv_bytes(256)). */
export const PREAUTH_FRAME_BYTES = 256;
/** Above this many unread bytes the socket stops reading until recv takes some (backpressure). */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const SYNC_READ_BYTES = 64 * 1024;
const POLLIN = 1;
const POLLOUT = 4;

const isAgain = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === 'EAGAIN';
const isPeerGone = (error: unknown): boolean =>
  ['ECONNRESET', 'EPIPE', 'ENOTCONN'].includes((error as NodeJS.ErrnoException).code ?? '');

/** One side of a Listener/Client connection. */
export class SocketConnection extends Connection {
  readonly #socket: Socket;
  readonly #inbox = new Inbox();
  #maxFrame: number;
  readonly #network: boolean;
  #closed = false;
  #eof = false;
  #failure: Error | null = null;
  #waiters = new Set<() => void>();
  #pendingSends = 0;
  #refs = 0;

  /**
   * Wraps a connected socket; frames above `maxFrame` bytes fail (a few hundred before auth).
   * `network`: the peer is a TCP peer, whose messages may not hold live handles.
   */
  constructor(socket: Socket, maxFrame = MAX_MESSAGE_BYTES, network = false) {
    super(true, true);
    this.#socket = socket;
    this.#maxFrame = maxFrame;
    this.#network = network;
    socket.setNoDelay?.(true);
    socket.unref();
    socket.on('data', (chunk: Buffer) => {
      this.#inbox.push(chunk);
      this.#flowControl();
      this.#notify();
    });
    socket.on('end', () => this.#ended());
    socket.on('close', () => this.#ended());
    socket.on('error', (error: Error) => {
      // A reset peer is a peer that is gone: reads drain what is here, then EOFError.
      if (!isPeerGone(error)) this.#failure ??= error;
      this.#ended();
    });
  }

  /** The peer passed authentication: lift the pre-authentication frame cap to `maxFrame`. */
  authenticated(maxFrame = MAX_MESSAGE_BYTES): void {
    this.#maxFrame = maxFrame;
  }

  override get closed(): boolean {
    return this.#closed;
  }

  override close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.#notify();
  }

  override toString(): string {
    return `Connection(${this.#network ? 'tcp' : 'unix'}${this.#closed ? ', closed' : ''})`;
  }

  protected override get _network(): boolean {
    return this.#network;
  }

  protected override _decode(message: Message): unknown {
    // No T_HANDLE byte anywhere means no handle tag: most messages skip the walk (a memchr).
    if (this.#network && !message.isBytes && message.bytes.indexOf(T_HANDLE) >= 0) {
      try {
        checkNetworkMessage(message.bytes, Infinity);
      } catch (error) {
        // The walk recurses as the decoder does; a message too deep for it is refused, not decoded.
        if (error instanceof RangeError && /call stack/.test(error.message)) {
          throw new SerializationError('a message from a network peer was refused: it nests too deeply', 'message');
        }
        throw error;
      }
    }
    return super._decode(message);
  }

  // ---- receiving ----

  /** The next frame's header once it is in; throws when the peer broke the format or the cap. */
  #header(): FrameHeader | null {
    const header = this.#inbox.header();
    if (header === null) return null;
    if (header.size < 0 || header.size > this.#maxFrame) {
      const error =
        this.#maxFrame === PREAUTH_FRAME_BYTES
          ? new AuthenticationError(`the peer sent a ${header.size}-byte frame before authenticating`)
          : Object.assign(
              new Error(`EMSGSIZE: the peer sent a ${header.size}-byte frame (the limit is ${this.#maxFrame}), recv`),
              { code: 'EMSGSIZE', errno: -90 },
            );
      this.#failure ??= error;
      this.#socket.destroy();
      throw error;
    }
    return header;
  }

  protected override _take(limit: number): Message | null {
    if (this.#closed) throw new Closed('the connection is closed');
    if (this.#failure !== null) throw this.#failure;
    const header = this.#header();
    if (header !== null) {
      if (header.size > limit) {
        throw new BufferTooShort(`the message is ${header.size} bytes, longer than the ${limit} allowed`);
      }
      const payload = this.#inbox.peek(header);
      if (payload !== null) {
        this.#inbox.discard(header.headerBytes + header.size);
        this.#flowControl();
        return { bytes: payload, isBytes: false };
      }
    }
    if (this.#eof) {
      throw new EOFError(
        this.#inbox.length === 0
          ? 'the peer closed the connection'
          : 'the peer closed the connection in the middle of a message',
      );
    }
    return null;
  }

  protected override _ready(): boolean {
    if (this.#closed || this.#eof || this.#failure !== null) return true;
    try {
      const header = this.#header();
      return header !== null && this.#inbox.length >= header.headerBytes + header.size;
    } catch {
      return true;
    }
  }

  protected override _waitReadable(deadline: number, signal?: AbortSignal): Promise<boolean> {
    if (this._ready()) return Promise.resolve(true);
    const timeout = remaining(deadline);
    if (timeout === 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      const finish = (outcome: boolean | Error): void => {
        this.#waiters.delete(wake);
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#unref();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const wake = (): void => finish(true);
      const onAbort = (): void => finish(new AbortError());
      const timer = timeout === Infinity ? undefined : setTimeout(() => finish(false), timeout);
      this.#ref();
      this.#waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  protected override _waitReadableSync(deadline: number): boolean {
    this.#drainStream();
    if (this._ready()) return true;
    const fd = this.#fd();
    if (fd < 0) return true;
    const scratch = Buffer.allocUnsafe(SYNC_READ_BYTES);
    for (;;) {
      try {
        const n = readSync(fd, scratch, 0, scratch.length, null);
        if (n === 0) this.#eof = true;
        else this.#inbox.push(Buffer.from(scratch.subarray(0, n)));
        return true;
      } catch (error) {
        if (isPeerGone(error)) {
          this.#eof = true;
          return true;
        }
        if (!isAgain(error)) throw error;
      }
      const left = remaining(deadline);
      if (left === 0) return false;
      if (native.fdPoll(fd, POLLIN, left === Infinity ? -1 : left) === 0) return false;
    }
  }

  // ---- sending ----

  protected override _send(
    bytes: Uint8Array,
    isBytes: boolean,
    _deadline: number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (signal?.aborted) return Promise.reject(new AbortError());
    // net.Socket keeps a reference, not a copy: copy what the caller may change after we return.
    const payload = isBytes ? Buffer.from(bytes) : bytes;
    return new Promise<void>((resolve, reject) => {
      this.#pendingSends++;
      this.#ref();
      const done = (error?: Error | null): void => {
        this.#pendingSends--;
        this.#unref();
        if (error) reject(isPeerGone(error) ? brokenPipe() : error);
        else resolve();
      };
      const socket = this.#socket;
      if (socket.destroyed || socket.writableEnded) {
        done(brokenPipe());
        return;
      }
      socket.cork();
      socket.write(frameHeader(payload.byteLength));
      socket.write(payload, done);
      socket.uncork();
    });
  }

  protected override _sendSync(bytes: Uint8Array, _isBytes: boolean, deadline: number): void {
    if (this.#failure !== null) throw this.#failure;
    if (this.#pendingSends > 0 || this.#socket.writableLength > 0) {
      throw new ProcessError('sendSync cannot pass an async send still in progress on this connection: await it first');
    }
    const fd = this.#fd();
    if (fd < 0 || this.#socket.writableEnded) throw brokenPipe();
    // The deadline only bounds the wait for the first byte: a frame once started must finish, or
    // the stream would be cut in the middle of a message.
    let started = false;
    for (const part of [frameHeader(bytes.byteLength), bytes]) {
      let offset = 0;
      while (offset < part.byteLength) {
        try {
          offset += writeSync(fd, part, offset, part.byteLength - offset);
          started = true;
          continue;
        } catch (error) {
          if (isPeerGone(error)) throw brokenPipe();
          if (!isAgain(error)) throw error;
        }
        const left = started ? Infinity : remaining(deadline);
        if (left === 0 || native.fdPoll(fd, POLLOUT, left === Infinity ? -1 : left) === 0) {
          throw Object.assign(new Error('ETIMEDOUT: the peer did not take the message in time, send'), {
            code: 'ETIMEDOUT',
          });
        }
      }
    }
  }

  // ---- plumbing ----

  #fd(): number {
    const handle = (this.#socket as unknown as { _handle?: { fd?: number } | null })._handle;
    return typeof handle?.fd === 'number' ? handle.fd : -1;
  }

  /** Moves bytes net.Socket holds but has not emitted yet into the inbox (read() emits 'data'). */
  #drainStream(): void {
    while (this.#socket.readableLength > 0 && this.#socket.read() !== null);
  }

  #flowControl(): void {
    let wanted = HIGH_WATER_BYTES;
    try {
      const header = this.#inbox.header();
      if (header !== null && header.size <= this.#maxFrame) wanted = Math.max(wanted, header.headerBytes + header.size);
    } catch {
      // a bad header is reported by the next _take
    }
    if (this.#inbox.length >= wanted) this.#socket.pause();
    else if (this.#socket.isPaused()) this.#socket.resume();
  }

  #ended(): void {
    this.#eof = true;
    this.#notify();
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  #ref(): void {
    if (this.#refs++ === 0) this.#socket.ref();
  }

  #unref(): void {
    if (--this.#refs === 0) this.#socket.unref();
  }
}

function brokenPipe(): Error {
  return Object.assign(new Error('EPIPE: the peer closed the connection, send'), {
    code: 'EPIPE',
    errno: -32,
    syscall: 'send',
  });
}
