// concord/stix/detail/types.h — the property table of every STIX 2.1 type (internal).
//
// One TypeSpec per type defined by STIX 2.1: the type's own properties with their value kinds, whether each is
// required, the cross-property rules the spec states in prose, and the SCO ID contributing properties
// (§6). The tables are constant data; lookups allocate nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "boost/json/object.hpp"
#include "stix/object.h"

namespace concord::stix::detail {

enum class ValueKind : uint8_t {
  kString,
  kBool,
  kInteger,
  kNonNegative,  // integer >= 0
  kNumber,
  kTimestamp,
  kStringList,
  kRef,      // identifier; Property::ref_types restricts its type
  kRefList,  // non-empty list of identifiers
  kHashes,
  kKillChainPhases,
  kDictionary,  // JSON object
  kObjectList,  // non-empty list of JSON objects
};

struct Property {
  std::string_view name;
  ValueKind kind;
  bool required = false;
  std::string_view ref_types = {};  // '|'-separated type names for kRef/kRefList, "" for any
};

struct TypeSpec {
  std::string_view type;
  ObjectKind kind;
  std::span<const Property> properties;
  absl::Status (*rules)(const boost::json::object& json) = nullptr;  // cross-property rules
  std::span<const std::string_view> id_properties = {};              // SCO ID contributing properties
  bool needs_any_property = false;  // SCOs whose properties are all optional but one must be present
};

// nullptr for types STIX 2.1 does not define.
const TypeSpec* FindType(std::string_view type);

// STIX 2.1 §7.2: a marking-definition is a statement, a TLP 1.0 marking (one of the four standard objects)
// or a TLP 2.0 marking (extension-definition--60a3c5c5-…); TLP ids must be the standard ones.
absl::Status CheckMarkingDefinition(const boost::json::object& json);

// Checks the type-specific properties (kinds, required, cross-property rules) of `json`.
absl::Status CheckTypeProperties(const TypeSpec& spec, const boost::json::object& json);

}  // namespace concord::stix::detail
