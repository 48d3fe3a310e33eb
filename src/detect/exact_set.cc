#include "detect/exact_set.h"

#include <algorithm>

namespace concord::detect {
namespace {

absl::string_view A(std::string_view s) { return {s.data(), s.size()}; }

// Heap bytes a std::string holds beyond its own object (none while the small-string buffer suffices).
size_t HeapBytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

}  // namespace

void ValueSet::Add(std::string_view value, uint32_t id) {
  auto [it, inserted] = ids_.try_emplace(A(value), id);
  if (!inserted) it->second = std::min(it->second, id);
}

size_t ValueSet::MemoryBytes() const {
  size_t bytes = sizeof(*this) + ids_.capacity() * (sizeof(std::pair<const std::string, uint32_t>) + 1);
  for (const auto& [value, id] : ids_) bytes += HeapBytes(value);
  return bytes;
}

void DomainSet::Add(std::string_view domain, uint32_t id, DomainScope scope) {
  Ids& ids = entries_[A(domain)];
  uint32_t& slot = scope == DomainScope::kExact ? ids.exact : ids.subtree;
  slot = std::min(slot, id);
}

DomainMatch DomainSet::Match(std::string_view name) const {
  std::string_view suffix = name;
  bool whole = true;
  while (!suffix.empty()) {
    auto it = entries_.find(A(suffix));
    if (it != entries_.end()) {
      const Ids& ids = it->second;
      if (whole && ids.exact != kNoMatch) return {std::min(ids.exact, ids.subtree), suffix};
      if (ids.subtree != kNoMatch) return {ids.subtree, suffix};
    }
    const size_t dot = suffix.find('.');
    if (dot == std::string_view::npos) break;
    suffix.remove_prefix(dot + 1);
    whole = false;
  }
  return {};
}

size_t DomainSet::MemoryBytes() const {
  size_t bytes = sizeof(*this) + entries_.capacity() * (sizeof(std::pair<const std::string, Ids>) + 1);
  for (const auto& [domain, ids] : entries_) bytes += HeapBytes(domain);
  return bytes;
}

}  // namespace concord::detect
