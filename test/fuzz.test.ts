// A short run of every TypeScript fuzz target (test/fuzz/targets.ts; `npm run fuzz` runs each a
// million times), and the inputs that fuzzing found, kept as regression tests.
import { describe, expect, it } from 'vitest';

import { CorruptionError, fromHandle, Pipe, ShareableList, TimeoutError } from '../dist/index.js';
import { decodeLaunch } from '../dist/child.js';
import { newFrame } from '../dist/pool/protocol.js';
import { readDefine } from '../dist/pool/worker.js';
import { launchMessage } from '../dist/spawn.js';
import { fuzz } from './fuzz/harness.js';
import { targets } from './fuzz/targets.js';

describe('fuzz targets (short run)', () => {
  for (const target of targets) {
    it(`${target.name}: mutated valid encodings decode or fail with a documented error`, () => {
      const stats = fuzz(target, 300, 42);
      expect(stats.failure).toBeUndefined();
      expect(stats.runs).toBe(300);
    });
  }
});

describe('fuzz findings', () => {
  it('ShareableList.fromHandle refuses a descriptor without a name (it created a new list)', () => {
    expect(() => fromHandle({ kind: 'ShareableList', version: 1 })).toThrow(TypeError);
    expect(() => fromHandle({ kind: 'ShareableList', version: 1, name: 5 })).toThrow(TypeError);
    const list = new ShareableList([1]);
    try {
      const again = fromHandle(list.toHandle()) as ShareableList;
      expect(again.get(0)).toBe(1);
      again.close();
    } finally {
      list.close();
      list.unlink();
    }
  });

  it('a Pipe record claiming a huge message does not allocate it before the bytes arrive', () => {
    const [a, b] = Pipe({ capacityBytes: 4096 });
    const original = Buffer.allocUnsafe;
    let largest = 0;
    Buffer.allocUnsafe = (size: number) => {
      largest = Math.max(largest, size);
      return original(size);
    };
    try {
      // Ring 0 (a -> b): one FIRST record of 16 bytes whose message claims 1.3 GB.
      const buffer = Buffer.from(b.parts.segment.buffer);
      const size = 16;
      const flags = 1 | 4;
      const total = 0x50495045;
      buffer.writeUint32LE(size, 640);
      buffer.writeUint32LE(flags, 644);
      buffer.writeUint32LE(total, 648);
      buffer.writeUint32LE((size ^ flags ^ total ^ 0x5049_5045) >>> 0, 652);
      buffer.writeUint32LE(32, 128); // tail: header + payload
      expect(() => b.recvBytesSync(undefined, { timeout: 0 })).toThrow(TimeoutError);
      expect(largest).toBeLessThanOrEqual(1 << 20);
    } finally {
      Buffer.allocUnsafe = original;
      a.close();
      b.close();
    }
  });

  it('a Pipe message in several records still arrives whole after the assembly buffer grows', async () => {
    const [a, b] = Pipe({ capacityBytes: 4096 });
    try {
      const message = Buffer.alloc(3 * 1024 * 1024 + 5);
      for (let i = 0; i < message.length; i += 4096) message[i] = i % 251;
      const [, received] = await Promise.all([a.sendBytes(message), b.recvBytes(null, { timeout: 20_000 })]);
      expect(received.equals(message)).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  });

  it('a pool DEFINE message that is not JSON is a CorruptionError (was a raw SyntaxError)', () => {
    const f = newFrame(64);
    f.u32[0] = 1;
    f.u32[1] = 7;
    f.bytes.write('{"kind":', 8);
    expect(() => readDefine(f, 0, 16)).toThrow(CorruptionError);
    const spec = '{"kind":"module","url":"file:///t.js","name":"f"}';
    f.bytes.write(spec, 8);
    expect(readDefine(f, 0, 8 + Buffer.byteLength(spec)).spec).toEqual({
      kind: 'module',
      url: 'file:///t.js',
      name: 'f',
    });
  });

  it('a launch message with a header of the wrong shape is refused as corrupt (was a TypeError later)', () => {
    const good = launchMessage(
      {
        version: 1,
        name: 'P',
        daemon: false,
        identity: [1],
        parentPid: 1,
        parentName: 'Main',
        target: { kind: 'module', url: 'file:///t.js', name: 'default' },
      },
      [1],
    );
    expect(decodeLaunch(good).header.identity).toEqual([1]);
    const withHeader = (json: string): Buffer => {
      const header = Buffer.from(json);
      const message = Buffer.alloc(8 + header.length);
      message.writeUint32LE(message.length, 0);
      message.writeUint32LE(header.length, 4);
      header.copy(message, 8);
      return message;
    };
    for (const json of ['null', '7', '{"version":1}', '{"version":1,"target":null}', 'not json']) {
      expect(() => decodeLaunch(withHeader(json))).toThrow(/launch message is corrupt/);
    }
    const header = JSON.parse(good.toString('utf8', 8, 8 + good.readUint32LE(4))) as Record<string, unknown>;
    expect(() => decodeLaunch(withHeader(JSON.stringify({ ...header, identity: 'x' })))).toThrow(/corrupt/);
    const short = Buffer.from(good);
    short.writeUint32LE(good.length + 1, 0);
    expect(() => decodeLaunch(short)).toThrow(/records/);
    expect(() => decodeLaunch(good.subarray(0, 5))).toThrow(/corrupt/);
  });
});
