// Bundles dist/ after tsc: every entry file becomes one module plus shared chunks, because Node
// 20's ESM loader costs about a millisecond per module and every child process (Process, Pool
// worker, Manager server) loads the library at start-up: ~105 modules cost ~100 ms, the bundle
// ~20 ms (numbers in docs/DECISIONS.md). tsc still writes the .d.ts files and checks the types.
//
// Entries: the package's public entry, the files started as processes or imported as targets,
// and every dist/ module a test, fixture or benchmark imports directly (they must share the
// library's module state: one liveness token, one handle registry). With splitting, the code
// of a module lives once, in an entry or a chunk, whichever way it is reached.
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const RUNTIME_ENTRIES = ['index', 'child-main', 'resource-tracker-main', 'managers/server-main', 'pool/worker'];

/** Files under `dir` (recursively) whose name passes `keep`. */
function walk(dir, keep, out = []) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(full).isDirectory()) walk(full, keep, out);
    else if (keep(name)) out.push(full);
  }
  return out;
}

/** Modules that code outside src/ imports from dist/ by path. */
function importedByPath() {
  const found = new Set();
  for (const dir of ['test', 'bench', 'examples']) {
    const at = path.join(root, dir);
    let files;
    try {
      files = walk(at, (name) => /\.(c|m)?[jt]s$/.test(name));
    } catch {
      continue;
    }
    for (const file of files) {
      for (const match of readFileSync(file, 'utf8').matchAll(/dist\/([\w/.-]+)\.js\b/g)) found.add(match[1]);
    }
  }
  return [...found];
}

const entries = [...new Set([...RUNTIME_ENTRIES, ...importedByPath()])].filter((entry) => {
  const source = path.join(root, 'src', `${entry}.ts`);
  try {
    return statSync(source).isFile();
  } catch {
    return false;
  }
});

// tsc's per-module JavaScript goes: what remains is the bundle (the .d.ts files stay).
for (const file of walk(dist, (name) => /\.js(\.map)?$/.test(name))) rmSync(file);

await build({
  entryPoints: Object.fromEntries(entries.map((entry) => [entry, path.join(root, 'src', `${entry}.ts`)])),
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  // Class and function names are API (constructor.name, error names, inspect output): esbuild
  // would rename clashing ones (two RLock classes live in different modules).
  keepNames: true,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
