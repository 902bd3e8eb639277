// How each end of a Pipe learns that the other end is gone: a kernel object per end.
//
// Every end has an empty shm file (`/mp-o-<random>`, mode 0600). Every holder of that end, in
// any process, keeps a descriptor of it with a shared flock, and the kernel drops that flock when
// the holder closes it or dies, however it dies (SIGKILL included). So "nobody holds end E" is
// "an exclusive flock on a fresh descriptor of E's file succeeds". Whoever finds that out (the
// last holder closing, or a peer probing before it parks) marks E closed in the pipe's shared
// memory while it holds that exclusive flock, and unlinks the file. A process reviving a handle
// of E takes its shared flock first and checks the mark after, so it either counts as a holder
// or sees E closed: never half of each.
//
// The files are named like unnamed segments, so the resource tracker removes those whose
// holders were all killed before anyone probed.
import { native, OpenFlags } from '../binding.js';
import { checkOwnership } from '../shared-memory.js';
import { randomToken } from '../util.js';

const END_NAME = /^\/mp-o-[A-Za-z0-9_-]{10,64}$/;
/** A probe holds the exclusive flock for microseconds; a reviver that meets it retries. */
const LOCK_ATTEMPTS = 1000;

const enum Lock {
  Unlock = 0,
  Shared = 1,
  Exclusive = 2,
}

/** True for a string that can name an end file. */
export function isEndName(name: unknown): name is string {
  return typeof name === 'string' && END_NAME.test(name);
}

/** This process's hold on one end: a descriptor with a shared flock. */
export class EndHold {
  readonly name: string;
  #fd: number;

  private constructor(name: string, fd: number) {
    this.name = name;
    this.#fd = fd;
  }

  /** Makes a new end file, held by us. */
  static create(): EndHold {
    const name = `/mp-o-${randomToken()}`;
    const fd = native.shmOpen(name, OpenFlags.create | OpenFlags.exclusive, 0o600);
    try {
      native.fdLock(fd, Lock.Shared);
    } catch (error) {
      native.fdClose(fd);
      native.shmUnlink(name);
      throw error;
    }
    return new EndHold(name, fd);
  }

  /**
   * Holds an existing end. Throws ENOENT when every holder is gone and the file was removed.
   * The caller must then check the end's closed mark: it may have been set just before.
   */
  static attach(name: string): EndHold {
    const fd = native.shmOpen(name, 0, 0);
    try {
      checkOwnership(name, native.fdStat(fd), false);
      for (let attempt = 0; !native.fdLock(fd, Lock.Shared); attempt++) {
        if (attempt === LOCK_ATTEMPTS) throw gone(name);
      }
    } catch (error) {
      native.fdClose(fd);
      throw error;
    }
    return new EndHold(name, fd);
  }

  /**
   * Lets go. When no other holder is left, `onLast` runs under the exclusive flock (to mark the
   * end closed) and the file is removed. Idempotent.
   */
  release(onLast: () => void): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    try {
      if (native.fdLock(fd, Lock.Exclusive)) {
        onLast();
        unlinkQuietly(this.name);
      }
    } finally {
      native.fdClose(fd);
    }
  }
}

/** Tells whether anybody still holds a peer's end; once gone, always gone. */
export class PeerProbe {
  readonly #name: string;
  #fd = -1;
  #gone = false;

  constructor(name: string) {
    this.#name = name;
  }

  /**
   * True when no holder of the end is left. `onGone` runs under the exclusive flock the first
   * time (to mark the end closed for everyone). Costs one or two syscalls: call it before
   * parking, not on every message.
   */
  gone(onGone: () => void): boolean {
    if (this.#gone) return true;
    if (this.#fd < 0) {
      try {
        this.#fd = native.shmOpen(this.#name, 0, 0);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        // The last holder removed the file, after marking the end closed.
        this.#gone = true;
        return true;
      }
    }
    if (!native.fdLock(this.#fd, Lock.Exclusive)) return false;
    try {
      onGone();
      unlinkQuietly(this.#name);
    } finally {
      native.fdLock(this.#fd, Lock.Unlock);
      this.close();
      this.#gone = true;
    }
    return true;
  }

  close(): void {
    if (this.#fd >= 0) native.fdClose(this.#fd);
    this.#fd = -1;
  }
}

function unlinkQuietly(name: string): void {
  try {
    native.shmUnlink(name);
  } catch {
    // removed meanwhile by a prober or the tracker
  }
}

function gone(name: string): Error {
  return Object.assign(new Error(`ENOENT: the pipe end is gone, shm_open '${name}'`), {
    code: 'ENOENT',
    errno: -2,
    syscall: 'shm_open',
    path: name,
  });
}
