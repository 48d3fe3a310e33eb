#include "node/taxii_config.h"

#include <map>
#include <string>
#include <utility>

#include "common/status.h"
#include "fmt/format.h"
#include "stix/object.h"
#include "taxii/handlers.h"

namespace concord::node {
namespace {

absl::Status Unknown(std::string_view key) {
  return absl::InvalidArgumentError(fmt::format("unknown setting '{}'", key));
}

absl::StatusOr<std::string> String(const toml::node& node, std::string_view key) {
  if (auto v = node.value_exact<std::string>()) return *v;
  return FieldError(key, "expected a string");
}

absl::StatusOr<std::vector<std::string>> Strings(const toml::node& node, std::string_view key) {
  const toml::array* array = node.as_array();
  if (array == nullptr) return FieldError(key, "expected a list of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < array->size(); ++i) {
    auto v = (*array)[i].value_exact<std::string>();
    if (!v) return FieldError(fmt::format("{}[{}]", key, i), "expected a string");
    out.push_back(std::move(*v));
  }
  return out;
}

absl::StatusOr<taxii::Grant> ParseGrant(const toml::node& node, std::string_view key) {
  const toml::table* table = node.as_table();
  if (table == nullptr) return FieldError(key, R"(expected a table: { orgs = [...], roles = [...] })");
  taxii::Grant grant;
  for (const auto& [name, value] : *table) {
    const std::string sub = fmt::format("{}.{}", key, name.str());
    if (name.str() == "orgs") {
      CONCORD_ASSIGN_OR_RETURN(grant.orgs, Strings(value, sub));
    } else if (name.str() == "roles") {
      CONCORD_ASSIGN_OR_RETURN(grant.roles, Strings(value, sub));
    } else {
      return Unknown(sub);
    }
  }
  return grant;
}

absl::StatusOr<stix::Tlp> ParseMaxTlp(const toml::node& node, std::string_view key) {
  CONCORD_ASSIGN_OR_RETURN(std::string name, String(node, key));
  auto tlp = stix::ParseTlpName(name);
  if (!tlp || *tlp == stix::Tlp::kNone) {
    return FieldError(key, fmt::format("unknown TLP '{}' (expected clear, green, amber, amber+strict or red)", name));
  }
  return *tlp;
}

// One [[taxii.collections]] table; `prefix` is "taxii.collections[N]".
absl::StatusOr<taxii::Collection> ParseCollection(const toml::node& node, const std::string& prefix) {
  const toml::table* table = node.as_table();
  if (table == nullptr) return FieldError(prefix, "expected a table ([[taxii.collections]])");
  taxii::Collection c;
  bool has_id = false;
  bool has_title = false;
  for (const auto& [name, value] : *table) {
    const std::string_view k = name.str();
    const std::string key = fmt::format("{}.{}", prefix, k);
    if (k == "id") {
      CONCORD_ASSIGN_OR_RETURN(c.id, String(value, key));
      has_id = true;
    } else if (k == "alias") {
      CONCORD_ASSIGN_OR_RETURN(c.alias, String(value, key));
    } else if (k == "title") {
      CONCORD_ASSIGN_OR_RETURN(c.title, String(value, key));
      has_title = true;
    } else if (k == "description") {
      CONCORD_ASSIGN_OR_RETURN(c.description, String(value, key));
    } else if (k == "read") {
      CONCORD_ASSIGN_OR_RETURN(c.read, ParseGrant(value, key));
    } else if (k == "write") {
      CONCORD_ASSIGN_OR_RETURN(c.write, ParseGrant(value, key));
    } else if (k == "types") {
      CONCORD_ASSIGN_OR_RETURN(c.selection.types, Strings(value, key));
    } else if (k == "max_tlp") {
      CONCORD_ASSIGN_OR_RETURN(c.selection.max_tlp, ParseMaxTlp(value, key));
    } else if (k == "created_by") {
      CONCORD_ASSIGN_OR_RETURN(c.selection.created_by, Strings(value, key));
    } else if (k == "labels") {
      CONCORD_ASSIGN_OR_RETURN(c.selection.labels, Strings(value, key));
    } else {
      return Unknown(key);
    }
  }
  if (!has_id) return FieldError(prefix + ".id", "required (a UUID)");
  if (!has_title) return FieldError(prefix + ".title", "required");
  return c;
}

absl::Status ParseCollections(const toml::node& node, std::vector<taxii::Collection>& out) {
  const toml::array* array = node.as_array();
  if (array == nullptr) return FieldError("taxii.collections", "expected tables: [[taxii.collections]]");
  for (size_t i = 0; i < array->size(); ++i) {
    CONCORD_ASSIGN_OR_RETURN(taxii::Collection c, ParseCollection((*array)[i], fmt::format("taxii.collections[{}]", i)));
    out.push_back(std::move(c));
  }
  return absl::OkStatus();
}

absl::Status SetInt(const toml::node& node, std::string_view key, int64_t& out) {
  if (auto v = node.value_exact<int64_t>()) {
    out = *v;
    return absl::OkStatus();
  }
  return FieldError(key, "expected an integer");
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return out;
}

}  // namespace

absl::Status SetTaxiiSetting(std::string_view name, const toml::node& node, TaxiiConfig& taxii) {
  const std::string key = fmt::format("taxii.{}", name);
  if (name == "default_collection") {
    if (auto v = node.value_exact<bool>()) {
      taxii.default_collection = *v;
      return absl::OkStatus();
    }
    return FieldError(key, "expected true or false");
  }
  if (name == "collections") return ParseCollections(node, taxii.collections);
  if (name == "status_keep") return SetInt(node, key, taxii.status_keep);
  if (name == "status_max_age_hours") return SetInt(node, key, taxii.status_max_age_hours);
  return Unknown(key);
}

absl::Status ValidateTaxiiConfig(const TaxiiConfig& taxii) {
  if (taxii.status_keep < 1 || taxii.status_keep > 10'000'000) {
    return FieldError("taxii.status_keep", fmt::format("must be between 1 and 10000000, got {}", taxii.status_keep));
  }
  if (taxii.status_max_age_hours < 1 || taxii.status_max_age_hours > 24 * 366) {
    return FieldError("taxii.status_max_age_hours",
                      fmt::format("must be between 1 and 8784 (a year), got {}", taxii.status_max_age_hours));
  }
  // Where each id and alias was first defined, for the duplicate message.
  std::map<std::string, std::string> ids;
  std::map<std::string, std::string> aliases;
  if (taxii.default_collection) {
    const std::string by = "the default collection (set taxii.default_collection = false to leave it out)";
    ids[Lower(taxii::kDefaultCollectionId)] = by;
    aliases[std::string(taxii::kDefaultCollectionAlias)] = by;
  }
  for (size_t i = 0; i < taxii.collections.size(); ++i) {
    const taxii::Collection& c = taxii.collections[i];
    const std::string prefix = fmt::format("taxii.collections[{}]", i);
    if (absl::Status s = taxii::ValidateCollection(c); !s.ok()) {
      return FieldError(fmt::format("{}.{}", prefix, ErrorField(s)), ErrorReason(s));
    }
    if (c.read.orgs.empty() && c.read.roles.empty() && c.write.orgs.empty() && c.write.roles.empty()) {
      return FieldError(prefix, "grants neither read nor write to anyone; give it read or write");
    }
    if (auto [it, added] = ids.emplace(Lower(c.id), prefix + ".id"); !added) {
      return FieldError(prefix + ".id", fmt::format("'{}' is already the id of {}", c.id, it->second));
    }
    if (!c.alias.empty()) {
      if (auto [it, added] = aliases.emplace(c.alias, prefix + ".alias"); !added) {
        return FieldError(prefix + ".alias", fmt::format("'{}' is already the alias of {}", c.alias, it->second));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<taxii::Collection>> TaxiiCollections(const TaxiiConfig& taxii, const OrgLookup& lookup) {
  CONCORD_RETURN_IF_ERROR(ValidateTaxiiConfig(taxii));
  std::vector<taxii::Collection> out;
  if (taxii.default_collection) out.push_back(taxii::DefaultCollection());
  for (size_t i = 0; i < taxii.collections.size(); ++i) {
    taxii::Collection c = taxii.collections[i];
    absl::Status resolved = taxii::ResolveOrganisations(c, [&](std::string_view org) -> absl::StatusOr<std::string> {
      auto id = lookup(org);
      if (id.ok() || id.status().code() != absl::StatusCode::kNotFound) return id;
      return absl::NotFoundError(fmt::format(
          "no organisation '{}' on this node (create it with concord org add, or name it by its identity id)", org));
    });
    if (!resolved.ok()) {
      return absl::Status(resolved.code(), AbslSv(fmt::format("taxii.collections[{}].{}", i, Sv(resolved.message()))));
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace concord::node
