// concord/pattern/extract.h — the indexable comparisons of a pattern, for correlation and detection.
//
// For every comparison `type:path = 'v'`, `type:path IN (…)` and `type:path ISSUBSET 'cidr'` (without NOT)
// whose path names an observable Concord indexes (design.md "Postings"), Extract() yields (kind, value)
// pairs. It does not normalise beyond what the kind needs to be well-formed (hashes lower-cased,
// ipv4 "/32" and ipv6 "/128" dropped); the correlate module normalises.
//
// `decisive` says whether a match on that value alone proves the whole pattern: true when the path from
// the pattern's root to the comparison crosses only OR (observation OR, comparison OR) — "[a = 1]",
// "[a = 1 OR b = 2]", "[a = 1] OR [b IN (2, 3)]". Under AND, FOLLOWEDBY or a qualifier the evaluator has
// to confirm the candidate.
//
// Thread-safety: pure function of an immutable Pattern.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pattern/pattern.h"

namespace concord::pattern {

enum class ValueKind : uint8_t {
  kIpv4,
  kIpv6,
  kCidr4,
  kCidr6,
  kDomain,
  kUrl,
  kEmail,
  kMd5,
  kSha1,
  kSha256,
  kSha512,
  kSha3_256,
  kSha3_512,
  kSsdeep,
  kTlsh,
  kFilename,
  kMutex,
  kRegistryKey,
  kAsn,
  kMac,
  kUserAgent,
  kJa3,
  kX509Serial,
};

// "ipv4", "cidr4", "sha3-256", "registry-key", "user-agent", "x509-serial", … (the posting kinds).
std::string_view ValueKindName(ValueKind kind);

struct IndexableValue {
  ValueKind kind;
  std::string value;
  uint32_t comparison = 0;  // index into Pattern::comparisons()
  bool decisive = false;

  friend bool operator==(const IndexableValue&, const IndexableValue&) = default;
};

// In pattern order. A comparison may yield several pairs (IN lists).
std::vector<IndexableValue> Extract(const Pattern& pattern);

// A LIKE or MATCHES comparison (without NOT) on a path Extract would index: what detection hands to a
// regex engine. An address path is ipv6 when the literal holds ':', else ipv4; network-traffic
// src_ref/dst_ref.value is domain.
struct TextMatcher {
  ValueKind kind;
  Operator op;               // kLike or kMatches
  std::string_view literal;  // the unescaped string literal (points into the Pattern)
  uint32_t comparison = 0;

  friend bool operator==(const TextMatcher&, const TextMatcher&) = default;
};
std::vector<TextMatcher> ExtractTextMatchers(const Pattern& pattern);

}  // namespace concord::pattern
