// Three processes meet at a Barrier, then wait for the main process to set an Event.
// Run: node examples/event-barrier.js
import { Barrier, currentProcess, Event, Process } from 'multiproc';

/**
 * @param {Barrier} barrier
 * @param {Event} go
 * @param {number} id
 */
export async function party(barrier, go, id) {
  await barrier.wait({ timeout: 10_000 });
  // Every party has arrived; now wait for the starting signal.
  if (await go.wait({ timeout: 10_000 })) console.log(`party ${id} started`);
}

if (currentProcess().name === 'MainProcess') {
  // The main process is the fourth party. The action runs in whichever process arrives last
  // (a function action travels as source text, like a function target of a Process).
  const barrier = new Barrier(4, { action: () => console.log('everyone is here') });
  const go = new Event();
  const parties = [0, 1, 2].map(
    (id) => new Process({ target: { module: import.meta.url, name: 'party' }, args: [barrier, go, id] }),
  );
  for (const p of parties) p.start();
  await barrier.wait();
  go.set();
  for (const p of parties) await p.join();
  barrier.close();
  go.close();
}
