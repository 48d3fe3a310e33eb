// Auditing of the API's read and write paths, and GET /api/v1/audit for administrators.
#include <algorithm>

#include "api/api.h"
#include "audit/audit.h"
#include "boost/json/serialize.hpp"
#include "common/status.h"
#include "fmt/format.h"

namespace concord::api {
namespace {

constexpr size_t kDefaultAuditPage = 100;
constexpr size_t kMaxAuditPage = 1000;
constexpr size_t kMaxJustificationBytes = 1024;

// "127.0.0.1:51234" → "127.0.0.1"; "[::1]:51234" → "::1"; anything else unchanged.
std::string HostOf(std::string_view remote) {
  if (remote.starts_with('[')) {
    const size_t end = remote.find(']');
    return std::string(end == std::string_view::npos ? remote : remote.substr(1, end - 1));
  }
  if (std::count(remote.begin(), remote.end(), ':') == 1) return std::string(remote.substr(0, remote.find(':')));
  return std::string(remote);
}

absl::StatusOr<std::optional<Timestamp>> AuditTimeParam(const http::Request& req, std::string_view name) {
  auto v = req.query.Get(name);
  if (!v) return std::nullopt;
  auto ts = ParseRfc3339(*v);
  if (!ts.ok()) return FieldError(name, Sv(ts.status().message()));
  return std::optional<Timestamp>(*ts);
}

absl::StatusOr<size_t> Digits(std::string_view name, std::string_view v, size_t max_digits) {
  if (v.empty() || v.size() > max_digits || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return FieldError(name, fmt::format("expected a non-negative integer, got '{}'", v));
  }
  return static_cast<size_t>(std::stoull(std::string(v)));
}

absl::StatusOr<http::Response> ListAudit(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  if (caller.role != "admin" && caller.role != "org-admin") {
    return absl::PermissionDeniedError("the audit log is for administrators (roles admin and org-admin)");
  }
  if (ctx.audit == nullptr) return absl::UnavailableError("this node keeps no audit log");
  audit::Filter f;
  CONCORD_ASSIGN_OR_RETURN(f.since, AuditTimeParam(req, "since"));
  CONCORD_ASSIGN_OR_RETURN(f.until, AuditTimeParam(req, "until"));
  f.user = std::string(req.query.Get("user").value_or(""));
  f.org = std::string(req.query.Get("org").value_or(""));
  f.object_id = std::string(req.query.Get("object").value_or(""));
  if (auto a = req.query.Get("action")) {
    auto action = audit::ParseAction(*a);
    if (!action) {
      return FieldError("action", fmt::format("unknown action '{}' (write, read, export, disclose, revoke, key-use, "
                                              "auth-failure, admin)",
                                              *a));
    }
    f.action = *action;
  }
  // An organisation's administrator sees what its own organisation did, nothing else.
  if (caller.role == "org-admin") {
    if (!f.org.empty() && f.org != caller.org_id) {
      return absl::PermissionDeniedError("an org-admin sees only its own organisation's audit entries");
    }
    f.org = caller.org_id;
  }
  f.limit = kDefaultAuditPage;
  if (auto l = req.query.Get("limit")) {
    CONCORD_ASSIGN_OR_RETURN(size_t limit, Digits("limit", *l, 6));
    if (limit == 0) return FieldError("limit", fmt::format("expected an integer 1-{}, got '{}'", kMaxAuditPage, *l));
    f.limit = std::min(limit, kMaxAuditPage);
  }
  if (auto c = req.query.Get("cursor")) {
    CONCORD_ASSIGN_OR_RETURN(size_t after, Digits("cursor", *c, 18));
    f.after_seq = static_cast<int64_t>(after);
  }
  CONCORD_ASSIGN_OR_RETURN(audit::Page page, ctx.audit->List(f));
  boost::json::array entries;
  for (const auto& e : page.entries) entries.push_back(audit::EntryJson(e));
  boost::json::object doc{{"entries", std::move(entries)}, {"more", page.more}};
  if (page.more) doc["next"] = std::to_string(page.next_after_seq);
  return http::Response::Json(200, boost::json::serialize(doc));
}

}  // namespace

bool IsAuditedRead(stix::Tlp tlp) { return tlp != stix::Tlp::kClear; }

bool NeedsJustification(const ApiContext& ctx, stix::Tlp tlp) {
  return ctx.require_justification_for_red && (tlp == stix::Tlp::kRed || tlp == stix::Tlp::kAmberStrict);
}

absl::StatusOr<std::string> Justification(const http::Request& req) {
  std::string_view v = req.headers.Get("X-Concord-Justification").value_or("");
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.size() > kMaxJustificationBytes) {
    return absl::InvalidArgumentError(
        fmt::format("X-Concord-Justification: at most {} bytes, got {}", kMaxJustificationBytes, v.size()));
  }
  return std::string(v);
}

absl::Status CheckJustification(const ApiContext& ctx, const http::Request& req, stix::Tlp tlp) {
  if (!NeedsJustification(ctx, tlp)) return absl::OkStatus();
  CONCORD_ASSIGN_OR_RETURN(std::string given, Justification(req));
  if (!given.empty()) return absl::OkStatus();
  return absl::PermissionDeniedError(fmt::format(
      "a justification (X-Concord-Justification) is required to read TLP:{}", tlp == stix::Tlp::kRed ? "RED" : "AMBER+STRICT"));
}

namespace {

// The audit event of a request: caller, key, remote host, justification, route and method in detail.
absl::StatusOr<audit::Event> RequestEvent(const Caller& caller, const http::Request& req, audit::Action action,
                                          std::vector<std::string> ids, std::string outcome, boost::json::object detail) {
  audit::Event e;
  e.action = action;
  e.user = caller.user;
  e.org = caller.org_id;
  e.key_id = caller.key_id;
  e.object_ids = std::move(ids);
  e.outcome = std::move(outcome);
  CONCORD_ASSIGN_OR_RETURN(e.justification, Justification(req));
  e.remote_address = HostOf(req.remote_address);
  detail["route"] = req.route.empty() ? req.path : req.route;
  detail["method"] = req.method;
  e.detail = std::move(detail);
  return e;
}

// Fail closed: what cannot be recorded is not handed out.
absl::Status NotRecorded(const absl::Status& status) {
  return absl::UnavailableError(fmt::format("the audit log cannot record this request: {}", Sv(status.message())));
}

}  // namespace

absl::Status Audit(const ApiContext& ctx, const Caller& caller, const http::Request& req, audit::Action action,
                   std::vector<std::string> ids, std::string outcome, boost::json::object detail) {
  if (ctx.audit == nullptr) return absl::OkStatus();
  CONCORD_ASSIGN_OR_RETURN(audit::Event e,
                           RequestEvent(caller, req, action, std::move(ids), std::move(outcome), std::move(detail)));
  auto entry = ctx.audit->Append(std::move(e));
  if (!entry.ok()) return NotRecorded(entry.status());
  return absl::OkStatus();
}

absl::StatusOr<http::Response> AuditedRead(const ApiContext& ctx, const Caller& caller, const http::Request& req,
                                           std::vector<std::string> ids, boost::json::object detail,
                                           http::Response response) {
  if (ctx.audit == nullptr) return response;
  CONCORD_ASSIGN_OR_RETURN(audit::Event e, RequestEvent(caller, req, audit::Action::kRead, std::move(ids), "ok",
                                                        std::move(detail)));
  audit::AuditLog* log = ctx.audit;
  response.gate = [log, e = std::move(e)](std::function<void(absl::Status)> release) mutable {
    std::vector<audit::Event> events;
    events.push_back(std::move(e));
    log->AppendAsync(std::move(events), [release = std::move(release)](absl::StatusOr<std::vector<audit::Entry>> entries) {
      release(entries.ok() ? absl::OkStatus() : NotRecorded(entries.status()));
    });
  };
  return response;
}

absl::Status AddAuditRoutes(http::Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  return router.Add("GET", "/api/v1/audit", [c](http::Request& r) { return ListAudit(*c, r); });
}

}  // namespace concord::api
