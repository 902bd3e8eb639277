// Whether polling a channel instead of sleeping is worth it right now.
//
// Polling wins when each side has a core: a reply then comes back in microseconds, where waking a
// sleeping process costs ~20-50 us. When more processes are runnable than there are cores, a
// poller only takes the CPU its peer needs (and loses the scheduler's wake-up boost that a
// sleeper gets), so both sides sleep and use doorbells. The count of runnable tasks is the 4th
// field of /proc/loadavg, read at most every 100 ms (a read costs ~10 us).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const CHECK_EVERY_MS = 100;
const cores = availableParallelism();
let checkedAt = -Infinity;
let allowed = cores > 1;

/** True when this process may poll (spin) for a while instead of sleeping. */
export function spinAllowed(): boolean {
  if (process.env.MP_FORCE_SPIN) return true; // TEMPORARY
  if (cores < 2) return false;
  const now = performance.now();
  if (now - checkedAt < CHECK_EVERY_MS) return allowed;
  checkedAt = now;
  try {
    const fields = readFileSync('/proc/loadavg', 'latin1').split(' ');
    const running = Number.parseInt(fields[3]?.split('/')[0] ?? '', 10);
    // The count includes this process, and a peer that is polling too.
    allowed = Number.isFinite(running) ? running <= cores : true;
  } catch {
    allowed = true; // no /proc: poll, bounded as ever
  }
  return allowed;
}
