// concord/store/postgres/locks.h — where a location names PostgreSQL, and the advisory lock keys of the
// node's other tables on it.
//
// Every key is a transaction-level advisory lock (pg_advisory_xact_lock, per database): taken as the first
// statement of a READ COMMITTED write transaction and released by COMMIT/ROLLBACK — after the commit is
// visible to new snapshots, so the next holder's statements see everything the previous holder wrote. A
// killed process's transaction ends on the server and releases its lock. The store's own keys
// (kMigrationLock, kWriterLock) are in postgres/migrations.h; the keys here continue that numbering.
// docs/postgresql.md, "Accounts, audit log and TAXII statuses", explains each.
#pragma once

#include <cstdint>
#include <string_view>

namespace concord::store::postgres {

// Account writes (organisations, users, keys, sharing groups, communities): writers take turns, as under
// SQLite's BEGIN IMMEDIATE, so "is this name taken?" and the insert that follows cannot interleave with
// another process's.
inline constexpr int64_t kAccountsLock = 0x636f6e636f726403;
// Audit appends: the head (seq, hash, time) is read and extended by one holder at a time, so the chain never
// forks and has no gaps, whichever process appends.
inline constexpr int64_t kAuditLock = 0x636f6e636f726404;
// TAXII status inserts with their retention: seq order is commit order, so "the newest N" is exact.
inline constexpr int64_t kTaxiiStatusLock = 0x636f6e636f726405;

// LISTEN/NOTIFY channels (store/change_listener.h). A writer sends its notification inside the transaction,
// just before COMMIT: PostgreSQL delivers it only if and when the transaction commits, so a listener never
// hears of a change it cannot yet read.
// Payload: the highest seq the transaction committed (decimal). Sent by every Put that stored a version.
inline constexpr std::string_view kObjectsChannel = "concord_objects";
// No payload. Sent by every write transaction of the accounts (organisations, users, keys, sharing groups,
// communities), so that other processes drop their cached keys and sharing groups at once.
inline constexpr std::string_view kAccountsChannel = "concord_accounts";

// "postgresql://…" or "postgres://…" (libpq's URI schemes), as OpenStore dispatches.
inline bool IsPostgresLocation(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

}  // namespace concord::store::postgres
