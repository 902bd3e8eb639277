// The server's table of referents: the objects clients reach through proxies, by id, with
// their exposed methods and who holds them (see proxy.ts for the lifetime rules).
import { isShareable } from '../handles.js';
import { BUILTINS } from './builtins/index.js';
import type { ClientState } from './call.js';
import type { ProxyToken } from './protocol.js';
import { BaseProxy } from './proxy.js';
import { publicMethods, type TypeSpec } from './registry.js';

/** An object the server holds for its clients. */
export interface Referent {
  readonly id: number;
  readonly spec: TypeSpec;
  readonly obj: unknown;
  readonly exposed: ReadonlySet<string>;
  readonly exposedList: readonly string[];
  readonly proxytype: string;
  /** Holds of client connections (proxy objects that own one). */
  holds: number;
  /** A proxy of it was serialized: it lives until shutdown. */
  pinned: boolean;
}

const isObject = (value: unknown): boolean =>
  (typeof value === 'object' && value !== null) || typeof value === 'function';

export class Referents {
  readonly #table = new Map<number, Referent>();
  readonly #ids = new Map<unknown, number>();
  #nextId = 1;

  get(id: unknown): Referent | undefined {
    return typeof id === 'number' ? this.#table.get(id) : undefined;
  }

  /** Makes `obj` a referent (the same object keeps its id) and gives `client` a hold on it. */
  register(spec: TypeSpec, obj: unknown, client: ClientState): ProxyToken {
    const known = isObject(obj) ? this.#ids.get(obj) : undefined;
    let referent = known === undefined ? undefined : this.#table.get(known);
    if (referent === undefined) {
      const builtin = spec.builtin === undefined ? undefined : BUILTINS[spec.builtin]!;
      const exposedList = builtin?.exposed ?? spec.exposed ?? publicMethods(obj);
      referent = {
        id: this.#nextId++,
        spec,
        obj,
        exposed: new Set(exposedList),
        exposedList,
        proxytype: builtin?.proxytype ?? 'Auto',
        holds: 0,
        pinned: false,
      };
      this.#table.set(referent.id, referent);
      if (isObject(obj)) this.#ids.set(obj, referent.id);
    }
    referent.holds++;
    client.holds.set(referent.id, (client.holds.get(referent.id) ?? 0) + 1);
    const { id, proxytype } = referent;
    return { typeid: referent.spec.typeid, id, proxytype, exposed: proxytype === 'Auto' ? referent.exposedList : null };
  }

  /** A proxy object of `client` for `id` was collected. */
  decref(client: ClientState, id: unknown): void {
    const count = client.holds.get(id as number);
    if (count === undefined) return;
    if (count <= 1) client.holds.delete(id as number);
    else client.holds.set(id as number, count - 1);
    const referent = this.#table.get(id as number);
    if (referent === undefined) return;
    referent.holds--;
    this.#maybeFree(referent);
  }

  /** A proxy of `id` was serialized: keep it until shutdown. */
  pin(id: unknown): void {
    const referent = this.get(id);
    if (referent !== undefined) referent.pinned = true;
  }

  /** `client` disconnected: every hold it had goes. */
  releaseAll(client: ClientState): void {
    for (const [id, count] of client.holds) {
      const referent = this.#table.get(id);
      if (referent === undefined) continue;
      referent.holds -= count;
      this.#maybeFree(referent);
    }
    client.holds.clear();
  }

  clear(): void {
    this.#table.clear();
    this.#ids.clear();
  }

  #maybeFree(referent: Referent): void {
    if (referent.pinned || referent.holds > 0) return;
    this.#table.delete(referent.id);
    if (this.#ids.get(referent.obj) === referent.id) this.#ids.delete(referent.obj);
  }
}

type Closable = { close(): void };

/**
 * Shared objects that clients handed the server inside their requests (a Lock stored in a dict):
 * closed at shutdown, so that the last process to hold one removes it (the server process exits
 * right after, without running finalizers). Held weakly: one the server dropped is just collected.
 */
export class Adopted {
  readonly #refs = new Set<WeakRef<Closable>>();
  readonly #collected = new FinalizationRegistry<WeakRef<Closable>>((ref) => this.#refs.delete(ref));

  /** Records every shared object found in a decoded request (proxies aside). */
  adopt(value: unknown): void {
    const seen = new Set<object>();
    const visit = (item: unknown, depth: number): void => {
      if (typeof item !== 'object' || item === null || seen.has(item) || depth > 64) return;
      seen.add(item);
      if (item instanceof BaseProxy) return;
      if (isShareable(item)) {
        const closable = item as unknown as Partial<Closable>;
        if (typeof closable.close !== 'function') return;
        const ref = new WeakRef(closable as Closable);
        this.#refs.add(ref);
        this.#collected.register(closable, ref);
        return;
      }
      const children =
        item instanceof Map
          ? [...item.keys(), ...item.values()]
          : item instanceof Set
            ? [...item]
            : Object.values(item);
      for (const child of children) visit(child, depth + 1);
    };
    visit(value, 0);
  }

  closeAll(): void {
    for (const ref of this.#refs) {
      try {
        ref.deref()?.close();
      } catch {
        // already closed
      }
    }
    this.#refs.clear();
  }
}
