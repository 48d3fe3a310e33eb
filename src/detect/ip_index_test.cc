#include "detect/ip_index.h"

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace concord::detect {
namespace {

uint32_t V4(const std::string& text) { return ParseIpv4(text).value(); }
Ipv6Address V6(const std::string& text) { return ParseIpv6(text).value(); }

TEST(Ipv4Index, HostsWinOverPrefixesAndNeighboursFallBack) {
  std::vector<Ipv4Prefix> p{ParseIpv4Prefix("10.0.0.0/8", 1).value(), ParseIpv4Prefix("10.1.0.0/16", 2).value(),
                            ParseIpv4Prefix("10.1.2.3", 3).value(), ParseIpv4Prefix("192.0.2.1/32", 4).value()};
  auto index = Ipv4Index::Build(p);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->host_count(), 2u);
  EXPECT_EQ(index->prefix_count(), 2u);
  EXPECT_EQ(index->Lookup(V4("10.1.2.3")), 3u);
  EXPECT_EQ(index->Lookup(V4("10.1.2.4")), 2u);  // same /24 as a host, answered by the prefix table
  EXPECT_EQ(index->Lookup(V4("10.9.0.0")), 1u);
  EXPECT_EQ(index->Lookup(V4("192.0.2.1")), 4u);
  EXPECT_EQ(index->Lookup(V4("192.0.2.2")), kNoMatch);
  EXPECT_GT(index->MemoryBytes(), (size_t{1} << 24) * 4);
}

TEST(Ipv4Index, DuplicateHostLowestIdWins) {
  std::vector<Ipv4Prefix> p{{V4("198.51.100.9"), 32, 12}, {V4("198.51.100.9"), 32, 11}};
  auto index = Ipv4Index::Build(p);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->Lookup(V4("198.51.100.9")), 11u);
}

TEST(Ipv4Index, RejectsHostIdAboveMaximum) {
  std::vector<Ipv4Prefix> p{{V4("198.51.100.9"), 32, kMaxId + 1}};
  EXPECT_EQ(Ipv4Index::Build(p).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Ipv6Index, HostsWinOverPrefixes) {
  std::vector<Ipv6Prefix> p{ParseIpv6Prefix("2001:db8::/32", 1).value(), ParseIpv6Prefix("2001:db8::7", 2).value()};
  auto index = Ipv6Index::Build(p);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->host_count(), 1u);
  EXPECT_EQ(index->Lookup(V6("2001:db8::7")), 2u);
  EXPECT_EQ(index->Lookup(V6("2001:db8::8")), 1u);
  EXPECT_EQ(index->Lookup(V6("2001:db9::7")), kNoMatch);
}

// The same 32 bits as an IPv4 address and as the IPv4-mapped or low bits of an IPv6 address are
// different indicators: the families live in separate structures and never answer for each other.
TEST(IpIndex, FamiliesAreSeparate) {
  std::vector<Ipv4Prefix> p4{ParseIpv4Prefix("192.0.2.0/24", 1).value()};
  std::vector<Ipv6Prefix> p6{ParseIpv6Prefix("::/96", 2).value()};
  auto v4 = Ipv4Index::Build(p4);
  auto v6 = Ipv6Index::Build(p6);
  ASSERT_TRUE(v4.ok() && v6.ok());
  EXPECT_EQ(v4->Lookup(V4("192.0.2.1")), 1u);
  EXPECT_EQ(v6->Lookup(V6("::c000:201")), 2u);              // ::192.0.2.1 falls in ::/96, not in 192.0.2.0/24
  EXPECT_EQ(v6->Lookup(V6("::ffff:192.0.2.1")), kNoMatch);  // IPv4-mapped is not ::/96
  EXPECT_FALSE(ParseIpv4("::ffff:192.0.2.1").ok());
  EXPECT_FALSE(ParseIpv6("192.0.2.1").ok());
}

TEST(Ipv4Index, MatchesPrefixTableWithHostsIncluded) {
  std::mt19937_64 rng(7);
  std::vector<Ipv4Prefix> prefixes;
  for (uint32_t id = 0; id < 3000; ++id) {
    const uint32_t a = 0x0a000000u | static_cast<uint32_t>(rng() & 0xfffffu);
    const int length = (id % 3 == 0) ? 32 : 12 + static_cast<int>(rng() % 21);
    const uint32_t masked = length == 0 ? 0 : a & (0xffffffffu << (32 - length));
    prefixes.push_back({masked, static_cast<uint8_t>(length), id});
  }
  auto index = Ipv4Index::Build(prefixes);
  auto table = Ipv4PrefixTable::Build(prefixes);  // the same prefixes, hosts in DIR-24-8 blocks
  ASSERT_TRUE(index.ok() && table.ok());
  for (int i = 0; i < 50000; ++i) {
    const uint32_t a = 0x0a000000u | static_cast<uint32_t>(rng() & 0xfffffu);
    ASSERT_EQ(index->Lookup(a), table->Lookup(a)) << a;
  }
  for (const Ipv4Prefix& p : prefixes) ASSERT_EQ(index->Lookup(p.address), table->Lookup(p.address));
}

// Readers share one immutable index without locks (run under TSan by the tsan preset).
TEST(Ipv4Index, ConcurrentReadersGetTheSameAnswers) {
  std::mt19937_64 rng(11);
  std::vector<Ipv4Prefix> prefixes;
  for (uint32_t id = 0; id < 2000; ++id) {
    const int length = 16 + static_cast<int>(rng() % 17);
    prefixes.push_back(
        {static_cast<uint32_t>(rng()) & (0xffffffffu << (32 - length)), static_cast<uint8_t>(length), id});
  }
  auto index = Ipv4Index::Build(prefixes);
  ASSERT_TRUE(index.ok());
  std::vector<uint32_t> probes;
  for (const Ipv4Prefix& p : prefixes) probes.push_back(p.address | 1u);
  std::vector<uint32_t> expected;
  for (uint32_t a : probes) expected.push_back(index->Lookup(a));
  std::vector<std::vector<uint32_t>> seen(4);
  std::vector<std::thread> readers;
  for (auto& out : seen) {
    readers.emplace_back([&index, &probes, &out] {
      for (uint32_t a : probes) out.push_back(index->Lookup(a));
    });
  }
  for (auto& t : readers) t.join();
  for (const auto& out : seen) EXPECT_EQ(out, expected);
}

}  // namespace
}  // namespace concord::detect
