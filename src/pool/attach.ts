// The worker's way into the segment its pool made for it: the same checks and the same lifetime
// rule (a shared flock while mapped) as segment.ts's openHandle, without its imports, which would
// add ~10 ms (node:crypto, node:child_process) to every worker's start-up.
import { native } from '../binding.js';
import { CorruptionError } from '../errors.js';
import { POOL_SEGMENT } from './layout.js';

const MAGIC = 0x4753504d; // 'MPSG', segment.ts's header
const READY = 1;
const TAG = Buffer.from(POOL_SEGMENT.tag, 'latin1').readUInt32LE(0);

/** Maps the unnamed pool segment `name`. Throws the OS error, EACCES or CorruptionError. */
export function attachWorkerSegment(name: unknown): ArrayBuffer {
  if (typeof name !== 'string' || !/^\/mp-o-[A-Za-z0-9_-]+$/.test(name)) {
    throw new TypeError(`not a pool worker segment: ${String(name)}`);
  }
  const fd = native.shmOpen(name, 0, 0);
  let buffer: ArrayBuffer | undefined;
  try {
    // A holder's shared flock: the last holder to close an unnamed segment unlinks it.
    native.fdLock(fd, 1);
    const stat = native.fdStat(fd);
    if (stat.uid !== process.geteuid?.() || (stat.mode & 0o077) !== 0) {
      throw Object.assign(new Error(`EACCES: ${name} is not private to this user`), { code: 'EACCES' });
    }
    buffer = native.mmap(fd, stat.size);
    const header = new Int32Array(buffer, 0, 6);
    const size = (header[4]! >>> 0) + (header[5]! >>> 0) * 2 ** 32;
    if (header[0] !== MAGIC || header[1] !== TAG || header[2] !== POOL_SEGMENT.version) {
      throw new CorruptionError(`${name} is not a pool worker channel of this multiproc version`);
    }
    if (Atomics.load(header, 3) !== READY || size !== stat.size) throw new CorruptionError(`${name} is not ready`);
    // The descriptor stays open (and locked) for the worker's lifetime; the kernel drops it at exit.
    return buffer;
  } catch (error) {
    if (buffer !== undefined) native.unmap(buffer);
    native.fdClose(fd);
    throw error;
  }
}
