// What a manager class knows about the types it serves: Python's `BaseManager._registry`, made
// of plain data so that it travels to the server process with the launch arguments.
import type { Address } from '../connection/index.js';
import type { TargetSpec } from '../target.js';
import { describe } from '../util.js';

/** One registered type, as it travels to the server. */
export interface TypeSpec {
  readonly typeid: string;
  /** A SyncManager type (builtins/index.ts). */
  readonly builtin?: string | undefined;
  /** A user type: the class or factory function the server imports. */
  readonly target?: TargetSpec | undefined;
  /** Methods a proxy may call (default: the referent's public methods). */
  readonly exposed?: readonly string[] | null | undefined;
  /** Methods whose result is a new referent of that typeid, returned as a proxy. */
  readonly methodToTypeid?: Readonly<Record<string, string>> | null | undefined;
}

/** Everything a server needs (the authkey travels only in the private launch message). */
export interface ServerConfig {
  readonly address: Address;
  readonly authkey: Buffer;
  readonly types: readonly TypeSpec[];
  /** The starter's secret for Op.Shutdown; null: no client may shut this server down. */
  readonly shutdownToken: string | null;
  readonly maxMessageBytes: number;
}

const registries = new WeakMap<object, Map<string, TypeSpec>>();

const TYPEID = /^[A-Za-z_$][\w$]{0,127}$/;
/** Names a proxy or a referent may never expose. */
const FORBIDDEN = new Set(['constructor', '__proto__', 'prototype', 'toHandle', 'then']);

/** Checks a typeid: an identifier (it becomes a method name of the manager). */
export function checkTypeid(typeid: unknown): string {
  if (typeof typeid !== 'string') throw new TypeError(`typeid must be a string (got ${describe(typeid)})`);
  if (!TYPEID.test(typeid)) throw new RangeError(`typeid must be an identifier (got ${JSON.stringify(typeid)})`);
  return typeid;
}

/** Checks an `exposed` list: method names, none of the forbidden ones. */
export function checkExposed(exposed: unknown): readonly string[] | null {
  if (exposed === undefined || exposed === null) return null;
  if (!Array.isArray(exposed))
    throw new TypeError(`exposed must be an array of method names (got ${describe(exposed)})`);
  for (const name of exposed) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(`exposed must hold method names (got ${describe(name)})`);
    }
    if (FORBIDDEN.has(name)) throw new RangeError(`${JSON.stringify(name)} cannot be exposed`);
  }
  return Object.freeze([...new Set(exposed as string[])]);
}

/** Checks a `methodToTypeid` map: method name -> typeid. */
export function checkMethodToTypeid(map: unknown): Readonly<Record<string, string>> | null {
  if (map === undefined || map === null) return null;
  if (typeof map !== 'object' || Array.isArray(map)) {
    throw new TypeError(`methodToTypeid must be an object { method: typeid } (got ${describe(map)})`);
  }
  const out = Object.create(null) as Record<string, string>;
  for (const [method, typeid] of Object.entries(map)) {
    if (FORBIDDEN.has(method)) throw new RangeError(`${JSON.stringify(method)} cannot be exposed`);
    out[method] = checkTypeid(typeid);
  }
  return Object.freeze(out);
}

/**
 * The public methods of an object (Python's `public_methods`): functions found on the object
 * and its prototypes up to Object.prototype, except names starting with `_` and the forbidden
 * ones. Getters are not methods and are left out.
 */
export function publicMethods(obj: unknown): string[] {
  const names = new Set<string>();
  for (
    let target = obj;
    target !== null && target !== undefined && target !== Object.prototype && target !== Function.prototype;
    target = Object.getPrototypeOf(target)
  ) {
    if (typeof target !== 'object' && typeof target !== 'function') break;
    for (const name of Object.getOwnPropertyNames(target)) {
      if (name.startsWith('_') || FORBIDDEN.has(name)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(target, name);
      if (typeof descriptor?.value === 'function') names.add(name);
    }
  }
  return [...names];
}

/** The registry of a manager class, its own (copied from its parent at the first registration). */
export function ownRegistry(cls: object): Map<string, TypeSpec> {
  let registry = registries.get(cls);
  if (registry === undefined) {
    registry = new Map([...registryOf(Object.getPrototypeOf(cls) as object)].map((spec) => [spec.typeid, spec]));
    registries.set(cls, registry);
  }
  return registry;
}

/** The types a manager class serves, its parents' included. */
export function registryOf(cls: object): Iterable<TypeSpec> {
  for (
    let at: object | null = cls;
    at !== null && at !== Function.prototype;
    at = Object.getPrototypeOf(at) as object | null
  ) {
    const registry = registries.get(at);
    if (registry !== undefined) return registry.values();
  }
  return [];
}
