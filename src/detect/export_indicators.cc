#include "detect/export_indicators.h"

#include <algorithm>
#include <exception>

#include "absl/container/flat_hash_map.h"
#include "boost/json/parse.hpp"
#include "common/status.h"

namespace concord::detect {
namespace {

// indicator id → the latest last_seen of its sightings.
absl::StatusOr<absl::flat_hash_map<std::string, Timestamp>> SightingTimes(store::Store& store) {
  absl::flat_hash_map<std::string, Timestamp> out;
  store::Query q;
  q.types = {"sighting"};
  q.limit = 5000;
  CONCORD_RETURN_IF_ERROR(store.Sweep(q, [&](const store::StoredObject& o) {
    boost::json::value doc;
    try {
      doc = boost::json::parse(o.json);
    } catch (const std::exception&) {
      return true;
    }
    const boost::json::object* obj = doc.if_object();
    if (obj == nullptr) return true;
    const boost::json::value* ref = obj->if_contains("sighting_of_ref");
    const boost::json::value* seen = obj->if_contains("last_seen");
    if (seen == nullptr) seen = obj->if_contains("modified");
    if (ref == nullptr || !ref->is_string() || seen == nullptr || !seen->is_string()) return true;
    auto ts = ParseRfc3339(std::string_view(seen->get_string()));
    if (!ts.ok()) return true;
    auto [it, inserted] = out.try_emplace(std::string(ref->get_string()), *ts);
    if (!inserted && it->second < *ts) it->second = *ts;
    return true;
  }));
  return out;
}

}  // namespace

absl::Status ExportIndicators(store::Store& store, const ExportFilter& filter, const Timestamp& now,
                              exports::ExportWriter& writer,
                              const std::function<bool(const store::StoredObject&)>& visible,
                              const std::function<absl::Status(std::span<const std::string>)>& on_page,
                              ExportSummary* summary) {
  ExportSummary local;
  ExportSummary& s = summary != nullptr ? *summary : local;
  CONCORD_ASSIGN_OR_RETURN(auto sightings, SightingTimes(store));
  store::Query q;
  q.types = {"indicator"};
  q.limit = 1000;
  if (filter.since) q.modified_since = *filter.since;
  std::vector<Indicator> accepted;
  std::vector<std::string> ids;
  std::vector<std::string> until;
  std::vector<std::string> json;
  while (true) {
    CONCORD_ASSIGN_OR_RETURN(store::Page page, store.List(q));
    accepted.clear();
    ids.clear();
    until.clear();
    json.clear();
    for (const store::StoredObject& o : page.objects) {
      if (visible && !visible(o)) continue;
      ++s.indicators_read;
      if (o.tlp > filter.max_tlp) {
        ++s.left_out["tlp_above_maximum"];
        continue;
      }
      Skip skip = Skip::kNone;
      auto ind = ReadIndicator(o, filter.read, now, &skip);
      if (!ind.ok()) {
        ++s.left_out["unreadable"];
        continue;
      }
      if (skip != Skip::kNone) {
        ++s.left_out[std::string(SkipName(skip))];
        continue;
      }
      Timestamp since = ind->valid_from.value_or(now);
      if (auto it = sightings.find(ind->id); it != sightings.end() && it->second > since) since = it->second;
      const ValueKind score_kind = !ind->values.empty() ? ind->values.front().kind : ValueKind::kUrl;
      const double score = filter.decay.Score(score_kind, ind->confidence, since, now);
      if (score < filter.min_score) {
        ++s.left_out["score_below_minimum"];
        continue;
      }
      if (!ind->regexes.empty()) s.left_out["regex_comparisons"] += ind->regexes.size();
      // Keep only the values that will be written, so that the audit names exactly what left.
      std::erase_if(ind->values, [&](const IndicatorValue& v) {
        if (!filter.kinds.empty() && std::find(filter.kinds.begin(), filter.kinds.end(), v.kind) == filter.kinds.end()) {
          ++s.left_out["kind_not_asked"];
          return true;
        }
        if (!filter.include_warninglisted && filter.warninglists != nullptr && filter.warninglists->Listed(v.kind, v.value)) {
          ++s.left_out["warninglisted"];
          return true;
        }
        return false;
      });
      if (ind->values.empty()) continue;
      ind->confidence = static_cast<int>(score * 1000);  // carried to the write loop below, in thousandths
      ids.push_back(ind->id);
      until.push_back(ind->valid_until ? FormatRfc3339(*ind->valid_until) : "");
      json.push_back(o.json);
      accepted.push_back(std::move(*ind));
    }
    if (on_page && !ids.empty()) CONCORD_RETURN_IF_ERROR(on_page(ids));
    for (size_t i = 0; i < accepted.size(); ++i) {
      const Indicator& ind = accepted[i];
      for (const IndicatorValue& v : ind.values) {
        exports::ExportIndicator e;
        e.id = ind.id;
        e.name = ind.name;
        e.kind = v.kind;
        e.value = v.value;
        e.include_subdomains = v.include_subdomains;
        e.tlp = ind.tlp;
        e.score = *ind.confidence / 1000.0;
        e.valid_until = until[i];
        e.object_json = json[i];
        CONCORD_RETURN_IF_ERROR(writer.Add(e));
        ++s.values_written;
      }
      ++s.indicators_exported;
    }
    if (!page.more) break;
    q.after_seq = page.next_after_seq;
  }
  return writer.Finish();
}

}  // namespace concord::detect
