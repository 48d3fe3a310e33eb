// concord/detect/snapshot.h — the matcher's immutable snapshot of every active indicator.
//
// A SnapshotBuilder takes indicators (detect/indicator.h) and sightings, and Build() produces a Snapshot:
// per kind, the distinct normalised values, each with its list of indicators ("postings"), in
//   - a DIR-24-8 table plus host hash map for IPv4 and a range table plus host map for IPv6 (ip_index.h),
//     longest-prefix match, so an address inside a CIDR indicator finds it;
//   - a domain index matched label by label from the full name up to the top-level domain, so that an
//     indicator on `example.com` with subdomains covers `a.b.example.com` and never `badexample.com`;
//   - exact hash sets for every other kind (hashes, URLs, e-mail addresses, JA3, user agents, …);
//   - Vectorscan databases for LIKE/MATCHES comparisons (regex_set.h).
// Value bytes live in one arena; the hash sets hold 32-bit list numbers and hash through the arena, so a
// value costs its bytes plus a few words, whatever its kind.
//
// A Snapshot is immutable: publish it as std::shared_ptr<const Snapshot> and swap the pointer when the
// store changes (SnapshotHolder). Lookups are const, lock-free and allocate nothing (Vectorscan needs a
// per-thread scratch, held by the Matcher). Which hits count — validity at the event's time, confirmation
// of multi-comparison patterns — is the Matcher's business (matcher.h).
#pragma once

#include <atomic>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/time.h"
#include "correlate/warninglist.h"
#include "detect/indicator.h"
#include "detect/ip_index.h"
#include "detect/prefix_table.h"
#include "detect/regex_set.h"

namespace concord::detect {

class KeyIndex;  // snapshot.cc

// What a snapshot knows of one indicator, in 40 bytes: the hot path touches only this. Validity is kept to
// the second as uint32 seconds since 2000-01-01 (valid_from rounded up, valid_until down; earlier than
// 2000 means "always", later than 2136 "never ends"), the score in hundredths.
struct SnapshotIndicator {
  static constexpr int64_t kEpoch2000 = 946'684'800;  // Unix seconds of 2000-01-01T00:00:00Z

  std::array<uint8_t, 16> uuid{};  // of "indicator--<uuid>" (the text arena holds other ids)
  uint32_t text_offset = 0;        // id (when not a plain indicator uuid) then name, in the text arena
  uint16_t id_size = 0;            // 0: the id is "indicator--" + uuid
  uint16_t name_size = 0;
  uint32_t pattern = kNoMatch;     // index of its Pattern when a candidate needs confirmation
  uint32_t valid_from = 0;         // seconds since 2000; 0: no lower bound
  uint32_t valid_until = UINT32_MAX;  // seconds since 2000; UINT32_MAX: no upper bound
  uint16_t score_hundredths = 0;
  uint8_t tlp_ = 0;  // stix::Tlp (an int-sized enum) in one byte

  double score() const { return score_hundredths / 100.0; }
  stix::Tlp tlp() const { return static_cast<stix::Tlp>(tlp_); }
  bool needs_confirmation() const { return pattern != kNoMatch; }
  int64_t valid_from_ms() const { return valid_from == 0 ? INT64_MIN : (valid_from + kEpoch2000) * 1000; }
  int64_t valid_until_ms() const {
    return valid_until == UINT32_MAX ? INT64_MAX : (valid_until + kEpoch2000) * 1000;
  }
};
static_assert(sizeof(SnapshotIndicator) == 40);

// One indicator found for a value. `matched` is the indicator's own value (the domain that covers a
// subdomain, the CIDR that contains an address, the expression of a regex), pointing into the snapshot.
struct Candidate {
  uint32_t indicator = 0;
  bool decisive = false;  // a match of this value alone proves the pattern
  ValueKind kind = ValueKind::kIpv4;  // the kind of `matched` (cidr4 for an address inside a CIDR)
  std::string_view matched;
};

struct SnapshotStats {
  uint64_t indicators = 0;   // indicators in the snapshot
  uint64_t values = 0;       // distinct (kind, value) pairs
  uint64_t postings = 0;     // (value, indicator) pairs
  uint64_t regexes = 0;
  uint64_t regexes_prefiltered = 0;
  std::vector<std::string> regexes_rejected;
  std::map<std::string, uint64_t> values_by_kind;
  std::map<std::string, uint64_t> skipped;  // SkipName → count
  uint64_t warninglisted = 0;  // values left out because a warninglist names them
  uint64_t memory_bytes = 0;
  uint64_t key_bytes = 0;      // bytes of the value texts themselves
  int64_t source_seq = 0;      // the store's change sequence the snapshot reflects
  int64_t build_micros = 0;
};

class Snapshot {
 public:
  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // The indicators for one observed value of `kind`, already normalised (see Matcher for raw values).
  // ipv4/ipv6 match host indicators and containing CIDRs (most specific prefix); domain matches the name
  // and covering parents; every kind is also run through its regexes when `scratch` is given.
  void Lookup(ValueKind kind, std::string_view normalized, RegexSet::Scratch* scratch,
              absl::FunctionRef<void(const Candidate&)> found) const;
  void LookupIpv4(uint32_t address, absl::FunctionRef<void(const Candidate&)> found) const;
  void LookupIpv6(const Ipv6Address& address, absl::FunctionRef<void(const Candidate&)> found) const;
  // Only the regexes of `kind` (Lookup runs them too).
  void ScanRegexes(ValueKind kind, std::string_view normalized, RegexSet::Scratch& scratch,
                   absl::FunctionRef<void(const Candidate&)> found) const;

  const SnapshotIndicator& indicator(uint32_t index) const { return indicators_[index]; }
  size_t indicator_count() const { return indicators_.size(); }
  std::string IndicatorId(uint32_t index) const;
  std::string_view IndicatorName(uint32_t index) const;
  const pattern::Pattern* IndicatorPattern(uint32_t index) const;

  // A scratch space that serves this snapshot's regexes (Matcher keeps one per thread).
  [[nodiscard]] absl::Status PrepareScratch(RegexSet::Scratch& scratch) const;
  bool has_regexes() const;

  const SnapshotStats& stats() const { return stats_; }
  Timestamp built_at() const { return built_at_; }
  // The earliest valid_from or valid_until after built_at: the snapshot goes stale then.
  std::optional<Timestamp> next_change() const { return next_change_; }

 private:
  friend class SnapshotBuilder;
  Snapshot();
  void EmitList(uint32_t list, ValueKind kind, bool whole_name_only, absl::FunctionRef<void(const Candidate&)> found) const;

  std::vector<SnapshotIndicator> indicators_;
  std::string text_;  // ids that are not plain indicator uuids, and names
  std::vector<std::shared_ptr<const pattern::Pattern>> patterns_;
  // Lists: list l holds postings_[list_begin_[l] .. list_begin_[l + 1]); each posting is an indicator
  // index with bit 31 = decisive and bit 30 = covers subdomains. list_key_[l] is the offset of the
  // value text (uint16 length then bytes) in keys_, with bit 31 set when some posting of the list covers
  // subdomains (so a parent domain's list is skipped at once when none does).
  std::vector<uint32_t> list_begin_;
  std::vector<uint32_t> postings_;
  std::vector<uint32_t> list_key_;
  std::unique_ptr<std::string> keys_;  // heap-stable: the key indexes hash through it
  std::vector<std::unique_ptr<KeyIndex>> exact_;  // by kind; null for kinds without values
  std::vector<RegexSet> regexes_;                 // by kind
  std::vector<uint32_t> regex_owner_;             // by regex id (global across kinds): indicator index
  std::vector<std::string> regex_text_;           // by regex id, for Candidate::matched
  std::unique_ptr<Ipv4Index> ipv4_;
  std::unique_ptr<Ipv6Index> ipv6_;
  bool has_regexes_ = false;
  SnapshotStats stats_;
  Timestamp built_at_;
  std::optional<Timestamp> next_change_;
};

struct SnapshotOptions {
  ReadOptions read;
  DecayPolicy decay = DecayPolicy::Default();
  // Warninglisted values are left out of the snapshot (they do not alert) unless this is set.
  const class WarninglistFilter* warninglists = nullptr;
};

// Decides whether a normalised value is on a warninglist (implemented over correlate::Warninglists by the
// caller that has them; an interface so that detect's tests need no lists).
class WarninglistFilter {
 public:
  virtual ~WarninglistFilter() = default;
  virtual bool Listed(ValueKind kind, std::string_view normalized_value) const = 0;
};

// The adapter over correlate::Warninglists.
class WarninglistsFilter final : public WarninglistFilter {
 public:
  explicit WarninglistsFilter(const correlate::Warninglists& lists) : lists_(lists) {}
  bool Listed(ValueKind kind, std::string_view normalized_value) const override {
    return !lists_.Match(kind, normalized_value).empty();
  }

 private:
  const correlate::Warninglists& lists_;
};

class SnapshotBuilder {
 public:
  SnapshotBuilder(const SnapshotOptions& options, const Timestamp& now);
  ~SnapshotBuilder();

  // Adds a stored indicator (current version). Unusable ones are counted by reason, not errors;
  // InvalidArgument only when the stored JSON is no indicator at all.
  [[nodiscard]] absl::Status AddStored(const store::StoredObject& stored);
  // Adds an indicator read elsewhere (skip: why it is unusable, kNone when usable).
  void Add(Indicator indicator, Skip skip);
  // A sighting of indicator `id` last seen at `last_seen`: refreshes its decay score.
  void AddSighting(std::string_view indicator_id, const Timestamp& last_seen);
  void set_source_seq(int64_t seq) { source_seq_ = seq; }

  [[nodiscard]] absl::StatusOr<std::shared_ptr<const Snapshot>> Build();

 private:
  struct Pending;
  SnapshotOptions options_;
  Timestamp now_;
  int64_t source_seq_ = 0;
  std::unique_ptr<Pending> pending_;
};

// Builds a snapshot of every current indicator in `store`, with the sightings in it, paging through the
// store in batches; `progress` (may be null) is called after each page with the indicators read so far.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const Snapshot>> BuildSnapshot(
    store::Store& store, const SnapshotOptions& options, const Timestamp& now,
    const std::function<void(uint64_t)>& progress = nullptr);

// Holds the published snapshot: readers load it without locking; a rebuild swaps it atomically.
class SnapshotHolder {
 public:
  std::shared_ptr<const Snapshot> Load() const { return std::atomic_load(&current_); }
  void Publish(std::shared_ptr<const Snapshot> snapshot) { std::atomic_store(&current_, std::move(snapshot)); }

 private:
  std::shared_ptr<const Snapshot> current_;
};

}  // namespace concord::detect
