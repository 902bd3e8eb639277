// imap and imapUnordered: a lazy job. Items are pulled from a sync or async iterable only while
// fewer than `buffersize` chunks are in flight or waiting to be read, so an endless generator
// runs in bounded memory (Python's imap reads its whole input first: gh-64192). Results come out
// as an async iterator: in input order (imap) or as they complete (imapUnordered).
//
// Failures arrive where they happened: a task's error when the iteration reaches that chunk
// (imap) or that completion (imapUnordered); an error thrown by the input after the chunks before
// it. Either ends the iteration; breaking out of `for await` (return()) ends it too, closes the
// input and gives up the tasks still queued.
import { AbortError } from '../errors.js';
import { Deque } from './deque.js';
import { chunkMode, encodeChunk, singleValue } from './jobs.js';
import type { Mode } from './protocol.js';
import type { PoolCore } from './scheduler.js';
import { Task, type Encoded, type Job } from './tasks.js';

interface Entry {
  ok: boolean;
  value: unknown;
}

interface Waiter {
  resolve: (result: IteratorResult<unknown>) => void;
  reject: (error: unknown) => void;
}

export interface ImapSettings {
  fnId: number;
  starmap: boolean;
  ordered: boolean;
  chunksize: number;
  buffersize: number;
  signal: AbortSignal | undefined;
}

const DONE: IteratorResult<never> = { done: true, value: undefined };

/** The iterator imap and imapUnordered return. */
export class ImapIterator<R> implements AsyncIterableIterator<R>, Job {
  readonly #core: PoolCore;
  readonly #settings: ImapSettings;
  readonly #mode: Mode;
  readonly #source: Iterator<unknown> | AsyncIterator<unknown>;
  readonly #async: boolean;
  readonly #tasks = new Set<Task>();
  // Ordered: entries by chunk index. Unordered: entries in completion order.
  readonly #byIndex = new Map<number, Entry>();
  readonly #completed = new Deque<Entry>();
  #nextIndex = 0;
  #submitted = 0;
  #taken = 0;
  #items: unknown[] = [];
  #itemAt = 0;
  #sourceDone = false;
  #sourceError: { index: number; error: unknown } | undefined;
  #finished = false;
  #finalError: { error: unknown } | undefined;
  #pumping = false;
  #feeding = true;
  readonly #waiters = new Deque<Waiter>();
  readonly #onAbort = (): void => this.#end({ error: new AbortError() });

  /** @internal Starts pulling at once; the input must already be checked to be iterable. */
  constructor(core: PoolCore, iterable: Iterable<unknown> | AsyncIterable<unknown>, settings: ImapSettings) {
    this.#core = core;
    this.#settings = settings;
    this.#mode = chunkMode(settings.starmap, settings.chunksize);
    const asyncIterator = (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator];
    this.#async = typeof asyncIterator === 'function';
    this.#source = this.#async
      ? (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (iterable as Iterable<unknown>)[Symbol.iterator]();
    core.feed(true);
    if (settings.signal?.aborted) {
      this.#end({ error: new AbortError() });
      return;
    }
    settings.signal?.addEventListener('abort', this.#onAbort, { once: true });
    void this.#pump();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next result; rejects with the first failure in iteration order (then the iteration is over). */
  next(): Promise<IteratorResult<R>> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve: resolve as Waiter['resolve'], reject });
      this.#deliver();
    });
  }

  /** Ends the iteration: closes the input and gives up tasks not yet run. */
  async return(): Promise<IteratorResult<R>> {
    this.#end(undefined);
    return DONE;
  }

  // ---- pulling the input ----

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const { chunksize, buffersize } = this.#settings;
    let chunk: unknown[] = [];
    try {
      while (!this.#finished && !this.#sourceDone && this.#submitted - this.#taken < buffersize) {
        chunk = [];
        while (chunk.length < chunksize) {
          // A sync input is read without awaiting: a whole window goes out in one tick.
          const step = this.#async
            ? await (this.#source as AsyncIterator<unknown>).next()
            : (this.#source as Iterator<unknown>).next();
          if (this.#finished) return;
          if (step.done === true) {
            this.#sourceDone = true;
            break;
          }
          chunk.push(step.value);
        }
        if (chunk.length > 0) this.#submit(chunk);
        chunk = [];
      }
    } catch (error) {
      // The items read before the error still run; the error comes after their results.
      if (chunk.length > 0 && !this.#finished) this.#submit(chunk);
      this.#sourceDone = true;
      this.#sourceError = { index: this.#submitted, error };
    } finally {
      this.#pumping = false;
      if (this.#sourceDone) this.#stopFeeding();
      this.#deliver();
    }
  }

  #submit(chunk: unknown[]): void {
    const index = this.#submitted++;
    let encoded: Encoded;
    try {
      encoded = encodeChunk(chunk, this.#mode, index * this.#settings.chunksize);
    } catch (error) {
      this.#record(index, { ok: false, value: error });
      return;
    }
    const task = new Task(this, index, this.#settings.fnId, this.#mode, encoded);
    this.#tasks.add(task);
    this.#core.submit(task);
  }

  #stopFeeding(): void {
    if (!this.#feeding) return;
    this.#feeding = false;
    this.#core.feed(false);
  }

  // ---- results ----

  taskDone(task: Task, ok: boolean, value: unknown): void {
    this.#tasks.delete(task);
    if (this.#finished) return;
    if (ok && !singleValue(task.mode) && !Array.isArray(value)) {
      ok = false;
      value = new TypeError('a pool worker returned a chunk that is not an array');
    }
    this.#record(task.index, { ok, value });
    this.#deliver();
  }

  #record(index: number, entry: Entry): void {
    if (this.#settings.ordered) this.#byIndex.set(index, entry);
    else this.#completed.push(entry);
  }

  /** The next entry in iteration order, if it is there. */
  #take(): Entry | undefined {
    if (this.#settings.ordered) {
      const entry = this.#byIndex.get(this.#nextIndex);
      if (entry !== undefined) {
        this.#byIndex.delete(this.#nextIndex);
        this.#nextIndex++;
      }
      return entry;
    }
    return this.#completed.shift();
  }

  #deliver(): void {
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters.peek()!;
      if (this.#itemAt < this.#items.length) {
        this.#waiters.shift();
        const value = this.#items[this.#itemAt];
        this.#items[this.#itemAt++] = undefined;
        waiter.resolve({ done: false, value });
        continue;
      }
      if (this.#finished) {
        this.#waiters.shift();
        const final = this.#finalError;
        this.#finalError = undefined;
        if (final !== undefined) waiter.reject(final.error);
        else waiter.resolve(DONE);
        continue;
      }
      const entry = this.#take();
      if (entry !== undefined) {
        this.#taken++;
        if (!entry.ok) {
          this.#end({ error: entry.value });
          continue;
        }
        this.#items = singleValue(this.#mode) ? [entry.value] : (entry.value as unknown[]);
        this.#itemAt = 0;
        // Refill by halves: a whole batch of chunks goes out at once, not one per result read.
        if (this.#submitted - this.#taken <= this.#settings.buffersize >>> 1) void this.#pump();
        continue;
      }
      const reached = this.#settings.ordered ? this.#nextIndex : this.#taken;
      if (this.#sourceError !== undefined && reached === this.#sourceError.index) {
        this.#end({ error: this.#sourceError.error });
        continue;
      }
      if (this.#sourceDone && reached === this.#submitted) {
        this.#end(undefined);
        continue;
      }
      return; // waits for a result
    }
  }

  /** Ends the iteration (with an error for the next caller, or done). */
  #end(failure: { error: unknown } | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#finalError = failure;
    this.#items = [];
    this.#settings.signal?.removeEventListener('abort', this.#onAbort);
    for (const task of this.#tasks) this.#core.cancel(task);
    this.#tasks.clear();
    if (!this.#sourceDone) {
      this.#sourceDone = true;
      try {
        const closing = this.#source.return?.();
        if (closing instanceof Promise) closing.catch(() => {});
      } catch {
        // the input's own cleanup failed: nothing to report it to
      }
    }
    this.#stopFeeding();
    this.#deliver();
  }
}
