// JS bindings of POSIX named semaphores: sem_open / sem_close / sem_unlink / sem_post /
// sem_trywait / sem_getvalue, and the blocking wait of sem_wait.h for the ...Sync forms.
//
// An open semaphore reaches JS as a type-tagged External; its finalizer closes it if JS did not.
// Names, modes and ownership checks are policy and live in TypeScript
// (src/synchronize/named-semaphore.ts); this file validates only what it must to never crash.
#include <fcntl.h>

#include <cmath>
#include <string>

#include "os_error.h"
#include "sem_wait.h"

namespace mp {
namespace {

// Tags Externals made here, so that an External from elsewhere is refused, not dereferenced.
constexpr napi_type_tag kSemTag = {0x6d756c746970726fULL, 0x2e73656d6f70656eULL};

struct NamedSem {
  sem_t* sem = nullptr;
};

constexpr uint32_t kCreate = 1;
constexpr uint32_t kExclusive = 2;

bool NameArgument(const Napi::CallbackInfo& info, size_t index, std::string* out) {
  if (!info[index].IsString()) {
    ThrowType(info.Env(), "name must be a string");
    return false;
  }
  *out = info[index].As<Napi::String>().Utf8Value();
  if (out->empty() || out->size() > 255 || out->find('\0') != std::string::npos) {
    ThrowRange(info.Env(), "name must be 1 to 255 bytes with no NUL");
    return false;
  }
  return true;
}

bool Uint32Argument(const Napi::CallbackInfo& info, size_t index, const char* what, uint32_t max,
                    uint32_t* out) {
  if (!info[index].IsNumber()) {
    ThrowType(info.Env(), (std::string(what) + " must be a number").c_str());
    return false;
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= 0 && value <= max) || value != std::floor(value)) {
    ThrowRange(info.Env(), (std::string(what) + " is out of range").c_str());
    return false;
  }
  *out = static_cast<uint32_t>(value);
  return true;
}

// The open semaphore behind argument `index`; throws and returns nullptr for anything else.
NamedSem* SemArgument(const Napi::CallbackInfo& info, size_t index) {
  Napi::Value value = info[index];
  if (!value.IsExternal() || !value.As<Napi::External<NamedSem>>().CheckTypeTag(&kSemTag)) {
    ThrowType(info.Env(), "not a named semaphore handle");
    return nullptr;
  }
  NamedSem* named = value.As<Napi::External<NamedSem>>().Data();
  if (named->sem == nullptr) {
    ThrowType(info.Env(), "the named semaphore is closed");
    return nullptr;
  }
  return named;
}

// semOpen(name, flags, mode, value) -> handle. flags: 1 create, 2 exclusive.
Napi::Value SemOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  uint32_t flags, mode, value;
  if (!NameArgument(info, 0, &name) || !Uint32Argument(info, 1, "flags", 3, &flags) ||
      !Uint32Argument(info, 2, "mode", 0777, &mode) ||
      !Uint32Argument(info, 3, "value", SEM_VALUE_MAX, &value)) {
    return env.Null();
  }
  int oflag = ((flags & kCreate) ? O_CREAT : 0) | ((flags & kExclusive) ? O_EXCL : 0);
  sem_t* sem = (flags & kCreate) ? sem_open(name.c_str(), oflag, static_cast<mode_t>(mode), value)
                                 : sem_open(name.c_str(), oflag);
  if (sem == SEM_FAILED) {
    ThrowErrno(env, errno, "sem_open", name);
    return env.Null();
  }
  auto external =
      Napi::External<NamedSem>::New(env, new NamedSem{sem}, [](Napi::Env, NamedSem* named) {
        if (named->sem != nullptr) sem_close(named->sem);
        delete named;
      });
  external.TypeTag(&kSemTag);
  return external;
}

// semClose(handle): idempotent.
Napi::Value SemClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value value = info[0];
  if (!value.IsExternal() || !value.As<Napi::External<NamedSem>>().CheckTypeTag(&kSemTag)) {
    ThrowType(env, "not a named semaphore handle");
    return env.Null();
  }
  NamedSem* named = value.As<Napi::External<NamedSem>>().Data();
  if (named->sem != nullptr) {
    sem_close(named->sem);
    named->sem = nullptr;
  }
  return env.Undefined();
}

Napi::Value SemUnlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!NameArgument(info, 0, &name)) return env.Null();
  if (sem_unlink(name.c_str()) < 0) ThrowErrno(env, errno, "sem_unlink", name);
  return env.Undefined();
}

// semWait(handle, timeoutMs) -> 0 acquired, 1 timed out, 3 interrupted. Blocks this thread.
Napi::Value SemWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedSem* named = SemArgument(info, 0);
  if (named == nullptr) return env.Null();
  double timeout = -1;
  if (!info[1].IsUndefined() && !info[1].IsNull()) {
    if (!info[1].IsNumber()) {
      ThrowType(env, "timeout must be a number of milliseconds");
      return env.Null();
    }
    timeout = info[1].As<Napi::Number>().DoubleValue();
    if (std::isnan(timeout)) {
      ThrowType(env, "timeout must not be NaN");
      return env.Null();
    }
    if (timeout < 0) timeout = 0;
  }
  int32_t result = sem::Wait(named->sem, timeout);
  if (result < 0) {
    ThrowErrno(env, -result, "sem_timedwait");
    return env.Null();
  }
  return Napi::Number::New(env, result);
}

// semTryWait(handle) -> true when a unit was taken.
Napi::Value SemTryWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedSem* named = SemArgument(info, 0);
  if (named == nullptr) return env.Null();
  if (RetryOnEintr([&] { return sem_trywait(named->sem); }) == 0)
    return Napi::Boolean::New(env, true);
  if (errno == EAGAIN) return Napi::Boolean::New(env, false);
  ThrowErrno(env, errno, "sem_trywait");
  return env.Null();
}

Napi::Value SemPost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedSem* named = SemArgument(info, 0);
  if (named == nullptr) return env.Null();
  if (sem_post(named->sem) < 0) ThrowErrno(env, errno, "sem_post");
  return env.Undefined();
}

Napi::Value SemGetValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedSem* named = SemArgument(info, 0);
  if (named == nullptr) return env.Null();
  int value = 0;
  if (sem_getvalue(named->sem, &value) < 0) {
    ThrowErrno(env, errno, "sem_getvalue");
    return env.Null();
  }
  // Linux reports 0, never a negative count of waiters.
  return Napi::Number::New(env, value < 0 ? 0 : value);
}

}  // namespace

void InitSemaphore(Napi::Env env, Napi::Object exports) {
  exports.Set("semOpen", Napi::Function::New(env, SemOpen, "semOpen"));
  exports.Set("semClose", Napi::Function::New(env, SemClose, "semClose"));
  exports.Set("semUnlink", Napi::Function::New(env, SemUnlink, "semUnlink"));
  exports.Set("semWait", Napi::Function::New(env, SemWait, "semWait"));
  exports.Set("semTryWait", Napi::Function::New(env, SemTryWait, "semTryWait"));
  exports.Set("semPost", Napi::Function::New(env, SemPost, "semPost"));
  exports.Set("semGetValue", Napi::Function::New(env, SemGetValue, "semGetValue"));
}

}  // namespace mp
