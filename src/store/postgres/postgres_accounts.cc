#include "store/postgres/postgres_accounts.h"

#include <sodium.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/uuid.h"
#include "fmt/format.h"
#include "store/postgres/locks.h"
#include "store/postgres/migrations.h"

namespace concord::store {
namespace {

using postgres::Connection;
using postgres::Param;
using postgres::Result;

constexpr char kOrgColumns[] = "id, name, kind, host, created";
constexpr char kUserColumns[] = "id, name, org_id, role, created, disabled";
constexpr char kKeyColumns[] = "key_id, user_id, created, expires, allowed_cidrs, read_only, revoked, last_used";

// SQLite's `name = ?1` on a COLLATE NOCASE column: equal after folding ASCII letters only. lower() in the "C"
// collation folds exactly those; the lower(name) term lets migration 2's unique index find the row.
constexpr char kNameIs[] = "(lower(name) = lower($1) AND lower(name COLLATE \"C\") = lower($1 COLLATE \"C\"))";
// SQLite's ORDER BY on a COLLATE NOCASE column.
constexpr char kByName[] = "lower(name COLLATE \"C\")";

Param P(std::string_view text) { return std::string(text); }
Param P(int64_t number) { return std::to_string(number); }
Param P(bool value) { return std::string(value ? "true" : "false"); }
Param Null() { return std::nullopt; }

Timestamp FromMicros(int64_t micros) {
  int64_t seconds = micros / 1'000'000;
  int64_t rest = micros % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    --seconds;
  }
  return Timestamp{seconds, static_cast<int32_t>(rest * 1000), 3};
}

std::optional<Timestamp> OptionalTime(const Result& r, int row, int column) {
  if (r.IsNull(row, column)) return std::nullopt;
  return FromMicros(r.Int(row, column));
}

Organisation ReadOrganisation(const Result& r, int row, int first = 0) {
  Organisation o;
  o.id = r.Text(row, first);
  o.name = r.Text(row, first + 1);
  o.kind = r.Text(row, first + 2) == "remote" ? OrgKind::kRemote : OrgKind::kLocal;
  o.host = r.Bool(row, first + 3);
  o.created = FromMicros(r.Int(row, first + 4));
  return o;
}

User ReadUser(const Result& r, int row, int first = 0) {
  User u;
  u.id = r.Text(row, first);
  u.name = r.Text(row, first + 1);
  u.org_id = r.Text(row, first + 2);
  u.role = ParseRole(r.Text(row, first + 3)).value_or(Role::kReadOnly);  // the CHECK admits only known names
  u.created = FromMicros(r.Int(row, first + 4));
  u.disabled = r.Bool(row, first + 5);
  return u;
}

std::vector<std::string> SplitCidrs(std::string_view column) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(AbslSv(column), ' ', absl::SkipEmpty())) out.emplace_back(Sv(part));
  return out;
}

ApiKey ReadKey(const Result& r, int row) {
  ApiKey k;
  k.key_id = r.Text(row, 0);
  k.user_id = r.Text(row, 1);
  k.created = FromMicros(r.Int(row, 2));
  k.expires = OptionalTime(r, row, 3);
  k.allowed_cidrs = SplitCidrs(r.Text(row, 4));
  k.read_only = r.Bool(row, 5);
  k.revoked = OptionalTime(r, row, 6);
  k.last_used = OptionalTime(r, row, 7);
  return k;
}

// ---- validation: the rules of SqliteAccounts (sqlite_accounts.cc), word for word --------------------------

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

// A unique index refused a row the checks let through: only a name that differs from a taken one in the case
// of a non-ASCII letter (header), since writers take turns.
absl::Status TakenOr(const absl::Status& status, std::string_view what, std::string_view name) {
  if (!status.ok() && Sv(status.message()).find("duplicate key value") != std::string_view::npos) {
    return absl::AlreadyExistsError(fmt::format("{} '{}' already exists", what, name));
  }
  return status;
}

absl::Status Configure(Connection& db, bool read_only) {
  if (read_only) return db.Exec("SET default_transaction_read_only = on");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresAccounts>> PostgresAccounts::Create(const std::string& uri,
                                                                          const OpenOptions& options) {
  const Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Instance();
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  auto opened = [&]() -> absl::StatusOr<std::unique_ptr<PostgresAccounts>> {
    CONCORD_ASSIGN_OR_RETURN(Connection db, Connection::Open(uri));
    if (options.sync_full) CONCORD_RETURN_IF_ERROR(db.Exec("SET synchronous_commit = on"));
    CONCORD_RETURN_IF_ERROR(postgres::EnsureSchema(db, options.read_only, clock).status());
    CONCORD_RETURN_IF_ERROR(Configure(db, options.read_only));
    return std::unique_ptr<PostgresAccounts>(new PostgresAccounts(std::move(db), uri, clock, options.read_only));
  }();
  if (!opened.ok()) return Annotate(opened.status(), fmt::format("opening accounts in '{}'", postgres::RedactUri(uri)));
  return opened;
}

PostgresAccounts::PostgresAccounts(Connection db, std::string uri, const Clock& clock, bool read_only)
    : uri_(std::move(uri)), clock_(clock), read_only_(read_only) {
  std::lock_guard lock(mu_);
  db_ = std::move(db);
}

absl::Status PostgresAccounts::EnsureConnected() {
  if (db_.ok()) return absl::OkStatus();
  CONCORD_ASSIGN_OR_RETURN(Connection fresh, Connection::Open(uri_));
  CONCORD_RETURN_IF_ERROR(Configure(fresh, read_only_));
  db_ = std::move(fresh);
  return absl::OkStatus();
}

template <typename Body>
auto PostgresAccounts::InTransaction(bool write, Body body) -> decltype(body()) {
  std::lock_guard lock(mu_);
  if (write && read_only_) return ReadOnlyError();
  CONCORD_RETURN_IF_ERROR(EnsureConnected());
  CONCORD_RETURN_IF_ERROR(
      write ? db_.Exec(fmt::format("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({})",
                                   postgres::kAccountsLock))
            : db_.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  auto result = body();
  if (!result.ok()) {
    db_.RollbackQuietly();  // the body's error is what matters
    return result;
  }
  // A write tells the other processes on the database to drop their cached keys and sharing groups
  // (store/change_listener.h); the notification is delivered only if the COMMIT succeeds.
  if (absl::Status commit = db_.Exec(write ? fmt::format("NOTIFY {}; COMMIT", postgres::kAccountsChannel) : "COMMIT");
      !commit.ok()) {
    db_.RollbackQuietly();
    return commit;
  }
  return result;
}

absl::StatusOr<Result> PostgresAccounts::Query(const std::string& sql, std::initializer_list<Param> params) {
  const std::vector<Param> values(params);
  return db_.Query(sql, values);
}

absl::StatusOr<Organisation> PostgresAccounts::FindOrganisation(std::string_view org) {
  // Names never begin with "identity--", so an id and a name cannot be confused.
  CONCORD_ASSIGN_OR_RETURN(
      Result r, Query(fmt::format("SELECT {} FROM organisations WHERE id = $1 OR {}", kOrgColumns, kNameIs), {P(org)}));
  if (r.rows() == 0) return absl::NotFoundError(fmt::format("organisation '{}' not found", org));
  return ReadOrganisation(r, 0);
}

absl::StatusOr<User> PostgresAccounts::FindUser(std::string_view user) {
  CONCORD_ASSIGN_OR_RETURN(
      Result r, Query(fmt::format("SELECT {} FROM users WHERE id = $1 OR {}", kUserColumns, kNameIs), {P(user)}));
  if (r.rows() == 0) return absl::NotFoundError(fmt::format("user '{}' not found", user));
  return ReadUser(r, 0);
}

absl::StatusOr<ApiKey> PostgresAccounts::FindKey(std::string_view key_id) {
  CONCORD_ASSIGN_OR_RETURN(Result r,
                           Query(fmt::format("SELECT {} FROM api_keys WHERE key_id = $1", kKeyColumns), {P(key_id)}));
  if (r.rows() == 0) return absl::NotFoundError(fmt::format("API key '{}' not found", key_id));
  return ReadKey(r, 0);
}

absl::StatusOr<Organisation> PostgresAccounts::InsertOrganisation(std::string_view name, OrgKind kind, bool host) {
  CONCORD_ASSIGN_OR_RETURN(Result taken, Query(fmt::format("SELECT name FROM organisations WHERE {}", kNameIs), {P(name)}));
  if (taken.rows() > 0) {
    return absl::AlreadyExistsError(fmt::format("organisation '{}' already exists", taken.Text(0, 0)));
  }
  Organisation o;
  o.id = "identity--" + UuidV4().ToString();
  o.name = std::string(name);
  o.kind = kind;
  o.host = host;
  o.created = FromMicros(clock_.Now().UnixMicros());
  CONCORD_RETURN_IF_ERROR(TakenOr(
      Query("INSERT INTO organisations (id, name, kind, host, created) VALUES ($1, $2, $3, $4, $5)",
            {P(o.id), P(o.name), P(OrgKindName(kind)), P(host), P(o.created.UnixMicros())})
          .status(),
      "organisation", name));
  return o;
}

absl::StatusOr<Organisation> PostgresAccounts::CreateOrganisation(std::string_view name, OrgKind kind) {
  CONCORD_RETURN_IF_ERROR(ValidateOrgName(name));
  return InTransaction(true, [&]() { return InsertOrganisation(name, kind, false); });
}

absl::StatusOr<std::vector<Organisation>> PostgresAccounts::ListOrganisations() {
  return InTransaction(false, [&]() -> absl::StatusOr<std::vector<Organisation>> {
    CONCORD_ASSIGN_OR_RETURN(Result r,
                             Query(fmt::format("SELECT {} FROM organisations ORDER BY {}", kOrgColumns, kByName), {}));
    std::vector<Organisation> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(ReadOrganisation(r, i));
    return out;
  });
}

absl::StatusOr<Organisation> PostgresAccounts::GetOrganisation(std::string_view org) {
  return InTransaction(false, [&]() { return FindOrganisation(org); });
}

absl::StatusOr<Organisation> PostgresAccounts::EnsureHostOrganisation(std::string_view name) {
  CONCORD_RETURN_IF_ERROR(ValidateOrgName(name));
  return InTransaction(true, [&]() -> absl::StatusOr<Organisation> {
    CONCORD_ASSIGN_OR_RETURN(Result r, Query(fmt::format("SELECT {} FROM organisations WHERE host", kOrgColumns), {}));
    if (r.rows() > 0) {
      Organisation host = ReadOrganisation(r, 0);
      if (absl::EqualsIgnoreCase(AbslSv(host.name), AbslSv(name))) return host;
      return absl::FailedPreconditionError(
          fmt::format("the host organisation is already '{}' ({})", host.name, host.id));
    }
    auto existing = FindOrganisation(name);
    if (existing.ok()) {
      if (existing->kind == OrgKind::kRemote) {
        return absl::FailedPreconditionError(
            fmt::format("organisation '{}' is remote and cannot be this node's host", existing->name));
      }
      CONCORD_RETURN_IF_ERROR(Query("UPDATE organisations SET host = true WHERE id = $1", {P(existing->id)}).status());
      existing->host = true;
      return existing;
    }
    if (!absl::IsNotFound(existing.status())) return existing.status();
    return InsertOrganisation(name, OrgKind::kLocal, true);
  });
}

absl::StatusOr<User> PostgresAccounts::CreateUser(std::string_view name, std::string_view org, Role role) {
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
    CONCORD_RETURN_IF_ERROR(TakenOr(
        Query("INSERT INTO users (id, name, org_id, role, created, disabled) VALUES ($1, $2, $3, $4, $5, false)",
              {P(u.id), P(u.name), P(u.org_id), P(RoleName(role)), P(u.created.UnixMicros())})
            .status(),
        "user", name));
    return u;
  });
}

absl::StatusOr<std::vector<User>> PostgresAccounts::ListUsers(std::optional<std::string_view> org) {
  return InTransaction(false, [&]() -> absl::StatusOr<std::vector<User>> {
    std::string org_id;
    if (org) {
      CONCORD_ASSIGN_OR_RETURN(Organisation organisation, FindOrganisation(*org));
      org_id = organisation.id;
    }
    CONCORD_ASSIGN_OR_RETURN(
        Result r, Query(fmt::format("SELECT {} FROM users WHERE $1 = '' OR org_id = $1 ORDER BY {}", kUserColumns, kByName),
                        {P(org_id)}));
    std::vector<User> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(ReadUser(r, i));
    return out;
  });
}

absl::StatusOr<User> PostgresAccounts::GetUser(std::string_view user) {
  return InTransaction(false, [&]() { return FindUser(user); });
}

absl::Status PostgresAccounts::UpdateUser(std::string_view user, const std::string& sql, std::string value) {
  std::string user_id;
  CONCORD_RETURN_IF_ERROR(InTransaction(true, [&]() -> absl::Status {
    CONCORD_ASSIGN_OR_RETURN(User found, FindUser(user));
    user_id = found.id;
    return Query(sql, {P(found.id), P(value)}).status();
  }));
  cache_.ForgetUser(user_id);
  return absl::OkStatus();
}

absl::Status PostgresAccounts::DisableUser(std::string_view user) {
  return UpdateUser(user, "UPDATE users SET disabled = $2 WHERE id = $1", "true");
}

absl::Status PostgresAccounts::EnableUser(std::string_view user) {
  return UpdateUser(user, "UPDATE users SET disabled = $2 WHERE id = $1", "false");
}

absl::Status PostgresAccounts::SetRole(std::string_view user, Role role) {
  return UpdateUser(user, "UPDATE users SET role = $2 WHERE id = $1", std::string(RoleName(role)));
}

absl::StatusOr<IssuedKey> PostgresAccounts::IssueKey(std::string_view user, const KeyOptions& options) {
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
    CONCORD_RETURN_IF_ERROR(
        Query("INSERT INTO api_keys (key_id, user_id, secret_sha256, created, expires, allowed_cidrs, read_only) "
              "VALUES ($1, $2, $3, $4, $5, $6, $7)",
              {P(k.key_id), P(k.user_id), P(hash), P(now), k.expires ? P(k.expires->UnixMicros()) : Null(), P(cidrs),
               P(k.read_only)})
            .status());
    return issued;
  });
}

absl::StatusOr<std::vector<ApiKey>> PostgresAccounts::ListKeys(std::string_view user) {
  return InTransaction(false, [&]() -> absl::StatusOr<std::vector<ApiKey>> {
    CONCORD_ASSIGN_OR_RETURN(User owner, FindUser(user));
    CONCORD_ASSIGN_OR_RETURN(
        Result r, Query(fmt::format("SELECT {} FROM api_keys WHERE user_id = $1 ORDER BY created, key_id COLLATE \"C\"",
                                    kKeyColumns),
                        {P(owner.id)}));
    std::vector<ApiKey> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(ReadKey(r, i));
    return out;
  });
}

absl::StatusOr<ApiKey> PostgresAccounts::RevokeKey(std::string_view key_id) {
  const int64_t now = clock_.Now().UnixMicros();
  auto revoked = InTransaction(true, [&]() -> absl::StatusOr<ApiKey> {
    CONCORD_ASSIGN_OR_RETURN(ApiKey key, FindKey(key_id));
    if (key.revoked) return key;
    CONCORD_RETURN_IF_ERROR(Query("UPDATE api_keys SET revoked = $2 WHERE key_id = $1", {P(key.key_id), P(now)}).status());
    key.revoked = FromMicros(now);
    return key;
  });
  if (revoked.ok()) cache_.ForgetKey(revoked->key_id);
  return revoked;
}

absl::StatusOr<std::shared_ptr<const PostgresAccounts::CachedKey>> PostgresAccounts::LoadKey(std::string_view key_id,
                                                                                             int64_t now_micros) {
  std::lock_guard lock(mu_);
  CONCORD_RETURN_IF_ERROR(EnsureConnected());
  CONCORD_ASSIGN_OR_RETURN(
      Result r, Query("SELECT k.secret_sha256, k.expires, k.allowed_cidrs, k.read_only, k.revoked, k.last_used, "
                      "u.id, u.name, u.org_id, u.role, u.created, u.disabled, "
                      "o.id, o.name, o.kind, o.host, o.created "
                      "FROM api_keys k JOIN users u ON u.id = k.user_id JOIN organisations o ON o.id = u.org_id "
                      "WHERE k.key_id = $1",
                      {P(key_id)}));
  if (r.rows() == 0) return absl::NotFoundError("unknown key");
  auto key = std::make_shared<CachedKey>();
  key->secret_sha256 = r.Text(0, 0);
  if (!r.IsNull(0, 1)) key->expires_micros = r.Int(0, 1);
  // A stored CIDR that does not parse (written by hand?) allows nothing; it never widens the key to any address.
  key->restricted = !r.Text(0, 2).empty();
  for (const std::string& text : SplitCidrs(r.Text(0, 2))) {
    if (auto cidr = ParseCidr(text); cidr.ok()) key->cidrs.push_back(*cidr);
  }
  key->read_only = r.Bool(0, 3);
  key->revoked = !r.IsNull(0, 4);
  key->last_used_micros = r.IsNull(0, 5) ? 0 : r.Int(0, 5);
  key->user = ReadUser(r, 0, 6);
  key->org = ReadOrganisation(r, 0, 12);
  key->loaded_micros = now_micros;
  return std::shared_ptr<const CachedKey>(std::move(key));
}

absl::StatusOr<Principal> PostgresAccounts::Authenticate(const Credentials& credentials,
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
    // Best effort, as on SQLite: a failed write is retried a minute later. Autocommit, no lock: one row.
    if (EnsureConnected().ok()) {
      (void)Query("UPDATE api_keys SET last_used = $2 WHERE key_id = $1", {P(credentials.key_id), P(now)});
    }
  }
  return decision.principal;
}

// ---- sharing groups and communities -------------------------------------------------------------------

absl::StatusOr<std::vector<std::string>> PostgresAccounts::Members(const std::string& sql, std::string_view key) {
  CONCORD_ASSIGN_OR_RETURN(Result r, Query(sql, {P(key)}));
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.Text(i, 0));
  return out;
}

absl::StatusOr<SharingGroup> PostgresAccounts::FindSharingGroup(std::string_view group) {
  // Names never begin with kSharingGroupIdPrefix, so an id and a name cannot be confused.
  CONCORD_ASSIGN_OR_RETURN(
      Result r, Query(fmt::format("SELECT id, name, description, owner_org, created FROM sharing_groups "
                                  "WHERE id = $1 OR {}",
                                  kNameIs),
                      {P(group)}));
  if (r.rows() == 0) return absl::NotFoundError(fmt::format("sharing group '{}' not found", group));
  SharingGroup g;
  g.id = r.Text(0, 0);
  g.name = r.Text(0, 1);
  g.description = r.Text(0, 2);
  g.owner_org = r.Text(0, 3);
  g.created = FromMicros(r.Int(0, 4));
  CONCORD_ASSIGN_OR_RETURN(
      g.member_orgs,
      Members("SELECT org_id FROM sharing_group_members WHERE group_id = $1 ORDER BY org_id COLLATE \"C\"", g.id));
  return g;
}

absl::StatusOr<SharingGroup> PostgresAccounts::CreateSharingGroup(std::string_view name, std::string_view description,
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
    CONCORD_RETURN_IF_ERROR(TakenOr(
        Query("INSERT INTO sharing_groups (id, name, description, owner_org, created) VALUES ($1, $2, $3, $4, $5)",
              {P(g.id), P(g.name), P(g.description), P(g.owner_org), P(g.created.UnixMicros())})
            .status(),
        "sharing group", name));
    CONCORD_RETURN_IF_ERROR(Query("INSERT INTO sharing_group_members (group_id, org_id, added) VALUES ($1, $2, $3)",
                                  {P(g.id), P(g.owner_org), P(g.created.UnixMicros())})
                                .status());
    return g;
  });
}

absl::StatusOr<std::vector<SharingGroup>> PostgresAccounts::ListSharingGroups() {
  return InTransaction(false, [&]() -> absl::StatusOr<std::vector<SharingGroup>> {
    // Two ordered scans merged by group id (byte order, as the merge compares), as on SQLite.
    std::vector<SharingGroup> groups;
    {
      CONCORD_ASSIGN_OR_RETURN(
          Result r, Query("SELECT id, name, description, owner_org, created FROM sharing_groups ORDER BY id COLLATE \"C\"",
                          {}));
      for (int i = 0; i < r.rows(); ++i) {
        SharingGroup g;
        g.id = r.Text(i, 0);
        g.name = r.Text(i, 1);
        g.description = r.Text(i, 2);
        g.owner_org = r.Text(i, 3);
        g.created = FromMicros(r.Int(i, 4));
        groups.push_back(std::move(g));
      }
    }
    CONCORD_ASSIGN_OR_RETURN(
        Result r, Query("SELECT group_id, org_id FROM sharing_group_members "
                        "ORDER BY group_id COLLATE \"C\", org_id COLLATE \"C\"",
                        {}));
    size_t at = 0;
    for (int i = 0; i < r.rows(); ++i) {
      const std::string group_id(r.Text(i, 0));
      while (at < groups.size() && groups[at].id < group_id) ++at;
      if (at < groups.size() && groups[at].id == group_id) groups[at].member_orgs.emplace_back(r.Text(i, 1));
    }
    std::sort(groups.begin(), groups.end(), [](const SharingGroup& a, const SharingGroup& b) {
      return absl::AsciiStrToLower(AbslSv(a.name)) < absl::AsciiStrToLower(AbslSv(b.name));
    });
    return groups;
  });
}

absl::StatusOr<SharingGroup> PostgresAccounts::GetSharingGroup(std::string_view group) {
  return InTransaction(false, [&]() { return FindSharingGroup(group); });
}

absl::StatusOr<SharingGroup> PostgresAccounts::AddSharingGroupMember(std::string_view group, std::string_view org) {
  const int64_t now = clock_.Now().UnixMicros();
  return InTransaction(true, [&]() -> absl::StatusOr<SharingGroup> {
    CONCORD_ASSIGN_OR_RETURN(SharingGroup g, FindSharingGroup(group));
    CONCORD_ASSIGN_OR_RETURN(Organisation member, FindOrganisation(org));
    CONCORD_RETURN_IF_ERROR(Query("INSERT INTO sharing_group_members (group_id, org_id, added) VALUES ($1, $2, $3) "
                                  "ON CONFLICT DO NOTHING",
                                  {P(g.id), P(member.id), P(now)})
                                .status());
    return FindSharingGroup(g.id);
  });
}

absl::StatusOr<SharingGroup> PostgresAccounts::RemoveSharingGroupMember(std::string_view group, std::string_view org) {
  return InTransaction(true, [&]() -> absl::StatusOr<SharingGroup> {
    CONCORD_ASSIGN_OR_RETURN(SharingGroup g, FindSharingGroup(group));
    CONCORD_ASSIGN_OR_RETURN(Organisation member, FindOrganisation(org));
    if (member.id == g.owner_org) {
      return absl::FailedPreconditionError(
          fmt::format("organisation '{}' owns sharing group '{}' and stays a member", member.name, g.name));
    }
    CONCORD_RETURN_IF_ERROR(
        Query("DELETE FROM sharing_group_members WHERE group_id = $1 AND org_id = $2", {P(g.id), P(member.id)}).status());
    return FindSharingGroup(g.id);
  });
}

absl::StatusOr<Community> PostgresAccounts::FindCommunity(std::string_view name) {
  CONCORD_ASSIGN_OR_RETURN(Result r,
                           Query("SELECT name, description, created FROM communities WHERE name = $1", {P(name)}));
  if (r.rows() == 0) return absl::NotFoundError(fmt::format("community '{}' not found", name));
  Community c;
  c.name = r.Text(0, 0);
  c.description = r.Text(0, 1);
  c.created = FromMicros(r.Int(0, 2));
  CONCORD_ASSIGN_OR_RETURN(
      c.member_orgs,
      Members("SELECT org_id FROM community_members WHERE community = $1 ORDER BY org_id COLLATE \"C\"", c.name));
  return c;
}

absl::StatusOr<Community> PostgresAccounts::CreateCommunity(std::string_view name, std::string_view description) {
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
    CONCORD_RETURN_IF_ERROR(Query("INSERT INTO communities (name, description, created) VALUES ($1, $2, $3)",
                                  {P(c.name), P(c.description), P(c.created.UnixMicros())})
                                .status());
    return c;
  });
}

absl::StatusOr<std::vector<Community>> PostgresAccounts::ListCommunities() {
  return InTransaction(false, [&]() -> absl::StatusOr<std::vector<Community>> {
    std::vector<std::string> names;
    {
      CONCORD_ASSIGN_OR_RETURN(Result r, Query("SELECT name FROM communities ORDER BY name COLLATE \"C\"", {}));
      for (int i = 0; i < r.rows(); ++i) names.emplace_back(r.Text(i, 0));
    }
    std::vector<Community> out;
    for (const std::string& name : names) {  // a handful of communities per node
      CONCORD_ASSIGN_OR_RETURN(Community c, FindCommunity(name));
      out.push_back(std::move(c));
    }
    return out;
  });
}

absl::StatusOr<Community> PostgresAccounts::GetCommunity(std::string_view name) {
  return InTransaction(false, [&]() { return FindCommunity(name); });
}

absl::StatusOr<Community> PostgresAccounts::AddCommunityMember(std::string_view name, std::string_view org) {
  const int64_t now = clock_.Now().UnixMicros();
  return InTransaction(true, [&]() -> absl::StatusOr<Community> {
    CONCORD_ASSIGN_OR_RETURN(Community c, FindCommunity(name));
    CONCORD_ASSIGN_OR_RETURN(Organisation member, FindOrganisation(org));
    CONCORD_RETURN_IF_ERROR(Query("INSERT INTO community_members (community, org_id, added) VALUES ($1, $2, $3) "
                                  "ON CONFLICT DO NOTHING",
                                  {P(c.name), P(member.id), P(now)})
                                .status());
    return FindCommunity(c.name);
  });
}

absl::StatusOr<Community> PostgresAccounts::RemoveCommunityMember(std::string_view name, std::string_view org) {
  return InTransaction(true, [&]() -> absl::StatusOr<Community> {
    CONCORD_ASSIGN_OR_RETURN(Community c, FindCommunity(name));
    CONCORD_ASSIGN_OR_RETURN(Organisation member, FindOrganisation(org));
    CONCORD_RETURN_IF_ERROR(
        Query("DELETE FROM community_members WHERE community = $1 AND org_id = $2", {P(c.name), P(member.id)}).status());
    return FindCommunity(c.name);
  });
}

}  // namespace concord::store
