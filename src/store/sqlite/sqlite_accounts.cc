#include "store/sqlite/sqlite_accounts.h"

#include <sodium.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/uuid.h"
#include "fmt/format.h"
#include "store/sqlite/migrations.h"

namespace concord::store {
namespace {

using sqlite::Connection;
using sqlite::Statement;

constexpr char kOrgColumns[] = "id, name, kind, host, created";
constexpr char kUserColumns[] = "id, name, org_id, role, created, disabled";
constexpr char kKeyColumns[] = "key_id, user_id, created, expires, allowed_cidrs, read_only, revoked, last_used";

Timestamp FromMicros(int64_t micros) {
  int64_t seconds = micros / 1'000'000;
  int64_t rest = micros % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    --seconds;
  }
  return Timestamp{seconds, static_cast<int32_t>(rest * 1000), 3};
}

std::optional<Timestamp> OptionalTime(const Statement& s, int column) {
  if (s.ColumnIsNull(column)) return std::nullopt;
  return FromMicros(s.ColumnInt(column));
}

Organisation ReadOrganisation(const Statement& s, int first = 0) {
  Organisation o;
  o.id = s.ColumnText(first);
  o.name = s.ColumnText(first + 1);
  o.kind = s.ColumnText(first + 2) == "remote" ? OrgKind::kRemote : OrgKind::kLocal;
  o.host = s.ColumnInt(first + 3) != 0;
  o.created = FromMicros(s.ColumnInt(first + 4));
  return o;
}

User ReadUser(const Statement& s, int first = 0) {
  User u;
  u.id = s.ColumnText(first);
  u.name = s.ColumnText(first + 1);
  u.org_id = s.ColumnText(first + 2);
  // The CHECK constraint admits only the names ParseRole knows.
  u.role = ParseRole(s.ColumnText(first + 3)).value_or(Role::kReadOnly);
  u.created = FromMicros(s.ColumnInt(first + 4));
  u.disabled = s.ColumnInt(first + 5) != 0;
  return u;
}

std::vector<std::string> SplitCidrs(std::string_view column) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(AbslSv(column), ' ', absl::SkipEmpty())) out.emplace_back(Sv(part));
  return out;
}

ApiKey ReadKey(const Statement& s) {
  ApiKey k;
  k.key_id = s.ColumnText(0);
  k.user_id = s.ColumnText(1);
  k.created = FromMicros(s.ColumnInt(2));
  k.expires = OptionalTime(s, 3);
  k.allowed_cidrs = SplitCidrs(s.ColumnText(4));
  k.read_only = s.ColumnInt(5) != 0;
  k.revoked = OptionalTime(s, 6);
  k.last_used = OptionalTime(s, 7);
  return k;
}

absl::Status ValidateOrgName(std::string_view name) {
  if (name.empty() || name.size() > 200) return FieldError("name", "must be 1 to 200 bytes long");
  if (name.front() == ' ' || name.back() == ' ') return FieldError("name", "must not begin or end with a space");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return FieldError("name", "must not contain control characters");
  }
  if (name.starts_with("identity--")) return FieldError("name", "must not look like an identity id");
  return absl::OkStatus();
}

absl::Status ValidateUserName(std::string_view name) {
  if (name.empty() || name.size() > 64) return FieldError("name", "must be 1 to 64 characters long");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '@' || c == '-';
    if (!ok) return FieldError("name", fmt::format("'{}': only letters, digits and . _ @ - are allowed", name));
  }
  if (ParseUuid(name).ok()) return FieldError("name", "must not look like a user id");
  return absl::OkStatus();
}

absl::Status Pragmas(Connection& db, const std::string& path, const OpenOptions& options) {
  CONCORD_RETURN_IF_ERROR(sqlite::ConfigureConnection(db, path, options.read_only, options.sync_full));
  return options.read_only ? absl::OkStatus() : db.Exec("PRAGMA foreign_keys = ON");
}

absl::Status ValidateGroupName(std::string_view name) {
  CONCORD_RETURN_IF_ERROR(ValidateOrgName(name));
  if (name.starts_with(kSharingGroupIdPrefix)) return FieldError("name", "must not look like a sharing group id");
  return absl::OkStatus();
}

absl::Status ValidateDescription(std::string_view description) {
  if (description.size() > 2000) return FieldError("description", "must be at most 2000 bytes long");
  return absl::OkStatus();
}

absl::Status ValidateCommunityName(std::string_view name) {
  if (name.empty() || name.size() > 64) return FieldError("name", "must be 1 to 64 characters long");
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '.' && c != '_'))) {
      return FieldError("name", fmt::format("'{}': lower-case letters, digits and . _ - (not first) only", name));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadOnlyError() { return absl::FailedPreconditionError("accounts are open read-only"); }

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteAccounts>> SqliteAccounts::Create(const std::string& path,
                                                                      const OpenOptions& options) {
  const Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Instance();
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  auto opened = [&]() -> absl::StatusOr<std::unique_ptr<SqliteAccounts>> {
    CONCORD_ASSIGN_OR_RETURN(Connection db, Connection::Open(path, options.read_only));
    CONCORD_RETURN_IF_ERROR(Pragmas(db, path, options));
    CONCORD_RETURN_IF_ERROR(sqlite::EnsureSchema(db, options.read_only, clock).status());
    return std::unique_ptr<SqliteAccounts>(new SqliteAccounts(std::move(db), clock, options.read_only));
  }();
  if (!opened.ok()) return Annotate(opened.status(), fmt::format("opening accounts in '{}'", path));
  return opened;
}

SqliteAccounts::SqliteAccounts(Connection db, const Clock& clock, bool read_only)
    : clock_(clock), read_only_(read_only), db_(std::move(db)) {}

template <typename Body>
auto SqliteAccounts::InTransaction(bool write, Body body) -> decltype(body()) {
  std::lock_guard lock(mu_);
  if (write && read_only_) return ReadOnlyError();
  CONCORD_RETURN_IF_ERROR(db_.Exec(write ? "BEGIN IMMEDIATE" : "BEGIN"));
  auto result = body();
  if (!result.ok()) {
    (void)db_.Exec("ROLLBACK");  // the body's error is what matters
    return result;
  }
  if (absl::Status commit = db_.Exec("COMMIT"); !commit.ok()) {
    (void)db_.Exec("ROLLBACK");
    return commit;
  }
  return result;
}

absl::StatusOr<Statement*> SqliteAccounts::Bound(const std::string& sql, std::initializer_list<Param> params) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    CONCORD_ASSIGN_OR_RETURN(Statement statement, db_.Prepare(sql, /*persistent=*/true));
    it = statements_.emplace(sql, std::move(statement)).first;
  }
  Statement& s = it->second;
  s.Reset();
  int index = 1;
  for (const Param& p : params) {
    if (const auto* text = std::get_if<std::string_view>(&p)) {
      s.BindText(index, *text);
    } else if (const auto* number = std::get_if<int64_t>(&p)) {
      s.BindInt(index, *number);
    } else {
      s.BindNull(index);
    }
    ++index;
  }
  return &s;
}

absl::Status SqliteAccounts::Run(const std::string& sql, std::initializer_list<Param> params) {
  CONCORD_ASSIGN_OR_RETURN(Statement * s, Bound(sql, params));
  Statement::Scoped reset(*s);
  return s->Step().status();
}

absl::StatusOr<Organisation> SqliteAccounts::FindOrganisation(std::string_view org) {
  // Names never begin with "identity--", so an id and a name cannot be confused.
  CONCORD_ASSIGN_OR_RETURN(
      Statement * s, Bound(fmt::format("SELECT {} FROM organisations WHERE id = ?1 OR name = ?1", kOrgColumns), {org}));
  Statement::Scoped reset(*s);
  CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::NotFoundError(fmt::format("organisation '{}' not found", org));
  return ReadOrganisation(*s);
}

absl::StatusOr<User> SqliteAccounts::FindUser(std::string_view user) {
  CONCORD_ASSIGN_OR_RETURN(
      Statement * s, Bound(fmt::format("SELECT {} FROM users WHERE id = ?1 OR name = ?1", kUserColumns), {user}));
  Statement::Scoped reset(*s);
  CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::NotFoundError(fmt::format("user '{}' not found", user));
  return ReadUser(*s);
}

absl::StatusOr<ApiKey> SqliteAccounts::FindKey(std::string_view key_id) {
  CONCORD_ASSIGN_OR_RETURN(Statement * s,
                           Bound(fmt::format("SELECT {} FROM api_keys WHERE key_id = ?1", kKeyColumns), {key_id}));
  Statement::Scoped reset(*s);
  CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::NotFoundError(fmt::format("API key '{}' not found", key_id));
  return ReadKey(*s);
}

absl::StatusOr<Organisation> SqliteAccounts::InsertOrganisation(std::string_view name, OrgKind kind, bool host) {
  CONCORD_ASSIGN_OR_RETURN(Statement * taken, Bound("SELECT name FROM organisations WHERE name = ?1", {name}));
  {
    Statement::Scoped reset(*taken);
    CONCORD_ASSIGN_OR_RETURN(bool row, taken->Step());
    if (row) return absl::AlreadyExistsError(fmt::format("organisation '{}' already exists", taken->ColumnText(0)));
  }
  Organisation o;
  o.id = "identity--" + UuidV4().ToString();
  o.name = std::string(name);
  o.kind = kind;
  o.host = host;
  o.created = FromMicros(clock_.Now().UnixMicros());
  CONCORD_RETURN_IF_ERROR(Run("INSERT INTO organisations (id, name, kind, host, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                              {o.id, o.name, OrgKindName(kind), int64_t{host}, o.created.UnixMicros()}));
  return o;
}

absl::StatusOr<Organisation> SqliteAccounts::CreateOrganisation(std::string_view name, OrgKind kind) {
  CONCORD_RETURN_IF_ERROR(ValidateOrgName(name));
  return InTransaction(true, [&]() { return InsertOrganisation(name, kind, false); });
}

absl::StatusOr<std::vector<Organisation>> SqliteAccounts::ListOrganisations() {
  return InTransaction(false, [&]() -> absl::StatusOr<std::vector<Organisation>> {
    CONCORD_ASSIGN_OR_RETURN(Statement * s, Bound(fmt::format("SELECT {} FROM organisations ORDER BY name", kOrgColumns), {}));
    Statement::Scoped reset(*s);
    std::vector<Organisation> out;
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.push_back(ReadOrganisation(*s));
    }
    return out;
  });
}

absl::StatusOr<Organisation> SqliteAccounts::GetOrganisation(std::string_view org) {
  return InTransaction(false, [&]() { return FindOrganisation(org); });
}

absl::StatusOr<Organisation> SqliteAccounts::EnsureHostOrganisation(std::string_view name) {
  CONCORD_RETURN_IF_ERROR(ValidateOrgName(name));
  return InTransaction(true, [&]() -> absl::StatusOr<Organisation> {
    CONCORD_ASSIGN_OR_RETURN(Statement * s,
                             Bound(fmt::format("SELECT {} FROM organisations WHERE host = 1", kOrgColumns), {}));
    std::optional<Organisation> host;
    {
      Statement::Scoped reset(*s);
      CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
      if (row) host = ReadOrganisation(*s);
    }
    if (host) {
      if (absl::EqualsIgnoreCase(AbslSv(host->name), AbslSv(name))) return *host;
      return absl::FailedPreconditionError(
          fmt::format("the host organisation is already '{}' ({})", host->name, host->id));
    }
    auto existing = FindOrganisation(name);
    if (existing.ok()) {
      if (existing->kind == OrgKind::kRemote) {
        return absl::FailedPreconditionError(
            fmt::format("organisation '{}' is remote and cannot be this node's host", existing->name));
      }
      CONCORD_RETURN_IF_ERROR(Run("UPDATE organisations SET host = 1 WHERE id = ?1", {existing->id}));
      existing->host = true;
      return existing;
    }
    if (!absl::IsNotFound(existing.status())) return existing.status();
    return InsertOrganisation(name, OrgKind::kLocal, true);
  });
}

absl::StatusOr<User> SqliteAccounts::CreateUser(std::string_view name, std::string_view org, Role role) {
  CONCORD_RETURN_IF_ERROR(ValidateUserName(name));
  return InTransaction(true, [&]() -> absl::StatusOr<User> {
    CONCORD_ASSIGN_OR_RETURN(Organisation organisation, FindOrganisation(org));
    auto existing = FindUser(name);
    if (existing.ok()) return absl::AlreadyExistsError(fmt::format("user '{}' already exists", existing->name));
    if (!absl::IsNotFound(existing.status())) return existing.status();
    User u;
    u.id = UuidV4().ToString();
    u.name = std::string(name);
    u.org_id = organisation.id;
    u.role = role;
    u.created = FromMicros(clock_.Now().UnixMicros());
    CONCORD_RETURN_IF_ERROR(
        Run("INSERT INTO users (id, name, org_id, role, created, disabled) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
            {u.id, u.name, u.org_id, RoleName(role), u.created.UnixMicros()}));
    return u;
  });
}

absl::StatusOr<std::vector<User>> SqliteAccounts::ListUsers(std::optional<std::string_view> org) {
  return InTransaction(false, [&]() -> absl::StatusOr<std::vector<User>> {
    std::string org_id;
    if (org) {
      CONCORD_ASSIGN_OR_RETURN(Organisation organisation, FindOrganisation(*org));
      org_id = organisation.id;
    }
    CONCORD_ASSIGN_OR_RETURN(
        Statement * s,
        Bound(fmt::format("SELECT {} FROM users WHERE ?1 = '' OR org_id = ?1 ORDER BY name", kUserColumns), {org_id}));
    Statement::Scoped reset(*s);
    std::vector<User> out;
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.push_back(ReadUser(*s));
    }
    return out;
  });
}

absl::StatusOr<User> SqliteAccounts::GetUser(std::string_view user) {
  return InTransaction(false, [&]() { return FindUser(user); });
}

absl::Status SqliteAccounts::UpdateUser(std::string_view user, const std::string& sql, Param value) {
  std::string user_id;
  CONCORD_RETURN_IF_ERROR(InTransaction(true, [&]() -> absl::Status {
    CONCORD_ASSIGN_OR_RETURN(User found, FindUser(user));
    user_id = found.id;
    return Run(sql, {found.id, value});
  }));
  cache_.ForgetUser(user_id);
  return absl::OkStatus();
}

absl::Status SqliteAccounts::DisableUser(std::string_view user) {
  return UpdateUser(user, "UPDATE users SET disabled = ?2 WHERE id = ?1", int64_t{1});
}

absl::Status SqliteAccounts::EnableUser(std::string_view user) {
  return UpdateUser(user, "UPDATE users SET disabled = ?2 WHERE id = ?1", int64_t{0});
}

absl::Status SqliteAccounts::SetRole(std::string_view user, Role role) {
  return UpdateUser(user, "UPDATE users SET role = ?2 WHERE id = ?1", RoleName(role));
}

absl::StatusOr<IssuedKey> SqliteAccounts::IssueKey(std::string_view user, const KeyOptions& options) {
  const int64_t now = clock_.Now().UnixMicros();
  std::string cidrs;
  std::vector<std::string> canonical;
  for (const std::string& text : options.cidrs) {
    auto cidr = ParseCidr(text);
    if (!cidr.ok()) return FieldError("allowed_cidrs", Sv(cidr.status().message()));
    canonical.push_back(cidr->ToString());
    if (!cidrs.empty()) cidrs += ' ';
    cidrs += canonical.back();
  }
  if (options.expires && options.expires->UnixMicros() <= now) {
    return FieldError("expires", fmt::format("{} is not in the future", FormatRfc3339(*options.expires)));
  }
  return InTransaction(true, [&]() -> absl::StatusOr<IssuedKey> {
    CONCORD_ASSIGN_OR_RETURN(User owner, FindUser(user));
    if (owner.disabled) return absl::FailedPreconditionError(fmt::format("user '{}' is disabled", owner.name));
    IssuedKey issued;
    ApiKey& k = issued.key;
    k.key_id = detail::NewKeyId();
    k.user_id = owner.id;
    k.created = FromMicros(now);
    k.expires = options.expires;
    k.allowed_cidrs = std::move(canonical);
    k.read_only = options.read_only;
    std::string secret = detail::NewSecret();
    const std::string hash = detail::HashSecret(secret);
    issued.token = detail::MakeToken(k.key_id, secret);
    sodium_memzero(secret.data(), secret.size());
    const Param expires = k.expires ? Param(k.expires->UnixMicros()) : Param(std::monostate{});
    CONCORD_RETURN_IF_ERROR(Run(
        "INSERT INTO api_keys (key_id, user_id, secret_sha256, created, expires, allowed_cidrs, read_only) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        {k.key_id, k.user_id, hash, now, expires, cidrs, int64_t{k.read_only}}));
    return issued;
  });
}

absl::StatusOr<std::vector<ApiKey>> SqliteAccounts::ListKeys(std::string_view user) {
  return InTransaction(false, [&]() -> absl::StatusOr<std::vector<ApiKey>> {
    CONCORD_ASSIGN_OR_RETURN(User owner, FindUser(user));
    CONCORD_ASSIGN_OR_RETURN(
        Statement * s,
        Bound(fmt::format("SELECT {} FROM api_keys WHERE user_id = ?1 ORDER BY created, key_id", kKeyColumns),
              {owner.id}));
    Statement::Scoped reset(*s);
    std::vector<ApiKey> out;
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.push_back(ReadKey(*s));
    }
    return out;
  });
}

absl::StatusOr<ApiKey> SqliteAccounts::RevokeKey(std::string_view key_id) {
  const int64_t now = clock_.Now().UnixMicros();
  auto revoked = InTransaction(true, [&]() -> absl::StatusOr<ApiKey> {
    CONCORD_ASSIGN_OR_RETURN(ApiKey key, FindKey(key_id));
    if (key.revoked) return key;
    CONCORD_RETURN_IF_ERROR(Run("UPDATE api_keys SET revoked = ?2 WHERE key_id = ?1", {key.key_id, now}));
    key.revoked = FromMicros(now);
    return key;
  });
  if (revoked.ok()) cache_.ForgetKey(revoked->key_id);
  return revoked;
}

absl::StatusOr<std::shared_ptr<const SqliteAccounts::CachedKey>> SqliteAccounts::LoadKey(std::string_view key_id,
                                                                                         int64_t now_micros) {
  std::lock_guard lock(mu_);
  CONCORD_ASSIGN_OR_RETURN(
      Statement * s,
      Bound("SELECT k.secret_sha256, k.expires, k.allowed_cidrs, k.read_only, k.revoked, k.last_used, "
            "u.id, u.name, u.org_id, u.role, u.created, u.disabled, "
            "o.id, o.name, o.kind, o.host, o.created "
            "FROM api_keys k JOIN users u ON u.id = k.user_id JOIN organisations o ON o.id = u.org_id "
            "WHERE k.key_id = ?1",
            {key_id}));
  Statement::Scoped reset(*s);
  CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::NotFoundError("unknown key");
  auto key = std::make_shared<CachedKey>();
  key->secret_sha256 = s->ColumnText(0);
  if (!s->ColumnIsNull(1)) key->expires_micros = s->ColumnInt(1);
  // A stored CIDR that does not parse (written by hand?) allows nothing; it never widens the key to any address.
  key->restricted = !s->ColumnText(2).empty();
  for (const std::string& text : SplitCidrs(s->ColumnText(2))) {
    if (auto cidr = ParseCidr(text); cidr.ok()) key->cidrs.push_back(*cidr);
  }
  key->read_only = s->ColumnInt(3) != 0;
  key->revoked = !s->ColumnIsNull(4);
  key->last_used_micros = s->ColumnIsNull(5) ? 0 : s->ColumnInt(5);
  key->user = ReadUser(*s, 6);
  key->org = ReadOrganisation(*s, 12);
  key->loaded_micros = now_micros;
  return std::shared_ptr<const CachedKey>(std::move(key));
}

absl::StatusOr<Principal> SqliteAccounts::Authenticate(const Credentials& credentials,
                                                       std::string_view remote_address) {
  if (!detail::IsWellFormed(credentials)) return detail::AuthFailure("invalid API key", "malformed");
  const int64_t now = clock_.Now().UnixMicros();
  std::shared_ptr<const CachedKey> key = cache_.Get(credentials.key_id, now);
  if (key == nullptr) {
    auto loaded = LoadKey(credentials.key_id, now);
    if (absl::IsNotFound(loaded.status())) return detail::AuthFailure("invalid API key", "unknown-key");
    if (!loaded.ok()) return loaded.status();
    key = *std::move(loaded);
    cache_.Put(credentials.key_id, key);
  }
  CONCORD_ASSIGN_OR_RETURN(detail::KeyDecision decision,
                           detail::CheckKey(*key, credentials, now, remote_address, read_only_));
  if (decision.record_last_used) {
    std::lock_guard lock(mu_);
    // Best effort: last_used is a hint for administrators, and a busy database must not turn a valid key
    // away. A failed write is retried a minute later.
    (void)Run("UPDATE api_keys SET last_used = ?2 WHERE key_id = ?1", {credentials.key_id, now});
  }
  return decision.principal;
}

// ---- sharing groups and communities -------------------------------------------------------------------

absl::StatusOr<std::vector<std::string>> SqliteAccounts::Members(const std::string& sql, std::string_view key) {
  CONCORD_ASSIGN_OR_RETURN(Statement * s, Bound(sql, {key}));
  Statement::Scoped reset(*s);
  std::vector<std::string> out;
  while (true) {
    CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.emplace_back(s->ColumnText(0));
  }
  return out;
}

absl::StatusOr<SharingGroup> SqliteAccounts::FindSharingGroup(std::string_view group) {
  // Names never begin with kSharingGroupIdPrefix, so an id and a name cannot be confused.
  CONCORD_ASSIGN_OR_RETURN(
      Statement * s,
      Bound("SELECT id, name, description, owner_org, created FROM sharing_groups WHERE id = ?1 OR name = ?1", {group}));
  SharingGroup g;
  {
    Statement::Scoped reset(*s);
    CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return absl::NotFoundError(fmt::format("sharing group '{}' not found", group));
    g.id = s->ColumnText(0);
    g.name = s->ColumnText(1);
    g.description = s->ColumnText(2);
    g.owner_org = s->ColumnText(3);
    g.created = FromMicros(s->ColumnInt(4));
  }
  CONCORD_ASSIGN_OR_RETURN(
      g.member_orgs, Members("SELECT org_id FROM sharing_group_members WHERE group_id = ?1 ORDER BY org_id", g.id));
  return g;
}

absl::StatusOr<SharingGroup> SqliteAccounts::CreateSharingGroup(std::string_view name, std::string_view description,
                                                                std::string_view owner_org) {
  CONCORD_RETURN_IF_ERROR(ValidateGroupName(name));
  CONCORD_RETURN_IF_ERROR(ValidateDescription(description));
  return InTransaction(true, [&]() -> absl::StatusOr<SharingGroup> {
    auto owner = FindOrganisation(owner_org);
    if (absl::IsNotFound(owner.status())) return FieldError("owner", Sv(owner.status().message()));
    if (!owner.ok()) return owner.status();
    auto existing = FindSharingGroup(name);
    if (existing.ok()) return absl::AlreadyExistsError(fmt::format("sharing group '{}' already exists", existing->name));
    if (!absl::IsNotFound(existing.status())) return existing.status();
    SharingGroup g;
    g.id = std::string(kSharingGroupIdPrefix) + UuidV4().ToString();
    g.name = std::string(name);
    g.description = std::string(description);
    g.owner_org = owner->id;
    g.member_orgs = {owner->id};
    g.created = FromMicros(clock_.Now().UnixMicros());
    CONCORD_RETURN_IF_ERROR(
        Run("INSERT INTO sharing_groups (id, name, description, owner_org, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            {g.id, g.name, g.description, g.owner_org, g.created.UnixMicros()}));
    CONCORD_RETURN_IF_ERROR(Run("INSERT INTO sharing_group_members (group_id, org_id, added) VALUES (?1, ?2, ?3)",
                                {g.id, g.owner_org, g.created.UnixMicros()}));
    return g;
  });
}

absl::StatusOr<std::vector<SharingGroup>> SqliteAccounts::ListSharingGroups() {
  return InTransaction(false, [&]() -> absl::StatusOr<std::vector<SharingGroup>> {
    // Two ordered scans merged by group id, rather than one query per group: the policy snapshot reads all.
    std::vector<SharingGroup> groups;
    {
      CONCORD_ASSIGN_OR_RETURN(
          Statement * s, Bound("SELECT id, name, description, owner_org, created FROM sharing_groups ORDER BY id", {}));
      Statement::Scoped reset(*s);
      while (true) {
        CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        SharingGroup g;
        g.id = s->ColumnText(0);
        g.name = s->ColumnText(1);
        g.description = s->ColumnText(2);
        g.owner_org = s->ColumnText(3);
        g.created = FromMicros(s->ColumnInt(4));
        groups.push_back(std::move(g));
      }
    }
    CONCORD_ASSIGN_OR_RETURN(
        Statement * s, Bound("SELECT group_id, org_id FROM sharing_group_members ORDER BY group_id, org_id", {}));
    Statement::Scoped reset(*s);
    size_t at = 0;
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      const std::string group_id(s->ColumnText(0));
      while (at < groups.size() && groups[at].id < group_id) ++at;
      if (at < groups.size() && groups[at].id == group_id) groups[at].member_orgs.emplace_back(s->ColumnText(1));
    }
    std::sort(groups.begin(), groups.end(), [](const SharingGroup& a, const SharingGroup& b) {
      return absl::AsciiStrToLower(AbslSv(a.name)) < absl::AsciiStrToLower(AbslSv(b.name));
    });
    return groups;
  });
}

absl::StatusOr<SharingGroup> SqliteAccounts::GetSharingGroup(std::string_view group) {
  return InTransaction(false, [&]() { return FindSharingGroup(group); });
}

absl::StatusOr<SharingGroup> SqliteAccounts::AddSharingGroupMember(std::string_view group, std::string_view org) {
  const int64_t now = clock_.Now().UnixMicros();
  return InTransaction(true, [&]() -> absl::StatusOr<SharingGroup> {
    CONCORD_ASSIGN_OR_RETURN(SharingGroup g, FindSharingGroup(group));
    CONCORD_ASSIGN_OR_RETURN(Organisation member, FindOrganisation(org));
    CONCORD_RETURN_IF_ERROR(
        Run("INSERT OR IGNORE INTO sharing_group_members (group_id, org_id, added) VALUES (?1, ?2, ?3)",
            {g.id, member.id, now}));
    return FindSharingGroup(g.id);
  });
}

absl::StatusOr<SharingGroup> SqliteAccounts::RemoveSharingGroupMember(std::string_view group, std::string_view org) {
  return InTransaction(true, [&]() -> absl::StatusOr<SharingGroup> {
    CONCORD_ASSIGN_OR_RETURN(SharingGroup g, FindSharingGroup(group));
    CONCORD_ASSIGN_OR_RETURN(Organisation member, FindOrganisation(org));
    if (member.id == g.owner_org) {
      return absl::FailedPreconditionError(
          fmt::format("organisation '{}' owns sharing group '{}' and stays a member", member.name, g.name));
    }
    CONCORD_RETURN_IF_ERROR(
        Run("DELETE FROM sharing_group_members WHERE group_id = ?1 AND org_id = ?2", {g.id, member.id}));
    return FindSharingGroup(g.id);
  });
}

absl::StatusOr<Community> SqliteAccounts::FindCommunity(std::string_view name) {
  CONCORD_ASSIGN_OR_RETURN(Statement * s,
                           Bound("SELECT name, description, created FROM communities WHERE name = ?1", {name}));
  Community c;
  {
    Statement::Scoped reset(*s);
    CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return absl::NotFoundError(fmt::format("community '{}' not found", name));
    c.name = s->ColumnText(0);
    c.description = s->ColumnText(1);
    c.created = FromMicros(s->ColumnInt(2));
  }
  CONCORD_ASSIGN_OR_RETURN(c.member_orgs,
                           Members("SELECT org_id FROM community_members WHERE community = ?1 ORDER BY org_id", c.name));
  return c;
}

absl::StatusOr<Community> SqliteAccounts::CreateCommunity(std::string_view name, std::string_view description) {
  CONCORD_RETURN_IF_ERROR(ValidateCommunityName(name));
  CONCORD_RETURN_IF_ERROR(ValidateDescription(description));
  return InTransaction(true, [&]() -> absl::StatusOr<Community> {
    auto existing = FindCommunity(name);
    if (existing.ok()) return absl::AlreadyExistsError(fmt::format("community '{}' already exists", name));
    if (!absl::IsNotFound(existing.status())) return existing.status();
    Community c;
    c.name = std::string(name);
    c.description = std::string(description);
    c.created = FromMicros(clock_.Now().UnixMicros());
    CONCORD_RETURN_IF_ERROR(Run("INSERT INTO communities (name, description, created) VALUES (?1, ?2, ?3)",
                                {c.name, c.description, c.created.UnixMicros()}));
    return c;
  });
}

absl::StatusOr<std::vector<Community>> SqliteAccounts::ListCommunities() {
  return InTransaction(false, [&]() -> absl::StatusOr<std::vector<Community>> {
    std::vector<std::string> names;
    {
      CONCORD_ASSIGN_OR_RETURN(Statement * s, Bound("SELECT name FROM communities ORDER BY name", {}));
      Statement::Scoped reset(*s);
      while (true) {
        CONCORD_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        names.emplace_back(s->ColumnText(0));
      }
    }
    std::vector<Community> out;
    for (const std::string& name : names) {  // a handful of communities per node
      CONCORD_ASSIGN_OR_RETURN(Community c, FindCommunity(name));
      out.push_back(std::move(c));
    }
    return out;
  });
}

absl::StatusOr<Community> SqliteAccounts::GetCommunity(std::string_view name) {
  return InTransaction(false, [&]() { return FindCommunity(name); });
}

absl::StatusOr<Community> SqliteAccounts::AddCommunityMember(std::string_view name, std::string_view org) {
  const int64_t now = clock_.Now().UnixMicros();
  return InTransaction(true, [&]() -> absl::StatusOr<Community> {
    CONCORD_ASSIGN_OR_RETURN(Community c, FindCommunity(name));
    CONCORD_ASSIGN_OR_RETURN(Organisation member, FindOrganisation(org));
    CONCORD_RETURN_IF_ERROR(Run("INSERT OR IGNORE INTO community_members (community, org_id, added) VALUES (?1, ?2, ?3)",
                                {c.name, member.id, now}));
    return FindCommunity(c.name);
  });
}

absl::StatusOr<Community> SqliteAccounts::RemoveCommunityMember(std::string_view name, std::string_view org) {
  return InTransaction(true, [&]() -> absl::StatusOr<Community> {
    CONCORD_ASSIGN_OR_RETURN(Community c, FindCommunity(name));
    CONCORD_ASSIGN_OR_RETURN(Organisation member, FindOrganisation(org));
    CONCORD_RETURN_IF_ERROR(
        Run("DELETE FROM community_members WHERE community = ?1 AND org_id = ?2", {c.name, member.id}));
    return FindCommunity(c.name);
  });
}

}  // namespace concord::store
