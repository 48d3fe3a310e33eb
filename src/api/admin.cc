// The administrative REST API: organisations, users and their API keys, sharing groups, trust communities;
// and the sharing-group snapshot the policy reads.
//
// Who may do what (every route authenticates; every write also needs a key and role that may write, except
// revoking a key, which only ever takes rights away):
//   organisations  read: everyone (the directory: objects a caller sees name these identities in
//                  created_by_ref, and group owners need their ids); create: admin.
//   users          admin: every user. org-admin: the users of its own organisation, except those with
//                  role admin or sync (acting for them, or issuing them keys, would widen its own rights),
//                  and it may give only the roles org-admin, analyst, duty-officer, read-only. Everyone else
//                  sees only themselves. A user outside the caller's reach answers 404, like an unknown one,
//                  so that user names do not leak across organisations. Nobody changes their own role or
//                  disables themselves (no lock-out by accident).
//   keys           whoever may manage the user lists, issues and revokes its keys; a user lists and revokes
//                  their own keys but does not issue them (a key restricted to some addresses, or stolen,
//                  must not mint an unrestricted one): rotation goes through an org-admin.
//   sharing groups read: admin all; others the groups their organisation belongs to (an analyst needs the id
//                  to post a group-distributed object); others 404. Create: admin (any owner) and org-admin
//                  (owned by its organisation). Membership: admin, and the org-admin of the owning
//                  organisation; an org-admin may also take its own organisation out of a group.
//   communities    read: everyone (objects name them in the policy extension); create and membership: admin.
//
// Every change is audited (action admin; api.h "administrative changes" states the order of entry and change).
#include <algorithm>

#include "absl/strings/match.h"
#include "api/api.h"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace concord::api {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;

// ---- callers -----------------------------------------------------------------------------------------

bool IsAdmin(const Caller& c) { return c.role == "admin"; }
bool IsOrgAdmin(const Caller& c) { return c.role == "org-admin"; }

absl::Status RequireWrite(const Caller& c) {
  if (!c.MayWrite()) return absl::PermissionDeniedError("this API key may not write");
  return absl::OkStatus();
}

bool IsSelf(const Caller& c, const store::User& u) { return absl::EqualsIgnoreCase(AbslSv(c.user), AbslSv(u.name)); }

// Roles an org-admin may neither give nor act for.
bool IsPrivileged(store::Role role) { return role == store::Role::kAdmin || role == store::Role::kSync; }

absl::Status UserNotFound(std::string_view user) { return absl::NotFoundError(fmt::format("user '{}' not found", user)); }

// May `c` manage (change, issue keys for) user `u`? Assumes u is within `c`'s reach (UserInReach).
absl::Status MayManage(const Caller& c, const store::User& u) {
  if (IsAdmin(c)) return absl::OkStatus();
  if (IsOrgAdmin(c) && u.org_id == c.org_id) {
    if (IsPrivileged(u.role)) {
      return absl::PermissionDeniedError(
          fmt::format("only an admin may manage user '{}' (role {})", u.name, store::RoleName(u.role)));
    }
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError("only an admin, or an org-admin of the user's organisation, may do this");
}

// The user, when `c` may see it: admin any, org-admin its organisation's, everyone themselves.
absl::StatusOr<store::User> UserInReach(const ApiContext& ctx, const Caller& c, std::string_view user) {
  auto u = ctx.accounts->GetUser(user);
  if (!u.ok()) return absl::IsNotFound(u.status()) ? UserNotFound(user) : u.status();
  if (IsAdmin(c) || IsSelf(c, *u) || (IsOrgAdmin(c) && u->org_id == c.org_id)) return u;
  return UserNotFound(user);
}

// ---- JSON in -----------------------------------------------------------------------------------------

absl::StatusOr<object> Body(const http::Request& req, std::initializer_list<std::string_view> allowed) {
  if (req.body.empty()) return absl::InvalidArgumentError("a JSON object is required as the request body");
  CONCORD_ASSIGN_OR_RETURN(value doc, ParseJson(req.body));
  if (!doc.is_object()) return absl::InvalidArgumentError("the request body must be a JSON object");
  for (const auto& [key, v] : doc.as_object()) {
    const std::string_view k(key.data(), key.size());
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      return FieldError(k, "unknown property");
    }
  }
  return std::move(doc.as_object());
}

absl::StatusOr<std::optional<std::string>> OptString(const object& o, std::string_view key) {
  const value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) return FieldError(key, "must be a string");
  return std::string(v->get_string());
}

absl::StatusOr<std::string> ReqString(const object& o, std::string_view key) {
  CONCORD_ASSIGN_OR_RETURN(std::optional<std::string> s, OptString(o, key));
  if (!s) return FieldError(key, "is required");
  return *std::move(s);
}

absl::StatusOr<std::optional<bool>> OptBool(const object& o, std::string_view key) {
  const value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) return FieldError(key, "must be true or false");
  return v->get_bool();
}

absl::StatusOr<std::vector<std::string>> OptStrings(const object& o, std::string_view key) {
  std::vector<std::string> out;
  const value* v = o.if_contains(key);
  if (v == nullptr) return out;
  if (!v->is_array()) return FieldError(key, "must be an array of strings");
  for (const value& item : v->get_array()) {
    if (!item.is_string()) return FieldError(key, "must be an array of strings");
    out.emplace_back(item.get_string());
  }
  return out;
}

absl::StatusOr<store::Role> RoleField(const std::string& name) {
  auto role = store::ParseRole(name);
  if (!role) {
    return FieldError("role", fmt::format("unknown role '{}' (admin, org-admin, analyst, duty-officer, read-only, sync)", name));
  }
  return *role;
}

// ---- JSON out ----------------------------------------------------------------------------------------

http::Response Reply(int status, const value& doc) { return http::Response::Json(status, boost::json::serialize(doc)); }

value OptionalTime(const std::optional<Timestamp>& t) { return t ? value(FormatRfc3339(*t)) : value(nullptr); }

object OrgJson(const store::Organisation& o) {
  return {{"id", o.id},
          {"name", o.name},
          {"kind", store::OrgKindName(o.kind)},
          {"host", o.host},
          {"created", FormatRfc3339(o.created)}};
}

object UserJson(const store::User& u) {
  return {{"id", u.id},
          {"name", u.name},
          {"org_id", u.org_id},
          {"role", store::RoleName(u.role)},
          {"created", FormatRfc3339(u.created)},
          {"disabled", u.disabled}};
}

object KeyJson(const store::ApiKey& k, const Timestamp& now) {
  array cidrs;
  for (const std::string& c : k.allowed_cidrs) cidrs.emplace_back(c);
  std::string_view status = "active";
  if (k.revoked) {
    status = "revoked";
  } else if (k.expires && *k.expires <= now) {
    status = "expired";
  }
  return {{"key_id", k.key_id},
          {"user_id", k.user_id},
          {"status", status},
          {"created", FormatRfc3339(k.created)},
          {"expires", OptionalTime(k.expires)},
          {"allowed_cidrs", std::move(cidrs)},
          {"read_only", k.read_only},
          {"revoked", OptionalTime(k.revoked)},
          {"last_used", OptionalTime(k.last_used)}};
}

array Strings(const std::vector<std::string>& v) {
  array out;
  for (const std::string& s : v) out.emplace_back(s);
  return out;
}

object GroupJson(const store::SharingGroup& g) {
  return {{"id", g.id},
          {"name", g.name},
          {"description", g.description},
          {"owner_org", g.owner_org},
          {"member_orgs", Strings(g.member_orgs)},
          {"created", FormatRfc3339(g.created)}};
}

object CommunityJson(const store::Community& c) {
  return {{"name", c.name},
          {"description", c.description},
          {"member_orgs", Strings(c.member_orgs)},
          {"created", FormatRfc3339(c.created)}};
}

// ---- audit -------------------------------------------------------------------------------------------

const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Records an administrative change before it is made; Unavailable (503) when it cannot be recorded.
absl::Status RecordChange(const ApiContext& ctx, const Caller& caller, const http::Request& req, object detail) {
  return Audit(ctx, caller, req, audit::Action::kAdmin, {}, "ok", std::move(detail));
}

// Passes `result` through; when the change failed after RecordChange, records that it did not happen.
template <typename Result>
Result Completed(const ApiContext& ctx, const Caller& caller, const http::Request& req, object detail,
                 Result result) {
  const absl::Status& s = StatusOf(result);
  if (!s.ok()) {
    detail["error"] = std::string(Sv(s.message()));
    absl::Status recorded = Audit(ctx, caller, req, audit::Action::kAdmin, {}, "failed", std::move(detail));
    if (!recorded.ok()) spdlog::warn("admin change failed and the failure was not audited: {}", Sv(recorded.message()));
  }
  return result;
}

array OrgIds(const std::vector<store::Organisation>& orgs) {
  array out;
  for (const auto& o : orgs) out.emplace_back(o.id);
  return out;
}

// The organisations named by ids or names, for member_orgs; a FieldError on `field` for an unknown one, so that
// a typo creates nothing.
absl::StatusOr<std::vector<store::Organisation>> ResolveOrgs(const ApiContext& ctx, const std::vector<std::string>& names,
                                                             std::string_view field) {
  std::vector<store::Organisation> out;
  for (const std::string& m : names) {
    auto org = ctx.accounts->GetOrganisation(m);
    if (absl::IsNotFound(org.status())) return FieldError(field, Sv(org.status().message()));
    if (!org.ok()) return org.status();
    out.push_back(*std::move(org));
  }
  return out;
}

// ---- organisations -----------------------------------------------------------------------------------

absl::StatusOr<http::Response> ListOrganisations(const ApiContext& ctx, http::Request& req) {
  CONCORD_RETURN_IF_ERROR(ctx.authenticate(req).status());
  CONCORD_ASSIGN_OR_RETURN(std::vector<store::Organisation> orgs, ctx.accounts->ListOrganisations());
  array out;
  for (const auto& o : orgs) out.push_back(OrgJson(o));
  return Reply(200, object{{"organisations", std::move(out)}});
}

absl::StatusOr<http::Response> GetOrganisation(const ApiContext& ctx, http::Request& req) {
  CONCORD_RETURN_IF_ERROR(ctx.authenticate(req).status());
  CONCORD_ASSIGN_OR_RETURN(store::Organisation o, ctx.accounts->GetOrganisation(req.Param("org")));
  return Reply(200, OrgJson(o));
}

absl::StatusOr<http::Response> CreateOrganisation(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  if (!IsAdmin(caller)) return absl::PermissionDeniedError("only an admin may create organisations");
  CONCORD_RETURN_IF_ERROR(RequireWrite(caller));
  CONCORD_ASSIGN_OR_RETURN(object body, Body(req, {"name", "kind"}));
  CONCORD_ASSIGN_OR_RETURN(std::string name, ReqString(body, "name"));
  CONCORD_ASSIGN_OR_RETURN(std::optional<std::string> kind_name, OptString(body, "kind"));
  store::OrgKind kind = store::OrgKind::kLocal;
  if (kind_name && *kind_name == "remote") {
    kind = store::OrgKind::kRemote;
  } else if (kind_name && *kind_name != "local") {
    return FieldError("kind", fmt::format("expected local or remote, got '{}'", *kind_name));
  }
  const object detail = admin_audit::OrgCreate(name, kind);
  CONCORD_RETURN_IF_ERROR(RecordChange(ctx, caller, req, detail));
  CONCORD_ASSIGN_OR_RETURN(store::Organisation o, Completed(ctx, caller, req, detail, ctx.accounts->CreateOrganisation(name, kind)));
  return Reply(201, OrgJson(o));
}

// ---- users -------------------------------------------------------------------------------------------

absl::StatusOr<http::Response> ListUsers(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  std::optional<std::string> org;
  if (auto o = req.query.Get("org")) org = std::string(*o);
  std::vector<store::User> users;
  if (IsAdmin(caller)) {
    if (org) {
      CONCORD_ASSIGN_OR_RETURN(users, ctx.accounts->ListUsers(std::string_view(*org)));
    } else {
      CONCORD_ASSIGN_OR_RETURN(users, ctx.accounts->ListUsers());
    }
  } else if (IsOrgAdmin(caller)) {
    if (org) {
      auto named = ctx.accounts->GetOrganisation(*org);
      if (!named.ok() || named->id != caller.org_id) {
        return absl::PermissionDeniedError("an org-admin lists the users of its own organisation only");
      }
    }
    CONCORD_ASSIGN_OR_RETURN(users, ctx.accounts->ListUsers(std::string_view(caller.org_id)));
  } else {
    CONCORD_ASSIGN_OR_RETURN(store::User self, ctx.accounts->GetUser(caller.user));
    if (!org || *org == self.org_id) users.push_back(std::move(self));
  }
  array out;
  for (const auto& u : users) out.push_back(UserJson(u));
  return Reply(200, object{{"users", std::move(out)}});
}

absl::StatusOr<http::Response> GetUser(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  CONCORD_ASSIGN_OR_RETURN(store::User u, UserInReach(ctx, caller, req.Param("user")));
  return Reply(200, UserJson(u));
}

absl::StatusOr<http::Response> CreateUser(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  if (!IsAdmin(caller) && !IsOrgAdmin(caller)) {
    return absl::PermissionDeniedError("only an admin or an org-admin may create users");
  }
  CONCORD_RETURN_IF_ERROR(RequireWrite(caller));
  CONCORD_ASSIGN_OR_RETURN(object body, Body(req, {"name", "org", "role"}));
  CONCORD_ASSIGN_OR_RETURN(std::string name, ReqString(body, "name"));
  CONCORD_ASSIGN_OR_RETURN(std::string role_name, ReqString(body, "role"));
  CONCORD_ASSIGN_OR_RETURN(store::Role role, RoleField(role_name));
  CONCORD_ASSIGN_OR_RETURN(std::optional<std::string> org, OptString(body, "org"));
  if (!org) org = caller.org_id;
  auto named = ctx.accounts->GetOrganisation(*org);
  if (IsOrgAdmin(caller)) {
    if (!named.ok() || named->id != caller.org_id) {
      return absl::PermissionDeniedError("an org-admin creates users in its own organisation only");
    }
    if (IsPrivileged(role)) {
      return absl::PermissionDeniedError(fmt::format("only an admin may give the role {}", role_name));
    }
  }
  if (absl::IsNotFound(named.status())) return FieldError("org", Sv(named.status().message()));
  if (!named.ok()) return named.status();
  const object detail = admin_audit::UserCreate(name, named->id, role);
  CONCORD_RETURN_IF_ERROR(RecordChange(ctx, caller, req, detail));
  CONCORD_ASSIGN_OR_RETURN(store::User u, Completed(ctx, caller, req, detail, ctx.accounts->CreateUser(name, named->id, role)));
  return Reply(201, UserJson(u));
}

absl::StatusOr<http::Response> UpdateUser(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  CONCORD_ASSIGN_OR_RETURN(store::User u, UserInReach(ctx, caller, req.Param("user")));
  CONCORD_RETURN_IF_ERROR(MayManage(caller, u));
  CONCORD_RETURN_IF_ERROR(RequireWrite(caller));
  CONCORD_ASSIGN_OR_RETURN(object body, Body(req, {"role", "disabled"}));
  CONCORD_ASSIGN_OR_RETURN(std::optional<std::string> role_name, OptString(body, "role"));
  CONCORD_ASSIGN_OR_RETURN(std::optional<bool> disabled, OptBool(body, "disabled"));
  std::optional<store::Role> role;
  if (role_name) {
    CONCORD_ASSIGN_OR_RETURN(role, RoleField(*role_name));
    if (IsOrgAdmin(caller) && IsPrivileged(*role)) {
      return absl::PermissionDeniedError(fmt::format("only an admin may give the role {}", *role_name));
    }
  }
  // Checked before any change, so that a refused request changes nothing.
  if (IsSelf(caller, u) && role && *role != u.role) {
    return absl::FailedPreconditionError("you cannot change your own role");
  }
  if (IsSelf(caller, u) && disabled.value_or(false)) {
    return absl::FailedPreconditionError("you cannot disable yourself");
  }
  const bool new_role = role && *role != u.role;
  const bool new_disabled = disabled && *disabled != u.disabled;
  if (new_role || new_disabled) {  // a request that changes nothing is not an administrative change
    object detail{{"op", "user.update"}, {"user", u.name}, {"org", u.org_id}};
    if (new_role) {
      detail["role"] = store::RoleName(*role);
      detail["previous_role"] = store::RoleName(u.role);
    }
    if (new_disabled) detail["disabled"] = *disabled;
    CONCORD_RETURN_IF_ERROR(RecordChange(ctx, caller, req, detail));
    if (new_role) CONCORD_RETURN_IF_ERROR(Completed(ctx, caller, req, detail, ctx.accounts->SetRole(u.id, *role)));
    if (new_disabled) {
      CONCORD_RETURN_IF_ERROR(Completed(ctx, caller, req, detail,
                                        *disabled ? ctx.accounts->DisableUser(u.id) : ctx.accounts->EnableUser(u.id)));
    }
  }
  CONCORD_ASSIGN_OR_RETURN(store::User updated, ctx.accounts->GetUser(u.id));
  return Reply(200, UserJson(updated));
}

// ---- keys --------------------------------------------------------------------------------------------

absl::StatusOr<http::Response> ListKeys(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  CONCORD_ASSIGN_OR_RETURN(store::User u, UserInReach(ctx, caller, req.Param("user")));
  CONCORD_ASSIGN_OR_RETURN(std::vector<store::ApiKey> keys, ctx.accounts->ListKeys(u.id));
  const Timestamp now = ctx.clock->Now();
  array out;
  for (const auto& k : keys) out.push_back(KeyJson(k, now));
  return Reply(200, object{{"keys", std::move(out)}});
}

absl::StatusOr<http::Response> IssueKey(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  CONCORD_ASSIGN_OR_RETURN(store::User u, UserInReach(ctx, caller, req.Param("user")));
  CONCORD_RETURN_IF_ERROR(MayManage(caller, u));
  CONCORD_RETURN_IF_ERROR(RequireWrite(caller));
  store::KeyOptions options;
  if (!req.body.empty()) {
    CONCORD_ASSIGN_OR_RETURN(object body, Body(req, {"expires", "allowed_cidrs", "read_only"}));
    CONCORD_ASSIGN_OR_RETURN(std::optional<std::string> expires, OptString(body, "expires"));
    if (expires) {
      auto t = ParseRfc3339(*expires);
      if (!t.ok()) return FieldError("expires", Sv(t.status().message()));
      options.expires = *t;
    }
    CONCORD_ASSIGN_OR_RETURN(options.cidrs, OptStrings(body, "allowed_cidrs"));
    CONCORD_ASSIGN_OR_RETURN(std::optional<bool> read_only, OptBool(body, "read_only"));
    options.read_only = read_only.value_or(false);
  }
  CONCORD_ASSIGN_OR_RETURN(store::IssuedKey issued, ctx.accounts->IssueKey(u.id, options));
  // Recorded after the fact because the entry names the new key. Unrecorded, the key must not exist: it is
  // revoked before anyone has seen its token (should the revocation fail too, nobody ever holds the secret).
  if (absl::Status recorded = Audit(ctx, caller, req, audit::Action::kAdmin, {}, "ok",
                                    admin_audit::KeyIssue(u, issued.key));
      !recorded.ok()) {
    if (auto revoked = ctx.accounts->RevokeKey(issued.key.key_id); !revoked.ok()) {
      spdlog::error("API key {} issued without an audit entry could not be revoked: {}", issued.key.key_id,
                    Sv(revoked.status().message()));
    }
    return recorded;
  }
  // The token appears here and nowhere else, ever.
  http::Response r = Reply(201, object{{"key", KeyJson(issued.key, ctx.clock->Now())}, {"token", issued.token}});
  r.headers.Set("Cache-Control", "no-store");
  return r;
}

absl::StatusOr<http::Response> RevokeKey(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  CONCORD_ASSIGN_OR_RETURN(store::User u, UserInReach(ctx, caller, req.Param("user")));
  // Revoking only takes rights away: the user themselves may, even with a read-only key (a leaked key must
  // be stoppable by its owner).
  if (!IsSelf(caller, u)) {
    CONCORD_RETURN_IF_ERROR(MayManage(caller, u));
    CONCORD_RETURN_IF_ERROR(RequireWrite(caller));
  }
  const std::string key_id(req.Param("key_id"));
  CONCORD_ASSIGN_OR_RETURN(std::vector<store::ApiKey> keys, ctx.accounts->ListKeys(u.id));
  auto key = std::find_if(keys.begin(), keys.end(), [&](const store::ApiKey& k) { return k.key_id == key_id; });
  if (key == keys.end()) return absl::NotFoundError(fmt::format("API key '{}' of user '{}' not found", key_id, u.name));
  if (key->revoked) return Reply(200, KeyJson(*key, ctx.clock->Now()));  // already: nothing changes
  const object detail = admin_audit::KeyRevoke(u, key_id);
  CONCORD_RETURN_IF_ERROR(RecordChange(ctx, caller, req, detail));
  CONCORD_ASSIGN_OR_RETURN(store::ApiKey revoked, Completed(ctx, caller, req, detail, ctx.accounts->RevokeKey(key_id)));
  return Reply(200, KeyJson(revoked, ctx.clock->Now()));
}

// ---- sharing groups ----------------------------------------------------------------------------------

bool IsMember(const store::SharingGroup& g, std::string_view org) {
  return std::find(g.member_orgs.begin(), g.member_orgs.end(), org) != g.member_orgs.end();
}

// The group, when `c` may see it (admin, or a member); otherwise 404 as for an unknown group.
absl::StatusOr<store::SharingGroup> GroupInReach(const ApiContext& ctx, const Caller& c, std::string_view group) {
  auto g = ctx.accounts->GetSharingGroup(group);
  if (!g.ok()) return g.status();
  if (IsAdmin(c) || IsMember(*g, c.org_id)) return g;
  return absl::NotFoundError(fmt::format("sharing group '{}' not found", group));
}

absl::StatusOr<http::Response> ListGroups(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  CONCORD_ASSIGN_OR_RETURN(std::vector<store::SharingGroup> groups, ctx.accounts->ListSharingGroups());
  array out;
  for (const auto& g : groups) {
    if (IsAdmin(caller) || IsMember(g, caller.org_id)) out.push_back(GroupJson(g));
  }
  return Reply(200, object{{"sharing_groups", std::move(out)}});
}

absl::StatusOr<http::Response> GetGroup(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  CONCORD_ASSIGN_OR_RETURN(store::SharingGroup g, GroupInReach(ctx, caller, req.Param("group")));
  return Reply(200, GroupJson(g));
}

absl::StatusOr<http::Response> CreateGroup(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  if (!IsAdmin(caller) && !IsOrgAdmin(caller)) {
    return absl::PermissionDeniedError("only an admin or an org-admin may create sharing groups");
  }
  CONCORD_RETURN_IF_ERROR(RequireWrite(caller));
  CONCORD_ASSIGN_OR_RETURN(object body, Body(req, {"name", "description", "owner_org", "member_orgs"}));
  CONCORD_ASSIGN_OR_RETURN(std::string name, ReqString(body, "name"));
  CONCORD_ASSIGN_OR_RETURN(std::optional<std::string> description, OptString(body, "description"));
  CONCORD_ASSIGN_OR_RETURN(std::optional<std::string> owner, OptString(body, "owner_org"));
  CONCORD_ASSIGN_OR_RETURN(std::vector<std::string> members, OptStrings(body, "member_orgs"));
  if (!owner) owner = caller.org_id;
  auto owner_org = ctx.accounts->GetOrganisation(*owner);
  if (!IsAdmin(caller)) {
    if (!owner_org.ok() || owner_org->id != caller.org_id) {
      return absl::PermissionDeniedError("an org-admin creates sharing groups owned by its own organisation only");
    }
  }
  if (absl::IsNotFound(owner_org.status())) return FieldError("owner_org", Sv(owner_org.status().message()));
  if (!owner_org.ok()) return owner_org.status();
  // Every member must exist before anything is written, so that a typo creates nothing.
  CONCORD_ASSIGN_OR_RETURN(std::vector<store::Organisation> member_orgs, ResolveOrgs(ctx, members, "member_orgs"));
  const object detail{{"op", "group.create"},
                      {"name", name},
                      {"owner_org", owner_org->id},
                      {"member_orgs", OrgIds(member_orgs)}};
  CONCORD_RETURN_IF_ERROR(RecordChange(ctx, caller, req, detail));
  CONCORD_ASSIGN_OR_RETURN(
      store::SharingGroup g,
      Completed(ctx, caller, req, detail,
                ctx.accounts->CreateSharingGroup(name, description.value_or(""), owner_org->id)));
  for (const store::Organisation& m : member_orgs) {
    auto added = ctx.accounts->AddSharingGroupMember(g.id, m.id);
    if (!added.ok()) {
      ctx.sharing_groups_changed();
      return Completed(ctx, caller, req, detail,
                       Annotate(added.status(), fmt::format("sharing group {} was created, adding member '{}'", g.id, m.name)));
    }
    g = *std::move(added);
  }
  ctx.sharing_groups_changed();
  return Reply(201, GroupJson(g));
}

absl::StatusOr<http::Response> ChangeGroupMember(const ApiContext& ctx, http::Request& req, bool add) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  CONCORD_ASSIGN_OR_RETURN(store::SharingGroup g, GroupInReach(ctx, caller, req.Param("group")));
  const std::string_view org = req.Param("org");
  bool allowed = IsAdmin(caller) || (IsOrgAdmin(caller) && g.owner_org == caller.org_id);
  if (!allowed && !add && IsOrgAdmin(caller)) {
    // An org-admin may take its own organisation out of a group it was put in.
    auto named = ctx.accounts->GetOrganisation(org);
    allowed = named.ok() && named->id == caller.org_id;
  }
  if (!allowed) {
    return absl::PermissionDeniedError("only an admin or an org-admin of the owning organisation may change members");
  }
  CONCORD_RETURN_IF_ERROR(RequireWrite(caller));
  CONCORD_ASSIGN_OR_RETURN(store::Organisation member, ctx.accounts->GetOrganisation(org));
  const object detail{{"op", add ? "group.member.add" : "group.member.remove"}, {"group", g.id}, {"org", member.id}};
  CONCORD_RETURN_IF_ERROR(RecordChange(ctx, caller, req, detail));
  auto changed = Completed(ctx, caller, req, detail,
                           add ? ctx.accounts->AddSharingGroupMember(g.id, member.id)
                               : ctx.accounts->RemoveSharingGroupMember(g.id, member.id));
  if (!changed.ok()) return changed.status();
  ctx.sharing_groups_changed();
  return Reply(200, GroupJson(*changed));
}

// ---- communities -------------------------------------------------------------------------------------

absl::StatusOr<http::Response> ListCommunities(const ApiContext& ctx, http::Request& req) {
  CONCORD_RETURN_IF_ERROR(ctx.authenticate(req).status());
  CONCORD_ASSIGN_OR_RETURN(std::vector<store::Community> communities, ctx.accounts->ListCommunities());
  array out;
  for (const auto& c : communities) out.push_back(CommunityJson(c));
  return Reply(200, object{{"communities", std::move(out)}});
}

absl::StatusOr<http::Response> GetCommunity(const ApiContext& ctx, http::Request& req) {
  CONCORD_RETURN_IF_ERROR(ctx.authenticate(req).status());
  CONCORD_ASSIGN_OR_RETURN(store::Community c, ctx.accounts->GetCommunity(req.Param("name")));
  return Reply(200, CommunityJson(c));
}

absl::StatusOr<http::Response> CreateCommunity(const ApiContext& ctx, http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  if (!IsAdmin(caller)) return absl::PermissionDeniedError("only an admin may create communities");
  CONCORD_RETURN_IF_ERROR(RequireWrite(caller));
  CONCORD_ASSIGN_OR_RETURN(object body, Body(req, {"name", "description", "member_orgs"}));
  CONCORD_ASSIGN_OR_RETURN(std::string name, ReqString(body, "name"));
  CONCORD_ASSIGN_OR_RETURN(std::optional<std::string> description, OptString(body, "description"));
  CONCORD_ASSIGN_OR_RETURN(std::vector<std::string> members, OptStrings(body, "member_orgs"));
  CONCORD_ASSIGN_OR_RETURN(std::vector<store::Organisation> member_orgs, ResolveOrgs(ctx, members, "member_orgs"));
  const object detail{{"op", "community.create"}, {"name", name}, {"member_orgs", OrgIds(member_orgs)}};
  CONCORD_RETURN_IF_ERROR(RecordChange(ctx, caller, req, detail));
  CONCORD_ASSIGN_OR_RETURN(store::Community c, Completed(ctx, caller, req, detail,
                                                         ctx.accounts->CreateCommunity(name, description.value_or(""))));
  for (const store::Organisation& m : member_orgs) {
    auto added = ctx.accounts->AddCommunityMember(c.name, m.id);
    if (!added.ok()) {
      return Completed(ctx, caller, req, detail,
                       Annotate(added.status(), fmt::format("community {} was created, adding member '{}'", c.name, m.name)));
    }
    c = *std::move(added);
  }
  return Reply(201, CommunityJson(c));
}

absl::StatusOr<http::Response> ChangeCommunityMember(const ApiContext& ctx, http::Request& req, bool add) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  if (!IsAdmin(caller)) return absl::PermissionDeniedError("only an admin may change community members");
  CONCORD_RETURN_IF_ERROR(RequireWrite(caller));
  const std::string_view name = req.Param("name");
  CONCORD_ASSIGN_OR_RETURN(store::Community community, ctx.accounts->GetCommunity(name));
  CONCORD_ASSIGN_OR_RETURN(store::Organisation member, ctx.accounts->GetOrganisation(req.Param("org")));
  const object detail{
      {"op", add ? "community.member.add" : "community.member.remove"}, {"community", community.name}, {"org", member.id}};
  CONCORD_RETURN_IF_ERROR(RecordChange(ctx, caller, req, detail));
  CONCORD_ASSIGN_OR_RETURN(store::Community c,
                           Completed(ctx, caller, req, detail,
                                     add ? ctx.accounts->AddCommunityMember(community.name, member.id)
                                         : ctx.accounts->RemoveCommunityMember(community.name, member.id)));
  return Reply(200, CommunityJson(c));
}

}  // namespace

// ---- audit entry shapes, shared with the CLI -------------------------------------------------------------

namespace admin_audit {

object OrgCreate(std::string_view name, store::OrgKind kind) {
  return {{"op", "org.create"}, {"name", name}, {"kind", store::OrgKindName(kind)}};
}

object UserCreate(std::string_view user, std::string_view org_id, store::Role role) {
  return {{"op", "user.create"}, {"user", user}, {"org", org_id}, {"role", store::RoleName(role)}};
}

object KeyIssue(const store::User& user, const store::ApiKey& key) {
  return {{"op", "key.issue"},
          {"user", user.name},
          {"org", user.org_id},
          {"key_id", key.key_id},
          {"expires", OptionalTime(key.expires)},
          {"allowed_cidrs", Strings(key.allowed_cidrs)},
          {"read_only", key.read_only}};
}

object KeyRevoke(const store::User& user, std::string_view key_id) {
  return {{"op", "key.revoke"}, {"user", user.name}, {"org", user.org_id}, {"key_id", key_id}};
}

}  // namespace admin_audit

// ---- the snapshot ------------------------------------------------------------------------------------

SharingGroupSnapshot::SharingGroupSnapshot(store::Accounts& accounts, const Clock& clock, int64_t max_age_millis)
    : accounts_(accounts), clock_(clock), max_age_micros_(max_age_millis * 1000) {}

std::shared_ptr<const policy::PolicyContext> SharingGroupSnapshot::Get() {
  // Fresh: loaded, not invalidated since, and younger than max_age (a clock that went back: reload).
  auto fresh = [this](int64_t now) {
    const int64_t age = now - loaded_micros_;
    return current_ != nullptr && loaded_generation_ == generation_ && age >= 0 && age < max_age_micros_;
  };
  {
    std::lock_guard lock(mu_);
    if (fresh(clock_.Now().UnixMicros())) return current_;
  }
  std::lock_guard reload(reload_mu_);
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    if (fresh(clock_.Now().UnixMicros())) return current_;  // another thread reloaded meanwhile
    generation = generation_;
  }
  // An Invalidate that happens during the load bumps generation_, so this load does not count as fresh
  // and the next Get reads again: a change is never masked by a read that started before it committed.
  auto groups = accounts_.ListSharingGroups();
  const int64_t now = clock_.Now().UnixMicros();
  std::lock_guard lock(mu_);
  if (!groups.ok()) {
    spdlog::warn("sharing groups: reload failed, keeping the previous snapshot: {}", Sv(groups.status().message()));
    if (current_ == nullptr) current_ = std::make_shared<const policy::PolicyContext>();  // stays stale: retried
    return current_;
  }
  auto context = std::make_shared<policy::PolicyContext>();
  for (const store::SharingGroup& g : *groups) {
    policy::SharingGroup sg;
    sg.id = g.id;
    sg.member_orgs.insert(g.member_orgs.begin(), g.member_orgs.end());
    context->sharing_groups.emplace(g.id, std::move(sg));
  }
  current_ = std::move(context);
  loaded_micros_ = now;
  loaded_generation_ = generation;
  return current_;
}

void SharingGroupSnapshot::Invalidate() {
  std::lock_guard lock(mu_);
  ++generation_;
}

// ---- routes ------------------------------------------------------------------------------------------

absl::Status AddAdminRoutes(http::Router& router, const ApiContext& ctx) {
  if (ctx.accounts == nullptr) return absl::InvalidArgumentError("the admin routes need an accounts store");
  const ApiContext* c = &ctx;
  struct Route {
    const char* method;
    const char* pattern;
    absl::StatusOr<http::Response> (*handler)(const ApiContext&, http::Request&);
  };
  static constexpr Route kRoutes[] = {
      {"GET", "/api/v1/organisations", ListOrganisations},
      {"POST", "/api/v1/organisations", CreateOrganisation},
      {"GET", "/api/v1/organisations/{org}", GetOrganisation},
      {"GET", "/api/v1/users", ListUsers},
      {"POST", "/api/v1/users", CreateUser},
      {"GET", "/api/v1/users/{user}", GetUser},
      {"PATCH", "/api/v1/users/{user}", UpdateUser},
      {"GET", "/api/v1/users/{user}/keys", ListKeys},
      {"POST", "/api/v1/users/{user}/keys", IssueKey},
      {"DELETE", "/api/v1/users/{user}/keys/{key_id}", RevokeKey},
      {"GET", "/api/v1/sharing-groups", ListGroups},
      {"POST", "/api/v1/sharing-groups", CreateGroup},
      {"GET", "/api/v1/sharing-groups/{group}", GetGroup},
      {"PUT", "/api/v1/sharing-groups/{group}/members/{org}",
       [](const ApiContext& x, http::Request& r) { return ChangeGroupMember(x, r, true); }},
      {"DELETE", "/api/v1/sharing-groups/{group}/members/{org}",
       [](const ApiContext& x, http::Request& r) { return ChangeGroupMember(x, r, false); }},
      {"GET", "/api/v1/communities", ListCommunities},
      {"POST", "/api/v1/communities", CreateCommunity},
      {"GET", "/api/v1/communities/{name}", GetCommunity},
      {"PUT", "/api/v1/communities/{name}/members/{org}",
       [](const ApiContext& x, http::Request& r) { return ChangeCommunityMember(x, r, true); }},
      {"DELETE", "/api/v1/communities/{name}/members/{org}",
       [](const ApiContext& x, http::Request& r) { return ChangeCommunityMember(x, r, false); }},
  };
  for (const Route& route : kRoutes) {
    auto* handler = route.handler;
    CONCORD_RETURN_IF_ERROR(
        router.Add(route.method, route.pattern, [c, handler](http::Request& r) { return handler(*c, r); }));
  }
  return absl::OkStatus();
}

}  // namespace concord::api
