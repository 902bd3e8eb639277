// The manager protocol: what a client and a server say to each other once the socket has passed
// Python's HMAC challenge (connection/auth.ts). Every message is one value of the library's
// serializer (serialize.ts); a request is a small array, so the common call costs one encode and
// one decode on each side.
//
//   request   [reqId, op, ...]          reqId 0: no reply wanted (decref, pin, cancel)
//     Hello     [reqId, Op.Hello, { version, channel }]     the first message, always on the socket
//     Call      [reqId, Op.Call, referentId, method, args]
//     Create    [reqId, Op.Create, typeid, args]
//     Decref    [0, Op.Decref, referentId]      a proxy object of this process was collected
//     Pin       [0, Op.Pin, referentId]         a proxy left this process: keep the referent
//     Cancel    [0, Op.Cancel, reqId]           the caller's AbortSignal fired
//     Shutdown  [reqId, Op.Shutdown, token]     only the starter knows the token
//   reply     [reqId, Status, value]
//     Ok: the result; Error: the thrown value (an Error travels with name, message, stack);
//     Proxy: { typeid, id, proxytype, exposed } (a new referent: create, methodToTypeid)
//
// Transports: a TCP client sends these as frames on the socket. A local (Unix-socket) client
// gets a shared-memory channel (channel.ts) in its Hello reply; from then on every request and
// reply goes through the channel's rings, and the socket carries only one-byte doorbells
// (Doorbell.Wake) and the server's last word (Doorbell.Closing), and tells each side when the
// other has gone.
import type { Address } from '../connection/index.js';
import {
  AbortError,
  AuthenticationError,
  BrokenBarrierError,
  BufferTooShort,
  Closed,
  CorruptionError,
  Empty,
  EOFError,
  Full,
  ProcessError,
  RemoteError,
  SerializationError,
  ShutDown,
  TargetError,
  TimeoutError,
} from '../errors.js';

/** Bumped whenever a message changes shape; a client and server of different versions refuse each other. */
export const PROTOCOL_VERSION = 1;

export const enum Op {
  Hello = 1,
  Call = 2,
  Create = 3,
  Decref = 4,
  Pin = 5,
  Cancel = 6,
  Shutdown = 7,
}

export const enum Status {
  Ok = 0,
  Error = 1,
  Proxy = 2,
}

/** One-byte frames on the socket of a connection that has a channel. */
export const enum Doorbell {
  /** "Look at the channel": data for you, or room for what you are waiting to write. */
  Wake = 0x44,
  /** Server to client: the manager is shutting down; nothing more will be answered. */
  Closing = 0x53,
}

/** The largest request or reply a server accepts by default (64 MiB); see BaseManagerOptions. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** How deeply a value sent by a network peer may nest before it is refused unread. */
export const MAX_NETWORK_DEPTH = 64;
/** The Hello request is small: anything bigger before it is refused. */
export const HELLO_MAX_BYTES = 4096;
/** How long a connected peer may take to say Hello. */
export const HELLO_TIMEOUT_MS = 20_000;

/** What the client says first. */
export interface HelloRequest {
  readonly version: number;
  /** True when the client can map a shared-memory channel (it connected over a Unix socket). */
  readonly channel: boolean;
  /**
   * The client thread's liveness token (liveness.ts), local clients only: the server asks the
   * kernel whether it still runs before it hands a parked call what it waited for, because the
   * close of a dead client's socket may reach the server after another client's next call.
   */
  readonly owner?: number;
}

/** How the server describes a type it can make, so that a client that only connected can use it. */
export interface TypeDescription {
  readonly proxytype: string;
  readonly exposed: readonly string[] | null;
}

/** The server's answer to Hello. */
export interface HelloReply {
  readonly version: number;
  readonly pid: number;
  /** The segment name of the channel, or null: stay on the socket. */
  readonly channel: string | null;
  readonly maxMessageBytes: number;
  readonly types: Readonly<Record<string, TypeDescription>>;
}

/** A new referent, as a Create or a methodToTypeid call returns it. */
export interface ProxyToken {
  readonly typeid: string;
  readonly id: number;
  readonly proxytype: string;
  readonly exposed: readonly string[] | null;
}

// ---- errors across the wire ----

type Rebuild = new (message: string) => Error;
// The library's own errors come back as themselves (instanceof Empty, code 'ERR_MP_EMPTY').
const OWN_ERRORS: Record<string, Rebuild> = {
  AbortError,
  AuthenticationError,
  BrokenBarrierError,
  BufferTooShort,
  Closed,
  CorruptionError,
  Empty,
  EOFError,
  Full,
  ProcessError,
  ShutDown,
  TargetError,
  TimeoutError,
};

/**
 * Turns what a server threw into the error the caller sees: the same class (for the library's
 * own and JavaScript's built-in errors), name, message and own properties, with the server's
 * stack kept as a RemoteError in `cause`.
 */
export function remoteFailure(thrown: unknown, where: string): Error {
  const remote =
    thrown instanceof Error
      ? thrown
      : Object.assign(new Error(typeof thrown === 'string' ? thrown : 'a non-Error value was thrown'), {
          value: thrown,
        });
  const name = String(remote.name);
  const message = String(remote.message);
  const Rebuilt = Object.hasOwn(OWN_ERRORS, name) ? OWN_ERRORS[name]! : undefined;
  const error =
    Rebuilt !== undefined
      ? new Rebuilt(message)
      : name === 'SerializationError'
        ? new SerializationError(message, String((remote as { path?: unknown }).path ?? 'value'))
        : remote;
  if (error !== remote) {
    for (const key of Object.keys(remote)) {
      if (key !== 'code')
        (error as unknown as Record<string, unknown>)[key] = (remote as unknown as Record<string, unknown>)[key];
    }
  }
  const cause = new RemoteError({ name, message, stack: typeof remote.stack === 'string' ? remote.stack : undefined });
  if (Object.hasOwn(remote, 'cause')) {
    Object.defineProperty(cause, 'cause', { value: remote.cause, writable: true, configurable: true });
  }
  Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true });
  Object.defineProperty(error, 'stack', {
    value: `${name}: ${message}\n    at ${where} (multiproc manager call; the server's stack is in cause)`,
    writable: true,
    configurable: true,
  });
  return error;
}

/** A protocol violation by the peer: the connection is dropped. */
export function protocolError(why: string): CorruptionError {
  return new CorruptionError(`manager protocol error: ${why}`);
}

/** How a proxy reaches its referent: a client connection, or the server itself (in-server proxies). */
export interface ProxyTransport {
  /** The server's address, as this process reaches it. */
  readonly address: Address;
  /**
   * Calls `method` of referent `id`. Resolves with the result (a new proxy for a methodToTypeid
   * method); rejects with the remote error (see remoteFailure), Closed after shutdown or close,
   * ProcessError when the server died. Never throws synchronously.
   */
  call(id: number, method: string, args: unknown[], where: string, signal?: AbortSignal): Promise<unknown>;
  /** A proxy object of this process for `id` was collected: its hold on the referent goes. */
  release(id: number): void;
  /** A proxy for `id` is leaving this process (serialized): the referent must outlive its holders. */
  pin(id: number): void;
}
