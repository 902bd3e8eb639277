// Whether busy-waiting (spinning, polling) instead of sleeping is worth it right now: the one
// policy of every waiter of the library (locks, queues, pipes, the manager's channels).
//
// Spinning wins when each side has a core: the other process answers in microseconds, where
// waking a sleeping process costs ~20-50 us. When clearly more tasks are runnable than there are
// cores, a spinner only takes the CPU its peer needs (and loses the scheduler's wake-up boost that
// a sleeper gets): two processes spinning on one vCPU cost milliseconds per hand-off. So every
// spin is bounded by its caller, and none starts while this says no. The count of runnable tasks
// is the 4th field of /proc/loadavg, read at most every 50 ms (a read costs ~10 us) and smoothed:
// it counts short-lived threads too, so a blip does not stop spinning, an overload does.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

import { native } from './binding.js';

const CHECK_EVERY = 64;
const CHECK_EVERY_MS = 50;
const cores = availableParallelism();
let calls = 0;
let checkedAt = -Infinity;
// How often recent samples found more runnable tasks than cores (a moving average): a blip
// (another process running for a moment) does not stop the polling, an overload does.
let overloaded = 0;
type Policy = 'auto' | 'always' | 'never';
// MULTIPROC_SPIN=always|never|auto overrides the load check (read once; inherited by children):
// for measurements, or a machine whose load the check misjudges. (MULTIPROC_MANAGER_POLL, its
// first name, is still read.)
const configured = process.env.MULTIPROC_SPIN ?? process.env.MULTIPROC_MANAGER_POLL;
let policy: Policy = configured === 'always' || configured === 'never' ? configured : cores < 2 ? 'never' : 'auto';

/** True when this process may spin (poll) for a while instead of sleeping. Cheap: called in loops. */
export function spinAllowed(): boolean {
  if (policy !== 'auto') return policy === 'always';
  if ((++calls & (CHECK_EVERY - 1)) !== 0) return overloaded < 0.5;
  const now = performance.now();
  if (now - checkedAt >= CHECK_EVERY_MS) {
    checkedAt = now;
    // One task more than cores is tolerated: the count includes short-lived ones.
    overloaded = 0.6 * overloaded + 0.4 * (runnable() > cores + 1 ? 1 : 0);
  }
  return overloaded < 0.5;
}

/** For measurements: poll always, never, or as the load says (the default). @internal */
export function setSpinPolicy(value: Policy): void {
  policy = value;
}

function runnable(): number {
  try {
    const fields = readFileSync('/proc/loadavg', 'latin1').split(' ');
    // The count includes this process, and a peer that is polling too.
    const running = Number.parseInt(fields[3]?.split('/')[0] ?? '', 10);
    return Number.isFinite(running) ? running : 0;
  } catch {
    return 0; // no /proc: poll, bounded as ever
  }
}

/**
 * How long a spin only looks before it yields the CPU between looks (ms). A peer that answers
 * within this time is caught at full speed.
 */
const YIELD_AFTER_MS = 0.005;

/**
 * Busy-waits until `ready()` or `ms` pass (the caller asked spinAllowed()); true when it became ready.
 *
 * Past the first few microseconds it yields the CPU between looks. When the process it waits for
 * shares this CPU (Linux puts a woken task next to its waker, so two processes that hand messages
 * back and forth end up on one CPU), the yield runs it at once instead of burning the time slice
 * it needs; and two runnable tasks on one CPU are what makes the scheduler move one of them to an
 * idle CPU. Measured with bench/pipe-warmup.js: a Pipe round trip took ~10 us while both ends
 * shared a CPU and ~2.5 us apart, and the pair stayed on one CPU for thousands of round trips.
 * With a CPU of its own the yield returns at once (~0.3 us).
 */
export function spinUntil(ready: () => boolean, ms: number): boolean {
  const start = performance.now();
  const until = start + ms;
  for (let i = 1; ; i++) {
    if (ready()) return true;
    // performance.now() costs more than a shared-memory load: look at the clock now and then.
    if ((i & 31) === 0) {
      const now = performance.now();
      if (now > until) return ready();
      if (now - start > YIELD_AFTER_MS) native.schedYield();
    }
  }
}
