// The seed's Manager program, with multiproc: a dict and a list that live in a manager's server
// process, changed by a child process through proxies, read back by the parent.
//
//   Python                                   multiproc
//   with Manager() as manager:               const manager = await Manager()   (or `await using`)
//       d = manager.dict()                   const d = await manager.dict()
//       l = manager.list(range(10))          const l = await manager.list([0, 1, ..., 9])
//       d[1] = '1'                           await d.set(1, '1')
//       l.reverse()                          await l.reverse()
//
// Run: node examples/manager.js
import { currentProcess, Manager, Process } from 'multiproc';

/**
 * Runs in the child: the proxies arrived as arguments, like any shared object.
 * @param {import('multiproc').DictProxy<number | string, unknown>} d
 * @param {import('multiproc').ListProxy<number>} l
 */
export async function f(d, l) {
  await d.set(1, '1');
  await d.set('2', 2);
  await d.set(0.25, null);
  await l.reverse();
}

if (currentProcess().name === 'MainProcess') {
  const manager = await Manager();
  try {
    const d = await manager.dict();
    const l = await manager.list(Array.from({ length: 10 }, (_, i) => i));
    const p = new Process({ target: { module: import.meta.url, name: 'f' }, args: [d, l] });
    p.start();
    await p.join();
    console.log(`dict ${JSON.stringify(await d.entries())}`);
    console.log(`list ${(await l.toArray()).join(' ')}`);
  } finally {
    await manager.shutdown();
  }
}
