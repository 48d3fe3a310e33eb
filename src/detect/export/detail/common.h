// concord/detect/export/detail/common.h — what the export writers share: value validation (IPs, host
// names, URLs), escaping helpers, and the WriterBase bookkeeping (skips, written count, stream checks).
//
// Internal to detect_export. Pure functions are thread-safe; a WriterBase is used by one thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "detect/export/export.h"

namespace concord::detect::exports::detail {

// An address or network parsed from an ip kind's value. `prefix` is 32/128 for single addresses.
struct IpValue {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // network order; v4 uses the first 4
  int prefix = 0;
};

// Parses the value of kIpv4/kIpv6 (an address, "/32" or "/128" tolerated) or kCidr4/kCidr6 ("addr/len" or a
// bare address). Host bits of a network are cleared. nullopt when the value is not one, or the kind is not
// an ip kind.
std::optional<IpValue> ParseIpValue(pattern::ValueKind kind, std::string_view value);
// Canonical text: "1.2.3.4", "10.0.0.0/8", "2001:db8::1", "2001:db8::/32" (no "/32" or "/128" suffix).
std::string FormatIp(const IpValue& ip);

// A DNS host name a zone or a wire-format qname can hold: labels of [A-Za-z0-9_-], 1..63 bytes each,
// 253 bytes in all, no leading or trailing dot.
bool IsHostName(std::string_view name);

// Whether `value` is a well-formed value of a hash kind (md5/sha1/sha256/sha512: hex of the right length).
// false for every other kind.
bool IsHashValue(pattern::ValueKind kind, std::string_view value);

// An http:// (or scheme-less) URL split for rule matching. host is lower-cased without port or user info;
// path_query starts with '/' ("/" when the URL has none) and has no fragment.
struct HttpUrl {
  std::string host;
  std::string path_query;
};
std::optional<HttpUrl> ParseHttpUrl(std::string_view url);
// The URL without its scheme ("http://a.b/c" → "a.b/c"), as Zeek's Intel::URL expects.
std::string_view StripScheme(std::string_view url);

// Suricata/Snort `content` argument (without the quotes): printable ASCII kept, everything else — `"` `;`
// `\` `|` `:` control bytes, non-ASCII — as `|HH HH|` hex runs.
std::string RuleContent(std::string_view bytes);
// Text inside a quoted msg: `"` `;` `\` backslash-escaped; control and non-ASCII bytes become '?'.
std::string RuleMsgText(std::string_view text);
// A token safe inside a metadata list or a comment: [A-Za-z0-9_.+-] kept, anything else becomes '_'.
std::string SafeToken(std::string_view text);
// Standard base64 with padding.
std::string Base64(std::string_view bytes);
// The score as an integer 0..100 (NaN → 0).
int ScoreInt(double score);
// "name" when non-empty, else "id".
std::string_view Label(const ExportIndicator& indicator);

// Bookkeeping every writer has. Derived writers call Start() lazily (headers), Skip()/Written(), and
// Check() after writing to turn a failed stream into DataLoss.
class WriterBase : public ExportWriter {
 public:
  WriterBase(OutputSet& out, const ExportOptions& options) : out_(out), options_(options) {}

  const std::map<pattern::ValueKind, uint64_t>& skipped() const override { return skipped_; }
  uint64_t written() const override { return written_; }

 protected:
  // Opens the main output and writes the header once.
  [[nodiscard]] absl::Status Start();
  virtual void WriteHeader(std::ostream& /*main*/) {}
  [[nodiscard]] absl::Status Check(const std::ostream& stream, std::string_view what) const;
  void Skip(pattern::ValueKind kind) { ++skipped_[kind]; }
  void Written() { ++written_; }
  OutputSet& out_;
  const ExportOptions options_;
  std::ostream* main_ = nullptr;

 private:
  std::map<pattern::ValueKind, uint64_t> skipped_;  // at most one entry per ValueKind
  uint64_t written_ = 0;
};

// Factories of the individual writers (export.cc dispatches).
absl::StatusOr<std::unique_ptr<ExportWriter>> NewSuricataWriter(OutputSet& out, const ExportOptions& options);
absl::StatusOr<std::unique_ptr<ExportWriter>> NewSnortWriter(OutputSet& out, const ExportOptions& options);
absl::StatusOr<std::unique_ptr<ExportWriter>> NewZeekWriter(OutputSet& out, const ExportOptions& options);
absl::StatusOr<std::unique_ptr<ExportWriter>> NewRpzWriter(OutputSet& out, const ExportOptions& options);
absl::StatusOr<std::unique_ptr<ExportWriter>> NewCsvWriter(OutputSet& out, const ExportOptions& options);
absl::StatusOr<std::unique_ptr<ExportWriter>> NewTextWriter(OutputSet& out, const ExportOptions& options);
absl::StatusOr<std::unique_ptr<ExportWriter>> NewStixWriter(OutputSet& out, const ExportOptions& options);

}  // namespace concord::detect::exports::detail
