// The seed's Lock program, with multiproc: ten processes print one at a time under a shared lock.
//
//   Python                                   multiproc
//   lock = Lock()                            const lock = new Lock()
//   lock.acquire(); try: ... finally: ...    await lock.withLock(() => { ... })
//
// If a process dies holding the lock, the next one to acquire it gets it (lock.ownerDied is
// true for that acquisition): a lock is never lost with its owner.
// Run: node examples/lock.js
import { currentProcess, Lock, Process } from 'multiproc';

/**
 * @param {Lock} lock
 * @param {number} i
 */
export async function greet(lock, i) {
  await lock.withLock(() => console.log(`hello world ${i}`));
}

if (currentProcess().name === 'MainProcess') {
  const lock = new Lock();
  const processes = Array.from(
    { length: 10 },
    (_, i) => new Process({ target: { module: import.meta.url, name: 'greet' }, args: [lock, i] }),
  );
  for (const p of processes) p.start();
  for (const p of processes) await p.join();
  lock.close();
}
