// A remote manager (Python's docs example "Using a remote manager"): one process serves a job
// board on TCP; any process, on this machine or another, connects with the authkey and uses it.
//
//   terminal 1:  node examples/remote-manager.js serve      serves on 127.0.0.1:50000 (PORT=... to change), Ctrl-C stops
//   terminal 2:  node examples/remote-manager.js connect    posts two jobs and takes one
//
// To serve other machines, listen on { host: '0.0.0.0', port } (HMAC authenticates every
// connection but does not encrypt: use a tunnel or TLS across networks).
// With no argument, it does both: serves from a child process and connects to it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { BaseManager } from 'multiproc';

const AUTHKEY = 'a shared secret';

/** The object the server holds: one for every client (the server imports this module). */
class JobBoard {
  /** @type {string[]} */
  #jobs = [];

  /** @param {string} job */
  post(job) {
    this.#jobs.push(job);
    return this.#jobs.length;
  }

  take() {
    return this.#jobs.shift() ?? null;
  }
}

const board = new JobBoard();

/** What the registered typeid makes: always the same board (Python: `callable=lambda: queue`). */
export function getBoard() {
  return board;
}

class JobManager extends BaseManager {}
JobManager.register('getBoard', { module: import.meta.url, name: 'getBoard' });

/** @param {import('multiproc').Address} address */
async function serve(address) {
  const manager = new JobManager({ address, authkey: AUTHKEY });
  const served = manager.serveForever();
  console.log(`serving on ${JSON.stringify(manager.address)}`);
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM']))
    process.once(signal, () => void manager.shutdown());
  await served;
}

/** @param {import('multiproc').Address} address */
async function connect(address) {
  const manager = await new JobManager({ address, authkey: AUTHKEY }).connect();
  /** @type {any} */
  const jobs = await manager.create('getBoard');
  await jobs.post('wash the car');
  console.log(`posted 2 jobs, the board holds ${await jobs.post('feed the cat')}`);
  console.log(`took: ${await jobs.take()}`);
  manager.close();
}

const mode = process.argv[2];
const port = Number(process.env.PORT ?? 50000);
if (mode === 'serve') {
  // Not awaited: the server imports this module for getBoard, which it cannot do while the
  // module's own top level is still waiting.
  void serve({ host: '127.0.0.1', port });
} else if (mode === 'connect') {
  await connect({ host: '127.0.0.1', port });
} else {
  // Both at once: a server process on a free port, then a client here.
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise((resolve) => server.stdout.setEncoding('utf8').once('data', resolve));
  const address = JSON.parse(String(line).replace('serving on ', ''));
  console.log('a server is listening');
  await connect(address);
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
}
