// examples/quick-start.js — run with: node examples/quick-start.js
import { currentProcess, Pool, Process, Queue } from 'multiproc';

/** @param {Queue} q @param {number} n */
export function produce(q, n) {
  for (let i = 0; i < n; i++) q.putSync({ i }); // blocking forms suit worker code
  q.putSync(null);
}

export const square = (/** @type {number} */ x) => x * x;

if (currentProcess().name === 'MainProcess') {
  // A queue between two processes
  const q = new Queue();
  const p = new Process({ target: { module: import.meta.url, name: 'produce' }, args: [q, 3] });
  p.start();
  for (let item; (item = await q.get()) !== null;) console.log('got', item);
  await p.join();
  q.close();

  // A parallel map; `await using pool = new Pool()` does close() + join() in TypeScript
  const pool = new Pool({ processes: 2 });
  console.log(await pool.map({ module: import.meta.url, name: 'square' }, [1, 2, 3, 4]));
  pool.close();
  await pool.join();
}
