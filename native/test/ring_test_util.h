// Helpers shared by ring_test.cc and ring_fuzz_test.cc.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "../ring.h"
#include "check.h"

namespace mp::ring_test {

using ring::Blocker;
using ring::Record;
using ring::Ring;
using ring::Slice;
using ring::Status;

// A ring in MAP_SHARED anonymous memory, so forked children share it.
struct SharedRing {
  void* base = nullptr;
  size_t bytes = 0;

  explicit SharedRing(uint32_t cells, uint32_t max_items = 0, uint32_t start = 0) {
    bytes = Ring::BytesFor(cells);
    base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(base != MAP_FAILED);
    CHECK(Ring::Init(base, bytes, cells, max_items, start));
  }
  ~SharedRing() { munmap(base, bytes); }
  SharedRing(const SharedRing&) = delete;
  SharedRing& operator=(const SharedRing&) = delete;

  Ring Attach() const {
    Ring r;
    CHECK(Ring::Attach(base, bytes, &r));
    return r;
  }
  uint32_t Cells() const { return static_cast<uint32_t*>(base)[ring::offset::kCells / 4]; }
  // Writes a meta word by hand: the state a dead process would leave.
  void SetMeta(uint32_t position, uint32_t seq, uint32_t owner) {
    auto* meta = reinterpret_cast<uint64_t*>(static_cast<uint8_t*>(base) + ring::offset::kMeta);
    meta[position & (Cells() - 1)] = ring::Pack(seq, owner);
  }
  void SetE(uint32_t tail, uint32_t items) {
    *reinterpret_cast<uint64_t*>(static_cast<uint8_t*>(base) + ring::offset::kTail) =
        ring::Pack(tail, items);
  }
};

// Deterministic bytes for message `i` of `length` bytes.
inline std::vector<uint8_t> Payload(uint32_t i, size_t length) {
  std::vector<uint8_t> bytes(length);
  for (size_t j = 0; j < length; j++) bytes[j] = static_cast<uint8_t>(i * 31 + j * 7 + length);
  return bytes;
}

inline Status PutOne(Ring& r, uint32_t owner, const std::vector<uint8_t>& bytes,
                     uint32_t flags = 0) {
  Slice slice{bytes.data(), static_cast<uint32_t>(bytes.size()), flags};
  uint32_t put = 0;
  Blocker blocker;
  Status status = r.TryPut(&slice, 1, owner, &put, &blocker);
  if (status == Status::kOk) CHECK(put == 1);
  return status;
}

struct Taken {
  Status status = Status::kOk;
  uint32_t flags = 0;
  std::vector<uint8_t> bytes;
};

// Takes one record, copies it out and releases it.
inline Taken Take(Ring& r, uint32_t owner) {
  Record record;
  uint32_t n = 0;
  Blocker blocker;
  Taken out;
  out.status = r.TryTake(owner, 1, 0, &record, &n, &blocker);
  if (out.status != Status::kOk) return out;
  CHECK(n == 1);
  out.flags = record.flags;
  out.bytes.assign(record.payload, record.payload + record.length);
  r.Release(&record, 1);
  return out;
}

}  // namespace mp::ring_test
