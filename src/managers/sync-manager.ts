// SyncManager and Manager() (Python's multiprocessing.Manager()): a BaseManager that serves dict,
// list, Namespace, queues, the synchronization primitives, Value and Array.
import { prepareTarget, type Target } from '../target.js';
import type { ElementOf } from '../sharedctypes/typecodes.js';
import { checkOptionsBag, describe } from '../util.js';
import { addType, BaseManager, type BaseManagerOptions } from './base-manager.js';
import { BUILTINS } from './builtins/index.js';
import type { ArrayProxy, DictProxy, ListProxy, NamespaceProxy, ValueProxy } from './proxies.js';
import type {
  BarrierProxy,
  BoundedSemaphoreProxy,
  ConditionProxy,
  EventProxy,
  JoinableQueueProxy,
  LockProxy,
  QueueProxy,
  RLockProxy,
  SemaphoreProxy,
} from './sync-proxies.js';

/** Options of `manager.Barrier(parties, options)`. */
export interface ManagerBarrierOptions {
  /** Run by the server when the last party arrives (a target: `{ module, name }` or a self-contained function). */
  action?: Target | undefined;
  /** The default timeout of `wait()` in ms. */
  timeout?: number | null | undefined;
}

const optional = (value: unknown): unknown[] => (value === undefined ? [] : [value]);
const listOf = (value: unknown): unknown =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Symbol.iterator in value
    ? [...(value as Iterable<unknown>)]
    : value;

/**
 * A manager whose server holds Python's SyncManager types. Every method resolves with a proxy
 * of a new object in the server; bad arguments reject with the server's TypeError/RangeError.
 */
export class SyncManager extends BaseManager {
  /** A Map-like dict, optionally filled from an object, a Map or [key, value] pairs. */
  dict<K = string, V = unknown>(
    init?: Record<string, V> | Map<K, V> | Iterable<readonly [K, V]>,
  ): Promise<DictProxy<K, V>> {
    return this.create('dict', ...optional(init instanceof Map ? init : listOf(init)));
  }

  /** An Array-like list, optionally filled from an iterable. */
  list<T = unknown>(init?: Iterable<T>): Promise<ListProxy<T>> {
    return this.create('list', ...optional(listOf(init)));
  }

  /** A Namespace with the attributes of `init`. */
  Namespace(init?: Record<string, unknown>): Promise<NamespaceProxy> {
    return this.create('Namespace', ...optional(init));
  }

  /** A FIFO queue; `maxsize` 0 = unbounded. */
  Queue<T = unknown>(maxsize = 0): Promise<QueueProxy<T>> {
    return this.create('Queue', maxsize);
  }

  JoinableQueue<T = unknown>(maxsize = 0): Promise<JoinableQueueProxy<T>> {
    return this.create('JoinableQueue', maxsize);
  }

  Lock(): Promise<LockProxy> {
    return this.create('Lock');
  }

  RLock(): Promise<RLockProxy> {
    return this.create('RLock');
  }

  Semaphore(value = 1): Promise<SemaphoreProxy> {
    return this.create('Semaphore', value);
  }

  BoundedSemaphore(value = 1): Promise<BoundedSemaphoreProxy> {
    return this.create('BoundedSemaphore', value);
  }

  /** A Condition over `lock` (a Lock or RLock proxy of this manager; default a new RLock). */
  Condition(lock?: LockProxy | RLockProxy): Promise<ConditionProxy> {
    return this.create('Condition', ...optional(lock));
  }

  Event(): Promise<EventProxy> {
    return this.create('Event');
  }

  /** A Barrier for `parties` parties; the server runs `action` when the last one arrives. */
  Barrier(parties: number, options: ManagerBarrierOptions = {}): Promise<BarrierProxy> {
    try {
      checkOptionsBag(options);
      const { action, timeout } = options;
      const spec = action === undefined ? undefined : prepareTarget(action, process.cwd());
      return this.create('Barrier', parties, { action: spec, timeout: timeout ?? null });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A typed value (typecodes as `Value`'s: 'i', 'd', 'q' (BigInt), '?' ...). */
  Value<C extends string>(typecode: C, value?: ElementOf<C>): Promise<ValueProxy<ElementOf<C>>> {
    return this.create('Value', typecode, ...optional(value));
  }

  /** A fixed-length typed array, from a length (zeros) or from values. */
  Array<C extends string>(typecode: C, init: number | Iterable<ElementOf<C>>): Promise<ArrayProxy<ElementOf<C>>> {
    if (typeof init !== 'number' && (typeof init !== 'object' || init === null)) {
      return Promise.reject(new TypeError(`init must be a length or an iterable (got ${describe(init)})`));
    }
    return this.create('Array', typecode, listOf(init));
  }
}

for (const typeid of Object.keys(BUILTINS)) addType(SyncManager, { typeid, builtin: typeid }, false);

/**
 * Starts a SyncManager's server process (Python's `multiprocessing.Manager()`) and resolves with
 * the manager once it answers. Use `await using manager = await Manager()` or call
 * `manager.shutdown()`. Rejects as `BaseManager#start` does.
 */
export async function Manager(options?: BaseManagerOptions): Promise<SyncManager> {
  const manager = new SyncManager(options);
  return manager.start();
}
