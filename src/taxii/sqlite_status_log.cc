// The SQLite StatusLog (status_log.h): table taxii_statuses of the store's file (migration 5), behind a
// writer and a reader connection of its own, as the audit log does. OpenStatusLog and LoadCursorKey hand a
// postgresql:// location to postgres_status_log.h.
#include <mutex>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "common/status.h"
#include "fmt/format.h"
#include "store/postgres/locks.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"
#include "store/store.h"
#include "taxii/postgres_status_log.h"
#include "taxii/status_log.h"

namespace concord::taxii {
namespace {

using store::sqlite::Connection;
using store::sqlite::Statement;

constexpr int kSchemaVersion = 5;  // taxii_statuses and the cursor key

absl::Status NeedsSchema(Connection& db) {
  CONCORD_ASSIGN_OR_RETURN(int version, store::sqlite::SchemaVersion(db));
  if (version < kSchemaVersion) {
    return absl::FailedPreconditionError(fmt::format(
        "store schema version is {}, TAXII needs {}; open the store read-write once to migrate", version, kSchemaVersion));
  }
  return absl::OkStatus();
}

class SqliteStatusLog final : public StatusLog {
 public:
  static absl::StatusOr<std::unique_ptr<StatusLog>> Create(const std::string& path, const StatusLogOptions& options) {
    const Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Instance();
    CONCORD_ASSIGN_OR_RETURN(Connection writer, Connection::Open(path, false));
    CONCORD_RETURN_IF_ERROR(store::sqlite::ConfigureConnection(writer, path, false, false));
    CONCORD_RETURN_IF_ERROR(store::sqlite::ApplyMigrations(writer, clock).status());
    CONCORD_ASSIGN_OR_RETURN(Connection reader, Connection::Open(path, true));
    CONCORD_RETURN_IF_ERROR(store::sqlite::ConfigureConnection(reader, path, true, false));
    CONCORD_RETURN_IF_ERROR(NeedsSchema(reader));
    auto log = std::unique_ptr<SqliteStatusLog>(new SqliteStatusLog(std::move(writer), std::move(reader), options, clock));
    CONCORD_RETURN_IF_ERROR(log->Prepare());
    return std::unique_ptr<StatusLog>(std::move(log));
  }

  ~SqliteStatusLog() override {
    // Statements before their connections.
    std::scoped_lock lock(write_mu_, read_mu_);
    insert_ = Statement();
    expire_ = Statement();
    trim_ = Statement();
    select_ = Statement();
  }

  absl::Status Put(std::string_view org_id, const StatusResource& status) override {
    const std::string json = RenderStatus(status);
    const int64_t now = clock_.Now().UnixMicros();
    std::lock_guard lock(write_mu_);
    CONCORD_RETURN_IF_ERROR(writer_.Exec("BEGIN IMMEDIATE"));
    absl::Status done = [&]() -> absl::Status {
      {
        Statement::Scoped reset(insert_);
        insert_.BindText(1, status.id);
        insert_.BindText(2, org_id);
        insert_.BindInt(3, now);
        insert_.BindText(4, json);
        CONCORD_RETURN_IF_ERROR(insert_.Step().status());
      }
      {
        Statement::Scoped reset(expire_);
        expire_.BindInt(1, Cutoff(now));
        CONCORD_RETURN_IF_ERROR(expire_.Step().status());
      }
      {
        Statement::Scoped reset(trim_);
        trim_.BindInt(1, static_cast<int64_t>(retention_.max_statuses));
        CONCORD_RETURN_IF_ERROR(trim_.Step().status());
      }
      return writer_.Exec("COMMIT");
    }();
    if (!done.ok()) {
      (void)writer_.Exec("ROLLBACK");  // the original error is the one to report
      return Annotate(done, fmt::format("storing TAXII status {}", status.id));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<StatusResource>> Get(std::string_view id, std::string_view org_id) override {
    const int64_t now = clock_.Now().UnixMicros();
    std::string json;
    {
      std::lock_guard lock(read_mu_);
      Statement::Scoped reset(select_);
      select_.BindText(1, id);
      select_.BindText(2, org_id);
      // Retention is enforced on insert; the age check here keeps it exact while nobody posts.
      select_.BindInt(3, Cutoff(now));
      CONCORD_ASSIGN_OR_RETURN(bool row, select_.Step());
      if (!row) return std::optional<StatusResource>();
      json = std::string(select_.ColumnText(0));
    }
    auto status = ParseStatus(json);
    if (!status.ok()) return Annotate(status.status(), fmt::format("stored TAXII status {}", id));
    return std::optional<StatusResource>(std::move(*status));
  }

 private:
  SqliteStatusLog(Connection writer, Connection reader, const StatusLogOptions& options, const Clock& clock)
      : clock_(clock), retention_(options.retention), writer_(std::move(writer)), reader_(std::move(reader)) {}

  absl::Status Prepare() {
    std::scoped_lock lock(write_mu_, read_mu_);
    CONCORD_ASSIGN_OR_RETURN(insert_, writer_.Prepare("INSERT OR REPLACE INTO taxii_statuses (id, org_id, created_us, json) "
                                                      "VALUES (?1, ?2, ?3, ?4)",
                                                      true));
    CONCORD_ASSIGN_OR_RETURN(expire_, writer_.Prepare("DELETE FROM taxii_statuses WHERE created_us < ?1", true));
    // Everything at or below the seq of the (N+1)-th newest; nothing when there are N or fewer (NULL).
    CONCORD_ASSIGN_OR_RETURN(trim_, writer_.Prepare("DELETE FROM taxii_statuses WHERE seq <= "
                                                    "(SELECT seq FROM taxii_statuses ORDER BY seq DESC LIMIT 1 OFFSET ?1)",
                                                    true));
    CONCORD_ASSIGN_OR_RETURN(select_, reader_.Prepare("SELECT json FROM taxii_statuses "
                                                      "WHERE id = ?1 AND org_id = ?2 AND created_us >= ?3",
                                                      true));
    return absl::OkStatus();
  }

  int64_t Cutoff(int64_t now_us) const {
    return now_us - std::chrono::duration_cast<std::chrono::microseconds>(retention_.max_age).count();
  }

  const Clock& clock_;
  const StatusRetention retention_;

  std::mutex write_mu_;
  Connection writer_ ABSL_GUARDED_BY(write_mu_);
  Statement insert_ ABSL_GUARDED_BY(write_mu_);
  Statement expire_ ABSL_GUARDED_BY(write_mu_);
  Statement trim_ ABSL_GUARDED_BY(write_mu_);

  std::mutex read_mu_;
  Connection reader_ ABSL_GUARDED_BY(read_mu_);
  Statement select_ ABSL_GUARDED_BY(read_mu_);
};

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StatusLog>> OpenStatusLog(std::string_view location, const StatusLogOptions& options) {
  if (options.retention.max_statuses < 1) return FieldError("max_statuses", "must be at least 1");
  if (options.retention.max_age < std::chrono::seconds(1)) return FieldError("max_age", "must be at least 1 second");
  if (store::postgres::IsPostgresLocation(location)) return internal::OpenPostgresStatusLog(std::string(location), options);
  CONCORD_ASSIGN_OR_RETURN(std::string path, store::SqlitePathOf(location));
  auto log = SqliteStatusLog::Create(path, options);
  if (!log.ok()) return Annotate(log.status(), fmt::format("opening the TAXII status log in '{}'", path));
  return log;
}

absl::StatusOr<std::vector<uint8_t>> LoadCursorKey(std::string_view location) {
  if (store::postgres::IsPostgresLocation(location)) return internal::LoadPostgresCursorKey(std::string(location));
  CONCORD_ASSIGN_OR_RETURN(std::string path, store::SqlitePathOf(location));
  auto key = [&]() -> absl::StatusOr<std::vector<uint8_t>> {
    CONCORD_ASSIGN_OR_RETURN(Connection db, Connection::Open(path, true));
    CONCORD_RETURN_IF_ERROR(store::sqlite::ConfigureConnection(db, path, true, false));
    CONCORD_RETURN_IF_ERROR(NeedsSchema(db));
    CONCORD_ASSIGN_OR_RETURN(std::string hex,
                             db.QueryText("SELECT hex(value) FROM store_meta WHERE name = 'taxii_cursor_key'"));
    if (hex.size() != 64) {
      return absl::DataLossError(fmt::format("store_meta.taxii_cursor_key: expected 32 bytes, found {}", hex.size() / 2));
    }
    std::vector<uint8_t> out;
    out.reserve(32);
    for (size_t i = 0; i < hex.size(); i += 2) {
      const int hi = HexDigit(hex[i]);
      const int lo = HexDigit(hex[i + 1]);
      if (hi < 0 || lo < 0) return absl::DataLossError("store_meta.taxii_cursor_key: unreadable");
      out.push_back(static_cast<uint8_t>(hi * 16 + lo));
    }
    return out;
  }();
  if (!key.ok()) return Annotate(key.status(), fmt::format("reading the TAXII cursor key in '{}'", path));
  return key;
}

}  // namespace concord::taxii
