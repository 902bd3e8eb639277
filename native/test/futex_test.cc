// Tests of futex.h across real processes (fork is safe here: no V8, no threads).
#include "../futex.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>

#include "check.h"

using namespace mp;

static uint32_t* SharedWords(size_t count) {
  void* memory = mmap(nullptr, count * sizeof(uint32_t), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(memory != MAP_FAILED);
  return static_cast<uint32_t*>(memory);
}

static double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

TEST(WaitReturnsValueChangedWhenTheWordDiffers) {
  uint32_t* words = SharedWords(1);
  words[0] = 7;
  CHECK(futex::Wait(words, 0, 1000) == futex::kValueChanged);
  munmap(words, 4);
}

TEST(WaitTimesOut) {
  uint32_t* words = SharedWords(1);
  double start = NowMs();
  CHECK(futex::Wait(words, 0, 30) == futex::kTimedOut);
  CHECK(NowMs() - start >= 29);
  CHECK(futex::Wait(words, 0, 0) == futex::kTimedOut);
  munmap(words, 4);
}

TEST(WakeReachesAWaiterInAnotherProcess) {
  uint32_t* words = SharedWords(2);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    std::atomic_ref<uint32_t>(words[1]).store(1, std::memory_order_release);
    int32_t result = futex::Wait(words, 0, 5000);
    _exit(result == futex::kWoken || result == futex::kValueChanged ? 0 : 10 + result);
  }
  while (futex::Load(&words[1]) == 0) usleep(100);
  usleep(20000);
  std::atomic_ref<uint32_t>(words[0]).store(1, std::memory_order_release);
  int woken = futex::Wake(words, 1);
  CHECK(woken >= 0);
  int status;
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  munmap(words, 8);
}

TEST(WaitAnyReportsTheWokenEntry) {
  uint32_t* words = SharedWords(3);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    usleep(20000);
    std::atomic_ref<uint32_t>(words[2]).store(1, std::memory_order_release);
    futex::Wake(&words[2], 1);
    _exit(0);
  }
  futex::WaitvEntry entries[3];
  for (int i = 0; i < 3; i++) {
    entries[i] = {0, reinterpret_cast<uintptr_t>(&words[i]), FUTEX2_SIZE_U32, 0};
  }
  int32_t rc;
  do {
    rc = futex::WaitAny(entries, 3);
  } while (rc == -EINTR);
  // Either the wake arrived (index 2) or the store came first (EAGAIN): never another index.
  CHECK(rc == 2 || rc == -EAGAIN);
  int status;
  CHECK(waitpid(child, &status, 0) == child);
  munmap(words, 12);
}

TEST(WakeOfAWordWithNoWaitersWakesNobody) {
  uint32_t* words = SharedWords(1);
  CHECK(futex::Wake(words, 10) == 0);
  munmap(words, 4);
}

int main() {
  std::printf("futex_test\n");
  RUN(WaitReturnsValueChangedWhenTheWordDiffers);
  RUN(WaitTimesOut);
  RUN(WakeReachesAWaiterInAnotherProcess);
  RUN(WaitAnyReportsTheWokenEntry);
  RUN(WakeOfAWordWithNoWaitersWakesNobody);
  std::printf("ok\n");
  return 0;
}
