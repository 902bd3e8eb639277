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
export const scale = { multiproc: 2, 'cp-advanced': 0.4 };
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
