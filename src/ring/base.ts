// The TypeScript mirror of native/ring.h: the same layout (layout.ts), states and steps, in
// JavaScript so that a put or a take costs no N-API call and no allocation but the caller's own.
// Read native/ring.h first: the algorithm, the drawing and the proof sketches are there; the
// comments here say where JavaScript differs.
//
// What costs what on Node 20: a plain typed-array load ~1 ns, any Atomics operation ~12 ns (not
// inlined, even on a SharedArrayBuffer), a BigInt built from a small integer ~10 ns. So:
//  - Atomics for every CAS; the 64-bit stores of E and D; the owner half of a publish (a
//    release: the record's bytes before it); the loads on both sides of a sleep/wake (Dekker:
//    seq-cst); the acquire load that gates reading a record nobody claimed (batch records);
//    and the re-reads that decide a blocked or corrupt state.
//  - Plain loads for hints that a CAS or an Atomics re-read validates before anything depends on
//    them, and for what is read after a claim (the CAS is a full barrier) or after an acquire
//    load of the word a release store wrote (E, D: both halves come from one 64-bit store).
//  - Plain stores where the order does not matter until a later release store (tags of a batch's
//    other starts and continuation cells before E; a record's tag before its owner half).
// A 64-bit word is read as two 32-bit halves; a torn pair only makes a CAS fail or a check retry.
import { native } from '../binding.js';
import { CorruptionError } from '../errors.js';
import {
  BlockerKind,
  CELL_DATA,
  CONTROL_BYTES,
  FIRST_TOKEN,
  FREED,
  high,
  initRing,
  MAX_BATCH,
  MAX_CELLS,
  MAX_USER_FLAGS,
  MIN_CELLS,
  older,
  pack,
  Q_META,
  RECORD_HEADER,
  RING_MAGIC,
  RING_VERSION,
  ringBytes,
  ringCells,
  RingStatus,
  SKIPPED,
  W_CELL_DATA,
  W_CELLS,
  W_DATA_SIGNAL,
  W_DATA_WANTED,
  W_DEQUEUED,
  W_ENQUEUED,
  W_HEAD,
  W_MAGIC,
  W_MAX_ITEMS,
  W_RELEASED,
  W_SPACE_SIGNAL,
  W_SPACE_WANTED,
  W_TAIL,
  W_VERSION,
} from './layout.js';

/**
 * Shown a record that dies with its claimant (Ring#recover): `complete` false for a producer
 * that died while writing it (`payload` null when not even its header was written).
 */
export type Dispose = (payload: Buffer | null, flags: number, complete: boolean) => void;

/**
 * A thread's view of a ring: its state, its geometry, and the parts of the algorithm that both
 * sides share (freeing cells, walking R, sleeping and waking). ring.ts adds putting, taking and
 * recovering.
 */
export class RingBase {
  static readonly bytesFor = ringBytes;
  static readonly cellsFor = ringCells;
  static readonly init = initRing;

  readonly buffer: ArrayBuffer;
  readonly cells: number;
  readonly maxItems: number;
  /** The largest payload of a record: half the ring's data. */
  readonly maxInline: number;
  /** Byte offsets in `buffer` of the futex words. */
  readonly dataSignalOffset: number;
  readonly spaceSignalOffset: number;
  /** The data array (a view over shared memory): taken payloads are read from it. */
  readonly data: Buffer;
  /** The owner token this view claims cells with (this thread's ownerToken()). */
  readonly owner: number;

  /** Who blocked the last operation that returned Busy or Full (kind None: nobody in particular). */
  blockerKind: BlockerKind = BlockerKind.None;
  blockerPosition = 0;
  blockerOwner = 0;
  /** The records of the last take: count, then per record its flags, offset in `data`, length. */
  takenCount = 0;
  readonly takenFlags = new Uint32Array(MAX_BATCH);
  readonly takenOffset = new Uint32Array(MAX_BATCH);
  readonly takenLength = new Uint32Array(MAX_BATCH);
  /** How many items the last successful put carried. */
  putCount = 0;

  protected readonly takenPosition = new Uint32Array(MAX_BATCH);
  protected readonly takenCells = new Uint32Array(MAX_BATCH);
  protected readonly planCells = new Uint32Array(MAX_BATCH);
  /** The payload length of each record of the put being planned. */
  protected readonly planLength = new Uint32Array(MAX_BATCH);
  protected readonly u32: Uint32Array;
  protected readonly i64: BigInt64Array;
  protected readonly mask: number;
  protected readonly meta: number; // index in u32 of meta[0]
  protected readonly data32: number; // index in u32 of data[0]
  protected readonly ownerHigh: bigint;
  protected tailCache: number;
  protected releasedCache: number;

  /**
   * Attaches to the ring at `offset` (64-byte aligned) of `buffer` as `owner`. The geometry is
   * read once. Throws CorruptionError when no valid ring is there.
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
      buffer.byteLength < offset + ringBytes(cells)
    ) {
      throw new CorruptionError('the ring header is not valid (bad magic, version or geometry)');
    }
    this.buffer = buffer;
    this.cells = cells;
    this.mask = cells - 1;
    this.maxItems = control[W_MAX_ITEMS]!;
    this.maxInline = (cells / 2) * CELL_DATA;
    this.u32 = new Uint32Array(buffer, offset, ringBytes(cells) / 4);
    this.i64 = new BigInt64Array(buffer, offset, Q_META + cells);
    this.meta = CONTROL_BYTES / 4;
    this.data32 = this.meta + 2 * cells;
    this.data = Buffer.from(buffer, offset + CONTROL_BYTES + cells * 8, cells * CELL_DATA);
    this.dataSignalOffset = offset + W_DATA_SIGNAL * 4;
    this.spaceSignalOffset = offset + W_SPACE_SIGNAL * 4;
    this.owner = owner;
    this.ownerHigh = high(owner);
    this.tailCache = Atomics.load(this.u32, W_TAIL);
    this.releasedCache = Atomics.load(this.u32, W_RELEASED);
  }

  /** Items put and not yet taken (approximate while others work). */
  size(): number {
    const n = (Atomics.load(this.u32, W_ENQUEUED) - Atomics.load(this.u32, W_DEQUEUED)) | 0;
    return n < 0 ? 0 : n;
  }

  /** Whether a record of `length` bytes (and one more item) would fit now (approximate). */
  hasRoom(length: number): boolean {
    const u = this.u32;
    const tail = Atomics.load(u, W_TAIL);
    const used = (tail - Atomics.load(u, W_RELEASED)) >>> 0;
    if (used + this.cellsOf(tail, Math.min(length, this.maxInline)) > this.cells) return false;
    return this.maxItems === 0 || this.size() < this.maxItems;
  }

  /** Cells of a record of `length` bytes at `position` (ring.h CellsOf: wrapped if need be). */
  cellsOf(position: number, length: number): number {
    if (length <= CELL_DATA - RECORD_HEADER) return 1; // one cell is never wrapped (no division)
    const index = position & this.mask;
    const k = ((RECORD_HEADER + length + CELL_DATA - 1) / CELL_DATA) | 0;
    return index + k <= this.cells ? k : this.cells - index + (((length + CELL_DATA - 1) / CELL_DATA) | 0);
  }

  protected payloadOffset(position: number, length: number): number {
    const index = position & this.mask;
    if (length <= CELL_DATA - RECORD_HEADER) return index * CELL_DATA + RECORD_HEADER;
    const k = ((RECORD_HEADER + length + CELL_DATA - 1) / CELL_DATA) | 0;
    return index + k <= this.cells ? index * CELL_DATA + RECORD_HEADER : 0;
  }

  protected block(kind: BlockerKind, position: number, owner: number): void {
    this.blockerKind = kind;
    this.blockerPosition = position;
    this.blockerOwner = owner;
  }

  /** Reads and checks the header at `position` into slot `i` of the taken arrays. */
  protected readHeader(position: number, i: number): boolean {
    const h = this.data32 + (position & this.mask) * (CELL_DATA / 4);
    const length = this.u32[h]!;
    const flags = this.u32[h + 1]!;
    if (flags >>> 16 !== (position & 0xffff) || (flags & 0xff00) !== 0 || length > this.maxInline) return false;
    const cells = this.cellsOf(position, length);
    // Below E.tail (ring.h BelowTail): against the private copy first.
    let room = (this.tailCache - position) >>> 0;
    if (room < cells || room > this.cells) {
      this.tailCache = Atomics.load(this.u32, W_TAIL);
      room = (this.tailCache - position) >>> 0;
      if (room < cells || room > this.cells) return false;
    }
    this.takenFlags[i] = flags & MAX_USER_FLAGS;
    this.takenLength[i] = length;
    this.takenOffset[i] = this.payloadOffset(position, length);
    this.takenPosition[i] = position;
    this.takenCells[i] = cells;
    return true;
  }

  /** Frees the records of the last take (after their payloads were read) and wakes producers. */
  release(): RingStatus {
    const n = this.takenCount;
    this.takenCount = 0;
    let inOrder = true;
    for (let i = 0; i < n; i++) inOrder = this.releaseOne(this.takenPosition[i]!, this.takenCells[i]!) && inOrder;
    // The common case: we moved R ourselves up to D (one reader, or none ahead of us): nothing
    // freed out of order can lie between, so the walk is one load.
    const end = (this.takenPosition[n - 1]! + this.takenCells[n - 1]!) >>> 0;
    const status = inOrder && n > 0 && Atomics.load(this.u32, W_HEAD) === end ? RingStatus.Ok : this.walk();
    this.notifySpace();
    return status;
  }

  /** Where taken record `i` lies, for releaseRecord (a record read across awaits). */
  takenPlace(i: number): [position: number, cells: number] {
    return [this.takenPosition[i]!, this.takenCells[i]!];
  }

  /** Frees one taken record by its place (see takenPlace). */
  releaseRecord(position: number, cells: number): RingStatus {
    this.releaseOne(position, cells);
    const status = this.walk();
    this.notifySpace();
    return status;
  }

  /** Forgets the last take without freeing it (its record went to releaseRecord). */
  forgetTaken(): void {
    this.takenCount = 0;
  }

  // In order: move R ourselves; out of order: mark the record freed for whoever moves R to it.
  // Both sides seq-cst (this CAS or store, walk()'s loads), so no freed record is left behind.
  protected releaseOne(position: number, cells: number): boolean {
    if (Atomics.compareExchange(this.u32, W_RELEASED, position, (position + cells) >>> 0) === position) return true;
    Atomics.store(this.i64, Q_META + (position & this.mask), pack(2 * position + 1, FREED));
    return false;
  }

  /** Advances R over freed records; sets the blocker when a taken one stops it (ring.h Walk). */
  walk(): RingStatus {
    this.blockerKind = BlockerKind.None;
    const u = this.u32;
    const steps = 2 * this.cells + 64;
    for (let step = 0; step < steps; step++) {
      const r = Atomics.load(u, W_RELEASED);
      const h = Atomics.load(u, W_HEAD);
      if (r === h) return RingStatus.Ok;
      const at = this.meta + 2 * (r & this.mask);
      const seq = Atomics.load(u, at);
      const who = Atomics.load(u, at + 1);
      const stable = (): boolean =>
        Atomics.load(u, W_RELEASED) === r && Atomics.load(u, at) === seq && Atomics.load(u, at + 1) === who;
      if ((h - r) >>> 0 > this.cells) {
        if (stable() && Atomics.load(u, W_HEAD) === h) return RingStatus.Corrupt;
        continue;
      }
      const published = (2 * r + 1) >>> 0;
      if ((seq === published && (who === FREED || who === SKIPPED)) || older(seq, (2 * r) >>> 0)) {
        // Freed out of order, a dead producer's record, or one of their continuation cells:
        // one cell at a time, reading no header (a lost race could be reading rewritten cells).
        Atomics.compareExchange(u, W_RELEASED, r, (r + 1) >>> 0);
      } else if (seq === published && who >= FIRST_TOKEN) {
        this.block(BlockerKind.Taken, r, who); // still being read, or its reader died
        return RingStatus.Ok;
      } else if (stable()) {
        return RingStatus.Corrupt;
      }
    }
    return RingStatus.Ok;
  }

  // ---- waiting (ring.h Notify, and the sleeper's side) ----

  /** A consumer about to sleep announces itself; returns the data signal value to wait on. */
  announceWantData(): number {
    const signal = Atomics.load(this.u32, W_DATA_SIGNAL);
    Atomics.store(this.u32, W_DATA_WANTED, 1);
    return signal;
  }

  /** A producer about to sleep: as announceWantData, for space. */
  announceWantSpace(): number {
    const signal = Atomics.load(this.u32, W_SPACE_SIGNAL);
    Atomics.store(this.u32, W_SPACE_WANTED, 1);
    return signal;
  }

  /** After publishing: wakes sleeping consumers, if any announced themselves. */
  notifyData(): boolean {
    return this.notify(W_DATA_WANTED, W_DATA_SIGNAL);
  }

  /** After freeing cells or items: wakes sleeping producers, if any. */
  notifySpace(): boolean {
    return this.notify(W_SPACE_WANTED, W_SPACE_SIGNAL);
  }

  /** The data signal's value now (a reader about to park on it reads it before its check). */
  dataSignal(): number {
    return Atomics.load(this.u32, W_DATA_SIGNAL);
  }

  /** Bumps the data signal and wakes every reader parked on it, announced or not. */
  wakeData(): void {
    Atomics.add(this.u32, W_DATA_SIGNAL, 1);
    native.futexWake(this.buffer, this.dataSignalOffset);
  }

  /** Bumps both signals and wakes every sleeper (shutdown, unlink). */
  wakeAll(): void {
    Atomics.add(this.u32, W_DATA_SIGNAL, 1);
    Atomics.add(this.u32, W_SPACE_SIGNAL, 1);
    native.futexWake(this.buffer, this.dataSignalOffset);
    native.futexWake(this.buffer, this.spaceSignalOffset);
  }

  // One waker per sleep pays the syscall: the exchange clears the announcement (ring.h Notify).
  protected notify(wanted: number, signal: number): boolean {
    const u = this.u32;
    if (Atomics.load(u, wanted) === 0 || Atomics.exchange(u, wanted, 0) === 0) return false;
    Atomics.add(u, signal, 1);
    native.futexWake(this.buffer, this.dataSignalOffset + (signal - W_DATA_SIGNAL) * 4);
    return true;
  }
}
