// The Queue family (API.md section 5): Queue, SimpleQueue, JoinableQueue.
export { Queue } from './queue.js';
export { SimpleQueue } from './simple.js';
export { JoinableQueue } from './joinable.js';
export type { QueueOptions } from './layout.js';
