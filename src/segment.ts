// The shared memory every library object (Queue, Lock, Value, ...) lives in, and its lifetime.
//
// Layout of the first 64 bytes of every segment; the object's own layout starts at HEADER_BYTES:
//
//   offset  type  field
//   0       u32   magic 'MPSG'           refuses memory that is not ours
//   4       u32   tag (4 ASCII chars)    which kind of object, e.g. 'LOCK', 'QUEU'
//   8       u32   layout version         two releases with different layouts refuse each other
//   12      u32   state                  0 initializing, 1 ready, 2 destroyed (unlinked)
//   16      u32   total bytes (low)
//   20      u32   total bytes (high)
//   24..63        reserved, zero
//
// Names. Unnamed objects are `/mp-o-<128 random bits>`; named ones `/mp-n-<uid>-<tag>-<name>`,
// so a Queue named `jobs` and a Lock named `jobs` do not collide and users do not share.
//
// Lifetime of unnamed objects. Every process that maps one keeps a descriptor with a shared
// flock on it; the kernel drops the flock when the process dies, however it dies. The last
// holder to close takes the exclusive flock and unlinks. Segments whose holders were all killed
// are removed by the resource tracker (src/resource-tracker.ts). Named objects live until
// `unlink()`.
import { native, OpenFlags } from './binding.js';
import { Closed, CorruptionError } from './errors.js';
import { ensureTracker, UNNAMED_PREFIX } from './resource-tracker.js';
import { checkOwnership } from './shared-memory.js';
import { describe, randomToken } from './util.js';

export const HEADER_BYTES = 64;
const MAGIC = 0x4753504d; // 'MPSG' little-endian
const enum Field {
  Magic = 0,
  Tag = 1,
  Version = 2,
  State = 3,
  SizeLow = 4,
  SizeHigh = 5,
}
const enum State {
  Initializing = 0,
  Ready = 1,
  Destroyed = 2,
}
const OPEN_WAIT_MS = 2_000;

/** What kind of object a segment holds. */
export interface SegmentKind {
  /** Four ASCII characters, unique per kind. */
  readonly tag: string;
  /** The layout version; bump it whenever the layout changes. */
  readonly version: number;
  /** The user-facing class name, for messages. */
  readonly label: string;
}

export interface SegmentCreateOptions {
  /** A user-chosen name: the object can then be opened by any process of this user. */
  name?: string | undefined;
  /** With a name: true (EEXIST if taken) or 'ifMissing' (open or create atomically). */
  create?: true | 'ifMissing' | undefined;
  /** Permission bits for a named object (default 0o600). */
  mode?: number | undefined;
}

function tagValue(tag: string): number {
  if (!/^[\x20-\x7e]{4}$/.test(tag)) throw new TypeError(`segment tag must be 4 ASCII characters (got ${tag})`);
  return Buffer.from(tag, 'latin1').readUInt32LE(0);
}

/** Checks a user-given object name and turns it into the segment name for `kind`. */
export function namedSegment(kind: SegmentKind, name: unknown): string {
  if (typeof name !== 'string') throw new TypeError(`name must be a string (got ${describe(name)})`);
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(name)) {
    throw new RangeError(
      `name must be 1 to 200 characters of A-Z, a-z, 0-9, '.', '_', '-' (got ${JSON.stringify(name)})`,
    );
  }
  const uid = process.geteuid?.() ?? 0;
  return `/mp-n-${uid}-${kind.tag.trim()}-${name}`;
}

/** One process's mapping of a library object's segment. */
export class Segment {
  readonly kind: SegmentKind;
  /** The shm_open name, with its leading slash. */
  readonly segmentName: string;
  readonly named: boolean;
  readonly size: number;
  #buffer: ArrayBuffer | null;
  #header: Int32Array;
  #fd: number;

  private constructor(kind: SegmentKind, segmentName: string, named: boolean, fd: number, buffer: ArrayBuffer) {
    this.kind = kind;
    this.segmentName = segmentName;
    this.named = named;
    this.size = buffer.byteLength;
    this.#buffer = buffer;
    this.#header = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.#fd = fd;
  }

  /**
   * Creates a segment of `HEADER_BYTES + bytes` and lets `init` write the object's layout before
   * anyone can see it as ready. Throws EEXIST for a taken name, ENOSPC when /dev/shm is full.
   */
  static create(
    kind: SegmentKind,
    bytes: number,
    init: (segment: Segment) => void,
    options: SegmentCreateOptions = {},
  ): Segment {
    const named = options.name !== undefined;
    if (!named) ensureTracker();
    const segmentName = named ? namedSegment(kind, options.name) : `/${UNNAMED_PREFIX}${randomToken()}`;
    const total = HEADER_BYTES + bytes;
    let fd: number;
    try {
      fd = native.shmOpen(segmentName, OpenFlags.create | OpenFlags.exclusive, options.mode ?? 0o600);
    } catch (error) {
      if (options.create === 'ifMissing' && (error as NodeJS.ErrnoException).code === 'EEXIST') {
        return Segment.#attach(kind, segmentName, true, options.mode !== undefined);
      }
      throw error;
    }
    let segment: Segment | undefined;
    try {
      if (!named) native.fdLock(fd, 1);
      native.fdAllocate(fd, total);
      segment = new Segment(kind, segmentName, named, fd, native.mmap(fd, total, true));
      const header = segment.#header;
      header[Field.Magic] = MAGIC;
      header[Field.Tag] = tagValue(kind.tag);
      header[Field.Version] = kind.version;
      header[Field.SizeLow] = total % 2 ** 32;
      header[Field.SizeHigh] = Math.floor(total / 2 ** 32);
      init(segment);
      // Publishes the layout: openers read state with acquire semantics before anything else.
      Atomics.store(header, Field.State, State.Ready);
      native.futexWake(segment.buffer, Field.State * 4);
    } catch (error) {
      if (segment !== undefined) native.unmap(segment.#buffer!);
      native.fdClose(fd);
      native.shmUnlink(segmentName);
      throw error;
    }
    if (named) {
      native.fdClose(fd);
      segment.#fd = -1;
    }
    return segment;
  }

  /** Opens a named object by the name its creator gave. ENOENT when there is none. */
  static openNamed(kind: SegmentKind, name: string, options: { mode?: number | undefined } = {}): Segment {
    return Segment.#attach(kind, namedSegment(kind, name), true, options.mode !== undefined);
  }

  /** Opens the segment a handle descriptor names (as written by `segmentName`). */
  static openHandle(kind: SegmentKind, segmentName: unknown): Segment {
    if (typeof segmentName !== 'string' || !/^\/mp-[on]-[A-Za-z0-9._-]+$/.test(segmentName)) {
      throw new TypeError(`not a ${kind.label} handle: bad segment name ${describe(segmentName)}`);
    }
    return Segment.#attach(kind, segmentName, segmentName.startsWith('/mp-n-'), false);
  }

  static #attach(kind: SegmentKind, segmentName: string, named: boolean, allowShared: boolean): Segment {
    const fd = native.shmOpen(segmentName, 0, 0);
    let buffer: ArrayBuffer | null = null;
    try {
      if (!named) native.fdLock(fd, 1);
      checkOwnership(segmentName, native.fdStat(fd), allowShared);
      // A creator sizes the segment right after creating it: wait briefly for that.
      const deadline = performance.now() + OPEN_WAIT_MS;
      let size = native.fdStat(fd).size;
      while (size < HEADER_BYTES && performance.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        size = native.fdStat(fd).size;
      }
      if (size < HEADER_BYTES)
        throw new CorruptionError(`${kind.label} segment ${segmentName} is ${size} bytes: not a multiproc object`);
      buffer = native.mmap(fd, size, true);
      const header = new Int32Array(buffer, 0, HEADER_BYTES / 4);
      while (Atomics.load(header, Field.State) === State.Initializing && performance.now() < deadline) {
        native.futexWait(buffer, Field.State * 4, State.Initializing, Math.max(1, deadline - performance.now()));
      }
      const state = Atomics.load(header, Field.State);
      if (header[Field.Magic] !== MAGIC)
        throw new CorruptionError(`${segmentName} is not a multiproc object (bad magic)`);
      if (header[Field.Tag] !== tagValue(kind.tag)) throw new TypeError(`${segmentName} is not a ${kind.label}`);
      if (header[Field.Version] !== kind.version) {
        throw new CorruptionError(
          `${kind.label} ${segmentName} has layout version ${header[Field.Version]}; this multiproc reads version ${kind.version}`,
        );
      }
      const recorded = (header[Field.SizeLow]! >>> 0) + (header[Field.SizeHigh]! >>> 0) * 2 ** 32;
      if (recorded !== size) throw new CorruptionError(`${segmentName} records ${recorded} bytes but is ${size}`);
      if (state === State.Destroyed) throw new Closed(`${kind.label} ${segmentName} was unlinked`);
      if (state !== State.Ready)
        throw new CorruptionError(`${kind.label} ${segmentName} is not ready (state ${state})`);
      const segment = new Segment(kind, segmentName, named, named ? -1 : fd, buffer);
      if (named) native.fdClose(fd);
      return segment;
    } catch (error) {
      if (buffer !== null) native.unmap(buffer);
      native.fdClose(fd);
      throw error;
    }
  }

  /** The whole mapping. Throws Closed once this handle is closed. */
  get buffer(): ArrayBuffer {
    if (this.#buffer === null) throw new Closed(`${this.kind.label} is closed`);
    return this.#buffer;
  }

  get closed(): boolean {
    return this.#buffer === null;
  }

  /** True once any process unlinked the object. */
  get destroyed(): boolean {
    return this.#buffer !== null && Atomics.load(this.#header, Field.State) === State.Destroyed;
  }

  /** Throws Closed when this handle is closed or the object was unlinked by anyone. */
  check(): void {
    if (this.#buffer === null) throw new Closed(`${this.kind.label} is closed`);
    if (Atomics.load(this.#header, Field.State) === State.Destroyed)
      throw new Closed(`${this.kind.label} was unlinked`);
  }

  /** Ends this process's use; the last holder of an unnamed object removes it. Idempotent. */
  close(): void {
    if (this.#buffer === null) return;
    const buffer = this.#buffer;
    this.#buffer = null;
    native.unmap(buffer);
    if (this.#fd >= 0) {
      try {
        if (native.fdLock(this.#fd, 2)) native.shmUnlink(this.segmentName);
      } catch {
        // already unlinked by another last holder: nothing to do
      } finally {
        native.fdClose(this.#fd);
        this.#fd = -1;
      }
    }
  }

  /** Marks the object destroyed for every holder and removes its name. */
  unlink(): void {
    if (this.#buffer !== null) {
      Atomics.store(this.#header, Field.State, State.Destroyed);
      native.futexWake(this.#buffer, Field.State * 4);
    }
    native.shmUnlink(this.segmentName);
  }
}
