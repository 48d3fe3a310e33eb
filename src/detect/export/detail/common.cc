#include "detect/export/detail/common.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/status.h"
#include "fmt/format.h"

namespace concord::detect::exports::detail {

namespace {

using pattern::ValueKind;

bool ParsePrefix(std::string_view text, int max, int& prefix) {
  if (text.empty() || text.size() > 3) return false;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  prefix = v;
  return true;
}

}  // namespace

std::optional<IpValue> ParseIpValue(ValueKind kind, std::string_view value) {
  bool v6;
  switch (kind) {
    case ValueKind::kIpv4:
    case ValueKind::kCidr4: v6 = false; break;
    case ValueKind::kIpv6:
    case ValueKind::kCidr6: v6 = true; break;
    default: return std::nullopt;
  }
  const int max = v6 ? 128 : 32;
  IpValue ip;
  ip.v6 = v6;
  ip.prefix = max;
  std::string_view addr = value;
  if (size_t slash = value.find('/'); slash != std::string_view::npos) {
    addr = value.substr(0, slash);
    if (!ParsePrefix(value.substr(slash + 1), max, ip.prefix)) return std::nullopt;
    const bool single_kind = kind == ValueKind::kIpv4 || kind == ValueKind::kIpv6;
    if (single_kind && ip.prefix != max) return std::nullopt;
  }
  if (addr.empty() || addr.size() > INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN + 1];
  std::memcpy(buf, addr.data(), addr.size());
  buf[addr.size()] = '\0';
  if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, ip.bytes.data()) != 1) return std::nullopt;
  // Clear host bits, so that every format sees the network address.
  const int len = v6 ? 16 : 4;
  for (int i = 0; i < len; ++i) {
    const int keep = std::clamp(ip.prefix - 8 * i, 0, 8);
    ip.bytes[i] &= static_cast<uint8_t>(0xff00u >> keep);
  }
  return ip;
}

std::string FormatIp(const IpValue& ip) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(ip.v6 ? AF_INET6 : AF_INET, ip.bytes.data(), buf, sizeof buf);
  if (ip.prefix == (ip.v6 ? 128 : 32)) return buf;
  return fmt::format("{}/{}", buf, ip.prefix);
}

bool IsHostName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label != 0;
}

bool IsHashValue(ValueKind kind, std::string_view value) {
  size_t length;
  switch (kind) {
    case ValueKind::kMd5: length = 32; break;
    case ValueKind::kSha1: length = 40; break;
    case ValueKind::kSha256: length = 64; break;
    case ValueKind::kSha512: length = 128; break;
    default: return false;
  }
  if (value.size() != length) return false;
  for (char c : value) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

std::optional<HttpUrl> ParseHttpUrl(std::string_view url) {
  if (size_t sep = url.find("://"); sep != std::string_view::npos) {
    std::string scheme;
    for (char c : url.substr(0, sep)) scheme += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (scheme != "http") return std::nullopt;
    url.remove_prefix(sep + 3);
  }
  const size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    authority = authority.substr(0, close + 1);  // Suricata's http.host keeps IPv6 brackets
  } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return std::nullopt;
  HttpUrl out;
  for (char c : authority) out.host += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  // Built with reserve + push_back: GCC 12 at -O2 reports a false -Wrestrict (its bug 105651) on
  // string::insert(0, "/") and on assigning a literal here.
  out.path_query.reserve(rest.size() + 1);
  if (rest.empty() || rest.front() != '/') out.path_query.push_back('/');
  out.path_query.append(rest.data(), rest.size());
  return out;
}

std::string_view StripScheme(std::string_view url) {
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return url;
  for (char c : url.substr(0, sep)) {
    const bool scheme_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                             c == '+' || c == '-' || c == '.';
    if (!scheme_char) return url;
  }
  return url.substr(sep + 3);
}

std::string RuleContent(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  bool in_hex = false;
  for (unsigned char c : bytes) {
    // Suricata and Snort both treat `"` `;` `\` `|` specially inside content; ':' and ',' are harmless but
    // hex costs nothing and keeps the rule parser-independent.
    const bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != ';' && c != '\\' && c != '|' && c != ':' &&
                       c != ',';
    if (plain) {
      if (in_hex) out += '|';
      in_hex = false;
      out += static_cast<char>(c);
    } else {
      out += in_hex ? " " : "|";
      in_hex = true;
      out += fmt::format("{:02X}", c);
    }
  }
  if (in_hex) out += '|';
  return out;
}

std::string RuleMsgText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c >= 0x7f) {
      out += '?';
    } else {
      if (c == '"' || c == ';' || c == '\\') out += '\\';
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string SafeToken(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '+' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (const size_t rest = bytes.size() - i; rest > 0) {
    const uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += rest == 2 ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

int ScoreInt(double score) {
  if (!(score >= 0)) return 0;  // also NaN
  if (score > 100) return 100;
  return static_cast<int>(std::lround(score));
}

std::string_view Label(const ExportIndicator& indicator) {
  return indicator.name.empty() ? indicator.id : indicator.name;
}

absl::Status WriterBase::Start() {
  if (main_ != nullptr) return absl::OkStatus();
  CONCORD_ASSIGN_OR_RETURN(main_, out_.Open(""));
  WriteHeader(*main_);
  return Check(*main_, "main output");
}

absl::Status WriterBase::Check(const std::ostream& stream, std::string_view what) const {
  if (stream.fail()) return absl::DataLossError(fmt::format("export: writing {} failed", what));
  return absl::OkStatus();
}

}  // namespace concord::detect::exports::detail
