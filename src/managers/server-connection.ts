// The server's side of one client connection: the Hello, then requests in and replies out, over
// the client's shared-memory channel (a local client) or as socket frames (a TCP client).
//
// A client that goes away (its socket ends: exit, crash, SIGKILL) is cleaned up here: requests it
// had already published in its ring are still carried out (an exiting child's last calls count),
// a half-written one is dropped, then everything it held is given back (ClientState.drop).
import type { Connection } from '../connection/index.js';
import { deserialize, serialize, serializeWith } from '../serialize.js';
import { T_HANDLE } from '../serialize-format.js';
import { ClientState } from './call.js';
import { ChannelEnd } from './channel.js';
import { withoutKeys } from './keys.js';
import {
  Doorbell,
  HELLO_MAX_BYTES,
  HELLO_TIMEOUT_MS,
  MAX_NETWORK_DEPTH,
  Op,
  PROTOCOL_VERSION,
  protocolError,
  Status,
  type HelloReply,
  type TypeDescription,
} from './protocol.js';
import { checkNetworkMessage, holdsHandle } from '../connection/wire-guard.js';
import { ringDoorbell } from './doorbell.js';

const CLOSING = Buffer.from([Doorbell.Closing]);
/** Requests taken from one ring before the others get their turn. */
const BATCH = 64;

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly maxMessageBytes: number;
  readonly local: boolean;
  /** Settles once every kind of handle can be revived (requests are decoded after it). */
  readonly ready: Promise<unknown>;
  types(): Record<string, TypeDescription>;
  /** A request revived live handles (a Lock put in a dict): the server closes them at shutdown. */
  adopt(value: unknown): void;
  /** Carries out one decoded request. */
  handle(connection: ServerConnection, request: unknown[]): void;
  /** A channel connection has work: spin for a while. */
  kick(): void;
  /** A doorbell came in: every channel may have work. */
  wakeAll(): void;
  forget(connection: ServerConnection): void;
}

let nextClientId = 1;

export class ServerConnection {
  readonly client: ClientState;
  readonly #host: ConnectionHost;
  readonly #socket: Connection;
  #channel: ChannelEnd | undefined;
  #outgoing: { bytes: Buffer; offset: number }[] = [];
  /** The client has gone: replies go nowhere. */
  #gone = false;

  constructor(host: ConnectionHost, socket: Connection) {
    this.#host = host;
    this.#socket = socket;
    const id = nextClientId++;
    this.client = new ClientState(id, `client ${id}`, !host.local);
  }

  get channel(): ChannelEnd | undefined {
    return this.#channel;
  }

  /** Serves the connection until it ends; never rejects. */
  async run(): Promise<void> {
    try {
      await this.#hello();
      await this.#host.ready;
      const limit = this.#channel === undefined ? this.#host.maxMessageBytes : 1;
      for (;;) {
        const frame = await this.#socket.recvBytes(limit);
        if (this.#channel !== undefined) this.#host.wakeAll();
        else this.#decodeAndHandle(frame);
      }
    } catch {
      // The peer left (EOFError), broke the protocol or the size limit: it is dropped below.
    } finally {
      this.#end();
    }
  }

  async #hello(): Promise<void> {
    const bytes = await this.#socket.recvBytes(HELLO_MAX_BYTES, { timeout: HELLO_TIMEOUT_MS });
    const request = this.#decode(bytes);
    const hello = request[2] as { version?: unknown; channel?: unknown; owner?: unknown } | undefined;
    if (request[1] !== Op.Hello || typeof hello !== 'object' || hello === null) throw protocolError('no Hello');
    if (hello.version !== PROTOCOL_VERSION) {
      await this.#socket.sendBytes(
        serialize([request[0], Status.Error, protocolError(`this server speaks version ${PROTOCOL_VERSION}`)]),
      );
      throw protocolError('version mismatch');
    }
    const owner = hello.owner;
    if (this.#host.local && typeof owner === 'number' && Number.isInteger(owner) && owner > 0 && owner <= 0xffffffff) {
      this.client.owner = owner;
    }
    let channel: ChannelEnd | undefined;
    if (hello.channel === true && this.#host.local) {
      try {
        channel = ChannelEnd.create(this.#host.maxMessageBytes);
      } catch {
        channel = undefined; // /dev/shm full: the socket carries the calls instead
      }
    }
    const reply: HelloReply = {
      version: PROTOCOL_VERSION,
      pid: process.pid,
      channel: channel?.segment.segmentName ?? null,
      maxMessageBytes: this.#host.maxMessageBytes,
      types: this.#host.types(),
    };
    try {
      await this.#socket.sendBytes(serialize([request[0], Status.Ok, reply]));
    } catch (error) {
      channel?.close();
      throw error;
    }
    this.#channel = channel;
    if (channel !== undefined) this.#host.kick();
  }

  /** Decodes a request; a network peer's bytes are checked first (no handles, bounded nesting). */
  #decode(bytes: Uint8Array): unknown[] {
    if (this.client.network) checkNetworkMessage(bytes, MAX_NETWORK_DEPTH);
    const request = deserialize(bytes);
    // memchr first: most requests hold no handle, and the walk is only for those that may.
    if (!this.client.network && bytes.indexOf(T_HANDLE) >= 0 && holdsHandle(bytes)) this.#host.adopt(request);
    if (
      !Array.isArray(request) ||
      request.length < 3 ||
      !Number.isInteger(request[0]) ||
      !Number.isInteger(request[1])
    ) {
      throw protocolError('a request is not [id, op, ...]');
    }
    return request;
  }

  #decodeAndHandle(bytes: Uint8Array): void {
    this.#host.handle(this, this.#decode(bytes));
  }

  /** Takes up to BATCH requests from the channel; returns how many. Drops the client on corruption. */
  pump(): number {
    const channel = this.#channel;
    if (channel === undefined) return 0;
    if (this.#outgoing.length > 0) this.#flush();
    let taken = 0;
    try {
      for (; taken < BATCH; taken++) {
        const bytes = channel.reader.peek();
        if (bytes === null) break;
        try {
          this.#decodeAndHandle(bytes);
        } finally {
          channel.reader.consume();
        }
      }
    } catch {
      this.#socket.close(); // corrupt ring or protocol violation: run() ends and cleans up
      return taken;
    }
    if (taken > 0 && channel.claimPeerBlocked()) this.#ring();
    return taken;
  }

  /** Sends a reply (dropped silently once the client is gone). */
  reply(reqId: number, status: Status, value: unknown): void {
    if (this.#gone || reqId === 0 || this.#socket.closed) return;
    const message = [reqId, status, value];
    const channel = this.#channel;
    if (channel === undefined) {
      const bytes = this.client.network ? withoutKeys(() => serialize(message)) : serialize(message);
      this.#socket.sendBytes(bytes).catch(() => this.#socket.close());
      return;
    }
    if (this.#outgoing.length > 0) {
      this.#outgoing.push({ bytes: Buffer.from(serialize(message)), offset: 0 });
      return;
    }
    serializeWith(message, (bytes) => {
      const written = channel.writer.write(bytes);
      if (written > 0 && channel.claimPeerSleeping()) this.#ring();
      if (written < bytes.byteLength) {
        this.#outgoing.push({ bytes: Buffer.from(bytes), offset: written });
        channel.block();
        this.#flush();
      }
    });
  }

  #flush(): void {
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
    if (this.#outgoing.length === 0) channel.unblock();
  }

  #ring(): void {
    ringDoorbell(this.#socket, () => this.#socket.close());
  }

  /** The server is shutting down: tell the client (so its calls reject with Closed), then hang up. */
  async close(): Promise<void> {
    // A one-byte frame: never a reply, which is at least two bytes (format version, value).
    const last = this.#socket.sendBytes(CLOSING).catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([last, new Promise((resolve) => (timer = setTimeout(resolve, 200)))]);
    clearTimeout(timer);
    this.#socket.close();
  }

  #end(): void {
    if (this.#gone) return;
    this.#gone = true;
    // What the client published before it went is still carried out; then what it held goes back.
    // Bounded: a peer that closed its socket but keeps writing cannot keep us here.
    if (this.#channel !== undefined) for (let batch = 0; batch < 64 && this.pump() > 0; batch++);
    this.client.drop();
    this.#host.forget(this);
    this.#socket.close();
    this.#channel?.close();
    this.#channel = undefined;
  }
}
