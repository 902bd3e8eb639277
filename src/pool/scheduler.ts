// The pool's core: tasks wait in one FIFO until a worker has room in its prefetch window; each
// flush sends every worker its share as one message; results come back one record per task,
// drained in batches whenever the pool wakes. The window adapts to how long tasks take (long
// tasks: one at a time per worker, so they spread; tiny ones: up to MAX_WINDOW, so a worker never
// waits for the pool).
//
// A worker's death is seen through its Process (pidfd), never guessed from a timeout. Then: the
// results it published count; the task it had started fails with WorkerDiedError; the tasks it
// had not started go back to the front of the queue; a fresh worker takes its place — unless
// workers keep dying before they ever become ready (a broken initializer): then the pool breaks.
import { Closed, CorruptionError, ProcessError, WorkerDiedError } from '../errors.js';
import { deserialize } from '../serialize.js';
import { prepareTarget, type Target } from '../target.js';
import { Deque } from './deque.js';
import { readNumbers, RESULT_HEADER, Status, ToPool, type Frame } from './protocol.js';
import { WorkerSlot, type SlotHost } from './slot.js';
import { TargetRegistry } from './targets.js';
import { remoteError, setCause, workerDied, type Task } from './tasks.js';
import { singleValue } from './jobs.js';

const MAX_WINDOW = 1024;
/** Submissions of one tick are sent on the spot every this many (a power of two). */
const EARLY_FLUSH = 256;
/** The work (by the workers' own clocks) a worker may hold beyond the task it runs. */
const WINDOW_MS = 2;

export interface CoreOptions {
  processes: number;
  initializer: Target | undefined;
  initargs: unknown[];
  maxTasksPerChild: number;
}

type State = 'running' | 'closed' | 'terminated' | 'broken';

const after = (a: number, b: number): boolean => ((a - b) | 0) > 0;

/** The machinery behind a Pool (pool.ts validates and builds jobs; this runs them). */
export class PoolCore implements SlotHost {
  readonly processes: number;
  readonly #options: CoreOptions;
  readonly #initializer: ReturnType<typeof prepareTarget> | null;
  #state: State = 'running';
  #brokenError: Error | undefined;
  readonly #slots = new Set<WorkerSlot>();
  readonly #pending = new Deque<Task>();
  #flushQueued = false;
  #spawned = 0;
  #deathsBeforeReady = 0;
  #avgMs = NaN;
  #window = 1;
  /** Tasks submitted and not yet done. */
  #outstanding = 0;
  /** Lazy jobs (imap) that may still submit tasks. */
  #feeds = 0;
  #disposing = 0;
  #respawnTimer: NodeJS.Timeout | undefined;
  readonly #keepAlive: NodeJS.Timeout;
  #joined: Promise<void> | undefined;
  #ended = false;
  #resolveJoined: (() => void) | undefined;
  readonly #targets = new TargetRegistry();

  constructor(options: CoreOptions) {
    this.#options = options;
    this.processes = options.processes;
    this.#initializer = options.initializer === undefined ? null : prepareTarget(options.initializer, process.cwd());
    // Ref'd only while tasks are outstanding or join() waits: workers are daemons and an idle
    // pool must not keep the process alive.
    this.#keepAlive = setInterval(() => {}, 2 ** 30);
    this.#keepAlive.unref();
    try {
      for (let i = 0; i < options.processes; i++) this.#spawn(true);
    } catch (error) {
      this.terminate();
      throw error;
    }
  }

  get state(): State {
    return this.#state;
  }

  /** Throws Closed (closed or terminated) or the pool's breaking error when no job may start. */
  checkRunning(): void {
    if (this.#state === 'running') return;
    if (this.#state === 'broken') throw this.#brokenError!;
    throw new Closed(`the pool is ${this.#state === 'closed' ? 'closed' : 'terminated'}: it takes no new tasks`);
  }

  /** The id of `target` (TypeError when it is not a target). */
  targetId(target: Target): number {
    return this.#targets.id(target);
  }

  targetJson(fnId: number): string {
    return this.#targets.json(fnId);
  }

  // ---- submitting and cancelling ----

  /** Queues `task`; it goes out with the others of this tick. Fails it at once if the pool cannot run it. */
  submit(task: Task): void {
    if (this.#state === 'terminated' || this.#state === 'broken') {
      task.done = true;
      task.job.taskDone(
        task,
        false,
        this.#state === 'broken' ? this.#brokenError : new Closed('the pool was terminated'),
      );
      return;
    }
    if (this.#outstanding++ === 0) this.#keepAlive.ref();
    this.#pending.push(task);
    // A long run of submissions in one tick starts the workers before it ends.
    if ((this.#pending.length & (EARLY_FLUSH - 1)) === 0) this.#dispatch();
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#dispatch());
    }
  }

  /**
   * Gives up `task` (its job has settled it or will): a queued task is dropped, one sent but not
   * started is skipped by its worker, a running one finishes unheard — or, with `kill`, its
   * worker is killed (and replaced; the other tasks it held go elsewhere).
   */
  cancel(task: Task, kill = false): void {
    if (task.done) return;
    this.#finish(task);
    const slot = task.slot as WorkerSlot | null;
    if (slot === null || slot.exited) return; // still queued: skipped when its turn comes
    if (after(task.seq, slot.started)) slot.cancel(task);
    else if (kill && slot.started === task.seq) slot.kill();
  }

  /** A lazy job starts (true) or stops (false) feeding tasks; join waits for the feeds. */
  feed(active: boolean): void {
    this.#feeds += active ? 1 : -1;
    if (!active) this.#dispatch();
  }

  #finish(task: Task): void {
    task.done = true;
    // join() keeps the process alive until the workers are gone.
    if (--this.#outstanding === 0 && this.#joined === undefined) this.#keepAlive.unref();
  }

  #settle(task: Task, ok: boolean, value: unknown): void {
    if (task.done) return;
    this.#finish(task);
    task.job.taskDone(task, ok, value);
  }

  // ---- dispatching ----

  #dispatch(): void {
    this.#flushQueued = false;
    if (this.#state === 'terminated') return;
    const pending = this.#pending;
    while (pending.length > 0 && pending.peek()!.done) pending.shift();
    if (pending.length > 0 && this.#state !== 'broken') {
      const max = this.#options.maxTasksPerChild;
      const open: WorkerSlot[] = [];
      const load: number[] = [];
      const room: number[] = [];
      for (const slot of this.#slots) {
        if (slot.stopping || slot.exited) continue;
        let free = this.#window - slot.inflight.length;
        if (max !== 0) free = Math.min(free, max - slot.assigned);
        if (free <= 0) continue;
        open.push(slot);
        load.push(slot.inflight.length);
        room.push(free);
      }
      if (open.length > 0) {
        const batches: Task[][] = open.map(() => []);
        // Each task to the worker holding the fewest: a short queue spreads evenly.
        while (pending.length > 0) {
          let best = -1;
          for (let i = 0; i < open.length; i++) if (room[i]! > 0 && (best < 0 || load[i]! < load[best]!)) best = i;
          if (best < 0) break;
          const task = pending.shift()!;
          if (task.done) continue;
          batches[best]!.push(task);
          load[best]!++;
          room[best]!--;
        }
        for (let i = 0; i < open.length; i++) if (batches[i]!.length > 0) open[i]!.sendTasks(batches[i]!);
      }
    }
    this.#stopIdle();
  }

  // Workers with nothing to do that should go: their task budget is spent, or the pool is
  // closing and nothing is left to run.
  #stopIdle(): void {
    const max = this.#options.maxTasksPerChild;
    const draining = this.#state !== 'running' && this.#pending.length === 0 && this.#feeds === 0;
    for (const slot of this.#slots) {
      if (slot.stopping || slot.exited || slot.inflight.length > 0) continue;
      if (draining || (max !== 0 && slot.assigned >= max)) slot.stop();
    }
  }

  // ---- what workers send ----

  service(slot: WorkerSlot): void {
    if (slot.exited) return;
    try {
      if (slot.endpoint.backlog) slot.endpoint.flush();
      slot.endpoint.receive((frame, start, end) => this.#message(slot, frame, start, end));
    } catch (error) {
      slot.failure ??= error;
      slot.kill();
      return;
    }
    this.#dispatch();
    slot.park();
  }

  #message(slot: WorkerSlot, f: Frame, start: number, end: number): void {
    const word = end - start >= 8 ? f.u32[start >>> 2]! : 0;
    if (word === ToPool.InitFailed) {
      slot.initError = this.#decode(f.bytes.subarray(start + 8, end), slot, false);
      return;
    }
    if ((word & 0xff) !== ToPool.Result || word >>> 17 !== 0 || end - start < RESULT_HEADER) {
      throw new CorruptionError('a pool worker sent a malformed message');
    }
    const status = (word >>> 8) & 0xff;
    const seq = f.u32[(start >>> 2) + 1]!;
    const busy = f.f64[(start >>> 3) + 1]!;
    const task = slot.inflight.peek();
    if (task === undefined || task.seq !== seq) throw new CorruptionError('a pool worker answered out of order');
    slot.inflight.shift();
    slot.answered = true;
    this.#deathsBeforeReady = 0;
    // Refill this worker before decoding the result, so that it never waits for the decoding.
    if (this.#pending.length > 0 && slot.inflight.length * 2 < this.#window) this.#dispatch();
    if (status !== Status.Skipped && busy >= 0 && busy < 1e9) {
      this.#avgMs = Number.isNaN(this.#avgMs) ? busy : this.#avgMs * 0.75 + busy * 0.25;
      this.#window = Math.max(1, Math.min(MAX_WINDOW, Math.floor(WINDOW_MS / Math.max(this.#avgMs, 1e-6))));
    }
    if (task.done) return; // cancelled, aborted or abandoned: nobody waits for it
    const from = start + RESULT_HEADER;
    if (status === Status.Ok) {
      let value: unknown;
      try {
        value =
          (word & (1 << 16)) !== 0
            ? readNumbers(f, from, end, singleValue(task.mode))
            : deserialize(f.bytes.subarray(from, end));
      } catch (error) {
        return this.#settle(task, false, error);
      }
      return this.#settle(task, true, value);
    }
    if (status === Status.Error)
      return this.#settle(task, false, this.#decode(f.bytes.subarray(from, end), slot, true));
    // Skipped, but never cancelled: the worker is confused or hostile.
    throw new CorruptionError('a pool worker skipped a task it was not asked to skip');
  }

  #decode(payload: Uint8Array, slot: WorkerSlot, remote: boolean): unknown {
    try {
      const thrown = deserialize(payload);
      return remote ? remoteError(thrown, slot.pid) : thrown;
    } catch (error) {
      return error;
    }
  }

  // ---- worker lifecycle ----

  #spawn(initial = false): void {
    const slot = WorkerSlot.spawn(this, {
      name: `SpawnPoolWorker-${++this.#spawned}`,
      initializer: this.#initializer,
      initargs: this.#options.initargs,
    });
    this.#slots.add(slot);
    if (!initial) this.#dispatch();
  }

  exited(slot: WorkerSlot): void {
    slot.exited = true;
    if (slot.failure === undefined) {
      try {
        slot.endpoint.receive((frame, start, end) => this.#message(slot, frame, start, end)); // what it published before dying counts
      } catch (error) {
        slot.failure = error;
      }
    }
    const started = slot.started;
    const exitCode = slot.process.exitCode;
    const requeue: Task[] = [];
    for (const task of slot.inflight.drain()) {
      if (task.done) continue;
      task.slot = null;
      if (started !== 0 && !after(task.seq, started))
        this.#settle(task, false, workerDied(slot.pid, exitCode, slot.failure));
      else requeue.push(task);
    }
    for (let i = requeue.length - 1; i >= 0; i--) this.#pending.unshift(requeue[i]!);
    if (!slot.killed && !slot.stopping) {
      if (slot.ready || slot.answered) this.#deathsBeforeReady = 0;
      else this.#deathsBeforeReady++;
    }
    this.#slots.delete(slot);
    this.#disposing++;
    void slot.dispose().finally(() => {
      this.#disposing--;
      this.#checkJoined();
    });
    if (this.#deathsBeforeReady >= Math.max(3, this.processes)) this.#break(slot, exitCode);
    else this.#replenish();
    this.#dispatch();
    this.#checkJoined();
  }

  #wantsWorkers(): boolean {
    if (this.#state === 'running') return true;
    return this.#state === 'closed' && (this.#pending.length > 0 || this.#feeds > 0);
  }

  #replenish(): void {
    this.#respawnTimer = undefined;
    while (this.#slots.size < this.processes && this.#wantsWorkers()) {
      try {
        this.#spawn();
      } catch (error) {
        // Cannot start a process now (EAGAIN, EMFILE...): counts as a worker that never started.
        if (++this.#deathsBeforeReady >= Math.max(3, this.processes)) {
          this.#break(undefined, null, error);
          return;
        }
        this.#respawnTimer ??= setTimeout(() => this.#replenish(), 100);
        return;
      }
    }
  }

  #break(slot: WorkerSlot | undefined, exitCode: number | null, cause?: unknown): void {
    const error = new WorkerDiedError(
      `the pool is broken: ${this.#deathsBeforeReady} worker processes in a row died before they could run ` +
        `a task (the last ${slot === undefined ? 'could not be started' : `exited with code ${exitCode}`}); ` +
        'is the initializer failing?',
      { ...(slot?.pid === undefined ? {} : { pid: slot.pid }), exitCode, signal: null },
    );
    const why = cause ?? slot?.initError;
    if (why !== undefined) setCause(error, why);
    this.#brokenError = error;
    if (this.#state === 'running' || this.#state === 'closed') this.#state = 'broken';
    for (const task of this.#pending.drain()) this.#settle(task, false, error);
  }

  // ---- ending ----

  /** No new jobs; workers exit once everything submitted has run (Python's close). */
  close(): void {
    if (this.#state === 'running') this.#state = 'closed';
    this.#dispatch();
    this.#checkJoined();
  }

  /** Kills every worker now; everything not finished rejects with Closed. Idempotent. */
  terminate(): void {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    if (this.#respawnTimer !== undefined) clearTimeout(this.#respawnTimer);
    const error = new Closed('the pool was terminated before this task completed');
    for (const task of this.#pending.drain()) this.#settle(task, false, error);
    for (const slot of this.#slots) {
      for (const task of slot.inflight) this.#settle(task, false, error);
      slot.kill();
    }
    this.#checkJoined();
  }

  /** Resolves once the pool is closed or terminated and every worker has exited. */
  join(): Promise<void> {
    if (this.#state === 'running') {
      return Promise.reject(new ProcessError('join() needs close() or terminate() first (as in Python)'));
    }
    this.#joined ??= new Promise<void>((resolve) => (this.#resolveJoined = resolve));
    if (!this.#ended) this.#keepAlive.ref();
    this.#checkJoined();
    return this.#joined;
  }

  #checkJoined(): void {
    if (this.#state === 'running' || this.#slots.size > 0 || this.#disposing > 0) return;
    if (this.#state === 'closed' && (this.#pending.length > 0 || this.#feeds > 0)) return;
    this.#ended = true;
    clearInterval(this.#keepAlive);
    this.#resolveJoined?.();
  }
}
