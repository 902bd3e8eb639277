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

// A launch message is at most its header plus the largest serialized message (2 GiB - 1).
const MAX_LAUNCH_BYTES = 8 + 0x7fffffff;
// The body is read in pieces of at most this size, so that what is allocated follows what
// actually arrived, never a length the message merely claims.
const READ_PIECE = 1 << 20;

function readPieces(fd: number, length: number, pieces: Buffer[]): void {
  let done = 0;
  while (done < length) {
    const piece = Buffer.allocUnsafe(Math.min(length - done, READ_PIECE));
    let filled = 0;
    while (filled < piece.length) {
      let n: number;
      try {
        n = readSync(fd, piece, filled, piece.length - filled, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        throw error;
      }
      if (n === 0) throw new Error(`the launch message ended after ${done + filled} of ${length} bytes`);
      filled += n;
    }
    pieces.push(piece);
    done += filled;
  }
}

function launchError(why: string): Error {
  return new Error(`the launch message is corrupt: ${why}`);
}

const isString = (value: unknown): value is string => typeof value === 'string';

/** Checks the shape of a TargetSpec as spawn.ts writes it (target.ts). */
function checkTarget(target: unknown): asserts target is TargetSpec {
  const t = target as Record<string, unknown> | null;
  if (typeof t !== 'object' || t === null || !isString(t.name)) throw launchError('bad target');
  if (t.kind === 'module' ? !isString(t.url) : t.kind !== 'function' || !isString(t.source) || !isString(t.base)) {
    throw launchError('bad target');
  }
}

/**
 * Decodes a whole launch message ([u32 total][u32 header length][JSON header][args], see
 * spawn.ts). Throws a plain Error ("the launch message is corrupt: ...") for anything else: the
 * child reports it and exits 1. The args stay bytes (a view), decoded later by deserialize.
 */
export function decodeLaunch(message: Buffer): { header: LaunchHeader; payload: Buffer } {
  if (message.length < 8) throw launchError(`${message.length} bytes`);
  const total = message.readUint32LE(0);
  const headerLength = message.readUint32LE(4);
  if (total !== message.length) throw launchError(`it records ${total} bytes but is ${message.length}`);
  if (headerLength > total - 8) throw launchError(`a header of ${headerLength} bytes does not fit`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.toString('utf8', 8, 8 + headerLength));
  } catch {
    throw launchError('the header is not JSON');
  }
  const header = parsed as Record<string, unknown> | null;
  if (typeof header !== 'object' || header === null) throw launchError('the header is not an object');
  if (header.version !== 1) throw new Error(`launch message version ${String(header.version)} is not supported`);
  checkTarget(header.target);
  const identity = header.identity;
  if (
    !isString(header.name) ||
    !isString(header.parentName) ||
    typeof header.daemon !== 'boolean' ||
    typeof header.handles !== 'boolean' ||
    !Number.isSafeInteger(header.parentPid) ||
    !Array.isArray(identity) ||
    !identity.every((n) => Number.isSafeInteger(n))
  ) {
    throw launchError('a header field has the wrong type');
  }
  return { header: header as unknown as LaunchHeader, payload: message.subarray(8 + headerLength) };
}

function readLaunch(): { header: LaunchHeader; payload: Buffer } {
  // Started by hand, fd 3 is missing or belongs to Node itself (libuv's epoll): leave it alone.
  if (!fstatSync(LAUNCH_FD).isFIFO()) throw new Error(`fd ${LAUNCH_FD} is not a pipe`);
  let message: Buffer;
  try {
    const pieces: Buffer[] = [];
    readPieces(LAUNCH_FD, 8, pieces);
    const total = pieces[0]!.readUint32LE(0);
    if (total < 8 || total > MAX_LAUNCH_BYTES) throw launchError(`it claims ${total} bytes`);
    readPieces(LAUNCH_FD, total - 8, pieces);
    message = Buffer.concat(pieces, total);
  } finally {
    try {
      closeSync(LAUNCH_FD); // grandchildren must not inherit it
    } catch {
      // EBADF: not started by multiproc; reported below
    }
  }
  return decodeLaunch(message);
}

// ---- rebuilding the target (the child's half of target.ts) ----

type Callable = (...args: unknown[]) => unknown;

async function targetError(message: string, cause?: unknown): Promise<Error> {
  const { TargetError } = await import('./errors.js'); // only on failure: one file less at start-up
  return new TargetError(message, cause === undefined ? undefined : { cause });
}

/**
 * Loads the function a spec names. Rejects with TargetError naming the module and the export.
 * `bootstrapping`: this is the target of the process (or of a pool task), not a Barrier action.
 */
export async function loadTarget(spec: TargetSpec, bootstrapping = true): Promise<Callable> {
  if (spec.kind === 'function') return compileFunction(spec);
  let namespace: Record<string, unknown>;
  const globals = globalThis as Record<symbol, unknown>;
  // While the target module's top level runs, starting a process would make every child start
  // another one in turn (a module that targets itself with no main-guard): refused, as Python's
  // spawn refuses to start a process "before the current process has finished its bootstrapping".
  if (bootstrapping) globals[IMPORTING_TARGET] = spec.url;
  try {
    namespace = (await import(spec.url)) as Record<string, unknown>;
  } catch (error) {
    throw await targetError(`cannot load the target module ${spec.url}: ${(error as Error)?.message ?? error}`, error);
  } finally {
    if (bootstrapping) globals[IMPORTING_TARGET] = undefined;
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

async function compileFunction(spec: Extract<TargetSpec, { kind: 'function' }>): Promise<Callable> {
  try {
    return compileFunctionSync(spec);
  } catch (error) {
    const message =
      error instanceof SyntaxError
        ? `the target function's source cannot be compiled: ${error.message}`
        : 'the target source did not produce a function';
    throw await targetError(message, error);
  }
}

/**
 * Compiles a function target's source in the global scope, with import() resolving against the
 * parent's cwd (`spec.base`) rather than against this file. Throws the SyntaxError, or a
 * TypeError when the source is not a function.
 */
export function compileFunctionSync(spec: Extract<TargetSpec, { kind: 'function' }>): Callable {
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
      throw error;
    }
  }
  if (typeof fn !== 'function') throw new TypeError('the target source did not produce a function');
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
      // A Barrier argument loads its action's module: ready before the target can wait on it.
      const { revivalsSettled } = await import('./handles.js');
      await revivalsSettled();
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
