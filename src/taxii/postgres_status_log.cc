#include "taxii/postgres_status_log.h"

#include <array>
#include <chrono>
#include <mutex>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "common/status.h"
#include "fmt/format.h"
#include "store/postgres/connection.h"
#include "store/postgres/locks.h"
#include "store/postgres/migrations.h"

namespace concord::taxii::internal {
namespace {

using store::postgres::Connection;
using store::postgres::Param;
using store::postgres::Result;

constexpr int kSchemaVersion = 5;  // taxii_statuses and the cursor key

absl::Status NeedsSchema(Connection& db) {
  CONCORD_ASSIGN_OR_RETURN(int version, store::postgres::SchemaVersion(db));
  if (version < kSchemaVersion) {
    return absl::FailedPreconditionError(fmt::format(
        "store schema version is {}, TAXII needs {}; open the store read-write once to migrate", version, kSchemaVersion));
  }
  return absl::OkStatus();
}

class PostgresStatusLog final : public StatusLog {
 public:
  static absl::StatusOr<std::unique_ptr<StatusLog>> Create(const std::string& uri, const StatusLogOptions& options) {
    const Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Instance();
    CONCORD_ASSIGN_OR_RETURN(Connection writer, Connection::Open(uri));
    CONCORD_RETURN_IF_ERROR(store::postgres::EnsureSchema(writer, false, clock).status());
    CONCORD_ASSIGN_OR_RETURN(Connection reader, Connection::Open(uri));
    return std::unique_ptr<StatusLog>(new PostgresStatusLog(uri, options, clock, std::move(writer), std::move(reader)));
  }

  absl::Status Put(std::string_view org_id, const StatusResource& status) override {
    const std::string json = RenderStatus(status);
    const int64_t now = clock_.Now().UnixMicros();
    std::lock_guard lock(write_mu_);
    absl::Status done = [&]() -> absl::Status {
      if (!writer_.ok()) {
        CONCORD_RETURN_IF_ERROR(Reconnect(writer_));
      }
      CONCORD_RETURN_IF_ERROR(writer_.Exec(fmt::format("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({})",
                                                       store::postgres::kTaxiiStatusLock)));
      const std::array<Param, 1> id = {std::string(status.id)};
      CONCORD_RETURN_IF_ERROR(writer_.Query("DELETE FROM taxii_statuses WHERE id = $1", id).status());
      const std::array<Param, 4> row = {std::string(status.id), std::string(org_id), std::to_string(now), json};
      CONCORD_RETURN_IF_ERROR(
          writer_.Query("INSERT INTO taxii_statuses (id, org_id, created_us, json) VALUES ($1, $2, $3, $4)", row).status());
      const std::array<Param, 1> cutoff = {std::to_string(Cutoff(now))};
      CONCORD_RETURN_IF_ERROR(writer_.Query("DELETE FROM taxii_statuses WHERE created_us < $1", cutoff).status());
      // Everything at or below the seq of the (N+1)-th newest; nothing when there are N or fewer (NULL).
      const std::array<Param, 1> keep = {std::to_string(retention_.max_statuses)};
      CONCORD_RETURN_IF_ERROR(writer_
                                  .Query("DELETE FROM taxii_statuses WHERE seq <= (SELECT seq FROM taxii_statuses "
                                         "ORDER BY seq DESC LIMIT 1 OFFSET $1)",
                                         keep)
                                  .status());
      return writer_.Exec("COMMIT");
    }();
    if (!done.ok()) {
      writer_.RollbackQuietly();  // the original error is the one to report
      return Annotate(done, fmt::format("storing TAXII status {}", status.id));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<StatusResource>> Get(std::string_view id, std::string_view org_id) override {
    const int64_t now = clock_.Now().UnixMicros();
    std::string json;
    {
      std::lock_guard lock(read_mu_);
      if (!reader_.ok()) {
        CONCORD_RETURN_IF_ERROR(Reconnect(reader_));
      }
      // Retention is enforced on insert; the age check here keeps it exact while nobody posts.
      const std::array<Param, 3> params = {std::string(id), std::string(org_id), std::to_string(Cutoff(now))};
      CONCORD_ASSIGN_OR_RETURN(
          Result r, reader_.Query("SELECT json FROM taxii_statuses WHERE id = $1 AND org_id = $2 AND created_us >= $3",
                                  params));
      if (r.rows() == 0) return std::optional<StatusResource>();
      json = std::string(r.Text(0, 0));
    }
    auto status = ParseStatus(json);
    if (!status.ok()) return Annotate(status.status(), fmt::format("stored TAXII status {}", id));
    return std::optional<StatusResource>(std::move(*status));
  }

 private:
  PostgresStatusLog(std::string uri, const StatusLogOptions& options, const Clock& clock, Connection writer,
                    Connection reader)
      : uri_(std::move(uri)), clock_(clock), retention_(options.retention) {
    std::scoped_lock lock(write_mu_, read_mu_);
    writer_ = std::move(writer);
    reader_ = std::move(reader);
  }

  // A connection the server dropped is replaced by the next call (the call that found it failed Unavailable).
  absl::Status Reconnect(Connection& db) const {
    CONCORD_ASSIGN_OR_RETURN(db, Connection::Open(uri_));
    return absl::OkStatus();
  }

  int64_t Cutoff(int64_t now_us) const {
    return now_us - std::chrono::duration_cast<std::chrono::microseconds>(retention_.max_age).count();
  }

  const std::string uri_;
  const Clock& clock_;
  const StatusRetention retention_;

  std::mutex write_mu_;
  Connection writer_ ABSL_GUARDED_BY(write_mu_);
  std::mutex read_mu_;
  Connection reader_ ABSL_GUARDED_BY(read_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<StatusLog>> OpenPostgresStatusLog(const std::string& uri,
                                                                const StatusLogOptions& options) {
  auto log = PostgresStatusLog::Create(uri, options);
  if (!log.ok()) {
    return Annotate(log.status(), fmt::format("opening the TAXII status log in '{}'", store::postgres::RedactUri(uri)));
  }
  return log;
}

absl::StatusOr<std::vector<uint8_t>> LoadPostgresCursorKey(const std::string& uri) {
  auto key = [&]() -> absl::StatusOr<std::vector<uint8_t>> {
    CONCORD_ASSIGN_OR_RETURN(Connection db, Connection::Open(uri));
    CONCORD_RETURN_IF_ERROR(NeedsSchema(db));
    CONCORD_ASSIGN_OR_RETURN(Result r, db.Query("SELECT value FROM store_meta WHERE name = 'taxii_cursor_key'"));
    const std::string bytes = r.rows() == 1 ? r.Bytes(0, 0) : std::string();
    if (bytes.size() != 32) {
      return absl::DataLossError(fmt::format("store_meta.taxii_cursor_key: expected 32 bytes, found {}", bytes.size()));
    }
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  }();
  if (!key.ok()) {
    return Annotate(key.status(), fmt::format("reading the TAXII cursor key in '{}'", store::postgres::RedactUri(uri)));
  }
  return key;
}

}  // namespace concord::taxii::internal
