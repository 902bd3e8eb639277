// The seed's shared-memory program, with multiproc: a Value and an Array shared with children,
// and a counter that four processes increment under the value's lock.
//
//   Python                                   multiproc
//   num = Value('d', 0.0)                    const num = new Value('d', 0)
//   arr = Array('i', range(10))              const arr = new SharedArray('i', [0, 1, ..., 9])
//   with counter.get_lock(): counter.value += 1
//                                            counter.getLock().withLockSync(() => (counter.value += 1))
//
// Run: node examples/shared-counter.js
import { currentProcess, Process, SharedArray, Value } from 'multiproc';

/**
 * @param {Value<'d'>} num
 * @param {SharedArray<'i'>} arr
 */
export function negate(num, arr) {
  num.value = 3.1415927;
  // `view` is a zero-copy Int32Array over the shared memory.
  const view = arr.view;
  for (let i = 0; i < view.length; i++) view[i] = -view[i];
}

/**
 * @param {Value<'i'>} counter
 * @param {number} times
 */
export function count(counter, times) {
  const lock = counter.getLock();
  // `value += 1` is a read and a write: only the lock makes it safe between processes.
  for (let i = 0; i < times; i++) lock.withLockSync(() => (counter.value += 1));
}

if (currentProcess().name === 'MainProcess') {
  const num = new Value('d', 0);
  const arr = new SharedArray(
    'i',
    Array.from({ length: 10 }, (_, i) => i),
  );
  const p = new Process({ target: { module: import.meta.url, name: 'negate' }, args: [num, arr] });
  p.start();
  await p.join();
  console.log(num.value);
  console.log(arr.toArray().join(' '));

  const counter = new Value('i', 0);
  const counters = [0, 1, 2, 3].map(
    () => new Process({ target: { module: import.meta.url, name: 'count' }, args: [counter, 10_000] }),
  );
  for (const c of counters) c.start();
  for (const c of counters) await c.join();
  console.log(`counter ${counter.value}`);
  for (const shared of [num, arr, counter]) shared.close();
}
