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
// Each distinct value is one record in a byte arena (header, the value's bytes, its postings), named by
// its offset; the hash tables (key_table.h) hold those offsets, so a value costs its bytes plus about 16
// bytes (a 6-byte header, a 4-byte posting per indicator, 6.25 bytes of table at 80% load; domains 8.3 at
// 60%, plus as much again in the parents' table when they cover subdomains), whatever its kind. Domain
// names are matched by probing the name and each parent, all hashes computed and their cache lines
// prefetched before the first probe.
//
// Build() groups the postings of different kinds on up to SnapshotOptions::build_threads threads (one
// pass per group of kinds, and the decay scores beside them); the result does not depend on the thread count.
//
// A Snapshot is immutable: publish it as std::shared_ptr<const Snapshot> and swap the pointer when the
// store changes (SnapshotHolder). Lookups are const, lock-free and allocate nothing (Vectorscan needs a
// per-thread scratch, held by the Matcher). Which hits count — validity at the event's time, confirmation
// of multi-comparison patterns — is the Matcher's business (matcher.h).
#pragma once

#include <atomic>
#include <array>
#include <cstdint>
#include <cstring>
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
#include "detect/key_table.h"
#include "detect/logs/log_reader.h"
#include "detect/prefix_table.h"
#include "detect/regex_set.h"

namespace concord::detect {

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
  static constexpr size_t kMaxLabels = 63;

  // What a domain lookup probes: which suffixes of the name (bit j: the one at starts[j]; j = 0 the name
  // itself) and their hashes. PlanDomain computes it once and starts loading the probed cache lines; a
  // LookupDomain with the plan then hashes nothing again (the Matcher plans a record's names one line
  // ahead, Matcher::Prefetch).
  struct DomainPlan {
    uint64_t probe = 0;  // ~0: more than kMaxLabels labels, every suffix is probed unplanned
    uint32_t starts[kMaxLabels];
    uint64_t hashes[kMaxLabels];
  };

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
  // Starts loading the cache lines a Lookup of this normalised value will probe first (a domain: the
  // name's and its parents' table slots; other kinds but addresses: the value's slot) and returns; a
  // hint, with no effect on results. Matcher::Prefetch calls it a record ahead of the lookups.
  void Prefetch(ValueKind kind, std::string_view normalized) const;
  // The plan for `name` (a normalised domain name), its probes prefetched.
  void PlanDomain(std::string_view name, DomainPlan& plan) const;
  // Lookup(kDomain, name, nullptr, found) with a plan that PlanDomain made for `name` on this snapshot.
  void LookupDomain(std::string_view name, const DomainPlan& plan,
                    absl::FunctionRef<void(const Candidate&)> found) const;
  // Only the regexes of `kind` (Lookup runs them too).
  void ScanRegexes(ValueKind kind, std::string_view normalized, RegexSet::Scratch& scratch,
                   absl::FunctionRef<void(const Candidate&)> found) const;

  // The kinds of observed values that can find a candidate here (a value of any other kind finds nothing,
  // whatever it is): kinds with values or regexes, the four address kinds together (normalisation moves
  // values between them), and url when domains or addresses can match (a URL's host is looked up).
  logs::KindMask candidate_kinds() const { return candidate_kinds_; }
  // The kinds a log reader must report for matching against this snapshot to find every hit: the
  // candidate kinds, or every kind when some indicator's pattern needs confirmation (the evaluator may
  // look at any observable of the record). Meant for logs::ReaderOptions::kinds.
  logs::KindMask observed_kinds() const { return observed_kinds_; }

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
  // A value record: uint32 posting count, uint16 size, the value's bytes, then the postings (uint32 each:
  // indicator index, bit 31 decisive, bit 30 covers subdomains). Unaligned; read with memcpy.
  static constexpr size_t kRecordHeader = 6;
  std::string_view RecordKey(uint32_t record) const {
    uint16_t size;
    std::memcpy(&size, values_.data() + record + 4, sizeof size);
    return {values_.data() + record + kRecordHeader, size};
  }
  void EmitList(uint32_t record, ValueKind kind, bool whole_name_only,
                absl::FunctionRef<void(const Candidate&)> found) const;
  void LookupDomain(std::string_view name, absl::FunctionRef<void(const Candidate&)> found) const;
  // The suffixes of `name` LookupDomain probes: bit j of the result for the suffix at starts[j] (j = 0:
  // the name; its table is exact_[kDomain], the others' domain_parents_), with its hash in hashes[j],
  // prefetched. ~0 when the name has more than kMaxLabels labels (then every suffix is probed unprefetched).
  uint64_t DomainProbes(std::string_view name, uint32_t* starts, uint64_t* hashes) const;
  uint32_t FindExact(const KeyTable& table, uint64_t hash, std::string_view key) const {
    return table.Find(hash, key, [this](uint32_t record) { return RecordKey(record); });
  }

  std::vector<SnapshotIndicator> indicators_;
  std::string text_;  // ids that are not plain indicator uuids, and names
  std::vector<std::shared_ptr<const pattern::Pattern>> patterns_;
  LargeArray<char> values_;  // the value records
  HashKey hash_key_;
  std::vector<KeyTable> exact_;  // by kind: records of that kind (address kinds: none, see ipv4_/ipv6_)
  KeyTable domain_parents_;      // the domain records some posting of which covers subdomains
  // Bit n (n < 63; 63: 63 or more): some key of exact_[kDomain] / domain_parents_ has n labels. A name's
  // suffixes with a label count no key has are not probed (most often the top-level domain).
  uint64_t domain_labels_ = 0;
  uint64_t parent_labels_ = 0;
  logs::KindMask candidate_kinds_ = 0;
  logs::KindMask observed_kinds_ = 0;
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
  // Threads Build() may use (the calling thread counts; 1: build on the calling thread alone).
  int build_threads = 2;
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
