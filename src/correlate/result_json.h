// concord/correlate/result_json.h — the JSON of what a search or a correlation found, one form for every door:
// GET /api/v1/search and `concord search --json` (the search), GET /api/v1/objects/{id}/correlations (its
// values). Stored objects appear as summaries (id, type, tlp, revoked, modified, created_by_ref), never whole.
#pragma once

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "boost/json/array.hpp"
#include "boost/json/object.hpp"
#include "correlate/correlator.h"
#include "store/store.h"

namespace concord::correlate {

// Called with every stored object a document names, in document order (the API audits those above TLP:CLEAR).
using NamedObject = absl::FunctionRef<void(const store::StoredObject&)>;

// {"id", "type", "revoked", "tlp", "modified" (null when unknown), "created_by_ref" (when set)}.
boost::json::object ObjectSummaryJson(const store::StoredObject& o);
boost::json::array StringsJson(const std::vector<std::string>& values);
// Each object's summary.
boost::json::array ObjectsJson(const ObjectPage& page, NamedObject named);
// [{"kind", "value", "warninglists", "object": summary}]: the address postings containing or contained.
boost::json::array AddressHitsJson(const std::vector<AddressHit>& hits, NamedObject named);
// [{"indicator": summary, "via", "total", "total_more", "sightings": [{"id", "created_by_ref", "count",
// "first_seen", "last_seen", "where_sighted_refs", "modified", "tlp"}]}] (absent values null).
boost::json::array SightingsJson(const std::vector<IndicatorSightings>& found, NamedObject named);
// {"kind", "value", "warninglists", "over_correlating", "objects", "more", "next" (when more: pass it back as
// the search's `after`), "containing", "containing_more", "contained", "contained_more", "sightings",
// "sightings_more"}.
boost::json::object SearchResultJson(const SearchResult& r, NamedObject named);

}  // namespace concord::correlate
