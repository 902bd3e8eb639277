import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { sourceHash } from '../../scripts/source-hash.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);

describe('the native binary matches the sources in the tree', () => {
  const expected: string = sourceHash();

  it('the addon that node-gyp-build loads was built from these sources', () => {
    const load = require('node-gyp-build') as { path(dir: string): string };
    const path = load.path(root);
    const addon = require(path) as { sourceHash: string };
    expect(addon.sourceHash, `${path} is stale: run npm run build:native`).toBe(expected);
  });

  it('the committed prebuild for this platform was built from these sources', () => {
    const dir = `${root}prebuilds/${process.platform}-${process.arch}`;
    const files = readdirSync(dir).filter((f) => f.endsWith('.node'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const marker = /MPSRCHASH:([0-9a-f]{32})/.exec(readFileSync(`${dir}/${file}`, 'latin1'));
      expect(marker?.[1], `${dir}/${file} is stale: run npm run prebuildify and commit it`).toBe(expected);
    }
  });
});
