// Zeek logs, ASCII (TSV with '#' header lines) and JSON lines, told apart line by line: '#' is a header,
// '{' a JSON record, anything else a TSV record under the last #fields. Which fields hold what depends on
// the log (#path, or "_path" in JSON):
//   conn  id.orig_h id.resp_h          dns   + query, answers (IP or name by shape)
//   http  + host, uri (URL = "http://" + host + uri), user_agent
//   files + md5 sha1 sha256 filename tx_hosts rx_hosts     ssl + server_name, ja3
//   x509  certificate.serial san.dns san.ip san.email
// ts is the event time everywhere. Any other #path: id.orig_h and id.resp_h only. No #path (or JSON
// without "_path", the default of Zeek's JSON writer): every field name above, whatever the log.
//
// The TSV path is the hot one: separators are found 16 bytes at a time with SSE2 (memchr elsewhere), roles
// come from a per-column table built at the header, values point into the line (or the arena when \xNN
// escapes are decoded). Nothing is allocated per line.
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <vector>

#include "detect/logs/json_line.h"
#include "detect/logs/line_reader.h"
#include "detect/logs/readers.h"
#include "fmt/format.h"

namespace concord::detect::logs::detail {
namespace {

using pattern::ValueKind;

enum class LogPath : uint8_t { kAny, kConn, kDns, kHttp, kFiles, kSsl, kX509, kOther };

enum class Role : uint8_t {
  kNone,
  kTime,
  kIp,      // by shape, ipv4 or ipv6
  kAnswer,  // a DNS answer: IP or host name by shape, anything else (TXT data) skipped
  kHost,    // HTTP Host: IP or name, ":port" dropped; also the URL's authority
  kUri,     // the URL's path
  kDomain,
  kUserAgent,
  kMd5,
  kSha1,
  kSha256,
  kFilename,
  kJa3,
  kSerial,
  kEmail,
};

struct Column {
  Role role = Role::kNone;
  bool set = false;  // a set or vector: split on the set separator
};

LogPath PathOf(std::string_view path) {
  if (path.empty()) return LogPath::kAny;
  if (path == "conn") return LogPath::kConn;
  if (path == "dns") return LogPath::kDns;
  if (path == "http") return LogPath::kHttp;
  if (path == "files") return LogPath::kFiles;
  if (path == "ssl") return LogPath::kSsl;
  if (path == "x509") return LogPath::kX509;
  return LogPath::kOther;
}

Column ColumnFor(LogPath path, std::string_view name) {
  if (name == "ts") return {Role::kTime, false};
  if (name == "id.orig_h" || name == "id.resp_h") return {Role::kIp, false};
  const auto in = [path](LogPath p) { return path == p || path == LogPath::kAny; };
  if (in(LogPath::kDns)) {
    if (name == "query") return {Role::kDomain, false};
    if (name == "answers") return {Role::kAnswer, true};
  }
  if (in(LogPath::kHttp)) {
    if (name == "host") return {Role::kHost, false};
    if (name == "uri") return {Role::kUri, false};
    if (name == "user_agent") return {Role::kUserAgent, false};
  }
  if (in(LogPath::kFiles)) {
    if (name == "md5") return {Role::kMd5, false};
    if (name == "sha1") return {Role::kSha1, false};
    if (name == "sha256") return {Role::kSha256, false};
    if (name == "filename") return {Role::kFilename, false};
    if (name == "tx_hosts" || name == "rx_hosts") return {Role::kIp, true};
  }
  if (in(LogPath::kSsl)) {
    if (name == "server_name") return {Role::kDomain, false};
    if (name == "ja3") return {Role::kJa3, false};
  }
  if (in(LogPath::kX509)) {
    if (name == "certificate.serial") return {Role::kSerial, false};
    if (name == "san.dns") return {Role::kDomain, true};
    if (name == "san.ip") return {Role::kIp, true};
    if (name == "san.email") return {Role::kEmail, true};
  }
  return {};
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Zeek's ASCII writer escapes separators and non-printable bytes as \xNN; other backslashes stay.
std::string_view Unescape(std::string_view s, Arena& arena) {
  if (std::memchr(s.data(), '\\', s.size()) == nullptr) return s;
  char* out = arena.Allocate(s.size());
  size_t o = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x') {
      const int hi = HexValue(s[i + 2]);
      const int lo = HexValue(s[i + 3]);
      if (hi >= 0 && lo >= 0) {
        out[o++] = static_cast<char>(hi * 16 + lo);
        i += 3;
        continue;
      }
    }
    out[o++] = s[i];
  }
  return {out, o};
}

class ZeekReader final : public LineReader {
 private:
  void ParseLine(std::string_view line, uint64_t number, uint64_t offset, Sink sink) override;
  void Header(std::string_view line, uint64_t number);
  void Tsv(std::string_view line, uint64_t number, uint64_t offset, Sink sink);
  // One TSV field of a column that has a role (a set: each element).
  void Field(size_t col, std::string_view v);
  void Json(std::string_view line, uint64_t number, uint64_t offset, Sink sink);
  error_code JsonObject(ondemand::object& object, size_t depth);
  void Rebuild();
  void KindsChanged() override { Rebuild(); }
  // `role`, or kNone when nothing it can yield is wanted (ReaderOptions::kinds).
  Role Wanted(Role role) const;
  // Handles one value (one element of a set) of a field with `role`.
  void Value(Role role, std::string_view v, std::string_view field);
  void Url();

  // TSV header state.
  char separator_ = '\t';
  std::string set_separator_ = ",";
  std::string empty_field_ = "(empty)";
  std::string unset_field_ = "-";
  std::string path_;
  std::vector<std::string> fields_;
  std::vector<std::string> types_;
  std::vector<Column> columns_;
  std::vector<uint32_t> next_role_;  // by column: the first column at or after it with a role (or columns_.size())
  bool have_fields_ = false;
  bool escapes_ = false;  // the current TSV field may hold a '\\' (one comes before its end)

  // Per record.
  std::optional<int64_t> time_ms_;
  std::string_view host_, uri_, host_field_;
  bool url_added_ = false;

  // JSON.
  JsonLine json_;
  LogPath json_path_ = LogPath::kAny;
  std::string key_path_;  // dotted path of nested keys
};

void ZeekReader::ParseLine(std::string_view line, uint64_t number, uint64_t offset, Sink sink) {
  if (line.empty()) return;
  time_ms_.reset();
  // One by one: a chained assignment compiles to two stores and a 16-byte reload that waits on them.
  host_ = {};
  uri_ = {};
  host_field_ = {};
  url_added_ = false;
  if (line[0] == '#') {
    FlushHeld(sink);  // a header may replace the field names a held record points to
    return Header(line, number);
  }
  if (line[0] == '{' || line[0] == ' ') {
    std::string_view trimmed = line;
    while (!trimmed.empty() && trimmed.front() == ' ') trimmed.remove_prefix(1);
    if (!trimmed.empty() && trimmed.front() == '{') return Json(trimmed, number, offset, sink);
  }
  Tsv(line, number, offset, sink);
}

void ZeekReader::Header(std::string_view line, uint64_t number) {
  if (line.starts_with("#separator")) {
    std::string_view value = line.substr(10);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    const std::string_view sep = Unescape(value, arena_);
    if (sep.size() != 1 || sep[0] == '\n') return Malformed(number, "#separator is not one byte");
    separator_ = sep[0];
    return;
  }
  const size_t cut = line.find(separator_);
  if (cut == std::string_view::npos) return;  // a comment
  const std::string_view name = line.substr(1, cut - 1);
  const std::string_view value = line.substr(cut + 1);
  const auto split = [this](std::string_view v, std::vector<std::string>* out) {
    out->clear();
    while (true) {
      const size_t at = v.find(separator_);
      out->emplace_back(v.substr(0, at));
      if (at == std::string_view::npos) break;
      v.remove_prefix(at + 1);
    }
  };
  if (name == "set_separator") {
    const std::string_view sep = Unescape(value, arena_);
    if (sep.empty()) return Malformed(number, "empty #set_separator");
    set_separator_ = sep;
  } else if (name == "empty_field") {
    empty_field_ = value;
  } else if (name == "unset_field") {
    unset_field_ = value;
  } else if (name == "path") {
    path_ = value;
    Rebuild();
  } else if (name == "fields") {
    split(value, &fields_);
    have_fields_ = true;
    Rebuild();
  } else if (name == "types") {
    split(value, &types_);
    Rebuild();
  }
}

Role ZeekReader::Wanted(Role role) const {
  const KindMask ip = KindBit(ValueKind::kIpv4) | KindBit(ValueKind::kIpv6);
  KindMask yields = 0;
  switch (role) {
    case Role::kNone:
    case Role::kTime:
      return role;
    case Role::kIp: yields = ip; break;
    case Role::kAnswer: yields = ip | KindBit(ValueKind::kDomain); break;
    case Role::kHost: yields = ip | KindBit(ValueKind::kDomain) | KindBit(ValueKind::kUrl); break;
    case Role::kUri: yields = KindBit(ValueKind::kUrl); break;
    case Role::kDomain: yields = KindBit(ValueKind::kDomain); break;
    case Role::kUserAgent: yields = KindBit(ValueKind::kUserAgent); break;
    case Role::kMd5: yields = KindBit(ValueKind::kMd5); break;
    case Role::kSha1: yields = KindBit(ValueKind::kSha1); break;
    case Role::kSha256: yields = KindBit(ValueKind::kSha256); break;
    case Role::kFilename: yields = KindBit(ValueKind::kFilename); break;
    case Role::kJa3: yields = KindBit(ValueKind::kJa3); break;
    case Role::kSerial: yields = KindBit(ValueKind::kX509Serial); break;
    case Role::kEmail: yields = KindBit(ValueKind::kEmail); break;
  }
  return WantsAny(yields) ? role : Role::kNone;
}

void ZeekReader::Rebuild() {
  const LogPath path = PathOf(path_);
  columns_.assign(fields_.size(), Column{});
  for (size_t i = 0; i < fields_.size(); ++i) {
    Column c = ColumnFor(path, fields_[i]);
    c.role = Wanted(c.role);
    if (c.role != Role::kNone && i < types_.size() &&
        (types_[i].starts_with("set[") || types_[i].starts_with("vector["))) {
      c.set = true;
    }
    columns_[i] = c;
  }
  next_role_.assign(fields_.size() + 1, static_cast<uint32_t>(fields_.size()));
  for (size_t i = fields_.size(); i-- > 0;) {
    next_role_[i] = columns_[i].role != Role::kNone ? static_cast<uint32_t>(i) : next_role_[i + 1];
  }
}

#if defined(__SSE2__)
// Bits set in a 16-bit mask. A table, because the x86-64 baseline has no popcnt instruction and
// __builtin_popcount then calls a library function.
constexpr std::array<uint8_t, 256> kPopcount = [] {
  std::array<uint8_t, 256> t{};
  for (size_t v = 0; v < t.size(); ++v) {
    for (size_t b = v; b != 0; b >>= 1) t[v] = static_cast<uint8_t>(t[v] + (b & 1));
  }
  return t;
}();
inline size_t Popcount16(unsigned mask) { return size_t{kPopcount[mask & 0xff]} + kPopcount[(mask >> 8) & 0xff]; }

// The separators and backslashes among the `left` (1..15) bytes at p, as bit masks, without a copy: the
// 16 bytes from p when they stay on p's 4 KiB page (those past the end are read and masked off: they
// cannot fault, and the sanitizer is not told about a read it would call out of bounds), else the 16 bytes
// ending at p + left when the line is that long (`back` bytes available before p), else byte by byte.
__attribute__((no_sanitize_address)) void TailMasks(const char* p, size_t left, size_t back, char separator,
                                                    unsigned* separators, unsigned* backslashes) {
  __m128i block;
  unsigned keep = (1u << left) - 1;
  unsigned shift = 0;
  if ((reinterpret_cast<uintptr_t>(p) & 4095) <= 4096 - 16) {
    block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  } else if (back + left >= 16) {
    block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + left - 16));
    shift = static_cast<unsigned>(16 - left);
    keep = 0xffff;
  } else {
    unsigned s = 0;
    unsigned b = 0;
    for (size_t k = 0; k < left; ++k) {
      s |= static_cast<unsigned>(p[k] == separator) << k;
      b |= static_cast<unsigned>(p[k] == '\\') << k;
    }
    *separators = s;
    *backslashes = b;
    return;
  }
  const auto bits = [&](char c) {
    return (static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, _mm_set1_epi8(c)))) & keep) >> shift;
  };
  *separators = bits(separator);
  *backslashes = bits('\\');
}
#endif

void ZeekReader::Tsv(std::string_view line, uint64_t number, uint64_t offset, Sink sink) {
  if (!have_fields_) return Malformed(number, "a record before any #fields header");
  const char* const p = line.data();
  const size_t n = line.size();
  const size_t columns = columns_.size();
  // Fields are unescaped only when a backslash comes before their end (most lines have none at all);
  // the first backslash is found in the same pass as the separators.
  size_t first_escape = n;
  size_t col = 0;    // the column being read
  size_t start = 0;  // where it starts (kept up to date for the columns with a role)
#if defined(__SSE2__)
  // Separators 16 bytes at a time: one compare and a bit mask per block instead of a memchr call per
  // field. The separators that end columns without a role (most of dns.log's 24) are counted, not
  // visited: a block that ends none of the wanted columns costs a popcount. Everything lives in locals
  // (a lambda over references here cost a call and reloads per block).
  const uint32_t* const next_role = next_role_.data();
  size_t want = columns > 0 ? next_role[0] : 0;  // the next column with a role (col itself past the last)
  const __m128i separator = _mm_set1_epi8(separator_);
  const __m128i backslash = _mm_set1_epi8('\\');
  for (size_t i = 0; i < n; i += 16) {
    unsigned mask;
    if (i + 16 <= n) {
      const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      if (first_escape == n) {
        const auto escapes = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, backslash)));
        if (escapes != 0) first_escape = i + static_cast<size_t>(__builtin_ctz(escapes));
      }
      mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, separator)));
    } else {
      unsigned escapes = 0;
      TailMasks(p + i, n - i, i, separator_, &mask, &escapes);
      if (first_escape == n && escapes != 0) first_escape = i + static_cast<size_t>(__builtin_ctz(escapes));
    }
    while (mask != 0) {
      if (want != col) {
        const size_t need = want - col;  // separators up to the start of column `want`
        const size_t count = Popcount16(mask);
        if (count < need) {
          col += count;
          break;
        }
        for (size_t k = 1; k < need; ++k) mask &= mask - 1;
        start = i + static_cast<size_t>(__builtin_ctz(mask)) + 1;
        mask &= mask - 1;
        col = want;
        continue;
      }
      const size_t end = i + static_cast<size_t>(__builtin_ctz(mask));
      mask &= mask - 1;
      if (col < columns) {  // a column with a role
        escapes_ = first_escape < end;
        Field(col, std::string_view(p + start, end - start));
      }
      ++col;
      start = end + 1;
      want = col < columns ? next_role[col] : col;
    }
  }
#else
  if (const void* b = std::memchr(p, '\\', n); b != nullptr) {
    first_escape = static_cast<size_t>(static_cast<const char*>(b) - p);
  }
  for (size_t i = 0; i < n;) {
    const void* q = std::memchr(p + i, separator_, n - i);
    if (q == nullptr) break;
    i = static_cast<size_t>(static_cast<const char*>(q) - p);
    if (col < columns && columns_[col].role != Role::kNone) {
      escapes_ = first_escape < i;
      Field(col, std::string_view(p + start, i - start));
    }
    ++col;
    start = ++i;
  }
#endif
  // The last field ends at the end of the line.
  if (col < columns && columns_[col].role != Role::kNone) {
    escapes_ = first_escape < n;
    Field(col, std::string_view(p + start, n - start));
  }
  ++col;
  if (col != columns) return Malformed(number, fmt::format("{} fields where #fields names {}", col, columns));
  Emit(number, offset, time_ms_, sink, /*may_hold=*/true);
}

void ZeekReader::Field(size_t col, std::string_view v) {
  if (v.empty() || v == unset_field_ || v == empty_field_) return;
  const Column c = columns_[col];
  const std::string_view field = fields_[col];
  if (!c.set) return Value(c.role, escapes_ ? Unescape(v, arena_) : v, field);
  while (true) {
    const size_t at = v.find(set_separator_);
    const std::string_view element = v.substr(0, at);
    if (!element.empty() && element != unset_field_)
      Value(c.role, escapes_ ? Unescape(element, arena_) : element, field);
    if (at == std::string_view::npos) break;
    v.remove_prefix(at + set_separator_.size());
  }
}

void ZeekReader::Value(Role role, std::string_view v, std::string_view field) {
  switch (role) {
    case Role::kNone:
      return;
    case Role::kTime: {
      int64_t ms = 0;
      if (ParseUnixSecondsMs(v, &ms)) {
        time_ms_ = ms;
      } else {
        time_ms_ = ParseIsoTimeMs(v);
      }
      return;
    }
    case Role::kIp:
      if (const auto kind = IpKind(v)) Add(*kind, v, field);
      return;
    case Role::kAnswer: {
      std::string_view value;
      if (const auto kind = ClassifyHost(v, 2, &value)) Add(*kind, value, field);
      return;
    }
    case Role::kHost: {
      std::string_view value;
      if (const auto kind = ClassifyHost(v, 1, &value)) Add(*kind, value, field);
      host_ = v;
      host_field_ = field;
      return Url();
    }
    case Role::kUri:
      uri_ = v;
      return Url();
    case Role::kDomain:
      return Add(ValueKind::kDomain, v, field);
    case Role::kUserAgent:
      return Add(ValueKind::kUserAgent, v, field);
    case Role::kMd5:
      return Add(ValueKind::kMd5, v, field);
    case Role::kSha1:
      return Add(ValueKind::kSha1, v, field);
    case Role::kSha256:
      return Add(ValueKind::kSha256, v, field);
    case Role::kFilename:
      return Add(ValueKind::kFilename, v, field);
    case Role::kJa3:
      return Add(ValueKind::kJa3, v, field);
    case Role::kSerial:
      return Add(ValueKind::kX509Serial, v, field);
    case Role::kEmail:
      return Add(ValueKind::kEmail, v, field);
  }
}

// Once both host and uri are known: "http://" + host + uri (an absolute uri, as proxies see, as is).
void ZeekReader::Url() {
  if (url_added_ || uri_.empty()) return;
  if (uri_.starts_with("http://") || uri_.starts_with("https://")) {
    url_added_ = true;
    return Add(ValueKind::kUrl, uri_, "uri");
  }
  if (host_.empty() || uri_.front() != '/') return;
  url_added_ = true;
  Add(ValueKind::kUrl, arena_.Concat({"http://", host_, uri_}), "uri");
}

void ZeekReader::Json(std::string_view line, uint64_t number, uint64_t offset, Sink sink) {
  json_path_ = LogPath::kAny;
  ondemand::document doc;
  ondemand::object object;
  error_code e = json_.Parse(line, &doc);
  if (!e) e = doc.get_object().get(object);
  if (!e) {
    key_path_.clear();
    e = JsonObject(object, 0);
  }
  if (e) return Malformed(number, fmt::format("invalid JSON: {}", simdjson::error_message(e)));
  Emit(number, offset, time_ms_, sink);
}

// Zeek's JSON writer flattens records ("id.orig_h"); nested objects are read the same way ("id":{"orig_h"}).
error_code ZeekReader::JsonObject(ondemand::object& object, size_t depth) {
  for (auto member : object) {
    ondemand::field f;
    std::string_view key;
    if (const error_code e = std::move(member).get(f)) return e;
    if (const error_code e = f.unescaped_key().get(key)) return e;
    ondemand::value& v = f.value();
    ondemand::json_type type;
    if (const error_code e = v.type().get(type)) return e;
    const size_t mark = key_path_.size();
    std::string_view name = key;
    if (depth > 0) {
      key_path_ += '.';
      key_path_ += key;
      name = key_path_;
    }
    if (type == ondemand::json_type::object) {
      if (depth < 8) {
        if (depth == 0) key_path_ = key;
        ondemand::object inner;
        if (const error_code e = v.get_object().get(inner)) return e;
        if (const error_code e = JsonObject(inner, depth + 1)) return e;
      }
    } else if (depth == 0 && key == "_path") {
      std::string_view path;
      if (const error_code e = StringOf(v, &path)) return e;
      json_path_ = PathOf(path);
    } else {
      Column c = ColumnFor(json_path_, name);
      c.role = Wanted(c.role);
      if (c.role == Role::kTime) {
        std::string_view text;
        if (const error_code e = ScalarText(v, &text)) return e;
        time_ms_ = ParseAnyTimeMs(text);
        if (!time_ms_ && type == ondemand::json_type::number) {
          double seconds = 0;
          if (v.get_double().get(seconds) == simdjson::SUCCESS && seconds > -1e12 && seconds < 1e12) {
            time_ms_ = static_cast<int64_t>(seconds * 1000);
          }
        }
      } else if (c.role != Role::kNone) {
        // The key lives in simdjson's buffer until the next line; a nested path is copied.
        const std::string_view field = depth > 0 ? arena_.Copy(name) : name;
        if (const error_code e = ForEachString(v, [&](std::string_view s) {
              if (!s.empty()) Value(c.role, s, field);
            })) {
          return e;
        }
      }
    }
    key_path_.resize(mark);
  }
  return simdjson::SUCCESS;
}

}  // namespace

std::unique_ptr<LogReader> NewZeekReader() { return std::make_unique<ZeekReader>(); }

}  // namespace concord::detect::logs::detail
