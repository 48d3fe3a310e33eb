// concord/detect/matcher.h — turning observed values (from log records, or given one by one) into hits
// on the indicators of a snapshot.
//
// For each observable the Matcher normalises the raw value the way indicators are normalised (fast paths
// for the hot kinds: dotted quads, ASCII domain names, hex hashes; correlate::NormalizeAs otherwise),
// looks it up in the snapshot, and keeps a candidate when
//   - the indicator is valid at the record's time (valid_from ≤ t < valid_until; t = the record's own time
//     when it has one, else the snapshot's build time), and
//   - the candidate is decisive, or the pattern evaluator confirms the indicator's whole pattern: on the
//     record as one observation (its values as SCOs: ipv4-addr, domain-name, url, file with hashes and
//     name, email-addr, x509-certificate, and a network-traffic whose src_ref/dst_ref are the record's
//     source and destination addresses), or, for patterns with observation operators (AND, FOLLOWEDBY,
//     WITHIN, REPEATS, START/STOP), on the recent records that were candidates for the same indicator
//     (at most kWindowRecords of them, and none older than the pattern's WITHIN or an hour).
// A URL observable also looks up its host (as domain or address), so a domain indicator fires on URLs.
// Values of kinds that nothing in the snapshot can match (Snapshot::candidate_kinds) are skipped unread.
//
// A Matcher holds per-stream state (confirmation windows, scratch space) and is used by one thread; any
// number of Matchers share one immutable Snapshot. SetSnapshot swaps it between records.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "detect/logs/log_reader.h"
#include "detect/snapshot.h"
#include "pattern/evaluate.h"

namespace concord::detect {

struct Hit {
  uint32_t indicator = 0;        // index in the snapshot
  ValueKind kind = ValueKind::kIpv4;  // of the observed value
  std::string_view value;        // the observed value, normalised
  std::string_view field;        // where the value was found ("" when given alone)
  ValueKind matched_kind = ValueKind::kIpv4;
  std::string_view matched;      // the indicator's value (covering domain, CIDR, expression)
  bool confirmed = false;        // the pattern evaluator confirmed it (the indicator is not a single value)
};

struct MatcherStats {
  uint64_t records = 0;
  uint64_t observables = 0;
  uint64_t skipped = 0;         // values of a kind no indicator of the snapshot can match (not normalised)
  uint64_t unnormalizable = 0;  // values that are no valid value of their kind
  uint64_t candidates = 0;
  uint64_t outside_validity = 0;
  uint64_t unconfirmed = 0;
  uint64_t hits = 0;
};

class Matcher {
 public:
  static constexpr size_t kWindowRecords = 32;

  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Matcher>> Create(std::shared_ptr<const Snapshot> snapshot);

  // Replaces the snapshot (between records). Confirmation windows refer to indicator numbers of the old
  // snapshot, so they are dropped.
  [[nodiscard]] absl::Status SetSnapshot(std::shared_ptr<const Snapshot> snapshot);
  const Snapshot& snapshot() const { return *snapshot_; }

  // The hits of one log record. Views in the Hit are valid during the call.
  void Match(const logs::Record& record, absl::FunctionRef<void(const Hit&)> hit);

  // Starts loading the snapshot's cache lines that matching `record` will probe (its domain names and
  // hashes) and returns; a hint with no effect on results. Meant for the reader's read-ahead
  // (logs::LogReader::SetReadAhead), which calls it one line before the record goes to Match, so that the
  // table misses overlap with reading that line. The last few domain names' plans are kept (by their
  // normalised text), so that Match does not hash them again.
  void Prefetch(const logs::Record& record);

  // The hits of one raw value of `kind` observed at `time_ms` (nullopt: the snapshot's build time).
  void MatchValue(ValueKind kind, std::string_view raw, std::optional<int64_t> time_ms,
                  absl::FunctionRef<void(const Hit&)> hit);

  const MatcherStats& stats() const { return stats_; }

 private:
  explicit Matcher(std::shared_ptr<const Snapshot> snapshot) : snapshot_(std::move(snapshot)) {}

  void MatchOne(ValueKind kind, std::string_view raw, std::string_view field, int64_t time_ms,
                const logs::Record* record, absl::FunctionRef<void(const Hit&)> hit);
  bool Confirm(uint32_t indicator, const logs::Record* record, ValueKind kind, std::string_view value, int64_t time_ms);
  pattern::Observation ObservationOf(const logs::Record* record, ValueKind kind, std::string_view value,
                                     int64_t time_ms) const;

  // A domain name planned by Prefetch (Snapshot::PlanDomain), found again by its normalised text.
  static constexpr size_t kPlannedNames = 4;
  static constexpr size_t kPlannedNameBytes = 256;
  struct Planned {
    const Snapshot* snapshot = nullptr;  // null: unused
    size_t size = 0;
    char name[kPlannedNameBytes];
    Snapshot::DomainPlan plan;
  };
  const Planned* FindPlanned(std::string_view name) const;

  std::shared_ptr<const Snapshot> snapshot_;
  std::array<Planned, kPlannedNames> planned_;
  size_t next_planned_ = 0;
  RegexSet::Scratch scratch_;
  std::string value_buffer_;
  std::string host_buffer_;
  struct Window {
    std::deque<pattern::Observation> observations;
  };
  absl::flat_hash_map<uint32_t, Window> windows_;
  // (indicator, value) pairs already reported for the current record.
  std::vector<std::pair<uint32_t, std::string>> reported_;
  MatcherStats stats_;
};

}  // namespace concord::detect
