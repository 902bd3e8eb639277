// @ts-check
// Quick queue throughput check (the full suite with peers is bench/run.js):
//   node bench/queue-quick.js [--n 1000000] [--only objects|bytes|many|4x4]
// Producers and consumers are separate processes (this file re-runs itself as a child).
// Python's mp.Queue does 325 k small msgs/s on this machine (issue 5): ratios are against it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Queue, fromHandle } from 'multiproc';

const PYTHON_MSGS_PER_S = 325_000;
const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
/** @param {string} name @param {string} fallback */
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};

if (args[0] === '--child') {
  await child(args[1], JSON.parse(args[2]), Number(args[3]), args[4]);
} else {
  await main();
}

/** @param {string} role @param {any} handle @param {number} n @param {string} mode */
async function child(role, handle, n, mode) {
  const q = /** @type {Queue} */ (fromHandle(handle));
  const payload = Buffer.alloc(64, 1);
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.destroy();
  if (role === 'consumer') {
    let sum = 0;
    if (mode === 'bytes') for (let i = 0; i < n; i++) sum += q.getBytesSync()[0];
    else if (mode === 'bytes-async') for (let i = 0; i < n; i++) sum += (await q.getBytes())[0];
    else if (mode === 'many')
      for (let got = 0; got < n;) {
        const items = await q.getMany(1024);
        got += items.length;
        sum += items.length;
      }
    else if (mode === 'async') for (let i = 0; i < n; i++) sum += (await q.get()).i >= 0 ? 1 : 0;
    else for (let i = 0; i < n; i++) sum += q.getSync().i >= 0 ? 1 : 0;
    process.stdout.write(`done ${sum}\n`);
  } else {
    if (mode === 'bytes') for (let i = 0; i < n; i++) q.putBytesSync(payload);
    else if (mode === 'bytes-async') for (let i = 0; i < n; i++) await q.putBytes(payload);
    else if (mode === 'many')
      for (let i = 0; i < n; i += 1024)
        await q.putMany(Array.from({ length: Math.min(1024, n - i) }, (_, j) => ({ i: i + j })));
    else if (mode === 'async') for (let i = 0; i < n; i++) await q.put({ i });
    else for (let i = 0; i < n; i++) q.putSync({ i });
    process.stdout.write('done\n');
  }
  q.close();
}

/**
 * Runs `producers` producer and `consumers` consumer processes; returns msgs/s.
 * @param {number} n @param {number} producers @param {number} consumers
 * @param {string} producerMode @param {string} consumerMode
 */
async function run(n, producers, consumers, producerMode, consumerMode, capacityBytes = 1 << 20) {
  const q = new Queue({ capacityBytes });
  const handle = JSON.stringify(q.toHandle());
  /** @param {string} role @param {number} count @param {string} mode */
  const start = (role, count, mode) => {
    const flags = process.env.QUEUE_BENCH_NODE_FLAGS ? process.env.QUEUE_BENCH_NODE_FLAGS.split(' ') : [];
    const p = spawn(process.execPath, [...flags, self, '--child', role, handle, String(count), mode], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    const ready = new Promise((resolve) =>
      p.stdout.on('data', (d) => {
        out += d;
        if (out.includes('ready')) resolve(undefined);
      }),
    );
    const done = new Promise((resolve, reject) =>
      p.on('exit', (code) => (code === 0 ? resolve(undefined) : reject(new Error(`${role} exited ${code}`)))),
    );
    return { p, ready, done };
  };
  const children = [
    ...Array.from({ length: producers }, () => start('producer', n / producers, producerMode)),
    ...Array.from({ length: consumers }, () => start('consumer', n / consumers, consumerMode)),
  ];
  await Promise.all(children.map((c) => c.ready));
  const t0 = performance.now();
  for (const c of children) c.p.stdin.write('go\n');
  await Promise.all(children.map((c) => c.done));
  const seconds = (performance.now() - t0) / 1000;
  q.close();
  return n / seconds;
}

async function main() {
  const n = Number(option('n', '1000000'));
  const only = option('only', '');
  /** @type {[string, string, () => Promise<number>][]} */
  const rows = [
    ['objects', '1->1 small objects { i }, putSync/getSync', () => run(n, 1, 1, 'sync', 'sync')],
    ['objects', '1->1 small objects { i }, await put/get', () => run(n, 1, 1, 'async', 'async')],
    ['many', '1->1 small objects { i }, putMany/getMany', () => run(n, 1, 1, 'many', 'many')],
    ['bytes', '1->1 64-byte putBytesSync/getBytesSync', () => run(n, 1, 1, 'bytes', 'bytes')],
    ['bytes', '1->1 64-byte await putBytes/getBytes', () => run(n, 1, 1, 'bytes-async', 'bytes-async')],
    ['4x4', '4->4 small objects { i }, putSync/getSync', () => run(n, 4, 4, 'sync', 'sync')],
    ['4x4', '4->4 small objects { i }, await put/get', () => run(n, 4, 4, 'async', 'async')],
  ];
  console.log(`| workload (${n} messages) | msgs/s | vs Python mp.Queue (325 k/s) |`);
  console.log('| --- | ---: | ---: |');
  for (const [group, label, go] of rows) {
    if (only !== '' && group !== only) continue;
    const rate = await go();
    console.log(`| ${label} | ${(rate / 1e6).toFixed(2)} M | ${(rate / PYTHON_MSGS_PER_S).toFixed(1)}x |`);
  }
}
