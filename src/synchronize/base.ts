// What every synchronization object shares: one Segment, an Int32Array over all of it, the
// Closed checks, close/unlink/dispose, named creation and opening, and the handle descriptor.
import { Closed, CorruptionError } from '../errors.js';
import type { HandleDescriptor } from '../handles.js';
import { Segment, type SegmentKind } from '../segment.js';
import { checkInteger, checkOptionsBag, describe } from '../util.js';
import type { WordSite } from './lock-word.js';

/** Options every shared object takes to be named (and opened elsewhere with `X.open(name)`). */
export interface NamedOptions {
  /** Makes the object openable by name from any process of this user. */
  name?: string | undefined;
  /** With a name: `true` (default; `EEXIST` if taken) or `'ifMissing'` (open or create atomically). */
  create?: true | 'ifMissing' | undefined;
  /** Permission bits of a named object (default 0o600). */
  mode?: number | undefined;
}

/** Version of the handle descriptors of this module's objects. */
export const HANDLE_VERSION = 1;
// Header state word (segment.ts): 2 means unlinked by someone.
const STATE_WORD = 3;
const DESTROYED = 2;

let attaching: Segment | undefined;

/** Reads the named-object options; throws TypeError/RangeError before anything is touched. */
export function namedOptions(options: NamedOptions | undefined): NamedOptions {
  checkOptionsBag(options);
  const { name, create, mode } = options ?? {};
  if (name !== undefined && typeof name !== 'string')
    throw new TypeError(`name must be a string (got ${describe(name)})`);
  if (create !== undefined && create !== true && create !== 'ifMissing') {
    throw new TypeError(`create must be true or 'ifMissing' (got ${describe(create)})`);
  }
  if (create !== undefined && name === undefined) throw new TypeError('create needs a name');
  if (mode !== undefined) checkInteger(mode, 'mode', 0, 0o777);
  return { name, create, mode };
}

/** True inside a constructor called by `attach` (open/fromHandle): skip argument checks. */
export function isAttaching(): boolean {
  return attaching !== undefined;
}

/** Runs `make` (a `new X()`) so that its constructor attaches to `segment` instead of creating. */
export function attach<T>(segment: Segment, make: () => T): T {
  attaching = segment;
  try {
    return make();
  } catch (error) {
    segment.close();
    throw error;
  } finally {
    attaching = undefined;
  }
}

/** Reads a handle descriptor's segment name, refusing other kinds and versions. */
export function handleSegment(kind: SegmentKind, handleKind: string, descriptor: HandleDescriptor): Segment {
  if (typeof descriptor !== 'object' || descriptor === null || descriptor.kind !== handleKind) {
    throw new TypeError(`not a ${handleKind} handle: ${describe(descriptor)}`);
  }
  if (descriptor.version !== HANDLE_VERSION) {
    throw new RangeError(
      `${handleKind} handle version ${String(descriptor.version)} is not supported (this is version ${HANDLE_VERSION})`,
    );
  }
  return Segment.openHandle(kind, descriptor.segment);
}

/** Base of every shared synchronization object and of Value/Array. */
export abstract class SharedObject {
  /** The segment this object lives in. */
  protected readonly segment: Segment;
  /** Every 32-bit word of the segment; empty once this handle is closed. */
  protected readonly words: Int32Array;
  readonly #label: string;

  /**
   * Creates the segment (`bytes` after the header, laid out by `init`) or, inside `attach`,
   * adopts the segment being opened.
   */
  protected constructor(kind: SegmentKind, bytes: number, init: (words: Int32Array) => void, options: NamedOptions) {
    const adopted = attaching;
    attaching = undefined;
    this.segment =
      adopted ??
      Segment.create(kind, bytes, (segment) => init(new Int32Array(segment.buffer)), {
        name: options.name,
        create: options.name === undefined ? undefined : (options.create ?? true),
        mode: options.mode,
      });
    this.words = new Int32Array(this.segment.buffer);
    this.#label = kind.label;
  }

  /** Throws Closed when this handle was closed or anyone unlinked the object. */
  check(): void {
    const words = this.words;
    if (words.length === 0) throw new Closed(`${this.#label} is closed`);
    if (Atomics.load(words, STATE_WORD) === DESTROYED) throw new Closed(`${this.#label} was unlinked`);
  }

  /** A label for messages. */
  get label(): string {
    return this.#label;
  }

  /** True once this handle is closed. */
  get closed(): boolean {
    return this.words.length === 0;
  }

  /**
   * Ends this process's use of the handle; waits pending on it reject with Closed. The object
   * lives on for other holders (an unnamed one until its last holder is gone). Idempotent.
   */
  close(): void {
    this.segment.close();
  }

  /** Removes the name and marks the object destroyed: every holder's next call throws Closed. */
  unlink(): void {
    this.segment.unlink();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** A JSON-safe descriptor that `fromHandle` revives in any process of this user. */
  toHandle(): HandleDescriptor {
    return {
      kind: (this.constructor as unknown as { handleKind: string }).handleKind,
      version: HANDLE_VERSION,
      segment: this.segment.segmentName,
    };
  }

  /** A view of one of this object's words for the lock-word protocol. */
  protected site(index: number): WordSite {
    return { words: this.words, index, check: () => this.check(), label: this.#label };
  }

  toString(): string {
    return `${this.#label}(${this.segment.segmentName})`;
  }

  /** Fails with CorruptionError: shared memory does not hold what this library wrote. */
  protected corrupt(what: string): never {
    throw new CorruptionError(`${this.#label} ${this.segment.segmentName}: ${what}`);
  }
}
