#include "node/account_commands.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>

#include "api/api.h"
#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"
#include "common/status.h"
#include "fmt/format.h"
#include "node/cli_audit.h"
#include "store/accounts.h"

namespace concord::node {
namespace {

constexpr int kOk = 0;
constexpr int kProblem = 1;
constexpr int kUsage = 2;

int Fail(std::ostream& err, const absl::Status& status) {
  err << "concord: " << Sv(status.message()) << '\n';
  return status.code() == absl::StatusCode::kInvalidArgument ? kUsage : kProblem;
}

int Usage(std::ostream& err, std::string_view message) {
  err << "concord: " << message << '\n';
  return kUsage;
}

absl::StatusOr<std::unique_ptr<store::Accounts>> Open(const std::string& db, bool read_only, const Clock& clock) {
  if (!read_only && db.find("://") == std::string::npos && !db.starts_with("sqlite:")) {
    const auto parent = std::filesystem::path(db).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);  // Open reports what matters
  }
  store::OpenOptions options;
  options.clock = &clock;
  options.read_only = read_only;
  return store::OpenAccounts(db, options);
}

std::string Time(const Timestamp& t) { return FormatRfc3339(t, 0); }

boost::json::value OptionalTime(const std::optional<Timestamp>& t) {
  return t ? boost::json::value(FormatRfc3339(*t)) : boost::json::value(nullptr);
}

boost::json::object OrgJson(const store::Organisation& o) {
  return {{"id", o.id},
          {"name", o.name},
          {"kind", store::OrgKindName(o.kind)},
          {"host", o.host},
          {"created", FormatRfc3339(o.created)}};
}

boost::json::object UserJson(const store::User& u, std::string_view org_name) {
  return {{"id", u.id},
          {"name", u.name},
          {"org_id", u.org_id},
          {"org", org_name},
          {"role", store::RoleName(u.role)},
          {"created", FormatRfc3339(u.created)},
          {"disabled", u.disabled}};
}

std::string_view KeyStatus(const store::ApiKey& k, const Timestamp& now) {
  if (k.revoked) return "revoked";
  if (k.expires && *k.expires <= now) return "expired";
  return "active";
}

boost::json::object KeyJson(const store::ApiKey& k, const Timestamp& now) {
  boost::json::array cidrs;
  for (const std::string& c : k.allowed_cidrs) cidrs.emplace_back(c);
  return {{"key_id", k.key_id},
          {"user_id", k.user_id},
          {"status", KeyStatus(k, now)},
          {"created", FormatRfc3339(k.created)},
          {"expires", OptionalTime(k.expires)},
          {"allowed_cidrs", std::move(cidrs)},
          {"read_only", k.read_only},
          {"revoked", OptionalTime(k.revoked)},
          {"last_used", OptionalTime(k.last_used)}};
}

// Key options checked before anything is written, so that `user add` with a bad --cidr creates nothing.
absl::StatusOr<store::KeyOptions> KeyOptionsFrom(const KeyArgs& args, const Timestamp& now) {
  store::KeyOptions options;
  options.read_only = args.read_only;
  if (!args.expires.empty()) {
    CONCORD_ASSIGN_OR_RETURN(Timestamp expires, ParseExpiry(args.expires, now));
    if (expires <= now) {
      return absl::InvalidArgumentError(fmt::format("--expires {}: lies in the past", args.expires));
    }
    options.expires = expires;
  }
  for (const std::string& cidr : args.cidrs) {
    auto parsed = store::ParseCidr(cidr);
    if (!parsed.ok()) return absl::InvalidArgumentError(fmt::format("--cidr {}", Sv(parsed.status().message())));
    options.cidrs.push_back(parsed->ToString());
  }
  return options;
}

// Prints a new key: the token alone, or one JSON document; the note goes to standard error.
void PrintIssued(const store::IssuedKey& issued, const store::User& user, std::string_view org_name, bool with_user,
                 bool json, std::ostream& out, std::ostream& err, const Timestamp& now) {
  if (json) {
    boost::json::object doc{{"key", KeyJson(issued.key, now)}, {"token", issued.token}};
    if (with_user) doc["user"] = UserJson(user, org_name);
    out << boost::json::serialize(doc) << '\n';
  } else {
    out << issued.token << '\n';
  }
  err << fmt::format("API key {} for user '{}' ({}): this is the only time it is shown; store it now\n",
                     issued.key.key_id, user.name, org_name);
}

// Records a key just issued (the entry names its id); when that fails the key is revoked before its token is
// shown to anyone, and the error says so.
absl::Status RecordIssuedKey(CliAudit& log, store::Accounts& accounts, const store::User& user,
                             const store::IssuedKey& issued, std::string_view command) {
  boost::json::object detail = api::admin_audit::KeyIssue(user, issued.key);
  detail["command"] = command;
  absl::Status recorded = log.Record(audit::Action::kAdmin, {}, "ok", "", std::move(detail));
  if (recorded.ok()) return recorded;
  auto revoked = accounts.RevokeKey(issued.key.key_id);
  return Annotate(recorded, fmt::format("API key {} for user '{}' {}", issued.key.key_id, user.name,
                                        revoked.ok() ? "was revoked unseen" : "was never shown"));
}

}  // namespace

absl::StatusOr<Timestamp> ParseExpiry(std::string_view text, const Timestamp& now) {
  if (text.find('T') != std::string_view::npos) {
    auto t = ParseRfc3339(text);
    if (!t.ok()) return absl::InvalidArgumentError(fmt::format("--expires {}: {}", text, Sv(t.status().message())));
    return *t;
  }
  static const std::map<char, int64_t> kUnitSeconds = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
  const auto unit = text.empty() ? kUnitSeconds.end() : kUnitSeconds.find(text.back());
  const std::string_view digits = text.empty() ? text : text.substr(0, text.size() - 1);
  int64_t n = 0;
  bool ok = unit != kUnitSeconds.end() && !digits.empty() && digits.size() <= 9;
  for (char c : digits) {
    ok = ok && c >= '0' && c <= '9';
    n = n * 10 + (c - '0');
  }
  if (!ok || n == 0) {
    return absl::InvalidArgumentError(fmt::format(
        "--expires {}: expected an RFC 3339 time (2026-01-01T00:00:00Z) or a duration such as 90d, 12h, 2w", text));
  }
  return Timestamp::FromUnixMillis(now.UnixMillis() + n * unit->second * 1000);
}

int RunOrgAdd(const std::string& db, const OrgAddArgs& args, bool json, std::ostream& out, std::ostream& err,
              const Clock& clock) {
  auto accounts = Open(db, false, clock);
  if (!accounts.ok()) return Fail(err, accounts.status());
  if (args.host && args.remote) return Fail(err, absl::InvalidArgumentError("--host and --remote exclude each other"));
  auto log = CliAudit::Open(db, clock);
  if (!log.ok()) return Fail(err, log.status());
  const store::OrgKind kind = args.remote ? store::OrgKind::kRemote : store::OrgKind::kLocal;
  boost::json::object detail = api::admin_audit::OrgCreate(args.name, kind);
  if (args.host) detail["op"] = "org.host";
  detail["command"] = "org add";
  if (absl::Status s = log->Record(audit::Action::kAdmin, {}, "ok", "", detail); !s.ok()) return Fail(err, s);
  auto org = args.host ? (*accounts)->EnsureHostOrganisation(args.name) : (*accounts)->CreateOrganisation(args.name, kind);
  if (!org.ok()) {
    log->RecordFailure(audit::Action::kAdmin, std::move(detail), org.status());
    return Fail(err, org.status());
  }
  if (json) {
    out << boost::json::serialize(OrgJson(*org)) << '\n';
  } else {
    out << org->id << '\n';
    err << fmt::format("organisation '{}' added ({})\n", org->name, store::OrgKindName(org->kind));
  }
  return kOk;
}

int RunOrgList(const std::string& db, bool json, std::ostream& out, std::ostream& err, const Clock& clock) {
  auto accounts = Open(db, true, clock);
  if (!accounts.ok()) return Fail(err, accounts.status());
  auto orgs = (*accounts)->ListOrganisations();
  if (!orgs.ok()) return Fail(err, orgs.status());
  if (json) {
    boost::json::array list;
    for (const auto& o : *orgs) list.push_back(OrgJson(o));
    out << boost::json::serialize(list) << '\n';
    return kOk;
  }
  out << fmt::format("{:<46} {:<6} {:<4} {:<20} {}\n", "id", "kind", "host", "created", "name");
  for (const auto& o : *orgs) {
    out << fmt::format("{:<46} {:<6} {:<4} {:<20} {}\n", o.id, store::OrgKindName(o.kind), o.host ? "yes" : "",
                       Time(o.created), o.name);
  }
  return kOk;
}

int RunUserAdd(const std::string& db, const UserAddArgs& args, bool json, std::ostream& out, std::ostream& err,
               const Clock& clock) {
  const std::optional<store::Role> role = store::ParseRole(args.role);
  if (!role) {
    return Usage(err, fmt::format("--role {}: expected admin, org-admin, analyst, duty-officer, read-only or sync",
                                  args.role));
  }
  const Timestamp now = clock.Now();
  auto options = KeyOptionsFrom(args.key, now);
  if (!options.ok()) return Fail(err, options.status());
  auto accounts = Open(db, false, clock);
  if (!accounts.ok()) return Fail(err, accounts.status());
  auto org = (*accounts)->GetOrganisation(args.org);
  if (!org.ok()) {
    return Fail(err, Annotate(org.status(), "--org (add it first with 'concord org add NAME')"));
  }
  auto log = CliAudit::Open(db, clock);
  if (!log.ok()) return Fail(err, log.status());
  boost::json::object detail = api::admin_audit::UserCreate(args.name, org->id, *role);
  detail["command"] = "user add";
  if (absl::Status s = log->Record(audit::Action::kAdmin, {}, "ok", "", detail); !s.ok()) return Fail(err, s);
  auto user = (*accounts)->CreateUser(args.name, org->id, *role);
  if (!user.ok()) {
    log->RecordFailure(audit::Action::kAdmin, std::move(detail), user.status());
    return Fail(err, user.status());
  }
  auto issued = (*accounts)->IssueKey(user->id, *options);
  if (!issued.ok()) {
    return Fail(err, Annotate(issued.status(), fmt::format("user '{}' was added, but issuing its key failed (retry "
                                                           "with 'concord user key {}')",
                                                           user->name, user->name)));
  }
  if (absl::Status s = RecordIssuedKey(*log, **accounts, *user, *issued, "user add"); !s.ok()) {
    return Fail(err, Annotate(s, fmt::format("user '{}' was added without a usable key", user->name)));
  }
  PrintIssued(*issued, *user, org->name, /*with_user=*/true, json, out, err, now);
  return kOk;
}

int RunUserList(const std::string& db, const UserListArgs& args, bool json, std::ostream& out, std::ostream& err,
                const Clock& clock) {
  auto accounts = Open(db, true, clock);
  if (!accounts.ok()) return Fail(err, accounts.status());
  auto orgs = (*accounts)->ListOrganisations();
  if (!orgs.ok()) return Fail(err, orgs.status());
  std::map<std::string, std::string> org_names;
  for (const auto& o : *orgs) org_names[o.id] = o.name;
  auto users = args.org.empty() ? (*accounts)->ListUsers() : (*accounts)->ListUsers(args.org);
  if (!users.ok()) return Fail(err, users.status());
  if (json) {
    boost::json::array list;
    for (const auto& u : *users) list.push_back(UserJson(u, org_names[u.org_id]));
    out << boost::json::serialize(list) << '\n';
    return kOk;
  }
  out << fmt::format("{:<24} {:<12} {:<8} {:<20} {}\n", "name", "role", "status", "created", "organisation");
  for (const auto& u : *users) {
    out << fmt::format("{:<24} {:<12} {:<8} {:<20} {}\n", u.name, store::RoleName(u.role),
                       u.disabled ? "disabled" : "active", Time(u.created), org_names[u.org_id]);
  }
  return kOk;
}

int RunUserKey(const std::string& db, const UserKeyArgs& args, bool json, std::ostream& out, std::ostream& err,
               const Clock& clock) {
  const bool key_options = !args.key.expires.empty() || !args.key.cidrs.empty() || args.key.read_only;
  if (args.list && !args.revoke.empty()) return Usage(err, "--list and --revoke cannot be used together");
  if ((args.list || !args.revoke.empty()) && key_options) {
    return Usage(err, "--expires, --cidr and --read-only apply only when issuing a key");
  }
  const Timestamp now = clock.Now();
  store::KeyOptions options;
  if (!args.list && args.revoke.empty()) {
    auto parsed = KeyOptionsFrom(args.key, now);
    if (!parsed.ok()) return Fail(err, parsed.status());
    options = *std::move(parsed);
  }
  auto accounts = Open(db, args.list, clock);
  if (!accounts.ok()) return Fail(err, accounts.status());
  auto user = (*accounts)->GetUser(args.name);
  if (!user.ok()) return Fail(err, user.status());

  if (args.list || !args.revoke.empty()) {
    auto keys = (*accounts)->ListKeys(user->id);
    if (!keys.ok()) return Fail(err, keys.status());
    if (!args.revoke.empty()) {
      const auto key = std::find_if(keys->begin(), keys->end(),
                                    [&](const store::ApiKey& k) { return k.key_id == args.revoke; });
      if (key == keys->end()) {
        return Fail(err, absl::NotFoundError(fmt::format("user '{}' has no key '{}'", user->name, args.revoke)));
      }
      absl::StatusOr<store::ApiKey> revoked = *key;
      if (!key->revoked) {  // revoking a revoked key changes nothing and is not recorded
        auto log = CliAudit::Open(db, clock);
        if (!log.ok()) return Fail(err, log.status());
        boost::json::object detail = api::admin_audit::KeyRevoke(*user, args.revoke);
        detail["command"] = "user key --revoke";
        if (absl::Status s = log->Record(audit::Action::kAdmin, {}, "ok", "", detail); !s.ok()) return Fail(err, s);
        revoked = (*accounts)->RevokeKey(args.revoke);
        if (!revoked.ok()) {
          log->RecordFailure(audit::Action::kAdmin, std::move(detail), revoked.status());
          return Fail(err, revoked.status());
        }
      }
      if (json) {
        out << boost::json::serialize(KeyJson(*revoked, now)) << '\n';
      } else {
        out << "revoked " << revoked->key_id << '\n';
      }
      return kOk;
    }
    if (json) {
      boost::json::array list;
      for (const auto& k : *keys) list.push_back(KeyJson(k, now));
      out << boost::json::serialize(list) << '\n';
      return kOk;
    }
    out << fmt::format("{:<16} {:<7} {:<20} {:<20} {:<20} {:<10} {}\n", "key_id", "status", "created", "expires",
                       "last_used", "access", "allowed_cidrs");
    for (const auto& k : *keys) {
      out << fmt::format("{:<16} {:<7} {:<20} {:<20} {:<20} {:<10} {}\n", k.key_id, KeyStatus(k, now),
                         Time(k.created), k.expires ? Time(*k.expires) : "never",
                         k.last_used ? Time(*k.last_used) : "never", k.read_only ? "read-only" : "read-write",
                         k.allowed_cidrs.empty() ? "any" : fmt::format("{}", fmt::join(k.allowed_cidrs, " ")));
    }
    return kOk;
  }

  auto org = (*accounts)->GetOrganisation(user->org_id);
  if (!org.ok()) return Fail(err, org.status());
  auto log = CliAudit::Open(db, clock);
  if (!log.ok()) return Fail(err, log.status());
  auto issued = (*accounts)->IssueKey(user->id, options);
  if (!issued.ok()) return Fail(err, issued.status());
  if (absl::Status s = RecordIssuedKey(*log, **accounts, *user, *issued, "user key"); !s.ok()) return Fail(err, s);
  PrintIssued(*issued, *user, org->name, /*with_user=*/false, json, out, err, now);
  return kOk;
}

}  // namespace concord::node
