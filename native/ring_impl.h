// The operations of mp::ring::Ring (included at the end of ring.h; read that file first for the
// algorithm, the layout and the states of a meta word).
#pragma once

#include "ring.h"

// A seam for the fuzz tests: they define it to stall a doomed process at the moments where
// dying leaves the most to recover. Empty otherwise.
#ifndef MP_RING_PAUSE
#define MP_RING_PAUSE(where)
#endif

namespace mp::ring {

inline Status Ring::Put(const Slice* items, uint32_t count, uint32_t owner, uint32_t* put,
                        Blocker* blocker) {
  for (uint32_t attempt = 0; attempt < 64; attempt++) {
    uint32_t t = Tail();
    // Cheap pre-check against the private copy of R, so that a full ring is not claimed.
    uint32_t first = CellsOf(t, items[0].length);
    if (t - released_cache_ > cells_ || t - released_cache_ + first > cells_) {
      released_cache_ = Load32(offset::kReleased);
      uint32_t used = t - released_cache_;
      if (used > cells_) continue;  // t is stale: R already passed it
      if (used + first > cells_) {
        Walk(blocker);
        released_cache_ = Load32(offset::kReleased);
        if (t - released_cache_ + first > cells_) return Status::kFull;
      }
    }
    uint64_t m = Meta(t).load(std::memory_order_acquire);
    uint32_t seq = static_cast<uint32_t>(m);
    uint32_t who = static_cast<uint32_t>(m >> 32);
    if (seq == 2 * t) {
      // Another producer holds the claim at the tail (for a few instructions, or it died).
      if (Tail() != t) continue;
      *blocker = Blocker{Blocker::kClaim, t, who};
      return Status::kBusy;
    }
    if (!IsOlder(seq, 2 * t)) {
      // A newer tag at the tail: our t is stale, unless the tail still says t (corrupt).
      if (Tail() == t && Meta(t).load(std::memory_order_acquire) == m) {
        return Status::kCorrupt;
      }
      continue;
    }
    if (!Cas64(MetaAt(t), m, Pack(2 * t, owner))) continue;
    MP_RING_PAUSE("put: claimed the tail");
    // We hold the cell at t. If E.tail is still t, nobody else can move E until we do; if not,
    // t was stale (it continues someone's record) and the claim is given back as it was.
    uint64_t e = Load64(offset::kTail);
    if (static_cast<uint32_t>(e) != t) {
      Cas64(MetaAt(t), Pack(2 * t, owner), m);
      continue;
    }
    uint32_t enqueued = static_cast<uint32_t>(e >> 32);
    uint32_t released = Load32(offset::kReleased);
    released_cache_ = released;
    uint32_t room_items = UINT32_MAX;
    uint32_t in_flight = enqueued - static_cast<uint32_t>(Load64(offset::kHead) >> 32);
    if (max_items_ != 0) room_items = in_flight >= max_items_ ? 0 : max_items_ - in_flight;
    // D.items was read after E froze, so in-flight can only be smaller than when the last
    // producer checked it: beyond the bound (or negative) is corruption.
    if (t - released > cells_ || (max_items_ != 0 && in_flight > max_items_) ||
        static_cast<int32_t>(in_flight) < 0) {
      Cas64(MetaAt(t), Pack(2 * t, owner), m);
      return Status::kCorrupt;
    }
    // Plan the batch: as many records as fit, each at the position the previous one ends.
    uint32_t n = 0;
    uint32_t end = t;
    while (n < count && n < room_items) {
      uint32_t k = CellsOf(end, items[n].length);
      if (end - released + k > cells_) break;
      end += k;
      n++;
    }
    if (n == 0) {
      Cas64(MetaAt(t), Pack(2 * t, owner), m);
      Walk(blocker);
      return Status::kFull;
    }
    // Tag the other record starts before E passes them (consumers rely on it, see ring.h).
    // Owner first, then the tag: in between, the cell still reads as an older tag.
    uint32_t at = t + CellsOf(t, items[0].length);
    for (uint32_t i = 1; i < n; i++) {
      Half(at, 1).store(owner, std::memory_order_release);
      Half(at, 0).store(2 * at, std::memory_order_release);
      at += CellsOf(at, items[i].length);
    }
    Store64(offset::kTail, Pack(end, enqueued + n));
    tail_cache_ = end;
    MP_RING_PAUSE("put: moved E");
    at = t;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t length = items[i].length;
      uint32_t k = CellsOf(at, length);
      // Give every continuation cell a tag just older than its position. Without this a cell
      // that is never a record start would keep a tag from laps ago, and after 2^30 positions
      // it would compare as newer than its position.
      for (uint32_t c = 1; c < k; c++)
        Half(at + c, 0).store(2 * (at + c) - 1, std::memory_order_relaxed);
      StoreHeader(at, length, items[i].flags);
      if (length != 0) std::memcpy(data_ + PayloadOffset(at, length), items[i].data, length);
      MP_RING_PAUSE("put: wrote a record");
      // Publish in two steps, as src/ring/ does (a 64-bit store costs JavaScript a BigInt):
      // the tag (release: the bytes before it), then the owner. In between the record reads as
      // taken by us before D moved; if we die there, Recover hands it back, complete. seq_cst
      // orders the last store before our read of `data wanted` in Notify (a consumer going to
      // sleep stores it and then re-checks).
      Half(at, 0).store(2 * at + 1, std::memory_order_release);
      MP_RING_PAUSE("put: published the tag");
      Half(at, 1).store(kNobody, std::memory_order_seq_cst);
      at += k;
    }
    Notify(DataSignal(), DataWanted());
    *put = n;
    return Status::kOk;
  }
  return Status::kBusy;  // lost every race: the caller backs off and retries
}

inline Status Ring::TryTake(uint32_t owner, uint32_t max, uint32_t reject, Record* out,
                            uint32_t* taken, Blocker* blocker) {
  *taken = 0;
  *blocker = Blocker{};
  if (max == 0) return Status::kOk;
  for (uint32_t step = 0; step < Steps(); step++) {
    uint64_t d = Load64(offset::kHead);
    uint32_t h = static_cast<uint32_t>(d);
    uint32_t dequeued = static_cast<uint32_t>(d >> 32);
    uint64_t m = Meta(h).load(std::memory_order_acquire);
    uint32_t seq = static_cast<uint32_t>(m);
    uint32_t who = static_cast<uint32_t>(m >> 32);
    auto stable = [&] {
      return Load64(offset::kHead) == d && Meta(h).load(std::memory_order_acquire) == m;
    };

    if (m == Pack(2 * h + 1, kNobody)) {  // published: claim it, then read it
      if (!Cas64(MetaAt(h), m, Pack(2 * h + 1, owner))) continue;
      MP_RING_PAUSE("take: claimed the head");
      // Holding the cell at D.head freezes D (only its holder moves D) and the record, so from
      // here on nothing we read can change under us. (Nothing is read before the claim: a
      // reader that lost a race would read cells that a producer is rewriting.)
      d = Load64(offset::kHead);
      Record first;
      if (static_cast<uint32_t>(d) != h || !ReadHeader(h, &first) || !BelowTail(h, first.cells)) {
        Meta(h).store(m, std::memory_order_seq_cst);  // let every reader see the corruption
        return Status::kCorrupt;
      }
      if ((first.flags & reject) != 0) {
        Meta(h).store(m, std::memory_order_seq_cst);  // refused: it stays, published, in place
        return Status::kWrongKind;
      }
      dequeued = static_cast<uint32_t>(d >> 32);
      out[0] = first;
      uint32_t n = 1;
      uint32_t end = h + first.cells;
      while (n < max) {
        if (Meta(end).load(std::memory_order_acquire) != Pack(2 * end + 1, kNobody)) break;
        Record next;
        if (!ReadHeader(end, &next) || !BelowTail(end, next.cells)) break;
        if ((next.flags & reject) != 0) break;
        // Published and behind the frozen D: nobody else touches this cell now.
        Half(end, 1).store(owner, std::memory_order_relaxed);
        out[n++] = next;
        end += next.cells;
      }
      // Release: the tags above and our claim are visible to whoever sees the new D.
      Store64(offset::kHead, Pack(end, dequeued + n));
      MP_RING_PAUSE("take: moved D");
      *taken = n;
      return Status::kOk;
    }
    if (seq == 2 * h) {  // a producer is writing it (or holds the claim at the tail)
      if (Tail() == h) return Status::kEmpty;
      if (!stable()) continue;
      *blocker = Blocker{Blocker::kUnpublished, h, who};
      return Status::kBusy;
    }
    if (seq == 2 * h + 1 && who >= kFirstToken) {  // another consumer, about to move D
      if (!stable()) continue;
      *blocker = Blocker{Blocker::kTaken, h, who};
      return Status::kBusy;
    }
    if (m == Pack(2 * h + 1, kSkipped)) {  // its producer died: help the skipper move D
      Cas64(offset::kHead, d, Pack(h + 1, dequeued + 1));
      continue;
    }
    if (IsOlder(seq, 2 * h)) {
      uint32_t tail = Tail();
      if (tail == h) return Status::kEmpty;
      if (tail - h > cells_) {  // D beyond E: stale D, or corrupt
        if (stable()) return Status::kCorrupt;
        continue;
      }
      // E is past h. Had h started a record, its tag would have been stored before E moved,
      // and we read E first: an older tag now means a continuation cell of a skipped record.
      if (Meta(h).load(std::memory_order_acquire) != m) continue;
      Cas64(offset::kHead, d, Pack(h + 1, dequeued));
      continue;
    }
    if (stable()) return Status::kCorrupt;  // freed at the head, a newer tag, an unknown owner
  }
  return Status::kBusy;
}

inline Status Ring::Release(const Record* records, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    const Record& r = records[i];
    // In order: move R ourselves. Out of order: mark the record freed for whoever moves R to it.
    // seq_cst on both sides (this CAS/store, Walk's loads): either we see the other's mark, or
    // the other sees our R, so no freed record is left behind R's walker.
    uint32_t expected = r.position;
    if (!std::atomic_ref<uint32_t>(Word(base_, offset::kReleased))
             .compare_exchange_strong(expected, r.position + r.cells, std::memory_order_seq_cst)) {
      Meta(r.position).store(Pack(2 * r.position + 1, kFreed), std::memory_order_seq_cst);
    }
  }
  Blocker ignored;
  Status status = Walk(&ignored);
  Notify(SpaceSignal(), SpaceWanted());
  return status;
}

inline Status Ring::Walk(Blocker* blocker) {
  *blocker = Blocker{};
  auto released = std::atomic_ref<uint32_t>(Word(base_, offset::kReleased));
  auto head = [&] {
    return static_cast<uint32_t>(
        std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(base_ + offset::kHead))
            .load(std::memory_order_seq_cst));
  };
  for (uint32_t step = 0; step < Steps(); step++) {
    uint32_t r = released.load(std::memory_order_seq_cst);
    uint32_t h = head();
    if (r == h) return Status::kOk;
    uint32_t ahead = h - r;
    uint64_t m = Meta(r).load(std::memory_order_seq_cst);
    auto stable = [&] {
      return released.load(std::memory_order_seq_cst) == r &&
             Meta(r).load(std::memory_order_seq_cst) == m;
    };
    if (ahead > cells_) {
      if (stable() && head() == h) return Status::kCorrupt;
      continue;
    }
    uint32_t seq = static_cast<uint32_t>(m);
    uint32_t who = static_cast<uint32_t>(m >> 32);
    uint32_t stride;
    if (m == Pack(2 * r + 1, kFreed) || m == Pack(2 * r + 1, kSkipped) || IsOlder(seq, 2 * r)) {
      // A record freed out of order, a dead producer's record, or (below D, never a start)
      // a continuation cell of either: step one cell, without reading any header (a walker
      // that lost a race could be reading cells that a producer is rewriting).
      stride = 1;
    } else if (seq == 2 * r + 1 && who >= kFirstToken) {
      *blocker = Blocker{Blocker::kTaken, r, who};  // still being read (or its reader died)
      return Status::kOk;
    } else {
      if (stable()) return Status::kCorrupt;
      continue;
    }
    uint32_t expected = r;
    released.compare_exchange_strong(expected, r + stride, std::memory_order_seq_cst);
  }
  return Status::kOk;
}

inline Status Ring::Recover(const Blocker& blocker, uint32_t owner, Dispose dispose,
                            void* context) {
  uint32_t x = blocker.position;
  switch (blocker.kind) {
    case Blocker::kClaim:
      // Died holding the claim at the tail before moving E: nothing of it is visible. Give the
      // cell back with a tag older than 2x.
      Cas64(MetaAt(x), Pack(2 * x, blocker.owner), Pack(2 * x - 1, kFreed));
      return Status::kOk;
    case Blocker::kUnpublished: {
      // Died after moving E, before publishing. Take its claim (so the cells stay put while we
      // look), show the caller a plausible header, then mark the start skipped and move D.
      if (!Cas64(MetaAt(x), Pack(2 * x, blocker.owner), Pack(2 * x, owner))) return Status::kOk;
      Record record;
      if (dispose != nullptr && ReadHeader(x, &record) && BelowTail(x, record.cells)) {
        dispose(context, record, false);
      }
      Meta(x).store(Pack(2 * x + 1, kSkipped), std::memory_order_release);
      uint64_t d = Load64(offset::kHead);
      if (static_cast<uint32_t>(d) == x) {
        Cas64(offset::kHead, d, Pack(x + 1, static_cast<uint32_t>(d >> 32) + 1));
      }
      return Status::kOk;
    }
    case Blocker::kTaken: {
      if (!Cas64(MetaAt(x), Pack(2 * x + 1, blocker.owner), Pack(2 * x + 1, owner))) {
        return Status::kOk;
      }
      if (Head() == x) {
        // Died before moving D: it never took the item. Hand it back.
        Meta(x).store(Pack(2 * x + 1, kNobody), std::memory_order_seq_cst);
        Notify(DataSignal(), DataWanted());
        return Status::kOk;
      }
      // Died after taking it: the item is lost with it; free what it refers to and the cells.
      Record record;
      if (!ReadHeader(x, &record)) return Status::kCorrupt;
      if (dispose != nullptr) dispose(context, record, true);
      return Release(&record, 1);
    }
    default:
      return Status::kOk;
  }
}

}  // namespace mp::ring
