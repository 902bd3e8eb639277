// Python's producer/consumer with a Queue between processes.
//
//   Python                                   multiproc
//   q = Queue()                              const q = new Queue()
//   p = Process(target=f, args=(q,))         new Process({ target: { module, name: 'f' }, args: [q] })
//   q.put(x); q.get()                        await q.put(x); await q.get()
//   q.shutdown()  # 3.13                     q.shutdown()  -> a for-await loop over q ends
//   JoinableQueue, q.task_done(), q.join()   new JoinableQueue(), q.taskDone(), await q.join()
//
// Run: node examples/queue.js
import { currentProcess, JoinableQueue, Process, Queue } from 'multiproc';

/**
 * Runs in each worker: squares numbers from `tasks` into `results` until `tasks` is shut down.
 * @param {import('multiproc').JoinableQueue<number>} tasks
 * @param {import('multiproc').Queue<{ n: number, square: number }>} results
 */
export async function worker(tasks, results) {
  for await (const n of tasks) {
    await results.put({ n, square: n * n });
    tasks.taskDone();
  }
}

if (currentProcess().name === 'MainProcess') {
  const tasks = new JoinableQueue();
  const results = new Queue();
  const workers = [1, 2].map(
    () => new Process({ target: { module: import.meta.url, name: 'worker' }, args: [tasks, results] }),
  );
  for (const w of workers) w.start();

  await tasks.putMany([1, 2, 3, 4, 5, 6, 7, 8]);
  await tasks.join(); // every task marked done
  /** @type {Array<{ n: number, square: number }>} */
  const squares = [];
  for (let i = 0; i < 8; i++) squares.push(/** @type {{ n: number, square: number }} */ (await results.get()));
  squares.sort((a, b) => a.n - b.n);
  console.log(`squares ${squares.map((r) => r.square).join(' ')}`);

  // Raw bytes skip the serializer; a message larger than the ring still goes through, in order.
  await results.putBytes(Buffer.from('raw bytes'));
  await results.putBytes(Buffer.alloc(4 << 20, 1));
  console.log(`${(await results.getBytes()).toString()}, then ${(await results.getBytes()).length} bytes`);

  tasks.shutdown(); // the workers' for-await loops end
  for (const w of workers) await w.join();
  console.log(`workers exited ${workers.map((w) => w.exitCode).join(' ')}`);
  tasks.close();
  results.close();
}
