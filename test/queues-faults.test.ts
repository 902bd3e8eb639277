// Queues when processes die at bad moments, when shared memory is scribbled over, and when idle.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { Empty, JoinableQueue, Queue } from 'multiproc';

import { fixture, runNode, sleep } from './helpers.js';

const opened: { close(): void }[] = [];
function track<T extends { close(): void }>(q: T): T {
  opened.push(q);
  return q;
}
afterEach(() => {
  for (const q of opened.splice(0)) q.close();
});

const child = (mode: string, q: { toHandle(): object }, ...rest: (string | number)[]) =>
  runNode(fixture('queue-child.js'), [mode, JSON.stringify(q.toHandle()), ...rest.map(String)], 30_000);

/** Starts a child we can kill; resolves its exit. */
function start(
  mode: string,
  q: Queue<unknown>,
  ...rest: (string | number)[]
): { process: ChildProcess; exited: Promise<void> } {
  const p = spawn(
    process.execPath,
    [fixture('queue-child.js'), mode, JSON.stringify(q.toHandle()), ...rest.map(String)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => p.on('close', () => resolve()));
  return { process: p, exited };
}

function checksum(i: number): number {
  return ((Math.imul(i, 2654435761) >>> 0) ^ 0x5bd1e995) >>> 0;
}

/** CPU time (ms) a process has used, from /proc/<pid>/stat. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, at USER_HZ 100
}

describe('a process that dies in the middle of an operation', () => {
  it('a producer killed holding the tail claim: the next put gets past it within 1 s', async () => {
    const q = track(new Queue<string>());
    const dead = await child('die-holding-claim', q);
    expect(dead.signal).toBe('SIGKILL');
    await q.put('after', { timeout: 1500 });
    expect(await q.get({ timeout: 1500 })).toBe('after');
  });

  it('a producer killed before publishing leaves no trace: its record is skipped whole', async () => {
    const q = track(new JoinableQueue<string>());
    await q.put('A');
    const dead = await child('die-before-publish', q, 5000);
    expect(dead.signal).toBe('SIGKILL');
    await q.put('B');
    expect(q.qsize()).toBe(3);
    expect(await q.get({ timeout: 1500 })).toBe('A');
    expect(await q.get({ timeout: 1500 })).toBe('B');
    await expect(q.get({ timeout: 50 })).rejects.toBeInstanceOf(Empty);
    expect(q.qsize()).toBe(0);
    q.taskDone();
    q.taskDone();
    expect(await q.join({ timeout: 1000 })).toBe(true); // the dead one's item counts as done
    for (let i = 0; i < 20_000; i++) {
      q.putSync(`x${i}`, { timeout: 1000 }); // many laps over the skipped cells
      expect(q.getSync({ timeout: 1000 })).toBe(`x${i}`);
    }
  });

  it('a consumer killed holding the head before taking it: the item is handed back', async () => {
    const q = track(new Queue<string>());
    await q.put('kept');
    const dead = await child('die-holding-head', q);
    expect(dead.signal).toBe('SIGKILL');
    expect(await q.get({ timeout: 1500 })).toBe('kept');
  });

  it('a producer killed before writing an oversized message: the reader drops it and goes on', async () => {
    const q = track(new Queue<string>({ capacityBytes: 8192 }));
    const dead = await child('die-after-descriptor', q, 1 << 20);
    expect(dead.signal).toBe('SIGKILL');
    await q.put('next');
    expect(await q.get({ timeout: 1500 })).toBe('next');
    expect(readdirSync('/dev/shm').filter((name) => name.includes('-QOVF-'))).toEqual([]);
  });

  it('a reader waiting when an oversized message arrives gets it whole', async () => {
    const q = track(new Queue({ capacityBytes: 8192 }));
    const waiting = q.getBytes({ timeout: 20_000 });
    const producer = await child('produce-bytes', q, 1, 20 << 20);
    expect(producer.stderr).toBe('');
    const bytes = await waiting;
    expect(bytes.length).toBe(20 << 20);
    expect([bytes.readUInt32LE(0), bytes.readUInt32LE(4), bytes[1 << 20]]).toEqual([0, checksum(0), 0]);
    expect(readdirSync('/dev/shm').filter((name) => name.includes('-QOVF-'))).toEqual([]);
  });

  it('a consumer killed after taking loses that item only; its cells come back to producers', async () => {
    const q = track(new Queue<number>({ capacityBytes: 4096 }));
    let n = 0;
    while (!q.full()) q.putSync(n++);
    const dead = await child('die-after-take', q);
    expect(dead.signal).toBe('SIGKILL');
    expect(await q.get()).toBe(1); // item 0 went with the dead consumer
    q.putSync(n, { timeout: 1500 }); // and the ring is not wedged behind its record
    q.putSync(n + 1, { timeout: 1500 });
    const rest: number[] = [];
    while (!q.empty()) rest.push(q.getSync());
    expect(rest).toEqual(Array.from({ length: n }, (_, i) => i + 2));
  });

  it('a consumer killed reading an oversized message gives its side-file budget back to a waiting put', async () => {
    const big = Buffer.alloc(100_000, 7);
    // The budget fits one such message: while the dead consumer's one counts, the next waits.
    const q = track(new Queue({ capacityBytes: 8192, maxOverflowBytes: 150_000 }));
    await q.putBytes(big);
    const dead = await child('die-after-take', q);
    expect(dead.signal).toBe('SIGKILL');
    // Nothing else is put, so no put runs into the dead consumer's record: the waiting put
    // itself must find it.
    await q.putBytes(big, { timeout: 5_000 });
    expect((await q.getBytes({ timeout: 1500 })).equals(big)).toBe(true);
    expect(readdirSync('/dev/shm').filter((name) => name.includes('-QOVF-'))).toEqual([]);
  });

  // KNOWN BUG, kept visible with it.fails: the side-file budget (maxOverflowBytes) is a counter
  // in the queue block; a producer reserves from it before it puts its descriptor, and dispose()
  // of its record gives it back. A producer killed between the two leaves a reservation that no
  // record names, so it is never given back: each such death shrinks the budget by one message
  // for the queue's life (about 1 kill in 75 mid-put of an oversized message in the fault
  // matrix). Fixing it needs reservations that name their producer (a change of the queue
  // block's layout). When it is fixed, this test fails: make it a plain it().
  it.fails(
    'a producer killed between reserving side-file budget and putting its descriptor: the budget comes back',
    async () => {
      const q = track(new Queue({ capacityBytes: 8192, maxOverflowBytes: 150_000 }));
      const dead = await child('die-after-reserve', q, 100_000);
      expect(dead.signal).toBe('SIGKILL');
      await q.putBytes(Buffer.alloc(100_000, 1), { timeout: 2_000 });
      expect((await q.getBytes({ timeout: 1500 })).length).toBe(100_000);
    },
  );

  // A producer killed mid-put and a consumer killed mid-get at random moments, with other
  // producers and consumers going on, are rows of the fault matrix (test/faults.test.ts).
});

describe('corrupt shared memory', () => {
  it('garbage over a queue makes calls fail with clear errors, never crash or hang', async () => {
    const all = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const q = track(new Queue({ capacityBytes: 8192 })); // small: the garbage hits live cells
      const result = await child('scribble', q, seed);
      expect(result.signal).toBe(null);
      expect(result.stderr).toBe('');
      const { seen } = JSON.parse(result.stdout) as { seen: string[] };
      for (const name of seen)
        expect(['CorruptionError', 'SerializationError', 'Empty', 'Full', 'TypeError']).toContain(name);
      for (const name of seen) all.add(name);
    }
    expect(all.has('CorruptionError')).toBe(true);
  }, 60_000);
});

describe('waiting', () => {
  it('an idle blocked get uses no CPU (under 5% over 2 s)', async () => {
    const q = track(new Queue<string>());
    const waiter = start('idle-get', q);
    await new Promise<void>((resolve) => waiter.process.stdout!.once('data', () => resolve()));
    await sleep(200);
    const before = cpuMs(waiter.process.pid!);
    await sleep(2000);
    const used = cpuMs(waiter.process.pid!) - before;
    await q.put('wake');
    await waiter.exited;
    expect(used).toBeLessThan(100);
  });
});
