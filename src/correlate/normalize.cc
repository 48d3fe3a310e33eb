#include "correlate/normalize.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <libpsl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <utility>

#include "boost/url/parse.hpp"
#include "boost/url/scheme.hpp"
#include "boost/url/url.hpp"
#include "common/status.h"
#include "fmt/format.h"

namespace concord::correlate {
namespace {

absl::Status Invalid(Kind kind, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", pattern::ValueKindName(kind), what));
}

bool IsAsciiLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLowerAscii(c);
  return out;
}

// Printable form of untrusted input inside an error message: control bytes escaped, long input cut.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  const size_t limit = 80;
  for (size_t i = 0; i < s.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > limit) out += "…";
  out += '"';
  return out;
}

// ---- domains ----

absl::StatusOr<std::string> NormalizeDomainAs(Kind kind, std::string_view value) {
  if (value.empty()) return Invalid(kind, "domain is empty");
  // One trailing dot is the DNS root (absolute name); "a.." is an empty label, caught below.
  if (value.back() == '.') value.remove_suffix(1);
  if (value.empty()) return Invalid(kind, "domain is only the root \".\"");

  bool needs_idna = false;
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    // Checked before libidn2, which reads C strings: "a.example\0.evil" must not become "a.example".
    if (c < 0x20 || c == 0x7f) {
      return Invalid(kind, fmt::format("{} has a control character at offset {}", Quoted(value), i));
    }
    if (c >= 0x80) needs_idna = true;
  }
  std::string domain = LowerAscii(value);
  if (!needs_idna && (domain.starts_with("xn--") || domain.find(".xn--") != std::string::npos)) {
    // A-labels already in DNS form are kept when their Punycode decodes, without the IDNA2008 code point
    // rules: names registered under IDNA2003 (emoji domains such as xn--ls8h.la) resolve, appear in logs
    // and must correlate. U-labels, which we convert ourselves, follow IDNA2008 below.
    char* out = nullptr;
    const int rc = idn2_to_unicode_8z8z(domain.c_str(), &out, 0);
    std::unique_ptr<char, decltype(&std::free)> owned(out, &std::free);
    if (rc != IDN2_OK) {
      return Invalid(kind,
                     fmt::format("{} has an A-label that is not valid Punycode: {}", Quoted(value), idn2_strerror(rc)));
    }
  }
  if (needs_idna) {
    char* out = nullptr;
    const int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(domain.c_str()), reinterpret_cast<uint8_t**>(&out),
                                  IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    std::unique_ptr<char, decltype(&std::free)> owned(out, &std::free);
    if (rc != IDN2_OK) {
      return Invalid(
          kind, fmt::format("{} is not a valid internationalised domain name: {}", Quoted(value), idn2_strerror(rc)));
    }
    domain = LowerAscii(owned.get());
  }

  if (domain.size() > 253) {
    return Invalid(kind, fmt::format("domain is {} octets long, more than 253", domain.size()));
  }
  size_t start = 0;
  std::string_view last_label;
  while (start <= domain.size()) {
    size_t end = domain.find('.', start);
    if (end == std::string::npos) end = domain.size();
    const std::string_view label = std::string_view(domain).substr(start, end - start);
    if (label.empty()) return Invalid(kind, fmt::format("{} has an empty label", Quoted(value)));
    if (label.size() > 63) {
      return Invalid(kind, fmt::format("label {} is {} octets long, more than 63", Quoted(label), label.size()));
    }
    for (char c : label) {
      if (!IsAsciiLower(c) && !IsDigit(c) && c != '-' && c != '_') {
        return Invalid(kind, fmt::format("{} has a character not allowed in a host name: {}", Quoted(value),
                                         Quoted(std::string_view(&c, 1))));
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return Invalid(kind, fmt::format("label {} starts or ends with '-'", Quoted(label)));
    }
    last_label = label;
    start = end + 1;
  }
  bool all_digits = true;
  for (char c : last_label) all_digits = all_digits && IsDigit(c);
  // RFC 3696 §2: a top-level domain is never all-numeric; this keeps "1.2.3.4" out of the domains.
  if (all_digits) return Invalid(kind, fmt::format("top-level label {} is all digits", Quoted(last_label)));
  return domain;
}

// ---- IP addresses ----

// inet_pton reads a C string: an embedded NUL would cut the text short, so it is refused here.
std::optional<std::array<uint8_t, 4>> ParseIpv4(std::string_view text) {
  if (text.size() > 15 || text.find('\0') != std::string_view::npos) return std::nullopt;
  char buf[16] = {};
  std::memcpy(buf, text.data(), text.size());
  std::array<uint8_t, 4> out{};
  if (inet_pton(AF_INET, buf, out.data()) != 1) return std::nullopt;
  return out;
}

std::optional<std::array<uint8_t, 16>> ParseIpv6(std::string_view text) {
  if (text.size() > 45 || text.find('\0') != std::string_view::npos) return std::nullopt;  // INET6_ADDRSTRLEN - 1
  char buf[46] = {};
  std::memcpy(buf, text.data(), text.size());
  std::array<uint8_t, 16> out{};
  if (inet_pton(AF_INET6, buf, out.data()) != 1) return std::nullopt;
  return out;
}

std::string FormatIpv4(const uint8_t* b) { return fmt::format("{}.{}.{}.{}", b[0], b[1], b[2], b[3]); }

bool IsV4Mapped(const std::array<uint8_t, 16>& b) {
  for (int i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

// RFC 5952 §4: lower-case hex, no leading zeros, the longest run of ≥ 2 zero groups becomes "::" (the first
// when runs tie). Written here rather than taken from inet_ntop because glibc prints "::2:3" as "::0.2.0.3".
std::string FormatIpv6(const std::array<uint8_t, 16>& b) {
  std::array<unsigned, 8> group{};
  for (int i = 0; i < 8; ++i) group[i] = (unsigned{b[2 * i]} << 8) | b[2 * i + 1];
  int best_start = -1;
  int best_len = 0;
  for (int i = 0; i < 8;) {
    if (group[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && group[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best_start = -1;
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    out += fmt::format("{:x}", group[i]);
  }
  return out;
}

absl::StatusOr<Normalized> NormalizeIp(Kind kind, std::string_view value) {
  if (kind == Kind::kIpv4) {
    auto v4 = ParseIpv4(value);
    if (!v4) return Invalid(kind, fmt::format("{} is not a dotted-quad IPv4 address", Quoted(value)));
    return Normalized{Kind::kIpv4, FormatIpv4(v4->data())};
  }
  if (value.find('%') != std::string_view::npos) {
    return Invalid(kind, fmt::format("{}: a zone index ('%') is not part of an address", Quoted(value)));
  }
  auto v6 = ParseIpv6(value);
  if (!v6) return Invalid(kind, fmt::format("{} is not an IPv6 address", Quoted(value)));
  if (IsV4Mapped(*v6)) return Normalized{Kind::kIpv4, FormatIpv4(v6->data() + 12)};
  return Normalized{Kind::kIpv6, FormatIpv6(*v6)};
}

void MaskBytes(uint8_t* bytes, int total_bits, int prefix) {
  for (int bit = prefix; bit < total_bits; ++bit) {
    bytes[bit / 8] = static_cast<uint8_t>(bytes[bit / 8] & ~(0x80u >> (bit % 8)));
  }
}

absl::StatusOr<Normalized> NormalizeCidr(Kind kind, std::string_view value) {
  const size_t slash = value.find('/');
  if (slash == std::string_view::npos) {
    return Invalid(kind, fmt::format("{} has no prefix length (\"/N\")", Quoted(value)));
  }
  const std::string_view address = value.substr(0, slash);
  const std::string_view length_text = value.substr(slash + 1);
  const int max_length = kind == Kind::kCidr4 ? 32 : 128;
  if (length_text.empty() || length_text.size() > 3) {
    return Invalid(kind, fmt::format("prefix length {} is not a number 0..{}", Quoted(length_text), max_length));
  }
  int length = 0;
  for (char c : length_text) {
    if (!IsDigit(c)) {
      return Invalid(kind, fmt::format("prefix length {} is not a number 0..{}", Quoted(length_text), max_length));
    }
    length = length * 10 + (c - '0');
  }
  if (length > max_length) {
    return Invalid(kind, fmt::format("prefix length {} is out of range 0..{}", length, max_length));
  }
  if (kind == Kind::kCidr4) {
    auto v4 = ParseIpv4(address);
    if (!v4) return Invalid(kind, fmt::format("{} is not a dotted-quad IPv4 address", Quoted(address)));
    MaskBytes(v4->data(), 32, length);
    return Normalized{Kind::kCidr4, fmt::format("{}/{}", FormatIpv4(v4->data()), length)};
  }
  if (address.find('%') != std::string_view::npos) {
    return Invalid(kind, fmt::format("{}: a zone index ('%') is not part of an address", Quoted(address)));
  }
  auto v6 = ParseIpv6(address);
  if (!v6) return Invalid(kind, fmt::format("{} is not an IPv6 address", Quoted(address)));
  MaskBytes(v6->data(), 128, length);
  if (length >= 96 && IsV4Mapped(*v6)) {
    return Normalized{Kind::kCidr4, fmt::format("{}/{}", FormatIpv4(v6->data() + 12), length - 96)};
  }
  return Normalized{Kind::kCidr6, fmt::format("{}/{}", FormatIpv6(*v6), length)};
}

// ---- hashes ----

absl::StatusOr<Normalized> NormalizeHash(Kind kind, std::string_view value, size_t digits) {
  if (value.size() != digits) {
    return Invalid(kind, fmt::format("expected {} hex digits, got {} characters", digits, value.size()));
  }
  std::string out(value);
  for (size_t i = 0; i < out.size(); ++i) {
    if (!IsHex(out[i])) {
      return Invalid(kind, fmt::format("character {} at offset {} is not a hex digit", Quoted(value.substr(i, 1)), i));
    }
    out[i] = ToLowerAscii(out[i]);
  }
  return Normalized{kind, std::move(out)};
}

// ---- e-mail ----

absl::StatusOr<Normalized> NormalizeEmail(std::string_view value) {
  const Kind kind = Kind::kEmail;
  const size_t at = value.rfind('@');
  if (at == std::string_view::npos) return Invalid(kind, fmt::format("{} has no '@'", Quoted(value)));
  const std::string_view local = value.substr(0, at);
  const std::string_view domain = value.substr(at + 1);
  if (local.empty()) return Invalid(kind, fmt::format("{} has an empty local part", Quoted(value)));
  if (local.size() > 64) {
    return Invalid(kind, fmt::format("local part is {} octets long, more than 64 (RFC 5321 §4.5.3.1.1)", local.size()));
  }
  for (char c : local) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return Invalid(kind, fmt::format("local part {} contains a space or control character", Quoted(local)));
    }
  }
  if (!domain.empty() && domain.front() == '[') {
    return Invalid(kind, fmt::format("{}: address literals are not supported", Quoted(value)));
  }
  auto normalized_domain = NormalizeDomainAs(kind, domain);
  if (!normalized_domain.ok()) return normalized_domain.status();
  return Normalized{kind, fmt::format("{}@{}", local, *normalized_domain)};
}

// ---- URLs ----

bool IsUnreserved(char c) {
  return IsAsciiLower(c) || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  return ToLowerAscii(c) - 'a' + 10;
}

// RFC 3986 §6.2.2.2: triplets of unreserved characters decoded, all other triplets in upper-case hex.
// Boost.URL 1.81's normalize_path() also decodes "%2F" into "/", which changes the path's segments, so the
// path, query and fragment are normalised here and only the scheme and authority by Boost.URL.
std::string NormalizePercentEncoding(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && i + 2 < encoded.size() && IsHex(encoded[i + 1]) && IsHex(encoded[i + 2])) {
      const char decoded = static_cast<char>(HexValue(encoded[i + 1]) * 16 + HexValue(encoded[i + 2]));
      if (IsUnreserved(decoded)) {
        out += decoded;
      } else {
        out += '%';
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(encoded[i + 1])));
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(encoded[i + 2])));
      }
      i += 2;
    } else {
      out += encoded[i];
    }
  }
  return out;
}

// RFC 3986 §5.2.4 remove_dot_segments, for an absolute path.
std::string RemoveDotSegments(std::string_view path) {
  std::string out;
  while (!path.empty()) {
    if (path.starts_with("../")) {
      path.remove_prefix(3);
    } else if (path.starts_with("./")) {
      path.remove_prefix(2);
    } else if (path.starts_with("/./")) {
      path.remove_prefix(2);
    } else if (path == "/.") {
      path = "/";
    } else if (path.starts_with("/../") || path == "/..") {
      path = path.size() == 3 ? std::string_view("/") : path.substr(3);
      const size_t last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);
    } else if (path == "." || path == "..") {
      path = {};
    } else {
      const size_t next = path.find('/', path.front() == '/' ? 1 : 0);
      const size_t n = next == std::string_view::npos ? path.size() : next;
      out.append(path.substr(0, n));
      path.remove_prefix(n);
    }
  }
  return out;
}

absl::StatusOr<Normalized> NormalizeUrl(std::string_view value) {
  const Kind kind = Kind::kUrl;
  auto parsed = boost::urls::parse_uri(value);
  if (!parsed) {
    if (value.find("://") == std::string_view::npos) {
      return Invalid(kind, fmt::format("{} has no scheme and authority (\"scheme://host\")", Quoted(value)));
    }
    return Invalid(
        kind, fmt::format("{} is not a valid URI (RFC 3986; Boost.URL: {})", Quoted(value), parsed.error().message()));
  }
  try {
    boost::urls::url url(*parsed);
    url.normalize_scheme();
    url.normalize_authority();
    switch (url.host_type()) {
      case boost::urls::host_type::none:
        return Invalid(kind, fmt::format("{} has no host", Quoted(value)));
      case boost::urls::host_type::ipvfuture:
        return Invalid(kind, fmt::format("{}: IPvFuture hosts are not supported", Quoted(value)));
      case boost::urls::host_type::ipv4:
        break;  // Boost.URL's grammar already demands the dotted-decimal form without leading zeros
      case boost::urls::host_type::ipv6: {
        auto v6 = url.host_ipv6_address().to_bytes();
        std::array<uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), v6.data(), 16);
        if (IsV4Mapped(bytes)) {
          url.set_encoded_host(FormatIpv4(bytes.data() + 12));
        } else {
          url.set_encoded_host(fmt::format("[{}]", FormatIpv6(bytes)));
        }
        break;
      }
      case boost::urls::host_type::name: {
        const std::string host = url.host_name();  // percent-decoded
        if (host.empty()) return Invalid(kind, fmt::format("{} has an empty host", Quoted(value)));
        auto domain = NormalizeDomainAs(kind, host);
        if (!domain.ok()) return domain.status();
        url.set_encoded_host(*domain);
        break;
      }
    }
    if (url.has_port()) {
      const auto default_port = boost::urls::default_port(url.scheme_id());
      if (url.port().empty() || (default_port != 0 && url.port_number() == default_port)) url.remove_port();
    }
    // RFC 3986 §6.2.3: an empty path of a URI with an authority is equivalent to "/".
    std::string path = RemoveDotSegments(NormalizePercentEncoding(url.encoded_path()));
    if (path.empty() || path == "/") {
      // Boost.URL 1.81 writes set_encoded_path("/") as "/./"; an empty path made absolute is "/".
      url.set_encoded_path("");
      url.set_path_absolute(true);
    } else {
      url.set_encoded_path(path);
    }
    if (url.has_query()) url.set_encoded_query(NormalizePercentEncoding(url.encoded_query()));
    if (url.has_fragment()) url.set_encoded_fragment(NormalizePercentEncoding(url.encoded_fragment()));
    return Normalized{kind, std::string(url.buffer())};
  } catch (const std::exception& e) {
    return Invalid(kind, fmt::format("{}: {}", Quoted(value), e.what()));
  }
}


// ---- values kept as written ----

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view TrimAsciiSpace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// ssdeep, tlsh, filename, mutex, user-agent: trimmed, otherwise as written.
absl::StatusOr<std::string> NormalizeVerbatim(Kind kind, std::string_view value) {
  const std::string_view trimmed = TrimAsciiSpace(value);
  if (trimmed.empty()) return Invalid(kind, "value is empty");
  for (size_t i = 0; i < trimmed.size(); ++i) {
    const auto c = static_cast<unsigned char>(trimmed[i]);
    if (c < 0x20 || c == 0x7f) {
      return Invalid(kind, fmt::format("{} has a control character at offset {}", Quoted(trimmed), i));
    }
  }
  return std::string(trimmed);
}

// STIX 2.1 §6.13 wants the hive spelt out; analysts and tools often abbreviate it.
absl::StatusOr<std::string> NormalizeRegistryKey(std::string_view value) {
  CONCORD_ASSIGN_OR_RETURN(std::string key, NormalizeVerbatim(Kind::kRegistryKey, value));
  static constexpr std::pair<std::string_view, std::string_view> kHives[] = {
      {"hklm", "HKEY_LOCAL_MACHINE"}, {"hkcu", "HKEY_CURRENT_USER"}, {"hkcr", "HKEY_CLASSES_ROOT"},
      {"hku", "HKEY_USERS"},          {"hkcc", "HKEY_CURRENT_CONFIG"},
  };
  const size_t end = key.find('\\');
  const std::string hive = LowerAscii(std::string_view(key).substr(0, end));
  std::string rest = end == std::string::npos ? std::string() : key.substr(end);
  for (const auto& [abbreviation, full] : kHives) {
    if (hive == abbreviation || hive == LowerAscii(full)) return fmt::format("{}{}", full, rest);
  }
  return key;
}

absl::StatusOr<Normalized> NormalizeAsn(std::string_view value) {
  const Kind kind = Kind::kAsn;
  std::string_view digits = TrimAsciiSpace(value);
  if (digits.size() >= 2 && ToLowerAscii(digits[0]) == 'a' && ToLowerAscii(digits[1]) == 's') {
    digits.remove_prefix(2);
    digits = TrimAsciiSpace(digits);
  }
  if (digits.empty() || digits.size() > 10 || !std::all_of(digits.begin(), digits.end(), IsDigit)) {
    return Invalid(kind, fmt::format("{} is not an AS number (\"AS64500\" or \"64500\")", Quoted(value)));
  }
  uint64_t number = 0;
  for (char c : digits) number = number * 10 + static_cast<uint64_t>(c - '0');
  if (number > 4294967295u) return Invalid(kind, fmt::format("AS number {} is out of range 0..4294967295", number));
  return Normalized{kind, std::to_string(number)};
}

// Twelve hex digits from one of the accepted MAC forms, or nullopt.
std::optional<std::string> MacDigits(std::string_view value) {
  std::string digits;
  auto take = [&](std::string_view group, size_t size) {
    if (group.size() != size) return false;
    for (char c : group) {
      if (!IsHex(c)) return false;
      digits += ToLowerAscii(c);
    }
    return true;
  };
  auto split = [&](char sep, size_t groups, size_t size) {
    size_t start = 0;
    for (size_t g = 0; g < groups; ++g) {
      const size_t end = g + 1 == groups ? value.size() : value.find(sep, start);
      if (end == std::string_view::npos || !take(value.substr(start, end - start), size)) return false;
      start = end + 1;
    }
    return true;
  };
  if (value.size() == 17 && (value[2] == ':' || value[2] == '-') && split(value[2], 6, 2)) return digits;
  digits.clear();
  if (value.size() == 14 && split('.', 3, 4)) return digits;
  digits.clear();
  if (value.size() == 12 && take(value, 12)) return digits;
  return std::nullopt;
}

absl::StatusOr<Normalized> NormalizeMac(std::string_view value) {
  auto digits = MacDigits(TrimAsciiSpace(value));
  if (!digits) {
    return Invalid(Kind::kMac,
                   fmt::format("{} is not a MAC address (aa:bb:cc:dd:ee:ff, aa-bb-…, aabb.ccdd.eeff)", Quoted(value)));
  }
  std::string out;
  for (size_t i = 0; i < 12; i += 2) {
    if (i > 0) out += ':';
    out.append(*digits, i, 2);
  }
  return Normalized{Kind::kMac, std::move(out)};
}

absl::StatusOr<Normalized> NormalizeSerial(std::string_view value) {
  const Kind kind = Kind::kX509Serial;
  std::string out;
  const std::string_view trimmed = TrimAsciiSpace(value);
  for (size_t i = 0; i < trimmed.size(); ++i) {
    const char c = trimmed[i];
    if (c == ':') continue;
    if (!IsHex(c)) {
      return Invalid(kind, fmt::format("character {} at offset {} is not a hex digit", Quoted(trimmed.substr(i, 1)), i));
    }
    if (out.empty() && c == '0') continue;  // leading zeros (DER pads positive serials with 00)
    out += ToLowerAscii(c);
  }
  if (!out.empty()) return Normalized{kind, std::move(out)};
  if (trimmed.find('0') == std::string_view::npos) return Invalid(kind, "serial number is empty");
  // Not `out = "0"`: GCC 12 at -O3 reports a false -Wrestrict on that assignment.
  return Normalized{kind, std::string(1, '0')};
}

bool AllHex(std::string_view s) {
  for (char c : s) {
    if (!IsHex(c)) return false;
  }
  return true;
}

}  // namespace

std::optional<Kind> ParseKind(std::string_view name) {
  for (int i = 0; i < kKindCount; ++i) {
    const auto kind = static_cast<Kind>(i);
    if (pattern::ValueKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

absl::StatusOr<Normalized> NormalizeAs(Kind kind, std::string_view value) {
  switch (kind) {
    case Kind::kIpv4:
    case Kind::kIpv6:
      return NormalizeIp(kind, value);
    case Kind::kCidr4:
    case Kind::kCidr6:
      return NormalizeCidr(kind, value);
    case Kind::kDomain: {
      auto domain = NormalizeDomainAs(kind, value);
      if (!domain.ok()) return domain.status();
      return Normalized{kind, *std::move(domain)};
    }
    case Kind::kUrl:
      return NormalizeUrl(value);
    case Kind::kEmail:
      return NormalizeEmail(value);
    case Kind::kMd5:
      return NormalizeHash(kind, value, 32);
    case Kind::kSha1:
      return NormalizeHash(kind, value, 40);
    case Kind::kSha256:
      return NormalizeHash(kind, value, 64);
    case Kind::kSha512:
      return NormalizeHash(kind, value, 128);
    case Kind::kSha3_256:
      return NormalizeHash(kind, value, 64);
    case Kind::kSha3_512:
      return NormalizeHash(kind, value, 128);
    case Kind::kJa3:
      return NormalizeHash(kind, value, 32);
    case Kind::kAsn:
      return NormalizeAsn(value);
    case Kind::kMac:
      return NormalizeMac(value);
    case Kind::kX509Serial:
      return NormalizeSerial(value);
    case Kind::kRegistryKey: {
      CONCORD_ASSIGN_OR_RETURN(std::string key, NormalizeRegistryKey(value));
      return Normalized{kind, std::move(key)};
    }
    case Kind::kSsdeep:
    case Kind::kTlsh:
    case Kind::kFilename:
    case Kind::kMutex:
    case Kind::kUserAgent: {
      CONCORD_ASSIGN_OR_RETURN(std::string text, NormalizeVerbatim(kind, value));
      return Normalized{kind, std::move(text)};
    }
  }
  return absl::InvalidArgumentError(fmt::format("unknown kind {}", static_cast<int>(kind)));
}

absl::StatusOr<std::string> Normalize(Kind kind, std::string_view value) {
  CONCORD_ASSIGN_OR_RETURN(Normalized normalized, NormalizeAs(kind, value));
  return std::move(normalized.value);
}

std::optional<Kind> DetectKind(std::string_view value) {
  if (value.empty()) return std::nullopt;
  if (value.find("://") != std::string_view::npos) return Kind::kUrl;
  const size_t at = value.find('@');
  if (at != std::string_view::npos) {
    if (value.find('@', at + 1) == std::string_view::npos && value.find('/') == std::string_view::npos) {
      return Kind::kEmail;
    }
    return std::nullopt;
  }
  const size_t slash = value.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view address = value.substr(0, slash);
    if (ParseIpv4(address)) return Kind::kCidr4;
    if (ParseIpv6(address)) return Kind::kCidr6;
    return std::nullopt;
  }
  if (ParseIpv4(value)) return Kind::kIpv4;
  if (value.size() == 17 && (value[2] == ':' || value[2] == '-') && MacDigits(value)) return Kind::kMac;
  if (value.find(':') != std::string_view::npos) {
    if (ParseIpv6(value.substr(0, value.find('%')))) return Kind::kIpv6;
    return std::nullopt;
  }
  if (AllHex(value)) {
    switch (value.size()) {
      case 32:
        return Kind::kMd5;
      case 40:
        return Kind::kSha1;
      case 64:
        return Kind::kSha256;
      case 128:
        return Kind::kSha512;
      default:
        break;
    }
  }
  if (value.size() > 2 && ToLowerAscii(value[0]) == 'a' && ToLowerAscii(value[1]) == 's' &&
      std::all_of(value.begin() + 2, value.end(), IsDigit)) {
    return Kind::kAsn;
  }
  const size_t dot = value.find('.');
  if (dot != std::string_view::npos && dot + 1 < value.size() && value.find(' ') == std::string_view::npos) {
    return Kind::kDomain;
  }
  return std::nullopt;
}

absl::StatusOr<Normalized> NormalizeAny(std::string_view value) {
  const std::optional<Kind> kind = DetectKind(value);
  if (!kind) {
    return absl::InvalidArgumentError(
        fmt::format("{} is none of the known kinds (ip, cidr, domain, url, email, hash, mac, asn)", Quoted(value)));
  }
  return NormalizeAs(*kind, value);
}

std::optional<std::string> RegistrableDomain(std::string_view normalized_domain) {
  // psl_builtin() is a static table inside libpsl: nothing to load, free or share between threads.
  const std::string domain(normalized_domain);
  const char* registrable = psl_registrable_domain(psl_builtin(), domain.c_str());
  if (registrable == nullptr) return std::nullopt;
  return std::string(registrable);
}

std::optional<std::string_view> UrlHost(std::string_view normalized_url) {
  auto parsed = boost::urls::parse_uri(normalized_url);
  if (!parsed || !parsed->has_authority() || parsed->host_type() == boost::urls::host_type::none) return std::nullopt;
  const auto host = parsed->encoded_host();
  return std::string_view(host.data(), host.size());
}

std::string_view EmailDomain(std::string_view normalized_email) {
  const size_t at = normalized_email.rfind('@');
  return at == std::string_view::npos ? std::string_view() : normalized_email.substr(at + 1);
}

}  // namespace concord::correlate
