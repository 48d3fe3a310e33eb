#include "stix/detail/check.h"

#include <fmt/format.h>

#include <cmath>

#include "common/json.h"
#include "common/status.h"
#include "common/uuid.h"

namespace concord::stix::detail {

void FieldPath::Append(std::string& out) const {
  if (parent_ != nullptr) parent_->Append(out);
  if (is_index_) {
    fmt::format_to(std::back_inserter(out), "[{}]", index_);
  } else if (!key_.empty()) {
    if (!out.empty()) out += '.';
    out += key_;
  }
}

std::string FieldPath::ToString() const {
  std::string out;
  Append(out);
  return out;
}

absl::Status Error(const FieldPath& path, std::string_view reason) { return FieldError(path.ToString(), reason); }

absl::Status Missing(const FieldPath& path) { return Error(path, "is required"); }

absl::Status WrongKind(const FieldPath& path, std::string_view expected, const boost::json::value& got) {
  return Error(path, fmt::format("must be {}, got {}", expected, JsonKindName(got)));
}

namespace {

std::string NumberText(const boost::json::value& v) {
  if (v.is_int64()) return fmt::format("{}", v.get_int64());
  if (v.is_uint64()) return fmt::format("{}", v.get_uint64());
  return fmt::format("{}", v.get_double());
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

// Each allowed type in '|'-separated `allowed`, for error messages and membership.
bool TypeAllowed(std::string_view type, std::string_view allowed) {
  if (allowed.empty()) return true;
  while (!allowed.empty()) {
    const size_t bar = allowed.find('|');
    if (allowed.substr(0, bar) == type) return true;
    if (bar == std::string_view::npos) break;
    allowed.remove_prefix(bar + 1);
  }
  return false;
}

std::string DescribeAllowed(std::string_view allowed) {
  if (allowed.empty()) return "an identifier (type--UUID)";
  std::string out = "an identifier of type ";
  for (char c : allowed) {
    if (c == '|') {
      out += " or ";
    } else {
      out += c;
    }
  }
  return out;
}

struct HashRule {
  std::string_view name;
  size_t hex_digits;
};
constexpr HashRule kHashRules[] = {{"MD5", 32},      {"SHA-1", 40},    {"SHA-256", 64},
                                   {"SHA-512", 128}, {"SHA3-256", 64}, {"SHA3-512", 128}};

}  // namespace

bool IsTypeName(std::string_view text) {
  if (text.size() < 3 || text.size() > 250 || !(text[0] >= 'a' && text[0] <= 'z')) return false;
  char prev = 0;
  for (char c : text) {
    if (!IsLowerAlnum(c) && c != '-') return false;
    if (c == '-' && prev == '-') return false;
    prev = c;
  }
  return true;
}

std::string_view IdentifierType(std::string_view id) { return id.substr(0, id.find("--")); }

bool IsIdentifier(std::string_view text) {
  const size_t sep = text.find("--");
  if (sep == std::string_view::npos || !IsTypeName(text.substr(0, sep))) return false;
  auto uuid = ParseUuid(text.substr(sep + 2));
  return uuid.ok() && uuid->IsRfcVariant() && uuid->Version() >= 1 && uuid->Version() <= 5;
}

absl::StatusOr<std::string_view> CheckString(const boost::json::value& v, const FieldPath& path) {
  if (!v.is_string()) return WrongKind(path, "a string", v);
  return std::string_view(v.get_string());
}

absl::Status CheckBool(const boost::json::value& v, const FieldPath& path) {
  if (!v.is_bool()) return WrongKind(path, "a boolean", v);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> CheckInteger(const boost::json::value& v, const FieldPath& path, int64_t min, int64_t max) {
  int64_t n = 0;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_uint64()) {
    n = v.get_uint64() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v.get_uint64());
  } else if (v.is_double() && std::trunc(v.get_double()) == v.get_double() && std::fabs(v.get_double()) < 9e15) {
    // JSON Schema draft 2020-12, which the STIX schemas use, counts 1.0 and 1e3 as integers.
    n = static_cast<int64_t>(v.get_double());
  } else if (v.is_number()) {
    return Error(path, fmt::format("must be an integer, got {}", NumberText(v)));
  } else {
    return WrongKind(path, "an integer", v);
  }
  if (n < min || n > max) {
    return Error(path, fmt::format("must be from {} to {}, got {}", min, max, NumberText(v)));
  }
  return n;
}

absl::StatusOr<double> CheckNumber(const boost::json::value& v, const FieldPath& path, double min, double max) {
  if (!v.is_number()) return WrongKind(path, "a number", v);
  const double d = v.to_number<double>();
  if (!(d >= min && d <= max)) return Error(path, fmt::format("must be from {} to {}, got {}", min, max, d));
  return d;
}

absl::StatusOr<Timestamp> CheckTimestamp(const boost::json::value& v, const FieldPath& path) {
  if (!v.is_string()) return WrongKind(path, "an RFC 3339 timestamp string", v);
  auto ts = ParseRfc3339(v.get_string());
  if (!ts.ok()) {
    return Error(path, fmt::format("\"{}\" is not an RFC 3339 UTC timestamp ({})", std::string_view(v.get_string()),
                                   Sv(ts.status().message())));
  }
  return *ts;
}

absl::StatusOr<const boost::json::array*> CheckList(const boost::json::value& v, const FieldPath& path) {
  if (!v.is_array()) return WrongKind(path, "a list", v);
  if (v.get_array().empty()) return Error(path, "must not be an empty list (omit the property instead)");
  return &v.get_array();
}

absl::Status CheckStringList(const boost::json::value& v, const FieldPath& path) {
  CONCORD_ASSIGN_OR_RETURN(const boost::json::array* list, CheckList(v, path));
  for (size_t i = 0; i < list->size(); ++i) {
    if (!(*list)[i].is_string()) return WrongKind(path.Index(i), "a string", (*list)[i]);
  }
  return absl::OkStatus();
}

absl::StatusOr<const boost::json::object*> CheckObject(const boost::json::value& v, const FieldPath& path) {
  if (!v.is_object()) return WrongKind(path, "an object", v);
  return &v.get_object();
}

absl::Status CheckIdentifier(const boost::json::value& v, const FieldPath& path, std::string_view allowed) {
  if (!v.is_string()) return WrongKind(path, DescribeAllowed(allowed), v);
  const std::string_view id = v.get_string();
  if (!IsIdentifier(id) || !TypeAllowed(IdentifierType(id), allowed)) {
    return Error(path, fmt::format("must be {}, got \"{}\"", DescribeAllowed(allowed), id));
  }
  return absl::OkStatus();
}

absl::Status CheckIdentifierList(const boost::json::value& v, const FieldPath& path, std::string_view allowed) {
  CONCORD_ASSIGN_OR_RETURN(const boost::json::array* list, CheckList(v, path));
  for (size_t i = 0; i < list->size(); ++i)
    CONCORD_RETURN_IF_ERROR(CheckIdentifier((*list)[i], path.Index(i), allowed));
  return absl::OkStatus();
}

absl::Status CheckHashes(const boost::json::value& v, const FieldPath& path) {
  CONCORD_ASSIGN_OR_RETURN(const boost::json::object* hashes, CheckObject(v, path));
  if (hashes->empty()) return Error(path, "must contain at least one hash");
  for (const auto& [key, value] : *hashes) {
    const FieldPath field = path.Key(key);
    CONCORD_ASSIGN_OR_RETURN(std::string_view digest, CheckString(value, field));
    for (const HashRule& rule : kHashRules) {
      if (rule.name != std::string_view(key)) continue;
      if (digest.size() != rule.hex_digits || !IsHex(digest)) {
        return Error(field,
                     fmt::format("must be {} hex digits for {}, got \"{}\"", rule.hex_digits, rule.name, digest));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckKillChainPhases(const boost::json::value& v, const FieldPath& path) {
  CONCORD_ASSIGN_OR_RETURN(const boost::json::array* list, CheckList(v, path));
  for (size_t i = 0; i < list->size(); ++i) {
    const FieldPath item = path.Index(i);
    CONCORD_ASSIGN_OR_RETURN(const boost::json::object* phase, CheckObject((*list)[i], item));
    for (std::string_view key : {"kill_chain_name", "phase_name"}) {
      const boost::json::value* p = phase->if_contains(key);
      if (p == nullptr) return Missing(item.Key(key));
      CONCORD_RETURN_IF_ERROR(CheckString(*p, item.Key(key)).status());
    }
  }
  return absl::OkStatus();
}

}  // namespace concord::stix::detail
