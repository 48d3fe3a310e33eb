// concord/common/json.h — JSON at the edges: bounded parsing of untrusted bytes, RFC 8785 canonical form,
// content digests. Boost.JSON is the in-memory model (it keeps member order, so content round-trips).
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "boost/json/value.hpp"

namespace concord {

struct JsonLimits {
  size_t max_depth = 64;  // nesting of objects and arrays
};

// Parses one JSON text. Errors carry the byte offset and Boost.JSON's reason; library exceptions never
// escape. A member name given twice keeps its last value, as ECMAScript's JSON.parse does.
absl::StatusOr<boost::json::value> ParseJson(std::string_view text, const JsonLimits& limits = {});

// RFC 8785 JSON Canonicalization Scheme: members sorted by UTF-16 code units, no whitespace, minimal
// string escapes, numbers in ECMAScript's shortest form.
std::string CanonicalJson(const boost::json::value& value);
// Appends `s` as a JSON string in CanonicalJson's form (quotes included; quote, backslash and the control
// characters escaped, with the short forms where JSON has them; everything else as is), for callers that
// write canonical JSON without building a document (the audit entry's hash input).
void AppendCanonicalJsonString(std::string& out, std::string_view s);

// Indented JSON for people (two spaces, member order kept). Compact output: boost::json::serialize.
std::string PrettyJson(const boost::json::value& value);

// Lower-case hex SHA-256 of arbitrary bytes.
std::string Sha256Hex(std::string_view bytes);

// Short human label of a JSON kind ("object", "string", …) for error messages.
std::string_view JsonKindName(const boost::json::value& value);

}  // namespace concord
