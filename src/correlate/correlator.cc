#include "correlate/correlator.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "boost/json/value.hpp"
#include "common/json.h"
#include "common/status.h"
#include "correlate/postings.h"
#include "fmt/format.h"

namespace concord::correlate {
namespace {

constexpr size_t kMaxPage = 1000;
constexpr size_t kMinScanBudget = 10'000;
// Objects a cached listing reads from the store at a time when a page needs more than was prefetched.
constexpr size_t kRefill = 64;

size_t ScanBudget(size_t limit) { return std::max(kMinScanBudget, 10 * limit); }

bool IsIp(Kind kind) { return kind == Kind::kIpv4 || kind == Kind::kIpv6; }
bool IsCidr(Kind kind) { return kind == Kind::kCidr4 || kind == Kind::kCidr6; }
bool IsV4(Kind kind) { return kind == Kind::kIpv4 || kind == Kind::kCidr4; }

// Bits of the 128-bit (IPv4-mapped for IPv4) address that a prefix of `length` of `kind` fixes.
int PrefixBits(Kind kind, int length) { return IsV4(kind) ? 96 + length : length; }

// The address with every bit after the first `bits` cleared (low end) or set (high end).
std::array<uint8_t, 16> Masked(std::array<uint8_t, 16> address, int bits, bool high) {
  for (int bit = bits; bit < 128; ++bit) {
    const auto mask = static_cast<uint8_t>(0x80u >> (bit % 8));
    address[bit / 8] = static_cast<uint8_t>(high ? (address[bit / 8] | mask) : (address[bit / 8] & ~mask));
  }
  return address;
}

// ---- What one call reads, each thing once.
//
// Every correlation query (Search, CorrelationsOf, CorrelateBatch) runs the same algorithms below over a
// Source: a cache in front of the store for the duration of one call. A value's objects are held as a prefix
// of its full listing (by cursor), extended from the store when a page needs more, so that a page served
// from the cache is exactly the page the store would give; CorrelateBatch fills the cache up front with one
// Store::LookupPostings, and CorrelationsOf, Search and CorrelateBatch thereby give identical answers.

struct HitRef {
  int64_t cursor = 0;
  ObjectIndex object = 0;
};

struct RangeRef {
  AddressCursor position;  // (address, cursor)
  std::string value;
  ObjectIndex object = 0;
};

// A CIDR posting that may contain an address value: one per prefix length the store holds.
struct Prefix {
  Kind kind;
  std::string value;
  int length = 0;
};

struct ValueKey {
  Kind kind;
  std::string value;
};
struct ValueKeyView {
  ValueKeyView(Kind k, std::string_view v) : kind(k), value(v) {}
  ValueKeyView(const ValueKey& key) : kind(key.kind), value(key.value) {}  // NOLINT: implicit for lookups
  Kind kind;
  std::string_view value;
};
struct ValueKeyHash {
  using is_transparent = void;
  size_t operator()(ValueKeyView key) const {
    return std::hash<std::string_view>{}(key.value) * 31 + static_cast<size_t>(key.kind);
  }
};
struct ValueKeyEq {
  using is_transparent = void;
  bool operator()(ValueKeyView a, ValueKeyView b) const { return a.kind == b.kind && a.value == b.value; }
};

class Source {
 public:
  Source(store::Store& store, const Warninglists* lists, Visible visible)
      : store_(store), lists_(lists), visible_(visible) {}

  const store::StoredObject& object(ObjectIndex i) const { return objects_[i]; }

  // A fingerprint of an object id for IsId, cheaper than hashing it: its length and last 8 bytes (the random
  // end of a STIX id's UUID).
  static uint64_t IdHash(std::string_view id) {
    uint64_t tail = 0;
    const size_t n = std::min(id.size(), sizeof tail);
    if (n > 0) std::memcpy(&tail, id.data() + id.size() - n, n);
    return tail ^ (static_cast<uint64_t>(id.size()) << 56);
  }
  // Whether object i has id `id` (whose IdHash is `id_hash`). Compares the fingerprint held beside the objects
  // first: skipping an item's own object then costs no string comparison (and no read of the object) per hit.
  bool IsId(ObjectIndex i, std::string_view id, uint64_t id_hash) const {
    return id_hashes_[i] == id_hash && objects_[i].id == id;
  }

  // Whether the caller sees object i (asked once per object).
  bool IsVisible(ObjectIndex i) {
    if (visibility_.size() <= i) visibility_.resize(objects_.size(), -1);
    if (visibility_[i] < 0) visibility_[i] = visible_(objects_[i]) ? 1 : 0;
    return visibility_[i] == 1;
  }

  const std::vector<std::string>& ListsOf(Kind kind, std::string_view value) {
    Entry& entry = EntryOf(kind, value);
    if (!entry.lists) entry.lists = lists_ == nullptr ? std::vector<std::string>{} : lists_->Match(kind, value);
    return *entry.lists;
  }

  // FindPostings from the cache: a chunk of (kind, value)'s objects after `after`, at most `limit`; `more`
  // when others may follow. Chunks may be shorter than the store's; callers go on after the last one.
  absl::Status Find(Kind kind, std::string_view value, int64_t after, size_t limit, std::vector<HitRef>& out,
                    bool& more) {
    out.clear();
    Entry& entry = EntryOf(kind, value);
    const int64_t end = entry.hits.empty() ? 0 : entry.hits.back().cursor;
    if (entry.more && after >= end) {
      if (after != end) {  // resuming beyond what is cached (a caller's cursor): straight from the store
        CONCORD_ASSIGN_OR_RETURN(
            store::PostingPage page,
            store_.FindPostings({static_cast<uint8_t>(kind), std::string(value), after, limit}));
        for (store::PostingHit& hit : page.hits) out.push_back({hit.cursor, Add(std::move(hit.object))});
        more = page.more;
        return absl::OkStatus();
      }
      CONCORD_ASSIGN_OR_RETURN(
          store::PostingPage page,
          store_.FindPostings({static_cast<uint8_t>(kind), std::string(value), end, std::max(limit, kRefill)}));
      Append(entry, std::move(page));
    }
    auto it = std::upper_bound(entry.hits.begin(), entry.hits.end(), after,
                               [](int64_t a, const HitRef& hit) { return a < hit.cursor; });
    const size_t available = static_cast<size_t>(entry.hits.end() - it);
    const size_t n = std::min(available, limit);
    out.assign(it, it + static_cast<std::ptrdiff_t>(n));
    more = available > n || entry.more;
    return absl::OkStatus();
  }

  // CountPostings from the cache.
  absl::StatusOr<int64_t> Count(Kind kind, std::string_view value, int64_t at_most) {
    at_most = std::max<int64_t>(at_most, 1);
    Entry& entry = EntryOf(kind, value);
    if (!entry.more) return std::min(static_cast<int64_t>(entry.hits.size()), at_most);  // every object is known
    if (entry.bound == 0 || (at_most > entry.bound && entry.count == entry.bound)) {
      CONCORD_ASSIGN_OR_RETURN(entry.count, store_.CountPostings(static_cast<uint8_t>(kind), value, at_most));
      entry.bound = at_most;
    }
    return std::min(entry.count, at_most);
  }

  // IpPostingsInRange from the cache (ranges are listed from their start, like values).
  absl::Status InRange(const store::IpRangeQuery& query, std::vector<const RangeRef*>& out, bool& more) {
    out.clear();
    Range& range = ranges_[{query.kind, query.low, query.high}];
    const bool at_end = range.refs.empty() ? !query.after.has_value()
                                           : (query.after && *query.after == range.refs.back().position);
    if (range.more && at_end) {
      store::IpRangeQuery next = query;
      next.after = range.refs.empty() ? std::nullopt : std::optional(range.refs.back().position);
      next.limit = std::max(query.limit, kRefill);
      CONCORD_ASSIGN_OR_RETURN(store::IpRangePage page, store_.IpPostingsInRange(next));
      for (store::IpPosting& posting : page.postings) {
        range.refs.push_back(
            {{posting.address, posting.hit.cursor}, std::move(posting.value), Add(std::move(posting.hit.object))});
      }
      range.more = page.more;
    } else if (range.more && query.after && (range.refs.empty() || *query.after > range.refs.back().position)) {
      // Resuming beyond what is cached (a caller's cursor): straight from the store.
      CONCORD_ASSIGN_OR_RETURN(store::IpRangePage page, store_.IpPostingsInRange(query));
      direct_.clear();
      for (store::IpPosting& posting : page.postings) {
        direct_.push_back(
            {{posting.address, posting.hit.cursor}, std::move(posting.value), Add(std::move(posting.hit.object))});
      }
      for (const RangeRef& ref : direct_) out.push_back(&ref);
      more = page.more;
      return absl::OkStatus();
    }
    auto it = range.refs.begin();
    if (query.after) {
      it = std::upper_bound(range.refs.begin(), range.refs.end(), *query.after,
                            [](const AddressCursor& a, const RangeRef& ref) { return a < ref.position; });
    }
    const size_t available = static_cast<size_t>(range.refs.end() - it);
    const size_t n = std::min(available, query.limit);
    for (size_t i = 0; i < n; ++i) out.push_back(&*(it + static_cast<std::ptrdiff_t>(i)));
    more = available > n || range.more;
    return absl::OkStatus();
  }

  // The CIDR postings that could contain an address value (an IP, or a CIDR: then only shorter prefixes), most
  // specific first: its masked prefix at each prefix length the store holds.
  absl::StatusOr<const std::vector<Prefix>*> ContainingPrefixes(Kind kind, std::string_view value) {
    Entry& entry = EntryOf(kind, value);
    if (entry.prefixes) return &*entry.prefixes;
    const Kind cidr_kind = IsV4(kind) ? Kind::kCidr4 : Kind::kCidr6;
    const auto address = AddressOf(kind, value);
    if (!address) return absl::InternalError(fmt::format("{} {} has no address", ValueKindName(kind), value));
    const int own_length = IsCidr(kind) ? PrefixLengthOf(kind, value).value_or(0) : (IsV4(kind) ? 32 : 128);
    std::optional<std::vector<int>>& lengths = IsV4(kind) ? lengths4_ : lengths6_;
    if (!lengths) {
      CONCORD_ASSIGN_OR_RETURN(lengths, store_.PrefixLengths(static_cast<uint8_t>(cidr_kind)));
      std::sort(lengths->rbegin(), lengths->rend());  // most specific first
    }
    std::vector<Prefix> prefixes;
    for (int length : *lengths) {
      // An address is inside a prefix of its own length only as that prefix itself (a /32 is its address);
      // a CIDR does not contain itself.
      if (length > own_length || (IsCidr(kind) && length == own_length)) continue;
      prefixes.push_back(
          {cidr_kind,
           fmt::format("{}/{}", FormatAddress(cidr_kind, Masked(*address, PrefixBits(cidr_kind, length), false)), length),
           length});
    }
    entry.prefixes = std::move(prefixes);
    return &*entry.prefixes;
  }

  // Fills the cache for many values with one store call: a count bounded by `at_most` and the first `first`
  // objects of each (values already cached are left as they are).
  absl::Status Prefetch(const std::vector<ValueKey>& values, int64_t at_most, size_t first) {
    std::vector<store::PostingKey> keys;
    std::vector<Entry*> entries;
    for (const ValueKey& value : values) {
      Entry& entry = EntryOf(value.kind, value.value);
      if (entry.fetched) continue;
      entry.fetched = true;
      keys.push_back({static_cast<uint8_t>(value.kind), value.value});
      entries.push_back(&entry);
    }
    if (keys.empty()) return absl::OkStatus();
    CONCORD_ASSIGN_OR_RETURN(std::vector<store::PostingLookup> found, store_.LookupPostings(keys, at_most, first));
    if (found.size() != keys.size()) return absl::InternalError("LookupPostings answered another number of keys");
    size_t hits = 0;
    for (const store::PostingLookup& lookup : found) hits += lookup.hits.size();
    objects_.reserve(objects_.size() + hits);  // at most that many new objects: no reallocation while adding
    id_hashes_.reserve(id_hashes_.size() + hits);
    by_seq_.reserve(by_seq_.size() + hits);
    for (size_t i = 0; i < found.size(); ++i) {
      Entry& entry = *entries[i];
      entry.count = found[i].count;
      entry.bound = std::max<int64_t>(at_most, 1);
      for (store::PostingHit& hit : found[i].hits) entry.hits.push_back({hit.cursor, Add(std::move(hit.object))});
      entry.more = found[i].more;
    }
    return absl::OkStatus();
  }

  // The objects read, for the answer; `keep` marks the ones to keep, and `remap` receives their new indices.
  std::vector<store::StoredObject> TakeObjects(const std::vector<bool>& keep, std::vector<ObjectIndex>& remap) {
    std::vector<store::StoredObject> out;
    out.reserve(static_cast<size_t>(std::count(keep.begin(), keep.end(), true)));
    remap.assign(objects_.size(), 0);
    for (size_t i = 0; i < objects_.size(); ++i) {
      if (i < keep.size() && keep[i]) {
        remap[i] = static_cast<ObjectIndex>(out.size());
        out.push_back(std::move(objects_[i]));
      }
    }
    objects_.clear();
    id_hashes_.clear();
    by_seq_.clear();
    return out;
  }
  size_t object_count() const { return objects_.size(); }

 private:
  struct Entry {
    std::vector<HitRef> hits;  // the first objects having the value, by cursor
    bool more = true;          // objects beyond `hits` may exist
    bool fetched = false;      // Prefetch asked for it
    int64_t count = 0;         // min(count, bound), when bound > 0
    int64_t bound = 0;         // 0: not counted yet
    std::optional<std::vector<std::string>> lists;
    std::optional<std::vector<Prefix>> prefixes;
  };
  struct Range {
    std::vector<RangeRef> refs;
    bool more = true;
  };

  Entry& EntryOf(Kind kind, std::string_view value) {
    // The algorithms ask for one value several times in a row (its lists, count, pages): the last entry
    // found answers without a hash lookup.
    if (last_entry_ != nullptr && last_kind_ == kind && last_value_ == value) return *last_entry_;
    auto it = entries_.find(ValueKeyView(kind, value));
    if (it == entries_.end()) it = entries_.emplace(ValueKey{kind, std::string(value)}, std::make_unique<Entry>()).first;
    last_entry_ = it->second.get();
    last_kind_ = kind;
    last_value_.assign(value.data(), value.size());
    return *last_entry_;
  }

  // Every hit shows its object's current version, whose seq is unique: one table entry per object read.
  ObjectIndex Add(store::StoredObject&& object) {
    auto [it, added] = by_seq_.try_emplace(object.seq, static_cast<ObjectIndex>(objects_.size()));
    if (added) {
      id_hashes_.push_back(IdHash(object.id));
      objects_.push_back(std::move(object));
    }
    return it->second;
  }

  void Append(Entry& entry, store::PostingPage&& page) {
    for (store::PostingHit& hit : page.hits) entry.hits.push_back({hit.cursor, Add(std::move(hit.object))});
    entry.more = page.more;
  }

  store::Store& store_;
  const Warninglists* lists_;
  const correlate::Visible visible_;
  std::vector<store::StoredObject> objects_;
  std::vector<uint64_t> id_hashes_;  // IdHash of each object's id
  absl::flat_hash_map<int64_t, ObjectIndex> by_seq_;
  std::vector<int8_t> visibility_;  // per object: -1 not asked yet, 0 hidden, 1 visible
  // Entries are referred to by address while others are added: held by pointer.
  absl::flat_hash_map<ValueKey, std::unique_ptr<Entry>, ValueKeyHash, ValueKeyEq> entries_;
  Entry* last_entry_ = nullptr;  // the entry EntryOf found last (entries are never removed), for its key:
  Kind last_kind_ = Kind::kDomain;
  std::string last_value_;
  std::map<std::tuple<uint8_t, std::array<uint8_t, 16>, std::array<uint8_t, 16>>, Range> ranges_;
  std::vector<RangeRef> direct_;  // the last range chunk read past the cache
  std::optional<std::vector<int>> lengths4_, lengths6_;
};

// ---- The algorithms, over a Source.

struct RefPage {
  std::vector<ObjectIndex> objects;
  int64_t next_after = 0;
  bool more = false;
};

// One page of the visible objects having (kind, value), skipping `exclude_id`.
absl::StatusOr<RefPage> VisiblePage(Source& source, Kind kind, std::string_view value, int64_t after, size_t limit,
                                    std::string_view exclude_id) {
  limit = std::clamp<size_t>(limit, 1, kMaxPage);
  const size_t budget = ScanBudget(limit);
  RefPage page;
  page.next_after = after;
  // Chunks a little larger than the page: most callers see most objects.
  const size_t chunk_limit = std::min<size_t>(limit + limit / 4 + 8, 10'000);
  size_t scanned = 0;
  std::vector<HitRef> chunk;
  int64_t position = after;
  const uint64_t exclude_hash = Source::IdHash(exclude_id);
  while (true) {
    bool more = false;
    CONCORD_RETURN_IF_ERROR(source.Find(kind, value, position, chunk_limit, chunk, more));
    if (chunk.empty()) return page;
    for (const HitRef& hit : chunk) {
      ++scanned;
      position = hit.cursor;
      if (source.IsId(hit.object, exclude_id, exclude_hash) || !source.IsVisible(hit.object)) {
        if (scanned >= budget) {
          // Cut short: resume after what was scanned. Reveals only that something was hidden here.
          page.next_after = hit.cursor;
          page.more = true;
          return page;
        }
        continue;
      }
      if (page.objects.size() == limit) {  // a visible object beyond the page: another page follows
        page.more = true;
        return page;
      }
      page.objects.push_back(hit.object);
      page.next_after = hit.cursor;
    }
    if (!more) return page;
  }
}

// CIDR postings containing an address or a prefix (only shorter prefixes then), most specific first.
absl::Status Containing(Source& source, Kind kind, std::string_view value, size_t limit, bool skip_listed,
                        std::string_view exclude_id, std::vector<BatchAddressHit>& out, bool& more) {
  if (limit == 0) return absl::OkStatus();
  CONCORD_ASSIGN_OR_RETURN(const std::vector<Prefix>* prefixes, source.ContainingPrefixes(kind, value));
  for (const Prefix& prefix : *prefixes) {
    const std::vector<std::string>& lists = source.ListsOf(prefix.kind, prefix.value);
    if (skip_listed && !lists.empty()) continue;
    if (out.size() >= limit) {
      // Is there anything visible left to report? One object tells.
      CONCORD_ASSIGN_OR_RETURN(RefPage probe, VisiblePage(source, prefix.kind, prefix.value, 0, 1, exclude_id));
      if (!probe.objects.empty()) {
        more = true;
        return absl::OkStatus();
      }
      continue;
    }
    CONCORD_ASSIGN_OR_RETURN(RefPage page,
                             VisiblePage(source, prefix.kind, prefix.value, 0, limit - out.size(), exclude_id));
    for (ObjectIndex object : page.objects) out.push_back(BatchAddressHit{prefix.kind, prefix.value, lists, object});
    if (page.more) more = true;
  }
  return absl::OkStatus();
}

// The range of IP postings inside a prefix value.
absl::StatusOr<store::IpRangeQuery> RangeOf(Kind kind, std::string_view value) {
  const auto network = AddressOf(kind, value);
  const auto length = PrefixLengthOf(kind, value);
  if (!network || !length) return absl::InternalError(fmt::format("{} {} is not a prefix", ValueKindName(kind), value));
  store::IpRangeQuery query;
  query.kind = static_cast<uint8_t>(IsV4(kind) ? Kind::kIpv4 : Kind::kIpv6);
  query.low = Masked(*network, PrefixBits(kind, *length), false);
  query.high = Masked(*network, PrefixBits(kind, *length), true);
  return query;
}

// IP postings inside a prefix, by address.
absl::Status Contained(Source& source, Kind kind, std::string_view value, const std::optional<AddressCursor>& after,
                       size_t limit, bool skip_listed, std::string_view exclude_id, std::vector<BatchAddressHit>& out,
                       std::optional<AddressCursor>& next_after, bool& more) {
  next_after = after;
  if (limit == 0) return absl::OkStatus();
  const Kind ip_kind = IsV4(kind) ? Kind::kIpv4 : Kind::kIpv6;
  CONCORD_ASSIGN_OR_RETURN(store::IpRangeQuery query, RangeOf(kind, value));
  query.after = after;
  query.limit = std::min<size_t>(limit + limit / 4 + 8, 10'000);
  const size_t budget = ScanBudget(limit);
  const size_t first = out.size();
  size_t scanned = 0;
  std::vector<const RangeRef*> chunk;
  while (true) {
    bool chunk_more = false;
    CONCORD_RETURN_IF_ERROR(source.InRange(query, chunk, chunk_more));
    if (chunk.empty()) return absl::OkStatus();
    for (const RangeRef* posting : chunk) {
      ++scanned;
      query.after = posting->position;
      const std::vector<std::string>& lists = source.ListsOf(ip_kind, posting->value);
      const bool skip = (skip_listed && !lists.empty()) || source.object(posting->object).id == exclude_id ||
                        !source.IsVisible(posting->object);
      if (skip) {
        if (scanned >= budget) {
          next_after = posting->position;
          more = true;
          return absl::OkStatus();
        }
        continue;
      }
      if (out.size() - first == limit) {
        more = true;
        return absl::OkStatus();
      }
      out.push_back(BatchAddressHit{ip_kind, posting->value, lists, posting->object});
      next_after = posting->position;
    }
    if (!chunk_more) return absl::OkStatus();
  }
}

// What correlates with one posting of object `id` (CorrelationsOf's rules).
absl::Status CorrelateValue(Source& source, Kind kind, std::string_view value, std::string_view id,
                            const CorrelationOptions& options, BatchValue& out) {
  const int64_t threshold = std::max<int64_t>(options.max_correlations, 0);
  const size_t related = std::min(options.max_related, kMaxPage);
  out.kind = kind;
  out.value = std::string(value);
  out.warninglists = source.ListsOf(kind, value);
  CONCORD_ASSIGN_OR_RETURN(int64_t count, source.Count(kind, value, threshold + 1));
  out.over_correlating = count > threshold;
  if (!out.warninglists.empty()) return absl::OkStatus();  // does not correlate
  CONCORD_ASSIGN_OR_RETURN(RefPage page, VisiblePage(source, kind, value, 0, options.per_value, id));
  out.objects = std::move(page.objects);
  out.next_after = page.next_after;
  out.more = page.more;
  if (IsIp(kind) || IsCidr(kind)) {
    CONCORD_RETURN_IF_ERROR(Containing(source, kind, value, related, /*skip_listed=*/true, id, out.containing,
                                       out.related_more));
  }
  if (IsCidr(kind)) {
    std::optional<AddressCursor> ignored;
    CONCORD_RETURN_IF_ERROR(Contained(source, kind, value, std::nullopt, related, /*skip_listed=*/true, id,
                                      out.contained, ignored, out.related_more));
  }
  return absl::OkStatus();
}

std::vector<store::StoredObject> ObjectsOf(const Source& source, const std::vector<ObjectIndex>& indices) {
  std::vector<store::StoredObject> out;
  out.reserve(indices.size());
  for (ObjectIndex i : indices) out.push_back(source.object(i));
  return out;
}

std::vector<AddressHit> HitsOf(const std::vector<BatchAddressHit>& hits,
                               const std::function<const store::StoredObject&(ObjectIndex)>& object) {
  std::vector<AddressHit> out;
  out.reserve(hits.size());
  for (const BatchAddressHit& hit : hits) out.push_back(AddressHit{hit.kind, hit.value, hit.warninglists, object(hit.object)});
  return out;
}

CorrelatedValue Expanded(const BatchValue& value, const std::function<const store::StoredObject&(ObjectIndex)>& object) {
  CorrelatedValue out;
  out.kind = value.kind;
  out.value = value.value;
  out.warninglists = value.warninglists;
  out.over_correlating = value.over_correlating;
  out.objects.objects.reserve(value.objects.size());
  for (ObjectIndex i : value.objects) out.objects.objects.push_back(object(i));
  out.objects.next_after = value.next_after;
  out.objects.more = value.more;
  out.containing = HitsOf(value.containing, object);
  out.contained = HitsOf(value.contained, object);
  out.related_more = value.related_more;
  return out;
}

}  // namespace

std::vector<CorrelatedValue> BatchCorrelations::Expand(size_t item) const {
  std::vector<CorrelatedValue> out;
  if (item >= items.size()) return out;
  const auto object = [this](ObjectIndex i) -> const store::StoredObject& { return objects[i]; };
  out.reserve(items[item].size());
  for (const BatchValue& value : items[item]) out.push_back(Expanded(value, object));
  return out;
}

// ---- Sightings of the indicators a search finds (Search, AddSightings).

namespace {

constexpr size_t kMaxSightingsListed = 100;    // SearchOptions::sightings_per_indicator at most
constexpr size_t kMaxSightedIndicators = 100;  // SearchOptions::max_sighted_indicators at most
constexpr size_t kMaxSightingsCounted = 1000;  // IndicatorSightings::total at most (VisiblePage's bound)

struct SightedCandidate {
  const store::StoredObject* indicator;
  SightedVia via;
};

// What a sighting states (count, first_seen, last_seen, where_sighted_refs), from its stored JSON.
absl::Status ReadSighting(store::StoredObject&& stored, Sighting& out) {
  auto parsed = ParseJson(stored.json);
  if (!parsed.ok() || !parsed->is_object()) {
    return absl::DataLossError(fmt::format("{}: stored JSON does not parse", stored.id));
  }
  const boost::json::object& json = parsed->get_object();
  if (const boost::json::value* count = json.if_contains("count")) {
    if (count->is_int64()) out.count = count->get_int64();
    if (count->is_uint64()) {
      out.count = static_cast<int64_t>(std::min<uint64_t>(count->get_uint64(), std::numeric_limits<int64_t>::max()));
    }
  }
  const auto text = [&json](std::string_view key) -> std::string {
    const boost::json::value* v = json.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  out.first_seen = text("first_seen");
  out.last_seen = text("last_seen");
  if (const boost::json::value* refs = json.if_contains("where_sighted_refs"); refs != nullptr && refs->is_array()) {
    for (const boost::json::value& ref : refs->get_array()) {
      if (ref.is_string()) out.where_sighted_refs.emplace_back(ref.get_string());
    }
  }
  stored.json.clear();
  out.object = std::move(stored);
  return absl::OkStatus();
}

// Looks up the sightings of `candidates` (indicators, each once, none looked at before) into `result`, within
// the bounds of `options`: one Store::LookupPostings for all of them, a page per indicator that has any, and
// one Store::List for the JSON of every sighting listed.
absl::Status LookUpSightings(store::Store& store, const std::vector<SightedCandidate>& candidates,
                             const SearchOptions& options, Visible visible, SearchResult& result) {
  const size_t per_indicator = std::min(options.sightings_per_indicator, kMaxSightingsListed);
  const size_t max_indicators = std::min(options.max_sighted_indicators, kMaxSightedIndicators);
  if (per_indicator == 0 || candidates.empty()) return absl::OkStatus();
  const size_t room = max_indicators > result.sighted_indicators ? max_indicators - result.sighted_indicators : 0;
  if (candidates.size() > room) result.sightings_more = true;
  const size_t n = std::min(candidates.size(), room);
  if (n == 0) return absl::OkStatus();
  result.sighted_indicators += n;
  // Revoked sightings are withdrawn claims: left out of lists and totals alike.
  const auto shown = [visible](const store::StoredObject& o) { return !o.revoked && visible(o); };
  Source source(store, nullptr, shown);
  const auto kind = static_cast<Kind>(kSightingOfPosting);
  std::vector<ValueKey> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) keys.push_back({kind, candidates[i].indicator->id});
  // Most indicators have no sightings: one call answers them all.
  CONCORD_RETURN_IF_ERROR(source.Prefetch(keys, 1, per_indicator + 2));
  const size_t first_entry = result.sightings.size();
  std::vector<std::string> listed;  // the sightings whose JSON is read
  for (size_t i = 0; i < n; ++i) {
    const SightedCandidate& candidate = candidates[i];
    CONCORD_ASSIGN_OR_RETURN(RefPage page,
                             VisiblePage(source, kind, candidate.indicator->id, 0, kMaxSightingsCounted, {}));
    if (page.objects.empty()) continue;
    IndicatorSightings& entry = result.sightings.emplace_back();
    entry.indicator = *candidate.indicator;
    entry.via = candidate.via;
    entry.total = static_cast<int64_t>(page.objects.size());
    entry.total_more = page.more;
    for (size_t k = 0; k < page.objects.size() && k < per_indicator; ++k) {
      entry.sightings.emplace_back().object = source.object(page.objects[k]);
      listed.push_back(entry.sightings.back().object.id);
    }
  }
  if (listed.empty()) return absl::OkStatus();
  // The listed sightings' JSON in one read (at most 100 indicators × 100 sightings = the 10,000 a page holds).
  store::Query query;
  query.ids = listed;
  query.limit = listed.size();
  CONCORD_ASSIGN_OR_RETURN(store::Page page, store.List(query));
  absl::flat_hash_map<std::string, store::StoredObject> by_id;
  for (store::StoredObject& o : page.objects) {
    std::string id = o.id;
    by_id.emplace(std::move(id), std::move(o));
  }
  // A sighting stored anew between the two reads is shown as it is now; one revoked or hidden meanwhile is
  // left out and no longer counted.
  for (size_t e = first_entry; e < result.sightings.size(); ++e) {
    IndicatorSightings& entry = result.sightings[e];
    std::vector<Sighting> kept;
    kept.reserve(entry.sightings.size());
    for (Sighting& sighting : entry.sightings) {
      auto it = by_id.find(sighting.object.id);
      if (it == by_id.end() || !shown(it->second)) {
        --entry.total;
        continue;
      }
      CONCORD_RETURN_IF_ERROR(ReadSighting(std::move(it->second), kept.emplace_back()));
    }
    entry.sightings = std::move(kept);
  }
  std::erase_if(result.sightings, [](const IndicatorSightings& entry) { return entry.total <= 0; });
  return absl::OkStatus();
}

}  // namespace

std::string_view SightedViaName(SightedVia via) {
  switch (via) {
    case SightedVia::kValue:
      return "value";
    case SightedVia::kContaining:
      return "containing";
    case SightedVia::kContained:
      return "contained";
    case SightedVia::kDetection:
      return "detection";
  }
  return "value";
}

absl::Status Correlator::AddSightings(SearchResult& result, std::span<const std::string> indicator_ids,
                                      const SearchOptions& options, Visible visible) const {
  if (options.sightings_per_indicator == 0) return absl::OkStatus();
  absl::flat_hash_set<std::string_view> known;
  for (const store::StoredObject& o : result.objects.objects) known.insert(o.id);
  for (const AddressHit& h : result.containing) known.insert(h.object.id);
  for (const AddressHit& h : result.contained) known.insert(h.object.id);
  for (const IndicatorSightings& s : result.sightings) known.insert(s.indicator.id);
  std::vector<store::StoredObject> indicators;
  indicators.reserve(indicator_ids.size());  // `known` holds views of their ids: never reallocated
  for (const std::string& id : indicator_ids) {
    if (known.contains(id)) continue;
    auto got = store_.Get(id);
    if (!got.ok()) {
      if (absl::IsNotFound(got.status())) continue;
      return got.status();
    }
    if (got->type != "indicator" || !visible(*got)) continue;
    got->json.clear();
    indicators.push_back(*std::move(got));
    known.insert(indicators.back().id);  // an id given twice is looked at once
  }
  std::vector<SightedCandidate> candidates;
  candidates.reserve(indicators.size());
  for (const store::StoredObject& o : indicators) candidates.push_back({&o, SightedVia::kDetection});
  return LookUpSightings(store_, candidates, options, visible, result);
}

absl::StatusOr<SearchResult> Correlator::Search(std::string_view raw_value, const SearchOptions& options,
                                                Visible visible) const {
  CONCORD_ASSIGN_OR_RETURN(Normalized normalized,
                           options.kind ? NormalizeAs(*options.kind, raw_value) : NormalizeAny(raw_value));
  // A host prefix is its address, as the extractor stores it: "10.0.0.1/32" finds what "10.0.0.1" finds.
  if (IsCidr(normalized.kind) && PrefixLengthOf(normalized.kind, normalized.value) == (IsV4(normalized.kind) ? 32 : 128)) {
    normalized.kind = IsV4(normalized.kind) ? Kind::kIpv4 : Kind::kIpv6;
    normalized.value.erase(normalized.value.find('/'));
  }
  Source source(store_, warninglists_, visible);
  SearchResult result;
  result.kind = normalized.kind;
  result.value = std::move(normalized.value);
  result.warninglists = source.ListsOf(result.kind, result.value);
  const int64_t threshold = std::max<int64_t>(options.max_correlations, 0);
  CONCORD_ASSIGN_OR_RETURN(int64_t count, source.Count(result.kind, result.value, threshold + 1));
  result.over_correlating = count > threshold;
  CONCORD_ASSIGN_OR_RETURN(RefPage page, VisiblePage(source, result.kind, result.value, options.after, options.limit, {}));
  result.objects.objects = ObjectsOf(source, page.objects);
  result.objects.next_after = page.next_after;
  result.objects.more = page.more;
  const size_t related = std::min(options.max_related, kMaxPage);
  const auto object = [&source](ObjectIndex i) -> const store::StoredObject& { return source.object(i); };
  if (IsIp(result.kind) || IsCidr(result.kind)) {
    std::vector<BatchAddressHit> containing;
    CONCORD_RETURN_IF_ERROR(Containing(source, result.kind, result.value, related, /*skip_listed=*/false, {},
                                       containing, result.containing_more));
    result.containing = HitsOf(containing, object);
  }
  if (IsCidr(result.kind)) {
    std::vector<BatchAddressHit> contained;
    CONCORD_RETURN_IF_ERROR(Contained(source, result.kind, result.value, options.contained_after, related,
                                      /*skip_listed=*/false, {}, contained, result.contained_next_after,
                                      result.contained_more));
    result.contained = HitsOf(contained, object);
  }
  if (options.sightings_per_indicator > 0) {
    std::vector<SightedCandidate> candidates;
    absl::flat_hash_set<std::string_view> seen;
    const auto consider = [&](const store::StoredObject& o, SightedVia via) {
      if (o.type == "indicator" && seen.insert(o.id).second) candidates.push_back({&o, via});
    };
    for (const store::StoredObject& o : result.objects.objects) consider(o, SightedVia::kValue);
    for (const AddressHit& h : result.containing) consider(h.object, SightedVia::kContaining);
    for (const AddressHit& h : result.contained) consider(h.object, SightedVia::kContained);
    CONCORD_RETURN_IF_ERROR(LookUpSightings(store_, candidates, options, visible, result));
  }
  return result;
}

absl::StatusOr<std::vector<CorrelatedValue>> Correlator::CorrelationsOf(std::string_view id,
                                                                        const CorrelationOptions& options,
                                                                        Visible visible) const {
  auto self = store_.Get(id);
  if (!self.ok() || !visible(*self)) {
    if (self.ok() || self.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(fmt::format("object {} not found", id));
    }
    return self.status();
  }
  CONCORD_ASSIGN_OR_RETURN(std::vector<store::Posting> postings, store_.PostingsOf(id));
  Source source(store_, warninglists_, visible);
  const auto object = [&source](ObjectIndex i) -> const store::StoredObject& { return source.object(i); };
  std::vector<CorrelatedValue> out;
  out.reserve(postings.size());
  for (const store::Posting& posting : postings) {
    if (IsReferencePosting(posting.kind)) continue;  // a reference, not a value: never correlates (postings.h)
    BatchValue value;
    CONCORD_RETURN_IF_ERROR(CorrelateValue(source, static_cast<Kind>(posting.kind), posting.value, id, options, value));
    out.push_back(Expanded(value, object));
  }
  return out;
}

absl::StatusOr<BatchCorrelations> Correlator::CorrelateBatch(std::span<const BatchItem> items,
                                                             const CorrelationOptions& options, Visible visible) const {
  Source source(store_, warninglists_, visible);
  const int64_t threshold = std::max<int64_t>(options.max_correlations, 0);
  const size_t per_value = std::clamp<size_t>(options.per_value, 1, kMaxPage);
  const size_t related = std::min(options.max_related, kMaxPage);
  // Enough of each listing to decide a page when the caller sees every object: the page, the item itself
  // and one more to tell whether another page follows. Fewer visible objects read more, once per value.
  const size_t first = std::max(per_value, related) + 2;

  // The distinct values of the batch, and the prefixes their addresses may lie in, each looked up once.
  std::vector<ValueKey> values;
  std::vector<ValueKey> prefixes;
  {
    absl::flat_hash_map<ValueKey, bool, ValueKeyHash, ValueKeyEq> seen;  // value → is an exact value
    for (const BatchItem& item : items) {
      for (const store::Posting& posting : item.postings) {
        if (IsReferencePosting(posting.kind)) continue;  // never correlates (postings.h)
        const auto kind = static_cast<Kind>(posting.kind);
        if (auto it = seen.find(ValueKeyView(kind, posting.value)); it == seen.end()) {
          seen.emplace(ValueKey{kind, posting.value}, true);
        } else if (it->second) {
          continue;
        } else {
          it->second = true;  // seen as a prefix before: now an exact value too (it leaves `prefixes` below)
        }
        values.push_back({kind, posting.value});
        if (!source.ListsOf(kind, posting.value).empty() || !(IsIp(kind) || IsCidr(kind))) continue;
        if (related == 0) continue;
        CONCORD_ASSIGN_OR_RETURN(const std::vector<Prefix>* candidates, source.ContainingPrefixes(kind, posting.value));
        for (const Prefix& prefix : *candidates) {
          if (!source.ListsOf(prefix.kind, prefix.value).empty()) continue;  // skipped, never read
          if (!seen.contains(ValueKeyView(prefix.kind, prefix.value))) {
            seen.emplace(ValueKey{prefix.kind, prefix.value}, false);
            prefixes.push_back({prefix.kind, prefix.value});
          }
        }
      }
    }
    // Exact values need the over-correlation count; prefixes only their first objects.
    std::erase_if(prefixes, [&](const ValueKey& key) { return seen.find(key)->second; });
  }
  CONCORD_RETURN_IF_ERROR(source.Prefetch(values, threshold + 1, first));
  CONCORD_RETURN_IF_ERROR(source.Prefetch(prefixes, 1, first));

  BatchCorrelations out;
  out.items.resize(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    std::vector<BatchValue>& answer = out.items[i];
    answer.reserve(items[i].postings.size());
    for (const store::Posting& posting : items[i].postings) {
      if (IsReferencePosting(posting.kind)) continue;  // as CorrelationsOf: references never correlate
      CONCORD_RETURN_IF_ERROR(CorrelateValue(source, static_cast<Kind>(posting.kind), posting.value, items[i].id,
                                             options, answer.emplace_back()));
    }
  }

  // Keep only the objects listed (the cache also holds hidden ones and ones no page reached).
  std::vector<bool> keep(source.object_count(), false);
  for (const auto& answer : out.items) {
    for (const BatchValue& value : answer) {
      for (ObjectIndex o : value.objects) keep[o] = true;
      for (const BatchAddressHit& hit : value.containing) keep[hit.object] = true;
      for (const BatchAddressHit& hit : value.contained) keep[hit.object] = true;
    }
  }
  std::vector<ObjectIndex> remap;
  out.objects = source.TakeObjects(keep, remap);
  for (auto& answer : out.items) {
    for (BatchValue& value : answer) {
      for (ObjectIndex& o : value.objects) o = remap[o];
      for (BatchAddressHit& hit : value.containing) hit.object = remap[hit.object];
      for (BatchAddressHit& hit : value.contained) hit.object = remap[hit.object];
    }
  }
  return out;
}

}  // namespace concord::correlate
