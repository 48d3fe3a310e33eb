#include "stix/detail/types.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <optional>

#include <fmt/format.h>

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
  CONCORD_ASSIGN_OR_RETURN(Timestamp ts, CheckTimestamp(*v, FieldPath().Key(key)));
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
  return CheckInteger(*v, FieldPath().Key(key), min, max).status();
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
  if (lat != lon) return FieldError(lat ? "longitude" : "latitude", fmt::format("is required when {} is present", lat ? "latitude" : "longitude"));
  if (json.contains("precision") && !lat) return FieldError("latitude", "is required when precision is present");
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
  for (std::string_view bad : {"relationship", "sighting", "bundle", "marking-definition", "language-content",
                               "extension-definition"}) {
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

absl::Status CampaignRules(const object& json) { return SeenOrder(json); }

// ---- Property tables ----------------------------------------------------------------------------------

constexpr Property kAttackPattern[] = {Req("name", K::kString), Opt("description", K::kString),
                                       Opt("aliases", K::kStringList), Opt("kill_chain_phases", K::kKillChainPhases)};
constexpr Property kCampaign[] = {Req("name", K::kString),        Opt("description", K::kString),
                                  Opt("aliases", K::kStringList), Opt("first_seen", K::kTimestamp),
                                  Opt("last_seen", K::kTimestamp), Opt("objective", K::kString)};
constexpr Property kCourseOfAction[] = {Req("name", K::kString), Opt("description", K::kString)};
constexpr Property kGrouping[] = {Opt("name", K::kString), Opt("description", K::kString), Req("context", K::kString),
                                  Req("object_refs", K::kRefList)};
constexpr Property kIdentity[] = {Req("name", K::kString),         Opt("description", K::kString),
                                  Opt("roles", K::kStringList),    Opt("identity_class", K::kString),
                                  Opt("sectors", K::kStringList),  Opt("contact_information", K::kString)};
constexpr Property kIncident[] = {Req("name", K::kString), Opt("description", K::kString),
                                  Opt("kill_chain_phases", K::kKillChainPhases)};
constexpr Property kIndicator[] = {Opt("name", K::kString),           Opt("description", K::kString),
                                   Opt("indicator_types", K::kStringList), Req("pattern", K::kString),
                                   Req("pattern_type", K::kString),    Opt("pattern_version", K::kString),
                                   Req("valid_from", K::kTimestamp),   Opt("valid_until", K::kTimestamp),
                                   Opt("kill_chain_phases", K::kKillChainPhases)};
constexpr Property kInfrastructure[] = {Req("name", K::kString),
                                        Opt("description", K::kString),
                                        Opt("infrastructure_types", K::kStringList),
                                        Opt("aliases", K::kStringList),
                                        Opt("kill_chain_phases", K::kKillChainPhases),
                                        Opt("first_seen", K::kTimestamp),
                                        Opt("last_seen", K::kTimestamp)};
constexpr Property kIntrusionSet[] = {Req("name", K::kString),           Opt("description", K::kString),
                                      Opt("aliases", K::kStringList),    Opt("first_seen", K::kTimestamp),
                                      Opt("last_seen", K::kTimestamp),   Opt("goals", K::kStringList),
                                      Opt("resource_level", K::kString), Opt("primary_motivation", K::kString),
                                      Opt("secondary_motivations", K::kStringList)};
constexpr Property kLocation[] = {Opt("name", K::kString),        Opt("description", K::kString),
                                  Opt("latitude", K::kString),    Opt("longitude", K::kString),
                                  Opt("precision", K::kString),   Opt("region", K::kString),
                                  Opt("country", K::kString),     Opt("administrative_area", K::kString),
                                  Opt("city", K::kString),        Opt("street_address", K::kString),
                                  Opt("postal_code", K::kString)};
