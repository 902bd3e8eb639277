// The sending half of a Pipe end: writes messages into the ring, in call order, parking when it
// is full. A message that fits the ring is one record; a longer one is written in pieces of at
// least a quarter ring under the write lock, and withdrawn with an abort record if its send is
// cut short (timeout, abort, close), so the reader never delivers half of it.
import { AbortError, ProcessError, TimeoutError } from '../errors.js';
import { waitWord, waitWordSync } from '../futex.js';
import { ownerToken } from '../liveness.js';
import { remaining } from '../util.js';
import { Flag, RECORD_HEADER, type ByteRing } from './pipe-ring.js';

/** A parked writer looks at the reader's liveness at least this often (ms). */
const SLICE_MS = 100;
/**
 * A writer waiting for another writer's lock parks on `head`, which the unlock does not change:
 * a wake that lands before it parks is lost, so it parks this briefly (pipes shared by several
 * writers only).
 */
const LOCK_SLICE_MS = 1;

/** What the sender needs from its connection. */
export interface SenderHost {
  /** Throws Closed when the end is closed. */
  check(): void;
  readonly closed: boolean;
  /** True once the reading end is gone (probing its kernel object when `probe`). */
  peerGone(probe: boolean): boolean;
  /** Called when a message went out, for the spin policy. */
  active(): void;
}

interface Progress {
  bytes: Uint8Array;
  readonly flags: number;
  sent: number;
  started: boolean;
}

interface SendOp extends Progress {
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

function brokenPipe(): Error {
  return Object.assign(new Error('EPIPE: the reading end of the pipe is closed, send'), {
    code: 'EPIPE',
    errno: -32,
    syscall: 'send',
  });
}

/** Writes one end's messages into its outgoing ring. */
export class PipeSender {
  readonly #ring: ByteRing;
  readonly #host: SenderHost;
  #locked = false;
  /** The last write found another writer holding the lock. */
  #lockedOut = false;
  #queue: SendOp[] = [];

  constructor(ring: ByteRing, host: SenderHost) {
    this.#ring = ring;
    this.#host = host;
  }

  /** Sends at once when the ring has room and nothing is queued; else queues a copy. */
  send(bytes: Uint8Array, isBytes: boolean, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const op: SendOp = {
        bytes,
        flags: isBytes ? Flag.bytes : 0,
        deadline,
        signal,
        sent: 0,
        started: false,
        resolve,
        reject,
      };
      try {
        if (this.#queue.length === 0 && this.#writeSome(op)) {
          resolve();
          return;
        }
      } catch (error) {
        reject(this.#giveUp(op, error));
        return;
      }
      // It waits: keep our own copy, the caller may reuse its buffer as soon as we return.
      op.bytes = Buffer.from(bytes);
      this.#queue.push(op);
      if (this.#queue.length === 1) void this.#pump();
    });
  }

  /** The blocking form; refuses to pass queued async sends (they would be overtaken). */
  sendSync(bytes: Uint8Array, isBytes: boolean, deadline: number): void {
    if (this.#queue.length > 0) {
      throw new ProcessError('sendSync cannot pass an async send still waiting on this connection: await it first');
    }
    const op: Progress = { bytes, flags: isBytes ? Flag.bytes : 0, sent: 0, started: false };
    const ring = this.#ring;
    for (;;) {
      // Read before trying: room made after the try changes head, so the park returns at once.
      const seen = ring.head();
      if (this.#writeSome(op)) return;
      try {
        this.#beforeWait(op);
        const slice = Math.min(this.#slice(), remaining(deadline));
        if (slice === 0) throw new TimeoutError('the reader did not make room within the timeout');
        ring.parkWriter(1);
        try {
          if (ring.head() === seen) waitWordSync(ring.buffer, ring.headOffset, seen, slice);
        } finally {
          ring.parkWriter(-1);
        }
      } catch (error) {
        throw this.#giveUp(op, error);
      }
    }
  }

  /** At close: withdraws a message cut short, gives the lock back, rejects what is queued. */
  close(error: Error): void {
    if (this.#locked) {
      const op = this.#queue[0];
      if (op?.started) this.#ring.write(Flag.abort, 0, op.bytes, 0, 0);
      this.#unlock();
    }
    for (const op of this.#queue.splice(0)) op.reject(error);
  }

  /** Sends the queued messages in order, parking whenever the ring is full. */
  async #pump(): Promise<void> {
    while (this.#queue.length > 0 && !this.#host.closed) {
      const op = this.#queue[0]!;
      const ring = this.#ring;
      try {
        const seen = ring.head();
        if (!this.#writeSome(op)) {
          if (op.signal?.aborted) throw new AbortError();
          this.#beforeWait(op);
          const slice = Math.min(this.#slice(), remaining(op.deadline));
          if (slice === 0) throw new TimeoutError('the reader did not make room within the timeout');
          ring.parkWriter(1);
          try {
            if (ring.head() === seen) await waitWord(ring.buffer, ring.headOffset, seen, slice, op.signal);
          } finally {
            if (!this.#host.closed) ring.parkWriter(-1);
          }
          continue;
        }
        op.resolve();
      } catch (error) {
        if (this.#host.closed) return; // close() rejected every queued send
        op.reject(this.#giveUp(op, error));
      }
      this.#queue.shift();
    }
  }

  /** Writes what fits of `op` now; true once all of it is out. Throws EPIPE, Closed, corruption. */
  #writeSome(op: Progress): boolean {
    this.#host.check();
    if (this.#host.peerGone(false)) throw brokenPipe();
    const ring = this.#ring;
    this.#lockedOut = false;
    if (!this.#locked) {
      if (!ring.tryLock('write', ownerToken())) {
        this.#lockedOut = true;
        return false;
      }
      this.#locked = true;
    }
    const total = op.bytes.byteLength;
    // One record when the message can ever fit whole (one record's worth kept free for an abort).
    if (!op.started && RECORD_HEADER * 2 + total <= ring.capacity) {
      if (!ring.fits(total, RECORD_HEADER)) {
        this.#unlock();
        return false;
      }
      ring.write(Flag.first | Flag.last | op.flags, total, op.bytes, 0, total);
      this.#unlock();
      this.#host.active();
      return true;
    }
    // Longer: pieces of at least a quarter ring (fewer hand-offs), the lock held throughout.
    for (;;) {
      const left = total - op.sent;
      const room = ring.room(RECORD_HEADER);
      if (room < Math.min(left, ring.capacity / 4)) {
        if (!op.started) this.#unlock();
        return false;
      }
      const size = Math.min(room, left);
      const flags = (op.started ? 0 : Flag.first) | (size === left ? Flag.last : 0) | op.flags;
      ring.write(flags, total, op.bytes, op.sent, size);
      op.sent += size;
      op.started = true;
      if (size === left) {
        this.#unlock();
        this.#host.active();
        return true;
      }
    }
  }

  /** Before parking: EPIPE if the reader is gone; takes over a dead writer's lock. */
  #beforeWait(op: Progress): void {
    if (this.#host.peerGone(true)) throw brokenPipe();
    if (!op.started && !this.#locked) this.#ring.breakDeadLock('write');
  }

  /** How long the next park may last before the writer looks again. */
  #slice(): number {
    return this.#lockedOut ? LOCK_SLICE_MS : SLICE_MS;
  }

  /** Withdraws a message cut short (the reader drops its part) and returns `error`. */
  #giveUp(op: Progress, error: unknown): unknown {
    if (this.#host.closed) return error;
    if (op.started && this.#locked) {
      try {
        this.#ring.write(Flag.abort, 0, op.bytes, 0, 0);
      } catch {
        // corrupt ring: the error below is what the caller needs
      }
    }
    if (this.#locked) this.#unlock();
    return error;
  }

  #unlock(): void {
    this.#ring.unlock('write', ownerToken());
    this.#locked = false;
  }
}
