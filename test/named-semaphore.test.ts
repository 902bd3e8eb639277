import { existsSync, statSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { AbortError, Closed, NamedSemaphore, fromHandle } from 'multiproc';

import { native } from '../dist/binding.js';

import { runPython, sleep } from './helpers.js';
import { reapAll, spawnSync } from './sync-helpers.js';

let counter = 0;
const names: string[] = [];
const opened: NamedSemaphore[] = [];
function fresh(): string {
  const name = `mptest-sem-${process.pid}-${counter++}`;
  names.push(name);
  return name;
}
function open(options: ConstructorParameters<typeof NamedSemaphore>[0]): NamedSemaphore {
  const sem = new NamedSemaphore(options);
  opened.push(sem);
  return sem;
}

afterEach(async () => {
  await reapAll();
  for (const sem of opened.splice(0)) sem.close();
  for (const name of names.splice(0)) {
    try {
      new NamedSemaphore({ name }).unlink();
    } catch {
      // already unlinked by the test
    }
    expect(existsSync(`/dev/shm/sem.${name}`)).toBe(false);
  }
});

const hasPython = (await runPython('print(1)')) !== null;
if (!hasPython) console.log('skipping the Python interop test: python3 is not installed');

describe('NamedSemaphore', () => {
  it('creates with a value, opens by name, counts, and reports EEXIST and ENOENT', () => {
    const name = fresh();
    const sem = open({ name, create: true, value: 2 });
    expect(sem.name).toBe(name);
    expect(statSync(`/dev/shm/sem.${name}`).mode & 0o777).toBe(0o600);
    expect(() => new NamedSemaphore({ name, create: true })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => new NamedSemaphore({ name: `${name}-missing` })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const other = open({ name: `/${name}` });
    expect(other.getValue()).toBe(2);
    expect(sem.tryAcquire()).toBe(true);
    expect(other.acquireSync()).toBe(true);
    expect(sem.tryAcquire()).toBe(false);
    expect(sem.acquireSync({ timeout: 20 })).toBe(false);
    expect(sem.acquireSync({ block: false })).toBe(false);
    other.release();
    expect(sem.getValue()).toBe(1);
    const again = open({ name, create: 'ifMissing', value: 9 });
    expect(again.getValue()).toBe(1);
  });

  it('async acquire waits without blocking the event loop, times out, and aborts', async () => {
    const sem = open({ name: fresh(), create: true, value: 0 });
    expect(await sem.acquire({ timeout: 30 })).toBe(false);
    expect(await sem.acquire({ timeout: 0 })).toBe(false);
    // The release comes from a timer of this very thread: it can only fire if the pending
    // acquire leaves the event loop running.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    setTimeout(() => sem.release(), 60);
    expect(await sem.acquire({ timeout: 5_000 })).toBe(true);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    await expect(sem.acquire({ signal: AbortSignal.timeout(20) })).rejects.toBeInstanceOf(AbortError);
    await expect(sem.acquire({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
  });

  it('another Node process shares it through a handle (sync and async acquire)', async () => {
    const sem = open({ name: fresh(), create: true, value: 0 });
    for (const async of [false, true]) {
      const child = spawnSync('named-semaphore', { h: { sem: sem.toHandle() }, async });
      await sleep(50);
      sem.release();
      expect(await child.next()).toEqual({ took: true });
      await child.exited;
      expect(sem.acquireSync({ timeout: 5_000 })).toBe(true);
      expect(sem.acquireSync({ timeout: 5_000 })).toBe(true);
    }
  });

  it.skipIf(!hasPython)('python3 (ctypes on libc sem_open) and Node share one semaphore', async () => {
    const name = fresh();
    const sem = open({ name, create: true, value: 0 });
    const result = await runPython(
      `
import ctypes, sys, os
libc = ctypes.CDLL(None, use_errno=True)
libc.sem_open.restype = ctypes.c_void_p
libc.sem_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.sem_post.argtypes = [ctypes.c_void_p]
libc.sem_wait.argtypes = [ctypes.c_void_p]
libc.sem_getvalue.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
sem = libc.sem_open(('/' + sys.argv[1]).encode(), 0)
if not sem:
    sys.exit(os.strerror(ctypes.get_errno()))
libc.sem_post(sem)
libc.sem_post(sem)
libc.sem_post(sem)
libc.sem_wait(sem)   # takes one of the three back
value = ctypes.c_int()
libc.sem_getvalue(sem, ctypes.byref(value))
print(value.value)
`,
      [name],
    );
    expect(result?.stderr).toBe('');
    expect(Number(result!.stdout.trim())).toBe(2);
    expect(sem.getValue()).toBe(2);
    expect(await sem.acquire({ timeout: 1_000 })).toBe(true);
    expect(sem.acquireSync({ timeout: 1_000 })).toBe(true);
    expect(sem.tryAcquire()).toBe(false);
  });

  it('withLock and withLockSync release even when fn throws', async () => {
    const sem = open({ name: fresh(), create: true });
    expect(await sem.withLock(async () => 5)).toBe(5);
    expect(() =>
      sem.withLockSync(() => {
        throw new Error('x');
      }),
    ).toThrow('x');
    expect(sem.getValue()).toBe(1);
  });

  it('close is idempotent and makes later calls throw Closed; unlink removes the name', () => {
    const name = fresh();
    const sem = new NamedSemaphore({ name, create: true });
    const revived = fromHandle(sem.toHandle()) as NamedSemaphore;
    revived.close();
    sem.unlink();
    expect(existsSync(`/dev/shm/sem.${name}`)).toBe(false);
    expect(sem.tryAcquire()).toBe(true); // still open here after unlink, as in POSIX
    sem.close();
    sem.close();
    expect(sem.closed).toBe(true);
    expect(() => sem.tryAcquire()).toThrow(Closed);
    expect(() => sem.unlink()).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('bad input', async () => {
    expect(() => new NamedSemaphore(undefined as never)).toThrow(TypeError);
    expect(() => new NamedSemaphore({} as never)).toThrow(TypeError);
    expect(() => new NamedSemaphore({ name: '' })).toThrow(RangeError);
    expect(() => new NamedSemaphore({ name: 'a/b' })).toThrow(RangeError);
    expect(() => new NamedSemaphore({ name: 'x'.repeat(300) })).toThrow(RangeError);
    expect(() => new NamedSemaphore({ name: 'x', create: true, value: -1 })).toThrow(RangeError);
    expect(() => new NamedSemaphore({ name: 'x', create: 'yes' as never })).toThrow(TypeError);
    const sem = open({ name: fresh(), create: true });
    expect(() => sem.acquireSync({ timeout: Number.NaN })).toThrow(TypeError);
    await expect(sem.acquire({ timeout: 'x' as never })).rejects.toThrow(TypeError);
  });
});

describe('the native semaphore functions', () => {
  it('throw (never crash) for every kind of garbage, and refuse handles they did not make', () => {
    const garbage: unknown[] = [
      undefined,
      null,
      -1,
      1.5,
      Number.NaN,
      2 ** 60,
      '',
      'mptest-garbage',
      {},
      [],
      () => 0,
      10n,
    ];
    const functions = ['semOpen', 'semClose', 'semUnlink', 'semWait', 'semTryWait', 'semPost', 'semGetValue'] as const;
    const table = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of functions) {
      for (const a of garbage) {
        for (const b of [undefined, -4, 4, 'x', 0.5]) {
          try {
            const made = table[name]!(a, b, b, b);
            if (name === 'semOpen' && made !== null && typeof made === 'object') native.semClose(made);
          } catch (error) {
            expect(error).toBeInstanceOf(Error);
          }
        }
      }
    }
    expect(() => native.semPost({})).toThrow(TypeError);
    const handle = native.semOpen(`/${fresh()}`, 3, 0o600, 0);
    native.semClose(handle);
    native.semClose(handle);
    expect(() => native.semPost(handle)).toThrow(/closed/);
  });
});
