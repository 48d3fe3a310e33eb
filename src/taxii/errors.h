// concord/taxii/errors.h — TAXII 2.1 error messages (§3.6.1).
//
// http::TaxiiErrorResponse renders title, description and http_status from any absl::Status. This header
// adds the optional members of §3.6.1 (error_id, error_code, external_details, details) as a payload on
// the status, so handlers keep returning plain statuses and one renderer, RenderError, produces the body.
// Install it for the TAXII tree:  router.SetErrorRenderer("/taxii2/", taxii::RenderError);
// A FieldError's field (common/status.h) appears as details.field. Pure and thread-safe.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "boost/json/object.hpp"
#include "http/message.h"

namespace concord::taxii {

// The optional members of a TAXII error message; empty strings and an empty `details` are left out.
struct ErrorExtras {
  std::string title;             // replaces the default title (the status code name)
  std::string error_id;          // identifier of this occurrence, e.g. the request id in the access log
  std::string error_code;        // Concord's error code, e.g. "cursor-invalid"
  std::string external_details;  // URL with more information
  boost::json::object details;   // free-form
};

// Attaches `extras` to `status` (a non-OK status; OK is returned unchanged).
absl::Status WithErrorExtras(absl::Status status, const ErrorExtras& extras);

// The complete TAXII error response for `status`: http::TaxiiErrorResponse plus the extras, with
// Content-Type application/taxii+json;version=2.1 and Retry-After where the status carries it.
http::Response RenderError(const absl::Status& status);

}  // namespace concord::taxii
