// The one serializer: a round-trip table pinning structured-clone edge cases, handles, registered
// classes, what refuses to travel (with its path), and decoding hostile bytes.
import { afterEach, describe, expect, it } from 'vitest';

import { deserialize, registerClass, serialize, SerializationError, SharedMemory } from 'multiproc';

const roundTrip = <T>(value: T): T => deserialize(serialize(value)) as T;

const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
const huge: unknown[] = [];
huge[2 ** 31] = 'far';

const table: Array<[string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['booleans', [true, false]],
  ['small and large integers', [0, 1, 127, 128, -1, -128, -129, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53]],
  ['floats and specials', [1.5, -0, Number.NaN, Infinity, -Infinity, Number.MIN_VALUE]],
  ['BigInts, small and big', [0n, -5n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n, -(2n ** 200n) + 7n]],
  ['strings: empty, ASCII, long, non-ASCII, emoji', ['', 'a', 'x'.repeat(70_000), 'héllo wörld', '😀 ok']],
  ['a lone surrogate', 'a\ud800b'],
  ['nested plain objects and arrays', { a: [1, { b: [2, [3]] }], c: { d: { e: null } } }],
  ['a sparse array', sparse],
  [
    'Map with object keys',
    new Map<unknown, unknown>([
      [{ k: 1 }, 'v'],
      [2, new Set([1])],
    ]),
  ],
  ['Set', new Set(['a', 1, null])],
  ['Date, and an invalid Date', [new Date(1700000000000), new Date(Number.NaN)]],
  ['RegExp with flags', /a+b/gimsuy],
  ['ArrayBuffer', new Uint8Array([1, 2, 3]).buffer],
  ['typed arrays', [new Float64Array([1.5, -2]), new Int16Array([-3]), new BigUint64Array([5n]), new Uint8Array([9])]],
  ['DataView', new DataView(new Uint8Array([4, 5]).buffer)],
  ['a null-prototype object arrives as a plain one', Object.assign(Object.create(null) as object, { x: 1 })],
];

describe('serialize/deserialize round trip', () => {
  it.each(table)('%s', (_, value) => {
    const copy = roundTrip(value);
    expect(copy).toStrictEqual(
      typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === null ? { ...value } : value,
    );
  });

  it('keeps -0, NaN and holes exactly', () => {
    const [zero, nan, holes] = roundTrip([-0, Number.NaN, sparse]);
    expect(Object.is(zero, -0)).toBe(true);
    expect(Number.isNaN(nan)).toBe(true);
    expect(1 in (holes as unknown[])).toBe(false);
    expect((holes as unknown[]).length).toBe(3);
  });

  it('sends a huge sparse array in a few bytes', () => {
    const bytes = serialize(huge);
    expect(bytes.length).toBeLessThan(64);
    const copy = deserialize(bytes) as unknown[];
    expect(copy.length).toBe(2 ** 31 + 1);
    expect(copy[2 ** 31]).toBe('far');
  });

  it('a Buffer arrives as a Buffer, a Uint8Array as a Uint8Array, both copies', () => {
    const buffer = Buffer.from('bytes');
    const bytes = serialize([buffer, new Uint8Array([1])]);
    const [b, u] = deserialize(bytes) as [Buffer, Uint8Array];
    expect(Buffer.isBuffer(b)).toBe(true);
    expect(b.toString()).toBe('bytes');
    expect(Buffer.isBuffer(u)).toBe(false);
    expect(u).toBeInstanceOf(Uint8Array);
    bytes.fill(0);
    expect(b.toString()).toBe('bytes');
  });

  it('keeps cycles and shared references', () => {
    const shared = { s: 1 };
    const root: Record<string, unknown> = { a: shared, b: shared, list: [shared] };
    root.self = root;
    const map = new Map<string, unknown>();
    map.set('me', map);
    root.map = map;
    const copy = roundTrip(root);
    expect(copy.self).toBe(copy);
    expect(copy.a).toBe(copy.b);
    expect((copy.list as unknown[])[0]).toBe(copy.a);
    expect((copy.map as Map<string, unknown>).get('me')).toBe(copy.map);
  });

  it('keeps references to any of many objects, also after a hole restarted an array as sparse', () => {
    // The encoder remembers the first 16 objects of a message in an array and the rest in a Map;
    // a hole makes it write the array again (sparse), forgetting the objects written meanwhile.
    const objects = Array.from({ length: 40 }, (_, i) => ({ i }));
    const fresh = Array.from({ length: 6 }, (_, h) => ({ h }));
    const holey: unknown[] = [...fresh.slice(0, 5), objects[12]];
    holey[9] = fresh[5]; // a hole at 6..8
    const copy = roundTrip({ objects, again: [objects[3], objects[20], objects[39]], holey, after: fresh });
    expect(copy.objects.map((o) => o.i)).toEqual(objects.map((o) => o.i));
    expect(copy.again[0]).toBe(copy.objects[3]);
    expect(copy.again[1]).toBe(copy.objects[20]);
    expect(copy.again[2]).toBe(copy.objects[39]);
    expect(copy.holey[5]).toBe(copy.objects[12]);
    expect(7 in copy.holey).toBe(false);
    expect(copy.after.map((o) => o.h)).toEqual([0, 1, 2, 3, 4, 5]);
    copy.after.forEach((o, h) => expect(copy.holey[h < 5 ? h : 9]).toBe(o));
    // The same within the first 16 objects (the array part of the encoder's memory).
    const small = [{ a: 1 }, { b: 2 }];
    const early: unknown[] = [small[0], small[1]];
    early[4] = small[0];
    const smallCopy = roundTrip([early, small]);
    expect(smallCopy[0][0]).toBe(smallCopy[1][0]);
    expect(smallCopy[0][4]).toBe(smallCopy[1][0]);
    expect(smallCopy[0][1]).toBe(smallCopy[1][1]);
    // Nothing of one message is remembered into the next.
    const next = roundTrip([objects[3], objects[3]]);
    expect(next[0]).toBe(next[1]);
    expect(next[0]).not.toBe(copy.objects[3]);
  });

  it('carries Errors with name, message, stack, cause and own properties', () => {
    const cause = new RangeError('inner');
    const error = Object.assign(new TypeError('outer', { cause }), { code: 'E_BAD', errno: -2 });
    const custom = new Error('mine');
    custom.name = 'CustomError';
    const aggregate = new AggregateError([new Error('one')], 'many');
    const [e, c, a] = roundTrip([error, custom, aggregate]) as [TypeError & { code: string }, Error, AggregateError];
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toBe('outer');
    expect(e.stack).toBe(error.stack);
    expect(e.cause).toBeInstanceOf(RangeError);
    expect((e.cause as Error).message).toBe('inner');
    expect(e.code).toBe('E_BAD');
    expect(c.name).toBe('CustomError');
    expect(a.errors[0].message).toBe('one');
  });

  it('keeps __proto__ keys as own data, never as a prototype', () => {
    const evil = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const copy = roundTrip(evil);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('starts every message with the format version byte, and refuses another version', () => {
    const bytes = serialize({ i: 1 });
    expect(bytes[0]).toBe(1);
    const other = Buffer.from(bytes);
    other[0] = 99;
    expect(() => deserialize(other)).toThrow(/format version 99/);
  });

  it('is stateless: each message decodes alone, in any order', () => {
    const messages = [
      { a: 1, b: 2 },
      { a: 3, b: 4 },
      { b: 5, a: 6 },
    ].map((m) => serialize(m));
    expect(deserialize(messages[2]!)).toEqual({ b: 5, a: 6 });
    expect(deserialize(messages[0]!)).toEqual({ a: 1, b: 2 });
  });
});

describe('what cannot travel', () => {
  class Unregistered {
    x = 1;
  }
  const cases: Array<[string, unknown, string]> = [
    ['a function', [1, { cb: () => 0 }], 'args[1].cb'],
    ['a symbol in a Map', [new Map([['k', Symbol('s')]])], 'args[0].get("k")'],
    ['an unregistered class instance', [{ deep: [new Unregistered()] }], 'args[0].deep[0]'],
    ['a SharedArrayBuffer', [new SharedArrayBuffer(8)], 'args[0]'],
    ['a function as an Error property', [Object.assign(new Error('x'), { fn: () => 0 })], 'args[0].fn'],
  ];
  it.each(cases)('%s throws SerializationError naming %s', (_, value, path) => {
    let error: unknown;
    try {
      serialize(value, 'args');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as SerializationError).path).toBe(path);
    expect((error as Error).message.startsWith(`${path}:`)).toBe(true);
  });

  it('the encoder is usable again after a failure', () => {
    expect(() => serialize({ f: () => 0 })).toThrow(SerializationError);
    expect(roundTrip({ ok: [1, 2] })).toEqual({ ok: [1, 2] });
  });
});

describe('registered classes and handles', () => {
  class Point {
    constructor(
      public x: number,
      public y: number,
    ) {}
    norm(): number {
      return Math.hypot(this.x, this.y);
    }
  }
  class Temperature {
    constructor(readonly celsius: number) {}
  }
  registerClass(Point, { name: 'test.Point' });
  registerClass(Temperature, {
    name: 'test.Temperature',
    toWire: (t) => t.celsius,
    fromWire: (celsius: number) => new Temperature(celsius),
  });

  it('revives registered classes with their prototype, or through fromWire', () => {
    const [p, t] = roundTrip([new Point(3, 4), new Temperature(21)]) as [Point, Temperature];
    expect(p).toBeInstanceOf(Point);
    expect(p.norm()).toBe(5);
    expect(t).toBeInstanceOf(Temperature);
    expect(t.celsius).toBe(21);
  });

  it('refuses a name registered to another class', () => {
    class Other {}
    expect(() => registerClass(Other, { name: 'test.Point' })).toThrow(RangeError);
    expect(() => registerClass(Other, { name: '' })).toThrow(TypeError);
  });

  const segments: SharedMemory[] = [];
  afterEach(() => {
    for (const shm of segments.splice(0)) {
      shm.close();
      shm.unlink();
    }
  });

  it('writes shared objects as handles that revive onto the same memory, at any depth', () => {
    const shm = new SharedMemory({ create: true, size: 8 });
    segments.push(shm);
    const copy = roundTrip({ list: [new Map([['m', new Set([shm])]])] });
    const revived = [...copy.list[0]!.get('m')!][0]!;
    expect(revived).toBeInstanceOf(SharedMemory);
    expect(revived).not.toBe(shm);
    revived.buf[0] = 77;
    expect(shm.buf[0]).toBe(77);
    revived.close();
  });
});

describe('hostile bytes', () => {
  it('throws SerializationError for truncated or corrupt messages, never crashes', () => {
    const good = serialize({ a: [1, 'two', new Map([[3, 4n]])], b: new Date(0), c: Buffer.alloc(10) });
    for (let cut = 0; cut < good.length; cut++) {
      expect(() => deserialize(good.subarray(0, cut))).toThrow(SerializationError);
    }
    let seed = 1;
    for (let round = 0; round < 2000; round++) {
      const bytes = Buffer.from(good);
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      bytes[1 + (seed % (bytes.length - 1))] = seed >> 8;
      try {
        deserialize(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(Error);
      }
    }
  });

  it('refuses lengths that run past the end before allocating', () => {
    const bytes = Buffer.from([1, 13, 0xff, 0xff, 0xff, 0x7f]); // an array claiming 2^31 items
    expect(() => deserialize(bytes)).toThrow(/runs past its end/);
    expect(() => deserialize('nope' as never)).toThrow(TypeError);
  });
});
