// concord/detect/ip_index.h — everything the matcher knows about IP indicators of one address family:
// host indicators (/32, /128) in a flat hash map, CIDR indicators in the prefix table.
//
// A host is the most specific prefix there is, so a host hit answers first and the prefix table answers
// otherwise. For IPv4 a 2 MiB bitmap of the /24s that hold any host indicator lets most lookups skip the
// hash probe: with 1M hosts only ~6% of random addresses fall in such a /24. Without hosts it is left out.
//
// Immutable after Build(); Lookup is const, lock-free, allocation-free and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "detect/prefix_table.h"

namespace concord::detect {

class Ipv4Index {
 public:
  // /32 prefixes become host entries; the rest go to the DIR-24-8 table. Errors as Ipv4PrefixTable::Build.
  [[nodiscard]] static absl::StatusOr<Ipv4Index> Build(std::span<const Ipv4Prefix> prefixes);

  uint32_t Lookup(uint32_t address) const {
    const uint32_t slash24 = address >> 8;
    if (!host_24s_.empty() && ((host_24s_[slash24 >> 6] >> (slash24 & 63)) & 1)) {
      auto it = hosts_.find(address);
      if (it != hosts_.end()) return it->second;
    }
    return prefixes_.Lookup(address);
  }

  size_t host_count() const { return hosts_.size(); }
  size_t prefix_count() const { return prefixes_.prefix_count(); }
  size_t MemoryBytes() const;

 private:
  explicit Ipv4Index(Ipv4PrefixTable prefixes) : prefixes_(std::move(prefixes)) {}

  absl::flat_hash_map<uint32_t, uint32_t> hosts_;
  std::vector<uint64_t> host_24s_;  // bit per /24: does it contain a host indicator? (empty: no hosts)
  Ipv4PrefixTable prefixes_;
};

class Ipv6Index {
 public:
  // /128 prefixes become host entries; the rest go to the range table. Errors as Ipv6PrefixTable::Build.
  [[nodiscard]] static absl::StatusOr<Ipv6Index> Build(std::span<const Ipv6Prefix> prefixes);

  uint32_t Lookup(Ipv6Address address) const {
    if (!hosts_.empty()) {
      auto it = hosts_.find(address);
      if (it != hosts_.end()) return it->second;
    }
    return prefixes_.Lookup(address);
  }

  size_t host_count() const { return hosts_.size(); }
  size_t prefix_count() const { return prefixes_.prefix_count(); }
  size_t MemoryBytes() const;

 private:
  explicit Ipv6Index(Ipv6PrefixTable prefixes) : prefixes_(std::move(prefixes)) {}

  absl::flat_hash_map<Ipv6Address, uint32_t> hosts_;
  Ipv6PrefixTable prefixes_;
};

}  // namespace concord::detect
