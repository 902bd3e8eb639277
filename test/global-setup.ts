// Runs once around the whole suite: afterwards, nothing of ours may be left in /dev/shm.
import { readdirSync } from 'node:fs';

const ours = (name: string): boolean => name.startsWith('mp-') || name.startsWith('mptest-');

export function setup(): void {
  // Start from a clean slate, so a leak reported below belongs to this run.
  const before = readdirSync('/dev/shm').filter(ours);
  if (before.length > 0) console.warn(`global-setup: /dev/shm held ${before.length} entries from earlier runs`);
}

export function teardown(): void {
  const left = readdirSync('/dev/shm').filter(ours);
  if (left.length > 0) throw new Error(`the test suite left entries in /dev/shm: ${left.join(', ')}`);
}
