// concord/taxii/collection.h — TAXII collections as Concord configures them, and who may use them.
//
// A Collection is configuration (TOML, then the node): its TAXII identity (§5.2.1) plus read and write
// rights granted to organisations (identity ids) and roles. A Caller is the minimum the rights need to know
// about whoever sends the request; the accounts module fills it from the authenticated key. Rights decide
// whether a caller may use a collection at all; which objects it then sees is the policy module's answer,
// asked per object. Pure values and functions; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace concord::taxii {

struct Caller {
  std::string org_id;  // identity id of the caller's organisation
  std::string role;    // "admin", "org-admin", "analyst", "duty-officer", "read-only", "sync", …
  bool read_only = false;  // the key may not write, whatever the collection grants
};

// Who holds a right: any organisation in `orgs` or any role in `roles`; "*" in either grants everyone
// who is authenticated.
struct Grant {
  std::vector<std::string> orgs;
  std::vector<std::string> roles;
};

struct Collection {
  std::string id;           // TAXII identifier: a UUID (§2.1 "identifier")
  std::string title;
  std::string description;  // "" when none
  std::string alias;        // "" when none; URL-safe, unique within the API root (§5.2.1)
  std::vector<std::string> media_types;  // default: {kStixMediaType}
  Grant read;
  Grant write;
};

bool CanRead(const Collection& collection, const Caller& caller);
// Write also needs a key that is not read-only.
bool CanWrite(const Collection& collection, const Caller& caller);

// Configuration checks: id a UUID, title non-empty, alias URL-safe ([A-Za-z0-9._~-]) and not a UUID,
// media types non-empty strings. Errors name the field ("collections[2].alias: …" when prefixed by the caller).
absl::Status ValidateCollection(const Collection& collection);
// Each collection valid, ids and aliases unique across the API root.
absl::Status ValidateCollections(std::span<const Collection> collections);

// The collection whose id or alias is `id_or_alias` (ids compare case-insensitively), or nullptr.
const Collection* FindCollection(std::span<const Collection> collections, std::string_view id_or_alias);

}  // namespace concord::taxii
