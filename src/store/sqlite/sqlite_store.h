// concord/store/sqlite/sqlite_store.h — the embedded SQLite backend of Store.
//
// One database file in WAL mode, schema from numbered migrations (migrations.h) applied on open. Each Put
// is one BEGIN IMMEDIATE transaction, so seq order is commit order even with several processes on one file.
//
// Durability: a Put returns OK only after COMMIT. With the default synchronous=NORMAL in WAL mode a commit
// survives the process being killed at any point (the WAL is written before COMMIT returns; recovery
// replays whole transactions only) but not a power loss; OpenOptions::sync_full selects synchronous=FULL.
//
// Thread-safety: all calls are safe from several threads. Writes go through one connection under one mutex
// (SQLite admits one writer at a time anyway). Reads take a connection of their own from a pool (WAL readers
// neither block the writer nor wait for it), opened on demand and kept while idle (at most
// kMaxIdleReaders); each read call is its own read transaction, so it sees every batch committed before it
// started, by this process or another. An in-memory database (":memory:") is private to its connection:
// there reads share the writer's connection and mutex.
//
// Lean current-only listings (ListEach with Query::policy_and_json_only, the REST list's) take the page's seqs
// from the objects index alone and the rows from a RowCache (row_cache.h): rows of `versions` never change once
// stored, so a kept row is never stale, whoever wrote since.
//
// Postings (migration 6; store.h): written by PutOne inside the batch's transaction when a version becomes
// current, with the extractor of OpenOptions::postings. ReindexPostings takes the writer's mutex one batch
// at a time, so Puts interleave with a rebuild.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/row_cache.h"
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
  absl::StatusOr<ListEnd> ListEach(const Query& query, absl::FunctionRef<bool(const StoredView&)> visit) override;
  absl::StatusOr<Stats> GetStats() override;
  absl::StatusOr<int64_t> LastSeq() override;

  const PostingExtractor* posting_extractor() const override { return options_.postings; }
  absl::StatusOr<PostingPage> FindPostings(const PostingQuery& query) override;
  absl::StatusOr<int64_t> CountPostings(uint8_t kind, std::string_view value, int64_t at_most) override;
  absl::StatusOr<std::vector<Posting>> PostingsOf(std::string_view id) override;
  absl::StatusOr<std::vector<PostingLookup>> LookupPostings(std::span<const PostingKey> keys, int64_t at_most,
                                                            size_t first) override;
  absl::StatusOr<IpRangePage> IpPostingsInRange(const IpRangeQuery& query) override;
  absl::StatusOr<std::vector<int>> PrefixLengths(uint8_t kind) override;
  absl::StatusOr<bool> PostingsComplete() override;
  absl::Status ReindexPostings(const std::function<void(const ReindexProgress&)>& progress) override;

 private:
  struct TypeDelta;
  // A connection and the statements prepared on it.
  struct Handle {
    sqlite::Connection db;
    std::unordered_map<std::string, sqlite::Statement> statements;
    // The prepared statement for `sql`, prepared on first use and kept for the handle's lifetime.
    absl::StatusOr<sqlite::Statement*> Prepared(const std::string& sql);
  };
  class ReadLease;

  using IdHashKey = std::array<unsigned char, 16>;
  SqliteStore(sqlite::Connection db, std::string path, const OpenOptions& options, const Clock& clock,
              int schema_version, const IdHashKey& id_hash_key);

  // The keyed 64-bit hash (SipHash-2-4) under which objects_id_hash finds an id.
  int64_t IdHash(std::string_view id) const;
  // The same keyed hash over (kind byte, value): the first column of postings_value (postings_vhash before
  // migration 7).
  int64_t PostingHash(uint8_t kind, std::string_view value) const;

  // The writer's prepared statement for `sql`.
  absl::StatusOr<sqlite::Statement*> Prepared(const std::string& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A read connection for one call: from the pool, or newly opened. Calls `read` with it and gives it back.
  template <typename Fn>
  auto WithReader(Fn&& read) -> decltype(read(std::declval<Handle&>()));
  absl::StatusOr<std::unique_ptr<Handle>> OpenReader();
  // Stores one item inside the batch's transaction; a new id takes `next_oid` and advances it.
  // `postings_missing` is set when a version became current without postings (no extractor).
  absl::StatusOr<PutResult> PutOne(const EncodedObject& row, int64_t& next_added, int64_t& next_oid,
                                   std::unordered_map<std::string, TypeDelta>& deltas, bool& postings_missing)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inserts `postings` for `oid` (the caller deleted the old ones).
  absl::Status InsertPostings(int64_t oid, const std::vector<Posting>& postings) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One batch of ReindexPostings in its own transaction: the objects after `after_oid`, at most `limit`.
  // Returns the last oid done (after_oid when there were none) and adds to `progress`.
  absl::StatusOr<int64_t> ReindexBatch(int64_t after_oid, size_t limit, ReindexProgress& progress)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<PutResult>> PutInTransaction(std::span<const EncodedObject> rows)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rows of a by-id query: ?1 is the id, ?2 the version key when given.
  absl::StatusOr<std::vector<StoredObject>> ReadObjects(Handle& reader, const std::string& sql, std::string_view id,
                                                        std::optional<std::string_view> version_key);

  static constexpr size_t kMaxIdleReaders = 64;
  // A lean current-only listing: the seqs from the objects index alone, the rows from the cache (those not
  // there from `versions`, then kept).
  absl::StatusOr<ListEnd> ListLeanCurrent(const Query& query, const std::string& where, size_t limit,
                                          absl::FunctionRef<void(sqlite::Statement&)> bind,
                                          absl::FunctionRef<bool(const StoredView&)> visit);

  const std::string path_;
  const OpenOptions options_;
  const bool shared_reader_;  // ":memory:": reads use the writer's connection
  const Clock& clock_;
  const bool read_only_;
  const int schema_version_;
  const IdHashKey id_hash_key_;
  std::mutex mu_;
  Handle writer_ ABSL_GUARDED_BY(mu_);
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Handle>> idle_readers_ ABSL_GUARDED_BY(readers_mu_);
  sqlite::RowCache rows_;  // the rows of lean current-only listings (OpenOptions::row_cache_bytes)
};

}  // namespace concord::store
