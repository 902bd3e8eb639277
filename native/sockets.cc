// Listening sockets made synchronously, and a blocking poll for the ...Sync forms of socket
// connections.
//
// Why not net.Server.listen alone: it reports bind failures (EADDRINUSE, EACCES) on a later
// tick, so `new Listener(...)` could not throw them the way Python's constructor raises them.
// Here socket/bind/listen run at once with real errno values; the listening descriptor is then
// handed to net.Server (`listen({ fd })`), which owns and closes it from there on.
//
// Why a poll: net.Socket has no blocking read. recvSync/sendSync read and write the socket's
// descriptor directly (it is non-blocking) and park in poll(2) when it has nothing to give.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <string>

#include "os_error.h"

namespace mp {
namespace {

bool IntArgument(const Napi::CallbackInfo& info, size_t index, const char* what, int min, int max,
                 int* out) {
  if (!info[index].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a number")
        .ThrowAsJavaScriptException();
    return false;
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= min && value <= max) || value != std::floor(value)) {
    Napi::RangeError::New(info.Env(), std::string(what) + " is out of range")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int>(value);
  return true;
}

bool StringArgument(const Napi::CallbackInfo& info, size_t index, const char* what,
                    std::string* out) {
  if (!info[index].IsString()) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a string")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = info[index].As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must not contain NUL")
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// unixListen(path, backlog) -> fd. The socket file is created by bind with the process umask;
// callers put generated paths in a 0700 directory.
Napi::Value UnixListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  int backlog;
  if (!StringArgument(info, 0, "path", &path) ||
      !IntArgument(info, 1, "backlog", 0, 65535, &backlog)) {
    return env.Null();
  }
  struct sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    ThrowRange(env, "a Unix socket path must be 1 to 107 bytes long");
    return env.Null();
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    ThrowErrno(env, errno, "socket");
    return env.Null();
  }
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "bind", path);
    return env.Null();
  }
  if (listen(fd, backlog) < 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    ThrowErrno(env, err, "listen", path);
    return env.Null();
  }
  return Napi::Number::New(env, fd);
}

// tcpListen(host, port, backlog) -> { fd, host, port }. `host` may be a name (resolved here,
// blocking, as Python's Listener does) or an IPv4/IPv6 literal; the first address that binds
// wins. `port` 0 lets the kernel pick; the port actually bound is returned.
Napi::Value TcpListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string host;
  int port, backlog;
  if (!StringArgument(info, 0, "host", &host) || !IntArgument(info, 1, "port", 0, 65535, &port) ||
      !IntArgument(info, 2, "backlog", 0, 65535, &backlog)) {
    return env.Null();
  }
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  struct addrinfo* list = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) {
    int err = rc == EAI_SYSTEM ? errno : ENOENT;
    Napi::Error error = ErrnoError(env, err, "getaddrinfo", host);
    error.Set("code", Napi::String::New(env, rc == EAI_NONAME ? "ENOTFOUND" : uv_err_name(-err)));
    error.Set("message", Napi::String::New(env, std::string("getaddrinfo ") + gai_strerror(rc) +
                                                    " '" + host + "'"));
    error.ThrowAsJavaScriptException();
    return env.Null();
  }
  int last_err = EADDRNOTAVAIL;
  const char* last_call = "bind";
  for (struct addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last_err = errno;
      last_call = "socket";
      continue;
    }
    // As Python's SocketListener and Node's net.Server: a restarted server can rebind a port
    // whose old connections sit in TIME_WAIT.
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool bound_ok = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
    if (!bound_ok || listen(fd, backlog) < 0) {
      last_err = errno;
      last_call = bound_ok ? "listen" : "bind";
      close(fd);
      continue;
    }
    struct sockaddr_storage bound;
    socklen_t length = sizeof bound;
    char text[INET6_ADDRSTRLEN] = {0};
    int bound_port = 0;
    if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&bound), &length) == 0) {
      if (bound.ss_family == AF_INET) {
        auto* in = reinterpret_cast<struct sockaddr_in*>(&bound);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        bound_port = ntohs(in->sin_port);
      } else if (bound.ss_family == AF_INET6) {
        auto* in6 = reinterpret_cast<struct sockaddr_in6*>(&bound);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        bound_port = ntohs(in6->sin6_port);
      }
    }
    freeaddrinfo(list);
    Napi::Object result = Napi::Object::New(env);
    result.Set("fd", Napi::Number::New(env, fd));
    result.Set("host", Napi::String::New(env, text));
    result.Set("port", Napi::Number::New(env, bound_port));
    return result;
  }
  freeaddrinfo(list);
  ThrowErrno(env, last_err, last_call, host + ":" + service);
  return env.Null();
}

// fdPoll(fd, events, timeoutMs) -> revents (0 when the time ran out). events/revents use
// poll(2)'s bits (1 POLLIN, 4 POLLOUT; revents may add 8 POLLERR, 16 POLLHUP, 32 POLLNVAL).
// A negative or infinite timeout waits without limit. poll is never restarted after a signal
// handler, so Ctrl-C with a JS handler surfaces as an EINTR error instead of being swallowed.
Napi::Value FdPoll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, events;
  if (!IntArgument(info, 0, "fd", 0, INT32_MAX, &fd) ||
      !IntArgument(info, 1, "events", 0, POLLIN | POLLOUT, &events)) {
    return env.Null();
  }
  if (!info[2].IsNumber()) {
    ThrowType(env, "timeout must be a number");
    return env.Null();
  }
  double ms = info[2].As<Napi::Number>().DoubleValue();
  if (std::isnan(ms)) {
    ThrowType(env, "timeout must not be NaN");
    return env.Null();
  }
  int timeout = ms < 0 || ms >= INT32_MAX ? -1 : static_cast<int>(std::ceil(ms));
  struct pollfd entry = {fd, static_cast<short>(events), 0};
  int rc = poll(&entry, 1, timeout);
  if (rc < 0) {
    ThrowErrno(env, errno, "poll");
    return env.Null();
  }
  return Napi::Number::New(env, rc == 0 ? 0 : entry.revents);
}

}  // namespace

void InitSockets(Napi::Env env, Napi::Object exports) {
  exports.Set("unixListen", Napi::Function::New(env, UnixListen, "unixListen"));
  exports.Set("tcpListen", Napi::Function::New(env, TcpListen, "tcpListen"));
  exports.Set("fdPoll", Napi::Function::New(env, FdPoll, "fdPoll"));
}

}  // namespace mp
