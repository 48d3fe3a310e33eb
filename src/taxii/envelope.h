// concord/taxii/envelope.h — the body of Add Objects (TAXII 2.1 §5.5): a TAXII envelope (§3.7).
//
// ParseEnvelope checks the shape — a JSON object whose `objects` is a non-empty list of JSON objects —
// within bounded nesting (common/json.h) and an object count, and returns the items for the ingest module
// (ingest::ValidateObject validates each as STIX). Other members (`more`, `next`, custom ones) are ignored.
// Errors name the field: "objects[3]: expected a JSON object, got string". Too many objects is 413.
// Pure and thread-safe.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/value.hpp"

namespace concord::taxii {

struct EnvelopeLimits {
  size_t max_depth = 64;
  size_t max_objects = 100000;
};

absl::StatusOr<std::vector<boost::json::value>> ParseEnvelope(std::string_view body, const EnvelopeLimits& limits = {});

}  // namespace concord::taxii
