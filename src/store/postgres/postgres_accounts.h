// concord/store/postgres/postgres_accounts.h — the PostgreSQL backend of Accounts.
//
// Opened by OpenAccounts("postgresql://…"): the tables of migrations 2 and 4 in the store's database, behind a
// connection of its own (applying the store's migrations when pending, as OpenStore does). The behaviour is
// SqliteAccounts' exactly (store/sqlite/sqlite_accounts.h; the accounts conformance suite runs on both):
//
// - Writes are READ COMMITTED transactions that first take the accounts' advisory lock (postgres/locks.h,
//   kAccountsLock): account writers of every process take turns, as under SQLite's BEGIN IMMEDIATE, and what a
//   write checks (a name taken, a user disabled) is read after the previous writer committed. Reads are
//   REPEATABLE READ READ ONLY transactions: one snapshot per call, never waiting for a writer.
// - Names are unique ignoring ASCII case (SQLite's COLLATE NOCASE): lookups compare lower(name COLLATE "C"),
//   which folds ASCII letters only, alongside lower(name) for migration 2's unique indexes; listings order by
//   the ASCII-folded bytes. One difference remains: migration 2's unique indexes are on lower(name) in the
//   database's collation, which (in a UTF-8 locale) also folds non-ASCII letters, so two names differing only
//   in the case of a non-ASCII letter ("Émile", "émile") cannot both exist here (AlreadyExists), while SQLite
//   accepts both.
// - Every ordered text (ids, member lists, community names) is ordered COLLATE "C": bytes, as in SQLite.
// - The key cache, its TTL, last_used throttling and the key checks are shared with SqliteAccounts
//   (detail::KeyCache, detail::CheckKey in accounts.h).
// - A connection the server dropped is replaced on the next call (the call that found it fails Unavailable).
//
// Thread-safety: every call is safe from several threads; the connection sits under mu_, the key cache has
// a mutex of its own (never held across database work).
#pragma once

#include <atomic>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "store/accounts.h"
#include "store/postgres/connection.h"

namespace concord::store {

class PostgresAccounts final : public Accounts {
 public:
  // Connects to `uri` and migrates the database (read-write), or checks that its schema is current (read-only:
  // FailedPrecondition otherwise). NotFound when the database does not exist, Unavailable when the server
  // cannot be reached.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PostgresAccounts>> Create(const std::string& uri,
                                                                                const OpenOptions& options = {});

  absl::StatusOr<Organisation> CreateOrganisation(std::string_view name, OrgKind kind) override;
  absl::StatusOr<std::vector<Organisation>> ListOrganisations() override;
  absl::StatusOr<Organisation> GetOrganisation(std::string_view org) override;
  absl::StatusOr<Organisation> EnsureHostOrganisation(std::string_view name) override;
  absl::StatusOr<User> CreateUser(std::string_view name, std::string_view org, Role role) override;
  absl::StatusOr<std::vector<User>> ListUsers(std::optional<std::string_view> org) override;
  absl::StatusOr<User> GetUser(std::string_view user) override;
  absl::Status DisableUser(std::string_view user) override;
  absl::Status EnableUser(std::string_view user) override;
  absl::Status SetRole(std::string_view user, Role role) override;
  absl::StatusOr<IssuedKey> IssueKey(std::string_view user, const KeyOptions& options) override;
  absl::StatusOr<std::vector<ApiKey>> ListKeys(std::string_view user) override;
  absl::StatusOr<ApiKey> RevokeKey(std::string_view key_id) override;
  absl::StatusOr<Principal> Authenticate(const Credentials& credentials, std::string_view remote_address) override;
  void ForgetCachedKeys() override { cache_.Clear(); }
  absl::StatusOr<SharingGroup> CreateSharingGroup(std::string_view name, std::string_view description,
                                                  std::string_view owner_org) override;
  absl::StatusOr<std::vector<SharingGroup>> ListSharingGroups() override;
  absl::StatusOr<SharingGroup> GetSharingGroup(std::string_view group) override;
  absl::StatusOr<SharingGroup> AddSharingGroupMember(std::string_view group, std::string_view org) override;
  absl::StatusOr<SharingGroup> RemoveSharingGroupMember(std::string_view group, std::string_view org) override;
  absl::StatusOr<Community> CreateCommunity(std::string_view name, std::string_view description) override;
  absl::StatusOr<std::vector<Community>> ListCommunities() override;
  absl::StatusOr<Community> GetCommunity(std::string_view name) override;
  absl::StatusOr<Community> AddCommunityMember(std::string_view name, std::string_view org) override;
  absl::StatusOr<Community> RemoveCommunityMember(std::string_view name, std::string_view org) override;

 private:
  // A key as authentication needs it (as in SqliteAccounts).
  using CachedKey = detail::CachedKey;

  PostgresAccounts(postgres::Connection db, std::string uri, const Clock& clock, bool read_only);

  // Runs `body` in one transaction (a write takes kAccountsLock first), committing when it succeeds.
  template <typename Body>
  auto InTransaction(bool write, Body body) -> decltype(body());
  // Reconnects when the server dropped the connection.
  absl::Status EnsureConnected() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<postgres::Result> Query(const std::string& sql, std::initializer_list<postgres::Param> params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<Organisation> FindOrganisation(std::string_view org) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<User> FindUser(std::string_view user) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ApiKey> FindKey(std::string_view key_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<SharingGroup> FindSharingGroup(std::string_view group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Community> FindCommunity(std::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<std::string>> Members(const std::string& sql, std::string_view key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Organisation> InsertOrganisation(std::string_view name, OrgKind kind, bool host)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `sql` ($1 the user's id, $2 `value`) on one user and drops that user's keys from the cache.
  absl::Status UpdateUser(std::string_view user, const std::string& sql, std::string value);

  absl::StatusOr<std::shared_ptr<const CachedKey>> LoadKey(std::string_view key_id, int64_t now_micros);

  const std::string uri_;
  const Clock& clock_;
  const bool read_only_;
  std::mutex mu_;
  postgres::Connection db_ ABSL_GUARDED_BY(mu_);
  detail::KeyCache cache_;
};

}  // namespace concord::store
