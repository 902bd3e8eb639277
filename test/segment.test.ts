import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';

import { isOwnerAlive, ownerToken } from '../dist/liveness.js';
import { sweepOrphans } from '../dist/resource-tracker.js';
import { HEADER_BYTES, Segment } from '../dist/segment.js';
import { Closed, CorruptionError } from 'multiproc';

import { fixture, runNode, sleep } from './helpers.js';

const kind = { tag: 'TEST', version: 1, label: 'TestObject' };
const shmPath = (segment: Segment): string => `/dev/shm${segment.segmentName}`;

describe('Segment', () => {
  it('is created ready, with its layout written before anyone can open it', async () => {
    const segment = Segment.create(kind, 64, (s) => {
      new Int32Array(s.buffer)[16] = 1234;
    });
    expect(segment.size).toBe(HEADER_BYTES + 64);
    const child = await runNode(fixture('segment-child.js'), ['read', segment.segmentName]);
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('1234');
    segment.close();
    expect(existsSync(shmPath(segment))).toBe(false);
  });

  it('an unnamed segment outlives its creator while another process holds it, then goes', async () => {
    const segment = Segment.create(kind, 16, () => {});
    const holder = spawn(process.execPath, [fixture('segment-child.js'), 'hold', segment.segmentName], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    segment.close();
    expect(existsSync(shmPath(segment))).toBe(true);
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('close', resolve));
    // Every holder is gone (the last one by SIGKILL): the sweep removes it.
    expect(sweepOrphans(0)).toContain(segment.segmentName.slice(1));
    expect(existsSync(shmPath(segment))).toBe(false);
  });

  it('the resource tracker removes a segment whose every holder was SIGKILLed', async () => {
    const creator = spawn(process.execPath, [fixture('segment-child.js'), 'create'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const name = await new Promise<string>((resolve) =>
      creator.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())),
    );
    expect(existsSync(`/dev/shm${name}`)).toBe(true);
    creator.kill('SIGKILL');
    await new Promise((resolve) => creator.once('close', resolve));
    // Nobody in this process sweeps: the tracker the creator started does, within a few seconds.
    const deadline = Date.now() + 10_000;
    while (existsSync(`/dev/shm${name}`) && Date.now() < deadline) await sleep(100);
    expect(existsSync(`/dev/shm${name}`)).toBe(false);
  });

  it('the sweep leaves segments that someone still holds', () => {
    const segment = Segment.create(kind, 16, () => {});
    expect(sweepOrphans(0)).not.toContain(segment.segmentName.slice(1));
    segment.close();
    expect(existsSync(shmPath(segment))).toBe(false);
  });

  it('named segments: EEXIST, ENOENT, ifMissing, and unlink makes every holder fail with Closed', () => {
    const name = `t${process.pid}`;
    const first = Segment.create(kind, 16, () => {}, { name, create: true });
    expect(() => Segment.create(kind, 16, () => {}, { name, create: true })).toThrow(
      expect.objectContaining({ code: 'EEXIST' }),
    );
    const second = Segment.create(kind, 16, () => {}, { name, create: 'ifMissing' });
    const third = Segment.openNamed(kind, name);
    first.close();
    expect(existsSync(shmPath(second))).toBe(true);
    third.unlink();
    expect(() => second.check()).toThrow(Closed);
    expect(() => Segment.openNamed(kind, name)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    second.close();
    third.close();
  });

  it('refuses memory that is not ours, of another kind, or of another layout version', () => {
    const segment = Segment.create(kind, 16, () => {}, { name: `v${process.pid}`, create: true });
    expect(() => Segment.openNamed({ ...kind, version: 2 }, `v${process.pid}`)).toThrow(CorruptionError);
    const words = new Int32Array(segment.buffer);
    words[0] = 0x12345678;
    expect(() => Segment.openNamed(kind, `v${process.pid}`)).toThrow(CorruptionError);
    segment.unlink();
    segment.close();
  });

  it('rejects bad names', () => {
    expect(() => Segment.create(kind, 16, () => {}, { name: 'a/b' })).toThrow(RangeError);
    expect(() => Segment.create(kind, 16, () => {}, { name: 5 as never })).toThrow(TypeError);
    expect(() => Segment.openHandle(kind, '/etc/passwd')).toThrow(TypeError);
  });
});

describe('owner liveness', () => {
  it('this thread is alive, an exited process is not', async () => {
    expect(isOwnerAlive(ownerToken())).toBe(true);
    expect(isOwnerAlive(0)).toBe(false);
    const child = await runNode(fixture('liveness-child.js'));
    const token = Number(child.stdout.trim());
    expect(token).toBeGreaterThan(0);
    expect(isOwnerAlive(token)).toBe(false);
  });

  it('a SIGKILLed process stops being alive at once', async () => {
    const child = spawn(process.execPath, [fixture('liveness-child.js'), 'wait'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const token = await new Promise<number>((resolve) =>
      child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    expect(isOwnerAlive(token)).toBe(true);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    expect(isOwnerAlive(token)).toBe(false);
  });

  it('a worker thread has its own token, dead once the worker exits', async () => {
    const url = new URL('../dist/liveness.js', import.meta.url).href;
    const worker = new Worker(
      `import(${JSON.stringify(url)}).then((m) => require('node:worker_threads').parentPort.postMessage(m.ownerToken())); setInterval(() => {}, 1000)`,
      { eval: true },
    );
    const token = await new Promise<number>((resolve) => worker.once('message', resolve));
    expect(token).not.toBe(ownerToken());
    expect(isOwnerAlive(token)).toBe(true);
    await worker.terminate();
    await sleep(10);
    expect(isOwnerAlive(token)).toBe(false);
  });
});
