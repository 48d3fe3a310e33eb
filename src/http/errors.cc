#include "http/errors.h"

#include <charconv>
#include <string>

#include "absl/strings/cord.h"
#include "boost/json.hpp"
#include "common/status.h"

namespace concord::http {
namespace {

constexpr char kHttpStatusPayload[] = "concord/http-status";
constexpr char kRetryAfterPayload[] = "concord/retry-after-ms";

std::optional<long long> IntPayload(const absl::Status& status, const char* url) {
  auto p = status.GetPayload(url);
  if (!p) return std::nullopt;
  const std::string text(*p);
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

void AddRetryAfter(const absl::Status& status, Response& r) {
  if (auto ms = IntPayload(status, kRetryAfterPayload)) {
    const long long seconds = (*ms + 999) / 1000;
    r.headers.Set("Retry-After", std::to_string(seconds < 1 ? 1 : seconds));
  }
}

}  // namespace

int HttpStatusFor(const absl::Status& status) {
  if (auto forced = IntPayload(status, kHttpStatusPayload); forced && *forced >= 400 && *forced <= 599) {
    return static_cast<int>(*forced);
  }
  switch (status.code()) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted: return 409;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

std::string_view StatusCodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return "OK";
    case absl::StatusCode::kCancelled: return "CANCELLED";
    case absl::StatusCode::kUnknown: return "UNKNOWN";
    case absl::StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case absl::StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kNotFound: return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case absl::StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case absl::StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted: return "ABORTED";
    case absl::StatusCode::kOutOfRange: return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented: return "UNIMPLEMENTED";
    case absl::StatusCode::kInternal: return "INTERNAL";
    case absl::StatusCode::kUnavailable: return "UNAVAILABLE";
    case absl::StatusCode::kDataLoss: return "DATA_LOSS";
    case absl::StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

absl::Status WithHttpStatus(absl::Status status, int http_status) {
  status.SetPayload(kHttpStatusPayload, absl::Cord(std::to_string(http_status)));
  return status;
}

absl::Status BodyTooLargeError(std::string_view message) {
  return WithHttpStatus(absl::ResourceExhaustedError(AbslSv(message)), 413);
}

absl::Status RateLimitedError(std::string_view message, std::chrono::milliseconds retry_after) {
  absl::Status s = absl::ResourceExhaustedError(AbslSv(message));
  s.SetPayload(kRetryAfterPayload, absl::Cord(std::to_string(retry_after.count())));
  return s;
}

Response JsonErrorResponse(const absl::Status& status) {
  boost::json::object error;
  error["code"] = StatusCodeName(status.code());
  error["message"] = Sv(status.message());
  if (std::string field = ErrorField(status); !field.empty()) error["field"] = field;
  boost::json::object root;
  root["error"] = std::move(error);
  Response r = Response::Json(HttpStatusFor(status), boost::json::serialize(root));
  AddRetryAfter(status, r);
  return r;
}

Response TaxiiErrorResponse(const absl::Status& status) {
  const int code = HttpStatusFor(status);
  boost::json::object root;
  root["title"] = StatusCodeName(status.code());
  root["description"] = Sv(status.message());
  // TAXII 2.1 §3.6.1: http_status is a string.
  root["http_status"] = std::to_string(code);
  Response r;
  r.status = code;
  r.headers.Set("Content-Type", "application/taxii+json;version=2.1");
  r.body = boost::json::serialize(root);
  AddRetryAfter(status, r);
  return r;
}

}  // namespace concord::http
