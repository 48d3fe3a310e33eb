// concord/taxii/resources.h — TAXII 2.1 resources as response bodies, and the responses around them.
//
// Render* build JSON text with Boost.JSON, member order as in the specification's tables; optional members
// that are empty are left out, as §2.1 forbids empty lists. The envelope and the versions/manifest pages
// take store::StoredObject: object JSON is spliced into the envelope text as stored, never re-parsed.
// Timestamps TAXII itself writes (date_added, request_timestamp, X-TAXII-Date-Added-*) have microsecond
// precision: §2.1 "timestamp" requires it. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "boost/json/object.hpp"
#include "common/time.h"
#include "http/message.h"
#include "store/store.h"
#include "taxii/collection.h"

namespace concord::taxii {

// §4.1.1
struct Discovery {
  std::string title;
  std::string description;
  std::string contact;
  std::string default_root;            // URL of the default API root; "" when none
  std::vector<std::string> api_roots;  // URLs
};
std::string RenderDiscovery(const Discovery& discovery);

// §4.2.1
struct ApiRoot {
  std::string title;
  std::string description;
  int64_t max_content_length = 64 * 1024 * 1024;  // the server's body limit, in bytes
};
std::string RenderApiRoot(const ApiRoot& root);

// §5.2.1, with can_read/can_write for this caller. Media types default to STIX 2.1.
boost::json::object CollectionJson(const Collection& collection, const Caller& caller);
std::string RenderCollection(const Collection& collection, const Caller& caller);
// §5.1.1: the collections the caller may read or write; `{}` when none.
std::string RenderCollections(std::span<const Collection> collections, const Caller& caller);

// What follows a page: `more` and, when more, the `next` cursor.
struct PageInfo {
  bool more = false;
  std::string next;  // "" when !more
};

// §3.7 envelope: {"more":…,"next":…,"objects":[…]}; objects left out when the page is empty.
std::string RenderEnvelope(std::span<const store::StoredObject> objects, const PageInfo& page);
// The same from already-serialised objects.
std::string RenderEnvelope(std::span<const std::string> object_json, const PageInfo& page);
// §5.3.1 manifest: {"more":…,"next":…,"objects":[{id, date_added, version, media_type}]}.
std::string RenderManifest(std::span<const store::StoredObject> objects, const PageInfo& page);
// §5.8.1 versions: {"more":…,"next":…,"versions":[…]}.
std::string RenderVersions(std::span<const store::StoredObject> objects, const PageInfo& page);

// §4.3.1 status.
struct StatusDetail {
  std::string id;
  std::string version;
  std::string message;  // "" when none
};
struct StatusResource {
  std::string id;  // identifier of this status (a UUID)
  bool complete = true;  // "complete" or "pending"
  std::optional<Timestamp> request_timestamp;
  std::vector<StatusDetail> successes;
  std::vector<StatusDetail> failures;
  std::vector<StatusDetail> pendings;
  // total_count is the sum of the three lists unless set (a pending request may know more than it lists).
  std::optional<int64_t> total_count;
};
std::string RenderStatus(const StatusResource& status);

// RFC 3339 with microseconds, UTC: "2016-04-06T20:03:00.000000Z" (§2.1 timestamp).
std::string FormatTaxiiTimestamp(const Timestamp& ts);

// X-TAXII-Date-Added-First / -Last (§3.2) from the earliest and latest `added` of the page; nothing
// when the page is empty.
void SetDateAddedHeaders(http::Headers& headers, std::span<const store::StoredObject> objects);

// A response with Content-Type application/taxii+json;version=2.1.
http::Response TaxiiResponse(int status, std::string body);

}  // namespace concord::taxii
