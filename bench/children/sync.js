// @ts-check
// multiproc's side of the Value and shared-Array workloads, run in child processes.
import { atomicNotify, atomicWaitSync } from 'multiproc';

/**
 * Value += 1 under its lock: `warm` times, then report ready (ctl[0]), wait for go (ctl[1]),
 * `n` times, report done (ctl[2]).
 * @param {any} v
 * @param {any} ctl an Int32 RawArray of 4
 * @param {number} warm
 * @param {number} n
 */
export function incrementLocked(v, ctl, warm, n) {
  const lock = v.getLock();
  const inc = () => {
    v.value += 1;
  };
  for (let i = 0; i < warm; i++) lock.withLockSync(inc);
  const c = /** @type {Int32Array} */ (ctl.view);
  Atomics.add(c, 0, 1);
  atomicNotify(c, 0);
  while (Atomics.load(c, 1) === 0) atomicWaitSync(c, 1, 0, { timeout: 1000 });
  for (let i = 0; i < n; i++) lock.withLockSync(inc);
  Atomics.add(c, 2, 1);
  atomicNotify(c, 2);
}

/** @param {Float64Array} xs */
function sum(xs) {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}

/** @param {number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * Sums the shared array through `view` and a local copy of it, alternately, `reps` times each after
 * one warm-up pass; writes the median times (ms) and the two sums into `res` (a Float64 RawArray of 4).
 * @param {any} a
 * @param {any} res
 * @param {number} reps
 */
export function sumSharedAndLocal(a, res, reps) {
  const shared = /** @type {Float64Array} */ (a.view);
  const local = new Float64Array(shared.length);
  local.set(shared);
  /** @type {number[]} */
  const ts = [];
  /** @type {number[]} */
  const tl = [];
  let s1 = 0;
  let s2 = 0;
  for (let r = 0; r <= reps; r++) {
    const first = r % 2 === 0 ? shared : local;
    const second = first === shared ? local : shared;
    let t = performance.now();
    const x = sum(first);
    const tFirst = performance.now() - t;
    t = performance.now();
    const y = sum(second);
    const tSecond = performance.now() - t;
    if (r === 0) continue; // warm-up
    (first === shared ? ts : tl).push(tFirst);
    (second === shared ? ts : tl).push(tSecond);
    s1 = first === shared ? x : y;
    s2 = first === shared ? y : x;
  }
  const out = /** @type {Float64Array} */ (res.view);
  out[0] = median(ts);
  out[1] = median(tl);
  out[2] = s1;
  out[3] = s2;
}
