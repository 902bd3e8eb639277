// Tests of ring.h: behaviour, deaths simulated by leaving a claim in each state it can be left in,
// and corrupt memory. ring_fuzz_test.cc runs the threads and forked-processes fuzz tests.
#include "../ring.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <vector>

#include "check.h"
#include "ring_test_util.h"

using namespace mp::ring;
using namespace mp::ring_test;

constexpr uint32_t kA = 0x10001, kB = 0x20002, kC = 0x30003;
constexpr uint32_t kOneCell =
    kCellData - kRecordHeader;  // the longest payload of a one-cell record

TEST(InitAndAttachValidate) {
  SharedRing s(64);
  Ring r;
  CHECK(Ring::Attach(s.base, s.bytes, &r));
  CHECK(r.Cells() == 64 && r.MaxInline() == 32 * kCellData);
  CHECK(!Ring::Attach(s.base, kControlBytes - 1, &r));
  CHECK(!Ring::Attach(s.base, Ring::BytesFor(64) - 1, &r));
  CHECK(!Ring::Init(s.base, s.bytes, 48, 0));  // not a power of two
  CHECK(!Ring::Init(s.base, s.bytes, 8, 0));   // too small
  CHECK(Ring::CellsFor(1 << 20) == 16384 && Ring::CellsFor(0) == kMinCells);
  reinterpret_cast<uint32_t*>(s.base)[0] ^= 1;
  CHECK(!Ring::Attach(s.base, s.bytes, &r));
}

TEST(PutsAndTakesInOrderWithFlags) {
  SharedRing s(64);
  Ring r = s.Attach();
  CHECK(Take(r, kB).status == Status::kEmpty);
  for (uint32_t i = 0; i < 20; i++)
    CHECK(PutOne(r, kA, Payload(i, i * 7 % 300), i % 4) == Status::kOk);
  CHECK(r.Size() == 20);
  for (uint32_t i = 0; i < 20; i++) {
    Taken t = Take(r, kB);
    CHECK(t.status == Status::kOk && t.flags == i % 4 && t.bytes == Payload(i, i * 7 % 300));
  }
  CHECK(Take(r, kB).status == Status::kEmpty && r.Size() == 0);
}

TEST(FullRingRefusesThenAcceptsAfterATake) {
  SharedRing s(16);
  Ring r = s.Attach();
  uint32_t n = 0;
  while (PutOne(r, kA, Payload(n, kOneCell)) == Status::kOk) n++;
  CHECK(n == 16);  // one cell each
  CHECK(PutOne(r, kA, Payload(99, 10)) == Status::kFull);
  CHECK(Take(r, kB).bytes == Payload(0, kOneCell));
  CHECK(PutOne(r, kA, Payload(16, 10)) == Status::kOk);
  CHECK(PutOne(r, kA, Payload(17, r.MaxInline() + 1)) == Status::kTooBig);
}

TEST(MaxItemsBoundsItems) {
  SharedRing s(64, 3);
  Ring r = s.Attach();
  for (int i = 0; i < 3; i++) CHECK(PutOne(r, kA, Payload(i, 1)) == Status::kOk);
  CHECK(PutOne(r, kA, Payload(3, 1)) == Status::kFull);
  Take(r, kB);
  CHECK(PutOne(r, kA, Payload(3, 1)) == Status::kOk);
}

TEST(RecordsWrapAroundTheEndAndThe32BitPositions) {
  for (uint32_t start : {0u, 0xfffffff0u, 0x7ffffff9u}) {
    SharedRing s(32, 0, start);
    Ring r = s.Attach();
    std::mt19937 random(start);
    std::deque<uint32_t> lengths;
    uint32_t put = 0, got = 0;
    for (int round = 0; round < 4000; round++) {
      uint32_t length = random() % (r.MaxInline() + 1);
      if (random() % 3 != 0 && PutOne(r, kA, Payload(put, length)) == Status::kOk) {
        lengths.push_back(length);
        put++;
      }
      Taken t = Take(r, kB);
      if (t.status != Status::kOk) continue;
      CHECK(t.bytes == Payload(got++, lengths.front()));
      lengths.pop_front();
    }
    while (got < put) {
      CHECK(Take(r, kB).bytes == Payload(got++, lengths.front()));
      lengths.pop_front();
    }
    CHECK(r.Size() == 0 && Take(r, kB).status == Status::kEmpty);
  }
}

TEST(CellsThatAreNeverRecordStartsStayYoung) {
  // Two-cell records only: odd cells are never record starts. Every cell's tag must still stay
  // within a lap of its position, or after 2^30 positions it would compare as newer.
  SharedRing s(16, 0, 0xfffffff0u);
  Ring r = s.Attach();
  auto body = Payload(1, 2 * kCellData - kRecordHeader - 4);  // two cells
  for (int i = 0; i < 1000; i++) {
    CHECK(PutOne(r, kA, body) == Status::kOk);
    CHECK(Take(r, kB).status == Status::kOk);
  }
  auto* b = static_cast<uint8_t*>(s.base);
  uint32_t tail = *reinterpret_cast<uint32_t*>(b + offset::kTail);
  auto* meta = reinterpret_cast<uint64_t*>(b + offset::kMeta);
  for (uint32_t c = 0; c < 16; c++) {
    uint32_t next = tail + ((c - tail) & 15);  // the next position that lands on cell c
    uint32_t age = 2 * next - static_cast<uint32_t>(meta[c]);
    CHECK(age > 0 && age <= 2 * 16 + 1);
  }
}

TEST(BatchesPutAndTakeManyRecords) {
  SharedRing s(64);
  Ring r = s.Attach();
  std::vector<std::vector<uint8_t>> bodies;
  std::vector<Slice> slices;
  for (uint32_t i = 0; i < 40; i++) bodies.push_back(Payload(i, i * 13 % 200));
  for (auto& b : bodies) slices.push_back(Slice{b.data(), static_cast<uint32_t>(b.size()), 1});
  uint32_t done = 0, put = 0;
  Blocker blocker;
  while (done < 40) {
    Status st = r.TryPut(slices.data() + done, 40 - done, kA, &put, &blocker);
    if (st == Status::kFull) {
      Record out[64];
      uint32_t taken = 0;
      CHECK(r.TryTake(kB, 64, 0, out, &taken, &blocker) == Status::kOk && taken > 0);
      r.Release(out, taken);
      continue;
    }
    CHECK(st == Status::kOk && put > 0);
    done += put;
  }
}

TEST(RejectedKindStaysInPlace) {
  SharedRing s(64);
  Ring r = s.Attach();
  PutOne(r, kA, Payload(1, 5), 2);
  Record out[1];
  uint32_t taken;
  Blocker b;
  CHECK(r.TryTake(kB, 1, 2, out, &taken, &b) == Status::kWrongKind && taken == 0);
  CHECK(r.Size() == 1);
  Taken t = Take(r, kB);
  CHECK(t.status == Status::kOk && t.flags == 2);
}

TEST(OutOfOrderReleasesAllFreeTheRing) {
  SharedRing s(16);
  Ring r = s.Attach();
  for (int i = 0; i < 16; i++) PutOne(r, kA, Payload(i, 50));
  Record a[1], b[1], c[1];
  uint32_t n;
  Blocker bl;
  r.TryTake(kA, 1, 0, a, &n, &bl);
  r.TryTake(kB, 1, 0, b, &n, &bl);
  r.TryTake(kC, 1, 0, c, &n, &bl);
  r.Release(c, 1);
  r.Release(b, 1);
  CHECK(PutOne(r, kA, Payload(0, 1)) == Status::kFull);
  r.Release(a, 1);
  for (int i = 0; i < 3; i++) CHECK(PutOne(r, kA, Payload(i, 1)) == Status::kOk);
}

// ---- deaths, simulated by leaving a claim in each state it can be left in ----

TEST(ProducerDeadHoldingTheTailClaimIsReset) {
  SharedRing s(16);
  Ring r = s.Attach();
  s.SetMeta(0, 0, kA);  // kA claimed position 0 and died before moving E
  CHECK(Take(r, kB).status == Status::kEmpty);
  Blocker b;
  uint32_t put;
  auto body = Payload(1, 10);
  Slice slice{body.data(), 10, 0};
  CHECK(r.TryPut(&slice, 1, kB, &put, &b) == Status::kBusy);
  CHECK(b.kind == Blocker::kClaim && b.owner == kA && b.position == 0);
  CHECK(r.Recover(b, kB, nullptr, nullptr) == Status::kOk);
  CHECK(r.TryPut(&slice, 1, kB, &put, &b) == Status::kOk);
  CHECK(Take(r, kC).bytes == body);
}

TEST(ProducerDeadBeforePublishingIsSkippedWhole) {
  SharedRing s(16);
  Ring r = s.Attach();
  PutOne(r, kA, Payload(0, 10));
  // kB claimed [1, 4) (a 3-cell record), moved E, wrote half of it, died.
  s.SetMeta(1, 2, kB);
  s.SetE(4, 2);
  PutOne(r, kA, Payload(2, 10));
  CHECK(Take(r, kC).bytes == Payload(0, 10));
  Record out[1];
  uint32_t n;
  Blocker b;
  CHECK(r.TryTake(kC, 1, 0, out, &n, &b) == Status::kBusy && b.kind == Blocker::kUnpublished);
  CHECK(b.owner == kB && b.position == 1);
  CHECK(r.Recover(b, kC, nullptr, nullptr) == Status::kOk);
  CHECK(Take(r, kC).bytes == Payload(2, 10));  // continuation cells stepped over, item counted
  CHECK(Take(r, kC).status == Status::kEmpty && r.Size() == 0);
  for (int i = 0; i < 40; i++) {  // and the cells come back
    CHECK(PutOne(r, kA, Payload(i, kOneCell)) == Status::kOk);
    CHECK(Take(r, kC).bytes == Payload(i, kOneCell));
  }
}

TEST(ConsumerDeadBeforeMovingDHandsTheItemBack) {
  SharedRing s(16);
  Ring r = s.Attach();
  PutOne(r, kA, Payload(0, 10));
  s.SetMeta(0, 1, kB);  // kB claimed the head record and died before moving D
  Record out[1];
  uint32_t n;
  Blocker b;
  CHECK(r.TryTake(kC, 1, 0, out, &n, &b) == Status::kBusy && b.kind == Blocker::kTaken);
  CHECK(r.Recover(b, kC, nullptr, nullptr) == Status::kOk);
  CHECK(Take(r, kC).bytes == Payload(0, 10));
}

TEST(ConsumerDeadAfterTakingLosesOnlyThatItem) {
  SharedRing s(16);
  Ring r = s.Attach();
  for (int i = 0; i < 16; i++) PutOne(r, kA, Payload(i, kOneCell));
  Record dead[1];
  uint32_t n;
  Blocker b;
  CHECK(r.TryTake(kB, 1, 0, dead, &n, &b) == Status::kOk);  // kB takes item 0 and dies
  CHECK(Take(r, kC).bytes == Payload(1, kOneCell));
  uint32_t put;
  auto body = Payload(16, 5);
  Slice slice{body.data(), 5, 0};
  CHECK(r.TryPut(&slice, 1, kA, &put, &b) == Status::kFull);
  CHECK(b.kind == Blocker::kTaken && b.owner == kB && b.position == dead[0].position);
  int disposed = 0;
  CHECK(r.Recover(
            b, kC, [](void* c, const Record&, bool complete) { *static_cast<int*>(c) += complete; },
            &disposed) == Status::kOk);
  CHECK(disposed == 1);
  CHECK(r.TryPut(&slice, 1, kA, &put, &b) == Status::kOk);
  for (int i = 2; i < 16; i++) CHECK(Take(r, kC).bytes == Payload(i, kOneCell));
  CHECK(Take(r, kC).bytes == body);
}

TEST(GarbageNeverCrashesOrHangs) {
  std::mt19937 random(7);
  for (int round = 0; round < 3000; round++) {
    SharedRing s(16);
    Ring r = s.Attach();
    for (int i = 0; i < 6; i++) PutOne(r, kA, Payload(i, random() % 300));
    Take(r, kB);
    // Scribble over some of the control block, meta and data (never the geometry we cached).
    auto* bytes = static_cast<uint8_t*>(s.base);
    for (int i = 0; i < 1 + round % 8; i++) {
      size_t at = 64 + random() % (s.bytes - 64);
      bytes[at] = static_cast<uint8_t>(random());
    }
    for (int i = 0; i < 20; i++) {
      Taken t = Take(r, kB);
      if (t.status == Status::kOk && t.bytes.size() > r.MaxInline()) std::abort();
      PutOne(r, kA, Payload(i, random() % 200));
      Blocker b;
      r.Walk(&b);
    }
  }
}

int main() {
  std::printf("ring_test\n");
  RUN(InitAndAttachValidate);
  RUN(PutsAndTakesInOrderWithFlags);
  RUN(FullRingRefusesThenAcceptsAfterATake);
  RUN(MaxItemsBoundsItems);
  RUN(RecordsWrapAroundTheEndAndThe32BitPositions);
  RUN(CellsThatAreNeverRecordStartsStayYoung);
  RUN(BatchesPutAndTakeManyRecords);
  RUN(RejectedKindStaysInPlace);
  RUN(OutOfOrderReleasesAllFreeTheRing);
  RUN(ProducerDeadHoldingTheTailClaimIsReset);
  RUN(ProducerDeadBeforePublishingIsSkippedWhole);
  RUN(ConsumerDeadBeforeMovingDHandsTheItemBack);
  RUN(ConsumerDeadAfterTakingLosesOnlyThatItem);
  RUN(GarbageNeverCrashesOrHangs);
  return 0;
}
