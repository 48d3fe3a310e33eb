#include "detect/ip_index.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace concord::detect {

absl::StatusOr<Ipv4Index> Ipv4Index::Build(std::span<const Ipv4Prefix> prefixes) {
  std::vector<Ipv4Prefix> cidrs;
  size_t host_count = 0;
  for (const Ipv4Prefix& p : prefixes) host_count += p.length == 32 ? 1 : 0;
  cidrs.reserve(prefixes.size() - host_count);
  for (size_t i = 0; i < prefixes.size(); ++i) {
    if (prefixes[i].length == 32 && prefixes[i].id > kMaxId) {
      return absl::InvalidArgumentError(absl::StrCat("prefix ", i, ": id above ", kMaxId));
    }
    if (prefixes[i].length != 32) cidrs.push_back(prefixes[i]);
  }
  CONCORD_ASSIGN_OR_RETURN(Ipv4PrefixTable table, Ipv4PrefixTable::Build(cidrs));
  Ipv4Index index(std::move(table));
  index.hosts_.reserve(host_count);
  if (host_count > 0) index.host_24s_.assign((size_t{1} << 24) / 64, 0);
  for (const Ipv4Prefix& p : prefixes) {
    if (p.length != 32) continue;
    auto [it, inserted] = index.hosts_.try_emplace(p.address, p.id);
    if (!inserted) it->second = std::min(it->second, p.id);
    const uint32_t slash24 = p.address >> 8;
    index.host_24s_[slash24 >> 6] |= uint64_t{1} << (slash24 & 63);
  }
  return index;
}

size_t Ipv4Index::MemoryBytes() const {
  return sizeof(*this) - sizeof(prefixes_) + prefixes_.MemoryBytes() +
         hosts_.capacity() * (sizeof(std::pair<const uint32_t, uint32_t>) + 1) +
         host_24s_.capacity() * sizeof(uint64_t);
}

absl::StatusOr<Ipv6Index> Ipv6Index::Build(std::span<const Ipv6Prefix> prefixes) {
  std::vector<Ipv6Prefix> cidrs;
  cidrs.reserve(prefixes.size());
  for (size_t i = 0; i < prefixes.size(); ++i) {
    if (prefixes[i].length == 128 && prefixes[i].id > kMaxId) {
      return absl::InvalidArgumentError(absl::StrCat("prefix ", i, ": id above ", kMaxId));
    }
    if (prefixes[i].length != 128) cidrs.push_back(prefixes[i]);
  }
  CONCORD_ASSIGN_OR_RETURN(Ipv6PrefixTable table, Ipv6PrefixTable::Build(cidrs));
  Ipv6Index index(std::move(table));
  index.hosts_.reserve(prefixes.size() - cidrs.size());
  for (const Ipv6Prefix& p : prefixes) {
    if (p.length != 128) continue;
    auto [it, inserted] = index.hosts_.try_emplace(p.address, p.id);
    if (!inserted) it->second = std::min(it->second, p.id);
  }
  return index;
}

size_t Ipv6Index::MemoryBytes() const {
  return sizeof(*this) - sizeof(prefixes_) + prefixes_.MemoryBytes() +
         hosts_.capacity() * (sizeof(std::pair<const Ipv6Address, uint32_t>) + 1);
}

}  // namespace concord::detect
