// Prints the SHA-256 of the native sources (binding.gyp and native/*.{cc,h}, tests excluded).
// binding.gyp compiles this digest into the addon, and test/native/prebuild.test.ts compares the
// digest of the binary that would be loaded (and of the committed prebuild) with the tree, so a
// stale binary can never pass unnoticed.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function sourceHash() {
  const files = [
    'binding.gyp',
    ...readdirSync(join(root, 'native'))
      .filter((f) => /\.(cc|h)$/.test(f))
      .sort()
      .map((f) => `native/${f}`),
  ];
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(file);
    hash.update('\0');
    // Line endings are normalised so a checkout with CRLF hashes the same.
    hash.update(readFileSync(join(root, file), 'utf8').replace(/\r\n/g, '\n'));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 32);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(sourceHash());
}
