// Mutation-based fuzzing of the TypeScript decoders, driven by fast-check (libFuzzer cannot run
// TypeScript, and @jazzer.js's prebuilt addon needs a newer glibc than Debian 12's).
//
// Each target starts from valid encodings made by the real encoder (its seeds) and runs them
// after a few mutations: bit flips, byte sets, truncations, insertions, deletions, splices from
// another seed, and 32-bit fields set to extreme values; a tenth of the inputs are pure random
// bytes. A target's `run` decodes one input; the only outcomes allowed are a result or one of
// the errors the decoder documents (`allowed`). Also a finding: an input that takes longer than
// `MAX_INPUT_MS`, a single Buffer allocation far beyond the input's size (a length field
// trusted before the bytes were there), or the process growing past `MAX_RSS_BYTES`.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import fc from 'fast-check';

/** Where a finding's input is written (under build/, which git ignores). */
const FINDINGS_DIR = path.join(import.meta.dirname, '..', '..', 'build', 'fuzz', 'ts-findings');

/** One decoder under fuzz. */
export interface FuzzTarget {
  readonly name: string;
  /** Valid encodings from the real encoder (called once, after setup). */
  seeds(): Uint8Array[];
  /** Decodes one input; throws only errors `allowed` accepts. */
  run(input: Uint8Array): void;
  /** The documented errors of this decoder. */
  allowed(error: unknown): boolean;
  setup?(): void;
  teardown?(): void;
}

export interface FuzzStats {
  target: string;
  runs: number;
  findings: number;
  ms: number;
  /** How the runs ended: the counterexample (shrunk) and the error, when there was a finding. */
  failure?: string;
  /** Inputs that ended in an allowed error / in a result. */
  rejected: number;
  accepted: number;
}

const MAX_INPUT_MS = 2_000;
const MAX_RSS_BYTES = 3 * 1024 ** 3;
/** An allocation above this many bytes and above 64x the input is a finding. */
const ALLOC_FLOOR = 8 * 1024 * 1024;

const INTERESTING_32 = [
  0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
];

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'u32'; at: number; value: number; bigEndian: boolean }
  | { kind: 'splice'; at: number; from: number; start: number; length: number };

function mutationArbitrary(seedCount: number): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at, bit: fc.nat(7) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), at, value: fc.nat(255) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('insert' as const),
        at,
        bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 16 }) }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('u32' as const),
        at,
        value: fc.oneof(fc.constantFrom(...INTERESTING_32), fc.nat({ max: 0xffffffff })),
        bigEndian: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('splice' as const),
        at,
        from: fc.nat(Math.max(0, seedCount - 1)),
        start: fc.nat(),
        length: fc.integer({ min: 1, max: 64 }),
      }),
    },
  );
}

/** Applies `mutations` to a copy of `seed` (positions wrap around the current length). */
export function mutate(seed: Uint8Array, mutations: readonly Mutation[], seeds: readonly Uint8Array[]): Uint8Array {
  let bytes = Buffer.from(seed);
  for (const m of mutations) {
    const n = bytes.length;
    switch (m.kind) {
      case 'flip':
        if (n > 0) bytes[m.at % n]! ^= 1 << m.bit;
        break;
      case 'set':
        if (n > 0) bytes[m.at % n] = m.value;
        break;
      case 'truncate':
        bytes = bytes.subarray(0, n === 0 ? 0 : m.at % n);
        break;
      case 'insert': {
        const at = m.at % (n + 1);
        bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
        break;
      }
      case 'delete': {
        if (n === 0) break;
        const at = m.at % n;
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
        break;
      }
      case 'u32':
        if (n >= 4) {
          const at = m.at % (n - 3);
          if (m.bigEndian) bytes.writeUint32BE(m.value >>> 0, at);
          else bytes.writeUint32LE(m.value >>> 0, at);
        }
        break;
      case 'splice': {
        const other = seeds[m.from % seeds.length]!;
        if (other.length === 0) break;
        const start = m.start % other.length;
        const chunk = other.subarray(start, start + m.length);
        const at = m.at % (n + 1);
        bytes = Buffer.concat([bytes.subarray(0, at), chunk, bytes.subarray(Math.min(n, at + chunk.length))]);
        break;
      }
    }
  }
  return bytes;
}

/** Inputs for a target: mutated seeds, and now and then pure random bytes. */
export function inputArbitrary(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const mutated = fc
    .tuple(fc.nat(seeds.length - 1), fc.array(mutationArbitrary(seeds.length), { minLength: 1, maxLength: 6 }))
    .map(([i, mutations]) => mutate(seeds[i]!, mutations, seeds));
  const largest = Math.max(64, ...seeds.map((s) => s.length));
  return fc.oneof(
    { weight: 18, arbitrary: mutated },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: largest }) },
    { weight: 1, arbitrary: fc.nat(seeds.length - 1).map((i) => Uint8Array.from(seeds[i]!)) },
  );
}

// ---- allocation watch: Buffer allocations far beyond the input are findings ----

let allocLimit = Infinity;
let allocSeen = 0;
let watching = false;

function watchAllocations(): void {
  if (watching) return;
  watching = true;
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const original = Buffer[name] as (size: number, ...rest: unknown[]) => Buffer;
    (Buffer as unknown as Record<string, unknown>)[name] = function (size: number, ...rest: unknown[]): Buffer {
      if (typeof size === 'number' && size > allocSeen) allocSeen = size;
      if (typeof size === 'number' && size > allocLimit) {
        throw new FuzzFinding(`Buffer.${name}(${size}) for a ${allocLimit / 64}-byte input`);
      }
      return original.call(Buffer, size, ...rest);
    };
  }
}

/** Raised by the harness itself: never an allowed error. */
export class FuzzFinding extends Error {
  override name = 'FuzzFinding';
}

let rejectedCount = 0;

/** Runs one input through a target and says why it is a finding (null: it is fine). */
export function check(target: FuzzTarget, input: Uint8Array): string | null {
  watchAllocations();
  allocLimit = Math.max(ALLOC_FLOOR, input.length * 64);
  const started = performance.now();
  try {
    target.run(input);
  } catch (error) {
    if (error instanceof FuzzFinding || !target.allowed(error)) {
      return `threw ${(error as Error)?.stack ?? String(error)}`;
    }
    rejectedCount++;
  } finally {
    allocLimit = Infinity;
  }
  const ms = performance.now() - started;
  if (ms > MAX_INPUT_MS) return `took ${ms.toFixed(0)} ms`;
  return null;
}

/** Fuzzes `target` for `runs` inputs (fast-check's seed `seed`) and reports. */
export function fuzz(target: FuzzTarget, runs: number, seed: number): FuzzStats {
  target.setup?.();
  const started = performance.now();
  let count = 0;
  let lastWhy = '';
  rejectedCount = 0;
  try {
    const seeds = target.seeds();
    const property = fc.property(inputArbitrary(seeds), (input) => {
      count++;
      if ((count & 1023) === 0 && process.memoryUsage.rss() > MAX_RSS_BYTES) {
        lastWhy = `the process grew to ${process.memoryUsage.rss()} bytes`;
        return false;
      }
      const why = check(target, input);
      if (why !== null) {
        lastWhy = why;
        return false;
      }
      return true;
    });
    const details = fc.check(property, { numRuns: runs, seed });
    const ms = performance.now() - started;
    const rejected = rejectedCount;
    if (details.failed) {
      const example = details.counterexample?.[0] as Uint8Array | undefined;
      let saved = '(no input)';
      if (example !== undefined) {
        const dir = path.join(FINDINGS_DIR, target.name);
        mkdirSync(dir, { recursive: true });
        const hash = createHash('sha1').update(example).digest('hex').slice(0, 12);
        saved = path.join(dir, `finding-${hash}.bin`);
        writeFileSync(saved, example);
      }
      const hex = example === undefined ? '?' : Buffer.from(example).toString('hex');
      const shown = hex.length > 200 ? `${hex.slice(0, 200)}... (${example!.length} bytes)` : hex;
      return {
        target: target.name,
        runs: details.numRuns,
        findings: 1,
        ms,
        failure:
          `input (shrunk, saved to ${saved}): ${shown}\n${lastWhy}\n` +
          `replay: seed ${details.seed}, path ${details.counterexamplePath}`,
        rejected,
        accepted: details.numRuns - rejected,
      };
    }
    return {
      target: target.name,
      runs: details.numRuns,
      findings: 0,
      ms,
      rejected,
      accepted: details.numRuns - rejected,
    };
  } finally {
    target.teardown?.();
  }
}

/** The largest Buffer allocation seen so far (for the report). */
export function largestAllocation(): number {
  return allocSeen;
}
