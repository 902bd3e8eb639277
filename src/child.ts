// The child's side of a start (Python's spawn.py): `node [execArgv] dist/child-main.js`, started
// by spawn.ts, runs main().
//
// It reads the launch message from fd 3, records who it is (currentProcess, parentProcess), arms
// the parent-death signal when it is a daemon, loads the target, rebuilds the arguments, runs the
// target, and exits with Python's codes: 0; 1 after printing an uncaught error; n for
// process.exit(n). It exits when the target settles, whatever timers or handles remain.
//
// Start-up cost is the child's whole overhead over `node -e ''`, so this file imports only
// node:fs at first; the serializer, the addon and the target module are loaded when needed.
import { closeSync, fstatSync, readSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

import type { LaunchHeader } from './spawn.js';
import type { TargetSpec } from './target.js';

const LAUNCH_FD = 3;
const RUNTIME = Symbol.for('multiproc.runtime');
/** The target module this process is importing right now, if any: Process#start refuses then. */
export const IMPORTING_TARGET = Symbol.for('multiproc.importingTarget');

/** What the library knows about this process; read by process.ts (currentProcess & co). */
export interface ChildRuntime {
  name: string;
  daemon: boolean;
  identity: number[];
  parentPid: number;
  parentName: string;
  /** Run when the target has settled, before exit: the library's own in-flight work, children. */
  exitHooks: Array<() => unknown>;
}

function readExactly(fd: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = readSync(fd, buffer, done, length - done, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw error;
    }
    if (n === 0) throw new Error(`the launch message ended after ${done} of ${length} bytes`);
    done += n;
  }
  return buffer;
}

function readLaunch(): { header: LaunchHeader; payload: Buffer } {
  // Started by hand, fd 3 is missing or belongs to Node itself (libuv's epoll): leave it alone.
  if (!fstatSync(LAUNCH_FD).isFIFO()) throw new Error(`fd ${LAUNCH_FD} is not a pipe`);
  let head: Buffer;
  let body: Buffer;
  try {
    head = readExactly(LAUNCH_FD, 8);
    body = readExactly(LAUNCH_FD, head.readUint32LE(0) - 8);
  } finally {
    try {
      closeSync(LAUNCH_FD); // grandchildren must not inherit it
    } catch {
      // EBADF: not started by multiproc; reported below
    }
  }
  const headerLength = head.readUint32LE(4);
  const header = JSON.parse(body.toString('utf8', 0, headerLength)) as LaunchHeader;
  if (header.version !== 1) throw new Error(`launch message version ${header.version} is not supported`);
  return { header, payload: body.subarray(headerLength) };
}

// ---- rebuilding the target (the child's half of target.ts) ----

type Callable = (...args: unknown[]) => unknown;

async function targetError(message: string, cause?: unknown): Promise<Error> {
  const { TargetError } = await import('./errors.js'); // only on failure: one file less at start-up
  return new TargetError(message, cause === undefined ? undefined : { cause });
}

/** Loads the function a spec names. Rejects with TargetError naming the module and the export. */
export async function loadTarget(spec: TargetSpec): Promise<Callable> {
  if (spec.kind === 'function') return compileFunction(spec);
  let namespace: Record<string, unknown>;
  const globals = globalThis as Record<symbol, unknown>;
  // While the target module's top level runs, starting a process would make every child start
  // another one in turn (a module that targets itself with no main-guard): refused, as Python's
  // spawn refuses to start a process "before the current process has finished its bootstrapping".
  globals[IMPORTING_TARGET] = spec.url;
  try {
    namespace = (await import(spec.url)) as Record<string, unknown>;
  } catch (error) {
    throw await targetError(`cannot load the target module ${spec.url}: ${(error as Error)?.message ?? error}`, error);
  } finally {
    globals[IMPORTING_TARGET] = undefined;
  }
  const fn = namespace[spec.name];
  if (typeof fn !== 'function') {
    const why = fn === undefined ? 'has no export' : `exports a ${typeof fn}, not a function, as`;
    throw await targetError(`the target module ${spec.url} ${why} ${JSON.stringify(spec.name)}`);
  }
  return fn as Callable;
}

const TARGET_FILENAME = '[multiproc target]';
let warningFilterInstalled = false;

// The source is compiled in the global scope, with import() resolving against the parent's cwd
// (`spec.base`) rather than against this file.
async function compileFunction(spec: Extract<TargetSpec, { kind: 'function' }>): Promise<Callable> {
  if (!warningFilterInstalled) {
    // vm's main-context loader is marked experimental in Node 20 and warns on first use; the
    // child's stderr belongs to the user's program.
    warningFilterInstalled = true;
    const emit = process.emitWarning;
    process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
      if (String((warning as Error)?.message ?? warning).includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return;
      return (emit as (...a: unknown[]) => void).call(this, warning, ...rest);
    } as typeof process.emitWarning;
  }
  // Transpilers with keepNames (esbuild, tsx) wrap nested functions in a `__name` helper.
  (globalThis as { __name?: unknown }).__name ??= (fn: unknown) => fn;
  const options = {
    filename: path.join(spec.base, TARGET_FILENAME),
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  } as vm.ScriptOptions;
  let fn: unknown;
  try {
    fn = new vm.Script(`(${spec.source})`, options).runInThisContext();
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    try {
      // Method shorthand (`run(x) { ... }`) is not an expression on its own.
      const holder = new vm.Script(`({${spec.source}})`, options).runInThisContext() as Record<string, unknown>;
      fn = Object.values(holder)[0];
    } catch {
      throw await targetError(`the target function's source cannot be compiled: ${error.message}`, error);
    }
  }
  if (typeof fn !== 'function') throw await targetError('the target source did not produce a function');
  return fn as Callable;
}

/**
 * A ReferenceError thrown by a function target's own code means it used a variable of the scope
 * it was defined in: returns a TargetError naming it (else the error unchanged).
 */
export async function explainTargetFailure(spec: TargetSpec, error: unknown): Promise<unknown> {
  if (spec.kind !== 'function' || !(error instanceof ReferenceError)) return error;
  const match = /^(\S+) is not defined$/.exec(error.message);
  const firstFrame = error.stack?.split('\n').find((line) => line.trimStart().startsWith('at '));
  if (match === null || !firstFrame?.includes(TARGET_FILENAME)) return error;
  return targetError(
    `the target function ${spec.name || '(anonymous)'} uses ${JSON.stringify(match[1])}, which is not defined ` +
      'in the child: a function target is sent as source text and may use only its parameters, globals and ' +
      'import(); pass values as args, or use a module target { module, name }',
    error,
  );
}

async function runExitHooks(runtime: ChildRuntime): Promise<void> {
  for (const hook of runtime.exitHooks.splice(0)) {
    try {
      await hook();
    } catch (error) {
      process.stderr.write(`multiproc: an exit hook failed: ${String((error as Error)?.stack ?? error)}\n`);
    }
  }
}

async function report(name: string, error: unknown): Promise<void> {
  const { inspect } = await import('node:util');
  process.stderr.write(`Process ${name}:\n${inspect(error)}\n`);
}

/** Runs this child process: launch message, target, exit. */
export async function main(): Promise<void> {
  let launch: ReturnType<typeof readLaunch>;
  try {
    launch = readLaunch();
  } catch (error) {
    process.stderr.write(
      `multiproc: ${process.argv[1]} is started by multiproc's Process, not by hand ` +
        `(cannot read the launch message on fd ${LAUNCH_FD}: ${(error as Error).message})\n`,
    );
    process.exit(1);
  }
  const { header, payload } = launch;
  const runtime: ChildRuntime = {
    name: header.name,
    daemon: header.daemon,
    identity: header.identity,
    parentPid: header.parentPid,
    parentName: header.parentName,
    exitHooks: [],
  };
  (globalThis as Record<symbol, unknown>)[RUNTIME] = runtime;
  if (header.daemon) {
    const { native } = await import('./binding.js');
    // Compared with the pid from the message, not with 1: a subreaper may have adopted us.
    if (native.setParentDeathSignal(9) !== header.parentPid) process.exit(1);
  }
  let exitCode = 0;
  try {
    // The target module first: it may register the classes the arguments need.
    const fn = await loadTarget(header.target);
    let args: unknown[] = [];
    if (payload.length > 0) {
      if (header.handles) await import('./index.js'); // registers every handle kind
      const { deserialize } = await import('./serialize.js');
      args = deserialize(payload) as unknown[];
    }
    try {
      await fn(...args);
    } catch (error) {
      throw await explainTargetFailure(header.target, error);
    }
  } catch (error) {
    await report(header.name, error);
    exitCode = 1;
  }
  await runExitHooks(runtime);
  if (exitCode !== 0) process.exit(exitCode);
  process.exit(); // honours a process.exitCode the target set
}
