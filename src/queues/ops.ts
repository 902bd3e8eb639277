// The operations of the queue classes, as loops over QueueCore's steps: each async form and its
// Sync twin run the same steps and differ only in how they park (waitWord vs waitWordSync).
// Fast paths come first and touch no clock, no timer and no Promise beyond the caller's own.
import { AbortError, Closed } from '../errors.js';
import { encode, encodeWith } from './codec.js';
import type { Park, QueueCore } from './core.js';
import { DROPPED, KIND_BYTES, KIND_OBJECT, MAX_MESSAGE, NOTHING } from './layout.js';
import type { OversizedPut } from './oversized.js';
import { PendingRead } from './oversized.js';
import { LIVENESS_SLICE_MS, Patience } from './waiting.js';

/** Bytes of a putBytes argument, as a view (no copy: the ring copies them). */
export function bytesOf(value: unknown, what = 'bytes'): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(`${what} must be a Buffer, TypedArray, DataView or ArrayBuffer`);
}

// ---- put ----

/** Puts bytes that are stable (the caller's own, or a copy), waiting as the timeout allows. */
export async function putAsync(
  core: QueueCore,
  bytes: Uint8Array,
  flags: number,
  timeout: number,
  signal?: AbortSignal,
): Promise<void> {
  const patience = new Patience(timeout);
  if (bytes.length > core.ring.maxInline) {
    core.oversized.checkLength(bytes.length);
    const progress: OversizedPut = { reserved: false, done: false };
    for (let park = core.oversized.putStep(bytes, flags, patience, progress); park !== null;) {
      await core.park(park, signal);
      park = core.oversized.putStep(bytes, flags, patience, progress);
    }
    return;
  }
  for (let park = core.putStep(bytes, flags, patience); park !== null; park = core.putStep(bytes, flags, patience)) {
    if (signal?.aborted) throw new AbortError();
    await core.park(park, signal);
  }
}

/** The blocking twin of putAsync. */
export function putSync(core: QueueCore, bytes: Uint8Array, flags: number, timeout: number): void {
  const patience = new Patience(timeout);
  if (bytes.length > core.ring.maxInline) {
    core.oversized.checkLength(bytes.length);
    const progress: OversizedPut = { reserved: false, done: false };
    for (let park = core.oversized.putStep(bytes, flags, patience, progress); park !== null;) {
      core.parkSync(park);
      park = core.oversized.putStep(bytes, flags, patience, progress);
    }
    return;
  }
  for (let park = core.putStep(bytes, flags, patience); park !== null; park = core.putStep(bytes, flags, patience)) {
    core.parkSync(park);
  }
}

/**
 * Encodes `item` and tries to put it at once, straight from the serializer's scratch bytes.
 * Returns null when it went in, else a stable copy to put by waiting.
 */
export function encodeAndTryPut(core: QueueCore, item: unknown): Buffer | null {
  encoding = core; // tryPutEncoded runs synchronously, inside encodeWith
  return encodeWith(item, tryPutEncoded);
}

let encoding: QueueCore | null = null;

// Hoisted (no closure per put): puts the serializer's scratch bytes straight into the ring.
function tryPutEncoded(bytes: Buffer, length: number): Buffer | null {
  const core = encoding!;
  if (length > MAX_MESSAGE) throw new RangeError(`a message is at most ${MAX_MESSAGE} bytes (got ${length})`);
  if (length <= core.ring.maxInline && core.tryPut(bytes, KIND_OBJECT, null, length)) return null;
  return Buffer.from(bytes.subarray(0, length));
}

/** Puts every item in order, as few claims and wake-ups as the ring allows. Returns the count. */
export async function putManyAsync(core: QueueCore, items: readonly unknown[], bytes: boolean): Promise<number> {
  const payloads = items.map((item, i) => (bytes ? bytesOf(item, `items[${i}]`) : encode(item, `items[${i}]`)));
  const flags = payloads.map(() => (bytes ? KIND_BYTES : KIND_OBJECT));
  const ring = core.ring;
  let i = 0;
  while (i < payloads.length) {
    core.check();
    const payload = payloads[i]!;
    if (payload.length > ring.maxInline || !core.tryPut(payload, flags[i]!, null)) {
      await putAsync(core, payload, flags[i]!, Infinity);
      i++;
      continue;
    }
    i++;
    // The rest of a run of small ones goes in as batches of one claim each.
    while (i < payloads.length && payloads[i]!.length <= ring.maxInline) {
      let run = i;
      while (run < payloads.length && payloads[run]!.length <= ring.maxInline) run++;
      const put = core.tryPutBatch(payloads, flags, i, run - i);
      if (put === 0) break;
      i += put;
    }
  }
  return payloads.length;
}

// ---- get ----

const scratch: unknown[] = [];

/** One item (reject: record kinds refused with TypeError), waiting as the timeout allows. */
export async function getAsync(
  core: QueueCore,
  reject: number,
  timeout: number,
  signal?: AbortSignal,
): Promise<unknown> {
  const fast = core.takeFast(reject);
  if (fast !== NOTHING) return fast;
  const patience = new Patience(timeout);
  for (;;) {
    if (signal?.aborted) throw new AbortError();
    const step = core.getStep(1, reject, patience, scratch);
    if (step === null) return scratch.pop();
    if (step instanceof PendingRead) {
      const value = await readPending(core, step);
      if (value !== DROPPED) return value;
      continue;
    }
    await core.park(step, signal);
  }
}

/** The blocking twin of getAsync. */
export function getSync(core: QueueCore, reject: number, timeout: number): unknown {
  const fast = core.takeFast(reject);
  if (fast !== NOTHING) return fast;
  const patience = new Patience(timeout);
  for (;;) {
    const step = core.getStep(1, reject, patience, scratch);
    if (step === null) return scratch.pop();
    if (step instanceof PendingRead) {
      const value = readPendingSync(core, step);
      if (value !== DROPPED) return value;
      continue;
    }
    core.parkSync(step);
  }
}

/** At least one item (waiting as the timeout allows), then as many more as are ready, up to `max`. */
export async function getManyAsync(
  core: QueueCore,
  max: number,
  timeout: number,
  signal?: AbortSignal,
): Promise<unknown[]> {
  const out: unknown[] = [];
  const patience = new Patience(timeout);
  while (out.length === 0) {
    if (signal?.aborted) throw new AbortError();
    const step = core.getStep(Math.min(max, 256), 0, patience, out);
    if (step === null) break;
    if (step instanceof PendingRead) {
      const value = await readPending(core, step);
      if (value !== DROPPED) out.push(value);
      continue;
    }
    await core.park(step, signal);
  }
  while (out.length < max && core.takeMore(Math.min(max - out.length, 256), out));
  return out;
}

// A taken oversized message whose producer is still writing its side file: park on the data
// signal (the producer bumps it once the file is in place), in slices, so that a producer that
// died is noticed. Its timeout no longer applies: the item is taken, so the get waits for it
// rather than lose it.
async function readPending(core: QueueCore, read: PendingRead): Promise<unknown> {
  for (;;) {
    const expected = core.ring.dataSignal();
    const value = read.tryRead();
    if (value !== NOTHING) return value;
    await core.park({ offset: core.ring.dataSignalOffset, expected, ms: LIVENESS_SLICE_MS }, undefined);
    if (core.segment.closed) throw new Closed(`${core.segment.kind.label} is closed`);
  }
}

function readPendingSync(core: QueueCore, read: PendingRead): unknown {
  for (;;) {
    const expected = core.ring.dataSignal();
    const value = read.tryRead();
    if (value !== NOTHING) return value;
    core.parkSync({ offset: core.ring.dataSignalOffset, expected, ms: LIVENESS_SLICE_MS });
    if (core.segment.closed) throw new Closed(`${core.segment.kind.label} is closed`);
  }
}

// ---- join (JoinableQueue) ----

/** Waits until every task put was marked done; false when the timeout ran out first. */
export async function joinAsync(core: QueueCore, timeout: number, signal?: AbortSignal): Promise<boolean> {
  const patience = new Patience(timeout);
  for (let park: Park | null = core.joinStep(patience); park !== null; park = core.joinStep(patience)) {
    if (park.ms < 0) return false;
    await core.park(park, signal);
  }
  return true;
}

/** The blocking twin of joinAsync. */
export function joinSync(core: QueueCore, timeout: number): boolean {
  const patience = new Patience(timeout);
  for (let park: Park | null = core.joinStep(patience); park !== null; park = core.joinStep(patience)) {
    if (park.ms < 0) return false;
    core.parkSync(park);
  }
  return true;
}
