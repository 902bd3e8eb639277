// Waiting and waking on 32-bit words in shared memory, across processes.
//
// Plain C++ (no Node-API), so that the ring and its tests use the same calls as the addon.
// Every futex here is the shared kind: no FUTEX_PRIVATE_FLAG, so the kernel keys waiters by the
// physical page (inode + offset for a shared mapping) and a wake in one process reaches a waiter
// in another. (std::atomic::wait is private in libstdc++ and Atomics.wait is in-process only.)
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <ctime>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif
#ifndef FUTEX2_PRIVATE
#define FUTEX2_PRIVATE FUTEX_PRIVATE_FLAG
#endif

namespace mp::futex {

// Outcomes of a wait. Negative values are -errno for real failures (EFAULT, EINVAL, ENOSYS).
enum WaitResult : int32_t {
  kWoken = 0,         // a wake reached us (the value may or may not have changed: re-check)
  kTimedOut = 1,      // the timeout ran out
  kValueChanged = 2,  // the word no longer held `expected` when we went to sleep
  kInterrupted = 3,   // a signal with a handler arrived (EINTR)
  kCancelled = 4,     // async only: cancelled, or its mapping was unmapped
};

inline uint32_t Load(const uint32_t* word) {
  // The word may be written by another process at any time: read it atomically, acquire so that
  // what the writer published before changing it is visible once we see the change.
  return std::atomic_ref<const uint32_t>(*word).load(std::memory_order_acquire);
}

// Sleeps while *word == expected, for at most timeout_ms (negative or infinite: no limit).
// A wait with no limit still sleeps in timed slices: the kernel restarts an untimed FUTEX_WAIT
// after a signal handler (SA_RESTART), which would hide the signal from the caller for good,
// while a timed one returns EINTR, so Ctrl-C with a JS handler stays observable.
inline int32_t Wait(uint32_t* word, uint32_t expected, double timeout_ms) {
  const bool forever = !(timeout_ms >= 0) || std::isinf(timeout_ms);
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  if (!forever) {
    double whole = std::floor(timeout_ms / 1000.0);
    deadline.tv_sec += static_cast<time_t>(whole);
    deadline.tv_nsec += static_cast<long>((timeout_ms - whole * 1000.0) * 1e6);
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec += 1;
      deadline.tv_nsec -= 1000000000L;
    }
  }
  for (;;) {
    struct timespec slice;
    if (forever) {
      slice.tv_sec = 3600;
      slice.tv_nsec = 0;
    } else {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      slice.tv_sec = deadline.tv_sec - now.tv_sec;
      slice.tv_nsec = deadline.tv_nsec - now.tv_nsec;
      if (slice.tv_nsec < 0) {
        slice.tv_sec -= 1;
        slice.tv_nsec += 1000000000L;
      }
      if (slice.tv_sec < 0) return kTimedOut;
    }
    long rc = syscall(SYS_futex, word, FUTEX_WAIT, expected, &slice, nullptr, 0);
    if (rc == 0) return kWoken;
    switch (errno) {
      case EAGAIN:
        return kValueChanged;
      case EINTR:
        return kInterrupted;
      case ETIMEDOUT:
        if (!forever) return kTimedOut;
        continue;
      default:
        return -errno;
    }
  }
}

// Wakes at most `count` waiters (INT32_MAX: all). Returns how many were woken, or -errno.
inline int32_t Wake(uint32_t* word, int32_t count) {
  long rc = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  return rc < 0 ? -errno : static_cast<int32_t>(rc);
}

struct WaitvEntry {  // struct futex_waitv of <linux/futex.h>, spelled out for older headers
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};

// Sleeps until any of the words is woken or differs from its value. Returns the index of the
// woken entry, or -errno (-EAGAIN: some value differed; the caller re-checks them all).
inline int32_t WaitAny(WaitvEntry* entries, uint32_t count) {
  long rc = syscall(SYS_futex_waitv, entries, count, 0, nullptr, CLOCK_MONOTONIC);
  return rc < 0 ? -errno : static_cast<int32_t>(rc);
}

}  // namespace mp::futex
