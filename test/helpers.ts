// Helpers shared by the test files: run a child node program with a deadline, and list what the
// library left in /dev/shm.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * True under `npm run stress` (MULTIPROC_STRESS=1): the fault matrix and the load tests run at
 * full size (many repetitions, a million queue items) instead of the quick size of `npm test`.
 */
export const STRESS = process.env.MULTIPROC_STRESS === '1';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** Runs `node <file> ...args`, killing it if it outlives `timeoutMs`. */
export function runNode(file: string, args: string[] = [], timeoutMs = 20_000, input?: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** Runs python3 with a script on stdin; resolves null when python3 is not installed. */
export function runPython(script: string, args: string[] = [], timeoutMs = 20_000): Promise<ChildResult | null> {
  return new Promise((resolve) => {
    const child = spawn('python3', ['-', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(script);
  });
}

/** Entries in /dev/shm that multiproc names (generated names start with "mp-"). */
export function leftoverShm(prefix = 'mp-'): string[] {
  return readdirSync('/dev/shm').filter((name) => name.startsWith(prefix));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Paths under /dev/shm that a process has mapped or open right now: what a test may attribute
 * to itself (a listing of /dev/shm also shows what other test files make at the same time).
 */
export function shmInUse(pid: number | 'self' = 'self'): Set<string> {
  const paths = new Set<string>();
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const at = line.indexOf('/dev/shm/');
      if (at >= 0) paths.add(line.slice(at).replace(/ \(deleted\)$/, ''));
    }
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith('/dev/shm/')) paths.add(target.replace(/ \(deleted\)$/, ''));
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // the process is gone
  }
  return paths;
}
