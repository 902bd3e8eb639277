// The seed's Pool program, with multiproc: ten tasks handed to a pool of five processes with
// applyAsync, then close() and join(), then the results.
//
//   Python                                          multiproc
//   pool = Pool(processes=5)                        const pool = new Pool({ processes: 5 })
//   r = pool.apply_async(f, (i,))                   const r = pool.applyAsync({ module, name: 'f' }, [i])
//   pool.close(); pool.join()                       pool.close(); await pool.join()
//   r.get(timeout=1)                                await r.get({ timeout: 1000 })
//
// Run: node examples/pool.js
import { currentProcess, Pool } from 'multiproc';

/**
 * Runs in a worker: the square of x, and which process computed it. Workers import this very
 * file; the guarded top level below does nothing there (Python's __main__ guard).
 * @param {number} x
 */
export function f(x) {
  return { x, square: x * x, pid: process.pid };
}

if (currentProcess().name === 'MainProcess') {
  const pool = new Pool({ processes: 5 });
  const results = Array.from({ length: 10 }, (_, i) => pool.applyAsync({ module: import.meta.url, name: 'f' }, [i]));
  pool.close();
  await pool.join();
  const values = /** @type {ReturnType<typeof f>[]} */ (
    await Promise.all(results.map((r) => r.get({ timeout: 1000 })))
  );
  console.log(`squares: ${values.map((v) => v.square).join(' ')}`);
  const pids = new Set(values.map((v) => v.pid));
  console.log(`computed by ${pids.size} of the pool's 5 worker processes; main pid ${process.pid}`);
}
