// Targets: how the code a child runs is named in the parent (this file) and rebuilt in the child
// (child.ts's loadTarget, kept there so that a child loads one file less at start-up).
//
// A module reference `{ module, name }` is resolved in the parent (against the parent's cwd) and
// travels as a URL. A self-contained function travels as its source text and is compiled in the
// child's global scope, where it sees only globals: a function that uses a variable of its
// enclosing scope fails there with a ReferenceError, reported as TargetError naming it.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { TargetError } from './errors.js';

// Not util.ts's: that one pulls in node:crypto, a cost every child would pay at start-up.
function describe(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** A reference to an exported function: `name` defaults to `'default'`. */
export interface ModuleTarget {
  /** A path (`./`, `../` from the parent's cwd, or absolute), a `file:` URL, or a package specifier. */
  module: string | URL;
  name?: string | undefined;
}

/** What a Process, a Pool task or a Barrier action runs. */
export type Target = ModuleTarget | ((...args: never[]) => unknown);

/** A target as it travels to the child (JSON-safe). */
export type TargetSpec =
  { kind: 'module'; url: string; name: string } | { kind: 'function'; source: string; name: string; base: string };

/** One line naming a target, for messages. */
export function describeTarget(spec: TargetSpec): string {
  return spec.kind === 'module'
    ? `export ${JSON.stringify(spec.name)} of ${spec.url}`
    : `function ${spec.name || '(anonymous)'}`;
}

/**
 * Resolves a specifier as the parent sees it: relative paths against `cwd`, package specifiers
 * from `cwd`'s node_modules (or the package itself). Throws TargetError when nothing is found.
 */
export function resolveModule(specifier: string | URL, cwd: string): string {
  if (specifier instanceof URL) return specifier.href;
  if (/^(file|node|data):/.test(specifier)) return specifier;
  if (specifier.startsWith('./') || specifier.startsWith('../') || path.isAbsolute(specifier)) {
    return pathToFileURL(path.resolve(cwd, specifier)).href;
  }
  const require = createRequire(path.join(cwd, '[multiproc]'));
  try {
    const resolved = require.resolve(specifier);
    return path.isAbsolute(resolved) ? pathToFileURL(resolved).href : `node:${resolved}`;
  } catch (error) {
    const viaExports = resolveImportExport(specifier, cwd);
    if (viaExports !== undefined) return viaExports;
    throw new TargetError(`cannot resolve the target module ${JSON.stringify(specifier)} from ${cwd}`, {
      cause: error,
    });
  }
}

// require.resolve knows only the "require" condition; an ESM-only package ("exports" with
// "import" alone) is found here: node_modules from cwd upwards, or the package cwd belongs to.
function resolveImportExport(specifier: string, cwd: string): string | undefined {
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  const subpath = `.${specifier.slice(name.length)}`;
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    for (const root of [path.join(dir, 'node_modules', name), dir]) {
      const manifest = path.join(root, 'package.json');
      if (!existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; exports?: unknown };
      if (root === dir && pkg.name !== name) continue;
      const exported = pickExport(pkg.exports, subpath);
      if (exported !== undefined) return pathToFileURL(path.join(root, exported)).href;
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

function pickExport(exports: unknown, subpath: string): string | undefined {
  if (typeof exports === 'string') return subpath === '.' ? exports : undefined;
  if (typeof exports !== 'object' || exports === null) return undefined;
  const map = exports as Record<string, unknown>;
  const isSubpathMap = Object.keys(map).some((key) => key.startsWith('.'));
  if (!isSubpathMap) return subpath === '.' ? pickCondition(map) : undefined;
  if (subpath in map) return pickCondition(map[subpath]);
  for (const [key, value] of Object.entries(map)) {
    const star = key.indexOf('*');
    if (star < 0 || !subpath.startsWith(key.slice(0, star)) || !subpath.endsWith(key.slice(star + 1))) continue;
    const match = subpath.slice(star, subpath.length - (key.length - star - 1));
    return pickCondition(value)?.replaceAll('*', match);
  }
  return undefined;
}

function pickCondition(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(pickCondition).find((v) => v !== undefined);
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [condition, next] of Object.entries(value)) {
    if (condition === 'import' || condition === 'node' || condition === 'default') {
      const found = pickCondition(next);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * Parent side: checks a target and turns it into what travels. Throws TypeError for anything
 * that is not a target (a class, a bound or native function, an object without `module`).
 */
export function prepareTarget(target: unknown, cwd: string): TargetSpec {
  if (typeof target === 'function') {
    const source = Function.prototype.toString.call(target);
    if (/^class\b/.test(source)) throw new TypeError('target must be a function or { module, name }, not a class');
    if (/\{\s*\[native code\]\s*\}$/.test(source)) {
      throw new TypeError('target cannot be a bound or built-in function: its source cannot be sent');
    }
    return { kind: 'function', source, name: target.name, base: cwd };
  }
  if (typeof target !== 'object' || target === null) {
    throw new TypeError(`target must be a function or { module, name } (got ${describe(target)})`);
  }
  const { module, name = 'default' } = target as Partial<ModuleTarget>;
  if (typeof module !== 'string' && !(module instanceof URL)) {
    throw new TypeError(`target.module must be a string or a URL (got ${describe(module)})`);
  }
  if (typeof module === 'string' && module.length === 0) throw new TypeError('target.module must not be empty');
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`target.name must be a non-empty string (got ${describe(name)})`);
  }
  return { kind: 'module', url: resolveModule(module, cwd), name };
}
