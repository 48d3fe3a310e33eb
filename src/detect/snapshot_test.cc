// The snapshot's lookup structures and the matcher's shortcuts, beyond the golden cases: the domain
// walk, values shared by many indicators, deep names, the kinds a snapshot can match, and a build on one
// thread equal to a build on two.
#include "detect/snapshot.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "boost/json/serialize.hpp"
#include "detect/matcher.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

namespace concord::detect {
namespace {

const Timestamp kNow = Timestamp::FromUnixMillis(1'795'000'000'000);

Indicator Make(size_t n, std::vector<IndicatorValue> values) {
  Indicator ind;
  ind.id = fmt::format("indicator--00000000-0000-4000-8000-{:012x}", n);
  ind.values = std::move(values);
  return ind;
}

IndicatorValue Domain(std::string name, bool subdomains) { return {ValueKind::kDomain, std::move(name), true, subdomains}; }

std::shared_ptr<const Snapshot> Build(std::vector<Indicator> indicators, int threads = 2) {
  SnapshotOptions options;
  options.build_threads = threads;
  SnapshotBuilder builder(options, kNow);
  for (Indicator& ind : indicators) builder.Add(std::move(ind), Skip::kNone);
  auto built = builder.Build();
  EXPECT_TRUE(built.ok()) << built.status();
  return built.ok() ? *built : nullptr;
}

// "indicator:matched_kind:matched:decisive" for every candidate, in the order found.
std::vector<std::string> Found(const Snapshot& snap, ValueKind kind, std::string_view value) {
  std::vector<std::string> out;
  snap.Lookup(kind, value, nullptr, [&](const Candidate& c) {
    out.push_back(fmt::format("{}:{}:{}:{}", c.indicator, ValueKindName(c.kind), c.matched, c.decisive ? "d" : "-"));
  });
  return out;
}

using Strings = std::vector<std::string>;

TEST(Snapshot, DomainWalkFindsTheNameAndCoveringParentsOnly) {
  auto snap = Build({Make(0, {Domain("example.com", true)}), Make(1, {Domain("exact.org", false)}),
                     Make(2, {Domain("b.example.com", true)}), Make(3, {Domain("a.b.example.com", false)})});
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "example.com"), Strings{"0:domain:example.com:d"});
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "x.y.example.com"), Strings{"0:domain:example.com:d"});
  // The name itself first (every posting), then the parents from the longest.
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "a.b.example.com"),
            (Strings{"3:domain:a.b.example.com:d", "2:domain:b.example.com:d", "0:domain:example.com:d"}));
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "z.a.b.example.com"),
            (Strings{"2:domain:b.example.com:d", "0:domain:example.com:d"}));
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "badexample.com"), Strings{});
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "exact.org"), Strings{"1:domain:exact.org:d"});
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "sub.exact.org"), Strings{});
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "com"), Strings{});
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, ".example.com"), Strings{"0:domain:example.com:d"});
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "example.com."), Strings{});  // not normalised: no such key
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, ""), Strings{});
  EXPECT_EQ(snap->stats().values, 4u);
  EXPECT_EQ(snap->stats().postings, 4u);
  EXPECT_EQ(snap->stats().key_bytes, 11u + 9u + 13u + 15u);
}

TEST(Snapshot, TopLevelDomainsAndSingleLabelsAreFoundWhenIndicated) {
  auto snap = Build({Make(0, {Domain("zip", true)}), Make(1, {Domain("localhost", false)})});
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "evil.zip"), Strings{"0:domain:zip:d"});
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "zip"), Strings{"0:domain:zip:d"});
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "localhost"), Strings{"1:domain:localhost:d"});
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "a.localhost"), Strings{});
}

TEST(Snapshot, NamesDeeperThanTheLabelTableAreWalkedToo) {
  auto snap = Build({Make(0, {Domain("deep.example", true)})});
  ASSERT_NE(snap, nullptr);
  std::string name;
  for (int i = 0; i < 100; ++i) name += "l" + std::to_string(i) + ".";
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, name + "deep.example"), Strings{"0:domain:deep.example:d"});
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, name + "other.example"), Strings{});
}

TEST(Snapshot, AValueOfManyIndicatorsKeepsEveryPostingInIndicatorOrder) {
  std::vector<Indicator> indicators;
  // 300 indicators on one domain and one hash, interleaved with distinct values: the tables sized for
  // the postings are sized anew for the values.
  for (size_t i = 0; i < 600; ++i) {
    if (i % 2 == 0) {
      indicators.push_back(Make(i, {Domain("shared.example", i % 4 == 0), {ValueKind::kMd5, std::string(32, 'a'), true, false}}));
    } else {
      indicators.push_back(Make(i, {Domain(fmt::format("d{}.example", i), false)}));
    }
  }
  auto snap = Build(std::move(indicators));
  ASSERT_NE(snap, nullptr);
  const Strings shared = Found(*snap, ValueKind::kDomain, "shared.example");
  ASSERT_EQ(shared.size(), 300u);
  for (size_t k = 0; k < shared.size(); ++k) EXPECT_EQ(shared[k], fmt::format("{}:domain:shared.example:d", 2 * k));
  // Below the name only the postings that cover subdomains.
  const Strings below = Found(*snap, ValueKind::kDomain, "www.shared.example");
  ASSERT_EQ(below.size(), 150u);
  EXPECT_EQ(below.front(), "0:domain:shared.example:d");
  EXPECT_EQ(below.back(), "596:domain:shared.example:d");
  EXPECT_EQ(Found(*snap, ValueKind::kMd5, std::string(32, 'a')).size(), 300u);
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "d301.example"), Strings{"301:domain:d301.example:d"});
  EXPECT_EQ(snap->stats().values, 302u);
  EXPECT_EQ(snap->stats().postings, 900u);
  EXPECT_EQ(snap->stats().values_by_kind.at("domain"), 301u);
  EXPECT_EQ(snap->stats().values_by_kind.at("md5"), 1u);
}

TEST(Snapshot, OneIndicatorTwiceOnAValueIsOneCandidate) {
  auto snap = Build({Make(0, {Domain("twice.example", false), Domain("twice.example", true)})});
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "twice.example"), Strings{"0:domain:twice.example:d"});
  EXPECT_EQ(Found(*snap, ValueKind::kDomain, "a.twice.example"), Strings{"0:domain:twice.example:d"});
  EXPECT_EQ(snap->stats().postings, 1u);
}

TEST(Snapshot, AddressesAndNetworksGoToThePrefixTables) {
  auto snap = Build({Make(0, {{ValueKind::kIpv4, "10.1.2.3", true, false}}),
                     Make(1, {{ValueKind::kCidr4, "10.0.0.0/8", true, false}}),
                     Make(2, {{ValueKind::kCidr6, "2001:db8::/32", true, false}}),
                     Make(3, {{ValueKind::kIpv6, "2001:db8::1", true, false}})});
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(Found(*snap, ValueKind::kIpv4, "10.1.2.3"), Strings{"0:ipv4:10.1.2.3:d"});
  EXPECT_EQ(Found(*snap, ValueKind::kIpv4, "10.9.9.9"), Strings{"1:cidr4:10.0.0.0/8:d"});
  EXPECT_EQ(Found(*snap, ValueKind::kIpv4, "11.0.0.1"), Strings{});
  EXPECT_EQ(Found(*snap, ValueKind::kIpv6, "2001:db8::1"), Strings{"3:ipv6:2001:db8::1:d"});
  EXPECT_EQ(Found(*snap, ValueKind::kIpv6, "2001:db8::2"), Strings{"2:cidr6:2001:db8::/32:d"});
}

TEST(Snapshot, CandidateKindsFollowTheValuesAndConfirmationWidensObservedKinds) {
  using logs::KindBit;
  auto domains = Build({Make(0, {Domain("example.com", true)})});
  ASSERT_NE(domains, nullptr);
  EXPECT_EQ(domains->candidate_kinds(), KindBit(ValueKind::kDomain) | KindBit(ValueKind::kUrl));
  EXPECT_EQ(domains->observed_kinds(), domains->candidate_kinds());

  auto hashes = Build({Make(0, {{ValueKind::kSha256, std::string(64, 'b'), true, false}})});
  ASSERT_NE(hashes, nullptr);
  EXPECT_EQ(hashes->candidate_kinds(), KindBit(ValueKind::kSha256));

  const logs::KindMask ip = KindBit(ValueKind::kIpv4) | KindBit(ValueKind::kIpv6) | KindBit(ValueKind::kCidr4) |
                            KindBit(ValueKind::kCidr6);
  auto v6 = Build({Make(0, {{ValueKind::kCidr6, "2001:db8::/32", true, false}})});
  ASSERT_NE(v6, nullptr);
  EXPECT_EQ(v6->candidate_kinds(), ip | KindBit(ValueKind::kUrl));

  // A pattern that needs confirmation may look at any observable of the record.
  store::StoredObject o;
  o.id = "indicator--00000000-0000-4000-8000-000000000001";
  o.type = "indicator";
  o.json = R"({"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001",)"
           R"("created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern_type":"stix",)"
           R"("pattern":"[file:hashes.MD5 = '0123456789abcdef0123456789abcdef' AND file:name = 'dropper.exe']",)"
           R"("valid_from":"2026-01-01T00:00:00Z"})";
  SnapshotBuilder builder({}, kNow);
  ASSERT_TRUE(builder.AddStored(o).ok());
  auto confirmed = builder.Build();
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_NE((*confirmed)->candidate_kinds() & KindBit(ValueKind::kMd5), 0u);
  EXPECT_EQ((*confirmed)->candidate_kinds() & KindBit(ValueKind::kIpv4), 0u);
  EXPECT_EQ((*confirmed)->observed_kinds(), logs::kAllKinds);
}

TEST(Matcher, SkipsValuesOfKindsNothingCanMatch) {
  auto snap = Build({Make(0, {Domain("example.com", true)})});
  ASSERT_NE(snap, nullptr);
  auto matcher = Matcher::Create(snap);
  ASSERT_TRUE(matcher.ok()) << matcher.status();
  const logs::Observable observables[] = {{ValueKind::kIpv4, "10.0.0.1", "id.orig_h"},
                                          {ValueKind::kDomain, "WWW.Example.COM.", "query"},
                                          {ValueKind::kMd5, "not-a-hash", "md5"},
                                          {ValueKind::kUrl, "http://www.example.com/x", "uri"}};
  logs::Record record;
  record.observables = observables;
  std::vector<std::string> hits;
  (*matcher)->Match(record, [&](const Hit& h) { hits.push_back(fmt::format("{} {} {}", h.field, h.value, h.matched)); });
  EXPECT_EQ(hits, (Strings{"query www.example.com example.com", "uri http://www.example.com/x example.com"}));
  EXPECT_EQ((*matcher)->stats().observables, 4u);
  EXPECT_EQ((*matcher)->stats().skipped, 2u);
  EXPECT_EQ((*matcher)->stats().unnormalizable, 0u);
  EXPECT_EQ((*matcher)->stats().hits, 2u);
}

TEST(Snapshot, IndicatorIdsRoundTripAndSightingsRefreshTheirScore) {
  const std::vector<std::string> ids = {
      "indicator--0123abcd-4567-4890-8bcd-ef0123456789",  // canonical: kept as 16 bytes
      "indicator--0123ABCD-4567-4890-8BCD-EF0123456789",  // upper case: kept as text
      "indicator--0123abcd-4567-4890-8bcd-ef012345678g",  // not hex
      "indicator--0123abcd+4567-4890-8bcd-ef0123456789",  // not a dash
      "indicator--short",
  };
  SnapshotBuilder builder({}, kNow);
  const Timestamp sixty_days_ago = Timestamp::FromUnixMillis(kNow.UnixMillis() - int64_t{60} * 86'400'000);
  for (size_t i = 0; i < ids.size(); ++i) {
    Indicator ind = Make(i, {Domain(fmt::format("d{}.example", i), false)});
    ind.id = ids[i];
    ind.name = fmt::format("name {}", i);
    ind.valid_from = sixty_days_ago;
    builder.Add(std::move(ind), Skip::kNone);
  }
  // Sightings of the first two (and of an indicator that is not there) make them fresh again.
  builder.AddSighting(ids[0], kNow);
  builder.AddSighting(ids[1], kNow);
  builder.AddSighting("indicator--00000000-0000-4000-8000-000000000000", kNow);
  auto built = builder.Build();
  ASSERT_TRUE(built.ok()) << built.status();
  const Snapshot& snap = **built;
  ASSERT_EQ(snap.indicator_count(), ids.size());
  for (uint32_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(snap.IndicatorId(i), ids[i]);
    EXPECT_EQ(snap.IndicatorName(i), fmt::format("name {}", i));
  }
  // Domains decay over 90 days at speed 0.3: 100 × (1 − (60/90)^(1/0.3)) = 74.12.
  EXPECT_EQ(snap.indicator(0).score_hundredths, 10000);
  EXPECT_EQ(snap.indicator(1).score_hundredths, 10000);
  EXPECT_EQ(snap.indicator(2).score_hundredths, 7412);
  EXPECT_EQ(snap.indicator(4).score_hundredths, 7412);
}

// Random values of every indexed kind; the same lookups on snapshots built on one and on two threads.
TEST(Snapshot, BuildOnTwoThreadsEqualsBuildOnOne) {
  std::mt19937_64 rng(11);
  auto label = [&] {
    std::string s;
    const int n = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int i = 0; i < n; ++i) s += static_cast<char>('a' + std::uniform_int_distribution<int>(0, 5)(rng));
    return s;
  };
  auto hex = [&](size_t n) {
    std::string s(n, '0');
    for (char& c : s) c = "0123456789abcdef"[std::uniform_int_distribution<int>(0, 15)(rng)];
    return s;
  };
  std::vector<std::pair<ValueKind, std::string>> probes;
  std::vector<Indicator> indicators;
  for (size_t i = 0; i < 5000; ++i) {
    std::vector<IndicatorValue> values;
    const int n = std::uniform_int_distribution<int>(1, 3)(rng);
    for (int v = 0; v < n; ++v) {
      switch (std::uniform_int_distribution<int>(0, 4)(rng)) {
        case 0: values.push_back(Domain(label() + "." + label(), std::bernoulli_distribution(0.5)(rng))); break;
        case 1: values.push_back({ValueKind::kUrl, "http://" + label() + ".example/" + label(), true, false}); break;
        case 2: values.push_back({ValueKind::kMd5, hex(32).substr(0, 30) + "00", true, false}); break;
        case 3:
          values.push_back({ValueKind::kIpv4, fmt::format("10.0.{}.{}", rng() % 4, rng() % 256), true, false});
          break;
        default:
          values.push_back({ValueKind::kCidr4, fmt::format("10.{}.0.0/16", rng() % 8), true, false});
          break;
      }
      probes.emplace_back(values.back().kind == ValueKind::kCidr4 ? ValueKind::kIpv4 : values.back().kind,
                          values.back().kind == ValueKind::kCidr4 ? fmt::format("10.{}.1.1", rng() % 8)
                                                                  : values.back().value);
    }
    indicators.push_back(Make(i, std::move(values)));
  }
  const size_t value_probes = probes.size();
  for (int i = 0; i < 2000; ++i) probes.emplace_back(ValueKind::kDomain, label() + "." + label() + "." + label());
  std::vector<Indicator> copy = indicators;
  auto one = Build(std::move(indicators), 1);
  auto two = Build(std::move(copy), 2);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  EXPECT_EQ(one->stats().values, two->stats().values);
  EXPECT_EQ(one->stats().postings, two->stats().postings);
  EXPECT_EQ(one->stats().key_bytes, two->stats().key_bytes);
  EXPECT_EQ(one->stats().memory_bytes, two->stats().memory_bytes);
  size_t found = 0;
  for (const auto& [kind, value] : probes) {
    const Strings a = Found(*one, kind, value);
    ASSERT_EQ(a, Found(*two, kind, value)) << value;
    found += a.empty() ? 0 : 1;
  }
  EXPECT_GE(found, value_probes);  // every value probed for finds at least its own indicator
}

// The dots of a name are found 16 bytes at a time, the last ones without a copy: names of every length
// ending right before an unreadable page are walked in full (a read past the page would crash).
TEST(Snapshot, DomainNamesEndingAtAPageEdgeAreWalkedInFull) {
  auto snap = Build({Make(0, {Domain("b.example", true)}), Make(1, {Domain("zz.b.example", false)})});
  ASSERT_NE(snap, nullptr);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  char* const base = static_cast<char*>(map);
  ASSERT_EQ(mprotect(base + page, page, PROT_NONE), 0);
  for (size_t labels = 0; labels <= 12; ++labels) {
    // "zz.b.example", "a.zz.b.example", "a.a.zz.b.example", … (12 to 36 bytes)
    std::string name = "zz.b.example";
    for (size_t k = 0; k < labels; ++k) name = "a." + name;
    SCOPED_TRACE(name);
    char* const at = base + page - name.size();
    std::memcpy(at, name.data(), name.size());
    const std::string_view edge(at, name.size());
    const Strings expected = labels == 0 ? Strings{"1:domain:zz.b.example:d", "0:domain:b.example:d"}
                                         : Strings{"0:domain:b.example:d"};
    EXPECT_EQ(Found(*snap, ValueKind::kDomain, edge), expected);
    Snapshot::DomainPlan plan;
    snap->PlanDomain(edge, plan);
    std::vector<std::string> planned;
    snap->LookupDomain(edge, plan, [&](const Candidate& c) {
      planned.push_back(
          fmt::format("{}:{}:{}:{}", c.indicator, ValueKindName(c.kind), c.matched, c.decisive ? "d" : "-"));
    });
    EXPECT_EQ(planned, expected);
  }
  munmap(map, 2 * page);
}

// Matcher::Prefetch (the reader's read-ahead) is a hint: with it, before each record or a few records
// ahead, the hits are the same as without; a plan never outlives its snapshot.
TEST(Matcher, PrefetchChangesNoHit) {
  auto snap = Build({Make(0, {Domain("example.com", true)}), Make(1, {Domain("www.example.org", false)}),
                     Make(2, {{ValueKind::kMd5, "0123456789abcdef0123456789abcdef", true, false}})});
  ASSERT_NE(snap, nullptr);
  const std::string long_name = std::string(300, 'a') + ".example.com";  // longer than a plan takes
  const std::vector<std::vector<logs::Observable>> records = {
      {{ValueKind::kDomain, "WWW.Example.COM.", "query"}},
      {{ValueKind::kDomain, "www.example.org", "query"}, {ValueKind::kDomain, "example.org", "answers"}},
      {{ValueKind::kMd5, "0123456789ABCDEF0123456789ABCDEF", "md5"}, {ValueKind::kDomain, "a.b.example.com", "q"}},
      {{ValueKind::kDomain, "ex\xc3\xa4mple.com", "query"}, {ValueKind::kDomain, "x.example.com", "query"}},
      {{ValueKind::kDomain, long_name, "query"}}};
  auto run = [&](size_t ahead, const std::shared_ptr<const Snapshot>& second) {
    auto matcher = Matcher::Create(snap);
    EXPECT_TRUE(matcher.ok());
    std::vector<std::string> hits;
    for (size_t i = 0; i < records.size(); ++i) {
      if (i == 3 && second != nullptr) {
        EXPECT_TRUE((*matcher)->SetSnapshot(second).ok());
      }
      for (size_t j = i; ahead > 0 && j < std::min(records.size(), i + ahead); ++j) {
        if (i == 0 || j == i + ahead - 1) {
          logs::Record r;
          r.observables = records[j];
          (*matcher)->Prefetch(r);
        }
      }
      logs::Record r;
      r.line = i;
      r.observables = records[i];
      (*matcher)->Match(r, [&](const Hit& h) {
        hits.push_back(fmt::format("{} {} {} {}", r.line, h.indicator, h.value, h.matched));
      });
    }
    return hits;
  };
  const Strings expected = {"0 0 www.example.com example.com", "1 1 www.example.org www.example.org",
                            "2 2 0123456789abcdef0123456789abcdef 0123456789abcdef0123456789abcdef",
                            "2 0 a.b.example.com example.com", "3 0 x.example.com example.com",
                            "4 0 " + long_name + " example.com"};
  EXPECT_EQ(run(0, nullptr), expected);
  for (size_t ahead = 1; ahead <= 5; ++ahead) EXPECT_EQ(run(ahead, nullptr), expected) << ahead;
  // A snapshot without the domains from record 3 on: the plans made on the first one must not be used.
  auto hashes_only = Build({Make(0, {{ValueKind::kMd5, "0123456789abcdef0123456789abcdef", true, false}})});
  ASSERT_NE(hashes_only, nullptr);
  const Strings first_three(expected.begin(), expected.begin() + 4);
  for (size_t ahead = 0; ahead <= 5; ++ahead) EXPECT_EQ(run(ahead, hashes_only), first_three) << ahead;
}

}  // namespace
}  // namespace concord::detect
