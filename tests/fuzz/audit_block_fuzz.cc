// libFuzzer target for the audit log's index blocks (audit/sqlite_audit_log.h, Object index): untrusted bytes,
// since an audit file can be edited by whoever holds it. The first byte is the run's first seq, the rest the
// stored block (packed, or JSON text from before file version 5). Any crash or sanitizer report is a bug; so is
// an error that names neither the run nor an offset, or a block whose keys ascend where reading one key
// (ForEachKey with `only`, which the lookups use and which skips the other keys undecoded) gives other seqs than
// reading the whole block.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/sqlite_audit_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using concord::audit::SqliteAuditLog;
  if (size < 1) return 0;
  const int64_t run = 1 + data[0];
  const std::string_view block(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::pair<std::string, std::vector<int64_t>>> all;
  absl::Status status = SqliteAuditLog::ForEachKey(block, run, [&](std::string_view key, std::span<const int64_t> seqs) {
    all.emplace_back(std::string(key), std::vector<int64_t>(seqs.begin(), seqs.end()));
  });
  auto json = SqliteAuditLog::BlockJson(block, run);
  if (!status.ok()) {
    if (status.message().find("index block of run") == absl::string_view::npos) std::abort();
    return 0;
  }
  if (!json.ok()) std::abort();  // what decodes by key decodes whole
  for (size_t i = 1; i < all.size(); ++i) {
    if (!(all[i - 1].first < all[i].first)) return 0;  // keys not ascending: no lookup relies on this block
  }
  for (const auto& [key, seqs] : all) {
    std::vector<int64_t> one;
    absl::Status read = SqliteAuditLog::ForEachKey(
        block, run, [&](std::string_view, std::span<const int64_t> s) { one.insert(one.end(), s.begin(), s.end()); },
        key);
    if (!read.ok() || one != seqs) std::abort();
  }
  return 0;
}
