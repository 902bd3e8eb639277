// @ts-check
// multiproc's side of the queue workloads, run in child processes started by multiproc's Process.
// Blocking (...Sync) forms throughout, as Python's workers use get()/put().

/**
 * 1->1 consumer: takes `warm` items, acknowledges, then takes `n` items and acknowledges with their
 * checksum, so the parent can time the measured pass and know that every item arrived.
 * @param {any} q
 * @param {any} ack
 * @param {number} warm
 * @param {number} n
 * @param {'objects' | 'bytes'} mode
 */
export function consume(q, ack, warm, n, mode) {
  let sum = 0;
  if (mode === 'bytes') {
    for (let i = 0; i < warm; i++) q.getBytesSync();
    ack.putSync('warm');
    for (let i = 0; i < n; i++) {
      const b = q.getBytesSync();
      sum += b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] * 0x1000000);
    }
  } else {
    for (let i = 0; i < warm; i++) q.getSync();
    ack.putSync('warm');
    for (let i = 0; i < n; i++) sum += q.getSync().i;
  }
  ack.putSync(sum);
}

/**
 * 4->4 producer: a warm-up pass ended by a sentinel (null), then, after `go`, `n` items
 * numbered from `base` and a sentinel.
 * @param {any} q
 * @param {any} go
 * @param {number} warm
 * @param {number} n
 * @param {number} base
 */
export function produce(q, go, warm, n, base) {
  for (let i = 0; i < warm; i++) q.putSync({ i: -1 });
  q.putSync(null);
  go.getSync();
  for (let i = 0; i < n; i++) q.putSync({ i: base + i });
  q.putSync(null);
}

/**
 * 4->4 consumer: takes items until one sentinel, acknowledges, waits for `go` (so that no consumer
 * takes a second warm-up sentinel), then takes items until one sentinel and reports sum and count.
 * @param {any} q
 * @param {any} go
 * @param {any} ack
 */
export function consumeUntilSentinel(q, go, ack) {
  while (q.getSync() !== null);
  ack.putSync('warm');
  go.getSync();
  let sum = 0;
  let count = 0;
  for (let m = q.getSync(); m !== null; m = q.getSync()) {
    sum += m.i;
    count++;
  }
  ack.putSync({ sum, count });
}
