#include "store/postgres/migrations.h"

#include <array>
#include <string>

#include "common/status.h"
#include "fmt/format.h"

namespace concord::store::postgres {
namespace {

// Migration 1: every version with its extracted columns, the current version per id, counters per type.
// See store/sqlite/migrations.cc for the reasoning behind the shape (oid, id_hash, version_key); what differs:
//
// - seq is assigned by the writer as max(seq) + 1 while it holds the writers' advisory lock (kWriterLock)
//   from before it reads max(seq) until its COMMIT. So seq order is commit order across processes, and a
//   reader that sees seq N committed sees every seq below N (docs/postgresql.md, "Commit-order visibility").
//   Versions are never deleted, so a seq is never reused.
// - Every text column that is compared or ordered is COLLATE "C": version keys, ids and posting values order
//   by bytes as in SQLite, whatever the database's default collation, and their b-trees compare with memcmp.
// - The id hash key is 16 bytes from gen_random_uuid() (PostgreSQL's strong random source) through SHA-256.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE objects (
  oid           bigint PRIMARY KEY,
  id            text COLLATE "C" NOT NULL,
  id_hash       bigint NOT NULL,
  type          text COLLATE "C" NOT NULL,
  current_seq   bigint NOT NULL,
  version_key   text COLLATE "C" NOT NULL,
  revoked       boolean NOT NULL,
  revoked_since text COLLATE "C"
);
CREATE INDEX objects_id_hash ON objects (id_hash);
CREATE UNIQUE INDEX objects_current_seq ON objects (current_seq);
CREATE INDEX objects_type_current_seq ON objects (type, current_seq);

CREATE TABLE versions (
  seq               bigint PRIMARY KEY,
  oid               bigint NOT NULL,
  id                text COLLATE "C" NOT NULL,
  type              text COLLATE "C" NOT NULL,
  spec_version      text NOT NULL,
  created           text NOT NULL,
  modified          text NOT NULL,
  version_key       text COLLATE "C" NOT NULL,
  created_by_ref    text NOT NULL,
  revoked           boolean NOT NULL,
  valid_from        text COLLATE "C",
  valid_until       text COLLATE "C",
  tlp               smallint NOT NULL,
  distribution      integer,
  sharing_group_ref text NOT NULL,
  origin            text,
  added             bigint NOT NULL,
  content_hash      text NOT NULL,
  json              text NOT NULL,
  UNIQUE (oid, version_key)
);
CREATE INDEX versions_type_seq ON versions (type, seq);
CREATE INDEX versions_version_key ON versions (version_key);

CREATE TABLE store_meta (
  name  text PRIMARY KEY,
  value bytea NOT NULL
);
INSERT INTO store_meta (name, value)
  VALUES ('id_hash_key', substring(sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())) FROM 1 FOR 16));

CREATE TABLE type_counts (
  type     text COLLATE "C" PRIMARY KEY,
  objects  bigint NOT NULL,
  versions bigint NOT NULL,
  revoked  bigint NOT NULL
);
)sql";

// Migration 2: organisations, users and API keys (store/accounts.h). SQLite's COLLATE NOCASE uniqueness is a
// unique index on lower(name).
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE organisations (
  id      text PRIMARY KEY,
  name    text NOT NULL,
  kind    text NOT NULL CHECK (kind IN ('local', 'remote')),
  host    boolean NOT NULL DEFAULT false CHECK (NOT host OR kind = 'local'),
  created bigint NOT NULL
);
CREATE UNIQUE INDEX organisations_name ON organisations (lower(name));
CREATE UNIQUE INDEX organisations_one_host ON organisations (host) WHERE host;

CREATE TABLE users (
  id       text PRIMARY KEY,
  name     text NOT NULL,
  org_id   text NOT NULL REFERENCES organisations (id),
  role     text NOT NULL CHECK (role IN ('admin', 'org-admin', 'analyst', 'duty-officer', 'read-only', 'sync')),
  created  bigint NOT NULL,
  disabled boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX users_name ON users (lower(name));
CREATE INDEX users_org_id ON users (org_id);

CREATE TABLE api_keys (
  key_id        text PRIMARY KEY CHECK (length(key_id) = 16),
  user_id       text NOT NULL REFERENCES users (id),
  secret_sha256 text NOT NULL CHECK (length(secret_sha256) = 64),
  created       bigint NOT NULL,
  expires       bigint,
  allowed_cidrs text NOT NULL DEFAULT '',
  read_only     boolean NOT NULL,
  revoked       bigint,
  last_used     bigint
);
CREATE INDEX api_keys_user_id ON api_keys (user_id, created);
)sql";

// Migration 3: the audit log (audit/audit.h). UPDATE and DELETE are stopped by a trigger, as in SQLite.
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE audit_log (
  seq            bigint PRIMARY KEY,
  time_us        bigint NOT NULL,
  action         text NOT NULL,
  user_name      text NOT NULL,
  org_id         text NOT NULL,
  key_id         text NOT NULL,
  object_ids     text NOT NULL,
  outcome        text NOT NULL,
  justification  text NOT NULL,
  remote_address text NOT NULL,
  detail         text NOT NULL,
  prev_hash      text NOT NULL,
  hash           text NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (time_us);
CREATE INDEX audit_log_org ON audit_log (org_id, seq);
CREATE INDEX audit_log_user ON audit_log (user_name, seq);
CREATE TABLE audit_objects (
  object_id text NOT NULL,
  seq       bigint NOT NULL,
  PRIMARY KEY (object_id, seq)
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
)sql";

// Migration 4: sharing groups and trust communities (store/accounts.h).
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE sharing_groups (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  description text NOT NULL DEFAULT '',
  owner_org   text NOT NULL REFERENCES organisations (id),
  created     bigint NOT NULL
);
CREATE UNIQUE INDEX sharing_groups_name ON sharing_groups (lower(name));

CREATE TABLE sharing_group_members (
  group_id text NOT NULL REFERENCES sharing_groups (id),
  org_id   text NOT NULL REFERENCES organisations (id),
  added    bigint NOT NULL,
  PRIMARY KEY (group_id, org_id)
);
CREATE INDEX sharing_group_members_org_id ON sharing_group_members (org_id);

CREATE TABLE communities (
  name        text PRIMARY KEY,
  description text NOT NULL DEFAULT '',
  created     bigint NOT NULL
);

CREATE TABLE community_members (
  community text NOT NULL REFERENCES communities (name),
  org_id    text NOT NULL REFERENCES organisations (id),
  added     bigint NOT NULL,
  PRIMARY KEY (community, org_id)
);
)sql";

// Migration 5: TAXII status resources and the TAXII cursor key (taxii/status_log.h).
constexpr std::string_view kSchemaV5 = R"sql(
CREATE TABLE taxii_statuses (
  seq        bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  id         text NOT NULL UNIQUE,
  org_id     text NOT NULL,
  created_us bigint NOT NULL,
  json       text NOT NULL
);
CREATE INDEX taxii_statuses_created ON taxii_statuses (created_us);
INSERT INTO store_meta (name, value)
  VALUES ('taxii_cursor_key', sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())));
)sql";

// Migration 6: postings (store.h; store/sqlite/migrations.cc explains the shape). address is bytea, which
// orders by bytes, so the 16-byte big-endian form makes "the IPs inside a CIDR" one range scan.
// postings_complete lives in store_state (an integer, unlike store_meta's bytes): 1 when every current
// version has its postings, 0 when not, 2 while ReindexPostings runs.
constexpr std::string_view kSchemaV6 = R"sql(
CREATE TABLE postings (
  oid     bigint NOT NULL,
  kind    smallint NOT NULL,
  vhash   bigint NOT NULL,
  value   text COLLATE "C" NOT NULL,
  address bytea,
  prefix  smallint
);
CREATE INDEX postings_vhash ON postings (vhash, oid);
CREATE INDEX postings_oid ON postings (oid);
CREATE INDEX postings_address ON postings (kind, address, oid) WHERE address IS NOT NULL;
CREATE INDEX postings_prefix ON postings (kind, prefix) WHERE prefix IS NOT NULL;
CREATE TABLE store_state (
  name  text PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO store_state (name, value)
  SELECT 'postings_complete', CASE WHEN EXISTS (SELECT 1 FROM objects) THEN 0 ELSE 1 END;
)sql";

// Migration 7: no change here. SQLite's migration 7 replaces its postings_vhash by a covering index with the
// value; PostgreSQL keeps postings_vhash, because a b-tree entry is limited to about 2.7 KB and a posting's
// value (a URL) may be longer. The step keeps both backends at one schema version, which `concord store
// migrate` requires.
constexpr std::string_view kSchemaV7 = "SELECT 1";

// Migration 8: sightings gain a reference posting (see the SQLite migration 8): a store holding sightings is
// marked incomplete and rebuilt at the next `concord serve`.
constexpr std::string_view kSchemaV8 = R"sql(
UPDATE store_state SET value = 0
  WHERE name = 'postings_complete' AND EXISTS (SELECT 1 FROM objects WHERE type = 'sighting');
)sql";

// Migration 9: versions.json is compressed with LZ4 instead of pglz when it goes to TOAST (a version of more
// than about 2 KB: reports, large notes and bundles of refs). pglz took about 10% of the server's CPU in an
// import of 1M generated objects of which 1% were reports of 14 KB; LZ4 compresses several times faster and
// decompresses faster on reads. Versions stored before keep pglz and read as before. A server built without
// LZ4 support refuses the method; the step then leaves pglz in place rather than fail the node's start.
// SQLite's migration 9 is an empty step that keeps both backends at one schema version.
constexpr std::string_view kSchemaV9 = R"sql(
DO $$
BEGIN
  ALTER TABLE versions ALTER COLUMN json SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'this PostgreSQL server has no LZ4 support: versions.json stays compressed with pglz';
END
$$;
)sql";

constexpr std::array kMigrations = {
    Migration{1, "versions, current objects, per-type counts", kSchemaV1},
    Migration{2, "organisations, users, API keys", kSchemaV2},
    Migration{3, "audit log", kSchemaV3},
    Migration{4, "sharing groups, trust communities", kSchemaV4},
    Migration{5, "TAXII status resources, TAXII cursor key", kSchemaV5},
    Migration{6, "postings", kSchemaV6},
    Migration{7, "postings looked up by value from the index alone (SQLite only)", kSchemaV7},
    Migration{8, "sightings indexed by what they sight (postings rebuilt when sightings exist)", kSchemaV8},
    Migration{9, "large versions compressed with LZ4 (PostgreSQL only)", kSchemaV9},
};

constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)";

absl::Status TooNew(int version) {
  return absl::FailedPreconditionError(
      fmt::format("store schema version {} is newer than this binary supports ({}); upgrade Concord", version,
                  LatestSchemaVersion()));
}

// Applies every pending migration, each in a transaction holding kMigrationLock: a second opener waits for the
// first one's migration to commit, then finds it recorded and goes on to the next.
absl::StatusOr<int> ApplyMigrations(Connection& db, const Clock& clock) {
  for (const Migration& migration : kMigrations) {
    absl::Status status = [&]() -> absl::Status {
      CONCORD_RETURN_IF_ERROR(db.Exec(fmt::format("BEGIN; SELECT pg_advisory_xact_lock({})", kMigrationLock)));
      CONCORD_RETURN_IF_ERROR(db.Exec(kCreateMigrationsTable));
      CONCORD_ASSIGN_OR_RETURN(int64_t current, db.QueryInt("SELECT coalesce(max(version), 0) FROM schema_migrations"));
      if (current > LatestSchemaVersion()) return TooNew(static_cast<int>(current));
      if (current < migration.version) {
        CONCORD_RETURN_IF_ERROR(db.Exec(migration.sql));
        const std::array<Param, 2> params = {std::to_string(migration.version),
                                             std::to_string(clock.Now().UnixMicros())};
        CONCORD_RETURN_IF_ERROR(
            db.Query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", params).status());
      }
      return db.Exec("COMMIT");
    }();
    if (!status.ok()) {
      db.RollbackQuietly();
      if (status.code() == absl::StatusCode::kFailedPrecondition) return status;
      return Annotate(status, fmt::format("migration {} ({})", migration.version, migration.description));
    }
  }
  return SchemaVersion(db);
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

int LatestSchemaVersion() { return kMigrations.back().version; }

absl::StatusOr<int> SchemaVersion(Connection& db) {
  CONCORD_ASSIGN_OR_RETURN(int64_t exists, db.QueryInt("SELECT count(*) FROM pg_catalog.pg_tables WHERE "
                                                       "tablename = 'schema_migrations' AND schemaname = current_schema()"));
  if (exists == 0) return 0;
  CONCORD_ASSIGN_OR_RETURN(int64_t version, db.QueryInt("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  return static_cast<int>(version);
}

absl::StatusOr<int> EnsureSchema(Connection& db, bool read_only, const Clock& clock) {
  CONCORD_ASSIGN_OR_RETURN(int version, SchemaVersion(db));
  if (version > LatestSchemaVersion()) return TooNew(version);
  if (!read_only) return version == LatestSchemaVersion() ? absl::StatusOr<int>(version) : ApplyMigrations(db, clock);
  if (version != LatestSchemaVersion()) {
    return absl::FailedPreconditionError(
        fmt::format("store schema version is {}, this binary needs {}; open it read-write once to migrate", version,
                    LatestSchemaVersion()));
  }
  return version;
}

}  // namespace concord::store::postgres
