// Children for the synchronization and fault tests: test/fixtures/sync-child.js (or another
// fixture of the same shape) in a given mode, with its JSON lines readable one by one, a
// deadline, and reaping (every child is killed and awaited by `reapAll`, called from afterEach).
import { spawn, type ChildProcess } from 'node:child_process';

import { fixture } from './helpers.js';

export interface SyncChild {
  readonly process: ChildProcess;
  /** The next JSON line the child prints; rejects when none comes within `timeoutMs`. */
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves when the child has exited (with its code and signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill(signal?: NodeJS.Signals): void;
}

const live = new Set<SyncChild>();

export function spawnSync(mode: string, payload: Record<string, unknown> = {}, deadlineMs = 30_000): SyncChild {
  return spawnFixture('sync-child.js', mode, payload, deadlineMs);
}

/** The same for another fixture that takes `mode` and a JSON payload (test/fixtures/fault-child.js). */
export function spawnFixture(
  file: string,
  mode: string,
  payload: Record<string, unknown> = {},
  deadlineMs = 30_000,
): SyncChild {
  const child = spawn(process.execPath, [fixture(file), mode, JSON.stringify(payload)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<(line: Record<string, unknown>) => void> = [];
  let buffered = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
      buffered = buffered.slice(newline + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
  const handle: SyncChild = {
    process: child,
    exited,
    next(timeoutMs = 20_000) {
      const ready = lines.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const waiter = (line: Record<string, unknown>): void => {
          clearTimeout(giveUp);
          resolve(line);
        };
        const giveUp = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`child ${mode} printed nothing within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        waiters.push(waiter);
        void exited.then(({ stderr: err }) => {
          if (waiters.includes(waiter)) {
            clearTimeout(giveUp);
            waiters.splice(waiters.indexOf(waiter), 1);
            reject(new Error(`child ${mode} exited without printing; stderr: ${err}`));
          }
        });
      });
    },
    kill(signal = 'SIGKILL') {
      child.kill(signal);
    },
  };
  live.add(handle);
  void exited.then(() => live.delete(handle));
  return handle;
}

/** Kills every child still running and waits for all of them. */
export async function reapAll(): Promise<void> {
  const children = [...live];
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
}

/** Resolves with the value of `promise`, or rejects when it takes longer than `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
    }),
  ]);
}
