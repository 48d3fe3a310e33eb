// concord/node/audit_commands.h — `concord audit verify` and `concord audit list`.
//
// Both open the audit log of the store at `db` read-only (audit::OpenAuditLog) and never write to it.
//
// verify: walks the whole chain. Exit 0 and "audit log intact: N entries, head SEQ HASH" when it holds;
// exit 1 and "audit log broken at entry N: altered|removed|reordered (detail)" at the first bad entry;
// exit 2 when the log cannot be read (missing database, usage). --anchor SEQ:HASH (a head recorded
// earlier, kept outside the node) also finds a truncated tail or a chain rebuilt after that entry.
// With --json one document: {"intact","entries","head":{"seq","hash"},"bad_seq","problem","detail"}.
//
// list: entries in seq order with the filters of GET /api/v1/audit; a table, or JSON lines (one entry per
// line, as EntryJson writes it) with --json.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace concord::node {

struct AuditVerifyArgs {
  std::string anchor;  // --anchor SEQ:HASH, "" for none
};

struct AuditListArgs {
  std::string since;   // --since RFC3339
  std::string until;   // --until RFC3339
  std::string user;    // --user NAME
  std::string org;     // --org IDENTITY-ID
  std::string action;  // --action write|read|…
  std::string object;  // --object ID
  int64_t after = 0;   // --after SEQ
  size_t limit = 100;  // --limit N (0 = all)
};

int RunAuditVerify(const std::string& db, const AuditVerifyArgs& args, bool json, std::ostream& out, std::ostream& err);
int RunAuditList(const std::string& db, const AuditListArgs& args, bool json, std::ostream& out, std::ostream& err);

}  // namespace concord::node
