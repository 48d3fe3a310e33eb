#include "node/cli.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <span>
#include <unordered_set>
#include <vector>

#include "CLI/CLI.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/log.h"
#include "common/status.h"
#include "common/time.h"
#include "common/uuid.h"
#include "fmt/format.h"
#include "ingest/ingest.h"
#include "node/account_commands.h"
#include "node/audit_commands.h"
#include "node/cli_audit.h"
#include "node/config.h"
#include "node/detect_commands.h"
#include "node/node_store.h"
#include "correlate/normalize.h"
#include "detect/export/export.h"
#include "detect/export_indicators.h"
#include "node/pattern_commands.h"
#include "node/serve.h"
#include "node/store_commands.h"
#include "store/store.h"

namespace concord::node {
namespace {

constexpr int kOk = 0;
constexpr int kProblems = 1;
constexpr int kUsage = 2;

struct Globals {
  std::string db = "./var/concord.db";
  std::string log_level = "warn";
  bool json = false;
};

int Fail(std::ostream& err, const absl::Status& status) {
  err << "concord: " << Sv(status.message()) << '\n';
  return kUsage;
}

absl::StatusOr<std::unique_ptr<store::Store>> OpenDb(const Globals& g, bool read_only) {
  if (g.db.find("://") == std::string::npos && g.db.rfind("sqlite:", 0) != 0) {
    const auto parent = std::filesystem::path(g.db).parent_path();
    std::error_code ec;
    if (!read_only && !parent.empty()) std::filesystem::create_directories(parent, ec);
    if (read_only && !std::filesystem::exists(g.db)) {
      return absl::NotFoundError(fmt::format("no database at {} (import something first, or pass --db)", g.db));
    }
  }
  return OpenNodeStore(g.db, {.read_only = read_only});
}

boost::json::object CountsJson(const ingest::OutcomeCounts& c) {
  return {{"new", c.new_objects},   {"new_version", c.new_versions}, {"unchanged", c.unchanged},
          {"conflict", c.conflicts}, {"rejected", c.rejected}};
}

boost::json::object ProblemJson(const ingest::ItemProblem& p) {
  return {{"source", p.source}, {"index", p.index}, {"id", p.id},
          {"type", p.type},     {"field", p.field}, {"reason", p.reason}};
}

// ---- import ------------------------------------------------------------------------------------------

struct ImportArgs {
  std::vector<std::string> files;
  bool strict = false;
  size_t batch_size = 10000;
  bool quiet = false;
  size_t show = 20;
};

// A progress bar on standard error, only when it is a terminal, redrawn at most ten times a second:
// share of the input bytes done, objects handled, rate, and the file being read.
class ProgressLine {
 public:
  ProgressLine(bool enabled, int64_t total_bytes)
      : enabled_(enabled && isatty(STDERR_FILENO)), total_bytes_(total_bytes) {}
  void Update(std::string_view file, int64_t items, int64_t bytes) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double share = total_bytes_ > 0 ? std::min(1.0, static_cast<double>(bytes) / static_cast<double>(total_bytes_)) : 0;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(share * kWidth);
    std::fprintf(stderr, "\r\033[K[%s%s] %3.0f%% %lld objects (%.0f/s) %.*s", std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), share * 100,
                 static_cast<long long>(items), secs > 0 ? static_cast<double>(items) / secs : 0.0,
                 static_cast<int>(file.size()), file.data());
    drawn_ = true;
  }
  void Clear() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  bool enabled_;
  int64_t total_bytes_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

void PrintProblems(std::ostream& err, std::string_view what, const std::vector<ingest::ItemProblem>& list,
                   size_t show) {
  for (size_t i = 0; i < list.size() && i < show; ++i) {
    const auto& p = list[i];
    err << what << ": " << p.source << " item " << p.index;
    if (!p.id.empty()) err << " (" << p.id << ")";
    if (!p.field.empty()) err << ": " << p.field;
    err << ": " << p.reason << '\n';
  }
  if (list.size() > show) err << "… and " << (list.size() - show) << " more " << what << " (use --json for all)\n";
}

// Every committed batch that stored something is a write in the audit log: one entry naming the ids stored (new
// or new version, each once) with the batch's outcome counts, as POST /api/v1/objects records its request. It is
// recorded once the batch is committed and before the next one is handed to the store, so an entry that cannot
// be written stops the import there (that batch stays stored, as a POST's does).
class ImportAudit {
 public:
  ImportAudit(CliAudit& log, const std::vector<std::string>& files) : log_(log) {
    for (const std::string& file : files) {
      std::error_code ec;
      const auto absolute = file == "-" ? std::filesystem::path("-") : std::filesystem::absolute(file, ec);
      files_.emplace_back(ec ? file : absolute.lexically_normal().string());
    }
  }
  absl::Status RecordBatch(std::span<const stix::Object> objects, std::span<const store::PutResult> results) {
    ++batch_;
    std::vector<std::string> stored;
    std::unordered_set<std::string_view> seen;
    boost::json::object totals{{"new", 0}, {"new_version", 0}, {"unchanged", 0}, {"conflict", 0}, {"rejected", 0}};
    for (size_t i = 0; i < results.size() && i < objects.size(); ++i) {
      const store::PutOutcome outcome = results[i].outcome;
      boost::json::value& count = totals[store::PutOutcomeName(outcome)];
      count = count.as_int64() + 1;
      if ((outcome == store::PutOutcome::kNew || outcome == store::PutOutcome::kNewVersion) &&
          seen.insert(objects[i].id).second) {
        stored.push_back(objects[i].id);
      }
    }
    if (stored.empty()) return absl::OkStatus();  // nothing written
    const bool partial = totals["conflict"].as_int64() + totals["rejected"].as_int64() > 0;
    return log_.Record(audit::Action::kWrite, std::move(stored), partial ? "partial" : "ok", "",
                       {{"command", "import"}, {"files", files_}, {"batch", batch_}, {"totals", std::move(totals)}});
  }

 private:
  CliAudit& log_;
  boost::json::array files_;
  int64_t batch_ = 0;
};

int RunImport(const Globals& g, const ImportArgs& a, std::ostream& out, std::ostream& err) {
  auto db = OpenDb(g, false);
  if (!db.ok()) return Fail(err, db.status());
  auto log = CliAudit::Open(g.db);
  if (!log.ok()) return Fail(err, log.status());
  ImportAudit audit(*log, a.files);
  int64_t total_bytes = 0;
  for (const auto& file : a.files) {
    std::error_code ec;
    const auto size = file == "-" ? 0 : std::filesystem::file_size(file, ec);
    if (!ec) total_bytes += static_cast<int64_t>(size);
  }
  ProgressLine progress(!a.quiet && !g.json, total_bytes);
  std::string current_file;
  const auto start = std::chrono::steady_clock::now();
  ingest::Ingestor ingestor(**db, {.batch_size = a.batch_size,
                                   .strict = a.strict,
                                   .on_progress = [&](int64_t items, int64_t bytes) { progress.Update(current_file, items, bytes); },
                                   .on_committed = [&](std::span<const stix::Object> objects,
                                                       std::span<const store::PutResult> results) {
                                     return audit.RecordBatch(objects, results);
                                   }});
  bool file_failed = false;
  for (const auto& file : a.files) {
    current_file = file;
    absl::Status s = ingestor.AddFile(file);
    if (s.ok()) s = ingestor.Flush();
    if (!s.ok()) {
      file_failed = true;
      // A store failure (disk full, I/O) stops everything; a bad file stops only itself.
      if (s.code() != absl::StatusCode::kInvalidArgument && s.code() != absl::StatusCode::kNotFound &&
          s.code() != absl::StatusCode::kDataLoss) {
        progress.Clear();
        return Fail(err, s);
      }
      if (a.strict) err << "refused " << file << ": " << Sv(s.message()) << '\n';
    }
  }
  progress.Clear();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const ingest::Report& r = ingestor.report();
  if (g.json) {
    boost::json::object doc = {{"totals", CountsJson(r.totals)}, {"seconds", secs}};
    boost::json::object types;
    for (const auto& [type, c] : r.by_type) types[type] = CountsJson(c);
    doc["by_type"] = std::move(types);
    boost::json::array rejected, conflicts, files;
    for (const auto& p : r.rejected) rejected.push_back(ProblemJson(p));
    for (const auto& p : r.conflicts) conflicts.push_back(ProblemJson(p));
    for (const auto& p : r.file_errors) files.push_back(ProblemJson(p));
    doc["rejected"] = std::move(rejected);
    doc["conflicts"] = std::move(conflicts);
    doc["file_errors"] = std::move(files);
    out << boost::json::serialize(doc) << '\n';
  } else {
    PrintProblems(err, "rejected", r.rejected, a.show);
    PrintProblems(err, "conflict", r.conflicts, a.show);
    for (const auto& p : r.file_errors) err << "error: " << p.reason << '\n';
    out << fmt::format("{:<34} {:>9} {:>11} {:>9} {:>9} {:>9}\n", "type", "new", "new version", "unchanged",
                       "conflict", "rejected");
    for (const auto& [type, c] : r.by_type) {
      out << fmt::format("{:<34} {:>9} {:>11} {:>9} {:>9} {:>9}\n", type, c.new_objects, c.new_versions, c.unchanged,
                         c.conflicts, c.rejected);
    }
    const auto& t = r.totals;
    out << fmt::format("{:<34} {:>9} {:>11} {:>9} {:>9} {:>9}\n", "total", t.new_objects, t.new_versions, t.unchanged,
                       t.conflicts, t.rejected);
    out << fmt::format("{} objects from {} file(s) in {:.2f} s ({:.0f} objects/s)\n", t.Total(), a.files.size(), secs,
                       secs > 0 ? static_cast<double>(t.Total()) / secs : 0.0);
  }
  return (r.totals.rejected > 0 || file_failed) ? kProblems : kOk;
}

// ---- export ------------------------------------------------------------------------------------------

struct ExportArgs {
  std::string format = "stix";
  std::string max_tlp = "amber";
  std::vector<std::string> kinds;
  double min_score = 0;
  bool include_warninglisted = false;
  std::string warninglists;
  std::string output;
  std::vector<std::string> types;
  std::vector<std::string> ids;
  std::string modified_since;
  bool all_versions = false;
  std::string justification;
  std::vector<std::string> decay;  // KIND=DAYS[:SPEED]
};

// Every export is audited (action export): one entry per page of at most kExportIdsPerEntry versions, naming
// their ids, recorded before the page is written, so that nothing leaves without an entry naming it (when an
// entry cannot be written the export stops there). An export that fails midway ends with an entry with outcome
// "failed" that says how many objects were written and whether the output file was removed.
constexpr size_t kExportIdsPerEntry = 10'000;
constexpr size_t kMaxJustificationBytes = 1024;  // as X-Concord-Justification

struct ExportAudit {
  CliAudit& log;
  boost::json::object detail;  // format, filter, output: the same in every entry of one export
  std::string justification;
  int64_t entries = 0;

  absl::Status RecordPage(const std::vector<store::StoredObject>& objects) {
    // Each id once per entry (with --all-versions a page may hold several versions of one), in output order.
    std::vector<std::string> ids;
    ids.reserve(objects.size());
    std::unordered_set<std::string_view> seen;
    for (const auto& o : objects) {
      if (seen.insert(o.id).second) ids.push_back(o.id);
    }
    boost::json::object d = detail;
    d["chunk"] = ++entries;
    d["objects"] = objects.size();
    return log.Record(audit::Action::kExport, std::move(ids), "ok", justification, std::move(d));
  }
  void RecordFailure(const absl::Status& error, int64_t written, bool output_removed) {
    boost::json::object d = detail;
    d["objects_written"] = written;
    d["output_removed"] = output_removed;
    log.RecordFailure(audit::Action::kExport, std::move(d), error);
  }
};

absl::Status WriteBundle(store::Store& db, const store::Query& base, std::ostream& out, ExportAudit& audit,
                         int64_t& count) {
  out << R"({"type":"bundle","id":"bundle--)" << UuidV4().ToString() << R"(","objects":[)";
  store::Query q = base;
  q.limit = kExportIdsPerEntry;
  bool first = true;
  for (;;) {
    CONCORD_ASSIGN_OR_RETURN(store::Page page, db.List(q));
    // An export that matched nothing is recorded too: what was asked for is the disclosure.
    if (!page.objects.empty() || audit.entries == 0) CONCORD_RETURN_IF_ERROR(audit.RecordPage(page.objects));
    for (const auto& o : page.objects) {
      out << (first ? "\n" : ",\n") << o.json;
      first = false;
      if (!out) return absl::DataLossError("write to the output failed");
      ++count;
    }
    if (!page.more || page.objects.empty()) break;
    q.after_seq = page.next_after_seq;
  }
  out << "\n]}\n";
  if (!out) return absl::DataLossError("write to the output failed");
  return absl::OkStatus();
}

boost::json::object ExportDetail(const ExportArgs& a) {
  boost::json::array types, ids;
  for (const auto& t : a.types) types.emplace_back(t);
  for (const auto& i : a.ids) ids.emplace_back(i);
  boost::json::object filter{{"types", std::move(types)},
                             {"ids", std::move(ids)},
                             {"modified_since", a.modified_since},
                             {"all_versions", a.all_versions}};
  std::string output = "-";
  if (!a.output.empty() && a.output != "-") {
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(a.output, ec);
    output = ec ? a.output : absolute.lexically_normal().string();
  }
  if (a.format != "stix" || !a.kinds.empty() || a.min_score > 0) {
    boost::json::array kinds;
    for (const auto& k : a.kinds) kinds.emplace_back(k);
    filter["max_tlp"] = a.max_tlp;
    filter["kinds"] = std::move(kinds);
    filter["min_score"] = fmt::format("{}", a.min_score);  // audit details hold no floating point
    filter["include_warninglisted"] = a.include_warninglisted;
  }
  return {{"format", a.format}, {"filter", std::move(filter)}, {"output", std::move(output)}};
}

// Detection formats: the indicators' matchable values, filtered (detect/export_indicators.h). Suricata
// writes a directory (rules plus list and dataset files); the others one file or standard output.
int RunDetectionExport(const Globals& g, const ExportArgs& a, detect::exports::ExportFormat format, std::ostream& out,
                       std::ostream& err) {
  detect::ExportFilter filter;
  auto tlp = stix::ParseTlpName(a.max_tlp);
  if (!tlp) return Fail(err, absl::InvalidArgumentError(fmt::format("--max-tlp: '{}' is none of clear, green, amber, amber+strict, red", a.max_tlp)));
  filter.max_tlp = *tlp;
  for (const std::string& k : a.kinds) {
    const std::optional<pattern::ValueKind> kind = correlate::ParseKind(k);
    if (!kind) return Fail(err, absl::InvalidArgumentError(fmt::format("--kind: '{}' is no value kind (ipv4, domain, url, sha256, …)", k)));
    filter.kinds.push_back(*kind);
  }
  if (!a.modified_since.empty()) {
    auto ts = ParseRfc3339(a.modified_since);
    if (!ts.ok()) return Fail(err, Annotate(ts.status(), "--modified-since"));
    filter.since = *ts;
  }
  filter.min_score = a.min_score;
  filter.include_warninglisted = a.include_warninglisted;
  auto decay = ParseDecayPolicy(a.decay, "--decay");
  if (!decay.ok()) return Fail(err, decay.status());
  filter.decay = *decay;
  auto lists = LoadWarninglists(a.warninglists, err);
  if (!lists.ok()) return Fail(err, lists.status());
  std::unique_ptr<detect::WarninglistsFilter> listed;
  if (*lists) listed = std::make_unique<detect::WarninglistsFilter>(**lists);
  filter.warninglists = listed.get();

  auto db = OpenDb(g, true);
  if (!db.ok()) return Fail(err, db.status());
  auto log = CliAudit::Open(g.db);
  if (!log.ok()) return Fail(err, log.status());
  ExportAudit audit{.log = *log, .detail = ExportDetail(a), .justification = a.justification};
  const bool to_stdout = a.output.empty() || a.output == "-";
  const bool directory = format == detect::exports::ExportFormat::kSuricata && !to_stdout;
  std::ofstream file;
  std::unique_ptr<detect::exports::OutputSet> output;
  const std::string tmp = a.output + ".partial";
  if (directory) {
    output = detect::exports::DirectoryOutput(a.output, std::string(detect::exports::DefaultMainFile(format)));
  } else if (to_stdout) {
    output = detect::exports::StreamOutput(out);
  } else {
    file.open(tmp, std::ios::binary | std::ios::trunc);
    if (!file) return Fail(err, absl::PermissionDeniedError(fmt::format("cannot write {}", tmp)));
    output = detect::exports::StreamOutput(file);
  }
  detect::exports::ExportOptions options;
  const Timestamp now = SystemClock::Instance().Now();
  options.generated_at = FormatRfc3339(now, 0);
  options.bundle_id = "bundle--" + UuidV4().ToString();
  auto writer = detect::exports::ExportWriter::Create(format, *output, options);
  if (!writer.ok()) return Fail(err, writer.status());
  detect::ExportSummary summary;
  absl::Status s = detect::ExportIndicators(
      **db, filter, now, **writer, nullptr,
      [&](std::span<const std::string> ids) -> absl::Status {
        boost::json::object d = audit.detail;
        d["chunk"] = ++audit.entries;
        d["objects"] = ids.size();
        return audit.log.Record(audit::Action::kExport, std::vector<std::string>(ids.begin(), ids.end()), "ok",
                                audit.justification, std::move(d));
      },
      &summary);
  if (file.is_open()) {
    file.close();
    if (s.ok() && !file) s = absl::DataLossError(fmt::format("cannot write {}", tmp));
    std::error_code ec;
    if (s.ok()) {
      std::filesystem::rename(tmp, a.output, ec);
      if (ec) s = absl::PermissionDeniedError(fmt::format("cannot rename {}: {}", tmp, ec.message()));
    }
    if (!s.ok()) std::filesystem::remove(tmp, ec);
  }
  if (!s.ok()) {
    audit.RecordFailure(s, static_cast<int64_t>(summary.values_written), file.is_open() || !to_stdout);
    return Fail(err, s);
  }
  err << fmt::format("exported {} values of {} indicators ({} read)", summary.values_written,
                     summary.indicators_exported, summary.indicators_read);
  if (!to_stdout) err << " to " << a.output;
  err << '\n';
  for (const auto& [reason, n] : summary.left_out) err << fmt::format("  left out: {} {}\n", n, reason);
  for (const auto& [kind, n] : (*writer)->skipped()) {
    err << fmt::format("  not expressible in {}: {} {}\n", a.format, n, pattern::ValueKindName(kind));
  }
  return kOk;
}

int RunExport(const Globals& g, const ExportArgs& a, std::ostream& out, std::ostream& err) {
  auto format = detect::exports::ParseExportFormat(a.format);
  if (!format) {
    return Fail(err, absl::InvalidArgumentError(fmt::format(
                         "--format: '{}' is none of stix, suricata, snort, zeek, rpz, csv, text", a.format)));
  }
  const bool detection_filters = !a.kinds.empty() || a.min_score > 0;
  if (*format != detect::exports::ExportFormat::kStix || detection_filters) return RunDetectionExport(g, a, *format, out, err);
  store::Query q{.types = a.types, .ids = a.ids, .current_only = !a.all_versions};
  if (!a.modified_since.empty()) {
    auto ts = ParseRfc3339(a.modified_since);
    if (!ts.ok()) return Fail(err, Annotate(ts.status(), "--modified-since"));
    q.modified_since = *ts;
  }
  if (a.justification.size() > kMaxJustificationBytes) {
    return Fail(err, absl::InvalidArgumentError(fmt::format("--justification: at most {} bytes, got {}",
                                                            kMaxJustificationBytes, a.justification.size())));
  }
  auto db = OpenDb(g, true);
  if (!db.ok()) return Fail(err, db.status());
  auto log = CliAudit::Open(g.db);
  if (!log.ok()) return Fail(err, log.status());
  ExportAudit audit{.log = *log, .detail = ExportDetail(a), .justification = a.justification};
  int64_t count = 0;
  if (a.output.empty() || a.output == "-") {
    absl::Status s = WriteBundle(**db, q, out, audit, count);
    if (!s.ok()) {
      audit.RecordFailure(s, count, false);
      return Fail(err, s);
    }
    return kOk;
  }
  // Write beside the target and rename, so a reader never sees half a bundle.
  const std::string tmp = a.output + ".partial";
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    if (!file) return Fail(err, absl::PermissionDeniedError(fmt::format("cannot write {}", tmp)));
    absl::Status s = WriteBundle(**db, q, file, audit, count);
    file.close();
    if (!s.ok() || !file) {
      std::filesystem::remove(tmp);
      const absl::Status failure = s.ok() ? absl::DataLossError(fmt::format("cannot write {}", tmp)) : s;
      audit.RecordFailure(failure, count, true);
      return Fail(err, failure);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, a.output, ec);
  if (ec) {
    const absl::Status failure = absl::PermissionDeniedError(fmt::format("cannot rename {}: {}", tmp, ec.message()));
    std::filesystem::remove(tmp, ec);
    audit.RecordFailure(failure, count, true);
    return Fail(err, failure);
  }
  err << "exported " << count << " objects to " << a.output << '\n';
  return kOk;
}

// ---- get ---------------------------------------------------------------------------------------------

struct GetArgs {
  std::string id;
  bool versions = false;
  std::string version;
};

int RunGet(const Globals& g, const GetArgs& a, std::ostream& out, std::ostream& err) {
  auto db = OpenDb(g, true);
  if (!db.ok()) return Fail(err, db.status());
  auto print = [&](const std::string& json) {
    auto v = ParseJson(json);
    out << (v.ok() ? PrettyJson(*v) : json) << '\n';
  };
  if (a.versions) {
    auto versions = (*db)->Versions(a.id);
    if (!versions.ok()) {
      err << "concord: " << Sv(versions.status().message()) << '\n';
      return kProblems;
    }
    if (g.json) {
      boost::json::array arr;
      for (const auto& v : *versions) {
        auto parsed = ParseJson(v.json);
        if (parsed.ok()) arr.push_back(std::move(*parsed));
      }
      out << PrettyJson(arr) << '\n';
    } else {
      out << fmt::format("{:<32} {:>8} {:<24} {}\n", "modified", "seq", "added", "");
      for (const auto& v : *versions) {
        out << fmt::format("{:<32} {:>8} {:<24} {}{}\n", v.modified.empty() ? "-" : v.modified, v.seq,
                           FormatRfc3339(v.added, 3), v.current ? "current" : "", v.revoked ? " revoked" : "");
      }
    }
    return kOk;
  }
  absl::StatusOr<store::StoredObject> found = absl::NotFoundError("");
  if (!a.version.empty()) {
    auto ts = ParseRfc3339(a.version);
    if (!ts.ok()) return Fail(err, Annotate(ts.status(), "--version"));
    found = (*db)->GetVersion(a.id, *ts);
  } else {
    found = (*db)->Get(a.id);
  }
  if (!found.ok()) {
    err << "concord: " << Sv(found.status().message()) << '\n';
    return kProblems;
  }
  if (g.json) {
    out << found->json << '\n';
  } else {
    print(found->json);
  }
  return kOk;
}

// ---- stats -------------------------------------------------------------------------------------------

int RunStats(const Globals& g, std::ostream& out, std::ostream& err) {
  auto db = OpenDb(g, true);
  if (!db.ok()) return Fail(err, db.status());
  auto stats = (*db)->GetStats();
  if (!stats.ok()) return Fail(err, stats.status());
  if (g.json) {
    boost::json::object types;
    for (const auto& [type, c] : stats->by_type) {
      types[type] = {{"objects", c.objects}, {"versions", c.versions}, {"revoked", c.revoked}};
    }
    out << boost::json::serialize(boost::json::object{{"objects", stats->objects},
                                                      {"versions", stats->versions},
                                                      {"last_seq", stats->last_seq},
                                                      {"size_bytes", stats->size_bytes},
                                                      {"schema_version", stats->schema_version},
                                                      {"by_type", std::move(types)}})
        << '\n';
    return kOk;
  }
  out << fmt::format("{:<34} {:>9} {:>9} {:>9}\n", "type", "objects", "versions", "revoked");
  for (const auto& [type, c] : stats->by_type) {
    out << fmt::format("{:<34} {:>9} {:>9} {:>9}\n", type, c.objects, c.versions, c.revoked);
  }
  out << fmt::format("{:<34} {:>9} {:>9}\n", "total", stats->objects, stats->versions);
  out << fmt::format("database {} ({:.1f} MiB, schema version {}, last change {})\n", g.db,
                     static_cast<double>(stats->size_bytes) / (1024.0 * 1024.0), stats->schema_version,
                     stats->last_seq);
  return kOk;
}

}  // namespace

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"Concord: a node of a cross-border cyber-cooperation network (STIX 2.1, TAXII 2.1)", "concord"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "concord 0.1.0");
  Globals g;
  auto* db_opt = app.add_option("--db", g.db, "Store location: a SQLite file path, sqlite:PATH or postgresql://USER@HOST:PORT/DB")->capture_default_str();
  app.add_option("--log-level", g.log_level, "trace, debug, info, warn, error")->capture_default_str();
  app.add_flag("--json", g.json, "Machine-readable output");

  ImportArgs import_args;
  auto* import_cmd = app.add_subcommand("import", "Validate and store STIX 2.1 bundles, objects or JSON lines");
  import_cmd->fallthrough();
  import_cmd->add_option("files", import_args.files, "Files to import ('-' for standard input)")->required();
  import_cmd->add_flag("--strict", import_args.strict, "Refuse a whole file on its first invalid object");
  import_cmd->add_option("--batch-size", import_args.batch_size, "Objects per transaction")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  import_cmd->add_flag("-q,--quiet", import_args.quiet, "No progress line");
  import_cmd->add_option("--show", import_args.show, "How many problems to list (all of them with --json)")
      ->capture_default_str();

  ExportArgs export_args;
  auto* export_cmd = app.add_subcommand("export", "Write stored objects as a STIX 2.1 bundle");
  export_cmd->fallthrough();
  export_cmd->add_option("-o,--output", export_args.output, "Output file (default: standard output)");
  export_cmd->add_option("--type", export_args.types, "Only these types (repeatable)");
  export_cmd->add_option("--id", export_args.ids, "Only these ids (repeatable)");
  export_cmd->add_option("--modified-since", export_args.modified_since, "Only versions modified at or after (RFC 3339)");
  export_cmd->add_flag("--all-versions", export_args.all_versions, "Every stored version, not only the current one");
  export_cmd->add_option("--justification", export_args.justification,
                         "Why the objects are exported (recorded in the audit log with the exported ids)");
  export_cmd->add_option("--format", export_args.format,
                         "stix (every object, as a bundle) or a detection format of the indicators: suricata "
                         "(-o names a directory), snort, zeek, rpz, csv, text")
      ->capture_default_str();
  export_cmd->add_option("--max-tlp", export_args.max_tlp, "Detection formats: highest TLP exported")->capture_default_str();
  export_cmd->add_option("--kind", export_args.kinds, "Detection formats: only these value kinds (repeatable)");
  export_cmd->add_option("--min-score", export_args.min_score, "Detection formats: lowest decay score (0-100)")
      ->check(CLI::Range(0.0, 100.0));
  export_cmd->add_option("--decay", export_args.decay,
                         "Detection formats: score decay per kind, KIND=DAYS[:SPEED] (repeatable; KIND all sets every kind)");
  export_cmd->add_flag("--include-warninglisted", export_args.include_warninglisted,
                       "Detection formats: keep values that a warninglist names");
  export_cmd->add_option("--warninglists", export_args.warninglists,
                         "Warninglist directory (default: the lists shipped with Concord; 'none': no lists)");

  SearchArgs search_args;
  auto* search_cmd = app.add_subcommand(
      "search",
      "Who else has this value: objects, related addresses, warninglists, indicators that fire on it, their sightings");
  search_cmd->fallthrough();
  search_cmd->add_option("value", search_args.value, "An IP, CIDR, domain, URL, e-mail address, hash, …")->required();
  search_cmd->add_option("--kind", search_args.kind, "Read the value as this kind instead of guessing");
  search_cmd->add_option("--limit", search_args.limit, "Objects per page (1-1000)")->capture_default_str();
  search_cmd->add_option("--after", search_args.after, "Next page: the cursor a previous page printed");
  search_cmd->add_option("--sightings", search_args.sightings, "Sightings listed per indicator found (0-100; 0: none)")
      ->capture_default_str();
  search_cmd->add_option("--warninglists", search_args.warninglists,
                         "Warninglist directory (default: the lists shipped with Concord; 'none': no lists)");

  MatchArgs match_args;
  auto* match_log_cmd = app.add_subcommand(
      "match", "Match logs against the stored indicators; one JSON line per hit on standard output");
  match_log_cmd->fallthrough();
  match_log_cmd->add_option("inputs", match_args.inputs, "Log files or directories (default or '-': standard input)");
  match_log_cmd->add_option("--format", match_args.format, "eve, zeek (TSV or JSON), jsonl, csv, text")
      ->capture_default_str();
  match_log_cmd->add_option("--field", match_args.fields,
                            "jsonl/csv: FIELD=KIND, e.g. query=domain or client.ip=ipv4 (repeatable; default: "
                            "every value scanned for indicators)");
  match_log_cmd->add_option("--time-field", match_args.time_field, "jsonl/csv: the field with the event time");
  match_log_cmd->add_option("--csv-delimiter", match_args.csv_delimiter, "csv: the field delimiter")->capture_default_str();
  match_log_cmd->add_flag("--no-header", match_args.no_header, "csv: the first row is data (columns named 1, 2, …)");
  match_log_cmd->add_flag("-f,--follow", match_args.follow, "Keep reading files as they grow (new indicators are picked up)");
  match_log_cmd->add_flag("--record", match_args.record,
                          "Store STIX sightings of the hits, one per indicator and window, as this node's organisation");
  match_log_cmd->add_option("--window", match_args.window_seconds, "Sighting aggregation window in seconds")
      ->check(CLI::Range(1, 86400 * 30))
      ->capture_default_str();
  match_log_cmd->add_option("--sighting-tlp", match_args.sighting_tlp, "TLP of recorded sightings")->capture_default_str();
  match_log_cmd->add_option("--warninglists", match_args.warninglists,
                            "Warninglist directory (default: the lists shipped with Concord; 'none': no lists)");
  match_log_cmd->add_flag("-q,--quiet", match_args.quiet, "No progress or summary on standard error");
  match_log_cmd->add_option("--decay", match_args.decay,
                            "Score decay per kind, KIND=DAYS[:SPEED] (repeatable; KIND all sets every kind)");
  match_log_cmd->add_option("--follow-idle-polls", match_args.follow_idle_polls)->group("");

  GetArgs get_args;
  auto* get_cmd = app.add_subcommand("get", "Show one object (current version unless told otherwise)");
  get_cmd->fallthrough();
  get_cmd->add_option("id", get_args.id, "Object id (type--UUID)")->required();
  get_cmd->add_flag("--versions", get_args.versions, "List every stored version");
  get_cmd->add_option("--version", get_args.version, "The version with this modified timestamp");

  auto* stats_cmd = app.add_subcommand("stats", "What the store holds: objects and versions by type");
  stats_cmd->fallthrough();

  // serve: every setting of the configuration file also has a flag; flags win over the file.
  std::string config_path;
  NodeConfig flags;
  auto* serve_cmd = app.add_subcommand("serve", "Run the node: REST API, TAXII 2.1, metrics (SIGTERM drains and stops)");
  serve_cmd->fallthrough();
  serve_cmd->add_option("--config", config_path, "TOML configuration file");
  std::vector<std::pair<CLI::Option*, std::function<void(NodeConfig&)>>> overrides;
  auto flag = [&](auto member, const std::string& name, const std::string& help) {
    using T = std::remove_reference_t<decltype(flags.*member)>;
    CLI::Option* opt = nullptr;
    if constexpr (std::is_same_v<T, bool>) {
      opt = serve_cmd->add_flag(name, flags.*member, help);
    } else {
      opt = serve_cmd->add_option(name, flags.*member, help);
    }
    overrides.emplace_back(opt, [member, &flags](NodeConfig& c) { c.*member = flags.*member; });
  };
  flag(&NodeConfig::listen, "--listen", "HOST:PORT to listen on (default 127.0.0.1:8443; port 0 picks a free one)");
  flag(&NodeConfig::insecure_http, "--insecure-http", "Plain HTTP instead of TLS (local demos only)");
  flag(&NodeConfig::tls_cert, "--tls-cert", "PEM certificate (default: self-signed, generated beside the database)");
  flag(&NodeConfig::tls_key, "--tls-key", "PEM private key");
  flag(&NodeConfig::client_ca, "--client-ca", "PEM CA bundle to verify client certificates");
  flag(&NodeConfig::require_client_cert, "--require-client-cert", "Refuse clients without a valid certificate");
  flag(&NodeConfig::name, "--name", "The host organisation's name");
  flag(&NodeConfig::row_cache_mb, "--row-cache-mb", "MiB of memory for the rows of object lists (0: none)");
  flag(&NodeConfig::max_body_bytes, "--max-body-bytes", "Largest request body accepted (413 beyond)");
  flag(&NodeConfig::max_connections, "--max-connections", "Concurrent connections served (503 beyond)");
  flag(&NodeConfig::read_timeout_ms, "--read-timeout-ms", "Time a client has to send a whole request");
  flag(&NodeConfig::idle_timeout_ms, "--idle-timeout-ms", "Time an idle keep-alive connection is kept");
  flag(&NodeConfig::max_streams, "--max-streams", "Concurrent event streams served (503 beyond)");
  flag(&NodeConfig::stream_heartbeat_ms, "--stream-heartbeat-ms", "Keep-alive comment interval of an idle event stream");
  flag(&NodeConfig::max_header_bytes, "--max-header-bytes", "Largest request head accepted (431 beyond)");
  flag(&NodeConfig::io_threads, "--io-threads", "Threads for network I/O (accept, TLS, parse, write)");
  flag(&NodeConfig::worker_threads, "--worker-threads", "Threads for request handlers (store work)");
  flag(&NodeConfig::rate_limit_per_second, "--rate-limit", "Requests per second per API key (429 beyond)");
  flag(&NodeConfig::rate_limit_burst, "--rate-limit-burst", "Requests a key may make at once above its rate");
  flag(&NodeConfig::shutdown_grace_ms, "--shutdown-grace-ms", "On SIGTERM, how long in-flight requests may take to finish");
  flag(&NodeConfig::default_distribution, "--default-distribution",
       "Distribution given to objects that carry none (organisation, community, connected, all or group)");
  flag(&NodeConfig::log_format, "--log-format", "json or text");
  flag(&NodeConfig::require_justification_for_red, "--require-justification-for-red",
       "Reads of TLP:RED and AMBER+STRICT objects need an X-Concord-Justification header");
  flag(&NodeConfig::detect_warninglists, "--warninglists",
       "MISP warninglists for detection: a directory, none, or empty for the shipped lists");
  flag(&NodeConfig::detect_rebuild_interval_ms, "--detect-rebuild-interval-ms",
       "Longest wait before a stored change is matchable (the detection snapshot is rebuilt at most this often)");
  flag(&NodeConfig::detect_decay, "--decay",
       "Indicator score decay per kind, KIND=DAYS[:SPEED] (repeatable; KIND all sets every kind)");

  // org / user: organisations, users and API keys.
  auto* org_cmd = app.add_subcommand("org", "Organisations: the node's host and the others it serves or hears from");
  org_cmd->require_subcommand(1);
  org_cmd->fallthrough();
  OrgAddArgs org_add_args;
  auto* org_add_cmd = org_cmd->add_subcommand("add", "Add an organisation (prints its id)");
  org_add_cmd->fallthrough();
  org_add_cmd->add_option("name", org_add_args.name, "Organisation name")->required();
  org_add_cmd->add_flag("--remote", org_add_args.remote, "Reached through a peer node; has no users here");
  org_add_cmd->add_flag("--host", org_add_args.host, "The node's own organisation (idempotent; serve --name does the same)");
  auto* org_list_cmd = org_cmd->add_subcommand("list", "List organisations");
  org_list_cmd->fallthrough();

  auto* user_cmd = app.add_subcommand("user", "Users and their API keys");
  user_cmd->require_subcommand(1);
  user_cmd->fallthrough();
  auto key_options = [](CLI::App* cmd, KeyArgs& key, const std::string& read_only_flag) {
    cmd->add_option("--expires", key.expires, "Key expiry: RFC 3339 time or a duration such as 90d, 12h");
    cmd->add_option("--cidr", key.cidrs, "Source addresses allowed to use the key (repeatable; default any)");
    cmd->add_flag(read_only_flag, key.read_only, "The key may read but not write");
  };
  UserAddArgs user_add_args;
  auto* user_add_cmd = user_cmd->add_subcommand("add", "Add a user and print its first API key (shown once)");
  user_add_cmd->fallthrough();
  user_add_cmd->add_option("name", user_add_args.name, "User name")->required();
  user_add_cmd->add_option("--org", user_add_args.org, "Organisation (name or id)")->required();
  user_add_cmd->add_option("--role", user_add_args.role, "admin, org-admin, analyst, duty-officer, read-only, sync")
      ->required();
  key_options(user_add_cmd, user_add_args.key, "--read-only-key");
  UserListArgs user_list_args;
  auto* user_list_cmd = user_cmd->add_subcommand("list", "List users");
  user_list_cmd->fallthrough();
  user_list_cmd->add_option("--org", user_list_args.org, "Only this organisation's users");
  UserKeyArgs user_key_args;
  auto* user_key_cmd = user_cmd->add_subcommand("key", "Issue another API key, revoke one, or list a user's keys");
  user_key_cmd->fallthrough();
  user_key_cmd->add_option("name", user_key_args.name, "User name or id")->required();
  key_options(user_key_cmd, user_key_args.key, "--read-only");
  user_key_cmd->add_option("--revoke", user_key_args.revoke, "Revoke this key id");
  user_key_cmd->add_flag("--list", user_key_args.list, "List the user's keys");

  // audit: the hash-chained audit log.
  auto* audit_cmd = app.add_subcommand("audit", "The audit log: verify its hash chain, list entries");
  audit_cmd->require_subcommand(1);
  audit_cmd->fallthrough();
  AuditVerifyArgs audit_verify_args;
  auto* audit_verify_cmd = audit_cmd->add_subcommand(
      "verify", "Check the hash chain; exit 1 at the first altered, removed or reordered entry");
  audit_verify_cmd->fallthrough();
  audit_verify_cmd->add_option("--anchor", audit_verify_args.anchor,
                               "SEQ:HASH of a head recorded earlier (finds truncation and rebuilt tails)");
  AuditListArgs audit_list_args;
  auto* audit_list_cmd = audit_cmd->add_subcommand("list", "List audit entries, oldest first");
  audit_list_cmd->fallthrough();
  audit_list_cmd->add_option("--since", audit_list_args.since, "Entries at or after (RFC 3339)");
  audit_list_cmd->add_option("--until", audit_list_args.until, "Entries before (RFC 3339)");
  audit_list_cmd->add_option("--user", audit_list_args.user, "Only this user's entries");
  audit_list_cmd->add_option("--org", audit_list_args.org, "Only this organisation's entries (identity id)");
  audit_list_cmd->add_option("--action", audit_list_args.action,
                             "write, read, export, disclose, revoke, key-use, auth-failure, admin");
  audit_list_cmd->add_option("--object", audit_list_args.object, "Only entries naming this object id");
  audit_list_cmd->add_option("--after", audit_list_args.after, "Entries after this seq (paging)");
  audit_list_cmd->add_option("--limit", audit_list_args.limit, "At most this many entries (0: all)")->capture_default_str();

  // store: whole-database operations.
  auto* store_cmd = app.add_subcommand("store", "Whole-database operations: move a node from SQLite to PostgreSQL");
  store_cmd->require_subcommand(1);
  store_cmd->fallthrough();
  StoreMigrateArgs store_migrate_args;
  auto* store_migrate_cmd = store_cmd->add_subcommand(
      "migrate",
      "Copy a whole SQLite node (objects, postings, accounts, API keys, groups, communities, TAXII statuses, audit "
      "log) into an empty PostgreSQL database in one transaction, then verify it. Stop the node first.");
  store_migrate_cmd->fallthrough();
  store_migrate_cmd->add_option("--from", store_migrate_args.from, "The SQLite node: sqlite:PATH or PATH (its .audit.db beside it is read too)")
      ->required();
  store_migrate_cmd->add_option("--to", store_migrate_args.to, "An empty PostgreSQL database: postgresql://USER@HOST:PORT/DB")
      ->required();
  store_migrate_cmd->add_flag("-q,--quiet", store_migrate_args.quiet, "No progress on standard error");
  store_migrate_cmd->add_flag("--accept-broken-audit-log", store_migrate_args.accept_broken_audit_log,
                              "Copy a source whose audit chain does not verify, as it is");
  store_migrate_cmd->add_flag("--keep-indexes", store_migrate_args.keep_indexes)->group("");  // measurements

  PatternArgs pattern_args;
  auto* pattern_cmd = app.add_subcommand("pattern", "STIX patterning: validate a pattern or match it");
  pattern_cmd->require_subcommand(1);
  pattern_cmd->fallthrough();
  auto* validate_cmd = pattern_cmd->add_subcommand("validate", "Check a pattern's syntax and semantics");
  validate_cmd->fallthrough();
  validate_cmd->add_option("pattern", pattern_args.pattern, "The STIX pattern")->required();
  auto* match_cmd =
      pattern_cmd->add_subcommand("match", "Match a pattern against the observed-data of a bundle");
  match_cmd->fallthrough();
  match_cmd->add_option("pattern", pattern_args.pattern, "The STIX pattern")->required();
  match_cmd->add_option("file", pattern_args.file, "Bundle with observed-data and the SCOs they reference")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and version are "errors" with exit code 0; CLI11 prints the selected subcommand's help.
    const int code = app.exit(e, out, err);
    if (code == 0) return kOk;
    err << "Run 'concord --help' for usage.\n";
    return kUsage;
  }
  if (!*serve_cmd) ConfigureLogging(g.log_level, LogFormat::kText);

  if (*import_cmd) return RunImport(g, import_args, out, err);
  if (*export_cmd) return RunExport(g, export_args, out, err);
  if (*match_log_cmd) return RunMatch(g.db, match_args, out, err);
  if (*search_cmd) return RunSearch(g.db, search_args, g.json, out, err);
  if (*get_cmd) return RunGet(g, get_args, out, err);
  if (*stats_cmd) return RunStats(g, out, err);
  if (*org_add_cmd) return RunOrgAdd(g.db, org_add_args, g.json, out, err);
  if (*org_list_cmd) return RunOrgList(g.db, g.json, out, err);
  if (*user_add_cmd) return RunUserAdd(g.db, user_add_args, g.json, out, err);
  if (*user_list_cmd) return RunUserList(g.db, user_list_args, g.json, out, err);
  if (*user_key_cmd) return RunUserKey(g.db, user_key_args, g.json, out, err);
  if (*serve_cmd) {
    NodeConfig config;
    if (!config_path.empty()) {
      auto loaded = LoadConfigFile(config_path);
      if (!loaded.ok()) return Fail(err, loaded.status());
      config = std::move(*loaded);
    }
    for (const auto& [opt, apply] : overrides) {
      if (opt->count() > 0) apply(config);
    }
    if (db_opt->count() > 0) config.db = g.db;
    if (app.get_option("--log-level")->count() > 0) config.log_level = g.log_level;
    return RunServe(config, out, err);
  }
  if (*audit_verify_cmd) return RunAuditVerify(g.db, audit_verify_args, g.json, out, err);
  if (*audit_list_cmd) return RunAuditList(g.db, audit_list_args, g.json, out, err);
  if (*store_migrate_cmd) return RunStoreMigrate(store_migrate_args, g.json, out, err);
  if (*validate_cmd) return RunPatternValidate(pattern_args, g.json, out, err);
  if (*match_cmd) return RunPatternMatch(pattern_args, g.json, out, err);
  err << app.help();
  return kUsage;
}

}  // namespace concord::node
