// concord/taxii/filter.h — TAXII 2.1 query parameters (§3.4 Filtering, §3.4.1 match fields, §3.5
// Pagination) and how they become store queries.
//
// ParseFilter turns the query string of a GET objects / manifest / object / versions (or DELETE object)
// request into a TaxiiFilter, or a 400 status naming the parameter. Plan turns a TaxiiFilter into what
// to ask store::Store::List and what to filter afterwards; Collect runs a plan against a store (through
// a callback, so tests and handlers can wrap it) and fills one page. All functions are pure apart from
// the callbacks they are given; thread-safe.
//
// Spec rules and decisions:
//  - `match[<field>]` values are comma-separated lists ORed together; different fields are ANDed; each
//    field MUST NOT occur more than once (§3.4) → a repeated field is 400, as the TAXII 2.1
//    interoperability test 3.13.1.10 expects. `added_after`, `limit` and `next` are single values: repeated
//    is 400 too.
//  - A `match[...]` field other than id, type, version and spec_version, or one the endpoint does not take
//    (match[id] on /objects/{id}/, match[version] on /versions/), is 400: silently ignoring a filter would
//    hand a client more than it asked for (cti-taxii2 issue #22: unknown filters are malformed requests).
//    Other parameters (cache busters) are ignored.
//  - match[version]: `last` (default for objects, manifest and object; §3.4.1: "only the latest"), `first`,
//    `all`, or timestamps; the versions endpoint lists every version and takes no match[version]; DELETE of an
//    object defaults to all versions.
//  - match[spec_version]: "n.m" values. Default: the latest spec_version of each object (§3.4.1). Concord stores
//    STIX 2.1 only, so the default filters nothing; an explicit list keeps versions whose spec_version is in
//    it ("" counts as 2.1).
//  - added_after: an RFC 3339 timestamp; keeps versions whose `added` (server time) is strictly later.
//  - limit: a positive integer; above the server's maximum it is clamped (§3.5: a server MAY return fewer).
//    0, negative or non-numeric is 400.
//  - The version of an object (manifest `version`, match[version]=timestamp) is `modified`, else `created`,
//    else the time it was added (§5.3.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "http/message.h"
#include "store/store.h"

namespace concord::taxii {

// The endpoints that take filters; each takes a different subset (§5.3, §5.4, §5.6, §5.7, §5.8).
enum class Endpoint {
  kObjects,       // GET  {root}/collections/{id}/objects/          id, type, version, spec_version
  kManifest,      // GET  {root}/collections/{id}/manifest/         id, type, version, spec_version
  kObject,        // GET  {root}/collections/{id}/objects/{oid}/    version, spec_version
  kDeleteObject,  // DELETE the same                                version, spec_version (no paging)
  kVersions,      // GET  {root}/collections/{id}/objects/{oid}/versions/   spec_version
};

// Which versions of each id match[version] selects.
struct VersionSelector {
  bool last = false;
  bool first = false;
  bool all = false;
  std::vector<Timestamp> at;  // exact versions

  // Only the current version of each id: the store answers it alone (Query::current_only).
  bool LastOnly() const { return last && !first && !all && at.empty(); }
  friend bool operator==(const VersionSelector&, const VersionSelector&) = default;
};

struct TaxiiFilter {
  std::optional<Timestamp> added_after;
  size_t limit = 0;                      // effective page size: requested, clamped, or the default
  std::optional<std::string> next;       // the opaque cursor as sent (decode with taxii/cursor.h)
  std::vector<std::string> ids;          // match[id]; empty: any
  std::vector<std::string> types;        // match[type]; empty: any
  VersionSelector versions;              // match[version], defaults applied
  std::vector<std::string> spec_versions;  // match[spec_version]; empty: the default (latest)
};

struct FilterOptions {
  size_t default_limit = 1000;  // when the client sends no limit
  size_t max_limit = 10000;     // clamp (store::Query::limit accepts 1..10000)
};

// Parses the query parameters of a request to `endpoint`. Errors are FieldErrors naming the parameter:
// "limit: must be a positive integer, got '0'".
absl::StatusOr<TaxiiFilter> ParseFilter(const http::QueryParams& query, Endpoint endpoint,
                                        const FilterOptions& options = {});

// A canonical text of everything in `filter` that selects objects (not limit, not next), prefixed with
// `scope` (API root, collection, endpoint, object id). Cursors bind to it so that a `next` cannot be
// replayed against another query.
std::string FilterFingerprint(const TaxiiFilter& filter, std::string_view scope);

// The version of a stored object as TAXII shows it: modified, else created, else added (microseconds).
std::string VersionOf(const store::StoredObject& object);

// What to ask the store, and what to filter afterwards.
//  - ids, types → Query::ids, Query::types.
//  - match[version]=last alone → Query::current_only = true; anything else → every version
//    (current_only = false) and, unless `all` is given, KeepVersion decides per version: `last` keeps the
//    current one, timestamps keep the version they name, `first` keeps the oldest version of its id (the
//    caller looks that up: Store::Versions(id).front(), cached per page).
//  - added_after, spec_version → post-filters (the store has no column filter for them).
// Paging stays by seq: after_seq comes from the cursor, and the cursor always records the last seq the
// store returned, including versions the post-filters dropped, so a page never repeats or skips versions
// even when writes land between pages (seq is assigned at commit and only grows).
struct StorePlan {
  store::Query query;
  VersionSelector versions;               // post-filter (when !versions.all && !versions.LastOnly())
  bool filter_versions = false;
  bool needs_first_version = false;       // KeepVersion needs the oldest version of each id
  std::optional<Timestamp> added_after;   // post-filter
  std::vector<std::string> spec_versions; // post-filter when non-empty
  size_t page_size = 0;                   // objects per TAXII page
};

// `after_seq` is the decoded cursor (0 for the first page).
StorePlan Plan(const TaxiiFilter& filter, int64_t after_seq = 0);

// Whether `object` passes the plan's post-filters. `first_version` is the version (VersionOf) of the
// oldest version of object.id; needed only when plan.needs_first_version.
bool KeepVersion(const StorePlan& plan, const store::StoredObject& object,
                 std::optional<std::string_view> first_version = std::nullopt);

// One TAXII page assembled from one or more store pages.
struct CollectedPage {
  std::vector<store::StoredObject> objects;  // at most plan.page_size, in seq order
  int64_t next_after_seq = 0;                // cursor for the following page
  bool more = false;
};

struct CollectCallbacks {
  std::function<absl::StatusOr<store::Page>(const store::Query&)> list;  // Store::List
  // The policy: may the caller see this version? Null: everything is visible.
  std::function<bool(const store::StoredObject&)> visible;
  // VersionOf the oldest version of `id` (Store::Versions(id).front()). Needed when plan.needs_first_version.
  std::function<absl::StatusOr<std::string>(std::string_view id)> first_version;
};

// Reads store pages from plan.query.after_seq on, drops what the post-filters and `visible` refuse, and
// stops when the page is full, the store has no more, or `max_scanned` versions were read (then the page
// may be short or empty with more = true: the client follows `next`). Never splits a store page: when a
// store page overfills the TAXII page, the cursor stops at the last object kept, so nothing is skipped.
absl::StatusOr<CollectedPage> Collect(const StorePlan& plan, const CollectCallbacks& callbacks,
                                      size_t max_scanned = 100000);

}  // namespace concord::taxii
