// wait(): the connections, among several, that are ready to read (Python's
// multiprocessing.connection.wait). Pipes park on their ring's futex word in the per-process
// native waiter, sockets on their 'data' events; the first to stir ends every other wait.
import { AbortError, Closed } from '../errors.js';
import { checkOptionsBag, checkSignal, deadlineOf, describe, remaining, timeoutOf, type WaitOptions } from '../util.js';
import { Connection, kReadiness, type Readiness } from './connection.js';

/**
 * Resolves with the connections of `connections` that are ready to read: a message is there, or
 * the peer is gone (so recv would reject with EOFError at once). Resolves with an empty array
 * when `timeout` runs out first; rejects with AbortError when `signal` aborts, TypeError for
 * anything that is not a Connection, Closed for a closed one.
 */
export async function wait(connections: Iterable<Connection>, options?: WaitOptions): Promise<Connection[]> {
  checkOptionsBag(options);
  checkSignal(options?.signal);
  if (
    connections === null ||
    typeof connections !== 'object' ||
    typeof (connections as Partial<Iterable<Connection>>)[Symbol.iterator] !== 'function'
  ) {
    throw new TypeError(`connections must be an iterable of Connections (got ${describe(connections)})`);
  }
  const list = [...connections];
  for (const [i, connection] of list.entries()) {
    if (!(connection instanceof Connection)) {
      throw new TypeError(`connections[${i}] must be a Connection (got ${describe(connection)})`);
    }
    if (connection.closed) throw new Closed(`connections[${i}] is closed`);
  }
  const deadline = deadlineOf(timeoutOf(options));
  const signal = options?.signal;
  const watched = list.map((connection) => Connection[kReadiness](connection));
  for (;;) {
    if (signal?.aborted) throw new AbortError();
    const ready = list.filter((_, i) => watched[i]!.ready());
    if (ready.length > 0 || remaining(deadline) === 0) return ready;
    if (!(await firstStir(watched, deadline, signal))) return list.filter((_, i) => watched[i]!.ready());
  }
}

/** Waits on all of them at once; true when any stirred, false at the deadline. */
async function firstStir(watched: Readiness[], deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const outcomes = watched.map((w) =>
      w.wait(deadline, stop.signal).catch((error: unknown) => {
        if (error instanceof AbortError && !signal?.aborted) return false;
        throw error;
      }),
    );
    const stirred = await Promise.race(outcomes);
    stop.abort();
    // Let every wait unwind (their native parks are cancelled) before the next round.
    await Promise.allSettled(outcomes);
    if (signal?.aborted) throw new AbortError();
    return stirred;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
