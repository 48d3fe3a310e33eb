// concord/store/migrate.h — moving a node's whole database from SQLite to PostgreSQL.
//
// A SQLite node is two files (plus their -wal and -shm): the store file NAME.db, which holds the object store
// (versions, objects, type_counts, postings, store_meta), the accounts (organisations, users, api_keys,
// sharing groups, communities) and the TAXII status resources; and the audit file NAME.audit.db
// (audit::AuditPathOf), which holds the audit log and its SQLite-only object index. On PostgreSQL all of it is
// one database (docs/postgresql.md). Migrate copies every row of both files into an empty PostgreSQL database:
//
// - the source is read in one read transaction per file (a consistent snapshot of each; stop the node first so
//   that the two files agree) and never written. Its schema version must be exactly this binary's: an older
//   file is refused (open it once with this version, so that it migrates, then retry); a newer one too.
// - the target's schema is created or brought up to date by the numbered migrations; a target whose tables hold
//   any row, or to which another client is connected, is refused (FailedPrecondition naming the table or the
//   sessions). Nothing is ever merged into existing data.
// - the rows go in by COPY in ONE transaction that also holds every advisory lock of the node's writers
//   (store, accounts, audit, TAXII) and an ACCESS EXCLUSIVE lock on every table (TRUNCATE), so no Concord
//   process can write or read a partial copy, and a failure anywhere — or the process being killed — leaves the
//   target exactly as empty as it was. Every value is copied as stored: seq, oid, added, content_hash, id_hash
//   and the posting hashes, which is why store_meta's id_hash_key (the SipHash key of id_hash and vhash) and
//   taxii_cursor_key (TAXII `next` tokens keep working) are copied too. API keys are rows like any other: their
//   SHA-256 digests, expiry, CIDRs, flags and last_used carry over, so every issued token keeps working. The
//   audit entries are copied column for column, so every hash of the chain still covers exactly its entry;
//   audit_objects (PostgreSQL's "who saw object X" index) is rebuilt from each entry's object_ids, which is
//   what the SQLite runs index.
// - the target's change sequences continue after the copy: versions.seq, objects.oid and audit_log.seq are
//   max + 1 under their writers' locks (nothing to advance), and every identity/serial sequence (taxii_statuses)
//   is set to its column's maximum. The copy commits atomically under the writers' lock, so the visible seqs are
//   a prefix at every moment, as commit-order visibility requires (docs/postgresql.md).
// - before COMMIT it verifies, inside the transaction: per table the row count and a digest of every row's
//   values as PostgreSQL reads them back equal to those of the source, the last seq, the last oid and the audit
//   head (seq, hash). A mismatch rolls everything back (DataLoss). The audit chain itself is re-verified by the
//   caller after the commit (audit::AuditLog::Verify; the audit module sits above this one).
//
// Secondary indexes are dropped inside the transaction and rebuilt after the copy (a bulk build instead of
// millions of random b-tree inserts); constraint indexes stay and check uniqueness as rows arrive.
//
// Not thread-safe with respect to the databases it touches: it needs them to itself (see above).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace concord::store {

// What a SQLite node consists of. `audit_path` is the audit file (audit::AuditPathOf(store_path)); when it
// does not exist the audit log is read from the store file's own audit tables, where a Concord older than the
// audit file kept it (and where a node that never audited anything has none).
struct MigrateSource {
  std::string store_path;
  std::string audit_path;
};

struct MigrateProgress {
  std::string_view table;  // target table being copied, or "indexes" while secondary indexes are rebuilt
  int64_t rows_done = 0;
  int64_t rows_total = 0;  // rows of the table in the source
  double seconds = 0;      // since this table started
};

struct MigrateOptions {
  // Called after each COPY chunk and once when a table is done (rows_done == rows_total); may be empty.
  std::function<void(const MigrateProgress&)> progress;
  // Rows per COPY statement (the input is built and sent one chunk at a time, never the whole table).
  size_t chunk_rows = 20'000;
  // Drop the secondary indexes before the copy and build them afterwards (the default, and faster: see
  // docs/postgresql.md for the figures); false keeps them and updates them row by row, for comparison.
  bool rebuild_secondary_indexes = true;
  // Test hook: called after each chunk is sent, inside the transaction; an error aborts the migration there.
  std::function<absl::Status(std::string_view table, int64_t rows_done)> after_chunk;
};

struct MigratedTable {
  std::string name;    // target table
  std::string source;  // where its rows came from: "store", "audit", or "audit (derived)" for audit_objects
  int64_t rows = 0;    // rows copied, equal to the source's and verified in the target
  double seconds = 0;
};

struct MigrateReport {
  std::vector<MigratedTable> tables;  // in copy order
  int64_t last_seq = 0;               // versions: the last change sequence number, the same on both sides
  int64_t audit_entries = 0;          // audit_log rows
  int64_t audit_head_seq = 0;         // the audit head copied: seq and hash ("" for an empty log)
  std::string audit_head_hash;
  std::string audit_source;  // the file the audit log was read from ("" when there was none)
  int schema_version = 0;
  double copy_seconds = 0;    // the COPY phase alone
  double index_seconds = 0;   // rebuilding the secondary indexes
  double verify_seconds = 0;  // the digests and checks before COMMIT
  double seconds = 0;         // everything, from opening the source to ANALYZE after the commit
};

// Copies the SQLite node `from` into the PostgreSQL database `to_uri` (see the top of this file). Errors:
// FailedPrecondition for a source whose schema version is not this binary's, a source holding a table this
// code does not know (rather than leave it behind), a non-empty or busy target; NotFound for a missing source
// file or target database; DataLoss when verification fails; Unavailable when the server goes away. On any error
// the target holds no copied row.
[[nodiscard]] absl::StatusOr<MigrateReport> Migrate(const MigrateSource& from, const std::string& to_uri,
                                                    const MigrateOptions& options = {});

}  // namespace concord::store
