// The target of a manager's server process (Python's BaseManager._run_server): listen, say so
// through the start-up segment, serve until the starter shuts the server down.
import { ManagerServer } from './server.js';
import type { ServerConfig } from './registry.js';
import { Startup } from './startup.js';

/** Runs a manager server in this (child) process until it is shut down. */
export async function serveManager(config: ServerConfig, startupName: string): Promise<void> {
  // As Python's server: Ctrl-C in a terminal reaches the whole process group; the starter decides
  // (this daemon process dies with it anyway).
  process.on('SIGINT', () => {});
  // A user type's stray rejection or throw (in a timer of its own, say) must not take every
  // client's objects down with the server, as an exception in one of Python's server threads
  // does not: it is reported on stderr.
  const report = (what: string) => (reason: unknown) =>
    process.stderr.write(`multiproc manager server: ${what}: ${String((reason as Error)?.stack ?? reason)}\n`);
  process.on('unhandledRejection', report('unhandled rejection'));
  process.on('uncaughtException', report('uncaught exception'));
  const startup = Startup.open(startupName);
  let server: ManagerServer;
  try {
    // Every kind of handle a local client may send (a Queue in a dict) must be revivable here:
    // loaded while the first client connects and authenticates.
    const everything = import('../index.js');
    everything.catch(() => {});
    server = new ManagerServer(config, everything);
    const address = server.listen();
    startup.listening(typeof address === 'string' ? 0 : address.port);
  } catch (error) {
    startup.failed(error);
    throw error;
  } finally {
    startup.close();
  }
  await server.done;
}
