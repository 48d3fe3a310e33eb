#include "store/sqlite/migrations.h"

#include <array>

#include "common/status.h"
#include "fmt/format.h"

namespace concord::store::sqlite {
namespace {

// Migration 1: every version with its extracted columns, the current version per id, counters per type.
//
// versions.seq is the node-local change sequence: the rowid, max + 1 on insert. Versions are never deleted
// (the store is append-only), so a seq is never reused; AUTOINCREMENT would guard against deletes at the
// price of a sqlite_sequence write per row (~10% of ingest). A future purge must keep the highest row or
// switch to AUTOINCREMENT in a migration. Rows are inserted only inside BEGIN IMMEDIATE transactions, so
// seq order is commit order.
// version_key is FormatSortable(modified, or created when there is no modified), '' for unversioned objects:
// (id, version_key) is the STIX version identity. Timestamps used for ordering or ranges are stored
// sortable; created/modified also as written, so that reads give back the producer's text.
//
// STIX ids end in random UUIDs, so every b-tree keyed by id takes its inserts at random pages, and each
// page touched is written whole to the WAL at commit: a commit rewrites about min(batch, index pages)
// pages of such an index. So the only random-keyed index is objects_id_hash, over a 64-bit keyed SipHash
// of the id (key in store_meta, so that nobody can aim ids at one hash): its entries are a third of the
// size of the id text, and so is the WAL traffic of every batch. Uniqueness of id is kept by the single
// writer, which looks an id up (hash, then text) before inserting it. Versions refer to their object by
// oid, an integer that grows with new ids, so that their (oid, version_key) key appends.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE objects (
  oid           INTEGER PRIMARY KEY,
  id            TEXT NOT NULL,
  id_hash       INTEGER NOT NULL,
  type          TEXT NOT NULL,
  current_seq   INTEGER NOT NULL,
  version_key   TEXT NOT NULL,
  revoked       INTEGER NOT NULL,
  revoked_since TEXT
);
CREATE INDEX objects_id_hash ON objects (id_hash);
CREATE UNIQUE INDEX objects_current_seq ON objects (current_seq);
CREATE INDEX objects_type_current_seq ON objects (type, current_seq);

CREATE TABLE versions (
  seq               INTEGER PRIMARY KEY,
  oid               INTEGER NOT NULL,
  id                TEXT NOT NULL,
  type              TEXT NOT NULL,
  spec_version      TEXT NOT NULL,
  created           TEXT NOT NULL,
  modified          TEXT NOT NULL,
  version_key       TEXT NOT NULL,
  created_by_ref    TEXT NOT NULL,
  revoked           INTEGER NOT NULL,
  valid_from        TEXT,
  valid_until       TEXT,
  tlp               INTEGER NOT NULL,
  distribution      INTEGER,
  sharing_group_ref TEXT NOT NULL,
  origin            TEXT,
  added             INTEGER NOT NULL,
  content_hash      TEXT NOT NULL,
  json              TEXT NOT NULL,
  UNIQUE (oid, version_key)
);
CREATE INDEX versions_type_seq ON versions (type, seq);
CREATE INDEX versions_version_key ON versions (version_key);

CREATE TABLE store_meta (
  name  TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;
INSERT INTO store_meta (name, value) VALUES ('id_hash_key', randomblob(16));

CREATE TABLE type_counts (
  type     TEXT PRIMARY KEY,
  objects  INTEGER NOT NULL,
  versions INTEGER NOT NULL,
  revoked  INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

constexpr std::array kMigrations = {
    Migration{1, "versions, current objects, per-type counts", kSchemaV1},
};

constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)";

absl::StatusOr<bool> MigrationsTableExists(Connection& db) {
  CONCORD_ASSIGN_OR_RETURN(
      int64_t n, db.QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"));
  return n > 0;
}

absl::Status TooNew(int version) {
  return absl::FailedPreconditionError(
      fmt::format("store schema version {} is newer than this binary supports ({}); upgrade Concord", version,
                  LatestSchemaVersion()));
}

// Applies `migration` unless another process already did; the caller holds no transaction.
absl::Status ApplyOne(Connection& db, const Migration& migration, const Clock& clock) {
  CONCORD_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  absl::Status status = [&]() -> absl::Status {
    CONCORD_RETURN_IF_ERROR(db.Exec(kCreateMigrationsTable));
    CONCORD_ASSIGN_OR_RETURN(int64_t current, db.QueryInt("SELECT max(version) FROM schema_migrations"));
    if (current > LatestSchemaVersion()) return TooNew(static_cast<int>(current));
    if (current >= migration.version) return absl::OkStatus();
    CONCORD_RETURN_IF_ERROR(db.Exec(migration.sql));
    CONCORD_ASSIGN_OR_RETURN(Statement record,
                             db.Prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"));
    record.BindInt(1, migration.version);
    record.BindInt(2, clock.Now().UnixMicros());
    CONCORD_RETURN_IF_ERROR(record.Step().status());
    return db.Exec("COMMIT");
  }();
  if (!status.ok()) {
    (void)db.Exec("ROLLBACK");  // the original error is what matters; a failed rollback adds nothing
    return Annotate(status, fmt::format("migration {} ({})", migration.version, migration.description));
  }
  return absl::OkStatus();
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

int LatestSchemaVersion() { return kMigrations.back().version; }

absl::StatusOr<int> SchemaVersion(Connection& db) {
  CONCORD_ASSIGN_OR_RETURN(bool exists, MigrationsTableExists(db));
  if (!exists) return 0;
  CONCORD_ASSIGN_OR_RETURN(int64_t version, db.QueryInt("SELECT max(version) FROM schema_migrations"));
  return static_cast<int>(version);
}

absl::StatusOr<int> ApplyMigrations(Connection& db, const Clock& clock) {
  CONCORD_ASSIGN_OR_RETURN(int version, SchemaVersion(db));
  if (version > LatestSchemaVersion()) return TooNew(version);
  for (const Migration& migration : kMigrations) {
    if (migration.version <= version) continue;
    CONCORD_RETURN_IF_ERROR(ApplyOne(db, migration, clock));
  }
  return SchemaVersion(db);
}

}  // namespace concord::store::sqlite
