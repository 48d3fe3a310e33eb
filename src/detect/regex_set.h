// concord/detect/regex_set.h — the LIKE/MATCHES comparisons of a snapshot, compiled into one Vectorscan
// block-mode database per value kind, so that a value is scanned once whatever the number of expressions.
//
// Expressions are PCRE as STIX MATCHES writes them (LIKE arrives translated, see indicator.h), compiled
// with UTF-8 and DOTALL. One Vectorscan cannot compile exactly (back-references, look-around) is compiled
// with HS_FLAG_PREFILTER, which over-approximates; that is sound because every candidate is confirmed by
// the pattern evaluator (PCRE2) before it is a hit. One it cannot compile even so is left out and named
// in `rejected`.
//
// A RegexSet is immutable after Build; Scan is thread-safe given a Scratch per thread (Vectorscan's
// scratch space), which is the caller's to keep. Scan allocates nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

struct hs_database;
struct hs_scratch;

namespace concord::detect {

class RegexSet {
 public:
  struct Entry {
    std::string expression;
    uint32_t id = 0;
  };

  class Scratch {
   public:
    Scratch() = default;
    Scratch(Scratch&&) noexcept;
    Scratch& operator=(Scratch&&) noexcept;
    ~Scratch();

   private:
    friend class RegexSet;
    hs_scratch* scratch_ = nullptr;
  };

  RegexSet() = default;
  RegexSet(RegexSet&&) noexcept;
  RegexSet& operator=(RegexSet&&) noexcept;
  ~RegexSet();

  // An empty input gives an empty set (Scan finds nothing). `rejected` (may be null) receives
  // "expression: Vectorscan's reason" for each expression left out.
  [[nodiscard]] static absl::StatusOr<RegexSet> Build(std::span<const Entry> entries,
                                                      std::vector<std::string>* rejected);

  // Grows `scratch` so that it serves this set (cheap when it already does).
  [[nodiscard]] absl::Status Prepare(Scratch& scratch) const;

  // Calls `found(id)` for each expression that matches somewhere in `value`, each at most once.
  // `scratch` must have been prepared for this set.
  void Scan(std::string_view value, Scratch& scratch, absl::FunctionRef<void(uint32_t)> found) const;

  bool empty() const { return database_ == nullptr; }
  size_t size() const { return count_; }
  size_t prefiltered() const { return prefiltered_; }
  size_t MemoryBytes() const;

 private:
  hs_database* database_ = nullptr;
  size_t count_ = 0;
  size_t prefiltered_ = 0;
};

}  // namespace concord::detect
