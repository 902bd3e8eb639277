// The targets a pool has seen, each given a small id: a worker is sent a target's spec once
// (a DEFINE message) and tasks name it by id. Finding the id of a target it has seen before is on
// every task's path, so it costs a WeakMap lookup, not a resolution.
import { prepareTarget, type Target } from '../target.js';

interface Seen {
  module: unknown;
  name: unknown;
  cwd: string;
  id: number;
}

/** Ids and JSON specs of a pool's targets. */
export class TargetRegistry {
  readonly #json: string[] = [];
  readonly #byFunction = new WeakMap<object, number>();
  readonly #byObject = new WeakMap<object, Seen>();
  readonly #byKey = new Map<string, number>();

  /** The id of `target`. Throws TypeError (or TargetError: unresolvable module) for a bad target. */
  id(target: Target): number {
    if (typeof target === 'function') {
      let id = this.#byFunction.get(target);
      if (id === undefined) {
        id = this.#add(target);
        this.#byFunction.set(target, id);
      }
      return id;
    }
    if (typeof target !== 'object' || target === null) return this.#add(target); // throws TypeError
    const { module, name } = target as { module?: unknown; name?: unknown };
    // A relative path means another file once the working directory changes.
    const cwd = typeof module === 'string' && module.startsWith('.') ? process.cwd() : '';
    // The same object again, unchanged: no key to build.
    const seen = this.#byObject.get(target);
    if (seen !== undefined && seen.module === module && seen.name === name && seen.cwd === cwd) return seen.id;
    const key = `${String(module)}\0${String(name)}\0${cwd}`;
    let id = this.#byKey.get(key);
    if (id === undefined) {
      id = this.#add(target);
      this.#byKey.set(key, id);
    }
    this.#byObject.set(target, { module, name, cwd, id });
    return id;
  }

  /** The JSON TargetSpec of target `id`. */
  json(id: number): string {
    return this.#json[id]!;
  }

  #add(target: unknown): number {
    return this.#json.push(JSON.stringify(prepareTarget(target, process.cwd()))) - 1;
  }
}
