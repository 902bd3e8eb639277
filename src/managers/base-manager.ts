// BaseManager (Python's multiprocessing.managers.BaseManager): a registry of types, and the three
// ways to use a server: start() one in a new process, connect() to one that runs elsewhere (on
// another machine too), or serveForever() in this process.
import { randomBytes } from 'node:crypto';
import { lstatSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { distPath } from '../binding.js';
import { authkeyOf } from '../connection/auth.js';
import type { Address } from '../connection/index.js';
import { socketDirectory } from '../connection/listener.js';
import { Closed, ProcessError } from '../errors.js';
import { Process } from '../process.js';
import { prepareTarget, type Target } from '../target.js';
import { checkInteger, checkOptionsBag, describe, randomToken, type WaitOptions } from '../util.js';
import type { ClientConnection } from './client.js';
import { connectionFor, dropConnection, shutdownToken } from './connections.js';
import { rememberKey, keyFor } from './keys.js';
import { DEFAULT_MAX_MESSAGE_BYTES, Op } from './protocol.js';
import type { BaseProxy } from './proxy.js';
import {
  checkExposed,
  checkMethodToTypeid,
  checkTypeid,
  ownRegistry,
  registryOf,
  type ServerConfig,
  type TypeSpec,
} from './registry.js';
import { ManagerServer } from './server.js';
import { Startup } from './startup.js';

/** Options of `new BaseManager()` / `Manager()`. */
export interface BaseManagerOptions {
  /**
   * Where the server listens (start, serveForever) or is (connect): a Unix socket path or
   * `{ host, port }` (`port: 0` picks a free one; `host` defaults to the loopback address).
   * Default for start/serveForever: a new Unix socket in a private (0700) directory.
   */
  address?: Address | undefined;
  /** The shared secret every connection proves, both ways. Default for start/serveForever: 32 random bytes. */
  authkey?: Buffer | Uint8Array | string | undefined;
  /** The largest message the server accepts (default 64 MiB); bigger calls reject with RangeError. */
  maxMessageBytes?: number | undefined;
}

/** Options of `BaseManager.register()`. */
export interface RegisterOptions {
  /** The methods proxies may call (default: the referent's public methods, none starting with `_`). */
  exposed?: readonly string[] | undefined;
  /** Methods whose result stays in the server and comes back as a proxy of that typeid. */
  methodToTypeid?: Readonly<Record<string, string>> | undefined;
  /** Add `manager[typeid](...args)` (default true). */
  createMethod?: boolean | undefined;
}

const SERVER_MAIN = pathToFileURL(distPath('managers/server-main.js'));
const START_TIMEOUT_MS = 60_000;
let serverCount = 0;

type Role = 'none' | 'starter' | 'client' | 'server';

function checkAddress(address: unknown): Address | undefined {
  if (address === undefined) return undefined;
  if (typeof address === 'string') {
    if (address.length === 0) throw new RangeError('address must not be an empty path');
    return address;
  }
  if (typeof address !== 'object' || address === null || Array.isArray(address)) {
    throw new TypeError(`address must be a Unix socket path or { host, port } (got ${describe(address)})`);
  }
  const { host, port } = address as { host?: unknown; port?: unknown };
  if (host !== undefined && (typeof host !== 'string' || host.length === 0)) {
    throw new TypeError(`address.host must be a non-empty string (got ${describe(host)})`);
  }
  return { host: host as string | undefined, port: checkInteger(port, 'address.port', 0, 65535) };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
  ]);
}

/**
 * A manager: a server process holding objects that other processes reach through proxies.
 * Register types on a subclass (`MyManager.register('Counter', { module, name })`), then
 * `start()` a server, or `connect()` to a running one, or `serveForever()` here.
 * The constructor throws TypeError/RangeError for bad options.
 */
export class BaseManager {
  readonly #address: Address | undefined;
  readonly #authkey: Buffer | undefined;
  readonly #maxMessageBytes: number;
  #role: Role = 'none';
  #ended: 'no' | 'closed' | 'shutdown' = 'no';
  #busy = false;
  #boundAddress: Address | undefined;
  #connection: ClientConnection | undefined;
  #process: Process | undefined;
  #token: string | undefined;
  #server: ManagerServer | undefined;
  #onExit: (() => void) | undefined;

  constructor(options: BaseManagerOptions = {}) {
    checkOptionsBag(options);
    this.#address = checkAddress(options.address);
    this.#authkey = authkeyOf(options.authkey);
    this.#maxMessageBytes =
      options.maxMessageBytes === undefined
        ? DEFAULT_MAX_MESSAGE_BYTES
        : checkInteger(options.maxMessageBytes, 'maxMessageBytes', 1024, 0x7fffffff);
  }

  /**
   * Registers a type this manager class serves (Python's classmethod `register`). `target` names
   * the class or factory function the server imports (`{ module, name }`, see API.md section 2);
   * a client that only connects may leave it out. Throws TypeError/RangeError for bad arguments
   * or a typeid that clashes with a manager method.
   */
  static register(typeid: string, target?: Target, options: RegisterOptions = {}): void {
    checkTypeid(typeid);
    checkOptionsBag(options);
    const exposed = checkExposed(options.exposed);
    const methodToTypeid = checkMethodToTypeid(options.methodToTypeid);
    if (options.createMethod !== undefined && typeof options.createMethod !== 'boolean') {
      throw new TypeError(`createMethod must be a boolean (got ${describe(options.createMethod)})`);
    }
    const spec: TypeSpec = {
      typeid,
      target: target === undefined ? undefined : prepareTarget(target, process.cwd()),
      exposed,
      methodToTypeid,
    };
    addType(this, spec, options.createMethod !== false);
  }

  /** The server's address once started, connected or serving (the real port for `port: 0`). */
  get address(): Address | undefined {
    const address = this.#boundAddress ?? this.#address;
    return typeof address === 'object' ? { ...address } : address;
  }

  /** The server process `start()` made (undefined otherwise). */
  get process(): Process | undefined {
    return this.#process;
  }

  /**
   * Starts a server process and connects to it. Rejects with ProcessError when this manager was
   * already started or connected, or the server process died before it listened; with the OS
   * error (`EADDRINUSE`, `EACCES`, ...) when it cannot bind the address.
   */
  async start(): Promise<this> {
    this.#claim('start');
    try {
      const authkey = this.#authkey ?? randomBytes(32);
      const address = this.#address ?? join(socketDirectory(), `m-${randomToken()}.sock`);
      this.#token = shutdownToken();
      const config: ServerConfig = {
        address,
        authkey,
        types: [...registryOf(this.constructor)].filter(
          (spec) => spec.builtin !== undefined || spec.target !== undefined,
        ),
        shutdownToken: this.#token,
        maxMessageBytes: this.#maxMessageBytes,
      };
      const startup = Startup.create();
      let port: number;
      const server = new Process({
        target: { module: SERVER_MAIN, name: 'serveManager' },
        args: [config, startup.name],
        daemon: true,
        name: `${this.constructor.name}-${++serverCount}`,
      });
      try {
        server.start();
        port = await startup.wait(server, START_TIMEOUT_MS);
      } catch (error) {
        if (server.pid !== undefined && server.isAlive()) server.kill();
        throw error;
      } finally {
        startup.close();
      }
      this.#process = server;
      const bound = typeof address === 'string' ? address : { host: address.host ?? '127.0.0.1', port };
      this.#boundAddress = bound;
      if (typeof bound === 'string') this.#removeSocketAtExit(bound);
      rememberKey(bound, authkey);
      this.#role = 'starter';
      this.#connection = connectionFor(bound);
      await this.#connection.open();
      return this;
    } catch (error) {
      if (this.#role === 'starter') await this.#stopServer();
      this.#role = 'none';
      throw error;
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Connects to a running server at `address` with `authkey` (or the key this process already
   * knows for it). Rejects with AuthenticationError on a wrong key, the OS error (`ECONNREFUSED`,
   * `ENOENT`) when nothing listens there.
   */
  async connect(): Promise<this> {
    this.#claim('connect');
    try {
      const address = this.#address;
      if (address === undefined)
        throw new TypeError('connect() needs an address: new BaseManager({ address, authkey })');
      const authkey = this.#authkey ?? keyFor(address);
      if (authkey === undefined)
        throw new TypeError('connect() needs the authkey of the server: new BaseManager({ address, authkey })');
      rememberKey(address, authkey);
      this.#boundAddress = address;
      this.#connection = connectionFor(address);
      await this.#connection.open();
      this.#role = 'client';
      return this;
    } catch (error) {
      this.#connection = undefined;
      throw error;
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Runs the server in this process; resolves once `shutdown()` is called on this manager.
   * Rejects with the OS error when the address cannot be bound.
   */
  async serveForever(): Promise<void> {
    this.#claim('serve');
    let server: ManagerServer;
    try {
      const authkey = this.#authkey ?? randomBytes(32);
      server = new ManagerServer({
        address: this.#address ?? join(socketDirectory(), `m-${randomToken()}.sock`),
        authkey,
        types: [...registryOf(this.constructor)],
        shutdownToken: null,
        maxMessageBytes: this.#maxMessageBytes,
      });
      this.#boundAddress = server.listen();
      rememberKey(this.#boundAddress, authkey);
      this.#server = server;
      this.#role = 'server';
    } finally {
      this.#busy = false;
    }
    await server.done;
  }

  /**
   * Makes a new object of type `typeid` in the server and resolves with its proxy (what
   * `manager.TypeName(...args)` does). Rejects with TypeError for an unknown typeid, Closed after
   * close/shutdown, ProcessError when not started/connected or when the server died.
   */
  create<P = BaseProxy>(typeid: string, ...args: unknown[]): Promise<P> {
    try {
      checkTypeid(typeid);
      const connection = this.#usable();
      return connection.request([0, Op.Create, typeid, args], `${this.constructor.name}.${typeid}`) as Promise<P>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #usable(): ClientConnection {
    if (this.#ended !== 'no') throw new Closed(`the manager was ${this.#ended === 'closed' ? 'closed' : 'shut down'}`);
    if (this.#role === 'none')
      throw new ProcessError('the manager is not running: call start(), connect() or serveForever() first');
    if (this.#role === 'server' && this.#connection === undefined)
      this.#connection = connectionFor(this.#boundAddress!);
    return this.#connection!;
  }

  /** Lets go of the connection to the server (its proxies in this process reject with Closed). Idempotent. */
  close(): void {
    if (this.#ended !== 'no') return;
    this.#ended = 'closed';
    this.#letGo(new Closed('the manager was closed'));
  }

  /**
   * Stops the server: every client's later calls reject with Closed. Only the manager that
   * started the server (or serves it) may do this: ProcessError for one that connected.
   * Repeatable; waits up to ~1 s for the server process to exit, then kills it.
   */
  async shutdown(): Promise<void> {
    if (this.#role === 'client') {
      throw new ProcessError('only the process that started the server can shut it down: use close() to let go');
    }
    if (this.#ended === 'shutdown') return;
    this.#ended = 'shutdown';
    if (this.#role === 'server') {
      this.#letGo(new Closed('the manager was shut down'));
      await this.#server!.shutdown();
      return;
    }
    if (this.#role === 'starter') await this.#stopServer();
  }

  /** Waits for the server process of `start()` to exit (up to `timeout`). */
  async join(options?: WaitOptions): Promise<void> {
    if (this.#process === undefined) throw new ProcessError('this manager did not start a server process');
    await this.#process.join(options);
  }

  /** `shutdown()` when this manager started (or serves) the server, else `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#role === 'starter' || this.#role === 'server') await this.shutdown();
    else this.close();
  }

  toString(): string {
    const where = this.address === undefined ? '' : ` at ${JSON.stringify(this.address)}`;
    return `<${this.constructor.name} ${this.#role === 'none' ? 'not started' : this.#role}${where}${this.#ended === 'no' ? '' : ` ${this.#ended}`}>`;
  }

  #claim(what: string): void {
    if (this.#ended !== 'no') throw new Closed(`the manager was ${this.#ended === 'closed' ? 'closed' : 'shut down'}`);
    if (this.#busy || this.#role !== 'none') throw new ProcessError(`cannot ${what}: this manager is already in use`);
    this.#busy = true;
  }

  #letGo(reason: Error): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    connection.close(reason);
    dropConnection(connection);
  }

  async #stopServer(): Promise<void> {
    const address = this.#boundAddress;
    const server = this.#process;
    if (address !== undefined && this.#token !== undefined) {
      const connection = this.#connection ?? connectionFor(address);
      const asked = connection.request([0, Op.Shutdown, this.#token], 'shutdown').catch(() => {});
      await withTimeout(asked, 2_000);
      connection.close(new Closed('the manager was shut down'));
      dropConnection(connection);
    }
    if (server !== undefined && server.pid !== undefined) {
      await server.join({ timeout: 1_000 });
      if (server.isAlive()) server.terminate();
      await server.join({ timeout: 1_000 });
      if (server.isAlive()) server.kill();
      await server.join({ timeout: 5_000 });
    }
    this.#onExit?.();
  }

  // A server killed before it could clean up leaves its socket file: removed when this process
  // is done with it (shutdown, or exit).
  #removeSocketAtExit(path: string): void {
    let ino: number | undefined;
    try {
      ino = lstatSync(path).ino;
    } catch {
      return;
    }
    const remove = (): void => {
      process.off('exit', remove);
      this.#onExit = undefined;
      try {
        if (lstatSync(path).ino === ino) unlinkSync(path);
      } catch {
        // already gone
      }
    };
    this.#onExit = remove;
    process.on('exit', remove);
  }
}

/** Adds a type to `cls`'s registry and, with `createMethod`, a `manager[typeid](...)` method. @internal */
export function addType(cls: { prototype: object }, spec: TypeSpec, createMethod: boolean): void {
  const registry = ownRegistry(cls);
  if (createMethod) {
    const existing = Object.getOwnPropertyDescriptor(BaseManager.prototype, spec.typeid);
    if (existing !== undefined || spec.typeid in Object.prototype) {
      throw new RangeError(`typeid ${JSON.stringify(spec.typeid)} clashes with a method of the manager`);
    }
    Object.defineProperty(cls.prototype, spec.typeid, {
      value: function (this: BaseManager, ...args: unknown[]) {
        return this.create(spec.typeid, ...args);
      },
      configurable: true,
      writable: true,
    });
  }
  registry.set(spec.typeid, spec);
}
