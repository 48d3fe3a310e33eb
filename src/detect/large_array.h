// concord/detect/large_array.h — zero-filled arrays for the snapshot's big tables, on huge pages.
//
// The key tables are probed at random: with 4 KiB pages nearly every probe of a multi-MiB table also
// misses the TLB, and under virtualisation a page walk costs as much as the cache miss itself. Arrays of
// at least kHugeBytes are therefore mapped 2 MiB-aligned and marked MADV_HUGEPAGE (transparent huge pages
// in "madvise" mode, Debian's default); smaller ones come from the heap. Either way the memory starts out
// zero (fresh anonymous pages need no memset) and is counted as `size() * sizeof(T)`.
//
// Thread-safety: none needed; an array is filled by one thread and then only read.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace concord::detect {

template <typename T>
class LargeArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  static constexpr size_t kHugeBytes = size_t{1} << 20;
  static constexpr size_t kHugePage = size_t{2} << 20;

  LargeArray() = default;
  // `n` zero elements. Throws std::bad_alloc like new[] when memory is exhausted.
  explicit LargeArray(size_t n) : size_(n) {
    if (n == 0) return;
    const size_t bytes = n * sizeof(T);
    if (bytes >= kHugeBytes) {
      // Map one huge page more than needed and keep the 2 MiB-aligned part.
      const size_t length = (bytes + kHugePage - 1) / kHugePage * kHugePage;
      void* p = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p != MAP_FAILED) {
        const auto start = reinterpret_cast<uintptr_t>(p);
        const uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
        if (aligned > start) munmap(p, aligned - start);
        const uintptr_t end = start + length + kHugePage;
        if (end > aligned + length) munmap(reinterpret_cast<void*>(aligned + length), end - (aligned + length));
#if defined(MADV_HUGEPAGE)
        madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE);  // a hint: failure is harmless
#endif
        data_ = reinterpret_cast<T*>(aligned);
        mapped_ = length;
        return;
      }
    }
    data_ = new T[n]();
  }
  LargeArray(const LargeArray&) = delete;
  LargeArray& operator=(const LargeArray&) = delete;
  LargeArray(LargeArray&& other) noexcept { *this = std::move(other); }
  LargeArray& operator=(LargeArray&& other) noexcept {
    if (this != &other) {
      Release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      mapped_ = std::exchange(other.mapped_, 0);
    }
    return *this;
  }
  ~LargeArray() { Release(); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  void Release() {
    if (data_ == nullptr) return;
    if (mapped_ > 0) {
      munmap(data_, mapped_);
    } else {
      delete[] data_;
    }
    data_ = nullptr;
    size_ = 0;
    mapped_ = 0;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;  // bytes mapped (0: from the heap)
};

}  // namespace concord::detect
