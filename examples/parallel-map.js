// A parallel map: count the primes below 200,000 by testing every number in a pool of workers,
// first with map (results in input order, in chunks), then lazily with imapUnordered over a
// generator, and check both against the same count done in this process.
//
//   Python                                          multiproc
//   with Pool() as pool:                            await using pool = new Pool()   (TS; in JS:
//       pool.map(is_prime, range(n))                  pool[Symbol.asyncDispose]() at the end)
//   for r in pool.imap_unordered(f, gen):           for await (const r of pool.imapUnordered(f, gen, { chunksize }))
//
// Run: node examples/parallel-map.js
import { cpuCount, currentProcess, Pool } from 'multiproc';

/**
 * Runs in the workers (they import this file; the guarded top level does nothing there).
 * @param {number} n
 */
export function isPrime(n) {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** @param {number} n */
function* numbersBelow(n) {
  for (let i = 0; i < n; i++) yield i;
}

if (currentProcess().name === 'MainProcess') {
  const N = 200_000;
  const target = { module: import.meta.url, name: 'isPrime' };
  const pool = new Pool({ processes: Math.min(4, cpuCount()) });
  try {
    const flags = await pool.map(target, numbersBelow(N));
    const byMap = flags.filter(Boolean).length;
    let byImap = 0;
    for await (const prime of pool.imapUnordered(target, numbersBelow(N), { chunksize: 1000 })) if (prime) byImap++;
    let local = 0;
    for (let i = 0; i < N; i++) if (isPrime(i)) local++;
    console.log(`primes below ${N}: map ${byMap}, imapUnordered ${byImap}, in this process ${local}`);
  } finally {
    await pool[Symbol.asyncDispose](); // close() then join()
  }
}
