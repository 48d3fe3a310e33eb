// concord/store/sqlite/sqlite_store.h — the embedded SQLite backend of Store.
//
// One database file in WAL mode, schema from numbered migrations (migrations.h) applied on open. Each Put
// is one BEGIN IMMEDIATE transaction, so seq order is commit order even with several processes on one file.
//
// Durability: a Put returns OK only after COMMIT. With the default synchronous=NORMAL in WAL mode a commit
// survives the process being killed at any point (the WAL is written before COMMIT returns; recovery
// replays whole transactions only) but not a power loss; OpenOptions::sync_full selects synchronous=FULL.
//
// Thread-safety: all calls are safe from several threads. One connection serves writes and reads under one
// mutex: simple and correct; readers wait for a running batch. A pool of read connections (WAL readers do
// not block the writer) is the upgrade path when reads need to run beside imports.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "store/sqlite/connection.h"
#include "store/store.h"

namespace concord::store {

class SqliteStore final : public Store {
 public:
  // Opens or creates the database at `path` and brings its schema up to date (read-write), or opens an
  // existing, fully migrated database (read-only: NotFound when missing, FailedPrecondition when it needs
  // migrating). A schema newer than this binary knows is refused with FailedPrecondition.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteStore>> Create(const std::string& path,
                                                                           const OpenOptions& options = {});

  absl::StatusOr<std::vector<PutResult>> PutEncoded(std::span<const EncodedObject> batch) override;
  absl::StatusOr<StoredObject> Get(std::string_view id) override;
  absl::StatusOr<StoredObject> GetVersion(std::string_view id, const Timestamp& modified) override;
  absl::StatusOr<std::vector<StoredObject>> Versions(std::string_view id) override;
  absl::StatusOr<Page> List(const Query& query) override;
  absl::StatusOr<Stats> GetStats() override;

 private:
  struct TypeDelta;

  using IdHashKey = std::array<unsigned char, 16>;
  SqliteStore(sqlite::Connection db, const Clock& clock, bool read_only, int schema_version,
              const IdHashKey& id_hash_key);

  // The keyed 64-bit hash (SipHash-2-4) under which objects_id_hash finds an id.
  int64_t IdHash(std::string_view id) const;

  // The prepared statement for `sql`, prepared on first use and kept for the store's lifetime.
  absl::StatusOr<sqlite::Statement*> Prepared(const std::string& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores one item inside the batch's transaction; a new id takes `next_oid` and advances it.
  absl::StatusOr<PutResult> PutOne(const EncodedObject& row, int64_t added, int64_t& next_oid,
                                   std::unordered_map<std::string, TypeDelta>& deltas)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<PutResult>> PutInTransaction(std::span<const EncodedObject> rows, int64_t added)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rows of a by-id query: ?1 is the id, ?2 the version key when given.
  absl::StatusOr<std::vector<StoredObject>> ReadObjects(const std::string& sql, std::string_view id,
                                                        std::optional<std::string_view> version_key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  const bool read_only_;
  const int schema_version_;
  const IdHashKey id_hash_key_;
  std::mutex mu_;
  sqlite::Connection db_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, sqlite::Statement> statements_ ABSL_GUARDED_BY(mu_);
};

}  // namespace concord::store
