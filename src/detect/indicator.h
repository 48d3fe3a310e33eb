// concord/detect/indicator.h — what detection takes from one stored STIX indicator: its matchable values
// (normalised), its LIKE/MATCHES comparisons, validity window, TLP and decay score.
//
// Both the matcher snapshot (snapshot.h) and the detection exports read indicators through ReadIndicator,
// so a value that one of them detects the other exports, with the same normalisation and the same score.
//
// Decay (MISP's polynomial model): score = base × (1 − (t / lifetime)^(1 / speed)), clamped to [0, base],
// where t is the time since the indicator last proved itself — the later of valid_from and the last
// sighting of it — and lifetime and speed depend on the indicator's kind (the kind of its first matchable
// value). base is the indicator's `confidence` (0–100) when it has one, else DecayPolicy::default_base.
// The score is computed when a snapshot or an export is built, never per query.
//
// Thread-safety: pure functions; DecayPolicy is a value.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "pattern/extract.h"
#include "pattern/pattern.h"
#include "stix/object.h"
#include "store/store.h"

namespace concord::detect {

using pattern::ValueKind;
inline constexpr size_t kValueKindCount = static_cast<size_t>(ValueKind::kX509Serial) + 1;

struct DecayModel {
  double lifetime_days = 30;
  double speed = 0.3;  // MISP's "decay speed": > 1 drops early, < 1 holds then drops near the end
};

struct DecayPolicy {
  std::array<DecayModel, kValueKindCount> models;
  double default_base = 100;
  // Defaults: addresses and CIDRs 30 days, domains and URLs 90, e-mail 180, hashes and the other kinds
  // 365; speed 0.3 for all.
  static DecayPolicy Default();
  double Score(ValueKind kind, std::optional<int> confidence, const Timestamp& since, const Timestamp& now) const;
};

// One matchable value of an indicator, normalised (correlate::NormalizeAs).
struct IndicatorValue {
  ValueKind kind = ValueKind::kIpv4;
  std::string value;
  bool decisive = false;           // a match on this value alone proves the pattern (pattern::Extract)
  bool include_subdomains = false; // kDomain: the domain and every name below it
  friend bool operator==(const IndicatorValue&, const IndicatorValue&) = default;
};

// A LIKE or MATCHES comparison on an indexable path, as a Vectorscan/PCRE expression. Candidates it finds
// are always confirmed by the pattern evaluator, so the expression may over-approximate.
struct RegexComparison {
  ValueKind kind = ValueKind::kUrl;
  std::string expression;  // PCRE syntax, anchored for LIKE
  friend bool operator==(const RegexComparison&, const RegexComparison&) = default;
};

struct Indicator {
  std::string id;
  std::string name;
  stix::Tlp tlp = stix::Tlp::kNone;
  bool revoked = false;
  std::optional<Timestamp> valid_from;
  std::optional<Timestamp> valid_until;
  std::optional<int> confidence;
  std::vector<IndicatorValue> values;  // deduplicated, in pattern order
  std::vector<RegexComparison> regexes;
  // Some value is not decisive, or there are regexes: a candidate must be confirmed with `pattern`.
  bool needs_confirmation = false;
  std::shared_ptr<const pattern::Pattern> pattern;  // set when needs_confirmation
};

struct ReadOptions {
  // Domain indicators match the domain and every name below it unless the indicator says
  // "x_concord_subdomains": false (true: always). STIX `domain-name:value = 'x'` is exact by the letter of
  // the spec, but the attacker who owns x owns its subdomains, and feeds mean them.
  bool domain_subdomains = true;
};

// Why an indicator contributes nothing to detection (counted in snapshot and export statistics).
enum class Skip {
  kNone,
  kNotStix,         // pattern_type other than "stix" (snort, yara, sigma, …)
  kBadPattern,      // the pattern does not parse (it was valid when stored: a newer rule refuses it)
  kNotIndexable,    // no comparison Concord can look up (e.g. only file:size > 10)
  kRevoked,
  kNotYetValid,
  kExpired,
};
std::string_view SkipName(Skip skip);

// Reads a stored indicator (object JSON, TLP and revocation from the stored columns). InvalidArgument
// names the field when the JSON is not an indicator at all; *skip says why an otherwise readable
// indicator has no use at `now` (kNone: it has). Expired and not-yet-valid indicators are still read in
// full so that a caller can schedule a rebuild at valid_from.
[[nodiscard]] absl::StatusOr<Indicator> ReadIndicator(const store::StoredObject& stored, const ReadOptions& options,
                                                      const Timestamp& now, Skip* skip);

// The normalised form of a raw value read as `kind` (kind and value; the kind may change, e.g. an
// IPv4-mapped IPv6 address is ipv4), or nullopt when it is no valid value of that kind.
std::optional<IndicatorValue> NormalizeValue(ValueKind kind, std::string_view raw);

}  // namespace concord::detect
