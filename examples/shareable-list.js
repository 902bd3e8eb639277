// A ShareableList made by a SharedMemoryManager, changed by a child, readable by Python too
// (`shared_memory.ShareableList(name=...)` attaches to the same segment).
// Run: node examples/shareable-list.js
import { currentProcess, Process, SharedMemoryManager } from 'multiproc';

/** @param {import('multiproc').ShareableList} list */
export function shout(list) {
  for (let i = 0; i < list.length; i++) {
    const item = list.get(i);
    if (typeof item === 'string') list.set(i, item.toUpperCase());
  }
}

if (currentProcess().name === 'MainProcess') {
  const manager = new SharedMemoryManager().start();
  const list = manager.ShareableList(['alpha', 42, 2.5, true, null, 'beta']);
  const p = new Process({ target: { module: import.meta.url, name: 'shout' }, args: [list] });
  p.start();
  await p.join();
  console.log(JSON.stringify(list.toArray()));
  list.close();
  // Unlinks every segment the manager made.
  manager.shutdown();
}
