// The one door to the native addon: loads it with node-gyp-build (build/Release first, then the
// prebuild for this platform) and types its surface. Nothing else imports the .node file.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Outcomes of a futex wait, as native/futex.h names them. */
export const enum WaitResult {
  Woken = 0,
  TimedOut = 1,
  ValueChanged = 2,
  Interrupted = 3,
  Cancelled = 4,
}

export interface NativeCapabilities {
  futex: boolean;
  futexWaitv: boolean;
  pidfd: boolean;
  memfd: boolean;
  parentDeathSignal: boolean;
}

export interface FdStat {
  size: number;
  uid: number;
  mode: number;
}

export interface Binding {
  readonly sourceHash: string;
  capabilities(): NativeCapabilities;
  // shm.cc
  shmOpen(name: string, flags: number, mode: number): number;
  shmUnlink(name: string): void;
  memfdCreate(name: string): number;
  fdTruncate(fd: number, size: number): void;
  fdAllocate(fd: number, size: number): void;
  fdStat(fd: number): FdStat;
  fdClose(fd: number): void;
  /** flock without blocking: 0 unlock, 1 shared, 2 exclusive; false when held elsewhere. */
  fdLock(fd: number, mode: 0 | 1 | 2): boolean;
  mmap(fd: number, size: number, populate?: boolean): ArrayBuffer;
  unmap(buffer: ArrayBuffer): boolean;
  // futex.cc
  futexWait(buffer: ArrayBuffer, byteOffset: number, expected: number, timeoutMs?: number): WaitResult;
  futexWake(buffer: ArrayBuffer, byteOffset: number, count?: number): number;
  futexWaitAsync(buffer: ArrayBuffer, byteOffset: number, expected: number, id: number): Promise<WaitResult>;
  futexCancel(id: number): boolean;
  /** sched_yield(2): lets another runnable thread of this CPU run first (spin.ts). */
  schedYield(): void;
  // liveness.cc
  livenessToken(): number;
  livenessAlive(token: number): boolean;
  // process.cc
  /** posix_spawn with fdMap[i] on the child's fd i (-1: as inherited); returns its id and pid. */
  spawnChild(
    file: string,
    argv: string[],
    envp: string[],
    cwd: string | null,
    fdMap: number[],
    ref: boolean,
    onExit: (id: number, exitCode: number) => void,
  ): { id: number; pid: number };
  /** Exit code once reaped, null when the timeout ran out (timeoutMs < 0: no limit). */
  childJoinSync(id: number, timeoutMs: number): number | null;
  childSignal(id: number, signal: number): boolean;
  childSetRef(id: number, ref: boolean): boolean;
  makePipe(): [number, number];
  setParentDeathSignal(signal: number): number;
  trackerClaim(): boolean;
  trackerAlive(): boolean;
  // sockets.cc
  /** socket/bind/listen on a Unix path at once (errors thrown now, with errno codes); the fd. */
  unixListen(path: string, backlog: number): number;
  /** The same for TCP; `host` may be a name. Returns the fd and the address actually bound. */
  tcpListen(host: string, port: number, backlog: number): { fd: number; host: string; port: number };
  /** poll(2) on one fd: revents, 0 when the timeout (ms; negative = none) ran out; EINTR throws. */
  fdPoll(fd: number, events: number, timeoutMs: number): number;
  // semaphore.cc
  /** sem_open; flags: 1 O_CREAT, 2 O_EXCL. Returns an opaque handle (closed on GC if not before). */
  semOpen(name: string, flags: number, mode: number, value: number): object;
  semClose(handle: object): void;
  semUnlink(name: string): void;
  /** Blocks: 0 acquired, 1 timed out, 3 interrupted (EINTR). Negative or absent timeout: none. */
  semWait(handle: object, timeoutMs?: number): number;
  semTryWait(handle: object): boolean;
  semPost(handle: object): void;
  semGetValue(handle: object): number;
  // ring.cc (the C++ ring of native/ring.h, for tests and benchmarks; queues use src/ring/)
  ringInit(buffer: ArrayBuffer, byteOffset: number, cells: number, maxItems: number, start: number): boolean;
  ringPut(
    buffer: ArrayBuffer,
    byteOffset: number,
    owner: number,
    payloads: Uint8Array[],
    flags: number[],
  ): RingOutcome & { put: number };
  ringTake(
    buffer: ArrayBuffer,
    byteOffset: number,
    owner: number,
    max: number,
    reject: number,
  ): RingOutcome & { records: { flags: number; bytes: Buffer }[] };
  ringRecover(
    buffer: ArrayBuffer,
    byteOffset: number,
    owner: number,
    blockerKind: number,
    blockerPosition: number,
    blockerOwner: number,
  ): number;
}

/** What a native ring operation reports (statuses and blockers as in native/ring.h). */
export interface RingOutcome {
  status: number;
  blockerKind: number;
  blockerPosition: number;
  blockerOwner: number;
}

/** shmOpen flags. */
export const OpenFlags = { create: 1, exclusive: 2 } as const;

/**
 * The package's root folder (where package.json is). Found by walking up, not from a fixed depth:
 * the built code may sit in dist/ or in a chunk of dist/ (scripts/bundle.mjs), and tests run src/.
 */
export const packageRoot = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'multiproc'
    ) {
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`multiproc: no package.json of multiproc above ${start}`);
  }
}

/** The path of a built file of the package, e.g. distPath('child-main.js'). */
export function distPath(file: string): string {
  return path.join(packageRoot, 'dist', file);
}

const require = createRequire(import.meta.url);
const load = require('node-gyp-build') as (dir: string) => unknown;

export const native = load(packageRoot) as Binding;
