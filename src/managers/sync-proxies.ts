// The typed proxies of SyncManager's queues and synchronization primitives. Every method is
// async (a round trip to the server) and never throws synchronously; each has a `...Sync` twin
// that throws TypeError (proxy.ts). Waiting methods take `{ timeout, signal }`: the timeout runs in
// the server, and an abort cancels the parked call there (a call that already got what it waited
// for resolves with it rather than lose it).
import { TimeoutError } from '../errors.js';
import { timeoutOf, type WaitOptions } from '../util.js';
import { waitArgs } from './proxies.js';
import { BaseProxy, registerProxyClass } from './proxy.js';

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

registerProxyClass('Queue', QueueProxy);
registerProxyClass('JoinableQueue', JoinableQueueProxy);
registerProxyClass('Lock', LockProxy);
registerProxyClass('RLock', RLockProxy);
registerProxyClass('Semaphore', SemaphoreProxy);
registerProxyClass('BoundedSemaphore', BoundedSemaphoreProxy);
registerProxyClass('Condition', ConditionProxy);
registerProxyClass('Event', EventProxy);
registerProxyClass('Barrier', BarrierProxy);
