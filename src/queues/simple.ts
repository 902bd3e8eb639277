// SimpleQueue: Python's multiprocessing.SimpleQueue (put, get, empty, close) on the same ring.
import { AbortError } from '../errors.js';
import { registerHandleKind, type HandleDescriptor } from '../handles.js';
import type { SegmentKind } from '../segment.js';
import {
  checkOptionsBag,
  checkSignal,
  syncTimeoutOf,
  timeoutOf,
  type SyncWaitOptions,
  type WaitOptions,
} from '../util.js';
import type { QueueCore } from './core.js';
import { KIND_OBJECT, SIMPLE_QUEUE_KIND, type QueueOptions } from './layout.js';
import * as ops from './ops.js';
import { adopt, closeCore, coreFor, coreFromHandle, coreOpen, unlinkCore } from './queue.js';

/**
 * The small queue: put, get (and their Sync forms), empty, close. Unbounded in items, bounded
 * in bytes by its ring like Queue. Travels as a handle like Queue.
 */
export class SimpleQueue<T = unknown> implements AsyncIterable<T> {
  static readonly handleKind: string = 'SimpleQueue';
  /** @internal */
  static readonly segmentKind: SegmentKind = SIMPLE_QUEUE_KIND;
  readonly #core: QueueCore;

  /** Creates a SimpleQueue (options as Queue's: capacityBytes, maxOverflowBytes, name, ...). */
  constructor(options?: Omit<QueueOptions, 'maxsize'>) {
    if (options !== undefined && (options as QueueOptions).maxsize !== undefined) {
      throw new TypeError('a SimpleQueue has no maxsize (use Queue)');
    }
    this.#core = coreFor(SIMPLE_QUEUE_KIND, options);
  }

  /** Opens the named SimpleQueue `name`. ENOENT when missing. */
  static open<T = unknown>(name: string, options?: { mode?: number }): SimpleQueue<T> {
    return adopt(SimpleQueue as new () => SimpleQueue<T>, coreOpen(SIMPLE_QUEUE_KIND, name, options));
  }

  /** Revives a descriptor made by toHandle(). */
  static fromHandle<T = unknown>(descriptor: HandleDescriptor): SimpleQueue<T> {
    return adopt(
      SimpleQueue as new () => SimpleQueue<T>,
      coreFromHandle(SIMPLE_QUEUE_KIND, SimpleQueue.handleKind, descriptor),
    );
  }

  /** A JSON-safe descriptor that `fromHandle` revives. */
  toHandle(): HandleDescriptor {
    return {
      kind: SimpleQueue.handleKind,
      version: SIMPLE_QUEUE_KIND.version,
      segment: this.#core.segment.segmentName,
    };
  }

  /** Puts `item`, waiting while the ring is full. Rejects as Queue#put. */
  async put(item: T, options?: WaitOptions): Promise<void> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    if (options?.signal?.aborted) throw new AbortError();
    const timeout = timeoutOf(options);
    const rest = ops.encodeAndTryPut(this.#core, item);
    if (rest !== null) await ops.putAsync(this.#core, rest, KIND_OBJECT, timeout, options?.signal);
  }

  /** The blocking form of put. */
  putSync(item: T, options?: SyncWaitOptions): void {
    const timeout = syncTimeoutOf(options);
    const rest = ops.encodeAndTryPut(this.#core, item);
    if (rest !== null) ops.putSync(this.#core, rest, KIND_OBJECT, timeout);
  }

  /** Takes the next item, waiting while the queue is empty. Rejects as Queue#get. */
  async get(options?: WaitOptions): Promise<T> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    if (options?.signal?.aborted) throw new AbortError();
    return (await ops.getAsync(this.#core, 0, timeoutOf(options), options?.signal)) as T;
  }

  /** The blocking form of get. */
  getSync(options?: SyncWaitOptions): T {
    return ops.getSync(this.#core, 0, syncTimeoutOf(options)) as T;
  }

  /** Whether the queue is empty now. */
  empty(): boolean {
    this.#core.check();
    return this.#core.ring.size() === 0;
  }

  /** Ends this process's use of its handle. Idempotent. */
  close(): void {
    closeCore(this.#core);
  }

  /** Whether this handle was closed. */
  get closed(): boolean {
    return this.#core.segment.closed;
  }

  /**
   * Removes a named SimpleQueue's name and ends the queue for every holder (as Queue#unlink):
   * without it a named SimpleQueue could never be removed (API.md: a named object lives until
   * `unlink()`).
   */
  unlink(): void {
    unlinkCore(this.#core);
  }

  /** Yields items as get() does (a SimpleQueue is never shut down: break out of the loop). */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) yield await this.get();
  }

  /** close() */
  [Symbol.dispose](): void {
    this.close();
  }
}

registerHandleKind(SimpleQueue.handleKind, (descriptor) => SimpleQueue.fromHandle(descriptor));
