// Owner tokens whose liveness the kernel vouches for.
//
// A lock word must name its holder so that a waiter can tell a dead holder from a slow one. A
// pid cannot do it (reused, and different in another PID namespace). Instead every JS
// environment (the main thread, each worker thread) claims a slot in one per-user registry
// file by taking an OFD lock (fcntl F_OFD_SETLK) on the slot's byte. The kernel drops that lock
// when the environment closes its descriptor or the process dies, however it dies, and any
// process can ask (F_OFD_GETLK) whether a slot is still held.
//
// Registry (/dev/shm/multiproc-<uid>.liveness, mode 0600, kSlots * 4 bytes):
//   uint32 generation[kSlots]   bumped by each claimant of the slot
// Token (32 bits, never 0): slot << 16 | (generation & 0xffff). A token is alive when its
// slot's byte is locked and its slot's generation still matches (a later claimant of the slot
// changes it, so a reused slot does not revive an old owner).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <string>

#include "os_error.h"

namespace mp {
namespace {

constexpr uint32_t kSlots = 65536;
constexpr size_t kRegistryBytes = kSlots * sizeof(uint32_t);

struct Registry {
  int fd = -1;
  uint32_t* generations = nullptr;
  uint32_t token = 0;
};

// Per environment: each environment runs on its own thread, so a thread_local is its own slot
// (napi's instance data is taken by the futex waiter). Released by an env cleanup hook.
thread_local Registry* t_registry = nullptr;

void ReleaseRegistry(Registry* r) {
  // The environment is going away (worker thread exit): dropping the lock is what tells every
  // waiter that locks held by this environment are orphaned.
  munmap(r->generations, kRegistryBytes);
  close(r->fd);
  if (t_registry == r) t_registry = nullptr;
  delete r;
}

bool OpenRegistry(Napi::Env env, int* fd_out, uint32_t** map_out) {
  std::string name = "/multiproc-" + std::to_string(geteuid()) + ".liveness";
  int fd = RetryOnEintr([&] { return shm_open(name.c_str(), O_RDWR | O_CREAT, 0600); });
  if (fd < 0) {
    ThrowErrno(env, errno, "shm_open", name);
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
    close(fd);
    ThrowErrno(env, EACCES, "shm_open", name);
    return false;
  }
  if (static_cast<size_t>(st.st_size) < kRegistryBytes &&
      RetryOnEintr([&] { return ftruncate(fd, kRegistryBytes); }) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "ftruncate", name);
    return false;
  }
  void* map = mmap(nullptr, kRegistryBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "mmap", name);
    return false;
  }
  *fd_out = fd;
  *map_out = static_cast<uint32_t*>(map);
  return true;
}

struct flock SlotRange(uint32_t slot, short type) {
  struct flock range = {};
  range.l_type = type;
  range.l_whence = SEEK_SET;
  range.l_start = slot;
  range.l_len = 1;
  range.l_pid = 0;  // required for OFD locks
  return range;
}

// livenessToken() -> this environment's owner token, claiming a slot on first use.
Napi::Value LivenessToken(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (t_registry != nullptr) return Napi::Number::New(env, t_registry->token);
  auto* registry = new Registry();
  if (!OpenRegistry(env, &registry->fd, &registry->generations)) {
    delete registry;
    return env.Null();
  }
  std::random_device seed;
  std::mt19937 random(seed());
  uint32_t start = random() % kSlots;
  for (uint32_t i = 0; i < kSlots; i++) {
    uint32_t slot = (start + i) % kSlots;
    if (slot == 0) continue;  // token 0 means "no owner"
    struct flock range = SlotRange(slot, F_WRLCK);
    if (RetryOnEintr([&] { return fcntl(registry->fd, F_OFD_SETLK, &range); }) < 0) continue;
    uint32_t generation = std::atomic_ref<uint32_t>(registry->generations[slot])
                              .fetch_add(1, std::memory_order_acq_rel) +
                          1;
    registry->token = (slot << 16) | (generation & 0xffff);
    t_registry = registry;
    napi_add_env_cleanup_hook(
        env, [](void* r) { ReleaseRegistry(static_cast<Registry*>(r)); }, registry);
    return Napi::Number::New(env, registry->token);
  }
  munmap(registry->generations, kRegistryBytes);
  close(registry->fd);
  delete registry;
  ThrowErrno(env, EAGAIN, "fcntl", "every liveness slot is taken");
  return env.Null();
}

// livenessAlive(token) -> boolean: is the environment that owns `token` still running?
Napi::Value LivenessAlive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) {
    ThrowType(env, "token must be a number");
    return env.Null();
  }
  double value = info[0].As<Napi::Number>().DoubleValue();
  if (!(value >= 0 && value <= UINT32_MAX) || value != static_cast<uint32_t>(value)) {
    ThrowRange(env, "token must be a 32-bit unsigned integer");
    return env.Null();
  }
  uint32_t token = static_cast<uint32_t>(value);
  uint32_t slot = token >> 16;
  if (token == 0 || slot == 0) return Napi::Boolean::New(env, false);
  if (t_registry == nullptr && LivenessToken(info).IsNull()) {
    return env.Null();  // claiming our own slot gives this environment a descriptor to query with
  }
  Registry* own = t_registry;
  // Our own descriptor never conflicts with itself: answer for our own slot directly.
  if (slot == (own->token >> 16)) return Napi::Boolean::New(env, token == own->token);
  struct flock range = SlotRange(slot, F_WRLCK);
  if (RetryOnEintr([&] { return fcntl(own->fd, F_OFD_GETLK, &range); }) < 0) {
    ThrowErrno(env, errno, "fcntl");
    return env.Null();
  }
  if (range.l_type == F_UNLCK) return Napi::Boolean::New(env, false);
  uint32_t generation =
      std::atomic_ref<uint32_t>(own->generations[slot]).load(std::memory_order_acquire);
  return Napi::Boolean::New(env, (generation & 0xffff) == (token & 0xffff));
}

// trackerClaim() -> boolean: takes byte 0 of the registry (slot 0 is never a token) for this
// environment, so that at most one resource tracker runs per user. False when another holds it.
Napi::Value TrackerClaim(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (t_registry == nullptr && LivenessToken(info).IsNull()) return env.Null();
  struct flock range = SlotRange(0, F_WRLCK);
  bool claimed = RetryOnEintr([&] { return fcntl(t_registry->fd, F_OFD_SETLK, &range); }) == 0;
  return Napi::Boolean::New(env, claimed);
}

// trackerAlive() -> boolean: does some process hold byte 0 (a tracker runs)?
Napi::Value TrackerAlive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (t_registry == nullptr && LivenessToken(info).IsNull()) return env.Null();
  struct flock range = SlotRange(0, F_WRLCK);
  if (RetryOnEintr([&] { return fcntl(t_registry->fd, F_OFD_GETLK, &range); }) < 0) {
    ThrowErrno(env, errno, "fcntl");
    return env.Null();
  }
  return Napi::Boolean::New(env, range.l_type != F_UNLCK);
}

}  // namespace

void InitLiveness(Napi::Env env, Napi::Object exports) {
  exports.Set("livenessToken", Napi::Function::New(env, LivenessToken, "livenessToken"));
  exports.Set("livenessAlive", Napi::Function::New(env, LivenessAlive, "livenessAlive"));
  exports.Set("trackerClaim", Napi::Function::New(env, TrackerClaim, "trackerClaim"));
  exports.Set("trackerAlive", Napi::Function::New(env, TrackerAlive, "trackerAlive"));
}

}  // namespace mp
