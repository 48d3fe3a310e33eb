// Lookup and build speed of the matcher's IP structures (src/detect, issue 4), against a baseline
// measured in the same run over the same addresses:
//   BM_BaselineUnorderedSet — std::unordered_set<uint32_t> of the host indicators only (exact, no CIDRs)
//   BM_Ipv4Lookup           — Ipv4Index: 1M /32 hosts + 200k CIDRs, longest-prefix match
//   BM_Ipv4PrefixTableOnly  — the DIR-24-8 table alone with the 200k CIDRs
//   BM_Ipv6Lookup           — Ipv6Index: 100k prefixes, longest-prefix match
//   BM_BuildIpv4 / BM_BuildIpv6 — snapshot build from the prefix lists (items = indicators)
//   BM_DomainMatch          — the snapshot's domain index (Snapshot::Lookup, label-by-label suffix walk),
//                             1M domains (30% covering subdomains), 0.1% hits
//   BM_BaselineDomainUnorderedSet — std::unordered_set<std::string>, one exact probe per name
// items/s = lookups/s (or indicators/s for builds). The workload comes from the generator below with a
// fixed seed; --scale=F multiplies every size (the CI smoke test runs --scale=0.01). After the runs a
// summary prints each lookup benchmark's ratio to the baseline and the bytes per indicator.
// Run: build/h-det-rel/bench/detect_benchmark (see scripts/bench).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "benchmark/benchmark.h"
#include "detect/snapshot.h"
#include "detect/ip_index.h"
#include "detect/prefix_table.h"

namespace {

using concord::detect::Ipv4Index;
using concord::detect::Ipv4Prefix;
using concord::detect::Ipv4PrefixTable;
using concord::detect::Ipv6Address;
using concord::detect::Ipv6Index;
using concord::detect::Ipv6Prefix;
using concord::detect::kNoMatch;

constexpr uint64_t kSeed = 0x434f4e43;  // "CONC"

struct Workload {
  std::vector<Ipv4Prefix> v4_hosts;  // /32
  std::vector<Ipv4Prefix> v4_cidrs;  // BGP-like lengths
  std::vector<Ipv4Prefix> v4_all;    // hosts then CIDRs
  std::vector<Ipv6Prefix> v6;
  std::vector<uint32_t> v4_probes;  // uniform over the address space
  std::vector<Ipv6Address> v6_probes;
  std::vector<std::string> domains;
  std::vector<std::string> names;  // queried names: 0.1% hits, as in a DNS log
};

double g_scale = 1.0;  // set once from the command line before any benchmark runs

size_t Scaled(double n) { return static_cast<size_t>(n * g_scale) + 1; }

uint32_t MaskV4(uint32_t a, int length) { return length == 0 ? 0 : a & (0xffffffffu << (32 - length)); }

Ipv6Address MaskV6(Ipv6Address a, int length) {
  Ipv6Address m;
  m.hi = length == 0 ? 0 : length >= 64 ? a.hi : a.hi & (~uint64_t{0} << (64 - length));
  m.lo = length <= 64 ? 0 : length == 128 ? a.lo : a.lo & (~uint64_t{0} << (128 - length));
  return m;
}

// BGP-like IPv4 lengths: 68% /24, 29.8% /16-/23, 0.2% /8-/15, 2% longer than /24 (indicator CIDRs
// such as /28, which need second-level blocks).
int Ipv4Length(std::mt19937_64& rng) {
  const uint64_t r = rng() % 1000;
  if (r < 2) return 8 + static_cast<int>(rng() % 8);
  if (r < 300) return 16 + static_cast<int>(rng() % 8);
  if (r < 980) return 24;
  return 25 + static_cast<int>(rng() % 7);
}

// IPv6 lengths: 50% /48, 30% /32-/47, 15% /49-/64, 5% /20-/31; all inside 2000::/3.
int Ipv6Length(std::mt19937_64& rng) {
  const uint64_t r = rng() % 100;
  if (r < 50) return 48;
  if (r < 80) return 32 + static_cast<int>(rng() % 16);
  if (r < 95) return 49 + static_cast<int>(rng() % 16);
  return 20 + static_cast<int>(rng() % 12);
}

Ipv6Address RandomGlobalUnicast(std::mt19937_64& rng) {
  return {(rng() >> 3) | (uint64_t{1} << 61), rng()};  // 2000::/3
}

std::string RandomLabel(std::mt19937_64& rng, size_t min_len, size_t max_len) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  const size_t len = min_len + rng() % (max_len - min_len + 1);
  std::string s;
  for (size_t i = 0; i < len; ++i) s += kAlphabet[rng() % 36];
  return s;
}

const Workload& GetWorkload() {
  static const Workload* kWorkload = [] {
    auto* w = new Workload;
    std::mt19937_64 rng(kSeed);
    uint32_t id = 0;
    for (size_t i = 0, n = Scaled(1'000'000); i < n; ++i) {
      w->v4_hosts.push_back({static_cast<uint32_t>(rng()), 32, id++});
    }
    for (size_t i = 0, n = Scaled(200'000); i < n; ++i) {
      const int len = Ipv4Length(rng);
      w->v4_cidrs.push_back({MaskV4(static_cast<uint32_t>(rng()), len), static_cast<uint8_t>(len), id++});
    }
    w->v4_all = w->v4_hosts;
    w->v4_all.insert(w->v4_all.end(), w->v4_cidrs.begin(), w->v4_cidrs.end());
    for (size_t i = 0, n = Scaled(100'000); i < n; ++i) {
      const int len = Ipv6Length(rng);
      w->v6.push_back({MaskV6(RandomGlobalUnicast(rng), len), static_cast<uint8_t>(len), id++});
    }
    const size_t probes = Scaled(1'000'000);
    for (size_t i = 0; i < probes; ++i) w->v4_probes.push_back(static_cast<uint32_t>(rng()));
    // Half the IPv6 probes fall inside a known prefix (random host bits), half anywhere in 2000::/3.
    for (size_t i = 0; i < probes; ++i) {
      Ipv6Address a = RandomGlobalUnicast(rng);
      if (i % 2 == 0) {
        const Ipv6Prefix& p = w->v6[rng() % w->v6.size()];
        const Ipv6Address net = MaskV6(a, p.length);
        a = {p.address.hi | (a.hi ^ net.hi), p.address.lo | (a.lo ^ net.lo)};
      }
      w->v6_probes.push_back(a);
    }
    // Domains: registrable names under realistic TLDs, 30% as subdomain indicators.
    static constexpr const char* kTlds[] = {"com", "net", "org", "ru", "cn", "de", "info", "xyz", "top", "io"};
    for (size_t i = 0, n = Scaled(1'000'000); i < n; ++i) {
      std::string d = RandomLabel(rng, 5, 14) + "." + kTlds[rng() % 10];
      if (rng() % 5 == 0) d = RandomLabel(rng, 2, 8) + "." + d;
      w->domains.push_back(std::move(d));
    }
    for (size_t i = 0; i < probes; ++i) {
      if (rng() % 1000 == 0) {
        w->names.push_back("www." + w->domains[rng() % w->domains.size()]);
      } else {
        w->names.push_back(RandomLabel(rng, 1, 4) + "." + RandomLabel(rng, 5, 14) + "." + kTlds[rng() % 10]);
      }
    }
    return w;
  }();
  return *kWorkload;
}

template <typename T>
T ValueOrDie(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "build failed: %s\n", std::string(v.status().message()).c_str());
    std::abort();
  }
  return std::move(v).value();
}

void BM_BaselineUnorderedSet(benchmark::State& state) {
  const Workload& w = GetWorkload();
  std::unordered_set<uint32_t> hosts;
  hosts.reserve(w.v4_hosts.size());
  for (const auto& p : w.v4_hosts) hosts.insert(p.address);
  for (auto _ : state) {
    uint64_t hits = 0;
    for (uint32_t a : w.v4_probes) hits += hosts.count(a);
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(w.v4_probes.size()));
}
BENCHMARK(BM_BaselineUnorderedSet)->Unit(benchmark::kMillisecond);

void BM_Ipv4Lookup(benchmark::State& state) {
  const Workload& w = GetWorkload();
  const Ipv4Index index = ValueOrDie(Ipv4Index::Build(w.v4_all));
  uint64_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (uint32_t a : w.v4_probes) hits += index.Lookup(a) != kNoMatch;
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(w.v4_probes.size()));
  state.counters["hit_rate"] = static_cast<double>(hits) / static_cast<double>(w.v4_probes.size());
  state.counters["bytes_per_indicator"] =
      static_cast<double>(index.MemoryBytes()) / static_cast<double>(w.v4_all.size());
  state.counters["MiB"] = static_cast<double>(index.MemoryBytes()) / 1048576.0;
}
BENCHMARK(BM_Ipv4Lookup)->Unit(benchmark::kMillisecond);

void BM_Ipv4PrefixTableOnly(benchmark::State& state) {
  const Workload& w = GetWorkload();
  const Ipv4PrefixTable table = ValueOrDie(Ipv4PrefixTable::Build(w.v4_cidrs));
  for (auto _ : state) {
    uint64_t hits = 0;
    for (uint32_t a : w.v4_probes) hits += table.Lookup(a) != kNoMatch;
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(w.v4_probes.size()));
  state.counters["blocks"] = static_cast<double>(table.block_count());
}
BENCHMARK(BM_Ipv4PrefixTableOnly)->Unit(benchmark::kMillisecond);

void BM_Ipv6Lookup(benchmark::State& state) {
  const Workload& w = GetWorkload();
  const Ipv6Index index = ValueOrDie(Ipv6Index::Build(w.v6));
  uint64_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (const Ipv6Address& a : w.v6_probes) hits += index.Lookup(a) != kNoMatch;
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(w.v6_probes.size()));
  state.counters["hit_rate"] = static_cast<double>(hits) / static_cast<double>(w.v6_probes.size());
  state.counters["bytes_per_indicator"] = static_cast<double>(index.MemoryBytes()) / static_cast<double>(w.v6.size());
}
BENCHMARK(BM_Ipv6Lookup)->Unit(benchmark::kMillisecond);

void BM_BuildIpv4(benchmark::State& state) {
  const Workload& w = GetWorkload();
  for (auto _ : state) {
    auto index = Ipv4Index::Build(w.v4_all);
    benchmark::DoNotOptimize(index);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(w.v4_all.size()));
}
BENCHMARK(BM_BuildIpv4)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BuildIpv6(benchmark::State& state) {
  const Workload& w = GetWorkload();
  for (auto _ : state) {
    auto index = Ipv6Index::Build(w.v6);
    benchmark::DoNotOptimize(index);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(w.v6.size()));
}
BENCHMARK(BM_BuildIpv6)->Unit(benchmark::kMillisecond)->UseRealTime();

// Baseline for BM_DomainMatch: one exact probe per name (no suffix walk) in a std::unordered_set.
void BM_BaselineDomainUnorderedSet(benchmark::State& state) {
  const Workload& w = GetWorkload();
  const std::unordered_set<std::string> domains(w.domains.begin(), w.domains.end());
  for (auto _ : state) {
    uint64_t hits = 0;
    for (const std::string& name : w.names) hits += domains.count(name);
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(w.names.size()));
}
BENCHMARK(BM_BaselineDomainUnorderedSet)->Unit(benchmark::kMillisecond);

void BM_DomainMatch(benchmark::State& state) {
  const Workload& w = GetWorkload();
  concord::detect::SnapshotBuilder builder({}, concord::Timestamp{});
  size_t key_bytes = 0;
  for (size_t i = 0; i < w.domains.size(); ++i) {
    concord::detect::Indicator ind;
    ind.id = "indicator--" + std::to_string(i);
    ind.values.push_back({concord::detect::ValueKind::kDomain, w.domains[i], true, i % 10 < 3});
    key_bytes += w.domains[i].size();
    builder.Add(std::move(ind), concord::detect::Skip::kNone);
  }
  auto built = builder.Build();
  if (!built.ok()) {
    state.SkipWithError("snapshot build failed");
    return;
  }
  const concord::detect::Snapshot& snap = **built;
  uint64_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (const std::string& name : w.names) {
      snap.Lookup(concord::detect::ValueKind::kDomain, name, nullptr, [&](const concord::detect::Candidate&) { ++hits; });
    }
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(w.names.size()));
  state.counters["hit_rate"] = static_cast<double>(hits) / static_cast<double>(w.names.size());
  state.counters["bytes_per_indicator"] =
      static_cast<double>(snap.stats().memory_bytes - key_bytes) / static_cast<double>(w.domains.size());
}
BENCHMARK(BM_DomainMatch)->Unit(benchmark::kMillisecond);

// Console output as usual, then one line per benchmark with its ratio to the same-run baseline.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end()) rates_[run.benchmark_name()] = it->second.value;
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nsummary: lookups/s and ratio to the baseline on the same probes in this run\n");
    auto ratio = [&](const char* name, const char* baseline) {
      auto it = rates_.find(name);
      auto base = rates_.find(baseline);
      if (it == rates_.end()) return;
      const double r = base == rates_.end() || base->second <= 0 ? 0 : it->second / base->second;
      std::printf("  %-24s %9.2f M/s  x%.2f of %s\n", name, it->second / 1e6, r, baseline);
    };
    ratio("BM_Ipv4Lookup", "BM_BaselineUnorderedSet");
    ratio("BM_Ipv4PrefixTableOnly", "BM_BaselineUnorderedSet");
    ratio("BM_Ipv6Lookup", "BM_BaselineUnorderedSet");
    ratio("BM_DomainMatch", "BM_BaselineDomainUnorderedSet");
    for (const char* name : {"BM_BuildIpv4/real_time", "BM_BuildIpv6/real_time"}) {
      auto it = rates_.find(name);
      if (it != rates_.end()) std::printf("  %-24s %9.2f M indicators/s\n", name, it->second / 1e6);
    }
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  // Our own flag first; Google Benchmark rejects flags it does not know.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--scale=", 8) == 0) {
      g_scale = std::strtod(argv[i] + 8, nullptr);
      if (!(g_scale > 0)) {
        std::fprintf(stderr, "--scale must be positive\n");
        return 2;
      }
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  std::printf("workload: seed %llu, scale %g\n", static_cast<unsigned long long>(kSeed), g_scale);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
