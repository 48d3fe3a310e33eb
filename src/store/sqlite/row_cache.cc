#include "store/sqlite/row_cache.h"

#include <mutex>
#include <utility>

namespace concord::store::sqlite {

CachedRow::CachedRow(int64_t seq, std::string_view id, std::string_view created_by_ref, bool revoked, stix::Tlp tlp,
                     std::optional<int> distribution, std::string_view sharing_group_ref, std::string_view json)
    : seq_(seq), revoked_(revoked), tlp_(tlp), distribution_(distribution) {
  text_.reserve(id.size() + created_by_ref.size() + sharing_group_ref.size() + json.size());
  int i = 0;
  for (std::string_view part : {id, created_by_ref, sharing_group_ref, json}) {
    text_.append(part);
    ends_[i++] = static_cast<uint32_t>(text_.size());
  }
}

void RowCache::Find(std::span<const int64_t> seqs, std::vector<std::shared_ptr<const CachedRow>>& out) {
  out.assign(seqs.size(), nullptr);
  std::vector<size_t> promote;  // found in the old generation
  uint64_t hits = 0;
  {
    std::shared_lock lock(mu_);
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (auto it = young_.find(seqs[i]); it != young_.end()) {
        out[i] = it->second;
      } else if (auto old = old_.find(seqs[i]); old != old_.end()) {
        out[i] = old->second;
        promote.push_back(i);
      } else {
        continue;
      }
      ++hits;
    }
  }
  hits_.fetch_add(hits, std::memory_order_relaxed);
  misses_.fetch_add(seqs.size() - hits, std::memory_order_relaxed);
  if (promote.empty()) return;
  Map dropped;  // freed after the lock is released
  std::unique_lock lock(mu_);
  for (size_t i : promote) {
    auto old = old_.find(seqs[i]);
    if (old == old_.end()) continue;  // moved or dropped meanwhile
    old_bytes_ -= old->second->bytes();
    std::shared_ptr<const CachedRow> row = std::move(old->second);
    old_.erase(old);
    AddLocked(std::move(row), dropped);
  }
}

void RowCache::Add(std::vector<std::shared_ptr<const CachedRow>> rows) {
  Map dropped;
  std::unique_lock lock(mu_);
  for (auto& row : rows) {
    if (row == nullptr || row->bytes() > half_) continue;  // a row larger than a generation is not kept
    AddLocked(std::move(row), dropped);
  }
}

void RowCache::AddLocked(std::shared_ptr<const CachedRow> row, Map& dropped) {
  const size_t bytes = row->bytes();
  auto [it, inserted] = young_.try_emplace(row->seq(), nullptr);
  if (!inserted) young_bytes_ -= it->second->bytes();
  it->second = std::move(row);
  young_bytes_ += bytes;
  if (young_bytes_ > half_) {
    // The young generation is full: it becomes the old one, and the old one's rows leave (freed by the caller
    // once the lock is released, unless someone still holds them).
    dropped = std::move(old_);
    old_ = std::move(young_);
    old_bytes_ = young_bytes_;
    young_ = Map();
    young_bytes_ = 0;
  }
}

void RowCache::Admit(std::span<const int64_t> missed, std::vector<bool>& admit) {
  admit.assign(missed.size(), false);
  if (missed.empty() || half_seen_ == 0) return;
  absl::flat_hash_set<int64_t> dropped;  // freed after the lock is released
  std::unique_lock lock(mu_);
  for (size_t i = 0; i < missed.size(); ++i) {
    if (seen_young_.erase(missed[i]) > 0 || seen_old_.erase(missed[i]) > 0) {
      admit[i] = true;
      continue;
    }
    seen_young_.insert(missed[i]);
    if (seen_young_.size() > half_seen_) {
      dropped = std::move(seen_old_);
      seen_old_ = std::move(seen_young_);
      seen_young_ = absl::flat_hash_set<int64_t>();
    }
  }
}

RowCache::Stats RowCache::GetStats() const {
  std::shared_lock lock(mu_);
  return Stats{.rows = young_.size() + old_.size(),
               .bytes = young_bytes_ + old_bytes_,
               .hits = hits_.load(std::memory_order_relaxed),
               .misses = misses_.load(std::memory_order_relaxed)};
}

}  // namespace concord::store::sqlite
