// A reference from one shared object to the lock it uses (a Condition's lock, a Value's lock),
// stored in the object's own segment so that opening the object by name or handle finds it.
//
// Layout at `byteOffset` (LOCK_REF_BYTES bytes):
//
//   offset  type      field
//   0       u32       kind: 0 none, 1 Lock, 2 RLock
//   4       u32       length of the lock's segment name in bytes (at most 256)
//   8       u8[256]   the lock's segment name (ASCII)
import { CorruptionError } from '../errors.js';
import { HANDLE_VERSION } from './base.js';
import { Lock } from './lock.js';
import { RLock } from './rlock.js';

export const LOCK_REF_BYTES = 264;
const MAX_NAME = 256;
const NONE = 0;
const LOCK = 1;
const RLOCK = 2;

/** Records `lock` (or no lock) at `byteOffset` of `buffer`. */
export function writeLockRef(buffer: ArrayBuffer, byteOffset: number, lock: Lock | RLock | null): void {
  const view = new DataView(buffer, byteOffset, LOCK_REF_BYTES);
  if (lock === null) {
    view.setUint32(0, NONE, true);
    return;
  }
  const name = Buffer.from(String(lock.toHandle().segment), 'latin1');
  if (name.length > MAX_NAME) throw new RangeError('the lock name is too long to be referenced');
  view.setUint32(0, lock instanceof RLock ? RLOCK : LOCK, true);
  view.setUint32(4, name.length, true);
  name.copy(Buffer.from(buffer, byteOffset + 8, MAX_NAME));
}

/** Opens the lock recorded at `byteOffset` (null for none). CorruptionError for garbage. */
export function readLockRef(buffer: ArrayBuffer, byteOffset: number, owner: string): Lock | RLock | null {
  const view = new DataView(buffer, byteOffset, LOCK_REF_BYTES);
  const kind = view.getUint32(0, true);
  if (kind === NONE) return null;
  const length = view.getUint32(4, true);
  if ((kind !== LOCK && kind !== RLOCK) || length === 0 || length > MAX_NAME) {
    throw new CorruptionError(`${owner} records a bad lock reference (kind ${kind}, length ${length})`);
  }
  const segment = Buffer.from(buffer, byteOffset + 8, length).toString('latin1');
  if (!/^\/mp-[on]-[A-Za-z0-9._-]+$/.test(segment)) {
    throw new CorruptionError(`${owner} records a bad lock name ${JSON.stringify(segment)}`);
  }
  const descriptor = { kind: kind === LOCK ? Lock.handleKind : RLock.handleKind, version: HANDLE_VERSION, segment };
  return kind === LOCK ? Lock.fromHandle(descriptor) : RLock.fromHandle(descriptor);
}
