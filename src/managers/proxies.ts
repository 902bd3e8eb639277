// The typed proxies of SyncManager's dict, list, Namespace, Value and Array. Every method is async
// (a round trip to the server) and never throws synchronously; each has a `...Sync` twin that
// throws TypeError (proxy.ts).
import { checkOptionsBag, checkSignal, timeoutOf, type WaitOptions } from '../util.js';
import { BaseProxy, registerProxyClass } from './proxy.js';

/** Checks a `{ timeout, signal }` bag: the part the server gets, and the signal. @internal */
export function waitArgs(options: WaitOptions | undefined): [args: unknown[], signal: AbortSignal | undefined] {
  checkOptionsBag(options);
  const signal = options?.signal;
  checkSignal(signal);
  const timeout = timeoutOf(options);
  return [timeout === Infinity ? [] : [{ timeout }], signal];
}

function entriesArg(value: unknown): unknown {
  if (value instanceof Map || Array.isArray(value) || typeof value !== 'object' || value === null) return value;
  return Symbol.iterator in value ? [...(value as Iterable<unknown>)] : value;
}

/** A manager dict: Map-like, every method async. A missing key reads as undefined. */
export class DictProxy<K = unknown, V = unknown> extends BaseProxy {
  /** The value under `key`; `fallback` (default undefined) when there is none. */
  get(key: K): Promise<V | undefined>;
  get<D>(key: K, fallback: D): Promise<V | D>;
  get(key: K, fallback?: unknown): Promise<unknown> {
    return this._call('get', fallback === undefined ? [key] : [key, fallback]);
  }

  set(key: K, value: V): Promise<void> {
    return this._call('set', [key, value]) as Promise<void>;
  }

  has(key: K): Promise<boolean> {
    return this._call('has', [key]) as Promise<boolean>;
  }

  /** Removes `key`; true when it was there. */
  delete(key: K): Promise<boolean> {
    return this._call('delete', [key]) as Promise<boolean>;
  }

  keys(): Promise<K[]> {
    return this._call('keys', []) as Promise<K[]>;
  }

  values(): Promise<V[]> {
    return this._call('values', []) as Promise<V[]>;
  }

  entries(): Promise<[K, V][]> {
    return this._call('entries', []) as Promise<[K, V][]>;
  }

  size(): Promise<number> {
    return this._call('size', []) as Promise<number>;
  }

  /** Sets every entry of an object, a Map or an iterable of [key, value] pairs. */
  update(other: Record<string, V> | Map<K, V> | Iterable<readonly [K, V]>): Promise<void> {
    return this._call('update', [entriesArg(other)]) as Promise<void>;
  }

  /** Removes `key` and resolves its value; `fallback` (default undefined) when it was not there. */
  pop(key: K): Promise<V | undefined>;
  pop<D>(key: K, fallback: D): Promise<V | D>;
  pop(key: K, fallback?: unknown): Promise<unknown> {
    return this._call('pop', fallback === undefined ? [key] : [key, fallback]);
  }

  /** The value under `key`; when there is none, sets it to `value` first. */
  setdefault(key: K, value: V): Promise<V> {
    return this._call('setdefault', [key, value]) as Promise<V>;
  }

  clear(): Promise<void> {
    return this._call('clear', []) as Promise<void>;
  }

  /** A copy as a plain object (keys turned into strings). */
  toObject(): Promise<Record<string, V>> {
    return this._call('toObject', []) as Promise<Record<string, V>>;
  }

  /** A copy as a Map. */
  toMap(): Promise<Map<K, V>> {
    return this._call('toMap', []) as Promise<Map<K, V>>;
  }
}

/** A manager list: Array-like, every method async. Negative indices count from the end. */
export class ListProxy<T = unknown> extends BaseProxy {
  append(item: T): Promise<void> {
    return this._call('append', [item]) as Promise<void>;
  }

  extend(items: Iterable<T>): Promise<void> {
    return this._call('extend', [entriesArg(items)]) as Promise<void>;
  }

  /** The item at `index`; RangeError when out of range (Python's IndexError). */
  get(index: number): Promise<T> {
    return this._call('get', [index]) as Promise<T>;
  }

  set(index: number, item: T): Promise<void> {
    return this._call('set', [index, item]) as Promise<void>;
  }

  /** Removes and resolves the item at `index` (default: the last); RangeError when empty. */
  pop(index?: number): Promise<T> {
    return this._call('pop', index === undefined ? [] : [index]) as Promise<T>;
  }

  insert(index: number, item: T): Promise<void> {
    return this._call('insert', [index, item]) as Promise<void>;
  }

  /** Removes the first item equal to `item` (structurally); RangeError when there is none. */
  remove(item: T): Promise<void> {
    return this._call('remove', [item]) as Promise<void>;
  }

  /** The index of the first item equal to `item` (structurally), or -1. */
  index(item: T): Promise<number> {
    return this._call('index', [item]) as Promise<number>;
  }

  count(item: T): Promise<number> {
    return this._call('count', [item]) as Promise<number>;
  }

  reverse(): Promise<void> {
    return this._call('reverse', []) as Promise<void>;
  }

  clear(): Promise<void> {
    return this._call('clear', []) as Promise<void>;
  }

  slice(start?: number, end?: number): Promise<T[]> {
    return this._call('slice', end === undefined ? (start === undefined ? [] : [start]) : [start ?? 0, end]) as Promise<
      T[]
    >;
  }

  length(): Promise<number> {
    return this._call('length', []) as Promise<number>;
  }

  toArray(): Promise<T[]> {
    return this._call('toArray', []) as Promise<T[]>;
  }
}

/** A manager Namespace: named attributes read and written with get/set. */
export class NamespaceProxy extends BaseProxy {
  get<T = unknown>(name: string): Promise<T | undefined> {
    return this._call('get', [name]) as Promise<T | undefined>;
  }

  set(name: string, value: unknown): Promise<void> {
    return this._call('set', [name, value]) as Promise<void>;
  }

  has(name: string): Promise<boolean> {
    return this._call('has', [name]) as Promise<boolean>;
  }

  delete(name: string): Promise<boolean> {
    return this._call('delete', [name]) as Promise<boolean>;
  }

  toObject(): Promise<Record<string, unknown>> {
    return this._call('toObject', []) as Promise<Record<string, unknown>>;
  }
}

/** A manager Value: one typed value in the server (checked as `Value` checks it). */
export class ValueProxy<T = unknown> extends BaseProxy {
  get(): Promise<T> {
    return this._call('get', []) as Promise<T>;
  }

  set(value: T): Promise<void> {
    return this._call('set', [value]) as Promise<void>;
  }
}

/** A manager Array: a fixed-length typed array in the server. */
export class ArrayProxy<T = unknown> extends BaseProxy {
  get(index: number): Promise<T> {
    return this._call('get', [index]) as Promise<T>;
  }

  set(index: number, value: T): Promise<void> {
    return this._call('set', [index, value]) as Promise<void>;
  }

  length(): Promise<number> {
    return this._call('length', []) as Promise<number>;
  }

  toArray(): Promise<T[]> {
    return this._call('toArray', []) as Promise<T[]>;
  }
}

registerProxyClass('Dict', DictProxy);
registerProxyClass('List', ListProxy);
registerProxyClass('Namespace', NamespaceProxy);
registerProxyClass('Value', ValueProxy);
registerProxyClass('Array', ArrayProxy);
