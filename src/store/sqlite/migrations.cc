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

// Migration 2: organisations, users and API keys (store/accounts.h). Names are unique ignoring ASCII case
// (COLLATE NOCASE) so that "CERT-EU" and "cert-eu" cannot be two organisations. At most one organisation is
// the host, and it is local. api_keys keeps the SHA-256 of the secret, never the secret. Times are Unix
// microseconds; NULL where something has not happened (expires, revoked, last_used). allowed_cidrs is a
// space-separated list of canonical CIDRs, '' for any address: the key is always read whole. The REFERENCES
// clauses are enforced on the accounts connection (PRAGMA foreign_keys); nothing is ever deleted.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE organisations (
  id      TEXT PRIMARY KEY,
  name    TEXT NOT NULL UNIQUE COLLATE NOCASE,
  kind    TEXT NOT NULL CHECK (kind IN ('local', 'remote')),
  host    INTEGER NOT NULL DEFAULT 0 CHECK (host IN (0, 1) AND (host = 0 OR kind = 'local')),
  created INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX organisations_one_host ON organisations (host) WHERE host = 1;

CREATE TABLE users (
  id       TEXT PRIMARY KEY,
  name     TEXT NOT NULL UNIQUE COLLATE NOCASE,
  org_id   TEXT NOT NULL REFERENCES organisations (id),
  role     TEXT NOT NULL CHECK (role IN ('admin', 'org-admin', 'analyst', 'duty-officer', 'read-only', 'sync')),
  created  INTEGER NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) WITHOUT ROWID;
CREATE INDEX users_org_id ON users (org_id);

CREATE TABLE api_keys (
  key_id        TEXT PRIMARY KEY CHECK (length(key_id) = 16),
  user_id       TEXT NOT NULL REFERENCES users (id),
  secret_sha256 TEXT NOT NULL CHECK (length(secret_sha256) = 64),
  created       INTEGER NOT NULL,
  expires       INTEGER,
  allowed_cidrs TEXT NOT NULL DEFAULT '',
  read_only     INTEGER NOT NULL CHECK (read_only IN (0, 1)),
  revoked       INTEGER,
  last_used     INTEGER
) WITHOUT ROWID;
CREATE INDEX api_keys_user_id ON api_keys (user_id, created);
)sql";

// Migration 3: the audit log (audit/audit.h). One row per entry, seq the entry's number (explicit, head + 1
// read inside the BEGIN IMMEDIATE transaction that inserts it, so the chain never forks and never has
// gaps). object_ids is the JSON array and detail the canonical JSON object exactly as hashed (the audit file,
// which took these tables over, stores object_ids packed since its version 4: sqlite_audit_log.h); every column
// is part of the hash except hash itself. audit_objects finds the entries naming an object. The triggers
// stop accidental UPDATE/DELETE through SQL; they are no defence against someone with the file (the hash
// chain is), which is why they can simply be dropped.
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE audit_log (
  seq            INTEGER PRIMARY KEY,
  time_us        INTEGER NOT NULL,
  action         TEXT NOT NULL,
  user_name      TEXT NOT NULL,
  org_id         TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  object_ids     TEXT NOT NULL,
  outcome        TEXT NOT NULL,
  justification  TEXT NOT NULL,
  remote_address TEXT NOT NULL,
  detail         TEXT NOT NULL,
  prev_hash      TEXT NOT NULL,
  hash           TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (time_us);
CREATE INDEX audit_log_org ON audit_log (org_id, seq);
CREATE INDEX audit_log_user ON audit_log (user_name, seq);
CREATE TABLE audit_objects (
  object_id TEXT NOT NULL,
  seq       INTEGER NOT NULL,
  PRIMARY KEY (object_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

// Migration 4: sharing groups and trust communities (store/accounts.h). A group's id is
// x-concord-sharing-group--UUIDv4, the form objects name in sharing_group_ref; its owner is always one of its
// members. Membership rows are deleted when an organisation leaves: the policy reads membership as it is now.
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE sharing_groups (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
  description TEXT NOT NULL DEFAULT '',
  owner_org   TEXT NOT NULL REFERENCES organisations (id),
  created     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sharing_group_members (
  group_id TEXT NOT NULL REFERENCES sharing_groups (id),
  org_id   TEXT NOT NULL REFERENCES organisations (id),
  added    INTEGER NOT NULL,
  PRIMARY KEY (group_id, org_id)
) WITHOUT ROWID;
CREATE INDEX sharing_group_members_org_id ON sharing_group_members (org_id);

CREATE TABLE communities (
  name        TEXT PRIMARY KEY,
  description TEXT NOT NULL DEFAULT '',
  created     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE community_members (
  community TEXT NOT NULL REFERENCES communities (name),
  org_id    TEXT NOT NULL REFERENCES organisations (id),
  added     INTEGER NOT NULL,
  PRIMARY KEY (community, org_id)
) WITHOUT ROWID;
)sql";

// Migration 5: TAXII state shared by every process on the database (taxii/status_log.h). taxii_statuses holds
// the status resources of Add Objects requests as the JSON served, visible to org_id only; seq orders them by
// commit, so "the newest N" is the highest seqs, and retention (newest N, younger than a maximum age) deletes
// on insert. created_us is Unix microseconds. The cursor key authenticates TAXII `next` tokens: made here, in
// the migration's transaction, so every process opening the database reads the same 32 bytes and cursors
// survive restarts.
constexpr std::string_view kSchemaV5 = R"sql(
CREATE TABLE taxii_statuses (
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,
  org_id     TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  json       TEXT NOT NULL
);
CREATE INDEX taxii_statuses_created ON taxii_statuses (created_us);
INSERT INTO store_meta (name, value) VALUES ('taxii_cursor_key', randomblob(32));
)sql";

// Migration 6: postings (store.h; design.md "Postings"), (kind, normalised value) → object, for the current
// version of each object only, written in the transaction that makes a version current.
//
// Lookups go by (kind, value), which is as random a key as an id: the same WAL arithmetic as objects_id_hash
// applies (every random-keyed b-tree rewrites about min(batch postings, index pages) pages per commit). So
// the only random-keyed index over all postings, postings_vhash, holds a 64-bit keyed SipHash of (kind byte,
// value) — the id_hash_key of migration 1 — and the oid: about 20 bytes an entry whatever the value's length
// (URLs run to hundreds). The value text stays in the row, so that readers verify a hash hit (a collision
// costs a row read, never a wrong answer), and (vhash, oid) orders one value's objects for cursor paging.
// (Migration 7 replaced postings_vhash by postings_value, which carries the value: see there.)
// Rows refer to their object by oid and are inserted together per object, so the table (rowid) and
// postings_oid, which replaces an object's postings when a new version becomes current, append.
// A value shared by 50,000 objects is 50,000 rows: no pairs are ever stored.
//
// address is set on IP and CIDR postings only: 16 bytes big-endian, IPv4 as IPv4-mapped IPv6, so that
// blob order is address order and "the IPs inside 10.0.0.0/8" is one range scan of postings_address (partial:
// other postings cost it nothing). prefix is set on CIDR postings only; postings_prefix (partial, tiny
// key) answers "which prefix lengths exist for this kind" by a skip scan, so that "the CIDRs containing
// 10.1.2.3" is at most 33 (129) exact lookups of the masked address.
//
// postings_complete in store_meta: 1 when every current version has its postings. A database that already
// holds objects when it reaches this migration starts at 0, and so does one written by an opener without an
// extractor, until ReindexPostings has run (2 while it runs).
constexpr std::string_view kSchemaV6 = R"sql(
CREATE TABLE postings (
  oid     INTEGER NOT NULL,
  kind    INTEGER NOT NULL,
  vhash   INTEGER NOT NULL,
  value   TEXT NOT NULL,
  address BLOB,
  prefix  INTEGER
);
CREATE INDEX postings_vhash ON postings (vhash, oid);
CREATE INDEX postings_oid ON postings (oid);
CREATE INDEX postings_address ON postings (kind, address, oid) WHERE address IS NOT NULL;
CREATE INDEX postings_prefix ON postings (kind, prefix) WHERE prefix IS NOT NULL;
INSERT INTO store_meta (name, value) SELECT 'postings_complete', NOT EXISTS (SELECT 1 FROM objects);
)sql";

// Migration 7: postings_value (vhash, kind, value, oid) replaces postings_vhash (vhash, oid). A lookup by
// value (FindPostings, CountPostings, LookupPostings) then reads the index alone: the value is compared in
// the index entry (a hash collision still never gives a wrong answer) and the oids come in order, where
// postings_vhash needed the posting row of every entry to compare the value, one random row read each (a
// batch correlation of 1M objects against 10M stored read 4.4M of them, design.md "Postings"). The entry
// grows by the value's length (about 20 bytes more for a domain), which the random-keyed index rewrites with
// each commit, as postings_vhash did its smaller entries.
constexpr std::string_view kSchemaV7 = R"sql(
CREATE INDEX postings_value ON postings (vhash, kind, value, oid);
DROP INDEX postings_vhash;
)sql";

// Migration 8: every sighting has a reference posting (kind correlate::kSightingOfPosting, value its
// sighting_of_ref), so that a search lists an indicator's sightings with one posting lookup. A store that
// already holds sightings has none: it is marked incomplete, and `concord serve` rebuilds the postings at
// start (ReindexPostings).
constexpr std::string_view kSchemaV8 = R"sql(
UPDATE store_meta SET value = 0
  WHERE name = 'postings_complete' AND EXISTS (SELECT 1 FROM objects WHERE type = 'sighting');
)sql";

// Migration 9: no change here. PostgreSQL's migration 9 compresses large versions with LZ4 instead of pglz;
// SQLite stores them uncompressed. The step keeps both backends at one schema version.
constexpr std::string_view kSchemaV9 = "SELECT 1";

constexpr std::array kMigrations = {
    Migration{1, "versions, current objects, per-type counts", kSchemaV1},
    Migration{2, "organisations, users, API keys", kSchemaV2},
    Migration{3, "audit log", kSchemaV3},
    Migration{4, "sharing groups, trust communities", kSchemaV4},
    Migration{5, "TAXII status resources, TAXII cursor key", kSchemaV5},
    Migration{6, "postings", kSchemaV6},
    Migration{7, "postings looked up by value from the index alone", kSchemaV7},
    Migration{8, "sightings indexed by what they sight (postings rebuilt when sightings exist)", kSchemaV8},
    Migration{9, "large versions compressed with LZ4 (PostgreSQL only)", kSchemaV9},
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

std::string_view AuditLogSchema() { return kSchemaV3; }

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

absl::StatusOr<int> EnsureSchema(Connection& db, bool read_only, const Clock& clock) {
  if (!read_only) return ApplyMigrations(db, clock);
  CONCORD_ASSIGN_OR_RETURN(int version, SchemaVersion(db));
  if (version != LatestSchemaVersion()) {
    return absl::FailedPreconditionError(
        fmt::format("store schema version is {}, this binary needs {}; open it read-write once to migrate", version,
                    LatestSchemaVersion()));
  }
  return version;
}

}  // namespace concord::store::sqlite
