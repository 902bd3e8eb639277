// Fuzz tests of ring.h: producers and consumers in threads, then in forked processes, some of
// them SIGKILLed at random moments. Every message carries (producer, sequence, checksum); the
// checks are: no message delivered twice, none corrupt, each consumer sees each producer's
// messages in order, and everything sent by survivors arrives (less at most one batch per
// killed consumer). Set RING_FUZZ_SCALE=10 for a long run.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "check.h"

// Doomed processes stall at the ring's critical moments, so that SIGKILL lands inside them.
static bool g_doomed = false;
static void Stall();
#define MP_RING_PAUSE(where) Stall()

#include "ring_test_util.h"

static void Stall() {
  if (g_doomed && std::rand() % 3 == 0) usleep(static_cast<useconds_t>(std::rand() % 400));
}

#if defined(__SANITIZE_THREAD__)
#define MP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MP_TSAN 1
#endif
#endif

using namespace mp;
using namespace mp::ring_test;

namespace {

constexpr uint32_t kMaxProducers = 64;
constexpr uint32_t kMaxBatch = 8;
constexpr uint32_t kTokenBase = 0x10000;

double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Shared between every participant (threads, or processes through MAP_SHARED).
struct Board {
  std::atomic<uint32_t> delivered;
  std::atomic<uint32_t> producers_done;
  std::atomic<uint32_t> failures;
  std::atomic<uint32_t> recovered[4];  // by Blocker::Kind
  std::atomic<uint8_t> seen[kMaxProducers][1 << 16];
};

Board* NewBoard() {
  void* memory =
      mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(memory != MAP_FAILED);
  return static_cast<Board*>(memory);  // zero-filled: every atomic starts at 0
}

void Fail(Board* board, const char* what) {
  std::fprintf(stderr, "ring fuzz: %s\n", what);
  board->failures.fetch_add(1);
}

// Message: u32 producer, u32 sequence, u32 checksum of the rest, then filler bytes.
std::vector<uint8_t> Message(uint32_t producer, uint32_t sequence, uint32_t length) {
  std::vector<uint8_t> bytes = Payload(producer * 65536 + sequence, length);
  uint32_t sum = 0;
  for (size_t i = 12; i < length; i++) sum = sum * 31 + bytes[i];
  uint32_t head[3] = {producer, sequence, sum};
  std::memcpy(bytes.data(), head, sizeof head);
  return bytes;
}

// Liveness for the fuzz tests: threads never die; a process token is kTokenBase + pid, alive
// while /proc says the process exists and is not a zombie.
bool ProcessAlive(uint32_t token) {
  if (token < kTokenBase) return false;
  std::string path = "/proc/" + std::to_string(token - kTokenBase) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return false;
  char line[512] = {0};
  size_t n = std::fread(line, 1, sizeof line - 1, f);
  std::fclose(f);
  const char* close = std::strrchr(line, ')');
  return n > 0 && close != nullptr && close[1] == ' ' && close[2] != 'Z' && close[2] != 'X';
}

void DumpRing(const void* base, uint32_t cells) {
  auto* b = static_cast<const uint8_t*>(base);
  auto word = [&](size_t at) { return *reinterpret_cast<const uint32_t*>(b + at); };
  uint32_t tail = word(ring::offset::kTail), head = word(ring::offset::kHead);
  uint32_t released = word(ring::offset::kReleased);
  std::fprintf(stderr, "E=%u/%u D=%u/%u R=%u\n", tail, word(ring::offset::kEnqueued), head,
               word(ring::offset::kDequeued), released);
  auto* meta = reinterpret_cast<const uint64_t*>(b + ring::offset::kMeta);
  for (uint32_t p = released - 2; p != tail + 2; p++) {
    uint64_t m = meta[p & (cells - 1)];
    std::fprintf(stderr, "  pos %u: seq %u (2p=%u) owner %u alive %d\n", p,
                 static_cast<uint32_t>(m), 2 * p, static_cast<uint32_t>(m >> 32),
                 ProcessAlive(static_cast<uint32_t>(m >> 32)));
  }
}

// Recovers blockers whose owner died. The grace time runs from when this party stopped making
// progress, whatever blocks it meanwhile: blockers alternate (another producer's brief claim, then
// a dead consumer's record), so timing each blocker separately could wait forever.
struct Patience {
  Board* board;
  double stalled_since = 0;
  Blocker last;
  void Progress() { stalled_since = 0; }
  void Handle(Ring& r, const Blocker& b, uint32_t owner, bool (*alive)(uint32_t)) {
    if (stalled_since == 0) stalled_since = NowMs();
    if (b.kind == Blocker::kNone) return;
    last = b;
    if (NowMs() - stalled_since < 20 || alive(b.owner)) return;
    r.Recover(b, owner, nullptr, nullptr);
    board->recovered[b.kind].fetch_add(1);
  }
};

void Sleep(uint32_t* signal, uint32_t* wanted, Ring& r, bool empty_side) {
  uint32_t seen = futex::Load(signal);
  std::atomic_ref<uint32_t>(*wanted).store(1, std::memory_order_seq_cst);
  bool still = empty_side ? r.Size() == 0 : true;
  if (still) futex::Wait(signal, seen, 5);
}

void Produce(Ring r, Board* board, uint32_t producer, uint32_t count, uint32_t owner,
             bool (*alive)(uint32_t), uint32_t seed) {
  std::mt19937 random(seed);
  Patience patience{board, 0, {}};
  uint32_t sequence = 0;
  double progress = NowMs();
  while (sequence < count) {
    if (!g_doomed && NowMs() - progress > 30000) {
      std::fprintf(stderr, "producer %d stuck: blocker %u at %u by %u (alive %d)\n", getpid(),
                   patience.last.kind, patience.last.position, patience.last.owner,
                   alive(patience.last.owner));
      DumpRing(r.Base(), r.Cells());
      std::abort();
    }
    uint32_t batch = 1 + random() % kMaxBatch;
    if (batch > count - sequence) batch = count - sequence;
    std::vector<std::vector<uint8_t>> bodies;
    std::vector<Slice> slices;
    for (uint32_t i = 0; i < batch; i++) {
      uint32_t length =
          12 + (random() % 16 == 0 ? random() % (r.MaxInline() - 11) : random() % 300);
      bodies.push_back(Message(producer, sequence + i, length));
    }
    for (auto& b : bodies) slices.push_back(Slice{b.data(), static_cast<uint32_t>(b.size()), 1});
    uint32_t put = 0;
    Blocker blocker;
    Status status = r.TryPut(slices.data(), batch, owner, &put, &blocker);
    if (status == Status::kOk) {
      sequence += put;
      progress = NowMs();
      patience.Progress();
      continue;
    }
    if (status == Status::kCorrupt || status == Status::kTooBig) Fail(board, "put failed");
    patience.Handle(r, blocker, owner, alive);
    if (status == Status::kFull) {
      Sleep(r.SpaceSignal(), r.SpaceWanted(), r, false);
    } else {
      sched_yield();
    }
  }
}

void Consume(Ring r, Board* board, uint32_t owner, uint32_t expected, bool (*alive)(uint32_t),
             uint32_t seed, uint32_t producers) {
  std::mt19937 random(seed);
  Patience patience{board, 0, {}};
  std::vector<int64_t> last(kMaxProducers, -1);
  double progress = NowMs();
  double last_iteration = NowMs();
  int last_status = -1;
  for (;;) {
    double gap = NowMs() - last_iteration;
    last_iteration = NowMs();
    if (NowMs() - progress > 30000 && r.Size() > 0) {
      std::fprintf(stderr, "last iteration %.1f ms ago, last status %d\n", gap, last_status);
      Record rec[1];
      uint32_t got;
      Blocker now;
      Status st = r.TryTake(owner, 1, 0, rec, &got, &now);
      std::fprintf(stderr, "consumer %d stuck: status %d blocker %u at %u by %u (alive %d)\n",
                   getpid(), static_cast<int>(st), now.kind, now.position, now.owner,
                   alive(now.owner));
      DumpRing(r.Base(), r.Cells());
      std::abort();
    }
    if (board->delivered.load() >= expected && expected != 0) return;
    Record records[kMaxBatch];
    uint32_t n = 0;
    Blocker blocker;
    Status status = r.TryTake(owner, 1 + random() % kMaxBatch, 0, records, &n, &blocker);
    last_status = static_cast<int>(status);
    if (status == Status::kOk) {
      for (uint32_t i = 0; i < n; i++) {
        const Record& rec = records[i];
        uint32_t head[3];
        if (rec.length < 12) {
          Fail(board, "short message");
          continue;
        }
        std::memcpy(head, rec.payload, sizeof head);
        uint32_t sum = 0;
        for (size_t j = 12; j < rec.length; j++) sum = sum * 31 + rec.payload[j];
        auto want = Message(head[0] % kMaxProducers, head[1] % 65536, rec.length);
        if (head[0] >= kMaxProducers || head[1] >= 65536 || sum != head[2] ||
            std::memcmp(want.data() + 12, rec.payload + 12, rec.length - 12) != 0) {
          Fail(board, "corrupt message");
          continue;
        }
        if (board->seen[head[0]][head[1]].fetch_add(1) != 0) Fail(board, "duplicate");
        if (static_cast<int64_t>(head[1]) <= last[head[0]]) Fail(board, "out of order");
        last[head[0]] = head[1];
      }
      r.Release(records, n);
      board->delivered.fetch_add(n);
      progress = NowMs();
      patience.Progress();
      continue;
    }
    if (status == Status::kCorrupt) Fail(board, "take: corrupt");
    if (status == Status::kEmpty) {
      if (expected == 0 && board->producers_done.load() >= producers && r.Size() == 0) return;
      Sleep(r.DataSignal(), r.DataWanted(), r, true);
      continue;
    }
    patience.Handle(r, blocker, owner, alive);
    sched_yield();
  }
}

bool ThreadAlive(uint32_t) { return true; }

// pthreads rather than std::thread: <thread> pulls in <semaphore.h>, which -Inative would
// resolve to native/semaphore.h.
struct Thread {
  std::function<void()> body;
  pthread_t id;
  explicit Thread(std::function<void()> f) : body(std::move(f)) {
    CHECK(pthread_create(
              &id, nullptr,
              [](void* self) -> void* {
                static_cast<Thread*>(self)->body();
                return nullptr;
              },
              this) == 0);
  }
  void Join() { CHECK(pthread_join(id, nullptr) == 0); }
};

void ThreadsFuzz(uint32_t scale) {
  std::printf("  ThreadsFuzz\n");
  for (uint32_t cells : {16u, 64u, 1024u}) {
    SharedRing s(cells, cells == 64 ? 5 : 0);
    Board* board = NewBoard();
    constexpr uint32_t kProducers = 3, kConsumers = 3;
    uint32_t count = 4000 * scale;
    std::vector<std::unique_ptr<Thread>> threads;
    for (uint32_t p = 0; p < kProducers; p++) {
      threads.push_back(std::make_unique<Thread>(
          [&, p] { Produce(s.Attach(), board, p, count, kTokenBase + p, ThreadAlive, p); }));
    }
    for (uint32_t c = 0; c < kConsumers; c++) {
      threads.push_back(std::make_unique<Thread>([&, c] {
        Consume(s.Attach(), board, kTokenBase + 100 + c, kProducers * count, ThreadAlive, 100 + c,
                kProducers);
      }));
    }
    for (auto& t : threads) t->Join();
    CHECK(board->failures.load() == 0);
    CHECK(board->delivered.load() == kProducers * count);
    munmap(board, sizeof(Board));
  }
}

pid_t Fork(const std::function<void()>& body) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    body();
    _exit(0);
  }
  return pid;
}

[[maybe_unused]] void ProcessesFuzz(uint32_t scale) {
  std::printf("  ProcessesFuzz (with SIGKILLs)\n");
  SharedRing s(64);
  Board* board = NewBoard();
  constexpr uint32_t kSteady = 2;
  uint32_t count = 5000 * scale;
  auto token = [] { return kTokenBase + static_cast<uint32_t>(getpid()); };
  std::vector<pid_t> steady_producers, steady_consumers;
  for (uint32_t p = 0; p < kSteady; p++) {
    steady_producers.push_back(
        Fork([&, p] { Produce(s.Attach(), board, p, count, token(), ProcessAlive, p); }));
  }
  for (uint32_t c = 0; c < kSteady; c++) {
    steady_consumers.push_back(
        Fork([&, c] { Consume(s.Attach(), board, token(), 0, ProcessAlive, 50 + c, kSteady); }));
  }
  // Victims: producers (ids kSteady..) and consumers, killed after a random few milliseconds.
  std::mt19937 random(1234);
  uint32_t killed_consumers = 0, victims = 0;
  uint32_t next_producer = kSteady;
  double deadline = NowMs() + 120000;
  for (bool running = true; running;) {
    bool consumer = random() % 2 == 0;
    uint32_t id = next_producer;
    pid_t victim = consumer ? Fork([&] {
      g_doomed = true;
      std::srand(victims);
      Consume(s.Attach(), board, token(), 0, ProcessAlive, 900 + victims, UINT32_MAX);
    })
                            : Fork([&] {
                                g_doomed = true;
                                std::srand(victims);
                                Produce(s.Attach(), board, id, 60000, token(), ProcessAlive, id);
                              });
    if (!consumer) next_producer++;
    usleep(200 + random() % 3000);
    kill(victim, SIGKILL);
    waitpid(victim, nullptr, 0);
    killed_consumers += consumer;
    victims++;
    running = victims < 20 * scale && next_producer < kMaxProducers;
    CHECK(NowMs() < deadline);
  }
  for (pid_t p : steady_producers) {
    int status;
    CHECK(waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  board->producers_done.store(kSteady);
  for (pid_t c : steady_consumers) {
    int status = 0;
    while (waitpid(c, &status, WNOHANG) == 0) {
      if (NowMs() > deadline) {
        std::fprintf(stderr, "ring fuzz: consumers wedged\n");
        DumpRing(s.base, s.Cells());
        if (std::getenv("RING_FUZZ_HOLD") != nullptr) {
          std::fprintf(stderr, "holding: consumer %d\n", c);
          sleep(300);
        }
        kill(c, SIGKILL);
      }
      usleep(1000);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  CHECK(board->failures.load() == 0);
  uint32_t missing = 0;
  for (uint32_t p = 0; p < kSteady; p++) {
    for (uint32_t i = 0; i < count; i++) missing += board->seen[p][i].load() == 0;
  }
  std::printf(
      "    %u victims (%u consumers); recovered claims %u, unpublished %u, taken %u; %u steady "
      "messages lost with killed consumers\n",
      victims, killed_consumers, board->recovered[1].load(), board->recovered[2].load(),
      board->recovered[3].load(), missing);
  CHECK(missing <= killed_consumers * kMaxBatch);
  Ring r = s.Attach();
  CHECK(r.Size() == 0);
  munmap(board, sizeof(Board));
}

}  // namespace

int main() {
  std::printf("ring_fuzz_test\n");
  const char* scale_text = std::getenv("RING_FUZZ_SCALE");
  uint32_t scale = scale_text != nullptr ? static_cast<uint32_t>(std::atoi(scale_text)) : 1;
  if (scale == 0) scale = 1;
  ThreadsFuzz(scale);
#ifndef MP_TSAN
  ProcessesFuzz(scale);
#else
  std::printf("  ProcessesFuzz skipped under ThreadSanitizer (fork)\n");
#endif
  return 0;
}
