// One side of a worker's channel: messages out through one SPSC ring, in through the other, and
// the doorbells that let either side park without losing a wake-up. This is the pool's whole
// transport; the scheduler and the worker see only `send`, `receive` and `park`.
//
// Parking (a Dekker handshake, every access sequentially consistent): the parker reads its bell,
// sets its "wants data" (or "wants room") flag, then checks the ring once more; the peer
// publishes, then reads the flag. One of the two sees the other. The peer clears the flag with a
// compare-exchange before it bumps the bell and calls futex wake, so a burst of messages costs
// one wake-up, and a wake that lands between the parker's read of the bell and its futex wait
// makes that wait return at once (the bell changed).
//
// Only binding.js is imported: a worker pays for every module it loads at start-up (futex.ts would
// pull in node:crypto through util.ts).
import { native } from '../binding.js';
import { CorruptionError } from '../errors.js';
import { DATA_OFFSET, Word } from './layout.js';
import { newFrame, scratchOf, type Frame } from './protocol.js';
import { MAX_MESSAGE_BYTES, SpscRing } from './spsc.js';

// Ids for the native waiter, far from futex.ts's (which count up from 1).
let nextWaitId = 2 ** 50;

interface Side {
  bell: number;
  wantsData: number;
  wantsRoom: number;
}

const POOL: Side = { bell: Word.PoolBell, wantsData: Word.PoolWantsData, wantsRoom: Word.PoolWantsRoom };
const WORKER: Side = { bell: Word.WorkerBell, wantsData: Word.WorkerWantsData, wantsRoom: Word.WorkerWantsRoom };

/** The pool's or the worker's end of one worker channel. */
export class Endpoint {
  readonly #buffer: ArrayBuffer;
  readonly #words: Int32Array;
  readonly #out: SpscRing;
  readonly #in: SpscRing;
  readonly #me: Side;
  readonly #peer: Side;
  // Messages (or the rest of one) that did not fit in the ring yet: owned copies.
  readonly #outbox: Uint8Array[] = [];
  #outboxOffset = 0;
  // The parts of a message that arrives in several records.
  #parts: Buffer[] = [];
  #partBytes = 0;

  constructor(buffer: ArrayBuffer, role: 'pool' | 'worker') {
    this.#buffer = buffer;
    this.#words = new Int32Array(buffer);
    const taskCapacity = Atomics.load(this.#words, Word.TaskCapacity) >>> 0;
    const resultCapacity = Atomics.load(this.#words, Word.ResultCapacity) >>> 0;
    if (DATA_OFFSET + taskCapacity + resultCapacity !== buffer.byteLength) {
      throw new CorruptionError('the pool worker channel does not match its segment size');
    }
    const tasks = new SpscRing(buffer, DATA_OFFSET, taskCapacity, Word.TaskTail, Word.TaskHead);
    const results = new SpscRing(buffer, DATA_OFFSET + taskCapacity, resultCapacity, Word.ResultTail, Word.ResultHead);
    if (role === 'pool') {
      this.#out = tasks;
      this.#in = results;
      this.#me = POOL;
      this.#peer = WORKER;
    } else {
      this.#out = results;
      this.#in = tasks;
      this.#me = WORKER;
      this.#peer = POOL;
    }
  }

  /** Shared words, for the state and started fields. */
  get words(): Int32Array {
    return this.#words;
  }

  /**
   * Sends `message` (copied: the caller may reuse it). What does not fit now waits in the outbox
   * and goes out as room appears (`flush`). Returns true when all of it is in the ring.
   */
  send(message: Uint8Array): boolean {
    if (this.#outbox.length === 0) {
      const written = this.#out.write(message);
      if (written > 0) this.#wakePeer(this.#peer.wantsData);
      if (written === message.length) return true;
      this.#outbox.push(Uint8Array.prototype.slice.call(message, written) as Uint8Array);
      this.#outboxOffset = 0;
      return false;
    }
    this.#outbox.push(Uint8Array.prototype.slice.call(message) as Uint8Array);
    return this.flush();
  }

  /** Writes what the outbox holds while there is room. True when it is empty. */
  flush(): boolean {
    let wrote = false;
    while (this.#outbox.length > 0) {
      const message = this.#outbox[0]!;
      const before = this.#outboxOffset;
      this.#outboxOffset = this.#out.write(message, before);
      if (this.#outboxOffset !== before) wrote = true;
      if (this.#outboxOffset < message.length) break;
      this.#outbox.shift();
      this.#outboxOffset = 0;
    }
    if (wrote) this.#wakePeer(this.#peer.wantsData);
    return this.#outbox.length === 0;
  }

  /** True when messages wait in the outbox for room in the ring. */
  get backlog(): boolean {
    return this.#outbox.length > 0;
  }

  /**
   * Calls `onMessage(frame, start, end)` for every whole message the peer has published (bytes
   * `start..end` of the frame, valid during the call), then hands the room back. Returns how many
   * messages there were. Throws CorruptionError when the ring is corrupt (the caller drops the
   * peer).
   */
  receive(onMessage: (frame: Frame, start: number, end: number) => void): number {
    const ring = this.#in;
    let count = 0;
    try {
      for (let at = ring.read(); at >= 0; at = ring.read()) {
        const end = at + ring.length;
        if (ring.continued || this.#parts.length > 0) {
          this.#partBytes += ring.length;
          if (this.#partBytes > MAX_MESSAGE_BYTES) throw new CorruptionError('a pool message is too long');
          this.#parts.push(Buffer.from(ring.frame.bytes.subarray(at, end)));
          if (ring.continued) continue;
          const whole = newFrame(this.#partBytes);
          let offset = 0;
          for (const part of this.#parts) {
            whole.bytes.set(part, offset);
            offset += part.length;
          }
          this.#parts = [];
          this.#partBytes = 0;
          count++;
          onMessage(whole, 0, offset);
        } else {
          count++;
          onMessage(ring.frame, at, end);
        }
      }
    } finally {
      if (ring.release()) this.#wakePeer(this.#peer.wantsRoom);
    }
    return count;
  }

  /**
   * Room for a message of `size` bytes written in place: returns where it goes in `outFrame`, or
   * -1 (no room now, a backlog, or too big for one record: use `send`). `commit()` sends it.
   */
  reserve(size: number): number {
    return this.#outbox.length > 0 ? -1 : this.#out.reserve(size);
  }

  /** The frame `reserve` offsets point into. */
  get outFrame(): Frame {
    return this.#out.frame;
  }

  /**
   * Sends a message of `size` bytes that `write(frame, at)` writes: in place in the ring when it
   * fits there as one record, else through a scratch frame and the outbox.
   */
  sendWith(size: number, write: (frame: Frame, at: number) => void): void {
    const at = this.reserve(size);
    if (at >= 0) {
      write(this.#out.frame, at);
      this.commit();
      return;
    }
    const scratch = scratchOf(size);
    write(scratch, 0);
    this.send(scratch.bytes.subarray(0, size));
  }

  /** Sends the message written after `reserve`. */
  commit(): void {
    this.#out.commit();
    this.#wakePeer(this.#peer.wantsData);
  }

  /** True when a record waits to be read. */
  hasData(): boolean {
    return this.#in.hasData();
  }

  /**
   * Prepares to park: returns the bell value to wait on, or -1 when there is already something
   * to do (data to read, or room for the outbox). `wantData`: wake on data as well as on room.
   */
  prepare(wantData: boolean): number {
    const words = this.#words;
    const seen = Atomics.load(words, this.#me.bell);
    if (wantData) Atomics.store(words, this.#me.wantsData, 1);
    const backlog = this.#outbox.length > 0;
    if (backlog) Atomics.store(words, this.#me.wantsRoom, 1);
    const remaining = backlog ? this.#outbox[0]!.length - this.#outboxOffset : 0;
    if ((wantData && this.#in.hasData()) || (backlog && this.#out.hasRoom(remaining))) {
      this.settle();
      return -1;
    }
    return seen;
  }

  /** Parks until the bell moves from `seen` (or the mapping goes away). */
  park(seen: number): Promise<unknown> {
    return native.futexWaitAsync(this.#buffer, this.#me.bell * 4, seen >>> 0, nextWaitId++);
  }

  /** Clears this side's flags after a park (the peer may have cleared them already). */
  settle(): void {
    Atomics.store(this.#words, this.#me.wantsData, 0);
    Atomics.store(this.#words, this.#me.wantsRoom, 0);
  }

  /** Ends this side's own park (the pool does this when the worker has died). */
  interrupt(): void {
    Atomics.add(this.#words, this.#me.bell, 1);
    native.futexWake(this.#buffer, this.#me.bell * 4);
  }

  #wakePeer(flag: number): void {
    const words = this.#words;
    // The plain load keeps the common case (peer busy) free of a locked instruction.
    if (Atomics.load(words, flag) !== 0 && Atomics.compareExchange(words, flag, 1, 0) === 1) {
      Atomics.add(words, this.#peer.bell, 1);
      native.futexWake(this.#buffer, this.#peer.bell * 4, 1);
    }
  }
}
