// Parse throughput of the hand-written STIX pattern parser, against baselines over the same bytes
// measured in the same run:
//   BM_BaselineCopy     — construct a std::string from each pattern (one allocation + memcpy each)
//   BM_BaselineScan     — count quote characters with memchr (touches every byte, no allocation)
//   BM_ParseSimple      — Pattern::Parse on a mix of one-comparison patterns (the indicator common case)
//   BM_ParseComplex     — Pattern::Parse on a multi-observation pattern with qualifiers and MATCHES
//   BM_ParseAndExtract  — Parse + Extract (what ingest does per indicator)
//   BM_Evaluate         — Evaluate a parsed pattern against 4 observations
// items/s = patterns/s. Run: build/h-pattern-rel/bench/pattern_benchmark
#include <cstring>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "boost/json/parse.hpp"
#include "pattern/evaluate.h"
#include "pattern/extract.h"
#include "pattern/pattern.h"

namespace {

using concord::pattern::Pattern;

const std::vector<std::string>& SimplePatterns() {
  static const auto* kPatterns = new std::vector<std::string>{
      "[ipv4-addr:value = '198.51.100.1']",
      "[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']",
      "[domain-name:value = 'www.webserver.dynssl.com']",
      "[file:hashes.MD5 = '001dd76872d80801692ff942308c64e6']",
      "[url:value = 'http://evil.example/payload.bin']",
      "[email-addr:value = 'phish@evil.example']",
      "[ipv4-addr:value = '223.166.0.0/15']",
      "[file:name = 'CBricksDoc']",
  };
  return *kPatterns;
}

const char kComplex[] =
    "([network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '203.0.113.10' AND "
    "network-traffic:dst_port = 80] FOLLOWEDBY [domain-name:value = 'example.com' OR domain-name:value IN "
    "('a.example', 'b.example', 'c.example')]) WITHIN 600 SECONDS AND "
    "[email-message:from_ref.value MATCHES '.+\\\\.example\\\\.com$' AND "
    "email-message:body_multipart[*].body_raw_ref.name LIKE 'Final Report%'] REPEATS 2 TIMES "
    "START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'";

int64_t TotalBytes(const std::vector<std::string>& v) {
  int64_t n = 0;
  for (const auto& s : v) n += static_cast<int64_t>(s.size());
  return n;
}

void BM_BaselineCopy(benchmark::State& state) {
  const auto& patterns = SimplePatterns();
  for (auto _ : state) {
    for (const auto& p : patterns) {
      std::string copy(p.data(), p.size());
      benchmark::DoNotOptimize(copy.data());
      benchmark::ClobberMemory();
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(patterns.size()));
  state.SetBytesProcessed(state.iterations() * TotalBytes(patterns));
}
BENCHMARK(BM_BaselineCopy);

void BM_BaselineScan(benchmark::State& state) {
  const auto& patterns = SimplePatterns();
  for (auto _ : state) {
    size_t quotes = 0;
    for (const auto& p : patterns) {
      const char* b = p.data();
      const char* e = b + p.size();
      while ((b = static_cast<const char*>(std::memchr(b, '\'', static_cast<size_t>(e - b)))) != nullptr) {
        ++quotes;
        ++b;
      }
    }
    benchmark::DoNotOptimize(quotes);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(patterns.size()));
  state.SetBytesProcessed(state.iterations() * TotalBytes(patterns));
}
BENCHMARK(BM_BaselineScan);

void BM_ParseSimple(benchmark::State& state) {
  const auto& patterns = SimplePatterns();
  for (auto _ : state) {
    for (const auto& p : patterns) {
      auto parsed = Pattern::Parse(p);
      if (!parsed.ok()) state.SkipWithError("parse failed");
      benchmark::DoNotOptimize(parsed);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(patterns.size()));
  state.SetBytesProcessed(state.iterations() * TotalBytes(patterns));
}
BENCHMARK(BM_ParseSimple);

void BM_ParseComplex(benchmark::State& state) {
  for (auto _ : state) {
    auto parsed = Pattern::Parse(kComplex);
    if (!parsed.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(sizeof(kComplex) - 1));
}
BENCHMARK(BM_ParseComplex);

void BM_ParseAndExtract(benchmark::State& state) {
  const auto& patterns = SimplePatterns();
  for (auto _ : state) {
    for (const auto& p : patterns) {
      auto parsed = Pattern::Parse(p);
      if (!parsed.ok()) state.SkipWithError("parse failed");
      auto values = concord::pattern::Extract(*parsed);
      benchmark::DoNotOptimize(values);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(patterns.size()));
}
BENCHMARK(BM_ParseAndExtract);

void BM_Evaluate(benchmark::State& state) {
  std::vector<concord::pattern::Observation> obs(4);
  for (size_t i = 0; i < obs.size(); ++i) {
    obs[i].id = "observed-data--" + std::to_string(i);
    obs[i].first_observed.seconds = static_cast<int64_t>(i) * 60;
    obs[i].last_observed = obs[i].first_observed;
    obs[i].objects = boost::json::parse(R"({"0":{"type":"ipv4-addr","value":"198.51.100.)" + std::to_string(i) +
                                        R"("},"1":{"type":"domain-name","value":"c2.example"}})")
                         .as_object();
    obs[i].roots = {"0", "1"};
  }
  auto parsed = Pattern::Parse(
      "[ipv4-addr:value ISSUBSET '198.51.100.0/24'] FOLLOWEDBY [domain-name:value = 'c2.example'] WITHIN 300 SECONDS");
  if (!parsed.ok()) {
    state.SkipWithError("parse failed");
    return;
  }
  for (auto _ : state) {
    auto r = concord::pattern::Evaluate(*parsed, obs);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Evaluate);

}  // namespace

BENCHMARK_MAIN();
