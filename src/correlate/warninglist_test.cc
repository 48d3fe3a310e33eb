#include "correlate/warninglist.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/status.h"

namespace concord::correlate {
namespace {

using Names = std::vector<std::string>;

const std::string kShipped = std::string(CONCORD_SOURCE_DIR) + "/data/warninglists";

constexpr char kRfc1918[] = "List of RFC 1918 CIDR blocks";
constexpr char kRfc5735[] = "List of RFC 5735 CIDR blocks";
constexpr char kRfc6598[] = "List of RFC 6598 CIDR blocks";
constexpr char kRfc3849[] = "List of RFC 3849 CIDR blocks";
constexpr char kMulticast[] = "List of RFC 5771 multicast CIDR blocks";
constexpr char kLinkLocal[] = "List of IPv6 link local blocks";
constexpr char kPublicDnsV4[] = "List of known IPv4 public DNS resolvers";
constexpr char kPublicDnsHost[] = "List of known public DNS resolvers expressed as hostname";
constexpr char kSinkholes[] = "List of known sinkholes";
constexpr char kDynamicDns[] = "List of known dynamic DNS domains";
constexpr char kShorteners[] = "List of known URL Shorteners domains";
constexpr char kWhatsMyIp[] = "List of known domains to know external IP";
constexpr char kTop1k[] = "Top 1,000 domains from Cloudflare Radar";
constexpr char kSecondLevel[] = "Second level TLDs as known by Mozilla Foundation";
constexpr char kTlds[] = "TLDs as known by IANA";
constexpr char kEmptyHashes[] = "List of known hashes for empty files";
constexpr char kFalsePositiveHashes[] =
    "List of known hashes with common false-positives (based on Florian Roth input list)";

// The shipped lists, loaded once for the suite (they hold ~150k entries).
class ShippedWarninglists : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    warnings_ = new std::vector<std::string>();
    auto loaded = Warninglists::LoadDirectory(kShipped, warnings_);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    lists_ = loaded->release();
  }
  static void TearDownTestSuite() {
    delete lists_;
    delete warnings_;
    lists_ = nullptr;
    warnings_ = nullptr;
  }
  static Names Match(Kind kind, std::string_view value) { return lists_->Match(kind, value); }

  static Warninglists* lists_;
  static std::vector<std::string>* warnings_;
};
Warninglists* ShippedWarninglists::lists_ = nullptr;
std::vector<std::string>* ShippedWarninglists::warnings_ = nullptr;

TEST_F(ShippedWarninglists, LoadsEveryShippedList) {
  // Sorted by bytes: upper-case letters before lower-case ones.
  EXPECT_EQ(lists_->Names(), (Names{kLinkLocal, kRfc1918, kRfc3849, kRfc5735, kMulticast, kRfc6598, kPublicDnsV4,
                                    kShorteners, kWhatsMyIp, kDynamicDns, kEmptyHashes, kFalsePositiveHashes,
                                    kPublicDnsHost, kSinkholes, kSecondLevel, kTlds, kTop1k}));
}

TEST_F(ShippedWarninglists, SkipsUpstreamEntriesThatAreNoHostNamesWithAWarning) {
  // All 28 are in public-dns-hostname: IPv4 addresses, names with '/', ',' or '\\', labels with edge hyphens.
  ASSERT_EQ(warnings_->size(), 28u) << ::testing::PrintToString(*warnings_);
  const std::string file = kShipped + "/public-dns-hostname/list.json";
  EXPECT_EQ((*warnings_)[0], file + ": entry 0 \"-250.starlink.ru\": domain: label \"-250\" starts or ends with '-'");
  EXPECT_EQ((*warnings_)[4], file + ": entry 3933 \"178.211.56.71\": domain: top-level label \"71\" is all digits");
  EXPECT_EQ((*warnings_)[18],
            file +
                ": entry 20023 \"gw.megatro-avinyo.man,altecom.net\": domain: "
                "\"gw.megatro-avinyo.man,altecom.net\" has a character not allowed in a host name: \",\"");
  for (const std::string& w : *warnings_) EXPECT_EQ(w.rfind(file + ": entry ", 0), 0u) << w;
}

TEST_F(ShippedWarninglists, Ipv4InsideListedRanges) {
  EXPECT_EQ(Match(Kind::kIpv4, "10.1.2.3"), (Names{kRfc1918, kRfc5735}));
  EXPECT_EQ(Match(Kind::kIpv4, "172.31.255.255"), (Names{kRfc1918, kRfc5735}));  // last of 172.16.0.0/12
  EXPECT_EQ(Match(Kind::kIpv4, "172.32.0.0"), Names{});                          // first after it
  EXPECT_EQ(Match(Kind::kIpv4, "0.0.0.0"), Names{kRfc5735});
  EXPECT_EQ(Match(Kind::kIpv4, "255.255.255.255"), Names{kRfc5735});  // a /32 at the top of the space
  EXPECT_EQ(Match(Kind::kIpv4, "100.64.0.0"), Names{kRfc6598});
  EXPECT_EQ(Match(Kind::kIpv4, "100.127.255.255"), Names{kRfc6598});
  EXPECT_EQ(Match(Kind::kIpv4, "100.128.0.0"), Names{});
  EXPECT_EQ(Match(Kind::kIpv4, "8.8.8.8"), Names{kPublicDnsV4});
  EXPECT_EQ(Match(Kind::kIpv4, "104.244.15.255"), Names{kSinkholes});
  EXPECT_EQ(Match(Kind::kIpv4, "104.244.16.0"), Names{});
  EXPECT_EQ(Match(Kind::kIpv4, "11.0.0.0"), Names{});
}

TEST_F(ShippedWarninglists, CidrOnlyWhenEveryAddressIsListed) {
  EXPECT_EQ(Match(Kind::kCidr4, "10.0.0.0/8"), (Names{kRfc1918, kRfc5735}));
  EXPECT_EQ(Match(Kind::kCidr4, "10.0.0.0/7"), Names{});
  EXPECT_EQ(Match(Kind::kCidr4, "104.244.12.0/22"), Names{kSinkholes});
  EXPECT_EQ(Match(Kind::kCidr4, "104.244.12.0/21"), Names{});
  // Multicast lists 224/8 … 239/8 one by one: together they hold all of 224.0.0.0/4.
  EXPECT_EQ(Match(Kind::kCidr4, "224.0.0.0/4"), (Names{kRfc5735, kMulticast}));
  EXPECT_EQ(Match(Kind::kCidr4, "0.0.0.0/0"), Names{});
  EXPECT_EQ(Match(Kind::kCidr4, "255.255.255.255/32"), Names{kRfc5735});
}

TEST_F(ShippedWarninglists, Ipv6Ranges) {
  EXPECT_EQ(Match(Kind::kIpv6, "fe80::1"), Names{kLinkLocal});
  EXPECT_EQ(Match(Kind::kIpv6, "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Names{kLinkLocal});
  EXPECT_EQ(Match(Kind::kIpv6, "fec0::"), Names{});
  EXPECT_EQ(Match(Kind::kIpv6, "2001:db8::1"), Names{kRfc3849});
  EXPECT_EQ(Match(Kind::kCidr6, "2001:db8::/32"), Names{kRfc3849});
  EXPECT_EQ(Match(Kind::kCidr6, "2001:db8::/31"), Names{});
  EXPECT_EQ(Match(Kind::kCidr6, "::/0"), Names{});
  EXPECT_EQ(Match(Kind::kIpv6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Names{});
}

TEST_F(ShippedWarninglists, HostnameListsCoverSubdomains) {
  EXPECT_EQ(Match(Kind::kDomain, "www.duckdns.org"), Names{kDynamicDns});  // listed as ".duckdns.org"
  EXPECT_EQ(Match(Kind::kDomain, "duckdns.org"), (Names{kDynamicDns, kSecondLevel, kTop1k}));
  EXPECT_EQ(Match(Kind::kDomain, "evilduckdns.org"), Names{});  // a parent is a whole label, not a suffix
  EXPECT_EQ(Match(Kind::kDomain, "x.bit.ly"), Names{kShorteners});
  EXPECT_EQ(Match(Kind::kDomain, "example.com"), (Names{kPublicDnsHost, kTop1k}));
}

TEST_F(ShippedWarninglists, StringListsAreExactAndCaseInsensitive) {
  EXPECT_EQ(Match(Kind::kDomain, "com"), (Names{kSecondLevel, kTlds}));  // the IANA list says "COM"
  EXPECT_EQ(Match(Kind::kDomain, "co.uk"), Names{kSecondLevel});
  EXPECT_EQ(Match(Kind::kDomain, "google.com"), Names{kTop1k});
  EXPECT_EQ(Match(Kind::kDomain, "www.google.com"), Names{});
}

TEST_F(ShippedWarninglists, UrlsByTheirHostWhereTheListAppliesToUrls) {
  EXPECT_EQ(Match(Kind::kUrl, "https://x.bit.ly/abc"), Names{kShorteners});
  EXPECT_EQ(Match(Kind::kUrl, "https://api.ipify.org/?format=json"), Names{kWhatsMyIp});
  // dynamic-dns names the attribute types domain, hostname and domain|ip only.
  EXPECT_EQ(Match(Kind::kUrl, "https://www.duckdns.org/"), Names{});
  EXPECT_EQ(Match(Kind::kEmail, "someone@www.duckdns.org"), Names{});
}

TEST_F(ShippedWarninglists, HashesOnlyForHashKinds) {
  EXPECT_EQ(Match(Kind::kMd5, "d41d8cd98f00b204e9800998ecf8427e"), (Names{kEmptyHashes, kFalsePositiveHashes}));
  EXPECT_EQ(Match(Kind::kSha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            (Names{kEmptyHashes, kFalsePositiveHashes}));
  EXPECT_EQ(Match(Kind::kSha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (Names{kEmptyHashes, kFalsePositiveHashes}));
  EXPECT_EQ(Match(Kind::kSha512,
                  "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b9"
                  "31bd47417a81a538327af927da3e"),
            Names{kEmptyHashes});
  EXPECT_EQ(Match(Kind::kMd5, "d41d8cd98f00b204e9800998ecf8427f"), Names{});
  EXPECT_EQ(Match(Kind::kDomain, "d41d8cd98f00b204e9800998ecf8427e"), Names{});
}

TEST_F(ShippedWarninglists, MatchIsFastEnoughPerValue) {
  // 20k lookups of mixed kinds (~0.15 s under ASan); the bound is loose for a shared machine but catches a
  // linear scan of the 62k-entry resolver list or the 35k-entry dynamic-DNS list per lookup.
  const auto start = std::chrono::steady_clock::now();
  size_t hits = 0;
  for (int i = 0; i < 4000; ++i) {
    hits += Match(Kind::kIpv4, "8.8.8.8").size();
    hits += Match(Kind::kIpv4, "11.2.3.4").size();
    hits += Match(Kind::kDomain, "a.b.c.www.duckdns.org").size();
    hits += Match(Kind::kDomain, "no.such.example").size();
    hits += Match(Kind::kMd5, "d41d8cd98f00b204e9800998ecf8427e").size();
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(hits, 4000u * 4);
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

// Golden cases under tests/cases/warninglists/match.tsv: raw input → NormalizeAs/NormalizeAny → Match.
TEST_F(ShippedWarninglists, GoldenCasesMatch) {
  const std::string path = std::string(CONCORD_SOURCE_DIR) + "/tests/cases/warninglists/match.tsv";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  int rows = 0;
  bool header = true;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells;
    std::stringstream fields(line);
    for (std::string cell; std::getline(fields, cell, '\t');) cells.push_back(cell);
    if (header) {
      EXPECT_EQ(cells, (std::vector<std::string>{"kind", "input", "lists"}));
      header = false;
      continue;
    }
    SCOPED_TRACE(::testing::Message() << "match.tsv:" << n << ": " << line);
    ASSERT_EQ(cells.size(), 3u);
    absl::StatusOr<Normalized> normalized = absl::InvalidArgumentError("kind not read");
    if (cells[0] == "any") {
      normalized = NormalizeAny(cells[1]);
    } else {
      const std::optional<Kind> kind = ParseKind(cells[0]);
      ASSERT_TRUE(kind.has_value());
      normalized = NormalizeAs(*kind, cells[1]);
    }
    ASSERT_TRUE(normalized.ok()) << normalized.status();
    std::string joined;
    for (const std::string& name : Match(normalized->kind, normalized->value)) {
      joined += joined.empty() ? name : " | " + name;
    }
    EXPECT_EQ(joined.empty() ? "-" : joined, cells[2]);
    ++rows;
  }
  EXPECT_EQ(rows, 40);  // the data rows of match.tsv, none skipped
}

// ---- lists built from text ----

absl::StatusOr<std::unique_ptr<Warninglists>> BuildOne(const std::string& json, std::vector<std::string>* warnings) {
  return Warninglists::Build({{"test/list.json", json}}, warnings);
}

TEST(Warninglists, RegexListsUsePcre2WithPhpDelimiters) {
  std::vector<std::string> warnings;
  auto lists = BuildOne(R"({"name":"r","type":"regex","matching_attributes":["domain"],
      "list":["/^evil[0-9]+\\.example$/i","/(unclosed/","plain\\.test$"]})",
                        &warnings);
  ASSERT_TRUE(lists.ok()) << lists.status();
  EXPECT_EQ((*lists)->Match(Kind::kDomain, "evil12.example"), Names{"r"});
  EXPECT_EQ((*lists)->Match(Kind::kDomain, "notevil12.example"), Names{});
  EXPECT_EQ((*lists)->Match(Kind::kDomain, "a.plain.test"), Names{"r"});
  EXPECT_EQ((*lists)->Match(Kind::kUrl, "http://evil12.example/"), Names{});  // not a url list
  EXPECT_EQ(warnings, (std::vector<std::string>{
                          "test/list.json: entry 1 \"/(unclosed/\": regex does not compile at offset 9: missing "
                          "closing parenthesis"}));
}

TEST(Warninglists, SubstringListsIgnoreCaseAndApplyToAllKindsWithoutAttributes) {
  auto lists = BuildOne(R"({"name":"s","type":"substring","list":["Tracking"]})", nullptr);
  ASSERT_TRUE(lists.ok()) << lists.status();
  EXPECT_EQ((*lists)->Match(Kind::kUrl, "http://x.example/tracking/1"), Names{"s"});
  EXPECT_EQ((*lists)->Match(Kind::kDomain, "tracking.example"), Names{"s"});
  EXPECT_EQ((*lists)->Match(Kind::kDomain, "track.example"), Names{});
  EXPECT_EQ((*lists)->Match(Kind::kUrl, "http://x.example/TRACKING/1"), Names{"s"});
}

TEST(Warninglists, MatchingAttributesRestrictTheKinds) {
  auto lists = Warninglists::Build({{"a.json", R"({"name":"ips","type":"string","matching_attributes":["ip-dst"],
                                                  "list":["192.0.2.1"]})"},
                                    {"b.json", R"({"name":"agents","type":"string","matching_attributes":["user-agent"],
                                                  "list":["192.0.2.1"]})"},
                                    {"c.json", R"({"name":"any","type":"string","list":["192.0.2.1"]})"}},
                                   nullptr);
  ASSERT_TRUE(lists.ok()) << lists.status();
  EXPECT_EQ((*lists)->Match(Kind::kIpv4, "192.0.2.1"), (Names{"any", "ips"}));
  EXPECT_EQ((*lists)->Match(Kind::kDomain, "192.0.2.1"), Names{"any"});
  EXPECT_EQ((*lists)->Names(), (Names{"agents", "any", "ips"}));
}

TEST(Warninglists, BadEntriesAreSkippedAndReported) {
  std::vector<std::string> warnings;
  auto lists =
      BuildOne(R"({"name":"c","type":"cidr","list":["10.0.0.0/8","10.0.0.0/33",7,"2001:db8::/32"]})", &warnings);
  ASSERT_TRUE(lists.ok()) << lists.status();
  EXPECT_EQ((*lists)->Match(Kind::kIpv4, "10.9.9.9"), Names{"c"});
  EXPECT_EQ((*lists)->Match(Kind::kIpv6, "2001:db8::9"), Names{"c"});
  EXPECT_EQ(warnings, (std::vector<std::string>{
                          "test/list.json: entry 1 \"10.0.0.0/33\": cidr4: prefix length 33 is out of range 0..32",
                          "test/list.json: entry 2 \"\": is a JSON integer, not a string",
                      }));
}

TEST(Warninglists, BadFilesFailTheLoadNamingTheFile) {
  auto not_json = BuildOne("{", nullptr);
  ASSERT_FALSE(not_json.ok());
  EXPECT_EQ(not_json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sv(not_json.status().message()).rfind("test/list.json: ", 0), 0u) << not_json.status();

  auto no_name = BuildOne(R"({"type":"cidr","list":[]})", nullptr);
  ASSERT_FALSE(no_name.ok());
  EXPECT_EQ(Sv(no_name.status().message()), "test/list.json: \"name\" is missing or not a string");

  auto bad_type = BuildOne(R"({"name":"x","type":"glob","list":[]})", nullptr);
  ASSERT_FALSE(bad_type.ok());
  EXPECT_EQ(Sv(bad_type.status().message()),
            "test/list.json: unknown warninglist type \"glob\" (expected cidr, hostname, string, substring or regex)");

  auto no_list = BuildOne(R"({"name":"x","type":"string","list":{}})", nullptr);
  ASSERT_FALSE(no_list.ok());
  EXPECT_EQ(Sv(no_list.status().message()), "test/list.json: \"list\" is missing or not an array");
}

TEST(Warninglists, ValuesThatAreNotCanonicalMatchNothing) {
  auto lists = BuildOne(R"({"name":"c","type":"cidr","list":["0.0.0.0/0","::/0"]})", nullptr);
  ASSERT_TRUE(lists.ok()) << lists.status();
  EXPECT_EQ((*lists)->Match(Kind::kCidr4, "10.0.0.0/8"), Names{"c"});
  EXPECT_EQ((*lists)->Match(Kind::kCidr4, "10.0.0.0/33"), Names{});
  EXPECT_EQ((*lists)->Match(Kind::kCidr4, "10.0.0.0/99999999999"), Names{});
  EXPECT_EQ((*lists)->Match(Kind::kCidr6, "::/129"), Names{});
  EXPECT_EQ((*lists)->Match(Kind::kIpv4, "not an address"), Names{});
  EXPECT_EQ((*lists)->Match(Kind::kUrl, "not a url"), Names{});
}

TEST(Warninglists, EmptyIndexMatchesNothing) {
  auto lists = Warninglists::Build({}, nullptr);
  ASSERT_TRUE(lists.ok()) << lists.status();
  EXPECT_EQ((*lists)->Match(Kind::kIpv4, "10.0.0.1"), Names{});
  EXPECT_EQ((*lists)->Match(Kind::kCidr6, "::/0"), Names{});
  EXPECT_EQ((*lists)->Names(), Names{});
}

TEST(Warninglists, LoadDirectoryReadsJsonFilesInPathOrder) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "concord-warninglists-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "b");
  std::ofstream(dir / "b" / "list.json") << R"({"name":"B","type":"hostname","list":["example.org"]})";
  std::ofstream(dir / "a.json") << R"({"name":"A","type":"hostname","list":[".example.org"]})";
  std::ofstream(dir / "README.md") << "not a list";
  std::vector<std::string> warnings;
  auto lists = Warninglists::LoadDirectory(dir, &warnings);
  ASSERT_TRUE(lists.ok()) << lists.status();
  EXPECT_EQ((*lists)->Names(), (Names{"A", "B"}));
  EXPECT_EQ((*lists)->Match(Kind::kDomain, "www.example.org"), (Names{"A", "B"}));
  EXPECT_EQ((*lists)->Match(Kind::kEmail, "x@example.org"), (Names{"A", "B"}));
  EXPECT_TRUE(warnings.empty());
  std::filesystem::remove_all(dir);

  auto missing = Warninglists::LoadDirectory(dir, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace concord::correlate
