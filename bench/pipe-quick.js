// @ts-check
// Pipe ping-pong round trip between two processes: multiproc's Pipe (sync and async forms,
// objects and raw bytes) against Python's multiprocessing.Pipe measured in the same run.
//
//   node bench/pipe-quick.js [roundTrips]        (default 20000)
//
// The child is this file again, run with `child <handle JSON> <mode>`: it echoes every message
// until it receives null (or an empty bytes message).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

import { fromHandle, Pipe } from 'multiproc';

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === 'child') {
  const end = /** @type {import('multiproc').PipeConnection} */ (
    /** @type {unknown} */ (fromHandle(JSON.parse(process.argv[3] ?? '')))
  );
  const mode = process.argv[4];
  if (mode === 'sync') {
    for (let m = end.recvSync(); m !== null; m = end.recvSync()) end.sendSync(m);
  } else if (mode === 'bytes') {
    for (let m = end.recvBytesSync(); m.length > 0; m = end.recvBytesSync()) end.sendBytesSync(m);
  } else {
    for (let m = await end.recv(); m !== null; m = await end.recv()) await end.send(m);
  }
  end.close();
  process.exit(0);
}

const rounds = Number(process.argv[2] ?? 20_000);
const warmup = Math.min(2_000, rounds);

/**
 * Median of a list of numbers.
 * @param {number[]} values
 */
function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

const BATCHES = 5;

/**
 * Runs `rounds` round trips (in BATCHES batches) against an echoing child; returns the median and
 * the best batch, in microseconds per round trip. The machine may be shared: the median of
 * batches resists a burst of someone else's work better than one long mean.
 * @param {'sync' | 'async' | 'bytes'} mode
 */
async function measure(mode) {
  const [mine, theirs] = Pipe();
  const child = spawn(process.execPath, [self, 'child', JSON.stringify(theirs.toHandle()), mode], {
    stdio: 'inherit',
  });
  theirs.close();
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const payload = Buffer.alloc(64, 7);
  const trip =
    mode === 'sync'
      ? (/** @type {number} */ i) => {
          mine.sendSync(i);
          mine.recvSync();
        }
      : mode === 'bytes'
        ? () => {
            mine.sendBytesSync(payload);
            mine.recvBytesSync();
          }
        : async (/** @type {number} */ i) => {
            await mine.send(i);
            await mine.recv();
          };
  for (let i = 0; i < warmup; i++) await trip(i);
  const batches = [];
  const perBatch = Math.max(1, Math.floor(rounds / BATCHES));
  for (let b = 0; b < BATCHES; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) await trip(i);
    batches.push(Number(process.hrtime.bigint() - start) / 1e3 / perBatch);
  }
  if (mode === 'bytes') mine.sendBytesSync(Buffer.alloc(0));
  else mine.sendSync(null);
  await exited;
  mine.close();
  return { median: median(batches), best: Math.min(...batches) };
}

function python() {
  const script = `
import time, sys
from multiprocessing import Pipe, Process
def echo(c):
    while True:
        m = c.recv()
        if m is None: break
        c.send(m)
if __name__ == '__main__':
    a, b = Pipe()
    p = Process(target=echo, args=(b,)); p.start()
    n = int(sys.argv[1]) // 5
    for i in range(2000): a.send(i); a.recv()
    batches = []
    for b in range(5):
        t = time.perf_counter()
        for i in range(n): a.send(i); a.recv()
        batches.append((time.perf_counter() - t) / n * 1e6)
    batches.sort()
    print(batches[2], batches[0])
    a.send(None); p.join()
`;
  const run = spawnSync('python3', ['-c', script, String(rounds)], { encoding: 'utf8', timeout: 120_000 });
  if (run.error || run.status !== 0) return null;
  const [mid, best] = run.stdout.trim().split(' ').map(Number);
  return { median: mid, best };
}

// Interleaved rounds, so that a burst of someone else's work on a shared machine hits every
// contender alike; each figure is the median over rounds of each round's median batch.
const ROUNDS = 3;
/** @type {Record<string, 'sync' | 'async' | 'bytes'>} */
const modes = {
  'multiproc Pipe, sendSync/recvSync (object)': 'sync',
  'multiproc Pipe, send/recv async (object)': 'async',
  'multiproc Pipe, sendBytesSync/recvBytesSync (64 B)': 'bytes',
};
/** @type {Record<string, { median: number; best: number }[]>} */
const rounds_ = {};
let pythonMissing = false;
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, mode] of Object.entries(modes)) (rounds_[name] ??= []).push(await measure(mode));
  const py = pythonMissing ? null : python();
  if (py === null) pythonMissing = true;
  else (rounds_['Python multiprocessing.Pipe send/recv'] ??= []).push(py);
}
/** @type {Record<string, { median: number; best: number }>} */
const results = {};
for (const [name, list] of Object.entries(rounds_)) {
  results[name] = { median: median(list.map((r) => r.median)), best: Math.min(...list.map((r) => r.best)) };
}
const py = results['Python multiprocessing.Pipe send/recv'] ?? null;
const [, load] = /^(\S+)/.exec(readFileSync('/proc/loadavg', 'utf8')) ?? [];
console.log(
  `Pipe ping-pong, ${ROUNDS} interleaved rounds of ${rounds} round trips in ${BATCHES} batches; us per round trip (lower is better)`,
);
console.log(`  (${availableParallelism()} CPUs, load average ${load}${py === null ? ', python3 missing' : ''})`);
console.log(`  ${''.padEnd(52)} ${'median'.padStart(8)} ${'best'.padStart(8)}  median vs Python`);
for (const [name, { median: mid, best }] of Object.entries(results)) {
  const ratio = py === null || name.startsWith('Python') ? '' : `  ${(py.median / mid).toFixed(1)}x faster`;
  console.log(`  ${name.padEnd(52)} ${mid.toFixed(2).padStart(8)} ${best.toFixed(2).padStart(8)}${ratio}`);
}
