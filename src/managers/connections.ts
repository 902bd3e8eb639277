// One connection per manager server per process (Python keeps one per thread; a Node process runs
// its calls on one thread), shared by every proxy of that server, and what a child does with them
// when its target ends.
import { randomUUID } from 'node:crypto';

import type { Address } from '../connection/index.js';
import { ClientConnection } from './client.js';
import { addressKey } from './keys.js';

const connections = new Map<string, ClientConnection>();
let exitHookInstalled = false;

/** This process's connection to the server at `address` (a new one when the last one ended). */
export function connectionFor(address: Address): ClientConnection {
  const key = addressKey(address);
  let connection = connections.get(key);
  if (connection === undefined || connection.finished) {
    connection = new ClientConnection(address);
    connections.set(key, connection);
    installExitHook();
  }
  return connection;
}

/** Forgets `connection` (after close), so that the next use of its address opens a new one. */
export function dropConnection(connection: ClientConnection): void {
  const key = addressKey(connection.address);
  if (connections.get(key) === connection) connections.delete(key);
}

// In a child, the target's end waits for manager calls still in flight (API.md section 2).
function installExitHook(): void {
  if (exitHookInstalled) return;
  const runtime = (globalThis as Record<symbol, { exitHooks?: Array<() => unknown> } | undefined>)[
    Symbol.for('multiproc.runtime')
  ];
  if (runtime?.exitHooks === undefined) return;
  exitHookInstalled = true;
  runtime.exitHooks.push(async () => {
    await Promise.all([...connections.values()].map((connection) => connection.idle()));
    for (const connection of connections.values()) connection.close();
  });
}

/** A random token (the starter's right to shut its server down). */
export function shutdownToken(): string {
  return randomUUID();
}
