// Value, Array, RawValue, RawArray: typed numbers in shared memory (Python's sharedctypes).
// The layout and the shared machinery are in ./base.ts; the typecodes in ./typecodes.ts.
import { registerHandleKind, type HandleDescriptor } from '../handles.js';
import { Segment } from '../segment.js';
import { attach, handleSegment, isAttaching } from '../synchronize/base.js';
import type { Lock } from '../synchronize/lock.js';
import type { RLock } from '../synchronize/rlock.js';
import {
  ARRAY_KIND,
  makeArray,
  makeValue,
  named,
  SharedArrayBase,
  SharedValueBase,
  VALUE_KIND,
  type RawOptions,
  type SynchronizedOptions,
} from './base.js';
import type { ElementOf } from './typecodes.js';

export {
  SharedArrayBase,
  SharedCTypes,
  SharedValueBase,
  type RawOptions,
  type SharedView,
  type SynchronizedOptions,
} from './base.js';

/**
 * A number in shared memory with no lock (Python's `RawValue`). TypeError for an unknown typecode
 * or a value of the wrong type, RangeError for an integer out of range.
 */
export class RawValue<C extends string = string> extends SharedValueBase<C> {
  static readonly handleKind: string = 'RawValue';

  constructor(typecode: C, value?: ElementOf<C>, options?: RawOptions) {
    const attaching = isAttaching();
    super(
      VALUE_KIND,
      false,
      attaching ? null : makeValue(typecode, value, options, false),
      attaching ? {} : named(options),
    );
  }

  /** Opens a value created with `{ name }` (as RawValue or Value). Throws ENOENT when there is none. */
  static open(name: string): RawValue {
    return attach(Segment.openNamed(VALUE_KIND, name), () => new RawValue('i'));
  }

  /** Revives a descriptor made by `toHandle()`. */
  static fromHandle(descriptor: HandleDescriptor): RawValue {
    return attach(handleSegment(VALUE_KIND, RawValue.handleKind, descriptor), () => new RawValue('i'));
  }
}

/**
 * A number in shared memory with a lock (Python's `Value`; `SharedValue` is the same class).
 * `value` never takes the lock: put compound updates under `getLock()`.
 */
export class Value<C extends string = string> extends SharedValueBase<C> {
  static readonly handleKind: string = 'Value';

  constructor(typecode: C, value?: ElementOf<C>, options?: SynchronizedOptions) {
    const attaching = isAttaching();
    super(
      VALUE_KIND,
      false,
      attaching ? null : makeValue(typecode, value, options, true),
      attaching ? {} : named(options),
    );
  }

  /** Opens a value created with `{ name }`, with its lock. Throws ENOENT when there is none. */
  static open(name: string): Value {
    return attach(Segment.openNamed(VALUE_KIND, name), () => new Value('i'));
  }

  /** Revives a descriptor made by `toHandle()`. */
  static fromHandle(descriptor: HandleDescriptor): Value {
    return attach(handleSegment(VALUE_KIND, Value.handleKind, descriptor), () => new Value('i'));
  }

  protected override synchronized(): boolean {
    return true;
  }

  /** The lock guarding compound updates. TypeError when made with `{ lock: false }`. */
  getLock(): Lock | RLock {
    return this.lockOf();
  }
}

/** A shared array with no lock (Python's `RawArray`). */
export class RawArray<C extends string = string> extends SharedArrayBase<C> {
  static readonly handleKind: string = 'RawArray';

  /** `sizeOrInit`: a length (zero-filled) or an iterable/array-like of values. */
  constructor(
    typecode: C,
    sizeOrInit: number | Iterable<ElementOf<C>> | ArrayLike<ElementOf<C>>,
    options?: RawOptions,
  ) {
    const attaching = isAttaching();
    super(
      ARRAY_KIND,
      true,
      attaching ? null : makeArray(typecode, sizeOrInit, options, false),
      attaching ? {} : named(options),
    );
  }

  /** Opens an array created with `{ name }` (as RawArray or Array). Throws ENOENT when there is none. */
  static open(name: string): RawArray {
    return attach(Segment.openNamed(ARRAY_KIND, name), () => new RawArray('i', 0));
  }

  /** Revives a descriptor made by `toHandle()`. */
  static fromHandle(descriptor: HandleDescriptor): RawArray {
    return attach(handleSegment(ARRAY_KIND, RawArray.handleKind, descriptor), () => new RawArray('i', 0));
  }
}

/**
 * A shared array with a lock (Python's `multiprocessing.Array`; `SharedArray` is the same class,
 * for named imports that should not shadow the global `Array`).
 */
export class Array<C extends string = string> extends SharedArrayBase<C> {
  static readonly handleKind: string = 'Array';

  /** `sizeOrInit`: a length (zero-filled) or an iterable/array-like of values. */
  constructor(
    typecode: C,
    sizeOrInit: number | Iterable<ElementOf<C>> | ArrayLike<ElementOf<C>>,
    options?: SynchronizedOptions,
  ) {
    const attaching = isAttaching();
    super(
      ARRAY_KIND,
      true,
      attaching ? null : makeArray(typecode, sizeOrInit, options, true),
      attaching ? {} : named(options),
    );
  }

  /** Opens an array created with `{ name }`, with its lock. Throws ENOENT when there is none. */
  static open(name: string): Array {
    // eslint-disable-next-line @typescript-eslint/no-array-constructor -- this module's Array, not the global
    return attach(Segment.openNamed(ARRAY_KIND, name), () => new Array('i', 0));
  }

  /** Revives a descriptor made by `toHandle()`. */
  static fromHandle(descriptor: HandleDescriptor): Array {
    // eslint-disable-next-line @typescript-eslint/no-array-constructor -- this module's Array, not the global
    return attach(handleSegment(ARRAY_KIND, Array.handleKind, descriptor), () => new Array('i', 0));
  }

  protected override synchronized(): boolean {
    return true;
  }

  /** The lock guarding compound updates. TypeError when made with `{ lock: false }`. */
  getLock(): Lock | RLock {
    return this.lockOf();
  }
}

export { Value as SharedValue, Array as SharedArray };

registerHandleKind(RawValue.handleKind, (descriptor) => RawValue.fromHandle(descriptor));
registerHandleKind(Value.handleKind, (descriptor) => Value.fromHandle(descriptor));
registerHandleKind(RawArray.handleKind, (descriptor) => RawArray.fromHandle(descriptor));
registerHandleKind(Array.handleKind, (descriptor) => Array.fromHandle(descriptor));
