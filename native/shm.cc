// shm_open / ftruncate / posix_fallocate / fstat / mmap / munmap / shm_unlink, and memfd for
// segments that need no name. Policy (names, modes, owner checks) lives in TypeScript; this file
// validates only what it must to never crash.
//
// A mapping reaches JS as an external ArrayBuffer. `unmap(buffer)` detaches it (every view over
// it becomes empty) and unmaps at once; a buffer that is collected without `unmap` is unmapped by
// its finalizer. Each mapping carries a token so that a finalizer that runs after `unmap` (or an
// address reused by a later mapping) can never unmap the wrong memory.
#include "shm.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "os_error.h"

namespace mp {
namespace {

struct MappingToken {
  void* base;
  size_t length;
  bool unmapped = false;  // guarded by g_mutex
};

std::mutex g_mutex;
std::map<uintptr_t, MappingToken*> g_mappings;  // base address -> token, live mappings only

// Caller holds g_mutex.
void UnmapLocked(MappingToken* token) {
  if (token->unmapped) return;
  CancelWaitsIn(token->base, token->length);
  g_mappings.erase(reinterpret_cast<uintptr_t>(token->base));
  munmap(token->base, token->length);
  token->unmapped = true;
}

void FinalizeMapping(Napi::Env /*env*/, void* /*data*/, MappingToken* token) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    UnmapLocked(token);
  }
  delete token;
}

bool StringArgument(const Napi::CallbackInfo& info, size_t index, std::string* out) {
  if (!info[index].IsString()) {
    ThrowType(info.Env(), "name must be a string");
    return false;
  }
  *out = info[index].As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) {
    ThrowType(info.Env(), "name must not contain NUL");
    return false;
  }
  return true;
}

bool FdArgument(const Napi::CallbackInfo& info, size_t index, int* fd) {
  if (!info[index].IsNumber()) {
    ThrowType(info.Env(), "fd must be a number");
    return false;
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= 0 && value <= INT32_MAX) || value != static_cast<int>(value)) {
    ThrowRange(info.Env(), "fd must be a non-negative integer");
    return false;
  }
  *fd = static_cast<int>(value);
  return true;
}

bool SizeArgument(const Napi::CallbackInfo& info, size_t index, size_t* size) {
  if (!info[index].IsNumber()) {
    ThrowType(info.Env(), "size must be a number");
    return false;
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  // 2^53: the largest size a JS number states exactly; the OS refuses what it cannot map.
  if (!(value >= 0 && value <= 9007199254740991.0) ||
      value != static_cast<double>(static_cast<uint64_t>(value))) {
    ThrowRange(info.Env(), "size must be a non-negative integer");
    return false;
  }
  *size = static_cast<size_t>(value);
  return true;
}

// shmOpen(name, flags, mode) -> fd. flags: 1 = create, 2 = exclusive. The mode is applied with
// fchmod after creation, so the umask cannot widen or narrow it.
Napi::Value ShmOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!StringArgument(info, 0, &name)) return env.Null();
  if (!info[1].IsNumber() || !info[2].IsNumber()) {
    ThrowType(env, "flags and mode must be numbers");
    return env.Null();
  }
  int flags = info[1].As<Napi::Number>().Int32Value();
  mode_t mode = static_cast<mode_t>(info[2].As<Napi::Number>().Uint32Value() & 07777);
  int oflag = O_RDWR;
  if (flags & 1) oflag |= O_CREAT;
  if (flags & 2) oflag |= O_EXCL;
  int fd = RetryOnEintr([&] { return shm_open(name.c_str(), oflag, mode); });
  if (fd < 0) {
    ThrowErrno(env, errno, "shm_open", name);
    return env.Null();
  }
  if ((flags & 3) == 3 && RetryOnEintr([&] { return fchmod(fd, mode); }) < 0) {
    int err = errno;
    close(fd);
    shm_unlink(name.c_str());
    ThrowErrno(env, err, "fchmod", name);
    return env.Null();
  }
  return Napi::Number::New(env, fd);
}

Napi::Value ShmUnlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!StringArgument(info, 0, &name)) return env.Null();
  if (RetryOnEintr([&] { return shm_unlink(name.c_str()); }) < 0) {
    ThrowErrno(env, errno, "shm_unlink", name);
  }
  return env.Undefined();
}

// memfdCreate(name) -> fd: an anonymous segment the kernel frees with its last fd and mapping.
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!StringArgument(info, 0, &name)) return env.Null();
  int fd = RetryOnEintr([&] { return memfd_create(name.c_str(), MFD_CLOEXEC); });
  if (fd < 0) ThrowErrno(env, errno, "memfd_create", name);
  return Napi::Number::New(env, fd);
}

Napi::Value FdTruncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  size_t size;
  if (!FdArgument(info, 0, &fd) || !SizeArgument(info, 1, &size)) return env.Null();
  if (RetryOnEintr([&] { return ftruncate(fd, static_cast<off_t>(size)); }) < 0) {
    ThrowErrno(env, errno, "ftruncate");
  }
  return env.Undefined();
}

// Reserves the pages, so that a full /dev/shm fails here with ENOSPC instead of killing the
// process with SIGBUS on its first write past what tmpfs could really give.
Napi::Value FdAllocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  size_t size;
  if (!FdArgument(info, 0, &fd) || !SizeArgument(info, 1, &size)) return env.Null();
  if (size == 0) return env.Undefined();
  int err;
  do {
    err = posix_fallocate(fd, 0, static_cast<off_t>(size));
  } while (err == EINTR);
  if (err != 0) ThrowErrno(env, err, "posix_fallocate");
  return env.Undefined();
}

// fdStat(fd) -> { size, uid, mode }
Napi::Value FdStat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!FdArgument(info, 0, &fd)) return env.Null();
  struct stat st;
  if (RetryOnEintr([&] { return fstat(fd, &st); }) < 0) {
    ThrowErrno(env, errno, "fstat");
    return env.Null();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("size", Napi::Number::New(env, static_cast<double>(st.st_size)));
  result.Set("uid", Napi::Number::New(env, st.st_uid));
  result.Set("mode", Napi::Number::New(env, st.st_mode & 07777));
  return result;
}

Napi::Value FdClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!FdArgument(info, 0, &fd)) return env.Null();
  // close() is not retried on EINTR: on Linux the descriptor is gone either way.
  if (close(fd) < 0 && errno != EINTR) ThrowErrno(env, errno, "close");
  return env.Undefined();
}

// fdLock(fd, mode) -> boolean: flock(2) without blocking. mode: 0 unlock, 1 shared,
// 2 exclusive. False when another open file description holds a conflicting lock. Segments use
// it to know when the last process holding one is gone (the kernel drops flocks of the dead).
Napi::Value FdLock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!FdArgument(info, 0, &fd)) return env.Null();
  if (!info[1].IsNumber()) {
    ThrowType(env, "mode must be a number");
    return env.Null();
  }
  int mode = info[1].As<Napi::Number>().Int32Value();
  if (mode < 0 || mode > 2) {
    ThrowRange(env, "mode must be 0 (unlock), 1 (shared) or 2 (exclusive)");
    return env.Null();
  }
  int op = mode == 0 ? LOCK_UN : mode == 1 ? LOCK_SH : LOCK_EX;
  if (RetryOnEintr([&] { return flock(fd, op | LOCK_NB); }) < 0) {
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    ThrowErrno(env, errno, "flock");
    return env.Null();
  }
  return Napi::Boolean::New(env, true);
}

// mmap(fd, size, populate?) -> ArrayBuffer over a MAP_SHARED read-write mapping. With populate,
// the kernel maps every page now, in one pass (MAP_POPULATE): much cheaper than taking one
// fault per 4 KiB page on first touch, and it keeps that cost out of the caller's hot loop.
Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  size_t size;
  if (!FdArgument(info, 0, &fd) || !SizeArgument(info, 1, &size)) return env.Null();
  if (size == 0) {
    ThrowRange(env, "cannot map 0 bytes");
    return env.Null();
  }
  bool populate = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                    MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
  if (base == MAP_FAILED) {
    ThrowErrno(env, errno, "mmap");
    return env.Null();
  }
  auto* token = new MappingToken{base, size};
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_mappings[reinterpret_cast<uintptr_t>(base)] = token;
  }
  napi_value buffer;
  napi_status status = napi_create_external_arraybuffer(
      env, base, size,
      [](napi_env e, void* data, void* hint) {
        FinalizeMapping(Napi::Env(e), data, static_cast<MappingToken*>(hint));
      },
      token, &buffer);
  if (status != napi_ok) {
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      UnmapLocked(token);
    }
    delete token;
    Napi::Error::New(env, "cannot wrap the mapping in an ArrayBuffer").ThrowAsJavaScriptException();
    return env.Null();
  }
  return Napi::Value(env, buffer);
}

// unmap(buffer) -> boolean: detaches the buffer and unmaps it. False when it was already done.
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) {
    ThrowType(env, "buffer must be an ArrayBuffer");
    return env.Null();
  }
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  void* data = buffer.Data();
  if (data == nullptr) return Napi::Boolean::New(env, false);
  bool found = false;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_mappings.find(reinterpret_cast<uintptr_t>(data));
    if (it != g_mappings.end() && it->second->length == buffer.ByteLength()) {
      UnmapLocked(it->second);
      found = true;
    }
  }
  if (!found) {
    ThrowType(env, "buffer is not a live mapping made by multiproc");
    return env.Null();
  }
  napi_detach_arraybuffer(env, buffer);
  return Napi::Boolean::New(env, true);
}

}  // namespace

bool IsMapped(const void* address, size_t length) {
  auto at = reinterpret_cast<uintptr_t>(address);
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_mappings.upper_bound(at);
  if (it == g_mappings.begin()) return false;
  --it;
  const MappingToken* token = it->second;
  return at >= it->first && length <= token->length && at - it->first <= token->length - length;
}

uint32_t* WordArgument(const Napi::CallbackInfo& info, size_t bufferIndex, size_t offsetIndex) {
  Napi::Env env = info.Env();
  if (!info[bufferIndex].IsArrayBuffer()) {
    ThrowType(env, "buffer must be an ArrayBuffer over shared memory");
    return nullptr;
  }
  if (!info[offsetIndex].IsNumber()) {
    ThrowType(env, "byteOffset must be a number");
    return nullptr;
  }
  Napi::ArrayBuffer buffer = info[bufferIndex].As<Napi::ArrayBuffer>();
  double offset = info[offsetIndex].As<Napi::Number>().DoubleValue();
  auto* data = static_cast<uint8_t*>(buffer.Data());
  size_t length = buffer.ByteLength();
  if (!(offset >= 0) || offset != static_cast<double>(static_cast<size_t>(offset)) ||
      static_cast<size_t>(offset) % 4 != 0 || data == nullptr || length < 4 ||
      static_cast<size_t>(offset) > length - 4) {
    ThrowRange(env, "byteOffset must be a multiple of 4 inside the buffer");
    return nullptr;
  }
  uint8_t* word = data + static_cast<size_t>(offset);
  if (!IsMapped(word, 4)) {
    ThrowType(env, "buffer is not a live mapping made by multiproc");
    return nullptr;
  }
  return reinterpret_cast<uint32_t*>(word);
}

void InitShm(Napi::Env env, Napi::Object exports) {
  exports.Set("shmOpen", Napi::Function::New(env, ShmOpen, "shmOpen"));
  exports.Set("shmUnlink", Napi::Function::New(env, ShmUnlink, "shmUnlink"));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("fdTruncate", Napi::Function::New(env, FdTruncate, "fdTruncate"));
  exports.Set("fdAllocate", Napi::Function::New(env, FdAllocate, "fdAllocate"));
  exports.Set("fdStat", Napi::Function::New(env, FdStat, "fdStat"));
  exports.Set("fdClose", Napi::Function::New(env, FdClose, "fdClose"));
  exports.Set("fdLock", Napi::Function::New(env, FdLock, "fdLock"));
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("unmap", Napi::Function::New(env, Unmap, "unmap"));
}

}  // namespace mp
