// @ts-check
// Queue 1->1, 64-byte raw messages: putBytes/getBytes (no serialization) against peers' raw paths.
import { ipcOneToOne, multiprocOneToOne, pythonQueue, threadsOneToOne, zmqOneToOne } from '../lib/queues.js';

export const id = 'queue-bytes';
export const title = 'Queue 1->1 64-byte raw';
export const unit = 'msg/s';
/** @type {'higher'} */
export const direction = 'higher';
export const order = 20;
export const size = { full: 100_000, quick: 2_000 };
export const warm = { full: 10_000, quick: 200 };
export const goal = [{ vs: 'python', ratio: 30 }];
// multiproc runs 1,000,000 messages (100,000 warm-up): over 200,000 (~0.1 s) a fresh consumer
// process spent much of the window before V8 had optimised its get path, and the figure swung
// between 7x and 11x Python from run to run. worker_threads gets 500,000 for the same reason.
// Python's rate does not depend on the count (docs/DECISIONS.md, "Queue benchmarks").
export const scale = { multiproc: 10, 'worker-threads': 5, 'cp-advanced': 0.4 };
export const labels = { python: 'Python mp.Queue (bytes)', 'worker-threads': 'worker_threads (1 process)' };
export const note =
  'putBytesSync in the parent, getBytesSync in one child; peers send 64-byte bytes/Buffer/frames; timed until the child acknowledged all n.';

/** @type {Record<string, import('../lib/types.js').Contestant>} */
export const contestants = {
  multiproc: (ctx) => multiprocOneToOne(ctx, 'bytes'),
  python: (ctx) => pythonQueue(ctx, 'bytes'),
  'cp-advanced': (ctx) => ipcOneToOne(ctx, 'advanced', 'bytes'),
  'worker-threads': (ctx) => threadsOneToOne(ctx, 'bytes'),
  zeromq: (ctx) => zmqOneToOne(ctx, 'bytes'),
};
