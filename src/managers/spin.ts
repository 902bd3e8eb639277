// Whether polling a channel instead of sleeping is worth it right now.
//
// Polling wins when each side has a core: a reply then comes back in microseconds, where waking a
// sleeping process costs ~20-50 us. When clearly more processes are runnable than there are
// cores, a poller only takes the CPU its peer needs (and loses the scheduler's wake-up boost that
// a sleeper gets), so both sides sleep and use doorbells. Between the two, each poller adapts its
// budget to how often polling paid off (client.ts, server.ts). The count of runnable tasks is the 4th
// field of /proc/loadavg, read at most every 50 ms (a read costs ~10 us).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const CHECK_EVERY = 64;
const CHECK_EVERY_MS = 50;
const cores = availableParallelism();
let calls = 0;
let checkedAt = -Infinity;
// How often recent samples found more runnable tasks than cores (a moving average): a blip
// (another process running for a moment) does not stop the polling, an overload does.
let overloaded = 0;
type Policy = 'auto' | 'always' | 'never';
// MULTIPROC_MANAGER_POLL=always|never|auto overrides the load check (read once; inherited by the
// server process): for measurements, or a machine whose load the check misjudges.
const configured = process.env.MULTIPROC_MANAGER_POLL;
let policy: Policy = configured === 'always' || configured === 'never' ? configured : cores < 2 ? 'never' : 'auto';

/** True when this process may poll (spin) for a while instead of sleeping. Cheap: called in loops. */
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
