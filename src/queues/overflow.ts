// Messages larger than the ring ride in side segments: one POSIX shm file per message, owned by
// the queue. The ring carries a small descriptor in its place, so order is kept.
//
//   descriptor (ring payload, flag OVERFLOW):  0 u32 producer token | 4 u32 length low
//                                              8 u32 length high    | 12 the side file's name
//   side file /dev/shm/mp-n-<uid>-QOVF-<queue id>.<random>:
//     0 u32 magic 'MPOV' ('MPOX': a tombstone, the producer failed) | 4 u32 version
//     8 u32 length low | 12 u32 length high | 64 payload
//
// The producer reserves budget (maxOverflowBytes) in the queue block, puts the descriptor, then
// writes the file under a temporary name (".w") and renames it into place, so a consumer that
// finds the file finds it whole. A consumer that takes the descriptor first waits for the file
// while its producer lives; if the producer died, it deletes both names and returns the budget.
// A consumer that dies holding the descriptor is handled by whoever recovers the record
// (ring.ts recover -> dispose). The last holder of the queue deletes what is left (sweep()).
import { readdirSync, renameSync } from 'node:fs';

import { native, OpenFlags } from '../binding.js';
import { CorruptionError } from '../errors.js';
import { checkOwnership } from '../shared-memory.js';
import { randomToken } from '../util.js';

const MAGIC = 0x564f504d; // 'MPOV'
const TOMBSTONE = 0x584f504d; // 'MPOX': the producer failed to write it
const VERSION = 1;
const FILE_HEADER = 64;
const HIGH = 2 ** 32;
const NAME_CHARS = /^[A-Za-z0-9._-]+$/;

/** The /dev/shm prefix of every side file of the queue whose id is `queueId`. */
export function overflowPrefix(queueId: string): string {
  return `mp-n-${process.geteuid?.() ?? 0}-QOVF-${queueId}.`;
}

export interface OverflowDescriptor {
  producer: number;
  length: number;
  /** The file's name in /dev/shm (no slash). */
  name: string;
}

/** A descriptor for a new side file of `length` bytes, made by `producer`. */
export function newDescriptor(queueId: string, producer: number, length: number): Buffer {
  const name = `${overflowPrefix(queueId)}${randomToken()}`;
  const bytes = Buffer.allocUnsafe(12 + name.length);
  bytes.writeUInt32LE(producer >>> 0, 0);
  bytes.writeUInt32LE(length % HIGH, 4);
  bytes.writeUInt32LE(Math.floor(length / HIGH), 8);
  bytes.write(name, 12, 'latin1');
  return bytes;
}

/** Parses a descriptor read from the ring (untrusted: only names of this queue's files pass). */
export function parseDescriptor(bytes: Uint8Array, queueId: string, maxLength: number): OverflowDescriptor {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.length < 13 || view.length > 12 + 255) throw new CorruptionError('a queue overflow descriptor is malformed');
  const length = view.readUInt32LE(4) + view.readUInt32LE(8) * HIGH;
  const name = view.toString('latin1', 12);
  if (length > maxLength || !name.startsWith(overflowPrefix(queueId)) || !NAME_CHARS.test(name)) {
    throw new CorruptionError('a queue overflow descriptor names a file that is not this queue’s');
  }
  return { producer: view.readUInt32LE(0), length, name };
}

/**
 * Writes the side file of `descriptor` with `payload` (the producer, after putting the
 * descriptor); `null` writes a tombstone, which makes the consumer drop the item.
 */
export function writeSideFile(descriptor: OverflowDescriptor, payload: Uint8Array | null): void {
  const temporary = `${descriptor.name}.w`;
  let fd = -1;
  try {
    fd = native.shmOpen(`/${temporary}`, OpenFlags.create | OpenFlags.exclusive, 0o600);
    const size = FILE_HEADER + (payload?.length ?? 0);
    native.fdAllocate(fd, size);
    const map = native.mmap(fd, size);
    try {
      const head = new Uint32Array(map, 0, 4);
      head[0] = payload === null ? TOMBSTONE : MAGIC;
      head[1] = VERSION;
      head[2] = descriptor.length % HIGH;
      head[3] = Math.floor(descriptor.length / HIGH);
      if (payload !== null) new Uint8Array(map, FILE_HEADER, payload.length).set(payload);
    } finally {
      native.unmap(map);
    }
    renameSync(`/dev/shm/${temporary}`, `/dev/shm/${descriptor.name}`);
  } catch (error) {
    removeSideFile(descriptor);
    throw error;
  } finally {
    if (fd >= 0) native.fdClose(fd);
  }
}

/**
 * Reads the side file of `descriptor` and hands its payload (a view valid only during the call;
 * null for a tombstone) to `use`, then deletes the file. Returns `missing` when it is not there.
 */
export function readSideFile<R>(
  descriptor: OverflowDescriptor,
  use: (payload: Buffer | null) => R,
): R | typeof missing {
  let fd: number;
  try {
    fd = native.shmOpen(`/${descriptor.name}`, 0, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return missing;
    throw error;
  }
  try {
    const stat = native.fdStat(fd);
    checkOwnership(descriptor.name, stat, false);
    if (stat.size < FILE_HEADER) throw new CorruptionError(`a queue overflow file is ${stat.size} bytes`);
    const map = native.mmap(fd, stat.size);
    try {
      const head = new Uint32Array(map, 0, 4);
      const magic = head[0];
      if (
        (magic !== MAGIC && magic !== TOMBSTONE) ||
        head[1] !== VERSION ||
        head[2]! + head[3]! * HIGH !== descriptor.length
      ) {
        throw new CorruptionError('a queue overflow file has a bad header');
      }
      if (magic === TOMBSTONE) return use(null);
      if (stat.size !== FILE_HEADER + descriptor.length) {
        throw new CorruptionError(
          `a queue overflow file is ${stat.size} bytes, not ${FILE_HEADER + descriptor.length}`,
        );
      }
      return use(Buffer.from(map, FILE_HEADER, descriptor.length));
    } finally {
      native.unmap(map);
    }
  } finally {
    native.fdClose(fd);
    removeSideFile(descriptor);
  }
}

export const missing: unique symbol = Symbol('missing');

/** Deletes both names of a side file (either may be absent). */
export function removeSideFile(descriptor: Pick<OverflowDescriptor, 'name'>): void {
  for (const name of [descriptor.name, `${descriptor.name}.w`]) {
    try {
      native.shmUnlink(`/${name}`);
    } catch {
      // not there: nothing to remove
    }
  }
}

/** Deletes every side file of a queue that nobody holds any more. */
export function sweepSideFiles(queueId: string): void {
  const prefix = overflowPrefix(queueId);
  let names: string[];
  try {
    names = readdirSync('/dev/shm');
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(prefix)) removeSideFile({ name: name.replace(/\.w$/, '') });
}

/**
 * Deletes side files left by unnamed queues whose every holder was killed (the queue's own
 * segment is gone: segment.ts sweeps those). Run once per process, when it first makes a queue.
 */
export function sweepOrphanSideFiles(): void {
  const prefix = `mp-n-${process.geteuid?.() ?? 0}-QOVF-o`;
  let names: string[];
  try {
    names = readdirSync('/dev/shm');
  } catch {
    return;
  }
  const present = new Set(names);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const queueSegment = `mp-o-${name.slice(prefix.length).split('.')[0]}`;
    if (!present.has(queueSegment)) removeSideFile({ name: name.replace(/\.w$/, '') });
  }
}
