#include "taxii/media.h"

#include <string>
#include <vector>

#include "common/status.h"
#include "fmt/format.h"
#include "http/errors.h"
#include "http/message.h"

namespace concord::taxii {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits at `sep` outside double quotes.
std::vector<std::string_view> SplitOutsideQuotes(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == sep && !quoted) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

std::string Unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    std::string out;
    for (size_t i = 1; i + 1 < v.size(); ++i) {
      if (v[i] == '\\' && i + 2 < v.size()) ++i;
      out.push_back(v[i]);
    }
    return out;
  }
  return std::string(v);
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

struct MediaRange {
  std::string_view type;
  std::string_view subtype;
  std::optional<std::string> version;  // the `version` parameter, unquoted
  int quality = 1000;                  // q × 1000
};

// RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
std::optional<int> ParseQuality(std::string_view q) {
  if (q.empty() || q.size() > 5) return std::nullopt;
  if (q[0] != '0' && q[0] != '1') return std::nullopt;
  int value = (q[0] - '0') * 1000;
  if (q.size() > 1) {
    if (q[1] != '.') return std::nullopt;
    int scale = 100;
    for (size_t i = 2; i < q.size(); ++i, scale /= 10) {
      if (q[i] < '0' || q[i] > '9') return std::nullopt;
      value += (q[i] - '0') * scale;
    }
  }
  if (value > 1000) return std::nullopt;
  return value;
}

// Parses "type/subtype *( OWS ; OWS name=value )". Parameters after q= are accept-ext and are ignored.
std::optional<MediaRange> ParseMediaRange(std::string_view text) {
  std::vector<std::string_view> parts = SplitOutsideQuotes(text, ';');
  std::string_view full = Trim(parts[0]);
  const size_t slash = full.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  MediaRange r;
  r.type = full.substr(0, slash);
  r.subtype = full.substr(slash + 1);
  if (!IsToken(r.type) || !IsToken(r.subtype)) return std::nullopt;
  if (r.type == "*" && r.subtype != "*") return std::nullopt;
  bool after_q = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view p = Trim(parts[i]);
    if (p.empty()) continue;
    const size_t eq = p.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view name = Trim(p.substr(0, eq));
    std::string_view value = Trim(p.substr(eq + 1));
    if (!IsToken(name) || value.empty()) return std::nullopt;
    if (http::EqualsIgnoreCase(name, "q")) {
      auto q = ParseQuality(value);
      if (!q) return std::nullopt;
      r.quality = *q;
      after_q = true;
    } else if (!after_q && http::EqualsIgnoreCase(name, "version")) {
      r.version = Unquote(value);
    }
  }
  return r;
}

// How specifically `r` names TAXII 2.1 JSON: -1 when it does not match at all.
int Specificity(const MediaRange& r) {
  if (r.type == "*" && r.subtype == "*") return 0;
  if (!http::EqualsIgnoreCase(r.type, "application")) return -1;
  if (r.subtype == "*") return 1;
  if (!http::EqualsIgnoreCase(r.subtype, "taxii+json")) return -1;
  if (!r.version) return 2;
  return *r.version == "2.1" ? 3 : -1;
}

}  // namespace

bool AcceptsTaxii(std::optional<std::string_view> accept) {
  if (!accept) return true;
  int best_specificity = -1;
  int best_quality = 0;
  for (std::string_view item : SplitOutsideQuotes(*accept, ',')) {
    if (Trim(item).empty()) continue;
    auto range = ParseMediaRange(item);
    if (!range) continue;
    const int s = Specificity(*range);
    if (s < 0) continue;
    // The most specific range wins; among equally specific ones, the highest quality.
    if (s > best_specificity || (s == best_specificity && range->quality > best_quality)) {
      best_specificity = s;
      best_quality = range->quality;
    }
  }
  return best_specificity >= 0 && best_quality > 0;
}

absl::Status CheckAccept(std::optional<std::string_view> accept) {
  if (AcceptsTaxii(accept)) return absl::OkStatus();
  return http::WithHttpStatus(
      absl::InvalidArgumentError(fmt::format("Accept: '{}' does not admit {}", accept.value_or(""), kTaxiiMediaType)),
      406);
}

absl::Status CheckContentType(std::optional<std::string_view> content_type) {
  if (content_type) {
    if (auto r = ParseMediaRange(*content_type);
        r && r->type != "*" && r->subtype != "*" && Specificity(*r) >= 2) {
      return absl::OkStatus();
    }
  }
  return http::WithHttpStatus(
      absl::InvalidArgumentError(content_type
                                     ? fmt::format("Content-Type: '{}' is not {}", *content_type, kTaxiiMediaType)
                                     : fmt::format("Content-Type: missing; send {}", kTaxiiMediaType)),
      415);
}

std::string StixMediaTypeFor(std::string_view spec_version) {
  return fmt::format("application/stix+json;version={}", spec_version.empty() ? "2.1" : spec_version);
}

}  // namespace concord::taxii
