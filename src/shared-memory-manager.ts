// SharedMemoryManager: makes SharedMemory segments and ShareableLists and unlinks them all at
// shutdown() (Python's multiprocessing.managers.SharedMemoryManager, without a server process:
// the segments are plain named POSIX shared memory that children attach to by name or handle).
//
// If the process that started the manager is killed (SIGKILL) before shutdown(), its segments
// outlive it: every segment it made carries the `mp-smm-` prefix and a shared flock held by the
// manager's process, and the next SharedMemoryManager started by any process of this user
// removes such segments once nobody holds their flock (and they are more than a few seconds
// old). Children still mapping one keep their mapping; only the name goes.
import { readdirSync, statSync } from 'node:fs';

import { native } from './binding.js';
import { ProcessError } from './errors.js';
import { ShareableList, type ShareableValue } from './shareable-list.js';
import { SharedMemory } from './shared-memory.js';
import { checkInteger, randomToken } from './util.js';

const PREFIX = 'mp-smm-';
const ORPHAN_MIN_AGE_MS = 5_000;

/** Removes segments of SharedMemoryManagers whose process died before shutdown(). */
function sweepOrphans(): void {
  let names: string[];
  try {
    names = readdirSync('/dev/shm');
  } catch {
    return;
  }
  const now = Date.now();
  const uid = process.geteuid?.();
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    let fd = -1;
    try {
      if (now - statSync(`/dev/shm/${name}`).ctimeMs < ORPHAN_MIN_AGE_MS) continue;
      fd = native.shmOpen(`/${name}`, 0, 0);
      if (native.fdStat(fd).uid !== uid) continue;
      if (native.fdLock(fd, 2)) native.shmUnlink(`/${name}`);
    } catch {
      // gone meanwhile, or not ours: leave it
    } finally {
      if (fd >= 0) native.fdClose(fd);
    }
  }
}

/**
 * Makes shared memory that lives until `shutdown()` (Python's `SharedMemoryManager`):
 * `start()`, then `SharedMemory(size)` and `ShareableList(items)`; `shutdown()` unlinks
 * everything it made. Usable with `using` (dispose = shutdown).
 */
export class SharedMemoryManager {
  #state: 'new' | 'started' | 'shut down' = 'new';
  // Each segment made, with a descriptor holding a shared flock that marks it as in use.
  readonly #made: Array<{ name: string; fd: number }> = [];

  /** Starts the manager (and removes segments left by managers whose process was killed). */
  start(): this {
    if (this.#state !== 'new')
      throw new ProcessError(
        `the SharedMemoryManager was already ${this.#state === 'started' ? 'started' : 'shut down'}`,
      );
    sweepOrphans();
    this.#state = 'started';
    return this;
  }

  #check(): void {
    if (this.#state !== 'started') {
      throw new ProcessError(
        this.#state === 'new' ? 'start() the SharedMemoryManager first' : 'the SharedMemoryManager was shut down',
      );
    }
  }

  #track(name: string): void {
    const fd = native.shmOpen(`/${name}`, 0, 0);
    native.fdLock(fd, 1);
    this.#made.push({ name, fd });
  }

  /** A new SharedMemory of `size` bytes, unlinked at shutdown(). */
  SharedMemory(size: number): SharedMemory {
    checkInteger(size, 'size', 1);
    this.#check();
    const shm = new SharedMemory({ create: true, size, name: `${PREFIX}${randomToken()}` });
    this.#track(shm.name);
    return shm;
  }

  /** A new ShareableList of `items`, unlinked at shutdown(). */
  ShareableList(items: Iterable<ShareableValue>): ShareableList {
    this.#check();
    const list = new ShareableList(items, { name: `${PREFIX}${randomToken()}` });
    this.#track(list.shm.name);
    return list;
  }

  /** Unlinks every segment this manager made (handles already open keep their mappings). Idempotent. */
  shutdown(): void {
    if (this.#state === 'shut down') return;
    this.#state = 'shut down';
    for (const { name, fd } of this.#made.splice(0)) {
      try {
        native.shmUnlink(`/${name}`);
      } catch {
        // unlinked already by its user
      }
      native.fdClose(fd);
    }
  }

  [Symbol.dispose](): void {
    this.shutdown();
  }
}
