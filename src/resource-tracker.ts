// Removes the unnamed segments that dead processes left behind.
//
// Every holder of an unnamed segment keeps a shared flock on it (src/segment.ts), and the last
// one to close unlinks it. When every holder is killed, nobody runs that code: the kernel drops
// their flocks, and the segment is an orphan (exists, nobody holds it). The tracker finds and
// unlinks orphans. It is one detached process per user (it holds byte 0 of the liveness
// registry, so a second one exits at once), started by the first process that creates an
// unnamed segment, immune to the terminal's signals, and it exits once no segment of ours is
// left. Unlike Python's tracker (gh-82300) it never unlinks memory that anyone still holds: the
// kernel's flock, not a registration, says who uses a segment.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';

import { distPath, native } from './binding.js';

export const UNNAMED_PREFIX = 'mp-o-';
const ORPHAN_MIN_AGE_MS = 2_000;
const SWEEP_INTERVAL_MS = 1_000;
const IDLE_EXIT_MS = 5_000;

function ourSegments(): string[] {
  try {
    return readdirSync('/dev/shm').filter((name) => name.startsWith(UNNAMED_PREFIX));
  } catch {
    return [];
  }
}

/**
 * Unlinks unnamed segments whose every holder is gone. A segment is removed only when no process
 * holds its flock and it is older than `minAgeMs` (a creator takes its flock microseconds after
 * creating it, so a young segment may simply not be locked yet). Returns the names removed.
 */
export function sweepOrphans(minAgeMs = ORPHAN_MIN_AGE_MS): string[] {
  const removed: string[] = [];
  const now = Date.now();
  const uid = process.geteuid?.();
  for (const name of ourSegments()) {
    let fd = -1;
    try {
      if (now - statSync(`/dev/shm/${name}`).ctimeMs < minAgeMs) continue;
      fd = native.shmOpen(`/${name}`, 0, 0);
      if (uid !== undefined && native.fdStat(fd).uid !== uid) continue;
      if (native.fdLock(fd, 2)) {
        native.shmUnlink(`/${name}`);
        removed.push(name);
      }
    } catch {
      // gone meanwhile, or not ours: leave it
    } finally {
      if (fd >= 0) native.fdClose(fd);
    }
  }
  return removed;
}

let ensured = false;

/** Starts the tracker for this user unless one runs. Cheap after the first call. */
export function ensureTracker(): void {
  if (ensured) return;
  ensured = true;
  if (native.trackerAlive()) return;
  // Explicit argv and no execArgv: the tracker never runs the parent's code or loaders.
  const child = spawn(process.execPath, [distPath('resource-tracker-main.js')], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  child.on('error', () => {
    // No tracker: orphans are still swept by the next process that creates a segment.
  });
  child.unref();
}

/** The tracker process's work (resource-tracker-main.ts): sweep until idle. */
export function runTracker(): void {
  if (!native.trackerClaim()) return; // another tracker runs for this user
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
  let idleSince = Date.now();
  const timer = setInterval(() => {
    sweepOrphans();
    if (ourSegments().length > 0) idleSince = Date.now();
    else if (Date.now() - idleSince >= IDLE_EXIT_MS) clearInterval(timer);
  }, SWEEP_INTERVAL_MS);
}
