// concord/taxii/handlers.h — the TAXII 2.1 server: the routes under /taxii2/, joined to the store, the
// sharing policy and the ingest pipeline.
//
// The protocol layer beside this file (media, filter, cursor, envelope, resources, collection) is pure;
// this is where it meets the node. AddRoutes registers every TAXII 2.1 endpoint on an http::Router and
// installs the TAXII error renderer for /taxii2/. Callers are authenticated by the REST API's
// authenticator (api::ApiContext::authenticate: HTTP Basic with key id and key, or Bearer; per-key rate
// limit), and every object answer is filtered by policy::Visible exactly as the REST API filters it:
// an object the caller may not see is absent from lists and a 404 when asked for by id.
//
// Decisions (TAXII 2.1 leaves them to the server):
//  - Discovery (§4.1) requires authentication, like every other TAXII endpoint: it names the API roots of
//    a closed network's node, and clients send credentials anyway.
//  - One API root, "concord" (/taxii2/concord/), titled with the node's name. Collections come from the
//    configuration ([[taxii.collections]], node/taxii_config.h): each has read and write rights (organisations,
//    roles, "*") and a Selection (types, max_tlp, created_by, labels; taxii/collection.h). Unless the
//    configuration turns it off, the API root also has kDefaultCollectionId (alias "all"): everything the
//    caller may see, readable by every authenticated caller, writable by admin, org-admin, analyst,
//    duty-officer and sync.
//  - What a caller gets from a collection is every stored version that is in its selection and that the
//    sharing policy lets the caller see, on every read path (objects, manifest, object by id, versions). A
//    version outside the selection is absent exactly like one the policy hides: by id it is a 404 with the
//    same body as an unknown id. The selection's types narrow the store query; everything else is checked
//    per scanned version, so a page may come back short (or empty with `more`) when max_scanned versions
//    were read, and its `next` resumes after the last version scanned: a sweep neither skips nor repeats.
//  - A collection the caller may neither read nor write is a 404 (its existence does not leak); one it may
//    only write answers 403 to reads, one it may only read 403 to writes.
//  - Add Objects (§5.5) ingests synchronously: the 202 carries a status resource that is already
//    "complete", with one success or failure per envelope item (failures name the field and reason). The
//    REST API's write rule applies (api::AdmitWrite: created_by_ref must be the caller's organisation
//    unless the role is sync; SCOs are exempt), and so does the collection's selection: an item outside it
//    fails with the property that keeps it out ("type: 'malware' is not in this collection …").
//  - Status resources (§4.3) live in the database (taxii/status_log.h), so every process serving it answers
//    for every status and they survive restarts; they are visible only to the organisation that posted, and
//    kept by retention (the newest 10,000, none older than 7 days; configurable). A status that cannot be
//    stored is logged, and the 202 (which carries the whole status) is still sent: the objects are stored.
//  - Delete An Object (§5.7) revokes: nothing is ever lost in Concord, so DELETE stores a new version of
//    the object with `revoked: true` (STIX 2.1 §3.6's way of withdrawing an object) and answers 200. Only
//    the creating organisation (created_by_ref) with a key that may write, on a collection it may write,
//    can do that; an object outside the collection's selection is a 404; revoking a revoked object answers
//    200 again (DELETE is idempotent). match[version] may select all versions (the default) or the last
//    one — both mean the object; single older versions are never removed (400). Unversioned objects (SCOs,
//    marking definitions) cannot be revoked (403).
//  - `next` cursors are HMAC-authenticated with TaxiiContext::cursor_key, the database's key
//    (LoadCursorKey): a cursor stays valid across restarts and in every process serving the database.
//
// Thread-safety: handlers run on the server's worker threads; the context is read-only, and the status log
// is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "api/api.h"
#include "http/router.h"
#include "taxii/collection.h"
#include "taxii/envelope.h"
#include "taxii/filter.h"
#include "taxii/resources.h"
#include "taxii/status_log.h"

namespace concord::taxii {

// The node's API root: /taxii2/concord/.
inline constexpr std::string_view kApiRootName = "concord";
// The collection of a fresh node: everything the caller may see. Fixed, so that clients configured
// against one node keep working after a reinstall.
inline constexpr std::string_view kDefaultCollectionId = "5b32153d-98a1-4c36-a208-1fabb9c60b8a";
inline constexpr std::string_view kDefaultCollectionAlias = "all";

// The default collection: read by everyone authenticated, written by admin, org-admin, analyst,
// duty-officer and sync (not read-only).
Collection DefaultCollection();

// 32 bytes from the CSPRNG (tests; the node reads the database's key with LoadCursorKey).
std::vector<uint8_t> RandomCursorKey();

struct TaxiiContext {
  const api::ApiContext* api = nullptr;  // store, authenticator, policy defaults, sharing groups, clock
  // Discovery (§4.1.1).
  std::string title = "Concord TAXII 2.1";
  std::string description;
  std::string contact;
  std::string scheme = "https";  // for the absolute API root URLs in discovery
  // The API root (§4.2.1).
  std::string root_title;
  std::string root_description;
  int64_t max_content_length = 64ll << 20;  // the server's body limit
  std::vector<Collection> collections = {DefaultCollection()};
  std::vector<uint8_t> cursor_key;  // ≥ 16 bytes
  FilterOptions filter;
  EnvelopeLimits envelope;
  size_t max_scanned = 100000;  // stored versions read per page at most (Collect)
  StatusLog* statuses = nullptr;  // required; outlives the router
};

// Registers the TAXII routes and the TAXII error renderer for /taxii2/. `context` must outlive the
// router; InvalidArgument when the context is incomplete (store, authenticator, status log, cursor key) or
// its collections are invalid.
absl::Status AddRoutes(http::Router& router, TaxiiContext& context);

}  // namespace concord::taxii
