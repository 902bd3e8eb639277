// JoinableQueue: a Queue whose consumers mark tasks done, so producers can wait for all of them.
import type { HandleDescriptor } from '../handles.js';
import { registerHandleKind } from '../handles.js';
import type { SegmentKind } from '../segment.js';
import { checkOptionsBag, syncTimeoutOf, type WaitOptions } from '../util.js';
import { JOINABLE_QUEUE_KIND } from './layout.js';
import * as ops from './ops.js';
import { checkWait, Queue } from './queue.js';

/**
 * A Queue with Python's `task_done()`/`join()`: every item put is a task, unfinished until a
 * consumer calls taskDone() for it. A task whose consumer died is never done: pass a timeout
 * to join(). Items dropped by `shutdown({ immediate: true })` count as done.
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  static override readonly handleKind: string = 'JoinableQueue';
  /** @internal */
  static override readonly segmentKind: SegmentKind = JOINABLE_QUEUE_KIND;

  /** Opens the named JoinableQueue `name`. ENOENT when missing. */
  static override open<T = unknown>(name: string, options?: { mode?: number }): JoinableQueue<T> {
    return super.open.call(this, name, options) as JoinableQueue<T>;
  }

  /** Revives a descriptor made by toHandle(). */
  static override fromHandle<T = unknown>(descriptor: HandleDescriptor): JoinableQueue<T> {
    return super.fromHandle.call(this, descriptor) as JoinableQueue<T>;
  }

  /** Marks one task done. Throws RangeError when called more times than items were put. */
  taskDone(): void {
    this.core.check();
    this.core.taskDone(1, true);
  }

  /**
   * Resolves when every item put has been marked done: `true`, or `false` when the timeout ran
   * out first. Rejects with AbortError, Closed.
   */
  async join(options?: WaitOptions): Promise<boolean> {
    const timeout = checkWait(options);
    return ops.joinAsync(this.core, timeout, options?.signal);
  }

  /** The blocking form of join. */
  joinSync(options?: { timeout?: number | null }): boolean {
    checkOptionsBag(options);
    return ops.joinSync(this.core, syncTimeoutOf(options));
  }
}

registerHandleKind(JoinableQueue.handleKind, (descriptor) => JoinableQueue.fromHandle(descriptor));
