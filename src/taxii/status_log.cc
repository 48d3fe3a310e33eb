// ParseStatus: the inverse of RenderStatus, for status logs that keep the JSON they served.
#include "taxii/status_log.h"

#include <string>
#include <utility>

#include "boost/json/value.hpp"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"

namespace concord::taxii {
namespace {

absl::StatusOr<std::string> StringMember(const boost::json::object& o, std::string_view key, std::string_view path) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return FieldError(fmt::format("{}{}", path, key), "expected a string");
  return std::string(v->get_string().data(), v->get_string().size());
}

absl::StatusOr<std::vector<StatusDetail>> Details(const boost::json::object& o, std::string_view key) {
  std::vector<StatusDetail> out;
  const auto* v = o.if_contains(key);
  if (v == nullptr) return out;
  if (!v->is_array()) return FieldError(key, "expected an array");
  for (size_t i = 0; i < v->get_array().size(); ++i) {
    const auto& item = v->get_array()[i];
    const std::string path = fmt::format("{}[{}].", key, i);
    if (!item.is_object()) return FieldError(fmt::format("{}[{}]", key, i), "expected an object");
    StatusDetail d;
    CONCORD_ASSIGN_OR_RETURN(d.id, StringMember(item.get_object(), "id", path));
    CONCORD_ASSIGN_OR_RETURN(d.version, StringMember(item.get_object(), "version", path));
    if (item.get_object().contains("message")) {
      CONCORD_ASSIGN_OR_RETURN(d.message, StringMember(item.get_object(), "message", path));
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

absl::StatusOr<StatusResource> ParseStatus(std::string_view json) {
  CONCORD_ASSIGN_OR_RETURN(boost::json::value value, ParseJson(json));
  if (!value.is_object()) return absl::InvalidArgumentError("status: expected a JSON object");
  const boost::json::object& o = value.get_object();
  StatusResource s;
  CONCORD_ASSIGN_OR_RETURN(s.id, StringMember(o, "id", ""));
  CONCORD_ASSIGN_OR_RETURN(std::string state, StringMember(o, "status", ""));
  if (state != "complete" && state != "pending") return FieldError("status", "expected complete or pending");
  s.complete = state == "complete";
  if (o.contains("request_timestamp")) {
    CONCORD_ASSIGN_OR_RETURN(std::string ts, StringMember(o, "request_timestamp", ""));
    auto parsed = ParseRfc3339(ts);
    if (!parsed.ok()) return FieldError("request_timestamp", Sv(parsed.status().message()));
    s.request_timestamp = *parsed;
  }
  CONCORD_ASSIGN_OR_RETURN(s.successes, Details(o, "successes"));
  CONCORD_ASSIGN_OR_RETURN(s.failures, Details(o, "failures"));
  CONCORD_ASSIGN_OR_RETURN(s.pendings, Details(o, "pendings"));
  const auto* total = o.if_contains("total_count");
  if (total == nullptr || !total->is_int64()) return FieldError("total_count", "expected an integer");
  // RenderStatus writes the sum unless told otherwise: keep an explicit count only when it differs.
  const auto sum = static_cast<int64_t>(s.successes.size() + s.failures.size() + s.pendings.size());
  if (total->get_int64() != sum) s.total_count = total->get_int64();
  return s;
}

}  // namespace concord::taxii
