// The fuzz targets: every TypeScript decoder of bytes that came from another process. Each one
// says which errors its decoder documents; anything else is a finding (see harness.ts).
import { EventEmitter } from 'node:events';

import {
  AuthenticationError,
  BufferTooShort,
  CorruptionError,
  deserialize,
  EOFError,
  Event,
  fromHandle,
  Lock,
  MultiprocError,
  Pipe,
  Queue,
  registerClass,
  SerializationError,
  serialize,
  ShareableList,
  SharedMemory,
  TimeoutError,
  Value,
  BaseProxy,
  type PipeConnection,
} from '../../dist/index.js';
import { decodeLaunch } from '../../dist/child.js';
import { SocketConnection, PREAUTH_FRAME_BYTES } from '../../dist/connection/socket.js';
import { registerHandleKind, type HandleDescriptor } from '../../dist/handles.js';
import { Endpoint } from '../../dist/pool/endpoint.js';
import { DATA_OFFSET } from '../../dist/pool/layout.js';
import { newFrame, readNumbers, readTasks, u32At, type Frame } from '../../dist/pool/protocol.js';
import { readDefine } from '../../dist/pool/worker.js';
import { Ring } from '../../dist/ring/ring.js';
import { launchMessage } from '../../dist/spawn.js';
import type { FuzzTarget } from './harness.js';

// ---- shared pieces ----

const MAX_CLOSE_VISITS = 10_000;

/** Closes every live handle a decoded value revived (so a million runs leak no mapping). */
function closeRevived(value: unknown): void {
  const seen = new Set<unknown>();
  const stack = [value];
  while (stack.length > 0 && seen.size < MAX_CLOSE_VISITS) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) continue;
    const closable = v as { toHandle?: unknown; close?: () => void };
    if (typeof closable.toHandle === 'function' && typeof closable.close === 'function') {
      closable.close();
      continue;
    }
    if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (v instanceof Set) for (const x of v) stack.push(x);
    else for (const key of Object.keys(v)) stack.push((v as Record<string, unknown>)[key]);
  }
}

/** An OS error from the addon (shaped like Node's fs errors) with one of `codes`. */
function isOsError(error: unknown, codes: readonly string[]): boolean {
  return (
    error instanceof Error &&
    error.constructor === Error &&
    codes.includes((error as NodeJS.ErrnoException).code ?? '') &&
    typeof (error as NodeJS.ErrnoException).syscall === 'string'
  );
}

/**
 * What reviving a descriptor may throw (fromHandle and the revivers document these): TypeError
 * or RangeError for a malformed descriptor, CorruptionError/Closed for the segment it names,
 * ENOENT (and the like) when there is no such object.
 */
function isReviveError(error: unknown): boolean {
  if (error instanceof MultiprocError) return true;
  if (isOsError(error, ['ENOENT', 'EACCES', 'ENAMETOOLONG', 'EINVAL', 'EPERM'])) return true;
  // Raised by the revivers' own checks, not by a typed array or DataView out of bounds.
  return (
    (error instanceof TypeError || error instanceof RangeError) &&
    !/Invalid typed array length|out of bounds|Offset is outside|Start offset|Invalid DataView|Cannot read properties|is not a function|is not iterable/.test(
      error.message,
    )
  );
}

/** Manager proxies connect to the address in their descriptor: never from fuzzed bytes. */
function refuseProxies(): void {
  registerHandleKind(BaseProxy.handleKind, () => {
    throw new TypeError('fuzz: manager proxy handles are not revived (they would connect to the address)');
  });
}

class FuzzPoint {
  x = 1;
  y = 'two';
}
class FuzzBox {
  constructor(readonly inner: unknown) {}
}
let classesRegistered = false;
function registerFuzzClasses(): void {
  if (classesRegistered) return;
  classesRegistered = true;
  registerClass(FuzzPoint, { name: 'FuzzPoint' });
  registerClass(FuzzBox, { name: 'FuzzBox', toWire: (b) => [b.inner], fromWire: (w: unknown) => new FuzzBox(w) });
}

function sampleValues(): unknown[] {
  const shared = { s: 1 };
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const sparse: unknown[] = [1];
  sparse[40] = 'far';
  const error = new RangeError('bad', { cause: new Error('inner') });
  (error as unknown as Record<string, unknown>).code = 'E_X';
  return [
    undefined,
    null,
    true,
    [false, 0, 127, 128, -1, -129, 2 ** 31, -(2 ** 40), 1.5, Number.NaN, -0],
    'short',
    'x'.repeat(300),
    'héllo wörld',
    '\ud800 lone',
    [0n, -5n, 2n ** 64n + 3n, -(2n ** 70n)],
    { a: 1, b: [1, 2, { c: 'd' }], __proto__: 5 },
    sparse,
    new Map<unknown, unknown>([
      [1, 'one'],
      ['k', { v: 2 }],
    ]),
    new Set([1, 'two', 3n]),
    new Date(1_700_000_000_000),
    /ab+c/giu,
    error,
    new AggregateError([new TypeError('t')], 'agg'),
    new Uint8Array([1, 2, 3]).buffer,
    new Float64Array([1.5, -2]),
    new BigInt64Array([1n, -1n]),
    new Uint16Array([1, 2, 3]),
    Buffer.from('buffer bytes'),
    new DataView(new ArrayBuffer(8)),
    [shared, shared, cyclic],
    new FuzzPoint(),
    new FuzzBox({ deep: [new FuzzPoint()] }),
    { nested: [[[[[[{ deep: true }]]]]]] },
  ];
}

// ---- deserialize: messages of every channel ----

let handleObjects: { close(): void; toHandle(): unknown }[] = [];

export const deserializeTarget: FuzzTarget = {
  name: 'deserialize',
  setup() {
    registerFuzzClasses();
    refuseProxies();
    handleObjects = [new Lock(), new Value('d', 2.5), new Event()];
  },
  teardown() {
    for (const o of handleObjects) o.close();
    handleObjects = [];
  },
  seeds() {
    const seeds = sampleValues().map((v) => serialize(v));
    seeds.push(serialize(sampleValues()));
    seeds.push(serialize({ lock: handleObjects[0], value: handleObjects[1], list: [handleObjects[2]] }));
    return seeds;
  },
  run(input) {
    closeRevived(deserialize(input));
  },
  // deserialize documents SerializationError; a handle inside may fail to revive as fromHandle does.
  allowed: (error) => error instanceof SerializationError || isReviveError(error),
};

// ---- the launch message (spawn.ts -> child.ts) ----

export const launchTarget: FuzzTarget = {
  name: 'launch',
  setup() {
    registerFuzzClasses();
    refuseProxies();
  },
  seeds() {
    const base = {
      version: 1 as const,
      name: 'Process-1',
      daemon: false,
      identity: [1],
      parentPid: 1234,
      parentName: 'MainProcess',
    };
    return [
      launchMessage({ ...base, target: { kind: 'module', url: 'file:///tmp/t.js', name: 'default' } }, []),
      launchMessage(
        {
          ...base,
          daemon: true,
          identity: [1, 2, 3],
          target: { kind: 'function', source: '(a) => a', name: 'f', base: '/tmp' },
        },
        [1, 'two', { three: [3] }],
      ),
      launchMessage({ ...base, target: { kind: 'module', url: 'file:///x.js', name: 'run' } }, sampleValues()),
    ];
  },
  run(input) {
    const { header, payload } = decodeLaunch(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
    // What the child does with the header before running the target.
    void [header.name, header.daemon, header.identity.join(':'), header.parentPid, header.target.name];
    if (payload.length > 0) closeRevived(deserialize(payload));
  },
  allowed: (error) =>
    error instanceof SerializationError ||
    isReviveError(error) ||
    (error instanceof Error && error.constructor === Error && /^(the )?launch message/.test(error.message)),
};

// ---- handle descriptors (JSON, as they travel over any channel) ----

let descriptorObjects: { close(): void; toHandle(): unknown }[] = [];

export const handlesTarget: FuzzTarget = {
  name: 'handles',
  setup() {
    refuseProxies();
    const shm = new SharedMemory({ create: true, size: 64 });
    descriptorObjects = [
      new Lock(),
      new Value('i', 3),
      new Event(),
      new Queue({ capacityBytes: 4096 }),
      shm,
      new ShareableList([1, 'a', null]),
    ];
  },
  teardown() {
    for (const o of descriptorObjects) {
      // SharedMemory and ShareableList live until unlinked; the others go with their last close.
      if (o instanceof SharedMemory || o instanceof ShareableList) o.unlink();
      o.close();
    }
    descriptorObjects = [];
  },
  seeds() {
    const seeds = descriptorObjects.map((o) => Buffer.from(JSON.stringify(o.toHandle())));
    const [a, b] = Pipe({ capacityBytes: 4096 });
    // A Pipe end's descriptor; revived once here, so that no hidden hold waits for it (an export
    // never revived is kept until the process exits, then left to the resource tracker).
    const descriptor = JSON.stringify(b.toHandle());
    seeds.push(Buffer.from(descriptor));
    (fromHandle(JSON.parse(descriptor) as HandleDescriptor) as PipeConnection).close();
    a.close();
    b.close();
    seeds.push(Buffer.from('{"kind":"Lock","version":1,"segment":"/mp-o-0000"}'));
    return seeds;
  },
  run(input) {
    let descriptor: unknown;
    try {
      descriptor = JSON.parse(Buffer.from(input).toString('utf8'));
    } catch {
      return; // not JSON: the channel's own parser refuses it before fromHandle sees it
    }
    closeRevived(fromHandle(descriptor as never));
  },
  allowed: isReviveError,
};

// ---- connection frames (Listener/Client sockets: Python's wire format) ----

/** A stand-in for net.Socket: SocketConnection only listens to it and pauses/resumes it. */
class FakeSocket extends EventEmitter {
  paused = false;
  readableLength = 0;
  setNoDelay(): void {}
  unref(): void {}
  ref(): void {}
  destroy(): void {}
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  isPaused(): boolean {
    return this.paused;
  }
  read(): null {
    return null;
  }
}

interface ReferenceFrames {
  payloads: Buffer[];
  /** Why the stream stops: 'incomplete' (waits for more), 'cap' (a frame over the cap or a bad length). */
  end: 'incomplete' | 'cap';
}

/** Python's framing, written out plainly over the whole stream: the oracle. */
function referenceFrames(stream: Buffer, cap: number, limit: number): ReferenceFrames | 'short' {
  const payloads: Buffer[] = [];
  let at = 0;
  for (;;) {
    if (stream.length - at < 4) return { payloads, end: 'incomplete' };
    const short = stream.readInt32BE(at);
    let headerBytes = 4;
    let size = short;
    if (short < -1) return { payloads, end: 'cap' };
    if (short === -1) {
      if (stream.length - at < 12) return { payloads, end: 'incomplete' };
      const long = stream.readBigUInt64BE(at + 4);
      size = long > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(long);
      headerBytes = 12;
    }
    if (size > cap) return { payloads, end: 'cap' };
    if (size > limit) return 'short';
    if (stream.length - at - headerBytes < size) return { payloads, end: 'incomplete' };
    payloads.push(stream.subarray(at + headerBytes, at + headerBytes + size));
    at += headerBytes + size;
  }
}

export const framesTarget: FuzzTarget = {
  name: 'frames',
  seeds() {
    const frame = (payload: Buffer): Buffer => {
      const header = Buffer.alloc(4);
      header.writeInt32BE(payload.length);
      return Buffer.concat([header, payload]);
    };
    const long = (payload: Buffer): Buffer => {
      const header = Buffer.alloc(12);
      header.writeInt32BE(-1);
      header.writeBigUInt64BE(BigInt(payload.length), 4);
      return Buffer.concat([header, payload]);
    };
    // [u8 chunking seed][u8 flags: 1 preauth cap, 2 EOF at the end, 4 small recv limit][stream]
    return [
      Buffer.concat([Buffer.from([7, 0]), frame(Buffer.from('hello')), frame(serialize({ a: [1, 2] }))]),
      Buffer.concat([Buffer.from([3, 1]), frame(Buffer.from('#CHALLENGE#{sha256}' + 'x'.repeat(40)))]),
      Buffer.concat([Buffer.from([11, 2]), long(Buffer.from('long form')), frame(Buffer.alloc(0))]),
      Buffer.concat([Buffer.from([1, 4]), frame(Buffer.alloc(300, 1)), frame(Buffer.from('x'))]),
    ];
  },
  run(input) {
    if (input.length < 2) return;
    const stream = Buffer.from(input.subarray(2));
    const flags = input[1]!;
    const cap = flags & 1 ? PREAUTH_FRAME_BYTES : 0x7fffffff;
    const limit = flags & 4 ? 64 : Infinity;
    const socket = new FakeSocket();
    const conn = new SocketConnection(socket as never, cap);
    // Deliver the stream in chunks whose sizes follow the seed byte.
    let step = input[0]! | 1;
    for (let at = 0; at < stream.length;) {
      const size = Math.min(stream.length - at, 1 + (step % 37));
      socket.emit('data', stream.subarray(at, at + size));
      at += size;
      step = (step * 29 + 11) & 0xff;
    }
    if (flags & 2) socket.emit('end');
    const take = (conn as unknown as { _take(limit: number): { bytes: Uint8Array } | null })._take.bind(conn);
    const expected = referenceFrames(stream, cap, limit);
    const got: Buffer[] = [];
    let thrown: unknown = null;
    try {
      for (let message = take(limit); message !== null; message = take(limit)) got.push(Buffer.from(message.bytes));
    } catch (error) {
      thrown = error;
    }
    const mismatch = (why: string): never => {
      throw new FrameMismatch(`${why}: got ${got.length} frames and ${String(thrown)}`);
    };
    if (expected === 'short') {
      if (!(thrown instanceof BufferTooShort)) mismatch('expected BufferTooShort');
      return;
    }
    const want = expected.payloads;
    const wantedFrames = thrown instanceof BufferTooShort ? got.length : want.length;
    if (got.length !== wantedFrames || got.some((g, i) => !g.equals(want[i]!))) mismatch('frames differ');
    if (expected.end === 'cap') {
      const ok =
        cap === PREAUTH_FRAME_BYTES
          ? thrown instanceof AuthenticationError
          : (thrown as NodeJS.ErrnoException | null)?.code === 'EMSGSIZE';
      if (!ok) mismatch('expected the frame cap to refuse');
    } else if (flags & 2) {
      if (!(thrown instanceof EOFError)) mismatch('expected EOFError');
    } else if (thrown !== null) mismatch('expected to wait for more bytes');
    conn.close();
  },
  // run() checks the outcome against the reference itself: anything it throws is a finding.
  allowed: () => false,
};

class FrameMismatch extends Error {
  override name = 'FrameMismatch';
}

// ---- Pipe: the byte rings in its shared memory ----

// From closed[] on: the shape (capacity, rings) is read once, when an end opens, and checked.
const PIPE_FIRST_BYTE = 72;
let pipePristine: Buffer | null = null;
const pipeBufferOf = (end: PipeConnection): Buffer => Buffer.from(end.parts.segment.buffer);
// A fresh pair per input: an end keeps what it learned (a message half assembled, a peer seen
// gone), and an input must replay alone.
const newPipe = (): [PipeConnection, PipeConnection] => Pipe({ capacityBytes: 4096 });

const isBrokenPipe = (error: unknown): boolean =>
  error instanceof Error && (error as NodeJS.ErrnoException).code === 'EPIPE';

/** Rewrites the check word of each record header between head and tail of ring 0 (a -> b). */
function fixPipeChecks(buffer: Buffer): void {
  const capacity = buffer.readUint32LE(64);
  const data = 640;
  if (capacity !== 4096) return;
  const tail = buffer.readUint32LE(128);
  let head = buffer.readUint32LE(128 + 64);
  for (let i = 0; i < 64 && (tail - head) >>> 0 >= 16 && (tail - head) >>> 0 <= capacity; i++) {
    const at = data + (head & (capacity - 1));
    const size = buffer.readUint32LE(at);
    const check = (size ^ buffer.readUint32LE(at + 4) ^ buffer.readUint32LE(at + 8) ^ 0x5049_5045) >>> 0;
    buffer.writeUint32LE(check, at + 12);
    head = (head + 16 + ((size + 15) & ~15)) >>> 0;
  }
}

export const pipeTarget: FuzzTarget = {
  name: 'pipe',
  seeds() {
    const seeds: Buffer[] = [];
    const state = (send: (a: PipeConnection) => void): void => {
      const [a, b] = newPipe();
      pipePristine ??= Buffer.from(pipeBufferOf(a));
      send(a);
      seeds.push(Buffer.concat([Buffer.from([1]), pipeBufferOf(a).subarray(PIPE_FIRST_BYTE)]));
      a.close();
      b.close();
    };
    // Messages of every shape: small, objects, bytes, longer than the ring (several records).
    state((a) => {
      a.sendBytesSync(Buffer.from('small'));
      a.sendSync({ value: [1, 2, 3] });
    });
    state((a) => a.sendBytesSync(Buffer.alloc(3000, 7)));
    state((a) => {
      for (const text of ['x', 'yy', 'zzz']) a.sendBytesSync(Buffer.from(text));
    });
    return seeds;
  },
  run(input) {
    const [a, b] = newPipe();
    try {
      const buffer = pipeBufferOf(b);
      buffer.set(input.subarray(1, 1 + buffer.length - PIPE_FIRST_BYTE), PIPE_FIRST_BYTE);
      // A hostile writer writes headers that pass the check word: make every header from head
      // to tail consistent, so that the lengths behind it get fuzzed too.
      if (input.length > 0 && (input[0]! & 1) !== 0) fixPipeChecks(buffer);
      try {
        for (let i = 0; i < 4; i++) closeRevived(b.recvSync({ timeout: 0 }));
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
      }
      // The writer side reads the reader's head: it must not trust it either.
      try {
        b.sendBytesSync(Buffer.from('back'), undefined, undefined, { timeout: 0 });
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
      }
    } finally {
      a.close();
      b.close();
    }
  },
  // recv documents CorruptionError for a corrupt ring, EOFError when the peer is gone and
  // SerializationError for a message that does not decode; send documents EPIPE.
  allowed: (error) =>
    error instanceof CorruptionError ||
    error instanceof EOFError ||
    error instanceof SerializationError ||
    isBrokenPipe(error) ||
    isReviveError(error),
};

// ---- the ring (src/ring/, the Queue family's transport) over corrupt memory ----

const RING_CELLS = 16;
let ringShm: SharedMemory | null = null;

export const ringTarget: FuzzTarget = {
  name: 'ring',
  setup() {
    ringShm = new SharedMemory({ create: true, size: Ring.bytesFor(RING_CELLS) });
  },
  teardown() {
    ringShm?.close();
    ringShm?.unlink();
    ringShm = null;
  },
  seeds() {
    const buffer = ringShm!.buf;
    const seeds: Buffer[] = [];
    const script = Buffer.from([0, 0x81, 6, 0x01, 40, 0, 200, 2, 5, 1, 0x83, 0, 7, 0, 0x02, 3, 4, 0, 0]);
    const state = (prepare: (r: Ring) => void): void => {
      buffer.fill(0);
      Ring.init(buffer.buffer as ArrayBuffer, buffer.byteOffset, RING_CELLS, 0, 0);
      prepare(new Ring(buffer.buffer as ArrayBuffer, buffer.byteOffset, 0x10001));
      seeds.push(Buffer.concat([Buffer.from([script.length]), script, buffer]));
    };
    const puts = (r: Ring, lengths: number[]): void => {
      for (const n of lengths) r.tryPut([Buffer.alloc(n, n)], [n & 3], 0, 1);
    };
    state(() => {});
    state((r) => puts(r, [1, 50, 130, 0, 7]));
    state((r) => {
      puts(r, [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
      for (let i = 0; i < 10; i++) if (r.tryTake(1, 0) === 0) r.release();
      puts(r, [300, 200]);
    });
    state((r) => {
      puts(r, [20, 20, 20]);
      r.tryTake(2, 0); // taken, never released: a consumer that died after moving D
    });
    return seeds;
  },
  run(input) {
    if (input.length < 1) return;
    const scriptLength = Math.min(input[0]!, input.length - 1);
    const script = input.subarray(1, 1 + scriptLength);
    const buffer = ringShm!.buf;
    buffer.fill(0);
    Ring.init(buffer.buffer as ArrayBuffer, buffer.byteOffset, RING_CELLS, 0, 0);
    buffer.set(input.subarray(1 + scriptLength, 1 + scriptLength + buffer.length));
    let r: Ring;
    try {
      r = new Ring(buffer.buffer as ArrayBuffer, buffer.byteOffset, 0x20002);
    } catch (error) {
      if (error instanceof CorruptionError) return;
      throw error;
    }
    let sum = 0;
    const dispose = (payload: Buffer | null): void => {
      if (payload !== null) sum += payload.length;
    };
    for (let i = 0; i < script.length;) {
      const op = script[i++]! % 7;
      const arg = script[i++] ?? 0;
      switch (op) {
        case 0: {
          const status = r.tryTake(1 + (arg & 7), script[i++] ?? 0);
          if (status === 0) {
            for (let k = 0; k < r.takenCount; k++) {
              const offset = r.takenOffset[k]!;
              const length = r.takenLength[k]!;
              if (offset + length > r.data.length || length > r.maxInline) {
                throw new RingEscape(`a taken record lies outside the data (${offset} + ${length})`);
              }
              sum += r.data[offset + length - 1] ?? 0;
            }
            if ((arg & 0x80) === 0) r.release();
          }
          break;
        }
        case 1:
          r.release();
          break;
        case 2:
          r.walk();
          break;
        case 3:
          if (r.blockerKind !== 0) r.recover(dispose);
          break;
        case 4:
          sum += r.size() + (r.hasRoom(arg * 8) ? 1 : 0);
          break;
        case 5: {
          const b = Buffer.from(script.subarray(i, i + 8));
          r.blockerKind = arg % 4;
          r.blockerPosition = b.length >= 4 ? b.readUint32LE(0) : 0;
          r.blockerOwner = b.length >= 8 ? b.readUint32LE(4) : 0;
          i += 8;
          r.recover(dispose);
          break;
        }
        case 6: {
          const length = ((arg << 8) | (script[i++] ?? 0)) % (r.maxInline + 200);
          r.tryPut([Buffer.alloc(length, 1)], [arg & 0xff], 0, 1);
          break;
        }
      }
    }
    void sum;
  },
  allowed: (error) => error instanceof CorruptionError,
};

class RingEscape extends Error {
  override name = 'RingEscape';
}

// ---- the pool's worker channel: records (spsc.ts), messages (protocol.ts, worker.ts) ----

const POOL_RING = 4096;
let poolShm: SharedMemory | null = null;

function dispatchToWorker(f: Frame, start: number, end: number): void {
  switch (u32At(f, start >>> 2, end)) {
    case 1:
      readDefine(f, start, end);
      return;
    case 2:
      return readTasks(f, start, end, (_seq, _fnId, flags, from, to) => {
        if ((flags & 0x200) !== 0) readNumbers(f, from, to, (flags & 0xff) === 3);
        else closeRevived(deserializeOrError(f.bytes.subarray(from, to)));
      });
    case 3:
      u32At(f, (start >>> 2) + 1, end);
      return;
    case 4:
      return;
    default:
      throw new CorruptionError('unknown message');
  }
}

function dispatchToPool(f: Frame, start: number, end: number): void {
  const word = end - start >= 8 ? f.u32[start >>> 2]! : 0;
  if (word === 2) return void deserializeOrError(f.bytes.subarray(start + 8, end));
  if ((word & 0xff) !== 1 || word >>> 17 !== 0 || end - start < 16) throw new CorruptionError('malformed');
  if ((word & (1 << 16)) !== 0) readNumbers(f, start + 16, end, false);
  else closeRevived(deserializeOrError(f.bytes.subarray(start + 16, end)));
}

/** The pool and the worker turn a payload that does not decode into the task's error. */
function deserializeOrError(bytes: Uint8Array): unknown {
  try {
    return deserialize(bytes);
  } catch (error) {
    if (error instanceof SerializationError || isReviveError(error)) return error;
    throw error;
  }
}

export const poolTarget: FuzzTarget = {
  name: 'pool',
  setup() {
    refuseProxies();
    poolShm = new SharedMemory({ create: true, size: DATA_OFFSET + 2 * POOL_RING });
  },
  teardown() {
    poolShm?.close();
    poolShm?.unlink();
    poolShm = null;
  },
  seeds() {
    const buf = poolShm!.buf;
    const words = new Int32Array(buf.buffer, buf.byteOffset, DATA_OFFSET / 4);
    const seeds: Buffer[] = [];
    const fresh = (): Endpoint => {
      buf.fill(0);
      words[18] = POOL_RING;
      words[19] = POOL_RING;
      return new Endpoint(buf.buffer as ArrayBuffer, 'pool');
    };
    const message = (parts: number[], payload?: Uint8Array): Uint8Array => {
      const f = newFrame(parts.length * 4 + (payload?.length ?? 0) + 8);
      parts.forEach((p, i) => (f.u32[i] = p));
      if (payload) f.bytes.set(payload, parts.length * 4);
      return f.bytes.subarray(0, parts.length * 4 + (payload ? (payload.length + 7) & ~7 : 0));
    };
    // pool -> worker: DEFINE, TASKS (serialized and numbers), CANCEL, STOP; the role byte first.
    let e = fresh();
    e.send(message([1, 7], Buffer.from('{"kind":"module","url":"file:///t.js","name":"f"}')));
    const payload = serialize([1, 'two']);
    const tasks = message([2, 2, 1, 7, 0, payload.length]);
    const numbers = new Float64Array([1.5, 2.5]);
    const withTasks = Buffer.concat([
      tasks,
      Buffer.from(payload),
      Buffer.alloc(((payload.length + 7) & ~7) - payload.length),
      Buffer.from(new Uint32Array([2, 7, 0x201, 16]).buffer),
      Buffer.from(numbers.buffer),
    ]);
    e.send(withTasks);
    e.send(message([3, 1]));
    e.send(message([4, 0]));
    e.send(Buffer.alloc(POOL_RING / 2, 3)); // several records (CONTINUED)
    seeds.push(Buffer.concat([Buffer.from([1]), buf]));
    // worker -> pool: RESULT (serialized, numbers), INIT_FAILED.
    buf.fill(0);
    words[18] = POOL_RING;
    words[19] = POOL_RING;
    e = new Endpoint(buf.buffer as ArrayBuffer, 'worker');
    const result = serialize({ ok: true });
    e.send(Buffer.concat([Buffer.from(new Uint32Array([1, 1, 0, 0]).buffer), result]));
    e.send(Buffer.concat([Buffer.from(new Uint32Array([1 | (1 << 16), 2, 0, 0]).buffer), Buffer.from(numbers.buffer)]));
    e.send(Buffer.concat([Buffer.from(new Uint32Array([2, 0]).buffer), serialize(new Error('init'))]));
    seeds.push(Buffer.concat([Buffer.from([0]), buf]));
    return seeds;
  },
  run(input) {
    if (input.length < 1) return;
    const buf = poolShm!.buf;
    buf.fill(0);
    buf.set(input.subarray(1, 1 + buf.length));
    const role = input[0]! & 1 ? 'worker' : 'pool';
    const endpoint = new Endpoint(buf.buffer as ArrayBuffer, role);
    endpoint.receive(role === 'worker' ? dispatchToWorker : dispatchToPool);
  },
  allowed: (error) => error instanceof CorruptionError,
};

// ---- ShareableList: CPython's layout in a SharedMemory segment ----

let listShm: SharedMemory | null = null;
let listSeeds: Buffer[] = [];

export const shareableListTarget: FuzzTarget = {
  name: 'shareable-list',
  setup() {
    const lists = [
      new ShareableList([1, 2.5, 'text', Buffer.from('bytes'), null, true, 2n ** 62n]),
      new ShareableList(['héllo', -1, false]),
      new ShareableList([]),
    ];
    const size = Math.max(...lists.map((l) => l.shm.size));
    listShm = new SharedMemory({ create: true, size });
    listSeeds = lists.map((l) => Buffer.from(l.shm.buf));
    for (const l of lists) {
      l.close();
      l.unlink();
    }
  },
  teardown() {
    listShm?.close();
    listShm?.unlink();
    listShm = null;
  },
  seeds: () => listSeeds,
  run(input) {
    const buf = listShm!.buf;
    buf.fill(0);
    buf.set(input.subarray(0, buf.length));
    const list = new ShareableList(null, { name: listShm!.name });
    try {
      void list.format;
      void list.toArray();
      void list.toString();
      for (let i = 0; i < list.length; i++) list.get(i);
    } finally {
      list.close();
    }
  },
  allowed: (error) => error instanceof CorruptionError,
};

export const targets: FuzzTarget[] = [
  deserializeTarget,
  launchTarget,
  handlesTarget,
  framesTarget,
  pipeTarget,
  ringTarget,
  poolTarget,
  shareableListTarget,
];
