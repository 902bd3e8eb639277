// Server side of the manager's Queue and JoinableQueue (Python's manager serves queue.Queue):
// items live in the server process; a get or put that has to wait parks there.
import { Empty, Full } from '../../errors.js';
import { callContext, TIMED_OUT, timeoutArg, WaitList, type TimedOut } from '../call.js';
import { checkInteger } from '../../util.js';

/** A FIFO with O(1) push and shift. */
class Deque<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T {
    const item = this.#items[this.#head] as T;
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** Python's queue.Queue, served. */
export class ManagedQueue {
  static readonly exposed = ['put', 'get', 'putNowait', 'getNowait', 'qsize', 'empty', 'full'];
  readonly #items = new Deque<unknown>();
  readonly #maxsize: number;
  readonly #getters = new WaitList<unknown>();
  // A parked put carries its item; it is woken with `true` once the waker moved the item in.
  readonly #putters = new WaitList<true>();

  constructor(maxsize: unknown = 0) {
    this.#maxsize = checkInteger(maxsize, 'maxsize', 0);
  }

  put(item: unknown, options?: unknown): void | Promise<void> {
    const timeout = timeoutArg(options);
    if (!this.full() && this.#putters.size === 0) return this.#add(item);
    if (timeout <= 0) throw new Full();
    const { client, signal } = callContext();
    return this.#putters.wait(client, timeout, signal, item).then((outcome) => {
      if (outcome === TIMED_OUT) throw new Full();
    });
  }

  get(options?: unknown): unknown {
    const timeout = timeoutArg(options);
    if (this.#items.length > 0) return this.#take();
    if (timeout <= 0) throw new Empty();
    const { client, signal } = callContext();
    return this.#getters.wait(client, timeout, signal).then((outcome: unknown | TimedOut) => {
      if (outcome === TIMED_OUT) throw new Empty();
      return outcome;
    });
  }

  putNowait(item: unknown): void | Promise<void> {
    return this.put(item, { timeout: 0 });
  }

  getNowait(): unknown {
    return this.get({ timeout: 0 });
  }

  qsize(): number {
    return this.#items.length;
  }

  empty(): boolean {
    return this.#items.length === 0;
  }

  full(): boolean {
    return this.#maxsize > 0 && this.#items.length >= this.#maxsize;
  }

  /** Hook for JoinableQueue: an item went in. */
  protected added(): void {}

  #add(item: unknown): void {
    this.added();
    const getter = this.#getters.shift();
    if (getter !== undefined) getter.resolve(item);
    else this.#items.push(item);
  }

  #take(): unknown {
    const item = this.#items.shift();
    // Room now: the longest-waiting put goes in.
    const putter = this.#putters.shift();
    if (putter !== undefined) {
      this.added();
      this.#items.push(putter.payload);
      putter.resolve(true);
    }
    return item;
  }
}

/** Python's JoinableQueue: counts unfinished tasks. */
export class ManagedJoinableQueue extends ManagedQueue {
  static override readonly exposed = [...ManagedQueue.exposed, 'taskDone', 'join'];
  #unfinished = 0;
  readonly #joiners = new WaitList<true>();

  protected override added(): void {
    this.#unfinished++;
  }

  taskDone(): void {
    if (this.#unfinished <= 0) throw new RangeError('taskDone() called more times than there were items');
    if (--this.#unfinished === 0) this.#joiners.wake(true);
  }

  /** Resolves true when every item put was marked done; false when the timeout ran out first. */
  join(options?: unknown): boolean | Promise<boolean> {
    const timeout = timeoutArg(options);
    if (this.#unfinished === 0) return true;
    if (timeout <= 0) return false;
    const { client, signal } = callContext();
    return this.#joiners.wait(client, timeout, signal).then((outcome) => outcome !== TIMED_OUT);
  }
}
