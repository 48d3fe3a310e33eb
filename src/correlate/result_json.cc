#include "correlate/result_json.h"

#include <utility>

#include "pattern/extract.h"
#include "stix/object.h"

namespace concord::correlate {

boost::json::object ObjectSummaryJson(const store::StoredObject& o) {
  boost::json::object j{{"id", o.id}, {"type", o.type}, {"revoked", o.revoked}, {"tlp", stix::TlpName(o.tlp)}};
  if (o.modified.empty()) {
    j["modified"] = nullptr;
  } else {
    j["modified"] = o.modified;
  }
  if (!o.created_by_ref.empty()) j["created_by_ref"] = o.created_by_ref;
  return j;
}

boost::json::array StringsJson(const std::vector<std::string>& values) {
  boost::json::array out;
  for (const auto& v : values) out.emplace_back(v);
  return out;
}

boost::json::array ObjectsJson(const ObjectPage& page, NamedObject named) {
  boost::json::array out;
  for (const store::StoredObject& o : page.objects) {
    named(o);
    out.push_back(ObjectSummaryJson(o));
  }
  return out;
}

boost::json::array AddressHitsJson(const std::vector<AddressHit>& hits, NamedObject named) {
  boost::json::array out;
  for (const AddressHit& h : hits) {
    named(h.object);
    out.push_back(boost::json::object{{"kind", pattern::ValueKindName(h.kind)},
                                      {"value", h.value},
                                      {"warninglists", StringsJson(h.warninglists)},
                                      {"object", ObjectSummaryJson(h.object)}});
  }
  return out;
}

boost::json::array SightingsJson(const std::vector<IndicatorSightings>& found, NamedObject named) {
  boost::json::array out;
  const auto text_or_null = [](const std::string& v) { return v.empty() ? boost::json::value(nullptr) : boost::json::value(v); };
  for (const IndicatorSightings& s : found) {
    named(s.indicator);
    boost::json::array sightings;
    for (const Sighting& x : s.sightings) {
      named(x.object);
      sightings.push_back(boost::json::object{{"id", x.object.id},
                                              {"created_by_ref", text_or_null(x.object.created_by_ref)},
                                              {"count", x.count ? boost::json::value(*x.count) : boost::json::value(nullptr)},
                                              {"first_seen", text_or_null(x.first_seen)},
                                              {"last_seen", text_or_null(x.last_seen)},
                                              {"where_sighted_refs", StringsJson(x.where_sighted_refs)},
                                              {"modified", text_or_null(x.object.modified)},
                                              {"tlp", stix::TlpName(x.object.tlp)}});
    }
    out.push_back(boost::json::object{{"indicator", ObjectSummaryJson(s.indicator)},
                                      {"via", SightedViaName(s.via)},
                                      {"total", s.total},
                                      {"total_more", s.total_more},
                                      {"sightings", std::move(sightings)}});
  }
  return out;
}

boost::json::object SearchResultJson(const SearchResult& r, NamedObject named) {
  boost::json::object doc{{"kind", pattern::ValueKindName(r.kind)},
                          {"value", r.value},
                          {"warninglists", StringsJson(r.warninglists)},
                          {"over_correlating", r.over_correlating},
                          {"objects", ObjectsJson(r.objects, named)},
                          {"more", r.objects.more}};
  if (r.objects.more) doc["next"] = std::to_string(r.objects.next_after);
  doc["containing"] = AddressHitsJson(r.containing, named);
  doc["containing_more"] = r.containing_more;
  doc["contained"] = AddressHitsJson(r.contained, named);
  doc["contained_more"] = r.contained_more;
  doc["sightings"] = SightingsJson(r.sightings, named);
  doc["sightings_more"] = r.sightings_more;
  return doc;
}

}  // namespace concord::correlate
