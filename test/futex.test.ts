import { existsSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { AbortError, SharedMemory, atomicNotify, atomicWait, atomicWaitSync } from 'multiproc';

import { fixture, runNode, sleep } from './helpers.js';

let shm: SharedMemory | undefined;
function words(): Int32Array {
  shm = new SharedMemory({ create: true, size: 64 });
  return new Int32Array(shm.buf.buffer, shm.buf.byteOffset, 16);
}

afterEach(() => {
  if (shm === undefined) return;
  shm.close();
  shm.unlink();
  expect(existsSync(`/dev/shm/${shm.name}`)).toBe(false);
  shm = undefined;
});

describe('futex waits across processes', () => {
  it('a blocking wait is woken by another process', async () => {
    const view = words();
    const child = runNode(fixture('futex-child.js'), [shm!.name, 'wake']);
    const started = performance.now();
    expect(atomicWaitSync(view, 0, 0, { timeout: 10_000 })).toBe('ok');
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(Atomics.load(view, 0)).toBe(1);
    expect((await child).code).toBe(0);
  });

  it('an async wait is woken by another process and never blocks the event loop', async () => {
    const view = words();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const child = runNode(fixture('futex-child.js'), [shm!.name, 'wake']);
    const result = await atomicWait(view, 0, 0, { timeout: 10_000 });
    clearInterval(timer);
    expect(result).toBe('ok');
    expect(Atomics.load(view, 0)).toBe(1);
    // The child waits 150 ms before waking us: a timer firing every 10 ms kept running.
    expect(ticks).toBeGreaterThan(3);
    expect((await child).code).toBe(0);
  });

  it('a wake from here reaches a blocking waiter in another process', async () => {
    const view = words();
    const child = runNode(fixture('futex-child.js'), [shm!.name, 'wait']);
    expect(await atomicWait(view, 1, 0, { timeout: 10_000 })).not.toBe('timed-out');
    await sleep(50);
    Atomics.store(view, 0, 5);
    atomicNotify(view, 0);
    const result = await child;
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ result: 'ok', value: 5 });
  });

  it('reports not-equal at once when the word already differs', async () => {
    const view = words();
    Atomics.store(view, 2, 3);
    expect(atomicWaitSync(view, 2, 0)).toBe('not-equal');
    expect(await atomicWait(view, 2, 0)).toBe('not-equal');
  });

  it('times out, sync and async, and 0 means do not wait', async () => {
    const view = words();
    expect(atomicWaitSync(view, 0, 0, { timeout: 20 })).toBe('timed-out');
    expect(await atomicWait(view, 0, 0, { timeout: 20 })).toBe('timed-out');
    expect(await atomicWait(view, 0, 0, { timeout: 0 })).toBe('timed-out');
    expect(await atomicWait(view, 0, 0, { timeout: -5 })).toBe('timed-out');
  });

  it('rejects with AbortError when its signal aborts, and a pre-aborted signal fails at once', async () => {
    const view = words();
    const controller = new AbortController();
    const waiting = atomicWait(view, 0, 0, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
    await expect(atomicWait(view, 0, 0, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORT_ERR' });
  });

  it('many async waits at once, on many words, all resolve (more than one waiter thread)', async () => {
    shm = new SharedMemory({ create: true, size: 4 * 300 });
    const view = new Int32Array(shm.buf.buffer, shm.buf.byteOffset, 300);
    const waits = Array.from({ length: 300 }, (_, i) => atomicWait(view, i, 0, { timeout: 10_000 }));
    await sleep(20);
    for (let i = 0; i < 300; i++) {
      Atomics.store(view, i, 1);
      atomicNotify(view, i);
    }
    const results = await Promise.all(waits);
    expect(results.every((r) => r === 'ok' || r === 'not-equal')).toBe(true);
  });

  it('closing the memory ends the waits parked on it', async () => {
    const view = words();
    const waiting = atomicWait(view, 0, 0, { timeout: 10_000 });
    await sleep(10);
    shm!.close();
    // The wait is cancelled with its mapping; the result is not a wake of the word.
    await expect(waiting).resolves.toBeDefined();
  });

  it('a Sync wait goes on through signals that JavaScript does not listen for (a child exiting)', async () => {
    const view = words();
    // child_process installs libuv's SIGCHLD handler; the child's exit interrupts the futex wait.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [fixture('signal-parent.js'), 'SIGCHLD'], { stdio: 'ignore' });
    expect(atomicWaitSync(view, 0, 0, { timeout: 600 })).toBe('timed-out');
    await new Promise((resolve) => child.once('close', resolve));
  });

  it('a Sync wait throws EINTR when a signal JavaScript listens for arrives', async () => {
    const view = words();
    let heard = 0;
    const listener = (): void => {
      heard++;
    };
    process.on('SIGUSR2', listener);
    try {
      const { spawn } = await import('node:child_process');
      const child = spawn(process.execPath, [fixture('signal-parent.js'), 'SIGUSR2'], { stdio: 'ignore' });
      expect(() => atomicWaitSync(view, 0, 0, { timeout: 10_000 })).toThrow(expect.objectContaining({ code: 'EINTR' }));
      await new Promise((resolve) => child.once('close', resolve));
      await sleep(20);
      expect(heard).toBe(1);
    } finally {
      process.off('SIGUSR2', listener);
    }
  });

  describe('bad input', () => {
    it('rejects views that are not 32-bit, indexes out of range, NaN timeouts', async () => {
      const view = words();
      expect(() => atomicWaitSync(new Float64Array(2) as never, 0, 0)).toThrow(TypeError);
      expect(() => atomicWaitSync(view, 16, 0)).toThrow(RangeError);
      expect(() => atomicWaitSync(view, -1, 0)).toThrow(RangeError);
      expect(() => atomicWaitSync(view, 0, 0, { timeout: Number.NaN })).toThrow(TypeError);
      await expect(atomicWait(view, 0.5, 0)).rejects.toThrow(RangeError);
      await expect(atomicWait(view, 0, 0, { timeout: 'soon' as never })).rejects.toThrow(TypeError);
      expect(() => atomicNotify(view, 0, -1)).toThrow(RangeError);
    });

    it('refuses to wait on memory that multiproc did not map', () => {
      const heap = new Int32Array(4);
      expect(() => atomicWaitSync(heap, 0, 0, { timeout: 1 })).toThrow(/not a live mapping/);
    });
  });
});
