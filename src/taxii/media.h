// concord/taxii/media.h — TAXII 2.1 media types and content negotiation (TAXII 2.1 §1.6.8, RFC 9110 §12.5.1).
//
// Every TAXII 2.1 endpoint answers `application/taxii+json;version=2.1`. A request is acceptable when its
// Accept header admits that type; a POST body is acceptable when its Content-Type names it. Failures are
// absl::Status values that already carry their HTTP status (406, 415) through http::WithHttpStatus, so a
// handler just returns them. All functions are pure and thread-safe.
//
// Decisions (TAXII 2.1 §1.6.8.1 lists `application/taxii+json` without a version as "the latest version
// the server supports", which for Concord is 2.1):
//  - Accept: `*/*`, `application/*`, `application/taxii+json` and `application/taxii+json;version=2.1`
//    admit TAXII 2.1 JSON; any other `version` does not. Type, subtype and parameter names compare
//    case-insensitively, values of `version` exactly ("2.1"), quoted or not; whitespace around `;` and `,`
//    is allowed. The most specific matching range decides (RFC 9110 §12.5.1), so
//    `application/taxii+json;version=2.1;q=0, */*` is 406. A range with q=0 excludes; an unparsable range
//    or q-value is ignored.
//  - A request without Accept admits any type (RFC 9110 §12.5.1), so it is served. TAXII 2.1 says clients
//    MUST send one; being lenient here costs nothing and helps curl users. An empty Accept value admits
//    nothing (406).
//  - Content-Type: `application/taxii+json` with version 2.1 or without a version; other parameters
//    (charset=utf-8) are tolerated. Missing or anything else → 415.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace concord::taxii {

inline constexpr std::string_view kTaxiiMediaType = "application/taxii+json;version=2.1";
inline constexpr std::string_view kStixMediaType = "application/stix+json;version=2.1";
// The value of an API root's `versions` (TAXII 2.1 §4.2.1).
inline constexpr std::string_view kTaxiiVersion = kTaxiiMediaType;

// Whether an Accept header value admits TAXII 2.1 JSON. nullopt: no Accept header.
bool AcceptsTaxii(std::optional<std::string_view> accept);

// OK, or a 406 status naming what was offered and what the server produces.
absl::Status CheckAccept(std::optional<std::string_view> accept);
// OK, or a 415 status naming the Content-Type received.
absl::Status CheckContentType(std::optional<std::string_view> content_type);

// The STIX media type of an object of `spec_version` ("" counts as 2.1): "application/stix+json;version=2.1".
std::string StixMediaTypeFor(std::string_view spec_version);

}  // namespace concord::taxii
