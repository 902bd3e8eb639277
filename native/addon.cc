// Module registration only: each facility adds its functions to the exports.
#include <napi.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "futex.h"

namespace mp {
void InitShm(Napi::Env env, Napi::Object exports);
void InitFutex(Napi::Env env, Napi::Object exports);
void InitLiveness(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
void InitSockets(Napi::Env env, Napi::Object exports);
void InitSemaphore(Napi::Env env, Napi::Object exports);
void InitRing(Napi::Env env, Napi::Object exports);

namespace {

// What the running kernel supports, probed once, so callers can refuse clearly instead of
// failing silently.
Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object caps = Napi::Object::New(env);
  // futex_waitv with no entries fails with EINVAL where it exists, ENOSYS where it does not.
  long waitv = syscall(SYS_futex_waitv, nullptr, 0, 0, nullptr, 0);
  caps.Set("futexWaitv", Napi::Boolean::New(env, !(waitv < 0 && errno == ENOSYS)));
  long pidfd = syscall(SYS_pidfd_open, -1, 0);
  caps.Set("pidfd", Napi::Boolean::New(env, !(pidfd < 0 && errno == ENOSYS)));
  long memfd = syscall(SYS_memfd_create, nullptr, 0);
  caps.Set("memfd", Napi::Boolean::New(env, !(memfd < 0 && errno == ENOSYS)));
  caps.Set("futex", Napi::Boolean::New(env, true));
  caps.Set("parentDeathSignal", Napi::Boolean::New(env, true));
  return caps;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("sourceHash", Napi::String::New(env, MP_SOURCE_HASH));
  exports.Set("capabilities", Napi::Function::New(env, Capabilities, "capabilities"));
  InitShm(env, exports);
  InitFutex(env, exports);
  InitLiveness(env, exports);
  InitProcess(env, exports);
  InitSockets(env, exports);
  InitSemaphore(env, exports);
  InitRing(env, exports);
  return exports;
}

}  // namespace mp

// The hash is also kept as a plain string in the binary, so a test can read it from a prebuild
// without loading it.
extern "C" __attribute__((used)) const char mp_source_hash_marker[] = "MPSRCHASH:" MP_SOURCE_HASH;

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return mp::Init(env, exports);
}

NODE_API_MODULE(multiproc, InitAddon)
