import { existsSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { CorruptionError, ProcessError, ShareableList, SharedMemory, SharedMemoryManager, fromHandle } from 'multiproc';

import { runPython } from './helpers.js';
import { reapAll, spawnSync } from './sync-helpers.js';

const made: ShareableList[] = [];
function list(items: Parameters<typeof ShareableList.prototype.set>[1][] | null, name?: string): ShareableList {
  const l = new ShareableList(items, name === undefined ? undefined : { name });
  made.push(l);
  return l;
}

afterEach(async () => {
  await reapAll();
  for (const l of made.splice(0)) {
    l.close();
    try {
      l.unlink();
    } catch {
      // unlinked by the test
    }
  }
});

const hasPython = (await runPython('print(1)')) !== null;
if (!hasPython) console.log('skipping the Python interop tests: python3 is not installed');

// Python must not let its resource tracker unlink (or warn about) segments it only attached to.
const PY_PRELUDE = `
import sys, json
from multiprocessing import shared_memory, resource_tracker
def attach(name):
    sl = shared_memory.ShareableList(name=name)
    resource_tracker.unregister(sl.shm._name, 'shared_memory')
    return sl
`;

describe('ShareableList', () => {
  it('holds numbers, bigints, booleans, strings, Buffers and null, and reads them back', () => {
    const items = [1, -2.5, 2n ** 60n, true, false, null, 'héllo wörld', Buffer.from([1, 2, 3]), '', -0, 2 ** 53];
    const l = list(items);
    expect(l.length).toBe(items.length);
    expect(l.toArray()).toEqual([
      1,
      -2.5,
      2n ** 60n,
      true,
      false,
      null,
      'héllo wörld',
      Buffer.from([1, 2, 3]),
      '',
      -0,
      2 ** 53,
    ]);
    expect(Object.is(l.get(9), -0)).toBe(true);
    // 2 ** 53 is not a safe integer: it is stored as a double ('d'), so it reads back as a number.
    expect(l.format.endsWith('d')).toBe(true);
    expect(l.get(-1)).toBe(2 ** 53);
  });

  it('set changes values and types within a slot; too big is a RangeError and writes nothing', () => {
    const l = list(['abc', 1, null]);
    l.set(0, 'abcdefg');
    l.set(1, 'x');
    l.set(2, 3n);
    expect(l.toArray()).toEqual(['abcdefg', 'x', 3]);
    expect(() => l.set(0, 'abcdefghi')).toThrow(RangeError);
    expect(() => l.set(1, 'ééééé')).toThrow(RangeError); // 10 UTF-8 bytes in an 8-byte slot
    expect(l.get(0)).toBe('abcdefg');
    l.set(0, Buffer.from('12345678'));
    expect(l.get(0)).toEqual(Buffer.from('12345678'));
    expect(() => l.set(3, 1)).toThrow(RangeError);
    expect(() => l.set(0, undefined as never)).toThrow(TypeError);
    expect(() => l.set(0, 2n ** 64n)).toThrow(RangeError);
    expect(() => l.set(0, {} as never)).toThrow(TypeError);
  });

  it('count and index compare numbers with bigints by value and Buffers by content', () => {
    const l = list([1, 2, 1, 'a', Buffer.from('z'), null]);
    expect(l.count(1)).toBe(2);
    expect(l.count(1n)).toBe(2);
    expect(l.count(Buffer.from('z'))).toBe(1);
    expect(l.index('a')).toBe(3);
    expect(l.index(null)).toBe(5);
    expect(l.index('missing')).toBe(-1);
  });

  it('attaches by name and travels as a handle to a child', async () => {
    const l = list([10, 'text', Buffer.from('ab'), 2n ** 62n]);
    const other = new ShareableList(null, { name: l.shm.name });
    made.push(other);
    expect(other.toArray()).toEqual(l.toArray());
    const child = spawnSync('list', { h: { list: l.toHandle() }, set: 'hi' });
    expect(await child.next()).toEqual({ items: [10, 'text', 'buf:6162', `big:${2n ** 62n}`] });
    await child.exited;
    expect(l.get(0)).toBe('hi');
    const revived = fromHandle(l.toHandle()) as ShareableList;
    made.push(revived);
    expect(revived.length).toBe(4);
  });

  it('an empty list, and bad arguments', () => {
    expect(list([]).length).toBe(0);
    expect(list(null).toArray()).toEqual([]);
    expect(() => new ShareableList(5 as never)).toThrow(TypeError);
    expect(() => new ShareableList([undefined] as never)).toThrow(TypeError);
    expect(() => new ShareableList([new Date()] as never)).toThrow(TypeError);
    expect(() => new ShareableList([2n ** 63n])).toThrow(RangeError);
    expect(() => new ShareableList(['x'.repeat(10_000_000)])).toThrow(RangeError);
    expect(() => new ShareableList(null, { name: `missing-${process.pid}` })).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
    const l = list([1]);
    expect(() => l.get(1)).toThrow(RangeError);
    expect(() => l.get('0' as never)).toThrow(TypeError);
  });

  it('a corrupt header or format is a CorruptionError, never an out-of-bounds read', () => {
    const l = list([1, 'ab']);
    const buf = l.shm.buf;
    buf.writeBigInt64LE(1000n, 0);
    expect(() => new ShareableList(null, { name: l.shm.name })).toThrow(CorruptionError);
    buf.writeBigInt64LE(2n, 0);
    buf.writeBigInt64LE(1n << 40n, 16);
    expect(() => new ShareableList(null, { name: l.shm.name })).toThrow(CorruptionError);
    buf.writeBigInt64LE(8n, 16);
    const formats = 8 * 4 + 16;
    buf.write('99s\0\0\0\0\0', formats + 8, 'latin1');
    expect(() => l.get(1)).toThrow(CorruptionError);
    buf.write('zz\0\0\0\0\0\0', formats, 'latin1');
    expect(() => l.get(0)).toThrow(CorruptionError);
  });
});

describe('ShareableList and Python', () => {
  it.skipIf(!hasPython)('Python reads a list made here, and its writes are seen here', async () => {
    const l = list([7, 2.5, true, null, 'naïve', Buffer.from('raw'), 2n ** 62n, 'padding-slot']);
    const result = await runPython(
      `${PY_PRELUDE}
sl = attach(sys.argv[1])
print(json.dumps([repr(x) for x in sl]))
sl[0] = 'py'
sl[1] = 3
sl[7] = b'bytes'
sl.shm.close()
`,
      [l.shm.name],
    );
    expect(result?.stderr).toBe('');
    expect(JSON.parse(result!.stdout)).toEqual([
      '7',
      '2.5',
      'True',
      'None',
      "'naïve'",
      "b'raw'",
      String(2n ** 62n),
      "'padding-slot'",
    ]);
    expect(l.get(0)).toBe('py');
    expect(l.get(1)).toBe(3);
    expect(l.get(7)).toEqual(Buffer.from('bytes'));
  });

  it.skipIf(!hasPython)('a list made by Python is read here, and our writes are seen by Python', async () => {
    const name = `mptest-pysl-${process.pid}`;
    const made = await runPython(
      `${PY_PRELUDE}
sl = shared_memory.ShareableList([1, 2**62, -3.5, True, None, 'text', b'\\x00ab', 'longer string here'], name=sys.argv[1])
resource_tracker.unregister(sl.shm._name, 'shared_memory')
sl.shm.close()
`,
      [name],
    );
    expect(made?.stderr).toBe('');
    const l = list(null, name);
    expect(l.toArray()).toEqual([1, 2n ** 62n, -3.5, true, null, 'text', Buffer.from('\0ab'), 'longer string here']);
    l.set(0, 'js');
    l.set(3, 2n);
    l.set(4, false);
    l.set(7, 'short');
    const read = await runPython(
      `${PY_PRELUDE}
sl = attach(sys.argv[1])
print(json.dumps([repr(x) for x in sl]))
sl.shm.close()
`,
      [name],
    );
    expect(read?.stderr).toBe('');
    expect(JSON.parse(read!.stdout)).toEqual([
      "'js'",
      String(2n ** 62n),
      '-3.5',
      '2',
      'False',
      "'text'",
      "b'\\x00ab'",
      "'short'",
    ]);
  });
});

describe('SharedMemoryManager', () => {
  it('makes SharedMemory and ShareableLists, and shutdown unlinks all of them', () => {
    const manager = new SharedMemoryManager();
    expect(() => manager.SharedMemory(10)).toThrow(ProcessError);
    expect(manager.start()).toBe(manager);
    expect(() => manager.start()).toThrow(ProcessError);
    const shm = manager.SharedMemory(100);
    const sl = manager.ShareableList([1, 'two']);
    expect(shm.size).toBe(100);
    expect(sl.toArray()).toEqual([1, 'two']);
    const names = [shm.name, sl.shm.name];
    for (const name of names) expect(existsSync(`/dev/shm/${name}`)).toBe(true);
    expect(() => manager.SharedMemory(0)).toThrow(RangeError);
    manager.shutdown();
    manager.shutdown();
    for (const name of names) expect(existsSync(`/dev/shm/${name}`)).toBe(false);
    // Handles already open keep their mapping.
    shm.buf[0] = 1;
    expect(shm.buf[0]).toBe(1);
    shm.close();
    sl.close();
    expect(() => manager.SharedMemory(10)).toThrow(ProcessError);
    expect(() => new SharedMemory({ name: names[0] })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});
