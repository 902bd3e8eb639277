// Pipe(): two connected ends over shared memory. Each direction is a byte ring (pipe-ring.ts);
// each end has a kernel object that says whether anybody still holds it (pipe-ends.ts), so that
// a reader of a drained ring whose writer closed or died gets EOFError instead of waiting
// forever, and a writer whose reader is gone gets EPIPE.
//
// Waiting: a receiver that was active in the last few milliseconds spins for up to ~50 us
// (spin.ts) before parking on the ring's tail word; parked, it wakes when a record is published,
// and at least every 100 ms to check that the peer still lives. Writers waiting for room park on
// the head word the same way. The uncontended path is shared memory only: no syscall.
//
// Handles (toHandle/fromHandle) are in pipe-handles.ts, the sending half in pipe-send.ts; this
// file is one end in one process and its receiving half.
import { BufferTooShort, Closed, CorruptionError, EOFError } from '../errors.js';
import { waitWord, waitWordSync } from '../futex.js';
import { registerHandleKind, type HandleDescriptor } from '../handles.js';
import { ownerToken } from '../liveness.js';
import type { Segment } from '../segment.js';
import { remaining } from '../util.js';
import { Connection, MAX_MESSAGE_BYTES, type Message } from './connection.js';
import { PeerProbe, type EndHold } from './pipe-ends.js';
import { checkKeepers, exportEnd, reviveEnd } from './pipe-handles.js';
import { ByteRing, EndWords, Flag, readPipeShape } from './pipe-ring.js';
import { PipeSender } from './pipe-send.js';
import { BRIEF_BLOCK_MS, SpinPolicy, spinUntil } from './spin.js';

/** A parked reader looks at the peer's liveness at least this often (ms). */
const SLICE_MS = 100;
/**
 * A reader locked out by another reader of the same end parks on `tail`, which the unlock does
 * not change: a wake that lands before it parks is lost, so it parks this briefly.
 */
const LOCKED_OUT_SLICE_MS = 1;
/** ...and at most this often: a probe is a syscall, too dear to make on every hand-off (ms). */
const PROBE_EVERY_MS = 20;

/**
 * A message in several records starts in a buffer of at most this size, doubled as its bytes
 * arrive: its FIRST record's `total` is the writer's word, trusted for the bound, not the size.
 */
const ASSEMBLY_START_BYTES = 1 << 20;

/** What one end is made of; pipe-handles.ts builds it. */
export interface EndParts {
  readonly segment: Segment;
  readonly end: 0 | 1;
  readonly duplex: boolean;
  readonly ends: readonly [string, string];
  readonly hold: EndHold;
}

interface Assembly {
  /** Grows (up to `total`) as records arrive: a header's claim alone allocates nothing big. */
  buf: Buffer;
  readonly total: number;
  readonly isBytes: boolean;
  filled: number;
}

/**
 * One end of a `Pipe()` in this process: a Connection that travels to other processes
 * (`toHandle()`/`fromHandle()`, Process arguments, inside messages).
 */
export class PipeConnection extends Connection {
  static readonly handleKind = 'Connection';

  readonly parts: EndParts;
  readonly #words: EndWords;
  readonly #in: ByteRing | null;
  readonly #sender: PipeSender | null;
  readonly #probe: PeerProbe;
  readonly #peer: 0 | 1;
  #closed = false;
  #peerDead = false;
  #probedAt = -Infinity;
  #readLocked = false;
  /** The last take found another reader of this end holding the read lock. */
  #readLockedOut = false;
  #assembly: Assembly | null = null;
  #deferred = 0; // bytes of a record handed out as a view, freed by _release
  #lastActive = -Infinity;
  readonly #spin = new SpinPolicy();

  constructor(parts: EndParts) {
    const { segment, end, duplex } = parts;
    super(duplex || end === 0, duplex || end === 1);
    const { capacity, rings } = readPipeShape(segment.buffer);
    if (rings !== (duplex ? 2 : 1))
      throw new CorruptionError(`a Pipe segment has ${rings} rings, not ${duplex ? 2 : 1}`);
    this.parts = parts;
    this.#peer = end === 0 ? 1 : 0;
    this.#words = new EndWords(segment.buffer);
    // Ring r carries what end r writes (duplex); a one-way pipe's only ring goes from end 1 to end 0.
    this.#in = this.readable ? new ByteRing(segment.buffer, duplex ? this.#peer : 0, capacity) : null;
    this.#probe = new PeerProbe(parts.ends[this.#peer]);
    const isClosed = (): boolean => this.#closed;
    this.#sender = this.writable
      ? new PipeSender(new ByteRing(segment.buffer, duplex ? end : 0, capacity), {
          check: () => this.#check(),
          get closed() {
            return isClosed();
          },
          peerGone: (probe) => this.#peerGone(probe),
          active: () => (this.#lastActive = performance.now()),
        })
      : null;
  }

  override get closed(): boolean {
    return this.#closed;
  }

  /** Shared flags of the pipe, for pipe-handles.ts. */
  get endWords(): EndWords {
    this.#check();
    return this.#words;
  }

  override close(): void {
    if (this.#closed) return;
    const error = new Closed('the connection is closed');
    try {
      // A message cut short is withdrawn (its reader drops what it got); the locks go back.
      this.#sender?.close(error);
      if (this.#readLocked) {
        if (this.#deferred > 0) this.#in!.advance(this.#deferred);
        this.#unlock();
      }
      this.parts.hold.release(() => this.#words.markClosed(this.parts.end));
    } finally {
      this.#closed = true;
      this.#deferred = 0;
      this.#assembly = null;
      this.#probe.close();
      this.parts.segment.close();
    }
  }

  /**
   * A JSON-safe descriptor that `fromHandle` revives in any process of this user. Until it is
   * revived, this process keeps the end held, even if it closes its own copy. Throws Closed.
   */
  toHandle(): HandleDescriptor {
    this.#check();
    return exportEnd(this);
  }

  /** Revives a descriptor made by `toHandle()`. ENOENT when every holder of that end is gone. */
  static fromHandle(descriptor: HandleDescriptor): PipeConnection {
    return reviveEnd(descriptor);
  }

  override toString(): string {
    const kind = this.readable && this.writable ? 'duplex' : this.readable ? 'reader' : 'writer';
    return `Connection(pipe ${kind}${this.#closed ? ', closed' : ''})`;
  }

  #check(): void {
    if (this.#closed) throw new Closed('the connection is closed');
    this.parts.segment.check();
  }

  /**
   * True once the peer end is known to be gone: its closed mark, or (when `probe`, at most every
   * PROBE_EVERY_MS unless `force`) nobody holding its kernel object.
   */
  #peerGone(probe: boolean, force = false): boolean {
    if (this.#peerDead) return true;
    if (this.#words.isClosed(this.#peer)) {
      this.#peerDead = true;
    } else if (probe && (force || performance.now() - this.#probedAt >= PROBE_EVERY_MS)) {
      this.#probedAt = performance.now();
      checkKeepers();
      this.#peerDead = this.#probe.gone(() => this.#words.markClosed(this.#peer));
    }
    return this.#peerDead;
  }

  #unlock(): void {
    this.#in!.unlock('read', ownerToken());
    this.#readLocked = false;
  }

  // ---- receiving ----

  protected override _take(limit: number): Message | null {
    this.#check();
    const ring = this.#in!;
    if (this.#assembly !== null && this.#assembly.total > limit) throw tooShort(this.#assembly.total, limit);
    if (!this.#readLocked) {
      this.#readLockedOut = false;
      if (ring.used() === 0) {
        if (this.#peerGone(false)) throw new EOFError();
        return null;
      }
      this.#readLockedOut = !ring.tryLock('read', ownerToken());
      if (this.#readLockedOut) return null;
      this.#readLocked = true;
    }
    let keep = false;
    try {
      for (;;) {
        const record = ring.peek();
        if (record === null) {
          const cut = this.#assembly !== null;
          if (this.#peerGone(false)) {
            this.#assembly = null;
            throw new EOFError(cut ? 'the peer closed the pipe in the middle of a message' : undefined);
          }
          keep = cut;
          return null;
        }
        const { flags } = record;
        if (flags & Flag.abort) {
          this.#assembly = null;
          ring.advance(record.span);
          continue;
        }
        if (flags & Flag.first) {
          this.#assembly = null; // the rest of a message whose writer died: dropped
          if (record.total > limit) throw tooShort(record.total, limit);
          const isBytes = (flags & Flag.bytes) !== 0;
          if (flags & Flag.last) {
            if (record.size !== record.total) throw new CorruptionError('a Pipe record disagrees with its length');
            this.#lastActive = performance.now();
            const view = ring.view(record);
            if (view !== null) {
              this.#deferred = record.span;
              keep = true;
              return { bytes: view, isBytes };
            }
            const copy = Buffer.allocUnsafe(record.size);
            ring.copyOut(record, copy, 0);
            ring.advance(record.span);
            return { bytes: copy, isBytes, owned: true };
          }
          if (record.total > MAX_MESSAGE_BYTES) throw new CorruptionError('a Pipe message is longer than 2 GiB');
          const first = Math.min(record.total, ASSEMBLY_START_BYTES);
          this.#assembly = { buf: Buffer.allocUnsafe(first), total: record.total, isBytes, filled: 0 };
        } else if (this.#assembly === null) {
          ring.advance(record.span); // a fragment of a message whose reader died: skipped
          continue;
        }
        const assembly = this.#assembly;
        if (assembly.filled + record.size > assembly.total || record.total !== assembly.total) {
          throw new CorruptionError('a Pipe message has more bytes than its length');
        }
        if (assembly.filled + record.size > assembly.buf.length) {
          const grown = Buffer.allocUnsafe(
            Math.min(assembly.total, Math.max(assembly.buf.length * 2, assembly.filled + record.size)),
          );
          assembly.buf.copy(grown, 0, 0, assembly.filled);
          assembly.buf = grown;
        }
        ring.copyOut(record, assembly.buf, assembly.filled);
        assembly.filled += record.size;
        ring.advance(record.span);
        if (flags & Flag.last) {
          if (assembly.filled !== assembly.total) throw new CorruptionError('a Pipe message is short of its length');
          this.#assembly = null;
          this.#lastActive = performance.now();
          return { bytes: assembly.buf, isBytes: assembly.isBytes, owned: true };
        }
      }
    } catch (error) {
      if (!(error instanceof BufferTooShort)) this.#assembly = null;
      throw error;
    } finally {
      if (!keep) this.#unlock();
    }
  }

  protected override _release(): void {
    if (this.#deferred === 0 || this.#closed) return;
    this.#in!.advance(this.#deferred);
    this.#deferred = 0;
    this.#unlock();
  }

  protected override _ready(): boolean {
    if (this.#closed) return true;
    try {
      return this.#in!.used() > 0 || this.#peerGone(true, true);
    } catch {
      return true; // corrupt: the next _take says so
    }
  }

  /** The state a reader parks on, or true when it should not park at all. */
  #beforePark(spin: boolean): number | true {
    if (this.#closed) return true;
    const ring = this.#in!;
    const seen = ring.tail();
    // A record published after the caller found the ring empty but before `seen` was read would
    // never change the tail again: parking on it would sleep through the message. (When another
    // reader of this end holds the read lock the ring is not empty: park, briefly, see #slice.)
    if (seen !== ring.head() && !this.#readLockedOut) return true;
    if (spin && this.#spin.should('spin', this.#lastActive)) {
      const arrived = spinUntil(() => ring.tail() !== seen);
      this.#spin.record('spin', arrived);
      if (arrived) return true;
    }
    if (ring.used() === 0 && this.#peerGone(true)) return true;
    if (!this.#readLocked) ring.breakDeadLock('read');
    return seen;
  }

  protected override async _waitReadable(deadline: number, signal?: AbortSignal, spin = true): Promise<boolean> {
    const seen = this.#beforePark(spin);
    if (seen === true) return true;
    const ring = this.#in!;
    const slice = Math.min(this.#readLockedOut ? LOCKED_OUT_SLICE_MS : SLICE_MS, remaining(deadline));
    if (slice === 0) return false;
    ring.parkReader(1);
    try {
      if (ring.tail() !== seen) return true;
      if (spin && !signal?.aborted && this.#spin.should('block', this.#lastActive)) {
        try {
          waitWordSync(ring.buffer, ring.tailOffset, seen, Math.min(BRIEF_BLOCK_MS, slice));
        } catch {
          // EINTR: a signal handler wants the event loop; park asynchronously below
        }
        const arrived = ring.tail() !== seen;
        this.#spin.record('block', arrived);
        if (arrived) return true;
      }
      await waitWord(ring.buffer, ring.tailOffset, seen, slice, signal);
    } finally {
      if (!this.#closed) ring.parkReader(-1);
    }
    return this.#closed || remaining(deadline) > 0 || ring.tail() !== seen;
  }

  protected override _waitReadableSync(deadline: number): boolean {
    const seen = this.#beforePark(true);
    if (seen === true) return true;
    const ring = this.#in!;
    const slice = Math.min(this.#readLockedOut ? LOCKED_OUT_SLICE_MS : SLICE_MS, remaining(deadline));
    if (slice === 0) return false;
    ring.parkReader(1);
    try {
      if (ring.tail() !== seen) return true;
      waitWordSync(ring.buffer, ring.tailOffset, seen, slice);
    } finally {
      ring.parkReader(-1);
    }
    return remaining(deadline) > 0 || ring.tail() !== seen;
  }

  // ---- sending: pipe-send.ts ----

  protected override _send(bytes: Uint8Array, isBytes: boolean, deadline: number, signal?: AbortSignal): Promise<void> {
    return this.#sender!.send(bytes, isBytes, deadline, signal);
  }

  protected override _sendSync(bytes: Uint8Array, isBytes: boolean, deadline: number): void {
    this.#sender!.sendSync(bytes, isBytes, deadline);
  }
}

function tooShort(length: number, limit: number): BufferTooShort {
  return new BufferTooShort(`the message is ${length} bytes, longer than the ${limit} allowed`);
}

registerHandleKind(PipeConnection.handleKind, (descriptor) => reviveEnd(descriptor));
