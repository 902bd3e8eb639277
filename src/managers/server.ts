// The manager server (Python's managers.Server): it listens, authenticates every connection with
// the authkey (both ways, before a byte of it is decoded), holds the referents, and carries out
// calls. It runs in the server process that `BaseManager.start()` spawns (server-main.ts), or in
// the calling process for `serveForever()`.
//
// Only methods in a referent's `exposed` list are ever called. Calls that wait park in the
// server (call.ts) without holding up other calls. While local clients are active the server
// polls their channels between event-loop turns, and sleeps once they have been quiet for a
// while; a doorbell on a client's socket wakes it.
import { loadTarget } from '../child.js';
import type { Connection } from '../connection/connection.js';
import { Listener, type Address } from '../connection/listener.js';
import { AuthenticationError, ProcessError, SerializationError } from '../errors.js';
import { deserialize, serialize } from '../serialize.js';
import { BUILTINS } from './builtins/index.js';
import { CallContext, ClientState, runAs } from './call.js';
import { Op, protocolError, Status, type ProxyTransport, type TypeDescription } from './protocol.js';
import { BaseProxy, setLocalServer } from './proxy.js';
import type { ServerConfig, TypeSpec } from './registry.js';
import { Adopted, Referents, type Referent } from './referents.js';
import { ServerConnection, type ConnectionHost } from './server-connection.js';
import { ChannelPoller } from './poller.js';

/** Concurrent accepts: a peer that stalls its handshake holds up only one of them. */
const ACCEPTORS = 4;

type Callable = (...args: unknown[]) => unknown;

function isClass(fn: Callable): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** A manager server. */
export class ManagerServer implements ConnectionHost {
  readonly maxMessageBytes: number;
  readonly local: boolean;
  readonly ready: Promise<unknown>;
  readonly #config: ServerConfig;
  readonly #types = new Map<string, TypeSpec>();
  readonly #factories = new Map<string, Promise<Callable>>();
  readonly #referents = new Referents();
  readonly #connections = new Set<ServerConnection>();
  readonly #served = new Set<Promise<void>>();
  readonly #adopted = new Adopted();
  readonly #poller = new ChannelPoller(this.#connections, () => this.#state === 'serving');
  readonly #self = new ClientState(0, 'the server', false);
  readonly #transport: ProxyTransport;
  #listener: Listener | undefined;
  #address: Address;
  #state: 'new' | 'serving' | 'closing' | 'closed' = 'new';
  #resolveDone!: () => void;
  /** Settles once the server has shut down. */
  readonly done: Promise<void> = new Promise((resolve) => (this.#resolveDone = resolve));

  /** `ready`: requests wait for it (the server process loads every handle kind meanwhile). */
  constructor(config: ServerConfig, ready: Promise<unknown> = Promise.resolve()) {
    this.#config = config;
    this.ready = ready;
    this.#address = config.address;
    this.maxMessageBytes = config.maxMessageBytes;
    this.local = typeof config.address === 'string';
    for (const spec of config.types) {
      if (spec.builtin !== undefined && !Object.hasOwn(BUILTINS, spec.builtin)) {
        throw new TypeError(`unknown built-in type ${JSON.stringify(spec.builtin)}`);
      }
      this.#types.set(spec.typeid, spec);
    }
    const address = (): Address => this.#address;
    this.#transport = {
      get address() {
        return address();
      },
      call: (id, method, args) => this.#callDirect(id, method, args),
      release: () => {},
      pin: () => {},
    };
  }

  /** The bound address (the real port for `port: 0`). */
  get address(): Address {
    return this.#address;
  }

  /** Binds the address (throws EADDRINUSE and friends at once) and starts accepting. */
  listen(): Address {
    if (this.#state !== 'new') throw new ProcessError('the server is already listening');
    this.#listener = new Listener({ address: this.#config.address, authkey: this.#config.authkey });
    this.#address = this.#listener.address;
    this.#state = 'serving';
    setLocalServer(this.#address, this.#transport);
    for (let i = 0; i < ACCEPTORS; i++) void this.#acceptLoop();
    return this.#address;
  }

  async #acceptLoop(): Promise<void> {
    while (this.#state === 'serving') {
      let socket: Connection;
      try {
        socket = await this.#listener!.accept();
      } catch (error) {
        if (this.#state !== 'serving') return;
        // A peer with the wrong key, or one that hung up mid-handshake: it alone is dropped.
        if (!(error instanceof AuthenticationError)) await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      if (this.#state !== 'serving') {
        socket.close();
        return;
      }
      const connection = new ServerConnection(this, socket);
      this.#connections.add(connection);
      const served = connection.run();
      this.#served.add(served);
      void served.then(() => this.#served.delete(served));
    }
  }

  /** Stops serving: every client is told (its calls reject with Closed) and hung up on. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return this.done;
    this.#state = 'closing';
    this.#listener?.close();
    setLocalServer(this.#address, undefined);
    await Promise.all([...this.#connections].map((connection) => connection.close()));
    // Each connection's end unmaps its channel: done before this process may exit, so that the
    // last side to let go of a channel (maybe the client, maybe us) removes it.
    await Promise.all(this.#served);
    // Shared objects clients handed us (a Lock in a dict) are let go of now, so that the last
    // process to hold one (maybe this one, about to exit) removes it.
    this.#adopted.closeAll();
    this.#referents.clear();
    this.#state = 'closed';
    this.#resolveDone();
  }

  // ---- ConnectionHost ----

  types(): Record<string, TypeDescription> {
    const out: Record<string, TypeDescription> = {};
    for (const spec of this.#types.values()) {
      const builtin = spec.builtin === undefined ? undefined : BUILTINS[spec.builtin]!;
      out[spec.typeid] = { proxytype: builtin?.proxytype ?? 'Auto', exposed: spec.exposed ?? null };
    }
    return out;
  }

  adopt(value: unknown): void {
    this.#adopted.adopt(value);
  }

  forget(connection: ServerConnection): void {
    this.#connections.delete(connection);
    this.#referents.releaseAll(connection.client);
  }

  handle(connection: ServerConnection, request: unknown[]): void {
    const reqId = request[0] as number;
    switch (request[1]) {
      case Op.Call:
        return this.#call(connection, reqId, request[2], request[3], request[4]);
      case Op.Create:
        return this.#create(connection, reqId, request[2], request[3]);
      case Op.Decref:
        return this.#referents.decref(connection.client, request[2]);
      case Op.Pin:
        return this.#referents.pin(request[2]);
      case Op.Cancel:
        connection.client.cancels.get(request[2] as number)?.abort();
        return;
      case Op.Shutdown:
        return this.#shutdownRequest(connection, reqId, request[2]);
      default:
        connection.reply(reqId, Status.Error, protocolError(`unknown operation ${String(request[1])}`));
    }
  }

  // ---- calls ----

  #call(connection: ServerConnection, reqId: number, id: unknown, method: unknown, args: unknown): void {
    const referent = typeof id === 'number' ? this.#referents.get(id) : undefined;
    const failure = this.#check(referent, id, method, args);
    if (failure !== undefined) return connection.reply(reqId, Status.Error, failure);
    const { obj } = referent!;
    const fn = (obj as Record<string, Callable>)[method as string]!;
    // The common case inline, without closures: a method that returns a plain value at once.
    const context = new CallContext(connection.client, reqId);
    let result: unknown;
    try {
      result = runAs(context, fn, obj, args as unknown[]);
    } catch (error) {
      context.done();
      return connection.reply(reqId, Status.Error, error);
    }
    const answer = (value: unknown): [Status, unknown] =>
      this.#result(connection.client, referent!, method as string, value);
    if (isThenable(result)) return this.#settle(connection, reqId, context, result, answer);
    context.done();
    if (referent!.spec.methodToTypeid == null) return this.#answer(connection, reqId, Status.Ok, result);
    this.#answerWith(connection, reqId, () => answer(result));
  }

  #check(referent: Referent | undefined, id: unknown, method: unknown, args: unknown): Error | undefined {
    if (referent === undefined) {
      return new ReferenceError(
        `this manager holds no object #${String(id)}: it was released (every proxy of it was collected and none ` +
          'was ever sent to another process), or the proxy belongs to another server',
      );
    }
    if (typeof method !== 'string' || !referent.exposed.has(method)) {
      return new TypeError(
        `${referent.spec.typeid} does not expose ${typeof method === 'string' ? JSON.stringify(method) : 'that method'} ` +
          `(exposed: ${referent.exposedList.join(', ') || 'nothing'})`,
      );
    }
    if (typeof (referent.obj as Record<string, unknown>)[method] !== 'function') {
      return new TypeError(`${referent.spec.typeid}.${method} is not a function`);
    }
    if (!Array.isArray(args)) return protocolError('call arguments are not an array');
    return undefined;
  }

  /** Runs a call as `connection`'s client and replies once it settled (synchronously when it can). */
  #invoke(
    connection: ServerConnection,
    reqId: number,
    run: () => unknown,
    answer: (value: unknown) => [Status, unknown],
  ): void {
    const context = new CallContext(connection.client, reqId);
    let result: unknown;
    try {
      result = runAs(context, run, undefined, []);
    } catch (error) {
      context.done();
      return connection.reply(reqId, Status.Error, error);
    }
    if (isThenable(result)) return this.#settle(connection, reqId, context, result, answer);
    context.done();
    this.#answerWith(connection, reqId, () => answer(result));
  }

  #settle(
    connection: ServerConnection,
    reqId: number,
    context: CallContext,
    result: PromiseLike<unknown>,
    answer: (value: unknown) => [Status, unknown],
  ): void {
    result.then(
      (value) => {
        context.done();
        this.#answerWith(connection, reqId, () => answer(value));
        if (connection.channel !== undefined) this.kick();
      },
      (error: unknown) => {
        context.done();
        connection.reply(reqId, Status.Error, error);
        if (connection.channel !== undefined) this.kick();
      },
    );
  }

  #answerWith(connection: ServerConnection, reqId: number, answer: () => [Status, unknown]): void {
    let status: Status;
    let value: unknown;
    try {
      [status, value] = answer();
    } catch (error) {
      return connection.reply(reqId, Status.Error, error);
    }
    this.#answer(connection, reqId, status, value);
  }

  #answer(connection: ServerConnection, reqId: number, status: Status, value: unknown): void {
    try {
      connection.reply(reqId, status, value);
    } catch (error) {
      // The result cannot travel (a function, a class instance that is not registered...).
      const failure =
        error instanceof SerializationError ? new SerializationError(`the result ${error.message}`, error.path) : error;
      connection.reply(reqId, Status.Error, failure);
    }
  }

  #result(client: ClientState, referent: Referent, method: string, value: unknown): [Status, unknown] {
    const typeid = referent.spec.methodToTypeid?.[method];
    if (typeid === undefined) return [Status.Ok, value];
    const spec = this.#types.get(typeid);
    if (spec === undefined)
      throw new TypeError(`methodToTypeid names ${JSON.stringify(typeid)}, which is not registered`);
    return [Status.Proxy, this.#referents.register(spec, value, client)];
  }

  #create(connection: ServerConnection, reqId: number, typeid: unknown, args: unknown): void {
    const spec = typeof typeid === 'string' ? this.#types.get(typeid) : undefined;
    if (spec === undefined) {
      const known = [...this.#types.keys()].join(', ') || 'none';
      return connection.reply(
        reqId,
        Status.Error,
        new TypeError(`this manager has no type ${JSON.stringify(typeid)} (registered: ${known})`),
      );
    }
    if (!Array.isArray(args))
      return connection.reply(reqId, Status.Error, protocolError('create arguments are not an array'));
    const client = connection.client;
    this.#invoke(
      connection,
      reqId,
      () => this.#make(spec, args, client),
      (obj) => [Status.Proxy, this.#referents.register(spec, obj, client)],
    );
  }

  #make(spec: TypeSpec, args: unknown[], client: ClientState): unknown {
    if (spec.builtin !== undefined)
      return BUILTINS[spec.builtin]!.make(args, client, (value) => this.#referentOf(value));
    return this.#factory(spec).then((fn) =>
      isClass(fn) ? new (fn as unknown as new (...a: unknown[]) => unknown)(...args) : fn(...args),
    );
  }

  #factory(spec: TypeSpec): Promise<Callable> {
    let factory = this.#factories.get(spec.typeid);
    if (factory === undefined) {
      if (spec.target === undefined) {
        return Promise.reject(
          new TypeError(`${spec.typeid} was registered without a target in the server: it cannot be made here`),
        );
      }
      factory = loadTarget(spec.target) as Promise<Callable>;
      this.#factories.set(spec.typeid, factory);
    }
    return factory;
  }

  /** An in-server proxy (a proxy of this server revived here) as the object it stands for. */
  #referentOf(value: unknown): unknown {
    if (!(value instanceof BaseProxy) || BaseProxy.stateOf(value).transport !== this.#transport) {
      throw new TypeError('expected a proxy made by this manager');
    }
    const referent = this.#referents.get(BaseProxy.stateOf(value).id);
    if (referent === undefined) throw new ReferenceError('the proxy refers to an object this manager released');
    return referent.obj;
  }

  /** A call made by an in-server proxy: as a client's, but the result is copied as it would travel. */
  #callDirect(id: number, method: string, args: unknown[]): Promise<unknown> {
    const referent = this.#referents.get(id);
    const failure = this.#check(referent, id, method, args);
    if (failure !== undefined) return Promise.reject(failure);
    const context = new CallContext(this.#self, 0);
    try {
      const obj = referent!.obj as Record<string, Callable>;
      const result = runAs(context, obj[method]!, obj, deserialize(serialize(args)) as unknown[]);
      return Promise.resolve(result).then((value) => deserialize(serialize(value)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #shutdownRequest(connection: ServerConnection, reqId: number, token: unknown): void {
    if (this.#config.shutdownToken === null || token !== this.#config.shutdownToken) {
      return connection.reply(
        reqId,
        Status.Error,
        new ProcessError('only the process that started this manager can shut it down'),
      );
    }
    connection.reply(reqId, Status.Ok, null);
    void this.shutdown();
  }

  // ---- polling the channels (poller.ts) ----

  kick(): void {
    this.#poller.kick();
  }

  wakeAll(): void {
    this.#poller.wakeAll();
  }
}
