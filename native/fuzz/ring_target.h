// The fuzz target of ring.h over untrusted shared memory, shared by the libFuzzer entry point
// (ring_fuzz.cc, built with clang by scripts/fuzz.sh) and the plain-C++ replay of its seeds and
// regressions (native/test/fuzz_regressions_test.cc, part of the normal native tests).
//
// Input: [u8 config][u16 script length L][L script bytes][image]. The ring is laid out fresh
// (Init) in memory of exactly Ring::BytesFor(cells) bytes, so AddressSanitizer sees any read
// past it; then the image overwrites its first bytes, as another process could. Unless config
// asks for a raw header, magic, version, cell size and cell count are put back afterwards, so
// that most inputs attach and exercise the operations rather than Attach's checks.
//
// The script then runs every operation a reader, a producer or a recoverer performs (take, put,
// release, walk, recover with a real or an invented blocker, size, re-attach), interleaved with
// scribbles over the memory (a live hostile process). The ring must never read or write outside
// its memory, crash, or loop forever, and what it hands out must lie inside the data array.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "../ring.h"

namespace mp::ring_fuzz {

using ring::Blocker;
using ring::Record;
using ring::Ring;
using ring::Slice;
using ring::Status;

#define RING_FUZZ_CHECK(cond)                                                                     \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      std::fprintf(stderr, "%s:%d: ring fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)

inline constexpr uint32_t kCellChoices[4] = {16, 32, 64, 128};
inline constexpr uint32_t kOwners[4] = {0x10001, 0x20002, 0x30003, 0xfffe0007};
inline constexpr size_t kMaxHeld = 64;

enum Op : uint8_t {
  kTake = 0,
  kRelease = 1,
  kWalk = 2,
  kQuery = 3,
  kRecoverBlocker = 4,
  kRecoverInvented = 5,
  kPut = 6,
  kScribble = 7,
  kReattach = 8,
  kForget = 9,
  kOpCount = 10,
};

class Script {
 public:
  Script(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool Done() const { return at_ >= size_; }
  uint8_t U8() { return at_ < size_ ? data_[at_++] : 0; }
  uint16_t U16() { return static_cast<uint16_t>(U8() | U8() << 8); }
  uint32_t U32() { return static_cast<uint32_t>(U16()) | static_cast<uint32_t>(U16()) << 16; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

struct State {
  uint8_t* base;
  size_t bytes;
  Ring ring;
  Blocker blocker;  // the last one an operation reported
  std::vector<Record> held;
  uint64_t sink = 0;  // payload bytes folded in, so that every byte handed out is read

  // Everything the ring hands out must lie in its data array.
  void CheckRecord(const Record& r) {
    const uint8_t* data = base + ring::kControlBytes + static_cast<size_t>(ring.Cells()) * 8;
    const uint8_t* data_end = data + static_cast<size_t>(ring.Cells()) * ring::kCellData;
    RING_FUZZ_CHECK(r.length <= ring.MaxInline());
    RING_FUZZ_CHECK(r.cells >= 1 && r.cells <= ring.Cells());
    RING_FUZZ_CHECK(r.flags <= ring::kMaxUserFlags);
    RING_FUZZ_CHECK(r.payload >= data && r.payload <= data_end &&
                    static_cast<size_t>(data_end - r.payload) >= r.length);
    for (uint32_t i = 0; i < r.length; i++) sink += r.payload[i];
  }
  void Note(Status status, const Blocker& b) {
    RING_FUZZ_CHECK(static_cast<int32_t>(status) >= 0 && static_cast<int32_t>(status) <= 6);
    if (b.kind != Blocker::kNone) blocker = b;
  }
};

inline void Dispose(void* context, const Record& record, bool) {
  static_cast<State*>(context)->CheckRecord(record);
}

inline void RunOp(State& s, Script& script) {
  Ring& r = s.ring;
  uint8_t op = script.U8() % kOpCount;
  switch (op) {
    case kTake: {
      uint8_t a = script.U8();
      uint32_t max = 1 + (a & 7);
      uint32_t reject = script.U8() & 0x0f;  // mostly no bits set in real records: keep it rare
      uint32_t owner = kOwners[(a >> 3) & 3];
      Record out[8];
      uint32_t taken = 0;
      Blocker b;
      Status status = r.TryTake(owner, max, reject, out, &taken, &b);
      s.Note(status, b);
      RING_FUZZ_CHECK(taken <= max);
      RING_FUZZ_CHECK(status == Status::kOk || taken == 0);
      for (uint32_t i = 0; i < taken; i++) s.CheckRecord(out[i]);
      if (taken == 0) break;
      if ((a & 0x80) != 0 && s.held.size() + taken <= kMaxHeld) {
        s.held.insert(s.held.end(), out, out + taken);  // read later, maybe out of order
      } else {
        s.Note(r.Release(out, taken), Blocker{});
      }
      break;
    }
    case kRelease: {
      uint8_t a = script.U8();
      size_t n = s.held.size() < static_cast<size_t>(1 + (a & 7)) ? s.held.size() : 1 + (a & 7);
      if (n == 0) break;
      if ((a & 0x80) != 0) {  // from the back: out of order
        std::vector<Record> some(s.held.end() - static_cast<std::ptrdiff_t>(n), s.held.end());
        s.held.resize(s.held.size() - n);
        for (size_t i = some.size(); i-- > 0;) s.Note(r.Release(&some[i], 1), Blocker{});
      } else {
        s.Note(r.Release(s.held.data(), static_cast<uint32_t>(n)), Blocker{});
        s.held.erase(s.held.begin(), s.held.begin() + static_cast<std::ptrdiff_t>(n));
      }
      break;
    }
    case kWalk: {
      Blocker b;
      s.Note(r.Walk(&b), b);
      break;
    }
    case kQuery: {
      s.sink += r.Size() + r.MaxInline() + r.MaxItems();
      uint32_t position = script.U32();
      uint32_t length = script.U32() % (r.MaxInline() + 1);
      uint32_t cells = r.CellsOf(position, length);
      RING_FUZZ_CHECK(cells >= 1 && cells <= r.Cells());
      break;
    }
    case kRecoverBlocker: {
      uint8_t a = script.U8();
      Blocker b = s.blocker;
      s.blocker = Blocker{};
      s.Note(r.Recover(b, kOwners[a & 3], (a & 4) != 0 ? Dispose : nullptr, &s), Blocker{});
      break;
    }
    case kRecoverInvented: {  // the N-API binding passes JS's blocker through unchecked
      Blocker b;
      b.kind = script.U8() % 5;
      b.position = script.U32();
      b.owner = script.U32();
      if ((b.position & 0x80000000u) == 0 && !s.held.empty()) b.position = s.held.back().position;
      s.Note(r.Recover(b, kOwners[b.owner & 3], Dispose, &s), Blocker{});
      break;
    }
    case kPut: {
      uint8_t a = script.U8();
      uint32_t count = 1 + (a & 3);
      static uint8_t payload[128 * ring::kCellData];
      Slice items[4];
      for (uint32_t i = 0; i < count; i++) {
        uint16_t length = script.U16();
        // Mostly lengths that fit; sometimes past MaxInline (refused with kTooBig).
        uint32_t max = (a & 0x80) != 0 ? sizeof payload : r.MaxInline();
        items[i] = Slice{payload, length % (max + 1), script.U8()};
      }
      uint32_t put = 0;
      Blocker b;
      Status status = r.TryPut(items, count, kOwners[(a >> 2) & 3], &put, &b);
      s.Note(status, b);
      RING_FUZZ_CHECK(put <= count && (status == Status::kOk) == (put > 0));
      break;
    }
    case kScribble: {
      uint8_t a = script.U8();
      uint32_t at = script.U32() % s.bytes;
      uint32_t value = script.U32();
      if ((a & 1) != 0 && at + 4 <= s.bytes && at % 4 == 0) {
        std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(s.base + at))
            .store(value, std::memory_order_relaxed);
      } else {
        std::atomic_ref<uint8_t>(s.base[at])
            .store(static_cast<uint8_t>(value), std::memory_order_relaxed);
      }
      break;
    }
    case kReattach: {
      Ring again;
      if (Ring::Attach(s.base, s.bytes, &again)) {
        // Records held through the old view stay valid: the geometry of this memory is fixed.
        if (again.Cells() == r.Cells()) s.ring = again;
      }
      break;
    }
    case kForget:  // a consumer dies holding what it took: Recover must clean up after it
      if (!s.held.empty()) s.held.pop_back();
      break;
    default:
      break;
  }
}

// Runs one input. Returns 0 (libFuzzer's convention); aborts on a broken invariant.
inline int RunOne(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  uint8_t config = data[0];
  size_t script_length = static_cast<size_t>(data[1] | data[2] << 8);
  data += 3;
  size -= 3;
  if (script_length > size) script_length = size;
  const uint8_t* image = data + script_length;
  size_t image_length = size - script_length;

  uint32_t cells = kCellChoices[config & 3];
  size_t bytes = Ring::BytesFor(cells);
  // Exactly the ring's bytes (a multiple of 64), so that ASan flags the first byte past them.
  auto* base = static_cast<uint8_t*>(::operator new(bytes, std::align_val_t{64}));
  std::memset(base, 0, bytes);
  uint32_t start = (config & 8) != 0 ? 0u - 8u * (1 + (config >> 4)) : 0;  // near the wrap
  RING_FUZZ_CHECK(Ring::Init(base, bytes, cells, (config & 0x40) != 0 ? 5 : 0, start));
  std::memcpy(base, image, image_length < bytes ? image_length : bytes);
  if ((config & 4) == 0) {
    auto word = [&](size_t at) -> uint32_t& { return *reinterpret_cast<uint32_t*>(base + at); };
    word(ring::offset::kMagic) = ring::kMagic;
    word(ring::offset::kVersion) = ring::kVersion;
    word(ring::offset::kCellData) = ring::kCellData;
    word(ring::offset::kCells) = cells;
  }

  State s{base, bytes, Ring{}, Blocker{}, {}, 0};
  if (Ring::Attach(base, bytes, &s.ring)) {
    RING_FUZZ_CHECK(s.ring.Cells() <= cells);  // Attach refuses a geometry that does not fit
    Script script(data, script_length);
    while (!script.Done()) RunOp(s, script);
  }
  ::operator delete(base, std::align_val_t{64});
  return s.sink == 0xdeadbeefcafe ? 1 : 0;  // keep the reads; never true in practice
}

// ---- seeds: valid states a real ring passes through, each with a script that works on it ----

inline void Append(std::vector<uint8_t>& out, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}

// A seed: config, the script, and the image of a ring brought to some state by `prepare`.
template <typename Prepare>
std::vector<uint8_t> MakeSeed(uint8_t config, const std::vector<uint8_t>& script, Prepare prepare) {
  uint32_t cells = kCellChoices[config & 3];
  size_t bytes = Ring::BytesFor(cells);
  auto* base = static_cast<uint8_t*>(::operator new(bytes, std::align_val_t{64}));
  std::memset(base, 0, bytes);
  uint32_t start = (config & 8) != 0 ? 0u - 8u * (1 + (config >> 4)) : 0;
  RING_FUZZ_CHECK(Ring::Init(base, bytes, cells, (config & 0x40) != 0 ? 5 : 0, start));
  Ring r;
  RING_FUZZ_CHECK(Ring::Attach(base, bytes, &r));
  prepare(r, base);
  std::vector<uint8_t> seed{config, static_cast<uint8_t>(script.size()),
                            static_cast<uint8_t>(script.size() >> 8)};
  Append(seed, script.data(), script.size());
  Append(seed, base, bytes);
  ::operator delete(base, std::align_val_t{64});
  return seed;
}

inline void PutN(Ring& r, uint32_t owner, uint32_t n, uint32_t length) {
  static uint8_t payload[64 * ring::kCellData];
  for (uint32_t i = 0; i < sizeof payload; i++) payload[i] = static_cast<uint8_t>(i * 7 + n);
  for (uint32_t i = 0; i < n; i++) {
    Slice slice{payload, length + i * 13 % 97, i & 3};
    uint32_t put = 0;
    Blocker b;
    r.TryPut(&slice, 1, owner, &put, &b);
  }
}

inline void SetMeta(uint8_t* base, uint32_t cells, uint32_t position, uint32_t seq,
                    uint32_t owner) {
  auto* meta = reinterpret_cast<uint64_t*>(base + ring::offset::kMeta);
  meta[position & (cells - 1)] = ring::Pack(seq, owner);
}

inline std::vector<std::vector<uint8_t>> Seeds() {
  // A script that touches every operation: take (kept, and released at once), put, walk,
  // recover the blocker, query, re-attach, release out of order.
  const std::vector<uint8_t> tour = {kTake,    0x81,
                                     0,        kTake,
                                     0x02,     0,
                                     kPut,     0x01,
                                     40,       0,
                                     1,        200,
                                     0,        2,
                                     kWalk,    kRecoverBlocker,
                                     4,        kTake,
                                     0x8f,     0,
                                     kRelease, 0x81,
                                     kQuery,   1,
                                     0,        0,
                                     0,        100,
                                     0,        0,
                                     0,        kReattach,
                                     kRelease, 0x07,
                                     kTake,    0x07,
                                     0,        kRecoverInvented,
                                     3,        0,
                                     0,        0,
                                     0,        1,
                                     0,        1,
                                     0,        kWalk};
  const std::vector<uint8_t> drain = {kTake, 0x07, 0, kTake, 0x07, 0,    kTake, 0x07, 0,
                                      kTake, 0x07, 0, kWalk, kPut, 0x03, 10,    0,    0,
                                      20,    0,    0, 30,    0,    0,    40,    0,    0};
  const std::vector<uint8_t> recover = {kTake,
                                        0x00,
                                        0,
                                        kRecoverBlocker,
                                        0x04,
                                        kTake,
                                        0x00,
                                        0,
                                        kRecoverBlocker,
                                        0x05,
                                        kWalk,
                                        kPut,
                                        0x00,
                                        10,
                                        0,
                                        0,
                                        kTake,
                                        0x00,
                                        0};
  std::vector<std::vector<uint8_t>> seeds;
  for (uint8_t config : {0x00, 0x01, 0x08, 0x49}) {
    uint32_t cells = kCellChoices[config & 3];
    seeds.push_back(MakeSeed(config, tour, [](Ring&, uint8_t*) {}));
    seeds.push_back(MakeSeed(config, tour, [](Ring& r, uint8_t*) { PutN(r, 0x10001, 5, 30); }));
    seeds.push_back(MakeSeed(config, drain, [](Ring& r, uint8_t*) {
      PutN(r, 0x10001, 3, 300);  // multi-cell records
      PutN(r, 0x10001, 4, 0);
    }));
    // Records that wrap: fill, drain most, put large ones across the end.
    seeds.push_back(MakeSeed(config, drain, [cells](Ring& r, uint8_t*) {
      PutN(r, 0x10001, cells - 2, 10);
      Record out[8];
      uint32_t taken = 0;
      Blocker b;
      for (uint32_t i = 0; i + 4 < cells; i++) {
        if (r.TryTake(0x20002, 1, 0, out, &taken, &b) == Status::kOk) r.Release(out, taken);
      }
      PutN(r, 0x10001, 2, 250);
    }));
    // Taken and not released (a consumer that died after moving D), then more records.
    seeds.push_back(MakeSeed(config, tour, [](Ring& r, uint8_t*) {
      PutN(r, 0x10001, 4, 50);
      Record out[8];
      uint32_t taken = 0;
      Blocker b;
      r.TryTake(0x20002, 2, 0, out, &taken, &b);
      PutN(r, 0x10001, 2, 50);
    }));
    // A producer that died holding the claim at the tail.
    seeds.push_back(MakeSeed(config, recover, [cells](Ring& r, uint8_t* base) {
      PutN(r, 0x10001, 2, 20);
      uint32_t tail = *reinterpret_cast<uint32_t*>(base + ring::offset::kTail);
      SetMeta(base, cells, tail, 2 * tail, 0x40004);
    }));
    // A producer that died after moving E, before publishing (its record unpublished).
    seeds.push_back(MakeSeed(config, recover, [cells](Ring& r, uint8_t* base) {
      uint32_t head = *reinterpret_cast<uint32_t*>(base + ring::offset::kHead);
      PutN(r, 0x10001, 3, 20);
      SetMeta(base, cells, head, 2 * head, 0x40004);
    }));
    // A consumer that claimed the head and died before moving D.
    seeds.push_back(MakeSeed(config, recover, [cells](Ring& r, uint8_t* base) {
      uint32_t head = *reinterpret_cast<uint32_t*>(base + ring::offset::kHead);
      PutN(r, 0x10001, 3, 20);
      SetMeta(base, cells, head, 2 * head + 1, 0x40004);
    }));
  }
  return seeds;
}

}  // namespace mp::ring_fuzz
