import { existsSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import * as mp from 'multiproc';
import {
  Array as SharedArrayClass,
  Closed,
  CorruptionError,
  Lock,
  RLock,
  RawArray,
  RawValue,
  SharedArray,
  SharedValue,
  TYPECODE_NAMES,
  Value,
  fromHandle,
  type HandleDescriptor,
} from 'multiproc';

import { reapAll, spawnSync } from './sync-helpers.js';

const opened: Array<{ close(): void; toHandle(): HandleDescriptor }> = [];
function track<T extends { close(): void; toHandle(): HandleDescriptor }>(object: T): T {
  opened.push(object);
  return object;
}

afterEach(async () => {
  await reapAll();
  const names = opened.map((object) => String(object.toHandle().segment).slice(1));
  for (const object of opened.splice(0)) object.close();
  expect(names.filter((name) => name.startsWith('mp-o-') && existsSync(`/dev/shm/${name}`))).toEqual([]);
});

// typecode, a value that fits, min, max, what the view is
const TABLE: Array<[string, unknown, unknown, unknown, string]> = [
  ['b', -5, -128, 127, 'Int8Array'],
  ['B', 200, 0, 255, 'Uint8Array'],
  ['h', -300, -32768, 32767, 'Int16Array'],
  ['H', 60000, 0, 65535, 'Uint16Array'],
  ['i', -70000, -(2 ** 31), 2 ** 31 - 1, 'Int32Array'],
  ['I', 3e9, 0, 2 ** 32 - 1, 'Uint32Array'],
  ['l', -(2n ** 40n), -(2n ** 63n), 2n ** 63n - 1n, 'BigInt64Array'],
  ['L', 2n ** 63n, 0n, 2n ** 64n - 1n, 'BigUint64Array'],
  ['q', -(2n ** 62n), -(2n ** 63n), 2n ** 63n - 1n, 'BigInt64Array'],
  ['Q', 2n ** 64n - 1n, 0n, 2n ** 64n - 1n, 'BigUint64Array'],
  ['f', 1.5, -Infinity, Infinity, 'Float32Array'],
  ['d', Math.PI, -Infinity, Infinity, 'Float64Array'],
  ['c', 65, 0, 255, 'Uint8Array'],
  ['?', true, false, true, 'Uint8Array'],
];

describe('Value and RawValue: every typecode', () => {
  for (const [code, sample, min, max, viewType] of TABLE) {
    it(`'${code}' stores ${String(sample)}, its limits, and refuses the wrong type or range`, () => {
      const zero = typeof sample === 'bigint' ? 0n : typeof sample === 'boolean' ? false : 0;
      const value = track(new Value(code, undefined));
      expect(value.value).toBe(zero);
      value.value = sample as never;
      expect(value.value).toBe(sample);
      value.set(min as never);
      expect(value.get()).toBe(min);
      value.value = max as never;
      expect(value.value).toBe(max);
      expect(value.view.constructor.name).toBe(viewType);
      expect(value.typecode).toBe(code);
      const raw = track(new RawValue(code, sample as never));
      expect(raw.value).toBe(sample);
      // the wrong type
      const wrong = typeof sample === 'bigint' ? 1 : typeof sample === 'boolean' ? 1 : 'x';
      expect(() => (value.value = wrong as never)).toThrow(TypeError);
      expect(() => new Value(code, wrong as never)).toThrow(TypeError);
      if (typeof max === 'number' && Number.isFinite(max)) {
        expect(() => (value.value = (max + 1) as never)).toThrow(RangeError);
        expect(() => (value.value = ((min as number) - 1) as never)).toThrow(RangeError);
        expect(() => (value.value = 1.5 as never)).toThrow(TypeError);
      }
      if (typeof max === 'bigint') {
        expect(() => (value.value = (max + 1n) as never)).toThrow(RangeError);
        expect(() => (value.value = ((min as bigint) - 1n) as never)).toThrow(RangeError);
      }
    });
  }

  it('names work like their codes; unknown typecodes are TypeErrors', () => {
    const names: Array<[string, string]> = [
      ['int8', 'b'],
      ['uint8', 'B'],
      ['int16', 'h'],
      ['uint16', 'H'],
      ['int32', 'i'],
      ['uint32', 'I'],
      ['int64', 'q'],
      ['uint64', 'Q'],
      ['float32', 'f'],
      ['float64', 'd'],
      ['bool', '?'],
      ['c_long', 'l'],
      ['c_double', 'd'],
    ];
    for (const [name, code] of names) expect(track(new RawValue(name)).typecode).toBe(code);
    expect(TYPECODE_NAMES).toContain('int32');
    for (const bad of ['z', '', 'ii', 'Int32', 5, null, undefined]) {
      expect(() => new Value(bad as never)).toThrow(TypeError);
      expect(() => new SharedArrayClass(bad as never, 3)).toThrow(TypeError);
    }
  });

  it('a float32 rounds as Float32Array does', () => {
    const value = track(new RawValue('f', 0.1));
    expect(value.value).toBe(Math.fround(0.1));
  });
});

describe('Array and RawArray', () => {
  it('is made from a length (zeros) or from values, with get/set/length and negative indexes', () => {
    const a = track(new SharedArrayClass('d', 1_000));
    expect(a.length).toBe(1_000);
    expect(a.get(999)).toBe(0);
    a.set(-1, 2.5);
    expect(a.get(999)).toBe(2.5);
    const b = track(new SharedArrayClass('i', [1, 2, 3]));
    expect(b.toArray()).toEqual([1, 2, 3]);
    expect([...b]).toEqual([1, 2, 3]);
    const c = track(new RawArray('B', Buffer.from([7, 8])));
    expect(c.toArray()).toEqual([7, 8]);
    const d = track(new RawArray('q', [1n, -2n]));
    expect(d.get(1)).toBe(-2n);
    expect(track(new RawArray('i', 0)).length).toBe(0);
  });

  it('exports Array, SharedArray and SharedValue (mp.Array is the shared array)', () => {
    expect(SharedArray).toBe(SharedArrayClass);
    expect(mp.Array).toBe(SharedArrayClass);
    expect(SharedValue).toBe(Value);
  });

  it('refuses out-of-range indexes, bad values and bad sizes', () => {
    const a = track(new SharedArrayClass('h', 4));
    expect(() => a.get(4)).toThrow(RangeError);
    expect(() => a.get(-5)).toThrow(RangeError);
    expect(() => a.get(1.5)).toThrow(RangeError);
    expect(() => a.get('1' as never)).toThrow(TypeError);
    expect(() => a.set(0, 40_000)).toThrow(RangeError);
    expect(() => a.set(0, '1' as never)).toThrow(TypeError);
    expect(() => new SharedArrayClass('i', -1)).toThrow(RangeError);
    expect(() => new SharedArrayClass('i', 1.5)).toThrow(RangeError);
    expect(() => new SharedArrayClass('i', 'abc' as never)).toThrow(TypeError);
    expect(() => new SharedArrayClass('i', [1, 'x'] as never)).toThrow(/element 1/);
    expect(() => new SharedArrayClass('B', 2 ** 40)).toThrow(RangeError);
    expect(() => new RawArray('i', 3, { lock: true } as never)).toThrow(TypeError);
    expect(() => new SharedArrayClass('i', 3, { lock: 'yes' as never })).toThrow(TypeError);
  });

  it('keeps its data on its own page: the view starts at byte 4096 of the mapping', () => {
    const a = track(new SharedArrayClass('d', 10));
    expect(a.view.byteOffset).toBe(4096);
    expect(track(new Value('i')).view.byteOffset).toBe(4096);
  });

  for (const code of ['i', 'd', 'q', 'B', '?'] as const) {
    it(`'${code}': a child sees this process's writes through its view, and the other way round`, async () => {
      const sample = {
        i: [1, -2, 3],
        d: [0.5, 1.5, -2.25],
        q: [1n, -(2n ** 60n), 3n],
        B: [1, 2, 255],
        '?': [true, false, true],
      }[code];
      const a = track(new SharedArrayClass(code, sample as never));
      const asView = Array.from(a.view as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? String(x) : x));
      const child = spawnSync('view', { h: { array: a.toHandle() }, write: [[0, code === '?' ? 0 : 9]] });
      expect(await child.next()).toEqual({ seen: asView, typecode: code });
      expect(await child.next()).toEqual({ written: true });
      await child.exited;
      expect(a.get(0)).toBe(code === '?' ? false : code === 'q' ? 9n : 9);
    });
  }
});

describe('locks of Value and Array', () => {
  it('default to an RLock, shared with a child through the handle', async () => {
    const v = track(new Value('i', 41));
    expect(v.getLock()).toBeInstanceOf(RLock);
    const child = spawnSync('value', { h: { value: v.toHandle() } });
    expect(await child.next()).toEqual({ value: '41', lock: 'RLock' });
    await child.exited;
    expect(v.value).toBe(42);
  });

  it('{ lock: false } has none (getLock throws TypeError); { lock } uses the one given', () => {
    const bare = track(new Value('i', 0, { lock: false }));
    expect(() => bare.getLock()).toThrow(TypeError);
    const lock = track(new Lock());
    const a = track(new SharedArrayClass('d', 3, { lock }));
    expect(a.getLock()).toBe(lock);
    const revived = track(fromHandle(a.toHandle()) as SharedArrayClass<'d'>);
    expect(revived.getLock()).toBeInstanceOf(Lock);
    revived.getLock().acquireSync();
    expect(lock.tryAcquire()).toBe(false);
    revived.getLock().release();
  });

  it('named: open by name finds the data and the lock; unlink removes both', () => {
    const name = `t-value-${process.pid}`;
    const v = track(new Value('d', 1.25, { name }));
    try {
      const opened = track(Value.open(name));
      expect(opened.value).toBe(1.25);
      opened.value = 2;
      expect(v.value).toBe(2);
      expect(opened.getLock()).toBeInstanceOf(RLock);
      expect(() => new Value('d', 0, { name })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      expect(() => Value.open(`${name}-missing`)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
      const raw = track(RawValue.open(name));
      expect(raw.value).toBe(2);
    } finally {
      v.unlink();
    }
    expect(() => v.value).toThrow(Closed);
    const uid = process.geteuid?.();
    expect(existsSync(`/dev/shm/mp-n-${uid}-VALU-${name}`)).toBe(false);
    expect(existsSync(`/dev/shm/mp-n-${uid}-RLCK-${name}`)).toBe(false);
  });

  it('close makes the value, the view and the lock unusable here', () => {
    const v = new Value('i', 1);
    const view = v.view;
    v.close();
    v.close();
    expect(() => v.value).toThrow(Closed);
    expect(() => (v.value = 2)).toThrow(Closed);
    expect(() => v.view).toThrow(Closed);
    expect(view.length).toBe(0);
    expect(() => v.getLock()).toThrow(Closed);
  });

  it('a corrupt typecode or length is a CorruptionError when opening', () => {
    const name = `t-corrupt-${process.pid}`;
    const a = track(new RawArray('i', 4, { name }));
    try {
      // Reach the control page through a second mapping of the segment.
      const words = new Int32Array((a as unknown as { words: Int32Array }).words.buffer, 0, 32);
      words[16] = 0x7a; // 'z'
      expect(() => RawArray.open(name)).toThrow(CorruptionError);
      words[16] = 0x69; // 'i'
      words[17] = 1 << 30;
      expect(() => RawArray.open(name)).toThrow(CorruptionError);
      words[17] = 4;
      expect(track(RawArray.open(name)).length).toBe(4);
    } finally {
      a.unlink();
    }
  });
});
