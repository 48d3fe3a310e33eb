// concord/taxii/postgres_status_log.h — the PostgreSQL StatusLog (status_log.h), for OpenStatusLog and
// LoadCursorKey given a postgresql:// location.
//
// Table taxii_statuses and store_meta's taxii_cursor_key of the store's database (migration 5). A Put is one
// READ COMMITTED transaction that takes the status advisory lock (store/postgres/locks.h, kTaxiiStatusLock),
// replaces a status of the same id (a new seq: storing it again makes it the newest, as SQLite's INSERT OR
// REPLACE does), inserts, and applies retention (older than max_age; beyond the newest max_statuses by seq).
// Under the lock seqs are taken in commit order, so "the newest N" means the same across processes. Gets
// read on a connection of their own and never wait for a Put.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "taxii/status_log.h"

namespace concord::taxii::internal {

// The retention in `options` is already validated. Applies the store's migrations when pending.
[[nodiscard]] absl::StatusOr<std::unique_ptr<StatusLog>> OpenPostgresStatusLog(const std::string& uri,
                                                                              const StatusLogOptions& options);
// NotFound when the database does not exist, FailedPrecondition when its schema is below 5.
[[nodiscard]] absl::StatusOr<std::vector<uint8_t>> LoadPostgresCursorKey(const std::string& uri);

}  // namespace concord::taxii::internal
