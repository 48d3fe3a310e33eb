#include "stix/detail/types.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <optional>

#include "common/status.h"
#include "common/time.h"
#include "stix/detail/check.h"

namespace concord::stix::detail {
namespace {

using boost::json::object;
using K = ValueKind;

constexpr Property Req(std::string_view name, ValueKind kind, std::string_view ref_types = {}) {
  return {name, kind, true, ref_types};
}
constexpr Property Opt(std::string_view name, ValueKind kind, std::string_view ref_types = {}) {
  return {name, kind, false, ref_types};
}

// ---- Cross-property rules ------------------------------------------------------------------------------

absl::StatusOr<std::optional<Timestamp>> TimestampOf(const object& json, std::string_view key) {
  const boost::json::value* v = json.if_contains(key);
  if (v == nullptr) return std::optional<Timestamp>();
  CONCORD_ASSIGN_OR_RETURN(Timestamp ts, CheckTimestamp(*v, FieldPath::Of(key)));
  return std::optional<Timestamp>(ts);
}

// `later` must be >= `earlier` (or > when `strict`), when both are present.
absl::Status Ordered(const object& json, std::string_view earlier, std::string_view later, bool strict) {
  CONCORD_ASSIGN_OR_RETURN(auto a, TimestampOf(json, earlier));
  CONCORD_ASSIGN_OR_RETURN(auto b, TimestampOf(json, later));
  if (!a || !b) return absl::OkStatus();
  if (strict && !(*b > *a)) {
    return FieldError(later, fmt::format("must be later than {} ({})", earlier, FormatRfc3339(*a)));
  }
  if (!strict && *b < *a) {
    return FieldError(later, fmt::format("must not be earlier than {} ({})", earlier, FormatRfc3339(*a)));
  }
  return absl::OkStatus();
}

absl::Status IntegerRange(const object& json, std::string_view key, int64_t min, int64_t max) {
  const boost::json::value* v = json.if_contains(key);
  if (v == nullptr) return absl::OkStatus();
  return CheckInteger(*v, FieldPath::Of(key), min, max).status();
}

absl::Status NeedsOneOf(const object& json, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    if (json.contains(k)) return absl::OkStatus();
  }
  std::string names;
  for (std::string_view k : keys) names += names.empty() ? std::string(k) : fmt::format(" or {}", k);
  return FieldError(*keys.begin(), fmt::format("is required (at least one of {} must be present)", names));
}

absl::Status Excludes(const object& json, std::string_view present, std::string_view forbidden) {
  if (json.contains(present) && json.contains(forbidden)) {
    return FieldError(forbidden, fmt::format("must not be present together with {}", present));
  }
  return absl::OkStatus();
}

absl::Status SeenOrder(const object& json) { return Ordered(json, "first_seen", "last_seen", false); }

absl::Status IndicatorRules(const object& json) { return Ordered(json, "valid_from", "valid_until", true); }

absl::Status LocationRules(const object& json) {
  // STIX 2.1 §4.11: region, country, or latitude and longitude; each coordinate needs the other, and
  // precision needs both.
  const bool lat = json.contains("latitude");
  const bool lon = json.contains("longitude");
  if (lat != lon)
    return FieldError(lat ? "longitude" : "latitude",
                      fmt::format("is required when {} is present", lat ? "latitude" : "longitude"));
  if (json.contains("precision") && !lat) return FieldError("latitude", "is required when precision is present");
  if (lat) {
    CONCORD_RETURN_IF_ERROR(CheckNumber(json.at("latitude"), FieldPath::Of("latitude"), -90, 90).status());
    CONCORD_RETURN_IF_ERROR(CheckNumber(json.at("longitude"), FieldPath::Of("longitude"), -180, 180).status());
  }
  if (!lat && !json.contains("region") && !json.contains("country")) {
    return FieldError("region", "is required (one of region, country, or latitude and longitude must be present)");
  }
  return absl::OkStatus();
}

absl::Status MalwareRules(const object& json) {
  const boost::json::value* is_family = json.if_contains("is_family");
  if (is_family != nullptr && is_family->is_bool() && is_family->get_bool() && !json.contains("name")) {
    return FieldError("name", "is required when is_family is true");
  }
  return SeenOrder(json);
}

absl::Status MalwareAnalysisRules(const object& json) { return NeedsOneOf(json, {"result", "analysis_sco_refs"}); }

absl::Status ObservedDataRules(const object& json) {
  CONCORD_RETURN_IF_ERROR(IntegerRange(json, "number_observed", 1, 999'999'999));
  CONCORD_RETURN_IF_ERROR(Ordered(json, "first_observed", "last_observed", false));
  // objects is deprecated; exactly one of the two carries the observations.
  CONCORD_RETURN_IF_ERROR(Excludes(json, "object_refs", "objects"));
  return NeedsOneOf(json, {"object_refs", "objects"});
}

absl::Status OpinionRules(const object& json) {
  const std::string_view value = json.at("opinion").get_string();
  for (std::string_view ok : {"strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"}) {
    if (value == ok) return absl::OkStatus();
  }
  return FieldError("opinion", fmt::format("must be one of strongly-disagree, disagree, neutral, agree, "
                                           "strongly-agree, got \"{}\"",
                                           value));
}

// Types a relationship may not point at: it joins SDOs and SCOs (custom ones included), never meta objects.
absl::Status NotMetaRef(const object& json, std::string_view key) {
  const boost::json::value* v = json.if_contains(key);
  if (v == nullptr) return absl::OkStatus();
  const std::string_view type = IdentifierType(v->get_string());
  for (std::string_view bad :
       {"relationship", "sighting", "bundle", "marking-definition", "language-content", "extension-definition"}) {
    if (type == bad) return FieldError(key, fmt::format("must not refer to a {} object", type));
  }
  return absl::OkStatus();
}

absl::Status RelationshipRules(const object& json) {
  const std::string_view rel = json.at("relationship_type").get_string();
  const bool ok = !rel.empty() && std::all_of(rel.begin(), rel.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
  if (!ok) return FieldError("relationship_type", fmt::format("must use only a-z, 0-9 and '-', got \"{}\"", rel));
  CONCORD_RETURN_IF_ERROR(NotMetaRef(json, "source_ref"));
  CONCORD_RETURN_IF_ERROR(NotMetaRef(json, "target_ref"));
  return Ordered(json, "start_time", "stop_time", true);
}

absl::Status SightingRules(const object& json) {
  CONCORD_RETURN_IF_ERROR(IntegerRange(json, "count", 0, 999'999'999));
  CONCORD_RETURN_IF_ERROR(NotMetaRef(json, "sighting_of_ref"));
  return SeenOrder(json);
}

absl::Status ExtensionDefinitionRules(const object& json) {
  const boost::json::array& types = json.at("extension_types").get_array();
  bool toplevel = false;
  for (size_t i = 0; i < types.size(); ++i) {
    const std::string_view t = types[i].get_string();
    if (t != "new-sdo" && t != "new-sco" && t != "new-sro" && t != "property-extension" &&
        t != "toplevel-property-extension") {
      return FieldError(fmt::format("extension_types[{}]", i),
                        fmt::format("must be one of new-sdo, new-sco, new-sro, property-extension, "
                                    "toplevel-property-extension, got \"{}\"",
                                    t));
    }
    toplevel = toplevel || t == "toplevel-property-extension";
  }
  if (json.contains("extension_properties") && !toplevel) {
    return FieldError("extension_properties", "is allowed only when extension_types has toplevel-property-extension");
  }
  return absl::OkStatus();
}

absl::Status LanguageContentRules(const object& json) {
  const std::string_view type = IdentifierType(json.at("object_ref").get_string());
  if (type == "bundle" || type == "language-content") {
    return FieldError("object_ref", fmt::format("must not refer to a {} object", type));
  }
  return absl::OkStatus();
}

absl::Status ArtifactRules(const object& json) {
  CONCORD_RETURN_IF_ERROR(Excludes(json, "payload_bin", "url"));
  CONCORD_RETURN_IF_ERROR(NeedsOneOf(json, {"payload_bin", "url"}));
  if (json.contains("url") && !json.contains("hashes")) return FieldError("hashes", "is required when url is present");
  if (json.contains("decryption_key") && !json.contains("encryption_algorithm")) {
    return FieldError("encryption_algorithm", "is required when decryption_key is present");
  }
  return absl::OkStatus();
}

absl::Status EmailMessageRules(const object& json) {
  const bool multipart = json.at("is_multipart").get_bool();
  return multipart ? Excludes(json, "is_multipart", "body") : Excludes(json, "body", "body_multipart");
}

absl::Status FileRules(const object& json) { return NeedsOneOf(json, {"hashes", "name"}); }

absl::Status NetworkTrafficRules(const object& json) {
  CONCORD_RETURN_IF_ERROR(NeedsOneOf(json, {"src_ref", "dst_ref"}));
  CONCORD_RETURN_IF_ERROR(IntegerRange(json, "src_port", 0, 65535));
  CONCORD_RETURN_IF_ERROR(IntegerRange(json, "dst_port", 0, 65535));
  const boost::json::value* active = json.if_contains("is_active");
  if (active != nullptr && active->get_bool() && json.contains("end")) {
    return FieldError("end", "must not be present when is_active is true");
  }
  return Ordered(json, "start", "end", false);
}

// ---- Property tables ----------------------------------------------------------------------------------

constexpr Property kAttackPattern[] = {Req("name", K::kString), Opt("description", K::kString),
                                       Opt("aliases", K::kStringList), Opt("kill_chain_phases", K::kKillChainPhases)};
constexpr Property kCampaign[] = {Req("name", K::kString),         Opt("description", K::kString),
                                  Opt("aliases", K::kStringList),  Opt("first_seen", K::kTimestamp),
                                  Opt("last_seen", K::kTimestamp), Opt("objective", K::kString)};
constexpr Property kCourseOfAction[] = {Req("name", K::kString), Opt("description", K::kString)};
constexpr Property kGrouping[] = {Opt("name", K::kString), Opt("description", K::kString), Req("context", K::kString),
                                  Req("object_refs", K::kRefList)};
constexpr Property kIdentity[] = {Req("name", K::kString),        Opt("description", K::kString),
                                  Opt("roles", K::kStringList),   Opt("identity_class", K::kString),
                                  Opt("sectors", K::kStringList), Opt("contact_information", K::kString)};
constexpr Property kIncident[] = {Req("name", K::kString), Opt("description", K::kString),
                                  Opt("kill_chain_phases", K::kKillChainPhases)};
constexpr Property kIndicator[] = {
    Opt("name", K::kString),          Opt("description", K::kString),    Opt("indicator_types", K::kStringList),
    Req("pattern", K::kString),       Req("pattern_type", K::kString),   Opt("pattern_version", K::kString),
    Req("valid_from", K::kTimestamp), Opt("valid_until", K::kTimestamp), Opt("kill_chain_phases", K::kKillChainPhases)};
constexpr Property kInfrastructure[] = {Req("name", K::kString),
                                        Opt("description", K::kString),
                                        Opt("infrastructure_types", K::kStringList),
                                        Opt("aliases", K::kStringList),
                                        Opt("kill_chain_phases", K::kKillChainPhases),
                                        Opt("first_seen", K::kTimestamp),
                                        Opt("last_seen", K::kTimestamp)};
constexpr Property kIntrusionSet[] = {Req("name", K::kString),
                                      Opt("description", K::kString),
                                      Opt("aliases", K::kStringList),
                                      Opt("first_seen", K::kTimestamp),
                                      Opt("last_seen", K::kTimestamp),
                                      Opt("goals", K::kStringList),
                                      Opt("resource_level", K::kString),
                                      Opt("primary_motivation", K::kString),
                                      Opt("secondary_motivations", K::kStringList)};
constexpr Property kLocation[] = {
    Opt("name", K::kString),           Opt("description", K::kString),         Opt("latitude", K::kNumber),
    Opt("longitude", K::kNumber),      Opt("precision", K::kNumber),           Opt("region", K::kString),
    Opt("country", K::kString),        Opt("administrative_area", K::kString), Opt("city", K::kString),
    Opt("street_address", K::kString), Opt("postal_code", K::kString)};
constexpr Property kMalware[] = {Opt("name", K::kString),
                                 Opt("description", K::kString),
                                 Opt("malware_types", K::kStringList),
                                 Req("is_family", K::kBool),
                                 Opt("aliases", K::kStringList),
                                 Opt("kill_chain_phases", K::kKillChainPhases),
                                 Opt("first_seen", K::kTimestamp),
                                 Opt("last_seen", K::kTimestamp),
                                 Opt("operating_system_refs", K::kRefList, "software"),
                                 Opt("architecture_execution_envs", K::kStringList),
                                 Opt("implementation_languages", K::kStringList),
                                 Opt("capabilities", K::kStringList),
                                 Opt("sample_refs", K::kRefList, "file|artifact")};
constexpr Property kMalwareAnalysis[] = {Req("product", K::kString),
                                         Opt("version", K::kString),
                                         Opt("host_vm_ref", K::kRef, "software"),
                                         Opt("operating_system_ref", K::kRef, "software"),
                                         Opt("installed_software_refs", K::kRefList, "software"),
                                         Opt("configuration_version", K::kString),
                                         Opt("modules", K::kStringList),
                                         Opt("analysis_engine_version", K::kString),
                                         Opt("analysis_definition_version", K::kString),
                                         Opt("submitted", K::kTimestamp),
                                         Opt("analysis_started", K::kTimestamp),
                                         Opt("analysis_ended", K::kTimestamp),
                                         Opt("result_name", K::kString),
                                         Opt("result", K::kString),
                                         Opt("analysis_sco_refs", K::kRefList),
                                         Opt("sample_ref", K::kRef, "file|network-traffic|artifact")};
constexpr Property kNote[] = {Opt("abstract", K::kString), Req("content", K::kString), Opt("authors", K::kStringList),
                              Req("object_refs", K::kRefList)};
constexpr Property kObservedData[] = {Req("first_observed", K::kTimestamp), Req("last_observed", K::kTimestamp),
                                      Req("number_observed", K::kInteger), Opt("objects", K::kDictionary),
                                      Opt("object_refs", K::kRefList)};
constexpr Property kOpinion[] = {Opt("explanation", K::kString), Opt("authors", K::kStringList),
                                 Req("opinion", K::kString), Req("object_refs", K::kRefList)};
constexpr Property kReport[] = {Req("name", K::kString), Opt("description", K::kString),
                                Opt("report_types", K::kStringList), Req("published", K::kTimestamp),
                                Req("object_refs", K::kRefList)};
constexpr Property kThreatActor[] = {Req("name", K::kString),
                                     Opt("description", K::kString),
                                     Opt("threat_actor_types", K::kStringList),
                                     Opt("aliases", K::kStringList),
                                     Opt("first_seen", K::kTimestamp),
                                     Opt("last_seen", K::kTimestamp),
                                     Opt("roles", K::kStringList),
                                     Opt("goals", K::kStringList),
                                     Opt("sophistication", K::kString),
                                     Opt("resource_level", K::kString),
                                     Opt("primary_motivation", K::kString),
                                     Opt("secondary_motivations", K::kStringList),
                                     Opt("personal_motivations", K::kStringList)};
constexpr Property kTool[] = {Req("name", K::kString),
                              Opt("description", K::kString),
                              Opt("tool_types", K::kStringList),
                              Opt("aliases", K::kStringList),
                              Opt("kill_chain_phases", K::kKillChainPhases),
                              Opt("tool_version", K::kString)};
constexpr Property kVulnerability[] = {Req("name", K::kString), Opt("description", K::kString)};

constexpr Property kRelationship[] = {Req("relationship_type", K::kString), Opt("description", K::kString),
                                      Req("source_ref", K::kRef),           Req("target_ref", K::kRef),
                                      Opt("start_time", K::kTimestamp),     Opt("stop_time", K::kTimestamp)};
constexpr Property kSighting[] = {Opt("description", K::kString),
                                  Opt("first_seen", K::kTimestamp),
                                  Opt("last_seen", K::kTimestamp),
                                  Opt("count", K::kInteger),
                                  Req("sighting_of_ref", K::kRef),
                                  Opt("observed_data_refs", K::kRefList, "observed-data"),
                                  Opt("where_sighted_refs", K::kRefList, "identity|location"),
                                  Opt("summary", K::kBool)};

// marking-definition's forms (TLP 1.0, TLP 2.0, statement) are checked by CheckMarkingDefinition.
constexpr Property kMarkingDefinition[] = {Opt("name", K::kString), Opt("definition_type", K::kString),
                                           Opt("definition", K::kDictionary)};
constexpr Property kLanguageContent[] = {Req("object_ref", K::kRef), Opt("object_modified", K::kTimestamp),
                                         Req("contents", K::kDictionary)};
// STIX 2.1 §7.3: an extension definition always names its creator.
constexpr Property kExtensionDefinition[] = {Req("created_by_ref", K::kRef, "identity"),
                                             Req("name", K::kString),
                                             Opt("description", K::kString),
                                             Req("schema", K::kString),
                                             Req("version", K::kString),
                                             Req("extension_types", K::kStringList),
                                             Opt("extension_properties", K::kStringList)};

constexpr Property kArtifact[] = {
    Opt("mime_type", K::kString), Opt("payload_bin", K::kString),          Opt("url", K::kString),
    Opt("hashes", K::kHashes),    Opt("encryption_algorithm", K::kString), Opt("decryption_key", K::kString)};
constexpr Property kAutonomousSystem[] = {Req("number", K::kNonNegative), Opt("name", K::kString),
                                          Opt("rir", K::kString)};
constexpr Property kDirectory[] = {Req("path", K::kString),     Opt("path_enc", K::kString),
                                   Opt("ctime", K::kTimestamp), Opt("mtime", K::kTimestamp),
                                   Opt("atime", K::kTimestamp), Opt("contains_refs", K::kRefList, "file|directory")};
constexpr Property kDomainName[] = {Req("value", K::kString),
                                    Opt("resolves_to_refs", K::kRefList, "ipv4-addr|ipv6-addr|domain-name")};
constexpr Property kEmailAddr[] = {Req("value", K::kString), Opt("display_name", K::kString),
                                   Opt("belongs_to_ref", K::kRef, "user-account")};
constexpr Property kEmailMessage[] = {Req("is_multipart", K::kBool),
                                      Opt("date", K::kTimestamp),
                                      Opt("content_type", K::kString),
                                      Opt("from_ref", K::kRef, "email-addr"),
                                      Opt("sender_ref", K::kRef, "email-addr"),
                                      Opt("to_refs", K::kRefList, "email-addr"),
                                      Opt("cc_refs", K::kRefList, "email-addr"),
                                      Opt("bcc_refs", K::kRefList, "email-addr"),
                                      Opt("message_id", K::kString),
                                      Opt("subject", K::kString),
                                      Opt("received_lines", K::kStringList),
                                      Opt("additional_header_fields", K::kDictionary),
                                      Opt("body", K::kString),
                                      Opt("body_multipart", K::kObjectList),
                                      Opt("raw_email_ref", K::kRef, "artifact")};
constexpr Property kFile[] = {Opt("hashes", K::kHashes),
                              Opt("size", K::kNonNegative),
                              Opt("name", K::kString),
                              Opt("name_enc", K::kString),
                              Opt("magic_number_hex", K::kString),
                              Opt("mime_type", K::kString),
                              Opt("ctime", K::kTimestamp),
                              Opt("mtime", K::kTimestamp),
                              Opt("atime", K::kTimestamp),
                              Opt("parent_directory_ref", K::kRef, "directory"),
                              Opt("contains_refs", K::kRefList),
                              Opt("content_ref", K::kRef, "artifact")};
constexpr Property kIpAddr[] = {Req("value", K::kString), Opt("resolves_to_refs", K::kRefList, "mac-addr"),
                                Opt("belongs_to_refs", K::kRefList, "autonomous-system")};
constexpr Property kValue[] = {Req("value", K::kString)};
constexpr Property kMutex[] = {Req("name", K::kString)};
constexpr Property kNetworkTraffic[] = {Opt("start", K::kTimestamp),
                                        Opt("end", K::kTimestamp),
                                        Opt("is_active", K::kBool),
                                        Opt("src_ref", K::kRef, "ipv4-addr|ipv6-addr|mac-addr|domain-name"),
                                        Opt("dst_ref", K::kRef, "ipv4-addr|ipv6-addr|mac-addr|domain-name"),
                                        Opt("src_port", K::kInteger),
                                        Opt("dst_port", K::kInteger),
                                        Req("protocols", K::kStringList),
                                        Opt("src_byte_count", K::kNonNegative),
                                        Opt("dst_byte_count", K::kNonNegative),
                                        Opt("src_packets", K::kNonNegative),
                                        Opt("dst_packets", K::kNonNegative),
                                        Opt("ipfix", K::kDictionary),
                                        Opt("src_payload_ref", K::kRef, "artifact"),
                                        Opt("dst_payload_ref", K::kRef, "artifact"),
                                        Opt("encapsulates_refs", K::kRefList, "network-traffic"),
                                        Opt("encapsulated_by_ref", K::kRef, "network-traffic")};
constexpr Property kProcess[] = {Opt("is_hidden", K::kBool),
                                 Opt("pid", K::kInteger),
                                 Opt("created_time", K::kTimestamp),
                                 Opt("cwd", K::kString),
                                 Opt("command_line", K::kString),
                                 Opt("environment_variables", K::kDictionary),
                                 Opt("opened_connection_refs", K::kRefList, "network-traffic"),
                                 Opt("creator_user_ref", K::kRef, "user-account"),
                                 Opt("image_ref", K::kRef, "file"),
                                 Opt("parent_ref", K::kRef, "process"),
                                 Opt("child_refs", K::kRefList, "process")};
constexpr Property kSoftware[] = {Req("name", K::kString),   Opt("cpe", K::kString),
                                  Opt("swid", K::kString),   Opt("languages", K::kStringList),
                                  Opt("vendor", K::kString), Opt("version", K::kString)};
constexpr Property kUserAccount[] = {Opt("user_id", K::kString),
                                     Opt("credential", K::kString),
                                     Opt("account_login", K::kString),
                                     Opt("account_type", K::kString),
                                     Opt("display_name", K::kString),
                                     Opt("is_service_account", K::kBool),
                                     Opt("is_privileged", K::kBool),
                                     Opt("can_escalate_privs", K::kBool),
                                     Opt("is_disabled", K::kBool),
                                     Opt("account_created", K::kTimestamp),
                                     Opt("account_expires", K::kTimestamp),
                                     Opt("credential_last_changed", K::kTimestamp),
                                     Opt("account_first_login", K::kTimestamp),
                                     Opt("account_last_login", K::kTimestamp)};
constexpr Property kWindowsRegistryKey[] = {
    Opt("key", K::kString), Opt("values", K::kObjectList), Opt("modified_time", K::kTimestamp),
    Opt("creator_user_ref", K::kRef, "user-account"), Opt("number_of_subkeys", K::kNonNegative)};
constexpr Property kX509Certificate[] = {Opt("is_self_signed", K::kBool),
                                         Opt("hashes", K::kHashes),
                                         Opt("version", K::kString),
                                         Opt("serial_number", K::kString),
                                         Opt("signature_algorithm", K::kString),
                                         Opt("issuer", K::kString),
                                         Opt("validity_not_before", K::kTimestamp),
                                         Opt("validity_not_after", K::kTimestamp),
                                         Opt("subject", K::kString),
                                         Opt("subject_public_key_algorithm", K::kString),
                                         Opt("subject_public_key_modulus", K::kString),
                                         Opt("subject_public_key_exponent", K::kNonNegative),
                                         Opt("x509_v3_extensions", K::kDictionary)};

// STIX 2.1 §6: ID contributing properties of each SCO (process has none: it uses UUIDv4).
constexpr std::string_view kArtifactId[] = {"hashes", "payload_bin"};
constexpr std::string_view kNumberId[] = {"number"};
constexpr std::string_view kPathId[] = {"path"};
constexpr std::string_view kValueId[] = {"value"};
constexpr std::string_view kEmailMessageId[] = {"from_ref", "subject", "body"};
constexpr std::string_view kFileId[] = {"hashes", "name", "extensions", "parent_directory_ref"};
constexpr std::string_view kNameId[] = {"name"};
constexpr std::string_view kNetworkTrafficId[] = {"start",    "end",      "src_ref",   "dst_ref",
                                                  "src_port", "dst_port", "protocols", "extensions"};
constexpr std::string_view kSoftwareId[] = {"name", "cpe", "swid", "vendor", "version"};
constexpr std::string_view kUserAccountId[] = {"account_type", "user_id", "account_login"};
constexpr std::string_view kRegistryKeyId[] = {"key", "values"};
constexpr std::string_view kX509Id[] = {"hashes", "serial_number"};

using OK = ObjectKind;
// Sorted by type name for binary search.
constexpr TypeSpec kTypes[] = {
    {"artifact", OK::kSco, kArtifact, ArtifactRules, kArtifactId},
    {"attack-pattern", OK::kSdo, kAttackPattern},
    {"autonomous-system", OK::kSco, kAutonomousSystem, nullptr, kNumberId},
    {"campaign", OK::kSdo, kCampaign, SeenOrder},
    {"course-of-action", OK::kSdo, kCourseOfAction},
    {"directory", OK::kSco, kDirectory, nullptr, kPathId},
    {"domain-name", OK::kSco, kDomainName, nullptr, kValueId},
    {"email-addr", OK::kSco, kEmailAddr, nullptr, kValueId},
    {"email-message", OK::kSco, kEmailMessage, EmailMessageRules, kEmailMessageId},
    {"extension-definition", OK::kMeta, kExtensionDefinition, ExtensionDefinitionRules},
    {"file", OK::kSco, kFile, FileRules, kFileId},
    {"grouping", OK::kSdo, kGrouping},
    {"identity", OK::kSdo, kIdentity},
    {"incident", OK::kSdo, kIncident},
    {"indicator", OK::kSdo, kIndicator, IndicatorRules},
    {"infrastructure", OK::kSdo, kInfrastructure, SeenOrder},
    {"intrusion-set", OK::kSdo, kIntrusionSet, SeenOrder},
    {"ipv4-addr", OK::kSco, kIpAddr, nullptr, kValueId},
    {"ipv6-addr", OK::kSco, kIpAddr, nullptr, kValueId},
    {"language-content", OK::kMeta, kLanguageContent, LanguageContentRules},
    {"location", OK::kSdo, kLocation, LocationRules},
    {"mac-addr", OK::kSco, kValue, nullptr, kValueId},
    {"malware", OK::kSdo, kMalware, MalwareRules},
    {"malware-analysis", OK::kSdo, kMalwareAnalysis, MalwareAnalysisRules},
    {"marking-definition", OK::kMeta, kMarkingDefinition, CheckMarkingDefinition},
    {"mutex", OK::kSco, kMutex, nullptr, kNameId},
    {"network-traffic", OK::kSco, kNetworkTraffic, NetworkTrafficRules, kNetworkTrafficId},
    {"note", OK::kSdo, kNote},
    {"observed-data", OK::kSdo, kObservedData, ObservedDataRules},
    {"opinion", OK::kSdo, kOpinion, OpinionRules},
    {"process", OK::kSco, kProcess, nullptr, {}, true},
    {"relationship", OK::kSro, kRelationship, RelationshipRules},
    {"report", OK::kSdo, kReport},
    {"sighting", OK::kSro, kSighting, SightingRules},
    {"software", OK::kSco, kSoftware, nullptr, kSoftwareId},
    {"threat-actor", OK::kSdo, kThreatActor, SeenOrder},
    {"tool", OK::kSdo, kTool},
    {"url", OK::kSco, kValue, nullptr, kValueId},
    {"user-account", OK::kSco, kUserAccount, nullptr, kUserAccountId, true},
    {"vulnerability", OK::kSdo, kVulnerability},
    {"windows-registry-key", OK::kSco, kWindowsRegistryKey, nullptr, kRegistryKeyId, true},
    {"x509-certificate", OK::kSco, kX509Certificate, nullptr, kX509Id, true},
};

constexpr bool SortedByType() {
  for (size_t i = 1; i < std::size(kTypes); ++i) {
    if (!(kTypes[i - 1].type < kTypes[i].type)) return false;
  }
  return true;
}
static_assert(SortedByType(), "kTypes must be sorted by type name");

absl::Status CheckValue(const Property& p, const boost::json::value& v, const FieldPath& path) {
  switch (p.kind) {
    case K::kString:
      return CheckString(v, path).status();
    case K::kBool:
      return CheckBool(v, path);
    case K::kInteger:
      return CheckInteger(v, path, INT64_MIN, INT64_MAX).status();
    case K::kNonNegative:
      return CheckInteger(v, path, 0, INT64_MAX).status();
    case K::kNumber:
      if (!v.is_number()) return WrongKind(path, "a number", v);
      return absl::OkStatus();
    case K::kTimestamp:
      return CheckTimestamp(v, path).status();
    case K::kStringList:
      return CheckStringList(v, path);
    case K::kRef:
      return CheckIdentifier(v, path, p.ref_types);
    case K::kRefList:
      return CheckIdentifierList(v, path, p.ref_types);
    case K::kHashes:
      return CheckHashes(v, path);
    case K::kKillChainPhases:
      return CheckKillChainPhases(v, path);
    case K::kDictionary:
      return CheckObject(v, path).status();
    case K::kObjectList: {
      CONCORD_ASSIGN_OR_RETURN(const boost::json::array* list, CheckList(v, path));
      for (size_t i = 0; i < list->size(); ++i)
        CONCORD_RETURN_IF_ERROR(CheckObject((*list)[i], path.Index(i)).status());
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

}  // namespace

const TypeSpec* FindType(std::string_view type) {
  const auto* it = std::lower_bound(std::begin(kTypes), std::end(kTypes), type,
                                    [](const TypeSpec& spec, std::string_view t) { return spec.type < t; });
  return it != std::end(kTypes) && it->type == type ? it : nullptr;
}

absl::Status CheckTypeProperties(const TypeSpec& spec, const object& json) {
  bool any = false;
  for (const Property& p : spec.properties) {
    const boost::json::value* v = json.if_contains(p.name);
    if (v == nullptr) {
      if (p.required) return Missing(FieldPath::Of(p.name));
      continue;
    }
    any = true;
    CONCORD_RETURN_IF_ERROR(CheckValue(p, *v, FieldPath::Of(p.name)));
  }
  if (spec.needs_any_property && !any && !json.contains("extensions")) {
    return FieldError("type", fmt::format("a {} object needs at least one {} property besides the common ones",
                                          spec.type, spec.type));
  }
  return spec.rules != nullptr ? spec.rules(json) : absl::OkStatus();
}

}  // namespace concord::stix::detail
