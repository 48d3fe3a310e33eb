#include "detect/snapshot.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstring>
#include <exception>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "common/status.h"
#include "detect/ip_index.h"
#include "fmt/format.h"

namespace concord::detect {

namespace {
constexpr uint32_t kKeyOffsetMask = 0x7fffffffu;  // list_key_: bit 31 says "some posting covers subdomains"
constexpr uint32_t kKeySubtreeBit = 0x80000000u;
}  // namespace

// The distinct values of one kind, as a hash set of list numbers that hashes and compares through the
// snapshot's key arena; found by the value's text (heterogeneous lookup).
class KeyIndex {
 public:
  struct Keys {
    const std::string* arena;
    const std::vector<uint32_t>* offsets;
    std::string_view Text(uint32_t list) const {
      const size_t at = (*offsets)[list] & kKeyOffsetMask;
      uint16_t size;
      std::memcpy(&size, arena->data() + at, sizeof size);
      return {arena->data() + at + sizeof size, size};
    }
  };
  struct Hash {
    using is_transparent = void;
    Keys keys;
    size_t operator()(uint32_t list) const { return (*this)(keys.Text(list)); }
    size_t operator()(std::string_view text) const {
      return absl::Hash<absl::string_view>{}(absl::string_view(text.data(), text.size()));
    }
  };
  struct Eq {
    using is_transparent = void;
    Keys keys;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t a, std::string_view b) const { return keys.Text(a) == b; }
    bool operator()(std::string_view a, uint32_t b) const { return a == keys.Text(b); }
  };

  explicit KeyIndex(Keys keys) : set_(0, Hash{keys}, Eq{keys}) {}
  void Insert(uint32_t list) { set_.insert(list); }
  void Reserve(size_t n) { set_.reserve(n); }
  uint32_t Find(std::string_view text) const {
    auto it = set_.find(text);
    return it == set_.end() ? kNoMatch : *it;
  }
  size_t size() const { return set_.size(); }
  size_t MemoryBytes() const { return sizeof(*this) + set_.capacity() * (sizeof(uint32_t) + 1); }

 private:
  absl::flat_hash_set<uint32_t, Hash, Eq> set_;
};

namespace {

constexpr uint32_t kDecisiveBit = 1u << 31;
constexpr uint32_t kSubtreeBit = 1u << 30;
constexpr uint32_t kIndexMask = kSubtreeBit - 1;
constexpr std::string_view kIndicatorPrefix = "indicator--";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not the canonical form: keep such ids as text
}

// "indicator--" + lower-case canonical UUID → 16 bytes.
std::optional<std::array<uint8_t, 16>> IndicatorUuid(std::string_view id) {
  if (!id.starts_with(kIndicatorPrefix) || id.size() != kIndicatorPrefix.size() + 36) return std::nullopt;
  std::string_view u = id.substr(kIndicatorPrefix.size());
  std::array<uint8_t, 16> out{};
  size_t n = 0;
  for (size_t i = 0; i < u.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (u[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    const int hi = HexDigit(u[i]);
    const int lo = HexDigit(u[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[n++] = static_cast<uint8_t>(hi * 16 + lo);
    i += 2;
  }
  return out;
}


struct Net {
  bool v6 = false;
  Ipv6Address address;  // IPv4: the address in lo
  int length = 0;
};

// A canonical address or CIDR ("10.0.0.0/8", "2001:db8::1") as the normaliser writes it.
std::optional<Net> ParseNet(std::string_view text) {
  Net net;
  char buf[INET6_ADDRSTRLEN];
  std::string_view address = text;
  const size_t slash = text.find('/');
  if (slash != std::string_view::npos) address = text.substr(0, slash);
  if (address.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, address.data(), address.size());
  buf[address.size()] = '\0';
  if (address.find(':') == std::string_view::npos) {
    in_addr a{};
    if (inet_pton(AF_INET, buf, &a) != 1) return std::nullopt;
    net.address.lo = ntohl(a.s_addr);
    net.length = 32;
  } else {
    in6_addr a{};
    if (inet_pton(AF_INET6, buf, &a) != 1) return std::nullopt;
    net.v6 = true;
    for (int b = 0; b < 8; ++b) net.address.hi = (net.address.hi << 8) | a.s6_addr[b];
    for (int b = 8; b < 16; ++b) net.address.lo = (net.address.lo << 8) | a.s6_addr[b];
    net.length = 128;
  }
  if (slash != std::string_view::npos) {
    int length = 0;
    for (char c : text.substr(slash + 1)) {
      if (c < '0' || c > '9' || length > 128) return std::nullopt;
      length = length * 10 + (c - '0');
    }
    if (length > net.length) return std::nullopt;
    net.length = length;
  }
  return net;
}

bool IsIpKind(ValueKind k) {
  return k == ValueKind::kIpv4 || k == ValueKind::kIpv6 || k == ValueKind::kCidr4 || k == ValueKind::kCidr6;
}

}  // namespace

struct SnapshotBuilder::Pending {
  struct Entry {
    SnapshotIndicator hot;
    ValueKind score_kind = ValueKind::kIpv4;
    std::optional<int> confidence;
    std::optional<Timestamp> valid_from;
    std::string id;
  };
  struct Posting {
    ValueKind kind;
    std::string value;
    uint32_t indicator;
    bool decisive;
    bool subtree;
  };
  struct Regex {
    ValueKind kind;
    std::string expression;
    uint32_t indicator;
  };
  std::vector<Entry> entries;
  std::string text;
  std::vector<std::shared_ptr<const pattern::Pattern>> patterns;
  std::vector<Posting> postings;
  std::vector<Regex> regexes;
  absl::flat_hash_map<std::string, Timestamp> sightings;
  SnapshotStats stats;
  std::optional<Timestamp> next_change;
};

SnapshotBuilder::SnapshotBuilder(const SnapshotOptions& options, const Timestamp& now)
    : options_(options), now_(now), pending_(std::make_unique<Pending>()) {}
SnapshotBuilder::~SnapshotBuilder() = default;

absl::Status SnapshotBuilder::AddStored(const store::StoredObject& stored) {
  Skip skip = Skip::kNone;
  CONCORD_ASSIGN_OR_RETURN(Indicator indicator, ReadIndicator(stored, options_.read, now_, &skip));
  Add(std::move(indicator), skip);
  return absl::OkStatus();
}

void SnapshotBuilder::Add(Indicator indicator, Skip skip) {
  Pending& p = *pending_;
  auto note_change = [&](const Timestamp& at) {
    if (at > now_ && (!p.next_change || at < *p.next_change)) p.next_change = at;
  };
  if (skip == Skip::kNotYetValid && indicator.valid_from) note_change(*indicator.valid_from);
  if (skip != Skip::kNone) {
    ++p.stats.skipped[std::string(SkipName(skip))];
    return;
  }
  if (indicator.valid_until) note_change(*indicator.valid_until);

  const auto index = static_cast<uint32_t>(p.entries.size());
  size_t kept = 0;
  for (IndicatorValue& v : indicator.values) {
    if (v.value.size() > UINT16_MAX) continue;
    if (options_.warninglists != nullptr && options_.warninglists->Listed(v.kind, v.value)) {
      ++p.stats.warninglisted;
      continue;
    }
    p.postings.push_back({v.kind, std::move(v.value), index, v.decisive, v.include_subdomains});
    ++kept;
  }
  for (RegexComparison& r : indicator.regexes) {
    p.regexes.push_back({r.kind, std::move(r.expression), index});
    ++kept;
  }
  if (kept == 0) {
    ++p.stats.skipped["warninglisted"];
    return;
  }

  Pending::Entry e;
  SnapshotIndicator& hot = e.hot;
  if (auto uuid = IndicatorUuid(indicator.id)) {
    hot.uuid = *uuid;
  } else {
    hot.id_size = static_cast<uint16_t>(std::min<size_t>(indicator.id.size(), UINT16_MAX));
  }
  hot.text_offset = static_cast<uint32_t>(p.text.size());
  if (hot.id_size > 0) p.text.append(indicator.id, 0, hot.id_size);
  hot.name_size = static_cast<uint16_t>(std::min<size_t>(indicator.name.size(), UINT16_MAX));
  p.text.append(indicator.name, 0, hot.name_size);
  hot.tlp_ = static_cast<uint8_t>(indicator.tlp);
  if (indicator.needs_confirmation && indicator.pattern) {
    hot.pattern = static_cast<uint32_t>(p.patterns.size());
    p.patterns.push_back(std::move(indicator.pattern));
  }
  if (indicator.valid_from) {
    // Rounded up to the second: never valid earlier than it says.
    const int64_t s = indicator.valid_from->seconds + (indicator.valid_from->nanos > 0 ? 1 : 0) -
                      SnapshotIndicator::kEpoch2000;
    hot.valid_from = static_cast<uint32_t>(std::clamp<int64_t>(s, 0, UINT32_MAX - 1));
  }
  if (indicator.valid_until) {
    const int64_t s = indicator.valid_until->seconds - SnapshotIndicator::kEpoch2000;
    hot.valid_until = static_cast<uint32_t>(std::clamp<int64_t>(s, 0, UINT32_MAX - 1));
  }
  e.score_kind = !indicator.values.empty() ? indicator.values.front().kind
                                           : (!indicator.regexes.empty() ? indicator.regexes.front().kind : ValueKind::kIpv4);
  e.confidence = indicator.confidence;
  e.valid_from = indicator.valid_from;
  e.id = std::move(indicator.id);
  p.entries.push_back(std::move(e));
}

void SnapshotBuilder::AddSighting(std::string_view indicator_id, const Timestamp& last_seen) {
  auto [it, inserted] = pending_->sightings.try_emplace(absl::string_view(indicator_id.data(), indicator_id.size()), last_seen);
  if (!inserted && it->second < last_seen) it->second = last_seen;
}

absl::StatusOr<std::shared_ptr<const Snapshot>> SnapshotBuilder::Build() {
  const auto started = std::chrono::steady_clock::now();
  Pending& p = *pending_;
  std::shared_ptr<Snapshot> s(new Snapshot());
  s->built_at_ = now_;
  s->next_change_ = p.next_change;
  s->stats_ = std::move(p.stats);
  s->stats_.source_seq = source_seq_;

  // Indicators, with their decay score as of now.
  s->indicators_.reserve(p.entries.size());
  for (Pending::Entry& e : p.entries) {
    Timestamp since = e.valid_from.value_or(now_);
    if (auto it = p.sightings.find(e.id); it != p.sightings.end() && it->second > since) since = it->second;
    const double score = options_.decay.Score(e.score_kind, e.confidence, since, now_);
    e.hot.score_hundredths = static_cast<uint16_t>(std::lround(std::clamp(score, 0.0, 100.0) * 100));
    s->indicators_.push_back(e.hot);
  }
  p.entries = {};
  p.sightings = {};
  s->text_ = std::move(p.text);
  s->patterns_ = std::move(p.patterns);
  s->stats_.indicators = s->indicators_.size();

  // Lists: postings grouped by (kind, value) through the key indexes themselves (one hash probe per
  // posting, no sort), then laid out contiguously per list. Postings arrive in indicator order, so each
  // list's indicators come out ascending, and one indicator twice on a value (exact and with
  // subdomains) is adjacent: its flags are merged into one posting.
  s->keys_ = std::make_unique<std::string>();
  const KeyIndex::Keys keys{s->keys_.get(), &s->list_key_};
  s->exact_.resize(kValueKindCount);
  constexpr uint32_t kMerged = kNoMatch;
  std::vector<uint32_t> list_of(p.postings.size());
  std::vector<uint32_t> count;
  std::vector<uint32_t> last_posting;  // per list: the index of its latest posting
  std::vector<uint32_t> ip_lists;      // lists of addresses and CIDRs
  for (size_t i = 0; i < p.postings.size(); ++i) {
    Pending::Posting& q = p.postings[i];
    auto& index = s->exact_[static_cast<size_t>(q.kind)];
    if (!index) index = std::make_unique<KeyIndex>(keys);
    uint32_t list = index->Find(q.value);
    if (list == kNoMatch) {
      list = static_cast<uint32_t>(s->list_key_.size());
      if (s->keys_->size() > kKeyOffsetMask) return absl::ResourceExhaustedError("snapshot: more than 2 GiB of values");
      s->list_key_.push_back(static_cast<uint32_t>(s->keys_->size()));
      const auto size = static_cast<uint16_t>(q.value.size());
      s->keys_->append(reinterpret_cast<const char*>(&size), sizeof size);
      s->keys_->append(q.value);
      index->Insert(list);
      if (IsIpKind(q.kind)) ip_lists.push_back(list);
      count.push_back(0);
      last_posting.push_back(kNoMatch);
      ++s->stats_.values;
      ++s->stats_.values_by_kind[std::string(ValueKindName(q.kind))];
      s->stats_.key_bytes += q.value.size();
    }
    if (q.subtree) s->list_key_[list] |= kKeySubtreeBit;
    const uint32_t last = last_posting[list];
    if (last != kNoMatch && p.postings[last].indicator == q.indicator) {
      p.postings[last].decisive = p.postings[last].decisive || q.decisive;
      p.postings[last].subtree = p.postings[last].subtree || q.subtree;
      list_of[i] = kMerged;
      continue;
    }
    last_posting[list] = static_cast<uint32_t>(i);
    list_of[i] = list;
    ++count[list];
  }
  last_posting = {};
  s->list_begin_.resize(count.size() + 1);
  uint32_t total = 0;
  for (size_t l = 0; l < count.size(); ++l) {
    s->list_begin_[l] = total;
    total += count[l];
  }
  s->list_begin_[count.size()] = total;
  s->postings_.resize(total);
  std::vector<uint32_t>& cursor = count;  // reused: the next free slot of each list
  for (size_t l = 0; l < cursor.size(); ++l) cursor[l] = s->list_begin_[l];
  for (size_t i = 0; i < p.postings.size(); ++i) {
    if (list_of[i] == kMerged) continue;
    const Pending::Posting& q = p.postings[i];
    s->postings_[cursor[list_of[i]]++] = q.indicator | (q.decisive ? kDecisiveBit : 0) | (q.subtree ? kSubtreeBit : 0);
  }
  list_of = {};
  count = {};

  // Addresses go to the prefix tables; their key indexes were only needed to group them.
  std::vector<Ipv4Prefix> v4;
  std::vector<Ipv6Prefix> v6;
  for (ValueKind kind : {ValueKind::kIpv4, ValueKind::kCidr4, ValueKind::kIpv6, ValueKind::kCidr6}) {
    s->exact_[static_cast<size_t>(kind)].reset();
  }
  for (uint32_t list : ip_lists) {
    const std::string_view text = keys.Text(list);
    auto net = ParseNet(text);
    if (!net) return absl::InternalError(fmt::format("snapshot: normalised address '{}' does not parse", text));
    if (!net->v6) {
      v4.push_back({static_cast<uint32_t>(net->address.lo), static_cast<uint8_t>(net->length), list});
    } else {
      v6.push_back({net->address, static_cast<uint8_t>(net->length), list});
    }
  }
  // Growth by doubling leaves up to half of each array unused: give it back, the snapshot never grows.
  s->list_begin_.shrink_to_fit();
  s->list_key_.shrink_to_fit();
  s->keys_->shrink_to_fit();
  s->text_.shrink_to_fit();
  s->stats_.postings = s->postings_.size();
  p.postings = {};
  CONCORD_ASSIGN_OR_RETURN(Ipv4Index ipv4, Ipv4Index::Build(v4));
  CONCORD_ASSIGN_OR_RETURN(Ipv6Index ipv6, Ipv6Index::Build(v6));
  s->ipv4_ = std::make_unique<Ipv4Index>(std::move(ipv4));
  s->ipv6_ = std::make_unique<Ipv6Index>(std::move(ipv6));

  // Regexes, one database per kind; a regex id is its position in regex_text_.
  s->regexes_.resize(kValueKindCount);
  for (size_t k = 0; k < kValueKindCount; ++k) {
    std::vector<RegexSet::Entry> entries;
    for (const Pending::Regex& r : p.regexes) {
      if (static_cast<size_t>(r.kind) != k) continue;
      const auto id = static_cast<uint32_t>(s->regex_text_.size());
      s->regex_text_.push_back(r.expression);
      s->regex_owner_.push_back(r.indicator);
      entries.push_back({r.expression, id});
    }
    if (entries.empty()) continue;
    CONCORD_ASSIGN_OR_RETURN(s->regexes_[k], RegexSet::Build(entries, &s->stats_.regexes_rejected));
    s->stats_.regexes += s->regexes_[k].size();
    s->stats_.regexes_prefiltered += s->regexes_[k].prefiltered();
  }
  p.regexes = {};
  s->has_regexes_ = s->stats_.regexes > 0;

  uint64_t memory = sizeof(Snapshot) + s->indicators_.capacity() * sizeof(SnapshotIndicator) + s->text_.capacity() +
                    s->list_begin_.capacity() * 4 + s->postings_.capacity() * 4 + s->list_key_.capacity() * 4 +
                    s->keys_->capacity() + s->ipv4_->MemoryBytes() +
                    s->ipv6_->MemoryBytes();
  for (const auto& index : s->exact_) memory += index ? index->MemoryBytes() : 0;
  for (const auto& r : s->regexes_) memory += r.MemoryBytes();
  s->stats_.memory_bytes = memory;
  s->stats_.build_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
  return std::shared_ptr<const Snapshot>(std::move(s));
}

Snapshot::Snapshot() = default;
Snapshot::~Snapshot() = default;

void Snapshot::EmitList(uint32_t list, ValueKind kind, bool whole_name_only,
                        absl::FunctionRef<void(const Candidate&)> found) const {
  const KeyIndex::Keys keys{keys_.get(), &list_key_};
  const std::string_view matched = keys.Text(list);
  for (uint32_t i = list_begin_[list]; i < list_begin_[list + 1]; ++i) {
    const uint32_t posting = postings_[i];
    if (!whole_name_only && (posting & kSubtreeBit) == 0) continue;
    found({posting & kIndexMask, (posting & kDecisiveBit) != 0, kind, matched});
  }
}

void Snapshot::LookupIpv4(uint32_t address, absl::FunctionRef<void(const Candidate&)> found) const {
  const uint32_t list = ipv4_->Lookup(address);
  if (list == kNoMatch) return;
  const KeyIndex::Keys keys{keys_.get(), &list_key_};
  const bool cidr = keys.Text(list).find('/') != std::string_view::npos;
  EmitList(list, cidr ? ValueKind::kCidr4 : ValueKind::kIpv4, true, found);
}

void Snapshot::LookupIpv6(const Ipv6Address& address, absl::FunctionRef<void(const Candidate&)> found) const {
  const uint32_t list = ipv6_->Lookup(address);
  if (list == kNoMatch) return;
  const KeyIndex::Keys keys{keys_.get(), &list_key_};
  const bool cidr = keys.Text(list).find('/') != std::string_view::npos;
  EmitList(list, cidr ? ValueKind::kCidr6 : ValueKind::kIpv6, true, found);
}

void Snapshot::Lookup(ValueKind kind, std::string_view normalized, RegexSet::Scratch* scratch,
                      absl::FunctionRef<void(const Candidate&)> found) const {
  switch (kind) {
    case ValueKind::kIpv4:
    case ValueKind::kIpv6: {
      auto net = ParseNet(normalized);
      if (!net || net->length != (net->v6 ? 128 : 32)) break;
      if (net->v6) {
        LookupIpv6(net->address, found);
      } else {
        LookupIpv4(static_cast<uint32_t>(net->address.lo), found);
      }
      break;
    }
    case ValueKind::kDomain: {
      const KeyIndex* index = exact_[static_cast<size_t>(kind)].get();
      if (index == nullptr) break;
      std::string_view suffix = normalized;
      bool whole = true;
      while (!suffix.empty()) {
        const uint32_t list = index->Find(suffix);
        if (list != kNoMatch && (whole || (list_key_[list] & kKeySubtreeBit) != 0)) EmitList(list, kind, whole, found);
        const size_t dot = suffix.find('.');
        if (dot == std::string_view::npos) break;
        suffix.remove_prefix(dot + 1);
        whole = false;
      }
      break;
    }
    default: {
      const KeyIndex* index = exact_[static_cast<size_t>(kind)].get();
      if (index == nullptr) break;
      const uint32_t list = index->Find(normalized);
      if (list != kNoMatch) EmitList(list, kind, true, found);
      break;
    }
  }
  if (scratch != nullptr) ScanRegexes(kind, normalized, *scratch, found);
}

void Snapshot::ScanRegexes(ValueKind kind, std::string_view normalized, RegexSet::Scratch& scratch,
                           absl::FunctionRef<void(const Candidate&)> found) const {
  const RegexSet& regexes = regexes_[static_cast<size_t>(kind)];
  if (regexes.empty()) return;
  regexes.Scan(normalized, scratch, [&](uint32_t id) { found({regex_owner_[id], false, kind, regex_text_[id]}); });
}

std::string Snapshot::IndicatorId(uint32_t index) const {
  const SnapshotIndicator& ind = indicators_[index];
  if (ind.id_size > 0) return text_.substr(ind.text_offset, ind.id_size);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(kIndicatorPrefix);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id += '-';
    id += kHex[ind.uuid[i] >> 4];
    id += kHex[ind.uuid[i] & 15];
  }
  return id;
}

std::string_view Snapshot::IndicatorName(uint32_t index) const {
  const SnapshotIndicator& ind = indicators_[index];
  return std::string_view(text_).substr(ind.text_offset + ind.id_size, ind.name_size);
}

const pattern::Pattern* Snapshot::IndicatorPattern(uint32_t index) const {
  const uint32_t p = indicators_[index].pattern;
  return p == kNoMatch ? nullptr : patterns_[p].get();
}

absl::Status Snapshot::PrepareScratch(RegexSet::Scratch& scratch) const {
  for (const RegexSet& r : regexes_) CONCORD_RETURN_IF_ERROR(r.Prepare(scratch));
  return absl::OkStatus();
}

bool Snapshot::has_regexes() const { return has_regexes_; }

}  // namespace concord::detect

namespace concord::detect {
namespace {

// A sighting's indicator and when it was last seen (last_seen, else first_seen, else modified).
std::optional<std::pair<std::string, Timestamp>> ReadSighting(const store::StoredObject& stored) {
  boost::json::value doc;
  try {
    doc = boost::json::parse(stored.json);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const boost::json::object* o = doc.if_object();
  if (o == nullptr) return std::nullopt;
  const boost::json::value* ref = o->if_contains("sighting_of_ref");
  if (ref == nullptr || !ref->is_string() || !ref->get_string().starts_with("indicator--")) return std::nullopt;
  for (std::string_view key : {"last_seen", "first_seen", "modified"}) {
    const boost::json::value* v = o->if_contains(key);
    if (v == nullptr || !v->is_string()) continue;
    auto ts = ParseRfc3339(std::string_view(v->get_string()));
    if (ts.ok()) return std::make_pair(std::string(ref->get_string()), *ts);
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Snapshot>> BuildSnapshot(store::Store& store, const SnapshotOptions& options,
                                                               const Timestamp& now,
                                                               const std::function<void(uint64_t)>& progress) {
  SnapshotBuilder builder(options, now);
  CONCORD_ASSIGN_OR_RETURN(int64_t seq, store.LastSeq());
  builder.set_source_seq(seq);
  // Versions committed after `seq` are left for the next build, so that the snapshot reflects exactly
  // the store up to source_seq.
  uint64_t read = 0;
  for (const char* type : {"sighting", "indicator"}) {
    store::Query query;
    query.types = {type};
    query.current_only = true;
    query.limit = 5000;
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(store::Page page, store.List(query));
      for (const store::StoredObject& object : page.objects) {
        if (object.seq > seq) continue;
        if (object.type == "sighting") {
          if (auto s = ReadSighting(object)) builder.AddSighting(s->first, s->second);
          continue;
        }
        auto added = builder.AddStored(object);
        if (!added.ok()) continue;  // not an indicator's JSON: counted nowhere, cannot happen for stored objects
        ++read;
      }
      if (progress && std::string_view(type) == "indicator") progress(read);
      if (!page.more) break;
      query.after_seq = page.next_after_seq;
    }
  }
  return builder.Build();
}

}  // namespace concord::detect
