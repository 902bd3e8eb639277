// SharedMemory: a named POSIX shared memory segment, as Python's
// multiprocessing.shared_memory.SharedMemory, and attachable by name from Python.
import { constants as bufferConstants } from 'node:buffer';

import { native, OpenFlags } from './binding.js';
import { Closed } from './errors.js';
import { registerHandleKind, type HandleDescriptor } from './handles.js';
import { checkInteger, checkOptionsBag, describe, randomToken } from './util.js';

/** Options of `new SharedMemory(...)`: attach by `name`, or `create` one of `size` bytes. */
export interface SharedMemoryOptions {
  /** The segment's name; a leading `/` is optional (as in Python). Generated when creating without one. */
  name?: string | undefined;
  /** `true`: create a new segment (`EEXIST` if the name is taken); `'ifMissing'`: open or create. */
  create?: boolean | 'ifMissing' | undefined;
  /** Bytes, required when creating. Ignored when attaching: the segment's own size is used. */
  size?: number | undefined;
  /**
   * Permission bits. Created segments get exactly this mode (default 0o600, whatever the umask);
   * when given on open, a segment readable or writable by group or others is accepted.
   */
  mode?: number | undefined;
}

const HANDLE_VERSION = 1;
// NAME_MAX on Linux, less the leading slash.
const MAX_NAME_LENGTH = 254;

/** Normalises a user-given segment name to the `/name` form shm_open wants. */
function segmentName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError(`name must be a string (got ${describe(name)})`);
  const bare = name.startsWith('/') ? name.slice(1) : name;
  if (bare.length === 0) throw new RangeError('name must not be empty');
  if (bare.length > MAX_NAME_LENGTH) throw new RangeError(`name must be at most ${MAX_NAME_LENGTH} characters`);
  if (bare.includes('/'))
    throw new RangeError(`name must not contain "/" after its first character (got ${JSON.stringify(name)})`);
  if (bare.includes('\0')) throw new RangeError('name must not contain NUL');
  if (bare === '.' || bare === '..') throw new RangeError(`name must not be ${JSON.stringify(bare)}`);
  return `/${bare}`;
}

function validateOptions(options: SharedMemoryOptions): {
  name: string | undefined;
  create: boolean | 'ifMissing';
  size: number;
  mode: number | undefined;
} {
  checkOptionsBag(options);
  const { create = false, size, mode } = options;
  if (create !== true && create !== false && create !== 'ifMissing') {
    throw new TypeError(`create must be true, false or 'ifMissing' (got ${describe(create)})`);
  }
  const name = options.name === undefined || options.name === null ? undefined : segmentName(options.name);
  if (create === false && name === undefined) throw new TypeError('name is required to attach to an existing segment');
  if (mode !== undefined) checkInteger(mode, 'mode', 0, 0o777);
  let bytes = 0;
  if (create !== false) {
    if (size === undefined) throw new TypeError('size is required when creating a segment');
    bytes = checkInteger(size, 'size', 1, bufferConstants.MAX_LENGTH);
  } else if (size !== undefined) {
    checkInteger(size, 'size', 0, bufferConstants.MAX_LENGTH);
  }
  return { name, create, size: bytes, mode };
}

/**
 * A POSIX shared memory segment (Python's `SharedMemory`). `buf` is a zero-copy Buffer over it.
 * The segment lives until `unlink()`; `close()` only ends this handle.
 *
 * Throws `TypeError`/`RangeError` for bad options before any OS call, `ENOENT` when attaching a
 * missing name, `EEXIST` when creating a taken one, `EACCES` when the segment belongs to another
 * user or is open to others (unless `mode` is given).
 */
export class SharedMemory {
  static readonly handleKind = 'SharedMemory';

  readonly #name: string;
  readonly #size: number;
  readonly #created: boolean;
  #arrayBuffer: ArrayBuffer | null;
  #buf: Buffer | null;

  constructor(options: SharedMemoryOptions = {}) {
    const { name, create, size, mode } = validateOptions(options);
    let fd = -1;
    let segment = name;
    let created = false;
    try {
      if (create !== false) {
        segment ??= `/mp-${randomToken()}`;
        try {
          fd = native.shmOpen(segment, OpenFlags.create | OpenFlags.exclusive, mode ?? 0o600);
          created = true;
        } catch (error) {
          if (create !== 'ifMissing' || (error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
      }
      if (!created) fd = native.shmOpen(segment!, 0, 0);
      let bytes = size;
      if (created) {
        native.fdAllocate(fd, size);
      } else {
        const stat = native.fdStat(fd);
        checkOwnership(segment!, stat, mode !== undefined);
        bytes = stat.size;
        if (bytes === 0)
          throw Object.assign(new Error(`EINVAL: segment has size 0, mmap '${segment}'`), {
            code: 'EINVAL',
            syscall: 'mmap',
            path: segment,
          });
        if (bytes > bufferConstants.MAX_LENGTH)
          throw new RangeError(
            `segment ${segment} is ${bytes} bytes; a single buffer is limited to ${bufferConstants.MAX_LENGTH} on this Node`,
          );
      }
      this.#arrayBuffer = native.mmap(fd, bytes);
      this.#size = bytes;
    } catch (error) {
      if (created) native.shmUnlink(segment!);
      throw error;
    } finally {
      if (fd >= 0) native.fdClose(fd);
    }
    this.#name = segment!;
    this.#created = created;
    this.#buf = Buffer.from(this.#arrayBuffer);
  }

  /** The name, without the leading slash (as Python's `SharedMemory.name`). */
  get name(): string {
    return this.#name.slice(1);
  }

  /** The size in bytes. */
  get size(): number {
    return this.#size;
  }

  /** True when this handle created the segment (rather than attached to it). */
  get created(): boolean {
    return this.#created;
  }

  /** A zero-copy Buffer over the segment. Throws `Closed` after `close()`. */
  get buf(): Buffer {
    if (this.#buf === null) throw new Closed(`SharedMemory ${this.name} is closed`);
    return this.#buf;
  }

  /** Unmaps this process's view; buffers handed out become empty. Idempotent. */
  close(): void {
    if (this.#arrayBuffer === null) return;
    const buffer = this.#arrayBuffer;
    this.#arrayBuffer = null;
    this.#buf = null;
    native.unmap(buffer);
  }

  /** Removes the name; processes that have it mapped keep their mapping. `ENOENT` if already gone. */
  unlink(): void {
    native.shmUnlink(this.#name);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toHandle(): HandleDescriptor {
    return { kind: SharedMemory.handleKind, version: HANDLE_VERSION, name: this.#name };
  }

  static fromHandle(descriptor: HandleDescriptor): SharedMemory {
    if (typeof descriptor !== 'object' || descriptor === null || descriptor.kind !== SharedMemory.handleKind) {
      throw new TypeError(`not a SharedMemory handle: ${describe(descriptor)}`);
    }
    if (descriptor.version !== HANDLE_VERSION) {
      throw new RangeError(
        `SharedMemory handle version ${String(descriptor.version)} is not supported (this is version ${HANDLE_VERSION})`,
      );
    }
    return new SharedMemory({ name: descriptor.name as string });
  }

  toString(): string {
    return `SharedMemory(${JSON.stringify(this.name)}, size=${this.#size})`;
  }
}

registerHandleKind(SharedMemory.handleKind, (descriptor) => SharedMemory.fromHandle(descriptor));

/** Refuses a segment that another user owns or that others may read or write. */
export function checkOwnership(path: string, stat: { uid: number; mode: number }, allowShared: boolean): void {
  const uid = process.geteuid?.() ?? stat.uid;
  if (stat.uid !== uid || (!allowShared && (stat.mode & 0o077) !== 0)) {
    const why =
      stat.uid !== uid
        ? `owned by uid ${stat.uid}`
        : `mode ${stat.mode.toString(8)} lets others in (pass { mode } to accept)`;
    throw Object.assign(new Error(`EACCES: permission denied (${why}), shm_open '${path}'`), {
      code: 'EACCES',
      errno: -13,
      syscall: 'shm_open',
      path,
    });
  }
}
