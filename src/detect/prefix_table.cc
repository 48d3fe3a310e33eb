#include "detect/prefix_table.h"

#include <arpa/inet.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace concord::detect {
namespace {

constexpr size_t kTbl24Entries = size_t{1} << 24;
constexpr size_t kHugePage = size_t{2} << 20;

__extension__ using U128 = unsigned __int128;

U128 ToU128(Ipv6Address a) { return (U128{a.hi} << 64) | a.lo; }
Ipv6Address FromU128(U128 v) { return {static_cast<uint64_t>(v >> 64), static_cast<uint64_t>(v)}; }

// Mask of the host bits of a prefix of `length` (0..128).
U128 HostMask6(int length) { return length == 0 ? ~U128{0} : length == 128 ? U128{0} : (~U128{0} >> length); }
uint32_t HostMask4(int length) { return length == 0 ? 0xffffffffu : length == 32 ? 0u : (0xffffffffu >> length); }

absl::StatusOr<std::pair<std::string_view, int>> SplitLength(std::string_view text, int max) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::pair{text, max};
  int length = 0;
  const std::string_view digits = text.substr(slash + 1);
  const bool all_digits = std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits.empty() || digits.size() > 3 || !all_digits || !absl::SimpleAtoi(AbslSv(digits), &length) || length < 0 ||
      length > max) {
    return absl::InvalidArgumentError(absl::StrCat("prefix length must be 0..", max, ": ", AbslSv(text)));
  }
  return std::pair{text.substr(0, slash), length};
}

}  // namespace

absl::StatusOr<uint32_t> ParseIpv4(std::string_view text) {
  const std::string s(text);
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return absl::InvalidArgumentError("not an IPv4 address: " + s);
  return ntohl(a.s_addr);
}

absl::StatusOr<Ipv6Address> ParseIpv6(std::string_view text) {
  const std::string s(text);
  in6_addr a{};
  if (inet_pton(AF_INET6, s.c_str(), &a) != 1) return absl::InvalidArgumentError("not an IPv6 address: " + s);
  Ipv6Address out;
  for (int i = 0; i < 8; ++i) out.hi = (out.hi << 8) | a.s6_addr[i];
  for (int i = 8; i < 16; ++i) out.lo = (out.lo << 8) | a.s6_addr[i];
  return out;
}

absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(std::string_view text, uint32_t id) {
  CONCORD_ASSIGN_OR_RETURN(auto parts, SplitLength(text, 32));
  CONCORD_ASSIGN_OR_RETURN(uint32_t address, ParseIpv4(parts.first));
  if ((address & HostMask4(parts.second)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("host bits set in prefix: ", AbslSv(text)));
  }
  return Ipv4Prefix{address, static_cast<uint8_t>(parts.second), id};
}

absl::StatusOr<Ipv6Prefix> ParseIpv6Prefix(std::string_view text, uint32_t id) {
  CONCORD_ASSIGN_OR_RETURN(auto parts, SplitLength(text, 128));
  CONCORD_ASSIGN_OR_RETURN(Ipv6Address address, ParseIpv6(parts.first));
  if ((ToU128(address) & HostMask6(parts.second)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("host bits set in prefix: ", AbslSv(text)));
  }
  return Ipv6Prefix{address, static_cast<uint8_t>(parts.second), id};
}

// ---------------------------------------------------------------------------------------------- IPv4

void Ipv4PrefixTable::FreeDeleter::operator()(uint32_t* p) const { std::free(p); }

absl::StatusOr<Ipv4PrefixTable> Ipv4PrefixTable::Build(std::span<const Ipv4Prefix> prefixes) {
  for (size_t i = 0; i < prefixes.size(); ++i) {
    const Ipv4Prefix& p = prefixes[i];
    if (p.length > 32) return absl::InvalidArgumentError(absl::StrCat("prefix ", i, ": length above 32"));
    if ((p.address & HostMask4(p.length)) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("prefix ", i, ": host bits set"));
    }
    if (p.id > kMaxId) return absl::InvalidArgumentError(absl::StrCat("prefix ", i, ": id above ", kMaxId));
  }
  // Shorter prefixes are written first so that longer ones overwrite them; among equal prefixes the
  // lowest id is written last and wins.
  std::vector<Ipv4Prefix> sorted(prefixes.begin(), prefixes.end());
  std::sort(sorted.begin(), sorted.end(), [](const Ipv4Prefix& a, const Ipv4Prefix& b) {
    if (a.length != b.length) return a.length < b.length;
    return a.id > b.id;
  });

  Ipv4PrefixTable t;
  // No prefixes, no table: a snapshot with only host or domain indicators does not pay 64 MiB.
  if (sorted.empty()) return t;
  constexpr size_t kBytes = kTbl24Entries * sizeof(uint32_t);  // a multiple of kHugePage
  auto* raw = static_cast<uint32_t*>(std::aligned_alloc(kHugePage, kBytes));
  CONCORD_CHECK(raw != nullptr, "64 MiB for the DIR-24-8 first level can be allocated");
#ifdef MADV_HUGEPAGE
  // Random lookups over 64 MiB miss the TLB on every 4 KiB page; 2 MiB pages keep the walk short.
  // Advice only: without transparent huge pages the table still works.
  (void)madvise(raw, kBytes, MADV_HUGEPAGE);
#endif
  std::memset(raw, 0, kBytes);
  t.tbl24_.reset(raw);
  t.prefix_count_ = sorted.size();

  for (const Ipv4Prefix& p : sorted) {
    const uint32_t value = p.id + 1;
    if (p.length <= 24) {
      const size_t first = p.address >> 8;
      const size_t count = size_t{1} << (24 - p.length);
      std::fill_n(raw + first, count, value);
      continue;
    }
    // Longer than /24: every shorter prefix is already written, so the first-level entry holds the
    // answer for the rest of this /24, which the new block inherits.
    uint32_t& entry = raw[p.address >> 8];
    if (!(entry & kBlockFlag)) {
      const size_t block = t.tbl8_.size() / 256;
      CONCORD_CHECK(block < kBlockFlag, "fewer than 2^31 second-level blocks");
      t.tbl8_.resize(t.tbl8_.size() + 256, entry);
      entry = kBlockFlag | static_cast<uint32_t>(block);
    }
    const size_t base = static_cast<size_t>(entry & ~kBlockFlag) << 8;
    const size_t first = p.address & 0xffu;
    const size_t count = size_t{1} << (32 - p.length);
    std::fill_n(t.tbl8_.begin() + static_cast<ptrdiff_t>(base + first), count, value);
  }
  t.tbl8_.shrink_to_fit();
  return t;
}

size_t Ipv4PrefixTable::MemoryBytes() const {
  return sizeof(*this) + (tbl24_ ? kTbl24Entries * sizeof(uint32_t) : 0) + tbl8_.capacity() * sizeof(uint32_t);
}

// ---------------------------------------------------------------------------------------------- IPv6

absl::StatusOr<Ipv6PrefixTable> Ipv6PrefixTable::Build(std::span<const Ipv6Prefix> prefixes) {
  struct Range {
    U128 start;
    U128 last;  // inclusive, so that ::/0 needs no 129th bit
    int length;
    uint32_t id;
  };
  std::vector<Range> ranges;
  ranges.reserve(prefixes.size());
  for (size_t i = 0; i < prefixes.size(); ++i) {
    const Ipv6Prefix& p = prefixes[i];
    if (p.length > 128) return absl::InvalidArgumentError(absl::StrCat("prefix ", i, ": length above 128"));
    const U128 start = ToU128(p.address);
    const U128 host = HostMask6(p.length);
    if ((start & host) != 0) return absl::InvalidArgumentError(absl::StrCat("prefix ", i, ": host bits set"));
    if (p.id > kMaxId) return absl::InvalidArgumentError(absl::StrCat("prefix ", i, ": id above ", kMaxId));
    ranges.push_back({start, start | host, p.length, p.id});
  }
  // Outer prefixes before the prefixes they contain; equal prefixes by id so the lowest comes first.
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    if (a.start != b.start) return a.start < b.start;
    if (a.length != b.length) return a.length < b.length;
    return a.id < b.id;
  });

  Ipv6PrefixTable t;
  t.prefix_count_ = ranges.size();
  std::vector<U128> starts;
  std::vector<uint32_t> ids;
  starts.reserve(2 * ranges.size() + 1);
  ids.reserve(2 * ranges.size() + 1);
  // Opens an interval at `at` answering `id`; a later interval at the same start replaces an earlier one.
  auto emit = [&](U128 at, uint32_t id) {
    if (!starts.empty() && starts.back() == at) {
      ids.back() = id;
      if (ids.size() >= 2 && ids[ids.size() - 2] == id) {
        starts.pop_back();
        ids.pop_back();
      }
      return;
    }
    if (!ids.empty() && ids.back() == id) return;
    starts.push_back(at);
    ids.push_back(id);
  };
  emit(0, kNoMatch);
  // Prefixes either nest or are disjoint, so the covering prefixes of the current position form a stack.
  std::vector<const Range*> open;
  auto close_until = [&](const U128* next_start) {
    while (!open.empty() && (next_start == nullptr || open.back()->last < *next_start)) {
      const U128 last = open.back()->last;
      open.pop_back();
      if (last == ~U128{0}) continue;  // ends with the address space
      emit(last + 1, open.empty() ? kNoMatch : open.back()->id);
    }
  };
  for (size_t i = 0; i < ranges.size(); ++i) {
    const Range& r = ranges[i];
    if (i > 0 && ranges[i - 1].start == r.start && ranges[i - 1].length == r.length) continue;  // duplicate
    close_until(&r.start);
    open.push_back(&r);
    emit(r.start, r.id);
  }
  close_until(nullptr);

  t.starts_.reserve(starts.size());
  for (U128 s : starts) t.starts_.push_back(FromU128(s));
  t.ids_ = std::move(ids);
  t.ids_.shrink_to_fit();

  // top_[k] = index of the interval containing k << (128 - top_bits_) (the last start at or below it).
  int bits = 8;
  while (bits < 22 && (size_t{1} << bits) < 2 * starts.size()) ++bits;
  t.top_bits_ = bits;
  const size_t top = size_t{1} << bits;
  t.top_.assign(top + 1, 0);
  size_t idx = 0;
  for (size_t k = 0; k < top; ++k) {
    const U128 at = U128{k} << (128 - bits);
    while (idx + 1 < starts.size() && starts[idx + 1] <= at) ++idx;
    t.top_[k] = static_cast<uint32_t>(idx);
  }
  t.top_[top] = static_cast<uint32_t>(starts.size() - 1);
  return t;
}

size_t Ipv6PrefixTable::MemoryBytes() const {
  return sizeof(*this) + starts_.capacity() * sizeof(Ipv6Address) + ids_.capacity() * sizeof(uint32_t) +
         top_.capacity() * sizeof(uint32_t);
}

}  // namespace concord::detect
