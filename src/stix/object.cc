#include "stix/object.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "boost/json/serialize.hpp"
#include "common/status.h"
#include "stix/detail/check.h"
#include "stix/detail/types.h"

namespace concord::stix {
namespace {

using boost::json::object;
using boost::json::value;
using detail::FieldPath;

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// CVE-YYYY-NNNN…: four digits, or five and more without a leading zero (MITRE's CVE ID syntax, as the
// OASIS schema has it).
bool IsCveId(std::string_view s) {
  if (s.size() < 13 || s.substr(0, 4) != "CVE-" || !IsDigits(s.substr(4, 4)) || s[8] != '-') return false;
  const std::string_view seq = s.substr(9);
  return IsDigits(seq) && (seq.size() == 4 || seq[0] != '0');
}

bool IsCapecId(std::string_view s) { return s.size() > 6 && s.substr(0, 6) == "CAPEC-" && IsDigits(s.substr(6)); }

absl::Status CheckExternalReferences(const value& v, const FieldPath& path) {
  CONCORD_ASSIGN_OR_RETURN(const boost::json::array* list, detail::CheckList(v, path));
  for (size_t i = 0; i < list->size(); ++i) {
    const FieldPath item = path.Index(i);
    CONCORD_ASSIGN_OR_RETURN(const object* ref, detail::CheckObject((*list)[i], item));
    const value* source = ref->if_contains("source_name");
    if (source == nullptr) return detail::Missing(item.Key("source_name"));
    CONCORD_ASSIGN_OR_RETURN(std::string_view source_name, detail::CheckString(*source, item.Key("source_name")));
    bool has_detail = false;
    for (std::string_view key : {"description", "url", "external_id"}) {
      if (const value* p = ref->if_contains(key)) {
        CONCORD_RETURN_IF_ERROR(detail::CheckString(*p, item.Key(key)).status());
        has_detail = true;
      }
    }
    if (!has_detail) return detail::Error(item, "needs at least one of description, url or external_id");
    if (const value* hashes = ref->if_contains("hashes")) {
      CONCORD_RETURN_IF_ERROR(detail::CheckHashes(*hashes, item.Key("hashes")));
    }
    // STIX 2.1 §2.5: the cve and capec sources carry their ids in a fixed form.
    if (source_name == "cve" || source_name == "capec") {
      const value* ext_id = ref->if_contains("external_id");
      const FieldPath field = item.Key("external_id");
      if (ext_id == nullptr)
        return detail::Error(field, fmt::format("is required when source_name is \"{}\"", source_name));
      const std::string_view id = ext_id->get_string();
      const bool cve = source_name == "cve";
      if (cve ? !IsCveId(id) : !IsCapecId(id)) {
        return detail::Error(field,
                             fmt::format("must look like {}, got \"{}\"", cve ? "CVE-2021-44228" : "CAPEC-163", id));
      }
    }
  }
  return absl::OkStatus();
}

// STIX 2.1 §7.2.3.1 selectors: "description", "external_references.[0].url", "kill_chain_phases.[1]".
bool SelectorResolves(const object& json, std::string_view selector) {
  const value* current = nullptr;
  bool first = true;
  while (true) {
    const size_t dot = selector.find('.');
    const std::string_view step = selector.substr(0, dot);
    if (step.size() >= 3 && step.front() == '[' && step.back() == ']' && IsDigits(step.substr(1, step.size() - 2))) {
      if (first || !current->is_array()) return false;
      const std::string_view digits = step.substr(1, step.size() - 2);
      if (digits.size() > 9) return false;
      size_t index = 0;
      for (char c : digits) index = index * 10 + static_cast<size_t>(c - '0');
      if (index >= current->get_array().size()) return false;
      current = &current->get_array()[index];
    } else {
      if (step.empty()) return false;
      const object* scope = first ? &json : (current->is_object() ? &current->get_object() : nullptr);
      if (scope == nullptr) return false;
      current = scope->if_contains(step);
      if (current == nullptr) return false;
    }
    first = false;
    if (dot == std::string_view::npos) return true;
    selector.remove_prefix(dot + 1);
  }
}

absl::Status CheckGranularMarkings(const object& json, const value& v, const FieldPath& path) {
  CONCORD_ASSIGN_OR_RETURN(const boost::json::array* list, detail::CheckList(v, path));
  for (size_t i = 0; i < list->size(); ++i) {
    const FieldPath item = path.Index(i);
    CONCORD_ASSIGN_OR_RETURN(const object* marking, detail::CheckObject((*list)[i], item));
    const value* ref = marking->if_contains("marking_ref");
    const value* lang = marking->if_contains("lang");
    // STIX 2.1 §7.2.3: a granular marking is either a marking_ref or a lang, never both.
    if (ref == nullptr && lang == nullptr) return detail::Error(item, "needs marking_ref or lang");
    if (ref != nullptr && lang != nullptr)
      return detail::Error(item.Key("lang"), "must not be present together with marking_ref");
    if (ref != nullptr)
      CONCORD_RETURN_IF_ERROR(detail::CheckIdentifier(*ref, item.Key("marking_ref"), "marking-definition"));
    if (lang != nullptr) CONCORD_RETURN_IF_ERROR(detail::CheckString(*lang, item.Key("lang")).status());
    const value* selectors = marking->if_contains("selectors");
    const FieldPath sel_path = item.Key("selectors");
    if (selectors == nullptr) return detail::Missing(sel_path);
    CONCORD_RETURN_IF_ERROR(detail::CheckStringList(*selectors, sel_path));
    const boost::json::array& sels = selectors->get_array();
    for (size_t s = 0; s < sels.size(); ++s) {
      const std::string_view selector = sels[s].get_string();
      if (!SelectorResolves(json, selector)) {
        return detail::Error(sel_path.Index(s),
                             fmt::format("\"{}\" does not select anything in this object", selector));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ExtractPolicy(const object& body, const FieldPath& path, Object& out) {
  if (const value* d = body.if_contains("distribution")) {
    CONCORD_ASSIGN_OR_RETURN(int64_t distribution, detail::CheckInteger(*d, path.Key("distribution"), 0, 4));
    out.distribution = static_cast<int>(distribution);
  }
  if (const value* g = body.if_contains("sharing_group_ref")) {
    CONCORD_RETURN_IF_ERROR(detail::CheckIdentifier(*g, path.Key("sharing_group_ref"), ""));
    out.sharing_group_ref = g->get_string();
  }
  if (out.distribution == 4 && out.sharing_group_ref.empty()) {
    return detail::Error(path.Key("sharing_group_ref"), "is required when distribution is 4 (sharing group)");
  }
  if (const value* c = body.if_contains("communities")) {
    const FieldPath field = path.Key("communities");
    CONCORD_RETURN_IF_ERROR(detail::CheckStringList(*c, field));
    const boost::json::array& list = c->get_array();
    out.communities.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i].get_string().empty()) return detail::Error(field.Index(i), "must not be empty");
      out.communities.emplace_back(list[i].get_string());
    }
  }
  return absl::OkStatus();
}

constexpr std::string_view kExtensionTypes[] = {"new-sdo", "new-sco", "new-sro", "property-extension",
                                                "toplevel-property-extension"};

// STIX 2.1 §3.2 and §7.3: keys are extension-definition ids, whose entries carry extension_type, or the
// names of predefined SCO extensions ("ntfs-ext"; custom "x-…-ext" names are the deprecated 2.0 way).
absl::Status CheckExtensions(const value& v, const FieldPath& path, Object& out) {
  CONCORD_ASSIGN_OR_RETURN(const object* extensions, detail::CheckObject(v, path));
  if (extensions->empty()) return detail::Error(path, "must not be empty (omit the property instead)");
  for (const auto& [name, body] : *extensions) {
    const std::string_view key = name;
    const FieldPath field = path.Key(key);
    CONCORD_ASSIGN_OR_RETURN(const object* entry, detail::CheckObject(body, field));
    if (key.substr(0, 22) == "extension-definition--") {
      if (!detail::IsIdentifier(key)) return detail::Error(field, "is not a valid extension-definition identifier");
      const value* type = entry->if_contains("extension_type");
      if (type == nullptr) return detail::Missing(field.Key("extension_type"));
      CONCORD_ASSIGN_OR_RETURN(std::string_view t, detail::CheckString(*type, field.Key("extension_type")));
      if (std::find(std::begin(kExtensionTypes), std::end(kExtensionTypes), t) == std::end(kExtensionTypes)) {
        return detail::Error(field.Key("extension_type"),
                             fmt::format("must be one of new-sdo, new-sco, new-sro, property-extension, "
                                         "toplevel-property-extension, got \"{}\"",
                                         t));
      }
      if (key == kPolicyExtensionId) CONCORD_RETURN_IF_ERROR(ExtractPolicy(*entry, field, out));
    } else if (key.size() > 4 && key.substr(key.size() - 4) == "-ext" && detail::IsTypeName(key)) {
      if (entry->empty()) return detail::Error(field, "must not be empty");
    } else {
      return detail::Error(field, "must be an extension-definition id or a predefined extension name ending in -ext");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckMarkingRefs(const value& v, const FieldPath& path, Object& out) {
  CONCORD_RETURN_IF_ERROR(detail::CheckIdentifierList(v, path, "marking-definition"));
  // One level per object: with several TLP markings the most restrictive wins.
  for (const value& ref : v.get_array()) {
    if (auto tlp = TlpOfMarking(ref.get_string()); tlp && *tlp > out.tlp) out.tlp = *tlp;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Timestamp>> ReadTimestamp(const object& json, std::string_view key, bool required,
                                                       bool needs_millis) {
  const FieldPath path = FieldPath::Of(key);
  const value* v = json.if_contains(key);
  if (v == nullptr) {
    if (required) return detail::Missing(path);
    return std::optional<Timestamp>();
  }
  CONCORD_ASSIGN_OR_RETURN(Timestamp ts, detail::CheckTimestamp(*v, path));
  if (needs_millis && ts.precision < 3) {
    return detail::Error(
        path, fmt::format("must have at least millisecond precision, got \"{}\"", std::string_view(v->get_string())));
  }
  return std::optional<Timestamp>(ts);
}

// Properties common to all objects (STIX 2.1 §3.2, §3.3, §7.2).
absl::Status CheckCommon(Object& out) {
  const object& json = out.json;
  for (const auto& [name, v] : json) {
    const std::string_view key = name;
    const FieldPath path = FieldPath::Of(key);
    if (key == "created_by_ref") {
      CONCORD_RETURN_IF_ERROR(detail::CheckIdentifier(v, path, "identity"));
      out.created_by_ref = v.get_string();
    } else if (key == "revoked") {
      CONCORD_RETURN_IF_ERROR(detail::CheckBool(v, path));
      out.revoked = v.get_bool();
    } else if (key == "labels") {
      CONCORD_RETURN_IF_ERROR(detail::CheckStringList(v, path));
    } else if (key == "confidence") {
      CONCORD_RETURN_IF_ERROR(detail::CheckInteger(v, path, 0, 100).status());
    } else if (key == "lang") {
      CONCORD_RETURN_IF_ERROR(detail::CheckString(v, path).status());
    } else if (key == "defanged") {
      CONCORD_RETURN_IF_ERROR(detail::CheckBool(v, path));
    } else if (key == "external_references") {
      CONCORD_RETURN_IF_ERROR(CheckExternalReferences(v, path));
    } else if (key == "object_marking_refs") {
      CONCORD_RETURN_IF_ERROR(CheckMarkingRefs(v, path, out));
    } else if (key == "granular_markings") {
      CONCORD_RETURN_IF_ERROR(CheckGranularMarkings(json, v, path));
    } else if (key == "extensions") {
      CONCORD_RETURN_IF_ERROR(CheckExtensions(v, path, out));
    }
  }
  return absl::OkStatus();
}

}  // namespace

ObjectKind KindOfType(std::string_view type) {
  const detail::TypeSpec* spec = detail::FindType(type);
  return spec != nullptr ? spec->kind : ObjectKind::kCustom;
}

absl::StatusOr<Object> ParseObject(boost::json::object json, const ParseOptions& options) {
  Object out;
  out.json = std::move(json);
  const object& j = out.json;

  const value* type = j.if_contains("type");
  if (type == nullptr) return detail::Missing(FieldPath::Of("type"));
  CONCORD_ASSIGN_OR_RETURN(std::string_view type_name, detail::CheckString(*type, FieldPath::Of("type")));
  if (!detail::IsTypeName(type_name)) {
    return FieldError("type", fmt::format("\"{}\" is not a STIX type name (3-250 characters a-z, 0-9 and '-', "
                                          "starting with a letter, no \"--\")",
                                          type_name));
  }
  const detail::TypeSpec* spec = detail::FindType(type_name);
  if (spec == nullptr && !options.allow_unknown_types && type_name.substr(0, 2) != "x-") {
    return FieldError("type", fmt::format("unknown type \"{}\" (custom types must start with \"x-\")", type_name));
  }
  out.type = type_name;
  out.kind = spec != nullptr ? spec->kind : ObjectKind::kCustom;

  const value* id = j.if_contains("id");
  if (id == nullptr) return detail::Missing(FieldPath::Of("id"));
  CONCORD_RETURN_IF_ERROR(detail::CheckIdentifier(*id, FieldPath::Of("id"), ""));
  out.id = id->get_string();
  if (detail::IdentifierType(out.id) != out.type) {
    return FieldError("id", fmt::format("must start with \"{}--\", got \"{}\"", out.type, out.id));
  }

  // SCOs may omit spec_version (STIX 2.1 §3.3); everything else states it. Custom objects follow their
  // shape: an object with `created` is versioned like an SDO.
  const bool versioned = out.kind == ObjectKind::kSdo || out.kind == ObjectKind::kSro ||
                         out.kind == ObjectKind::kMeta || (out.kind == ObjectKind::kCustom && j.contains("created"));
  const value* spec_version = j.if_contains("spec_version");
  if (spec_version == nullptr) {
    if (versioned) return detail::Missing(FieldPath::Of("spec_version"));
  } else {
    CONCORD_ASSIGN_OR_RETURN(std::string_view sv, detail::CheckString(*spec_version, FieldPath::Of("spec_version")));
    if (sv != "2.1") return FieldError("spec_version", fmt::format("must be \"2.1\", got \"{}\"", sv));
  }
  out.spec_version = "2.1";

  if (versioned) {
    const bool standard = out.kind != ObjectKind::kCustom;
    // Marking definitions are not versioned: no `modified` (STIX 2.1 §7.2.1).
    const bool has_modified = type_name != "marking-definition";
    CONCORD_ASSIGN_OR_RETURN(out.created, ReadTimestamp(j, "created", true, standard));
    if (has_modified) {
      CONCORD_ASSIGN_OR_RETURN(out.modified, ReadTimestamp(j, "modified", standard, standard));
    }
    if (out.modified && *out.modified < *out.created) {
      return FieldError("modified", fmt::format("must not be earlier than created ({})", FormatRfc3339(*out.created)));
    }
  }

  CONCORD_RETURN_IF_ERROR(CheckCommon(out));
  if (spec != nullptr) CONCORD_RETURN_IF_ERROR(detail::CheckTypeProperties(*spec, j));
  if (type_name == "indicator") {
    CONCORD_ASSIGN_OR_RETURN(out.valid_from, ReadTimestamp(j, "valid_from", true, false));
    CONCORD_ASSIGN_OR_RETURN(out.valid_until, ReadTimestamp(j, "valid_until", false, false));
  }
  return out;
}

std::string Serialize(const Object& object) { return boost::json::serialize(object.json); }

}  // namespace concord::stix
