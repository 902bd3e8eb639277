// @ts-check
// How a Pipe ping-pong warms up: the mean and median round trip of each block of 1,000, from
// the first, between this process and a Process child (bench/children/pipe.js echoes).
//
//   node bench/pipe-warmup.js [blocks]        (default 20)
//
// Why bench/workloads/pipe-pingpong.js warms up with 5,000 round trips: the first few thousand
// run before V8 has optimised both ends' send/recv path (docs/DECISIONS.md).
import { Pipe, Process } from 'multiproc';

const blocks = Number(process.argv[2] ?? 20);
const [a, b] = Pipe();
const p = new Process({
  target: { module: new URL('./children/pipe.js', import.meta.url).href, name: 'echo' },
  args: [b],
  daemon: true,
});
p.start();
await a.send({ i: -1 });
await a.recv({ timeout: 30_000 });
b.close();
console.log('| round trips | mean (us) | median (us) | slowest (ms) |\n| ---: | ---: | ---: | ---: |');
for (let k = 0; k < blocks; k++) {
  const times = [];
  for (let i = 0; i < 1000; i++) {
    const t = performance.now();
    a.sendSync({ i });
    a.recvSync();
    times.push(performance.now() - t);
  }
  times.sort((x, y) => x - y);
  const mean = times.reduce((s, x) => s + x, 0); // ms per 1,000 = us each
  console.log(
    `| ${k * 1000 + 1}-${(k + 1) * 1000} | ${mean.toFixed(1)} | ${(times[500] * 1000).toFixed(1)} | ${times[999].toFixed(2)} |`,
  );
}
a.sendSync(null);
await p.join({ timeout: 5000 });
a.close();
