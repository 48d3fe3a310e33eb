#include "common/json.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <vector>

#include "fmt/format.h"
#include "boost/json/parser.hpp"
#include "boost/json/serialize.hpp"
#include "common/status.h"

namespace concord {
namespace {

// RFC 8785 §3.2.3 orders member names by UTF-16 code units. UTF-8 byte order equals code point order,
// and the two orders differ only where a supplementary code point (a surrogate pair in UTF-16, lead
// byte 0xF0-0xF4) meets one in U+E000..U+FFFF (lead byte 0xEE or 0xEF): surrogates sort below U+E000.
// So compare bytes, and fix up only that case, without converting any name.
bool Utf16Less(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  if (i == n) return a.size() < b.size();
  // Back up to the lead byte of the code point in which the names differ.
  size_t lead = i;
  while (lead > 0 && (static_cast<unsigned char>(a[lead]) & 0xC0) == 0x80) --lead;
  const auto la = static_cast<unsigned char>(a[lead]);
  const auto lb = static_cast<unsigned char>(b[lead]);
  const bool a_supp = la >= 0xF0, b_supp = lb >= 0xF0;
  const bool a_high_bmp = la == 0xEE || la == 0xEF, b_high_bmp = lb == 0xEE || lb == 0xEF;
  if (a_supp && b_high_bmp) return true;   // surrogate (D800-DBFF) < E000-FFFF
  if (b_supp && a_high_bmp) return false;
  return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
}

// ECMAScript Number::toString for a finite double (RFC 8785 §3.2.2.3).
void AppendNumber(std::string& out, double d) {
  if (d == 0) {
    out += '0';
    return;
  }
  if (d < 0) {
    out += '-';
    d = -d;
  }
  // Shortest round-trip digits and exponent from std::to_chars in scientific form.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int exp10 = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exp10);
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;  // position of the decimal point relative to the digits
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out += '.';
    out.append(digits, static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    out += std::to_string(std::abs(n - 1));
  }
}

void AppendCanonical(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; break;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case boost::json::kind::int64: out += std::to_string(v.get_int64()); break;
    case boost::json::kind::uint64: out += std::to_string(v.get_uint64()); break;
    case boost::json::kind::double_: AppendNumber(out, v.get_double()); break;
    case boost::json::kind::string: AppendCanonicalJsonString(out, v.get_string()); break;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        AppendCanonical(out, e);
      }
      out += ']';
      break;
    }
    case boost::json::kind::object: {
      const auto& obj = v.get_object();
      std::vector<const boost::json::key_value_pair*> members;
      members.reserve(obj.size());
      for (const auto& kv : obj) members.push_back(&kv);
      std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
        return Utf16Less(std::string_view(a->key()), std::string_view(b->key()));
      });
      out += '{';
      bool first = true;
      for (const auto* kv : members) {
        if (!first) out += ',';
        first = false;
        AppendCanonicalJsonString(out, kv->key());
        out += ':';
        AppendCanonical(out, kv->value());
      }
      out += '}';
      break;
    }
  }
}

void AppendPretty(std::string& out, const boost::json::value& v, int depth) {
  const auto indent = [&](int d) { out.append(static_cast<size_t>(d) * 2, ' '); };
  if (v.is_object() && !v.get_object().empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& kv : v.get_object()) {
      if (!first) out += ",\n";
      first = false;
      indent(depth + 1);
      AppendCanonicalJsonString(out, kv.key());
      out += ": ";
      AppendPretty(out, kv.value(), depth + 1);
    }
    out += '\n';
    indent(depth);
    out += '}';
  } else if (v.is_array() && !v.get_array().empty()) {
    out += "[\n";
    bool first = true;
    for (const auto& e : v.get_array()) {
      if (!first) out += ",\n";
      first = false;
      indent(depth + 1);
      AppendPretty(out, e, depth + 1);
    }
    out += '\n';
    indent(depth);
    out += ']';
  } else {
    out += boost::json::serialize(v);
  }
}

}  // namespace

void AppendCanonicalJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t run = 0;  // start of the pending run of characters that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

std::string PrettyJson(const boost::json::value& value) {
  std::string out;
  AppendPretty(out, value, 0);
  return out;
}

absl::StatusOr<boost::json::value> ParseJson(std::string_view text, const JsonLimits& limits) {
  boost::json::parse_options opts;
  opts.max_depth = limits.max_depth;
  opts.allow_invalid_utf8 = false;
  boost::json::parser p(boost::json::storage_ptr(), opts);
  boost::system::error_code ec;
  // write() wants one complete value: truncated input and trailing data are errors, with the offset.
  const size_t n = p.write(text.data(), text.size(), ec);
  if (ec) {
    return absl::InvalidArgumentError(fmt::format("invalid JSON at offset {}: {}", n, ec.message()));
  }
  return p.release();
}

std::string CanonicalJson(const boost::json::value& value) {
  std::string out;
  AppendCanonical(out, value);
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  // The digest fetched once and a context per thread: EVP_Digest with EVP_sha256() fetches the implementation
  // and allocates a context on every call in OpenSSL 3, which cost the audit log's hash of every entry (one
  // per audited read) more than hashing its few KiB.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  CONCORD_CHECK(kSha256 != nullptr && ctx != nullptr && EVP_DigestInit_ex(ctx.get(), kSha256, nullptr) == 1 &&
                    EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx.get(), digest, &len) == 1,
                "SHA-256 is always available in OpenSSL");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(static_cast<size_t>(len) * 2, '\0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return out;
}

std::string_view JsonKindName(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "integer";
    case boost::json::kind::double_: return "number";
    case boost::json::kind::string: return "string";
    case boost::json::kind::array: return "array";
    case boost::json::kind::object: return "object";
  }
  return "unknown";
}

}  // namespace concord
