// The parent's side of starting a child (Python's popen_spawn_posix): the command line, the
// environment, and the launch message, which travels over a private pipe placed on the child's
// fd 3 (never argv or the environment, which other users can read).
//
// Launch message: [u32 total length][u32 header length][JSON header][serialized args]. The child
// reads exactly that many bytes, so it never waits for the write end to be closed.
import { closeSync, write, writeSync } from 'node:fs';

import { distPath, native } from './binding.js';
import { handlesWritten, serialize } from './serialize.js';
import type { TargetSpec } from './target.js';

/** The fd on which a child finds its launch message. */
export const LAUNCH_FD = 3;

/** What the child learns from its parent. */
export interface LaunchHeader {
  version: 1;
  target: TargetSpec;
  name: string;
  daemon: boolean;
  identity: number[];
  parentPid: number;
  parentName: string;
  /** The arguments hold live handles: the child loads the whole library before decoding them. */
  handles: boolean;
}

export interface SpawnRequest {
  header: Omit<LaunchHeader, 'handles'>;
  args: unknown[];
  env: Record<string, string | undefined>;
  cwd: string;
  execArgv: string[];
  /** Called once, on the event loop, when the child has exited and been reaped. */
  onExit: (exitCode: number) => void;
}

const CHILD_ENTRY = distPath('child-main.js');
// Written synchronously up to this size: an empty pipe holds it without blocking.
const SYNC_WRITE_LIMIT = 64 * 1024;

// Flags that would make a child run other code (-e, -p, -i, --test, --watch) or fight over a
// resource (--inspect on a fixed port). The value-taking ones swallow the next argument when it
// is not given with `=`.
const STRIP_WITH_VALUE = new Set([
  '--input-type', // only meaningful with -e/-p/stdin; an error with a file entry
  '-e',
  '--eval',
  '-p',
  '--print',
  '--watch-path',
  '--inspect-port',
  '--debug-port',
  '--test-reporter',
  '--test-reporter-destination',
  '--test-name-pattern',
  '--test-skip-pattern',
  '--test-concurrency',
  '--test-timeout',
  '--test-shard',
]);
const STRIP = /^(-i|--interactive|-c|--check|--test|--test-.*|--watch|--watch-.*|--inspect.*|--debug.*|-pe|-ep)$/;

/** `execArgv` less the flags a child must not inherit. */
export function childExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const flag = arg.startsWith('--') ? arg.split('=')[0]! : arg;
    if (STRIP_WITH_VALUE.has(flag)) {
      if (!(arg.startsWith('--') && arg.includes('='))) i++; // `-e CODE`, `--eval CODE`
      continue;
    }
    if (STRIP.test(flag)) continue;
    kept.push(arg);
  }
  return kept;
}

/** NODE_OPTIONS less the same flags (quoted values kept as they were). */
export function childNodeOptions(options: string): string {
  const words = options.match(/(?:[^\s"]+|"(?:\\.|[^"\\])*")+/g) ?? [];
  const unquoted = words.map((w) => w.replace(/"((?:\\.|[^"\\])*)"/g, '$1'));
  const kept = new Set(childExecArgv(unquoted).map(String));
  return words.filter((_, i) => kept.has(unquoted[i]!)).join(' ');
}

function environment(env: Record<string, string | undefined>): string[] {
  const entries: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (key === 'NODE_OPTIONS') {
      const cleaned = childNodeOptions(value);
      if (cleaned.length > 0) entries.push(`NODE_OPTIONS=${cleaned}`);
      continue;
    }
    entries.push(`${key}=${value}`);
  }
  return entries;
}

/** The launch message (format above); exported for the fuzz tests of its decoder (child.ts). */
export function launchMessage(header: Omit<LaunchHeader, 'handles'>, args: unknown[]): Buffer {
  const before = handlesWritten();
  const payload = args.length === 0 ? Buffer.alloc(0) : serialize(args, 'args');
  const json = Buffer.from(JSON.stringify({ ...header, handles: handlesWritten() !== before }));
  const message = Buffer.allocUnsafe(8 + json.length + payload.length);
  message.writeUint32LE(message.length, 0);
  message.writeUint32LE(json.length, 4);
  json.copy(message, 8);
  payload.copy(message, 8 + json.length);
  return message;
}

// A big message is written from the thread pool while the child reads it; a child that dies
// first makes the write fail with EPIPE, which only ends the writing.
function writeAsync(fd: number, message: Buffer, offset: number): void {
  write(fd, message, offset, message.length - offset, null, (error, written) => {
    if (error || offset + written >= message.length) closeSync(fd);
    else writeAsync(fd, message, offset + written);
  });
}

/**
 * Starts `node [execArgv] dist/child.js` with the launch message on its fd 3. Returns the native
 * id and the pid. Throws SerializationError when an argument cannot travel, and the OS error
 * (`ENOENT`, `EAGAIN`, ...) when the child cannot be started; nothing is left open then.
 */
export function spawnChild(request: SpawnRequest, ref: boolean): { id: number; pid: number } {
  const message = launchMessage(request.header, request.args);
  const argv = [process.execPath, ...request.execArgv, CHILD_ENTRY];
  const [readEnd, writeEnd] = native.makePipe();
  let child: { id: number; pid: number };
  try {
    child = native.spawnChild(
      process.execPath,
      argv,
      environment(request.env),
      request.cwd,
      [0, 1, 2, readEnd],
      ref,
      (_id, exitCode) => request.onExit(exitCode),
    );
  } catch (error) {
    closeSync(writeEnd);
    throw error;
  } finally {
    closeSync(readEnd);
  }
  if (message.length > SYNC_WRITE_LIMIT) {
    writeAsync(writeEnd, message, 0);
    return child;
  }
  try {
    writeSync(writeEnd, message);
  } catch {
    // EPIPE: the child is already gone; its exit code tells the story.
  } finally {
    closeSync(writeEnd);
  }
  return child;
}
