// A process's connection to one manager server, shared by every proxy of that server in the
// process (Python keeps one per thread; a Node process runs its calls on one thread). It is
// opened at the first call, authenticates with the authkey (connection/auth.ts), says Hello,
// and then carries calls in order: over the shared-memory channel for a local server
// (channel.ts), as socket frames for a TCP one.
//
// Waiting for a reply over the channel: the caller spins briefly on the reply ring (a reply
// usually comes back in a few microseconds, much less than waking a sleeping process costs), then
// keeps polling between event-loop turns for a while, then sleeps: it raises its flag and waits
// for a doorbell on the socket. The spin adapts: it shrinks while replies keep coming late.
//
// The socket is read only while calls are outstanding, so an idle connection does not keep the
// process alive; a dead server is found at the next call (the socket reports its end), which
// then rejects with ProcessError instead of hanging.
import { randomUUID } from 'node:crypto';

import { Client, type Address, type Connection } from '../connection/index.js';
import { AbortError, AuthenticationError, Closed, EOFError, ProcessError, SerializationError } from '../errors.js';
import { deserialize, handlesWritten, serialize, serializeWith } from '../serialize.js';
import { ChannelEnd } from './channel.js';
import { addressKey, keyFor, withoutKeys } from './keys.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  Doorbell,
  HELLO_TIMEOUT_MS,
  Op,
  PROTOCOL_VERSION,
  protocolError,
  remoteFailure,
  Status,
  type HelloReply,
  type ProxyToken,
  type ProxyTransport,
} from './protocol.js';
import { spinAllowed } from './spin.js';

// Spin budgets, in milliseconds (see the file comment).
const SYNC_SPIN_MIN = 0.002;
const SYNC_SPIN_MAX = 0.05;
const ASYNC_SPIN = 0.1;
const BURST = 0.02;
const WAKE = Buffer.from([Doorbell.Wake]);

type ProxyMaker = (transport: ProxyTransport, token: ProxyToken) => unknown;
let makeProxy: ProxyMaker = () => {
  throw new ProcessError('manager proxies are not loaded');
};

/** proxy.ts hands in how replies that are new referents become proxies. @internal */
export function setProxyMaker(maker: ProxyMaker): void {
  makeProxy = maker;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  readonly where: string;
  cleanup: (() => void) | undefined;
}

type State = 'idle' | 'connecting' | 'open' | 'done';

/** One process's connection to one manager server. */
export class ClientConnection implements ProxyTransport {
  readonly address: Address;
  readonly #network: boolean;
  #state: State = 'idle';
  #failure: Error | undefined;
  #opening: Promise<void> | undefined;
  #socket: Connection | undefined;
  #channel: ChannelEnd | undefined;
  #hello: HelloReply | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Requests made before the connection opened, encoded, in order. */
  #queued: Buffer[] = [];
  /** Requests (or their rest) waiting for room in the request ring, in order. */
  #outgoing: { bytes: Buffer; offset: number }[] = [];
  #listening = false;
  #listenAbort: AbortController | undefined;
  #spinning = false;
  #stopScheduled = false;
  #spinStart = 0;
  #syncSpin = SYNC_SPIN_MAX / 4;
  #idle: Array<() => void> = [];

  constructor(address: Address) {
    this.address = typeof address === 'string' ? address : { ...address };
    this.#network = typeof address !== 'string';
  }

  /** True once the connection failed or was closed (a new one is needed). */
  get finished(): boolean {
    return this.#state === 'done';
  }

  /** What the server said in its Hello (after `open()`). */
  get hello(): HelloReply | undefined {
    return this.#hello;
  }

  /** Connects, authenticates and says Hello (once). Rejects with the reason the connection failed. */
  open(): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#state === 'done') return Promise.reject(this.#error());
    if (this.#opening === undefined) {
      this.#state = 'connecting';
      this.#opening = this.#connect().catch((error: unknown) => {
        this.#finish(error instanceof Error ? error : new ProcessError(String(error)));
        throw error;
      });
      this.#opening.catch(() => {});
    }
    return this.#opening;
  }

  async #connect(): Promise<void> {
    const authkey = keyFor(this.address);
    if (authkey === undefined) {
      throw new AuthenticationError(
        `no authkey is known in this process for the manager at ${addressKey(this.address)}: ` +
          'connect a BaseManager with { address, authkey } first',
      );
    }
    const socket = await Client(this.address, { authkey });
    if ((this.#state as State) === 'done') {
      socket.close();
      throw this.#error();
    }
    this.#socket = socket;
    await socket.sendBytes(serialize([1, Op.Hello, { version: PROTOCOL_VERSION, channel: !this.#network && !process.env.MP_NO_CHANNEL }]));
    const reply = deserialize(await socket.recvBytes(null, { timeout: HELLO_TIMEOUT_MS })) as unknown[];
    if (!Array.isArray(reply) || reply[0] !== 1) throw protocolError('a bad Hello reply');
    if (reply[1] === Status.Error) throw remoteFailure(reply[2], 'manager Hello');
    const hello = reply[2] as HelloReply;
    if (typeof hello !== 'object' || hello === null || hello.version !== PROTOCOL_VERSION) {
      throw protocolError(`the server speaks version ${describeVersion(hello)}, this process ${PROTOCOL_VERSION}`);
    }
    this.#hello = hello;
    if ((this.#state as State) === 'done') throw this.#error();
    if (typeof hello.channel === 'string') this.#channel = ChannelEnd.open(hello.channel, Number.MAX_SAFE_INTEGER);
    this.#state = 'open';
    for (const bytes of this.#queued.splice(0)) this.#writeBytes(bytes);
    this.#afterSend();
  }

  // ---- ProxyTransport ----

  call(id: number, method: string, args: unknown[], where: string, signal?: AbortSignal): Promise<unknown> {
    return this.request([0, Op.Call, id, method, args], where, signal);
  }

  release(id: number): void {
    if (this.#state === 'open' || this.#state === 'connecting') this.#notify([0, Op.Decref, id]);
  }

  pin(id: number): void {
    if (this.#state === 'open' || this.#state === 'connecting') this.#notify([0, Op.Pin, id]);
  }

  /**
   * Sends `message` (its first element is replaced by a fresh request id) and resolves with the
   * server's answer. Never throws synchronously.
   */
  request(message: unknown[], where: string, signal?: AbortSignal): Promise<unknown> {
    if (this.#state === 'done') return Promise.reject(this.#error());
    if (signal?.aborted) return Promise.reject(new AbortError());
    const reqId = this.#nextId;
    this.#nextId = reqId >= 0x7ffffffe ? 1 : reqId + 1;
    message[0] = reqId;
    return new Promise<unknown>((resolve, reject) => {
      try {
        this.#send(message);
      } catch (error) {
        reject(error);
        return;
      }
      const pending: Pending = { resolve, reject, where, cleanup: undefined };
      this.#pending.set(reqId, pending);
      if (signal !== undefined) {
        const onAbort = (): void => this.#notify([0, Op.Cancel, reqId]);
        signal.addEventListener('abort', onAbort, { once: true });
        pending.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.#afterSend();
    });
  }

  /** Resolves once no call is outstanding and everything sent has been handed over. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Ends this process's use of the server: outstanding calls reject with `reason` (Closed). */
  close(reason?: Error): void {
    this.#finish(reason ?? new Closed('the connection to the manager was closed'));
  }

  // ---- sending ----

  #notify(message: unknown[]): void {
    if (this.#state === 'done' || this.#state === 'idle') return;
    try {
      this.#send(message);
    } catch {
      // a fire-and-forget message that cannot be encoded is a bug; nothing waits for it
    }
  }

  #send(message: unknown[]): void {
    if (this.#state !== 'open') {
      this.#queued.push(Buffer.from(this.#encode(message)));
      void this.open().catch(() => {});
      return;
    }
    if (this.#channel !== undefined && this.#outgoing.length === 0) {
      serializeWith(message, (bytes) => this.#writeBytes(this.#checkSize(bytes)), 'args');
      return;
    }
    this.#writeBytes(this.#encode(message));
  }

  #encode(message: unknown[]): Buffer {
    if (!this.#network) return this.#checkSize(serialize(message, 'args'));
    const before = handlesWritten();
    const bytes = withoutKeys(() => serialize(message, 'args'));
    if (handlesWritten() !== before) {
      throw new SerializationError(
        'live handles (Queues, Locks, proxies, ...) cannot be sent to a manager over TCP: they name resources of this machine',
        'args',
      );
    }
    return this.#checkSize(bytes);
  }

  #checkSize<B extends Uint8Array>(bytes: B): B {
    const limit = this.#hello?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (bytes.byteLength > limit) {
      throw new RangeError(`a manager call is limited to ${limit} bytes by its server (this one is ${bytes.byteLength})`);
    }
    return bytes;
  }

  /** Writes one encoded request (bytes valid during the call only). */
  #writeBytes(bytes: Uint8Array): void {
    const channel = this.#channel;
    if (channel === undefined) {
      this.#socket!.sendBytes(bytes).catch((error: unknown) => this.#lost(error));
      return;
    }
    if (this.#outgoing.length > 0) {
      this.#outgoing.push({ bytes: Buffer.from(bytes), offset: 0 });
      return;
    }
    const written = channel.writer.write(bytes);
    if (written > 0 && channel.claimPeerSleeping()) this.#ring();
    if (written < bytes.byteLength) {
      this.#outgoing.push({ bytes: Buffer.from(bytes), offset: written });
      channel.block();
      this.#flush();
      this.#listen();
    }
  }

  /** Moves waiting requests into the ring as far as it has room; true when none is left. */
  #flush(): boolean {
    const channel = this.#channel!;
    let wrote = false;
    while (this.#outgoing.length > 0) {
      const first = this.#outgoing[0]!;
      const offset = channel.writer.write(first.bytes, first.offset);
      wrote ||= offset > first.offset;
      first.offset = offset;
      if (offset < first.bytes.byteLength) break;
      this.#outgoing.shift();
    }
    if (wrote && channel.claimPeerSleeping()) this.#ring();
    if (this.#outgoing.length > 0) return false;
    channel.unblock();
    return true;
  }

  #ring(): void {
    this.#socket?.sendBytes(WAKE).catch((error: unknown) => this.#lost(error));
  }

  // ---- receiving ----

  #afterSend(): void {
    if (this.#state !== 'open') return;
    if (this.#channel === undefined) return this.#listen();
    if (this.#spinning || this.#pending.size === 0) return;
    if (spinAllowed()) {
      const start = performance.now();
      do {
        this.#drain();
        if (this.#pending.size === 0) {
          this.#syncSpin = Math.min(SYNC_SPIN_MAX, this.#syncSpin * 1.25);
          return;
        }
      } while (performance.now() - start < this.#syncSpin && this.#state === 'open');
      this.#syncSpin = Math.max(SYNC_SPIN_MIN, this.#syncSpin / 2);
      return this.#startSpin();
    }
    this.#sleep();
  }

  #startSpin(): void {
    if (this.#spinning || this.#state !== 'open') return;
    this.#spinning = true;
    this.#spinStart = performance.now();
    setImmediate(this.#burst);
  }

  // Polls between event-loop turns, then goes to sleep until a doorbell.
  readonly #burst = (): void => {
    if (this.#state !== 'open' || this.#channel === undefined) {
      this.#spinning = false;
      return;
    }
    const start = performance.now();
    let now = start;
    while (spinAllowed() && now - start < BURST && this.#state === 'open') {
      if (this.#outgoing.length > 0) this.#flush();
      if (this.#drain() > 0) this.#spinStart = now;
      if (this.#pending.size === 0 && this.#outgoing.length === 0) {
        this.#spinning = false;
        return;
      }
      now = performance.now();
    }
    if (spinAllowed() && now - this.#spinStart < ASYNC_SPIN && this.#state === 'open') {
      setImmediate(this.#burst);
      return;
    }
    this.#spinning = false;
    this.#sleep();
  };

  /** Raises this side's flag (re-checking the ring after, see channel.ts) and waits for a doorbell. */
  #sleep(): void {
    if (this.#state !== 'open') return;
    this.#rearm();
    this.#listen();
  }

  #rearm(): void {
    const channel = this.#channel!;
    for (;;) {
      channel.sleep();
      const progressed = this.#drain() > 0 || (this.#outgoing.length > 0 && this.#flush());
      if (!progressed || this.#state !== 'open') return;
      channel.wake();
      if (this.#pending.size === 0 && this.#outgoing.length === 0) return;
    }
  }

  /** Takes every reply in the ring; returns how many. */
  #drain(): number {
    const channel = this.#channel!;
    let taken = 0;
    try {
      for (;;) {
        const bytes = channel.reader.peek();
        if (bytes === null) break;
        try {
          this.#onReply(bytes);
        } finally {
          channel.reader.consume();
        }
        taken++;
      }
    } catch (error) {
      this.#lost(error);
      return taken;
    }
    if (taken > 0 && channel.claimPeerBlocked()) this.#ring();
    return taken;
  }

  #onReply(bytes: Uint8Array): void {
    const reply = deserialize(bytes) as [number, Status, unknown];
    if (!Array.isArray(reply) || reply.length !== 3) throw protocolError('a reply is not [id, status, value]');
    const [reqId, status, value] = reply;
    const pending = this.#pending.get(reqId);
    if (pending === undefined) throw protocolError(`a reply to request ${reqId}, which is not outstanding`);
    this.#pending.delete(reqId);
    pending.cleanup?.();
    if (status === Status.Ok) pending.resolve(value);
    else if (status === Status.Error) pending.reject(remoteFailure(value, pending.where));
    else if (status === Status.Proxy) pending.resolve(makeProxy(this, value as ProxyToken));
    else pending.reject(protocolError(`unknown reply status ${String(status)}`));
    if (this.#pending.size === 0) this.#settled();
  }

  #settled(): void {
    if (this.#isIdle()) for (const resolve of this.#idle.splice(0)) resolve();
    // Stop reading the socket (so that an idle connection lets the process exit), unless the
    // next call comes at once, as in `await a(); await b();`.
    if (this.#listenAbort !== undefined && !this.#stopScheduled) {
      this.#stopScheduled = true;
      setImmediate(this.#stopIfIdle);
    }
  }

  readonly #stopIfIdle = (): void => {
    this.#stopScheduled = false;
    if (this.#state !== 'open' || this.#pending.size > 0 || this.#outgoing.length > 0) return;
    this.#channel?.wake();
    this.#listenAbort?.abort();
  };

  #isIdle(): boolean {
    return this.#state === 'done' || (this.#pending.size === 0 && this.#queued.length === 0 && this.#outgoing.length === 0);
  }

  /** Reads the socket while something is outstanding: doorbells (channel) or replies (TCP). */
  #listen(): void {
    if (this.#listening || this.#state !== 'open') return;
    this.#listening = true;
    void this.#listenLoop();
  }

  async #listenLoop(): Promise<void> {
    const socket = this.#socket!;
    try {
      while (this.#state === 'open' && (this.#pending.size > 0 || this.#outgoing.length > 0)) {
        const abort = new AbortController();
        this.#listenAbort = abort;
        let frame: Buffer;
        try {
          frame = await socket.recvBytes(this.#channel === undefined ? null : 1, { signal: abort.signal });
        } catch (error) {
          if (error instanceof AbortError && abort.signal.aborted) continue;
          throw error;
        }
        const channel = this.#channel;
        if (channel === undefined) {
          this.#onReply(frame);
          continue;
        }
        if (frame[0] === Doorbell.Closing) {
          this.#drain();
          this.#finish(new Closed('the manager was shut down'));
          return;
        }
        channel.wake();
        if (this.#outgoing.length > 0) this.#flush();
        this.#drain();
        if (this.#state !== 'open' || (this.#pending.size === 0 && this.#outgoing.length === 0)) continue;
        // The server cleared our flag when it rang: poll again, or raise the flag again.
        if (spinAllowed()) this.#startSpin();
        else if (!this.#spinning) this.#rearm();
      }
    } catch (error) {
      this.#lost(error);
    } finally {
      this.#listening = false;
      this.#listenAbort = undefined;
      if (this.#state === 'open' && (this.#pending.size > 0 || this.#outgoing.length > 0) && !this.#spinning) {
        this.#listen();
      }
    }
  }

  // ---- the end ----

  /** The server's socket ended or broke: the server died (or shut down without a word). */
  #lost(error: unknown): void {
    if (this.#state === 'done') return;
    const gone = error instanceof EOFError || (error as NodeJS.ErrnoException)?.code === 'EPIPE';
    const pid = this.#hello?.pid;
    const message = gone
      ? `the manager's server at ${addressKey(this.address)}${pid ? ` (pid ${pid})` : ''} is gone: its process died or closed the connection`
      : `the connection to the manager at ${addressKey(this.address)} failed: ${(error as Error)?.message ?? String(error)}`;
    this.#finish(new ProcessError(message, { cause: error }));
  }

  #finish(error: Error): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    this.#failure = error;
    this.#queued = [];
    this.#outgoing = [];
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of pending) {
      call.cleanup?.();
      call.reject(this.#error());
    }
    this.#listenAbort?.abort();
    this.#socket?.close();
    this.#channel?.close();
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** A fresh error for a call made after the end (same class and message as the reason). */
  #error(): Error {
    const failure = this.#failure ?? new Closed('the connection to the manager was closed');
    if (failure instanceof Closed) return new Closed(failure.message);
    if (failure instanceof ProcessError) return new ProcessError(failure.message, { cause: failure.cause });
    return failure;
  }
}

function describeVersion(hello: unknown): string {
  return String((hello as { version?: unknown } | null)?.version ?? 'unknown');
}

// ---- one connection per server per process ----

const connections = new Map<string, ClientConnection>();
let exitHookInstalled = false;

/** This process's connection to the server at `address` (a new one when the last one ended). */
export function connectionFor(address: Address): ClientConnection {
  const key = addressKey(address);
  let connection = connections.get(key);
  if (connection === undefined || connection.finished) {
    connection = new ClientConnection(address);
    connections.set(key, connection);
    installExitHook();
  }
  return connection;
}

/** Forgets `connection` (after close), so that the next use of its address opens a new one. */
export function dropConnection(connection: ClientConnection): void {
  const key = addressKey(connection.address);
  if (connections.get(key) === connection) connections.delete(key);
}

// In a child, the target's end waits for manager calls still in flight (API.md section 2).
function installExitHook(): void {
  if (exitHookInstalled) return;
  const runtime = (globalThis as Record<symbol, { exitHooks?: Array<() => unknown> } | undefined>)[
    Symbol.for('multiproc.runtime')
  ];
  if (runtime?.exitHooks === undefined) return;
  exitHookInstalled = true;
  runtime.exitHooks.push(async () => {
    await Promise.all([...connections.values()].map((connection) => connection.idle()));
    for (const connection of connections.values()) connection.close();
  });
}

/** A random token (the starter's right to shut its server down). */
export function shutdownToken(): string {
  return randomUUID();
}
