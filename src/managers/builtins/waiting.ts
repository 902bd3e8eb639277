// Server side of the manager's Condition, Event and Barrier.
import { AbortError, BrokenBarrierError } from '../../errors.js';
import { callContext, notOwner, TIMED_OUT, timeoutArg, WaitList } from '../call.js';
import { ManagedLock, type Acquired } from './locks.js';
import { checkInteger } from '../../util.js';

/** A condition variable over a manager Lock or RLock (a new RLock by default, as Python). */
export class ManagedCondition {
  static readonly exposed = ['acquire', 'release', 'wait', 'notify', 'notifyAll'];
  readonly #lock: ManagedLock;
  readonly #waiters = new WaitList<true>();

  constructor(lock?: unknown) {
    if (lock !== undefined && lock !== null && !(lock instanceof ManagedLock)) {
      throw new TypeError('lock must be a Lock or RLock of the same manager');
    }
    this.#lock = lock ?? new ManagedLock(true);
  }

  acquire(options?: unknown): Acquired | Promise<Acquired> {
    return this.#lock.acquire(options);
  }

  release(): void {
    this.#lock.release();
  }

  /** Resolves true when notified, false when the timeout ran out; the lock is held again either way. */
  async wait(options?: unknown): Promise<boolean> {
    const timeout = timeoutArg(options);
    const { client, signal } = callContext();
    const count = this.#lock.suspend(client);
    let outcome: true | typeof TIMED_OUT;
    try {
      outcome = await this.#waiters.wait(client, timeout, signal);
    } catch (error) {
      if (!client.closed) await this.#lock.resume(client, count);
      throw error;
    }
    await this.#lock.resume(client, count);
    return outcome !== TIMED_OUT;
  }

  notify(n: unknown = 1): void {
    if (typeof n !== 'number' || !(n >= 0)) throw new RangeError(`n must be a non-negative number (got ${String(n)})`);
    this.#mustOwn('notify on');
    this.#waiters.wake(true, n);
  }

  notifyAll(): void {
    this.#mustOwn('notify on');
    this.#waiters.wake(true);
  }

  #mustOwn(what: string): void {
    const owner = this.#lock.ownerOf();
    if (owner !== callContext().client) throw notOwner(`${what} this Condition`, owner);
  }
}

/** Python's Event: a flag and the calls waiting for it. */
export class ManagedEvent {
  static readonly exposed = ['isSet', 'set', 'clear', 'wait'];
  #flag = false;
  readonly #waiters = new WaitList<true>();

  isSet(): boolean {
    return this.#flag;
  }

  set(): void {
    this.#flag = true;
    this.#waiters.wake(true);
  }

  clear(): void {
    this.#flag = false;
  }

  wait(options?: unknown): boolean | Promise<boolean> {
    const timeout = timeoutArg(options);
    if (this.#flag) return true;
    if (timeout <= 0) return false;
    const { client, signal } = callContext();
    return this.#waiters.wait(client, timeout, signal).then((outcome) => outcome !== TIMED_OUT);
  }
}

/** What the server runs as a Barrier's action (loaded from the client's target). */
export type BarrierAction = () => unknown;

/**
 * Python's Barrier. Unlike the shared one, a party whose connection drops while it waits breaks
 * the barrier at once (the others get BrokenBarrierError instead of waiting for their timeout).
 */
export class ManagedBarrier {
  static readonly exposed = ['wait', 'reset', 'abort', 'parties', 'nWaiting', 'broken'];
  readonly #parties: number;
  readonly #action: BarrierAction | undefined;
  readonly #timeout: number;
  #count = 0;
  #broken = false;
  #draining = false;
  readonly #waiters = new WaitList<true>(() => this.#break());

  constructor(parties: unknown, action: BarrierAction | undefined, timeout: number) {
    this.#parties = checkInteger(parties, 'parties', 1, 0x7fffffff);
    this.#action = action;
    this.#timeout = timeout;
  }

  /** Resolves this party's arrival index (0 for the first); BrokenBarrierError when broken. */
  async wait(options?: unknown): Promise<number> {
    const given = options as { timeout?: unknown } | undefined;
    const timeout = given?.timeout === undefined ? this.#timeout : timeoutArg(options);
    const { client, signal } = callContext();
    if (this.#broken || this.#draining) throw new BrokenBarrierError();
    const index = this.#count++;
    if (this.#count === this.#parties) {
      this.#draining = true;
      try {
        if (this.#action !== undefined) await this.#action();
      } catch (error) {
        this.#draining = false;
        this.#break();
        throw new BrokenBarrierError('the barrier action threw', { cause: error });
      }
      this.#draining = false;
      if (this.#broken) throw new BrokenBarrierError();
      this.#count = 0;
      this.#waiters.wake(true);
      return index;
    }
    let outcome: true | typeof TIMED_OUT;
    try {
      outcome = await this.#waiters.wait(client, timeout, signal);
    } catch (error) {
      if (error instanceof AbortError) this.#break();
      throw error;
    }
    if (outcome === TIMED_OUT) {
      this.#break();
      throw new BrokenBarrierError('the barrier wait timed out');
    }
    return index;
  }

  /** Back to the initial state; parties waiting now get BrokenBarrierError. */
  reset(): void {
    this.#waiters.rejectAll(() => new BrokenBarrierError('the barrier was reset'));
    this.#count = 0;
    this.#broken = false;
  }

  abort(): void {
    this.#break();
  }

  parties(): number {
    return this.#parties;
  }

  nWaiting(): number {
    return this.#draining ? 0 : this.#count;
  }

  broken(): boolean {
    return this.#broken;
  }

  #break(): void {
    this.#broken = true;
    this.#count = 0;
    this.#waiters.rejectAll(() => new BrokenBarrierError());
  }
}
