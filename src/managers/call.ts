// Server side: who is calling, and waiting on their behalf.
//
// The server runs one process's calls on one event loop (no thread per connection, as Python
// has): a call that has to wait (Lock.acquire, Queue.get, Event.wait) parks in a WaitList and
// its reply goes out when it is woken, while later calls of the same client go on. Every waiter
// belongs to a client; when a client's connection drops, its waiters are removed (a dead client
// never takes an item or a lock) and what it held is given back (`Releasable`).
import { AbortError, Closed, ProcessError } from '../errors.js';
import { isOwnerAlive } from '../liveness.js';
import { describe } from '../util.js';

/** Something a client can hold (a lock, semaphore units): given back when its connection drops. */
export interface Releasable {
  releaseClient(client: ClientState): void;
}

/** One connection to the server: its ownership and its waits. */
export class ClientState {
  readonly id: number;
  readonly label: string;
  /** True for a TCP peer: it may not send handles or code. */
  readonly network: boolean;
  closed = false;
  /** The client thread's liveness token (0: unknown, a network peer); see HelloRequest.owner. */
  owner = 0;
  /** Primitives in which this client holds something. */
  readonly held = new Set<Releasable>();
  /** Wait lists in which this client may have waiters. */
  readonly waitLists = new Set<WaitList<unknown>>();
  /** Abort controllers of this client's calls that wait, by request id (Op.Cancel fires them). */
  readonly cancels = new Map<number, AbortController>();
  /** Holds on referents (one per proxy object made from a reply), by referent id. */
  readonly holds = new Map<number, number>();

  constructor(id: number, label: string, network: boolean) {
    this.id = id;
    this.label = label;
    this.network = network;
  }

  /**
   * Whether the client is gone: its connection was dropped, or the kernel says its thread died
   * (its socket's close may not have been read yet while other clients' calls are served).
   */
  gone(): boolean {
    return this.closed || (this.owner !== 0 && !isOwnerAlive(this.owner));
  }

  /** Gives back everything this client held and removes its waiters. Idempotent. */
  drop(): void {
    if (this.closed) return;
    this.closed = true;
    for (const controller of this.cancels.values()) controller.abort();
    this.cancels.clear();
    for (const list of [...this.waitLists]) list.dropClient(this);
    this.waitLists.clear();
    for (const thing of [...this.held]) thing.releaseClient(this);
    this.held.clear();
  }
}

/** The call being run: valid during the synchronous part of a method of a referent. */
export class CallContext {
  readonly client: ClientState;
  readonly reqId: number;
  #controller: AbortController | undefined;

  constructor(client: ClientState, reqId: number) {
    this.client = client;
    this.reqId = reqId;
  }

  /** Fires when the caller cancels (its AbortSignal) or disconnects. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.client.closed) this.#controller.abort();
      else if (this.reqId !== 0) this.client.cancels.set(this.reqId, this.#controller);
    }
    return this.#controller.signal;
  }

  /** The call has settled: its cancel entry goes. */
  done(): void {
    if (this.#controller !== undefined) this.client.cancels.delete(this.reqId);
  }
}

let current: CallContext | undefined;
/** Calls made by the server itself (in-server proxies, Barrier actions). */
const SERVER_CLIENT = new ClientState(0, 'the server', false);

/** Runs `fn.apply(self, args)` as a call of `context` (`callContext()` reads it in its synchronous part). */
export function runAs(
  context: CallContext,
  fn: (...args: unknown[]) => unknown,
  self: unknown,
  args: unknown[],
): unknown {
  const previous = current;
  current = context;
  try {
    return fn.apply(self, args);
  } finally {
    current = previous;
  }
}

/** The call being run; outside a call, the server itself. */
export function callContext(): CallContext {
  return current ?? new CallContext(SERVER_CLIENT, 0);
}

/** Python's timeout from a `{ timeout }` bag a client sent: ms, Infinity for none, 0 = don't wait. */
export function timeoutArg(options: unknown): number {
  if (options === undefined || options === null) return Infinity;
  if (typeof options !== 'object') throw new TypeError(`options must be an object (got ${describe(options)})`);
  const timeout = (options as { timeout?: unknown }).timeout;
  if (timeout === undefined || timeout === null) return Infinity;
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) {
    throw new TypeError(`timeout must be a number of milliseconds, null or undefined (got ${describe(timeout)})`);
  }
  return Math.max(0, timeout);
}

export const TIMED_OUT = Symbol('timed out');
export type TimedOut = typeof TIMED_OUT;

/** A parked call. */
export interface Waiter<T> {
  readonly client: ClientState;
  /** What the waiter brought (a parked put's item). */
  readonly payload: unknown;
  /** Ends the wait with a value (the caller has been given what it waited for). */
  resolve(value: T): void;
  reject(error: unknown): void;
}

// The largest delay setTimeout takes; longer timeouts are as good as none.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls parked on one condition, first come first served. */
export class WaitList<T> {
  readonly #waiters = new Set<Waiter<T>>();
  readonly #onDrop: ((client: ClientState) => void) | undefined;

  /** `onDrop` runs after a disconnecting client's waiters were removed (Barrier breaks then). */
  constructor(onDrop?: (client: ClientState) => void) {
    this.#onDrop = onDrop;
  }

  get size(): number {
    return this.#waiters.size;
  }

  /**
   * Parks `client` until a waker resolves it (its value), `timeout` ms pass (TIMED_OUT) or
   * `signal` aborts (AbortError). Nothing is taken on the way out by timeout or abort.
   */
  wait(client: ClientState, timeout: number, signal?: AbortSignal, payload?: unknown): Promise<T | TimedOut> {
    if (client.closed) return Promise.reject(new Closed('the client has disconnected'));
    if (signal?.aborted) return Promise.reject(new AbortError());
    return new Promise<T | TimedOut>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        this.#waiters.delete(waiter);
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        finish();
        reject(new AbortError());
      };
      const waiter: Waiter<T> = {
        client,
        payload,
        resolve: (value) => {
          finish();
          resolve(value);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
      };
      if (timeout < MAX_TIMER_MS) {
        timer = setTimeout(() => {
          finish();
          resolve(TIMED_OUT);
        }, timeout);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
      client.waitLists.add(this as WaitList<unknown>);
    });
  }

  /** The longest-waiting live waiter, removed from the list (its caller resolves it); or undefined. */
  shift(): Waiter<T> | undefined {
    for (const waiter of this.#waiters) {
      this.#waiters.delete(waiter);
      // A dead client's waiter is skipped even before its connection is dropped: it would take
      // an item or a lock with it.
      if (!waiter.client.gone()) return waiter;
    }
    return undefined;
  }

  /** Resolves up to `count` waiters with `value`; returns how many. */
  wake(value: T, count = Infinity): number {
    let woken = 0;
    while (woken < count) {
      const waiter = this.shift();
      if (waiter === undefined) break;
      waiter.resolve(value);
      woken++;
    }
    return woken;
  }

  /** Rejects every waiter with `error`. */
  rejectAll(error: () => unknown): void {
    for (const waiter of [...this.#waiters]) waiter.reject(error());
  }

  /** Removes a disconnected client's waiters. */
  dropClient(client: ClientState): void {
    let dropped = 0;
    for (const waiter of [...this.#waiters]) {
      if (waiter.client !== client) continue;
      waiter.reject(new Closed('the client has disconnected'));
      dropped++;
    }
    if (dropped > 0) this.#onDrop?.(client);
  }
}

/** The error for an operation that needs ownership the caller lacks. */
export function notOwner(what: string, owner: ClientState | null): ProcessError {
  return new ProcessError(`cannot ${what}: ${owner === null ? 'it is not held' : 'another process holds it'}`);
}
