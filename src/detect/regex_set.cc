#include "detect/regex_set.h"

#include <hs/hs.h>

#include <utility>

#include "fmt/format.h"

namespace concord::detect {
namespace {

struct ScanContext {
  absl::FunctionRef<void(uint32_t)>* found;
};

int OnMatch(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/, unsigned int /*flags*/,
            void* context) {
  (*static_cast<ScanContext*>(context)->found)(id);
  return 0;  // keep scanning: other expressions may match too
}

constexpr unsigned kFlags = HS_FLAG_DOTALL | HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH;

// Compiles one expression alone, to learn whether (and how) it compiles. Returns the flags that work, or 0
// with `reason` set.
unsigned FlagsFor(const std::string& expression, std::string* reason) {
  for (unsigned flags : {kFlags, kFlags | HS_FLAG_PREFILTER}) {
    hs_database_t* db = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_compile(expression.c_str(), flags, HS_MODE_BLOCK, nullptr, &db, &error) == HS_SUCCESS) {
      hs_free_database(db);
      return flags;
    }
    *reason = error != nullptr && error->message != nullptr ? error->message : "does not compile";
    hs_free_compile_error(error);
  }
  return 0;
}

}  // namespace

RegexSet::Scratch::Scratch(Scratch&& other) noexcept : scratch_(std::exchange(other.scratch_, nullptr)) {}
RegexSet::Scratch& RegexSet::Scratch::operator=(Scratch&& other) noexcept {
  if (this != &other) {
    if (scratch_ != nullptr) hs_free_scratch(scratch_);
    scratch_ = std::exchange(other.scratch_, nullptr);
  }
  return *this;
}
RegexSet::Scratch::~Scratch() {
  if (scratch_ != nullptr) hs_free_scratch(scratch_);
}

RegexSet::RegexSet(RegexSet&& other) noexcept
    : database_(std::exchange(other.database_, nullptr)),
      count_(std::exchange(other.count_, 0)),
      prefiltered_(std::exchange(other.prefiltered_, 0)) {}
RegexSet& RegexSet::operator=(RegexSet&& other) noexcept {
  if (this != &other) {
    if (database_ != nullptr) hs_free_database(database_);
    database_ = std::exchange(other.database_, nullptr);
    count_ = std::exchange(other.count_, 0);
    prefiltered_ = std::exchange(other.prefiltered_, 0);
  }
  return *this;
}
RegexSet::~RegexSet() {
  if (database_ != nullptr) hs_free_database(database_);
}

absl::StatusOr<RegexSet> RegexSet::Build(std::span<const Entry> entries, std::vector<std::string>* rejected) {
  RegexSet set;
  std::vector<const char*> expressions;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (const Entry& e : entries) {
    std::string reason;
    const unsigned f = FlagsFor(e.expression, &reason);
    if (f == 0) {
      if (rejected != nullptr) rejected->push_back(fmt::format("{}: {}", e.expression, reason));
      continue;
    }
    if ((f & HS_FLAG_PREFILTER) != 0) ++set.prefiltered_;
    expressions.push_back(e.expression.c_str());
    flags.push_back(f);
    ids.push_back(e.id);
  }
  if (expressions.empty()) return set;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(expressions.data(), flags.data(), ids.data(), static_cast<unsigned>(expressions.size()),
                       HS_MODE_BLOCK, nullptr, &set.database_, &error) != HS_SUCCESS) {
    std::string message = error != nullptr && error->message != nullptr ? error->message : "unknown error";
    hs_free_compile_error(error);
    set.database_ = nullptr;
    return absl::InternalError(fmt::format("Vectorscan: compiling {} expressions failed: {}", expressions.size(), message));
  }
  set.count_ = expressions.size();
  return set;
}

absl::Status RegexSet::Prepare(Scratch& scratch) const {
  if (database_ == nullptr) return absl::OkStatus();
  if (hs_alloc_scratch(database_, &scratch.scratch_) != HS_SUCCESS) {
    return absl::ResourceExhaustedError("Vectorscan: cannot allocate scratch space");
  }
  return absl::OkStatus();
}

void RegexSet::Scan(std::string_view value, Scratch& scratch, absl::FunctionRef<void(uint32_t)> found) const {
  if (database_ == nullptr) return;
  ScanContext context{&found};
  hs_scan(database_, value.data(), static_cast<unsigned>(value.size()), 0, scratch.scratch_, OnMatch, &context);
}

size_t RegexSet::MemoryBytes() const {
  size_t size = 0;
  if (database_ != nullptr) hs_database_size(database_, &size);
  return size;
}

}  // namespace concord::detect
