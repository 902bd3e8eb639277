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
import { Listener, type Address, type Connection } from '../connection/index.js';
import { AuthenticationError, ProcessError, SerializationError } from '../errors.js';
import { deserialize, serialize } from '../serialize.js';
import { BUILTINS } from './builtins/index.js';
import { CallContext, ClientState, runAs } from './call.js';
import { Op, protocolError, Status, type ProxyToken, type ProxyTransport, type TypeDescription } from './protocol.js';
import { BaseProxy, setLocalServer } from './proxy.js';
import { publicMethods, type ServerConfig, type TypeSpec } from './registry.js';
import { ServerConnection, type ConnectionHost } from './server-connection.js';
import { spinAllowed } from './spin.js';

/** Concurrent accepts: a peer that stalls its handshake holds up only one of them. */
const ACCEPTORS = 4;
/** Poll the channels in bursts of this long (ms), and for this long after the last request. */
const BURST = 0.02;
const SPIN = 0.1;

interface Referent {
  readonly id: number;
  readonly spec: TypeSpec;
  readonly obj: unknown;
  readonly exposed: ReadonlySet<string>;
  readonly exposedList: readonly string[];
  readonly proxytype: string;
  /** Holds of client connections (proxy objects that own one). */
  holds: number;
  /** A proxy of it was serialized: it lives until shutdown. */
  pinned: boolean;
}

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
  readonly #config: ServerConfig;
  readonly #types = new Map<string, TypeSpec>();
  readonly #factories = new Map<string, Promise<Callable>>();
  readonly #referents = new Map<number, Referent>();
  readonly #ids = new Map<unknown, number>();
  readonly #connections = new Set<ServerConnection>();
  readonly #self = new ClientState(0, 'the server', false);
  readonly #transport: ProxyTransport;
  #nextId = 1;
  #listener: Listener | undefined;
  #address: Address;
  #state: 'new' | 'serving' | 'closing' | 'closed' = 'new';
  #spinning = false;
  #lastWork = 0;
  #resolveDone!: () => void;
  /** Settles once the server has shut down. */
  readonly done: Promise<void> = new Promise((resolve) => (this.#resolveDone = resolve));

  constructor(config: ServerConfig) {
    this.#config = config;
    this.#address = config.address;
    this.maxMessageBytes = config.maxMessageBytes;
    this.local = typeof config.address === 'string';
    for (const spec of config.types) {
      if (spec.builtin !== undefined && !Object.hasOwn(BUILTINS, spec.builtin)) {
        throw new TypeError(`unknown built-in type ${JSON.stringify(spec.builtin)}`);
      }
      this.#types.set(spec.typeid, spec);
    }
    const server = this;
    this.#transport = {
      get address() {
        return server.#address;
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
      void connection.run();
    }
  }

  /** Stops serving: every client is told (its calls reject with Closed) and hung up on. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return this.done;
    this.#state = 'closing';
    this.#listener?.close();
    setLocalServer(this.#address, undefined);
    await Promise.all([...this.#connections].map((connection) => connection.close()));
    this.#referents.clear();
    this.#ids.clear();
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

  forget(connection: ServerConnection): void {
    this.#connections.delete(connection);
    for (const [id, count] of connection.client.holds) {
      const referent = this.#referents.get(id);
      if (referent === undefined) continue;
      referent.holds -= count;
      this.#maybeFree(referent);
    }
    connection.client.holds.clear();
  }

  handle(connection: ServerConnection, request: unknown[]): void {
    const reqId = request[0] as number;
    switch (request[1]) {
      case Op.Call:
        return this.#call(connection, reqId, request[2], request[3], request[4]);
      case Op.Create:
        return this.#create(connection, reqId, request[2], request[3]);
      case Op.Decref:
        return this.#decref(connection.client, request[2]);
      case Op.Pin: {
        const referent = this.#referents.get(request[2] as number);
        if (referent !== undefined) referent.pinned = true;
        return;
      }
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
    this.#invoke(connection, reqId, () => fn.apply(obj, args as unknown[]), (value) =>
      this.#result(connection.client, referent!, method as string, value),
    );
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
      result = runAs(context, run);
    } catch (error) {
      context.done();
      return connection.reply(reqId, Status.Error, error);
    }
    if (!isThenable(result)) {
      context.done();
      return this.#answer(connection, reqId, () => answer(result));
    }
    result.then(
      (value) => {
        context.done();
        this.#answer(connection, reqId, () => answer(value));
        if (connection.channel !== undefined) this.kick();
      },
      (error: unknown) => {
        context.done();
        connection.reply(reqId, Status.Error, error);
        if (connection.channel !== undefined) this.kick();
      },
    );
  }

  #answer(connection: ServerConnection, reqId: number, answer: () => [Status, unknown]): void {
    try {
      const [status, value] = answer();
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
    if (spec === undefined) throw new TypeError(`methodToTypeid names ${JSON.stringify(typeid)}, which is not registered`);
    return [Status.Proxy, this.#register(spec, value, client)];
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
    if (!Array.isArray(args)) return connection.reply(reqId, Status.Error, protocolError('create arguments are not an array'));
    const client = connection.client;
    this.#invoke(
      connection,
      reqId,
      () => this.#make(spec, args, client),
      (obj) => [Status.Proxy, this.#register(spec, obj, client)],
    );
  }

  #make(spec: TypeSpec, args: unknown[], client: ClientState): unknown {
    if (spec.builtin !== undefined) return BUILTINS[spec.builtin]!.make(args, client, (value) => this.#referentOf(value));
    return this.#factory(spec).then((fn) => (isClass(fn) ? new (fn as unknown as new (...a: unknown[]) => unknown)(...args) : fn(...args)));
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

  /** Makes `obj` a referent (the same object keeps its id) and gives `client` a hold on it. */
  #register(spec: TypeSpec, obj: unknown, client: ClientState): ProxyToken {
    const known = (typeof obj === 'object' && obj !== null) || typeof obj === 'function' ? this.#ids.get(obj) : undefined;
    let referent = known === undefined ? undefined : this.#referents.get(known);
    if (referent === undefined) {
      const builtin = spec.builtin === undefined ? undefined : BUILTINS[spec.builtin]!;
      const exposedList = builtin?.exposed ?? spec.exposed ?? publicMethods(obj);
      referent = {
        id: this.#nextId++,
        spec,
        obj,
        exposed: new Set(exposedList),
        exposedList,
        proxytype: builtin?.proxytype ?? 'Auto',
        holds: 0,
        pinned: false,
      };
      this.#referents.set(referent.id, referent);
      if (known === undefined && ((typeof obj === 'object' && obj !== null) || typeof obj === 'function')) {
        this.#ids.set(obj, referent.id);
      }
    }
    referent.holds++;
    client.holds.set(referent.id, (client.holds.get(referent.id) ?? 0) + 1);
    const { id, proxytype } = referent;
    return { typeid: referent.spec.typeid, id, proxytype, exposed: proxytype === 'Auto' ? referent.exposedList : null };
  }

  #decref(client: ClientState, id: unknown): void {
    const count = client.holds.get(id as number);
    if (count === undefined) return;
    if (count <= 1) client.holds.delete(id as number);
    else client.holds.set(id as number, count - 1);
    const referent = this.#referents.get(id as number);
    if (referent === undefined) return;
    referent.holds--;
    this.#maybeFree(referent);
  }

  #maybeFree(referent: Referent): void {
    if (referent.pinned || referent.holds > 0) return;
    this.#referents.delete(referent.id);
    if (this.#ids.get(referent.obj) === referent.id) this.#ids.delete(referent.obj);
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
      const result = runAs(context, () => obj[method]!.apply(obj, deserialize(serialize(args)) as unknown[]));
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

  // ---- polling the channels ----

  /** Local clients are active: poll their channels for a while (or sleep, see spin.ts). */
  kick(): void {
    if (this.#spinning || this.#state !== 'serving') return;
    if (!spinAllowed()) return this.#sleep();
    this.#spinning = true;
    this.#lastWork = performance.now();
    setImmediate(this.#burst);
  }

  /** Raises every channel's flag, then looks once more (channel.ts); work found: a new turn. */
  #sleep(): void {
    for (const connection of this.#connections) connection.channel?.sleep();
    if (this.#pumpAll() === 0) return;
    for (const connection of this.#connections) connection.channel?.wake();
    setImmediate(() => this.wakeAll());
  }

  wakeAll(): void {
    for (const connection of this.#connections) connection.channel?.wake();
    if (this.#pumpAll() > 0) this.#lastWork = performance.now();
    this.kick();
  }

  #pumpAll(): number {
    let taken = 0;
    for (const connection of this.#connections) taken += connection.pump();
    return taken;
  }

  readonly #burst = (): void => {
    if (this.#state !== 'serving') {
      this.#spinning = false;
      return;
    }
    const start = performance.now();
    let now = start;
    while (now - start < BURST && spinAllowed()) {
      if (this.#pumpAll() > 0) this.#lastWork = performance.now();
      now = performance.now();
    }
    if (now - this.#lastWork < SPIN && spinAllowed()) {
      setImmediate(this.#burst);
      return;
    }
    this.#spinning = false;
    this.#sleep();
  };
}
