#include "audit/postgres_audit_log.h"

#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include "audit/chain.h"
#include "common/json.h"
#include "common/status.h"
#include "common/thread.h"
#include "fmt/format.h"
#include "store/postgres/locks.h"
#include "store/postgres/migrations.h"

namespace concord::audit {
namespace {

using store::postgres::Connection;
using store::postgres::Param;
using store::postgres::Result;

constexpr char kColumns[] =
    "seq, time_us, action, user_name, org_id, key_id, object_ids, outcome, justification, remote_address, detail, "
    "prev_hash, hash";

absl::StatusOr<Entry> ReadEntry(const Result& r, int row) {
  return internal::EntryFromColumns({.seq = r.Int(row, 0),
                                     .time_us = r.Int(row, 1),
                                     .action = r.Text(row, 2),
                                     .user = r.Text(row, 3),
                                     .org = r.Text(row, 4),
                                     .key_id = r.Text(row, 5),
                                     .object_ids = r.Text(row, 6),
                                     .outcome = r.Text(row, 7),
                                     .justification = r.Text(row, 8),
                                     .remote_address = r.Text(row, 9),
                                     .detail = r.Text(row, 10),
                                     .prev_hash = r.Text(row, 11),
                                     .hash = r.Text(row, 12)});
}

void AppendField(std::string& line, std::string_view value) {
  store::postgres::AppendCopyText(line, value);
  line += '\t';
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresAuditLog>> PostgresAuditLog::Create(const std::string& uri,
                                                                          const Options& options) {
  const Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Instance();
  auto opened = [&]() -> absl::StatusOr<std::unique_ptr<PostgresAuditLog>> {
    CONCORD_ASSIGN_OR_RETURN(Connection db, Connection::Open(uri));
    if (options.read_only) {
      CONCORD_ASSIGN_OR_RETURN(int version, store::postgres::SchemaVersion(db));
      if (version == 0) {
        return absl::NotFoundError("no audit log in this database yet (a node or command that writes creates it)");
      }
    }
    CONCORD_RETURN_IF_ERROR(store::postgres::EnsureSchema(db, options.read_only, clock).status());
    Connection writer;
    Connection reader;
    if (options.read_only) {
      CONCORD_RETURN_IF_ERROR(db.Exec("SET default_transaction_read_only = on"));
      reader = std::move(db);
    } else {
      if (options.sync_full) CONCORD_RETURN_IF_ERROR(db.Exec("SET synchronous_commit = on"));
      writer = std::move(db);
      CONCORD_ASSIGN_OR_RETURN(reader, Connection::Open(uri));
    }
    auto log = std::unique_ptr<PostgresAuditLog>(new PostgresAuditLog(uri, options, std::move(writer), std::move(reader)));
    if (!options.read_only) {
      log->committer_ = std::thread([raw = log.get()] {
        NameThisThread("audit-commit");
        raw->CommitLoop();
      });
    }
    return log;
  }();
  if (!opened.ok()) {
    return Annotate(opened.status(), fmt::format("opening the audit log in '{}'", store::postgres::RedactUri(uri)));
  }
  return opened;
}

PostgresAuditLog::PostgresAuditLog(std::string uri, const Options& options, Connection writer, Connection reader)
    : uri_(std::move(uri)), clock_(options.clock != nullptr ? *options.clock : SystemClock::Instance()), options_(options) {
  std::scoped_lock lock(write_mu_, read_mu_);
  writer_ = std::move(writer);
  reader_ = std::move(reader);
}

PostgresAuditLog::~PostgresAuditLog() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;  // the committer drains the queue first
  }
  queue_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

absl::StatusOr<Connection> PostgresAuditLog::Connect() const {
  CONCORD_ASSIGN_OR_RETURN(Connection db, Connection::Open(uri_));
  if (options_.read_only) CONCORD_RETURN_IF_ERROR(db.Exec("SET default_transaction_read_only = on"));
  if (!options_.read_only && options_.sync_full) CONCORD_RETURN_IF_ERROR(db.Exec("SET synchronous_commit = on"));
  return db;
}

void PostgresAuditLog::AppendAsync(std::vector<Event> events, AppendCallback done) {
  if (options_.read_only) return done(absl::FailedPreconditionError("the audit log is open read-only"));
  if (events.empty()) return done(std::vector<Entry>{});
  for (size_t i = 0; i < events.size(); ++i) {
    // Checked before queueing, so that a bad event fails alone and never the batch it would share.
    absl::Status s = internal::CheckNoFloats(events[i].detail, "detail");
    if (!s.ok()) return done(Annotate(s, fmt::format("audit event {} ({})", i, ActionName(events[i].action))));
  }
  std::unique_lock lock(queue_mu_);
  if (stopping_) {
    lock.unlock();
    return done(absl::UnavailableError("the audit log is closing"));
  }
  queue_.push_back(Pending{std::move(events), {}, std::move(done)});
  lock.unlock();
  queue_cv_.notify_one();
}

void PostgresAuditLog::CommitLoop() {
  std::unique_lock lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, and nothing left to commit
    // Take what is queued, up to max_batch events (always at least one call's events).
    std::vector<Pending> batch;
    size_t events_taken = 0;
    while (!queue_.empty() && (batch.empty() || events_taken + queue_.front().events.size() <= options_.max_batch)) {
      events_taken += queue_.front().events.size();
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    const absl::Status status = Commit(batch);
    for (Pending& p : batch) {
      if (status.ok()) {
        p.done(std::move(p.entries));
      } else {
        p.done(status);
      }
    }
    lock.lock();
  }
}

absl::Status PostgresAuditLog::Commit(std::vector<Pending>& batch) {
  std::lock_guard lock(write_mu_);
  if (!writer_.ok()) {
    // The server dropped the connection (restart, failover): reconnect for this commit.
    auto fresh = Connect();
    if (!fresh.ok()) return Annotate(fresh.status(), "audit log");
    writer_ = *std::move(fresh);
  }
  absl::Status status = writer_.Exec(
      fmt::format("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({})", store::postgres::kAuditLock));
  if (status.ok()) status = CommitInTransaction(batch);
  if (status.ok()) status = writer_.Exec("COMMIT");
  if (!status.ok()) {
    writer_.RollbackQuietly();  // the first error is the one to report
    return Annotate(status, "audit log");
  }
  return absl::OkStatus();
}

absl::Status PostgresAuditLog::CommitInTransaction(std::vector<Pending>& batch) {
  // The head as committed by anyone (another process included): this statement's snapshot is taken after the
  // lock was granted, so it sees the previous holder's commit.
  CONCORD_ASSIGN_OR_RETURN(Result head_row,
                           writer_.Query("SELECT seq, time_us, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
  Head head;
  int64_t head_time = 0;
  if (head_row.rows() > 0) {
    head.seq = head_row.Int(0, 0);
    head_time = head_row.Int(0, 1);
    head.hash = std::string(head_row.Text(0, 2));
  }
  // Time never runs backwards along the chain, so that time ranges and seq ranges agree.
  const int64_t now = std::max(clock_.Now().UnixMicros(), head_time);
  std::string entries;
  std::string objects;
  for (Pending& p : batch) {
    p.entries.clear();
    p.entries.reserve(p.events.size());
    for (Event& event : p.events) {
      Entry e;
      e.seq = head.seq + 1;
      e.time_micros = now;
      e.event = std::move(event);
      e.prev_hash = head.hash;
      // The canonical entry holds the stored forms of detail and (ids needing no escape) object_ids.
      const internal::CanonicalParts canonical = internal::CanonicalEntryParts(e);
      e.hash = Sha256Hex(canonical.bytes);
      entries += fmt::format("{}\t{}\t", e.seq, e.time_micros);
      AppendField(entries, ActionName(e.event.action));
      AppendField(entries, e.event.user);
      AppendField(entries, e.event.org);
      AppendField(entries, e.event.key_id);
      if (canonical.ids_plain) {
        AppendField(entries, canonical.ids());
      } else {
        AppendField(entries, internal::IdsJson(e.event.object_ids));
      }
      AppendField(entries, e.event.outcome);
      AppendField(entries, e.event.justification);
      AppendField(entries, e.event.remote_address);
      AppendField(entries, canonical.detail());
      AppendField(entries, e.prev_hash);
      store::postgres::AppendCopyText(entries, e.hash);
      entries += '\n';
      // One index row per distinct object of the entry ((object_id, seq) is audit_objects' key).
      std::set<std::string_view> named(e.event.object_ids.begin(), e.event.object_ids.end());
      for (std::string_view id : named) {
        store::postgres::AppendCopyText(objects, id);
        objects += fmt::format("\t{}\n", e.seq);
      }
      head.seq = e.seq;
      head.hash = e.hash;
      p.entries.push_back(std::move(e));
    }
  }
  CONCORD_RETURN_IF_ERROR(writer_.CopyIn(fmt::format("COPY audit_log ({}) FROM STDIN", kColumns), entries));
  if (!objects.empty()) CONCORD_RETURN_IF_ERROR(writer_.CopyIn("COPY audit_objects (object_id, seq) FROM STDIN", objects));
  return absl::OkStatus();
}

absl::StatusOr<Head> PostgresAuditLog::GetHead() {
  std::lock_guard lock(read_mu_);
  if (!reader_.ok()) {
    CONCORD_ASSIGN_OR_RETURN(reader_, Connect());
  }
  CONCORD_ASSIGN_OR_RETURN(Result r, reader_.Query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
  Head head;
  if (r.rows() > 0) {
    head.seq = r.Int(0, 0);
    head.hash = std::string(r.Text(0, 1));
  }
  return head;
}

absl::StatusOr<Page> PostgresAuditLog::List(const Filter& filter) {
  if (filter.limit < 1 || filter.limit > 1000) return FieldError("limit", "must be 1 to 1000");
  std::vector<Param> params = {std::to_string(filter.after_seq)};
  const auto bind = [&params](std::string value) {
    params.emplace_back(std::move(value));
    return fmt::format("${}", params.size());
  };
  std::string sql = fmt::format("SELECT {} FROM audit_log WHERE seq > $1", kColumns);
  if (filter.since) sql += " AND time_us >= " + bind(std::to_string(filter.since->UnixMicros()));
  if (filter.until) sql += " AND time_us < " + bind(std::to_string(filter.until->UnixMicros()));
  if (!filter.user.empty()) sql += " AND user_name = " + bind(filter.user);
  if (!filter.org.empty()) sql += " AND org_id = " + bind(filter.org);
  if (filter.action) sql += " AND action = " + bind(std::string(ActionName(*filter.action)));
  if (!filter.object_id.empty()) {
    // audit_objects is written with each entry, so it is exact at every moment.
    sql += " AND seq IN (SELECT seq FROM audit_objects WHERE object_id = " + bind(filter.object_id) + " AND seq > $1)";
  }
  sql += " ORDER BY seq LIMIT " + bind(std::to_string(filter.limit + 1));
  std::lock_guard lock(read_mu_);
  if (!reader_.ok()) {
    CONCORD_ASSIGN_OR_RETURN(reader_, Connect());
  }
  CONCORD_ASSIGN_OR_RETURN(Result r, reader_.Query(sql, params));
  Page page;
  page.next_after_seq = filter.after_seq;
  for (int i = 0; i < r.rows(); ++i) {
    if (page.entries.size() == filter.limit) {
      page.more = true;
      break;
    }
    auto entry = ReadEntry(r, i);
    if (!entry.ok()) return Annotate(entry.status(), fmt::format("audit entry {}", r.Int(i, 0)));
    page.next_after_seq = entry->seq;
    page.entries.push_back(std::move(*entry));
  }
  return page;
}

absl::StatusOr<Verification> PostgresAuditLog::Verify(const VerifyOptions& options) {
  // A connection of its own, so that List and GetHead do not wait for a whole-log walk; one snapshot for all.
  CONCORD_ASSIGN_OR_RETURN(Connection db, Connect());
  CONCORD_RETURN_IF_ERROR(db.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  const std::string one_sql = fmt::format("SELECT {} FROM audit_log WHERE seq = $1", kColumns);
  internal::ChainVerifier verifier(options, [&db, &one_sql](int64_t seq) -> absl::StatusOr<std::optional<Entry>> {
    const std::vector<Param> params = {std::to_string(seq)};
    CONCORD_ASSIGN_OR_RETURN(Result one, db.Query(one_sql, params));
    if (one.rows() == 0) return std::optional<Entry>();
    auto e = ReadEntry(one, 0);
    if (!e.ok()) return std::optional<Entry>();
    return std::optional<Entry>(*std::move(e));
  });
  const std::string page_sql =
      fmt::format("SELECT {} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT {}", kColumns, kVerifyPage);
  int64_t after = std::numeric_limits<int64_t>::min();
  for (;;) {
    const std::vector<Param> params = {std::to_string(after)};
    CONCORD_ASSIGN_OR_RETURN(Result r, db.Query(page_sql, params));
    bool go_on = true;
    for (int i = 0; i < r.rows() && go_on; ++i) {
      after = r.Int(i, 0);
      CONCORD_ASSIGN_OR_RETURN(go_on, verifier.Add(after, ReadEntry(r, i)));
    }
    if (!go_on || r.rows() < kVerifyPage) break;
  }
  db.RollbackQuietly();  // read only: nothing to commit
  return verifier.Finish();
}

}  // namespace concord::audit
