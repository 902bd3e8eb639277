// How a shared object becomes a small descriptor and is revived in another process.
//
// Every shared class implements `toHandle()` (a JSON-safe descriptor: kind, layout version,
// what is needed to attach) and registers a reviver for its kind here. The serializer uses the
// same two pieces to carry live handles inside messages and Process arguments.

/** A JSON-safe descriptor of a shared object, from `obj.toHandle()`. */
export interface HandleDescriptor {
  readonly kind: string;
  readonly version: number;
  readonly [field: string]: unknown;
}

/** Implemented by every object that travels as a live handle. */
export interface Shareable {
  toHandle(): HandleDescriptor;
}

const revivers = new Map<string, (descriptor: HandleDescriptor) => Shareable>();

export function registerHandleKind(kind: string, revive: (descriptor: HandleDescriptor) => Shareable): void {
  revivers.set(kind, revive);
}

export function isShareable(value: unknown): value is Shareable {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<Shareable>).toHandle === 'function' &&
    revivers.has((value as { constructor: { handleKind?: string } }).constructor.handleKind ?? '')
  );
}

const pendingRevivals = new Set<Promise<unknown>>();

/**
 * Work a reviver started that must finish before the revived object is fully usable (a Barrier
 * loading its action's module). It must never reject. The child's entry waits for it before it
 * runs the target: see {@link revivalsSettled}.
 */
export function addRevivalWork(work: Promise<unknown>): void {
  pendingRevivals.add(work);
  void work.finally(() => pendingRevivals.delete(work));
}

/** Resolves once every piece of revival work started so far has finished. */
export async function revivalsSettled(): Promise<void> {
  while (pendingRevivals.size > 0) await Promise.allSettled([...pendingRevivals]);
}

/** Revives a descriptor made by `toHandle()`, in this or any other process of the same user. */
export function fromHandle(descriptor: HandleDescriptor): Shareable {
  if (typeof descriptor !== 'object' || descriptor === null || typeof descriptor.kind !== 'string') {
    throw new TypeError('descriptor must be an object made by toHandle()');
  }
  const revive = revivers.get(descriptor.kind);
  if (revive === undefined) throw new TypeError(`unknown handle kind ${JSON.stringify(descriptor.kind)}`);
  return revive(descriptor);
}
