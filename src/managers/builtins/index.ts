// The types SyncManager serves (Python's SyncManager registry), as the server makes them.
import { loadTarget } from '../../child.js';
import type { TargetSpec } from '../../target.js';
import { describe } from '../../util.js';
import { timeoutArg, type ClientState } from '../call.js';
import { ManagedArray, ManagedDict, ManagedList, ManagedNamespace, ManagedValue } from './collections.js';
import { ManagedLock, ManagedSemaphore } from './locks.js';
import { ManagedJoinableQueue, ManagedQueue } from './queue.js';
import { ManagedBarrier, ManagedCondition, ManagedEvent } from './waiting.js';

/** How the server makes a built-in type. */
export interface BuiltinType {
  /** The client's proxy class (proxies.ts registers one per name). */
  readonly proxytype: string;
  readonly exposed: readonly string[];
  /** `referentOf` turns an in-server proxy argument into its referent (Condition's lock). */
  make(args: unknown[], client: ClientState, referentOf: (value: unknown) => unknown): unknown;
}

function barrier(args: unknown[], client: ClientState): Promise<ManagedBarrier> | ManagedBarrier {
  const [parties, options] = args;
  const timeout = timeoutArg(options);
  const action = (options as { action?: unknown } | undefined)?.action;
  if (action === undefined || action === null) return new ManagedBarrier(parties, undefined, timeout);
  if (client.network)
    throw new TypeError('a Barrier action cannot come from a network peer: it would run its code here');
  if (typeof action !== 'object' || !['module', 'function'].includes((action as { kind?: unknown }).kind as string)) {
    throw new TypeError(`action must be a target (got ${describe(action)})`);
  }
  // Checked before the action is loaded, so a bad `parties` fails without running anything.
  new ManagedBarrier(parties, undefined, timeout);
  return loadTarget(action as TargetSpec).then((fn) => new ManagedBarrier(parties, () => fn(), timeout));
}

export const BUILTINS: Readonly<Record<string, BuiltinType>> = {
  dict: { proxytype: 'Dict', exposed: ManagedDict.exposed, make: (args) => new ManagedDict(args[0]) },
  list: { proxytype: 'List', exposed: ManagedList.exposed, make: (args) => new ManagedList(args[0]) },
  Namespace: {
    proxytype: 'Namespace',
    exposed: ManagedNamespace.exposed,
    make: (args) => new ManagedNamespace(args[0]),
  },
  Queue: { proxytype: 'Queue', exposed: ManagedQueue.exposed, make: (args) => new ManagedQueue(args[0]) },
  JoinableQueue: {
    proxytype: 'JoinableQueue',
    exposed: ManagedJoinableQueue.exposed,
    make: (args) => new ManagedJoinableQueue(args[0]),
  },
  Lock: { proxytype: 'Lock', exposed: ManagedLock.exposed, make: () => new ManagedLock(false) },
  RLock: { proxytype: 'RLock', exposed: ManagedLock.exposed, make: () => new ManagedLock(true) },
  Semaphore: {
    proxytype: 'Semaphore',
    exposed: ManagedSemaphore.exposed,
    make: (args) => new ManagedSemaphore(args[0] ?? 1, false),
  },
  BoundedSemaphore: {
    proxytype: 'BoundedSemaphore',
    exposed: ManagedSemaphore.exposed,
    make: (args) => new ManagedSemaphore(args[0] ?? 1, true),
  },
  Condition: {
    proxytype: 'Condition',
    exposed: ManagedCondition.exposed,
    make: (args, _client, referentOf) => new ManagedCondition(args[0] == null ? undefined : referentOf(args[0])),
  },
  Event: { proxytype: 'Event', exposed: ManagedEvent.exposed, make: () => new ManagedEvent() },
  Barrier: { proxytype: 'Barrier', exposed: ManagedBarrier.exposed, make: (args, client) => barrier(args, client) },
  Value: { proxytype: 'Value', exposed: ManagedValue.exposed, make: (args) => new ManagedValue(args[0], args[1]) },
  Array: { proxytype: 'Array', exposed: ManagedArray.exposed, make: (args) => new ManagedArray(args[0], args[1]) },
};
