// @ts-check
// multiproc's side of the manager workload: a child does d.set(k, i) + d.get(k), timed here, and
// leaves the elapsed milliseconds in the dict for the parent.

/**
 * @param {any} d a DictProxy
 * @param {number} warm
 * @param {number} n
 */
export async function setGet(d, warm, n) {
  for (let i = 0; i < warm; i++) {
    await d.set('k', i);
    await d.get('k');
  }
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await d.set('k', i);
    if ((await d.get('k')) !== i) throw new Error(`read back a wrong value at ${i}`);
  }
  const t1 = performance.now();
  await d.set('elapsedMs', t1 - t0);
}
