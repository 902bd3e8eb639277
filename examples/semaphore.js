// A Semaphore(2) lets at most two of five processes into a section at once.
// Run: node examples/semaphore.js
import { currentProcess, Process, Semaphore, Value } from 'multiproc';

/**
 * @param {Semaphore} slots
 * @param {Value<'i'>} inside
 * @param {Value<'i'>} most
 */
export async function visit(slots, inside, most) {
  await slots.withLock(async () => {
    inside.getLock().withLockSync(() => {
      inside.value += 1;
      if (inside.value > most.value) most.value = inside.value;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    inside.getLock().withLockSync(() => (inside.value -= 1));
  });
}

if (currentProcess().name === 'MainProcess') {
  const slots = new Semaphore(2);
  const inside = new Value('i', 0);
  const most = new Value('i', 0, { lock: inside.getLock() });
  const visitors = Array.from(
    { length: 5 },
    () => new Process({ target: { module: import.meta.url, name: 'visit' }, args: [slots, inside, most] }),
  );
  for (const p of visitors) p.start();
  for (const p of visitors) await p.join();
  console.log(`at most ${most.value} inside at once; ${slots.getValue()} slots free`);
  for (const shared of [slots, inside, most]) shared.close();
}
