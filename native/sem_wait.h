// POSIX named semaphores (sem_open family): the blocking wait with a deadline, in plain C++ so
// that native/test/semaphore_test.cc exercises it without Node.
#pragma once

#include <semaphore.h>
#include <time.h>

#include <cerrno>
#include <cmath>
#include <cstdint>

namespace mp::sem {

enum WaitResult : int32_t {
  kAcquired = 0,
  kTimedOut = 1,
  kInterrupted = 3,  // a signal with a handler arrived (EINTR): the caller reports it
};

// Deadlines are on CLOCK_MONOTONIC where glibc has sem_clockwait (2.30+), so that a change of
// the wall clock does not stretch or cut a wait; elsewhere sem_timedwait's CLOCK_REALTIME.
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 30))
constexpr clockid_t kClock = CLOCK_MONOTONIC;
inline int TimedWait(sem_t* sem, const struct timespec* deadline) {
  return sem_clockwait(sem, kClock, deadline);
}
#else
constexpr clockid_t kClock = CLOCK_REALTIME;
inline int TimedWait(sem_t* sem, const struct timespec* deadline) {
  return sem_timedwait(sem, deadline);
}
#endif

inline struct timespec DeadlineAfter(double ms) {
  struct timespec at;
  clock_gettime(kClock, &at);
  double whole = std::floor(ms / 1000.0);
  at.tv_sec += static_cast<time_t>(whole);
  at.tv_nsec += static_cast<long>((ms - whole * 1000.0) * 1e6);
  if (at.tv_nsec >= 1000000000L) {
    at.tv_sec += 1;
    at.tv_nsec -= 1000000000L;
  }
  return at;
}

// Takes a unit, waiting at most timeout_ms (negative or infinite: no limit). Returns a
// WaitResult, or -errno for a real failure (EINVAL for a bad semaphore).
// A wait with no limit still sleeps in timed slices: a timed wait reports EINTR when a signal
// handler runs, so Ctrl-C with a JS handler stays observable instead of being restarted.
inline int32_t Wait(sem_t* sem, double timeout_ms) {
  const bool forever = !(timeout_ms >= 0) || std::isinf(timeout_ms);
  if (!forever && timeout_ms <= 0) {
    if (sem_trywait(sem) == 0) return kAcquired;
    return errno == EAGAIN ? kTimedOut : (errno == EINTR ? kInterrupted : -errno);
  }
  struct timespec deadline = DeadlineAfter(forever ? 3600e3 : timeout_ms);
  for (;;) {
    if (TimedWait(sem, &deadline) == 0) return kAcquired;
    switch (errno) {
      case ETIMEDOUT:
        if (!forever) return kTimedOut;
        deadline = DeadlineAfter(3600e3);
        continue;
      case EINTR:
        return kInterrupted;
      default:
        return -errno;
    }
  }
}

}  // namespace mp::sem
