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
];

describe('examples', () => {
  it.each(examples)('%s', async (file, check) => {
    const result = await runNode(example(file), [], 60_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    check(result.stdout);
  });
});
