// concord/audit/postgres_audit_log.h — the PostgreSQL backend of AuditLog.
//
// Opened by OpenAuditLog("postgresql://…"). The log lives in the store's database, in migration 3's tables
// (audit_log, one row per entry, the hashed values exactly; audit_objects, (object id, seq) for "who saw
// object X"), not in a file of its own: PostgreSQL's appends do not wait for an import's transactions (row
// locks, MVCC), so the reason SQLite has a separate file does not arise. Opening read-write applies the
// store's migrations when pending, as every opener does.
//
// Group commit, as SqliteAuditLog: callers queue events (AppendAsync, or AppendBatch/Append, which wait);
// one committer thread takes what is queued (up to Options::max_batch events) and commits it in one
// transaction, then tells each caller.
//
// Several processes, one chain. Each commit is a READ COMMITTED transaction that first takes the audit
// advisory lock (store/postgres/locks.h, kAuditLock), then reads the head (seq, hash, time) in a statement of
// its own — so after the previous holder's COMMIT became visible — and appends from there with COPY. The lock
// is released by COMMIT/ROLLBACK only, after the commit is visible to new snapshots; so appends of all
// processes are serialised, the chain never forks and seqs have no gaps (a rolled-back batch used no seq).
// audit_log's primary key on seq is the backstop: a second writer that somehow bypassed the lock would fail,
// never fork the chain. A killed process's transaction is rolled back by the server and its lock released.
// docs/postgresql.md explains why an advisory lock rather than a row lock on a head row.
//
// The object index (audit_objects) is written in the entry's own transaction: B-tree inserts on the server's
// 8 KiB pages, no sorted runs as on SQLite, and lookups are exact without a mark.
//
// Verify walks the chain in one REPEATABLE READ snapshot on a connection of its own, in pages of
// kVerifyPage rows by seq, so appends go on meanwhile and a whole-log check needs no cursor held open.
//
// Thread-safety: every call is safe from several threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "audit/audit.h"
#include "store/postgres/connection.h"

namespace concord::audit {

class PostgresAuditLog final : public AuditLog {
 public:
  // Connects to `uri`. Read-write: migrates the database when needed. Read-only: NotFound when the database
  // does not exist or has no schema yet, FailedPrecondition when it needs migrating.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PostgresAuditLog>> Create(const std::string& uri,
                                                                                const Options& options = {});
  ~PostgresAuditLog() override;

  void AppendAsync(std::vector<Event> events, AppendCallback done) override;
  absl::StatusOr<Page> List(const Filter& filter) override;
  absl::StatusOr<Head> GetHead() override;
  absl::StatusOr<Verification> Verify(const VerifyOptions& options) override;

 private:
  struct Pending {
    std::vector<Event> events;
    std::vector<Entry> entries;
    AppendCallback done;
  };

  static constexpr int kVerifyPage = 5'000;

  PostgresAuditLog(std::string uri, const Options& options, store::postgres::Connection writer,
                   store::postgres::Connection reader);

  void CommitLoop();
  // Commits the events of `batch` as consecutive entries in one transaction.
  absl::Status Commit(std::vector<Pending>& batch);
  absl::Status CommitInTransaction(std::vector<Pending>& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // A new connection to the database (session settings applied).
  absl::StatusOr<store::postgres::Connection> Connect() const;

  const std::string uri_;
  const Clock& clock_;
  const Options options_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  std::mutex write_mu_;  // held by the committer thread around each transaction
  store::postgres::Connection writer_ ABSL_GUARDED_BY(write_mu_);

  std::mutex read_mu_;
  store::postgres::Connection reader_ ABSL_GUARDED_BY(read_mu_);

  std::thread committer_;
};

}  // namespace concord::audit
