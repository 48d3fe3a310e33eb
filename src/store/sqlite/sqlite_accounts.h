// concord/store/sqlite/sqlite_accounts.h — the SQLite backend of Accounts.
//
// Lives in the object store's database file (migration 2) behind a connection of its own: WAL lets it read
// beside the store's writer, and busy_timeout makes its short writes wait for a running import batch.
// Writes are BEGIN IMMEDIATE transactions that read what they check (a name taken, a user disabled) inside
// the transaction, so two processes cannot both create the same name.
//
// Thread-safety: every call is safe from several threads. The connection and its prepared statements sit
// under mu_; the key cache (detail::KeyCache) has a mutex of its own, never held across database work, so
// that a cache hit waits for no database call.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "store/accounts.h"
#include "store/sqlite/connection.h"

namespace concord::store {

class SqliteAccounts final : public Accounts {
 public:
  // Opens or creates `path` and migrates it (read-write), or opens an existing, fully migrated database
  // (read-only: NotFound when missing, FailedPrecondition when it needs migrating).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteAccounts>> Create(const std::string& path,
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
  // A key as authentication needs it, immutable once cached (last_used_micros aside).
  using CachedKey = detail::CachedKey;
  // A bound parameter: text (borrowed: must outlive the statement's use), integer or NULL.
  using Param = std::variant<std::string_view, int64_t, std::monostate>;

  SqliteAccounts(sqlite::Connection db, const Clock& clock, bool read_only);

  // Runs `body` in one transaction (BEGIN IMMEDIATE when `write`), committing when it succeeds.
  template <typename Body>
  auto InTransaction(bool write, Body body) -> decltype(body());
  // The statement for `sql` (prepared once, kept), reset and bound to `params`. The caller resets it again
  // (Statement::Scoped) when done.
  absl::StatusOr<sqlite::Statement*> Bound(const std::string& sql, std::initializer_list<Param> params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Run(const std::string& sql, std::initializer_list<Param> params) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<Organisation> FindOrganisation(std::string_view org) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<User> FindUser(std::string_view user) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ApiKey> FindKey(std::string_view key_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<SharingGroup> FindSharingGroup(std::string_view group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Community> FindCommunity(std::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The member identity ids of `sql` (?1 = `key`), in order.
  absl::StatusOr<std::vector<std::string>> Members(const std::string& sql, std::string_view key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Organisation> InsertOrganisation(std::string_view name, OrgKind kind, bool host)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `sql` (?1 the user's id, ?2 `value`) on one user and drops that user's keys from the cache.
  absl::Status UpdateUser(std::string_view user, const std::string& sql, Param value);

  // The key from the database (NotFound when unknown), ready to cache.
  absl::StatusOr<std::shared_ptr<const CachedKey>> LoadKey(std::string_view key_id, int64_t now_micros);

  const Clock& clock_;
  const bool read_only_;
  std::mutex mu_;
  sqlite::Connection db_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, sqlite::Statement> statements_ ABSL_GUARDED_BY(mu_);
  detail::KeyCache cache_;
};

}  // namespace concord::store
