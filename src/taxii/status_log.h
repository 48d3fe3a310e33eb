// concord/taxii/status_log.h — TAXII state that outlives a process and is shared by every process serving
// one database: the status resources of Add Objects requests (§4.3) and the key that authenticates `next`
// cursors.
//
// StatusLog is the interface the handlers use; the SQLite implementation lives in the object store's
// database file (migration 5, table taxii_statuses), opened from the same location as the store, the
// accounts and the audit log; the PostgreSQL one (postgres_status_log.h) in the same tables of the store's
// database, for a postgresql:// location.
//
// Retention, enforced on every insert in the insert's transaction: the newest `max_statuses` are kept, and
// statuses older than `max_age` are dropped. A status is only ever shown to the organisation that posted it;
// anyone else gets nullopt, exactly as for an unknown id.
//
// The cursor key is 32 random bytes in store_meta, created by migration 5 in the migration's transaction, so
// two processes starting together on a new database agree on it, and cursors survive restarts.
//
// Thread-safety: every call of a StatusLog is safe from several threads and several processes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/time.h"
#include "taxii/resources.h"

namespace concord::taxii {

struct StatusRetention {
  size_t max_statuses = 10000;                       // at least 1: the status just stored is always kept
  std::chrono::seconds max_age = std::chrono::hours(24 * 7);  // at least 1 s
};

class StatusLog {
 public:
  virtual ~StatusLog() = default;
  // Stores `status` as posted by `org_id` (a status with the same id is replaced), then applies retention.
  [[nodiscard]] virtual absl::Status Put(std::string_view org_id, const StatusResource& status) = 0;
  // The status `id` when `org_id` posted it and it is still kept; nullopt otherwise.
  [[nodiscard]] virtual absl::StatusOr<std::optional<StatusResource>> Get(std::string_view id,
                                                                         std::string_view org_id) = 0;
};

struct StatusLogOptions {
  StatusRetention retention;
  const Clock* clock = nullptr;  // the created time of a status and the age cut-off; SystemClock when null
};

// The status log of the store at `location` ("sqlite:PATH", a path or "postgresql://…"; the store's
// migrations are applied when pending). InvalidArgument when the retention is out of range.
[[nodiscard]] absl::StatusOr<std::unique_ptr<StatusLog>> OpenStatusLog(std::string_view location,
                                                                      const StatusLogOptions& options = {});

// The persistent cursor key (32 bytes) of the store at `location`, which must be migrated (open the store
// first). DataLoss when it is missing or not 32 bytes.
[[nodiscard]] absl::StatusOr<std::vector<uint8_t>> LoadCursorKey(std::string_view location);

// A status resource from the JSON RenderStatus wrote: RenderStatus(*ParseStatus(RenderStatus(s))) ==
// RenderStatus(s). InvalidArgument naming the member when the text is not such a document.
[[nodiscard]] absl::StatusOr<StatusResource> ParseStatus(std::string_view json);

}  // namespace concord::taxii
