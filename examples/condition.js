// Producer and consumer in two processes, coordinated by a Condition over a shared Value.
// Run: node examples/condition.js
import { Condition, currentProcess, Process, Value } from 'multiproc';

/**
 * Waits until the producer has made `total` items, reporting each wake-up.
 * @param {Condition} ready
 * @param {Value<'i'>} made
 * @param {number} total
 */
export async function consume(ready, made, total) {
  await ready.withLock(() => ready.waitFor(() => made.value >= total, { timeout: 10_000 }));
  console.log(`consumer saw ${made.value} items`);
}

if (currentProcess().name === 'MainProcess') {
  const ready = new Condition();
  const made = new Value('i', 0);
  const consumer = new Process({ target: { module: import.meta.url, name: 'consume' }, args: [ready, made, 5] });
  consumer.start();
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    await ready.withLock(() => {
      made.value += 1;
      ready.notifyAll();
    });
  }
  await consumer.join();
  console.log(`producer made ${made.value} items`);
  ready.close();
  made.close();
}
