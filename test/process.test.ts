// Process across real processes: exit codes, signals, identities, handles in arguments, targets,
// loaders inherited through execArgv, daemon death with a SIGKILLed parent, reaping and fds.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import {
  activeChildren,
  cpuCount,
  currentProcess,
  getContext,
  parentProcess,
  Process,
  ProcessError,
  SerializationError,
  setStartMethod,
  SharedMemory,
} from 'multiproc';

import { fixture, runNode, sleep } from './helpers.js';

const targets = fixture('process-targets.js');
const started: Process[] = [];
const segments: SharedMemory[] = [];

function run(options: ConstructorParameters<typeof Process>[0]): Process {
  const p = new Process(options);
  p.start();
  started.push(p);
  return p;
}

function segment(size = 256): SharedMemory {
  const shm = new SharedMemory({ create: true, size });
  segments.push(shm);
  return shm;
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

// Function targets are written in scripts run by node here: vitest rewrites import() in test files.
function runScript(lines: string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--input-type=module', '-e', lines.join('\n')], {
    encoding: 'utf8',
    timeout: 20_000,
    env: env ?? process.env,
  });
}

afterEach(async () => {
  for (const p of started.splice(0)) {
    if (p.exitCode === null) p.kill();
    await p.join({ timeout: 10_000 });
  }
  for (const shm of segments.splice(0)) {
    shm.close();
    shm.unlink();
  }
});

/** 'Z' for a zombie, another state letter while it runs, null once it is gone. */
function processState(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] ?? null;
  } catch {
    return null;
  }
}

describe('exit codes', () => {
  it('is 0 when the target returns', async () => {
    const p = run({ target: { module: targets, name: 'leaveTimer' } });
    await p.join({ timeout: 10_000 });
    expect(p.exitCode).toBe(0);
    expect(p.isAlive()).toBe(false);
  });

  it('is n for process.exit(n), and honours process.exitCode', async () => {
    const a = run({ target: { module: targets, name: 'exitWith' }, args: [7] });
    const b = run({ target: { module: targets, name: 'setExitCode' }, args: [4] });
    await Promise.all([a.join({ timeout: 10_000 }), b.join({ timeout: 10_000 })]);
    expect([a.exitCode, b.exitCode]).toEqual([7, 4]);
  });

  it('an untimed join of a daemon child keeps the event loop alive until the child exits', async () => {
    const result = await runNode(fixture('daemon-join.js'));
    expect(result).toMatchObject({ code: 0, stdout: 'joined 0\n' });
  });

  it('is 1 when the target throws, with the stack on the child stderr', async () => {
    const result = await runNode(fixture('process-parent.js'), [`${targets}#throwError`, '["kaboom"]']);
    expect(result.stdout).toMatch(/exit 1\n$/);
    expect(result.stderr).toMatch(/^Process Process-1:\nError: kaboom\n\s+at throwError \(.*process-targets\.js/);
  });

  it('is 1 when an async target rejects', async () => {
    const p = run({ target: { module: targets, name: 'rejectLater' }, args: ['later'] });
    await p.join({ timeout: 10_000 });
    expect(p.exitCode).toBe(1);
  });

  it('is -15 after terminate() and -9 after kill()', async () => {
    const a = run({ target: { module: targets, name: 'sleepForever' } });
    const b = run({ target: { module: targets, name: 'sleepForever' } });
    await a.join({ timeout: 100 });
    expect(a.exitCode).toBeNull();
    expect(a.isAlive()).toBe(true);
    a.terminate();
    b.kill();
    await Promise.all([a.join({ timeout: 10_000 }), b.join({ timeout: 10_000 })]);
    expect([a.exitCode, b.exitCode]).toEqual([-15, -9]);
    a.terminate(); // after exit: nothing happens
  });

  it('lets a child handle SIGTERM itself', async () => {
    const shm = segment(8);
    const p = run({ target: { module: targets, name: 'handleTerm' }, args: [shm] });
    await until(() => shm.buf[0] === 1);
    p.terminate();
    p.joinSync({ timeout: 10_000 });
    expect(p.exitCode).toBe(3);
  });

  it('exits when the target settles even with timers left, and joinSync waits for it', () => {
    const p = run({ target: () => void setInterval(() => {}, 1000) });
    p.joinSync({ timeout: 10_000 });
    expect(p.exitCode).toBe(0);
  });
});

describe('identity and arguments', () => {
  it('names children Process-N, gives parentProcess().pid, and revives nested handles', async () => {
    const shm = segment();
    const p = run({ target: { module: targets, name: 'reportIdentity' }, args: [{ where: [shm] }] });
    expect(p.name).toMatch(/^Process-\d+$/);
    await p.join({ timeout: 10_000 });
    expect(p.exitCode).toBe(0);
    const info = JSON.parse(shm.buf.toString('utf8').replace(/\0+$/, ''));
    expect(info).toEqual({
      name: p.name,
      pid: p.pid,
      daemon: false,
      parent: { pid: process.pid, name: 'MainProcess' },
    });
  });

  it('runs an async target with a handle inside a Map, and passes kwargs last', async () => {
    const shm = segment(8);
    const p = run({ target: { module: targets, name: 'writeLater' }, args: [new Map([['target', shm]]), 99] });
    await p.join({ timeout: 10_000 });
    expect(p.exitCode).toBe(0);
    expect(shm.buf[0]).toBe(99);
    const k = run({
      target: (a: number, options: { code: number }) => process.exit(a + options.code),
      args: [1],
      kwargs: { code: 5 },
    });
    await k.join({ timeout: 10_000 });
    expect(k.exitCode).toBe(6);
  });

  it('runs a self-contained function with import() resolved from the parent cwd', () => {
    const result = runScript([
      "import { Process } from 'multiproc';",
      'const p = new Process({ target: async (n) => {',
      "  const { cpuCount } = await import('multiproc');",
      "  const { exitWith } = await import('./test/fixtures/process-targets.js');",
      '  exitWith(cpuCount() > 0 ? n : 0);',
      '}, args: [12] });',
      'p.start(); await p.join(); console.log("exit", p.exitCode);',
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('exit 12\n');
  });

  it('reports a function that uses its enclosing scope as TargetError naming the variable', async () => {
    const result = runScript([
      "import { Process } from 'multiproc';",
      'const secret = 42;',
      'const p = new Process({ target: () => console.log(secret) });',
      'p.start(); await p.join(); console.log("exit", p.exitCode);',
    ]);
    expect(result.stdout).toBe('exit 1\n');
    expect(result.stderr).toMatch(/TargetError: the target function target uses "secret", which is not defined/);
  });

  it('a child that cannot load its target exits 1 naming the module and the export', async () => {
    const result = await runNode(fixture('process-parent.js'), [`${targets}#noSuchExport`]);
    expect(result.stdout).toMatch(/exit 1\n$/);
    expect(result.stderr).toContain(`has no export "noSuchExport"`);
    expect(result.stderr).toContain('process-targets.js');
  });

  it('accepts file: URLs and package specifiers resolved from the parent cwd', async () => {
    const a = run({
      target: { module: new URL('./fixtures/process-targets.js', import.meta.url), name: 'exitWith' },
      args: [9],
    });
    const b = run({ target: { module: 'node:process', name: 'exit' }, args: [5] });
    const c = run({ target: { module: 'multiproc', name: 'cpuCount' } });
    await Promise.all([a, b, c].map((p) => p.join({ timeout: 10_000 })));
    expect([a.exitCode, b.exitCode, c.exitCode]).toEqual([9, 5, 0]);
  });

  it('refuses arguments that cannot travel, naming the path, before starting anything', () => {
    const p = new Process({ target: () => {}, args: [1, { cb: () => 0 }] });
    expect(() => p.start()).toThrow(SerializationError);
    expect(() => p.start()).toThrow(/args\[1\]\.cb/);
    expect(p.pid).toBeUndefined();
  });
});

describe('loaders and flags carried to children', () => {
  it('inherits --import tsx, so a .ts target runs', async () => {
    const parent = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        fixture('process-parent.js'),
        `${fixture('ts-target.ts')}#default`,
        '[{"text":"hi","times":2}]',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(parent.stderr).toBe('');
    expect(parent.stdout).toMatch(/^child \d+\nhi from a \.ts target\nhi from a \.ts target\nexit 0\n$/);
  });

  it('never re-runs a parent started with -e', () => {
    const result = runScript(
      [
        "import { Process } from 'multiproc';",
        'console.log("parent ran");',
        'const p = new Process({ target: () => console.log("target ran") });',
        'p.start(); await p.join();',
      ],
      { ...process.env, NODE_OPTIONS: '--inspect-port=0' },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('parent ran\ntarget ran\n');
  });
});

describe('daemons', () => {
  // Daemon children of a SIGKILLed parent are a row of the fault matrix (test/faults.test.ts).

  it('a daemon may not start children, and daemon is settable only before start', async () => {
    const p = new Process({ target: { module: targets, name: 'exitWith' }, args: [0], daemon: true });
    p.daemon = false;
    p.daemon = true;
    expect(p.daemon).toBe(true);
    p.start();
    started.push(p);
    expect(() => (p.daemon = false)).toThrow(ProcessError);
    const nested = run({ target: { module: targets, name: 'startChild' }, daemon: true });
    await Promise.all([p.join({ timeout: 10_000 }), nested.join({ timeout: 10_000 })]);
    expect([p.exitCode, nested.exitCode]).toEqual([0, 1]);
  });
});

describe('reaping and resources', () => {
  it('starts 100 short processes with no zombie and no leaked fd', async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    const pids: number[] = [];
    for (let batch = 0; batch < 25; batch++) {
      const group = Array.from({ length: 4 }, () => run({ target: () => {} }));
      await Promise.all(group.map((p) => p.join({ timeout: 10_000 })));
      for (const p of group) {
        expect(p.exitCode).toBe(0);
        pids.push(p.pid!);
        p.close();
      }
      started.length = 0;
    }
    expect(fds()).toBe(before);
    expect(pids.map(processState).filter((state) => state === 'Z')).toEqual([]);
  }, 120_000);

  it('reaps a child nobody joins, and activeChildren() lists only live ones', async () => {
    const short = run({ target: () => {} });
    const long = run({ target: { module: targets, name: 'sleepForever' } });
    await until(() => short.exitCode !== null);
    expect(processState(short.pid!)).toBeNull();
    expect(activeChildren()).toEqual([long]);
    long.kill();
    await long.join({ timeout: 10_000 });
    expect(activeChildren()).toEqual([]);
  });
});

describe('misuse and bad input', () => {
  it('throws ProcessError on start twice, join before start, close while running', async () => {
    const p = new Process({ target: { module: targets, name: 'sleepForever' } });
    await expect(p.join()).rejects.toThrow(ProcessError);
    expect(() => p.joinSync()).toThrow(ProcessError);
    expect(() => p.terminate()).toThrow(ProcessError);
    p.start();
    started.push(p);
    expect(() => p.start()).toThrow(ProcessError);
    expect(() => p.close()).toThrow(ProcessError);
    p.kill();
    await p.join({ timeout: 10_000 });
    p.close();
    started.pop();
    expect(() => p.start()).toThrow(/closed/);
  });

  it('join({ timeout }) returns when the time is up; 0 or negative means do not wait', async () => {
    const p = run({ target: { module: targets, name: 'sleepForever' } });
    await p.join({ timeout: -5 });
    p.joinSync({ timeout: 0 });
    await p.join({ timeout: 50 });
    p.joinSync({ timeout: 50 });
    expect(p.exitCode).toBeNull();
    await expect(p.join({ timeout: Number.NaN })).rejects.toThrow(TypeError);
    expect(() => p.joinSync({ timeout: '5' as never })).toThrow(TypeError);
    const controller = new AbortController();
    const joining = p.join({ signal: controller.signal });
    controller.abort();
    await expect(joining).rejects.toMatchObject({ code: 'ABORT_ERR' });
  });

  // Process's bad options are rows of test/bad-input.test.ts.
});

describe('module functions', () => {
  it('reports the main process, cpuCount and the spawn context', () => {
    expect(currentProcess()).toMatchObject({ name: 'MainProcess', pid: process.pid, daemon: false });
    expect(parentProcess()).toBeNull();
    expect(cpuCount()).toBeGreaterThan(0);
    expect(getContext('spawn').Process).toBe(Process);
    expect(getContext().startMethod).toBe('spawn');
    expect(() => getContext('fork' as never)).toThrow(RangeError);
    setStartMethod('spawn', { force: true });
    expect(() => setStartMethod('spawn')).toThrow(ProcessError);
  });

  it('the child entry refuses to run by hand', async () => {
    const result = await runNode(fileURLToPath(new URL('../dist/child-main.js', import.meta.url)));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/started by multiproc's Process, not by hand/);
    expect(existsSync('/proc/self')).toBe(true);
  });
});

describe('native entry points of process.cc', () => {
  it('throw TypeError/RangeError for garbage, never crash', async () => {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const load = require('node-gyp-build') as (dir: string) => Record<string, (...args: unknown[]) => unknown>;
    const native = load(fileURLToPath(new URL('../', import.meta.url)));
    const garbage: unknown[] = [undefined, null, -1, 1.5, Number.NaN, 2 ** 60, 'x', {}, [], () => 0, 10n, ['a\0b']];
    for (const name of ['spawnChild', 'childJoinSync', 'childSignal', 'childSetRef', 'setParentDeathSignal']) {
      for (const a of garbage) {
        for (const b of [undefined, -4, 3, 'x', [5]]) {
          try {
            native[name]!(a, b, b, b, b, b, b);
          } catch (error) {
            expect(error).toBeInstanceOf(Error);
          }
        }
      }
    }
    expect(() => native.spawnChild!('/bin/true', [], [], null, [], true, () => 0)).toThrow(RangeError);
    expect(() => native.spawnChild!('/bin/true', ['x'], [], null, [-2], true, () => 0)).toThrow(RangeError);
    expect(() => native.spawnChild!('/no/such/file', ['x'], [], null, [], true, () => 0)).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'posix_spawn' }),
    );
    expect(native.childSignal!(123456, 15)).toBe(false);
    expect(() => native.childJoinSync!(123456, 0)).toThrow(RangeError);
    native.setParentDeathSignal!(0); // garbage above may have armed one in this test process
  });
});

describe('a module that starts processes at its top level', () => {
  it('does not start more processes when a child imports it as its target (no fork bomb)', async () => {
    const result = await runNode(fixture('self-target.js'), [], 30_000);
    // The child refuses to start a grandchild while importing its target, so it fails (exit 1)
    // with a message that says why, and the parent goes on.
    expect(result.stdout).toContain('child exit code 1');
    expect(result.stderr).toContain('still importing its target module');
    expect(result.stdout).not.toContain('work ran');
  });
});
