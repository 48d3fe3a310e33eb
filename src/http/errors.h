// concord/http/errors.h — the one place where absl::Status becomes an HTTP status and an error body.
//
// Mapping (conventions.md "Errors"):
//   InvalidArgument, OutOfRange, FailedPrecondition → 400   Unauthenticated → 401   PermissionDenied → 403
//   NotFound → 404   AlreadyExists, Aborted → 409   ResourceExhausted → 429, or 413 when the status
//   carries the body-too-large payload (BodyTooLargeError)   Unimplemented → 501   Unavailable → 503
//   DeadlineExceeded → 504   Cancelled, Unknown, Internal, DataLoss → 500.
// FailedPrecondition is 400, not 412: RFC 9110 §15.5.13 reserves 412 for failed conditional headers
// (If-Match), which a handler answers explicitly. An explicit HTTP status payload (WithHttpStatus) wins
// over the table, for the few answers the table cannot express (405, 431).
//
// Default body: {"error":{"code":"INVALID_ARGUMENT","message":"…"}}; a FieldError's field is added as
// "field". TAXII routes install TaxiiErrorRenderer instead: {"title":…,"description":…,"http_status":"400"}.
// All functions are pure and thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

#include "absl/status/status.h"
#include "http/message.h"

namespace concord::http {

// Turns a non-OK status into a complete error response.
using ErrorRenderer = std::function<Response(const absl::Status&)>;

int HttpStatusFor(const absl::Status& status);
// "INVALID_ARGUMENT", "NOT_FOUND", … (the canonical upper-case code name).
std::string_view StatusCodeName(absl::StatusCode code);

// ResourceExhausted that maps to 413 Content Too Large.
absl::Status BodyTooLargeError(std::string_view message);
// ResourceExhausted (429) that tells the client when to come back: the response gets Retry-After
// in whole seconds, rounded up.
absl::Status RateLimitedError(std::string_view message, std::chrono::milliseconds retry_after);
// Forces the HTTP status of an error response (405, 431, …) while keeping the status code's semantics.
absl::Status WithHttpStatus(absl::Status status, int http_status);

// The default Concord JSON error shape, with Retry-After when the status carries it.
Response JsonErrorResponse(const absl::Status& status);
// TAXII 2.1 §3.6.1 error message.
Response TaxiiErrorResponse(const absl::Status& status);

}  // namespace concord::http
