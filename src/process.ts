// Process (Python's multiprocessing.Process), currentProcess, parentProcess, activeChildren.
//
// A started child is watched by the addon through its pidfd: it is reaped as soon as it exits,
// joined or not, so no zombie is ever left. A non-daemon child keeps the event loop alive until
// it exits; a daemon child does not, and dies with this process (parent-death signal).
import { native } from './binding.js';
import type { ChildRuntime } from './child.js';
import { AbortError, ProcessError } from './errors.js';
import { childExecArgv, spawnChild } from './spawn.js';
import { prepareTarget, type Target, type TargetSpec } from './target.js';
import { checkOptionsBag, checkSignal, describe, timeoutOf, type WaitOptions } from './util.js';

/** Options of `new Process(...)`: the target, its arguments, and how the child is started. */
export interface ProcessOptions {
  /** A function (sent as source) or `{ module, name }`: see API.md section 2. */
  target: Target;
  /** Arguments, copied with structured-clone semantics; shared objects arrive as live handles. */
  args?: readonly unknown[] | undefined;
  /** Python's kwargs: passed to the target as one last argument (an object). */
  kwargs?: Record<string, unknown> | undefined;
  /** Default `'Process-N'`. */
  name?: string | undefined;
  /** A daemon child dies with its parent and may not start children. Default: the parent's. */
  daemon?: boolean | undefined;
  /** The child's environment. Default: `process.env` at `start()`. */
  env?: Record<string, string | undefined> | undefined;
  /** The child's working directory. Default: `process.cwd()` at construction. */
  cwd?: string | undefined;
  /** Node flags for the child. Default: `process.execArgv` less -e/-p/-i/--test/--watch/--inspect. */
  execArgv?: readonly string[] | undefined;
}

// ---- who this process is ----

const RUNTIME = Symbol.for('multiproc.runtime');

function runtime(): ChildRuntime | undefined {
  return (globalThis as Record<symbol, ChildRuntime | undefined>)[RUNTIME];
}

/** This process as multiproc sees it (Python's `current_process()`). */
export interface CurrentProcess {
  /** `'MainProcess'` in the main process, `'Process-N'` (or the given name) in a child. Settable. */
  name: string;
  readonly pid: number;
  readonly daemon: boolean;
}

let current: CurrentProcess | undefined;

/** This process: `name` (`'MainProcess'` in the main process), `pid`, `daemon`. */
export function currentProcess(): CurrentProcess {
  if (current === undefined) {
    const self = runtime();
    let name = self?.name ?? 'MainProcess';
    current = {
      // Checked as Process#name is: the name goes into log lines and children's names.
      get name(): string {
        return name;
      },
      set name(value: string) {
        if (typeof value !== 'string') throw new TypeError(`name must be a string (got ${describe(value)})`);
        name = value;
      },
      pid: process.pid,
      daemon: self?.daemon ?? false,
    };
    Object.defineProperty(current, 'pid', { enumerable: true, writable: false });
    Object.defineProperty(current, 'daemon', { enumerable: true, writable: false });
  }
  return current;
}

/** The process that started this one (`{ pid, name }`), or null in the main process. */
export function parentProcess(): { readonly pid: number; readonly name: string } | null {
  const self = runtime();
  return self === undefined ? null : Object.freeze({ pid: self.parentPid, name: self.parentName });
}

// ---- the library's log (Python's log_to_stderr) ----

const LEVELS = { debug: 10, info: 20, warning: 30, error: 40 } as const;
/** Levels of the library's log, as Python's logging names them. */
export type LogLevel = keyof typeof LEVELS;

/** The library's log of process lifecycle events. */
export interface Logger {
  readonly level: LogLevel | 'off';
  setLevel(level: LogLevel | 'off'): void;
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

let logLevel: number = Infinity;
const logger: Logger = {
  get level() {
    return (Object.keys(LEVELS) as LogLevel[]).find((name) => LEVELS[name] === logLevel) ?? 'off';
  },
  setLevel(level) {
    if (level !== 'off' && !Object.hasOwn(LEVELS, level)) {
      throw new TypeError(`level must be 'debug', 'info', 'warning', 'error' or 'off' (got ${describe(level)})`);
    }
    logLevel = level === 'off' ? Infinity : LEVELS[level];
  },
  debug: (message) => log('debug', message),
  info: (message) => log('info', message),
  warning: (message) => log('warning', message),
  error: (message) => log('error', message),
};

function log(level: LogLevel, message: string): void {
  if (LEVELS[level] < logLevel) return;
  process.stderr.write(`[${level.toUpperCase()}/${currentProcess().name}] ${message}\n`);
}

/**
 * Turns on the library's log on stderr at `level` (default 'info') and returns it (Python's
 * `log_to_stderr`): lines like `[INFO/MainProcess] Process-1 started, pid 123`. TypeError for an
 * unknown level.
 */
export function logToStderr(level: LogLevel = 'info'): Logger {
  logger.setLevel(level);
  return logger;
}

// ---- children ----

const children = new Set<Process>();
let counter = 0;
let exitHookInstalled = false;

/** Started children that are still running. Finished ones are reaped on the way. */
export function activeChildren(): Process[] {
  for (const child of children) child.poll();
  return [...children];
}

// When a child's target settles (child.ts), its own children are dealt with as Python does:
// daemon children are terminated, the others joined.
function installExitHook(): void {
  const self = runtime();
  if (exitHookInstalled || self === undefined) return;
  exitHookInstalled = true;
  self.exitHooks.push(async () => {
    for (const child of activeChildren()) if (child.daemon) child.terminate();
    await Promise.all([...children].map((child) => child.join()));
  });
}

type State = 'initial' | 'started' | 'exited' | 'closed';

/**
 * A child process running a target (Python's `multiprocessing.Process`). The constructor throws
 * TypeError/RangeError for bad options; see API.md section 3 for the lifecycle.
 */
export class Process {
  readonly #target: TargetSpec;
  readonly #args: unknown[];
  readonly #env: Record<string, string | undefined> | undefined;
  readonly #cwd: string;
  readonly #execArgv: string[] | undefined;
  readonly #identity: number[];
  #name: string;
  #daemon: boolean;
  #state: State = 'initial';
  #id = 0;
  #pid: number | undefined;
  #exitCode: number | null = null;
  #exited: Promise<void> | undefined;
  #settle: (() => void) | undefined;

  constructor(options: ProcessOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`options must be an object with a target (got ${describe(options)})`);
    }
    const { target, args = [], kwargs, name, daemon, env, cwd, execArgv } = options;
    if (target === undefined) throw new TypeError('options.target is required');
    if (!Array.isArray(args)) throw new TypeError(`options.args must be an array (got ${describe(args)})`);
    if (kwargs !== undefined && (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs))) {
      throw new TypeError(`options.kwargs must be a plain object (got ${describe(kwargs)})`);
    }
    if (name !== undefined && typeof name !== 'string') {
      throw new TypeError(`options.name must be a string (got ${describe(name)})`);
    }
    if (daemon !== undefined && typeof daemon !== 'boolean') {
      throw new TypeError(`options.daemon must be a boolean (got ${describe(daemon)})`);
    }
    if (env !== undefined && (typeof env !== 'object' || env === null)) {
      throw new TypeError(`options.env must be an object (got ${describe(env)})`);
    }
    if (cwd !== undefined && (typeof cwd !== 'string' || cwd.length === 0)) {
      throw new TypeError(`options.cwd must be a non-empty string (got ${describe(cwd)})`);
    }
    if (execArgv !== undefined && (!Array.isArray(execArgv) || execArgv.some((a) => typeof a !== 'string'))) {
      throw new TypeError('options.execArgv must be an array of strings');
    }
    this.#target = prepareTarget(target, process.cwd());
    this.#args = kwargs === undefined ? [...args] : [...args, kwargs];
    this.#identity = [...(runtime()?.identity ?? []), ++counter];
    this.#name = name ?? `Process-${this.#identity.join(':')}`;
    this.#daemon = daemon ?? currentProcess().daemon;
    this.#env = env;
    this.#cwd = cwd ?? process.cwd();
    this.#execArgv = execArgv === undefined ? undefined : [...execArgv];
  }

  /**
   * Starts the child. Throws ProcessError when already started (or closed, or when this process
   * is a daemon), SerializationError when an argument cannot travel, and the OS error when the
   * child cannot be spawned.
   */
  start(): void {
    this.#check();
    if (this.#state !== 'initial') throw new ProcessError(`${this} cannot be started twice`);
    if (currentProcess().daemon) throw new ProcessError('a daemon process is not allowed to have children');
    const importing = (globalThis as Record<symbol, unknown>)[Symbol.for('multiproc.importingTarget')];
    if (typeof importing === 'string') {
      throw new ProcessError(
        `cannot start a process while this child is still importing its target module ${importing}: ` +
          `the module starts processes at its top level, so every child would start more. Guard that code ` +
          `(if (currentProcess().name === 'MainProcess') { ... }) or move it into a function.`,
      );
    }
    const self = currentProcess();
    const { id, pid } = spawnChild(
      {
        header: {
          version: 1,
          target: this.#target,
          name: this.#name,
          daemon: this.#daemon,
          identity: this.#identity,
          parentPid: process.pid,
          parentName: self.name,
        },
        args: this.#args,
        env: this.#env ?? process.env,
        cwd: this.#cwd,
        execArgv: this.#execArgv ?? childExecArgv(process.execArgv),
        onExit: (exitCode) => this.#onExit(exitCode),
      },
      !this.#daemon,
    );
    this.#id = id;
    this.#pid = pid;
    this.#state = 'started';
    this.#exited = new Promise((resolve) => (this.#settle = resolve));
    children.add(this);
    installExitHook();
    log('info', `${this.#name} started, pid ${pid}`);
  }

  #onExit(exitCode: number): void {
    log('info', `${this.#name} exited with exit code ${exitCode}`);
    this.#exitCode = exitCode;
    if (this.#state === 'started') this.#state = 'exited';
    children.delete(this);
    this.#settle?.();
  }

  #check(): void {
    if (this.#state === 'closed') throw new ProcessError(`${this} is closed`);
  }

  #checkStarted(what: string): void {
    this.#check();
    if (this.#state === 'initial') throw new ProcessError(`cannot ${what} ${this}: it was never started`);
  }

  /**
   * Resolves when the child has exited, or when `timeout` ms have passed (check `exitCode`).
   * Rejects with ProcessError when never started, AbortError when `signal` aborts.
   */
  async join(options?: WaitOptions): Promise<void> {
    checkOptionsBag(options);
    checkSignal(options?.signal);
    const timeout = timeoutOf(options);
    this.#checkStarted('join');
    if (this.#state !== 'started') return;
    const signal = options?.signal;
    if (signal?.aborted) throw new AbortError();
    if (timeout <= 0) return void this.poll();
    // A daemon child does not keep the event loop alive, but a join that waits for it must: else
    // `await p.join()` at the end of a script would find the loop empty and Node would exit.
    this.#holdLoop(1);
    try {
      await this.#joinWait(timeout, signal);
    } finally {
      this.#holdLoop(-1);
    }
  }

  #joiners = 0;

  #holdLoop(delta: 1 | -1): void {
    this.#joiners += delta;
    if (this.#daemon && this.#state === 'started') native.childSetRef(this.#id, this.#joiners > 0);
  }

  #joinWait(timeout: number, signal: AbortSignal | undefined): Promise<void> {
    if (timeout === Infinity && signal === undefined) return this.#exited!;
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const finish = (): void => {
        cleanup();
        resolve();
      };
      const onAbort = (): void => {
        cleanup();
        reject(new AbortError());
      };
      const timer = timeout === Infinity ? undefined : setTimeout(finish, timeout);
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.#exited!.then(finish);
    });
  }

  /**
   * Blocks until the child has exited or `timeout` ms have passed. Throws ProcessError when never
   * started; an error with code EINTR when a signal with a handler arrives meanwhile.
   */
  joinSync(options?: { timeout?: number | null | undefined }): void {
    checkOptionsBag(options);
    const timeout = timeoutOf(options);
    this.#checkStarted('join');
    if (this.#state !== 'started') return;
    const exitCode = native.childJoinSync(this.#id, timeout === Infinity ? -1 : timeout);
    if (exitCode !== null) this.#onExit(exitCode);
  }

  /** Reaps the child if it has exited (without waiting). @internal */
  poll(): void {
    if (this.#state !== 'started') return;
    const exitCode = native.childJoinSync(this.#id, 0);
    if (exitCode !== null) this.#onExit(exitCode);
  }

  /** True from `start()` until the child has exited. Throws ProcessError when closed. */
  isAlive(): boolean {
    this.#check();
    this.poll();
    return this.#state === 'started';
  }

  /** Sends SIGTERM (exit code -15 unless the child handles it). Does nothing once it has exited. */
  terminate(): void {
    this.#signal(15, 'terminate');
  }

  /** Sends SIGKILL (exit code -9). Does nothing once it has exited. */
  kill(): void {
    this.#signal(9, 'kill');
  }

  #signal(signal: number, what: string): void {
    this.#checkStarted(what);
    if (this.#state !== 'started') return;
    log('debug', `sending signal ${signal} to ${this.#name}`);
    native.childSignal(this.#id, signal);
  }

  /** Releases this object. Throws ProcessError while the child is still running. */
  close(): void {
    if (this.#state === 'closed') return;
    if (this.isAlive()) throw new ProcessError(`cannot close ${this}: it is still running`);
    this.#state = 'closed';
  }

  /** The child's pid; undefined before `start()`. */
  get pid(): number | undefined {
    return this.#pid;
  }

  /** Python's `ident`: the pid. */
  get ident(): number | undefined {
    return this.#pid;
  }

  /** null while running (or never started); n for exit(n); -N when killed by signal N. */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  get name(): string {
    return this.#name;
  }

  set name(value: string) {
    if (typeof value !== 'string') throw new TypeError(`name must be a string (got ${describe(value)})`);
    this.#name = value;
  }

  /** Settable before `start()` only (ProcessError after). */
  get daemon(): boolean {
    return this.#daemon;
  }

  set daemon(value: boolean) {
    if (typeof value !== 'boolean') throw new TypeError(`daemon must be a boolean (got ${describe(value)})`);
    if (this.#state !== 'initial') throw new ProcessError('daemon can only be set before start()');
    this.#daemon = value;
  }

  toString(): string {
    const status =
      this.#state === 'initial'
        ? 'initial'
        : this.#state === 'started'
          ? 'started'
          : this.#state === 'closed'
            ? 'closed'
            : `stopped exitcode=${this.#exitCode}`;
    return `<Process name=${JSON.stringify(this.#name)} ${status}${this.#daemon ? ' daemon' : ''}>`;
  }
}
