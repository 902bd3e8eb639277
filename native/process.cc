// Starting children and reaping them: posix_spawn, one pidfd per child, exit status decoded once.
//
// A child is started with posix_spawn (vfork-style: nothing of ours runs between fork and exec,
// so a big parent costs nothing and no lock held by another thread can wedge the child). Each
// child gets a pidfd at once; libuv polls it on the event loop (no thread, no thread pool), and
// when it becomes readable the child is reaped with waitid(P_PIDFD): never waitpid(-1), which
// would steal the children of Node's child_process. Signals go through the pidfd, so a recycled
// pid is never hit.
//
// Exit codes follow Python: n for exit(n), -N for death by signal N.
//
// A daemon child arms PR_SET_PDEATHSIG itself (setParentDeathSignal); the kernel ties that signal
// to the spawning *thread*, so spawns from worker threads run on one process-wide helper thread
// that lives as long as the process. The same thread reaps the children a worker thread left
// unjoined when it exited, so no zombie outlives its environment.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cmath>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "os_error.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace mp {
namespace {

constexpr size_t kMaxChildFds = 64;

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// Python's convention: n for exit(n), -N for death by signal N.
int DecodeStatus(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return info.si_status;
  return -info.si_status;
}

// Reaps the child behind `pidfd` if it has exited. Returns true and sets *code when reaped.
bool TryReap(int pidfd, int* code, int* err) {
  siginfo_t info{};
  int rc = RetryOnEintr(
      [&] { return waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &info, WEXITED | WNOHANG); });
  if (rc < 0) {
    *err = errno;
    return false;
  }
  *err = 0;
  if (info.si_pid == 0) return false;  // still running
  *code = DecodeStatus(info);
  return true;
}

// ---- the process-wide helper thread: long-lived spawner and orphan reaper ----

class Helper {
 public:
  static Helper& Get() {
    static Helper* helper = new Helper();  // never destroyed: it lives as long as the process
    return *helper;
  }

  // Runs `job` on the helper thread and waits for it.
  void Run(const std::function<void()>& job) {
    std::unique_lock<std::mutex> lock(mutex_);
    uint64_t ticket = ++submitted_;
    jobs_.push_back(&job);
    Wake();
    done_.wait(lock, [&] { return completed_ >= ticket; });
  }

  // Hands over a pidfd whose child nobody will join: the helper reaps it and closes the fd.
  void Adopt(int pidfd) {
    std::lock_guard<std::mutex> lock(mutex_);
    orphans_.push_back(pidfd);
    Wake();
  }

 private:
  Helper() {
    event_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    std::thread([this] { Loop(); }).detach();
  }

  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = write(event_, &one, sizeof one);
    (void)ignored;
  }

  void Loop() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::vector<pollfd> fds;
    for (;;) {
      fds.clear();
      fds.push_back({event_, POLLIN, 0});
      {
        std::lock_guard<std::mutex> lock(mutex_);
        for (int fd : orphans_) fds.push_back({fd, POLLIN, 0});
      }
      RetryOnEintr([&] { return poll(fds.data(), fds.size(), -1); });
      uint64_t count;
      ssize_t ignored = read(event_, &count, sizeof count);
      (void)ignored;
      std::unique_lock<std::mutex> lock(mutex_);
      while (!jobs_.empty()) {
        const std::function<void()>* job = jobs_.front();
        jobs_.erase(jobs_.begin());
        lock.unlock();
        (*job)();
        lock.lock();
        completed_++;
        done_.notify_all();
      }
      for (size_t i = 1; i < fds.size(); i++) {
        if (fds[i].revents == 0) continue;
        int code, err;
        if (TryReap(fds[i].fd, &code, &err) || err != 0) {
          close(fds[i].fd);
          std::erase(orphans_, fds[i].fd);
        }
      }
    }
  }

  int event_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::vector<const std::function<void()>*> jobs_;
  std::vector<int> orphans_;
  uint64_t submitted_ = 0;
  uint64_t completed_ = 0;
};

bool OnMainThread() { return gettid() == getpid(); }

// ---- children of one environment (main thread or worker thread) ----

struct Child;

struct Children {
  napi_env env;
  std::unordered_map<double, Child*> byId;
  double nextId = 1;
};

thread_local Children* t_children = nullptr;

struct Child {
  uv_poll_t poll;
  Children* owner;
  double id;
  pid_t pid;
  int pidfd;
  Napi::FunctionReference onExit;
  std::unique_ptr<Napi::AsyncContext> context;
};

// Stops watching the child, forgets it and frees it once libuv has let go of the handle.
void Forget(Child* child) {
  child->owner->byId.erase(child->id);
  uv_poll_stop(&child->poll);
  close(child->pidfd);
  child->pidfd = -1;
  child->onExit.Reset();
  child->context.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&child->poll),
           [](uv_handle_t* handle) { delete static_cast<Child*>(handle->data); });
}

void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  auto* child = static_cast<Child*>(handle->data);
  (void)status;  // an error from epoll is treated as a wake-up: waitid tells the truth
  int code = 0, err = 0;
  bool reaped = TryReap(child->pidfd, &code, &err);
  if (!reaped && err == 0) return;  // spurious wake-up: keep watching
  // ECHILD: someone else (a waitpid(-1) elsewhere in the process) took the status. Report 255
  // rather than leave join() hanging.
  if (!reaped) code = 255;
  Napi::Env env(child->owner->env);
  Napi::HandleScope scope(env);
  Napi::Function callback = child->onExit.Value();
  std::unique_ptr<Napi::AsyncContext> context = std::move(child->context);
  double id = child->id;
  Forget(child);
  callback.MakeCallback(env.Global(), {Napi::Number::New(env, id), Napi::Number::New(env, code)},
                        *context);
  if (env.IsExceptionPending()) {
    napi_fatal_exception(env, env.GetAndClearPendingException().Value());
  }
}

void ReleaseChildren(void* data) {
  auto* children = static_cast<Children*>(data);
  bool main = OnMainThread();
  for (auto& [id, child] : children->byId) {
    uv_poll_stop(&child->poll);
    // A worker thread is going away while the process lives on: its unjoined children must still
    // be reaped. At process exit, orphans go to init (or a subreaper), which reaps them.
    if (main)
      close(child->pidfd);
    else
      Helper::Get().Adopt(child->pidfd);
    child->onExit.Reset();
    child->context.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&child->poll),
             [](uv_handle_t* handle) { delete static_cast<Child*>(handle->data); });
  }
  children->byId.clear();
  if (t_children == children) t_children = nullptr;
  delete children;
}

Children* ChildrenOf(Napi::Env env) {
  if (t_children == nullptr) {
    t_children = new Children();
    t_children->env = env;
    napi_add_env_cleanup_hook(env, ReleaseChildren, t_children);
  }
  return t_children;
}

// ---- argument checks ----

bool StringList(Napi::Env env, Napi::Value value, const char* what, std::vector<std::string>* out) {
  if (!value.IsArray()) {
    ThrowType(env, (std::string(what) + " must be an array of strings").c_str());
    return false;
  }
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) {
      ThrowType(env, (std::string(what) + " must be an array of strings").c_str());
      return false;
    }
    std::string text = item.As<Napi::String>().Utf8Value();
    if (text.find('\0') != std::string::npos) {
      ThrowType(env, (std::string(what) + " must not contain NUL").c_str());
      return false;
    }
    out->push_back(std::move(text));
  }
  return true;
}

bool IntegerArgument(Napi::Env env, Napi::Value value, const char* what, double min, double max,
                     double* out) {
  if (!value.IsNumber()) {
    ThrowType(env, (std::string(what) + " must be a number").c_str());
    return false;
  }
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= min && number <= max) || number != std::floor(number)) {
    ThrowRange(env, (std::string(what) + " is out of range").c_str());
    return false;
  }
  *out = number;
  return true;
}

Child* ChildArgument(const Napi::CallbackInfo& info) {
  double id;
  if (!IntegerArgument(info.Env(), info[0], "id", 1, 9007199254740991.0, &id)) return nullptr;
  Children* children = t_children;
  if (children == nullptr) return nullptr;
  auto it = children->byId.find(id);
  return it == children->byId.end() ? nullptr : it->second;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// posix_spawn with `fdMap[i]` placed on fd i of the child (-1: leave fd i as inherited), every
// signal disposition reset and an empty signal mask (as libuv does for child_process).
int Spawn(const std::string& file, std::vector<std::string>& argv, std::vector<std::string>& envp,
          const std::string* cwd, const std::vector<int>& fdMap, pid_t* pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  std::vector<int> temporaries;
  int err = 0;
  int limit = static_cast<int>(fdMap.size());
  for (int target = 0; target < limit && err == 0; target++) {
    int source = fdMap[target];
    if (source < 0) continue;
    // A source below `limit` could be overwritten by an earlier dup2 in the child: move it up.
    // That also covers source == target, whose close-on-exec flag (Node sets it on stdio)
    // dup2 onto itself would not clear.
    if (source < limit) {
      int moved = fcntl(source, F_DUPFD_CLOEXEC, limit);
      if (moved < 0) {
        err = errno;
        break;
      }
      temporaries.push_back(moved);
      source = moved;
    }
    err = posix_spawn_file_actions_adddup2(&actions, source, target);
  }
  if (err == 0 && cwd != nullptr)
    err = posix_spawn_file_actions_addchdir_np(&actions, cwd->c_str());
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  if (err == 0) err = posix_spawnattr_setsigmask(&attr, &none);
  if (err == 0) err = posix_spawnattr_setsigdefault(&attr, &all);
  if (err == 0)
    err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (err == 0) {
    std::vector<char*> argp = Pointers(argv);
    std::vector<char*> envpp = Pointers(envp);
    auto run = [&] {
      err = posix_spawn(pid, file.c_str(), &actions, &attr, argp.data(), envpp.data());
    };
    if (OnMainThread())
      run();
    else
      Helper::Get().Run(run);
  }
  for (int fd : temporaries) close(fd);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return err;
}

// spawnChild(file, argv, envp, cwd | null, fdMap, ref, onExit(id, exitCode)) -> { id, pid }
Napi::Value SpawnChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    ThrowType(env, "file must be a string");
    return env.Null();
  }
  std::string file = info[0].As<Napi::String>().Utf8Value();
  std::vector<std::string> argv, envp;
  if (!StringList(env, info[1], "argv", &argv) || !StringList(env, info[2], "envp", &envp)) {
    return env.Null();
  }
  if (argv.empty()) {
    ThrowRange(env, "argv must hold at least the program name");
    return env.Null();
  }
  std::string cwd;
  bool hasCwd = info[3].IsString();
  if (hasCwd) {
    cwd = info[3].As<Napi::String>().Utf8Value();
  } else if (!info[3].IsNull() && !info[3].IsUndefined()) {
    ThrowType(env, "cwd must be a string or null");
    return env.Null();
  }
  if (file.find('\0') != std::string::npos || cwd.find('\0') != std::string::npos) {
    ThrowType(env, "file and cwd must not contain NUL");
    return env.Null();
  }
  if (!info[4].IsArray() || info[4].As<Napi::Array>().Length() > kMaxChildFds) {
    ThrowType(env, "fdMap must be an array of at most 64 fds");
    return env.Null();
  }
  Napi::Array fdArray = info[4].As<Napi::Array>();
  std::vector<int> fdMap;
  for (uint32_t i = 0; i < fdArray.Length(); i++) {
    double fd;
    if (!IntegerArgument(env, fdArray.Get(i), "fdMap entry", -1, INT32_MAX, &fd)) return env.Null();
    fdMap.push_back(static_cast<int>(fd));
  }
  if (!info[5].IsBoolean()) {
    ThrowType(env, "ref must be a boolean");
    return env.Null();
  }
  if (!info[6].IsFunction()) {
    ThrowType(env, "onExit must be a function");
    return env.Null();
  }
  pid_t pid = -1;
  int err = Spawn(file, argv, envp, hasCwd ? &cwd : nullptr, fdMap, &pid);
  if (err != 0) {
    ThrowErrno(env, err, "posix_spawn", file);
    return env.Null();
  }
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) {
    // Without a pidfd we could neither wait nor signal safely: undo the spawn.
    int openErr = errno;
    kill(pid, SIGKILL);
    RetryOnEintr([&] { return waitpid(pid, nullptr, 0); });
    ThrowErrno(env, openErr, "pidfd_open");
    return env.Null();
  }
  Children* children = ChildrenOf(env);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  auto* child = new Child{};
  child->owner = children;
  child->id = children->nextId++;
  child->pid = pid;
  child->pidfd = pidfd;
  child->onExit = Napi::Persistent(info[6].As<Napi::Function>());
  child->context = std::make_unique<Napi::AsyncContext>(env, "multiproc.Process");
  child->poll.data = child;
  int uvErr = uv_poll_init(loop, &child->poll, pidfd);
  if (uvErr == 0) uvErr = uv_poll_start(&child->poll, UV_READABLE, OnReadable);
  if (uvErr != 0) {
    // The handle was never registered with the loop: kill and reap the child synchronously.
    PidfdSendSignal(pidfd, SIGKILL);
    siginfo_t ignored{};
    RetryOnEintr([&] { return waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &ignored, WEXITED); });
    close(pidfd);
    delete child;
    ThrowErrno(env, -uvErr, "uv_poll_start");
    return env.Null();
  }
  if (!info[5].As<Napi::Boolean>().Value()) uv_unref(reinterpret_cast<uv_handle_t*>(&child->poll));
  children->byId[child->id] = child;
  Napi::Object result = Napi::Object::New(env);
  result.Set("id", Napi::Number::New(env, child->id));
  result.Set("pid", Napi::Number::New(env, pid));
  return result;
}

// childJoinSync(id, timeoutMs) -> exit code, or null when the timeout ran out. timeoutMs < 0
// waits forever. A signal with a handler interrupts the wait with EINTR (never swallowed); the
// SIGCHLD of any child is blocked meanwhile, so children exiting do not interrupt it.
Napi::Value ChildJoinSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Child* child = ChildArgument(info);
  if (env.IsExceptionPending()) return env.Null();
  if (child == nullptr) {
    ThrowRange(env, "no live child with this id");
    return env.Null();
  }
  if (!info[1].IsNumber()) {
    ThrowType(env, "timeoutMs must be a number");
    return env.Null();
  }
  double timeout = info[1].As<Napi::Number>().DoubleValue();
  if (std::isnan(timeout)) {
    ThrowType(env, "timeoutMs must not be NaN");
    return env.Null();
  }
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  sigaddset(&mask, SIGCHLD);
  pollfd fd{child->pidfd, POLLIN, 0};
  timespec limit{}, *limitp = nullptr;
  if (timeout >= 0 && std::isfinite(timeout)) {
    limit.tv_sec = static_cast<time_t>(timeout / 1000);
    limit.tv_nsec = static_cast<long>(std::fmod(timeout, 1000) * 1e6);
    limitp = &limit;
  }
  int ready = ppoll(&fd, 1, limitp, &mask);
  if (ready < 0) {
    ThrowErrno(env, errno, "ppoll");
    return env.Null();
  }
  int code = 0, err = 0;
  if (ready == 0 || !TryReap(child->pidfd, &code, &err)) {
    if (err != 0) ThrowErrno(env, err, "waitid");
    return env.Null();
  }
  Forget(child);
  return Napi::Number::New(env, code);
}

// childSignal(id, signal) -> true when sent, false when the child is gone (or being reaped).
Napi::Value ChildSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Child* child = ChildArgument(info);
  if (env.IsExceptionPending()) return env.Null();
  double sig;
  if (!IntegerArgument(env, info[1], "signal", 0, 64, &sig)) return env.Null();
  if (child == nullptr) return Napi::Boolean::New(env, false);
  if (PidfdSendSignal(child->pidfd, static_cast<int>(sig)) < 0) {
    if (errno == ESRCH) return Napi::Boolean::New(env, false);
    ThrowErrno(env, errno, "pidfd_send_signal");
    return env.Null();
  }
  return Napi::Boolean::New(env, true);
}

// childSetRef(id, ref) -> whether the child was found. A referenced child keeps the event loop
// alive until it exits.
Napi::Value ChildSetRef(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Child* child = ChildArgument(info);
  if (env.IsExceptionPending()) return env.Null();
  if (!info[1].IsBoolean()) {
    ThrowType(env, "ref must be a boolean");
    return env.Null();
  }
  if (child == nullptr) return Napi::Boolean::New(env, false);
  auto* handle = reinterpret_cast<uv_handle_t*>(&child->poll);
  if (info[1].As<Napi::Boolean>().Value())
    uv_ref(handle);
  else
    uv_unref(handle);
  return Napi::Boolean::New(env, true);
}

// makePipe() -> [readFd, writeFd], both close-on-exec.
Napi::Value MakePipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) {
    ThrowErrno(env, errno, "pipe2");
    return env.Null();
  }
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, fds[0]));
  result.Set(1u, Napi::Number::New(env, fds[1]));
  return result;
}

// setParentDeathSignal(signal) -> getppid() read after arming, so a parent that died before the
// signal was armed is seen (compare with the pid it should be; not with 1, subreapers adopt).
Napi::Value SetParentDeathSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double sig;
  if (!IntegerArgument(env, info[0], "signal", 0, 64, &sig)) return env.Null();
  if (prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(sig), 0, 0, 0) < 0) {
    ThrowErrno(env, errno, "prctl");
    return env.Null();
  }
  return Napi::Number::New(env, getppid());
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("spawnChild", Napi::Function::New(env, SpawnChild, "spawnChild"));
  exports.Set("childJoinSync", Napi::Function::New(env, ChildJoinSync, "childJoinSync"));
  exports.Set("childSignal", Napi::Function::New(env, ChildSignal, "childSignal"));
  exports.Set("childSetRef", Napi::Function::New(env, ChildSetRef, "childSetRef"));
  exports.Set("makePipe", Napi::Function::New(env, MakePipe, "makePipe"));
  exports.Set("setParentDeathSignal",
              Napi::Function::New(env, SetParentDeathSignal, "setParentDeathSignal"));
}

}  // namespace mp
