// Queue: Python's multiprocessing.Queue over a lock-free shared-memory ring (API.md section 5).
import { existsSync } from 'node:fs';

import { AbortError, Closed, ShutDown } from '../errors.js';
import { registerHandleKind, type HandleDescriptor } from '../handles.js';
import { Segment, type SegmentKind } from '../segment.js';
import {
  checkInteger,
  checkOptionsBag,
  checkSignal,
  describe,
  syncTimeoutOf,
  timeoutOf,
  type SyncWaitOptions,
  type WaitOptions,
} from '../util.js';
import { QueueCore } from './core.js';
import { checkQueueOptions, KIND_BYTES, KIND_OBJECT, NOTHING, QUEUE_KIND, type QueueOptions } from './layout.js';
import * as ops from './ops.js';
import { sweepOrphanSideFiles, sweepSideFiles } from './overflow.js';

let adopting: QueueCore | null = null;
let sweptOrphans = false;

/** Makes (or adopts) the core of a queue object; shared by the three classes. */
export function coreFor(kind: SegmentKind, options: unknown): QueueCore {
  if (adopting !== null) {
    const core = adopting;
    adopting = null;
    return core;
  }
  const shape = checkQueueOptions(options);
  if (!sweptOrphans) {
    sweptOrphans = true;
    sweepOrphanSideFiles();
  }
  return QueueCore.create(kind, shape);
}

/** Builds an object of class `Ctor` around an existing core (open, fromHandle). */
export function adopt<T>(Ctor: new () => T, core: QueueCore): T {
  adopting = core;
  try {
    return new Ctor();
  } finally {
    adopting = null;
  }
}

/** Opens the segment a handle descriptor names, for the class whose handle kind is `handleKind`. */
export function coreFromHandle(kind: SegmentKind, handleKind: string, descriptor: HandleDescriptor): QueueCore {
  if (typeof descriptor !== 'object' || descriptor === null || descriptor.kind !== handleKind) {
    throw new TypeError(`not a ${handleKind} handle (got ${describe(descriptor)})`);
  }
  if (descriptor.version !== kind.version) {
    throw new TypeError(`${handleKind} handle version ${String(descriptor.version)} is not ${kind.version}`);
  }
  const segment = Segment.openHandle(kind, descriptor.segment);
  try {
    return new QueueCore(segment);
  } catch (error) {
    segment.close();
    throw error;
  }
}

/** Opens a named queue's core. ENOENT when there is none. */
export function coreOpen(kind: SegmentKind, name: unknown, options: unknown): QueueCore {
  checkOptionsBag(options);
  const mode = (options as { mode?: unknown } | undefined)?.mode;
  if (mode !== undefined) checkInteger(mode, 'mode', 0, 0o777);
  const segment = Segment.openNamed(kind, name as string, { mode: mode as number | undefined });
  try {
    return new QueueCore(segment);
  } catch (error) {
    segment.close();
    throw error;
  }
}

/** Closes a core; the last holder of an unnamed queue also deletes its leftover side files. */
export function closeCore(core: QueueCore): void {
  if (core.segment.closed) return;
  core.close();
  if (!core.segment.named && !existsSync(`/dev/shm${core.segment.segmentName}`)) sweepSideFiles(core.queueId);
}

/** Queue#unlink and SimpleQueue#unlink: ends the queue for every holder and removes its name. */
export function unlinkCore(core: QueueCore): void {
  if (core.segment.closed) throw new Closed(`${core.segment.kind.label} is closed`);
  core.segment.unlink();
  core.ring.wakeAll();
  sweepSideFiles(core.queueId);
}

export function checkWait(options: WaitOptions | undefined): number {
  if (options === undefined) return Infinity;
  checkOptionsBag(options);
  checkSignal(options?.signal);
  if (options?.signal?.aborted) throw new AbortError();
  return timeoutOf(options);
}

/**
 * A multi-producer multi-consumer FIFO queue shared by processes (Python's
 * `multiprocessing.Queue`). Items are values that travel with structured-clone semantics (or raw
 * bytes with putBytes/getBytes); the queue itself travels as a handle in Process arguments and
 * inside messages, and named queues open by name (`Queue.open`).
 */
export class Queue<T = unknown> implements AsyncIterable<T> {
  static readonly handleKind: string = 'Queue';
  /** @internal */
  static readonly segmentKind: SegmentKind = QUEUE_KIND;
  readonly #core: QueueCore;

  /**
   * Creates a queue. Throws TypeError/RangeError for bad options (`maxsize` an integer >= 0,
   * `capacityBytes` 4096 .. 2^30), EEXIST for a taken name, ENOSPC when /dev/shm is full.
   */
  constructor(options?: QueueOptions) {
    this.#core = coreFor((new.target as typeof Queue).segmentKind, options);
  }

  /** Opens the named queue `name` made by any process of this user. ENOENT when missing. */
  static open<T = unknown>(name: string, options?: { mode?: number }): Queue<T> {
    return adopt(this as unknown as new () => Queue<T>, coreOpen(this.segmentKind, name, options));
  }

  /** Revives a descriptor made by toHandle() (in this or another process). */
  static fromHandle<T = unknown>(descriptor: HandleDescriptor): Queue<T> {
    return adopt(this as unknown as new () => Queue<T>, coreFromHandle(this.segmentKind, this.handleKind, descriptor));
  }

  /** @internal */
  get core(): QueueCore {
    return this.#core;
  }

  /** The item bound (0: none). */
  get maxsize(): number {
    return this.#core.maxsize;
  }

  /** Whether this handle was closed. */
  get closed(): boolean {
    return this.#core.segment.closed;
  }

  /** A JSON-safe descriptor that `fromHandle` (or the package's `fromHandle`) revives. */
  toHandle(): HandleDescriptor {
    const ctor = this.constructor as typeof Queue;
    return { kind: ctor.handleKind, version: ctor.segmentKind.version, segment: this.#core.segment.segmentName };
  }

  /**
   * Puts `item`, waiting for room while the queue is full. Rejects with Full when the timeout
   * runs out, ShutDown after shutdown(), SerializationError for a value that cannot travel,
   * AbortError, Closed; a rejected put put nothing.
   */
  async put(item: T, options?: WaitOptions): Promise<void> {
    const timeout = checkWait(options);
    const rest = ops.encodeAndTryPut(this.#core, item);
    if (rest !== null) await ops.putAsync(this.#core, rest, KIND_OBJECT, timeout, options?.signal);
  }

  /** The blocking form of put: `{ block: false }` or `{ timeout }` as in Python. Throws as put. */
  putSync(item: T, options?: SyncWaitOptions): void {
    const timeout = syncTimeoutOf(options);
    const rest = ops.encodeAndTryPut(this.#core, item);
    if (rest !== null) ops.putSync(this.#core, rest, KIND_OBJECT, timeout);
  }

  /** Puts without waiting; throws Full when there is no room. */
  putNowait(item: T): void {
    this.putSync(item, { block: false });
  }

  /**
   * Takes the next item, waiting while the queue is empty. Rejects with Empty when the timeout
   * runs out, ShutDown once shut down and drained, AbortError, Closed; a rejected get took nothing.
   * An item put with putBytes arrives as a Buffer.
   */
  async get(options?: WaitOptions): Promise<T> {
    const timeout = checkWait(options);
    const fast = this.#core.takeFast(0); // an item ready now costs no second Promise
    if (fast !== NOTHING) return fast as T;
    return (await ops.getAsync(this.#core, 0, timeout, options?.signal)) as T;
  }

  /** The blocking form of get. Throws as get. */
  getSync(options?: SyncWaitOptions): T {
    return ops.getSync(this.#core, 0, syncTimeoutOf(options)) as T;
  }

  /** Takes an item without waiting; throws Empty when there is none. */
  getNowait(): T {
    return this.getSync({ block: false });
  }

  /** Puts raw bytes (no serialization; copied before the promise settles). Rejects as put. */
  async putBytes(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, options?: WaitOptions): Promise<void> {
    const timeout = checkWait(options);
    const view = ops.bytesOf(bytes);
    if (view.length > this.#core.ring.maxInline || !this.#core.tryPut(view, KIND_BYTES, null)) {
      await ops.putAsync(this.#core, view, KIND_BYTES, timeout, options?.signal);
    }
  }

  /** The blocking form of putBytes. */
  putBytesSync(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, options?: SyncWaitOptions): void {
    const timeout = syncTimeoutOf(options);
    const view = ops.bytesOf(bytes);
    if (view.length > this.#core.ring.maxInline || !this.#core.tryPut(view, KIND_BYTES, null)) {
      ops.putSync(this.#core, view, KIND_BYTES, timeout);
    }
  }

  /**
   * Takes the next item as bytes. Rejects with TypeError, leaving the item in place, when it was
   * put as an object; otherwise as get.
   */
  async getBytes(options?: WaitOptions): Promise<Buffer> {
    const timeout = checkWait(options);
    const fast = this.#core.takeFast(KIND_OBJECT);
    if (fast !== NOTHING) return fast as Buffer;
    return (await ops.getAsync(this.#core, KIND_OBJECT, timeout, options?.signal)) as Buffer;
  }

  /** The blocking form of getBytes. */
  getBytesSync(options?: SyncWaitOptions): Buffer {
    return ops.getSync(this.#core, KIND_OBJECT, syncTimeoutOf(options)) as Buffer;
  }

  /**
   * Puts every item, in order, with as few claims and wake-ups as the ring allows (waiting for
   * room as needed; no timeout). All items are serialized first, so a SerializationError puts
   * nothing. Resolves with the count.
   */
  async putMany(items: readonly T[]): Promise<number> {
    if (!Array.isArray(items)) throw new TypeError(`items must be an array (got ${describe(items)})`);
    return ops.putManyAsync(this.#core, items, false);
  }

  /**
   * Waits for at least one item (as get), then takes every item ready, up to `max` (default 256).
   */
  async getMany(max = 256, options?: WaitOptions): Promise<T[]> {
    checkInteger(max, 'max', 1, 2 ** 31 - 1);
    const timeout = checkWait(options);
    return (await ops.getManyAsync(this.#core, max, timeout, options?.signal)) as T[];
  }

  /** Items in the queue now (approximate while other processes work). */
  qsize(): number {
    this.#core.check();
    return this.#core.ring.size();
  }

  /** Whether the queue is empty now. */
  empty(): boolean {
    return this.qsize() === 0;
  }

  /** Whether a put would wait now: maxsize items, or no room left in the ring. */
  full(): boolean {
    this.#core.check();
    const core = this.#core;
    return (core.maxsize > 0 && core.ring.size() >= core.maxsize) || !core.ring.hasRoom(0);
  }

  /**
   * Ends the queue for every process (Python 3.13): later puts throw ShutDown; gets drain what is
   * left and then throw ShutDown; `{ immediate: true }` drops what is left. Waiters wake.
   */
  shutdown(options?: { immediate?: boolean }): void {
    checkOptionsBag(options);
    const immediate = options?.immediate ?? false;
    if (typeof immediate !== 'boolean') throw new TypeError(`immediate must be a boolean (got ${describe(immediate)})`);
    this.#core.shutdown(immediate);
  }

  /** Whether shutdown() was called (by any process). */
  get isShutDown(): boolean {
    this.#core.check();
    return this.#core.state !== 0;
  }

  /** Ends this process's use of its handle; its pending waits reject with Closed. Idempotent. */
  close(): void {
    closeCore(this.#core);
  }

  /** Removes a named queue's name and marks the queue closed for every holder. */
  unlink(): void {
    unlinkCore(this.#core);
  }

  /** Yields items as get() does; ends when the queue is shut down and drained. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      try {
        yield await this.get();
      } catch (error) {
        if (error instanceof ShutDown) return;
        throw error;
      }
    }
  }

  /** close() */
  [Symbol.dispose](): void {
    this.close();
  }
}

registerHandleKind(Queue.handleKind, (descriptor) => Queue.fromHandle(descriptor));
