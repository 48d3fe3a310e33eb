#include "detect/prefix_table.h"

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace concord::detect {
namespace {

uint32_t V4(const std::string& text) {
  auto a = ParseIpv4(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? *a : 0;
}

Ipv6Address V6(const std::string& text) {
  auto a = ParseIpv6(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? *a : Ipv6Address{};
}

Ipv4PrefixTable Build4(const std::vector<std::pair<std::string, uint32_t>>& cidrs) {
  std::vector<Ipv4Prefix> prefixes;
  for (const auto& [text, id] : cidrs) {
    auto p = ParseIpv4Prefix(text, id);
    EXPECT_TRUE(p.ok()) << text << ": " << p.status();
    if (p.ok()) prefixes.push_back(*p);
  }
  auto table = Ipv4PrefixTable::Build(prefixes);
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(table).value();
}

Ipv6PrefixTable Build6(const std::vector<std::pair<std::string, uint32_t>>& cidrs) {
  std::vector<Ipv6Prefix> prefixes;
  for (const auto& [text, id] : cidrs) {
    auto p = ParseIpv6Prefix(text, id);
    EXPECT_TRUE(p.ok()) << text << ": " << p.status();
    if (p.ok()) prefixes.push_back(*p);
  }
  auto table = Ipv6PrefixTable::Build(prefixes);
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(table).value();
}

TEST(Ipv4PrefixTable, EmptyMatchesNothing) {
  auto t = Build4({});
  EXPECT_EQ(t.Lookup(0), kNoMatch);
  EXPECT_EQ(t.Lookup(V4("10.1.2.3")), kNoMatch);
  EXPECT_EQ(t.Lookup(0xffffffffu), kNoMatch);
  EXPECT_LT(t.MemoryBytes(), 4096u);  // no 64 MiB first level without prefixes
}

TEST(Ipv4PrefixTable, SlashZeroMatchesEverythingAndLosesToLongerPrefixes) {
  auto t = Build4({{"0.0.0.0/0", 7}, {"192.0.2.0/24", 8}});
  EXPECT_EQ(t.Lookup(0), 7u);
  EXPECT_EQ(t.Lookup(0xffffffffu), 7u);
  EXPECT_EQ(t.Lookup(V4("192.0.2.77")), 8u);
  EXPECT_EQ(t.Lookup(V4("192.0.3.0")), 7u);
}

TEST(Ipv4PrefixTable, SlashThirtyTwoMatchesOnlyItsAddress) {
  auto t = Build4({{"198.51.100.7/32", 3}});
  EXPECT_EQ(t.Lookup(V4("198.51.100.7")), 3u);
  EXPECT_EQ(t.Lookup(V4("198.51.100.6")), kNoMatch);
  EXPECT_EQ(t.Lookup(V4("198.51.100.8")), kNoMatch);
  EXPECT_EQ(t.block_count(), 1u);
}

TEST(Ipv4PrefixTable, OverlappingPrefixesResolvedByLength) {
  auto t = Build4({{"10.0.0.0/8", 1}, {"10.1.0.0/16", 2}, {"10.1.2.3/32", 3}});
  EXPECT_EQ(t.Lookup(V4("10.1.2.3")), 3u);
  EXPECT_EQ(t.Lookup(V4("10.1.2.2")), 2u);
  EXPECT_EQ(t.Lookup(V4("10.1.2.4")), 2u);
  EXPECT_EQ(t.Lookup(V4("10.1.255.255")), 2u);
  EXPECT_EQ(t.Lookup(V4("10.2.0.0")), 1u);
  EXPECT_EQ(t.Lookup(V4("10.0.255.255")), 1u);
  EXPECT_EQ(t.Lookup(V4("11.0.0.0")), kNoMatch);
  EXPECT_EQ(t.Lookup(V4("9.255.255.255")), kNoMatch);
}

TEST(Ipv4PrefixTable, InputOrderDoesNotMatter) {
  auto t = Build4({{"10.1.2.3/32", 3}, {"10.1.0.0/16", 2}, {"10.0.0.0/8", 1}, {"10.1.2.0/28", 4}});
  EXPECT_EQ(t.Lookup(V4("10.1.2.3")), 3u);
  EXPECT_EQ(t.Lookup(V4("10.1.2.15")), 4u);
  EXPECT_EQ(t.Lookup(V4("10.1.2.16")), 2u);
  EXPECT_EQ(t.Lookup(V4("10.3.0.0")), 1u);
}

TEST(Ipv4PrefixTable, FirstAndLastAddressOfARange) {
  auto t = Build4({{"203.0.113.64/26", 5}, {"172.16.0.0/12", 6}});
  EXPECT_EQ(t.Lookup(V4("203.0.113.63")), kNoMatch);
  EXPECT_EQ(t.Lookup(V4("203.0.113.64")), 5u);
  EXPECT_EQ(t.Lookup(V4("203.0.113.127")), 5u);
  EXPECT_EQ(t.Lookup(V4("203.0.113.128")), kNoMatch);
  EXPECT_EQ(t.Lookup(V4("172.15.255.255")), kNoMatch);
  EXPECT_EQ(t.Lookup(V4("172.16.0.0")), 6u);
  EXPECT_EQ(t.Lookup(V4("172.31.255.255")), 6u);
  EXPECT_EQ(t.Lookup(V4("172.32.0.0")), kNoMatch);
}

TEST(Ipv4PrefixTable, AdjacentPrefixesKeepTheirOwnIds) {
  auto t = Build4({{"192.0.2.0/25", 1}, {"192.0.2.128/25", 2}, {"198.18.0.0/16", 3}, {"198.19.0.0/16", 4}});
  EXPECT_EQ(t.Lookup(V4("192.0.2.127")), 1u);
  EXPECT_EQ(t.Lookup(V4("192.0.2.128")), 2u);
  EXPECT_EQ(t.Lookup(V4("198.18.255.255")), 3u);
  EXPECT_EQ(t.Lookup(V4("198.19.0.0")), 4u);
}

TEST(Ipv4PrefixTable, LastAddressOfTheSpace) {
  auto t = Build4({{"255.255.255.255/32", 9}, {"255.255.255.0/24", 10}});
  EXPECT_EQ(t.Lookup(0xffffffffu), 9u);
  EXPECT_EQ(t.Lookup(0xfffffffeu), 10u);
}

TEST(Ipv4PrefixTable, DuplicatePrefixLowestIdWins) {
  auto t = Build4({{"10.0.0.0/8", 9}, {"10.0.0.0/8", 4}, {"10.0.0.0/8", 6}, {"10.9.9.0/30", 8}, {"10.9.9.0/30", 2}});
  EXPECT_EQ(t.Lookup(V4("10.200.0.1")), 4u);
  EXPECT_EQ(t.Lookup(V4("10.9.9.3")), 2u);
}

TEST(Ipv4PrefixTable, RejectsBadInput) {
  std::vector<Ipv4Prefix> too_long{{0, 33, 1}};
  EXPECT_EQ(Ipv4PrefixTable::Build(too_long).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<Ipv4Prefix> host_bits{{V4("10.0.0.1"), 8, 1}};
  auto s = Ipv4PrefixTable::Build(host_bits).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "prefix 0: host bits set");
  std::vector<Ipv4Prefix> big_id{{0, 0, kMaxId + 1}};
  EXPECT_EQ(Ipv4PrefixTable::Build(big_id).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIpv4Prefix("10.0.0.1/8", 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIpv4Prefix("10.0.0.0/33", 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIpv4Prefix("10.0.0.0/", 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIpv4Prefix("10.0.0.0/+8", 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIpv4Prefix("10.0.0.0/ 8", 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIpv4Prefix("10.0.0.0/8", 1).value().length, 8);
  EXPECT_EQ(ParseIpv4Prefix("10.0.0.7", 1).value().length, 32);
  EXPECT_EQ(ParseIpv6Prefix("2001:db8::7", 1).value().length, 128);
  EXPECT_EQ(ParseIpv4Prefix("2001:db8::/32", 1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Ipv4PrefixTable, ReportsMemory) {
  auto t = Build4({{"10.0.0.0/8", 1}, {"10.1.2.3/32", 2}});
  EXPECT_GE(t.MemoryBytes(), (size_t{1} << 24) * 4 + 256 * 4);
  EXPECT_EQ(t.prefix_count(), 2u);
}

TEST(Ipv6PrefixTable, EmptyMatchesNothing) {
  auto t = Build6({});
  EXPECT_EQ(t.Lookup(V6("::")), kNoMatch);
  EXPECT_EQ(t.Lookup(V6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), kNoMatch);
}

TEST(Ipv6PrefixTable, SlashZeroAndSlashOneTwentyEight) {
  auto t = Build6({{"::/0", 1}, {"2001:db8::1/128", 2}, {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", 3}});
  EXPECT_EQ(t.Lookup(V6("::")), 1u);
  EXPECT_EQ(t.Lookup(V6("2001:db8::1")), 2u);
  EXPECT_EQ(t.Lookup(V6("2001:db8::")), 1u);
  EXPECT_EQ(t.Lookup(V6("2001:db8::2")), 1u);
  EXPECT_EQ(t.Lookup(V6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), 3u);
  EXPECT_EQ(t.Lookup(V6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")), 1u);
}

TEST(Ipv6PrefixTable, OverlappingPrefixesResolvedByLength) {
  auto t = Build6({{"2001:db8::/32", 1}, {"2001:db8:1::/48", 2}, {"2001:db8:1:2::/64", 3}, {"2001:db8:1:2::3/128", 4}});
  EXPECT_EQ(t.Lookup(V6("2001:db8:1:2::3")), 4u);
  EXPECT_EQ(t.Lookup(V6("2001:db8:1:2::4")), 3u);
  EXPECT_EQ(t.Lookup(V6("2001:db8:1:2:ffff:ffff:ffff:ffff")), 3u);
  EXPECT_EQ(t.Lookup(V6("2001:db8:1:3::")), 2u);
  EXPECT_EQ(t.Lookup(V6("2001:db8:1:ffff:ffff:ffff:ffff:ffff")), 2u);
  EXPECT_EQ(t.Lookup(V6("2001:db8:2::")), 1u);
  EXPECT_EQ(t.Lookup(V6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")), 1u);
  EXPECT_EQ(t.Lookup(V6("2001:db9::")), kNoMatch);
  EXPECT_EQ(t.Lookup(V6("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff")), kNoMatch);
}

TEST(Ipv6PrefixTable, AdjacentPrefixesAndRangeEdges) {
  auto t = Build6({{"2001:db8::/33", 1}, {"2001:db8:8000::/33", 2}, {"fe80::/10", 3}});
  EXPECT_EQ(t.Lookup(V6("2001:db8:7fff:ffff:ffff:ffff:ffff:ffff")), 1u);
  EXPECT_EQ(t.Lookup(V6("2001:db8:8000::")), 2u);
  EXPECT_EQ(t.Lookup(V6("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), kNoMatch);
  EXPECT_EQ(t.Lookup(V6("fe80::")), 3u);
  EXPECT_EQ(t.Lookup(V6("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), 3u);
  EXPECT_EQ(t.Lookup(V6("fec0::")), kNoMatch);
}

TEST(Ipv6PrefixTable, DuplicatePrefixLowestIdWins) {
  auto t = Build6({{"2001:db8::/32", 5}, {"2001:db8::/32", 3}, {"2001:db8::/32", 4}});
  EXPECT_EQ(t.Lookup(V6("2001:db8::1")), 3u);
}

TEST(Ipv6PrefixTable, RejectsBadInput) {
  EXPECT_EQ(ParseIpv6Prefix("2001:db8::1/64", 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIpv6Prefix("2001:db8::/129", 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIpv6Prefix("10.0.0.0/8", 1).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<Ipv6Prefix> too_long{{{}, 129, 1}};
  EXPECT_EQ(Ipv6PrefixTable::Build(too_long).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<Ipv6Prefix> host_bits{{V6("2001:db8::1"), 64, 1}};
  EXPECT_EQ(Ipv6PrefixTable::Build(host_bits).status().message(), "prefix 0: host bits set");
}

// ------------------------------------------------------------------------------ differential tests

template <typename Prefix, typename Contains>
uint32_t ReferenceLookup(const std::vector<Prefix>& prefixes, Contains contains) {
  int best_length = -1;
  uint32_t best = kNoMatch;
  for (const Prefix& p : prefixes) {
    if (!contains(p)) continue;
    if (p.length > best_length || (p.length == best_length && p.id < best)) {
      best_length = p.length;
      best = p.id;
    }
  }
  return best;
}

uint32_t Mask4(uint32_t a, int length) { return length == 0 ? 0 : a & (0xffffffffu << (32 - length)); }

TEST(Ipv4PrefixTable, MatchesLinearScanOnRandomPrefixes) {
  std::mt19937_64 rng(20261122);
  // Addresses drawn from a few /16s so that prefixes overlap often; lengths over the whole range.
  const uint32_t bases[] = {0x0a000000u, 0x0a010000u, 0xc0a80000u, 0xffff0000u, 0x00000000u};
  auto random_address = [&] {
    const uint32_t r = static_cast<uint32_t>(rng());
    return (rng() % 8 == 0) ? r : (bases[rng() % 5] | (r & 0xffffu));
  };
  std::vector<Ipv4Prefix> prefixes;
  for (uint32_t id = 0; id < 600; ++id) {
    const int length = (rng() % 4 == 0) ? static_cast<int>(rng() % 33) : 16 + static_cast<int>(rng() % 17);
    prefixes.push_back({Mask4(random_address(), length), static_cast<uint8_t>(length), id});
  }
  prefixes.push_back(prefixes[17]);  // a duplicate with a higher id
  prefixes.back().id = 9999;
  auto table = Ipv4PrefixTable::Build(prefixes);
  ASSERT_TRUE(table.ok()) << table.status();
  std::vector<uint32_t> probes;
  for (int i = 0; i < 20000; ++i) probes.push_back(random_address());
  for (const Ipv4Prefix& p : prefixes) {  // both ends of every prefix and just outside them
    const uint32_t last = p.address | (p.length == 32 ? 0u : (0xffffffffu >> p.length));
    probes.insert(probes.end(), {p.address, last, p.address - 1, last + 1});
  }
  for (uint32_t a : probes) {
    const uint32_t want =
        ReferenceLookup(prefixes, [a](const Ipv4Prefix& p) { return Mask4(a, p.length) == p.address; });
    ASSERT_EQ(table->Lookup(a), want) << "address " << a;
  }
}

Ipv6Address Mask6(Ipv6Address a, int length) {
  Ipv6Address m;
  m.hi = length == 0 ? 0 : length >= 64 ? a.hi : a.hi & (~uint64_t{0} << (64 - length));
  m.lo = length <= 64 ? 0 : length == 128 ? a.lo : a.lo & (~uint64_t{0} << (128 - length));
  return m;
}

TEST(Ipv6PrefixTable, MatchesLinearScanOnRandomPrefixes) {
  std::mt19937_64 rng(20261123);
  const uint64_t bases[] = {0x20010db800000000u, 0x20010db800010000u, 0x2a00000000000000u, 0xffffffffffffffffu,
                            0x0000000000000000u};
  auto random_address = [&] {
    Ipv6Address a{rng(), rng()};
    if (rng() % 8 != 0) a.hi = bases[rng() % 5] ^ (a.hi & 0xffffffu);
    if (rng() % 4 == 0) a.lo &= 0xff;  // low bits shared, for long prefixes
    return a;
  };
  std::vector<Ipv6Prefix> prefixes;
  for (uint32_t id = 0; id < 600; ++id) {
    const int length = (rng() % 4 == 0) ? static_cast<int>(rng() % 129) : 32 + static_cast<int>(rng() % 97);
    prefixes.push_back({Mask6(random_address(), length), static_cast<uint8_t>(length), id});
  }
  prefixes.push_back(prefixes[17]);
  prefixes.back().id = 9999;
  auto table = Ipv6PrefixTable::Build(prefixes);
  ASSERT_TRUE(table.ok()) << table.status();
  std::vector<Ipv6Address> probes;
  for (int i = 0; i < 20000; ++i) probes.push_back(random_address());
  for (const Ipv6Prefix& p : prefixes) {
    Ipv6Address last = p.address;
    if (p.length < 64) last.hi |= ~uint64_t{0} >> p.length;
    if (p.length < 128) last.lo |= p.length <= 64 ? ~uint64_t{0} : (~uint64_t{0} >> (p.length - 64));
    Ipv6Address before = p.address;
    if (before.lo-- == 0) --before.hi;
    Ipv6Address after = last;
    if (++after.lo == 0) ++after.hi;
    probes.insert(probes.end(), {p.address, last, before, after});
  }
  for (const Ipv6Address& a : probes) {
    const uint32_t want =
        ReferenceLookup(prefixes, [&a](const Ipv6Prefix& p) { return Mask6(a, p.length) == p.address; });
    ASSERT_EQ(table->Lookup(a), want) << "address " << a.hi << ":" << a.lo;
  }
}

}  // namespace
}  // namespace concord::detect
