#include "taxii/collection.h"

#include <algorithm>
#include <set>

#include "common/status.h"
#include "common/uuid.h"
#include "fmt/format.h"
#include "http/message.h"

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

}  // namespace

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
  return absl::OkStatus();
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
