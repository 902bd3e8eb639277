import { existsSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { Closed, SharedMemory } from 'multiproc';

import { fixture, runNode, runPython, shmInUse } from './helpers.js';

const made: SharedMemory[] = [];
function track(shm: SharedMemory): SharedMemory {
  made.push(shm);
  return shm;
}

afterEach(() => {
  for (const shm of made.splice(0)) {
    shm.close();
    try {
      shm.unlink();
    } catch {
      // already unlinked by the test
    }
    expect(existsSync(`/dev/shm/${shm.name}`)).toBe(false);
  }
});

describe('SharedMemory', () => {
  it('creates a segment with a generated, unguessable name and the requested size', () => {
    const shm = track(new SharedMemory({ create: true, size: 100 }));
    expect(shm.name).toMatch(/^mp-[A-Za-z0-9_-]{22}$/);
    expect(shm.size).toBe(100);
    expect(shm.buf.length).toBe(100);
    expect(shm.buf.every((byte) => byte === 0)).toBe(true);
    const other = track(new SharedMemory({ create: true, size: 100 }));
    expect(other.name).not.toBe(shm.name);
  });

  it('accepts a name with or without the leading slash', () => {
    const shm = track(new SharedMemory({ name: '/mptest-slash', create: true, size: 8 }));
    expect(shm.name).toBe('mptest-slash');
    const again = track(new SharedMemory({ name: 'mptest-slash' }));
    shm.buf[3] = 42;
    expect(again.buf[3]).toBe(42);
  });

  it('creates segments with mode 0600 whatever the umask', async () => {
    const old = process.umask(0);
    try {
      const shm = track(new SharedMemory({ create: true, size: 16 }));
      const { statSync } = await import('node:fs');
      expect(statSync(`/dev/shm/${shm.name}`).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it('throws EEXIST when creating a taken name, ENOENT when attaching a missing one', () => {
    track(new SharedMemory({ name: 'mptest-taken', create: true, size: 8 }));
    expect(() => new SharedMemory({ name: 'mptest-taken', create: true, size: 8 })).toThrow(
      expect.objectContaining({ code: 'EEXIST', syscall: 'shm_open' }),
    );
    expect(() => new SharedMemory({ name: 'mptest-missing' })).toThrow(
      expect.objectContaining({ code: 'ENOENT', path: '/mptest-missing' }),
    );
  });

  it("opens or creates atomically with create: 'ifMissing'", () => {
    const first = track(new SharedMemory({ name: 'mptest-ifmissing', create: 'ifMissing', size: 32 }));
    const second = track(new SharedMemory({ name: 'mptest-ifmissing', create: 'ifMissing', size: 32 }));
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    first.buf[0] = 7;
    expect(second.buf[0]).toBe(7);
  });

  it('refuses a segment that others can read unless { mode } is given', async () => {
    const shm = track(new SharedMemory({ name: 'mptest-open', create: true, size: 8, mode: 0o644 }));
    expect(() => new SharedMemory({ name: 'mptest-open' })).toThrow(expect.objectContaining({ code: 'EACCES' }));
    const shared = track(new SharedMemory({ name: 'mptest-open', mode: 0o644 }));
    expect(shared.size).toBe(shm.size);
  });

  it('close() detaches the buffer, is idempotent, and later use throws Closed', () => {
    const shm = track(new SharedMemory({ create: true, size: 64 }));
    const buf = shm.buf;
    buf[0] = 1;
    shm.close();
    shm.close();
    expect(buf.length).toBe(0);
    expect(buf.buffer.byteLength).toBe(0);
    expect(() => shm.buf).toThrow(Closed);
  });

  it('unlink() removes the name while mappings stay usable', () => {
    const shm = new SharedMemory({ create: true, size: 64 });
    const attached = new SharedMemory({ name: shm.name });
    shm.unlink();
    expect(() => new SharedMemory({ name: shm.name })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    attached.buf[5] = 9;
    expect(shm.buf[5]).toBe(9);
    expect(() => shm.unlink()).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    shm.close();
    attached.close();
  });

  it('works with using: the handle closes at the end of the block', () => {
    let buf: Buffer;
    {
      using shm = new SharedMemory({ create: true, size: 8 });
      buf = shm.buf;
      shm.unlink();
    }
    expect(buf.length).toBe(0);
  });

  it('a toHandle() descriptor survives JSON and revives onto the same memory', () => {
    const shm = track(new SharedMemory({ create: true, size: 8 }));
    const revived = SharedMemory.fromHandle(JSON.parse(JSON.stringify(shm.toHandle())));
    shm.buf[1] = 77;
    expect(revived.buf[1]).toBe(77);
    revived.close();
  });

  it('is shared with another process, both ways', async () => {
    const shm = track(new SharedMemory({ create: true, size: 128 }));
    shm.buf.write('hello from the parent', 0);
    const child = await runNode(fixture('shm-child.js'), [shm.name, 'reply from the child']);
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ text: 'hello from the parent', size: 128 });
    expect(shm.buf.subarray(64, 84).toString()).toBe('reply from the child');
  });

  describe('bad input', () => {
    const cases: Array<[string, unknown, ErrorConstructor]> = [
      ['options not an object', 42, TypeError],
      ['name not a string', { name: 5 }, TypeError],
      ['empty name', { name: '/', create: true, size: 1 }, RangeError],
      ['inner slash', { name: 'a/b', create: true, size: 1 }, RangeError],
      ['NUL in name', { name: 'a\0b', create: true, size: 1 }, RangeError],
      ['name too long', { name: 'x'.repeat(300), create: true, size: 1 }, RangeError],
      ['attach without a name', {}, TypeError],
      ['create without a size', { create: true }, TypeError],
      ['size zero', { create: true, size: 0 }, RangeError],
      ['negative size', { create: true, size: -1 }, RangeError],
      ['fractional size', { create: true, size: 1.5 }, RangeError],
      ['NaN size', { create: true, size: Number.NaN }, RangeError],
      ['size not a number', { create: true, size: '10' }, TypeError],
      ['absurd size', { create: true, size: 2 ** 60 }, RangeError],
      ['create not boolean', { create: 'yes', size: 1 }, TypeError],
      ['bad mode', { create: true, size: 1, mode: 0o7777 }, RangeError],
    ];
    it.each(cases)('%s throws before touching the OS', (_, options, type) => {
      const before = shmInUse();
      expect(() => new SharedMemory(options as never)).toThrow(type);
      expect([...shmInUse()].filter((path) => !before.has(path))).toEqual([]);
    });
  });
});

describe('SharedMemory interop with Python', async () => {
  const probe = await runPython('from multiprocessing import shared_memory\nprint("ok")');
  const reason =
    probe === null
      ? 'python3 is not installed'
      : probe.stdout.trim() !== 'ok'
        ? 'python3 lacks multiprocessing.shared_memory'
        : '';
  if (reason) console.log(`skipping Python interop: ${reason}`);

  it.skipIf(reason !== '')('reads a segment created by Python', async () => {
    const script = [
      'import sys',
      'from multiprocessing import shared_memory',
      'from multiprocessing import resource_tracker',
      'shm = shared_memory.SharedMemory(name="mptest-py-made", create=True, size=64)',
      // Python's tracker would unlink the segment when this script exits: we want it to stay.
      'resource_tracker.unregister(shm._name, "shared_memory")',
      'shm.buf[:11] = b"from python"',
      'shm.close()',
      'print("made")',
    ].join('\n');
    const result = await runPython(script);
    expect(result?.stdout.trim()).toBe('made');
    const shm = track(new SharedMemory({ name: 'mptest-py-made' }));
    expect(shm.size).toBeGreaterThanOrEqual(64);
    expect(shm.buf.subarray(0, 11).toString()).toBe('from python');
  });

  it.skipIf(reason !== '')('is read by Python when created here', async () => {
    const shm = track(new SharedMemory({ create: true, size: 4096 }));
    shm.buf.write('from node', 0);
    const script = [
      'import sys',
      'from multiprocessing import shared_memory, resource_tracker',
      'shm = shared_memory.SharedMemory(name=sys.argv[1])',
      'resource_tracker.unregister(shm._name, "shared_memory")',
      'print(bytes(shm.buf[:9]).decode(), shm.size)',
      'shm.buf[100:106] = b"python"',
      'shm.close()',
    ].join('\n');
    const result = await runPython(script, [shm.name]);
    expect(result?.stderr).toBe('');
    expect(result?.stdout.trim()).toBe('from node 4096');
    expect(shm.buf.subarray(100, 106).toString()).toBe('python');
  });
});
