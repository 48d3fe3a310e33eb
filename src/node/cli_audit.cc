#include "node/cli_audit.h"

#include <pwd.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "common/status.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace concord::node {

std::string CliUser() {
  const uid_t uid = ::geteuid();
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(static_cast<size_t>(size > 0 ? size : 16384));
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr && found->pw_name[0] != '\0') {
    return fmt::format("cli:{}", found->pw_name);
  }
  return fmt::format("cli:uid:{}", uid);
}

absl::StatusOr<CliAudit> CliAudit::Open(const std::string& db, const Clock& clock) {
  auto log = audit::OpenAuditLog(db, {.clock = &clock});
  if (!log.ok()) {
    return absl::UnavailableError(
        fmt::format("the audit log cannot be opened, so nothing is done: {}", Sv(log.status().message())));
  }
  return CliAudit(*std::move(log));
}

absl::Status CliAudit::Record(audit::Action action, std::vector<std::string> object_ids, std::string outcome,
                              std::string justification, boost::json::object detail) {
  audit::Event e;
  e.action = action;
  e.user = CliUser();
  e.object_ids = std::move(object_ids);
  e.outcome = std::move(outcome);
  e.justification = std::move(justification);
  e.remote_address = "local";
  e.detail = std::move(detail);
  auto entry = log_->Append(std::move(e));
  if (!entry.ok()) {
    return absl::UnavailableError(fmt::format("the audit log cannot record this: {}", Sv(entry.status().message())));
  }
  return absl::OkStatus();
}

void CliAudit::RecordFailure(audit::Action action, boost::json::object detail, const absl::Status& error) {
  detail["error"] = std::string(Sv(error.message()));
  if (absl::Status s = Record(action, {}, "failed", "", std::move(detail)); !s.ok()) {
    spdlog::warn("{}", Sv(s.message()));
  }
}

}  // namespace concord::node
