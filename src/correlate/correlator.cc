#include "correlate/correlator.h"

#include <algorithm>
#include <map>

#include "common/status.h"
#include "correlate/postings.h"
#include "fmt/format.h"

namespace concord::correlate {
namespace {

constexpr size_t kMaxPage = 1000;
constexpr size_t kMinScanBudget = 10'000;

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

}  // namespace

std::vector<std::string> Correlator::ListsOf(Kind kind, std::string_view value) const {
  if (warninglists_ == nullptr) return {};
  return warninglists_->Match(kind, value);
}

absl::StatusOr<ObjectPage> Correlator::VisiblePage(Kind kind, std::string_view value, int64_t after, size_t limit,
                                                   std::string_view exclude_id, Visible visible) const {
  limit = std::clamp<size_t>(limit, 1, kMaxPage);
  const size_t budget = ScanBudget(limit);
  ObjectPage page;
  page.next_after = after;
  store::PostingQuery query;
  query.kind = static_cast<uint8_t>(kind);
  query.value = std::string(value);
  query.after = after;
  // Chunks a little larger than the page: most callers see most objects.
  query.limit = std::min<size_t>(limit + limit / 4 + 8, 10'000);
  size_t scanned = 0;
  while (true) {
    CONCORD_ASSIGN_OR_RETURN(store::PostingPage chunk, store_.FindPostings(query));
    for (store::PostingHit& hit : chunk.hits) {
      ++scanned;
      query.after = hit.cursor;
      if (hit.object.id == exclude_id || !visible(hit.object)) {
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
      page.objects.push_back(std::move(hit.object));
      page.next_after = hit.cursor;
    }
    if (!chunk.more) return page;
  }
}

absl::Status Correlator::Containing(Kind kind, std::string_view value, size_t limit, bool skip_listed,
                                    std::string_view exclude_id, Visible visible, std::vector<AddressHit>& out,
                                    bool& more) const {
  if (limit == 0) return absl::OkStatus();
  const Kind cidr_kind = IsV4(kind) ? Kind::kCidr4 : Kind::kCidr6;
  const auto address = AddressOf(kind, value);
  if (!address) return absl::InternalError(fmt::format("{} {} has no address", ValueKindName(kind), value));
  const int own_length = IsCidr(kind) ? PrefixLengthOf(kind, value).value_or(0) : (IsV4(kind) ? 32 : 128);
  CONCORD_ASSIGN_OR_RETURN(std::vector<int> lengths, store_.PrefixLengths(static_cast<uint8_t>(cidr_kind)));
  std::sort(lengths.rbegin(), lengths.rend());  // most specific first
  for (int length : lengths) {
    // An address is inside a prefix of its own length only as that prefix itself (a /32 is its address);
    // a CIDR does not contain itself.
    if (length > own_length || (IsCidr(kind) && length == own_length)) continue;
    const std::string prefix =
        fmt::format("{}/{}", FormatAddress(cidr_kind, Masked(*address, PrefixBits(cidr_kind, length), false)), length);
    std::vector<std::string> lists = ListsOf(cidr_kind, prefix);
    if (skip_listed && !lists.empty()) continue;
    if (out.size() >= limit) {
      // Is there anything visible left to report? One object tells.
      CONCORD_ASSIGN_OR_RETURN(ObjectPage probe, VisiblePage(cidr_kind, prefix, 0, 1, exclude_id, visible));
      if (!probe.objects.empty()) {
        more = true;
        return absl::OkStatus();
      }
      continue;
    }
    CONCORD_ASSIGN_OR_RETURN(ObjectPage page,
                             VisiblePage(cidr_kind, prefix, 0, limit - out.size(), exclude_id, visible));
    for (store::StoredObject& object : page.objects) {
      out.push_back(AddressHit{cidr_kind, prefix, lists, std::move(object)});
    }
    if (page.more) more = true;
  }
  return absl::OkStatus();
}

absl::Status Correlator::Contained(Kind kind, std::string_view value, const std::optional<AddressCursor>& after,
                                   size_t limit, bool skip_listed, std::string_view exclude_id, Visible visible,
                                   std::vector<AddressHit>& out, std::optional<AddressCursor>& next_after,
                                   bool& more) const {
  next_after = after;
  if (limit == 0) return absl::OkStatus();
  const Kind ip_kind = IsV4(kind) ? Kind::kIpv4 : Kind::kIpv6;
  const auto network = AddressOf(kind, value);
  const auto length = PrefixLengthOf(kind, value);
  if (!network || !length) return absl::InternalError(fmt::format("{} {} is not a prefix", ValueKindName(kind), value));
  store::IpRangeQuery query;
  query.kind = static_cast<uint8_t>(ip_kind);
  query.low = Masked(*network, PrefixBits(kind, *length), false);
  query.high = Masked(*network, PrefixBits(kind, *length), true);
  query.after = after;
  query.limit = std::min<size_t>(limit + limit / 4 + 8, 10'000);
  const size_t budget = ScanBudget(limit);
  const size_t first = out.size();
  std::map<std::string, std::vector<std::string>, std::less<>> lists_of;  // one warninglist lookup per value
  size_t scanned = 0;
  while (true) {
    CONCORD_ASSIGN_OR_RETURN(store::IpRangePage chunk, store_.IpPostingsInRange(query));
    for (store::IpPosting& posting : chunk.postings) {
      ++scanned;
      const AddressCursor here{posting.address, posting.hit.cursor};
      query.after = here;
      auto it = lists_of.find(posting.value);
      if (it == lists_of.end()) it = lists_of.emplace(posting.value, ListsOf(ip_kind, posting.value)).first;
      const bool skip = (skip_listed && !it->second.empty()) || posting.hit.object.id == exclude_id ||
                        !visible(posting.hit.object);
      if (skip) {
        if (scanned >= budget) {
          next_after = here;
          more = true;
          return absl::OkStatus();
        }
        continue;
      }
      if (out.size() - first == limit) {
        more = true;
        return absl::OkStatus();
      }
      out.push_back(AddressHit{ip_kind, std::move(posting.value), it->second, std::move(posting.hit.object)});
      next_after = here;
    }
    if (!chunk.more) return absl::OkStatus();
  }
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
  SearchResult result;
  result.kind = normalized.kind;
  result.value = std::move(normalized.value);
  result.warninglists = ListsOf(result.kind, result.value);
  const auto kind_number = static_cast<uint8_t>(result.kind);
  const int64_t threshold = std::max<int64_t>(options.max_correlations, 0);
  CONCORD_ASSIGN_OR_RETURN(int64_t count, store_.CountPostings(kind_number, result.value, threshold + 1));
  result.over_correlating = count > threshold;
  CONCORD_ASSIGN_OR_RETURN(result.objects,
                           VisiblePage(result.kind, result.value, options.after, options.limit, {}, visible));
  const size_t related = std::min(options.max_related, kMaxPage);
  if (IsIp(result.kind) || IsCidr(result.kind)) {
    CONCORD_RETURN_IF_ERROR(Containing(result.kind, result.value, related, /*skip_listed=*/false, {}, visible,
                                       result.containing, result.containing_more));
  }
  if (IsCidr(result.kind)) {
    CONCORD_RETURN_IF_ERROR(Contained(result.kind, result.value, options.contained_after, related,
                                      /*skip_listed=*/false, {}, visible, result.contained,
                                      result.contained_next_after, result.contained_more));
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
  const int64_t threshold = std::max<int64_t>(options.max_correlations, 0);
  const size_t related = std::min(options.max_related, kMaxPage);
  std::vector<CorrelatedValue> out;
  out.reserve(postings.size());
  for (store::Posting& posting : postings) {
    CorrelatedValue& value = out.emplace_back();
    value.kind = static_cast<Kind>(posting.kind);
    value.value = std::move(posting.value);
    value.warninglists = ListsOf(value.kind, value.value);
    CONCORD_ASSIGN_OR_RETURN(int64_t count, store_.CountPostings(posting.kind, value.value, threshold + 1));
    value.over_correlating = count > threshold;
    if (!value.warninglists.empty()) continue;  // does not correlate
    CONCORD_ASSIGN_OR_RETURN(value.objects, VisiblePage(value.kind, value.value, 0, options.per_value, id, visible));
    if (IsIp(value.kind) || IsCidr(value.kind)) {
      CONCORD_RETURN_IF_ERROR(Containing(value.kind, value.value, related, /*skip_listed=*/true, id, visible,
                                         value.containing, value.related_more));
    }
    if (IsCidr(value.kind)) {
      std::optional<AddressCursor> ignored;
      CONCORD_RETURN_IF_ERROR(Contained(value.kind, value.value, std::nullopt, related, /*skip_listed=*/true, id,
                                        visible, value.contained, ignored, value.related_more));
    }
  }
  return out;
}

}  // namespace concord::correlate
