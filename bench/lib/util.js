// @ts-check
// Helpers for workload files: loading multiproc and peers, starting and reaping child processes,
// running the Python peers, timing. Everything here runs inside a runner process (bench/lib/runner.js),
// one per measurement, so a workload may block its thread; the harness enforces the time limit.
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** Starts the runner's result line on stdout. */
export const MARKER = '@@multiproc-bench@@ ';

/** Thrown when a contestant cannot run here (a feature not built yet, a peer not installed). */
export class Missing extends Error {
  /** @param {string} reason */
  constructor(reason) {
    super(reason);
    this.name = 'Missing';
  }
}

/** @typedef {import('./types.js').Ctx} Ctx */

/** Milliseconds on the monotonic clock, with sub-microsecond resolution. */
export const now = () => performance.now();

/**
 * Imports multiproc and checks that it exports every name asked for; a name that is not there yet
 * makes the contestant "missing" (not failed) with a one-line reason.
 * @param {...string} names
 * @returns {Promise<Record<string, any>>}
 */
export async function multiproc(...names) {
  /** @type {Record<string, any>} */
  let mod;
  try {
    mod = /** @type {Record<string, any>} */ (await import('multiproc'));
  } catch (err) {
    throw new Missing(`cannot import multiproc: ${firstLine(err)}`);
  }
  const absent = names.filter((n) => mod[n] === undefined);
  if (absent.length > 0) throw new Missing(`multiproc does not export ${absent.join(', ')} yet`);
  return mod;
}

/**
 * Checks that `obj` has the methods a workload calls, so a method that has not landed yet reads as
 * missing rather than as a TypeError deep inside the loop.
 * @param {any} obj
 * @param {string} what
 * @param {...string} methods
 */
export function needMethods(obj, what, ...methods) {
  const absent = methods.filter((m) => typeof obj?.[m] !== 'function');
  if (absent.length > 0) throw new Missing(`${what} has no ${absent.join(', ')} yet`);
}

/**
 * Imports a peer package; not installed -> missing.
 * @param {string} name
 * @returns {Promise<any>}
 */
export async function peer(name) {
  try {
    return await import(name);
  } catch (err) {
    const code = /** @type {{ code?: string }} */ (err).code;
    if (code === 'ERR_MODULE_NOT_FOUND') throw new Missing(`${name} is not installed`);
    throw new Missing(`${name} does not load here: ${firstLine(err)}`);
  }
}

/** @param {unknown} err */
export function firstLine(err) {
  const e = /** @type {{ name?: string, message?: string }} */ (err);
  const text = e && typeof e === 'object' && 'message' in e ? `${e.name ?? 'Error'}: ${e.message}` : String(err);
  return text.split('\n')[0].slice(0, 200);
}

/**
 * A `{ module, name }` target naming an export of a file in bench/children/.
 * @param {string} file
 * @param {string} name
 */
export function childTarget(file, name) {
  return { module: new URL(`../children/${file}`, import.meta.url).href, name };
}

/** @param {string} file */
export function childPath(file) {
  return fileURLToPath(new URL(`../children/${file}`, import.meta.url));
}

/** @param {string} file */
export function peerPath(file) {
  return fileURLToPath(new URL(`../peers/${file}`, import.meta.url));
}

/**
 * Rejects after `ms` with a message naming what was awaited; the timer never keeps a process alive.
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
export function within(promise, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms)} ms`)), ms);
    timer.unref();
  });
  return /** @type {Promise<T>} */ (Promise.race([promise, timeout]).finally(() => clearTimeout(timer)));
}

/**
 * Cleanup steps run in reverse order, each one isolated from the failures of the others (the
 * Node 20 stand-in for AsyncDisposableStack).
 */
export class Cleanup {
  /** @type {Array<() => unknown>} */
  #steps = [];
  /** @param {() => unknown} step */
  defer(step) {
    this.#steps.push(step);
  }
  async run() {
    /** @type {unknown[]} */
    const errors = [];
    for (const step of this.#steps.reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    this.#steps = [];
    if (errors.length > 0) process.stderr.write(`cleanup: ${errors.map(firstLine).join('; ')}\n`);
  }
}

/**
 * Runs `body` with a Cleanup whose steps always run afterwards.
 * @template T
 * @param {(cleanup: Cleanup) => Promise<T>} body
 * @returns {Promise<T>}
 */
export async function withCleanup(body) {
  const cleanup = new Cleanup();
  try {
    return await body(cleanup);
  } finally {
    await cleanup.run();
  }
}

/**
 * Stops and reaps a multiproc Process, whatever state it is in (the API may still be partial).
 * @param {any} p
 * @param {number} [graceMs]
 */
export async function reapProcess(p, graceMs = 2000) {
  if (!p || p.pid == null) return;
  try {
    if (p.exitCode === null || p.exitCode === undefined) {
      await within(Promise.resolve(p.join({ timeout: graceMs })), graceMs + 500, 'join');
    }
  } catch {
    // fall through to kill
  }
  if (p.exitCode === null || p.exitCode === undefined) {
    try {
      p.kill();
      await within(Promise.resolve(p.join({ timeout: graceMs })), graceMs + 500, 'join after kill');
    } catch {
      // the harness's sweep kills whatever is still running with this run's token
    }
  }
}

/**
 * Starts a Node child with an IPC channel (json or advanced serialization).
 * @param {string} file a file in bench/children/
 * @param {string[]} args
 * @param {Cleanup} cleanup
 * @param {{ serialization?: 'json' | 'advanced' }} [options]
 */
export function forkChild(file, args, cleanup, options = {}) {
  const child = fork(childPath(file), args, {
    serialization: options.serialization ?? 'json',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
  });
  cleanup.defer(() => reapChild(child));
  return child;
}

/**
 * Kills a child_process child if it still runs and waits for its exit.
 * @param {import('node:child_process').ChildProcess} child
 */
export async function reapChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  try {
    await within(exited, 2000, 'child exit');
  } catch {
    child.kill('SIGKILL');
    await within(exited, 2000, 'child exit after SIGKILL').catch(() => {});
  }
}

/**
 * Waits for the next IPC message from a child_process child that satisfies `test`.
 * @param {import('node:child_process').ChildProcess | import('node:worker_threads').Worker} child
 * @param {(msg: any) => boolean} test
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<any>}
 */
export function nextMessage(child, test, ms, what) {
  return within(
    new Promise((resolve, reject) => {
      /** @param {any} msg */
      const onMessage = (msg) => {
        if (!test(msg)) return;
        off();
        resolve(msg);
      };
      /** @param {unknown} code */
      const onExit = (code) => {
        off();
        reject(new Error(`${what}: child exited (${String(code)}) before answering`));
      };
      /** @param {Error} err */
      const onError = (err) => {
        off();
        reject(err);
      };
      const off = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        child.off('error', onError);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.on('error', onError);
    }),
    ms,
    what,
  );
}

/**
 * Runs a Python peer script (bench/peers/<file>) and returns its JSON result line.
 * @param {Ctx} ctx
 * @param {string} file
 * @param {Record<string, string | number>} params passed as --key value
 * @returns {Promise<{ value: number, [k: string]: unknown }>}
 */
export async function runPython(ctx, file, params) {
  if (!ctx.python) throw new Missing(ctx.pythonMissing || 'python3 not found');
  const argv = [peerPath(file)];
  for (const [k, v] of Object.entries(params)) argv.push(`--${k}`, String(v));
  const child = spawn(ctx.python, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = /** @type {Promise<[number | null, string | null]>} */ (once(child, 'exit'));
  try {
    const [code, signal] = await within(exited, ctx.timeoutMs, `python ${file}`);
    const line = out
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .pop();
    if (code !== 0 || !line) {
      const tail = err.trim().split('\n').pop() || `exit ${code ?? signal}`;
      throw new Error(`python ${file} failed: ${tail}`);
    }
    const result = JSON.parse(line);
    if (typeof result.value !== 'number') throw new Error(`python ${file} printed no value: ${line}`);
    return result;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/**
 * Spawns a command and resolves when it has exited (used for `node -e ''`).
 * @param {string} cmd
 * @param {string[]} args
 */
export async function runToExit(cmd, args) {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  const [code] = await within(once(child, 'exit'), 10_000, `${cmd} ${args.join(' ')}`);
  if (code !== 0) throw new Error(`${cmd} exited ${code}`);
}

/** @param {number[]} xs */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times `once` warm + n times and returns the median of the measured (post-warm-up) runs, in ms.
 * @param {import('./types.js').Ctx} ctx
 * @param {() => Promise<void>} once
 */
export async function medianOf(ctx, once) {
  /** @type {number[]} */
  const times = [];
  for (let r = 0; r < ctx.warm + ctx.n; r++) {
    const t0 = now();
    await once();
    if (r >= ctx.warm) times.push(now() - t0);
  }
  return median(times);
}

/**
 * A checked sum of 0..n-1, to verify that every message arrived.
 * @param {number} n
 */
export const sumTo = (n) => (n * (n - 1)) / 2;

/**
 * @param {boolean} ok
 * @param {string} message
 */
export function check(ok, message) {
  if (!ok) throw new Error(`check failed: ${message}`);
}
