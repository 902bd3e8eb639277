// @ts-check
// Queue 1->1, small objects { i }: the runner process puts, one child process gets.
import { ipcOneToOne, multiprocOneToOne, pythonQueue, threadsOneToOne, zmqOneToOne } from '../lib/queues.js';

export const id = 'queue-objects';
export const title = 'Queue 1->1 small objects';
export const unit = 'msg/s';
/** @type {'higher'} */
export const direction = 'higher';
export const order = 10;
export const size = { full: 100_000, quick: 2_000 };
export const warm = { full: 10_000, quick: 200 };
export const goal = [{ vs: 'python', ratio: 10 }];
// multiproc runs 1,000,000 messages (100,000 warm-up): over 200,000 (~0.1 s) a fresh consumer
// process spent much of the window before V8 had optimised its get path, and the figure swung
// between 7x and 11x Python from run to run. worker_threads gets 500,000 for the same reason.
// Python's rate does not depend on the count (docs/DECISIONS.md, "Queue benchmarks").
export const scale = { multiproc: 10, 'worker-threads': 5, 'cp-advanced': 0.4 };
export const labels = { python: 'Python mp.Queue', 'worker-threads': 'worker_threads (1 process)' };
export const note =
  'putSync in the parent, getSync in one child; timed from the first measured put until the child has acknowledged all n (checksum).';

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  multiproc: (ctx) => multiprocOneToOne(ctx, 'objects'),
  python: (ctx) => pythonQueue(ctx, 'objects'),
  'cp-json': (ctx) => ipcOneToOne(ctx, 'json', 'objects'),
  'cp-advanced': (ctx) => ipcOneToOne(ctx, 'advanced', 'objects'),
  'worker-threads': (ctx) => threadsOneToOne(ctx, 'objects'),
  zeromq: (ctx) => zmqOneToOne(ctx, 'objects'),
};
