// libFuzzer entry point for ring.h over corrupt shared memory (see ring_target.h). Built and run
// by scripts/fuzz.sh (`npm run fuzz`) with clang's -fsanitize=fuzzer,address,undefined. With
// RING_FUZZ_SEEDS defined instead, it is a plain program that writes the seed corpus.
#include "ring_target.h"

#ifdef RING_FUZZ_SEEDS
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  int n = 0;
  for (const auto& seed : mp::ring_fuzz::Seeds()) {
    std::string path = std::string(argv[1]) + "/seed-" + std::to_string(n++);
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(seed.data(), 1, seed.size(), f) != seed.size()) return 1;
    std::fclose(f);
  }
  std::printf("wrote %d seeds to %s\n", n, argv[1]);
  return 0;
}
#else
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mp::ring_fuzz::RunOne(data, size);
  return 0;
}
#endif
