// concord/node/cli_audit.h — audit entries for what the command line does to the store directly.
//
// The CLI needs no API key: whoever may run it against the database acts as the operating-system user
// running it. Its entries name that user as "cli:<login name of the effective uid>" ("cli:uid:<n>" when the
// uid has no passwd entry), remote_address "local", and no organisation or key. They go to the audit log of
// the store the command works on (audit::OpenAuditLog), under the same fail-closed rule as the API: a
// command whose entry cannot be written does not report success (api.h, "administrative changes").
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/audit.h"
#include "boost/json/object.hpp"
#include "common/time.h"

namespace concord::node {

// "cli:root", "cli:alice", "cli:uid:1234".
std::string CliUser();

class CliAudit {
 public:
  // Opens the audit log of the store at `db` for writing. The error says that the command cannot run unaudited.
  [[nodiscard]] static absl::StatusOr<CliAudit> Open(const std::string& db, const Clock& clock = SystemClock::Instance());

  // Appends one entry as CliUser() from "local"; Unavailable when it cannot be written.
  [[nodiscard]] absl::Status Record(audit::Action action, std::vector<std::string> object_ids, std::string outcome,
                                    std::string justification, boost::json::object detail);
  // Records that a change recorded before did not happen (outcome "failed", detail.error); a failure to record
  // that is only logged, since `error` is what the caller reports.
  void RecordFailure(audit::Action action, boost::json::object detail, const absl::Status& error);

 private:
  explicit CliAudit(std::unique_ptr<audit::AuditLog> log) : log_(std::move(log)) {}
  std::unique_ptr<audit::AuditLog> log_;
};

}  // namespace concord::node
