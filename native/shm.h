// POSIX shared memory and the registry of this process's live mappings.
//
// Every mapping the addon makes is recorded here, so that other facilities (futex waits) can
// check that an address they are given lies in memory that stays mapped, and so that unmapping
// first cancels the waits parked on it.
#pragma once

#include <napi.h>

#include <cstddef>

namespace mp {

// True when [address, address + length) lies inside one live mapping made by this addon.
// Used to refuse futex waits on memory the addon does not control (a JS heap buffer could be
// moved or freed while a waiter thread still reads it).
bool IsMapped(const void* address, size_t length);

// Resolves the JS arguments (ArrayBuffer, byteOffset) to a pointer to a 32-bit word inside a
// live mapping. Throws a TypeError/RangeError and returns nullptr when they do not name one.
uint32_t* WordArgument(const Napi::CallbackInfo& info, size_t bufferIndex, size_t offsetIndex);

// Defined in futex.cc: resolves every async wait parked inside [base, base + length) as
// cancelled. Called with the mapping still in place, just before it is unmapped.
void CancelWaitsIn(const void* base, size_t length);

void InitShm(Napi::Env env, Napi::Object exports);

}  // namespace mp
