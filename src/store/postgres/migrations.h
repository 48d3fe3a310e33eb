// concord/store/postgres/migrations.h — the PostgreSQL schema as numbered migrations.
//
// The same numbers and the same tables as the SQLite schema (store/sqlite/migrations.h), in PostgreSQL's
// dialect: migration N here creates what migration N creates there. Each is applied in its own transaction
// (PostgreSQL's DDL is transactional) together with its row in schema_migrations(version, applied_at), under
// a transaction-level advisory lock, so that several processes opening one database at once apply each
// migration exactly once and a crash leaves the schema at a whole version. A migration is never edited
// once released: a schema change is a new migration with the next number, in both dialects.
#pragma once

#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "store/postgres/connection.h"

namespace concord::store::postgres {

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

// Advisory lock keys (pg_advisory_xact_lock, per database): one for migrations, one for writers of the store.
inline constexpr int64_t kMigrationLock = 0x636f6e636f726401;  // "concor" d, 1
inline constexpr int64_t kWriterLock = 0x636f6e636f726402;

std::span<const Migration> Migrations();
int LatestSchemaVersion();

// The schema version recorded in the database: 0 for an empty database.
[[nodiscard]] absl::StatusOr<int> SchemaVersion(Connection& db);

// A writer applies the pending migrations (FailedPrecondition when the database is newer than this binary);
// a read-only opener needs the schema current already (FailedPrecondition otherwise). Returns the version.
[[nodiscard]] absl::StatusOr<int> EnsureSchema(Connection& db, bool read_only, const Clock& clock);

}  // namespace concord::store::postgres
