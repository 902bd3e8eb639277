// @ts-check
// Trivial pool tasks, shared by multiproc's Pool (module references), piscina (default export and
// named exports) and the workerpool worker script.

/** @param {number} x */
export function square(x) {
  return x * x;
}

/** @param {number[]} xs */
export function squareChunk(xs) {
  return xs.map(square);
}

/** The worker's pid: how the pool-start workload sees that both workers have run a task. */
export function pid() {
  return process.pid;
}

/** A target that does nothing (process start+join). */
export function noop() {}

export default square;
