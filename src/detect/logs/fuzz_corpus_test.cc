// Replays the seed corpus of tests/fuzz/log_reader_fuzz.cc through the fuzz target in the ordinary (g++)
// build, so that the target compiles and its invariants hold (it aborts otherwise) without clang and libFuzzer.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

TEST(LogReaderFuzz, SeedCorpusReplays) {
  const std::filesystem::path dir = std::filesystem::path(CONCORD_SOURCE_DIR) / "tests/fuzz/corpus/log_reader";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string bytes = buf.str();
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
    ++files;
  }
  EXPECT_GE(files, 12);
}

}  // namespace
