#include "node/detect_commands.h"
#include "node/config.h"
#include "node/node_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "common/status.h"
#include "common/time.h"
#include "common/uuid.h"
#include "correlate/correlator.h"
#include "correlate/normalize.h"
#include "correlate/postings.h"
#include "correlate/result_json.h"
#include "detect/logs/log_reader.h"
#include "detect/matcher.h"
#include "detect/snapshot.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "stix/object.h"
#include "store/accounts.h"
#include "store/store.h"

namespace concord::node {
namespace {

constexpr int kOk = 0;
constexpr int kUsage = 2;

int Fail(std::ostream& err, const absl::Status& status) {
  err << "concord: " << Sv(status.message()) << '\n';
  return kUsage;
}


// Every file named, directories expanded to their regular files (sorted, recursively).
absl::StatusOr<std::vector<std::string>> InputFiles(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (in == "-") {
      files.push_back(in);
    } else if (std::filesystem::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (const auto& e : std::filesystem::recursive_directory_iterator(in, ec)) {
        if (e.is_regular_file()) found.push_back(e.path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(in, ec) || std::filesystem::exists(in, ec)) {
      files.push_back(in);
    } else {
      return absl::NotFoundError(fmt::format("{}: no such file or directory", in));
    }
  }
  if (files.empty()) files.push_back("-");
  return files;
}

constexpr int64_t kMaxSightingCount = 999'999'999;  // STIX 2.1 §4.13: count is 0..999,999,999

// Aggregates hits into STIX sightings: one per (indicator, window), as this organisation's sighting.
class SightingAggregator {
 public:
  SightingAggregator(int64_t window_ms) : window_ms_(std::max<int64_t>(window_ms, 1000)) {}
  void Add(const std::string& indicator, int64_t time_ms) {
    const int64_t start = time_ms - ((time_ms % window_ms_) + window_ms_) % window_ms_;
    Entry& e = entries_[{indicator, start}];
    if (e.count == 0 || time_ms < e.first) e.first = time_ms;
    if (e.count == 0 || time_ms > e.last) e.last = time_ms;
    ++e.count;
  }
  bool empty() const { return entries_.empty(); }

  // Stores the sightings, merged with what an earlier run stored for the same windows (same id: a new
  // version whose count adds up). Returns how many were written.
  absl::StatusOr<size_t> Flush(store::Store& db, const std::string& host_identity, stix::Tlp tlp) {
    static const Uuid kNamespace = UuidV5(Uuid{}, "concord sighting");
    std::vector<stix::Object> objects;
    const Timestamp now = SystemClock::Instance().Now();
    for (const auto& [key, e] : entries_) {
      const std::string id =
          "sighting--" + UuidV5(kNamespace, fmt::format("{}|{}|{}", key.first, key.second, host_identity)).ToString();
      int64_t count = e.count;
      int64_t first = e.first, last = e.last;
      std::string created = FormatRfc3339(now, 3);
      auto stored = db.Get(id);
      // Anything but "not stored yet" stops the flush: writing on would replace the stored count.
      if (!stored.ok() && !absl::IsNotFound(stored.status())) return Annotate(stored.status(), id);
      if (stored.ok()) {
        boost::json::value old;
        try {
          old = boost::json::parse(stored->json);
        } catch (const std::exception& error) {
          return absl::DataLossError(fmt::format("{}: stored JSON does not parse: {}", id, error.what()));
        }
        if (const auto* o = old.if_object()) {
          // The id is derived from public values, so a peer could have sent one: its count is input too.
          if (const auto* c = o->if_contains("count"); c != nullptr && c->is_int64() && c->get_int64() > 0) {
            count = std::min<int64_t>(count + std::min<int64_t>(c->get_int64(), kMaxSightingCount), kMaxSightingCount);
          }
          auto ms = [&](const char* k, int64_t fallback) {
            const auto* v = o->if_contains(k);
            if (v == nullptr || !v->is_string()) return fallback;
            auto ts = ParseRfc3339(std::string_view(v->get_string()));
            return ts.ok() ? ts->UnixMillis() : fallback;
          };
          first = std::min(first, ms("first_seen", first));
          last = std::max(last, ms("last_seen", last));
          if (const auto* c = o->if_contains("created"); c != nullptr && c->is_string()) created = std::string(c->get_string());
        }
      }
      boost::json::object s{{"type", "sighting"},
                            {"spec_version", "2.1"},
                            {"id", id},
                            {"created", created},
                            {"modified", FormatRfc3339(now, 3)},
                            {"created_by_ref", host_identity},
                            {"sighting_of_ref", key.first},
                            {"where_sighted_refs", boost::json::array{boost::json::value(host_identity)}},
                            {"first_seen", FormatRfc3339(Timestamp::FromUnixMillis(first), 3)},
                            {"last_seen", FormatRfc3339(Timestamp::FromUnixMillis(last), 3)},
                            {"count", std::min<int64_t>(count, kMaxSightingCount)}};
      if (tlp != stix::Tlp::kNone) s["object_marking_refs"] = boost::json::array{boost::json::value(stix::TlpMarkingId(tlp))};
      auto object = stix::ParseObject(std::move(s));
      if (!object.ok()) return Annotate(object.status(), id);
      objects.push_back(std::move(*object));
    }
    CONCORD_ASSIGN_OR_RETURN(std::vector<store::PutResult> results, db.Put(objects));
    size_t written = 0;
    for (const auto& r : results) {
      if (r.outcome == store::PutOutcome::kNew || r.outcome == store::PutOutcome::kNewVersion) ++written;
    }
    entries_.clear();
    return written;
  }

 private:
  struct Entry {
    int64_t count = 0;
    int64_t first = 0;
    int64_t last = 0;
  };
  int64_t window_ms_;
  std::map<std::pair<std::string, int64_t>, Entry> entries_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<correlate::Warninglists>> LoadWarninglists(const std::string& directory,
                                                                        std::ostream& err) {
  if (directory == "none") return std::unique_ptr<correlate::Warninglists>();
  const std::string dir = directory.empty() ? std::string(CONCORD_DATA_DIR) + "/warninglists" : directory;
  std::error_code ec;
  if (directory.empty() && !std::filesystem::is_directory(dir, ec)) return std::unique_ptr<correlate::Warninglists>();
  std::vector<std::string> warnings;
  auto lists = correlate::Warninglists::LoadDirectory(dir, &warnings);
  if (!lists.ok()) return lists.status();
  // Upstream lists carry a few entries that are no value of their kind; say how many, not each one.
  if (!warnings.empty()) {
    err << fmt::format("concord: warninglists: {} unusable entries skipped (first: {})\n", warnings.size(), warnings.front());
  }
  return lists;
}

int RunMatch(const std::string& db_location, const MatchArgs& a, std::ostream& out, std::ostream& err) {
  auto format = detect::logs::ParseFormat(a.format);
  if (!format) return Fail(err, absl::InvalidArgumentError(fmt::format("--format: '{}' is none of eve, zeek, jsonl, csv, text", a.format)));
  detect::logs::ReaderOptions reader_options;
  for (const std::string& f : a.fields) {
    const size_t eq = f.rfind('=');
    auto kind = eq == std::string::npos ? std::nullopt : correlate::ParseKind(std::string_view(f).substr(eq + 1));
    if (!kind) return Fail(err, absl::InvalidArgumentError(fmt::format("--field '{}': expected FIELD=KIND with KIND one of ipv4, ipv6, domain, url, email, md5, sha1, sha256, …", f)));
    reader_options.fields.push_back({f.substr(0, eq), *kind});
  }
  if (a.csv_delimiter.size() != 1) return Fail(err, absl::InvalidArgumentError("--csv-delimiter: one character"));
  reader_options.csv_delimiter = a.csv_delimiter[0];
  reader_options.csv_header = !a.no_header;
  reader_options.time_field = a.time_field;
  auto sighting_tlp = stix::ParseTlpName(a.sighting_tlp);
  if (!sighting_tlp) return Fail(err, absl::InvalidArgumentError(fmt::format("--sighting-tlp: '{}' is no TLP level", a.sighting_tlp)));
  auto files = InputFiles(a.inputs);
  if (!files.ok()) return Fail(err, files.status());

  auto db = OpenNodeStore(db_location, {.read_only = !a.record});
  if (!db.ok()) return Fail(err, db.status());
  std::string host_identity;
  if (a.record) {
    auto accounts = store::OpenAccounts(db_location);
    if (!accounts.ok()) return Fail(err, accounts.status());
    auto orgs = (*accounts)->ListOrganisations();
    if (!orgs.ok()) return Fail(err, orgs.status());
    for (const auto& o : *orgs) {
      if (o.host) host_identity = o.id;
    }
    if (host_identity.empty()) {
      return Fail(err, absl::FailedPreconditionError(
                           "--record: this node has no host organisation to attribute sightings to (concord org add NAME --host)"));
    }
  }
  auto lists = LoadWarninglists(a.warninglists, err);
  if (!lists.ok()) return Fail(err, lists.status());
  std::unique_ptr<detect::WarninglistsFilter> filter;
  if (*lists) filter = std::make_unique<detect::WarninglistsFilter>(**lists);

  detect::SnapshotOptions snapshot_options;
  snapshot_options.warninglists = filter.get();
  auto decay = ParseDecayPolicy(a.decay, "--decay");
  if (!decay.ok()) return Fail(err, decay.status());
  snapshot_options.decay = *decay;
  auto build = [&]() { return detect::BuildSnapshot(**db, snapshot_options, SystemClock::Instance().Now()); };
  auto snapshot = build();
  if (!snapshot.ok()) return Fail(err, snapshot.status());
  if (!a.quiet) {
    const auto& st = (*snapshot)->stats();
    err << fmt::format("concord: matching against {} indicators ({} values, {} regexes)\n", st.indicators, st.values,
                       st.regexes);
    for (const auto& r : st.regexes_rejected) err << "concord: regex left out: " << r << '\n';
  }
  auto matcher = detect::Matcher::Create(*snapshot);
  if (!matcher.ok()) return Fail(err, matcher.status());
  // Readers skip observables of kinds no indicator can match (e.g. Zeek's address columns when there are no
  // address indicators): the snapshot says which can.
  reader_options.kinds = (*snapshot)->observed_kinds();
  SightingAggregator sightings(a.window_seconds * 1000);

  uint64_t total_lines = 0, lines_before = 0, total_hits = 0, malformed = 0;
  std::string source;
  std::string line_out;
  auto on_record = [&](const detect::logs::Record& record) {
    (*matcher)->Match(record, [&](const detect::Hit& hit) {
      const detect::Snapshot& snap = (*matcher)->snapshot();
      const detect::SnapshotIndicator& ind = snap.indicator(hit.indicator);
      const std::string id = snap.IndicatorId(hit.indicator);
      boost::json::object o{{"source", source},
                            {"line", record.line},
                            {"offset", record.offset},
                            {"field", hit.field},
                            {"kind", pattern::ValueKindName(hit.kind)},
                            {"value", hit.value},
                            {"indicator", id},
                            {"name", snap.IndicatorName(hit.indicator)},
                            {"matched_kind", pattern::ValueKindName(hit.matched_kind)},
                            {"matched", hit.matched},
                            {"score", std::lround(ind.score())},
                            {"tlp", stix::TlpName(ind.tlp())},
                            {"confirmed", hit.confirmed}};
      if (record.time_ms) o["time"] = FormatRfc3339(Timestamp::FromUnixMillis(*record.time_ms), 3);
      out << boost::json::serialize(o) << '\n';
      ++total_hits;
      if (a.record) sightings.Add(id, record.time_ms.value_or(SystemClock::Instance().Now().UnixMillis()));
    });
  };

  std::vector<char> buffer(1 << 20);
  const auto started = std::chrono::steady_clock::now();
  auto last_progress = started;
  auto progress = [&](bool force) {
    if (a.quiet) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - last_progress < std::chrono::seconds(2)) return;
    last_progress = now;
    const double s = std::chrono::duration<double>(now - started).count();
    err << fmt::format("concord: {} lines, {} hits, {:.0f} lines/s\n", total_lines, total_hits,
                       s > 0 ? static_cast<double>(total_lines) / s : 0.0);
  };
  for (const std::string& file : *files) {
    auto reader = detect::logs::LogReader::Create(*format, reader_options);
    if (!reader.ok()) return Fail(err, reader.status());
    // The matcher starts fetching the table lines a record will probe one line before it gets the record
    // (a hint: hits are the same). Nothing is held between Feed calls, where a -f follow may swap snapshots.
    (*reader)->SetReadAhead([m = matcher->get()](const detect::logs::Record& r) { m->Prefetch(r); });
    source = file;
    std::ifstream stream;
    std::istream* in = &std::cin;
    if (file != "-") {
      stream.open(file, std::ios::binary);
      if (!stream) return Fail(err, absl::NotFoundError(fmt::format("{}: cannot open", file)));
      in = &stream;
    }
    int idle = 0;
    uint64_t last_seq_check = 0;
    while (true) {
      in->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const std::streamsize n = in->gcount();
      if (n > 0) {
        idle = 0;
        (*reader)->Feed(std::string_view(buffer.data(), static_cast<size_t>(n)), on_record);
        total_lines = lines_before + (*reader)->stats().lines;
        progress(false);
        continue;
      }
      if (!a.follow || file == "-") break;
      // Following: wait for the file to grow; pick up new indicators now and then.
      if (a.follow_idle_polls > 0 && ++idle > a.follow_idle_polls) break;
      if (a.record && !sightings.empty()) {
        auto written = sightings.Flush(**db, host_identity, *sighting_tlp);
        if (!written.ok()) return Fail(err, written.status());
      }
      if (++last_seq_check % 20 == 0) {
        auto seq = (*db)->LastSeq();
        if (seq.ok() && *seq != (*matcher)->snapshot().stats().source_seq) {
          auto rebuilt = build();
          if (rebuilt.ok()) {
            auto set = (*matcher)->SetSnapshot(*rebuilt);
            if (!set.ok()) return Fail(err, set);
            reader_options.kinds = (*rebuilt)->observed_kinds();
            (*reader)->SetKinds(reader_options.kinds);
          }
        }
      }
      in->clear();
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    (*reader)->Finish(on_record);
    const auto& st = (*reader)->stats();
    lines_before += st.lines;
    total_lines = lines_before;
    malformed += st.malformed;
    for (const std::string& e : st.first_errors) err << "concord: " << file << ": " << e << '\n';
  }
  progress(true);
  if (a.record && !sightings.empty()) {
    auto written = sightings.Flush(**db, host_identity, *sighting_tlp);
    if (!written.ok()) return Fail(err, written.status());
    if (!a.quiet) err << fmt::format("concord: recorded {} sightings\n", *written);
  }
  if (malformed > 0 && !a.quiet) err << fmt::format("concord: {} malformed lines skipped\n", malformed);
  return kOk;
}

int RunSearch(const std::string& db_location, const SearchArgs& a, bool json, std::ostream& out, std::ostream& err) {
  correlate::SearchOptions options;
  if (!a.kind.empty()) {
    options.kind = correlate::ParseKind(a.kind);
    if (!options.kind) return Fail(err, absl::InvalidArgumentError(fmt::format("--kind: '{}' is no value kind", a.kind)));
  }
  options.after = a.after;
  options.limit = std::clamp<size_t>(a.limit, 1, 1000);
  if (a.sightings > 100) {
    return Fail(err, absl::InvalidArgumentError(fmt::format("--sightings: {} is not in 0-100", a.sightings)));
  }
  options.sightings_per_indicator = a.sightings;
  auto db = OpenNodeStore(db_location, {.read_only = true});
  if (!db.ok()) return Fail(err, db.status());
  if (auto complete = (*db)->PostingsComplete(); complete.ok() && !*complete) {
    err << "concord: postings are incomplete (objects stored before postings existed, or by an older version): "
           "results may miss objects; `concord serve` rebuilds them when it starts\n";
  }
  auto lists = LoadWarninglists(a.warninglists, err);
  if (!lists.ok()) return Fail(err, lists.status());
  correlate::Correlator correlator(**db, lists->get());
  auto found = correlator.Search(a.value, options, [](const store::StoredObject&) { return true; });
  if (!found.ok()) return Fail(err, found.status());

  // Which indicators would fire on the value now (validity, warninglists and confirmation as in `match`).
  std::unique_ptr<detect::WarninglistsFilter> filter;
  if (*lists) filter = std::make_unique<detect::WarninglistsFilter>(**lists);
  detect::SnapshotOptions snapshot_options;
  snapshot_options.warninglists = filter.get();
  auto snapshot = detect::BuildSnapshot(**db, snapshot_options, SystemClock::Instance().Now());
  if (!snapshot.ok()) return Fail(err, snapshot.status());
  auto matcher = detect::Matcher::Create(*snapshot);
  if (!matcher.ok()) return Fail(err, matcher.status());
  boost::json::array hits;
  std::vector<std::string> firing;
  (*matcher)->MatchValue(found->kind, found->value, std::nullopt, [&](const detect::Hit& hit) {
    const detect::Snapshot& snap = (*matcher)->snapshot();
    firing.push_back(snap.IndicatorId(hit.indicator));
    hits.push_back(boost::json::object{{"indicator", snap.IndicatorId(hit.indicator)},
                                       {"name", snap.IndicatorName(hit.indicator)},
                                       {"matched_kind", pattern::ValueKindName(hit.matched_kind)},
                                       {"matched", hit.matched},
                                       {"score", std::lround(snap.indicator(hit.indicator).score())}});
  });

  if (absl::Status added = correlator.AddSightings(*found, firing, options, [](const store::StoredObject&) { return true; });
      !added.ok()) {
    return Fail(err, added);
  }

  const correlate::SearchResult& r = *found;
  if (json) {
    // GET /api/v1/search's document (correlate/result_json.h), and the indicators that fire on the value.
    boost::json::object j = correlate::SearchResultJson(r, [](const store::StoredObject&) {});
    j["detection"] = std::move(hits);
    out << boost::json::serialize(j) << '\n';
    return kOk;
  }
  out << fmt::format("{} {}", pattern::ValueKindName(r.kind), r.value);
  if (r.over_correlating) out << "  [over-correlating]";
  out << '\n';
  for (const auto& l : r.warninglists) out << "  on warninglist: " << l << '\n';
  out << fmt::format("objects with this value ({}{}):\n", r.objects.objects.size(), r.objects.more ? "+" : "");
  for (const auto& o : r.objects.objects) {
    out << fmt::format("  {}  {}{}\n", o.id, o.modified.empty() ? "-" : o.modified, o.revoked ? "  revoked" : "");
  }
  if (r.objects.more) out << fmt::format("  more: --after {}\n", r.objects.next_after);
  for (const auto& h : r.containing) out << fmt::format("  inside {} {}: {}\n", pattern::ValueKindName(h.kind), h.value, h.object.id);
  for (const auto& h : r.contained) out << fmt::format("  contains {} {}: {}\n", pattern::ValueKindName(h.kind), h.value, h.object.id);
  out << fmt::format("detection: {} indicator(s) fire on it now\n", hits.size());
  for (const auto& h : hits) {
    const auto& o = h.as_object();
    out << fmt::format("  {}  {} {} (score {})\n", std::string(o.at("indicator").as_string()),
                       std::string(o.at("matched_kind").as_string()), std::string(o.at("matched").as_string()),
                       o.at("score").as_int64());
  }
  out << fmt::format("sightings: {} indicator(s) sighted{}\n", r.sightings.size(),
                     r.sightings_more ? fmt::format(" (only the first {} indicators looked at)", r.sighted_indicators) : "");
  for (const auto& s : r.sightings) {
    out << fmt::format("  {}  via {}: {}{} sighting(s)\n", s.indicator.id, correlate::SightedViaName(s.via), s.total,
                       s.total_more ? "+" : "");
    for (const auto& x : s.sightings) {
      out << fmt::format("    {}  count {}  {} .. {}  by {}  at {}\n", x.object.id, x.count ? std::to_string(*x.count) : "-",
                         x.first_seen.empty() ? "-" : x.first_seen, x.last_seen.empty() ? "-" : x.last_seen,
                         x.object.created_by_ref.empty() ? "-" : x.object.created_by_ref,
                         x.where_sighted_refs.empty() ? std::string("-") : fmt::format("{}", fmt::join(x.where_sighted_refs, ",")));
    }
    if (static_cast<int64_t>(s.sightings.size()) < s.total || s.total_more) {
      out << fmt::format("    ({}{} more not listed: --sightings N)\n",
                         s.total - static_cast<int64_t>(s.sightings.size()), s.total_more ? "+" : "");
    }
  }
  return kOk;
}

}  // namespace concord::node
