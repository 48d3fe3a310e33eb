// concord/detect/key_table.h — the snapshot's exact-match index: a hash set of 32-bit handles whose keys
// live elsewhere (the snapshot's value arena), found by the key's text.
//
// Why not absl::flat_hash_set<uint32_t> with a hashing functor: its capacity is a power of two, so 2M keys
// take 4M slots (5 bytes each), and it rehashes through the arena on every growth. This table is sized once
// for the keys it will hold (by default capacity = keys × 5/4: load ≤ 0.8, 6.25 bytes per key), takes the key's hash
// from the caller (who computes it once, e.g. once per suffix of a domain name), and can start fetching a
// probe's cache line before the probe (Prefetch) so that the probes of one name overlap.
//
// Layout (both arrays on huge pages when large, see large_array.h): linear probing over a byte array of tags (0 = empty, else 8 bits of the hash) mirrored 16 bytes
// past the end, beside an array of handles. A probe compares 16 tags at once (SSE2) from the key's home
// slot up to the first empty tag and compares the key text only where the tag matches (a false match costs
// one key read about once in 20 misses at full load). There are no deletions, so a probe may stop at
// the first empty slot.
//
// KeyHash is a 64-bit multiply-fold hash (wyhash's construction) keyed with a random seed, so that
// indicators and log lines chosen by an attacker cannot aim at one probe sequence without knowing it.
//
// Thread-safety: const methods are safe from any number of threads; building (Insert*, RewriteHandles) is
// single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/status.h"
#include "detect/large_array.h"
#include "detect/prefix_table.h"  // kNoMatch

namespace concord::detect {

namespace key_table_internal {

__extension__ typedef unsigned __int128 U128;  // GCC/Clang: the full 64×64 product in one instruction

inline uint64_t Fold(uint64_t a, uint64_t b) {
  const U128 r = static_cast<U128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}
inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace key_table_internal

// The two secret words KeyHash mixes in; derive them once from a random seed (MakeHashKey).
struct HashKey {
  uint64_t k0 = 0x243f6a8885a308d3ull;
  uint64_t k1 = 0x13198a2e03707344ull;
};

// A key from `seed` (any 64 bits; equal seeds give equal hashes).
inline HashKey MakeHashKey(uint64_t seed) {
  using key_table_internal::Fold;
  HashKey key;
  key.k0 = Fold(seed ^ 0xa0761d6478bd642full, 0xe7037ed1a0b428dbull) | 1;
  key.k1 = Fold(seed ^ 0x8ebc6af09c88c6e3ull, 0x589965cc75374cc3ull) | 1;
  return key;
}

inline uint64_t KeyHash(std::string_view s, const HashKey& key) {
  using key_table_internal::Fold;
  using key_table_internal::Load32;
  using key_table_internal::Load64;
  const char* p = s.data();
  size_t n = s.size();
  uint64_t seed = key.k1 ^ (static_cast<uint64_t>(n) * 0x9e3779b97f4a7c15ull);
  uint64_t a = 0;
  uint64_t b = 0;
  if (n <= 16) {
    if (n >= 8) {
      a = Load64(p);
      b = Load64(p + n - 8);
    } else if (n >= 4) {
      a = Load32(p);
      b = Load32(p + n - 4);
    } else if (n > 0) {
      a = (uint64_t{static_cast<uint8_t>(p[0])} << 16) | (uint64_t{static_cast<uint8_t>(p[n >> 1])} << 8) |
          static_cast<uint8_t>(p[n - 1]);
    }
  } else {
    while (n > 16) {
      seed = Fold(Load64(p) ^ key.k0, Load64(p + 8) ^ seed);
      p += 16;
      n -= 16;
    }
    a = Load64(p + n - 16);
    b = Load64(p + n - 8);
  }
  return Fold(key.k0 ^ static_cast<uint64_t>(s.size()), Fold(a ^ key.k0, b ^ seed));
}

class KeyTable {
 public:
  static constexpr unsigned kDefaultLoadPercent = 80;

  // Slots for `keys` keys at most `load_percent` % full (and 16 more: a window never wraps onto itself).
  static size_t CapacityFor(size_t keys, unsigned load_percent = kDefaultLoadPercent) {
    return keys == 0 ? 0 : keys * 100 / load_percent + 16;
  }

  KeyTable() = default;
  // An empty table with room for `keys` keys. A lower load costs memory and saves time on misses: the
  // run of slots a miss scans is shorter, and so is the chance that a tag matches a wrong key.
  explicit KeyTable(size_t keys, unsigned load_percent = kDefaultLoadPercent) : max_size_(keys) {
    if (keys == 0) return;
    capacity_ = CapacityFor(keys, load_percent);
    tags_ = LargeArray<uint8_t>(capacity_ + kWindow);  // zero: all empty
    slots_ = LargeArray<uint32_t>(capacity_);
  }
  KeyTable(KeyTable&&) noexcept = default;
  KeyTable& operator=(KeyTable&&) noexcept = default;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }
  size_t MemoryBytes() const { return capacity_ == 0 ? 0 : capacity_ * sizeof(uint32_t) + capacity_ + kWindow; }

  // Starts loading the cache line where a probe for `hash` begins.
  void Prefetch(uint64_t hash) const {
    if (capacity_ != 0) __builtin_prefetch(tags_.data() + Home(hash));
  }

  // The handle whose key (key_at(handle)) is `key`, or kNoMatch. `hash` is KeyHash(key, …).
  template <typename KeyAt>
  uint32_t Find(uint64_t hash, std::string_view key, const KeyAt& key_at) const {
    if (size_ == 0) return kNoMatch;
    uint32_t found = kNoMatch;
    Probe(hash, [&](uint32_t handle) {
      if (key_at(handle) != key) return false;
      found = handle;
      return true;
    });
    return found;
  }

  // Find, and when the key is absent inserts `handle` for it; returns the handle found or `handle`.
  template <typename KeyAt>
  uint32_t FindOrInsert(uint64_t hash, std::string_view key, uint32_t handle, const KeyAt& key_at) {
    uint32_t found = kNoMatch;
    const size_t empty = Probe(hash, [&](uint32_t h) {
      if (key_at(h) != key) return false;
      found = h;
      return true;
    });
    if (found != kNoMatch) return found;
    Put(empty, hash, handle);
    return handle;
  }

  // Inserts a key known to be absent.
  void InsertNew(uint64_t hash, uint32_t handle) {
    size_t i = Home(hash);
    while (tags_[i] != 0) i = i + 1 == capacity_ ? 0 : i + 1;
    Put(i, hash, handle);
  }

  // Replaces every handle h by f(h) (after the keys moved: build-time numbering → final offsets).
  template <typename F>
  void RewriteHandles(const F& f) {
    for (size_t i = 0; i < capacity_; ++i) {
      if (tags_[i] != 0) slots_[i] = f(slots_[i]);
    }
  }

 private:
  static constexpr size_t kWindow = 16;

  size_t Home(uint64_t hash) const {
    return static_cast<size_t>((static_cast<key_table_internal::U128>(hash) * capacity_) >> 64);
  }
  static uint8_t Tag(uint64_t hash) {
    const auto t = static_cast<uint8_t>(hash);
    return t == 0 ? 1 : t;
  }

  void Put(size_t i, uint64_t hash, uint32_t handle) {
    CONCORD_CHECK(size_ < max_size_, "a key table holds no more keys than it was sized for");
    const uint8_t tag = Tag(hash);
    tags_[i] = tag;
    if (i < kWindow) tags_[capacity_ + i] = tag;
    slots_[i] = handle;
    ++size_;
  }

  // Calls `is_it(handle)` for each slot from the home slot of `hash` to the first empty one whose tag
  // matches, until it returns true; returns the first empty slot (or capacity_ when is_it said yes).
  template <typename IsIt>
  size_t Probe(uint64_t hash, const IsIt& is_it) const {
    const uint8_t tag = Tag(hash);
    size_t at = Home(hash);
#if defined(__SSE2__)
    const __m128i want = _mm_set1_epi8(static_cast<char>(tag));
    const __m128i zero = _mm_setzero_si128();
    while (true) {
      const __m128i window = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tags_.data() + at));
      const auto empty = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(window, zero)));
      auto match = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(window, want)));
      if (empty != 0) match &= (empty & (0u - empty)) - 1;  // only slots before the first empty one
      while (match != 0) {
        size_t i = at + static_cast<size_t>(__builtin_ctz(match));
        if (i >= capacity_) i -= capacity_;
        if (is_it(slots_[i])) return capacity_;
        match &= match - 1;
      }
      if (empty != 0) {
        size_t i = at + static_cast<size_t>(__builtin_ctz(empty));
        return i >= capacity_ ? i - capacity_ : i;
      }
      at += kWindow;
      if (at >= capacity_) at -= capacity_;
    }
#else
    while (tags_[at] != 0) {
      if (tags_[at] == tag && is_it(slots_[at])) return capacity_;
      at = at + 1 == capacity_ ? 0 : at + 1;
    }
    return at;
#endif
  }

  size_t max_size_ = 0;
  size_t capacity_ = 0;
  size_t size_ = 0;
  LargeArray<uint8_t> tags_;    // capacity_ + kWindow: the first kWindow tags repeated at the end
  LargeArray<uint32_t> slots_;  // capacity_
};

}  // namespace concord::detect
