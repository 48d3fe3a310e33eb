// /api/v1/objects: write a bundle, read one object or its versions, list with filters, revoke.
#include <algorithm>
#include <charconv>
#include <set>

#include "api/api.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"
#include "ingest/ingest.h"

namespace concord::api {
namespace {

constexpr size_t kDefaultPage = 100;
constexpr size_t kMaxPage = 1000;
// A list request scans at most this many stored versions per returned page slot before it answers with
// what it has and a cursor: a caller who may see little of a large store still gets bounded latency.
constexpr size_t kScanFactor = 20;

absl::Status NotFound(std::string_view id) { return absl::NotFoundError(fmt::format("object {} not found", id)); }

bool IsVisible(const ApiContext& ctx, const policy::Viewer& viewer, const store::StoredView& object,
               const policy::PolicyContext& groups) {
  return policy::Visible(viewer, PolicyRefOf(object, ctx.defaults), groups).visible;
}
bool IsVisible(const ApiContext& ctx, const Caller& caller, const store::StoredObject& object,
               const policy::PolicyContext& groups) {
  return IsVisible(ctx, policy::Viewer{caller.org_id}, store::ViewOf(object), groups);
}

std::string Meta(const store::StoredObject& o) {
  return boost::json::serialize(boost::json::object{{"seq", o.seq},
                                                    {"added", FormatRfc3339(o.added, 3)},
                                                    {"current", o.current},
                                                    {"revoked", o.revoked},
                                                    {"tlp", stix::TlpName(o.tlp)}});
}

http::Response ObjectResponse(store::StoredObject o) {
  http::Response r = http::Response::Json(200, std::move(o.json));
  r.headers.Set("X-Concord-Seq", std::to_string(o.seq));
  r.headers.Set("X-Concord-Added", FormatRfc3339(o.added, 3));
  return r;
}

// A non-negative decimal integer that fits in int64 (query parameters are untrusted: no exceptions, no
// locale-dependent character classes).
std::optional<int64_t> Digits(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || text.front() == '-' || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

absl::StatusOr<std::optional<Timestamp>> TimeParam(const http::Request& req, std::string_view name) {
  auto v = req.query.Get(name);
  if (!v) return std::nullopt;
  auto ts = ParseRfc3339(*v);
  if (!ts.ok()) return FieldError(name, Sv(ts.status().message()));
  return std::optional<Timestamp>(*ts);
}

absl::StatusOr<http::Response> PostObjects(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  if (!caller.MayWrite()) return absl::PermissionDeniedError("this API key may not write");
  ingest::Options options{.batch_size = 1000, .record_items = true};
  options.admit = [&caller](const stix::Object& o) { return AdmitWrite(caller, o); };
  ingest::Ingestor ingestor(*ctx.store, std::move(options));
  absl::Status added = ingestor.AddBytes("request", req.body);
  if (!added.ok() && !ingestor.report().file_errors.empty()) {
    return absl::InvalidArgumentError(ingestor.report().file_errors.front().reason);
  }
  CONCORD_RETURN_IF_ERROR(ingestor.Flush());
  auto items = ingestor.report().items;
  std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  boost::json::array results;
  for (const auto& item : items) {
    boost::json::object r{{"index", item.index}, {"id", item.id}, {"type", item.type}, {"outcome", item.outcome}};
    if (!item.field.empty()) r["field"] = item.field;
    if (!item.reason.empty()) r["reason"] = item.reason;
    results.push_back(std::move(r));
  }
  const auto& t = ingestor.report().totals;
  boost::json::object totals{{"new", t.new_objects},   {"new_version", t.new_versions}, {"unchanged", t.unchanged},
                             {"conflict", t.conflicts}, {"rejected", t.rejected}};
  // One audit entry per request: the ids stored (new or new version) and the outcome counts.
  std::vector<std::string> stored;
  for (const auto& item : items) {
    if (item.outcome == "new" || item.outcome == "new_version") stored.push_back(item.id);
  }
  CONCORD_RETURN_IF_ERROR(Audit(ctx, caller, req, audit::Action::kWrite, std::move(stored),
                                t.rejected + t.conflicts > 0 ? "partial" : "ok", boost::json::object{{"totals", totals}}));
  return http::Response::Json(
      200, boost::json::serialize(boost::json::object{{"totals", std::move(totals)}, {"objects", std::move(results)}}));
}

absl::StatusOr<http::Response> GetObject(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  const std::string id(req.Param("id"));
  CONCORD_ASSIGN_OR_RETURN(std::optional<Timestamp> version, TimeParam(req, "version"));
  auto found = version ? ctx.store->GetVersion(id, *version) : ctx.store->Get(id);
  if (!found.ok()) return found.status().code() == absl::StatusCode::kNotFound ? NotFound(id) : found.status();
  if (!IsVisible(ctx, caller, *found, *ctx.sharing_groups())) return NotFound(id);
  CONCORD_RETURN_IF_ERROR(CheckJustification(ctx, req, found->tlp));
  if (IsAuditedRead(found->tlp)) {
    boost::json::object detail{{"tlp", stix::TlpName(found->tlp)}, {"modified", found->modified}};
    return AuditedRead(ctx, caller, req, {id}, std::move(detail), ObjectResponse(*std::move(found)));
  }
  return ObjectResponse(*std::move(found));
}

absl::StatusOr<http::Response> GetVersions(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  const std::string id(req.Param("id"));
  auto versions = ctx.store->Versions(id);
  if (!versions.ok()) return versions.status().code() == absl::StatusCode::kNotFound ? NotFound(id) : versions.status();
  const std::shared_ptr<const policy::PolicyContext> snapshot = ctx.sharing_groups();
  const policy::PolicyContext& groups = *snapshot;
  // Each version carries its own policy: a downgrade may hide old versions, an upgrade new ones.
  std::string body = R"({"id":)" + boost::json::serialize(boost::json::value(id)) + R"(,"versions":[)";
  bool any = false;
  bool audited = false;
  for (const auto& v : *versions) {
    if (!IsVisible(ctx, caller, v, groups)) continue;
    CONCORD_RETURN_IF_ERROR(CheckJustification(ctx, req, v.tlp));
    audited = audited || IsAuditedRead(v.tlp);
    body += any ? "," : "";
    body += R"({"meta":)" + Meta(v) + R"(,"object":)" + v.json + "}";
    any = true;
  }
  if (!any) return NotFound(id);
  body += "]}";
  if (audited) return AuditedRead(ctx, caller, req, {id}, {{"versions", true}}, http::Response::Json(200, std::move(body)));
  return http::Response::Json(200, std::move(body));
}

absl::StatusOr<http::Response> ListObjects(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  store::Query q;
  q.types = req.query.GetList("type");
  q.ids = req.query.GetList("id");
  CONCORD_ASSIGN_OR_RETURN(q.modified_since, TimeParam(req, "modified_since"));
  CONCORD_ASSIGN_OR_RETURN(q.modified_before, TimeParam(req, "modified_before"));
  q.current_only = req.query.Get("all_versions").value_or("false") != "true";
  size_t limit = kDefaultPage;
  if (auto l = req.query.Get("limit")) {
    auto n = Digits(*l);
    if (!n || *n == 0) return FieldError("limit", fmt::format("expected an integer 1-{}, got '{}'", kMaxPage, *l));
    limit = static_cast<size_t>(std::min<int64_t>(*n, kMaxPage));  // more than the maximum is clamped
  }
  if (auto c = req.query.Get("cursor")) {
    auto seq = Digits(*c);
    if (!seq) return FieldError("cursor", fmt::format("not a cursor of this API: '{}'", *c));
    q.after_seq = *seq;
  }
  std::set<stix::Tlp> tlps;
  for (const auto& name : req.query.GetList("tlp")) {
    auto tlp = stix::ParseTlpName(name);
    if (!tlp) return FieldError("tlp", fmt::format("unknown TLP level '{}' (clear, green, amber, amber+strict, red, none)", name));
    tlps.insert(*tlp);
  }
  const std::vector<std::string> creators = req.query.GetList("created_by");
  const std::vector<std::string> labels = req.query.GetList("label");
  std::optional<bool> revoked;
  if (auto r = req.query.Get("revoked")) {
    if (*r != "true" && *r != "false") return FieldError("revoked", "expected true or false");
    revoked = *r == "true";
  }

  const std::shared_ptr<const policy::PolicyContext> snapshot = ctx.sharing_groups();
  const policy::PolicyContext& groups = *snapshot;
  // The body is written in place, head first: a page of 100 indicators is ~70 KB, not to be copied again.
  std::string body = R"({"objects":[)";
  size_t returned = 0;
  size_t scanned = 0;
  // Objects that need a justification the request lacks are left out of a list (and counted), rather than
  // failing a page that happens to contain one: a sweep goes on, and says what it did not get.
  size_t withheld = 0;
  std::vector<std::string> audited;
  audited.reserve(limit);
  bool more = false;
  int64_t cursor = q.after_seq;
  q.limit = limit;  // pages after the first come only when the policy or a filter left some out
  q.policy_and_json_only = true;  // the visitor below reads nothing else
  const policy::Viewer viewer{caller.org_id};
  // The rows are read in place (Store::ListEach): each visible one goes straight from the store's row into
  // the body, with no copy in between.
  bool first_row = true;
  while (returned < limit) {
    auto visit = [&](const store::StoredView& o) {
      if (first_row) {
        first_row = false;
        // A guess from the first row (the body grows past it if rows differ), never more than a few MiB up
        // front: the first row may be a large report.
        body.reserve(body.size() + 128 + std::min<size_t>(limit * (o.json.size() + 1) * 5 / 4, size_t{4} << 20));
      }
      ++scanned;
      cursor = o.seq;
      if (!IsVisible(ctx, viewer, o, groups)) return true;
      if (!tlps.empty() && !tlps.count(o.tlp)) return true;
      if (!creators.empty() && std::find(creators.begin(), creators.end(), o.created_by_ref) == creators.end()) return true;
      if (revoked && o.revoked != *revoked) return true;
      if (!labels.empty()) {
        auto parsed = ParseJson(o.json);
        const boost::json::value* have = parsed.ok() ? parsed->as_object().if_contains("labels") : nullptr;
        bool hit = false;
        if (have && have->is_array()) {
          for (const auto& l : have->get_array()) {
            hit = hit || (l.is_string() && std::find(labels.begin(), labels.end(), std::string_view(l.get_string())) != labels.end());
          }
        }
        if (!hit) return true;
      }
      if (!CheckJustification(ctx, req, o.tlp).ok()) {
        ++withheld;
        return true;
      }
      if (returned > 0) body.push_back(',');
      body.append(o.json);
      if (IsAuditedRead(o.tlp)) audited.emplace_back(o.id);
      return ++returned < limit;
    };
    CONCORD_ASSIGN_OR_RETURN(store::ListEnd end, ctx.store->ListEach(q, visit));
    if (returned == limit) {
      more = end.more;
      break;
    }
    if (!end.more) break;
    q.after_seq = end.next_after_seq;
    cursor = end.next_after_seq;
    if (scanned >= limit * kScanFactor) {
      more = true;  // bounded work per request: the cursor lets the caller go on
      break;
    }
  }
  body.append(R"(],"more":)");
  body.append(more ? "true" : "false");
  if (withheld > 0) body.append(R"(,"withheld":)").append(std::to_string(withheld));
  // `next` on every page, the last one too: a client polls for what is new by asking again from there.
  body.append(R"(,"next":")").append(std::to_string(cursor)).append("\"}");
  if (!audited.empty()) {
    return AuditedRead(ctx, caller, req, std::move(audited), {{"list", true}}, http::Response::Json(200, std::move(body)));
  }
  return http::Response::Json(200, std::move(body));
}

absl::StatusOr<http::Response> Revoke(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  const std::string id(req.Param("id"));
  auto current = ctx.store->Get(id);
  if (!current.ok()) return current.status().code() == absl::StatusCode::kNotFound ? NotFound(id) : current.status();
  if (!IsVisible(ctx, caller, *current, *ctx.sharing_groups())) return NotFound(id);
  if (!caller.MayWrite()) return absl::PermissionDeniedError("this API key may not write");
  if (current->created_by_ref != caller.org_id) {
    return absl::PermissionDeniedError("only the creating organisation may revoke an object");
  }
  if (current->modified.empty()) return absl::InvalidArgumentError(fmt::format("{} is not versioned: it cannot be revoked", id));
  if (current->revoked) return absl::AlreadyExistsError(fmt::format("{} is already revoked", id));
  CONCORD_ASSIGN_OR_RETURN(store::StoredObject revoked, RevokeVersion(ctx, *current));
  CONCORD_RETURN_IF_ERROR(Audit(ctx, caller, req, audit::Action::kRevoke, {id}, "ok", {{"modified", revoked.modified}}));
  return ObjectResponse(revoked);
}

}  // namespace

policy::ObjectPolicyRef PolicyRefOf(const store::StoredView& object, const policy::NodeDefaults& defaults) {
  policy::ObjectPolicyRef p{.tlp = object.tlp,
                            .distribution = defaults.distribution,
                            .owner_org = object.created_by_ref,
                            .sharing_group = object.sharing_group_ref};
  if (object.distribution) {
    if (auto d = policy::DistributionFromInt(*object.distribution)) p.distribution = *d;
  }
  return p;
}

policy::ObjectPolicy PolicyOf(const store::StoredObject& object, const policy::NodeDefaults& defaults) {
  const policy::ObjectPolicyRef ref = PolicyRefOf(store::ViewOf(object), defaults);
  policy::ObjectPolicy p;
  p.tlp = ref.tlp;
  p.distribution = ref.distribution;
  p.owner_org = ref.owner_org;
  p.sharing_group = ref.sharing_group;
  return p;
}

absl::StatusOr<store::StoredObject> RevokeVersion(const ApiContext& ctx, const store::StoredObject& current) {
  CONCORD_ASSIGN_OR_RETURN(boost::json::value json, ParseJson(current.json));
  CONCORD_ASSIGN_OR_RETURN(Timestamp previous, ParseRfc3339(current.modified));
  // The new version must sort after the current one even when clocks disagree.
  Timestamp modified = ctx.clock->Now();
  if (modified <= previous) modified = Timestamp::FromUnixMillis(previous.UnixMillis() + 1);
  json.as_object()["modified"] = FormatRfc3339(modified, 3);
  json.as_object()["revoked"] = true;
  ingest::Ingestor ingestor(*ctx.store, {.record_items = true});
  CONCORD_RETURN_IF_ERROR(ingestor.AddBytes("revoke", boost::json::serialize(json)));
  CONCORD_RETURN_IF_ERROR(ingestor.Flush());
  // A concurrent revocation may have come first: what counts is that the object is revoked now.
  CONCORD_ASSIGN_OR_RETURN(store::StoredObject after, ctx.store->Get(current.id));
  if (!after.revoked) {
    const auto& items = ingestor.report().items;
    return absl::AbortedError(fmt::format("revocation of {} was not stored: {}", current.id,
                                          items.empty() ? std::string("no outcome") : items[0].reason));
  }
  return after;
}

// Only the creating organisation writes an object (design.md); federation (role sync) relays others'.
absl::Status AdmitWrite(const Caller& caller, const stix::Object& o) {
  if (caller.role == "sync") return absl::OkStatus();
  if (o.kind == stix::ObjectKind::kSco) {
    // An SCO names no creator, so no organisation owns it here: a policy that shows an object only to its
    // owner would store it for nobody. Refused, so that the writer learns it instead of losing it.
    if (o.distribution == 0) {
      return FieldError("distribution", "0 (your organisation only) cannot apply to a cyber-observable, which has no "
                                        "creator: share it in an SDO (observed-data, report) or choose 1-4");
    }
    if (o.tlp == stix::Tlp::kRed && o.sharing_group_ref.empty()) {
      return FieldError("object_marking_refs",
                        "TLP:RED on a cyber-observable needs a sharing group naming its recipients (it has no "
                        "creator who could see it): set sharing_group_ref or share it in an SDO");
    }
    return absl::OkStatus();
  }
  if (o.created_by_ref.empty()) {
    return FieldError("created_by_ref", fmt::format("required: objects written through the API name their creator ({})",
                                                    caller.org_id));
  }
  if (o.created_by_ref != caller.org_id) {
    return FieldError("created_by_ref", fmt::format("must be your organisation ({})", caller.org_id));
  }
  return absl::OkStatus();
}

absl::Status AddObjectRoutes(http::Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  CONCORD_RETURN_IF_ERROR(router.Add("POST", "/api/v1/objects", [c](http::Request& r) { return PostObjects(*c, r); }));
  CONCORD_RETURN_IF_ERROR(router.Add("GET", "/api/v1/objects", [c](http::Request& r) { return ListObjects(*c, r); }));
  CONCORD_RETURN_IF_ERROR(router.Add("GET", "/api/v1/objects/{id}", [c](http::Request& r) { return GetObject(*c, r); }));
  CONCORD_RETURN_IF_ERROR(
      router.Add("GET", "/api/v1/objects/{id}/versions", [c](http::Request& r) { return GetVersions(*c, r); }));
  CONCORD_RETURN_IF_ERROR(
      router.Add("POST", "/api/v1/objects/{id}/revoke", [c](http::Request& r) { return Revoke(*c, r); }));
  return absl::OkStatus();
}

}  // namespace concord::api
