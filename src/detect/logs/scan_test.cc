#include "detect/logs/scan.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "detect/logs/log_reader.h"

namespace concord::detect::logs {
namespace {

using pattern::ValueKind;
using Found = std::vector<std::pair<std::string, std::string>>;  // kind name, value

Found Scan(std::string_view text) {
  Found out;
  ScanText(text, [&out](ValueKind kind, std::string_view value) {
    out.emplace_back(std::string(pattern::ValueKindName(kind)), std::string(value));
  });
  return out;
}

TEST(ScanText, Ipv4OctetsAndBoundaries) {
  EXPECT_EQ(Scan("from 10.0.0.1 to 255.255.255.255, not 256.1.1.1 nor 1.2.3"),
            (Found{{"ipv4", "10.0.0.1"}, {"ipv4", "255.255.255.255"}}));
  EXPECT_EQ(Scan("1.2.3.4.5 v1.2.3.4 10.0.19041.1 1.2.3.4a"), Found{});
  EXPECT_EQ(Scan("(1.2.3.4) 1.2.3.4:443 1.2.3.4/24 ip=1.2.3.4."),
            (Found{{"ipv4", "1.2.3.4"}, {"ipv4", "1.2.3.4"}, {"ipv4", "1.2.3.4"}, {"ipv4", "1.2.3.4"}}));
}

TEST(ScanText, Ipv6FormsButNotTimesOrMacs) {
  EXPECT_EQ(Scan("2001:0db8:85a3:0000:0000:8a2e:0370:7334 2001:db8::1 ::1 fe80::1%eth0 ::ffff:192.0.2.128"),
            (Found{{"ipv6", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"},
                   {"ipv6", "2001:db8::1"},
                   {"ipv6", "::1"},
                   {"ipv6", "fe80::1"},
                   {"ipv6", "::ffff:192.0.2.128"}}));
  EXPECT_EQ(Scan("[2001:db8::2]:443 ends 2001:db8::."), (Found{{"ipv6", "2001:db8::2"}, {"ipv6", "2001:db8::"}}));
  EXPECT_EQ(Scan("at 10:00:00 and 23:59:59.999 mac 00:1a:2b:3c:4d:5e std::cab Foo::Bar ::"), Found{});
  EXPECT_EQ(Scan("1:2:3:4:5:6:7:8:9 12345::1 fe80:::1 1::2::3"), Found{});
}

TEST(ScanText, DomainsNeedAnAlphabeticTldThatIsNoFileExtension) {
  EXPECT_EQ(Scan("evil.example.com, Sub-Domain.Example.ORG. xn--80ak6aa92e.xn--p1ai"),
            (Found{{"domain", "evil.example.com"},
                   {"domain", "Sub-Domain.Example.ORG"},
                   {"domain", "xn--80ak6aa92e.xn--p1ai"}}));
  EXPECT_EQ(Scan("report.pdf setup.EXE a.b e.g. i.e. 1.2.3.com4 -bad.com bad-.com"), Found{});
  // Not preceded by '.', '-', '_' or a non-ASCII byte (a cut-off IDN label).
  EXPECT_EQ(Scan("foo_evil.example.com b\xc3\xbc"
                 "cher.de"),
            Found{});
  EXPECT_EQ(Scan("4.3.2.1.in-addr.arpa"), (Found{{"domain", "4.3.2.1.in-addr.arpa"}}));
}

TEST(ScanText, UrlsEndAtWhitespaceQuotesAndClosingBrackets) {
  EXPECT_EQ(Scan("get \"http://a.example.com/x y\" (https://b.example.com/p?q=1). <ftp://c.example.net/f>"),
            (Found{{"url", "http://a.example.com/x"},
                   {"domain", "a.example.com"},
                   {"url", "https://b.example.com/p?q=1"},
                   {"domain", "b.example.com"},
                   {"url", "ftp://c.example.net/f"},
                   {"domain", "c.example.net"}}));
  EXPECT_EQ(Scan("HTTP://10.0.0.1:8080/a.php, http:// nothing"),
            (Found{{"url", "HTTP://10.0.0.1:8080/a.php"}, {"ipv4", "10.0.0.1"}}));
}

TEST(ScanText, EmailsAndHashes) {
  EXPECT_EQ(Scan("mail john.smith+ioc@evil.example.com, not user@report.pdf"),
            (Found{{"email", "john.smith+ioc@evil.example.com"}}));
  const std::string md5 = "44d88612fea8a8f36de82e1278abb02f";
  const std::string sha1 = "3395856ce81f2b7382dee72602f798b642f14140";
  EXPECT_EQ(Scan(md5 + " " + sha1 + ":" + md5 + "0 x" + md5 + " _" + md5 + "."),
            (Found{{"md5", md5}, {"sha1", sha1}, {"md5", md5}}));
  EXPECT_EQ(Scan(std::string(64, 'a') + "," + std::string(128, 'F') + " " + std::string(65, 'b')),
            (Found{{"sha256", std::string(64, 'a')}, {"sha512", std::string(128, 'F')}}));
}

TEST(ScanText, RefangsDefangedIndicators) {
  EXPECT_EQ(
      Scan("hxxp://evil[.]example[.]com/gate hXXps[:]//bad(.)example[dot]net a[@]b[.]com c[at]d(dot)org 1[.]2.3[.]4"),
      (Found{{"url", "http://evil.example.com/gate"},
             {"domain", "evil.example.com"},
             {"url", "https://bad.example.net"},
             {"domain", "bad.example.net"},
             {"email", "a@b.com"},
             {"email", "c@d.org"},
             {"ipv4", "1.2.3.4"}}));
  EXPECT_EQ(Scan("hxxpd [x] (y) {.} hxxp"), Found{});
}

TEST(ScanText, InvalidUtf8AndControlBytesAreSeparators) {
  const std::string text = std::string("\x00\xff", 2) + "10.1.2.3\xc3(evil.example.com\x80";
  EXPECT_EQ(Scan(text), (Found{{"ipv4", "10.1.2.3"}, {"domain", "evil.example.com"}}));
}

TEST(Shape, ClassifyHost) {
  std::string_view v;
  EXPECT_EQ(detail::ClassifyHost("example.com:8080", 1, &v), ValueKind::kDomain);
  EXPECT_EQ(v, "example.com");
  EXPECT_EQ(detail::ClassifyHost("[2001:db8::1]:443", 1, &v), ValueKind::kIpv6);
  EXPECT_EQ(v, "2001:db8::1");
  EXPECT_EQ(detail::ClassifyHost("192.0.2.1:80", 1, &v), ValueKind::kIpv4);
  EXPECT_EQ(v, "192.0.2.1");
  EXPECT_EQ(detail::ClassifyHost("_ldap._tcp.dc.example.com.", 2, &v), ValueKind::kDomain);
  EXPECT_EQ(detail::ClassifyHost("wpad", 1, &v), ValueKind::kDomain);
  EXPECT_EQ(detail::ClassifyHost("wpad", 2, &v), std::nullopt);
  EXPECT_EQ(detail::ClassifyHost("TXT 12 v=spf1", 2, &v), std::nullopt);
  EXPECT_EQ(detail::ClassifyHost("a..b", 1, &v), std::nullopt);
}

TEST(Shape, ExtractMailbox) {
  EXPECT_EQ(detail::ExtractMailbox("\"IT\" <it@evil.example>"), "it@evil.example");
  EXPECT_EQ(detail::ExtractMailbox(" <a@b.c> "), "a@b.c");
  EXPECT_EQ(detail::ExtractMailbox("plain@b.c"), "plain@b.c");
  EXPECT_EQ(detail::ExtractMailbox("<>"), "");
  EXPECT_EQ(detail::ExtractMailbox("no address"), "");
}

TEST(Time, ParsesEveZeekAndIsoForms) {
  EXPECT_EQ(detail::ParseIsoTimeMs("2026-11-22T10:00:00.123456+0000"), 1795341600123);
  EXPECT_EQ(detail::ParseIsoTimeMs("2026-11-22T10:00:00Z"), 1795341600000);
  EXPECT_EQ(detail::ParseIsoTimeMs("2026-11-22T11:00:00.5+01:00"), 1795341600500);
  EXPECT_EQ(detail::ParseIsoTimeMs("2026-11-22 10:00:00"), 1795341600000);
  EXPECT_EQ(detail::ParseIsoTimeMs("1969-12-31T23:59:59Z"), -1000);
  EXPECT_EQ(detail::ParseIsoTimeMs("2026-11-22"), 1795305600000);
  EXPECT_EQ(detail::ParseIsoTimeMs("2026-13-22T10:00:00Z"), std::nullopt);
  EXPECT_EQ(detail::ParseIsoTimeMs("2026-11-22T10:00:00+00"), std::nullopt);
  EXPECT_EQ(detail::ParseUnixSecondsMs("1795341600.123456"), 1795341600123);
  EXPECT_EQ(detail::ParseUnixSecondsMs("1795341600"), 1795341600000);
  EXPECT_EQ(detail::ParseUnixSecondsMs("1795341600.1"), 1795341600100);
  EXPECT_EQ(detail::ParseUnixSecondsMs("17953416001234567"), std::nullopt);
  EXPECT_EQ(detail::ParseUnixSecondsMs("-"), std::nullopt);
  EXPECT_EQ(detail::ParseUnixSecondsMs("1795341600."), 1795341600000);
  EXPECT_EQ(detail::ParseUnixSecondsMs("-1.5"), -1500);
  EXPECT_EQ(detail::ParseUnixSecondsMs("999999999999.999999999"), 999999999999999);
  EXPECT_EQ(detail::ParseUnixSecondsMs("1795341600.12x"), std::nullopt);
  EXPECT_EQ(detail::ParseUnixSecondsMs("1795341600.1.2"), std::nullopt);
  // The first eight digits are read at once: every position of a non-digit among them, and 8 to 13 digits.
  EXPECT_EQ(detail::ParseUnixSecondsMs("12345678"), 12345678000);
  EXPECT_EQ(detail::ParseUnixSecondsMs("00000000.001"), 1);
  EXPECT_EQ(detail::ParseUnixSecondsMs("-17953416.5"), -17953416500);
  EXPECT_EQ(detail::ParseUnixSecondsMs("123456789012"), 123456789012000);
  EXPECT_EQ(detail::ParseUnixSecondsMs("1234567890123"), std::nullopt);
  for (size_t at = 0; at < 8; ++at) {
    std::string s = "1795341600.5";
    s[at] = at % 2 == 0 ? '/' : ':';  // the bytes right below '0' and above '9'
    EXPECT_EQ(detail::ParseUnixSecondsMs(s), std::nullopt) << s;
    int64_t ms = 42;
    EXPECT_FALSE(detail::ParseUnixSecondsMs(s, &ms)) << s;
    EXPECT_EQ(ms, 42);
  }
  int64_t ms = 0;
  ASSERT_TRUE(detail::ParseUnixSecondsMs("1795341600.123456", &ms));
  EXPECT_EQ(ms, 1795341600123);
  EXPECT_EQ(detail::ParseUnixSecondsMs(".5"), std::nullopt);
  EXPECT_EQ(detail::ParseUnixSecondsMs(""), std::nullopt);
}

TEST(Classify, HostsWithoutColonSkipTheIpv6Test) {
  std::string_view value;
  EXPECT_EQ(detail::ClassifyHost("198.51.100.7", 2, &value), ValueKind::kIpv4);
  EXPECT_EQ(value, "198.51.100.7");
  EXPECT_EQ(detail::ClassifyHost("198.51.100.7:8080", 1, &value), ValueKind::kIpv4);
  EXPECT_EQ(value, "198.51.100.7");
  EXPECT_EQ(detail::ClassifyHost("cdn.example.com", 2, &value), ValueKind::kDomain);
  EXPECT_EQ(detail::ClassifyHost("::ffff:1.2.3.4", 2, &value), ValueKind::kIpv6);
  EXPECT_EQ(detail::ClassifyHost("2001:db8::1", 2, &value), ValueKind::kIpv6);
  EXPECT_EQ(detail::ClassifyHost("1.2.3.4.5", 2, &value), ValueKind::kDomain);
  EXPECT_EQ(detail::ClassifyHost("1.2.3", 2, &value), ValueKind::kDomain);
  EXPECT_EQ(detail::ClassifyHost("a:b:c", 1, &value), std::nullopt);
  EXPECT_FALSE(detail::IsIpv4("1.2.3.4 "));
  EXPECT_FALSE(detail::IsIpv4("1.2.3."));
  EXPECT_TRUE(detail::IsIpv4("255.255.255.255"));
}

TEST(Arena, KeepsEarlierPiecesWhileGrowingAndReusesBlocks) {
  detail::Arena arena;
  const std::string_view a = arena.Copy("first");
  const std::string big(200 * 1024, 'x');
  const std::string_view b = arena.Copy(big);
  const std::string_view c = arena.Concat({"http://", "host", "/path"});
  EXPECT_EQ(a, "first");
  EXPECT_EQ(b, big);
  EXPECT_EQ(c, "http://host/path");
  arena.Reset();
  const std::string_view d = arena.Copy("again");
  EXPECT_EQ(d.data(), a.data());  // the first block is reused
}

}  // namespace
}  // namespace concord::detect::logs
