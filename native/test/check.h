// A minimal test harness for the plain-C++ parts: CHECK aborts with the failing expression.
#pragma once

#include <cstdio>
#include <cstdlib>

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                          \
    }                                                                        \
  } while (0)

#define TEST(name) static void name()
#define RUN(name)                          \
  do {                                     \
    std::printf("  %s\n", #name);          \
    name();                                \
  } while (0)
