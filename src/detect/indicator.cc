#include "detect/indicator.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "common/status.h"
#include "correlate/normalize.h"
#include "fmt/format.h"

namespace concord::detect {
namespace {

constexpr double kSecondsPerDay = 86400.0;

// Characters PCRE (and Vectorscan) treat as syntax outside a class.
bool IsRegexMeta(char c) {
  switch (c) {
    case '\\': case '^': case '$': case '.': case '|': case '?': case '*': case '+':
    case '(': case ')': case '[': case ']': case '{': case '}': case '/':
      return true;
    default:
      return false;
  }
}

// STIX LIKE (§9.5: % any run, _ one code point, no escape character) as an anchored PCRE.
std::string LikeToRegex(std::string_view like) {
  std::string out = "^";
  for (char c : like) {
    if (c == '%') {
      out += ".*";
    } else if (c == '_') {
      out += '.';
    } else {
      if (IsRegexMeta(c)) out += '\\';
      out += c;
    }
  }
  out += '$';
  return out;
}

std::optional<Timestamp> TimestampMember(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  auto ts = ParseRfc3339(std::string_view(v->get_string()));
  if (!ts.ok()) return std::nullopt;
  return *ts;
}

}  // namespace

DecayPolicy DecayPolicy::Default() {
  DecayPolicy policy;
  for (size_t i = 0; i < kValueKindCount; ++i) {
    DecayModel& m = policy.models[i];
    switch (static_cast<ValueKind>(i)) {
      case ValueKind::kIpv4:
      case ValueKind::kIpv6:
      case ValueKind::kCidr4:
      case ValueKind::kCidr6: m = {30, 0.3}; break;
      case ValueKind::kDomain:
      case ValueKind::kUrl: m = {90, 0.3}; break;
      case ValueKind::kEmail: m = {180, 0.3}; break;
      default: m = {365, 0.3}; break;
    }
  }
  return policy;
}

double DecayPolicy::Score(ValueKind kind, std::optional<int> confidence, const Timestamp& since,
                          const Timestamp& now) const {
  const double base = confidence ? std::clamp(static_cast<double>(*confidence), 0.0, 100.0) : default_base;
  const DecayModel& m = models[static_cast<size_t>(kind)];
  const double t = static_cast<double>(now.seconds - since.seconds) / kSecondsPerDay;
  if (t <= 0) return base;
  if (m.lifetime_days <= 0 || t >= m.lifetime_days) return 0;
  const double speed = m.speed > 0 ? m.speed : 1;
  return std::clamp(base * (1 - std::pow(t / m.lifetime_days, 1 / speed)), 0.0, base);
}

std::string_view SkipName(Skip skip) {
  switch (skip) {
    case Skip::kNone: return "none";
    case Skip::kNotStix: return "not_stix_pattern";
    case Skip::kBadPattern: return "bad_pattern";
    case Skip::kNotIndexable: return "not_indexable";
    case Skip::kRevoked: return "revoked";
    case Skip::kNotYetValid: return "not_yet_valid";
    case Skip::kExpired: return "expired";
  }
  return "?";
}

std::optional<IndicatorValue> NormalizeValue(ValueKind kind, std::string_view raw) {
  // The kind may change: an IPv4-mapped IPv6 address is the IPv4 address.
  auto n = correlate::NormalizeAs(kind, raw);
  if (!n.ok()) return std::nullopt;
  return IndicatorValue{n->kind, std::move(n->value)};
}

absl::StatusOr<Indicator> ReadIndicator(const store::StoredObject& stored, const ReadOptions& options,
                                        const Timestamp& now, Skip* skip) {
  *skip = Skip::kNone;
  boost::json::value doc;
  try {
    doc = boost::json::parse(stored.json);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}: stored JSON does not parse: {}", stored.id, e.what()));
  }
  if (!doc.is_object()) return absl::InvalidArgumentError(fmt::format("{}: stored JSON is not an object", stored.id));
  const boost::json::object& o = doc.get_object();
  Indicator ind;
  ind.id = stored.id;
  ind.tlp = stored.tlp;
  ind.revoked = stored.revoked;
  if (const auto* v = o.if_contains("name"); v != nullptr && v->is_string()) ind.name = std::string(v->get_string());
  if (const auto* v = o.if_contains("confidence"); v != nullptr && v->is_int64()) {
    ind.confidence = static_cast<int>(std::clamp<int64_t>(v->get_int64(), 0, 100));
  }
  ind.valid_from = TimestampMember(o, "valid_from");
  ind.valid_until = TimestampMember(o, "valid_until");
  bool subdomains = options.domain_subdomains;
  if (const auto* v = o.if_contains("x_concord_subdomains"); v != nullptr && v->is_bool()) subdomains = v->get_bool();

  const boost::json::value* pattern_type = o.if_contains("pattern_type");
  const boost::json::value* pattern_text = o.if_contains("pattern");
  if (pattern_text == nullptr || !pattern_text->is_string()) {
    return absl::InvalidArgumentError(fmt::format("{}: field 'pattern' is missing or not a string", stored.id));
  }
  if (pattern_type == nullptr || !pattern_type->is_string() || pattern_type->get_string() != "stix") {
    *skip = Skip::kNotStix;
    return ind;
  }
  auto parsed = pattern::Pattern::Parse(std::string_view(pattern_text->get_string()));
  if (!parsed.ok()) {
    *skip = Skip::kBadPattern;
    return ind;
  }
  auto shared = std::make_shared<const pattern::Pattern>(std::move(*parsed));
  for (const pattern::IndexableValue& v : pattern::Extract(*shared)) {
    std::optional<IndicatorValue> normalized = NormalizeValue(v.kind, v.value);
    if (!normalized) continue;
    IndicatorValue value = std::move(*normalized);
    value.decisive = v.decisive;
    value.include_subdomains = value.kind == ValueKind::kDomain && subdomains;
    auto same = std::find_if(ind.values.begin(), ind.values.end(), [&](const IndicatorValue& x) {
      return x.kind == value.kind && x.value == value.value;
    });
    if (same == ind.values.end()) {
      ind.values.push_back(std::move(value));
    } else {
      same->decisive = same->decisive || value.decisive;
    }
  }
  for (const pattern::TextMatcher& m : pattern::ExtractTextMatchers(*shared)) {
    ind.regexes.push_back({m.kind, m.op == pattern::Operator::kLike ? LikeToRegex(m.literal) : std::string(m.literal)});
  }
  ind.needs_confirmation = !ind.regexes.empty() ||
                           std::any_of(ind.values.begin(), ind.values.end(), [](const IndicatorValue& v) { return !v.decisive; });
  if (ind.needs_confirmation) ind.pattern = std::move(shared);

  if (ind.values.empty() && ind.regexes.empty()) {
    *skip = Skip::kNotIndexable;
  } else if (ind.revoked) {
    *skip = Skip::kRevoked;
  } else if (ind.valid_until && *ind.valid_until <= now) {
    *skip = Skip::kExpired;
  } else if (ind.valid_from && *ind.valid_from > now) {
    *skip = Skip::kNotYetValid;
  }
  return ind;
}

}  // namespace concord::detect
