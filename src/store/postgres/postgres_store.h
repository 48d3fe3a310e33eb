// concord/store/postgres/postgres_store.h — the PostgreSQL backend of Store, over libpq.
//
// Opened by OpenStore("postgresql://…") (or "postgres://…"); the URI is libpq's. The schema comes from the
// numbered migrations of postgres/migrations.h, applied on open under an advisory lock, so several processes
// may open one database at once.
//
// Commit-order visibility (docs/postgresql.md): every Put is one transaction that first takes the writers'
// transaction-level advisory lock (kWriterLock) and holds it until COMMIT; seqs are max(seq) + 1 read under
// the lock. So across all processes on the database, seq order is commit order, and a reader that sees seq N
// committed sees every smaller seq: a reader paging by `seq > after` never skips a version committed later.
// Writers of all processes therefore take turns, as they do on SQLite (BEGIN IMMEDIATE); reads never wait.
//
// A batch is written set-wise: one query reads the state of every id of the batch, the store's rules run in
// memory over it in batch order (so duplicates in a batch behave as if they arrived one after the other), and
// the new rows go in by COPY (versions, objects, postings) and by array-parameter UPDATE/INSERT (changed
// objects, type counts). A failure rolls the whole batch back.
//
// Thread-safety: all calls are safe from several threads. Writes use one connection under one mutex; reads
// take a connection of their own from a pool (opened on demand, at most kMaxIdleReaders kept), each read call
// seeing every batch committed before it started, by this process or another. Durability is the server's:
// a Put returns OK after COMMIT (OpenOptions::sync_full sets synchronous_commit = on for this store's writes,
// whatever the server's default).
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "store/postgres/connection.h"
#include "store/store.h"

namespace concord::store {

class PostgresStore final : public Store {
 public:
  // Connects to `uri`, brings the schema up to date (read-write) or checks that it is current (read-only:
  // FailedPrecondition otherwise). NotFound when the database does not exist, Unavailable when the server
  // cannot be reached; a schema newer than this binary knows is refused with FailedPrecondition.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PostgresStore>> Create(const std::string& uri,
                                                                             const OpenOptions& options = {});

  absl::StatusOr<std::vector<PutResult>> PutEncoded(std::span<const EncodedObject> batch) override;
  absl::StatusOr<StoredObject> Get(std::string_view id) override;
  absl::StatusOr<StoredObject> GetVersion(std::string_view id, const Timestamp& modified) override;
  absl::StatusOr<std::vector<StoredObject>> Versions(std::string_view id) override;
  absl::StatusOr<Page> List(const Query& query) override;
  absl::Status Sweep(const Query& query, const std::function<bool(const StoredObject&)>& visit) override;
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
  using IdHashKey = std::array<unsigned char, 16>;
  struct Batch;

  PostgresStore(postgres::Connection writer, std::string uri, const OpenOptions& options, const Clock& clock,
                int schema_version, const IdHashKey& id_hash_key);

  int64_t IdHash(std::string_view id) const;
  // The SELECT of List and Sweep for `query`'s filters, ordered by seq, without a LIMIT; appends its
  // parameters to `params`.
  std::string ListSql(const Query& query, std::vector<postgres::Param>& params) const;
  int64_t PostingHash(uint8_t kind, std::string_view value) const;

  // A read connection for one call: from the pool, or newly opened; given back afterwards if still healthy.
  template <typename Fn>
  auto WithReader(Fn&& read) -> decltype(read(std::declval<postgres::Connection&>()));

  // The batch's work inside its transaction (the caller holds the writers' lock and ends the transaction).
  absl::StatusOr<std::vector<PutResult>> PutInTransaction(std::span<const EncodedObject> rows)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteBatch(const Batch& batch, std::span<const EncodedObject> rows, int64_t added_base)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends COPY lines for `postings` of `oid` to `data`.
  void AppendPostings(std::string& data, int64_t oid, const std::vector<Posting>& postings) const;
  absl::StatusOr<int64_t> ReindexBatch(int64_t after_oid, size_t limit, ReindexProgress& progress)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rows of a by-id query ($1 id, $2 id hash, $3 version key when given).
  absl::StatusOr<std::vector<StoredObject>> ReadObjects(const std::string& sql, std::string_view id,
                                                        std::optional<std::string> version_key);

  static constexpr size_t kMaxIdleReaders = 16;

  const std::string uri_;
  const OpenOptions options_;
  const Clock& clock_;
  const bool read_only_;
  const int schema_version_;
  const IdHashKey id_hash_key_;
  std::mutex mu_;
  postgres::Connection writer_ ABSL_GUARDED_BY(mu_);
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<postgres::Connection>> idle_readers_ ABSL_GUARDED_BY(readers_mu_);
};

}  // namespace concord::store
