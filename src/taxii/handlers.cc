// The TAXII 2.1 endpoints (§4, §5) over the store, the policy and ingest. See handlers.h for decisions.
#include "taxii/handlers.h"

#include <algorithm>
#include <utility>

#include "boost/json/array.hpp"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/status.h"
#include "common/uuid.h"
#include "fmt/format.h"
#include "http/errors.h"
#include "ingest/ingest.h"
#include "policy/policy.h"
#include "spdlog/spdlog.h"
#include "taxii/cursor.h"
#include "taxii/errors.h"
#include "taxii/media.h"

namespace concord::taxii {
namespace {

// Who is calling, in both vocabularies: the REST API's (write rule) and the collection rights'.
struct Call {
  api::Caller caller;
  Caller rights;
  std::shared_ptr<const policy::PolicyContext> groups;  // the sharing groups' snapshot, taken once per request
};

// Every TAXII request: authenticate (401, 429), then content negotiation (406).
absl::StatusOr<Call> Begin(const TaxiiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(api::Caller caller, ctx.api->authenticate(req));
  CONCORD_RETURN_IF_ERROR(CheckAccept(req.headers.Get("Accept")));
  Call call;
  call.rights = Caller{.org_id = caller.org_id, .role = caller.role, .read_only = !caller.MayWrite()};
  call.caller = std::move(caller);
  call.groups = ctx.api->sharing_groups();
  return call;
}

absl::Status CheckRoot(const http::Request& req) {
  if (req.Param("root") != kApiRootName) {
    return absl::NotFoundError(fmt::format("no API root '{}' on this server (try /taxii2/{}/)", req.Param("root"), kApiRootName));
  }
  return absl::OkStatus();
}

absl::Status CollectionNotFound(std::string_view id) {
  return absl::NotFoundError(fmt::format("no collection '{}' in API root {}", id, kApiRootName));
}

// The collection of the request, when the caller holds any right on it (404 otherwise: no leak).
absl::StatusOr<const Collection*> CollectionOf(const TaxiiContext& ctx, const http::Request& req, const Call& call) {
  CONCORD_RETURN_IF_ERROR(CheckRoot(req));
  const Collection* c = FindCollection(ctx.collections, req.Param("id"));
  if (c == nullptr || (!CanRead(*c, call.rights) && !CanWrite(*c, call.rights))) return CollectionNotFound(req.Param("id"));
  return c;
}

absl::StatusOr<const Collection*> ReadableCollection(const TaxiiContext& ctx, const http::Request& req, const Call& call) {
  CONCORD_ASSIGN_OR_RETURN(const Collection* c, CollectionOf(ctx, req, call));
  if (!CanRead(*c, call.rights)) {
    return absl::PermissionDeniedError(fmt::format("you may not read collection {}", c->id));
  }
  return c;
}

absl::StatusOr<const Collection*> WritableCollection(const TaxiiContext& ctx, const http::Request& req, const Call& call) {
  CONCORD_ASSIGN_OR_RETURN(const Collection* c, CollectionOf(ctx, req, call));
  if (!call.caller.MayWrite()) return absl::PermissionDeniedError("this API key may not write");
  if (!CanWrite(*c, call.rights)) {
    return absl::PermissionDeniedError(fmt::format("you may not write to collection {}", c->id));
  }
  return c;
}

bool IsVisible(const TaxiiContext& ctx, const Call& call, const store::StoredObject& o) {
  return policy::Visible(policy::Viewer{call.caller.org_id}, api::PolicyOf(o, ctx.api->defaults), *call.groups).visible;
}

// In the collection and visible to the caller: what every read path of a collection shows.
bool IsShown(const TaxiiContext& ctx, const Call& call, const Collection& c, const store::StoredObject& o) {
  return Selects(c.selection, o) && IsVisible(ctx, call, o);
}

// The store query's types: what the client asked for, narrowed to the collection's types. nullopt when
// the two have nothing in common (the answer is empty without asking the store).
std::optional<std::vector<std::string>> NarrowTypes(const std::vector<std::string>& asked, const Selection& selection) {
  if (selection.types.empty()) return asked;
  if (asked.empty()) return selection.types;
  std::vector<std::string> both;
  for (const std::string& t : asked) {
    if (std::find(selection.types.begin(), selection.types.end(), t) != selection.types.end()) both.push_back(t);
  }
  if (both.empty()) return std::nullopt;
  return both;
}

absl::Status ObjectNotFound(std::string_view id) {
  return absl::NotFoundError(fmt::format("object {} not found", id));
}

// Whether any version of `id` exists in the collection that the caller may see: unknown, outside the
// collection and invisible answer alike.
absl::StatusOr<bool> AnyShownVersion(const TaxiiContext& ctx, const Call& call, const Collection& c, std::string_view id) {
  auto versions = ctx.api->store->Versions(id);
  if (!versions.ok()) {
    if (versions.status().code() == absl::StatusCode::kNotFound) return false;
    return versions.status();
  }
  return std::any_of(versions->begin(), versions->end(), [&](const auto& v) { return IsShown(ctx, call, c, v); });
}

// One page of a filtered, policy-filtered listing, and the `next` that continues it.
struct Listed {
  CollectedPage page;
  PageInfo info;
  bool had_cursor = false;
};

absl::StatusOr<Listed> ListPage(const TaxiiContext& ctx, const Call& call, const http::Request& req, Endpoint endpoint,
                                const Collection& collection, std::string_view object_id) {
  CONCORD_ASSIGN_OR_RETURN(TaxiiFilter filter, ParseFilter(req.query, endpoint, ctx.filter));
  if (!object_id.empty()) filter.ids = {std::string(object_id)};
  // The cursor binds to the endpoint, the collection and (for one object) its id as well as the filters.
  const std::string scope = fmt::format("{}/{}/{}/{}", kApiRootName, collection.id, static_cast<int>(endpoint), object_id);
  const std::string fingerprint = FilterFingerprint(filter, scope);
  int64_t after = 0;
  Listed out;
  if (filter.next) {
    CONCORD_ASSIGN_OR_RETURN(after, DecodeCursor(*filter.next, fingerprint, ctx.cursor_key));
    out.had_cursor = true;
  }
  StorePlan plan = Plan(filter, after);
  std::optional<std::vector<std::string>> types = NarrowTypes(plan.query.types, collection.selection);
  if (!types) return out;  // asked only for types the collection does not hold: an empty last page
  plan.query.types = std::move(*types);
  store::Store* store = ctx.api->store;
  CollectCallbacks callbacks;
  callbacks.list = [store](const store::Query& q) { return store->List(q); };
  callbacks.visible = [&ctx, &call, &collection](const store::StoredObject& o) { return IsShown(ctx, call, collection, o); };
  callbacks.first_version = [store](std::string_view id) -> absl::StatusOr<std::string> {
    CONCORD_ASSIGN_OR_RETURN(std::vector<store::StoredObject> versions, store->Versions(id));
    if (versions.empty()) return absl::NotFoundError(fmt::format("object {} not found", id));
    return VersionOf(versions.front());
  };
  CONCORD_ASSIGN_OR_RETURN(out.page, Collect(plan, callbacks, ctx.max_scanned));
  out.info.more = out.page.more;
  if (out.page.more) out.info.next = EncodeCursor(Cursor{out.page.next_after_seq, fingerprint}, ctx.cursor_key);
  return out;
}

// Content of objects above TLP:CLEAR is a consultation: each needs the justification the node may require
// (refused whole, as the REST GET of one object is) and goes to the audit log; the response is sent once
// the entry is committed (api::AuditedRead).
absl::StatusOr<http::Response> AuditedPage(const TaxiiContext& ctx, const Call& call, const http::Request& req,
                                           const Listed& listed, http::Response response) {
  std::vector<std::string> ids;
  for (const auto& o : listed.page.objects) {
    CONCORD_RETURN_IF_ERROR(api::CheckJustification(*ctx.api, req, o.tlp));
    if (api::IsAuditedRead(o.tlp)) ids.push_back(o.id);
  }
  if (ids.empty()) return response;
  return api::AuditedRead(*ctx.api, call.caller, req, std::move(ids), {{"taxii", true}}, std::move(response));
}

http::Response PageResponse(std::string body, const CollectedPage& page) {
  http::Response r = TaxiiResponse(200, std::move(body));
  SetDateAddedHeaders(r.headers, page.objects);
  return r;
}

// "203.0.113.5:8443", "[::1]:8443", "node.example": characters a Host header may carry; anything else is
// not echoed into a URL.
bool IsSafeHost(std::string_view host) {
  return !host.empty() && host.size() <= 255 && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == ':' || c == '[' || c == ']';
  });
}

// §4.1: GET /taxii2/
absl::StatusOr<http::Response> GetDiscovery(const TaxiiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Call call, Begin(ctx, req));
  (void)call;
  Discovery d{.title = ctx.title, .description = ctx.description, .contact = ctx.contact};
  // API root URLs are absolute when the Host header allows it (clients such as taxii2-client follow them
  // as given), else absolute paths.
  std::string root = fmt::format("/taxii2/{}/", kApiRootName);
  if (auto host = req.headers.Get("Host"); host && IsSafeHost(*host)) root = fmt::format("{}://{}{}", ctx.scheme, *host, root);
  d.default_root = root;
  d.api_roots = {root};
  return TaxiiResponse(200, RenderDiscovery(d));
}

// §4.2: GET /taxii2/{root}/
absl::StatusOr<http::Response> GetApiRoot(const TaxiiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Call call, Begin(ctx, req));
  (void)call;
  CONCORD_RETURN_IF_ERROR(CheckRoot(req));
  return TaxiiResponse(200, RenderApiRoot(ApiRoot{.title = ctx.root_title,
                                                  .description = ctx.root_description,
                                                  .max_content_length = ctx.max_content_length}));
}

// §5.1: GET /taxii2/{root}/collections/
absl::StatusOr<http::Response> GetCollections(const TaxiiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Call call, Begin(ctx, req));
  CONCORD_RETURN_IF_ERROR(CheckRoot(req));
  return TaxiiResponse(200, RenderCollections(ctx.collections, call.rights));
}

// §5.2: GET /taxii2/{root}/collections/{id}/
absl::StatusOr<http::Response> GetCollection(const TaxiiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Call call, Begin(ctx, req));
  CONCORD_ASSIGN_OR_RETURN(const Collection* c, CollectionOf(ctx, req, call));
  return TaxiiResponse(200, RenderCollection(*c, call.rights));
}

// §5.3: GET …/objects/   §5.4: GET …/manifest/
absl::StatusOr<http::Response> GetObjectsOrManifest(const TaxiiContext& ctx, http::Request& req, Endpoint endpoint) {
  CONCORD_ASSIGN_OR_RETURN(Call call, Begin(ctx, req));
  CONCORD_ASSIGN_OR_RETURN(const Collection* c, ReadableCollection(ctx, req, call));
  CONCORD_ASSIGN_OR_RETURN(Listed listed, ListPage(ctx, call, req, endpoint, *c, ""));
  // The manifest names ids and versions only; the objects endpoint hands out content, and is audited.
  if (endpoint == Endpoint::kManifest) return PageResponse(RenderManifest(listed.page.objects, listed.info), listed.page);
  return AuditedPage(ctx, call, req, listed, PageResponse(RenderEnvelope(listed.page.objects, listed.info), listed.page));
}

// §5.6: GET …/objects/{object_id}/   §5.8: GET …/objects/{object_id}/versions/
absl::StatusOr<http::Response> GetObjectOrVersions(const TaxiiContext& ctx, http::Request& req, Endpoint endpoint) {
  CONCORD_ASSIGN_OR_RETURN(Call call, Begin(ctx, req));
  CONCORD_ASSIGN_OR_RETURN(const Collection* c, ReadableCollection(ctx, req, call));
  const std::string id(req.Param("object_id"));
  CONCORD_ASSIGN_OR_RETURN(Listed listed, ListPage(ctx, call, req, endpoint, *c, id));
  // An empty first page: 404 unless the collection shows the caller some version (the filters then
  // excluded it all).
  if (listed.page.objects.empty() && !listed.had_cursor && !listed.page.more) {
    CONCORD_ASSIGN_OR_RETURN(bool any, AnyShownVersion(ctx, call, *c, id));
    if (!any) return ObjectNotFound(id);
  }
  if (endpoint == Endpoint::kVersions) return PageResponse(RenderVersions(listed.page.objects, listed.info), listed.page);
  return AuditedPage(ctx, call, req, listed, PageResponse(RenderEnvelope(listed.page.objects, listed.info), listed.page));
}

// The version a status detail names: the item's modified, else created, else (unversioned objects) the
// stored version's (VersionOf).
std::string ItemVersion(const TaxiiContext& ctx, const boost::json::value* item, std::string_view id, bool stored) {
  if (item != nullptr && item->is_object()) {
    for (const char* key : {"modified", "created"}) {
      if (const auto* v = item->get_object().if_contains(key); v && v->is_string()) return std::string(v->get_string());
    }
  }
  if (stored && !id.empty()) {
    if (auto o = ctx.api->store->Get(id); o.ok()) return VersionOf(*o);
  }
  return "";
}

// §5.5: POST …/objects/
absl::StatusOr<http::Response> PostObjects(TaxiiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Call call, Begin(ctx, req));
  CONCORD_RETURN_IF_ERROR(CheckContentType(req.headers.Get("Content-Type")));
  CONCORD_ASSIGN_OR_RETURN(const Collection* c, WritableCollection(ctx, req, call));
  const Timestamp requested = ctx.api->clock->Now();
  CONCORD_ASSIGN_OR_RETURN(std::vector<boost::json::value> items, ParseEnvelope(req.body, ctx.envelope));
  // Ingest reads a JSON array of objects; item i of the array is item i of the envelope.
  boost::json::array array;
  array.reserve(items.size());
  for (const auto& item : items) array.push_back(item);
  const std::string bytes = boost::json::serialize(array);

  const api::Caller& caller = call.caller;
  ingest::Options options{.batch_size = 1000, .record_items = true};
  options.admit = [&caller, c](const stix::Object& o) {
    CONCORD_RETURN_IF_ERROR(api::AdmitWrite(caller, o));
    return CheckSelected(c->selection, o);
  };
  ingest::Ingestor ingestor(*ctx.api->store, std::move(options));
  absl::Status added = ingestor.AddBytes("envelope", bytes);
  if (!added.ok() && !ingestor.report().file_errors.empty()) {
    return absl::InvalidArgumentError(ingestor.report().file_errors.front().reason);
  }
  CONCORD_RETURN_IF_ERROR(ingestor.Flush());
  auto outcomes = ingestor.report().items;
  std::stable_sort(outcomes.begin(), outcomes.end(), [](const auto& a, const auto& b) { return a.index < b.index; });

  StatusResource status;
  status.id = UuidV4().ToString();
  status.complete = true;
  status.request_timestamp = requested;
  for (const auto& o : outcomes) {
    const boost::json::value* item = o.index < items.size() ? &items[o.index] : nullptr;
    const bool success = o.outcome == "new" || o.outcome == "new_version" || o.outcome == "unchanged";
    StatusDetail d{.id = o.id, .version = ItemVersion(ctx, item, o.id, success), .message = o.outcome};
    if (!success) {
      d.message = o.field.empty() ? fmt::format("{}: {}", o.outcome, o.reason)
                                  : fmt::format("{}: {}: {}", o.outcome, o.field, o.reason);
    }
    (success ? status.successes : status.failures).push_back(std::move(d));
  }
  std::vector<std::string> stored;
  for (const auto& o : outcomes) {
    if (o.outcome == "new" || o.outcome == "new_version") stored.push_back(o.id);
  }
  const auto& t = ingestor.report().totals;
  CONCORD_RETURN_IF_ERROR(api::Audit(*ctx.api, call.caller, req, audit::Action::kWrite, std::move(stored),
                                     t.rejected + t.conflicts > 0 ? "partial" : "ok",
                                     {{"taxii", true}, {"status", status.id}}));
  if (absl::Status kept = ctx.statuses->Put(call.caller.org_id, status); !kept.ok()) {
    // The objects are stored and the 202 carries the whole status; only a later GET of it will 404.
    spdlog::error("taxii: status {} not kept: {}", status.id, Sv(kept.message()));
  }
  return TaxiiResponse(202, RenderStatus(status));
}

// §5.7: DELETE …/objects/{object_id}/ — a revocation (handlers.h).
absl::StatusOr<http::Response> DeleteObject(const TaxiiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Call call, Begin(ctx, req));
  CONCORD_ASSIGN_OR_RETURN(const Collection* c, CollectionOf(ctx, req, call));
  const std::string id(req.Param("object_id"));
  CONCORD_ASSIGN_OR_RETURN(TaxiiFilter filter, ParseFilter(req.query, Endpoint::kDeleteObject, ctx.filter));
  if (!filter.versions.all && !filter.versions.LastOnly()) {
    return FieldError("match[version]",
                      "Concord revokes whole objects and keeps every version: use all (the default) or last");
  }
  store::Store& store = *ctx.api->store;
  auto current = store.Get(id);
  if (!current.ok()) return current.status().code() == absl::StatusCode::kNotFound ? ObjectNotFound(id) : current.status();
  if (!IsShown(ctx, call, *c, *current)) return ObjectNotFound(id);
  if (!call.caller.MayWrite()) return absl::PermissionDeniedError("this API key may not write");
  if (!CanWrite(*c, call.rights)) return absl::PermissionDeniedError(fmt::format("you may not write to collection {}", c->id));
  if (current->created_by_ref.empty() || current->created_by_ref != call.caller.org_id) {
    return absl::PermissionDeniedError("only the creating organisation may delete (revoke) an object");
  }
  if (current->modified.empty()) {
    return absl::PermissionDeniedError(
        fmt::format("{} is not versioned: it cannot be revoked, and Concord deletes nothing", id));
  }
  http::Response done;
  done.status = 200;
  if (current->revoked) return done;
  CONCORD_RETURN_IF_ERROR(api::RevokeVersion(*ctx.api, *current).status());
  CONCORD_RETURN_IF_ERROR(api::Audit(*ctx.api, call.caller, req, audit::Action::kRevoke, {id}, "ok", {{"taxii", true}}));
  return done;
}

// §4.3: GET /taxii2/{root}/status/{status_id}/
absl::StatusOr<http::Response> GetStatus(const TaxiiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Call call, Begin(ctx, req));
  CONCORD_RETURN_IF_ERROR(CheckRoot(req));
  CONCORD_ASSIGN_OR_RETURN(std::optional<StatusResource> status, ctx.statuses->Get(req.Param("status_id"), call.caller.org_id));
  if (!status) {
    return absl::NotFoundError(fmt::format("no status '{}' (statuses of recent requests are kept for a while)",
                                           req.Param("status_id")));
  }
  return TaxiiResponse(200, RenderStatus(*status));
}

}  // namespace

Collection DefaultCollection() {
  Collection c;
  c.id = std::string(kDefaultCollectionId);
  c.title = "Everything you may see";
  c.description =
      "Every object on this node that the sharing policy lets your organisation see; analysts add objects here.";
  c.alias = std::string(kDefaultCollectionAlias);
  c.media_types = {std::string(kStixMediaType)};
  c.read = Grant{.orgs = {}, .roles = {"*"}};
  c.write = Grant{.orgs = {}, .roles = {"admin", "org-admin", "analyst", "duty-officer", "sync"}};
  return c;
}

std::vector<uint8_t> RandomCursorKey() {
  std::vector<uint8_t> key(32);
  SecureRandomBytes(key.data(), key.size());
  return key;
}

absl::Status AddRoutes(http::Router& router, TaxiiContext& ctx) {
  if (ctx.api == nullptr || ctx.api->store == nullptr || !ctx.api->authenticate) {
    return absl::InvalidArgumentError("taxii: the context needs the API context (store and authenticator)");
  }
  if (ctx.statuses == nullptr) return absl::InvalidArgumentError("taxii: the context needs a status log");
  if (ctx.cursor_key.size() < 16) return absl::InvalidArgumentError("taxii: the cursor key needs at least 16 bytes");
  CONCORD_RETURN_IF_ERROR(ValidateCollections(ctx.collections));
  router.SetErrorRenderer("/taxii2/", RenderError);
  TaxiiContext* c = &ctx;
  const std::string objects = "/taxii2/{root}/collections/{id}/objects/";
  const std::string object = objects + "{object_id}/";
  CONCORD_RETURN_IF_ERROR(router.Add("GET", "/taxii2/", [c](http::Request& r) { return GetDiscovery(*c, r); }));
  CONCORD_RETURN_IF_ERROR(router.Add("GET", "/taxii2/{root}/", [c](http::Request& r) { return GetApiRoot(*c, r); }));
  CONCORD_RETURN_IF_ERROR(
      router.Add("GET", "/taxii2/{root}/collections/", [c](http::Request& r) { return GetCollections(*c, r); }));
  CONCORD_RETURN_IF_ERROR(
      router.Add("GET", "/taxii2/{root}/collections/{id}/", [c](http::Request& r) { return GetCollection(*c, r); }));
  CONCORD_RETURN_IF_ERROR(router.Add(
      "GET", objects, [c](http::Request& r) { return GetObjectsOrManifest(*c, r, Endpoint::kObjects); }));
  CONCORD_RETURN_IF_ERROR(router.Add("POST", objects, [c](http::Request& r) { return PostObjects(*c, r); }));
  CONCORD_RETURN_IF_ERROR(router.Add(
      "GET", object, [c](http::Request& r) { return GetObjectOrVersions(*c, r, Endpoint::kObject); }));
  CONCORD_RETURN_IF_ERROR(router.Add("DELETE", object, [c](http::Request& r) { return DeleteObject(*c, r); }));
  CONCORD_RETURN_IF_ERROR(router.Add("GET", object + "versions/", [c](http::Request& r) {
    return GetObjectOrVersions(*c, r, Endpoint::kVersions);
  }));
  CONCORD_RETURN_IF_ERROR(router.Add("GET", "/taxii2/{root}/collections/{id}/manifest/", [c](http::Request& r) {
    return GetObjectsOrManifest(*c, r, Endpoint::kManifest);
  }));
  CONCORD_RETURN_IF_ERROR(
      router.Add("GET", "/taxii2/{root}/status/{status_id}/", [c](http::Request& r) { return GetStatus(*c, r); }));
  return absl::OkStatus();
}

}  // namespace concord::taxii
