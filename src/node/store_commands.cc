#include "node/store_commands.h"

#include <chrono>
#include <optional>
#include <ostream>
#include <string_view>

#include "audit/audit.h"
#include "boost/json/serialize.hpp"
#include "common/status.h"
#include "fmt/format.h"
#include "store/migrate.h"
#include "store/postgres/connection.h"
#include "store/postgres/locks.h"
#include "store/store.h"

namespace concord::node {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;

int Fail(std::ostream& err, const absl::Status& status) {
  err << "concord: migrate: " << Sv(status.message()) << '\n';
  return kFailed;
}

// Progress on standard error: a line per table when it is done, and one every few seconds while a large one runs.
class MigrateProgressLines {
 public:
  explicit MigrateProgressLines(std::ostream& err) : err_(err) {}

  void operator()(const store::MigrateProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.table == "indexes") {
      if (table_ != "indexes") err_ << fmt::format("indexes: rebuilding {} secondary indexes\n", p.rows_total);
      table_ = "indexes";
      return;
    }
    const bool done = p.rows_done == p.rows_total;
    if (p.table != table_) {
      table_ = std::string(p.table);
      last_line_ = now;
      printed_done_ = false;
    }
    if (done && printed_done_) return;
    if (!done && now - last_line_ < std::chrono::seconds(5)) return;
    last_line_ = now;
    printed_done_ = done;
    const double rate = p.seconds > 0 ? static_cast<double>(p.rows_done) / p.seconds : 0.0;
    if (done) {
      err_ << fmt::format("{}: {} rows copied in {:.1f} s ({:.0f} rows/s)\n", p.table, p.rows_done, p.seconds, rate);
    } else if (p.rows_total > 0) {
      err_ << fmt::format("{}: {}/{} rows ({:.0f}%, {:.0f} rows/s)\n", p.table, p.rows_done, p.rows_total,
                          100.0 * static_cast<double>(p.rows_done) / static_cast<double>(p.rows_total), rate);
    } else {
      err_ << fmt::format("{}: {} rows ({:.0f} rows/s)\n", p.table, p.rows_done, rate);
    }
    err_.flush();
  }

 private:
  std::ostream& err_;
  std::string table_;
  std::chrono::steady_clock::time_point last_line_{};
  bool printed_done_ = false;
};

}  // namespace

int RunStoreMigrate(const StoreMigrateArgs& args, bool json, std::ostream& out, std::ostream& err) {
  if (store::postgres::IsPostgresLocation(args.from) || !store::postgres::IsPostgresLocation(args.to)) {
    return Fail(err,
                absl::UnimplementedError(fmt::format(
                    "from '{}' to '{}' is not supported: only --from sqlite:PATH (or a path) --to postgresql://… is",
                    store::postgres::RedactUri(args.from), store::postgres::RedactUri(args.to))));
  }
  auto path = store::SqlitePathOf(args.from);
  if (!path.ok()) return Fail(err, path.status());
  auto audit_path = audit::AuditPathOf(args.from);
  if (!audit_path.ok()) return Fail(err, audit_path.status());
  const std::string target = store::postgres::RedactUri(args.to);

  // The source chain first: a break found after the copy must not look like the migration's doing.
  std::optional<audit::Verification> source_chain;  // none: the source has no audit file
  {
    auto log = audit::OpenAuditLog(args.from, {.read_only = true});
    if (log.ok()) {
      auto v = (*log)->Verify();
      if (!v.ok()) return Fail(err, Annotate(v.status(), "verifying the source's audit log"));
      source_chain = *v;
      if (!v->intact) {
        const std::string broken = fmt::format("the source's audit log is broken at entry {}: {} ({})", v->bad_seq,
                                               audit::ProblemName(v->problem), v->detail);
        if (!args.accept_broken_audit_log) {
          return Fail(
              err,
              absl::FailedPreconditionError(
                  broken + "; the copy would carry the break over (--accept-broken-audit-log to copy it as it is)"));
        }
        err << "warning: " << broken << "; copying it as it is\n";
      }
    } else if (!absl::IsNotFound(log.status())) {
      return Fail(err, Annotate(log.status(), "reading the source's audit log"));
    }
  }

  MigrateProgressLines lines(err);
  store::MigrateOptions options;
  options.rebuild_secondary_indexes = !args.keep_indexes;
  if (!args.quiet) options.progress = [&lines](const store::MigrateProgress& p) { lines(p); };
  auto report = store::Migrate({*path, *audit_path}, args.to, options);
  if (!report.ok()) return Fail(err, report.status());

  // The target's chain: intact, and ending where the source's ended.
  auto log = audit::OpenAuditLog(args.to, {.read_only = true});
  if (!log.ok()) return Fail(err, Annotate(log.status(), "copied, but the target's audit log cannot be opened"));
  auto verified = (*log)->Verify();
  if (!verified.ok())
    return Fail(err, Annotate(verified.status(), "copied, but verifying the target's audit log failed"));
  // Intact with the source's head; or, when the source's chain was broken and that was accepted, broken at the
  // same entry in the same way (Verify's head is then the last good entry, on both sides).
  const bool as_expected =
      verified->intact
          ? verified->head.seq == report->audit_head_seq &&
                (report->audit_head_seq == 0 || verified->head.hash == report->audit_head_hash)
          : args.accept_broken_audit_log && source_chain && !source_chain->intact &&
                source_chain->bad_seq == verified->bad_seq && source_chain->problem == verified->problem &&
                source_chain->head.seq == verified->head.seq && source_chain->head.hash == verified->head.hash;
  if (!as_expected) {
    return Fail(err, absl::DataLossError(fmt::format(
                         "copied, but the audit log in {} does not verify: {} (head {} {}, expected {} {})", target,
                         verified->intact ? "intact"
                                          : fmt::format("broken at entry {}: {} ({})", verified->bad_seq,
                                                        audit::ProblemName(verified->problem), verified->detail),
                         verified->head.seq, verified->head.hash, report->audit_head_seq, report->audit_head_hash)));
  }

  if (json) {
    boost::json::object tables;
    for (const store::MigratedTable& t : report->tables) tables[t.name] = t.rows;
    boost::json::object doc{
        {"from", *path},
        {"to", target},
        {"tables", std::move(tables)},
        {"last_seq", report->last_seq},
        {"audit",
         boost::json::object{{"entries", verified->entries},
                             {"head", boost::json::object{{"seq", verified->head.seq}, {"hash", verified->head.hash}}},
                             {"intact", verified->intact}}},
        {"seconds", report->seconds},
        {"copy_seconds", report->copy_seconds},
        {"index_seconds", report->index_seconds},
        {"verify_seconds", report->verify_seconds}};
    out << boost::json::serialize(doc) << '\n';
  } else {
    std::string counts;
    for (const store::MigratedTable& t : report->tables)
      counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", t.name, t.rows);
    out << fmt::format("migrated {} to {} in {:.2f} s: {}; last seq {}; audit log {}: {} entries, head {} {}\n", *path,
                       target, report->seconds, counts, report->last_seq,
                       verified->intact ? "intact" : "BROKEN (as in the source)", verified->entries, verified->head.seq,
                       verified->head.hash);
  }
  return kOk;
}

}  // namespace concord::node
