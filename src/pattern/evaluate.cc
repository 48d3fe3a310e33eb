#include "pattern/evaluate.h"

#include <algorithm>
#include <unordered_map>

#include "boost/json/array.hpp"
#include "boost/json/string.hpp"
#include "common/status.h"
#include "fmt/format.h"
#include "pattern/detail/text.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace concord::pattern {

namespace {

namespace json = boost::json;

std::string_view ToSv(const json::string& s) { return {s.data(), s.size()}; }

// Per-Evaluate scratch: PCRE2 match data is not shareable between threads, so each call owns one.
struct Scratch {
  pcre2_match_data* match_data = nullptr;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (match_data) pcre2_match_data_free(match_data);
  }
  pcre2_match_data* Get() {
    if (!match_data) match_data = pcre2_match_data_create(1, nullptr);
    return match_data;
  }
};

// ---------------------------------------------------------------------------------------------------
// Paths

// Resolves `steps` from `root`, appending every value reached. Iterative (a frontier per step), so a
// long path cannot exhaust the stack.
void Resolve(const Observation& obs, const json::value& root, std::span<const PathStep> steps,
             std::vector<const json::value*>& out) {
  std::vector<const json::value*> cur{&root}, next;
  for (const PathStep& step : steps) {
    next.clear();
    for (const json::value* v : cur) {
      switch (step.kind) {
        case PathStepKind::kProperty: {
          const json::value* base = v;
          // A reference (…_ref, or an element of …_refs) dereferences to the SCO it names.
          if (base->is_string()) {
            auto it = obs.objects.find(ToSv(base->get_string()));
            if (it == obs.objects.end()) break;
            base = &it->value();
          }
          if (!base->is_object()) break;
          const json::object& o = base->get_object();
          auto it = o.find(step.name);
          if (it != o.end()) next.push_back(&it->value());
          break;
        }
        case PathStepKind::kIndex:
          if (v->is_array() && static_cast<uint64_t>(step.index) < v->get_array().size()) {
            next.push_back(&v->get_array()[static_cast<size_t>(step.index)]);
          }
          break;
        case PathStepKind::kAnyIndex:
          if (v->is_array()) {
            for (const json::value& e : v->get_array()) next.push_back(&e);
          }
          break;
      }
    }
    cur.swap(next);
    if (cur.empty()) break;
  }
  out.insert(out.end(), cur.begin(), cur.end());
}

// ---------------------------------------------------------------------------------------------------
// Values

template <typename T>
int Order(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

// Ordering of a property value against a literal, or nullopt when they are not comparable.
std::optional<int> CompareValue(const json::value& v, const Literal& lit) {
  switch (lit.kind) {
    case LiteralKind::kString: {
      if (!v.is_string()) return std::nullopt;
      const std::string_view s = ToSv(v.get_string());
      if (detail::IsAscii(s)) return Order(s, lit.value);
      const std::string n = detail::Nfc(s);
      return Order(std::string_view(n), lit.value);
    }
    case LiteralKind::kInteger:
      if (v.is_int64()) return Order(v.get_int64(), lit.integer);
      if (v.is_uint64()) return lit.integer < 0 ? 1 : Order(v.get_uint64(), static_cast<uint64_t>(lit.integer));
      if (v.is_double()) return Order(v.get_double(), lit.real);
      return std::nullopt;
    case LiteralKind::kFloat:
      if (v.is_int64()) return Order(static_cast<double>(v.get_int64()), lit.real);
      if (v.is_uint64()) return Order(static_cast<double>(v.get_uint64()), lit.real);
      if (v.is_double()) return Order(v.get_double(), lit.real);
      return std::nullopt;
    case LiteralKind::kBoolean:
      if (!v.is_bool()) return std::nullopt;
      return Order(v.get_bool(), lit.boolean);
    case LiteralKind::kTimestamp: {
      if (!v.is_string()) return std::nullopt;
      auto ts = ParseRfc3339(ToSv(v.get_string()));
      if (!ts.ok()) return std::nullopt;
      return Order(*ts, lit.timestamp);
    }
    case LiteralKind::kHex:
    case LiteralKind::kBinary: {
      if (!v.is_string()) return std::nullopt;
      const std::string_view s = ToSv(v.get_string());
      // STIX binary properties are base64, hex properties hex; try the literal's own form first.
      std::optional<std::string> bytes =
          lit.kind == LiteralKind::kHex ? detail::DecodeHex(s) : detail::DecodeBase64(s);
      if (!bytes) bytes = lit.kind == LiteralKind::kHex ? detail::DecodeBase64(s) : detail::DecodeHex(s);
      if (!bytes) return std::nullopt;
      return Order(std::string_view(*bytes), lit.value);
    }
  }
  return std::nullopt;
}

// The operator applied to one value: nullopt when not comparable (counts as false, even under NOT).
std::optional<bool> Apply(const Comparison& c, const json::value& v, Scratch& scratch) {
  switch (c.op) {
    case Operator::kEqual:
    case Operator::kNotEqual:
    case Operator::kLess:
    case Operator::kGreater:
    case Operator::kLessEqual:
    case Operator::kGreaterEqual: {
      const Literal& lit = c.literals[0];
      auto ord = CompareValue(v, lit);
      if (!ord) return std::nullopt;
      if (lit.kind == LiteralKind::kBoolean && c.op != Operator::kEqual && c.op != Operator::kNotEqual) {
        return std::nullopt;
      }
      switch (c.op) {
        case Operator::kEqual: return *ord == 0;
        case Operator::kNotEqual: return *ord != 0;
        case Operator::kLess: return *ord < 0;
        case Operator::kGreater: return *ord > 0;
        case Operator::kLessEqual: return *ord <= 0;
        default: return *ord >= 0;
      }
    }
    case Operator::kIn: {
      bool comparable = false;
      for (const Literal& lit : c.literals) {
        auto ord = CompareValue(v, lit);
        if (!ord) continue;
        comparable = true;
        if (*ord == 0) return true;
      }
      if (!comparable) return std::nullopt;
      return false;
    }
    case Operator::kLike: {
      if (!v.is_string()) return std::nullopt;
      const std::string_view s = ToSv(v.get_string());
      if (detail::IsAscii(s)) return detail::Like(s, c.literals[0].value);
      return detail::Like(detail::Nfc(s), c.literals[0].value);
    }
    case Operator::kMatches: {
      if (!v.is_string() || c.regex == nullptr) return std::nullopt;
      const std::string_view raw = ToSv(v.get_string());
      std::string normalised;
      std::string_view s = raw;
      if (!detail::IsAscii(raw)) {
        if (!detail::IsValidUtf8(raw)) return std::nullopt;
        normalised = detail::Nfc(raw);
        s = normalised;
      }
      const int rc = pcre2_match(c.regex, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0,
                                 scratch.Get(), nullptr);
      if (rc >= 0) return true;
      if (rc == PCRE2_ERROR_NOMATCH) return false;
      return std::nullopt;  // match limit, bad UTF-8: not comparable
    }
    case Operator::kIsSubset:
    case Operator::kIsSuperset: {
      if (!v.is_string()) return std::nullopt;
      auto value_net = detail::ParseIpNet(ToSv(v.get_string()));
      auto lit_net = detail::ParseIpNet(c.literals[0].value);
      if (!value_net || !lit_net || value_net->v6 != lit_net->v6) return std::nullopt;
      return c.op == Operator::kIsSubset ? detail::IpNetContains(*lit_net, *value_net)
                                         : detail::IpNetContains(*value_net, *lit_net);
    }
    case Operator::kExists:
      return true;
  }
  return std::nullopt;
}

bool MatchComparison(const Comparison& c, const Observation& obs, const json::object& root, Scratch& scratch) {
  auto type = root.find("type");
  if (type == root.end() || !type->value().is_string() || ToSv(type->value().get_string()) != c.path.object_type) {
    return false;
  }
  std::vector<const json::value*> values;
  // The root is addressed as a json::value; wrap without copying by resolving its first step directly.
  const PathStep& first = c.path.steps[0];
  auto it = root.find(first.name);
  if (it == root.end()) return false;
  Resolve(obs, it->value(), c.path.steps.subspan(1), values);
  if (values.empty()) return false;
  if (c.op == Operator::kExists) return true;
  for (const json::value* v : values) {
    auto r = Apply(c, *v, scratch);
    if (r && (*r != c.negated)) return true;
  }
  return false;
}

bool MatchExpression(const Pattern& p, uint32_t node, const Observation& obs, const json::object& root,
                     Scratch& scratch) {
  const ComparisonNode& n = p.comparison_nodes()[node];
  switch (n.kind) {
    case ComparisonNodeKind::kComparison:
      return MatchComparison(p.comparisons()[n.comparison], obs, root, scratch);
    case ComparisonNodeKind::kAnd:
      for (uint32_t op : n.operands) {
        if (!MatchExpression(p, op, obs, root, scratch)) return false;
      }
      return true;
    case ComparisonNodeKind::kOr:
      for (uint32_t op : n.operands) {
        if (MatchExpression(p, op, obs, root, scratch)) return true;
      }
      return false;
  }
  return false;
}

bool MatchObservationNode(const Pattern& p, uint32_t node, const Observation& obs, Scratch& scratch) {
  const ObservationNode& n = p.observation_nodes()[node];
  // STIX 2.1 §9.5: the ANDed comparisons of one [ ] bind to one object, so try each root in turn.
  for (const std::string& key : obs.roots) {
    auto it = obs.objects.find(key);
    if (it == obs.objects.end() || !it->value().is_object()) continue;
    if (MatchExpression(p, n.expression, obs, it->value().get_object(), scratch)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------
// Observation expressions: each node yields the combinations of observations that satisfy it.

struct Binding {
  std::vector<uint32_t> obs;  // sorted, distinct indexes into the observations
  Timestamp min_first, max_first, min_last, max_last;
};

bool operator<(const Binding& a, const Binding& b) { return a.obs < b.obs; }
bool operator==(const Binding& a, const Binding& b) { return a.obs == b.obs; }

bool Disjoint(const Binding& a, const Binding& b) {
  size_t i = 0, j = 0;
  while (i < a.obs.size() && j < b.obs.size()) {
    if (a.obs[i] == b.obs[j]) return false;
    if (a.obs[i] < b.obs[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return true;
}

Binding Merge(const Binding& a, const Binding& b) {
  Binding m;
  m.obs.reserve(a.obs.size() + b.obs.size());
  std::set_union(a.obs.begin(), a.obs.end(), b.obs.begin(), b.obs.end(), std::back_inserter(m.obs));
  m.min_first = std::min(a.min_first, b.min_first);
  m.max_first = std::max(a.max_first, b.max_first);
  m.min_last = std::min(a.min_last, b.min_last);
  m.max_last = std::max(a.max_last, b.max_last);
  return m;
}

class Evaluator {
 public:
  Evaluator(const Pattern& p, std::span<const Observation> obs, const EvaluateOptions& options)
      : p_(p), obs_(obs), options_(options) {}

  std::vector<Binding> Eval(uint32_t node) {
    const ObservationNode& n = p_.observation_nodes()[node];
    std::vector<Binding> out;
    switch (n.kind) {
      case ObservationNodeKind::kObservation:
        for (size_t i = 0; i < obs_.size(); ++i) {
          if (!MatchObservationNode(p_, node, obs_[i], scratch_)) continue;
          if (!Room(out)) break;
          const Observation& o = obs_[i];
          out.push_back({{static_cast<uint32_t>(i)}, o.first_observed, o.first_observed, o.last_observed,
                         o.last_observed});
        }
        return out;
      case ObservationNodeKind::kOr:
        for (uint32_t op : n.operands) {
          std::vector<Binding> b = Eval(op);
          for (Binding& x : b) {
            if (!Room(out)) break;
            out.push_back(std::move(x));
          }
        }
        return Dedupe(std::move(out));
      case ObservationNodeKind::kAnd:
      case ObservationNodeKind::kFollowedBy: {
        const bool ordered = n.kind == ObservationNodeKind::kFollowedBy;
        out = Eval(n.operands[0]);
        for (size_t k = 1; k < n.operands.size() && !out.empty(); ++k) {
          std::vector<Binding> right = Eval(n.operands[k]);
          std::vector<Binding> combined;
          for (const Binding& l : out) {
            for (const Binding& r : right) {
              // Observation operators join distinct observations. FOLLOWEDBY: timestamps can be chosen
              // inside each observation's [first_observed, last_observed] with every left one ≤ every
              // right one — the OASIS matcher's reading: latest left first ≤ earliest right last.
              if (!Disjoint(l, r)) continue;
              if (ordered && !(l.max_first <= r.min_last)) continue;
              if (!Room(combined)) break;
              combined.push_back(Merge(l, r));
            }
          }
          out = Dedupe(std::move(combined));
        }
        return out;
      }
      case ObservationNodeKind::kWithin: {
        std::vector<Binding> child = Eval(n.child);
        for (Binding& b : child) {
          const double span = static_cast<double>(b.max_last.seconds - b.min_first.seconds) +
                              static_cast<double>(b.max_last.nanos - b.min_first.nanos) / 1e9;
          if (span <= n.within_seconds) out.push_back(std::move(b));
        }
        return out;
      }
      case ObservationNodeKind::kStartStop: {
        std::vector<Binding> child = Eval(n.child);
        for (Binding& b : child) {
          bool inside = true;
          for (uint32_t i : b.obs) {
            const Observation& o = obs_[i];
            if (o.first_observed < n.start || !(o.last_observed < n.stop)) {
              inside = false;
              break;
            }
          }
          if (inside) out.push_back(std::move(b));
        }
        return out;
      }
      case ObservationNodeKind::kRepeats: {
        std::vector<Binding> child = Eval(n.child);
        std::sort(child.begin(), child.end(),
                  [](const Binding& a, const Binding& b) { return a.min_first < b.min_first; });
        if (static_cast<uint64_t>(n.repeats) > child.size()) return out;
        const auto want = static_cast<size_t>(n.repeats);
        Runs(child, want, out);
        return Dedupe(std::move(out));
      }
    }
    return out;
  }

  bool truncated() const { return truncated_; }

 private:
  bool Room(const std::vector<Binding>& v) {
    if (v.size() < options_.max_bindings) return true;
    truncated_ = true;
    return false;
  }

  static std::vector<Binding> Dedupe(std::vector<Binding> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  }

  // REPEATS n: from each child match, in order of first_observed, take the earliest n pairwise-distinct
  // matches. Those runs are the tightest in time, so a WITHIN or START/STOP above sees the best
  // candidates; it is exact when child matches are single observations (the usual [ … ] REPEATS n), and
  // costs O(matches × n) instead of enumerating every n-combination.
  void Runs(const std::vector<Binding>& child, size_t want, std::vector<Binding>& out) {
    std::vector<uint32_t> used(obs_.size(), 0);
    std::vector<size_t> pick;
    for (size_t start = 0; start + want <= child.size(); ++start) {
      pick.clear();
      for (size_t i = start; i < child.size() && pick.size() < want; ++i) {
        bool free = true;
        for (uint32_t o : child[i].obs) free = free && used[o] == 0;
        if (!free) continue;
        for (uint32_t o : child[i].obs) ++used[o];
        pick.push_back(i);
      }
      for (size_t i : pick) {
        for (uint32_t o : child[i].obs) --used[o];
      }
      if (pick.size() < want) break;  // later starts have fewer candidates still
      if (!Room(out)) return;
      Binding b = child[pick[0]];
      for (size_t k = 1; k < pick.size(); ++k) {
        const Binding& c = child[pick[k]];
        b.obs.insert(b.obs.end(), c.obs.begin(), c.obs.end());
        b.min_first = std::min(b.min_first, c.min_first);
        b.max_first = std::max(b.max_first, c.max_first);
        b.min_last = std::min(b.min_last, c.min_last);
        b.max_last = std::max(b.max_last, c.max_last);
      }
      std::sort(b.obs.begin(), b.obs.end());  // the picks are disjoint: no duplicates to drop
      out.push_back(std::move(b));
    }
  }

  const Pattern& p_;
  std::span<const Observation> obs_;
  const EvaluateOptions& options_;
  Scratch scratch_;
  bool truncated_ = false;
};

// ---------------------------------------------------------------------------------------------------
// Bundles

absl::Status BundleError(std::string_view id, std::string_view field, std::string_view reason) {
  return absl::InvalidArgumentError(fmt::format("{}: {}: {}", id, field, reason));
}

// Collects the ids in …_ref / …_refs properties of `o`, to a bounded depth. The views point into `o`.
void CollectRefs(const json::object& o, int depth, std::vector<std::string_view>& out) {
  if (depth > 16) return;
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    const json::value& val = kv.value();
    const bool ref = key.size() > 4 && key.substr(key.size() - 4) == "_ref";
    const bool refs = key.size() > 5 && key.substr(key.size() - 5) == "_refs";
    if (ref && val.is_string()) {
      out.push_back(ToSv(val.get_string()));
    } else if (refs && val.is_array()) {
      for (const json::value& e : val.get_array()) {
        if (e.is_string()) out.push_back(ToSv(e.get_string()));
      }
    } else if (val.is_object()) {
      CollectRefs(val.get_object(), depth + 1, out);
    } else if (val.is_array()) {
      for (const json::value& e : val.get_array()) {
        if (e.is_object()) CollectRefs(e.get_object(), depth + 1, out);
      }
    }
  }
}

absl::StatusOr<Timestamp> TimeField(const json::object& o, std::string_view id, std::string_view field) {
  auto it = o.find(field);
  if (it == o.end() || !it->value().is_string()) return BundleError(id, field, "missing or not a string");
  auto ts = ParseRfc3339(ToSv(it->value().get_string()));
  if (!ts.ok()) return BundleError(id, field, Sv(ts.status().message()));
  return *ts;
}

}  // namespace

bool MatchesObservation(const Pattern& pattern, uint32_t observation_node, const Observation& observation) {
  Scratch scratch;
  return MatchObservationNode(pattern, observation_node, observation, scratch);
}

MatchResult Evaluate(const Pattern& pattern, std::span<const Observation> observations,
                     const EvaluateOptions& options) {
  Evaluator ev(pattern, observations, options);
  std::vector<Binding> bindings = ev.Eval(pattern.root());
  MatchResult r;
  r.matched = !bindings.empty();
  r.truncated = ev.truncated();
  std::vector<bool> used(observations.size(), false);
  for (const Binding& b : bindings) {
    for (uint32_t i : b.obs) used[i] = true;
  }
  for (size_t i = 0; i < used.size(); ++i) {
    if (!used[i]) continue;
    r.observation_indexes.push_back(i);
    r.observation_ids.push_back(observations[i].id);
  }
  return r;
}

absl::StatusOr<std::vector<Observation>> ObservationsFromBundle(const json::value& bundle) {
  const json::array* items = nullptr;
  if (bundle.is_array()) {
    items = &bundle.get_array();
  } else if (bundle.is_object()) {
    auto it = bundle.get_object().find("objects");
    if (it == bundle.get_object().end() || !it->value().is_array()) {
      return absl::InvalidArgumentError("bundle: objects: missing or not an array");
    }
    items = &it->value().get_array();
  } else {
    return absl::InvalidArgumentError("bundle: expected a bundle object or an array of objects");
  }
  std::unordered_map<std::string_view, const json::object*> by_id;
  for (const json::value& v : *items) {
    if (!v.is_object()) continue;
    auto id = v.get_object().find("id");
    if (id != v.get_object().end() && id->value().is_string()) by_id[ToSv(id->value().get_string())] = &v.get_object();
  }
  std::vector<Observation> out;
  for (const json::value& v : *items) {
    if (!v.is_object()) continue;
    const json::object& o = v.get_object();
    auto type = o.find("type");
    if (type == o.end() || !type->value().is_string() || type->value().get_string() != "observed-data") continue;
    Observation obs;
    auto id = o.find("id");
    if (id != o.end() && id->value().is_string()) obs.id = std::string(ToSv(id->value().get_string()));
    const std::string_view name = obs.id.empty() ? std::string_view("observed-data") : std::string_view(obs.id);
    CONCORD_ASSIGN_OR_RETURN(obs.first_observed, TimeField(o, name, "first_observed"));
    CONCORD_ASSIGN_OR_RETURN(obs.last_observed, TimeField(o, name, "last_observed"));
    if (obs.last_observed < obs.first_observed) {
      return BundleError(name, "last_observed", "earlier than first_observed");
    }
    if (auto n = o.find("number_observed"); n != o.end()) {
      if (!n->value().is_int64() || n->value().get_int64() < 1) {
        return BundleError(name, "number_observed", "not a positive integer");
      }
      obs.number_observed = n->value().get_int64();
    }
    auto refs = o.find("object_refs");
    auto objects = o.find("objects");
    if (refs != o.end()) {
      if (!refs->value().is_array()) return BundleError(name, "object_refs", "not an array");
      std::vector<std::string_view> pending;
      size_t k = 0;
      for (const json::value& r : refs->value().get_array()) {
        if (!r.is_string()) return BundleError(name, fmt::format("object_refs[{}]", k), "not a string");
        const std::string_view ref = ToSv(r.get_string());
        auto found = by_id.find(ref);
        if (found == by_id.end()) {
          return BundleError(name, fmt::format("object_refs[{}]", k), fmt::format("'{}' is not in the bundle", ref));
        }
        if (!obs.objects.contains(ref)) {
          obs.objects.emplace(ref, *found->second);
          obs.roots.emplace_back(ref);
          CollectRefs(*found->second, 0, pending);
        }
        ++k;
      }
      // SCOs referenced from the observed SCOs (a file's parent_directory_ref, …) are reachable too.
      while (!pending.empty()) {
        const std::string_view ref = pending.back();
        pending.pop_back();
        if (obs.objects.contains(ref)) continue;
        auto found = by_id.find(ref);
        if (found == by_id.end()) continue;
        obs.objects.emplace(ref, *found->second);
        CollectRefs(*found->second, 0, pending);
      }
    } else if (objects != o.end()) {
      if (!objects->value().is_object()) return BundleError(name, "objects", "not an object");
      for (const auto& kv : objects->value().get_object()) {
        obs.objects.emplace(kv.key(), kv.value());
        obs.roots.emplace_back(kv.key());
      }
    } else {
      return BundleError(name, "object_refs", "missing (and no deprecated objects dictionary)");
    }
    out.push_back(std::move(obs));
  }
  return out;
}

}  // namespace concord::pattern
