// The one way native code reports an OS failure to JavaScript, and the one EINTR loop.
//
// Errors look like Node's own fs errors: message "ENOENT: no such file or directory, shm_open
// '/x'", with `code` (the errno name from libuv's table), `errno` (negative, as in Node),
// `syscall` and, when there is one, `path`. Callers throw and then return at once
// (NAPI_DISABLE_CPP_EXCEPTIONS).
#pragma once

#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace mp {

// Retries a syscall-style call (returning -1 and setting errno) while it fails with EINTR.
template <typename F>
auto RetryOnEintr(F&& call) -> decltype(call()) {
  decltype(call()) result;
  do {
    result = call();
  } while (result == -1 && errno == EINTR);
  return result;
}

inline Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                              const std::string& path = std::string()) {
  const char* code = uv_err_name(-err);
  std::string message = std::string(code) + ": " + std::strerror(err) + ", " + syscall;
  if (!path.empty()) message += " '" + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  return error;
}

inline void ThrowErrno(Napi::Env env, int err, const char* syscall,
                       const std::string& path = std::string()) {
  ErrnoError(env, err, syscall, path).ThrowAsJavaScriptException();
}

inline void ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

inline void ThrowRange(Napi::Env env, const char* message) {
  Napi::RangeError::New(env, message).ThrowAsJavaScriptException();
}

}  // namespace mp
