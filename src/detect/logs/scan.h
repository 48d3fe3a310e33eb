// concord/detect/logs/scan.h — internals shared by the log readers: the per-line scratch arena, the text
// scanner, whole-value shape classification and event-time parsing. Not part of the module's interface
// (log_reader.h is); the readers and the tests use it.
//
// Thread-safety: the free functions are pure; an Arena or Scanner belongs to one reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "pattern/extract.h"

namespace concord::detect::logs::detail {

using pattern::ValueKind;

// Bump allocator for per-line text (unescaped fields, built URLs, refanged lines). Pointers stay valid
// until Reset(); Reset() keeps the blocks, so a reader in steady state allocates nothing.
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  char* Allocate(size_t n);
  std::string_view Copy(std::string_view s);
  std::string_view Concat(std::initializer_list<std::string_view> parts);
  // Forgets everything allocated; frees the blocks only when they have grown past a sane bound.
  void Reset();
  // Exchanges the contents with `other`; views into either stay valid (the blocks do not move).
  void Swap(Arena& other) noexcept {
    blocks_.swap(other.blocks_);
    std::swap(total_, other.total_);
    std::swap(block_, other.block_);
    std::swap(used_, other.used_);
  }

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size = 0;
  };
  static constexpr size_t kBlockBytes = 64 * 1024;
  static constexpr size_t kKeepBytes = 8 * 1024 * 1024;
  std::vector<Block> blocks_;
  size_t total_ = 0;  // bytes held by blocks_
  size_t block_ = 0;  // block being filled
  size_t used_ = 0;   // bytes used in blocks_[block_]
};

// Whole-value shape tests ("1.2.3.4" is an IPv4 address; " 1.2.3.4" is not).
bool IsIpv4(std::string_view s);
bool IsIpv6(std::string_view s);  // RFC 4291 text forms; no zone, no brackets, no prefix length
// ipv4 or ipv6 by shape, nullopt when neither.
std::optional<ValueKind> IpKind(std::string_view s);
// Host-name shape, lenient as DNS data is: labels of letters, digits, '-' and '_', an optional trailing
// dot, at least `min_labels` labels, ≤ 253 bytes.
bool IsHostname(std::string_view s, int min_labels);
// An address or host name as DNS answers and HTTP Host headers hold them: ipv4, ipv6 (also "[…]"), or
// domain when IsHostname(s, min_labels); nullopt otherwise (TXT data, garbage). `value` is set to the part
// that classifies (brackets and a ":port" dropped).
std::optional<ValueKind> ClassifyHost(std::string_view s, int min_labels, std::string_view* value);
// "Alice <a@example.com>" → "a@example.com"; "<a@example.com>" → "a@example.com"; "" when no '@'.
std::string_view ExtractMailbox(std::string_view s);

// "2026-11-22T10:00:00.123456+0000", "…Z", "…+01:00", "2026-11-22 10:00:00" (UTC), "2026-11-22"
// (midnight UTC) → Unix ms.
std::optional<int64_t> ParseIsoTimeMs(std::string_view s);
// "1700000000.123456" → 1700000000123 (truncated to ms).
std::optional<int64_t> ParseUnixSecondsMs(std::string_view s);
// The same into *ms; false (and *ms untouched) when `s` is no such time.
bool ParseUnixSecondsMs(std::string_view s, int64_t* ms);
// Either of the above.
std::optional<int64_t> ParseAnyTimeMs(std::string_view s);

// Replaces defanged notations ("hxxp", "[.]", …; see ScanText) in `text`. Returns `text` itself when
// there is none, else a refanged copy in `arena`.
std::string_view Refang(std::string_view text, Arena& arena);
// ScanText without the refang step, on text already refanged.
void ScanRefanged(std::string_view text, absl::FunctionRef<void(ValueKind, std::string_view)> found);
// Refang into `arena`, then scan. Values stay valid until the arena is reset.
void Scan(std::string_view text, Arena& arena, absl::FunctionRef<void(ValueKind, std::string_view)> found);

}  // namespace concord::detect::logs::detail
