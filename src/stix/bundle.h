// concord/stix/bundle.h — STIX 2.1 bundles (§8): the envelope that carries objects between producers.
//
// A bundle is not stored and has no semantics of its own; importers take its items apart and parse each
// with ParseObject, reporting per item. Pure and thread-safe.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/object.hpp"
#include "boost/json/value.hpp"

namespace concord::stix {

// The items of `document`: the members of a bundle's `objects` (a bundle has type "bundle" and id
// bundle--UUID; `objects` may be absent), or the document itself when it is a single object. Items are
// moved out, not copied, and not judged: an item that is not an object is returned as it is, so that the
// caller rejects that item alone and keeps the others. Errors concern the envelope and are FieldErrors
// ("objects: must be a list, got object").
absl::StatusOr<std::vector<boost::json::value>> BundleItems(boost::json::value document);

}  // namespace concord::stix
