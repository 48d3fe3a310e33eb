// concord/taxii/collection.h — TAXII collections as Concord configures them, and who may use them.
//
// A Collection is configuration (TOML, then the node): its TAXII identity (§5.2.1), read and write rights
// granted to organisations (identity ids) and roles, and a Selection: which objects belong to it. A Caller
// is the minimum the rights need to know about whoever sends the request; the accounts module fills it from
// the authenticated key. Rights decide whether a caller may use a collection at all; which objects it then
// sees is the selection (is the object in this collection?) and the policy module's answer (may this
// caller see it?), both asked per object. Pure values and functions; thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stix/object.h"
#include "store/store.h"

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

// Which objects a collection holds; every criterion given must hold (AND), and within a list one match is
// enough (OR). An empty selection holds everything. It applies per stored version: on every read path
// (objects, manifest, object by id, versions) a version outside it is absent exactly like one the policy
// hides, and on writes an object outside it is refused.
//  - types: the object's type is one of them.
//  - max_tlp: the object's TLP is at most this level (CLEAR < GREEN < AMBER < AMBER+STRICT < RED). An object
//    without a TLP marking passes: the sharing policy governs it by its distribution alone, and the policy
//    still decides who sees it.
//  - created_by: its created_by_ref is one of these identity ids (objects without one, SCOs, never match).
//  - labels: its `labels` contain at least one of these (exact, case-sensitive, as STIX labels are).
struct Selection {
  std::vector<std::string> types;
  std::optional<stix::Tlp> max_tlp;
  std::vector<std::string> created_by;
  std::vector<std::string> labels;

  bool empty() const { return types.empty() && !max_tlp && created_by.empty() && labels.empty(); }
};

struct Collection {
  std::string id;           // TAXII identifier: a UUID (§2.1 "identifier")
  std::string title;
  std::string description;  // "" when none
  std::string alias;        // "" when none; URL-safe, unique within the API root (§5.2.1)
  std::vector<std::string> media_types;  // default: {kStixMediaType}
  Grant read;
  Grant write;
  Selection selection;
};

bool CanRead(const Collection& collection, const Caller& caller);
// Write also needs a key that is not read-only.
bool CanWrite(const Collection& collection, const Caller& caller);

// Whether a stored version is in the collection's selection. Reads the object's JSON only when the
// selection names labels.
bool Selects(const Selection& selection, const store::StoredObject& object);
// The same for an object about to be written: OK when it is in the selection, otherwise a FieldError naming
// the property that keeps it out (type, object_marking_refs, created_by_ref, labels) and what the collection
// holds, for the per-item failure of Add Objects.
absl::Status CheckSelected(const Selection& selection, const stix::Object& object);

// Configuration checks: id a UUID, title non-empty, alias URL-safe ([A-Za-z0-9._~-]) and not a UUID,
// media types non-empty strings, roles known (admin, org-admin, analyst, duty-officer, read-only, sync, or
// "*"), organisations non-empty, selection types STIX type names, created_by identity ids, labels
// non-empty. Errors name the field ("collections[2].alias: …" when prefixed by the caller).
absl::Status ValidateCollection(const Collection& collection);
// Each collection valid, ids and aliases unique across the API root.
absl::Status ValidateCollections(std::span<const Collection> collections);

// Replaces every organisation named in the rights (read.orgs, write.orgs; "*" stays) by the identity id
// `lookup` gives for it (an id or a name, as configuration may use either). Errors are lookup's, prefixed
// with the field: "read.orgs[1]: …".
absl::Status ResolveOrganisations(Collection& collection,
                                  const std::function<absl::StatusOr<std::string>(std::string_view)>& lookup);

// The collection whose id or alias is `id_or_alias` (ids compare case-insensitively), or nullptr.
const Collection* FindCollection(std::span<const Collection> collections, std::string_view id_or_alias);

}  // namespace concord::taxii
