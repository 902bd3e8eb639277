// Targets named in the parent (resolution, checks) and the flags a child inherits.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { TargetError } from '../src/errors.js';
import { childExecArgv, childNodeOptions } from '../src/spawn.js';
import { prepareTarget, resolveModule } from '../src/target.js';

const cwd = process.cwd();

describe('flags a child inherits', () => {
  it('keeps loaders and ordinary flags, drops code runners and fixed-port inspectors', () => {
    expect(
      childExecArgv([
        '--import',
        'tsx',
        '-r',
        './hook.cjs',
        '--max-old-space-size=100',
        '-e',
        'code()',
        '--eval=more()',
        '-p',
        '1+1',
        '--input-type=module',
        '-i',
        '--test',
        '--test-reporter',
        'spec',
        '--watch',
        '--watch-path=src',
        '--inspect=9229',
        '--inspect-brk',
        '--inspect-port',
        '9230',
        '--loader=./l.mjs',
      ]),
    ).toEqual(['--import', 'tsx', '-r', './hook.cjs', '--max-old-space-size=100', '--loader=./l.mjs']);
  });

  it('cleans NODE_OPTIONS the same way, keeping quoted values', () => {
    expect(childNodeOptions('--inspect=0 --require "./a b.cjs" --test --enable-source-maps')).toBe(
      '--require "./a b.cjs" --enable-source-maps',
    );
    expect(childNodeOptions('')).toBe('');
  });
});

describe('module targets', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mptest-target-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // An ESM-only package: require.resolve cannot see its "import"-only exports.
  const pkg = path.join(dir, 'node_modules', 'esm-only');
  mkdirSync(path.join(pkg, 'lib'), { recursive: true });
  writeFileSync(
    path.join(pkg, 'package.json'),
    JSON.stringify({
      name: 'esm-only',
      type: 'module',
      exports: { '.': { import: './lib/main.js' }, './x/*': './lib/*.js' },
    }),
  );

  it('resolves relative paths, absolute paths and URLs against the given cwd', () => {
    expect(resolveModule('./a.js', dir)).toBe(pathToFileURL(path.join(dir, 'a.js')).href);
    expect(resolveModule('../b.js', dir)).toBe(pathToFileURL(path.join(dir, '..', 'b.js')).href);
    expect(resolveModule('/abs/c.js', dir)).toBe('file:///abs/c.js');
    expect(resolveModule(new URL('file:///u.js'), dir)).toBe('file:///u.js');
    expect(resolveModule('node:os', dir)).toBe('node:os');
  });

  it('resolves package specifiers from the cwd, ESM-only exports and the package itself included', () => {
    expect(resolveModule('esm-only', dir)).toBe(pathToFileURL(path.join(pkg, 'lib', 'main.js')).href);
    expect(resolveModule('esm-only/x/y', dir)).toBe(pathToFileURL(path.join(pkg, 'lib', 'y.js')).href);
    expect(resolveModule('multiproc', cwd)).toBe(pathToFileURL(path.join(cwd, 'dist', 'index.js')).href);
    expect(resolveModule('os', dir)).toBe('node:os');
    expect(() => resolveModule('no-such-package-here', dir)).toThrow(TargetError);
  });

  it('sends functions as source and refuses what has none', () => {
    const spec = prepareTarget(function work(a: number) {
      return a + 1;
    }, cwd);
    expect(spec).toMatchObject({ kind: 'function', name: 'work', base: cwd });
    expect(spec.kind === 'function' && spec.source).toMatch(/^function work\(a\)/);
    expect(() => prepareTarget(Math.max, cwd)).toThrow(TypeError);
    expect(() => prepareTarget(class A {}, cwd)).toThrow(TypeError);
    expect(() => prepareTarget({ module: './x.js', name: 5 }, cwd)).toThrow(TypeError);
    expect(prepareTarget({ module: './x.js' }, cwd)).toMatchObject({ kind: 'module', name: 'default' });
  });
});
