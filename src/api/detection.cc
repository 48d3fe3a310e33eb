// Detection over REST: the node's indicator snapshot, POST /api/v1/match, GET /api/v1/export/{format},
// GET /api/v1/search and GET /api/v1/objects/{id}/correlations (detection.h states the contract).
#include "api/detection.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/status.h"
#include "common/thread.h"
#include "common/uuid.h"
#include "correlate/correlator.h"
#include "correlate/normalize.h"
#include "correlate/result_json.h"
#include "detect/export/export.h"
#include "detect/export_indicators.h"
#include "detect/matcher.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace concord::api {

// ---- the snapshot ------------------------------------------------------------------------------------------

IndicatorSnapshots::IndicatorSnapshots(store::Store& store, const correlate::Warninglists* warninglists,
                                       ChangeFeed* feed, const Clock& clock, SnapshotRefreshOptions options)
    : store_(store),
      filter_(warninglists != nullptr ? std::make_unique<detect::WarninglistsFilter>(*warninglists) : nullptr),
      feed_(feed),
      clock_(clock),
      options_(options) {}

absl::StatusOr<std::unique_ptr<IndicatorSnapshots>> IndicatorSnapshots::Start(
    store::Store& store, const correlate::Warninglists* warninglists, ChangeFeed* feed, const Clock& clock,
    SnapshotRefreshOptions options) {
  if (options.rebuild_interval <= std::chrono::milliseconds::zero()) {
    return FieldError("detect.rebuild_interval_ms", "must be positive");
  }
  std::unique_ptr<IndicatorSnapshots> s(new IndicatorSnapshots(store, warninglists, feed, clock, options));
  CONCORD_RETURN_IF_ERROR(Annotate(s->Rebuild(), "detection snapshot"));
  if (feed != nullptr) {
    // Quick and non-blocking, as the feed requires: a flag and a notification.
    s->subscription_ = feed->Subscribe([signal = s->signal_] {
      {
        std::lock_guard lock(signal->mu);
        signal->woken = true;
      }
      signal->cv.notify_one();
    });
  }
  s->thread_ = std::thread([raw = s.get()] {
    NameThisThread("concord-detect");
    RankThisThreadAsBackground();  // rebuilding snapshots must not lengthen requests
    raw->Run();
  });
  return s;
}

IndicatorSnapshots::~IndicatorSnapshots() { Stop(); }

void IndicatorSnapshots::Stop() {
  {
    std::lock_guard lock(signal_->mu);
    signal_->stopping = true;
  }
  signal_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
  subscription_ = ChangeFeed::Subscription();
}

absl::Status IndicatorSnapshots::Rebuild() {
  detect::SnapshotOptions options;
  options.warninglists = filter_.get();
  options.decay = options_.decay;
  CONCORD_ASSIGN_OR_RETURN(std::shared_ptr<const detect::Snapshot> snapshot,
                           detect::BuildSnapshot(store_, options, clock_.Now()));
  const detect::SnapshotStats& st = snapshot->stats();
  // The first build at info (the node's starting state), rebuilds at debug: a busy node makes one per interval.
  spdlog::log(builds_.load() == 0 ? spdlog::level::info : spdlog::level::debug,
              "detection snapshot: {} indicators, {} values, {} regexes at seq {} ({} ms)", st.indicators, st.values,
              st.regexes, st.source_seq, st.build_micros / 1000);
  builds_.fetch_add(1);  // before Publish: whoever sees the snapshot sees it counted
  holder_.Publish(std::move(snapshot));
  return absl::OkStatus();
}

bool IndicatorSnapshots::Stale() {
  const std::shared_ptr<const detect::Snapshot> snapshot = Load();
  int64_t seq = 0;
  if (feed_ != nullptr) {
    seq = feed_->last_seq();  // the feed polls the store for other processes' commits
  } else {
    auto last = store_.LastSeq();
    if (!last.ok()) {
      spdlog::warn("detection snapshot: cannot read the store's last change: {}", Sv(last.status().message()));
      return false;
    }
    seq = *last;
  }
  if (seq > snapshot->stats().source_seq) return true;
  const std::optional<Timestamp> next = snapshot->next_change();
  return next && clock_.Now() >= *next;
}

void IndicatorSnapshots::Run() {
  using Steady = std::chrono::steady_clock;
  const auto interval = options_.rebuild_interval;
  Signal& signal = *signal_;
  auto last_build = Steady::now();  // Start built the first one
  bool failing = false;
  while (true) {
    // Wake on a change (the feed), at the next validity boundary, or after an interval at the latest.
    auto wait = interval;
    if (const auto next = Load()->next_change()) {
      const int64_t until = next->UnixMillis() - clock_.Now().UnixMillis();
      wait = std::clamp(std::chrono::milliseconds(until), std::chrono::milliseconds(1), interval);
    }
    {
      std::unique_lock lock(signal.mu);
      signal.cv.wait_for(lock, wait, [&] { return signal.stopping || signal.woken; });
      if (signal.stopping) return;
      signal.woken = false;
    }
    if (!Stale()) continue;
    // At most one build per interval: a burst of writes is taken in by one build, not one per write.
    const auto earliest = last_build + interval;
    if (Steady::now() < earliest) {
      std::unique_lock lock(signal.mu);
      if (signal.cv.wait_until(lock, earliest, [&] { return signal.stopping; })) return;
      signal.woken = false;  // whatever woke it meanwhile is in the build below
    }
    last_build = Steady::now();
    absl::Status built = Rebuild();
    if (!built.ok() && !failing) {
      // The previous snapshot keeps serving; the next interval tries again.
      spdlog::warn("detection snapshot: rebuild failed, keeping the previous one: {}", Sv(built.message()));
    }
    failing = !built.ok();
  }
}

// ---- the routes ----------------------------------------------------------------------------------------------

namespace {

constexpr size_t kExportChunkBytes = 64 * 1024;
constexpr size_t kMaxSearchLimit = 1000;
constexpr size_t kMaxSightingsPerIndicator = 100;  // GET /api/v1/search?sightings= (correlate caps it there too)
constexpr size_t kMaxValueBytes = 64 * 1024;

using pattern::ValueKind;
using pattern::ValueKindName;

// The caller may see `o` and, when the node requires one for its TLP, the request carries a justification.
// Objects failing either are left out of detection answers exactly like invisible ones.
class Visibility {
 public:
  Visibility(const ApiContext& ctx, const Caller& caller, const http::Request& req)
      : ctx_(ctx), req_(req), viewer_{caller.org_id}, groups_(ctx.sharing_groups()) {}

  bool operator()(const store::StoredObject& o) const {
    return policy::Visible(viewer_, PolicyOf(o, ctx_.defaults), *groups_).visible &&
           CheckJustification(ctx_, req_, o.tlp).ok();
  }

 private:
  const ApiContext& ctx_;
  const http::Request& req_;
  const policy::Viewer viewer_;
  const std::shared_ptr<const policy::PolicyContext> groups_;
};

// Ids in first-seen order, each once: what an audit entry names.
class IdList {
 public:
  void Add(const std::string& id) {
    if (seen_.insert(id).second) ids_.push_back(id);
  }
  void AddIfAudited(const store::StoredObject& o) {
    if (IsAuditedRead(o.tlp)) Add(o.id);
  }
  bool empty() const { return ids_.empty(); }
  std::vector<std::string> Take() { return std::move(ids_); }

 private:
  absl::flat_hash_set<std::string> seen_;
  std::vector<std::string> ids_;
};

absl::StatusOr<size_t> SizeParam(const http::Request& req, std::string_view name, size_t min, size_t max,
                                 size_t fallback) {
  auto v = req.query.Get(name);
  if (!v) return fallback;
  size_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size() || n < min || n > max) {
    return FieldError(name, fmt::format("expected an integer {}-{}, got '{}'", min, max, v->substr(0, 64)));
  }
  return n;
}

absl::StatusOr<std::optional<ValueKind>> KindParam(const http::Request& req) {
  auto v = req.query.Get("kind");
  if (!v) return std::nullopt;
  auto kind = correlate::ParseKind(*v);
  if (!kind) return FieldError("kind", fmt::format("'{}' is no value kind (ipv4, domain, url, sha256, …)", v->substr(0, 64)));
  return std::optional<ValueKind>(*kind);
}

// ---- POST /api/v1/match --------------------------------------------------------------------------------------

struct MatchItem {
  std::string raw;
  std::optional<ValueKind> kind;
  std::optional<int64_t> time_ms;
};

absl::StatusOr<std::vector<MatchItem>> ParseMatchBody(std::string_view body, size_t max_values) {
  auto parsed = ParseJson(body);
  if (!parsed.ok()) return absl::InvalidArgumentError(fmt::format("request body: {}", Sv(parsed.status().message())));
  const boost::json::object* doc = parsed->if_object();
  const boost::json::value* values = doc != nullptr ? doc->if_contains("values") : nullptr;
  if (values == nullptr || !values->is_array()) {
    return FieldError("values", R"(required: an array of values ("…") or of {"value":…,"kind"?:…,"time"?:…})");
  }
  const boost::json::array& array = values->get_array();
  if (array.size() > max_values) {
    return FieldError("values", fmt::format("at most {} values per request, got {}", max_values, array.size()));
  }
  std::vector<MatchItem> items;
  items.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    const boost::json::value& v = array[i];
    const std::string field = fmt::format("values[{}]", i);
    MatchItem item;
    const boost::json::value* value = &v;
    if (const boost::json::object* o = v.if_object()) {
      value = o->if_contains("value");
      if (value == nullptr) return FieldError(field + ".value", "required");
      if (const boost::json::value* k = o->if_contains("kind"); k != nullptr && !k->is_null()) {
        std::optional<ValueKind> kind = k->is_string() ? correlate::ParseKind(std::string_view(k->get_string())) : std::nullopt;
        if (!kind) return FieldError(field + ".kind", "expected a value kind (ipv4, domain, url, sha256, …)");
        item.kind = kind;
      }
      if (const boost::json::value* t = o->if_contains("time"); t != nullptr && !t->is_null()) {
        if (!t->is_string()) return FieldError(field + ".time", "expected an RFC 3339 time");
        auto ts = ParseRfc3339(std::string_view(t->get_string()));
        if (!ts.ok()) return FieldError(field + ".time", Sv(ts.status().message()));
        item.time_ms = ts->UnixMillis();
      }
      for (const auto& member : *o) {
        const std::string_view key = member.key();
        if (key != "value" && key != "kind" && key != "time") {
          return FieldError(fmt::format("{}.{}", field, key.substr(0, 64)), "unknown member (value, kind, time)");
        }
      }
    } else if (!v.is_string()) {
      return FieldError(field, "expected a string or an object {\"value\":…}");
    }
    if (!value->is_string()) return FieldError(field + (value == &v ? "" : ".value"), "expected a string");
    if (value->get_string().size() > kMaxValueBytes) {
      return FieldError(field, fmt::format("a value has at most {} bytes", kMaxValueBytes));
    }
    item.raw = std::string(value->get_string());
    items.push_back(std::move(item));
  }
  return items;
}

// What the caller may know of one indicator of the snapshot (looked up once per request and indicator).
struct HitIndicator {
  bool visible = false;
  stix::Tlp tlp = stix::Tlp::kNone;  // of its current version
};

absl::StatusOr<http::Response> Match(const DetectionContext& d, http::Request& req) {
  const ApiContext& ctx = *d.api;
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  CONCORD_RETURN_IF_ERROR(Justification(req).status());
  CONCORD_ASSIGN_OR_RETURN(std::vector<MatchItem> items, ParseMatchBody(req.body, d.max_match_values));

  const std::shared_ptr<const detect::Snapshot> snapshot = d.snapshots->Load();
  CONCORD_ASSIGN_OR_RETURN(std::unique_ptr<detect::Matcher> matcher, detect::Matcher::Create(snapshot));
  const Visibility visible(ctx, caller, req);
  const int64_t now_ms = ctx.clock->Now().UnixMillis();
  // Hits are rare: each indicator hit is read from the store once per request and judged on its current
  // version, by the same policy as GET /api/v1/objects/{id} (the snapshot keeps only what matching needs).
  absl::flat_hash_map<uint32_t, HitIndicator> judged;
  auto judge = [&](uint32_t index) -> absl::StatusOr<HitIndicator> {
    if (auto it = judged.find(index); it != judged.end()) return it->second;
    HitIndicator h;
    auto stored = ctx.store->Get(snapshot->IndicatorId(index));
    if (stored.ok()) {
      // Revoked since the snapshot was built: no longer an indicator to alert on.
      h.visible = !stored->revoked && visible(*stored);
      h.tlp = stored->tlp;
    } else if (stored.status().code() != absl::StatusCode::kNotFound) {
      return stored.status();  // visibility unknown: fail rather than guess
    }
    judged.emplace(index, h);
    return h;
  };

  struct RawHit {
    uint32_t indicator;
    ValueKind matched_kind;
    std::string matched;
    bool confirmed;
  };
  std::vector<RawHit> raw_hits;
  IdList audited;
  boost::json::array results;
  results.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const MatchItem& item = items[i];
    boost::json::object r{{"index", i}, {"value", item.raw}};
    boost::json::array hits;
    const std::optional<ValueKind> kind = item.kind ? item.kind : correlate::DetectKind(item.raw);
    if (!kind) {
      r["kind"] = nullptr;
      r["error"] = "the value looks like no known kind: give its kind";
      r["hits"] = std::move(hits);
      results.push_back(std::move(r));
      continue;
    }
    auto normalized = correlate::NormalizeAs(*kind, item.raw);
    if (!normalized.ok()) {
      r["kind"] = ValueKindName(*kind);
      r["error"] = Sv(normalized.status().message());
      r["hits"] = std::move(hits);
      results.push_back(std::move(r));
      continue;
    }
    r["kind"] = ValueKindName(normalized->kind);
    r["normalized"] = normalized->value;
    if (d.warninglists != nullptr) {
      // Warninglisted values are not in the snapshot (they do not alert); say why there is no hit.
      if (auto lists = d.warninglists->Match(normalized->kind, normalized->value); !lists.empty()) {
        r["warninglists"] = correlate::StringsJson(lists);
      }
    }
    raw_hits.clear();
    matcher->MatchValue(normalized->kind, normalized->value, item.time_ms.value_or(now_ms),
                        [&](const detect::Hit& h) {
                          raw_hits.push_back({h.indicator, h.matched_kind, std::string(h.matched), h.confirmed});
                        });
    for (const RawHit& h : raw_hits) {
      CONCORD_ASSIGN_OR_RETURN(HitIndicator judged_hit, judge(h.indicator));
      if (!judged_hit.visible) continue;
      const detect::SnapshotIndicator& ind = snapshot->indicator(h.indicator);
      std::string id = snapshot->IndicatorId(h.indicator);
      if (IsAuditedRead(judged_hit.tlp)) audited.Add(id);
      hits.push_back(boost::json::object{{"indicator", std::move(id)},
                                         {"name", snapshot->IndicatorName(h.indicator)},
                                         {"matched", h.matched},
                                         {"matched_kind", ValueKindName(h.matched_kind)},
                                         {"score", std::lround(ind.score())},
                                         {"tlp", stix::TlpName(judged_hit.tlp)},
                                         {"confirmed", h.confirmed}});
    }
    r["hits"] = std::move(hits);
    results.push_back(std::move(r));
  }
  boost::json::object doc{
      {"results", std::move(results)},
      {"snapshot", boost::json::object{{"built_at", FormatRfc3339(snapshot->built_at(), 3)},
                                       {"indicators", snapshot->indicator_count()},
                                       {"source_seq", snapshot->stats().source_seq}}}};
  http::Response response = http::Response::Json(200, boost::json::serialize(doc));
  if (audited.empty()) return response;
  // A hit above TLP:CLEAR discloses the indicator: sent only once its audit entry is committed.
  return AuditedRead(ctx, caller, req, audited.Take(), {{"match", true}, {"values", items.size()}}, std::move(response));
}

// ---- GET /api/v1/export/{format} -----------------------------------------------------------------------------

std::string_view ContentType(detect::exports::ExportFormat format) {
  using detect::exports::ExportFormat;
  switch (format) {
    case ExportFormat::kCsv:
      return "text/csv; charset=utf-8";
    case ExportFormat::kStix:
      return "application/stix+json;version=2.1";
    default:
      return "text/plain; charset=utf-8";
  }
}

// An unnamed temporary file: created in the temporary directory and unlinked at once, so it disappears with
// its last stream whatever happens to the request.
absl::StatusOr<std::shared_ptr<std::fstream>> AnonymousFile() {
  std::string path = (std::filesystem::temp_directory_path() / "concord-export-XXXXXX").string();
  const int fd = ::mkstemp(path.data());
  if (fd < 0) return absl::UnavailableError(fmt::format("cannot create a temporary file in {}", path));
  auto file = std::make_shared<std::fstream>(path, std::ios::in | std::ios::out | std::ios::trunc | std::ios::binary);
  ::close(fd);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (!*file) return absl::UnavailableError(fmt::format("cannot open the temporary file {}", path));
  return file;
}

absl::StatusOr<http::Response> Export(const DetectionContext& d, http::Request& req) {
  const ApiContext& ctx = *d.api;
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  CONCORD_RETURN_IF_ERROR(Justification(req).status());
  const std::string_view format_name = req.Param("format");
  const auto format = detect::exports::ParseExportFormat(format_name);
  if (!format) {
    return FieldError("format", fmt::format("'{}' is none of suricata, snort, zeek, rpz, csv, text, stix",
                                            format_name.substr(0, 64)));
  }
  detect::ExportFilter filter;
  boost::json::object filter_detail;
  if (auto v = req.query.Get("max_tlp")) {
    auto tlp = stix::ParseTlpName(*v);
    if (!tlp) return FieldError("max_tlp", fmt::format("'{}' is none of clear, green, amber, amber+strict, red", v->substr(0, 64)));
    filter.max_tlp = *tlp;
  }
  filter_detail["max_tlp"] = stix::TlpName(filter.max_tlp);
  if (auto v = req.query.Get("since")) {
    auto ts = ParseRfc3339(*v);
    if (!ts.ok()) return FieldError("since", Sv(ts.status().message()));
    filter.since = *ts;
    filter_detail["since"] = FormatRfc3339(*ts);
  }
  boost::json::array kinds;
  for (const std::string& k : req.query.GetList("kind")) {
    auto kind = correlate::ParseKind(k);
    if (!kind) return FieldError("kind", fmt::format("'{}' is no value kind (ipv4, domain, url, sha256, …)", k.substr(0, 64)));
    filter.kinds.push_back(*kind);
    kinds.emplace_back(k);
  }
  filter_detail["kinds"] = std::move(kinds);
  if (auto v = req.query.Get("min_score")) {
    double score = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), score);
    if (v->empty() || ec != std::errc() || end != v->data() + v->size() || !(score >= 0 && score <= 100)) {
      return FieldError("min_score", fmt::format("expected a number 0-100, got '{}'", v->substr(0, 64)));
    }
    filter.min_score = score;
    filter_detail["min_score"] = std::string(*v);  // audit details hold no floating point
  }
  if (auto v = req.query.Get("include_warninglisted")) {
    if (*v != "true" && *v != "false") return FieldError("include_warninglisted", "expected true or false");
    filter.include_warninglisted = *v == "true";
  }
  filter_detail["include_warninglisted"] = filter.include_warninglisted;
  std::optional<detect::WarninglistsFilter> listed;
  if (d.warninglists != nullptr) filter.warninglists = &listed.emplace(*d.warninglists);
  filter.decay = d.decay;
  // HEAD (a client checking the route, a proxy probing it) gets what GET would say before the body: the
  // same checks and errors, the same content headers, and neither the export's work nor an audit entry,
  // since nothing is disclosed. The counts (X-Concord-*) are known only after an export.
  if (req.method == "HEAD") {
    http::Response r = http::Response::Text(200, "");
    r.headers.Set("Content-Type", std::string(ContentType(*format)));
    r.headers.Set("Content-Disposition",
                  fmt::format("attachment; filename=\"{}\"", detect::exports::DefaultMainFile(*format)));
    r.headers.Set("Cache-Control", "no-store");
    return r;
  }

  // The export is written to a temporary file on this worker and then streamed from it. ExportIndicators
  // pushes a whole export in one call, while a ChunkProducer is pulled: bridging them would need a thread
  // per export and a bounded hand-over. Writing first also makes every failure (an audit that cannot record,
  // a store error) a proper error status instead of a truncated 200, and each audit entry is committed before
  // any byte of the export leaves the node. Memory stays constant; the price is latency to the first byte.
  CONCORD_ASSIGN_OR_RETURN(std::shared_ptr<std::fstream> file, AnonymousFile());
  std::unique_ptr<detect::exports::OutputSet> output = detect::exports::StreamOutput(*file);
  detect::exports::ExportOptions options;
  const Timestamp now = ctx.clock->Now();
  options.generated_at = FormatRfc3339(now, 0);
  options.bundle_id = "bundle--" + UuidV4().ToString();
  CONCORD_ASSIGN_OR_RETURN(std::unique_ptr<detect::exports::ExportWriter> writer,
                           detect::exports::ExportWriter::Create(*format, *output, options));
  const boost::json::object detail{{"format", detect::exports::ExportFormatName(*format)}, {"filter", filter_detail}};
  int64_t entries = 0;
  auto record = [&](std::vector<std::string> ids) {
    boost::json::object e = detail;
    e["chunk"] = ++entries;
    e["objects"] = ids.size();
    return Audit(ctx, caller, req, audit::Action::kExport, std::move(ids), "ok", std::move(e));
  };
  const Visibility visibility(ctx, caller, req);
  detect::ExportSummary summary;
  absl::Status exported = detect::ExportIndicators(
      *ctx.store, filter, now, *writer, [&](const store::StoredObject& o) { return visibility(o); },
      [&](std::span<const std::string> ids) { return record(std::vector<std::string>(ids.begin(), ids.end())); },
      &summary);
  // An export that matched nothing is recorded too: what was asked for is the disclosure.
  if (exported.ok() && entries == 0) exported = record({});
  if (exported.ok()) {
    file->flush();
    if (!*file) exported = absl::UnavailableError("cannot write the export's temporary file");
  }
  if (!exported.ok()) {
    boost::json::object e = detail;
    e["error"] = Sv(exported.message());
    e["values_written"] = summary.values_written;
    // Nothing was sent. Recorded when the log can take it (it may be what failed).
    (void)Audit(ctx, caller, req, audit::Action::kExport, {}, "failed", std::move(e));
    return exported;
  }
  file->seekg(0);
  http::Response r = http::Response::Stream(
      200, std::string(ContentType(*format)),
      [file](std::string& chunk, const http::StreamContext& context) -> absl::StatusOr<http::Produced> {
        if (context.cancelled.load()) return http::Produced::kEnd;
        chunk.resize(kExportChunkBytes);
        file->read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        const std::streamsize n = file->gcount();
        if (file->bad()) return absl::DataLossError("cannot read the export's temporary file");
        chunk.resize(static_cast<size_t>(n));
        return n > 0 ? http::Produced::kChunk : http::Produced::kEnd;
      });
  r.headers.Set("Content-Disposition",
                fmt::format("attachment; filename=\"{}\"", detect::exports::DefaultMainFile(*format)));
  r.headers.Set("Cache-Control", "no-store");
  r.headers.Set("X-Concord-Values", std::to_string(summary.values_written));
  r.headers.Set("X-Concord-Indicators", std::to_string(summary.indicators_exported));
  return r;
}

// ---- GET /api/v1/search, GET /api/v1/objects/{id}/correlations -------------------------------------------

absl::StatusOr<http::Response> Search(const DetectionContext& d, http::Request& req) {
  const ApiContext& ctx = *d.api;
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  CONCORD_RETURN_IF_ERROR(Justification(req).status());
  const auto value = req.query.Get("value");
  if (!value || value->empty()) return FieldError("value", "required: the value to look for");
  if (value->size() > kMaxValueBytes) return FieldError("value", fmt::format("at most {} bytes", kMaxValueBytes));
  correlate::SearchOptions options;
  CONCORD_ASSIGN_OR_RETURN(options.kind, KindParam(req));
  if (auto a = req.query.Get("after")) {
    CONCORD_ASSIGN_OR_RETURN(options.after, ParseStreamPosition("after", *a));
  }
  CONCORD_ASSIGN_OR_RETURN(options.limit, SizeParam(req, "limit", 1, kMaxSearchLimit, options.limit));
  CONCORD_ASSIGN_OR_RETURN(options.sightings_per_indicator,
                           SizeParam(req, "sightings", 0, kMaxSightingsPerIndicator, options.sightings_per_indicator));
  const Visibility visibility(ctx, caller, req);
  const correlate::Correlator correlator(*ctx.store, d.warninglists);
  auto found = correlator.Search(*value, options, [&](const store::StoredObject& o) { return visibility(o); });
  if (!found.ok()) {
    if (found.status().code() == absl::StatusCode::kInvalidArgument) return FieldError("value", Sv(found.status().message()));
    return found.status();
  }
  if (options.sightings_per_indicator > 0 && d.snapshots != nullptr) {
    // The indicators that fire on the value (a LIKE or MATCHES pattern has no posting) have sightings too. A
    // revoked indicator no longer fires, as in POST /api/v1/match.
    const std::shared_ptr<const detect::Snapshot> snapshot = d.snapshots->Load();
    CONCORD_ASSIGN_OR_RETURN(std::unique_ptr<detect::Matcher> matcher, detect::Matcher::Create(snapshot));
    std::vector<std::string> firing;
    matcher->MatchValue(found->kind, found->value, ctx.clock->Now().UnixMillis(),
                        [&](const detect::Hit& h) { firing.push_back(snapshot->IndicatorId(h.indicator)); });
    CONCORD_RETURN_IF_ERROR(correlator.AddSightings(
        *found, firing, options, [&](const store::StoredObject& o) { return !o.revoked && visibility(o); }));
  }
  IdList audited;
  const boost::json::object doc =
      correlate::SearchResultJson(*found, [&](const store::StoredObject& o) { audited.AddIfAudited(o); });
  http::Response response = http::Response::Json(200, boost::json::serialize(doc));
  if (audited.empty()) return response;
  return AuditedRead(ctx, caller, req, audited.Take(),
                     {{"search", true}, {"kind", ValueKindName(found->kind)}, {"value", found->value}},
                     std::move(response));
}

absl::StatusOr<http::Response> Correlations(const DetectionContext& d, http::Request& req) {
  const ApiContext& ctx = *d.api;
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  const std::string id(req.Param("id"));
  const auto not_found = [&] { return absl::NotFoundError(fmt::format("object {} not found", id)); };
  correlate::CorrelationOptions options;
  CONCORD_ASSIGN_OR_RETURN(options.per_value, SizeParam(req, "per_value", 1, kMaxSearchLimit, options.per_value));
  CONCORD_ASSIGN_OR_RETURN(options.max_related, SizeParam(req, "max_related", 0, kMaxSearchLimit, options.max_related));
  auto object = ctx.store->Get(id);
  if (!object.ok()) return object.status().code() == absl::StatusCode::kNotFound ? not_found() : object.status();
  const Visibility visibility(ctx, caller, req);
  if (!policy::Visible(policy::Viewer{caller.org_id}, PolicyOf(*object, ctx.defaults), *ctx.sharing_groups()).visible) {
    return not_found();
  }
  CONCORD_RETURN_IF_ERROR(CheckJustification(ctx, req, object->tlp));
  const correlate::Correlator correlator(*ctx.store, d.warninglists);
  auto values = correlator.CorrelationsOf(id, options, [&](const store::StoredObject& o) { return visibility(o); });
  if (!values.ok()) return values.status().code() == absl::StatusCode::kNotFound ? not_found() : values.status();
  IdList audited;
  audited.AddIfAudited(*object);  // the answer says which values this object has
  const auto named = [&](const store::StoredObject& o) { audited.AddIfAudited(o); };
  boost::json::array out;
  for (const correlate::CorrelatedValue& v : *values) {
    boost::json::object j{{"kind", ValueKindName(v.kind)},
                          {"value", v.value},
                          {"warninglists", correlate::StringsJson(v.warninglists)},
                          {"over_correlating", v.over_correlating},
                          {"objects", correlate::ObjectsJson(v.objects, named)},
                          {"more", v.objects.more}};
    if (v.objects.more) j["next"] = std::to_string(v.objects.next_after);
    j["containing"] = correlate::AddressHitsJson(v.containing, named);
    j["contained"] = correlate::AddressHitsJson(v.contained, named);
    j["related_more"] = v.related_more;
    out.push_back(std::move(j));
  }
  http::Response response =
      http::Response::Json(200, boost::json::serialize(boost::json::object{{"id", id}, {"values", std::move(out)}}));
  if (audited.empty()) return response;
  return AuditedRead(ctx, caller, req, audited.Take(), {{"correlations", true}}, std::move(response));
}

}  // namespace

absl::Status AddDetectionRoutes(http::Router& router, const DetectionContext& context) {
  const DetectionContext* c = &context;
  CONCORD_RETURN_IF_ERROR(router.Add("POST", "/api/v1/match", [c](http::Request& r) { return Match(*c, r); }));
  CONCORD_RETURN_IF_ERROR(router.Add("GET", "/api/v1/export/{format}", [c](http::Request& r) { return Export(*c, r); }));
  CONCORD_RETURN_IF_ERROR(router.Add("GET", "/api/v1/search", [c](http::Request& r) { return Search(*c, r); }));
  CONCORD_RETURN_IF_ERROR(router.Add("GET", "/api/v1/objects/{id}/correlations",
                                     [c](http::Request& r) { return Correlations(*c, r); }));
  return absl::OkStatus();
}

}  // namespace concord::api
