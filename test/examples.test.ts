// Each program in examples/ runs and prints what it should. One row per example: append yours.
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { runNode } from './helpers.js';

const example = (name: string): string => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

const examples: Array<[file: string, check: (stdout: string) => void]> = [
  [
    'processes.js',
    (stdout) => {
      const lines = stdout.trim().split('\n');
      expect(lines).toHaveLength(5);
      const main = /main pid (\d+)/.exec(lines[4]!)![1];
      expect(lines[4]).toMatch(/^all joined, exit codes 0 0 0 0 /);
      const workers = lines.slice(0, 4).sort();
      workers.forEach((line, id) =>
        expect(line).toMatch(new RegExp(`^worker ${id}: worker-${id}, pid \\d+, parent pid ${main}$`)),
      );
    },
  ],
  [
    'lock.js',
    (stdout) => {
      const lines = stdout.trim().split('\n').sort();
      expect(lines).toEqual(Array.from({ length: 10 }, (_, i) => `hello world ${i}`).sort());
    },
  ],
  ['quick-start.js', (stdout) => expect(stdout).toBe('got { i: 0 }\ngot { i: 1 }\ngot { i: 2 }\n[ 1, 4, 9, 16 ]\n')],
  ['shared-counter.js', (stdout) => expect(stdout).toBe('3.1415927\n0 -1 -2 -3 -4 -5 -6 -7 -8 -9\ncounter 40000\n')],
  ['condition.js', (stdout) => expect(stdout).toBe('consumer saw 5 items\nproducer made 5 items\n')],
  [
    'event-barrier.js',
    (stdout) => {
      const [first, ...rest] = stdout.trim().split('\n');
      expect(first).toBe('everyone is here');
      expect(rest.sort()).toEqual(['party 0 started', 'party 1 started', 'party 2 started']);
    },
  ],
  ['semaphore.js', (stdout) => expect(stdout).toMatch(/^at most [12] inside at once; 2 slots free\n$/)],
  ['shareable-list.js', (stdout) => expect(stdout).toBe('["ALPHA",42,2.5,true,null,"BETA"]\n')],
  ['named-semaphore.js', (stdout) => expect(stdout).toBe('got the unit: true\n')],
  ['pipe.js', (stdout) => expect(stdout).toBe('squares 1 4 9 16\nafter the child exited: EOFError\n')],
  ['listener.js', (stdout) => expect(stdout).toBe('server got "what is 6 * 7?"\nclient got {"answer":42}\n')],
  ['manager.js', (stdout) => expect(stdout).toBe('dict [[1,"1"],["2",2],[0.25,null]]\nlist 9 8 7 6 5 4 3 2 1 0\n')],
  [
    'remote-manager.js',
    (stdout) => expect(stdout).toBe('a server is listening\nposted 2 jobs, the board holds 2\ntook: wash the car\n'),
  ],
  [
    'pool.js',
    (stdout) =>
      expect(stdout).toMatch(
        /^squares: 0 1 4 9 16 25 36 49 64 81\ncomputed by [1-5] of the pool's 5 worker processes; main pid \d+\n$/,
      ),
  ],
  [
    'parallel-map.js',
    (stdout) => expect(stdout).toBe('primes below 200000: map 17984, imapUnordered 17984, in this process 17984\n'),
  ],
  [
    'queue.js',
    (stdout) =>
      expect(stdout).toBe('squares 1 4 9 16 25 36 49 64\nraw bytes, then 4194304 bytes\nworkers exited 0 0\n'),
  ],
];

describe('examples', () => {
  it.each(examples)('%s', async (file, check) => {
    const result = await runNode(example(file), [], 60_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    check(result.stdout);
  });
});
