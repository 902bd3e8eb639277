// JS bindings of futex.h: a blocking wait for the ...Sync APIs, a wake, and the async wait.
//
// The async wait must not tie up libuv's 4-thread pool (its waits are unbounded) and must not
// cost a thread per waiting object. Each JS environment (main thread or worker thread) has one
// waiter: a few helper threads, each parked in futex_waitv on up to 127 words plus a private
// control word that the JS thread bumps when the set changes. A completed wait is queued and
// the JS thread is told once, through a thread-safe function, for however many completed.
//
//   JS thread                               waiter thread (signals blocked)
//   futexWaitAsync(id) --add entry, bump control-->  scan: value != expected -> complete
//                                                    futex_waitv(control, w1..wn)
//   resolve promises <--tsfn (one call per batch)--  woken entry -> complete
#include "futex.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "os_error.h"
#include "shm.h"

namespace mp {
namespace {

constexpr size_t kWordsPerThread = 127;  // futex_waitv takes at most 128 entries, one is control

struct Entry {
  double id;
  uint32_t* word;
  uint32_t expected;
};

class AsyncWaiter;

std::mutex g_waiters_mutex;
std::set<AsyncWaiter*> g_waiters;  // every environment's waiter, for CancelWaitsIn

class AsyncWaiter {
 public:
  explicit AsyncWaiter(Napi::Env env) {
    tsfn_ = Napi::ThreadSafeFunction::New(
        env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "multiproc.futexWait",
        0,  // unlimited queue: the waiter threads never block on it
        1);
    tsfn_.Unref(env);
    std::lock_guard<std::mutex> lock(g_waiters_mutex);
    g_waiters.insert(this);
  }

  ~AsyncWaiter() {
    {
      std::lock_guard<std::mutex> lock(g_waiters_mutex);
      g_waiters.erase(this);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      for (auto& thread : threads_) BumpLocked(*thread);
    }
    for (auto& thread : threads_) thread->thread.join();
    tsfn_.Release();
  }

  // JS thread. Returns a promise that resolves with a WaitResult.
  Napi::Value Add(Napi::Env env, double id, uint32_t* word, uint32_t expected) {
    auto deferred = Napi::Promise::Deferred::New(env);
    Napi::Promise promise = deferred.Promise();
    if (futex::Load(word) != expected) {
      deferred.Resolve(Napi::Number::New(env, futex::kValueChanged));
      return promise;
    }
    if (deferreds_.count(id) != 0) {
      deferred.Reject(Napi::RangeError::New(env, "wait id already in use").Value());
      return promise;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Thread* thread = nullptr;
      for (auto& candidate : threads_) {
        if (candidate->entries.size() < kWordsPerThread) {
          thread = candidate.get();
          break;
        }
      }
      if (thread == nullptr) {
        threads_.push_back(std::make_unique<Thread>());
        thread = threads_.back().get();
        thread->thread = std::thread(&AsyncWaiter::Run, this, thread);
      }
      thread->entries.push_back(Entry{id, word, expected});
      BumpLocked(*thread);
    }
    deferreds_.emplace(id, std::move(deferred));
    if (deferreds_.size() == 1) tsfn_.Ref(env);
    return promise;
  }

  // JS thread. Cancels a parked wait; its promise resolves with kCancelled. False when the wait
  // already completed (its result is on its way) or never existed.
  bool Cancel(Napi::Env env, double id) {
    bool removed = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& thread : threads_) {
        auto& entries = thread->entries;
        auto it = std::find_if(entries.begin(), entries.end(),
                               [id](const Entry& e) { return e.id == id; });
        if (it != entries.end()) {
          entries.erase(it);
          BumpLocked(*thread);
          removed = true;
          break;
        }
      }
    }
    if (removed) Settle(env, id, futex::kCancelled);
    return removed;
  }

  // Any thread, with the mapping still in place: completes the waits parked inside it.
  void CancelRange(const void* base, size_t length) {
    auto lo = reinterpret_cast<uintptr_t>(base);
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& thread : threads_) {
      auto& entries = thread->entries;
      auto end = std::remove_if(entries.begin(), entries.end(), [&](const Entry& e) {
        auto at = reinterpret_cast<uintptr_t>(e.word);
        if (at < lo || at - lo >= length) return false;
        CompleteLocked(e.id, futex::kCancelled);
        return true;
      });
      if (end != entries.end()) {
        entries.erase(end, entries.end());
        BumpLocked(*thread);
      }
    }
  }

  // JS thread, from the thread-safe function: settles every completed wait.
  void Drain(Napi::Env env) {
    std::vector<std::pair<double, int32_t>> completed;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      completed.swap(completed_);
      notify_pending_ = false;
    }
    for (auto& [id, result] : completed) Settle(env, id, result);
  }

 private:
  struct Thread {
    std::thread thread;
    uint32_t control = 0;  // bumped (under mutex_) whenever entries change
    std::vector<Entry> entries;
  };

  void Settle(Napi::Env env, double id, int32_t result) {
    auto it = deferreds_.find(id);
    if (it == deferreds_.end()) return;
    Napi::Promise::Deferred deferred = std::move(it->second);
    deferreds_.erase(it);
    if (deferreds_.empty()) tsfn_.Unref(env);
    if (result < 0) {
      deferred.Reject(ErrnoError(env, -result, "futex_waitv").Value());
    } else {
      deferred.Resolve(Napi::Number::New(env, result));
    }
  }

  void BumpLocked(Thread& thread) {
    std::atomic_ref<uint32_t>(thread.control).fetch_add(1, std::memory_order_release);
    syscall(SYS_futex, &thread.control, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

  void CompleteLocked(double id, int32_t result) {
    completed_.emplace_back(id, result);
    if (!notify_pending_) {
      notify_pending_ = true;
      tsfn_.NonBlockingCall(
          this, [](Napi::Env env, Napi::Function, AsyncWaiter* waiter) { waiter->Drain(env); });
    }
  }

  void Run(Thread* self) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::vector<futex::WaitvEntry> waitv;
    std::vector<double> ids;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      // Complete every wait whose word already moved; park on the rest.
      auto& entries = self->entries;
      entries.erase(std::remove_if(entries.begin(), entries.end(),
                                   [&](const Entry& e) {
                                     if (futex::Load(e.word) == e.expected) return false;
                                     CompleteLocked(e.id, futex::kValueChanged);
                                     return true;
                                   }),
                    entries.end());
      waitv.clear();
      ids.clear();
      uint32_t control = std::atomic_ref<uint32_t>(self->control).load(std::memory_order_acquire);
      waitv.push_back({control, reinterpret_cast<uintptr_t>(&self->control),
                       FUTEX2_SIZE_U32 | FUTEX2_PRIVATE, 0});
      ids.push_back(-1);
      for (const Entry& e : entries) {
        waitv.push_back({e.expected, reinterpret_cast<uintptr_t>(e.word), FUTEX2_SIZE_U32, 0});
        ids.push_back(e.id);
      }
      lock.unlock();
      int32_t rc = futex::WaitAny(waitv.data(), static_cast<uint32_t>(waitv.size()));
      lock.lock();
      if (rc > 0) {
        double id = ids[static_cast<size_t>(rc)];
        auto it = std::find_if(entries.begin(), entries.end(),
                               [id](const Entry& e) { return e.id == id; });
        if (it != entries.end()) {
          entries.erase(it);
          CompleteLocked(id, futex::kWoken);
        }
      } else if (rc < 0 && rc != -EAGAIN && rc != -EINTR && rc != -ETIMEDOUT) {
        // A word that cannot be waited on (EFAULT, ENOSYS): fail every wait of this thread
        // rather than spin on the error.
        for (const Entry& e : entries) CompleteLocked(e.id, rc);
        entries.clear();
      }
    }
  }

  Napi::ThreadSafeFunction tsfn_;
  std::mutex mutex_;
  bool stopping_ = false;
  bool notify_pending_ = false;
  std::vector<std::unique_ptr<Thread>> threads_;                   // guarded by mutex_
  std::vector<std::pair<double, int32_t>> completed_;              // guarded by mutex_
  std::unordered_map<double, Napi::Promise::Deferred> deferreds_;  // JS thread only
};

AsyncWaiter* WaiterOf(Napi::Env env) { return env.GetInstanceData<AsyncWaiter>(); }

double TimeoutArgument(const Napi::CallbackInfo& info, size_t index, bool* ok) {
  *ok = true;
  if (info[index].IsUndefined() || info[index].IsNull()) return -1;
  if (!info[index].IsNumber()) {
    ThrowType(info.Env(), "timeout must be a number of milliseconds");
    *ok = false;
    return 0;
  }
  double ms = info[index].As<Napi::Number>().DoubleValue();
  if (std::isnan(ms)) {
    ThrowType(info.Env(), "timeout must not be NaN");
    *ok = false;
  }
  return ms;
}

bool Uint32Argument(const Napi::CallbackInfo& info, size_t index, uint32_t* out) {
  if (!info[index].IsNumber()) {
    ThrowType(info.Env(), "expected value must be a number");
    return false;
  }
  // Int32Array and Uint32Array views read the same word differently; accept both spellings.
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= INT32_MIN && value <= UINT32_MAX) || value != std::floor(value)) {
    ThrowRange(info.Env(), "expected value must be a 32-bit integer");
    return false;
  }
  *out = static_cast<uint32_t>(static_cast<int64_t>(value));
  return true;
}

// futexWait(buffer, byteOffset, expected, timeoutMs?) -> WaitResult. Blocks this thread.
Napi::Value FutexWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordArgument(info, 0, 1);
  uint32_t expected;
  bool ok;
  if (word == nullptr || !Uint32Argument(info, 2, &expected)) return env.Null();
  double timeout = TimeoutArgument(info, 3, &ok);
  if (!ok) return env.Null();
  int32_t result = futex::Wait(word, expected, timeout < 0 ? -1 : timeout);
  if (result < 0) {
    ThrowErrno(env, -result, "futex");
    return env.Null();
  }
  return Napi::Number::New(env, result);
}

// futexWake(buffer, byteOffset, count?) -> number of waiters woken.
Napi::Value FutexWake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordArgument(info, 0, 1);
  if (word == nullptr) return env.Null();
  int32_t count = INT32_MAX;
  if (!info[2].IsUndefined()) {
    if (!info[2].IsNumber()) {
      ThrowType(env, "count must be a number");
      return env.Null();
    }
    double value = info[2].As<Napi::Number>().DoubleValue();
    if (!(value >= 0)) {
      ThrowRange(env, "count must not be negative");
      return env.Null();
    }
    count = value >= INT32_MAX ? INT32_MAX : static_cast<int32_t>(value);
  }
  int32_t woken = futex::Wake(word, count);
  if (woken < 0) {
    ThrowErrno(env, -woken, "futex");
    return env.Null();
  }
  return Napi::Number::New(env, woken);
}

// futexWaitAsync(buffer, byteOffset, expected, id) -> Promise<WaitResult>. Timeouts and abort
// are the caller's: it cancels with futexCancel(id).
Napi::Value FutexWaitAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordArgument(info, 0, 1);
  uint32_t expected;
  if (word == nullptr || !Uint32Argument(info, 2, &expected)) return env.Null();
  if (!info[3].IsNumber()) {
    ThrowType(env, "id must be a number");
    return env.Null();
  }
  return WaiterOf(env)->Add(env, info[3].As<Napi::Number>().DoubleValue(), word, expected);
}

Napi::Value FutexCancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) {
    ThrowType(env, "id must be a number");
    return env.Null();
  }
  return Napi::Boolean::New(env,
                            WaiterOf(env)->Cancel(env, info[0].As<Napi::Number>().DoubleValue()));
}

// Lets another runnable thread of this CPU run first, if any (a spinner's pause: src/spin.ts).
Napi::Value SchedYield(const Napi::CallbackInfo& info) {
  sched_yield();
  return info.Env().Undefined();
}

}  // namespace

void CancelWaitsIn(const void* base, size_t length) {
  std::lock_guard<std::mutex> lock(g_waiters_mutex);
  for (AsyncWaiter* waiter : g_waiters) waiter->CancelRange(base, length);
}

void InitFutex(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AsyncWaiter>(new AsyncWaiter(env));
  exports.Set("futexWait", Napi::Function::New(env, FutexWait, "futexWait"));
  exports.Set("futexWake", Napi::Function::New(env, FutexWake, "futexWake"));
  exports.Set("futexWaitAsync", Napi::Function::New(env, FutexWaitAsync, "futexWaitAsync"));
  exports.Set("futexCancel", Napi::Function::New(env, FutexCancel, "futexCancel"));
  exports.Set("schedYield", Napi::Function::New(env, SchedYield, "schedYield"));
}

}  // namespace mp
