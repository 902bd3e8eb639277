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
export const scale = { multiproc: 2, 'cp-advanced': 0.4 };
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
