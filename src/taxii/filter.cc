#include "taxii/filter.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <utility>

#include "common/status.h"
#include "common/uuid.h"
#include "fmt/format.h"

namespace concord::taxii {
namespace {

constexpr std::string_view kAddedAfter = "added_after";
constexpr std::string_view kLimit = "limit";
constexpr std::string_view kNext = "next";
constexpr std::string_view kMatchId = "match[id]";
constexpr std::string_view kMatchType = "match[type]";
constexpr std::string_view kMatchVersion = "match[version]";
constexpr std::string_view kMatchSpecVersion = "match[spec_version]";

// A value quoted for an error message, shortened so that hostile input cannot flood logs.
std::string Quote(std::string_view v) {
  constexpr size_t kMax = 80;
  if (v.size() > kMax) return fmt::format("'{}…'", v.substr(0, kMax));
  return fmt::format("'{}'", v);
}

bool IsStixType(std::string_view t) {
  // STIX 2.1 §3.1: 3–250 characters, lower-case ASCII letters, digits and hyphens; no leading or trailing
  // hyphen, no "--".
  if (t.size() < 3 || t.size() > 250) return false;
  if (t.front() == '-' || t.back() == '-' || t.find("--") != std::string_view::npos) return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

bool IsStixId(std::string_view id) {
  const size_t sep = id.find("--");
  if (sep == std::string_view::npos) return false;
  return IsStixType(id.substr(0, sep)) && ParseUuid(id.substr(sep + 2)).ok() && id.size() == sep + 2 + 36;
}

bool IsSpecVersion(std::string_view v) {
  const size_t dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size() || v.size() > 10) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i != dot && (v[i] < '0' || v[i] > '9')) return false;
  }
  return true;
}

struct EndpointRules {
  bool ids_and_types = false;
  bool version = false;
  bool paging = false;  // added_after, limit, next
  bool default_all_versions = false;
};

EndpointRules RulesFor(Endpoint e) {
  switch (e) {
    case Endpoint::kObjects:
    case Endpoint::kManifest: return {.ids_and_types = true, .version = true, .paging = true};
    case Endpoint::kObject: return {.version = true, .paging = true};
    case Endpoint::kDeleteObject: return {.version = true, .default_all_versions = true};
    case Endpoint::kVersions: return {.paging = true, .default_all_versions = true};
  }
  return {};
}

// The comma-separated values of `key` (given once), without empty items and duplicates.
absl::StatusOr<std::vector<std::string>> ListValues(const http::QueryParams& query, std::string_view key) {
  std::vector<std::string> values = query.GetList(key);
  std::vector<std::string> out;
  std::set<std::string, std::less<>> seen;
  for (std::string& v : values) {
    if (v.empty()) return FieldError(key, "empty value in the comma-separated list");
    if (seen.insert(v).second) out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<size_t> ParseLimit(std::string_view text, const FilterOptions& options) {
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return FieldError(kLimit, fmt::format("must be a positive integer, got {}", Quote(text)));
  size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) return options.max_limit;  // a huge positive integer: clamp
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) {
    return FieldError(kLimit, fmt::format("must be a positive integer, got {}", Quote(text)));
  }
  return std::min(value, options.max_limit);
}

std::string FormatMicros(const Timestamp& ts) { return FormatRfc3339(ts, 6); }

}  // namespace

absl::StatusOr<TaxiiFilter> ParseFilter(const http::QueryParams& query, Endpoint endpoint, const FilterOptions& options) {
  const EndpointRules rules = RulesFor(endpoint);
  // Each parameter at most once (§3.4); unknown match fields and fields the endpoint does not take are 400.
  std::set<std::string, std::less<>> given;
  for (const auto& item : query.items()) {
    const std::string& key = item.key;
    const bool known_paging = key == kAddedAfter || key == kLimit || key == kNext;
    const bool is_match = key.starts_with("match[");
    if (!known_paging && !is_match) continue;  // not a TAXII parameter
    if (is_match) {
      if (!key.ends_with("]") || key.size() == 7) {
        return FieldError(key, "malformed match parameter; expected match[<field>]");
      }
      if (key != kMatchId && key != kMatchType && key != kMatchVersion && key != kMatchSpecVersion) {
        return FieldError(key, "unsupported match field; supported: id, type, version, spec_version");
      }
      if (((key == kMatchId || key == kMatchType) && !rules.ids_and_types) || (key == kMatchVersion && !rules.version)) {
        return FieldError(key, "not supported on this endpoint");
      }
    } else if (!rules.paging) {
      return FieldError(key, "not supported on this endpoint");
    }
    if (!given.insert(key).second) {
      return FieldError(key, "given more than once; send one parameter with a comma-separated list (TAXII 2.1 §3.4)");
    }
  }

  TaxiiFilter f;
  f.limit = std::min(options.default_limit, options.max_limit);
  if (auto v = query.Get(kAddedAfter)) {
    auto ts = ParseRfc3339(*v);
    if (!ts.ok()) {
      return FieldError(kAddedAfter, fmt::format("not an RFC 3339 timestamp ({}): {}", Quote(*v), Sv(ts.status().message())));
    }
    f.added_after = *ts;
  }
  if (auto v = query.Get(kLimit)) {
    CONCORD_ASSIGN_OR_RETURN(f.limit, ParseLimit(*v, options));
  }
  if (auto v = query.Get(kNext)) {
    if (v->empty()) return FieldError(kNext, "empty cursor");
    f.next = std::string(*v);
  }
  CONCORD_ASSIGN_OR_RETURN(f.ids, ListValues(query, kMatchId));
  for (const std::string& id : f.ids) {
    if (!IsStixId(id)) return FieldError(kMatchId, fmt::format("not a STIX identifier: {}", Quote(id)));
  }
  CONCORD_ASSIGN_OR_RETURN(f.types, ListValues(query, kMatchType));
  for (const std::string& t : f.types) {
    if (!IsStixType(t)) return FieldError(kMatchType, fmt::format("not a STIX type name: {}", Quote(t)));
  }
  CONCORD_ASSIGN_OR_RETURN(std::vector<std::string> versions, ListValues(query, kMatchVersion));
  for (const std::string& v : versions) {
    if (v == "last") {
      f.versions.last = true;
    } else if (v == "first") {
      f.versions.first = true;
    } else if (v == "all") {
      f.versions.all = true;
    } else {
      auto ts = ParseRfc3339(v);
      if (!ts.ok()) {
        return FieldError(kMatchVersion, fmt::format("expected last, first, all or an RFC 3339 timestamp, got {}", Quote(v)));
      }
      f.versions.at.push_back(*ts);
    }
  }
  if (versions.empty()) {
    if (rules.default_all_versions) {
      f.versions.all = true;
    } else {
      f.versions.last = true;
    }
  }
  CONCORD_ASSIGN_OR_RETURN(f.spec_versions, ListValues(query, kMatchSpecVersion));
  for (const std::string& v : f.spec_versions) {
    if (!IsSpecVersion(v)) return FieldError(kMatchSpecVersion, fmt::format("expected a version like 2.1, got {}", Quote(v)));
  }
  return f;
}

std::string FilterFingerprint(const TaxiiFilter& f, std::string_view scope) {
  // Sorted lists: the order of values in a list does not change the result set.
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  std::vector<std::string> at;
  for (const Timestamp& ts : f.versions.at) at.push_back(FormatSortable(ts));
  return fmt::format("{}\n{}\n{}\n{}\n{}{}{}:{}\n{}", scope,
                     f.added_after ? FormatSortable(*f.added_after) : std::string("-"),
                     fmt::join(sorted(f.ids), ","), fmt::join(sorted(f.types), ","), f.versions.last ? "L" : "",
                     f.versions.first ? "F" : "", f.versions.all ? "A" : "", fmt::join(sorted(at), ","),
                     fmt::join(sorted(f.spec_versions), ","));
}

std::string VersionOf(const store::StoredObject& o) {
  if (!o.modified.empty()) return o.modified;
  if (!o.created.empty()) return o.created;
  return FormatMicros(o.added);
}

StorePlan Plan(const TaxiiFilter& f, int64_t after_seq) {
  StorePlan p;
  p.query.ids = f.ids;
  p.query.types = f.types;
  p.query.after_seq = after_seq;
  p.page_size = f.limit == 0 ? 1 : f.limit;
  p.query.limit = p.page_size;
  p.versions = f.versions;
  if (f.versions.all) {
    p.query.current_only = false;
  } else if (f.versions.LastOnly()) {
    p.query.current_only = true;
  } else {
    p.query.current_only = false;
    p.filter_versions = true;
    p.needs_first_version = f.versions.first;
  }
  p.added_after = f.added_after;
  p.spec_versions = f.spec_versions;
  return p;
}

bool KeepVersion(const StorePlan& plan, const store::StoredObject& o, std::optional<std::string_view> first_version) {
  if (plan.added_after && !(o.added > *plan.added_after)) return false;
  if (!plan.spec_versions.empty()) {
    const std::string_view sv = o.spec_version.empty() ? std::string_view("2.1") : std::string_view(o.spec_version);
    if (std::find(plan.spec_versions.begin(), plan.spec_versions.end(), sv) == plan.spec_versions.end()) return false;
  }
  if (!plan.filter_versions) return true;
  const VersionSelector& v = plan.versions;
  if (v.last && o.current) return true;
  const std::string version = VersionOf(o);
  if (v.first && first_version && *first_version == version) return true;
  if (!v.at.empty()) {
    auto ts = ParseRfc3339(version);
    if (ts.ok() && std::find(v.at.begin(), v.at.end(), *ts) != v.at.end()) return true;
  }
  return false;
}

absl::StatusOr<CollectedPage> Collect(const StorePlan& plan, const CollectCallbacks& cb, size_t max_scanned) {
  CollectedPage out;
  store::Query q = plan.query;
  q.limit = std::clamp<size_t>(plan.page_size, 1, 10000);
  out.next_after_seq = q.after_seq;
  size_t scanned = 0;
  std::map<std::string, std::string, std::less<>> first_cache;
  while (true) {
    CONCORD_ASSIGN_OR_RETURN(store::Page page, cb.list(q));
    for (size_t i = 0; i < page.objects.size(); ++i) {
      store::StoredObject& o = page.objects[i];
      ++scanned;
      out.next_after_seq = o.seq;
      std::optional<std::string_view> first;
      if (plan.needs_first_version) {
        auto it = first_cache.find(o.id);
        if (it == first_cache.end()) {
          if (!cb.first_version) return absl::InternalError("Collect: first_version callback missing for match[version]=first");
          CONCORD_ASSIGN_OR_RETURN(std::string fv, cb.first_version(o.id));
          it = first_cache.emplace(o.id, std::move(fv)).first;
        }
        first = it->second;
      }
      if (KeepVersion(plan, o, first) && (!cb.visible || cb.visible(o))) {
        out.objects.push_back(std::move(o));
        if (out.objects.size() >= plan.page_size) {
          // Full: the cursor stops here, so the rest of this store page comes with the next TAXII page.
          out.more = i + 1 < page.objects.size() || page.more;
          return out;
        }
      }
    }
    if (page.objects.empty() || !page.more) {
      out.more = false;
      if (!page.objects.empty()) out.next_after_seq = page.next_after_seq;
      return out;
    }
    q.after_seq = page.next_after_seq;
    out.next_after_seq = page.next_after_seq;
    if (scanned >= max_scanned) {
      out.more = true;
      return out;
    }
  }
}

}  // namespace concord::taxii
