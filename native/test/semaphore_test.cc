// Tests of sem_wait.h's blocking wait: timeouts, wake-ups from another process, EINTR.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "../sem_wait.h"
#include "check.h"

using namespace mp;

static double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// A process-shared unnamed semaphore in shared memory: the same sem_t the named ones are.
static sem_t* SharedSem(unsigned value) {
  void* memory =
      mmap(nullptr, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(memory != MAP_FAILED);
  auto* sem = static_cast<sem_t*>(memory);
  CHECK(sem_init(sem, 1, value) == 0);
  return sem;
}

TEST(ZeroTimeoutDoesNotWait) {
  sem_t* sem = SharedSem(1);
  CHECK(sem::Wait(sem, 0) == sem::kAcquired);
  double start = NowMs();
  CHECK(sem::Wait(sem, 0) == sem::kTimedOut);
  CHECK(NowMs() - start < 50);
  sem_destroy(sem);
  munmap(sem, sizeof(sem_t));
}

TEST(TimesOutAfterRoughlyTheTimeout) {
  sem_t* sem = SharedSem(0);
  double start = NowMs();
  CHECK(sem::Wait(sem, 40) == sem::kTimedOut);
  double elapsed = NowMs() - start;
  CHECK(elapsed >= 35 && elapsed < 2000);
  sem_destroy(sem);
  munmap(sem, sizeof(sem_t));
}

TEST(APostFromAnotherProcessWakesAnUntimedWait) {
  sem_t* sem = SharedSem(0);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    usleep(50 * 1000);
    sem_post(sem);
    _exit(0);
  }
  CHECK(sem::Wait(sem, -1) == sem::kAcquired);
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status));
  sem_destroy(sem);
  munmap(sem, sizeof(sem_t));
}

static void OnSignal(int) {}

TEST(AHandledSignalInterruptsAnUntimedWait) {
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  action.sa_flags = SA_RESTART;  // even with SA_RESTART the wait reports EINTR: it is timed
  sigemptyset(&action.sa_mask);
  CHECK(sigaction(SIGUSR1, &action, nullptr) == 0);
  sem_t* sem = SharedSem(0);
  pid_t parent = getpid();
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    usleep(50 * 1000);
    kill(parent, SIGUSR1);
    _exit(0);
  }
  CHECK(sem::Wait(sem, -1) == sem::kInterrupted);
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  sem_destroy(sem);
  munmap(sem, sizeof(sem_t));
}

TEST(NamedSemaphoresAreSharedByName) {
  std::string name = "/mptest-native-" + std::to_string(getpid());
  sem_t* a = sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, 0);
  CHECK(a != SEM_FAILED);
  sem_t* b = sem_open(name.c_str(), 0);
  CHECK(b != SEM_FAILED);
  CHECK(sem_post(a) == 0);
  CHECK(sem::Wait(b, 1000) == sem::kAcquired);
  CHECK(sem::Wait(b, 10) == sem::kTimedOut);
  CHECK(sem_close(a) == 0 && sem_close(b) == 0);
  CHECK(sem_unlink(name.c_str()) == 0);
}

int main() {
  std::printf("semaphore_test\n");
  RUN(ZeroTimeoutDoesNotWait);
  RUN(TimesOutAfterRoughlyTheTimeout);
  RUN(APostFromAnotherProcessWakesAnUntimedWait);
  RUN(AHandledSignalInterruptsAnUntimedWait);
  RUN(NamedSemaphoresAreSharedByName);
  return 0;
}
