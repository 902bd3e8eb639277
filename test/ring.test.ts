// The TypeScript ring (src/ring/) against the C++ one (native/ring.h, bound by native/ring.cc):
// one layout, so either one takes what the other put, in one process and across processes.
import { afterEach, describe, expect, it } from 'vitest';

import { native } from '../dist/binding.js';
import { CorruptionError } from '../dist/errors.js';
import { Ring } from '../dist/ring/ring.js';
import { Segment } from '../dist/segment.js';

import { fixture, runNode } from './helpers.js';

const KIND = { tag: 'RTST', version: 1, label: 'ring test' };
// RingStatus (a const enum in src/ring/layout.ts: inlined, no runtime object)
const RingStatus = { Ok: 0, Empty: 1, Full: 2, Busy: 3, WrongKind: 4, TooBig: 5, Corrupt: 6 } as const;
type RingStatus = (typeof RingStatus)[keyof typeof RingStatus];
const OFFSET = 64; // after the segment header
const A = 0x10001;
const B = 0x20002;

const segments: Segment[] = [];
afterEach(() => {
  for (const s of segments.splice(0)) {
    s.close();
  }
});

function makeRing(cells: number, maxItems = 0, start = 0): { segment: Segment; ts: Ring } {
  const segment = Segment.create(KIND, Ring.bytesFor(cells), (s) => {
    expect(native.ringInit(s.buffer, OFFSET, cells, maxItems, start)).toBe(true);
  });
  segments.push(segment);
  return { segment, ts: new Ring(segment.buffer, OFFSET, A) };
}

/** Deterministic bytes of message i with `length` bytes. */
function payload(i: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let j = 0; j < length; j++) b[j] = (i * 31 + j * 7 + length) & 0xff;
  return b;
}

function tsTake(ring: Ring, max = 1, reject = 0): { status: RingStatus; items: { flags: number; bytes: Buffer }[] } {
  const status = ring.tryTake(max, reject);
  const items: { flags: number; bytes: Buffer }[] = [];
  for (let i = 0; i < ring.takenCount; i++) {
    const o = ring.takenOffset[i]!;
    items.push({ flags: ring.takenFlags[i]!, bytes: Buffer.from(ring.data.subarray(o, o + ring.takenLength[i]!)) });
  }
  if (status === RingStatus.Ok) ring.release();
  return { status, items };
}

describe('one ring, two implementations', () => {
  for (const start of [0, 0xfffffff0, 0x7ffffff9]) {
    it(`records put by either are taken by either, in order (start ${start.toString(16)})`, () => {
      const { segment, ts } = makeRing(32, 0, start);
      const buffer = segment.buffer;
      let seed = start || 1;
      const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
      const lengths: number[] = [];
      let put = 0;
      let got = 0;
      for (let round = 0; round < 6000; round++) {
        const length = random(ts.maxInline + 1);
        const batch = 1 + random(4);
        const bodies = Array.from({ length: batch }, (_, k) => payload(put + k, length));
        const flags = bodies.map((_, k) => (put + k) & 0xff);
        const n =
          random(2) === 0
            ? ts.tryPut(bodies, flags, 0, batch) === RingStatus.Ok
              ? ts.putCount
              : 0
            : native.ringPut(buffer, OFFSET, B, bodies, flags).put;
        for (let k = 0; k < n; k++) lengths.push(length);
        put += n;
        const taken =
          random(2) === 0
            ? tsTake(ts, 1 + random(3)).items
            : native.ringTake(buffer, OFFSET, B, 1 + random(3), 0).records;
        for (const item of taken) {
          expect(item.flags).toBe(got & 0xff);
          expect(item.bytes.equals(payload(got, lengths[got]!))).toBe(true);
          got++;
        }
      }
      expect(put).toBeGreaterThan(1000);
      while (got < put) {
        for (const item of native.ringTake(buffer, OFFSET, B, 8, 0).records) {
          expect(item.bytes.equals(payload(got, lengths[got]!))).toBe(true);
          got++;
        }
      }
      expect(ts.size()).toBe(0);
      expect(ts.tryTake(1, 0)).toBe(RingStatus.Empty);
    });
  }

  it('a refused kind stays in place for both', () => {
    const { segment, ts } = makeRing(16);
    native.ringPut(segment.buffer, OFFSET, B, [Buffer.from('x')], [2]);
    expect(ts.tryTake(1, 2)).toBe(RingStatus.WrongKind);
    expect(native.ringTake(segment.buffer, OFFSET, B, 1, 2).status).toBe(RingStatus.WrongKind);
    expect(tsTake(ts).items[0]!.bytes.toString()).toBe('x');
  });

  it('rejects memory that holds no ring with CorruptionError', () => {
    const segment = Segment.create(KIND, Ring.bytesFor(16), () => undefined);
    segments.push(segment);
    expect(() => new Ring(segment.buffer, OFFSET, A)).toThrow(CorruptionError);
  });
});

describe('the TS ring recovers what dead parties leave', () => {
  /** Writes a meta word by hand: what a process killed at that moment leaves. */
  function setMeta(segment: Segment, cells: number, position: number, seq: number, owner: number): void {
    const u32 = new Uint32Array(segment.buffer, OFFSET + 512, cells * 2);
    u32[2 * (position & (cells - 1))] = seq >>> 0;
    u32[2 * (position & (cells - 1)) + 1] = owner;
  }

  it('a claim at the tail of a dead producer is reset; a half-written record is skipped whole', () => {
    const { segment, ts } = makeRing(16);
    setMeta(segment, 16, 0, 0, 0x30003); // claimed position 0, died before moving E
    expect(ts.tryPut([Buffer.from('a')], [0], 0, 1)).toBe(RingStatus.Busy);
    expect([ts.blockerKind, ts.blockerOwner]).toEqual([1, 0x30003]);
    expect(ts.recover()).toBe(true);
    expect(ts.tryPut([Buffer.from('a')], [0], 0, 1)).toBe(RingStatus.Ok);
    // Now a producer that moved E past a 3-cell record at 1 and died before publishing it.
    setMeta(segment, 16, 1, 2, 0x30003);
    new BigInt64Array(segment.buffer, OFFSET, 16)[8] = 4n + (2n << 32n);
    native.ringPut(segment.buffer, OFFSET, B, [Buffer.from('b')], [0]);
    expect(tsTake(ts).items[0]!.bytes.toString()).toBe('a');
    expect(ts.tryTake(1, 0)).toBe(RingStatus.Busy);
    const disposed: (Buffer | null)[] = [];
    expect(ts.recover((p) => disposed.push(p))).toBe(true);
    expect(disposed).toEqual([null]); // not even a header was written
    expect(tsTake(ts).items[0]!.bytes.toString()).toBe('b');
    expect(ts.size()).toBe(0);
    for (let i = 0; i < 50; i++) {
      expect(ts.tryPut([payload(i, 150)], [0], 0, 1)).toBe(RingStatus.Ok);
      expect(native.ringTake(segment.buffer, OFFSET, B, 1, 0).records[0]!.bytes.equals(payload(i, 150))).toBe(true);
    }
  });

  it('a dead consumer before moving D hands the item back; after, its cells come back', () => {
    const { segment, ts } = makeRing(16);
    for (let i = 0; i < 16; i++) native.ringPut(segment.buffer, OFFSET, B, [payload(i, 100)], [0]);
    setMeta(segment, 16, 0, 1, 0x30003); // claimed the head, died before moving D
    expect(ts.tryTake(1, 0)).toBe(RingStatus.Busy);
    expect(ts.recover()).toBe(true);
    expect(tsTake(ts).items[0]!.bytes.equals(payload(0, 100))).toBe(true);
    const dead = new Ring(segment.buffer, OFFSET, 0x40004);
    expect(dead.tryTake(1, 0)).toBe(RingStatus.Ok); // took item 1, died holding it
    expect(tsTake(ts).items[0]!.bytes.equals(payload(2, 100))).toBe(true);
    expect(ts.tryPut([payload(99, 100), payload(100, 100)], [0, 0], 0, 2)).toBe(RingStatus.Ok);
    expect(ts.putCount).toBe(1); // item 2's cell is free, item 1's is not
    expect(ts.tryPut([payload(100, 100)], [0], 0, 1)).toBe(RingStatus.Full);
    expect([ts.blockerKind, ts.blockerOwner]).toEqual([3, 0x40004]);
    let complete = false;
    expect(ts.recover((_, __, c) => (complete = c))).toBe(true);
    expect(complete).toBe(true);
    expect(ts.tryPut([payload(100, 100)], [0], 0, 1)).toBe(RingStatus.Ok);
  });
});

describe('a scribbled ring', () => {
  it('never throws anything but CorruptionError, reads nothing out of bounds and never loops', () => {
    let seed = 7;
    const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let round = 0; round < 300; round++) {
      const { segment, ts } = makeRing(16);
      for (let i = 0; i < 6; i++) ts.tryPut([payload(i, random(300))], [0], 0, 1);
      tsTake(ts);
      const bytes = new Uint8Array(segment.buffer, OFFSET + 64);
      for (let i = 0; i <= round % 8; i++) bytes[random(bytes.length)] = random(256);
      for (let i = 0; i < 20; i++) {
        const { status, items } = tsTake(ts, 1 + random(4));
        expect(status).toBeGreaterThanOrEqual(0);
        for (const item of items) expect(item.bytes.length).toBeLessThanOrEqual(ts.maxInline);
        ts.tryPut([payload(i, random(200))], [0], 0, 1);
        ts.walk();
      }
      segment.close();
      segments.pop();
    }
  });
});

describe('across processes', () => {
  it('a child putting with the TS ring, the parent taking with the C++ ring', async () => {
    const { segment } = makeRing(64);
    const child = runNode(fixture('ring-child.js'), [segment.segmentName, '2000'], 30_000);
    let got = 0;
    for (let idle = 0; got < 2000 && idle < 20_000; idle++) {
      const taken = native.ringTake(segment.buffer, OFFSET, B, 16, 0);
      for (const item of taken.records) {
        const i = got++;
        expect(item.bytes.equals(payload(i, 40 + (i % 300)))).toBe(true);
      }
      if (taken.records.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const result = await child;
    expect(result.stderr).toBe('');
    expect(got).toBe(2000);
  });
});
