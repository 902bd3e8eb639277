// @ts-check
// What the numbers were measured on: recorded with every run.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

const ROOT = new URL('../../', import.meta.url);

/**
 * The python3 to run the peers with (resolved once, so a pyenv shim's start-up is not paid per
 * run), or why there is none.
 * @returns {{ python: string | null, version: string | null, missing: string }}
 */
export function findPython() {
  try {
    const out = execFileSync(
      'python3',
      ['-c', 'import sys, json, multiprocessing; print(json.dumps([sys.executable, sys.version.split()[0]]))'],
      { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const [python, version] = JSON.parse(out.trim().split('\n').pop() ?? '[]');
    if (typeof python !== 'string' || !python) return { python: null, version: null, missing: 'python3 gave no path' };
    return { python, version, missing: '' };
  } catch (err) {
    const code = /** @type {{ code?: string }} */ (err).code;
    const why = code === 'ENOENT' ? 'python3 not found on PATH' : 'python3 (with multiprocessing) does not run here';
    return { python: null, version: null, missing: why };
  }
}

/** @param {string} name */
function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, ROOT), 'utf8')).version ?? null;
  } catch {
    return null;
  }
}

function gitCommit() {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty ? `${rev} (with local changes)` : rev;
  } catch {
    return null;
  }
}

/** @param {string | null} pythonVersion */
export function describeMachine(pythonVersion) {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    python: pythonVersion,
    kernel: `${os.type()} ${os.release()}`,
    arch: process.arch,
    loadAvgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    multiproc: JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')).version,
    commit: gitCommit(),
    peers: { piscina: pkgVersion('piscina'), workerpool: pkgVersion('workerpool'), zeromq: pkgVersion('zeromq') },
  };
}
