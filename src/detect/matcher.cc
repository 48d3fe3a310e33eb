#include "detect/matcher.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "common/status.h"
#include "correlate/normalize.h"

namespace concord::detect {
namespace {

constexpr int64_t kDefaultWindowMillis = 3'600'000;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// A strict dotted quad (what the normaliser accepts, printed the same way): host byte order.
std::optional<uint32_t> ParseDottedQuad(std::string_view s) {
  uint32_t address = 0;
  int octets = 0;
  size_t i = 0;
  while (octets < 4) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return std::nullopt;
    uint32_t octet = 0;
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      octet = octet * 10 + static_cast<uint32_t>(s[i] - '0');
      if (octet > 255 || i - start >= 3) return std::nullopt;
      ++i;
    }
    address = (address << 8) | octet;
    ++octets;
    if (octets < 4) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != s.size()) return std::nullopt;
  return address;
}

bool IsHexKind(ValueKind k) {
  switch (k) {
    case ValueKind::kMd5:
    case ValueKind::kSha1:
    case ValueKind::kSha256:
    case ValueKind::kSha512:
    case ValueKind::kSha3_256:
    case ValueKind::kSha3_512:
    case ValueKind::kJa3:
      return true;
    default:
      return false;
  }
}

size_t HexLength(ValueKind k) {
  switch (k) {
    case ValueKind::kMd5:
    case ValueKind::kJa3: return 32;
    case ValueKind::kSha1: return 40;
    case ValueKind::kSha256:
    case ValueKind::kSha3_256: return 64;
    default: return 128;
  }
}

bool TemporalPattern(const pattern::Pattern& p) {
  for (const pattern::ObservationNode& n : p.observation_nodes()) {
    if (n.kind != pattern::ObservationNodeKind::kObservation && n.kind != pattern::ObservationNodeKind::kOr) {
      return true;
    }
  }
  return false;
}

int64_t WindowMillis(const pattern::Pattern& p) {
  double within = 0;
  for (const pattern::ObservationNode& n : p.observation_nodes()) {
    if (n.kind == pattern::ObservationNodeKind::kWithin) within = std::max(within, n.within_seconds);
  }
  if (!(within > 0)) return kDefaultWindowMillis;
  // WITHIN takes any positive number; past ~292 million years in milliseconds it is "for ever".
  constexpr double kForever = 9.2e18;
  return within * 1000 >= kForever ? static_cast<int64_t>(kForever) : static_cast<int64_t>(within * 1000);
}

bool IsSourceField(std::string_view f) {
  return f.find("src") != std::string_view::npos || f.find("orig") != std::string_view::npos;
}
bool IsDestinationField(std::string_view f) {
  return f.find("dest") != std::string_view::npos || f.find("dst") != std::string_view::npos ||
         f.find("resp") != std::string_view::npos;
}

// Values up to this size are normalised on the stack (MatchOne); longer ones in the Matcher's buffer.
constexpr size_t kLocalValueBytes = 256;

// Lower-cases `in` into `out` (same size); false when some byte is not ASCII. Branch-free so that the
// compiler vectorises it: names are short and this runs once per observed name.
bool LowerAscii(std::string_view in, char* out) {
  unsigned char seen = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    seen |= c;
    out[i] = static_cast<char>(c + (static_cast<unsigned char>(c - 'A') < 26 ? 32 : 0));
  }
  return (seen & 0x80) == 0;
}

// The normalised text of `raw` as `kind`, in `local` (kLocalValueBytes, may be null) or `buffer`, or a view
// of raw itself; nullopt when it is no valid value of that kind. The kind may change (an IPv4-mapped IPv6
// address is IPv4).
std::optional<std::string_view> NormalizeObserved(ValueKind& kind, std::string_view raw, std::string& buffer,
                                                  char* local = nullptr) {
  if (raw.empty()) return std::nullopt;
  if (kind == ValueKind::kIpv4 && ParseDottedQuad(raw)) return raw;
  const auto output = [&](size_t size) {
    if (local != nullptr && size <= kLocalValueBytes) return local;
    buffer.resize(size);
    return buffer.data();
  };
  if (kind == ValueKind::kDomain) {
    // ASCII names: lower case and no trailing dot is the whole normalisation (IDNA leaves them alone).
    std::string_view name = raw;
    if (name.back() == '.') name.remove_suffix(1);
    if (!name.empty()) {
      char* out = output(name.size());
      if (LowerAscii(name, out)) return std::string_view(out, name.size());
    }
  } else if (IsHexKind(kind)) {
    if (raw.size() != HexLength(kind)) return std::nullopt;
    char* out = output(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      const char c = Lower(raw[i]);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
      out[i] = c;
    }
    return std::string_view(out, raw.size());
  }
  auto n = correlate::NormalizeAs(kind, raw);
  if (!n.ok()) return std::nullopt;
  kind = n->kind;
  buffer = std::move(n->value);
  return std::string_view(buffer);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Matcher>> Matcher::Create(std::shared_ptr<const Snapshot> snapshot) {
  std::unique_ptr<Matcher> m(new Matcher(std::move(snapshot)));
  CONCORD_RETURN_IF_ERROR(m->snapshot_->PrepareScratch(m->scratch_));
  return m;
}

absl::Status Matcher::SetSnapshot(std::shared_ptr<const Snapshot> snapshot) {
  CONCORD_RETURN_IF_ERROR(snapshot->PrepareScratch(scratch_));
  snapshot_ = std::move(snapshot);
  for (Planned& p : planned_) p.snapshot = nullptr;  // a new snapshot may live where the old one did
  windows_.clear();
  return absl::OkStatus();
}

void Matcher::Match(const logs::Record& record, absl::FunctionRef<void(const Hit&)> hit) {
  ++stats_.records;
  reported_.clear();
  const int64_t time_ms = record.time_ms.value_or(snapshot_->built_at().UnixMillis());
  for (const logs::Observable& o : record.observables) MatchOne(o.kind, o.value, o.field, time_ms, &record, hit);
}

void Matcher::Prefetch(const logs::Record& record) {
  const Snapshot& snap = *snapshot_;
  for (const logs::Observable& o : record.observables) {
    if ((snap.candidate_kinds() & logs::KindBit(o.kind)) == 0 || o.value.empty()) continue;
    char local[kLocalValueBytes];
    if (o.kind == ValueKind::kDomain) {
      // The fast path of NormalizeObserved only: a name it would not take is not worth a hint.
      std::string_view name = o.value;
      if (name.back() == '.') name.remove_suffix(1);
      if (name.empty() || name.size() > kPlannedNameBytes) continue;
      Planned& p = planned_[next_planned_];
      if (!LowerAscii(name, p.name)) {
        p.snapshot = nullptr;
        continue;
      }
      next_planned_ = (next_planned_ + 1) % kPlannedNames;
      p.snapshot = &snap;
      p.size = name.size();
      snap.PlanDomain(std::string_view(p.name, p.size), p.plan);
    } else if (IsHexKind(o.kind) && o.value.size() == HexLength(o.kind) && o.value.size() <= kLocalValueBytes) {
      for (size_t i = 0; i < o.value.size(); ++i) local[i] = Lower(o.value[i]);
      snap.Prefetch(o.kind, std::string_view(local, o.value.size()));
    }
  }
}

void Matcher::MatchValue(ValueKind kind, std::string_view raw, std::optional<int64_t> time_ms,
                         absl::FunctionRef<void(const Hit&)> hit) {
  reported_.clear();
  MatchOne(kind, raw, "", time_ms.value_or(snapshot_->built_at().UnixMillis()), nullptr, hit);
}

void Matcher::MatchOne(ValueKind kind, std::string_view raw, std::string_view field, int64_t time_ms,
                       const logs::Record* record, absl::FunctionRef<void(const Hit&)> hit) {
  ++stats_.observables;
  const Snapshot& snap = *snapshot_;
  if ((snap.candidate_kinds() & logs::KindBit(kind)) == 0) {
    ++stats_.skipped;  // nothing of this kind can match: not even worth normalising
    return;
  }
  std::optional<uint32_t> ipv4;
  if (kind == ValueKind::kIpv4) ipv4 = ParseDottedQuad(raw);
  // A domain name that Prefetch planned exactly as written (lower case, as most are) is not normalised
  // again: the plan holds the normalised text.
  const Planned* planned = nullptr;
  if (kind == ValueKind::kDomain && !raw.empty()) {
    planned = FindPlanned(raw.back() == '.' ? raw.substr(0, raw.size() - 1) : raw);
  }
  char local[kLocalValueBytes];
  std::optional<std::string_view> value = ipv4 ? std::optional<std::string_view>(raw)
                                          : planned != nullptr ? std::string_view(planned->name, planned->size)
                                                               : NormalizeObserved(kind, raw, value_buffer_, local);
  if (!value) {
    ++stats_.unnormalizable;
    return;
  }
  const std::string_view v = *value;
  auto consider = [&](const Candidate& c) {
    ++stats_.candidates;
    const SnapshotIndicator& ind = snap.indicator(c.indicator);
    if (time_ms < ind.valid_from_ms() || time_ms >= ind.valid_until_ms()) {
      ++stats_.outside_validity;
      return;
    }
    for (const auto& [indicator, reported] : reported_) {
      if (indicator == c.indicator && reported == v) return;
    }
    bool confirmed = false;
    if (!c.decisive) {
      if (!Confirm(c.indicator, record, kind, v, time_ms)) {
        ++stats_.unconfirmed;
        return;
      }
      confirmed = true;
    }
    reported_.emplace_back(c.indicator, std::string(v));
    ++stats_.hits;
    hit({c.indicator, kind, v, field, c.kind, c.matched, confirmed});
  };
  RegexSet::Scratch* scratch = snap.has_regexes() ? &scratch_ : nullptr;
  if (ipv4) {
    // The commonest value goes straight to the table, without text round trips.
    snap.LookupIpv4(*ipv4, consider);
    if (scratch != nullptr) snap.ScanRegexes(kind, v, *scratch, consider);
  } else if (planned != nullptr || (kind == ValueKind::kDomain && (planned = FindPlanned(v)) != nullptr)) {
    snap.LookupDomain(v, planned->plan, consider);
    if (scratch != nullptr) snap.ScanRegexes(kind, v, *scratch, consider);
  } else {
    snap.Lookup(kind, v, scratch, consider);
  }
  if (kind == ValueKind::kUrl) {
    // A domain or address indicator also fires on a URL whose host it names.
    if (auto host = correlate::UrlHost(v)) {
      host_buffer_.assign(*host);
      std::string_view h = host_buffer_;
      ValueKind host_kind = ValueKind::kDomain;
      if (h.size() > 2 && h.front() == '[' && h.back() == ']') {
        h = h.substr(1, h.size() - 2);
        host_kind = ValueKind::kIpv6;
      } else if (ParseDottedQuad(h)) {
        host_kind = ValueKind::kIpv4;
      }
      snap.Lookup(host_kind, h, scratch, consider);
    }
  }
}

const Matcher::Planned* Matcher::FindPlanned(std::string_view name) const {
  // From the plan made two plans ago: with read-ahead and one name per record, the record being matched
  // was planned just before the one read after it, so the first entry tried is the one, every time.
  for (size_t k = 0; k < kPlannedNames; ++k) {
    const Planned& p = planned_[(next_planned_ + kPlannedNames - 2 + k) % kPlannedNames];
    if (p.snapshot == snapshot_.get() && p.size == name.size() && std::memcmp(p.name, name.data(), p.size) == 0) {
      return &p;
    }
  }
  return nullptr;
}

pattern::Observation Matcher::ObservationOf(const logs::Record* record, ValueKind kind, std::string_view value,
                                            int64_t time_ms) const {
  pattern::Observation obs;
  obs.first_observed = obs.last_observed = Timestamp::FromUnixMillis(time_ms);
  boost::json::object file;
  boost::json::object hashes;
  std::string src_key, dst_key;
  size_t next = 0;
  auto add = [&](boost::json::object sco) {
    std::string key = std::to_string(next++);
    obs.objects[key] = std::move(sco);
    obs.roots.push_back(key);
    return key;
  };
  auto add_value = [&](ValueKind k, std::string_view v, std::string_view field) {
    const char* type = nullptr;
    switch (k) {
      case ValueKind::kIpv4: type = "ipv4-addr"; break;
      case ValueKind::kIpv6: type = "ipv6-addr"; break;
      case ValueKind::kDomain: type = "domain-name"; break;
      case ValueKind::kUrl: type = "url"; break;
      case ValueKind::kEmail: type = "email-addr"; break;
      case ValueKind::kMd5: hashes["MD5"] = v; return;
      case ValueKind::kSha1: hashes["SHA-1"] = v; return;
      case ValueKind::kSha256: hashes["SHA-256"] = v; return;
      case ValueKind::kSha512: hashes["SHA-512"] = v; return;
      case ValueKind::kFilename: file["name"] = v; return;
      case ValueKind::kX509Serial:
        add(boost::json::object{{"type", "x509-certificate"}, {"serial_number", v}});
        return;
      case ValueKind::kUserAgent:
        add(boost::json::object{
            {"type", "network-traffic"},
            {"extensions", {{"http-request-ext", {{"request_header", {{"User-Agent", v}}}}}}}});
        return;
      default: return;
    }
    std::string key = add(boost::json::object{{"type", type}, {"value", v}});
    if (k == ValueKind::kIpv4 || k == ValueKind::kIpv6) {
      if (src_key.empty() && IsSourceField(field)) src_key = key;
      if (dst_key.empty() && IsDestinationField(field)) dst_key = key;
    }
  };
  if (record != nullptr) {
    std::string local;
    for (const logs::Observable& o : record->observables) {
      ValueKind k = o.kind;
      auto n = NormalizeObserved(k, o.value, local);
      add_value(k, n ? *n : o.value, o.field);
    }
  } else {
    add_value(kind, value, "");
  }
  if (!hashes.empty()) file["hashes"] = std::move(hashes);
  if (!file.empty()) {
    file["type"] = "file";
    add(std::move(file));
  }
  if (!src_key.empty() || !dst_key.empty()) {
    boost::json::object traffic{{"type", "network-traffic"}};
    if (!src_key.empty()) traffic["src_ref"] = src_key;
    if (!dst_key.empty()) traffic["dst_ref"] = dst_key;
    add(std::move(traffic));
  }
  return obs;
}

bool Matcher::Confirm(uint32_t indicator, const logs::Record* record, ValueKind kind, std::string_view value,
                      int64_t time_ms) {
  const pattern::Pattern* p = snapshot_->IndicatorPattern(indicator);
  if (p == nullptr) return false;
  pattern::Observation obs = ObservationOf(record, kind, value, time_ms);
  if (!TemporalPattern(*p)) {
    const pattern::Observation single[] = {std::move(obs)};
    return pattern::Evaluate(*p, single).matched;
  }
  Window& w = windows_[indicator];
  const int64_t horizon = time_ms - WindowMillis(*p);
  while (!w.observations.empty() && w.observations.front().last_observed.UnixMillis() < horizon) {
    w.observations.pop_front();
  }
  if (w.observations.size() == kWindowRecords) w.observations.pop_front();
  w.observations.push_back(std::move(obs));
  const std::vector<pattern::Observation> window(w.observations.begin(), w.observations.end());
  if (!pattern::Evaluate(*p, window).matched) return false;
  w.observations.clear();  // one hit per completed sequence
  return true;
}

}  // namespace concord::detect
