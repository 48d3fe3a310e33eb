// concord/detect/prefix_table.h — longest-prefix match for CIDR indicators, IPv4 and IPv6.
//
// Both tables map an address to the id of the most specific prefix that contains it. They are built once
// from a list of prefixes (Build) and never change afterwards: a snapshot owns them, and every lookup is a
// const read of immutable arrays, safe from any number of threads without locks, allocating nothing.
//
// Ids are the caller's (an index into the snapshot's indicator or posting-list table). When the same prefix
// is given twice the lowest id wins, so the result never depends on input order; a caller that needs every
// indicator on one prefix gives the id of a posting list.
//
// IPv4 — DIR-24-8 (Gupta, Lin, McKeown 1998): a 2^24 first-level array indexed by the top 24 bits, whose
// entries hold either the answer or the number of a 256-entry second-level block for /24s that contain
// longer prefixes. A lookup is one or two array reads. 64 MiB fixed (nothing when built from no prefixes)
// plus 1 KiB per /24 with prefixes longer than /24 — the price of line rate. The table accepts /32s, but a million host indicators would
// cost a block each: Ipv4Index (ip_index.h) keeps hosts in a hash map and only CIDRs here.
//
// IPv6 — flattened ranges: the prefixes cut the 128-bit space into disjoint intervals, each labelled with
// the id of its most specific covering prefix (or none). The interval starts are sorted; a direct table
// indexed by the top bits of the address narrows the search to the intervals of that block, then a
// branch-light binary search finishes it. Why not a multibit trie: with prefixes of /32-/48 a stride-8 trie allocates
// 3-4 nodes of 256 entries per prefix (hundreds of MiB for 100k prefixes); the ranges need 20 bytes per
// interval (at most two per prefix) plus the first-level table, and a lookup touches the first-level table
// and one or two cache lines of starts.
//
// The first level is indexed by the top `b` bits, b chosen at Build from the interval count n (2^b >= 2n,
// 8 <= b <= 22): 4 bytes per entry, so about 8-16 bytes per interval, and with prefixes spread over
// 2000::/3 a bucket holds a handful of intervals, i.e. two or three comparisons.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace concord::detect {

// Returned by lookups when no prefix (or value) matches.
inline constexpr uint32_t kNoMatch = 0xffffffffu;
// Largest id the tables accept (the DIR-24-8 entry spends one bit on the block flag).
inline constexpr uint32_t kMaxId = 0x7ffffffeu;

// IPv4 address in host byte order: 10.1.2.3 is 0x0a010203.
struct Ipv4Prefix {
  uint32_t address = 0;  // host bits must be zero
  uint8_t length = 0;    // 0..32
  uint32_t id = 0;
};

// IPv6 address as two host-order halves: hi holds bytes 0-7 (the network part of a /64).
struct Ipv6Address {
  uint64_t hi = 0;
  uint64_t lo = 0;
  friend bool operator==(const Ipv6Address&, const Ipv6Address&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Ipv6Address& a) {
    return H::combine(std::move(h), a.hi, a.lo);
  }
};

struct Ipv6Prefix {
  Ipv6Address address;  // host bits must be zero
  uint8_t length = 0;   // 0..128
  uint32_t id = 0;
};

// Text forms, for tests, tools and the matcher's readers. "10.0.0.0/8", "2001:db8::/32"; an address
// without "/len" is a host (/32 or /128). Host bits set is an error: values arrive normalised (masked).
[[nodiscard]] absl::StatusOr<uint32_t> ParseIpv4(std::string_view text);
[[nodiscard]] absl::StatusOr<Ipv6Address> ParseIpv6(std::string_view text);
[[nodiscard]] absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(std::string_view text, uint32_t id);
[[nodiscard]] absl::StatusOr<Ipv6Prefix> ParseIpv6Prefix(std::string_view text, uint32_t id);

class Ipv4PrefixTable {
 public:
  // InvalidArgument for a length above 32, host bits set, or an id above kMaxId (naming the prefix's index).
  [[nodiscard]] static absl::StatusOr<Ipv4PrefixTable> Build(std::span<const Ipv4Prefix> prefixes);

  Ipv4PrefixTable(Ipv4PrefixTable&&) noexcept = default;
  Ipv4PrefixTable& operator=(Ipv4PrefixTable&&) noexcept = default;

  // The id of the longest prefix containing `address`, or kNoMatch.
  uint32_t Lookup(uint32_t address) const {
    if (!tbl24_) return kNoMatch;  // built from no prefixes
    uint32_t entry = tbl24_[address >> 8];
    if (entry & kBlockFlag) entry = tbl8_[((entry & ~kBlockFlag) << 8) | (address & 0xffu)];
    return entry - 1;  // entries hold id + 1; 0 (no match) wraps to kNoMatch
  }

  size_t prefix_count() const { return prefix_count_; }
  size_t block_count() const { return tbl8_.size() / 256; }
  size_t MemoryBytes() const;

 private:
  static constexpr uint32_t kBlockFlag = 0x80000000u;
  struct FreeDeleter {
    void operator()(uint32_t* p) const;
  };

  Ipv4PrefixTable() = default;

  std::unique_ptr<uint32_t[], FreeDeleter> tbl24_;  // 2^24 entries, huge-page aligned
  std::vector<uint32_t> tbl8_;                      // 256 entries per block
  size_t prefix_count_ = 0;
};

class Ipv6PrefixTable {
 public:
  // InvalidArgument for a length above 128, host bits set, or an id above kMaxId.
  [[nodiscard]] static absl::StatusOr<Ipv6PrefixTable> Build(std::span<const Ipv6Prefix> prefixes);

  // The id of the longest prefix containing `address`, or kNoMatch.
  uint32_t Lookup(Ipv6Address address) const {
    const size_t k = address.hi >> (64 - top_bits_);
    // The answer is the last start <= address among starts_[top_[k] .. top_[k+1]]; starts_[top_[k]] <= address.
    const Ipv6Address* base = starts_.data() + top_[k];
    size_t n = top_[k + 1] - top_[k] + 1;
    // Branch-light binary search keeping the invariant base[0] <= address.
    while (n > 1) {
      const size_t half = n / 2;
      const Ipv6Address& mid = base[half];
      const bool le = mid.hi < address.hi || (mid.hi == address.hi && mid.lo <= address.lo);
      base = le ? base + half : base;
      n -= half;
    }
    return ids_[static_cast<size_t>(base - starts_.data())];
  }

  size_t prefix_count() const { return prefix_count_; }
  size_t interval_count() const { return starts_.size(); }
  size_t MemoryBytes() const;

 private:
  Ipv6PrefixTable() = default;

  // Interval i covers [starts_[i], starts_[i+1]) and answers ids_[i] (kNoMatch for none); starts_[0] is ::.
  std::vector<Ipv6Address> starts_;
  std::vector<uint32_t> ids_;
  // top_[k]: index of the interval containing the address whose top top_bits_ bits are k;
  // top_[2^top_bits_] = last interval.
  std::vector<uint32_t> top_;
  int top_bits_ = 8;
  size_t prefix_count_ = 0;
};

}  // namespace concord::detect
