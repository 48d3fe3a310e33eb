// concord/audit/sqlite_audit_log.h — the SQLite backend of AuditLog.
//
// Lives in the object store's database file (migration 3) behind two connections of its own: a writer and
// a reader. WAL lets List and Verify (a whole-log scan) run beside appends without delaying them.
//
// Group commit. Appends are on the read path of the API (a read above TLP:CLEAR is audited before it is
// answered), so they must be cheap under concurrency. A caller enqueues its events and waits; whichever
// caller finds no commit running becomes the leader: it takes everything queued (up to max_batch events),
// commits it in one BEGIN IMMEDIATE transaction, wakes the callers of that batch and hands over. Under
// load, batches grow by themselves; alone, an append is one transaction with no added delay. The head
// (seq, hash, time) is read inside each write transaction, so several processes on one file extend one
// chain; a failed commit fails every append of its batch and leaves no gap.
//
// Thread-safety: every call is safe from several threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "audit/audit.h"
#include "store/sqlite/connection.h"

namespace concord::audit {

class SqliteAuditLog final : public AuditLog {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteAuditLog>> Create(const std::string& path,
                                                                              const Options& options = {});
  ~SqliteAuditLog() override;

  absl::StatusOr<std::vector<Entry>> AppendBatch(std::vector<Event> events) override;
  absl::StatusOr<Page> List(const Filter& filter) override;
  absl::StatusOr<Head> GetHead() override;
  absl::StatusOr<Verification> Verify(const VerifyOptions& options) override;

 private:
  struct Pending;

  SqliteAuditLog(store::sqlite::Connection writer, store::sqlite::Connection reader, const Options& options);

  // Commits the events of `batch` as consecutive entries in one transaction.
  absl::Status Commit(std::vector<Pending*>& batch);
  absl::Status CommitInTransaction(std::vector<Pending*>& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const Clock& clock_;
  const Options options_;

  std::mutex queue_mu_;
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool committing_ ABSL_GUARDED_BY(queue_mu_) = false;

  std::mutex write_mu_;
  store::sqlite::Connection writer_ ABSL_GUARDED_BY(write_mu_);
  store::sqlite::Statement head_ ABSL_GUARDED_BY(write_mu_);
  store::sqlite::Statement insert_ ABSL_GUARDED_BY(write_mu_);
  store::sqlite::Statement insert_object_ ABSL_GUARDED_BY(write_mu_);

  std::mutex read_mu_;
  store::sqlite::Connection reader_ ABSL_GUARDED_BY(read_mu_);
};

}  // namespace concord::audit
