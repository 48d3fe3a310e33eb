#include "detect/logs/scan.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "detect/logs/log_reader.h"

namespace concord::detect::logs::detail {
namespace {

enum : uint8_t { kDigit = 1, kHexLetter = 2, kAlpha = 4, kLocal = 8, kUrlStop = 16 };

constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] |= kDigit | kLocal;
  for (int c = 'a'; c <= 'z'; ++c) t[c] |= kAlpha | kLocal;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] |= kAlpha | kLocal;
  for (int c = 'a'; c <= 'f'; ++c) t[c] |= kHexLetter;
  for (int c = 'A'; c <= 'F'; ++c) t[c] |= kHexLetter;
  for (char c : std::string_view("._%+-")) t[static_cast<uint8_t>(c)] |= kLocal;
  for (int c = 0; c <= 0x20; ++c) t[c] |= kUrlStop;
  t[0x7f] |= kUrlStop;
  for (char c : std::string_view("\"'<>)]}`")) t[static_cast<uint8_t>(c)] |= kUrlStop;
  return t;
}
constexpr std::array<uint8_t, 256> kClass = MakeClasses();

inline uint8_t Cls(char c) { return kClass[static_cast<uint8_t>(c)]; }
inline bool IsDigit(char c) { return Cls(c) & kDigit; }
inline bool IsAlpha(char c) { return Cls(c) & kAlpha; }
inline bool IsAlnum(char c) { return Cls(c) & (kDigit | kAlpha); }
inline bool IsHex(char c) { return Cls(c) & (kDigit | kHexLetter); }
inline bool IsLocal(char c) { return Cls(c) & kLocal; }
inline bool IsUrlStop(char c) { return Cls(c) & kUrlStop; }
inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; }

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (Lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

// Length of a dotted-quad at the start of `s` (octets 0-255, 1-3 digits), 0 if none. No boundary checks.
size_t MatchIpv4(std::string_view s) {
  size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= s.size() || s[i] != '.') return 0;
      ++i;
    }
    size_t digits = 0;
    unsigned value = 0;
    while (i < s.size() && IsDigit(s[i]) && digits < 4) {
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 3 || value > 255) return 0;
  }
  return i;
}

// File extensions that look like TLDs; a name ending in one is a file name in free text.
bool IsFileExtension(std::string_view tld) {
  static constexpr std::string_view kExtensions[] = {
      "exe",  "dll", "pdf", "txt", "doc", "docx", "xls",  "xlsx", "ppt",  "pptx", "rtf", "zip",  "rar",
      "gz",   "tgz", "tar", "js",  "php", "asp",  "aspx", "jsp",  "html", "htm",  "css", "png",  "jpg",
      "jpeg", "gif", "bmp", "svg", "ico", "log",  "json", "xml",  "csv",  "ini",  "cfg", "conf", "tmp",
      "dat",  "bin", "sh",  "py",  "bat", "ps1",  "vbs",  "msi",  "jar",  "lnk",  "scr", "hta"};
  if (tld.size() > 4) return false;
  char lower[4];
  for (size_t i = 0; i < tld.size(); ++i) lower[i] = Lower(tld[i]);
  const std::string_view l(lower, tld.size());
  for (std::string_view e : kExtensions) {
    if (e == l) return true;
  }
  return false;
}

bool IsTld(std::string_view label) {
  if (label.size() < 2) return false;
  if (label.size() > 4 && StartsWithNoCase(label, "xn--")) return true;
  for (char c : label) {
    if (!IsAlpha(c)) return false;
  }
  return !IsFileExtension(label);
}

// Length of a free-text domain name at the start of `s` (which starts with an alphanumeric), 0 if none.
size_t MatchDomain(std::string_view s) {
  size_t i = 0;
  int labels = 0;
  size_t last = 0;
  while (true) {
    const size_t start = i;
    while (i < s.size() && (IsAlnum(s[i]) || s[i] == '-')) ++i;
    const size_t len = i - start;
    if (len == 0 || len > 63 || s[i - 1] == '-' || s[start] == '-') return 0;
    ++labels;
    last = start;
    if (i + 1 < s.size() && s[i] == '.' && IsAlnum(s[i + 1])) {
      ++i;
      continue;
    }
    break;
  }
  if (labels < 2 || i > 253) return 0;
  if (!IsTld(s.substr(last, i - last))) return 0;
  // A name glued to an identifier ("foo.com_bar") is not one. (A non-ASCII byte after it is fine: "evil.com’s".)
  if (i < s.size() && s[i] == '_') return 0;
  return i;
}

// IPv6 candidate at the start of `s`: the longest run of hex digits, ':' and '.', shortened by trailing
// ':'/'.' (sentence punctuation) until it parses. 0 if none.
size_t MatchIpv6(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && n < 64 && (IsHex(s[n]) || s[n] == ':' || s[n] == '.')) ++n;
  if (n < s.size() && IsAlnum(s[n])) return 0;  // glued to a word
  while (n > 2) {
    const std::string_view c = s.substr(0, n);
    if (c != "::" && IsIpv6(c)) return n;
    if (c.back() != ':' && c.back() != '.') return 0;
    --n;
  }
  return 0;
}

}  // namespace

char* Arena::Allocate(size_t n) {
  if (n == 0) n = 1;
  while (block_ < blocks_.size()) {
    Block& b = blocks_[block_];
    if (b.size - used_ >= n) {
      char* p = b.data.get() + used_;
      used_ += n;
      return p;
    }
    ++block_;
    used_ = 0;
  }
  const size_t size = std::max(kBlockBytes, n);
  blocks_.push_back(Block{std::unique_ptr<char[]>(new char[size]), size});
  total_ += size;
  block_ = blocks_.size() - 1;
  used_ = n;
  return blocks_.back().data.get();
}

std::string_view Arena::Copy(std::string_view s) {
  if (s.empty()) return {};
  char* p = Allocate(s.size());
  std::memcpy(p, s.data(), s.size());
  return {p, s.size()};
}

std::string_view Arena::Concat(std::initializer_list<std::string_view> parts) {
  size_t n = 0;
  for (std::string_view part : parts) n += part.size();
  if (n == 0) return {};
  char* p = Allocate(n);
  size_t at = 0;
  for (std::string_view part : parts) {
    if (!part.empty()) std::memcpy(p + at, part.data(), part.size());
    at += part.size();
  }
  return {p, n};
}

void Arena::Reset() {
  block_ = 0;
  used_ = 0;
  if (total_ > kKeepBytes) {
    blocks_.clear();
    total_ = 0;
  }
}

bool IsIpv4(std::string_view s) { return s.size() >= 7 && s.size() <= 15 && MatchIpv4(s) == s.size(); }

bool IsIpv6(std::string_view s) {
  const size_t n = s.size();
  if (n < 2 || n > 45) return false;
  int groups = 0;
  bool compressed = false;
  size_t i = 0;
  if (s[0] == ':') {
    if (s[1] != ':') return false;
    compressed = true;
    i = 2;
  }
  while (i < n) {
    size_t j = i;
    while (j < n && j - i < 5 && IsHex(s[j])) ++j;
    if (j < n && s[j] == '.') {  // embedded IPv4 in the last 32 bits
      if (!IsIpv4(s.substr(i))) return false;
      groups += 2;
      break;
    }
    if (j == i || j - i > 4) return false;
    ++groups;
    if (j == n) break;
    if (s[j] != ':') return false;
    if (j + 1 < n && s[j + 1] == ':') {
      if (compressed) return false;
      compressed = true;
      i = j + 2;
    } else {
      i = j + 1;
      if (i == n) return false;  // trailing single ':'
    }
  }
  return compressed ? groups <= 7 : groups == 8;
}

std::optional<ValueKind> IpKind(std::string_view s) {
  if (IsIpv4(s)) return ValueKind::kIpv4;
  if (IsIpv6(s)) return ValueKind::kIpv6;
  return std::nullopt;
}

bool IsHostname(std::string_view s, int min_labels) {
  if (s.empty() || s.size() > 254) return false;
  if (s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > 253) return false;
  int labels = 1;
  size_t label_len = 0;
  for (char c : s) {
    if (c == '.') {
      if (label_len == 0) return false;
      ++labels;
      label_len = 0;
    } else if (IsAlnum(c) || c == '-' || c == '_') {
      if (++label_len > 63) return false;
    } else {
      return false;
    }
  }
  return label_len > 0 && labels >= min_labels;
}

std::optional<ValueKind> ClassifyHost(std::string_view s, int min_labels, std::string_view* value) {
  if (s.size() > 2 && s.front() == '[') {  // "[v6]" or "[v6]:port"
    const size_t close = s.find(']');
    if (close != std::string_view::npos && IsIpv6(s.substr(1, close - 1))) {
      *value = s.substr(1, close - 1);
      return ValueKind::kIpv6;
    }
    return std::nullopt;
  }
  // Every IPv6 text form and every ":port" has a colon; names and IPv4 addresses (most values) do not.
  if (const size_t first_colon = s.find(':'); first_colon != std::string_view::npos) {
    if (IsIpv6(s)) {
      *value = s;
      return ValueKind::kIpv6;
    }
    // Drop a ":port" (HTTP Host headers carry one).
    const size_t colon = s.rfind(':');
    if (colon + 1 < s.size() && first_colon == colon) {
      bool port = true;
      for (char c : s.substr(colon + 1)) port = port && IsDigit(c);
      if (port) s = s.substr(0, colon);
    }
  }
  if (IsIpv4(s)) {
    *value = s;
    return ValueKind::kIpv4;
  }
  if (IsHostname(s, min_labels)) {
    *value = s;
    return ValueKind::kDomain;
  }
  return std::nullopt;
}

std::string_view ExtractMailbox(std::string_view s) {
  const size_t open = s.rfind('<');
  if (open != std::string_view::npos) {
    const size_t close = s.find('>', open);
    if (close != std::string_view::npos) s = s.substr(open + 1, close - open - 1);
  }
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  const size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == s.size()) return {};
  return s;
}

namespace {

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {  // H. Hinnant's algorithm
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Reads exactly `n` digits at s[*i].
bool Digits(std::string_view s, size_t* i, size_t n, unsigned* out) {
  if (*i + n > s.size()) return false;
  unsigned v = 0;
  for (size_t k = 0; k < n; ++k) {
    const char c = s[*i + k];
    if (!IsDigit(c)) return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

}  // namespace

std::optional<int64_t> ParseIsoTimeMs(std::string_view s) {
  size_t i = 0;
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(s, &i, 4, &year) || i >= s.size() || s[i++] != '-') return std::nullopt;
  if (!Digits(s, &i, 2, &month) || i >= s.size() || s[i++] != '-') return std::nullopt;
  if (!Digits(s, &i, 2, &day)) return std::nullopt;
  if (i == s.size() && month >= 1 && month <= 12 && day >= 1 && day <= 31) {  // a date alone: midnight UTC
    return DaysFromCivil(year, month, day) * 86'400'000;
  }
  if (i >= s.size() || (s[i] != 'T' && s[i] != 't' && s[i] != ' ')) return std::nullopt;
  ++i;
  if (!Digits(s, &i, 2, &hour) || i >= s.size() || s[i++] != ':') return std::nullopt;
  if (!Digits(s, &i, 2, &minute) || i >= s.size() || s[i++] != ':') return std::nullopt;
  if (!Digits(s, &i, 2, &second)) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  int64_t ms = 0;
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    ++i;
    size_t digits = 0;
    while (i < s.size() && IsDigit(s[i])) {
      if (digits < 3) ms = ms * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (size_t k = digits; k < 3; ++k) ms *= 10;
  }
  int64_t offset_min = 0;
  if (i < s.size()) {
    if (s[i] == 'Z' || s[i] == 'z') {
      ++i;
    } else if (s[i] == '+' || s[i] == '-') {
      const int sign = s[i] == '-' ? -1 : 1;
      ++i;
      unsigned oh, om;
      if (!Digits(s, &i, 2, &oh)) return std::nullopt;
      if (i < s.size() && s[i] == ':') ++i;
      if (!Digits(s, &i, 2, &om) || oh > 23 || om > 59) return std::nullopt;
      offset_min = sign * static_cast<int64_t>(oh * 60 + om);
    }
  }
  if (i != s.size()) return std::nullopt;
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60;
  return secs * 1000 + ms;
}

namespace {

// The value of the 8 ASCII digits at p in *value; false when one is no digit (SWAR, as simdjson does it).
bool EightDigits(const char* p, uint64_t* value) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if (((v & 0xF0F0F0F0F0F0F0F0ull) | (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) !=
      0x3333333333333333ull) {
    return false;
  }
  v -= 0x3030303030303030ull;
  v = v * 10 + (v >> 8);
  v = (((v & 0x000000FF000000FFull) * 0x000F424000000064ull) +
       (((v >> 16) & 0x000000FF000000FFull) * 0x0000271000000001ull)) >> 32;
  *value = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

std::optional<int64_t> ParseUnixSecondsMs(std::string_view s) {
  int64_t ms = 0;
  if (!ParseUnixSecondsMs(s, &ms)) return std::nullopt;
  return ms;
}

bool ParseUnixSecondsMs(std::string_view s, int64_t* result) {
  // Every Zeek line starts with one ("1700000000.123456"): pointers and a plain digit test, no table;
  // the first eight digits at once. Returns a flag, not an optional: GCC builds an optional<int64_t>
  // result in memory with a byte store and reads it back whole, a store-forwarding stall per line.
  const auto digit = [](char c) { return static_cast<unsigned>(c - '0') < 10; };
  const char* p = s.data();
  const char* const end = p + s.size();
  const bool negative = p < end && *p == '-';
  if (negative) ++p;
  const char* const start = p;
  uint64_t secs = 0;
  if (end - p >= 8 && EightDigits(p, &secs)) p += 8;
  while (p < end && digit(*p)) secs = secs * 10 + static_cast<uint64_t>(*p++ - '0');
  const auto digits = static_cast<size_t>(p - start);
  if (digits == 0 || digits > 12) return false;  // beyond year 33658: not a timestamp
  int64_t ms = 0;
  if (p < end && *p == '.') {
    ++p;
    const char* const frac = p;
    while (p < end && digit(*p)) ++p;
    for (size_t k = 0; k < 3; ++k) ms = ms * 10 + (frac + k < p ? frac[k] - '0' : 0);
  }
  if (p != end) return false;
  const int64_t total = static_cast<int64_t>(secs) * 1000 + ms;
  *result = negative ? -total : total;
  return true;
}

std::optional<int64_t> ParseAnyTimeMs(std::string_view s) {
  if (auto t = ParseUnixSecondsMs(s)) return t;
  return ParseIsoTimeMs(s);
}

namespace {

// Length of the defanged notation at s[0] and its replacement; 0 when there is none.
size_t Defanged(std::string_view s, std::string_view* replacement) {
  const auto hit = [replacement](std::string_view with, size_t len) {
    *replacement = with;
    return len;
  };
  const char c = s[0];
  if (c == '[' || c == '(' || c == '{') {
    const char close = c == '[' ? ']' : (c == '(' ? ')' : '}');
    if (s.size() >= 3 && s[2] == close) {
      if (s[1] == '.') return hit(".", 3);
      if (c == '[' && s[1] == ':') return hit(":", 3);
      if (c != '{' && s[1] == '@') return hit("@", 3);
    }
    if (s.size() >= 5 && s[4] == close && StartsWithNoCase(s.substr(1), "dot")) return hit(".", 5);
    if (c == '[' && s.size() >= 4 && s[3] == ']' && StartsWithNoCase(s.substr(1), "at")) return hit("@", 4);
    if (c == '[' && s.starts_with("[://]")) return hit("://", 5);
    return 0;
  }
  // hxxp / hxxps before ':' or "[:".
  if (s.size() >= 5 && StartsWithNoCase(s, "hxxp")) {
    size_t after = 4;
    if (Lower(s[4]) == 's') ++after;
    if (after < s.size() && (s[after] == ':' || s[after] == '[')) return hit("http", 4);
  }
  return 0;
}

inline bool MayStartDefang(char c) { return c == '[' || c == '(' || c == '{' || c == 'h' || c == 'H'; }

}  // namespace

std::string_view Refang(std::string_view text, Arena& arena) {
  std::string_view replacement;
  size_t first = 0;
  size_t len = 0;
  for (; first < text.size(); ++first) {
    if (MayStartDefang(text[first]) && (len = Defanged(text.substr(first), &replacement)) != 0) break;
  }
  if (first == text.size()) return text;
  // Every replacement is no longer than what it replaces.
  char* out = arena.Allocate(text.size());
  std::memcpy(out, text.data(), first);
  size_t o = first;
  size_t i = first;
  while (i < text.size()) {
    if (MayStartDefang(text[i]) && (len = Defanged(text.substr(i), &replacement)) != 0) {
      std::memcpy(out + o, replacement.data(), replacement.size());
      o += replacement.size();
      i += len;
    } else {
      out[o++] = text[i++];
    }
  }
  return {out, o};
}

void ScanRefanged(std::string_view t, absl::FunctionRef<void(ValueKind, std::string_view)> found) {
  const size_t n = t.size();
  size_t i = 0;
  while (i < n) {
    const char c = t[i];
    const char left = i > 0 ? t[i - 1] : ' ';
    if (c == ':') {
      // "::1", "::ffff:10.0.0.1"
      if (i + 1 < n && t[i + 1] == ':' && !IsAlnum(left) && left != ':' && left != '.') {
        if (const size_t len = MatchIpv6(t.substr(i)); len != 0) {
          found(ValueKind::kIpv6, t.substr(i, len));
          i += len;
          continue;
        }
      }
      ++i;
      continue;
    }
    if (!IsAlnum(c)) {
      ++i;
      continue;
    }
    // `i` starts a run of letters and digits; `left` is not one.
    const std::string_view rest = t.substr(i);
    // URL: emit, then continue right after "://" so that the host and anything inside are found too.
    if (c == 'h' || c == 'H' || c == 'f' || c == 'F') {
      size_t scheme = 0;
      if (StartsWithNoCase(rest, "http://")) {
        scheme = 7;
      } else if (StartsWithNoCase(rest, "https://")) {
        scheme = 8;
      } else if (StartsWithNoCase(rest, "ftp://")) {
        scheme = 6;
      }
      if (scheme != 0) {
        size_t end = scheme;
        while (end < rest.size() && !IsUrlStop(rest[end])) ++end;
        while (end > scheme && std::string_view(".,;:!?").find(rest[end - 1]) != std::string_view::npos) --end;
        if (end > scheme) {
          found(ValueKind::kUrl, rest.substr(0, end));
          i += scheme;
          continue;
        }
      }
    }
    size_t hex = 0;
    while (hex < rest.size() && hex <= 128 && IsHex(rest[hex])) ++hex;
    // IPv6 starting with a group: "2001:db8::1", "fe80::1".
    if (hex >= 1 && hex <= 4 && hex < rest.size() && rest[hex] == ':' && left != '.' && left != ':') {
      if (const size_t len = MatchIpv6(rest); len != 0) {
        found(ValueKind::kIpv6, rest.substr(0, len));
        i += len;
        continue;
      }
    }
    // E-mail: a local part, '@', a domain.
    size_t local = 0;
    while (local < rest.size() && local <= 64 && IsLocal(rest[local])) ++local;
    if (local < rest.size() && rest[local] == '@' && rest[local - 1] != '.' && local + 1 < rest.size() &&
        IsAlnum(rest[local + 1])) {
      if (const size_t domain = MatchDomain(rest.substr(local + 1)); domain != 0) {
        found(ValueKind::kEmail, rest.substr(0, local + 1 + domain));
        i += local + 1 + domain;
        continue;
      }
    }
    if (IsDigit(c) && left != '.') {
      if (const size_t len = MatchIpv4(rest); len != 0) {
        const char next = len < rest.size() ? rest[len] : ' ';
        const bool dotted_on = next == '.' && len + 1 < rest.size() && IsAlnum(rest[len + 1]);
        if (!IsAlnum(next) && !dotted_on) {
          found(ValueKind::kIpv4, rest.substr(0, len));
          i += len;
          continue;
        }
      }
    }
    if ((hex == 32 || hex == 40 || hex == 64 || hex == 128) && (hex == rest.size() || !IsAlnum(rest[hex]))) {
      const ValueKind kind = hex == 32   ? ValueKind::kMd5
                             : hex == 40 ? ValueKind::kSha1
                             : hex == 64 ? ValueKind::kSha256
                                         : ValueKind::kSha512;
      found(kind, rest.substr(0, hex));
      i += hex;
      continue;
    }
    if (left != '.' && left != '-' && left != '_' && static_cast<uint8_t>(left) < 0x80) {
      if (const size_t len = MatchDomain(rest); len != 0) {
        found(ValueKind::kDomain, rest.substr(0, len));
        i += len;
        continue;
      }
    }
    while (i < n && IsAlnum(t[i])) ++i;
  }
}

void Scan(std::string_view text, Arena& arena, absl::FunctionRef<void(ValueKind, std::string_view)> found) {
  ScanRefanged(Refang(text, arena), found);
}

}  // namespace concord::detect::logs::detail
