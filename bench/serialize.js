// @ts-check
// Measures the serializer candidates on the values the library sends most: a tiny object ({ i }),
// a ~1 KB object, and a 1 MB Buffer. Prints microseconds per encode and per decode, the median
// of several rounds. Each candidate runs in a fresh process, so none inherits another's JIT state.
// Run: node bench/serialize.js (after `npx tsc -p tsconfig.json`).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

import { Packr } from 'msgpackr';

import { deserialize, serialize } from '../dist/serialize.js';

const packr = new Packr({ structuredClone: true, useRecords: false, moreTypes: true });

/** @type {Record<string, { encode: (v: unknown) => Uint8Array, decode: (b: Uint8Array) => unknown }>} */
const candidates = {
  'node:v8': { encode: (v) => v8.serialize(v), decode: (b) => v8.deserialize(b) },
  'msgpackr (structuredClone)': { encode: (v) => packr.pack(v), decode: (b) => packr.unpack(b) },
  'multiproc (src/serialize.ts)': { encode: (v) => serialize(v), decode: (b) => deserialize(b) },
};

const kilobyte = {
  id: 12345,
  name: 'a medium sized record',
  tags: ['alpha', 'beta', 'gamma', 'delta'],
  when: new Date(0),
  nested: { x: 1.5, y: -2, z: null, ok: true, list: Array.from({ length: 40 }, (_, i) => i * 3) },
  text: 'lorem ipsum dolor sit amet '.repeat(20),
  map: new Map([
    ['a', 1],
    ['b', 2],
  ]),
};
/** @type {Record<string, (i: number) => unknown>} */
const values = {
  '{ i }': (i) => ({ i }),
  '1 KB object': () => kilobyte,
  '1 MB Buffer': () => Buffer.alloc(1 << 20, 7),
};

/**
 * @param {(i: number) => unknown} fn
 * @param {number} iterations
 */
function measure(fn, iterations) {
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn(i);
    rounds.push(Number(process.hrtime.bigint() - start) / 1000 / iterations);
  }
  return rounds.sort((a, b) => a - b)[3];
}

/** @param {string} name */
function run(name) {
  const { encode, decode } = /** @type {(typeof candidates)[string]} */ (candidates[name]);
  const rows = [];
  for (const [valueName, make] of Object.entries(values)) {
    const big = valueName.includes('MB');
    const iterations = big ? 300 : valueName.includes('KB') ? 20_000 : 300_000;
    const fixed = make(1);
    const encoded = encode(fixed);
    const encodeUs = measure(big ? () => encode(fixed) : (i) => encode(make(i)), iterations);
    const decodeUs = measure(() => decode(encoded), iterations);
    rows.push({
      value: valueName,
      candidate: name,
      'encode us': encodeUs.toFixed(3),
      'decode us': decodeUs.toFixed(3),
      bytes: encoded.length,
    });
  }
  return rows;
}

const only = process.argv[2];
if (only !== undefined) {
  process.stdout.write(JSON.stringify(run(only)));
} else {
  const self = fileURLToPath(import.meta.url);
  const rows = Object.keys(candidates).flatMap((name) =>
    JSON.parse(execFileSync(process.execPath, [self, name], { encoding: 'utf8' })),
  );
  rows.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  console.table(rows);
}
