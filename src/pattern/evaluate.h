// concord/pattern/evaluate.h — matching a parsed Pattern against observed data (STIX 2.1 §9.6).
//
// Input is a list of Observations: one per observed-data object, each with its time window and the
// SCOs it observed (resolved from a bundle by ObservationsFromBundle, or built by hand). Evaluate()
// reports whether the pattern matched and which observations took part.
//
// Semantics (decisions the spec leaves open are marked "Concord:"):
//  - Inside [ ]: a comparison selects objects of its type; the comparisons joined by AND must all hold on
//    the same root object (a root = an object listed in object_refs, or any entry of the deprecated
//    `objects` dictionary). A type mismatch (wrong object type, or a value of another JSON kind than the
//    literal) makes the comparison false, never an error.
//  - Paths: `x_ref` / `x_refs[*]` values dereference to the referenced SCO of the same observation;
//    `[*]` is any element, `[n]` the n-th. A comparison holds when any resolved value satisfies it;
//    NOT negates per value, and only values that exist and are comparable count (so a missing property
//    never matches, with or without NOT). EXISTS holds when the path resolves to at least one value.
//  - Strings compare after Unicode NFC, in code point order. LIKE: % and _ over code points. MATCHES:
//    PCRE2 in UTF mode, unanchored. ISSUBSET / ISSUPERSET: IPv4/IPv6 address or CIDR containment.
//    t'' compares as an instant with RFC 3339 string properties; h'' and b'' compare bytes with hex or
//    base64 string properties.
//  - Observation expressions join distinct observations (an observation operator combines different
//    observed-data instances, as the OASIS reference matcher does): AND = both sides hold; OR;
//    FOLLOWEDBY = timestamps can be picked inside each observation's [first_observed, last_observed]
//    so that every left one ≤ every right one (latest left first_observed ≤ earliest right
//    last_observed);
//    WITHIN n SECONDS = max(last_observed) − min(first_observed) ≤ n over the observations used;
//    START s STOP e = every observation used has s ≤ first_observed and last_observed < e;
//    REPEATS n TIMES = n matches of the child on pairwise distinct observations (Concord: the candidate
//    sets are, from each child match in time order, the earliest n distinct matches — exact for the
//    usual [ … ] REPEATS n, and linear instead of combinatorial). number_observed is not counted as
//    repetitions: each observed-data is one observation.
//
// Thread-safety: Evaluate() is pure; any number of threads may evaluate one Pattern concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/object.hpp"
#include "boost/json/value.hpp"
#include "common/time.h"
#include "pattern/pattern.h"

namespace concord::pattern {

struct Observation {
  std::string id;  // the observed-data id ("" when built by hand)
  Timestamp first_observed;
  Timestamp last_observed;
  int64_t number_observed = 1;
  // Every SCO reachable in this observation, by the key `_ref` values use: STIX ids for object_refs,
  // local keys ("0", "1", …) for the deprecated `objects` dictionary.
  boost::json::object objects;
  std::vector<std::string> roots;  // keys of `objects` that comparisons start from
};

// Builds one Observation per observed-data object in `bundle` (a bundle object, or an array of STIX
// objects). object_refs are resolved from the same bundle; SCOs those reference (…_ref, …_refs) are
// added as non-root objects. Errors (InvalidArgument) name the observed-data id and field.
[[nodiscard]] absl::StatusOr<std::vector<Observation>> ObservationsFromBundle(const boost::json::value& bundle);

struct EvaluateOptions {
  // Upper bound on the candidate observation combinations kept per expression node. Past it the
  // evaluation continues with the first max_bindings and MatchResult::truncated is set.
  size_t max_bindings = 10000;
};

struct MatchResult {
  bool matched = false;
  std::vector<std::string> observation_ids;  // observations in any satisfying combination, input order
  std::vector<size_t> observation_indexes;   // the same, as indexes into the input
  bool truncated = false;
};

MatchResult Evaluate(const Pattern& pattern, std::span<const Observation> observations,
                     const EvaluateOptions& options = {});

// Whether the comparison expression of an observation node ([ … ]) holds on one observation.
// Exposed for detection, which matches single observations without time context.
bool MatchesObservation(const Pattern& pattern, uint32_t observation_node, const Observation& observation);

}  // namespace concord::pattern
