// The seed's first program, with multiproc: several processes started, each given an id, joined.
//
//   Python                                   multiproc
//   p = Process(target=work, args=(i,))      new Process({ target: { module, name }, args: [i] })
//   p.start(); p.join()                      p.start(); await p.join()
//
// Run: node examples/processes.js
import { currentProcess, parentProcess, Process } from 'multiproc';

/**
 * Runs in each child: says who it is. A module target is the robust form: the child imports
 * this very file (its top level below does nothing there, as in Python's __main__ guard).
 * @param {number} id
 */
export function work(id) {
  const me = currentProcess();
  console.log(`worker ${id}: ${me.name}, pid ${me.pid}, parent pid ${parentProcess()?.pid}`);
}

if (currentProcess().name === 'MainProcess') {
  const processes = [0, 1, 2, 3].map(
    (id) => new Process({ target: { module: import.meta.url, name: 'work' }, args: [id], name: `worker-${id}` }),
  );
  for (const p of processes) p.start();
  for (const p of processes) await p.join();
  console.log(`all joined, exit codes ${processes.map((p) => p.exitCode).join(' ')} (main pid ${process.pid})`);
}
