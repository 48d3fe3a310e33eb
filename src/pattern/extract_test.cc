#include "pattern/extract.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace concord::pattern {
namespace {

struct Pair {
  std::string kind;
  std::string value;
  bool decisive;
  friend bool operator==(const Pair&, const Pair&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Pair& p) {
    return os << p.kind << "=" << p.value << (p.decisive ? " (decisive)" : " (confirm)");
  }
};

std::vector<Pair> Pairs(std::string_view text) {
  auto p = Pattern::Parse(text);
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return {};
  std::vector<Pair> out;
  for (const IndexableValue& v : Extract(*p)) out.push_back({std::string(ValueKindName(v.kind)), v.value, v.decisive});
  return out;
}

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(Extract, AddressesByForm) {
  EXPECT_THAT(Pairs("[ipv4-addr:value = '198.51.100.1']"), ElementsAre(Pair{"ipv4", "198.51.100.1", true}));
  EXPECT_THAT(Pairs("[ipv4-addr:value = '198.51.100.0/24']"), ElementsAre(Pair{"cidr4", "198.51.100.0/24", true}));
  EXPECT_THAT(Pairs("[ipv4-addr:value = '198.51.100.7/32']"), ElementsAre(Pair{"ipv4", "198.51.100.7", true}));
  EXPECT_THAT(Pairs("[ipv6-addr:value = '2001:db8::1']"), ElementsAre(Pair{"ipv6", "2001:db8::1", true}));
  EXPECT_THAT(Pairs("[ipv6-addr:value = '2001:db8::/32']"), ElementsAre(Pair{"cidr6", "2001:db8::/32", true}));
  EXPECT_THAT(Pairs("[ipv4-addr:value ISSUBSET '10.0.0.0/8']"), ElementsAre(Pair{"cidr4", "10.0.0.0/8", true}));
  EXPECT_THAT(Pairs("[network-traffic:dst_ref.value = '2001:db8::2']"), ElementsAre(Pair{"ipv6", "2001:db8::2", true}));
  EXPECT_THAT(Pairs("[network-traffic:dst_ref.value = 'example.org']"), ElementsAre(Pair{"domain", "example.org", true}));
}

TEST(Extract, HashesLowerCased) {
  EXPECT_THAT(Pairs("[file:hashes.'SHA-256' = 'EF537F25C895BFA782526529A9B63D97AA631564D5D789C2B765448C8635FB6C']"),
              ElementsAre(Pair{"sha256", "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c", true}));
  EXPECT_THAT(Pairs("[file:hashes.MD5 = '001dd76872d80801692ff942308c64e6']"),
              ElementsAre(Pair{"md5", "001dd76872d80801692ff942308c64e6", true}));
  EXPECT_THAT(Pairs("[x509-certificate:hashes.'SHA-1' = '0123456789abcdef0123456789abcdef01234567']"),
              ElementsAre(Pair{"sha1", "0123456789abcdef0123456789abcdef01234567", true}));
  EXPECT_THAT(Pairs("[file:hashes.'SHA3-512' = '" + std::string(128, 'a') + "']"),
              ElementsAre(Pair{"sha3-512", std::string(128, 'a'), true}));
  EXPECT_THAT(Pairs("[file:hashes.SSDEEP = '3:a:b']"), ElementsAre(Pair{"ssdeep", "3:a:b", true}));
}

TEST(Extract, OtherKinds) {
  EXPECT_THAT(Pairs("[domain-name:value = 'evil.example'] OR [url:value = 'http://evil.example/x'] OR "
                    "[email-addr:value = 'a@evil.example'] OR [email-message:from_ref.value = 'b@evil.example'] OR "
                    "[file:name = 'x.exe'] OR [mutex:name = 'Global\\\\m'] OR "
                    "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Run'] OR [autonomous-system:number = 64496] OR "
                    "[mac-addr:value = '00:00:5e:00:53:01'] OR [x509-certificate:serial_number = '0e:97'] OR "
                    "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'curl/8']"),
              ElementsAre(Pair{"domain", "evil.example", true}, Pair{"url", "http://evil.example/x", true},
                          Pair{"email", "a@evil.example", true}, Pair{"email", "b@evil.example", true},
                          Pair{"filename", "x.exe", true}, Pair{"mutex", "Global\\m", true},
                          Pair{"registry-key", "HKEY_LOCAL_MACHINE\\Run", true}, Pair{"asn", "64496", true},
                          Pair{"mac", "00:00:5e:00:53:01", true}, Pair{"x509-serial", "0e:97", true},
                          Pair{"user-agent", "curl/8", true}));
}

TEST(Extract, InListsYieldEveryValue) {
  EXPECT_THAT(Pairs("[domain-name:value IN ('a.example', 'b.example')]"),
              ElementsAre(Pair{"domain", "a.example", true}, Pair{"domain", "b.example", true}));
}

TEST(Extract, DecisiveOnlyThroughOr) {
  EXPECT_THAT(Pairs("[domain-name:value = 'a.example' OR ipv4-addr:value = '192.0.2.1']"),
              ElementsAre(Pair{"domain", "a.example", true}, Pair{"ipv4", "192.0.2.1", true}));
  EXPECT_THAT(Pairs("[x509-certificate:issuer = 'CN=x' AND x509-certificate:serial_number = '0e:97']"),
              ElementsAre(Pair{"x509-serial", "0e:97", false}));
  EXPECT_THAT(Pairs("[domain-name:value = 'a.example'] AND [ipv4-addr:value = '192.0.2.1']"),
              ElementsAre(Pair{"domain", "a.example", false}, Pair{"ipv4", "192.0.2.1", false}));
  EXPECT_THAT(Pairs("[domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '192.0.2.1']"),
              ElementsAre(Pair{"domain", "a.example", false}, Pair{"ipv4", "192.0.2.1", false}));
  EXPECT_THAT(Pairs("[domain-name:value = 'a.example'] REPEATS 2 TIMES"),
              ElementsAre(Pair{"domain", "a.example", false}));
  EXPECT_THAT(Pairs("([domain-name:value = 'a.example'] AND [file:size = 1]) OR [url:value = 'http://x.example/']"),
              ElementsAre(Pair{"domain", "a.example", false}, Pair{"url", "http://x.example/", true}));
}

TEST(Extract, NegatedAndNonIndexableComparisonsAreSkipped) {
  EXPECT_THAT(Pairs("[domain-name:value != 'a.example']"), IsEmpty());
  EXPECT_THAT(Pairs("[domain-name:value NOT = 'a.example']"), IsEmpty());
  EXPECT_THAT(Pairs("[domain-name:value LIKE '%.example']"), IsEmpty());
  EXPECT_THAT(Pairs("[file:size = 10]"), IsEmpty());
  EXPECT_THAT(Pairs("[domain-name:value ISSUBSET '10.0.0.0/8']"), IsEmpty());
}

TEST(Extract, RecordsTheComparisonIndex) {
  auto p = Pattern::Parse("[file:size = 1 AND file:name = 'a.exe']");
  ASSERT_TRUE(p.ok());
  auto v = Extract(*p);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].comparison, 1u);
}

TEST(ExtractTextMatchers, LikeAndMatchesOnIndexablePaths) {
  auto p = Pattern::Parse(
      "[url:value LIKE 'http://%.evil.example/%' OR domain-name:value MATCHES '^c2-[0-9]+\\\\.example$'] AND "
      "[ipv4-addr:value LIKE '10.%' AND url:value NOT LIKE '%x%'] AND [file:size = 3 AND file:name LIKE 'a%']");
  ASSERT_TRUE(p.ok()) << p.status();
  const auto m = ExtractTextMatchers(*p);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].kind, ValueKind::kUrl);
  EXPECT_EQ(m[0].op, Operator::kLike);
  EXPECT_EQ(m[0].literal, "http://%.evil.example/%");
  EXPECT_EQ(m[1].kind, ValueKind::kDomain);
  EXPECT_EQ(m[1].op, Operator::kMatches);
  EXPECT_EQ(m[1].literal, "^c2-[0-9]+\\.example$");
  EXPECT_EQ(m[2].kind, ValueKind::kIpv4);
  EXPECT_EQ(m[2].literal, "10.%");
  EXPECT_EQ(m[3].kind, ValueKind::kFilename);
  EXPECT_EQ(m[3].comparison, 5u);
}

TEST(ExtractTextMatchers, IgnoresUnindexedPathsAndOtherOperators) {
  auto p = Pattern::Parse("[file:size > 3 OR x-custom:path LIKE '%a' OR url:value = 'http://a.example/']");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(ExtractTextMatchers(*p).empty());
}

}  // namespace
}  // namespace concord::pattern
