// concord/node/store_commands.h — `concord store migrate --from LOCATION --to LOCATION`.
//
// Moves a whole SQLite node (the store file and its audit file) into an empty PostgreSQL database with
// store::Migrate (store/migrate.h): every object version, posting, account, API key, sharing group,
// community, TAXII status and audit entry, in one transaction that leaves the target empty on failure.
// Only sqlite:PATH (or a path) → postgresql://… is supported; any other pair is refused.
//
// Around the copy it verifies the audit chain: the source's before (a broken chain is refused unless
// --accept-broken-audit-log, so that nobody mistakes a copied break for one made by the migration), the
// target's after (it must be intact with the source's head; exit 1 otherwise).
//
// Output: progress on standard error (per table: rows copied, rate; a line every few seconds and one per
// table), unless --quiet; one summary line on standard output, text or (--json) one JSON document:
// {"from","to","tables":{NAME:ROWS…},"last_seq","audit":{"entries","head":{"seq","hash"},"intact"},
//  "seconds","copy_seconds","index_seconds","verify_seconds"}.
// Exit 0 on success; 1 on any failure, with "concord: migrate: …" on standard error; 2 for usage errors.
#pragma once

#include <iosfwd>
#include <string>

namespace concord::node {

struct StoreMigrateArgs {
  std::string from;  // --from sqlite:PATH or a path
  std::string to;    // --to postgresql://…
  bool quiet = false;
  bool accept_broken_audit_log = false;
  bool keep_indexes = false;  // hidden --keep-indexes: maintain secondary indexes row by row (measurements only)
};

int RunStoreMigrate(const StoreMigrateArgs& args, bool json, std::ostream& out, std::ostream& err);

}  // namespace concord::node
