#include "taxii/errors.h"

#include <string>

#include "absl/strings/cord.h"
#include "boost/json.hpp"
#include "common/status.h"
#include "http/errors.h"

namespace concord::taxii {
namespace {
constexpr char kExtrasPayload[] = "concord/taxii-error";
}  // namespace

absl::Status WithErrorExtras(absl::Status status, const ErrorExtras& extras) {
  if (status.ok()) return status;
  boost::json::object o;
  if (!extras.title.empty()) o["title"] = extras.title;
  if (!extras.error_id.empty()) o["error_id"] = extras.error_id;
  if (!extras.error_code.empty()) o["error_code"] = extras.error_code;
  if (!extras.external_details.empty()) o["external_details"] = extras.external_details;
  if (!extras.details.empty()) o["details"] = extras.details;
  status.SetPayload(kExtrasPayload, absl::Cord(AbslSv(boost::json::serialize(o))));
  return status;
}

http::Response RenderError(const absl::Status& status) {
  http::Response r = http::TaxiiErrorResponse(status);
  boost::json::object extras;
  if (auto p = status.GetPayload(kExtrasPayload)) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(std::string(*p), ec);
    if (!ec && v.is_object()) extras = std::move(v.get_object());
  }
  const std::string field = ErrorField(status);
  if (extras.empty() && field.empty()) return r;
  // The body is ours (http::TaxiiErrorResponse): parsing it back cannot fail.
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(r.body, ec);
  if (ec || !body.is_object()) return r;
  boost::json::object& o = body.get_object();
  for (auto& [key, value] : extras) o[key] = value;
  if (!field.empty()) {
    boost::json::value& details = o["details"];
    if (!details.is_object()) details = boost::json::object();
    details.get_object()["field"] = field;
  }
  r.body = boost::json::serialize(o);
  return r;
}

}  // namespace concord::taxii
