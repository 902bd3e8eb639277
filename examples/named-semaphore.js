// A POSIX named semaphore shared by name with another process (it could be C or Python:
// anything that calls sem_open on the same name).
// Run: node examples/named-semaphore.js
import { currentProcess, NamedSemaphore, Process } from 'multiproc';

/** @param {string} name */
export async function signal(name) {
  const sem = new NamedSemaphore({ name });
  await new Promise((resolve) => setTimeout(resolve, 50));
  sem.release();
  sem.close();
}

if (currentProcess().name === 'MainProcess') {
  const name = `multiproc-example-${process.pid}`;
  const sem = new NamedSemaphore({ name, create: true, value: 0 });
  const p = new Process({ target: { module: import.meta.url, name: 'signal' }, args: [name] });
  p.start();
  console.log(`got the unit: ${await sem.acquire({ timeout: 10_000 })}`);
  await p.join();
  sem.close();
  sem.unlink();
}
