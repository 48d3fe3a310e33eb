// concord/store/sqlite/row_cache.h — the listed versions' rows, kept in memory by seq.
//
// A REST list of 100 objects spent most of its store time on SQLite fetching each version's row by seq
// (a b-tree descent, then nine columns out of a ~1 KB record) for pages that clients ask for again and
// again: a SOC tool polling "the newest indicators", a console refreshing a list. A version's row never
// changes once stored (a new version is a new seq; nothing updates or deletes a row of `versions`), so a
// row kept by seq is never stale and needs no invalidation, whoever writes, in this process or another.
//
// Holds the columns of a lean listing (Query::policy_and_json_only: id, creator, revoked, TLP, distribution,
// sharing group, JSON). Bounded by bytes: two generations, each up to half the capacity; a row found in the
// old one moves to the young one, and when the young one is full it becomes the old one and the old one is
// dropped. So rows read at least once per half-capacity of new rows stay; the rest leave in bulk, O(1) per row.
// Rows are handed out as shared pointers: one dropped meanwhile stays valid for whoever holds it.
// A row is admitted on its second miss (Admit): a sweep through pages nobody asks for twice copies nothing and
// evicts nothing, and a page polled again is kept from its second reading on. The seqs missed once are kept
// the same way, in two generations of plain seqs.
//
// Thread-safety: every call is safe from several threads. Lookups share a lock; inserts and promotions take
// it alone, briefly.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "stix/object.h"

namespace concord::store::sqlite {

// One version's row as a lean listing reads it.
class CachedRow {
 public:
  CachedRow(int64_t seq, std::string_view id, std::string_view created_by_ref, bool revoked, stix::Tlp tlp,
            std::optional<int> distribution, std::string_view sharing_group_ref, std::string_view json);

  int64_t seq() const { return seq_; }
  bool revoked() const { return revoked_; }
  stix::Tlp tlp() const { return tlp_; }
  std::optional<int> distribution() const { return distribution_; }
  std::string_view id() const { return Part(0); }
  std::string_view created_by_ref() const { return Part(1); }
  std::string_view sharing_group_ref() const { return Part(2); }
  std::string_view json() const { return Part(3); }
  // What the row takes in memory, roughly (counted against the cache's capacity).
  size_t bytes() const { return sizeof(*this) + text_.capacity(); }

 private:
  std::string_view Part(int i) const {
    const uint32_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(text_).substr(begin, ends_[i] - begin);
  }
  int64_t seq_;
  bool revoked_;
  stix::Tlp tlp_;
  std::optional<int> distribution_;
  std::string text_;  // id, creator, sharing group and JSON back to back
  uint32_t ends_[4];
};

class RowCache {
 public:
  explicit RowCache(size_t capacity_bytes) : half_(capacity_bytes / 2), half_seen_(capacity_bytes / 2 / 1024) {}
  // False for a capacity of 0 (--row-cache-mb 0): nothing is ever kept, so callers need not ask.
  bool enabled() const { return half_ > 0; }

  // For each seq, the row kept for it or null; `out` is resized to seqs.size().
  void Find(std::span<const int64_t> seqs, std::vector<std::shared_ptr<const CachedRow>>& out);
  // Keeps `rows` (a row already kept under its seq is replaced: rows never change, so either is right), under one
  // taking of the lock.
  void Add(std::vector<std::shared_ptr<const CachedRow>> rows);
  // For each seq missed, whether to keep its row: true when it was missed before (and is still remembered),
  // else false and it is remembered. `admit` is resized to missed.size().
  void Admit(std::span<const int64_t> missed, std::vector<bool>& admit);

  struct Stats {
    size_t rows = 0;
    size_t bytes = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  Stats GetStats() const;

 private:
  using Map = absl::flat_hash_map<int64_t, std::shared_ptr<const CachedRow>>;
  // Under mu_ alone; a generation that leaves is moved to `dropped`.
  void AddLocked(std::shared_ptr<const CachedRow> row, Map& dropped);

  const size_t half_;       // bytes per generation
  const size_t half_seen_;  // seqs per generation of those missed once: about as many as a generation holds rows (~1 KiB each)
  mutable std::shared_mutex mu_;
  Map young_;
  Map old_;
  size_t young_bytes_ = 0;
  size_t old_bytes_ = 0;
  absl::flat_hash_set<int64_t> seen_young_;  // missed once, not kept yet
  absl::flat_hash_set<int64_t> seen_old_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace concord::store::sqlite
