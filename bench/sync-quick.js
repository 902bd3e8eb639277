// @ts-check
// Quick numbers for the synchronization primitives and shared ctypes (the full comparison with
// Python lives in bench/run.js). Run: node bench/sync-quick.js
//   1. uncontended Lock/RLock acquire+release in one process
//   2. two processes x 100k `v.value += 1` under v.getLock().withLockSync
//   3. a child summing a 10 M-element Array('d') through `view`, against a local Float64Array
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Array as SharedArray, Event, Lock, RLock, Semaphore, Value, fromHandle } from '../dist/index.js';

const self = fileURLToPath(import.meta.url);
const PYTHON = { uncontended: 2.84e6, contended: 1.25e6, sumMs: 55 };

/** @param {number} n @param {number} ms */
function rate(n, ms) {
  return `${(((n / ms) * 1e3) / 1e6).toFixed(1)} M ops/s`;
}

/** @param {string[]} args @returns {Promise<string>} */
function child(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [self, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited with ${code}`))));
  });
}

// One function per class keeps each call site monomorphic, as it is in real code.
/** @param {Lock} lock @param {number} n */
function loopLock(lock, n) {
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    lock.release();
  }
}
/** @param {RLock} lock @param {number} n */
function loopRLock(lock, n) {
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    lock.release();
  }
}
/** @param {Semaphore} sem @param {number} n */
function loopSemaphore(sem, n) {
  for (let i = 0; i < n; i++) {
    sem.acquireSync();
    sem.release();
  }
}

/** Best rate over `rounds` runs of `n` iterations. @param {(n: number) => void} run */
function bestRate(run, n = 5_000_000, rounds = 5) {
  run(10_000);
  let best = 0;
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    run(n);
    best = Math.max(best, n / (performance.now() - start));
  }
  return best;
}

function uncontended() {
  const lock = new Lock();
  const rlock = new RLock();
  const sem = new Semaphore(1);
  const rates = {
    Lock: bestRate((n) => loopLock(lock, n)),
    RLock: bestRate((n) => loopRLock(rlock, n)),
    Semaphore: bestRate((n) => loopSemaphore(sem, n)),
  };
  for (const [name, perMs] of Object.entries(rates)) {
    const note = name === 'Semaphore' ? '' : `  (${((perMs * 1e3) / PYTHON.uncontended).toFixed(1)}x Python's 2.84 M)`;
    console.log(`uncontended ${name} acquireSync+release: ${rate(perMs, 1)}${note}`);
  }
  for (const closable of [lock, rlock, sem]) closable.close();
}

async function contended() {
  const PER = 100_000;
  const times = [];
  for (let trial = 0; trial < 3; trial++) {
    const v = new Value('i', 0);
    const go = new Event();
    const ready = new Semaphore(0);
    const args = JSON.stringify({ v: v.toHandle(), go: go.toHandle(), ready: ready.toHandle() });
    const results = [0, 1].map(() => child(['incr', args, String(PER)]));
    for (let i = 0; i < 2; i++) ready.acquireSync({ timeout: 20_000 });
    const start = performance.now();
    go.set();
    await Promise.all(results);
    times.push(performance.now() - start);
    if (v.value !== 2 * PER) throw new Error(`lost updates: ${v.value} != ${2 * PER}`);
    for (const closable of [v, go, ready]) closable.close();
  }
  const ms = Math.min(...times);
  const ops = 2 * PER;
  console.log(
    `2 processes x ${PER} v.value += 1 under withLockSync: best of 3 ${rate(ops, ms)} (${times.map((t) => t.toFixed(0)).join('/')} ms), ` +
      `${(((ops / ms) * 1e3) / PYTHON.contended).toFixed(1)}x Python's 1.25 M`,
  );
}

async function arraySum() {
  const N = 10_000_000;
  const a = new SharedArray('d', N);
  const view = a.view;
  for (let i = 0; i < N; i++) view[i] = i % 1000;
  const out = JSON.parse(await child(['sum', JSON.stringify(a.toHandle())]));
  console.log(
    `child sums Array('d', 10M) via view: first pass ${out.sharedFirst.toFixed(1)} ms, best ${out.shared.toFixed(1)} ms; ` +
      `local Float64Array best ${out.local.toFixed(1)} ms; ratio ${(out.shared / out.local).toFixed(2)} ` +
      `(Python memoryview ${PYTHON.sumMs} ms)`,
  );
  a.close();
}

/** @param {ArrayLike<number>} view */
function sum(view) {
  let s = 0;
  for (let i = 0; i < view.length; i++) s += view[i];
  return s;
}

/** @param {() => unknown} fn */
function best(fn, rounds = 10) {
  let bestMs = Infinity;
  let first = 0;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    fn();
    const ms = performance.now() - start;
    if (r === 0) first = ms;
    bestMs = Math.min(bestMs, ms);
  }
  return { first, best: bestMs };
}

const [mode, arg, extra] = process.argv.slice(2);
if (mode === 'incr') {
  const handles = JSON.parse(arg ?? '{}');
  const v = /** @type {Value<'i'>} */ (fromHandle(handles.v));
  const go = /** @type {Event} */ (fromHandle(handles.go));
  const ready = /** @type {Semaphore} */ (fromHandle(handles.ready));
  const lock = v.getLock();
  const per = Number(extra);
  ready.release();
  go.waitSync({ timeout: 20_000 });
  for (let i = 0; i < per; i++) lock.withLockSync(() => (v.value += 1));
  v.close();
  go.close();
  ready.close();
} else if (mode === 'sum') {
  const a = /** @type {SharedArray<'d'>} */ (fromHandle(JSON.parse(arg ?? '{}')));
  const view = a.view;
  const shared = best(() => sum(view));
  const local = new Float64Array(view.length);
  for (let i = 0; i < local.length; i++) local[i] = i % 1000;
  const localTime = best(() => sum(local));
  process.stdout.write(JSON.stringify({ sharedFirst: shared.first, shared: shared.best, local: localTime.best }));
  a.close();
} else {
  console.log(
    `load average ${(await import('node:os')).loadavg()[0].toFixed(2)} on ${(await import('node:os')).availableParallelism()} cores`,
  );
  uncontended();
  await contended();
  await arraySum();
}
