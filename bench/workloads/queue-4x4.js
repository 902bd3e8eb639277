// @ts-check
// Queue 4 producer processes -> 4 consumer processes, small objects; the runner only coordinates.
import { multiprocFourToFour, pythonQueue } from '../lib/queues.js';

export const id = 'queue-4x4';
export const title = 'Queue 4->4 small objects';
export const unit = 'msg/s';
/** @type {'higher'} */
export const direction = 'higher';
export const order = 30;
export const size = { full: 100_000, quick: 2_000 };
export const warm = { full: 8_000, quick: 200 };
export const goal = [{ vs: 'python', ratio: 10 }];
// multiproc runs 1,000,000 items (80,000 warm-up) as the 1->1 workloads do: over 200,000 the 8
// fresh processes spent most of the window JIT-cold (468 k msg/s then, 1.25-1.39 M over 1,000,000;
// docs/DECISIONS.md, "Queue benchmarks"). Python's rate does not depend on the count.
export const scale = { multiproc: 10 };
export const labels = { python: 'Python mp.Queue' };
export const note =
  '8 child processes on one queue; producers released together after a warm-up pass; timed until all consumers reported (every item exactly once).';

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  multiproc: multiprocFourToFour,
  python: (ctx) => pythonQueue(ctx, '4x4'),
};
