// Replays the ring fuzz target (native/fuzz/ring_target.h) without clang or libFuzzer: every
// generated seed, and every input in native/fuzz/regressions/ring/ (inputs a fuzz run once
// crashed on, kept so the fix stays fixed). `npm run fuzz` does the real fuzzing.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../fuzz/ring_target.h"
#include "check.h"

namespace fs = std::filesystem;

TEST(SeedsRun) {
  auto seeds = mp::ring_fuzz::Seeds();
  CHECK(seeds.size() >= 8);
  for (const auto& seed : seeds) mp::ring_fuzz::RunOne(seed.data(), seed.size());
}

TEST(RegressionsRun) {
  fs::path dir = fs::path(__FILE__).parent_path().parent_path() / "fuzz" / "regressions" / "ring";
  CHECK(fs::is_directory(dir));
  int replayed = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() == ".md") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    mp::ring_fuzz::RunOne(bytes.data(), bytes.size());
    replayed++;
  }
  std::printf("    replayed %d regression inputs\n", replayed);
}

// Short inputs and the edges of the format: no script, no image, a script longer than the input.
TEST(EdgeInputsRun) {
  const std::vector<std::vector<uint8_t>> inputs = {
      {}, {0}, {0, 0}, {0, 0, 0}, {4, 0xff, 0xff, 1, 2, 3}, {0x0f, 3, 0, 0, 0x80, 0}};
  for (const auto& input : inputs) mp::ring_fuzz::RunOne(input.data(), input.size());
}

int main() {
  std::printf("fuzz_regressions_test\n");
  RUN(SeedsRun);
  RUN(RegressionsRun);
  RUN(EdgeInputsRun);
  return 0;
}
