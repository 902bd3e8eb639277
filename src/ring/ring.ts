// Putting, taking and recovering (native/ring.h Put, TryTake, Recover) on top of RingBase (base.ts,
// which explains what JavaScript changes: Atomics where ordering needs them, plain access where
// a CAS or an Atomics re-read validates it).
import {
  BlockerKind,
  CELL_DATA,
  FIRST_TOKEN,
  FREED,
  low,
  MAX_BATCH,
  MAX_USER_FLAGS,
  NOBODY,
  older,
  pack,
  Q_HEAD,
  Q_META,
  Q_TAIL,
  RECORD_HEADER,
  RingStatus,
  SKIPPED,
  W_DEQUEUED,
  W_ENQUEUED,
  W_HEAD,
  W_RELEASED,
  W_TAIL,
} from './layout.js';
import { RingBase, type Dispose } from './base.js';

export { BlockerKind, MAX_BATCH, RingStatus } from './layout.js';
export type { Dispose } from './base.js';

// Copies the first `length` bytes of `source` to `data[at..]`. A short record is copied by hand:
// a view of a prefix costs more than the copy itself (~50 ns to make a Buffer view).
function copyInto(data: Uint8Array, at: number, source: Uint8Array, length: number): void {
  if (length === source.length) data.set(source, at);
  else if (length <= 64) for (let i = 0; i < length; i++) data[at + i] = source[i]!;
  else data.set(source.subarray(0, length), at);
}

/** One thread's view of a ring in shared memory (see native/ring.h). */
export class Ring extends RingBase {
  // ---- producer (ring.h Put) ----

  /**
   * Puts a prefix of `payloads[from .. from+count)` (at least one, as many as fit) as one claim,
   * each with its flags (0..255); `putCount` says how many went in. TooBig: the first is larger
   * than maxInline (a later one ends the prefix). With `lengths`, a record is the first
   * `lengths[i]` bytes of its payload (a sender's scratch bytes, put without making a view).
   */
  tryPut(
    payloads: readonly Uint8Array[],
    flags: ArrayLike<number>,
    from: number,
    count: number,
    lengths: ArrayLike<number> | null = null,
  ): RingStatus {
    this.putCount = 0;
    this.blockerKind = BlockerKind.None;
    const planLength = this.planLength;
    let fit = 0;
    for (; fit < count && fit < MAX_BATCH; fit++) {
      const length = lengths === null ? payloads[from + fit]!.length : lengths[from + fit]!;
      if (length > this.maxInline) break;
      planLength[fit] = length;
    }
    if (count === 0) return RingStatus.Ok;
    if (fit === 0) return RingStatus.TooBig;
    const u = this.u32;
    const cells = this.cells;
    const mask = this.mask;
    const firstLength = planLength[0]!;
    for (let attempt = 0; attempt < 64; attempt++) {
      const t = u[W_TAIL]!;
      const first = this.cellsOf(t, firstLength);
      if (((t - this.releasedCache) >>> 0) + first > cells) {
        this.releasedCache = u[W_RELEASED]!;
        const used = (t - this.releasedCache) >>> 0;
        if (used > cells) continue; // t is stale
        if (used + first > cells) {
          if (this.walk() === RingStatus.Corrupt) return RingStatus.Corrupt;
          this.releasedCache = Atomics.load(u, W_RELEASED);
          if (((t - this.releasedCache) >>> 0) + first > cells) return RingStatus.Full;
        }
      }
      const at = this.meta + 2 * (t & mask);
      const seq = u[at]!;
      const who = u[at + 1]!;
      const tag = (2 * t) >>> 0;
      if (seq === tag) {
        if (Atomics.load(u, W_TAIL) !== t) continue;
        this.block(BlockerKind.Claim, t, who); // another producer's claim: brief, or it died
        return RingStatus.Busy;
      }
      if (!older(seq, tag)) {
        if (Atomics.load(u, W_TAIL) === t && Atomics.load(u, at) === seq) return RingStatus.Corrupt;
        continue;
      }
      const q = Q_META + (t & mask);
      const before = pack(seq, who);
      const claim = low(tag) + this.ownerHigh;
      if (Atomics.compareExchange(this.i64, q, before, claim) !== before) continue;
      // Holding the cell at t: if E.tail is still t, nobody else can move E until we do.
      if (Atomics.load(u, W_TAIL) !== t) {
        Atomics.compareExchange(this.i64, q, claim, before); // t was stale: give the cell back
        continue;
      }
      const enqueued = u[W_ENQUEUED]!; // the other half of the E word we just acquired
      let roomItems = fit;
      if (this.maxItems !== 0) {
        const inFlight = (enqueued - u[W_DEQUEUED]!) | 0; // a stale D only overestimates
        if (inFlight < 0 || inFlight > this.maxItems) {
          Atomics.compareExchange(this.i64, q, claim, before);
          return RingStatus.Corrupt;
        }
        roomItems = this.maxItems - inFlight;
      }
      // Plan the batch: as many records as fit, each where the previous one ends.
      let n = 0;
      let end = t;
      for (let pass = 0; pass < 2 && n === 0; pass++) {
        if (pass === 1) this.releasedCache = Atomics.load(u, W_RELEASED);
        const released = this.releasedCache;
        if ((t - released) >>> 0 > cells) {
          Atomics.compareExchange(this.i64, q, claim, before);
          return RingStatus.Corrupt;
        }
        end = t;
        while (n < fit && n < roomItems) {
          const k = this.cellsOf(end, planLength[n]!);
          if (((end - released) >>> 0) + k > cells) break;
          this.planCells[n++] = k;
          end = (end + k) >>> 0;
        }
      }
      if (n === 0) {
        Atomics.compareExchange(this.i64, q, claim, before);
        return this.walk() === RingStatus.Corrupt ? RingStatus.Corrupt : RingStatus.Full;
      }
      // Tag the batch's other record starts before E passes them (owner, then tag).
      let p = (t + this.planCells[0]!) >>> 0;
      for (let i = 1; i < n; i++) {
        const other = this.meta + 2 * (p & mask);
        u[other + 1] = this.owner;
        u[other] = (2 * p) >>> 0;
        p = (p + this.planCells[i]!) >>> 0;
      }
      Atomics.store(this.i64, Q_TAIL, pack(end, enqueued + n));
      this.tailCache = end;
      p = t;
      const data = this.data;
      for (let i = 0; i < n; i++) {
        const payload = payloads[from + i]!;
        const length = planLength[i]!;
        const k = this.planCells[i]!;
        // Keep every continuation cell's tag within a lap of its position (ring.h Put).
        for (let c = 1; c < k; c++) u[this.meta + 2 * ((p + c) & mask)] = (2 * (p + c) - 1) >>> 0;
        const index = p & mask;
        const h = this.data32 + index * (CELL_DATA / 4);
        u[h] = length;
        u[h + 1] = (flags[from + i]! & MAX_USER_FLAGS) | ((p & 0xffff) << 16);
        if (length !== 0) {
          const contiguous = index + (((RECORD_HEADER + length + CELL_DATA - 1) / CELL_DATA) | 0) <= cells;
          copyInto(data, contiguous ? index * CELL_DATA + RECORD_HEADER : 0, payload, length);
        }
        // Publish: the tag, then the owner half with a release (seq-cst) store (ring.h Put).
        const cell = this.meta + 2 * index;
        u[cell] = (2 * p + 1) >>> 0;
        Atomics.store(u, cell + 1, NOBODY);
        p = (p + k) >>> 0;
      }
      this.putCount = n;
      this.notifyData();
      return RingStatus.Ok;
    }
    return RingStatus.Busy; // lost every race: back off and retry
  }

  // ---- consumer (ring.h TryTake, Release, Walk, Recover) ----

  /**
   * Takes up to `max` (<= MAX_BATCH) consecutive published records. A record whose flags
   * intersect `reject` stops the batch; as the first it makes WrongKind and stays in place. On Ok
   * read `takenCount` and `takenFlags`/`takenOffset`/`takenLength`, then call release().
   */
  tryTake(max: number, reject: number): RingStatus {
    this.takenCount = 0;
    this.blockerKind = BlockerKind.None;
    const u = this.u32;
    const mask = this.mask;
    const steps = 2 * this.cells + 64;
    for (let step = 0; step < steps; step++) {
      const h = u[W_HEAD]!;
      const at = this.meta + 2 * (h & mask);
      const seq = u[at]!;
      const who = u[at + 1]!;
      const published = (2 * h + 1) >>> 0;
      if (seq === published && who === NOBODY) {
        const q = Q_META + (h & mask);
        const before = low(published);
        if (Atomics.compareExchange(this.i64, q, before, before + this.ownerHigh) !== before) continue;
        // D and the record are frozen now: nothing read below can change under us.
        if (u[W_HEAD] !== h || !this.readHeader(h, 0)) {
          Atomics.store(this.i64, q, before);
          return RingStatus.Corrupt;
        }
        if ((this.takenFlags[0]! & reject) !== 0) {
          Atomics.store(this.i64, q, before);
          return RingStatus.WrongKind;
        }
        const dequeued = u[W_DEQUEUED]!;
        let n = 1;
        let end = (h + this.takenCells[0]!) >>> 0;
        const limit = max < MAX_BATCH ? max : MAX_BATCH;
        while (n < limit) {
          const next = this.meta + 2 * (end & mask);
          // The owner half is the word a publish releases: acquire it before the record's bytes.
          if (Atomics.load(u, next + 1) !== NOBODY || u[next] !== (2 * end + 1) >>> 0) break;
          if (!this.readHeader(end, n) || (this.takenFlags[n]! & reject) !== 0) break;
          u[next + 1] = this.owner; // behind the frozen D: nobody else touches it now
          end = (end + this.takenCells[n]!) >>> 0;
          n++;
        }
        Atomics.store(this.i64, Q_HEAD, pack(end, dequeued + n));
        this.takenCount = n;
        return RingStatus.Ok;
      }
      const status = this.notPublished(h, at);
      if (status !== RingStatus.Ok) return status;
    }
    return RingStatus.Busy;
  }

  // The head is not a published record (or our plain reads were stale): re-read it with Atomics
  // and decide (ring.h TryTake). Ok means "look again".
  protected notPublished(h: number, at: number): RingStatus {
    const u = this.u32;
    const dequeued = Atomics.load(u, W_DEQUEUED);
    if (Atomics.load(u, W_HEAD) !== h) return RingStatus.Ok;
    const seq = Atomics.load(u, at);
    const who = Atomics.load(u, at + 1);
    const stable = (): boolean =>
      Atomics.load(u, W_HEAD) === h && Atomics.load(u, at) === seq && Atomics.load(u, at + 1) === who;
    const published = (2 * h + 1) >>> 0;
    if (seq === published && who === NOBODY) return RingStatus.Ok;
    if (seq === (2 * h) >>> 0) {
      if (Atomics.load(u, W_TAIL) === h) return RingStatus.Empty; // a producer's claim at the tail
      if (!stable()) return RingStatus.Ok;
      this.block(BlockerKind.Unpublished, h, who);
      return RingStatus.Busy;
    }
    if (seq === published && who >= FIRST_TOKEN) {
      if (!stable()) return RingStatus.Ok;
      this.block(BlockerKind.Taken, h, who); // another consumer, about to move D (or dead)
      return RingStatus.Busy;
    }
    if (seq === published && who === SKIPPED) {
      // Its producer died: help the skipper move D.
      Atomics.compareExchange(this.i64, Q_HEAD, pack(h, dequeued), pack(h + 1, dequeued + 1));
      return RingStatus.Ok;
    }
    if (older(seq, (2 * h) >>> 0)) {
      const tail = Atomics.load(u, W_TAIL);
      if (tail === h) return RingStatus.Empty;
      if ((tail - h) >>> 0 > this.cells) return stable() ? RingStatus.Corrupt : RingStatus.Ok;
      // E is past h and was read after the tag: a continuation cell of a skipped record.
      if (Atomics.load(u, at) !== seq || Atomics.load(u, at + 1) !== who) return RingStatus.Ok;
      Atomics.compareExchange(this.i64, Q_HEAD, pack(h, dequeued), pack(h + 1, dequeued));
      return RingStatus.Ok;
    }
    return stable() ? RingStatus.Corrupt : RingStatus.Ok;
  }

  /**
   * After the caller checked that `blockerOwner` is dead (ring.h Recover): clears its claim,
   * showing `dispose` any record that dies with it. True when it changed something (false: the
   * blocker had moved on meanwhile, or the ring is corrupt).
   */
  recover(dispose?: Dispose): boolean {
    const x = this.blockerPosition;
    const dead = this.blockerOwner;
    const q = Q_META + (x & this.mask);
    const m = this.i64;
    const u = this.u32;
    this.takenCount = 0;
    switch (this.blockerKind) {
      case BlockerKind.Claim: {
        const theirs = pack(2 * x, dead);
        return Atomics.compareExchange(m, q, theirs, pack(2 * x - 1, FREED)) === theirs;
      }
      case BlockerKind.Unpublished: {
        const theirs = pack(2 * x, dead);
        if (Atomics.compareExchange(m, q, theirs, pack(2 * x, this.owner)) !== theirs) return false;
        if (dispose !== undefined) {
          if (this.readHeader(x, 0)) this.showDisposed(dispose, 0, false);
          else dispose(null, 0, false);
        }
        Atomics.store(m, q, pack(2 * x + 1, SKIPPED));
        const d = Atomics.load(u, W_DEQUEUED);
        if (Atomics.load(u, W_HEAD) === x) Atomics.compareExchange(m, Q_HEAD, pack(x, d), pack(x + 1, d + 1));
        return true;
      }
      case BlockerKind.Taken: {
        const theirs = pack(2 * x + 1, dead);
        if (Atomics.compareExchange(m, q, theirs, pack(2 * x + 1, this.owner)) !== theirs) return false;
        if (Atomics.load(u, W_HEAD) === x) {
          Atomics.store(m, q, low(2 * x + 1)); // it died before moving D: hand the item back
          this.notifyData();
          return true;
        }
        if (!this.readHeader(x, 0)) return false; // corrupt: the caller's next call reports it
        if (dispose !== undefined) this.showDisposed(dispose, 0, true);
        this.releaseRecord(x, this.takenCells[0]!);
        return true;
      }
      default:
        return false;
    }
  }

  protected showDisposed(dispose: Dispose, i: number, complete: boolean): void {
    const offset = this.takenOffset[i]!;
    dispose(this.data.subarray(offset, offset + this.takenLength[i]!), this.takenFlags[i]!, complete);
  }
}
