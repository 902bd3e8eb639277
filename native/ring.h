// A lock-free multi-producer multi-consumer ring of variable-length records in shared memory,
// safe against processes that die at any instruction. Plain C++20, no Node-API: src/ring/
// mirrors it line for line (the JS fast path), and native/test/ring_test.cc checks it.
//
// Algorithm: Vyukov's bounded MPMC queue (a sequence tag per cell, a CAS to claim) over cells
// of 56 data bytes, extended to records that span several cells and to crash recovery:
//
// * A cell is 56 data bytes plus its 8-byte meta word: 64 bytes of capacity. Small: what a
//   message costs between two cores is mostly the cache lines it touches (each ~60-70 ns to move
//   here), and a small record in a 120-byte cell touched two data lines where a 56-byte cell
//   touches one (Queue 1->1 small objects: 1.9 M -> 2.6 M msg/s; 24-byte cells were slower again).
// * Positions count cells and grow forever (uint32, wrapping); cell index = position & (N-1).
// * Every cell has a 64-bit meta word {seq, owner}. For the record starting at position x the
//   tag seq is 2x while its producer writes it (owner = that producer's token), 2x+1 once
//   published (owner 0), and stays 2x+1 while a consumer holds it (owner = consumer's token).
//   A tag older than 2x (int32 distance) means "nothing of this lap here yet". The owner is
//   written by the same CAS that claims, so whoever is blocked by a claim knows whom to check
//   with isOwnerAlive() (native/liveness.cc; the ring itself never decides liveness).
// * A producer first claims the cell at E.tail (CAS of its meta to {2t, me}); while it holds it
//   nobody else can move E, so it checks that E.tail is still t (else it was stale: undo), tags
//   the starts of the other records of its batch, and stores E = {t+K, items+n} in one 64-bit
//   store. Then it writes the records and publishes each: tag 2x+1, then owner 0.
// * A consumer claims the record at D.head with a CAS {2h+1, 0} -> {2h+1, me}, which also
//   freezes D (only the holder of the cell at D.head moves D), tags the rest of its batch, and
//   stores D = {h+K, items+n}. It copies the payload out, then frees the cells: in order, by
//   advancing R with a CAS, or (when an earlier record is still being read) by marking the cell
//   freed so that whoever releases the earlier one walks R over it.
// * Producers write a cell only once R has passed it (t + K - R <= N), consumers only read
//   published records, so nobody reads half a record. Records never straddle the end of the data
//   array: one that would is laid out with its payload from cell 0 ("wrapped").
//
// Crashes (the caller checks blocker.owner with isOwnerAlive after a short grace, then calls
// Recover): a producer that died holding the claim at E.tail before moving E: its claim is reset,
// nothing was visible. One that died after moving E: the record's first cell is marked skipped
// and D steps over it and its continuation cells one cell at a time (a cell whose tag is older
// than its position, below E.tail, is never a record start, because starts are tagged before E
// passes them). A consumer that died before moving D: the record is handed back (published). One
// that died after: the item is lost, the recoverer takes the record over and releases it.
//
// Layout (offsets from the ring base, which is 64-byte aligned; all integers little-endian):
//
//   0    u32 magic 'MPRG'     4 u32 version     8 u32 cells N (power of two)
//   12   u32 cell data bytes (56)               16 u32 max items (0: no bound)
//   64   u64 E = tail (low) | enqueued items (high)          own cache line (producers)
//   128  u64 D = head (low) | dequeued items (high)          own cache line (consumers)
//   192  u32 R = released                                    own cache line
//   256  u32 data signal (futex), 260 u32 data wanted (a consumer sleeps: wake it)
//   320  u32 space signal (futex), 324 u32 space wanted (a producer sleeps)
//   512  meta[N]: u64 {seq (low), owner (high)}
//   512 + 8N  data[N * 56]: a record is a header {u32 length, u32 flags | check << 16} and
//             its payload, contiguous; check = start position & 0xffff.
//
// Owner values below 0x10000 are never tokens (liveness tokens have a nonzero slot in the high
// half): 0 = nobody, 1 = freed, 2 = skipped (its producer died).
//
// Memory orders: tags and E/D are stored with release (seq_cst where a sleeper must not be
// missed, see Publish) and loaded with acquire, so that a record's bytes are visible to whoever
// sees its tag, and E/D values to whoever sees the claim that froze them. Every value read from
// shared memory is read once into a local and bounds-checked: a corrupt ring yields kCorrupt.
#pragma once

#include <atomic>
#include <bit>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "futex.h"

namespace mp::ring {

static_assert(std::endian::native == std::endian::little, "the layout is little-endian");

inline constexpr uint32_t kMagic = 0x4752504d;  // 'MPRG'
inline constexpr uint32_t kVersion = 2;         // 2: 56-byte cells (1: 120)
inline constexpr uint32_t kCellData = 56;
inline constexpr uint32_t kCellBytes = kCellData + 8;  // data plus its meta word
inline constexpr uint32_t kRecordHeader = 8;
inline constexpr uint32_t kControlBytes = 512;
inline constexpr uint32_t kMinCells = 16;
inline constexpr uint32_t kMaxCells = 1u << 24;  // 1 GiB of cells
inline constexpr uint32_t kMaxUserFlags = 0xff;

inline constexpr uint32_t kNobody = 0;
inline constexpr uint32_t kFreed = 1;
inline constexpr uint32_t kSkipped = 2;
inline constexpr uint32_t kFirstToken = 0x10000;

namespace offset {
inline constexpr size_t kMagic = 0, kVersion = 4, kCells = 8, kCellData = 12, kMaxItems = 16;
inline constexpr size_t kTail = 64, kEnqueued = 68;
inline constexpr size_t kHead = 128, kDequeued = 132;
inline constexpr size_t kReleased = 192;
inline constexpr size_t kDataSignal = 256, kDataWanted = 260;
inline constexpr size_t kSpaceSignal = 320, kSpaceWanted = 324;
inline constexpr size_t kMeta = kControlBytes;
}  // namespace offset
static_assert(offset::kTail % 8 == 0 && offset::kHead % 8 == 0 && offset::kMeta % 8 == 0);
static_assert(offset::kHead - offset::kTail >= 64 && offset::kReleased - offset::kHead >= 64);
static_assert(offset::kSpaceWanted < kControlBytes && kControlBytes % 64 == 0);

enum class Status : int32_t {
  kOk = 0,
  kEmpty = 1,      // nothing published at the head
  kFull = 2,       // no room (cells or items) for even one record
  kBusy = 3,       // another party holds what we need; see the blocker
  kWrongKind = 4,  // the head record's flags were refused; it stays in place
  kTooBig = 5,     // larger than MaxInline(): the caller must carry it elsewhere
  kCorrupt = 6,    // shared memory breaks an invariant
};

// Who is in the way, for the caller's liveness check and Recover().
struct Blocker {
  enum Kind : uint32_t { kNone = 0, kClaim = 1, kUnpublished = 2, kTaken = 3 };
  uint32_t kind = kNone;
  uint32_t position = 0;
  uint32_t owner = 0;
};

struct Slice {
  const void* data;
  uint32_t length;
  uint32_t flags;  // user flags, at most kMaxUserFlags
};

struct Record {
  uint32_t position;
  uint32_t cells;
  uint32_t length;
  uint32_t flags;
  const uint8_t* payload;
};

inline constexpr bool IsOlder(uint32_t seq, uint32_t tag) {
  return static_cast<int32_t>(tag - seq) > 0;
}
inline constexpr uint64_t Pack(uint32_t low, uint32_t high) {
  return static_cast<uint64_t>(high) << 32 | low;
}

class Ring {
 public:
  // Bytes of a ring of `cells` cells (control block + meta + data).
  static constexpr size_t BytesFor(uint32_t cells) {
    return kControlBytes + static_cast<size_t>(cells) * kCellBytes;
  }
  // The cell count for a capacity in bytes: a power of two, clamped to the limits.
  static constexpr uint32_t CellsFor(uint64_t capacity_bytes) {
    uint64_t cells = capacity_bytes / kCellBytes;
    if (cells < kMinCells) return kMinCells;
    if (cells > kMaxCells) return kMaxCells;
    return static_cast<uint32_t>(std::bit_ceil(cells));
  }

  // Lays a fresh ring over zeroed memory. `start` is the first position (tests use it to cross
  // the 32-bit wrap). False when the arguments do not describe a ring that fits.
  static bool Init(void* base, size_t bytes, uint32_t cells, uint32_t max_items,
                   uint32_t start = 0) {
    if (!std::has_single_bit(cells) || cells < kMinCells || cells > kMaxCells) return false;
    if (bytes < BytesFor(cells) || reinterpret_cast<uintptr_t>(base) % 64 != 0) return false;
    auto* b = static_cast<uint8_t*>(base);
    std::memset(b, 0, kControlBytes);
    Word(b, offset::kVersion) = kVersion;
    Word(b, offset::kCells) = cells;
    Word(b, offset::kCellData) = kCellData;
    Word(b, offset::kMaxItems) = max_items;
    Word(b, offset::kTail) = start;
    Word(b, offset::kHead) = start;
    Word(b, offset::kReleased) = start;
    auto* meta = reinterpret_cast<uint64_t*>(b + offset::kMeta);
    // Cell i first serves position p = start + i (mod N): give it a tag just older than 2p.
    for (uint32_t i = 0; i < cells; i++) {
      uint32_t p = start + ((i - start) & (cells - 1));
      meta[i] = Pack(2 * p - 1, kFreed);
    }
    // The magic goes last, with release: an attacher that sees it sees the rest.
    std::atomic_ref<uint32_t>(Word(b, offset::kMagic)).store(kMagic, std::memory_order_release);
    return true;
  }

  // Attaches to a ring another process laid out. The geometry is read once and kept here, so a
  // later scribble over the control block cannot move our bounds.
  static bool Attach(void* base, size_t bytes, Ring* out) {
    if (bytes < kControlBytes || reinterpret_cast<uintptr_t>(base) % 64 != 0) return false;
    auto* b = static_cast<uint8_t*>(base);
    if (std::atomic_ref<uint32_t>(Word(b, offset::kMagic)).load(std::memory_order_acquire) !=
            kMagic ||
        Word(b, offset::kVersion) != kVersion || Word(b, offset::kCellData) != kCellData) {
      return false;
    }
    uint32_t cells = Word(b, offset::kCells);
    if (!std::has_single_bit(cells) || cells < kMinCells || cells > kMaxCells) return false;
    if (bytes < BytesFor(cells)) return false;
    out->base_ = b;
    out->cells_ = cells;
    out->mask_ = cells - 1;
    out->max_items_ = Word(b, offset::kMaxItems);
    out->meta_ = reinterpret_cast<uint64_t*>(b + offset::kMeta);
    out->data_ = b + offset::kMeta + static_cast<size_t>(cells) * 8;
    out->tail_cache_ = out->Tail();
    out->released_cache_ = out->Load32(offset::kReleased);
    return true;
  }

  uint32_t Cells() const { return cells_; }
  const void* Base() const { return base_; }
  uint32_t MaxItems() const { return max_items_; }
  // The largest payload a record can carry: half the ring, so that even a wrapped record fits.
  uint32_t MaxInline() const { return cells_ / 2 * kCellData; }

  // Cells taken by a record of `length` bytes starting at `position` (wrapped if need be).
  uint32_t CellsOf(uint32_t position, uint32_t length) const {
    uint32_t index = position & mask_;
    uint32_t k = (kRecordHeader + length + kCellData - 1) / kCellData;
    if (index + k <= cells_) return k;
    return (cells_ - index) + (length + kCellData - 1) / kCellData;
  }
  // Offset in the data array of a record's payload.
  size_t PayloadOffset(uint32_t position, uint32_t length) const {
    uint32_t index = position & mask_;
    uint32_t k = (kRecordHeader + length + kCellData - 1) / kCellData;
    return index + k <= cells_ ? static_cast<size_t>(index) * kCellData + kRecordHeader : 0;
  }

  // Items enqueued and not yet taken (approximate while others work).
  uint32_t Size() const {
    uint32_t n = static_cast<uint32_t>(Load64(offset::kTail) >> 32) -
                 static_cast<uint32_t>(Load64(offset::kHead) >> 32);
    return static_cast<int32_t>(n) < 0 ? 0 : n;
  }

  // ---- producer ----

  // Puts a prefix of `items` (at least one, as many as fit) as one claim; `*put` says how many.
  // kTooBig when the first item is larger than MaxInline(); a later one ends the prefix.
  Status TryPut(const Slice* items, uint32_t count, uint32_t owner, uint32_t* put,
                Blocker* blocker) {
    *put = 0;
    *blocker = Blocker{};
    uint32_t fit = 0;
    while (fit < count && items[fit].length <= MaxInline()) fit++;
    if (count == 0) return Status::kOk;
    if (fit == 0) return Status::kTooBig;
    return Put(items, fit, owner, put, blocker);
  }

  // ---- consumer ----

  // Takes up to `max` consecutive published records (at least one) into `out`. A record whose
  // flags intersect `reject` stops the batch; as the first record it makes kWrongKind and stays.
  Status TryTake(uint32_t owner, uint32_t max, uint32_t reject, Record* out, uint32_t* taken,
                 Blocker* blocker);

  // Frees the cells of records taken by TryTake (or handed over by Recover), in any order.
  Status Release(const Record* records, uint32_t count);

  // Advances R over every freed record at its front. Sets `blocker` when a taken record stops it.
  Status Walk(Blocker* blocker);

  // After the caller checked that blocker.owner is dead: clears its claim. A record that dies
  // with it (its producer died before publishing, or its consumer after taking it) is shown to
  // `dispose` first, so the caller can free what it refers to (`complete` false: the producer
  // died while writing, so only a plausible header was found and the payload may be partial).
  using Dispose = void (*)(void* context, const Record& record, bool complete);
  Status Recover(const Blocker& blocker, uint32_t owner, Dispose dispose, void* context);

  // ---- waiting ----
  uint32_t* DataSignal() { return &Word(base_, offset::kDataSignal); }
  uint32_t* DataWanted() { return &Word(base_, offset::kDataWanted); }
  uint32_t* SpaceSignal() { return &Word(base_, offset::kSpaceSignal); }
  uint32_t* SpaceWanted() { return &Word(base_, offset::kSpaceWanted); }

  // Wakes every sleeper on `signal` if one announced itself in `wanted`. The exchange is
  // seq_cst: paired with the sleeper's store of `wanted` and its re-check, one of the two sees
  // the other (Dekker), so no wake-up is lost; and one waker per sleep pays the syscall.
  static void Notify(uint32_t* signal, uint32_t* wanted) {
    std::atomic_ref<uint32_t> w(*wanted);
    if (w.load(std::memory_order_seq_cst) == 0 || w.exchange(0, std::memory_order_seq_cst) == 0) {
      return;
    }
    std::atomic_ref<uint32_t>(*signal).fetch_add(1, std::memory_order_seq_cst);
    futex::Wake(signal, INT32_MAX);
  }

 private:
  static uint32_t& Word(uint8_t* base, size_t at) {
    return *reinterpret_cast<uint32_t*>(base + at);
  }
  uint32_t Load32(size_t at) const {
    return std::atomic_ref<uint32_t>(Word(base_, at)).load(std::memory_order_acquire);
  }
  // E.tail and D.head are the low halves of 64-bit words, always read as such.
  uint32_t Tail() const { return static_cast<uint32_t>(Load64(offset::kTail)); }
  uint32_t Head() const { return static_cast<uint32_t>(Load64(offset::kHead)); }
  // Retries after a lost race are bounded by the work that can be left: at most N records and
  // N continuation cells lie between R and E.
  uint32_t Steps() const { return 2 * cells_ + 64; }
  uint64_t Load64(size_t at) const {
    return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(base_ + at))
        .load(std::memory_order_acquire);
  }
  void Store64(size_t at, uint64_t value, std::memory_order order = std::memory_order_release) {
    std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(base_ + at)).store(value, order);
  }
  bool Cas32(size_t at, uint32_t expected, uint32_t desired) {
    return std::atomic_ref<uint32_t>(Word(base_, at))
        .compare_exchange_strong(expected, desired, std::memory_order_acq_rel);
  }
  bool Cas64(size_t at, uint64_t expected, uint64_t desired) {
    return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(base_ + at))
        .compare_exchange_strong(expected, desired, std::memory_order_acq_rel);
  }
  std::atomic_ref<uint64_t> Meta(uint32_t position) {
    return std::atomic_ref<uint64_t>(meta_[position & mask_]);
  }
  // One half of a meta word (0: seq, 1: owner). Some transitions store a half alone where the
  // state in between is itself a valid state (see Put); JavaScript then needs no BigInt.
  std::atomic_ref<uint32_t> Half(uint32_t position, int half) {
    return std::atomic_ref<uint32_t>(reinterpret_cast<uint32_t*>(&meta_[position & mask_])[half]);
  }
  size_t MetaAt(uint32_t position) const {
    return offset::kMeta + static_cast<size_t>(position & mask_) * 8;
  }
  uint8_t* HeaderAt(uint32_t position) {
    return data_ + static_cast<size_t>(position & mask_) * kCellData;
  }

  // Headers are read and written with relaxed atomics: a reader that lost a race (the record was
  // taken and its cells reused) may read one while it is rewritten; it then fails its CAS or
  // its re-check and drops what it read.
  uint32_t LoadHeaderWord(uint32_t position, uint32_t word) {
    return std::atomic_ref<uint32_t>(reinterpret_cast<uint32_t*>(HeaderAt(position))[word])
        .load(std::memory_order_relaxed);
  }
  void StoreHeader(uint32_t position, uint32_t length, uint32_t flags) {
    auto* words = reinterpret_cast<uint32_t*>(HeaderAt(position));
    std::atomic_ref<uint32_t>(words[0]).store(length, std::memory_order_relaxed);
    std::atomic_ref<uint32_t>(words[1]).store(flags | (position & 0xffff) << 16,
                                              std::memory_order_relaxed);
  }

  // Reads and checks the header of the record at `position`; false when it is not a header
  // written for that position (corrupt, or the record moved on under a stale reader).
  bool ReadHeader(uint32_t position, Record* record) {
    uint32_t length = LoadHeaderWord(position, 0);
    uint32_t flags = LoadHeaderWord(position, 1);
    if ((flags >> 16) != (position & 0xffff) || (flags & 0xff00) != 0) return false;
    if (length > MaxInline()) return false;
    record->position = position;
    record->length = length;
    record->flags = flags & kMaxUserFlags;
    record->cells = CellsOf(position, length);
    record->payload = data_ + PayloadOffset(position, length);
    return true;
  }

  // Whether [position, position + cells) lies below E.tail (checked against the private copy
  // first: the distance to a valid tail is at most N, so a stale copy cannot pass by wrapping).
  bool BelowTail(uint32_t position, uint32_t cells) {
    uint32_t room = tail_cache_ - position;
    if (room >= cells && room <= cells_) return true;
    tail_cache_ = Tail();
    room = tail_cache_ - position;
    return room >= cells && room <= cells_;
  }

  Status Put(const Slice* items, uint32_t count, uint32_t owner, uint32_t* put, Blocker* blocker);

  uint8_t* base_ = nullptr;
  uint64_t* meta_ = nullptr;
  uint8_t* data_ = nullptr;
  uint32_t cells_ = 0;
  uint32_t mask_ = 0;
  uint32_t max_items_ = 0;
  // Private, possibly stale copies of E.tail and R: they only grow, so a check that passes
  // against the copy passes against the truth, and the shared lines are read only when it fails.
  uint32_t tail_cache_ = 0;
  uint32_t released_cache_ = 0;
};

}  // namespace mp::ring

#include "ring_impl.h"  // IWYU pragma: keep
