// Proxies: objects of this process that stand for a referent living in a manager's server.
//
// A proxy travels like every shared object (a 'ManagerProxy' handle: the server's address, the
// referent's id and type, and the authkey as an AuthKeyRef, see keys.ts) and is revived in the
// receiving process onto that process's own connection to the server (one per server per
// process, opened at the first call: client.ts).
//
// Referent lifetime. A Create (or a methodToTypeid call) gives the calling connection a hold on
// the new referent; the proxy object made from the reply owns that hold and gives it back when it
// is garbage-collected (Decref), and a connection that closes gives back all of its holds. A
// proxy that is serialized pins its referent first: a pinned referent lives until the manager
// shuts down, since nobody can know how many copies of a descriptor exist. The referent is freed
// when it is neither pinned nor held.
import { inspect } from 'node:util';

import type { Address } from '../connection/index.js';
import { registerHandleKind, type HandleDescriptor, type Shareable } from '../handles.js';
import { describe } from '../util.js';
import { setProxyMaker } from './client.js';
import { connectionFor } from './connections.js';
import { addressKey, AuthKeyRef, keyFor, rememberKey } from './keys.js';
import type { ProxyToken, ProxyTransport } from './protocol.js';

const HANDLE_VERSION = 1;

/** What a proxy knows about its referent. */
export interface ProxyState {
  readonly transport: ProxyTransport;
  readonly id: number;
  readonly typeid: string;
  readonly proxytype: string;
  readonly exposed: readonly string[] | null;
}

const finalizer = new FinalizationRegistry<{ transport: ProxyTransport; id: number }>(({ transport, id }) =>
  transport.release(id),
);

/** Transports of servers running in this process, by address key (their in-server proxies). */
const localServers = new Map<string, ProxyTransport>();

/** A server in this process announces itself (and withdraws with `undefined`). @internal */
export function setLocalServer(address: Address, transport: ProxyTransport | undefined): void {
  if (transport === undefined) localServers.delete(addressKey(address));
  else localServers.set(addressKey(address), transport);
}

/**
 * The base of every manager proxy. Its methods are async: they send the call to the server and
 * resolve with a copy of the result. `toHandle()` gives a JSON-safe descriptor without the authkey.
 */
export class BaseProxy implements Shareable {
  static readonly handleKind: string = 'ManagerProxy';
  readonly #state: ProxyState;
  #pinned: boolean;

  /** @internal Made by the library: `manager.dict()`, `manager.create()`, `fromHandle()`. */
  constructor(state: ProxyState, owned: boolean) {
    this.#state = state;
    this.#pinned = !owned;
    if (owned) finalizer.register(this, { transport: state.transport, id: state.id }, this);
  }

  /** The typeid the referent was made as (`'dict'`, `'Queue'`, a registered name). */
  get typeid(): string {
    return this.#state.typeid;
  }

  /** The server's address. */
  get address(): Address {
    const address = this.#state.transport.address;
    return typeof address === 'string' ? address : { ...address };
  }

  /** The referent's id in its server. */
  get referentId(): number {
    return this.#state.id;
  }

  /** @internal For the server, which resolves in-server proxies to their referents. */
  static stateOf(proxy: BaseProxy): ProxyState {
    return proxy.#state;
  }

  /**
   * Calls the referent's exposed method `method` with `args` (Python's `_callmethod`): for methods
   * a generated proxy cannot name (they clash with BaseProxy's own members).
   */
  callMethod(method: string, args: readonly unknown[] = []): Promise<unknown> {
    if (typeof method !== 'string') return Promise.reject(new TypeError('method must be a string'));
    if (!Array.isArray(args)) return Promise.reject(new TypeError('args must be an array'));
    return this._call(method, [...args]);
  }

  /** Calls an exposed method by name (what every proxy method does). */
  protected _call(method: string, args: unknown[], signal?: AbortSignal): Promise<unknown> {
    const state = this.#state;
    return state.transport.call(state.id, method, args, method, signal);
  }

  /**
   * A descriptor that `fromHandle()` revives in any process that knows the manager's authkey
   * (a Process child receives it privately with its arguments). Pins the referent: see above.
   */
  toHandle(): HandleDescriptor {
    const state = this.#state;
    if (!this.#pinned) {
      this.#pinned = true;
      finalizer.unregister(this);
      state.transport.pin(state.id);
    }
    const address = this.address;
    return {
      kind: BaseProxy.handleKind,
      version: HANDLE_VERSION,
      address,
      id: state.id,
      typeid: state.typeid,
      proxytype: state.proxytype,
      exposed: state.exposed === null ? null : [...state.exposed],
      authkey: new AuthKeyRef(keyFor(address)),
    };
  }

  /** Revives a descriptor made by `toHandle()`. TypeError when it is not one. */
  static fromHandle(descriptor: HandleDescriptor): BaseProxy {
    const { version, address, id, typeid, proxytype, exposed, authkey } = descriptor as Record<string, unknown>;
    if (version !== HANDLE_VERSION) {
      throw new TypeError(`not a manager proxy handle of this multiproc (version ${describe(version)})`);
    }
    if (!isAddress(address)) throw new TypeError(`not a manager proxy handle: bad address ${describe(address)}`);
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1)
      throw new TypeError('not a manager proxy handle: bad id');
    if (typeof typeid !== 'string' || typeof proxytype !== 'string') throw new TypeError('not a manager proxy handle');
    if (exposed !== null && !(Array.isArray(exposed) && exposed.every((name) => typeof name === 'string'))) {
      throw new TypeError('not a manager proxy handle: bad exposed list');
    }
    if (authkey instanceof AuthKeyRef && authkey.key !== undefined) rememberKey(address, authkey.key);
    const transport = localServers.get(addressKey(address)) ?? connectionFor(address);
    return makeProxy({ transport, id, typeid, proxytype, exposed: exposed as string[] | null }, false);
  }

  toString(): string {
    return `<${this.constructor.name} ${this.#state.typeid} #${this.#state.id} at ${addressKey(this.#state.transport.address)}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function isAddress(value: unknown): value is Address {
  if (typeof value === 'string') return value.length > 0;
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { port?: unknown }).port === 'number' &&
    ['string', 'undefined'].includes(typeof (value as { host?: unknown }).host)
  );
}

// ---- making proxies ----

type ProxyClass = new (state: ProxyState, owned: boolean) => BaseProxy;
const proxyClasses = new Map<string, ProxyClass>();

/** Registers the class built-in proxies of `proxytype` are made with. @internal */
export function registerProxyClass(proxytype: string, Class: ProxyClass): void {
  proxyClasses.set(proxytype, Class);
  addSyncGuards(Class.prototype);
}

/**
 * Every async method `m` of a proxy gets an `mSync` that throws TypeError: a proxy cannot block
 * (the server answers on the event loop this thread would be blocking).
 */
function addSyncGuards(prototype: object): void {
  for (let proto = prototype; proto !== BaseProxy.prototype && proto !== null; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || name.endsWith('Sync')) continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (typeof descriptor?.value !== 'function' || Object.hasOwn(proto, `${name}Sync`)) continue;
      Object.defineProperty(proto, `${name}Sync`, { value: syncGuard(name), configurable: true, writable: true });
    }
  }
}

function syncGuard(name: string): () => never {
  return function (this: BaseProxy) {
    throw new TypeError(
      `${this.constructor.name}.${name}Sync: manager proxies are async only (use await proxy.${name}(...))`,
    );
  };
}

// Auto proxies (registered types): one class per exposed list, its methods made once.
const autoClasses = new Map<string, ProxyClass>();

function autoClass(exposed: readonly string[]): ProxyClass {
  const key = exposed.join('\0');
  let Class = autoClasses.get(key);
  if (Class !== undefined) return Class;
  Class = class AutoProxy extends BaseProxy {};
  for (const name of exposed) {
    if (name in BaseProxy.prototype || name === 'constructor') continue;
    const method = name.endsWith('Sync')
      ? syncGuard(name.slice(0, -4))
      : function (this: BaseProxy, ...args: unknown[]) {
          return (this as unknown as { _call(m: string, a: unknown[]): Promise<unknown> })._call(name, args);
        };
    Object.defineProperty(Class.prototype, name, { value: method, configurable: true, writable: true });
  }
  addSyncGuards(Class.prototype);
  autoClasses.set(key, Class);
  return Class;
}

/** A proxy object for `state`; `owned`: it carries a hold on the referent (see the file comment). */
export function makeProxy(state: ProxyState, owned: boolean): BaseProxy {
  const Class = proxyClasses.get(state.proxytype) ?? autoClass(state.exposed ?? []);
  return new Class(state, owned);
}

setProxyMaker((transport, token: ProxyToken) => makeProxy({ transport, ...token }, true));

registerHandleKind(BaseProxy.handleKind, (descriptor) => BaseProxy.fromHandle(descriptor));

/**
 * The type of a proxy for a registered type `T`: each method of `T` (except `...Sync` ones) as an
 * async method resolving with a copy of its result.
 */
export type Proxied<T> = BaseProxy & {
  [
    K in keyof T as T[K] extends (...args: never[]) => unknown
      ? K extends `${string}Sync` | 'constructor'
        ? never
        : K
      : never
  ]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};
