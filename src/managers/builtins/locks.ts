// Server side of the manager's Lock, RLock, Semaphore and BoundedSemaphore (Python's manager
// keeps threading's primitives in the server and proxies every call; so do we, which also
// serves clients on other machines). An owner is a client connection, i.e. one process.
//
// acquire() answers 0 (timed out), 1 (acquired) or 2 (acquired what a client that disconnected
// held: the proxy's `ownerDied`). A client whose connection drops gives back what it held.
import { callContext, notOwner, TIMED_OUT, timeoutArg, WaitList, type ClientState, type Releasable } from '../call.js';
import { checkInteger } from '../../util.js';

/** acquire()'s answer. */
export const enum Acquired {
  No = 0,
  Yes = 1,
  FromDeadOwner = 2,
}

/** Lock and RLock: one owner at a time; an RLock's owner may re-enter. */
export class ManagedLock implements Releasable {
  static readonly exposed = ['acquire', 'release', 'locked'];
  protected owner: ClientState | null = null;
  protected count = 0;
  #ownerDied = false;
  readonly #waiters = new WaitList<Acquired>();
  readonly #reentrant: boolean;

  constructor(reentrant = false) {
    this.#reentrant = reentrant;
  }

  acquire(options?: unknown): Acquired | Promise<Acquired> {
    const timeout = timeoutArg(options);
    const context = callContext();
    return this.acquireFor(context.client, timeout, context.signal);
  }

  /** acquire() on behalf of `client` (Condition re-acquires with it). */
  acquireFor(client: ClientState, timeout: number, signal?: AbortSignal): Acquired | Promise<Acquired> {
    if (this.owner === null) return this.#grant(client);
    if (this.#reentrant && this.owner === client) {
      this.count++;
      return Acquired.Yes;
    }
    if (timeout <= 0) return Acquired.No;
    return this.#waiters
      .wait(client, timeout, signal)
      .then((outcome) => (outcome === TIMED_OUT ? Acquired.No : outcome));
  }

  release(): void {
    const { client } = callContext();
    if (this.owner !== client) throw notOwner(`release this ${this.#reentrant ? 'RLock' : 'Lock'}`, this.owner);
    if (--this.count > 0) return;
    client.held.delete(this);
    this.#handOver();
  }

  locked(): boolean {
    return this.owner !== null;
  }

  /** The current owner (Condition checks it). */
  ownerOf(): ClientState | null {
    return this.owner;
  }

  /** Gives the lock up entirely for `client` and returns its recursion count (Condition.wait). */
  suspend(client: ClientState): number {
    if (this.owner !== client) throw notOwner('wait on this Condition', this.owner);
    const count = this.count;
    this.count = 0;
    client.held.delete(this);
    this.#handOver();
    return count;
  }

  /** Takes the lock back for `client` with the count suspend() returned. */
  async resume(client: ClientState, count: number): Promise<void> {
    for (;;) {
      const outcome = await this.acquireFor(client, Infinity);
      if (outcome !== Acquired.No) break;
    }
    this.count = count;
  }

  releaseClient(client: ClientState): void {
    if (this.owner !== client) return;
    this.count = 0;
    this.#ownerDied = true;
    this.#handOver();
  }

  #grant(client: ClientState): Acquired {
    this.owner = client;
    this.count = 1;
    client.held.add(this);
    const died = this.#ownerDied;
    this.#ownerDied = false;
    return died ? Acquired.FromDeadOwner : Acquired.Yes;
  }

  #handOver(): void {
    this.owner = null;
    const next = this.#waiters.shift();
    if (next !== undefined) next.resolve(this.#grant(next.client));
  }
}

/** Semaphore and BoundedSemaphore. */
export class ManagedSemaphore implements Releasable {
  static readonly exposed = ['acquire', 'release', 'getValue'];
  #value: number;
  readonly #initial: number;
  readonly #bounded: boolean;
  /** Units each client holds (acquired minus released, never negative). */
  readonly #holders = new Map<ClientState, number>();
  /** Units given back by disconnected clients and not taken since. */
  #recovered = 0;
  readonly #waiters = new WaitList<Acquired>();

  constructor(value: unknown = 1, bounded = false) {
    this.#value = checkInteger(value, 'value', 0, 0x7fffffff);
    this.#initial = this.#value;
    this.#bounded = bounded;
  }

  acquire(options?: unknown): Acquired | Promise<Acquired> {
    const timeout = timeoutArg(options);
    const { client, signal } = callContext();
    if (this.#value > 0) return this.#grant(client);
    if (timeout <= 0) return Acquired.No;
    return this.#waiters
      .wait(client, timeout, signal)
      .then((outcome) => (outcome === TIMED_OUT ? Acquired.No : outcome));
  }

  release(count: unknown = 1): void {
    const n = checkInteger(count, 'n', 1);
    if (this.#bounded && this.#value + n > this.#initial) {
      throw new RangeError('BoundedSemaphore released too many times');
    }
    const { client } = callContext();
    const held = this.#holders.get(client) ?? 0;
    if (held > 0) {
      const left = Math.max(0, held - n);
      if (left === 0) {
        this.#holders.delete(client);
        client.held.delete(this);
      } else {
        this.#holders.set(client, left);
      }
    }
    this.#value += n;
    this.#wake();
  }

  getValue(): number {
    return this.#value;
  }

  releaseClient(client: ClientState): void {
    const held = this.#holders.get(client) ?? 0;
    this.#holders.delete(client);
    // As the shared Semaphore: never more units out than the initial value allows, so a
    // semaphore used as a signal (released by one side, acquired by the other) gains nothing.
    const back = Math.min(held, Math.max(0, this.#initial - this.#value));
    if (back === 0) return;
    this.#value += back;
    this.#recovered += back;
    this.#wake();
  }

  #grant(client: ClientState): Acquired {
    this.#value--;
    this.#holders.set(client, (this.#holders.get(client) ?? 0) + 1);
    client.held.add(this);
    if (this.#recovered === 0) return Acquired.Yes;
    this.#recovered--;
    return Acquired.FromDeadOwner;
  }

  #wake(): void {
    while (this.#value > 0) {
      const next = this.#waiters.shift();
      if (next === undefined) break;
      next.resolve(this.#grant(next.client));
    }
  }
}
