#include "taxii/collection.h"

#include <algorithm>
#include <set>

#include "boost/json/value.hpp"
#include "common/json.h"
#include "common/status.h"
#include "common/uuid.h"
#include "fmt/format.h"
#include "http/message.h"
#include "store/accounts.h"

namespace concord::taxii {
namespace {

bool Holds(const Grant& grant, const Caller& caller) {
  auto has = [](const std::vector<std::string>& list, std::string_view value) {
    return std::any_of(list.begin(), list.end(), [&](const std::string& g) { return g == "*" || (!value.empty() && g == value); });
  };
  return has(grant.orgs, caller.org_id) || has(grant.roles, caller.role);
}

bool IsUrlSafe(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
  });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// STIX 2.1 §3.1 type names: 3–250 of [a-z0-9-], no leading, trailing or double hyphen.
bool IsStixType(std::string_view t) {
  if (t.size() < 3 || t.size() > 250) return false;
  if (t.front() == '-' || t.back() == '-' || t.find("--") != std::string_view::npos) return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

bool IsIdentityId(std::string_view id) {
  constexpr std::string_view kPrefix = "identity--";
  return id.starts_with(kPrefix) && id.size() == kPrefix.size() + 36 && ParseUuid(id.substr(kPrefix.size())).ok();
}

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// What the selection looks at, from either a stored version or an object being written.
struct Facts {
  std::string_view type;
  stix::Tlp tlp = stix::Tlp::kNone;
  std::string_view created_by_ref;
  const boost::json::value* labels = nullptr;  // the object's `labels` member, when it has one
};

enum class Excluded { kNone, kType, kTlp, kCreatedBy, kLabels };

// The first criterion that keeps the object out. Allocates nothing: it runs for every scanned version.
Excluded Exclusion(const Selection& s, const Facts& f) {
  if (!s.types.empty() && !Contains(s.types, f.type)) return Excluded::kType;
  if (s.max_tlp && static_cast<int>(f.tlp) > static_cast<int>(*s.max_tlp)) return Excluded::kTlp;
  if (!s.created_by.empty() && (f.created_by_ref.empty() || !Contains(s.created_by, f.created_by_ref))) {
    return Excluded::kCreatedBy;
  }
  if (!s.labels.empty()) {
    if (f.labels == nullptr || !f.labels->is_array()) return Excluded::kLabels;
    const auto& have = f.labels->get_array();
    const bool any = std::any_of(have.begin(), have.end(), [&](const boost::json::value& l) {
      return l.is_string() && Contains(s.labels, std::string_view(l.get_string().data(), l.get_string().size()));
    });
    if (!any) return Excluded::kLabels;
  }
  return Excluded::kNone;
}

absl::Status CheckGrant(const Grant& grant, std::string_view prefix) {
  for (size_t i = 0; i < grant.orgs.size(); ++i) {
    if (grant.orgs[i].empty()) return FieldError(fmt::format("{}.orgs[{}]", prefix, i), "empty organisation");
  }
  for (size_t i = 0; i < grant.roles.size(); ++i) {
    const std::string& role = grant.roles[i];
    if (role != "*" && !store::ParseRole(role)) {
      return FieldError(fmt::format("{}.roles[{}]", prefix, i),
                        fmt::format("unknown role '{}' (expected admin, org-admin, analyst, duty-officer, read-only, "
                                    "sync or \"*\")",
                                    role));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSelection(const Selection& s) {
  for (size_t i = 0; i < s.types.size(); ++i) {
    if (!IsStixType(s.types[i])) {
      return FieldError(fmt::format("types[{}]", i), fmt::format("'{}' is not a STIX type name", s.types[i]));
    }
  }
  if (s.max_tlp && *s.max_tlp == stix::Tlp::kNone) return FieldError("max_tlp", "expected clear, green, amber, amber+strict or red");
  for (size_t i = 0; i < s.created_by.size(); ++i) {
    if (!IsIdentityId(s.created_by[i])) {
      return FieldError(fmt::format("created_by[{}]", i),
                        fmt::format("'{}' is not an identity id (identity--UUID)", s.created_by[i]));
    }
  }
  for (size_t i = 0; i < s.labels.size(); ++i) {
    if (s.labels[i].empty()) return FieldError(fmt::format("labels[{}]", i), "empty label");
  }
  return absl::OkStatus();
}

}  // namespace

bool Selects(const Selection& selection, const store::StoredObject& o) {
  if (selection.empty()) return true;
  Facts facts{.type = o.type, .tlp = o.tlp, .created_by_ref = o.created_by_ref};
  boost::json::value parsed;
  if (!selection.labels.empty()) {
    // Labels are not a store column: read them from the stored JSON (which the store wrote, so it parses;
    // if it ever did not, the object is simply not selected).
    auto json = ParseJson(o.json);
    if (json.ok() && json->is_object()) {
      parsed = std::move(*json);
      facts.labels = parsed.get_object().if_contains("labels");
    }
  }
  return Exclusion(selection, facts) == Excluded::kNone;
}

absl::Status CheckSelected(const Selection& s, const stix::Object& o) {
  const Facts facts{.type = o.type, .tlp = o.tlp, .created_by_ref = o.created_by_ref, .labels = o.json.if_contains("labels")};
  switch (Exclusion(s, facts)) {
    case Excluded::kNone: return absl::OkStatus();
    case Excluded::kType:
      return FieldError("type", fmt::format("'{}' is not in this collection (it holds {})", o.type, fmt::join(s.types, ", ")));
    case Excluded::kTlp:
      return FieldError("object_marking_refs",
                        fmt::format("TLP:{} is above this collection's maximum, TLP:{}", stix::TlpName(o.tlp),
                                    stix::TlpName(*s.max_tlp)));
    case Excluded::kCreatedBy:
      return FieldError("created_by_ref", fmt::format("this collection holds objects created by {} only",
                                                      fmt::join(s.created_by, ", ")));
    case Excluded::kLabels:
      return FieldError("labels", fmt::format("this collection holds objects labelled {} only", fmt::join(s.labels, ", ")));
  }
  return absl::OkStatus();
}

absl::Status ResolveOrganisations(Collection& c,
                                  const std::function<absl::StatusOr<std::string>(std::string_view)>& lookup) {
  for (auto [grant, name] : {std::pair{&c.read, "read"}, std::pair{&c.write, "write"}}) {
    for (size_t i = 0; i < grant->orgs.size(); ++i) {
      std::string& org = grant->orgs[i];
      if (org == "*") continue;
      auto id = lookup(org);
      if (!id.ok()) return Annotate(id.status(), fmt::format("{}.orgs[{}]", name, i));
      org = std::move(*id);
    }
  }
  return absl::OkStatus();
}

bool CanRead(const Collection& collection, const Caller& caller) { return Holds(collection.read, caller); }

bool CanWrite(const Collection& collection, const Caller& caller) {
  return !caller.read_only && Holds(collection.write, caller);
}

absl::Status ValidateCollection(const Collection& c) {
  if (!ParseUuid(c.id).ok()) return FieldError("id", fmt::format("not a UUID: '{}'", c.id));
  if (c.title.empty()) return FieldError("title", "required");
  if (!c.alias.empty()) {
    if (!IsUrlSafe(c.alias)) return FieldError("alias", fmt::format("'{}' is not URL-safe ([A-Za-z0-9._~-])", c.alias));
    if (ParseUuid(c.alias).ok()) return FieldError("alias", "must not look like a collection id (a UUID)");
  }
  for (size_t i = 0; i < c.media_types.size(); ++i) {
    if (c.media_types[i].empty()) return FieldError(fmt::format("media_types[{}]", i), "empty");
  }
  CONCORD_RETURN_IF_ERROR(CheckGrant(c.read, "read"));
  CONCORD_RETURN_IF_ERROR(CheckGrant(c.write, "write"));
  return CheckSelection(c.selection);
}

absl::Status ValidateCollections(std::span<const Collection> collections) {
  std::set<std::string> names;
  for (size_t i = 0; i < collections.size(); ++i) {
    const std::string prefix = fmt::format("collections[{}]", i);
    if (absl::Status s = ValidateCollection(collections[i]); !s.ok()) {
      return FieldError(fmt::format("{}.{}", prefix, ErrorField(s)), ErrorReason(s));
    }
    if (!names.insert(Lower(collections[i].id)).second) return FieldError(prefix + ".id", "duplicate");
    if (!collections[i].alias.empty() && !names.insert(collections[i].alias).second) {
      return FieldError(prefix + ".alias", "duplicate");
    }
  }
  return absl::OkStatus();
}

const Collection* FindCollection(std::span<const Collection> collections, std::string_view id_or_alias) {
  for (const Collection& c : collections) {
    if (http::EqualsIgnoreCase(c.id, id_or_alias) || (!c.alias.empty() && c.alias == id_or_alias)) return &c;
  }
  return nullptr;
}

}  // namespace concord::taxii
