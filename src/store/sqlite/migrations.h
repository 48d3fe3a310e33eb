// concord/store/sqlite/migrations.h — the SQLite schema as numbered migrations.
//
// Migrations are applied in order on open, each in its own transaction together with its row in
// schema_migrations(version, applied_at), so a crash leaves the schema at a whole version. A migration is
// never edited once released: a schema change is a new migration with the next number.
#pragma once

#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "store/sqlite/connection.h"

namespace concord::store::sqlite {

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

// The audit tables of migration 3, which the audit log's own file now starts from (audit/sqlite_audit_log.h);
// in the store's file they only hold what was written before the audit log moved.
std::string_view AuditLogSchema();

// All migrations this binary knows, in version order (1, 2, …).
std::span<const Migration> Migrations();
int LatestSchemaVersion();

// The schema version recorded in the database: 0 for an empty database.
[[nodiscard]] absl::StatusOr<int> SchemaVersion(Connection& db);

// Applies every pending migration and returns the resulting schema version. A database whose version is
// newer than this binary knows is refused with FailedPrecondition (an older binary must not write to it).
// Safe against another process migrating the same file concurrently.
[[nodiscard]] absl::StatusOr<int> ApplyMigrations(Connection& db, const Clock& clock);

// What every opener of a database does: a writer applies the migrations; a read-only opener needs the
// schema to be current already (FailedPrecondition otherwise). Returns the schema version.
[[nodiscard]] absl::StatusOr<int> EnsureSchema(Connection& db, bool read_only, const Clock& clock);

}  // namespace concord::store::sqlite
