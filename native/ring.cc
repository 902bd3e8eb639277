// JS bindings of ring.h, for the tests that check src/ring/ against the C++ ring on the same
// memory (a record put by one is taken by the other), and for benchmarks. The library's queues
// run src/ring/: a binding call per message that allocates would cost more than the work.
#include "ring.h"

#include <vector>

#include "os_error.h"
#include "shm.h"

namespace mp {
namespace {

// Resolves (buffer, byteOffset) to an attached ring inside a live mapping; throws otherwise.
bool RingArgument(const Napi::CallbackInfo& info, ring::Ring* out, bool attach = true) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer() || !info[1].IsNumber()) {
    ThrowType(env, "expected (buffer: ArrayBuffer, byteOffset: number, ...)");
    return false;
  }
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  double offset = info[1].As<Napi::Number>().DoubleValue();
  auto* data = static_cast<uint8_t*>(buffer.Data());
  size_t length = buffer.ByteLength();
  if (!(offset >= 0) || offset != static_cast<double>(static_cast<size_t>(offset)) ||
      static_cast<size_t>(offset) % 64 != 0 || data == nullptr ||
      static_cast<size_t>(offset) + ring::kControlBytes > length) {
    ThrowRange(env, "byteOffset must be a multiple of 64 inside the buffer");
    return false;
  }
  uint8_t* base = data + static_cast<size_t>(offset);
  size_t bytes = length - static_cast<size_t>(offset);
  if (!IsMapped(base, bytes)) {
    ThrowType(env, "buffer is not a live mapping made by multiproc");
    return false;
  }
  if (!attach) {
    *out = ring::Ring();
    return true;
  }
  if (!ring::Ring::Attach(base, bytes, out)) {
    ThrowType(env, "no ring at that offset (bad magic, version or geometry)");
    return false;
  }
  return true;
}

uint32_t U32(const Napi::CallbackInfo& info, size_t i) {
  return info[i].IsNumber() ? info[i].As<Napi::Number>().Uint32Value() : 0;
}

Napi::Object Outcome(Napi::Env env, ring::Status status, const ring::Blocker& blocker) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", Napi::Number::New(env, static_cast<int32_t>(status)));
  result.Set("blockerKind", Napi::Number::New(env, blocker.kind));
  result.Set("blockerPosition", Napi::Number::New(env, blocker.position));
  result.Set("blockerOwner", Napi::Number::New(env, blocker.owner));
  return result;
}

// ringInit(buffer, byteOffset, cells, maxItems, start) -> boolean
Napi::Value RingInit(const Napi::CallbackInfo& info) {
  ring::Ring unused;
  if (!RingArgument(info, &unused, false)) return info.Env().Null();
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  size_t offset = static_cast<size_t>(info[1].As<Napi::Number>().DoubleValue());
  return Napi::Boolean::New(
      info.Env(),
      ring::Ring::Init(static_cast<uint8_t*>(buffer.Data()) + offset, buffer.ByteLength() - offset,
                       U32(info, 2), U32(info, 3), U32(info, 4)));
}

// ringPut(buffer, byteOffset, owner, payloads: Uint8Array[], flags: number[])
//   -> { status, put, blocker... }
Napi::Value RingPut(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ring::Ring r;
  if (!RingArgument(info, &r)) return env.Null();
  if (!info[3].IsArray() || !info[4].IsArray()) {
    ThrowType(env, "payloads and flags must be arrays");
    return env.Null();
  }
  Napi::Array payloads = info[3].As<Napi::Array>();
  Napi::Array flags = info[4].As<Napi::Array>();
  std::vector<ring::Slice> slices;
  for (uint32_t i = 0; i < payloads.Length(); i++) {
    Napi::Value item = payloads.Get(i);
    if (!item.IsTypedArray() || item.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      ThrowType(env, "every payload must be a Uint8Array");
      return env.Null();
    }
    Napi::Uint8Array bytes = item.As<Napi::Uint8Array>();
    Napi::Value flag = flags.Get(i);
    slices.push_back(ring::Slice{bytes.Data(), static_cast<uint32_t>(bytes.ByteLength()),
                                 flag.IsNumber() ? flag.As<Napi::Number>().Uint32Value() : 0});
  }
  uint32_t put = 0;
  ring::Blocker blocker;
  ring::Status status =
      r.TryPut(slices.data(), static_cast<uint32_t>(slices.size()), U32(info, 2), &put, &blocker);
  Napi::Object result = Outcome(env, status, blocker);
  result.Set("put", Napi::Number::New(env, put));
  return result;
}

// ringTake(buffer, byteOffset, owner, max, reject) -> { status, records: [{ flags, bytes }] }
// The records are copied out and released before returning.
Napi::Value RingTake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ring::Ring r;
  if (!RingArgument(info, &r)) return env.Null();
  uint32_t max = U32(info, 3);
  if (max == 0 || max > 1024) max = 1;
  std::vector<ring::Record> records(max);
  uint32_t taken = 0;
  ring::Blocker blocker;
  ring::Status status =
      r.TryTake(U32(info, 2), max, U32(info, 4), records.data(), &taken, &blocker);
  Napi::Object result = Outcome(env, status, blocker);
  Napi::Array list = Napi::Array::New(env, taken);
  for (uint32_t i = 0; i < taken; i++) {
    Napi::Object record = Napi::Object::New(env);
    record.Set("flags", Napi::Number::New(env, records[i].flags));
    record.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, records[i].payload, records[i].length));
    list.Set(i, record);
  }
  if (taken > 0) r.Release(records.data(), taken);
  result.Set("records", list);
  return result;
}

// ringRecover(buffer, byteOffset, owner, blockerKind, blockerPosition, blockerOwner) -> status
Napi::Value RingRecover(const Napi::CallbackInfo& info) {
  ring::Ring r;
  if (!RingArgument(info, &r)) return info.Env().Null();
  ring::Blocker blocker{U32(info, 3), U32(info, 4), U32(info, 5)};
  return Napi::Number::New(
      info.Env(), static_cast<int32_t>(r.Recover(blocker, U32(info, 2), nullptr, nullptr)));
}

}  // namespace

void InitRing(Napi::Env env, Napi::Object exports) {
  exports.Set("ringInit", Napi::Function::New(env, RingInit, "ringInit"));
  exports.Set("ringPut", Napi::Function::New(env, RingPut, "ringPut"));
  exports.Set("ringTake", Napi::Function::New(env, RingTake, "ringTake"));
  exports.Set("ringRecover", Napi::Function::New(env, RingRecover, "ringRecover"));
}

}  // namespace mp
