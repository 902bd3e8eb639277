// The addon's entry points validate their arguments: garbage throws, never crashes.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const load = require('node-gyp-build') as (dir: string) => Record<string, (...args: unknown[]) => unknown>;
const native = load(fileURLToPath(new URL('../../', import.meta.url)));

const garbage: unknown[] = [
  undefined,
  null,
  -1,
  1.5,
  Number.NaN,
  2 ** 60,
  '/mptest-garbage',
  {},
  [],
  () => 0,
  new ArrayBuffer(8),
  new Int32Array(2),
  10n,
];

afterAll(() => {
  try {
    native.shmUnlink!('/mptest-garbage');
  } catch {
    // never created: fine
  }
});

describe('native entry points never crash on bad arguments', () => {
  const functions = [
    'shmOpen',
    'shmUnlink',
    'memfdCreate',
    'fdTruncate',
    'fdAllocate',
    'fdStat',
    'fdClose',
    'mmap',
    'unmap',
    'futexWait',
    'futexWake',
    'futexWaitAsync',
    'futexCancel',
  ];

  it.each(functions)('%s throws or fails cleanly for every kind of garbage', (name) => {
    const fn = native[name]!;
    expect(typeof fn).toBe('function');
    for (const a of garbage) {
      for (const b of [undefined, -4, 3, 'x']) {
        try {
          const result = fn(a, b, b, b);
          if (result instanceof Promise) result.catch(() => undefined);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
        }
      }
    }
  });

  it('futex calls refuse words outside the buffer or misaligned', () => {
    expect(() => native.futexWake!(new ArrayBuffer(8), 8)).toThrow(RangeError);
    expect(() => native.futexWake!(new ArrayBuffer(8), 2)).toThrow(RangeError);
    expect(() => native.futexWait!(new ArrayBuffer(8), 0, 0, 1)).toThrow(/not a live mapping/);
  });

  it('unmap refuses buffers it did not make', () => {
    expect(() => native.unmap!(new ArrayBuffer(16))).toThrow(TypeError);
  });
});
