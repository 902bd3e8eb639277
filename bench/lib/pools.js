// @ts-check
// Pools for the pool workloads: multiproc's Pool(2), piscina (2 threads) and workerpool (2 processes),
// each created, warmed up with a pass of the same kind, used for the timed pass, and shut down.
import { fileURLToPath } from 'node:url';
import { childPath, childTarget, multiproc, peer, withCleanup, within } from './util.js';

/** @typedef {import('./types.js').Ctx} Ctx */

export const squareTarget = () => childTarget('tasks.js', 'square');

/** Sum of squares of 0..n-1: checks that every task ran once with the right result. */
export const sumOfSquares = (/** @type {number} */ n) => ((n - 1) * n * (2 * n - 1)) / 6;

/**
 * @template T
 * @param {Ctx} ctx
 * @param {(pool: any, mp: Record<string, any>) => Promise<T>} body
 */
export async function withMultiprocPool(ctx, body) {
  const mp = await multiproc('Pool');
  return withCleanup(async (cleanup) => {
    const pool = new mp.Pool({ processes: 2 });
    let joined = false;
    cleanup.defer(async () => {
      if (joined) return;
      pool.terminate();
      await within(Promise.resolve(pool.join()), 5000, 'pool.join after terminate');
    });
    const result = await body(pool, mp);
    pool.close();
    await within(Promise.resolve(pool.join()), ctx.timeoutMs, 'pool.join');
    joined = true;
    return result;
  });
}

/**
 * @template T
 * @param {(pool: any) => Promise<T>} body
 */
export async function withPiscina(body) {
  const { Piscina } = await peer('piscina');
  return withCleanup(async (cleanup) => {
    const pool = new Piscina({ filename: childPath('tasks.js'), minThreads: 2, maxThreads: 2 });
    cleanup.defer(() => pool.destroy());
    return body(pool);
  });
}

/**
 * @template T
 * @param {(pool: any) => Promise<T>} body
 */
export async function withWorkerpool(body) {
  const workerpool = (await peer('workerpool')).default;
  return withCleanup(async (cleanup) => {
    const pool = workerpool.pool(fileURLToPath(new URL('../children/workerpool-worker.js', import.meta.url)), {
      workerType: 'process',
      minWorkers: 2,
      maxWorkers: 2,
    });
    cleanup.defer(() => pool.terminate(true));
    return body(pool);
  });
}

/**
 * Python's default map chunksize, used to give piscina and workerpool (which have no map) the same
 * batching: ceil(n / (4 * workers)).
 * @param {number[]} items
 */
export function pythonChunks(items) {
  const size = Math.ceil(items.length / 8);
  /** @type {number[][]} */
  const chunks = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** @param {number} n */
export const range = (n) => Array.from({ length: n }, (_, i) => i);
