// The pool's side of one worker: its Process, its segment and channel, and the tasks it holds in
// the order it will run them. The scheduler decides; the slot sends, parks and reports.
import { pathToFileURL } from 'node:url';

import { distPath } from '../binding.js';
import { Process } from '../process.js';
import { Segment } from '../segment.js';
import type { TargetSpec } from '../target.js';
import { Deque } from './deque.js';
import { Endpoint } from './endpoint.js';
import { layoutBytes, POOL_SEGMENT, RESULT_RING_BYTES, TASK_RING_BYTES, Word } from './layout.js';
import { payloadBytes, tasksSize, writeCancel, writeDefine, writeStop, writeTasks } from './protocol.js';
import type { Task, TaskHolder } from './tasks.js';
import type { WorkerDescriptor } from './worker.js';

const WORKER_TARGET = { module: pathToFileURL(distPath('pool/worker.js')), name: 'poolWorker' };
// Tasks go out in messages of about this size, so a worker starts on the first ones while the
// rest are still being written.
const MESSAGE_BYTES = 64 * 1024;

/** What a slot reports to its scheduler. */
export interface SlotHost {
  /** The slot has something to read or room to write: drain it, then park it again. */
  service(slot: WorkerSlot): void;
  /** The worker process has exited (and been reaped). */
  exited(slot: WorkerSlot): void;
  /** The JSON of target `fnId`. */
  targetJson(fnId: number): string;
}

export interface SpawnOptions {
  name: string;
  initializer: TargetSpec | null;
  initargs: unknown[];
}

// Slots whose worker may be alive. Daemon workers die with this process anyway; at its exit their
// segments are also removed at once, rather than left to the resource tracker.
const live = new Set<WorkerSlot>();
let exitHookInstalled = false;

function onProcessExit(): void {
  for (const slot of live) {
    try {
      slot.kill();
      slot.segment.unlink();
    } catch {
      // exiting anyway
    }
  }
}

// The seq after `seq` (never 0: 0 in the started word means "nothing started").
const nextSeq = (seq: number): number => (seq + 1) >>> 0 || 1;

/** One worker process and its channel, seen from the pool. */
export class WorkerSlot implements TaskHolder {
  readonly process: Process;
  readonly segment: Segment;
  readonly endpoint: Endpoint;
  /** Sent and not yet answered, in seq order (the order the worker runs them). */
  readonly inflight = new Deque<Task>();
  readonly #host: SlotHost;
  readonly #defined = new Set<number>();
  #seq = 0;
  /** Tasks ever given to this worker (for maxTasksPerChild). */
  assigned = 0;
  stopping = false;
  exited = false;
  /** Killed by the pool (terminate, killOnAbort, a corrupt channel): not a failure to start. */
  killed = false;
  /** The worker has sent at least one result. */
  answered = false;
  /** Why the pool dropped this worker (a corrupt channel), if it did. */
  failure: unknown = undefined;
  /** What the worker's initializer threw, if it did. */
  initError: unknown = undefined;
  #parked: Promise<void> | null = null;
  #serviceQueued = false;

  private constructor(host: SlotHost, segment: Segment, process: Process) {
    this.#host = host;
    this.segment = segment;
    this.endpoint = new Endpoint(segment.buffer, 'pool');
    this.process = process;
  }

  /** Creates the channel and starts the worker. Throws what Segment.create or Process#start throws. */
  static spawn(host: SlotHost, options: SpawnOptions): WorkerSlot {
    const segment = Segment.create(POOL_SEGMENT, layoutBytes(TASK_RING_BYTES, RESULT_RING_BYTES), (s) => {
      const words = new Int32Array(s.buffer);
      words[Word.TaskCapacity] = TASK_RING_BYTES;
      words[Word.ResultCapacity] = RESULT_RING_BYTES;
    });
    try {
      const descriptor: WorkerDescriptor = {
        segment: segment.segmentName,
        initializer: options.initializer,
        initargs: options.initargs,
      };
      // Daemon: it dies with the pool's process and does not keep its event loop alive.
      const process = new Process({ target: WORKER_TARGET, args: [descriptor], name: options.name, daemon: true });
      process.start();
      const slot = new WorkerSlot(host, segment, process);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        globalThis.process.on('exit', onProcessExit);
      }
      live.add(slot);
      void process.join().then(() => host.exited(slot));
      return slot;
    } catch (error) {
      segment.close();
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** The seq of the task the worker runs or ran last (0: none yet). Written by the worker. */
  get started(): number {
    return Atomics.load(this.endpoint.words, Word.Started) >>> 0;
  }

  /** Whether the worker finished its initializer. */
  get ready(): boolean {
    return Atomics.load(this.endpoint.words, Word.State) === 1;
  }

  /** Sends `tasks` (targets it has not seen first), in as few messages as their size allows. */
  sendTasks(tasks: Task[]): void {
    for (const task of tasks) {
      this.#seq = nextSeq(this.#seq);
      task.seq = this.#seq;
      task.slot = this;
      this.inflight.push(task);
      if (!this.#defined.has(task.fnId)) {
        this.#defined.add(task.fnId);
        this.#define(task.fnId);
      }
    }
    this.assigned += tasks.length;
    let from = 0;
    let bytes = 0;
    for (let i = 0; i < tasks.length; i++) {
      bytes += payloadBytes(tasks[i]!);
      if (bytes >= MESSAGE_BYTES || i === tasks.length - 1) {
        const to = i + 1;
        this.endpoint.sendWith(tasksSize(tasks, from, to), (frame, at) => writeTasks(frame, at, tasks, from, to));
        from = to;
        bytes = 0;
      }
    }
    this.park();
  }

  #define(fnId: number): void {
    const json = this.#host.targetJson(fnId);
    this.endpoint.sendWith(8 + Buffer.byteLength(json), (frame, at) => writeDefine(frame, at, fnId, json));
  }

  /** Asks the worker to skip `task` if it has not started it. */
  cancel(task: Task): void {
    this.endpoint.sendWith(8, (frame, at) => writeCancel(frame, at, task.seq));
  }

  /** Asks the worker to exit once it has nothing left to run. */
  stop(): void {
    this.stopping = true;
    this.endpoint.sendWith(8, writeStop);
  }

  /** SIGKILL (the exit handler does the rest). */
  kill(): void {
    this.killed = true;
    if (!this.exited) this.process.kill();
  }

  /** Waits (off the event loop) for results, or for room for what the outbox holds. */
  park(): void {
    if (this.#parked !== null || this.exited) return;
    const wantData = this.inflight.length > 0;
    if (!wantData && !this.endpoint.backlog) return;
    const seen = this.endpoint.prepare(wantData);
    if (seen < 0) {
      this.#queueService();
      return;
    }
    const woken = (): void => {
      this.#parked = null;
      this.endpoint.settle();
      this.#host.service(this);
    };
    this.#parked = this.endpoint.park(seen).then(woken, woken);
  }

  #queueService(): void {
    if (this.#serviceQueued) return;
    this.#serviceQueued = true;
    queueMicrotask(() => {
      this.#serviceQueued = false;
      this.#host.service(this);
    });
  }

  /** After exit: ends the park, then releases the channel and the Process. */
  async dispose(): Promise<void> {
    live.delete(this);
    if (this.#parked !== null) {
      this.endpoint.interrupt();
      await this.#parked;
    }
    this.segment.close();
    this.process.close();
  }
}
