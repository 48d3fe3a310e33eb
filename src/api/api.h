// concord/api/api.h — the REST API under /api/v1.
//
// Handlers are registered on an http::Router. Who is calling comes from an injected authenticator (the
// node wires the accounts store to it), so the API is tested without a key store. Every response is
// filtered by policy::Visible: an object the caller may not see answers 404 exactly like an unknown id,
// so its existence does not leak. Handlers run on the server's worker threads; the context's members
// must be thread-safe (Store is; the policy functions are pure).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/audit.h"
#include "http/router.h"
#include "policy/policy.h"
#include "store/accounts.h"
#include "store/store.h"

namespace concord::api {

// The caller of a request, as the authentication layer established it.
struct Caller {
  std::string user;
  std::string org_id;  // the caller organisation's STIX identity id
  std::string role;    // admin, org-admin, analyst, duty-officer, read-only, sync
  bool read_only = false;  // the key is read-only
  std::string key_id;      // the API key used (audit entries name it)

  bool MayWrite() const { return !read_only && role != "read-only"; }
};

// Unauthenticated (401) when the request carries no valid credentials.
using Authenticator = std::function<absl::StatusOr<Caller>(http::Request&)>;

struct ApiContext {
  store::Store* store = nullptr;
  Authenticator authenticate;
  policy::NodeDefaults defaults;
  // The sharing groups as they are now; called per request.
  // A shared, immutable snapshot: taking it per request costs a reference count, not a copy of every group.
  std::function<std::shared_ptr<const policy::PolicyContext>()> sharing_groups = [] {
    return std::make_shared<const policy::PolicyContext>();
  };
  const Clock* clock = &SystemClock::Instance();
  // The audit log (audit/audit.h); null: nothing is audited (unit tests without one). Reads of objects above
  // TLP:CLEAR, writes and revocations are recorded before the response is sent; when recording fails the
  // request fails (503): what cannot be audited is not handed out.
  audit::AuditLog* audit = nullptr;
  // Reads of TLP:RED and AMBER+STRICT objects need an X-Concord-Justification header (403 without), checked
  // only once the object is known to be visible to the caller (otherwise 404 as always).
  bool require_justification_for_red = false;
  // Organisations, users, keys, sharing groups, communities (the admin routes); null without them.
  store::Accounts* accounts = nullptr;
  // Called after this process changed a sharing group, so that sharing_groups() reflects it at once.
  std::function<void()> sharing_groups_changed = [] {};
};

// The sharing groups as policy decisions need them, read from the accounts store into an immutable snapshot:
// reloaded on the first Get after Invalidate (a change made by this process applies to the next request) and
// when older than `max_age_millis` (a change made by another process applies within that). Get and
// Invalidate are thread-safe; a reload runs on the calling (worker) thread. When a reload fails the previous
// snapshot is kept (none yet: no groups, so group-distributed objects stay with their owners) and the next
// Get tries again.
class SharingGroupSnapshot {
 public:
  SharingGroupSnapshot(store::Accounts& accounts, const Clock& clock, int64_t max_age_millis = 2'000);
  std::shared_ptr<const policy::PolicyContext> Get();
  void Invalidate();

 private:
  store::Accounts& accounts_;
  const Clock& clock_;
  const int64_t max_age_micros_;
  std::mutex reload_mu_;  // one reload at a time
  std::mutex mu_;         // guards the fields below; never held across database work
  std::shared_ptr<const policy::PolicyContext> current_;
  int64_t loaded_micros_ = 0;
  uint64_t generation_ = 0;  // bumped by Invalidate
  uint64_t loaded_generation_ = 0;
};

// The policy of a stored version on this node (owner = created_by_ref; see docs/architecture.md).
policy::ObjectPolicy PolicyOf(const store::StoredObject& object, const policy::NodeDefaults& defaults);
// The same as views, for deciding visibility row by row (store::ListEach) without copying.
policy::ObjectPolicyRef PolicyRefOf(const store::StoredView& object, const policy::NodeDefaults& defaults);

// Stores a new version of `current` with `revoked: true`, modified after it; the caller checked the rights.
// Returns the object as it is afterwards (revoked, possibly by a concurrent request).
absl::StatusOr<store::StoredObject> RevokeVersion(const ApiContext& ctx, const store::StoredObject& current);

// The write rule of every API write path (REST POST, TAXII Add Objects): only the creating organisation
// writes an object (created_by_ref must be the caller's organisation); federation (role sync) relays
// others' objects; SCOs, which have no creator, are exempt, but may not carry a policy that only their owner
// could see (distribution 0, TLP:RED without a sharing group): nobody could. Errors are FieldErrors.
absl::Status AdmitWrite(const Caller& caller, const stix::Object& object);

// Registers the /api/v1/objects routes. `context` must outlive the router.
absl::Status AddObjectRoutes(http::Router& router, const ApiContext& context);

class ChangeFeed;      // stream.h
struct StreamOptions;  // stream.h
// Registers GET /api/v1/stream: server-sent events of the stored versions the caller may see (stream.cc).
// `context`, `feed` and `options` must outlive the router.
absl::Status AddStreamRoutes(http::Router& router, const ApiContext& context, ChangeFeed& feed,
                             const StreamOptions& options);

// Registers the administrative routes: /api/v1/organisations, /users (with keys), /sharing-groups and
// /communities (admin.cc states who may do what). Needs context.accounts. `context` must outlive the router.
absl::Status AddAdminRoutes(http::Router& router, const ApiContext& context);

// ---- audit (audit.cc), for every read and write path (REST, TAXII) -----------------------------------------

// Whether a read of an object at `tlp` is a consultation to audit: everything but TLP:CLEAR (an object
// without a TLP marking is governed by its distribution and is not public, so it is audited too).
bool IsAuditedRead(stix::Tlp tlp);
// Whether ctx requires a justification to read `tlp` (RED and AMBER+STRICT when the setting is on).
bool NeedsJustification(const ApiContext& ctx, stix::Tlp tlp);
// The X-Concord-Justification header, trimmed ("" when absent); InvalidArgument beyond 1024 bytes.
absl::StatusOr<std::string> Justification(const http::Request& req);
// PermissionDenied "a justification (X-Concord-Justification) is required to read TLP:RED" when
// NeedsJustification and the request has none. Call it only for objects visible to the caller.
absl::Status CheckJustification(const ApiContext& ctx, const http::Request& req, stix::Tlp tlp);
// Appends one entry for this request (caller, key, remote host, justification, route in detail); a no-op
// when ctx.audit is null. Unavailable when the entry cannot be recorded.
absl::Status Audit(const ApiContext& ctx, const Caller& caller, const http::Request& req, audit::Action action,
                   std::vector<std::string> ids, std::string outcome, boost::json::object detail);
// A read's response that is sent only once its audit entry (action read, the ids, detail plus route and
// method) is committed, and replaced by 503 when it cannot be (http::Gate): no thread waits for the commit,
// so concurrent reads share audit commits. `response` unchanged when ctx.audit is null.
absl::StatusOr<http::Response> AuditedRead(const ApiContext& ctx, const Caller& caller, const http::Request& req,
                                           std::vector<std::string> ids, boost::json::object detail,
                                           http::Response response);
// GET /api/v1/audit: role admin sees every entry, org-admin its organisation's; others 403. Filters since,
// until (RFC 3339), user, org, action, object; cursor and limit (1-1000, default 100) as in the object list.
absl::Status AddAuditRoutes(http::Router& router, const ApiContext& context);

// ---- administrative changes (admin.cc), one entry shape for the REST API and the CLI ------------------------
//
// Every change on the admin routes and every `concord org add` / `user add|key` leaves one entry with action
// admin and `detail.op` naming the change (docs/audit.md lists them), recorded before the change is made: when
// the entry cannot be written nothing changes (fail closed). When the change then fails, a second entry with
// outcome "failed" and `detail.error` follows. Issuing a key is recorded just after it, because the entry names
// the new key id; when that entry cannot be written the key is revoked at once and its token never shown.
// Details name users, organisations (identity ids), groups and key ids, never key material.
namespace admin_audit {
boost::json::object OrgCreate(std::string_view name, store::OrgKind kind);
boost::json::object UserCreate(std::string_view user, std::string_view org_id, store::Role role);
boost::json::object KeyIssue(const store::User& user, const store::ApiKey& key);
boost::json::object KeyRevoke(const store::User& user, std::string_view key_id);
}  // namespace admin_audit

}  // namespace concord::api
