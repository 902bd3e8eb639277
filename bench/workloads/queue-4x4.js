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
export const scale = { multiproc: 2 };
export const labels = { python: 'Python mp.Queue' };
export const note =
  '8 child processes on one queue; producers released together after a warm-up pass; timed until all consumers reported (every item exactly once).';

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  multiproc: multiprocFourToFour,
  python: (ctx) => pythonQueue(ctx, '4x4'),
};
