// concord/detect/exact_set.h — exact-value sets for the matcher: hashes, URLs, e-mail addresses (ValueSet)
// and domains with domain-and-subdomains matching (DomainSet).
//
// Values arrive normalised by `correlate` (lower case, no trailing dot, hashes lower-case hex); these sets
// compare bytes and never normalise. A set is filled with Add() while a snapshot is built and is read-only
// once the snapshot is published: Find/Match are const, lock-free and allocate nothing, so any number of
// threads may call them as long as nobody calls Add at the same time. For one value given twice the
// lowest id wins, as in the prefix tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "detect/prefix_table.h"

namespace concord::detect {

// One kind of exact value (one set per kind: md5, sha256, url, …).
class ValueSet {
 public:
  void Add(std::string_view value, uint32_t id);
  void Reserve(size_t n) { ids_.reserve(n); }

  // The id of `value`, or kNoMatch.
  uint32_t Find(std::string_view value) const {
    auto it = ids_.find(absl::string_view(value.data(), value.size()));
    return it == ids_.end() ? kNoMatch : it->second;
  }

  size_t size() const { return ids_.size(); }
  // Table slots plus the heap bytes of long strings (short ones live inside std::string).
  size_t MemoryBytes() const;

 private:
  absl::flat_hash_map<std::string, uint32_t> ids_;
};

// Whether a domain indicator covers its subdomains. STIX `domain-name:value = 'example.com'` is exact;
// feeds of malicious domains usually mean the domain and everything below it.
enum class DomainScope { kExact, kWithSubdomains };

struct DomainMatch {
  uint32_t id = kNoMatch;
  std::string_view matched;  // the suffix of the queried name that carries the indicator
  bool found() const { return id != kNoMatch; }
};

class DomainSet {
 public:
  void Add(std::string_view domain, uint32_t id, DomainScope scope);
  void Reserve(size_t n) { entries_.reserve(n); }

  // The most specific indicator for `name`: the name itself (exact or with subdomains), then each parent
  // domain that covers subdomains, walking label by label: `a.b.example.com` tries `a.b.example.com`,
  // `b.example.com`, `example.com`, `com`. Labels are whole: `badexample.com` never matches `example.com`.
  DomainMatch Match(std::string_view name) const;

  size_t size() const { return entries_.size(); }
  size_t MemoryBytes() const;

 private:
  struct Ids {
    uint32_t exact = kNoMatch;
    uint32_t subtree = kNoMatch;
  };
  absl::flat_hash_map<std::string, Ids> entries_;
};

}  // namespace concord::detect
