// concord/stix/object.h — the STIX 2.1 object model.
//
// An Object is a validated STIX 2.1 object: its JSON exactly as received (member order, unknown and
// x_ properties and custom types untouched) plus the columns that the store and the policy need,
// extracted once at parse time. Objects are values: copy or move them freely; all functions here are
// pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/object.hpp"
#include "boost/json/value.hpp"
#include "common/time.h"

namespace concord::stix {

// One TLP level per object (TLP 1.0 and 2.0 markings map onto the 2.0 levels; TLP 1.0 WHITE → CLEAR).
enum class Tlp { kNone = 0, kClear = 1, kGreen = 2, kAmber = 3, kAmberStrict = 4, kRed = 5 };
std::string_view TlpName(Tlp tlp);  // "none", "clear", "green", "amber", "amber+strict", "red"
std::optional<Tlp> ParseTlpName(std::string_view name);
// The level of a standard TLP 1.0 or 2.0 marking-definition id; nullopt for any other id.
std::optional<Tlp> TlpOfMarking(std::string_view marking_definition_id);
// The standard TLP 2.0 marking-definition id of a level; "" for kNone.
std::string_view TlpMarkingId(Tlp tlp);

// Concord's property extension carrying the sharing policy (design.md, "Sharing policy").
inline constexpr std::string_view kPolicyExtensionId =
    "extension-definition--316340be-3f50-4d51-bfe5-65daffa13801";

enum class ObjectKind { kSdo, kSro, kSco, kMeta, kCustom };  // kMeta: marking-definition, language-content,
                                                             // extension-definition

// The kind of a type name: SDO, SRO, SCO or meta for the types STIX 2.1 defines, kCustom otherwise.
ObjectKind KindOfType(std::string_view type);

struct Object {
  boost::json::object json;  // the object as received
  std::string id;
  std::string type;
  std::string spec_version;  // "2.1" unless the object says otherwise
  ObjectKind kind = ObjectKind::kCustom;
  std::optional<Timestamp> created;   // absent on SCOs
  std::optional<Timestamp> modified;  // absent on SCOs and on marking-definitions (not versioned)
  std::string created_by_ref;
  bool revoked = false;
  std::optional<Timestamp> valid_from;   // indicators
  std::optional<Timestamp> valid_until;  // indicators
  Tlp tlp = Tlp::kNone;                  // from object_marking_refs
  std::optional<int> distribution;       // from the policy extension, 0..4
  std::string sharing_group_ref;         // from the policy extension
  std::vector<std::string> communities;  // from the policy extension

  // The version key: modified, or created when there is no modified; absent for unversioned objects.
  std::optional<Timestamp> VersionTimestamp() const { return modified ? modified : created; }
};

struct ParseOptions {
  // Custom object types (not in STIX 2.1 and not x- prefixed, e.g. "x-mitre-tactic" is x-prefixed) are
  // accepted when they carry the common properties; strict mode rejects unknown types that are not x-.
  bool allow_unknown_types = true;
};

// Validates one STIX 2.1 object and extracts its columns. Errors are FieldErrors (common/status.h):
// the field path ("created", "hashes.SHA-256", "external_references[2].external_id") and the reason.
absl::StatusOr<Object> ParseObject(boost::json::object json, const ParseOptions& options = {});

// Serialises an object's JSON (compact; member order as received).
std::string Serialize(const Object& object);

// STIX 2.1 §2.9 and §6: the deterministic id of an SCO, "type--" + UUIDv5(namespace 00abedb4-…, RFC 8785
// JSON of the type's ID contributing properties). Of `hashes` one entry counts, chosen as the reference
// implementation (cti-python-stix2) does: MD5, then SHA-1, SHA-256, SHA-512, else the first member.
// nullopt when the type has no ID contributing properties (process, custom types) or `sco` carries none of
// them; the producer then uses a UUIDv4. ParseObject accepts SCO ids that differ from this one (producers
// disagree on details); callers that care compare.
std::optional<std::string> ComputeScoId(std::string_view type, const boost::json::object& sco);

}  // namespace concord::stix
