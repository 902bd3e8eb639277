// The typed proxies of SyncManager's types. Every method is async (a round trip to the server)
// and never throws synchronously; each has a `...Sync` twin that throws TypeError (proxy.ts).
import { TimeoutError } from '../errors.js';
import { checkOptionsBag, checkSignal, timeoutOf, type WaitOptions } from '../util.js';
import { BaseProxy, registerProxyClass } from './proxy.js';

/** Checks a `{ timeout, signal }` bag: the part the server gets, and the signal. */
function waitArgs(options: WaitOptions | undefined): [args: unknown[], signal: AbortSignal | undefined] {
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

/** A manager Queue (Python's queue.Queue in the server). Empty/Full as the shared Queue. */
export class QueueProxy<T = unknown> extends BaseProxy {
  /** Waits for room (up to `timeout`), then puts; rejects with Full when the time ran out. */
  async put(item: T, options?: WaitOptions): Promise<void> {
    const [args, signal] = waitArgs(options);
    await this._call('put', [item, ...args], signal);
  }

  /** Waits for an item (up to `timeout`); rejects with Empty when the time ran out. */
  async get(options?: WaitOptions): Promise<T> {
    const [args, signal] = waitArgs(options);
    return (await this._call('get', args, signal)) as T;
  }

  /** Puts without waiting; rejects with Full. */
  putNowait(item: T): Promise<void> {
    return this._call('putNowait', [item]) as Promise<void>;
  }

  /** Takes without waiting; rejects with Empty. */
  getNowait(): Promise<T> {
    return this._call('getNowait', []) as Promise<T>;
  }

  qsize(): Promise<number> {
    return this._call('qsize', []) as Promise<number>;
  }

  empty(): Promise<boolean> {
    return this._call('empty', []) as Promise<boolean>;
  }

  full(): Promise<boolean> {
    return this._call('full', []) as Promise<boolean>;
  }
}

/** A manager JoinableQueue: a Queue that counts unfinished tasks. */
export class JoinableQueueProxy<T = unknown> extends QueueProxy<T> {
  /** Marks one item done; RangeError when called more often than items were put. */
  taskDone(): Promise<void> {
    return this._call('taskDone', []) as Promise<void>;
  }

  /** Resolves true once every item put was marked done; false when `timeout` ran out first. */
  async join(options?: WaitOptions): Promise<boolean> {
    const [args, signal] = waitArgs(options);
    return (await this._call('join', args, signal)) as boolean;
  }
}

/** What Lock, RLock, Semaphore, BoundedSemaphore and Condition proxies share. */
abstract class AcquirableProxy extends BaseProxy {
  #ownerDied = false;

  /** True when the latest acquire through this proxy took over what a disconnected client held. */
  get ownerDied(): boolean {
    return this.#ownerDied;
  }

  /** Resolves true once acquired, false when `timeout` ran out (AbortError on abort). */
  async acquire(options?: WaitOptions): Promise<boolean> {
    const [args, signal] = waitArgs(options);
    const outcome = (await this._call('acquire', args, signal)) as number;
    this.#ownerDied = outcome === 2;
    return outcome !== 0;
  }

  /** Acquires if that needs no waiting. */
  tryAcquire(): Promise<boolean> {
    return this.acquire({ timeout: 0 });
  }

  /** Runs `fn` holding the lock and releases it after, also when `fn` throws; TimeoutError when not acquired in time. */
  async withLock<R>(fn: () => R | Promise<R>, options?: WaitOptions): Promise<Awaited<R>> {
    if (typeof fn !== 'function') throw new TypeError('fn must be a function');
    if (!(await this.acquire(options))) throw new TimeoutError('the lock was not acquired within the timeout');
    try {
      return (await fn()) as Awaited<R>;
    } finally {
      await this._call('release', []);
    }
  }
}

/** A manager Lock: owned by the process that acquired it (ProcessError when another releases it). */
export class LockProxy extends AcquirableProxy {
  release(): Promise<void> {
    return this._call('release', []) as Promise<void>;
  }

  locked(): Promise<boolean> {
    return this._call('locked', []) as Promise<boolean>;
  }
}

/** A manager RLock: its owner process may acquire it again (release as often). */
export class RLockProxy extends LockProxy {}

/** A manager Semaphore. */
export class SemaphoreProxy extends AcquirableProxy {
  release(n = 1): Promise<void> {
    return this._call('release', [n]) as Promise<void>;
  }

  getValue(): Promise<number> {
    return this._call('getValue', []) as Promise<number>;
  }
}

/** A manager BoundedSemaphore: releasing above the initial value rejects with RangeError. */
export class BoundedSemaphoreProxy extends SemaphoreProxy {}

/** A manager Condition over a manager Lock or RLock. */
export class ConditionProxy extends AcquirableProxy {
  release(): Promise<void> {
    return this._call('release', []) as Promise<void>;
  }

  /** Releases the lock, waits for a notify (or `timeout`), takes the lock back; true when notified. */
  async wait(options?: WaitOptions): Promise<boolean> {
    const [args, signal] = waitArgs(options);
    return (await this._call('wait', args, signal)) as boolean;
  }

  /** Waits until `predicate()` (run here, holding the lock) is truthy or `timeout` runs out; its last result. */
  async waitFor<R>(predicate: () => R | Promise<R>, options?: WaitOptions): Promise<R> {
    if (typeof predicate !== 'function') throw new TypeError('predicate must be a function');
    waitArgs(options);
    const timeout = timeoutOf(options);
    const deadline = performance.now() + timeout;
    let result = await predicate();
    while (!result) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.wait({ timeout: left === Infinity ? undefined : left, signal: options?.signal });
      result = await predicate();
    }
    return result;
  }

  notify(n = 1): Promise<void> {
    return this._call('notify', [n]) as Promise<void>;
  }

  notifyAll(): Promise<void> {
    return this._call('notifyAll', []) as Promise<void>;
  }
}

/** A manager Event. */
export class EventProxy extends BaseProxy {
  isSet(): Promise<boolean> {
    return this._call('isSet', []) as Promise<boolean>;
  }

  set(): Promise<void> {
    return this._call('set', []) as Promise<void>;
  }

  clear(): Promise<void> {
    return this._call('clear', []) as Promise<void>;
  }

  /** Resolves true once the flag is set, false when `timeout` ran out. */
  async wait(options?: WaitOptions): Promise<boolean> {
    const [args, signal] = waitArgs(options);
    return (await this._call('wait', args, signal)) as boolean;
  }
}

/**
 * A manager Barrier. A party whose process dies while it waits breaks the barrier at once
 * (BrokenBarrierError for the others).
 */
export class BarrierProxy extends BaseProxy {
  /** Resolves this party's arrival index; BrokenBarrierError when broken, reset or timed out. */
  async wait(options?: WaitOptions): Promise<number> {
    const [args, signal] = waitArgs(options);
    return (await this._call('wait', args, signal)) as number;
  }

  reset(): Promise<void> {
    return this._call('reset', []) as Promise<void>;
  }

  abort(): Promise<void> {
    return this._call('abort', []) as Promise<void>;
  }

  parties(): Promise<number> {
    return this._call('parties', []) as Promise<number>;
  }

  nWaiting(): Promise<number> {
    return this._call('nWaiting', []) as Promise<number>;
  }

  broken(): Promise<boolean> {
    return this._call('broken', []) as Promise<boolean>;
  }
}

registerProxyClass('Dict', DictProxy);
registerProxyClass('List', ListProxy);
registerProxyClass('Namespace', NamespaceProxy);
registerProxyClass('Value', ValueProxy);
registerProxyClass('Array', ArrayProxy);
registerProxyClass('Queue', QueueProxy);
registerProxyClass('JoinableQueue', JoinableQueueProxy);
registerProxyClass('Lock', LockProxy);
registerProxyClass('RLock', RLockProxy);
registerProxyClass('Semaphore', SemaphoreProxy);
registerProxyClass('BoundedSemaphore', BoundedSemaphoreProxy);
registerProxyClass('Condition', ConditionProxy);
registerProxyClass('Event', EventProxy);
registerProxyClass('Barrier', BarrierProxy);
