// A process's connection to one manager server, shared by every proxy of that server in the
// process (Python keeps one per thread; a Node process runs its calls on one thread). It is
// opened at the first call, authenticates with the authkey (connection/auth.ts), says Hello,
// and then carries calls in order: over the shared-memory channel for a local server
// (channel.ts), as socket frames for a TCP one.
//
// Over the channel, how the caller waits for a reply (poll, then sleep) is client-channel.ts's.
//
// The socket is read only while calls are outstanding, so an idle connection does not keep the
// process alive; a dead server is found at the next call (the socket reports its end), which
// then rejects with ProcessError instead of hanging.
import type { Connection } from '../connection/connection.js';
import { Client, type Address } from '../connection/listener.js';
import { AbortError, AuthenticationError, Closed, EOFError, ProcessError, SerializationError } from '../errors.js';
import { ownerToken } from '../liveness.js';
import { deserialize, handlesWritten, serialize, serializeWith } from '../serialize.js';
import { ChannelEnd } from './channel.js';
import { ClientChannel, type ChannelOwner } from './client-channel.js';
import { ringDoorbell } from './doorbell.js';
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
  type HelloRequest,
  type ProxyToken,
  type ProxyTransport,
} from './protocol.js';

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
  #channel: ClientChannel | undefined;
  #hello: HelloReply | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 2; // 1 is the Hello
  /** Requests made before the connection opened, encoded, in order. */
  #queued: Buffer[] = [];
  #listening = false;
  #listenAbort: AbortController | undefined;
  #stopScheduled = false;
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
    const request: HelloRequest = { version: PROTOCOL_VERSION, channel: !this.#network };
    await socket.sendBytes(serialize([1, Op.Hello, this.#network ? request : { ...request, owner: ownerToken() }]));
    const reply = deserialize(await socket.recvBytes(null, { timeout: HELLO_TIMEOUT_MS })) as unknown[];
    if (!Array.isArray(reply) || reply[0] !== 1) throw protocolError('a bad Hello reply');
    if (reply[1] === Status.Error) throw remoteFailure(reply[2], 'manager Hello');
    const hello = reply[2] as HelloReply;
    if (typeof hello !== 'object' || hello === null || hello.version !== PROTOCOL_VERSION) {
      throw protocolError(`the server speaks version ${describeVersion(hello)}, this process ${PROTOCOL_VERSION}`);
    }
    this.#hello = hello;
    if ((this.#state as State) === 'done') throw this.#error();
    if (typeof hello.channel === 'string') {
      this.#channel = new ClientChannel(ChannelEnd.open(hello.channel, Number.MAX_SAFE_INTEGER), this.#channelOwner);
    }
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
    this.#nextId = reqId >= 0x7ffffffe ? 2 : reqId + 1;
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
    if (this.#channel !== undefined && !this.#channel.backlogged) {
      serializeWith(message, this.#writeChecked, 'args');
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
      throw new RangeError(
        `a manager call is limited to ${limit} bytes by its server (this one is ${bytes.byteLength})`,
      );
    }
    return bytes;
  }

  readonly #writeChecked = (bytes: Uint8Array): void => this.#writeBytes(this.#checkSize(bytes));

  /** Writes one encoded request (bytes valid during the call only). */
  #writeBytes(bytes: Uint8Array): void {
    if (this.#channel !== undefined) return this.#channel.write(bytes);
    this.#socket!.sendBytes(bytes).catch((error: unknown) => this.#lost(error));
  }

  #ring(): void {
    ringDoorbell(this.#socket!, (error) => this.#lost(error));
  }

  readonly #channelOwner: ChannelOwner = ((connection: ClientConnection) => ({
    get open() {
      return connection.#state === 'open';
    },
    get waiting() {
      return connection.#pending.size > 0;
    },
    onReply: (bytes) => connection.#onReply(bytes),
    ring: () => connection.#ring(),
    listen: () => connection.#listen(),
    lost: (error) => connection.#lost(error),
  }))(this);

  // ---- receiving ----

  #afterSend(): void {
    if (this.#state !== 'open') return;
    if (this.#channel === undefined) return this.#listen();
    this.#channel.afterSend();
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
    if (this.#state !== 'open' || this.#outstanding()) return;
    this.#channel?.idle();
    this.#listenAbort?.abort();
  };

  /** Calls wait for replies, or requests for room in the ring. */
  #outstanding(): boolean {
    return this.#pending.size > 0 || this.#channel?.backlogged === true;
  }

  #isIdle(): boolean {
    return this.#state === 'done' || (!this.#outstanding() && this.#queued.length === 0);
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
      while (this.#state === 'open' && this.#outstanding()) {
        // One controller until it fires (it is what lets an idle connection stop reading).
        if (this.#listenAbort === undefined || this.#listenAbort.signal.aborted)
          this.#listenAbort = new AbortController();
        const abort = this.#listenAbort;
        let frame: Buffer;
        try {
          frame = await socket.recvBytes(this.#channel === undefined ? null : 1, { signal: abort.signal });
        } catch (error) {
          if (error instanceof AbortError && abort.signal.aborted) continue;
          throw error;
        }
        const channel = this.#channel;
        if (frame.length === 1 && frame[0] === Doorbell.Closing) {
          channel?.drain();
          this.#finish(new Closed('the manager was shut down'));
          return;
        }
        if (channel === undefined) this.#onReply(frame);
        else channel.onDoorbell();
      }
    } catch (error) {
      this.#lost(error);
    } finally {
      this.#listening = false;
      this.#listenAbort = undefined;
      if (this.#state === 'open' && this.#outstanding()) this.#listen();
    }
  }

  // ---- the end ----

  /** The server's socket ended or broke: the server died (or shut down without a word). */
  #lost(error: unknown): void {
    if (this.#state === 'done') return;
    const code = (error as NodeJS.ErrnoException)?.code;
    const gone = error instanceof EOFError || code === 'EPIPE' || code === 'ECONNRESET' || code === 'ENOTCONN';
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
