#include "correlate/normalize.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "common/status.h"

namespace concord::correlate {
namespace {

TEST(Kind, NamesRoundTripForEveryKind) {
  const char* names[] = {"ipv4",     "ipv6",     "cidr4",  "cidr6", "domain",   "url",          "email",    "md5",
                         "sha1",     "sha256",   "sha512", "sha3-256", "sha3-512", "ssdeep", "tlsh",  "filename",
                         "mutex",    "registry-key", "asn", "mac",    "user-agent", "ja3",   "x509-serial"};
  ASSERT_EQ(std::size(names), static_cast<size_t>(kKindCount));
  for (int i = 0; i < kKindCount; ++i) {
    EXPECT_EQ(ValueKindName(static_cast<Kind>(i)), names[i]);
    EXPECT_EQ(ParseKind(names[i]), static_cast<Kind>(i));
  }
  EXPECT_EQ(ParseKind("IPv4"), std::nullopt);
  EXPECT_EQ(ParseKind("hostname"), std::nullopt);
}

TEST(DetectKind, ByShape) {
  EXPECT_EQ(DetectKind("https://a.example/x"), Kind::kUrl);
  EXPECT_EQ(DetectKind("a@b.example"), Kind::kEmail);
  EXPECT_EQ(DetectKind("10.0.0.0/8"), Kind::kCidr4);
  EXPECT_EQ(DetectKind("2001:db8::/32"), Kind::kCidr6);
  EXPECT_EQ(DetectKind("10.0.0.1"), Kind::kIpv4);
  EXPECT_EQ(DetectKind("2001:db8::1"), Kind::kIpv6);
  EXPECT_EQ(DetectKind("fe80::1%eth0"), Kind::kIpv6);  // detected, then refused by NormalizeAs
  EXPECT_EQ(DetectKind(std::string(32, 'a')), Kind::kMd5);
  EXPECT_EQ(DetectKind(std::string(40, 'B')), Kind::kSha1);
  EXPECT_EQ(DetectKind(std::string(64, '0')), Kind::kSha256);
  EXPECT_EQ(DetectKind(std::string(128, 'f')), Kind::kSha512);
  EXPECT_EQ(DetectKind("www.example.com"), Kind::kDomain);
  EXPECT_EQ(DetectKind(std::string(33, 'a')), std::nullopt);
  EXPECT_EQ(DetectKind("example."), std::nullopt);
  EXPECT_EQ(DetectKind("two words.example"), std::nullopt);
  EXPECT_EQ(DetectKind(""), std::nullopt);
  EXPECT_EQ(DetectKind("a@b@c"), std::nullopt);
  EXPECT_EQ(DetectKind("1.2.3.4/x/y"), Kind::kCidr4);
  EXPECT_EQ(DetectKind("host/path"), std::nullopt);
}

TEST(Normalize, ReturnsTheCanonicalTextAlone) {
  auto v = Normalize(Kind::kIpv6, "::FFFF:10.0.0.1");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "10.0.0.1");
  auto bad = Normalize(Kind::kSha1, "xyz");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sv(bad.status().message()), "sha1: expected 40 hex digits, got 3 characters");
}

TEST(Normalize, ErrorsEscapeControlBytes) {
  auto bad = Normalize(Kind::kIpv4, std::string("1.2.3.4\n", 8));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(Sv(bad.status().message()), "ipv4: \"1.2.3.4\\x0a\" is not a dotted-quad IPv4 address");
}

TEST(Normalize, EmbeddedNulNeverCutsAValueShort) {
  using namespace std::string_literals;
  auto ip = Normalize(Kind::kIpv4, "1.2.3.4\0x"s);
  ASSERT_FALSE(ip.ok());
  EXPECT_EQ(Sv(ip.status().message()), "ipv4: \"1.2.3.4\\x00x\" is not a dotted-quad IPv4 address");
  auto ip6 = Normalize(Kind::kCidr6, "::1\0/128"s);
  ASSERT_FALSE(ip6.ok());
  EXPECT_EQ(Sv(ip6.status().message()), "cidr6: \"::1\\x00\" is not an IPv6 address");
  auto domain = Normalize(Kind::kDomain, "bücher.example\0.evil"s);
  ASSERT_FALSE(domain.ok());
  EXPECT_EQ(Sv(domain.status().message()), "domain: \"bücher.example\\x00.evil\" has a control character at offset 15");
  auto email = Normalize(Kind::kEmail, "a@b.example\0"s);
  ASSERT_FALSE(email.ok());
  EXPECT_EQ(Sv(email.status().message()), "email: \"b.example\\x00\" has a control character at offset 9");
  auto url = Normalize(Kind::kUrl, "http://a.example\0/"s);
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(Sv(url.status().message()),
            "url: \"http://a.example\\x00/\" is not a valid URI (RFC 3986; Boost.URL: leftover)");
}

TEST(Normalize, LongInputIsCutInErrors) {
  const std::string value = std::string(300, 'x') + "@";
  auto bad = Normalize(Kind::kEmail, value);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(Sv(bad.status().message()), "email: local part is 300 octets long, more than 64 (RFC 5321 §4.5.3.1.1)");
  auto bad_ip = Normalize(Kind::kIpv6, std::string(100, '1'));
  ASSERT_FALSE(bad_ip.ok());
  EXPECT_EQ(Sv(bad_ip.status().message()), "ipv6: \"" + std::string(80, '1') + "…\" is not an IPv6 address");
}

TEST(RegistrableDomain, FromThePublicSuffixList) {
  EXPECT_EQ(RegistrableDomain("www.example.co.uk"), "example.co.uk");
  EXPECT_EQ(RegistrableDomain("a.b.example.com"), "example.com");
  EXPECT_EQ(RegistrableDomain("example.com"), "example.com");
  EXPECT_EQ(RegistrableDomain("a.b.github.io"), "b.github.io");  // private section: github.io is a suffix
  EXPECT_EQ(RegistrableDomain("www.xn--bcher-kva.de"), "xn--bcher-kva.de");
  // A-label suffixes (公司.cn), the wildcard rule *.kawasaki.jp and its exception !city.kawasaki.jp.
  auto idn = Normalize(Kind::kDomain, "www.食狮.公司.cn");
  ASSERT_TRUE(idn.ok()) << idn.status();
  EXPECT_EQ(*idn, "www.xn--85x722f.xn--55qx5d.cn");
  EXPECT_EQ(RegistrableDomain(*idn), "xn--85x722f.xn--55qx5d.cn");
  EXPECT_EQ(RegistrableDomain("xn--55qx5d.cn"), std::nullopt);
  EXPECT_EQ(RegistrableDomain("a.b.kawasaki.jp"), "a.b.kawasaki.jp");
  EXPECT_EQ(RegistrableDomain("a.b.city.kawasaki.jp"), "city.kawasaki.jp");
  EXPECT_EQ(RegistrableDomain("co.uk"), std::nullopt);
  EXPECT_EQ(RegistrableDomain("com"), std::nullopt);
  EXPECT_EQ(RegistrableDomain("github.io"), std::nullopt);
}

TEST(UrlHost, OfNormalisedUrls) {
  EXPECT_EQ(UrlHost("http://user@www.example.com:8080/a?b#c"), "www.example.com");
  EXPECT_EQ(UrlHost("http://[2001:db8::1]/"), "[2001:db8::1]");
  EXPECT_EQ(UrlHost("http://1.2.3.4/"), "1.2.3.4");
  EXPECT_EQ(UrlHost("mailto:a@b.example"), std::nullopt);
  EXPECT_EQ(UrlHost("not a url"), std::nullopt);
}

TEST(EmailDomain, IsAfterTheLastAt) {
  EXPECT_EQ(EmailDomain("\"a@b\"@example.com"), "example.com");
  EXPECT_EQ(EmailDomain("nobody"), "");
}

}  // namespace
}  // namespace concord::correlate
