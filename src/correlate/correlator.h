// concord/correlate/correlator.h — correlation queries over the store's postings (design.md principle 3:
// value-keyed, never pairwise).
//
// Search(value) answers "who else has seen this?" for a value an analyst types: its kind (detected, or
// given), canonical text, the warninglists it is on, whether it over-correlates, and one page of the objects
// having it. CorrelationsOf(id) answers the same for every posting of one object, leaving the object out.
// CorrelateBatch answers CorrelationsOf for every object of an imported batch at once, looking each distinct
// value of the batch up once (Store::LookupPostings) instead of several queries per object and value.
// Addresses correlate by containment too: an IP with the CIDR postings that contain it, a CIDR with the IP
// postings inside it (and the shorter CIDR postings containing it).
//
// Visibility is the caller's: every object returned has passed `visible` (REST applies the sharing policy
// there); correlate never decides it. Pages are filled with visible objects only and a cursor resumes after
// the last object returned, so neither a page nor a cursor tells how many objects were hidden. To bound the
// work one call does for a caller who sees little, a page scans at most max(10 × limit, 10,000) postings: a
// page cut short by that bound has `more` set and may hold fewer objects than asked (the next one resumes
// after the last posting scanned).
//
// Warninglists: Search reports the lists a value is on and still returns its objects (a lookup, asked for
// by name). In CorrelationsOf a warninglisted value is reported with its lists but yields no objects: it does
// not correlate (MISP's semantics), and neither do warninglisted values reached by containment.
// Over-correlation: a value with more than max_correlations postings is flagged; it stays indexed and its
// objects are still returned, paged.
//
// Sightings: Search lists, for each indicator it finds, the STIX sightings of it that the caller may see
// (through the sightings' reference postings, postings.h), bounded per indicator and in number of indicators.
//
// Objects are returned with their current version's columns; `json` is empty (Store::Get reads it).
// Thread-safety: a Correlator holds references only; calls are thread-safe as the store and the `visible`
// callback are.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "correlate/normalize.h"
#include "correlate/warninglist.h"
#include "store/store.h"

namespace concord::correlate {

using Visible = absl::FunctionRef<bool(const store::StoredObject&)>;
// Resumes a listing of address postings: (address, store cursor) of the last one returned.
using AddressCursor = std::pair<std::array<uint8_t, 16>, int64_t>;

// One object found through another value related by address containment.
struct AddressHit {
  Kind kind;                              // cidr4/cidr6 for containing prefixes, ipv4/ipv6 for contained IPs
  std::string value;                      // that value, normalised
  std::vector<std::string> warninglists;  // the lists it is on
  store::StoredObject object;
};

struct ObjectPage {
  std::vector<store::StoredObject> objects;  // visible objects, in cursor order
  int64_t next_after = 0;                    // pass back as `after` for the next page
  bool more = false;
};

struct SearchOptions {
  std::optional<Kind> kind;        // read the value as this kind instead of detecting one
  int64_t after = 0;               // cursor: a previous page's next_after
  size_t limit = 50;               // objects per page (1..1000)
  int64_t max_correlations = 1000;  // more postings than this: over-correlating
  size_t max_related = 100;        // containing / contained hits returned (1..1000)
  std::optional<AddressCursor> contained_after;  // cursor for the next page of contained IPs
  // Sightings (SearchResult::sightings): listed per indicator (0: none looked up; at most 100), and the
  // indicators whose sightings are looked up (at most 100).
  size_t sightings_per_indicator = 10;
  size_t max_sighted_indicators = 50;
};

// How a search reached an indicator whose sightings it lists.
enum class SightedVia : uint8_t {
  kValue,       // the indicator has the value searched (SearchResult::objects)
  kContaining,  // through a CIDR containing the value (SearchResult::containing)
  kContained,   // through an IP inside the CIDR searched (SearchResult::contained)
  kDetection,   // the caller's matcher says it fires on the value (Correlator::AddSightings)
};
std::string_view SightedViaName(SightedVia via);  // "value", "containing", "contained", "detection"

// One sighting, from its current version.
struct Sighting {
  store::StoredObject object;     // columns (id, created_by_ref, modified, tlp, …); `json` empty
  std::optional<int64_t> count;   // as the sighting states them; absent when it does not
  std::string first_seen;         // RFC 3339 as written, "" when absent
  std::string last_seen;
  std::vector<std::string> where_sighted_refs;
};

// The sightings of one indicator that the caller may see.
struct IndicatorSightings {
  store::StoredObject indicator;  // its current version's columns, `json` empty
  SightedVia via = SightedVia::kValue;
  std::vector<Sighting> sightings;  // the first sightings_per_indicator, in the order they were stored
  // Visible sightings counted, no further than 1,000 (and no more than 10,000 sightings scanned):
  // `total_more` says the count stopped there.
  int64_t total = 0;
  bool total_more = false;
};

struct SearchResult {
  Kind kind;
  std::string value;  // normalised
  std::vector<std::string> warninglists;
  bool over_correlating = false;
  ObjectPage objects;
  // IP or CIDR searched: the CIDR postings containing it (shorter prefixes only for a CIDR), at most
  // max_related hits, by prefix length descending (most specific first); `containing_more` when cut.
  std::vector<AddressHit> containing;
  bool containing_more = false;
  // CIDR searched: one page of the IP postings inside it, by address.
  std::vector<AddressHit> contained;
  std::optional<AddressCursor> contained_next_after;
  bool contained_more = false;
  // The sightings of the indicators found above (objects, then containing, then contained, each indicator
  // once), of those with at least one the caller sees. Sightings pass `visible` like objects; revoked
  // sightings (withdrawn by their creator) are left out. At most max_sighted_indicators indicators are
  // looked at: `sightings_more` says others were not. The listed sightings' JSON is read after their
  // postings (one Store::List): one revoked or hidden in between is left out and no longer counted.
  std::vector<IndicatorSightings> sightings;
  bool sightings_more = false;
  size_t sighted_indicators = 0;  // indicators looked at so far (AddSightings goes on from here)
};

struct CorrelationOptions {
  size_t per_value = 20;            // objects per value (1..1000); continue one value with Search(after)
  int64_t max_correlations = 1000;  // over-correlation threshold
  size_t max_related = 20;          // containing / contained hits per address value (0..1000)
};

// One posting of the object and what shares it.
struct CorrelatedValue {
  Kind kind;
  std::string value;
  std::vector<std::string> warninglists;  // non-empty: the value does not correlate (no objects below)
  bool over_correlating = false;
  ObjectPage objects;  // other visible objects with this value (the object itself left out)
  std::vector<AddressHit> containing;
  std::vector<AddressHit> contained;
  bool related_more = false;  // containing or contained was cut at max_related
};

// ---- Batch correlation (CorrelateBatch).

// One object of a batch: stored already (the version committed and current), with the postings of that
// version as the caller has them (EncodedObject::postings from Encode at ingest: canonical, sorted by kind and
// value). Nothing of it is read back from the store.
struct BatchItem {
  std::string_view id;
  std::span<const store::Posting> postings;
};

// An object listed in a batch's answer: an index into BatchCorrelations::objects.
using ObjectIndex = uint32_t;

struct BatchAddressHit {
  Kind kind;
  std::string value;
  std::vector<std::string> warninglists;
  ObjectIndex object = 0;
};

// One posting of an item and what shares it: CorrelatedValue with objects by index.
struct BatchValue {
  Kind kind;
  std::string value;
  std::vector<std::string> warninglists;  // non-empty: the value does not correlate (no objects below)
  bool over_correlating = false;
  std::vector<ObjectIndex> objects;  // ObjectPage::objects
  int64_t next_after = 0;            // ObjectPage::next_after
  bool more = false;                 // ObjectPage::more
  std::vector<BatchAddressHit> containing;
  std::vector<BatchAddressHit> contained;
  bool related_more = false;
};

struct BatchCorrelations {
  // Every object listed anywhere in the answer, once (a value shared by many items of a batch lists the same
  // objects for each of them: they are held here once). Columns of the current version, `json` empty.
  std::vector<store::StoredObject> objects;
  // Per item, in batch order: its postings in the order given (reference postings left out), each with what
  // correlates.
  std::vector<std::vector<BatchValue>> items;

  // Item `item`'s answer in CorrelationsOf's form (objects copied out of `objects`).
  std::vector<CorrelatedValue> Expand(size_t item) const;
};

class Correlator {
 public:
  // `warninglists` may be null (no lists loaded); both must outlive the Correlator.
  explicit Correlator(store::Store& store, const Warninglists* warninglists = nullptr)
      : store_(store), warninglists_(warninglists) {}

  // InvalidArgument when the value is of no known kind or does not normalise as the kind given.
  [[nodiscard]] absl::StatusOr<SearchResult> Search(std::string_view raw_value, const SearchOptions& options,
                                                    Visible visible) const;

  // Adds to `result` the sightings of more indicators, by id, as kDetection: the indicators that fire on the
  // value, which the caller's matcher knows and the store's postings do not. Ids the result holds already (as
  // objects, address hits or sightings' indicators) are skipped; each other one is read (Store::Get) and left
  // out when unknown, not an indicator or not `visible`. Same bounds as Search (pass the same `options`).
  [[nodiscard]] absl::Status AddSightings(SearchResult& result, std::span<const std::string> indicator_ids,
                                          const SearchOptions& options, Visible visible) const;

  // The postings of object `id`'s current version, in (kind, value) order, each with what correlates
  // (reference postings, postings.h, are left out: they are no values).
  // NotFound when the id is unknown or the object is not visible.
  [[nodiscard]] absl::StatusOr<std::vector<CorrelatedValue>> CorrelationsOf(std::string_view id,
                                                                           const CorrelationOptions& options,
                                                                           Visible visible) const;

  // CorrelationsOf for every object of a batch at once, for an import that has just stored the batch: item i
  // of the answer is exactly what CorrelationsOf(items[i].id) returns when the store holds items[i].postings
  // for it (the test CorrelateBatchEqualsCorrelationsOf checks that), with the same rules: the item itself is
  // left out, warninglisted values (direct or reached by containment) do not correlate, values with more than
  // max_correlations postings are flagged, containment both ways. Objects of the same batch are not left out:
  // two new reports naming one address correlate with each other, as they would one by one. The items
  // themselves are not checked against `visible` (the caller has just stored them).
  //
  // Cost: the distinct values of the batch (and, for addresses, their masked prefixes at each CIDR prefix
  // length the store holds: PrefixLengths once per batch) are looked up with one Store::LookupPostings, each
  // once whatever number of items names it; CIDRs of the batch read the IPs inside them once per distinct CIDR.
  // Only pages that the prefetched first objects do not decide (a viewer who sees few of a value's objects)
  // read more, once per value and batch. `visible` is called at most once per distinct object per batch, so
  // it must answer the same for one object throughout the call.
  [[nodiscard]] absl::StatusOr<BatchCorrelations> CorrelateBatch(std::span<const BatchItem> items,
                                                                 const CorrelationOptions& options,
                                                                 Visible visible) const;

 private:
  store::Store& store_;
  const Warninglists* warninglists_;
};

}  // namespace concord::correlate
