// concord/detect/export_indicators.h — streaming the store's indicators into a detection export
// (detect/export/export.h): the one place that decides what a SOC's tools receive.
//
// Reads current indicators page by page (memory is constant in the number of objects, apart from the
// map of sighted indicators that refreshes decay scores), reads each with ReadIndicator (same
// normalisation and score as the matcher), and hands every value that passes the filter to the writer.
// Left out: revoked, expired and not-yet-valid indicators, non-STIX patterns, TLP above the maximum,
// values on a warninglist (unless asked), kinds not asked for, scores under the minimum, and objects the
// caller may not see (`visible`, the sharing policy of the REST caller; the CLI sees everything).
// LIKE/MATCHES comparisons are not exportable values and are counted as such.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "detect/export/export.h"
#include "detect/indicator.h"
#include "detect/snapshot.h"
#include "store/store.h"

namespace concord::detect {

struct ExportFilter {
  // Detection content goes to sensors and SIEMs that many people read: AMBER by default, never
  // AMBER+STRICT or RED unless asked.
  stix::Tlp max_tlp = stix::Tlp::kAmber;
  std::optional<Timestamp> since;  // only indicators modified at or after
  std::vector<ValueKind> kinds;    // empty: every kind
  double min_score = 0;
  const WarninglistFilter* warninglists = nullptr;  // null: no list applies
  bool include_warninglisted = false;
  ReadOptions read;
  DecayPolicy decay = DecayPolicy::Default();
};

struct ExportSummary {
  uint64_t indicators_read = 0;
  uint64_t indicators_exported = 0;  // at least one value written
  uint64_t values_written = 0;
  std::map<std::string, uint64_t> left_out;  // reason → values or indicators
};

// `visible` (may be empty) filters objects by the caller's policy; `on_page` (may be empty) receives the
// ids of the indicators that contributed to the export, per page, before their values are written (the
// audit hook: an error stops the export).
[[nodiscard]] absl::Status ExportIndicators(
    store::Store& store, const ExportFilter& filter, const Timestamp& now, exports::ExportWriter& writer,
    const std::function<bool(const store::StoredObject&)>& visible,
    const std::function<absl::Status(std::span<const std::string>)>& on_page, ExportSummary* summary);

}  // namespace concord::detect
