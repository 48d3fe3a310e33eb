#include "correlate/postings.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "boost/json/object.hpp"
#include "boost/json/value.hpp"
#include "fmt/format.h"
#include "pattern/extract.h"
#include "pattern/pattern.h"

namespace concord::correlate {
namespace {

std::string_view StringAt(const boost::json::object& json, std::string_view key) {
  const boost::json::value* value = json.if_contains(key);
  if (value == nullptr || !value->is_string()) return {};
  const boost::json::string& s = value->get_string();
  return {s.data(), s.size()};
}

// STIX hash names ("SHA-256", "SHA3-256", "SSDEEP", …) compared as pattern::Extract does: case, '-' and '_'
// ignored.
std::optional<Kind> HashKind(std::string_view name) {
  std::string k;
  for (char c : name) {
    if (c == '-' || c == '_') continue;
    if (k.size() == 8) return std::nullopt;
    k += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  if (k == "MD5") return Kind::kMd5;
  if (k == "SHA1") return Kind::kSha1;
  if (k == "SHA256") return Kind::kSha256;
  if (k == "SHA512") return Kind::kSha512;
  if (k == "SHA3256") return Kind::kSha3_256;
  if (k == "SHA3512") return Kind::kSha3_512;
  if (k == "SSDEEP") return Kind::kSsdeep;
  if (k == "TLSH") return Kind::kTlsh;
  return std::nullopt;
}

class Collector {
 public:
  explicit Collector(std::vector<store::Posting>& out) : out_(out) {}

  // Normalises `value` as `kind` and keeps it when it is well-formed.
  void Add(Kind kind, std::string_view value) {
    if (value.empty()) return;
    auto normalized = NormalizeAs(kind, value);
    if (!normalized.ok()) return;
    // A host prefix is the host: "10.0.0.1/32" correlates with "10.0.0.1" (as pattern::Extract has it).
    if (normalized->kind == Kind::kCidr4 || normalized->kind == Kind::kCidr6) {
      const auto length = PrefixLengthOf(normalized->kind, normalized->value);
      if (length && *length == (normalized->kind == Kind::kCidr4 ? 32 : 128)) {
        const std::string_view address = std::string_view(normalized->value).substr(0, normalized->value.find('/'));
        Add(normalized->kind == Kind::kCidr4 ? Kind::kIpv4 : Kind::kIpv6, address);
        return;
      }
    }
    out_.push_back(MakePosting(normalized->kind, normalized->value));
  }

  void AddAddress(bool v6, std::string_view value) {
    const bool prefix = value.find('/') != std::string_view::npos;
    Add(v6 ? (prefix ? Kind::kCidr6 : Kind::kIpv6) : (prefix ? Kind::kCidr4 : Kind::kIpv4), value);
  }

  void AddHashes(const boost::json::object& json) {
    const boost::json::value* hashes = json.if_contains("hashes");
    if (hashes == nullptr || !hashes->is_object()) return;
    for (const auto& [name, value] : hashes->get_object()) {
      if (!value.is_string()) continue;
      if (auto kind = HashKind(std::string_view(name.data(), name.size()))) {
        Add(*kind, std::string_view(value.get_string().data(), value.get_string().size()));
      }
    }
  }

  void AddPattern(const boost::json::object& json) {
    if (StringAt(json, "pattern_type") != "stix") return;
    auto parsed = pattern::Pattern::Parse(StringAt(json, "pattern"));
    if (!parsed.ok()) return;
    AddParsed(*parsed);
  }

  void AddParsed(const pattern::Pattern& parsed) {
    for (const pattern::IndexableValue& v : pattern::Extract(parsed)) Add(v.kind, v.value);
  }

 private:
  std::vector<store::Posting>& out_;
};

}  // namespace

void PostingExtractor::Extract(const stix::Object& object, std::vector<store::Posting>& out) const {
  const size_t first = out.size();
  std::vector<store::Posting> mine;
  Collector add(mine);
  const boost::json::object& json = object.json;
  const std::string_view type = object.type;
  if (type == "indicator") {
    add.AddPattern(json);
  } else if (type == "ipv4-addr" || type == "ipv6-addr") {
    add.AddAddress(type == "ipv6-addr", StringAt(json, "value"));
  } else if (type == "domain-name") {
    add.Add(Kind::kDomain, StringAt(json, "value"));
  } else if (type == "url") {
    add.Add(Kind::kUrl, StringAt(json, "value"));
  } else if (type == "email-addr") {
    add.Add(Kind::kEmail, StringAt(json, "value"));
  } else if (type == "file") {
    add.AddHashes(json);
    add.Add(Kind::kFilename, StringAt(json, "name"));
  } else if (type == "artifact") {
    add.AddHashes(json);
  } else if (type == "mutex") {
    add.Add(Kind::kMutex, StringAt(json, "name"));
  } else if (type == "windows-registry-key") {
    add.Add(Kind::kRegistryKey, StringAt(json, "key"));
  } else if (type == "autonomous-system") {
    if (const boost::json::value* number = json.if_contains("number")) {
      if (number->is_int64()) add.Add(Kind::kAsn, std::to_string(number->get_int64()));
      if (number->is_uint64()) add.Add(Kind::kAsn, std::to_string(number->get_uint64()));
    }
  } else if (type == "mac-addr") {
    add.Add(Kind::kMac, StringAt(json, "value"));
  } else if (type == "x509-certificate") {
    add.Add(Kind::kX509Serial, StringAt(json, "serial_number"));
    add.AddHashes(json);
  } else if (type == "sighting") {
    // A reference, kept as written (the object was validated: an identifier); no normalisation applies.
    const std::string_view ref = StringAt(json, "sighting_of_ref");
    if (ref.find("--") != std::string_view::npos) {
      store::Posting posting;
      posting.kind = kSightingOfPosting;
      posting.value = std::string(ref);
      mine.push_back(std::move(posting));
    }
  }
  store::CanonicalisePostings(mine);
  out.insert(out.begin() + static_cast<std::ptrdiff_t>(first), std::make_move_iterator(mine.begin()),
             std::make_move_iterator(mine.end()));
}

void PostingExtractor::ExtractFromPattern(const pattern::Pattern& parsed, std::vector<store::Posting>& out) const {
  std::vector<store::Posting> mine;
  Collector(mine).AddParsed(parsed);
  store::CanonicalisePostings(mine);
  out.insert(out.end(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
}

std::optional<std::array<uint8_t, 16>> AddressOf(Kind kind, std::string_view normalized_value) {
  std::string_view text = normalized_value;
  if (kind == Kind::kCidr4 || kind == Kind::kCidr6) {
    const size_t slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    text = text.substr(0, slash);
  } else if (kind != Kind::kIpv4 && kind != Kind::kIpv6) {
    return std::nullopt;
  }
  const bool v4 = kind == Kind::kIpv4 || kind == Kind::kCidr4;
  char buf[64] = {};
  if (text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  std::array<uint8_t, 16> out{};
  if (v4) {
    out[10] = 0xff;
    out[11] = 0xff;
    if (inet_pton(AF_INET, buf, out.data() + 12) != 1) return std::nullopt;
  } else if (inet_pton(AF_INET6, buf, out.data()) != 1) {
    return std::nullopt;
  }
  return out;
}

std::optional<int> PrefixLengthOf(Kind kind, std::string_view normalized_value) {
  if (kind != Kind::kCidr4 && kind != Kind::kCidr6) return std::nullopt;
  const size_t slash = normalized_value.find('/');
  if (slash == std::string_view::npos || slash + 1 >= normalized_value.size()) return std::nullopt;
  int length = 0;
  for (char c : normalized_value.substr(slash + 1)) {
    if (c < '0' || c > '9' || length > 128) return std::nullopt;
    length = length * 10 + (c - '0');
  }
  if (length > (kind == Kind::kCidr4 ? 32 : 128)) return std::nullopt;
  return length;
}

std::string FormatAddress(Kind kind, const std::array<uint8_t, 16>& address) {
  if (kind == Kind::kIpv4 || kind == Kind::kCidr4) {
    return fmt::format("{}.{}.{}.{}", address[12], address[13], address[14], address[15]);
  }
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, address.data(), buf, sizeof buf);
  // inet_ntop's text is not always RFC 5952 (glibc prints "::2:3" as "::0.2.0.3"): take NormalizeAs's.
  auto normalized = NormalizeAs(Kind::kIpv6, buf);
  return normalized.ok() ? std::move(normalized->value) : std::string(buf);
}

store::Posting MakePosting(Kind kind, std::string_view normalized_value) {
  store::Posting posting;
  posting.kind = static_cast<uint8_t>(kind);
  posting.value = std::string(normalized_value);
  posting.address = AddressOf(kind, normalized_value);
  posting.prefix_length = PrefixLengthOf(kind, normalized_value).value_or(-1);
  return posting;
}

}  // namespace concord::correlate
