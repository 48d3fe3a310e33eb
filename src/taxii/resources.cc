#include "taxii/resources.h"

#include <algorithm>
#include <utility>

#include "boost/json.hpp"
#include "taxii/filter.h"
#include "taxii/media.h"

namespace concord::taxii {
namespace {

void PutIfNotEmpty(boost::json::object& o, std::string_view key, std::string_view value) {
  if (!value.empty()) o[key] = value;
}

// Appends `"more":…,"next":…` (no braces).
void AppendPageInfo(std::string& out, const PageInfo& page) {
  out += page.more ? "\"more\":true" : "\"more\":false";
  if (page.more && !page.next.empty()) {
    out += ",\"next\":";
    out += boost::json::serialize(boost::json::value(page.next));
  }
}

boost::json::array DetailsJson(const std::vector<StatusDetail>& details) {
  boost::json::array a;
  for (const StatusDetail& d : details) {
    boost::json::object o;
    o["id"] = d.id;
    o["version"] = d.version;
    PutIfNotEmpty(o, "message", d.message);
    a.push_back(std::move(o));
  }
  return a;
}

}  // namespace

std::string FormatTaxiiTimestamp(const Timestamp& ts) { return FormatRfc3339(ts, 6); }

std::string RenderDiscovery(const Discovery& d) {
  boost::json::object o;
  o["title"] = d.title;
  PutIfNotEmpty(o, "description", d.description);
  PutIfNotEmpty(o, "contact", d.contact);
  PutIfNotEmpty(o, "default", d.default_root);
  if (!d.api_roots.empty()) {
    boost::json::array roots;
    for (const std::string& r : d.api_roots) roots.emplace_back(r);
    o["api_roots"] = std::move(roots);
  }
  return boost::json::serialize(o);
}

std::string RenderApiRoot(const ApiRoot& r) {
  boost::json::object o;
  o["title"] = r.title;
  PutIfNotEmpty(o, "description", r.description);
  o["versions"] = boost::json::array{boost::json::string(kTaxiiVersion)};
  o["max_content_length"] = r.max_content_length;
  return boost::json::serialize(o);
}

boost::json::object CollectionJson(const Collection& c, const Caller& caller) {
  boost::json::object o;
  o["id"] = c.id;
  o["title"] = c.title;
  PutIfNotEmpty(o, "description", c.description);
  PutIfNotEmpty(o, "alias", c.alias);
  o["can_read"] = CanRead(c, caller);
  o["can_write"] = CanWrite(c, caller);
  boost::json::array media;
  for (const std::string& m : c.media_types) media.emplace_back(m);
  if (media.empty()) media.emplace_back(kStixMediaType);
  o["media_types"] = std::move(media);
  return o;
}

std::string RenderCollection(const Collection& c, const Caller& caller) {
  return boost::json::serialize(CollectionJson(c, caller));
}

std::string RenderCollections(std::span<const Collection> collections, const Caller& caller) {
  boost::json::array list;
  for (const Collection& c : collections) {
    if (CanRead(c, caller) || CanWrite(c, caller)) list.push_back(CollectionJson(c, caller));
  }
  boost::json::object o;
  if (!list.empty()) o["collections"] = std::move(list);
  return boost::json::serialize(o);
}

std::string RenderEnvelope(std::span<const store::StoredObject> objects, const PageInfo& page) {
  size_t size = 64 + page.next.size();
  for (const auto& o : objects) size += o.json.size() + 1;
  std::string out;
  out.reserve(size);
  out += '{';
  AppendPageInfo(out, page);
  if (!objects.empty()) {
    out += ",\"objects\":[";
    for (size_t i = 0; i < objects.size(); ++i) {
      if (i) out += ',';
      out += objects[i].json;
    }
    out += ']';
  }
  out += '}';
  return out;
}

std::string RenderEnvelope(std::span<const std::string> object_json, const PageInfo& page) {
  std::string out = "{";
  AppendPageInfo(out, page);
  if (!object_json.empty()) {
    out += ",\"objects\":[";
    for (size_t i = 0; i < object_json.size(); ++i) {
      if (i) out += ',';
      out += object_json[i];
    }
    out += ']';
  }
  out += '}';
  return out;
}

std::string RenderManifest(std::span<const store::StoredObject> objects, const PageInfo& page) {
  boost::json::object o;
  o["more"] = page.more;
  if (page.more && !page.next.empty()) o["next"] = page.next;
  if (!objects.empty()) {
    boost::json::array list;
    for (const auto& obj : objects) {
      boost::json::object m;
      m["id"] = obj.id;
      m["date_added"] = FormatTaxiiTimestamp(obj.added);
      m["version"] = VersionOf(obj);
      m["media_type"] = StixMediaTypeFor(obj.spec_version);
      list.push_back(std::move(m));
    }
    o["objects"] = std::move(list);
  }
  return boost::json::serialize(o);
}

std::string RenderVersions(std::span<const store::StoredObject> objects, const PageInfo& page) {
  boost::json::object o;
  o["more"] = page.more;
  if (page.more && !page.next.empty()) o["next"] = page.next;
  if (!objects.empty()) {
    boost::json::array list;
    for (const auto& obj : objects) list.emplace_back(VersionOf(obj));
    o["versions"] = std::move(list);
  }
  return boost::json::serialize(o);
}

std::string RenderStatus(const StatusResource& s) {
  boost::json::object o;
  o["id"] = s.id;
  o["status"] = s.complete ? "complete" : "pending";
  if (s.request_timestamp) o["request_timestamp"] = FormatTaxiiTimestamp(*s.request_timestamp);
  const auto n = [](const std::vector<StatusDetail>& v) { return static_cast<int64_t>(v.size()); };
  o["total_count"] = s.total_count.value_or(n(s.successes) + n(s.failures) + n(s.pendings));
  o["success_count"] = n(s.successes);
  if (!s.successes.empty()) o["successes"] = DetailsJson(s.successes);
  o["failure_count"] = n(s.failures);
  if (!s.failures.empty()) o["failures"] = DetailsJson(s.failures);
  o["pending_count"] = n(s.pendings);
  if (!s.pendings.empty()) o["pendings"] = DetailsJson(s.pendings);
  return boost::json::serialize(o);
}

void SetDateAddedHeaders(http::Headers& headers, std::span<const store::StoredObject> objects) {
  if (objects.empty()) return;
  auto [lo, hi] = std::minmax_element(objects.begin(), objects.end(),
                                      [](const auto& a, const auto& b) { return a.added < b.added; });
  headers.Set("X-TAXII-Date-Added-First", FormatTaxiiTimestamp(lo->added));
  headers.Set("X-TAXII-Date-Added-Last", FormatTaxiiTimestamp(hi->added));
}

http::Response TaxiiResponse(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.headers.Set("Content-Type", std::string(kTaxiiMediaType));
  r.body = std::move(body);
  return r;
}

}  // namespace concord::taxii
