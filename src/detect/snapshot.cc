#include "detect/snapshot.h"

#include <arpa/inet.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <chrono>
#include <cstring>
#include <exception>
#include <system_error>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "common/status.h"
#include "detect/ip_index.h"
#include "fmt/format.h"

namespace concord::detect {

namespace {

constexpr uint32_t kDecisiveBit = 1u << 31;
constexpr uint32_t kSubtreeBit = 1u << 30;
constexpr uint32_t kIndexMask = kSubtreeBit - 1;
constexpr std::string_view kIndicatorPrefix = "indicator--";

// Lower-case hex digit values, -1 for every other byte (upper case is not the canonical form: such ids
// are kept as text).
constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> t{};
  for (size_t c = 0; c < t.size(); ++c) t[c] = -1;
  for (size_t c = '0'; c <= '9'; ++c) t[c] = static_cast<int8_t>(c - '0');
  for (size_t c = 'a'; c <= 'f'; ++c) t[c] = static_cast<int8_t>(c - 'a' + 10);
  return t;
}();
int HexDigit(char c) { return kHexValue[static_cast<unsigned char>(c)]; }

// "indicator--" + lower-case canonical UUID → 16 bytes.
std::optional<std::array<uint8_t, 16>> IndicatorUuid(std::string_view id) {
  if (!id.starts_with(kIndicatorPrefix) || id.size() != kIndicatorPrefix.size() + 36) return std::nullopt;
  const std::string_view u = id.substr(kIndicatorPrefix.size());
  if (u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-') return std::nullopt;
  static constexpr uint8_t kByteAt[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
  std::array<uint8_t, 16> out{};
  int bad = 0;  // negative once a digit was no lower-case hex digit
  for (size_t n = 0; n < 16; ++n) {
    const int hi = HexDigit(u[kByteAt[n]]);
    const int lo = HexDigit(u[kByteAt[n] + 1]);
    bad |= hi | lo;
    out[n] = static_cast<uint8_t>(hi * 16 + lo);
  }
  if (bad < 0) return std::nullopt;
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

// "indicator--" + the uuid in canonical text, into `out` (≥ 47 bytes).
std::string_view FormatIndicatorId(const std::array<uint8_t, 16>& uuid, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::memcpy(out, kIndicatorPrefix.data(), kIndicatorPrefix.size());
  size_t n = kIndicatorPrefix.size();
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[n++] = '-';
    out[n++] = kHex[uuid[i] >> 4];
    out[n++] = kHex[uuid[i] & 15];
  }
  return {out, n};
}

bool IsIpKind(ValueKind k) {
  return k == ValueKind::kIpv4 || k == ValueKind::kIpv6 || k == ValueKind::kCidr4 || k == ValueKind::kCidr6;
}

// Grows block by block instead of doubling: no copies while adding, no half-empty tail afterwards.
template <typename T>
class BlockVector {
 public:
  void push_back(const T& v) {
    if ((size_ & kMask) == 0) blocks_.push_back(std::make_unique_for_overwrite<T[]>(kBlock));
    blocks_.back()[size_ & kMask] = v;
    ++size_;
  }
  T& operator[](size_t i) { return blocks_[i >> kShift][i & kMask]; }
  const T& operator[](size_t i) const { return blocks_[i >> kShift][i & kMask]; }
  size_t size() const { return size_; }
  void clear() {
    blocks_.clear();
    size_ = 0;
  }

 private:
  static constexpr size_t kShift = 16;
  static constexpr size_t kBlock = size_t{1} << kShift;
  static constexpr size_t kMask = kBlock - 1;
  std::vector<std::unique_ptr<T[]>> blocks_;
  size_t size_ = 0;
};

// Value bytes as they arrive, in 4 MiB blocks, named by 32-bit offsets (block << 22 | position).
class ValueBytes {
 public:
  static constexpr size_t kShift = 22;
  static constexpr size_t kBlock = size_t{1} << kShift;
  // False when the store is full (4 GiB).
  bool Append(std::string_view s, uint32_t* offset) {
    if (blocks_.empty() || used_ + s.size() > kBlock) {
      if (blocks_.size() == (size_t{1} << (32 - kShift))) return false;
      blocks_.push_back(std::make_unique_for_overwrite<char[]>(kBlock));
      used_ = 0;
    }
    std::memcpy(blocks_.back().get() + used_, s.data(), s.size());
    *offset = static_cast<uint32_t>(((blocks_.size() - 1) << kShift) | used_);
    used_ += s.size();
    return true;
  }
  std::string_view Text(uint32_t offset, size_t size) const {
    return {blocks_[offset >> kShift].get() + (offset & (kBlock - 1)), size};
  }
  void clear() {
    blocks_.clear();
    used_ = 0;
  }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t used_ = 0;
};

// Runs `work(t)` for t in [0, threads) on that many threads, the calling thread being one of them (and
// doing the share of a thread that could not be started).
template <typename Work>
void OnThreads(size_t threads, const Work& work) {
  std::vector<std::thread> helpers;
  std::vector<size_t> inline_shares;
  helpers.reserve(threads > 0 ? threads - 1 : 0);
  for (size_t t = 1; t < threads; ++t) {
    try {
      helpers.emplace_back([&work, t] { work(t); });
    } catch (const std::system_error&) {
      inline_shares.push_back(t);
    }
  }
  work(0);
  for (size_t t : inline_shares) work(t);
  for (std::thread& h : helpers) h.join();
}

// Not secret in any strong sense, but unknown to whoever writes indicators or log lines.
uint64_t FreshSeed() {
  static std::atomic<uint64_t> counter{0};
  const auto now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return now ^ (reinterpret_cast<uintptr_t>(&counter) << 16) ^ (counter.fetch_add(1) * 0x9e3779b97f4a7c15ull);
}

// How many postings ahead Build prefetches the key table line a posting will probe.
constexpr size_t kPrefetchAhead = 8;

constexpr uint8_t kPostingDecisive = 1;
constexpr uint8_t kPostingSubtree = 2;
constexpr uint32_t kMerged = kNoMatch;  // a posting whose flags went into the same indicator's earlier one

// Domain tables are probed once per label of every name seen, and most probes miss: at 60% load a miss
// scans ~4 slots instead of ~13, and a tag matches a wrong key (two more cache misses) 1.4% of the time
// instead of 4.7%. The other kinds take one probe per value at the default 80%.
unsigned LoadPercent(ValueKind kind) { return kind == ValueKind::kDomain ? 60 : KeyTable::kDefaultLoadPercent; }

size_t LabelBit(size_t labels) { return std::min<size_t>(labels, 63); }
size_t LabelCount(std::string_view name) { return static_cast<size_t>(std::count(name.begin(), name.end(), '.')) + 1; }

#if defined(__SSE2__)
// Bit i set when p[at + i] is a dot, for the n - at (1..15) bytes left of p[0, n). Without a copy (a copy
// through a stack buffer stalls the 16-byte load on store forwarding, a fifth of the domain walk): the
// 16 bytes ending at p + n when the name is that long, else the 16 bytes from p + at when they stay on
// the same 4 KiB page — those past the end are read but masked off; they cannot fault, and the sanitizer
// is not told about a read it would call out of bounds.
__attribute__((no_sanitize_address)) unsigned TailDots(const char* p, size_t at, size_t n) {
  const __m128i dot = _mm_set1_epi8('.');
  const size_t left = n - at;
  if (n >= 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, dot))) >> (16 - left);
  }
  __m128i block;
  if ((reinterpret_cast<uintptr_t>(p + at) & 4095) <= 4096 - 16) {
    block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
  } else {
    alignas(16) char tail[16] = {};
    std::memcpy(tail, p + at, left);
    block = _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
  }
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, dot))) & ((1u << left) - 1);
}
#endif

}  // namespace

struct SnapshotBuilder::Pending {
  struct ScoreInput {
    Timestamp since;                 // valid_from, else the build time
    int16_t confidence = -1;         // -1: none
    ValueKind kind = ValueKind::kIpv4;
  };
  struct Posting {
    uint64_t hash;        // KeyHash of the value
    uint32_t value;       // in `values`
    uint32_t indicator;
    uint16_t size;
    ValueKind kind;
    uint8_t flags;        // kPostingDecisive | kPostingSubtree
    uint32_t list;        // Build: the value's number within its kind, or kMerged
  };
  struct Regex {
    ValueKind kind;
    std::string expression;
    uint32_t indicator;
  };
  HashKey hash_key;
  BlockVector<SnapshotIndicator> indicators;
  BlockVector<ScoreInput> scores;
  std::string text;
  std::vector<std::shared_ptr<const pattern::Pattern>> patterns;
  BlockVector<Posting> postings;
  ValueBytes values;
  bool values_full = false;
  std::array<uint64_t, kValueKindCount> kind_postings{};
  std::vector<Regex> regexes;
  absl::flat_hash_map<std::string, Timestamp> sightings;
  SnapshotStats stats;
  std::optional<Timestamp> next_change;
};

SnapshotBuilder::SnapshotBuilder(const SnapshotOptions& options, const Timestamp& now)
    : options_(options), now_(now), pending_(std::make_unique<Pending>()) {
  pending_->hash_key = MakeHashKey(FreshSeed());
}
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

  const auto index = static_cast<uint32_t>(p.indicators.size());
  size_t kept = 0;
  for (const IndicatorValue& v : indicator.values) {
    if (v.value.size() > UINT16_MAX) continue;
    if (options_.warninglists != nullptr && options_.warninglists->Listed(v.kind, v.value)) {
      ++p.stats.warninglisted;
      continue;
    }
    Pending::Posting q;
    // Hashed here, while the bytes are in cache; Build groups and indexes by this hash.
    q.hash = KeyHash(v.value, p.hash_key);
    if (!p.values.Append(v.value, &q.value)) {
      p.values_full = true;
      continue;
    }
    q.indicator = index;
    q.size = static_cast<uint16_t>(v.value.size());
    q.kind = v.kind;
    q.flags = static_cast<uint8_t>((v.decisive ? kPostingDecisive : 0) | (v.include_subdomains ? kPostingSubtree : 0));
    q.list = 0;
    p.postings.push_back(q);
    ++p.kind_postings[static_cast<size_t>(v.kind)];
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

  SnapshotIndicator hot;
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
  Pending::ScoreInput score;
  score.kind = !indicator.values.empty() ? indicator.values.front().kind
                                         : (!indicator.regexes.empty() ? indicator.regexes.front().kind : ValueKind::kIpv4);
  if (indicator.confidence) score.confidence = static_cast<int16_t>(std::clamp(*indicator.confidence, -1, 10000));
  score.since = indicator.valid_from.value_or(now_);
  p.indicators.push_back(hot);
  p.scores.push_back(score);
}

void SnapshotBuilder::AddSighting(std::string_view indicator_id, const Timestamp& last_seen) {
  auto [it, inserted] = pending_->sightings.try_emplace(absl::string_view(indicator_id.data(), indicator_id.size()), last_seen);
  if (!inserted && it->second < last_seen) it->second = last_seen;
}

absl::StatusOr<std::shared_ptr<const Snapshot>> SnapshotBuilder::Build() {
  const auto started = std::chrono::steady_clock::now();
  Pending& p = *pending_;
  if (p.values_full) return absl::ResourceExhaustedError("snapshot: more than 4 GiB of values");
  if (p.indicators.size() > size_t{kIndexMask} + 1) {
    return absl::ResourceExhaustedError(fmt::format("snapshot: more than {} indicators", size_t{kIndexMask} + 1));
  }
  std::shared_ptr<Snapshot> s(new Snapshot());
  s->built_at_ = now_;
  s->next_change_ = p.next_change;
  s->stats_ = std::move(p.stats);
  s->stats_.source_seq = source_seq_;
  s->hash_key_ = p.hash_key;
  s->text_ = std::move(p.text);
  s->text_.shrink_to_fit();
  s->patterns_ = std::move(p.patterns);
  s->stats_.indicators = p.indicators.size();
  const size_t threads = static_cast<size_t>(std::clamp(options_.build_threads, 1, 64));

  // The indicators, with their decay score as of now.
  auto score_indicators = [&] {
    const size_t n = p.indicators.size();
    s->indicators_.resize(n);
    char id[64];
    for (size_t i = 0; i < n; ++i) {
      SnapshotIndicator& ind = s->indicators_[i];
      ind = p.indicators[i];
      const Pending::ScoreInput& in = p.scores[i];
      Timestamp since = in.since;
      if (!p.sightings.empty()) {
        std::string_view text;
        if (ind.id_size > 0) {
          text = std::string_view(s->text_).substr(ind.text_offset, ind.id_size);
        } else {
          text = FormatIndicatorId(ind.uuid, id);
        }
        if (auto it = p.sightings.find(absl::string_view(text.data(), text.size()));
            it != p.sightings.end() && it->second > since) {
          since = it->second;
        }
      }
      const std::optional<int> confidence =
          in.confidence < 0 ? std::nullopt : std::optional<int>(in.confidence);
      const double score = options_.decay.Score(in.kind, confidence, since, now_);
      ind.score_hundredths = static_cast<uint16_t>(std::lround(std::clamp(score, 0.0, 100.0) * 100));
    }
  };

  // Postings grouped by (kind, value): per kind, a key table numbers the distinct values in order of first
  // appearance (one probe per posting, no sort). Postings arrive in indicator order, so each value's
  // indicators come out ascending, and one indicator twice on a value (exact and with subdomains) is
  // adjacent: its flags are merged into one posting. Kinds are split between the threads (one pass over
  // the postings per thread), the scores going beside them.
  struct Group {
    KeyTable table;
    std::vector<uint32_t> first;   // per value: its first posting
    std::vector<uint32_t> last;    // per value: its latest posting; after the layout, its record
    std::vector<uint32_t> count;   // per value: postings; during the layout, where the next one goes
    uint64_t bytes = 0;            // of the records
  };
  std::vector<Group> groups(kValueKindCount);
  BlockVector<Pending::Posting>& postings = p.postings;
  const size_t n_postings = postings.size();
  std::vector<size_t> owner(kValueKindCount, SIZE_MAX);  // kind → thread
  size_t score_thread = 0;
  {
    std::vector<uint64_t> load(threads, 0);
    std::vector<size_t> kinds;
    for (size_t k = 0; k < kValueKindCount; ++k) {
      if (p.kind_postings[k] > 0) kinds.push_back(k);
    }
    std::sort(kinds.begin(), kinds.end(), [&](size_t a, size_t b) { return p.kind_postings[a] > p.kind_postings[b]; });
    auto lightest = [&] { return static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin()); };
    for (size_t k : kinds) {
      const size_t t = lightest();
      owner[k] = t;
      load[t] += 4 * p.kind_postings[k];  // a probe that misses the cache, against the score's pow()
    }
    score_thread = lightest();
  }
  auto group_postings = [&](size_t thread) {
    for (size_t k = 0; k < kValueKindCount; ++k) {
      if (owner[k] == thread) groups[k].table = KeyTable(p.kind_postings[k], LoadPercent(static_cast<ValueKind>(k)));
    }
    for (size_t i = 0; i < n_postings; ++i) {
      if (i + kPrefetchAhead < n_postings) {  // the probe a few postings on: its cache miss overlaps ours
        const Pending::Posting& ahead = postings[i + kPrefetchAhead];
        if (owner[static_cast<size_t>(ahead.kind)] == thread) groups[static_cast<size_t>(ahead.kind)].table.Prefetch(ahead.hash);
      }
      Pending::Posting& q = postings[i];
      const auto k = static_cast<size_t>(q.kind);
      if (owner[k] != thread) continue;
      Group& g = groups[k];
      const auto fresh = static_cast<uint32_t>(g.first.size());
      const uint32_t list = g.table.FindOrInsert(q.hash, p.values.Text(q.value, q.size), fresh, [&](uint32_t l) {
        const Pending::Posting& f = postings[g.first[l]];
        return p.values.Text(f.value, f.size);
      });
      if (list == fresh) {
        g.first.push_back(static_cast<uint32_t>(i));
        g.last.push_back(static_cast<uint32_t>(i));
        g.count.push_back(1);
        g.bytes += Snapshot::kRecordHeader + q.size + sizeof(uint32_t);
        q.list = list;
        continue;
      }
      Pending::Posting& last = postings[g.last[list]];
      if (last.indicator == q.indicator) {
        last.flags |= q.flags;
        q.list = kMerged;
        continue;
      }
      g.last[list] = static_cast<uint32_t>(i);
      ++g.count[list];
      g.bytes += sizeof(uint32_t);
      q.list = list;
    }
  };
  OnThreads(threads, [&](size_t t) {
    if (t == score_thread) score_indicators();
    group_postings(t);
  });
  p.indicators.clear();
  p.scores.clear();
  p.sightings = {};

  // The records, in order of first appearance across kinds (so that of two records for the same address,
  // e.g. "10.0.0.1" as ipv4 and as "10.0.0.1/32", the earlier wins in the address tables as before).
  uint64_t total = 0;
  for (const Group& g : groups) total += g.bytes;
  if (total > kMaxId) return absl::ResourceExhaustedError("snapshot: more than 2 GiB of values");
  s->values_ = LargeArray<char>(total);
  char* const out = s->values_.data();
  std::vector<uint8_t> domain_subtree(groups[static_cast<size_t>(ValueKind::kDomain)].first.size(), 0);
  uint32_t cursor = 0;
  uint64_t key_bytes = 0;
  for (size_t i = 0; i < n_postings; ++i) {
    const Pending::Posting& q = postings[i];
    if (q.list == kMerged) continue;
    Group& g = groups[static_cast<size_t>(q.kind)];
    uint32_t& at = g.count[q.list];
    if (g.first[q.list] == i) {
      const uint32_t count = at;
      g.last[q.list] = cursor;
      std::memcpy(out + cursor, &count, sizeof count);
      std::memcpy(out + cursor + 4, &q.size, sizeof q.size);
      std::memcpy(out + cursor + Snapshot::kRecordHeader, p.values.Text(q.value, q.size).data(), q.size);
      at = cursor + static_cast<uint32_t>(Snapshot::kRecordHeader) + q.size;
      key_bytes += q.size;
      cursor += static_cast<uint32_t>(Snapshot::kRecordHeader + q.size + count * sizeof(uint32_t));
    }
    const uint32_t posting = q.indicator | ((q.flags & kPostingDecisive) != 0 ? kDecisiveBit : 0) |
                             ((q.flags & kPostingSubtree) != 0 ? kSubtreeBit : 0);
    std::memcpy(out + at, &posting, sizeof posting);
    at += sizeof posting;
    if (q.kind == ValueKind::kDomain && (q.flags & kPostingSubtree) != 0) domain_subtree[q.list] = 1;
  }
  p.values.clear();
  for (size_t k = 0; k < kValueKindCount; ++k) {
    const Group& g = groups[k];
    if (g.first.empty()) continue;
    s->stats_.values += g.first.size();
    s->stats_.values_by_kind[std::string(ValueKindName(static_cast<ValueKind>(k)))] = g.first.size();
  }
  s->stats_.key_bytes = key_bytes;
  s->stats_.postings = (total - key_bytes - s->stats_.values * Snapshot::kRecordHeader) / sizeof(uint32_t);

  // The lookup structures, one task per kind: the key tables get the records' offsets (sized anew when
  // duplicates left them oversized), domains their parents' table, addresses the prefix tables.
  s->exact_.resize(kValueKindCount);
  std::vector<Ipv4Prefix> v4;
  std::vector<Ipv6Prefix> v6;
  absl::Status ip_status;
  std::vector<size_t> tasks;
  for (size_t k = 0; k < kValueKindCount; ++k) {
    if (!groups[k].first.empty() && !IsIpKind(static_cast<ValueKind>(k))) tasks.push_back(k);
  }
  const size_t kIpTask = kValueKindCount;
  tasks.push_back(kIpTask);
  std::sort(tasks.begin(), tasks.end(), [&](size_t a, size_t b) {
    auto cost = [&](size_t k) { return k == kIpTask ? 0 : groups[k].first.size(); };
    return cost(a) > cost(b);
  });
  auto run_task = [&](size_t k) {
    if (k == kIpTask) {
      for (ValueKind kind : {ValueKind::kIpv4, ValueKind::kCidr4, ValueKind::kIpv6, ValueKind::kCidr6}) {
        for (uint32_t record : groups[static_cast<size_t>(kind)].last) {
          const std::string_view text = s->RecordKey(record);
          auto net = ParseNet(text);
          if (!net) {
            ip_status = absl::InternalError(fmt::format("snapshot: normalised address '{}' does not parse", text));
            return;
          }
          if (!net->v6) {
            v4.push_back({static_cast<uint32_t>(net->address.lo), static_cast<uint8_t>(net->length), record});
          } else {
            v6.push_back({net->address, static_cast<uint8_t>(net->length), record});
          }
        }
      }
      auto ipv4 = Ipv4Index::Build(v4);
      if (!ipv4.ok()) {
        ip_status = ipv4.status();
        return;
      }
      auto ipv6 = Ipv6Index::Build(v6);
      if (!ipv6.ok()) {
        ip_status = ipv6.status();
        return;
      }
      s->ipv4_ = std::make_unique<Ipv4Index>(*std::move(ipv4));
      s->ipv6_ = std::make_unique<Ipv6Index>(*std::move(ipv6));
      return;
    }
    Group& g = groups[k];
    const size_t n = g.first.size();
    KeyTable& table = s->exact_[k];
    const unsigned load = LoadPercent(static_cast<ValueKind>(k));
    if (KeyTable::CapacityFor(n, load) < g.table.capacity() * 9 / 10) {
      table = KeyTable(n, load);
      for (size_t l = 0; l < n; ++l) {
        if (l + kPrefetchAhead < n) table.Prefetch(postings[g.first[l + kPrefetchAhead]].hash);
        table.InsertNew(postings[g.first[l]].hash, g.last[l]);
      }
      g.table = KeyTable();
    } else {
      g.table.RewriteHandles([&](uint32_t l) { return g.last[l]; });
      table = std::move(g.table);
    }
    if (static_cast<ValueKind>(k) != ValueKind::kDomain) return;
    size_t parents = 0;
    for (uint8_t covers : domain_subtree) parents += covers;
    s->domain_parents_ = KeyTable(parents, LoadPercent(ValueKind::kDomain));
    for (size_t l = 0; l < n; ++l) {
      if (l + kPrefetchAhead < n && domain_subtree[l + kPrefetchAhead] != 0) {
        s->domain_parents_.Prefetch(postings[g.first[l + kPrefetchAhead]].hash);
      }
      const size_t labels = LabelBit(LabelCount(s->RecordKey(g.last[l])));
      s->domain_labels_ |= uint64_t{1} << labels;
      if (domain_subtree[l] == 0) continue;
      s->parent_labels_ |= uint64_t{1} << labels;
      s->domain_parents_.InsertNew(postings[g.first[l]].hash, g.last[l]);
    }
  };
  std::atomic<size_t> next_task{0};
  OnThreads(std::min(threads, tasks.size()), [&](size_t) {
    for (size_t t = next_task++; t < tasks.size(); t = next_task++) run_task(tasks[t]);
  });
  CONCORD_RETURN_IF_ERROR(ip_status);
  groups.clear();
  postings.clear();

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

  // Which observed kinds can find anything (see candidate_kinds()).
  const logs::KindMask ip_kinds = logs::KindBit(ValueKind::kIpv4) | logs::KindBit(ValueKind::kIpv6) |
                                  logs::KindBit(ValueKind::kCidr4) | logs::KindBit(ValueKind::kCidr6);
  logs::KindMask kinds = 0;
  for (size_t k = 0; k < kValueKindCount; ++k) {
    if (!s->exact_[k].empty() || !s->regexes_[k].empty()) kinds |= logs::KindBit(static_cast<ValueKind>(k));
  }
  if ((kinds & ip_kinds) != 0 || s->ipv4_->host_count() + s->ipv4_->prefix_count() + s->ipv6_->host_count() +
                                         s->ipv6_->prefix_count() > 0) {
    kinds |= ip_kinds;
  }
  if ((kinds & (ip_kinds | logs::KindBit(ValueKind::kDomain))) != 0) kinds |= logs::KindBit(ValueKind::kUrl);
  s->candidate_kinds_ = kinds;
  s->observed_kinds_ = s->patterns_.empty() ? kinds : logs::kAllKinds;

  uint64_t memory = sizeof(Snapshot) + s->indicators_.capacity() * sizeof(SnapshotIndicator) + s->text_.capacity() +
                    s->values_.size() + s->domain_parents_.MemoryBytes() + s->ipv4_->MemoryBytes() +
                    s->ipv6_->MemoryBytes();
  for (const KeyTable& table : s->exact_) memory += table.MemoryBytes();
  for (const auto& r : s->regexes_) memory += r.MemoryBytes();
  s->stats_.memory_bytes = memory;
  s->stats_.build_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
  return std::shared_ptr<const Snapshot>(std::move(s));
}

Snapshot::Snapshot() = default;
Snapshot::~Snapshot() = default;

void Snapshot::EmitList(uint32_t record, ValueKind kind, bool whole_name_only,
                        absl::FunctionRef<void(const Candidate&)> found) const {
  uint32_t count;
  std::memcpy(&count, values_.data() + record, sizeof count);
  const std::string_view matched = RecordKey(record);
  const char* const postings = matched.data() + matched.size();
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t posting;
    std::memcpy(&posting, postings + i * sizeof posting, sizeof posting);
    if (!whole_name_only && (posting & kSubtreeBit) == 0) continue;
    found({posting & kIndexMask, (posting & kDecisiveBit) != 0, kind, matched});
  }
}

void Snapshot::LookupIpv4(uint32_t address, absl::FunctionRef<void(const Candidate&)> found) const {
  const uint32_t record = ipv4_->Lookup(address);
  if (record == kNoMatch) return;
  const bool cidr = RecordKey(record).find('/') != std::string_view::npos;
  EmitList(record, cidr ? ValueKind::kCidr4 : ValueKind::kIpv4, true, found);
}

void Snapshot::LookupIpv6(const Ipv6Address& address, absl::FunctionRef<void(const Candidate&)> found) const {
  const uint32_t record = ipv6_->Lookup(address);
  if (record == kNoMatch) return;
  const bool cidr = RecordKey(record).find('/') != std::string_view::npos;
  EmitList(record, cidr ? ValueKind::kCidr6 : ValueKind::kIpv6, true, found);
}

uint64_t Snapshot::DomainProbes(std::string_view name, uint32_t* starts, uint64_t* hashes) const {
  size_t labels = 1;
  starts[0] = 0;
  const size_t n = name.size();
#if defined(__SSE2__)
  // The dots 16 bytes at a time (a byte loop mispredicts at every dot), the last ones by TailDots.
  const __m128i dot = _mm_set1_epi8('.');
  for (size_t at = 0; at < n; at += 16) {
    const unsigned dots = at + 16 <= n ? static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(
                                             _mm_loadu_si128(reinterpret_cast<const __m128i*>(name.data() + at)), dot)))
                                       : TailDots(name.data(), at, n);
    for (unsigned mask = dots; mask != 0; mask &= mask - 1) {
      if (labels == kMaxLabels) return ~uint64_t{0};
      starts[labels++] = static_cast<uint32_t>(at + static_cast<size_t>(__builtin_ctz(mask)) + 1);
    }
  }
#else
  for (size_t i = 0; i < n; ++i) {
    if (name[i] != '.') continue;
    if (labels == kMaxLabels) return ~uint64_t{0};
    starts[labels++] = static_cast<uint32_t>(i + 1);
  }
#endif
  uint64_t probe = 0;
  for (size_t j = 0; j < labels; ++j) {
    if (starts[j] == name.size()) continue;  // "a." has no last label
    const uint64_t mask = j == 0 ? domain_labels_ : parent_labels_;
    if ((mask & (uint64_t{1} << LabelBit(labels - j))) == 0) continue;
    hashes[j] = KeyHash(name.substr(starts[j]), hash_key_);
    (j == 0 ? exact_[static_cast<size_t>(ValueKind::kDomain)] : domain_parents_).Prefetch(hashes[j]);
    probe |= uint64_t{1} << j;
  }
  return probe;
}

// The name itself (every posting), then each parent from the longest down (postings that cover
// subdomains, from domain_parents_). All hashes are computed and their probes prefetched before the
// first probe, so that the cache misses of one name overlap; suffixes whose label count no key has are
// skipped (the top-level domain, as a rule).
void Snapshot::LookupDomain(std::string_view name, absl::FunctionRef<void(const Candidate&)> found) const {
  DomainPlan plan;
  PlanDomain(name, plan);
  LookupDomain(name, plan, found);
}

void Snapshot::PlanDomain(std::string_view name, DomainPlan& plan) const {
  plan.probe = exact_[static_cast<size_t>(ValueKind::kDomain)].empty() || name.empty()
                   ? 0
                   : DomainProbes(name, plan.starts, plan.hashes);
}

void Snapshot::LookupDomain(std::string_view name, const DomainPlan& plan,
                            absl::FunctionRef<void(const Candidate&)> found) const {
  const KeyTable& names = exact_[static_cast<size_t>(ValueKind::kDomain)];
  if (names.empty() || name.empty()) return;
  uint64_t probe = plan.probe;
  if (probe == ~uint64_t{0}) {
    // Deeper than any sane name: probe every suffix, one after the other.
    std::string_view suffix = name;
    for (bool whole = true; !suffix.empty(); whole = false) {
      const uint32_t record = FindExact(whole ? names : domain_parents_, KeyHash(suffix, hash_key_), suffix);
      if (record != kNoMatch) EmitList(record, ValueKind::kDomain, whole, found);
      const size_t dot = suffix.find('.');
      if (dot == std::string_view::npos) break;
      suffix.remove_prefix(dot + 1);
    }
    return;
  }
  for (; probe != 0; probe &= probe - 1) {
    const auto j = static_cast<size_t>(__builtin_ctzll(probe));
    const std::string_view suffix = name.substr(plan.starts[j]);
    const uint32_t record = FindExact(j == 0 ? names : domain_parents_, plan.hashes[j], suffix);
    if (record != kNoMatch) EmitList(record, ValueKind::kDomain, j == 0, found);
  }
}

void Snapshot::Prefetch(ValueKind kind, std::string_view normalized) const {
  if (normalized.empty() || IsIpKind(kind)) return;
  const KeyTable& table = exact_[static_cast<size_t>(kind)];
  if (table.empty()) return;
  if (kind == ValueKind::kDomain) {
    uint32_t starts[kMaxLabels];
    uint64_t hashes[kMaxLabels];
    DomainProbes(normalized, starts, hashes);  // prefetches what it would probe
    return;
  }
  table.Prefetch(KeyHash(normalized, hash_key_));
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
    case ValueKind::kDomain:
      LookupDomain(normalized, found);
      break;
    default: {
      const KeyTable& table = exact_[static_cast<size_t>(kind)];
      if (table.empty()) break;
      const uint32_t record = FindExact(table, KeyHash(normalized, hash_key_), normalized);
      if (record != kNoMatch) EmitList(record, kind, true, found);
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
  char id[64];
  return std::string(FormatIndicatorId(ind.uuid, id));
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
  // A sweep per type (Store::Sweep: one server-side cursor and one consistent state on PostgreSQL).
  uint64_t read = 0;
  for (const char* type : {"sighting", "indicator"}) {
    store::Query query;
    query.types = {type};
    query.current_only = true;
    query.limit = 5000;
    const bool indicators = std::string_view(type) == "indicator";
    CONCORD_RETURN_IF_ERROR(store.Sweep(query, [&](const store::StoredObject& object) {
      if (object.seq > seq) return true;
      if (object.type == "sighting") {
        if (auto s = ReadSighting(object)) builder.AddSighting(s->first, s->second);
        return true;
      }
      // Not an indicator's JSON: counted nowhere, cannot happen for stored objects.
      if (!builder.AddStored(object).ok()) return true;
      if (++read % 5000 == 0 && progress) progress(read);
      return true;
    }));
    if (progress && indicators) progress(read);
  }
  return builder.Build();
}

}  // namespace concord::detect
