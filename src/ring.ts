// The TypeScript mirror of native/ring.h: the same layout, states and algorithm, in JavaScript so
// that a put or a take costs no N-API call and no allocation beyond the caller's own (an N-API
// call that allocates per message caps a queue near 2.5 M msg/s; Atomics plus a copy cost tens of
// ns). Read native/ring.h first: the algorithm, the drawing of the layout and the proof sketches
// are there; comments here only say where JavaScript differs.
//
// Layout (offsets from the ring base; see native/ring.h for each field):
//   0 magic 'MPRG' | 4 version | 8 cells N | 12 cell data bytes (120) | 16 max items
//   64 E = {tail, enqueued}   128 D = {head, dequeued}   192 R   256 data signal, 260 data wanted
//   320 space signal, 324 space wanted   512 meta[N] {seq, owner}   512 + 8N data[N * 120]
//
// JavaScript specifics. Atomics are sequentially consistent, which is at least what ring.h asks
// for everywhere. A 64-bit word is read as two 32-bit halves (cheap) but written with one 64-bit
// store or CAS (BigInt): a torn read can only make a CAS fail or a check retry, because every
// transition of shared state is either a CAS on the full expected value or a store by the one
// party that holds the state exclusively (see ring.h).
import { native } from './binding.js';
import { CorruptionError } from './errors.js';

export const RING_MAGIC = 0x4752504d;
export const RING_VERSION = 1;
export const CELL_DATA = 120;
export const CELL_BYTES = CELL_DATA + 8;
export const RECORD_HEADER = 8;
export const CONTROL_BYTES = 512;
export const MIN_CELLS = 16;
export const MAX_CELLS = 1 << 23;
export const MAX_USER_FLAGS = 0xff;
/** The most records one take can return. */
export const MAX_BATCH = 256;

const NOBODY = 0;
const FREED = 1;
const SKIPPED = 2;
const FIRST_TOKEN = 0x10000;
const HIGH = 4294967296n;

// Control words, as indexes into a Uint32Array over the ring.
const W_MAGIC = 0;
const W_VERSION = 1;
const W_CELLS = 2;
const W_CELL_DATA = 3;
const W_MAX_ITEMS = 4;
const W_TAIL = 16;
const W_ENQUEUED = 17;
const W_HEAD = 32;
const W_DEQUEUED = 33;
const W_RELEASED = 48;
const W_DATA_SIGNAL = 64;
const W_DATA_WANTED = 65;
const W_SPACE_SIGNAL = 80;
const W_SPACE_WANTED = 81;
const Q_TAIL = 8; // E and D as indexes into a BigUint64Array over the ring
const Q_HEAD = 16;

export const enum RingStatus {
  Ok = 0,
  Empty = 1,
  Full = 2,
  Busy = 3,
  WrongKind = 4,
  TooBig = 5,
  Corrupt = 6,
}

export const enum BlockerKind {
  None = 0,
  Claim = 1,
  Unpublished = 2,
  Taken = 3,
}

/**
 * Called for a record that dies with its claimant (see Ring#recover): `complete` false for a
 * producer that died while writing it (payload null when not even its header was written).
 */
export type Dispose = (payload: Buffer | null, flags: number, complete: boolean) => void;

const older = (seq: number, tag: number): boolean => ((tag - seq) | 0) > 0;
const pack = (low: number, high: number): bigint => BigInt(low) + BigInt(high) * HIGH;

/** One process's (one thread's) view of a ring in shared memory. */
export class Ring {
  /** Bytes of a ring of `cells` cells. */
  static bytesFor(cells: number): number {
    return CONTROL_BYTES + cells * CELL_BYTES;
  }

  /** The cell count for a capacity in bytes: a power of two within the limits. */
  static cellsFor(capacityBytes: number): number {
    const cells = Math.floor(capacityBytes / CELL_BYTES);
    if (cells <= MIN_CELLS) return MIN_CELLS;
    if (cells >= MAX_CELLS) return MAX_CELLS;
    return 2 ** Math.ceil(Math.log2(cells));
  }

  /** Lays out a fresh ring over zeroed memory at `offset` (64-byte aligned) of `buffer`. */
  static init(buffer: ArrayBuffer, offset: number, cells: number, maxItems: number, start = 0): void {
    const u32 = new Uint32Array(buffer, offset, Ring.bytesFor(cells) / 4);
    u32[W_VERSION] = RING_VERSION;
    u32[W_CELLS] = cells;
    u32[W_CELL_DATA] = CELL_DATA;
    u32[W_MAX_ITEMS] = maxItems;
    u32[W_TAIL] = start;
    u32[W_HEAD] = start;
    u32[W_RELEASED] = start;
    const meta = CONTROL_BYTES / 4;
    for (let i = 0; i < cells; i++) {
      const p = (start + ((i - start) & (cells - 1))) >>> 0;
      u32[meta + 2 * i] = (2 * p - 1) >>> 0;
      u32[meta + 2 * i + 1] = FREED;
    }
    Atomics.store(u32, W_MAGIC, RING_MAGIC);
  }

  readonly buffer: ArrayBuffer;
  readonly cells: number;
  readonly maxItems: number;
  /** The largest payload a record carries (half the ring's data). */
  readonly maxInline: number;
  /** Byte offsets in `buffer` of the futex words, for waitWord/futexWake. */
  readonly dataSignalOffset: number;
  readonly spaceSignalOffset: number;
  /** The data array (a view over shared memory): payloads of taken records are read from it. */
  readonly data: Buffer;

  /** Who blocked the last operation that returned Busy or Full (kind None: nobody in particular). */
  blockerKind: BlockerKind = BlockerKind.None;
  blockerPosition = 0;
  blockerOwner = 0;

  /** The records of the last successful take: count, then per record its flags, payload offset in `data` and length. */
  takenCount = 0;
  readonly takenFlags = new Uint32Array(MAX_BATCH);
  readonly takenOffset = new Uint32Array(MAX_BATCH);
  readonly takenLength = new Uint32Array(MAX_BATCH);
  readonly #takenPosition = new Uint32Array(MAX_BATCH);
  readonly #takenCells = new Uint32Array(MAX_BATCH);
  readonly #planCells = new Uint32Array(MAX_BATCH);
  /** How many items the last successful put carried. */
  putCount = 0;

  readonly #u32: Uint32Array;
  readonly #u64: BigUint64Array;
  readonly #mask: number;
  readonly #meta: number; // index in #u32 of meta[0]
  readonly #data32: number; // index in #u32 of data[0]
  /** The owner token this view claims cells with. */
  readonly owner: number;
  readonly #ownerHigh: bigint;
  #tailCache: number;
  #releasedCache: number;

  /**
   * Attaches to the ring at `offset` (64-byte aligned) of `buffer`, as `owner` (this thread's
   * ownerToken()). The geometry is read once. Throws CorruptionError when it is not a ring.
   */
  constructor(buffer: ArrayBuffer, offset: number, owner: number) {
    if (offset % 64 !== 0 || buffer.byteLength < offset + CONTROL_BYTES) {
      throw new CorruptionError('the ring lies outside its segment');
    }
    const control = new Uint32Array(buffer, offset, CONTROL_BYTES / 4);
    const cells = control[W_CELLS]!;
    if (
      Atomics.load(control, W_MAGIC) !== RING_MAGIC ||
      control[W_VERSION] !== RING_VERSION ||
      control[W_CELL_DATA] !== CELL_DATA ||
      cells < MIN_CELLS ||
      cells > MAX_CELLS ||
      (cells & (cells - 1)) !== 0 ||
      buffer.byteLength < offset + Ring.bytesFor(cells)
    ) {
      throw new CorruptionError('the ring header is not valid (bad magic, version or geometry)');
    }
    this.buffer = buffer;
    this.cells = cells;
    this.#mask = cells - 1;
    this.maxItems = control[W_MAX_ITEMS]!;
    this.maxInline = (cells / 2) * CELL_DATA;
    this.#u32 = new Uint32Array(buffer, offset, Ring.bytesFor(cells) / 4);
    this.#u64 = new BigUint64Array(buffer, offset, (CONTROL_BYTES + cells * 8) / 8);
    this.#meta = CONTROL_BYTES / 4;
    this.#data32 = this.#meta + 2 * cells;
    this.data = Buffer.from(buffer, offset + CONTROL_BYTES + cells * 8, cells * CELL_DATA);
    this.dataSignalOffset = offset + W_DATA_SIGNAL * 4;
    this.spaceSignalOffset = offset + W_SPACE_SIGNAL * 4;
    this.owner = owner;
    this.#ownerHigh = BigInt(owner) * HIGH;
    this.#tailCache = Atomics.load(this.#u32, W_TAIL);
    this.#releasedCache = Atomics.load(this.#u32, W_RELEASED);
  }

  /** Items put and not yet taken (approximate while others work). */
  size(): number {
    const n = (Atomics.load(this.#u32, W_ENQUEUED) - Atomics.load(this.#u32, W_DEQUEUED)) | 0;
    return n < 0 ? 0 : n;
  }

  /** Whether a record of `length` bytes could be put now (approximate). */
  hasRoom(length: number): boolean {
    const u = this.#u32;
    const tail = Atomics.load(u, W_TAIL);
    const used = (tail - Atomics.load(u, W_RELEASED)) >>> 0;
    if (used + this.cellsOf(tail, Math.min(length, this.maxInline)) > this.cells) return false;
    return this.maxItems === 0 || this.size() < this.maxItems;
  }

  /** Cells taken by a record of `length` bytes at `position` (ring.h CellsOf). */
  cellsOf(position: number, length: number): number {
    const index = position & this.#mask;
    const k = ((RECORD_HEADER + length + CELL_DATA - 1) / CELL_DATA) | 0;
    return index + k <= this.cells ? k : this.cells - index + (((length + CELL_DATA - 1) / CELL_DATA) | 0);
  }

  #payloadOffset(position: number, length: number): number {
    const index = position & this.#mask;
    const k = ((RECORD_HEADER + length + CELL_DATA - 1) / CELL_DATA) | 0;
    return index + k <= this.cells ? index * CELL_DATA + RECORD_HEADER : 0;
  }

  #block(kind: BlockerKind, position: number, owner: number): void {
    this.blockerKind = kind;
    this.blockerPosition = position;
    this.blockerOwner = owner;
  }

  // ---- producer (ring.h Put) ----

  /**
   * Puts `payloads[from .. from+count)` (at least the first, as many as fit) as one claim, each
   * with its `flags` (0..255). Returns the status; on Ok, `putCount` says how many went in.
   */
  tryPut(payloads: readonly Uint8Array[], flags: ArrayLike<number>, from: number, count: number): RingStatus {
    this.putCount = 0;
    this.blockerKind = BlockerKind.None;
    let fit = 0;
    while (fit < count && payloads[from + fit]!.length <= this.maxInline) fit++;
    if (count === 0) return RingStatus.Ok;
    if (fit === 0) return RingStatus.TooBig;
    const u = this.#u32;
    const cells = this.cells;
    const firstLength = payloads[from]!.length;
    for (let attempt = 0; attempt < 64; attempt++) {
      const t = Atomics.load(u, W_TAIL);
      const first = this.cellsOf(t, firstLength);
      let used = (t - this.#releasedCache) >>> 0;
      if (used + first > cells) {
        this.#releasedCache = Atomics.load(u, W_RELEASED);
        used = (t - this.#releasedCache) >>> 0;
        if (used > cells) continue; // t is stale
        if (used + first > cells) {
          if (this.walk() === RingStatus.Corrupt) return RingStatus.Corrupt;
          this.#releasedCache = Atomics.load(u, W_RELEASED);
          if (((t - this.#releasedCache) >>> 0) + first > cells) return RingStatus.Full;
        }
      }
      const at = this.#meta + 2 * (t & this.#mask);
      const q = (t & this.#mask) + CONTROL_BYTES / 8;
      // The CAS's expected value is read first, its tag after: a success proves the cell held
      // `before` then, and any tag read later that passes the checks was valid for it too (tags
      // only move forward, except undo/reset, which never return to a claim value).
      const before = Atomics.load(this.#u64, q);
      const seq = Atomics.load(u, at);
      const who = Atomics.load(u, at + 1);
      const tag = (2 * t) >>> 0;
      if (seq === tag) {
        if (Atomics.load(u, W_TAIL) !== t) continue;
        this.#block(BlockerKind.Claim, t, who);
        return RingStatus.Busy;
      }
      if (!older(seq, tag)) {
        if (Atomics.load(u, W_TAIL) === t && Atomics.load(u, at) === seq) return RingStatus.Corrupt;
        continue;
      }
      const claim = BigInt(tag) + this.#ownerHigh;
      if (Atomics.compareExchange(this.#u64, q, before, claim) !== before) continue;
      if (Atomics.load(u, W_TAIL) !== t) {
        Atomics.compareExchange(this.#u64, q, claim, before); // stale t: give the cell back
        continue;
      }
      const enqueued = Atomics.load(u, W_ENQUEUED);
      let released = this.#releasedCache;
      let inFlight = 0;
      if (this.maxItems !== 0) {
        inFlight = (enqueued - Atomics.load(u, W_DEQUEUED)) | 0;
        if (inFlight < 0 || inFlight > this.maxItems) {
          Atomics.compareExchange(this.#u64, q, claim, before);
          return RingStatus.Corrupt;
        }
      }
      const roomItems = this.maxItems === 0 ? fit : this.maxItems - inFlight;
      // Plan the batch (ring.h): as many records as fit, each where the previous one ends.
      let n = 0;
      let end = t;
      for (let pass = 0; pass < 2 && n === 0; pass++) {
        if (pass === 1) released = this.#releasedCache = Atomics.load(u, W_RELEASED);
        if (((t - released) >>> 0) > cells) {
          Atomics.compareExchange(this.#u64, q, claim, before);
          return RingStatus.Corrupt;
        }
        n = 0;
        end = t;
        while (n < fit && n < roomItems && n < MAX_BATCH) {
          const k = this.cellsOf(end, payloads[from + n]!.length);
          if (((end - released) >>> 0) + k > cells) break;
          this.#planCells[n] = k;
          end = (end + k) >>> 0;
          n++;
        }
      }
      if (n === 0) {
        Atomics.compareExchange(this.#u64, q, claim, before);
        return this.walk() === RingStatus.Corrupt ? RingStatus.Corrupt : RingStatus.Full;
      }
      // Tag the other record starts before E passes them: owner, then tag (ring.h).
      let p = (t + this.#planCells[0]!) >>> 0;
      for (let i = 1; i < n; i++) {
        const other = this.#meta + 2 * (p & this.#mask);
        Atomics.store(u, other + 1, this.owner);
        Atomics.store(u, other, (2 * p) >>> 0);
        p = (p + this.#planCells[i]!) >>> 0;
      }
      Atomics.store(this.#u64, Q_TAIL, pack(end, (enqueued + n) >>> 0));
      this.#tailCache = end;
      p = t;
      const data = this.data;
      for (let i = 0; i < n; i++) {
        const payload = payloads[from + i]!;
        const length = payload.length;
        const k = this.#planCells[i]!;
        for (let c = 1; c < k; c++) {
          const cell = (p + c) >>> 0;
          Atomics.store(u, this.#meta + 2 * (cell & this.#mask), (2 * cell - 1) >>> 0); // keep it young
        }
        const h = this.#data32 + (p & this.#mask) * (CELL_DATA / 4);
        u[h] = length;
        u[h + 1] = (flags[from + i]! & MAX_USER_FLAGS) | ((p & 0xffff) << 16);
        const index = p & this.#mask;
        const contiguous = index + (((RECORD_HEADER + length + CELL_DATA - 1) / CELL_DATA) | 0) <= this.cells;
        if (length !== 0) data.set(payload, contiguous ? index * CELL_DATA + RECORD_HEADER : 0);
        // Publish: tag, then owner (ring.h); the seq-cst store precedes the read of `data wanted`.
        const cell = this.#meta + 2 * (p & this.#mask);
        Atomics.store(u, cell, (2 * p + 1) >>> 0);
        Atomics.store(u, cell + 1, NOBODY);
        p = (p + k) >>> 0;
      }
      this.putCount = n;
      this.notifyData();
      return RingStatus.Ok;
    }
    return RingStatus.Busy;
  }

  // ---- consumer (ring.h TryTake, Release, Walk) ----

  /**
   * Takes up to `max` (<= MAX_BATCH) consecutive published records; a record whose flags
   * intersect `reject` stops the batch, and as the first record makes WrongKind and stays put.
   * On Ok read them through `takenCount`/`takenFlags`/`takenOffset`/`takenLength`, then release().
   */
  tryTake(max: number, reject: number): RingStatus {
    this.takenCount = 0;
    this.blockerKind = BlockerKind.None;
    const u = this.#u32;
    const steps = 2 * this.cells + 64;
    for (let step = 0; step < steps; step++) {
      const h = Atomics.load(u, W_HEAD);
      const dequeued = Atomics.load(u, W_DEQUEUED);
      const at = this.#meta + 2 * (h & this.#mask);
      const seq = Atomics.load(u, at);
      const who = Atomics.load(u, at + 1);
      const published = (2 * h + 1) >>> 0;
      const q = (h & this.#mask) + CONTROL_BYTES / 8;
      if (seq === published && who === NOBODY) {
        const before = BigInt(published);
        if (Atomics.compareExchange(this.#u64, q, before, before + this.#ownerHigh) !== before) continue;
        // D and the record are frozen now (ring.h): nothing read below can change under us.
        const d = Atomics.load(u, W_DEQUEUED);
        if (Atomics.load(u, W_HEAD) !== h || !this.#readHeader(h, 0)) {
          Atomics.store(this.#u64, q, before);
          return RingStatus.Corrupt;
        }
        if ((this.takenFlags[0]! & reject) !== 0) {
          Atomics.store(this.#u64, q, before);
          return RingStatus.WrongKind;
        }
        let n = 1;
        let end = (h + this.#takenCells[0]!) >>> 0;
        const limit = Math.min(max, MAX_BATCH);
        while (n < limit) {
          const next = this.#meta + 2 * (end & this.#mask);
          const tag = (2 * end + 1) >>> 0;
          if (Atomics.load(u, next) !== tag || Atomics.load(u, next + 1) !== NOBODY) break;
          if (!this.#readHeader(end, n) || (this.takenFlags[n]! & reject) !== 0) break;
          Atomics.store(u, next + 1, this.owner);
          end = (end + this.#takenCells[n]!) >>> 0;
          n++;
        }
        Atomics.store(this.#u64, Q_HEAD, pack(end, (d + n) >>> 0));
        this.takenCount = n;
        return RingStatus.Ok;
      }
      const stable = (): boolean =>
        Atomics.load(u, W_HEAD) === h &&
        Atomics.load(u, W_DEQUEUED) === dequeued &&
        Atomics.load(u, at) === seq &&
        Atomics.load(u, at + 1) === who;
      if (seq === (2 * h) >>> 0) {
        if (Atomics.load(u, W_TAIL) === h) return RingStatus.Empty;
        if (!stable()) continue;
        this.#block(BlockerKind.Unpublished, h, who);
        return RingStatus.Busy;
      }
      if (seq === published && who >= FIRST_TOKEN) {
        if (!stable()) continue;
        this.#block(BlockerKind.Taken, h, who);
        return RingStatus.Busy;
      }
      if (seq === published && who === SKIPPED) {
        Atomics.compareExchange(this.#u64, Q_HEAD, pack(h, dequeued), pack((h + 1) >>> 0, (dequeued + 1) >>> 0));
        continue;
      }
      if (older(seq, (2 * h) >>> 0)) {
        const tail = Atomics.load(u, W_TAIL);
        if (tail === h) return RingStatus.Empty;
        if (((tail - h) >>> 0) > this.cells) {
          if (stable()) return RingStatus.Corrupt;
          continue;
        }
        // E is past h, read after the tag: a continuation cell of a skipped record (ring.h).
        if (Atomics.load(u, at) !== seq || Atomics.load(u, at + 1) !== who) continue;
        Atomics.compareExchange(this.#u64, Q_HEAD, pack(h, dequeued), pack((h + 1) >>> 0, dequeued));
        continue;
      }
      if (stable()) return RingStatus.Corrupt;
    }
    return RingStatus.Busy;
  }

  /** Reads and checks the header at `position` into slot `i` of the taken arrays. */
  #readHeader(position: number, i: number): boolean {
    const h = this.#data32 + (position & this.#mask) * (CELL_DATA / 4);
    const length = this.#u32[h]!;
    const flags = this.#u32[h + 1]!;
    if (flags >>> 16 !== (position & 0xffff) || (flags & 0xff00) !== 0 || length > this.maxInline) return false;
    const cells = this.cellsOf(position, length);
    // Below E.tail, checked against the private copy first (ring.h BelowTail).
    let room = (this.#tailCache - position) >>> 0;
    if (room < cells || room > this.cells) {
      this.#tailCache = Atomics.load(this.#u32, W_TAIL);
      room = (this.#tailCache - position) >>> 0;
      if (room < cells || room > this.cells) return false;
    }
    this.takenFlags[i] = flags & MAX_USER_FLAGS;
    this.takenLength[i] = length;
    this.takenOffset[i] = this.#payloadOffset(position, length);
    this.#takenPosition[i] = position;
    this.#takenCells[i] = cells;
    return true;
  }

  /** Frees the cells of the records of the last take (after their payloads were read). */
  release(): RingStatus {
    const n = this.takenCount;
    this.takenCount = 0;
    for (let i = 0; i < n; i++) this.#releaseOne(this.#takenPosition[i]!, this.#takenCells[i]!);
    const status = this.walk();
    this.notifySpace();
    return status;
  }

  /** Where taken record `i` lies, to release it later with releaseRecord (a record read across awaits). */
  takenPlace(i: number): [position: number, cells: number] {
    return [this.#takenPosition[i]!, this.#takenCells[i]!];
  }

  /** Frees one taken record by its place (see takenPlace); the others of its take are untouched. */
  releaseRecord(position: number, cells: number): RingStatus {
    this.#releaseOne(position, cells);
    const status = this.walk();
    this.notifySpace();
    return status;
  }

  /** Forgets the last take without freeing it (its records were handed to releaseRecord). */
  forgetTaken(): void {
    this.takenCount = 0;
  }

  #releaseOne(position: number, cells: number): void {
    if (Atomics.compareExchange(this.#u32, W_RELEASED, position, (position + cells) >>> 0) !== position) {
      Atomics.store(this.#u64, (position & this.#mask) + CONTROL_BYTES / 8, pack((2 * position + 1) >>> 0, FREED));
    }
  }

  /** Advances R over freed records; sets the blocker when a taken one stops it. */
  walk(): RingStatus {
    this.blockerKind = BlockerKind.None;
    const u = this.#u32;
    const steps = 2 * this.cells + 64;
    for (let step = 0; step < steps; step++) {
      const r = Atomics.load(u, W_RELEASED);
      const h = Atomics.load(u, W_HEAD);
      if (r === h) return RingStatus.Ok;
      const at = this.#meta + 2 * (r & this.#mask);
      const seq = Atomics.load(u, at);
      const who = Atomics.load(u, at + 1);
      const stable = (): boolean =>
        Atomics.load(u, W_RELEASED) === r && Atomics.load(u, at) === seq && Atomics.load(u, at + 1) === who;
      if (((h - r) >>> 0) > this.cells) {
        if (stable() && Atomics.load(u, W_HEAD) === h) return RingStatus.Corrupt;
        continue;
      }
      const published = (2 * r + 1) >>> 0;
      if ((seq === published && (who === FREED || who === SKIPPED)) || older(seq, (2 * r) >>> 0)) {
        Atomics.compareExchange(u, W_RELEASED, r, (r + 1) >>> 0);
      } else if (seq === published && who >= FIRST_TOKEN) {
        this.#block(BlockerKind.Taken, r, who);
        return RingStatus.Ok;
      } else if (stable()) {
        return RingStatus.Corrupt;
      }
    }
    return RingStatus.Ok;
  }

  /**
   * After the caller checked that `blockerOwner` is dead (ring.h Recover): clears its claim,
   * showing `dispose` any record that dies with it.
   */
  recover(dispose?: Dispose): RingStatus {
    const x = this.blockerPosition;
    const dead = this.blockerOwner;
    const q = (x & this.#mask) + CONTROL_BYTES / 8;
    const m = this.#u64;
    switch (this.blockerKind) {
      case BlockerKind.Claim:
        Atomics.compareExchange(m, q, pack((2 * x) >>> 0, dead), pack((2 * x - 1) >>> 0, FREED));
        return RingStatus.Ok;
      case BlockerKind.Unpublished: {
        const mine = BigInt((2 * x) >>> 0) + this.#ownerHigh;
        if (Atomics.compareExchange(m, q, pack((2 * x) >>> 0, dead), mine) !== pack((2 * x) >>> 0, dead)) {
          return RingStatus.Ok;
        }
        if (dispose !== undefined) {
          if (this.#readHeader(x, 0)) this.#dispose(dispose, 0, false);
          else dispose(null, 0, false);
        }
        this.takenCount = 0;
        Atomics.store(m, q, pack((2 * x + 1) >>> 0, SKIPPED));
        const u = this.#u32;
        const d = Atomics.load(u, W_DEQUEUED);
        if (Atomics.load(u, W_HEAD) === x) {
          Atomics.compareExchange(m, Q_HEAD, pack(x, d), pack((x + 1) >>> 0, (d + 1) >>> 0));
        }
        return RingStatus.Ok;
      }
      case BlockerKind.Taken: {
        const theirs = pack((2 * x + 1) >>> 0, dead);
        if (Atomics.compareExchange(m, q, theirs, BigInt((2 * x + 1) >>> 0) + this.#ownerHigh) !== theirs) {
          return RingStatus.Ok;
        }
        if (Atomics.load(this.#u32, W_HEAD) === x) {
          Atomics.store(m, q, BigInt((2 * x + 1) >>> 0)); // never taken: hand it back
          this.notifyData();
          return RingStatus.Ok;
        }
        if (!this.#readHeader(x, 0)) return RingStatus.Corrupt;
        if (dispose !== undefined) this.#dispose(dispose, 0, true);
        this.takenCount = 0;
        return this.releaseRecord(x, this.#takenCells[0]!);
      }
      default:
        return RingStatus.Ok;
    }
  }

  #dispose(dispose: Dispose, i: number, complete: boolean): void {
    const offset = this.takenOffset[i]!;
    dispose(this.data.subarray(offset, offset + this.takenLength[i]!), this.takenFlags[i]!, complete);
  }

  // ---- waiting (ring.h Notify and the sleeper's side) ----

  /** A consumer about to sleep: returns the data signal value to wait on, after announcing itself. */
  announceWantData(): number {
    const signal = Atomics.load(this.#u32, W_DATA_SIGNAL);
    Atomics.store(this.#u32, W_DATA_WANTED, 1);
    return signal;
  }

  /** A producer about to sleep: as announceWantData, for space. */
  announceWantSpace(): number {
    const signal = Atomics.load(this.#u32, W_SPACE_SIGNAL);
    Atomics.store(this.#u32, W_SPACE_WANTED, 1);
    return signal;
  }

  /** After publishing: wakes sleeping consumers, if any announced themselves. Returns whether it woke. */
  notifyData(): boolean {
    return this.#notify(W_DATA_WANTED, W_DATA_SIGNAL);
  }

  /** After releasing (or taking, when items are bounded): wakes sleeping producers. */
  notifySpace(): boolean {
    return this.#notify(W_SPACE_WANTED, W_SPACE_SIGNAL);
  }

  /** Bumps both signals and wakes everyone (shutdown, close of the queue). */
  wakeAll(): void {
    Atomics.add(this.#u32, W_DATA_SIGNAL, 1);
    Atomics.add(this.#u32, W_SPACE_SIGNAL, 1);
    native.futexWake(this.buffer, this.dataSignalOffset);
    native.futexWake(this.buffer, this.spaceSignalOffset);
  }

  #notify(wanted: number, signal: number): boolean {
    const u = this.#u32;
    if (Atomics.load(u, wanted) === 0 || Atomics.exchange(u, wanted, 0) === 0) return false;
    Atomics.add(u, signal, 1);
    native.futexWake(this.buffer, (signal - W_DATA_SIGNAL) * 4 + this.dataSignalOffset);
    return true;
  }
}
