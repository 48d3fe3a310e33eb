// Correlation benchmark (issue 4): new objects correlated against a store that already holds many, with
// postings (value → objects) instead of MISP's pairwise correlation table.
//
//   correlate_benchmark [--stored N] [--new M] [--hot H] [--hot-new K] [--cidr-permille P] [--batch B]
//                       [--sample S] [--cache DIR | --db LOCATION] [--dir DIR] [--seed S]
//
// Generates N stored and M new indicators whose patterns name one value each (domains and IPv4 in equal
// parts; with --cidr-permille P, P of every 1000 IPv4 values are CIDRs /16../24 instead), drawn Zipf(1.0)
// from a pool of N/4 values, plus one "hot" value that H stored objects (default N/20: 50,000 at 1M) and K
// new ones (default M/1000) share. Then, in one run:
//   1. stores the N objects (with postings; reported for information);
//   2. stores the M new objects (with postings): objects/s;
//   3. correlates every new object with correlate::Correlator::CorrelateBatch, B objects per call (default
//      1,000,000), from the postings the ingest encoding computed (up to 20 objects per value, over-correlation
//      bound 1,000): seconds for the M objects (issue 4 target: 1M new against 10M stored in <= 10 s), wall
//      clock and the process's CPU time (on a shared machine the wall clock also counts others' turns);
//   4. the old path on a sample of S new objects (default 2,000): Correlator::CorrelationsOf object by
//      object, extrapolated to M, and checked to give exactly what the batch gave for those objects;
//   5. baseline: the same pages from an in-memory std::unordered_map<value, vector<object>> built from the
//      same postings (what correlation costs without a database);
//   6. storage: postings written against the pairs a pairwise table would hold for the same data.
// Defaults are the shape at 1/10 (--stored 1000000 --new 100000); the full size is
// --stored 10000000 --new 1000000, whose store takes a while to build: with --cache DIR the populated store
// is kept in DIR (one file per workload shape, with its build times beside it) and a later run with the same
// shape reuses it. --db LOCATION (e.g. postgresql://…) uses that store instead, reusing it when it holds
// exactly the workload's objects. Without either, the store is a temporary file in --dir, removed at the end.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "correlate/correlator.h"
#include "correlate/postings.h"
#include "fmt/format.h"
#include "stix/object.h"
#include "store/store.h"

namespace {

namespace stix = concord::stix;
namespace store = concord::store;
namespace correlate = concord::correlate;

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU seconds (user + system) this process has used: beside the wall-clock figures, what a measured step cost
// when the machine is shared (on a loaded machine the wall clock counts the time other processes ran).
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

[[noreturn]] void Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), std::string(status.message()).c_str());
  std::exit(1);
}

struct Shape {
  int64_t stored = 1'000'000;
  int64_t fresh = 100'000;
  int64_t hot = -1;
  int64_t hot_new = -1;
  int64_t cidr_permille = 0;
  uint64_t seed = 20261122;
};

// The value k of the pool: a domain for even k, an IPv4 address (or, for cidr_permille of them, a CIDR) for odd.
std::string ValueOf(uint64_t k, int64_t cidr_permille) {
  if (k % 2 == 0) return fmt::format("d{}.example", k);
  auto ip = static_cast<uint32_t>(((10 + (k >> 24) % 200) << 24) | (k & 0xffffff));
  if (cidr_permille > 0 && static_cast<int64_t>((k * 0x9e3779b97f4a7c15ull) >> 54) % 1000 < cidr_permille) {
    const int length = 16 + static_cast<int>((k / 2) % 9);
    ip &= ~((uint32_t{1} << (32 - length)) - 1);
    return fmt::format("{}.{}.{}.{}/{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, length);
  }
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

std::string PatternOf(const std::string& value) {
  const bool ip = value.find_first_not_of("0123456789./") == std::string::npos;
  return ip ? fmt::format("[ipv4-addr:value = '{}']", value) : fmt::format("[domain-name:value = '{}']", value);
}

std::string IdOf(uint64_t n) {
  return fmt::format("indicator--{:08x}-{:04x}-4{:03x}-8000-{:012x}", n >> 32, (n >> 16) & 0xffff, n & 0xfff, n);
}

stix::Object Indicator(uint64_t n, const std::string& value) {
  boost::json::object o{{"type", "indicator"},
                        {"spec_version", "2.1"},
                        {"id", IdOf(n)},
                        {"created", "2026-11-01T00:00:00.000Z"},
                        {"modified", "2026-11-01T00:00:00.000Z"},
                        {"pattern", PatternOf(value)},
                        {"pattern_type", "stix"},
                        {"valid_from", "2026-11-01T00:00:00Z"}};
  auto object = stix::ParseObject(std::move(o));
  if (!object.ok()) Fail("generated object invalid", object.status());
  return std::move(*object);
}

// Every object's value, in object order: the first `hot` stored and the first `hot_new` new objects have the
// hot value, the others a Zipf(1.0) draw from the pool.
std::vector<std::string> Values(const Shape& shape) {
  const uint64_t pool = static_cast<uint64_t>(std::max<int64_t>(shape.stored / 4, 16));
  std::vector<double> cdf(pool);
  double acc = 0;
  for (uint64_t i = 0; i < pool; ++i) cdf[i] = acc += 1.0 / static_cast<double>(i + 1);
  for (double& c : cdf) c /= acc;
  std::mt19937_64 rng(shape.seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<std::string> values;
  values.reserve(static_cast<size_t>(shape.stored + shape.fresh));
  for (int64_t n = 0; n < shape.stored + shape.fresh; ++n) {
    const bool hot = n < shape.hot || (n >= shape.stored && n < shape.stored + shape.hot_new);
    if (hot) {
      values.push_back("hot.example");
      continue;
    }
    const auto k = static_cast<uint64_t>(std::lower_bound(cdf.begin(), cdf.end(), unit(rng)) - cdf.begin()) + 1;
    values.push_back(ValueOf(k, shape.cidr_permille));
  }
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows while a long run goes on
  Shape shape;
  size_t batch_size = 1'000'000, sample = 2000;
  std::string dir = std::filesystem::temp_directory_path().string(), cache, location;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--stored") shape.stored = std::stoll(value);
    else if (flag == "--new") shape.fresh = std::stoll(value);
    else if (flag == "--hot") shape.hot = std::stoll(value);
    else if (flag == "--hot-new") shape.hot_new = std::stoll(value);
    else if (flag == "--cidr-permille") shape.cidr_permille = std::stoll(value);
    else if (flag == "--batch") batch_size = std::max<size_t>(1, std::stoull(value));
    else if (flag == "--sample") sample = std::stoull(value);
    else if (flag == "--cache") cache = value;
    else if (flag == "--db") location = value;
    else if (flag == "--dir") dir = value;
    else if (flag == "--seed") shape.seed = std::stoull(value);
    else {
      std::fprintf(stderr,
                   "usage: correlate_benchmark [--stored N] [--new M] [--hot H] [--hot-new K] [--cidr-permille P] "
                   "[--batch B] [--sample S] [--cache DIR | --db LOCATION] [--dir DIR] [--seed S]\n");
      return 2;
    }
  }
  if (shape.hot < 0) shape.hot = std::max<int64_t>(1, shape.stored / 20);  // 50,000 at 1M stored
  if (shape.hot_new < 0) shape.hot_new = shape.fresh / 1000;
  sample = std::min<size_t>(sample, static_cast<size_t>(shape.fresh));

  auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> values = Values(shape);
  std::printf("generated %zu values in %.1f s\n", values.size(), Since(t0));

  // Where the store lives, and whether this run builds it.
  const bool temporary = cache.empty() && location.empty();
  std::string path, meta;
  if (!cache.empty()) {
    std::filesystem::create_directories(cache);
    path = fmt::format("{}/correlate-{}-{}-{}-{}-{}-{}.db", cache, shape.stored, shape.fresh, shape.hot, shape.hot_new,
                       shape.cidr_permille, shape.seed);
    meta = path + ".times";
    location = path;
    if (!std::filesystem::exists(meta)) {  // absent or unfinished: start again
      std::error_code ec;
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
    }
  } else if (temporary) {
    path = fmt::format("{}/concord-correlate-bench-{}.db", dir, ::getpid());
    location = path;
  }
  const correlate::PostingExtractor extractor;
  auto db = store::OpenStore(location, {.postings = &extractor});
  if (!db.ok()) Fail("open " + location, db.status());
  auto stats = (*db)->GetStats();
  if (!stats.ok()) Fail("stats", stats.status());
  const int64_t total = shape.stored + shape.fresh;
  double stored_s = 0, new_s = 0;
  if (stats->objects == total) {
    if (!meta.empty()) std::ifstream(meta) >> stored_s >> new_s;
    std::printf("reusing the store at %s (%lld objects)\n", location.c_str(), static_cast<long long>(total));
  } else if (stats->objects != 0) {
    std::fprintf(stderr, "%s holds %lld objects, not this workload's %lld\n", location.c_str(),
                 static_cast<long long>(stats->objects), static_cast<long long>(total));
    return 1;
  } else {
    auto store_range = [&](int64_t from, int64_t to) {
      constexpr int64_t kBatch = 5000;
      std::vector<stix::Object> batch;
      for (int64_t n = from; n < to; ++n) {
        batch.push_back(Indicator(static_cast<uint64_t>(n), values[static_cast<size_t>(n)]));
        if (static_cast<int64_t>(batch.size()) == kBatch || n + 1 == to) {
          auto put = (*db)->Put(batch);
          if (!put.ok()) Fail("put", put.status());
          batch.clear();
        }
        if ((n + 1) % 1'000'000 == 0) std::fprintf(stderr, "  %lld objects stored\n", static_cast<long long>(n + 1));
      }
    };
    t0 = std::chrono::steady_clock::now();
    store_range(0, shape.stored);
    stored_s = Since(t0);
    t0 = std::chrono::steady_clock::now();
    store_range(shape.stored, total);
    new_s = Since(t0);
    if (!meta.empty()) std::ofstream(meta) << stored_s << ' ' << new_s << '\n';
  }
  std::printf("stored %lld objects in %.1f s (%.0f objects/s, with postings)%s\n",
              static_cast<long long>(shape.stored), stored_s, static_cast<double>(shape.stored) / stored_s,
              temporary ? "" : " [when the store was built]");
  std::printf("new    %lld objects in %.1f s (%.0f objects/s, with postings)%s\n", static_cast<long long>(shape.fresh),
              new_s, static_cast<double>(shape.fresh) / new_s, temporary ? "" : " [when the store was built]");

  // The new objects as the ingest has them after encoding: ids and postings (not timed).
  t0 = std::chrono::steady_clock::now();
  std::vector<std::string> new_ids;
  std::vector<std::vector<store::Posting>> new_postings;
  new_ids.reserve(static_cast<size_t>(shape.fresh));
  new_postings.reserve(static_cast<size_t>(shape.fresh));
  for (int64_t n = shape.stored; n < total; ++n) {
    const stix::Object object = Indicator(static_cast<uint64_t>(n), values[static_cast<size_t>(n)]);
    new_ids.push_back(object.id);
    new_postings.push_back(store::Encode(object, &extractor).postings);
  }
  std::vector<correlate::BatchItem> items;
  items.reserve(new_ids.size());
  for (size_t i = 0; i < new_ids.size(); ++i) items.push_back({new_ids[i], new_postings[i]});
  std::printf("encoded the new objects' postings in %.1f s (not part of correlation)\n", Since(t0));

  const auto all = [](const store::StoredObject&) { return true; };
  correlate::Correlator correlator(**db);
  correlate::CorrelationOptions options;
  options.per_value = 20;
  options.max_correlations = 1000;

  // 3. Batch correlation of every new object. The sample's answers are kept for the comparison below.
  std::vector<size_t> sampled;  // item indices, evenly spread
  for (size_t s = 0; s < sample; ++s) sampled.push_back(s * items.size() / sample);
  std::vector<std::vector<correlate::CorrelatedValue>> sampled_batch;
  uint64_t correlated = 0, over = 0, contained = 0;
  size_t next_sampled = 0, largest_objects = 0;
  t0 = std::chrono::steady_clock::now();
  const double batch_cpu0 = CpuSeconds();
  for (size_t from = 0; from < items.size(); from += batch_size) {
    const size_t to = std::min(items.size(), from + batch_size);
    auto answer = correlator.CorrelateBatch(std::span(items).subspan(from, to - from), options, all);
    if (!answer.ok()) Fail("correlate batch", answer.status());
    for (const auto& item : answer->items) {
      for (const correlate::BatchValue& v : item) {
        correlated += v.objects.size();
        over += v.over_correlating ? 1 : 0;
        contained += v.containing.size() + v.contained.size();
      }
    }
    largest_objects = std::max(largest_objects, answer->objects.size());
    std::fprintf(stderr, "  %zu objects correlated, %.1f s\n", to, Since(t0));
    while (next_sampled < sampled.size() && sampled[next_sampled] < to) {
      sampled_batch.push_back(answer->Expand(sampled[next_sampled] - from));
      ++next_sampled;
    }
  }
  const double batch_s = Since(t0);
  const double batch_cpu = CpuSeconds() - batch_cpu0;
  std::printf("correlate %lld new objects in batches of %zu (Correlator::CorrelateBatch): %.2f s, CPU %.2f s "
              "(%.0f objects/s; "
              "%llu correlated objects listed, %llu by containment, %llu values over-correlating; at most %zu "
              "distinct objects in one batch's answer) -> %.2f s for 1M new objects (target <= 10 s against 10M "
              "stored)\n",
              static_cast<long long>(shape.fresh), batch_size, batch_s, batch_cpu,
              static_cast<double>(shape.fresh) / batch_s,
              static_cast<unsigned long long>(correlated), static_cast<unsigned long long>(contained),
              static_cast<unsigned long long>(over), largest_objects, 1e6 * batch_s / static_cast<double>(shape.fresh));

  // 3b. Where the batch's time goes: the store's part alone, LookupPostings over the distinct values of the first
  // batch with the bounds CorrelateBatch uses (warm now: an upper bound of its share).
  {
    std::vector<store::PostingKey> keys;
    std::unordered_map<std::string, bool> seen;
    for (size_t i = 0; i < std::min(items.size(), batch_size); ++i) {
      for (const store::Posting& p : items[i].postings) {
        if (seen.emplace(std::string(1, static_cast<char>(p.kind)) + p.value, true).second) keys.push_back({p.kind, p.value});
      }
    }
    t0 = std::chrono::steady_clock::now();
    const double lookup_cpu0 = CpuSeconds();
    auto found = (*db)->LookupPostings(keys, options.max_correlations + 1, options.per_value + 2);
    if (!found.ok()) Fail("lookup postings", found.status());
    const double lookup_s = Since(t0), lookup_cpu = CpuSeconds() - lookup_cpu0;
    uint64_t hits = 0, counted = 0;
    for (const store::PostingLookup& f : *found) {
      hits += f.hits.size();
      counted += static_cast<uint64_t>(f.count);
    }
    std::printf("of which the store: LookupPostings of the first batch's %zu distinct values again (warm): %.2f s, "
                "CPU %.2f s (%llu objects read, counts summing to %llu)\n",
                keys.size(), lookup_s, lookup_cpu, static_cast<unsigned long long>(hits),
                static_cast<unsigned long long>(counted));
  }

  // 4. The old path, object by object, on the sample; it must give what the batch gave.
  size_t mismatches = 0;
  t0 = std::chrono::steady_clock::now();
  for (size_t s = 0; s < sampled.size(); ++s) {
    auto c = correlator.CorrelationsOf(new_ids[sampled[s]], options, all);
    if (!c.ok()) Fail("correlate " + new_ids[sampled[s]], c.status());
    const auto& b = sampled_batch[s];
    bool same = c->size() == b.size();
    for (size_t v = 0; same && v < b.size(); ++v) {
      const auto& x = (*c)[v];
      const auto& y = b[v];
      same = x.kind == y.kind && x.value == y.value && x.warninglists == y.warninglists &&
             x.over_correlating == y.over_correlating && x.objects.next_after == y.objects.next_after &&
             x.objects.more == y.objects.more && x.objects.objects.size() == y.objects.objects.size() &&
             x.containing.size() == y.containing.size() && x.contained.size() == y.contained.size() &&
             x.related_more == y.related_more;
      for (size_t o = 0; same && o < x.objects.objects.size(); ++o) {
        same = x.objects.objects[o].id == y.objects.objects[o].id && x.objects.objects[o].seq == y.objects.objects[o].seq;
      }
    }
    mismatches += same ? 0 : 1;
  }
  const double old_s = Since(t0);
  if (!sampled.empty()) {
    std::printf("old path (CorrelationsOf object by object) on a sample of %zu: %.2f s (%.0f objects/s) -> "
                "extrapolated %.1f s for the %lld new objects (batch is %.1fx faster); answers differing from the "
                "batch's: %zu\n",
                sampled.size(), old_s, static_cast<double>(sampled.size()) / old_s,
                old_s * static_cast<double>(shape.fresh) / static_cast<double>(sampled.size()),
                static_cast<long long>(shape.fresh),
                old_s * static_cast<double>(shape.fresh) / static_cast<double>(sampled.size()) / batch_s, mismatches);
  }

  // 5. Baseline: the same pages (first 20 other objects per value, and the bounded count) from memory.
  std::unordered_map<std::string, std::vector<uint32_t>> memory;
  for (size_t n = 0; n < values.size(); ++n) memory[values[n]].push_back(static_cast<uint32_t>(n));
  uint64_t baseline_correlated = 0, baseline_over = 0;
  std::vector<uint32_t> page;
  t0 = std::chrono::steady_clock::now();
  for (int64_t n = shape.stored; n < total; ++n) {
    const auto& objects = memory[values[static_cast<size_t>(n)]];
    page.clear();
    for (uint32_t o : objects) {
      if (o == n) continue;
      if (page.size() == options.per_value) break;
      page.push_back(o);
    }
    baseline_correlated += page.size();
    baseline_over += static_cast<int64_t>(objects.size()) > options.max_correlations ? 1 : 0;
  }
  const double baseline_s = Since(t0);
  std::printf("baseline in-memory map (exact values only): %.3f s (%llu correlated objects, %llu over-correlating); "
              "ratio batch / memory: %.1fx\n",
              baseline_s, static_cast<unsigned long long>(baseline_correlated),
              static_cast<unsigned long long>(baseline_over), batch_s / baseline_s);

  // 6. Storage.
  uint64_t postings = 0;
  long double pairs = 0;
  for (const auto& [value, objects] : memory) {
    postings += objects.size();
    pairs += static_cast<long double>(objects.size()) * static_cast<long double>(objects.size() - 1) / 2;
  }
  stats = (*db)->GetStats();
  if (!stats.ok()) Fail("stats", stats.status());
  std::printf("storage: %llu postings vs %.3Lg pairs in a pairwise table (%.0fx fewer rows); database %.1f MiB\n",
              static_cast<unsigned long long>(postings), pairs,
              static_cast<double>(pairs / static_cast<long double>(postings)),
              static_cast<double>(stats->size_bytes) / 1048576.0);
  db->reset();
  if (temporary) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
  }
  return mismatches == 0 ? 0 : 1;
}
