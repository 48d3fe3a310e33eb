// libFuzzer target for the packed form of the audit log's object_ids (common/packed_ids.h): untrusted bytes,
// since an audit file can be edited by whoever holds it. Any crash or sanitizer report is a bug; so is a list
// that unpacks but does not come back the same after packing it again, or an error that names no offset.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/packed_ids.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace concord;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto ids = UnpackIds(input);
  if (!ids.ok()) {
    if (ids.status().message().find(" at byte ") == absl::string_view::npos) std::abort();
    return 0;
  }
  if (!IsPackedIds(input)) std::abort();
  auto again = UnpackIds(PackIds(*ids));
  if (!again.ok() || *again != *ids) std::abort();
  // The input as a list of ids (split on NUL), packed and unpacked: every list of strings comes back as it was.
  std::vector<std::string> split;
  size_t start = 0;
  for (size_t i = 0; i <= input.size(); ++i) {
    if (i == input.size() || input[i] == '\0') {
      split.emplace_back(input.substr(start, i - start));
      start = i + 1;
    }
  }
  auto round = UnpackIds(PackIds(split));
  if (!round.ok() || *round != split) std::abort();
  return 0;
}
