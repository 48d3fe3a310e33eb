#include "correlate/postings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "correlate/testing/objects.h"
#include "fmt/format.h"

namespace concord::correlate {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Parse;
using testing::ReadBundle;

const std::string kExamples = std::string(CONCORD_SHARED_DATA) + "/stix-examples/";

// Postings as "kind value" lines, in the order Extract gives them.
std::vector<std::string> Lines(const stix::Object& object) {
  std::vector<store::Posting> postings;
  PostingExtractor().Extract(object, postings);
  std::vector<std::string> out;
  for (const store::Posting& p : postings) {
    out.push_back(fmt::format("{} {}", ValueKindName(static_cast<Kind>(p.kind)), p.value));
  }
  return out;
}

const stix::Object* Find(const std::vector<stix::Object>& objects, std::string_view id) {
  for (const stix::Object& o : objects) {
    if (o.id == id) return &o;
  }
  ADD_FAILURE() << id << " not in the bundle";
  return nullptr;
}

TEST(PostingExtractor, PoisonIvyIndicatorsGiveEveryNormalisedValueOnce) {
  const auto objects = ReadBundle(kExamples + "poisonivy.json");
  ASSERT_FALSE(objects.empty());
  int indicators = 0;
  int with_postings = 0;
  for (const stix::Object& o : objects) {
    if (o.type != "indicator") {
      EXPECT_THAT(Lines(o), IsEmpty()) << o.id;  // SDOs and SROs have none
      continue;
    }
    ++indicators;
    const auto lines = Lines(o);
    if (!lines.empty()) ++with_postings;
    EXPECT_EQ(std::adjacent_find(lines.begin(), lines.end()), lines.end()) << o.id;
  }
  EXPECT_EQ(indicators, 25);
  EXPECT_EQ(with_postings, 25);
}

TEST(PostingExtractor, DomainThatDoesNotNormaliseIsLeftOut) {
  const auto objects = ReadBundle(kExamples + "poisonivy.json");
  // "[domain-name:value = 'domain autuo.xicp.net' OR ipv4-addr:value = '60.10.1.115']": a space in a domain.
  for (const stix::Object& o : objects) {
    const auto* pattern = o.json.if_contains("pattern");
    if (pattern == nullptr || pattern->as_string().find("autuo") == boost::json::string::npos) continue;
    EXPECT_THAT(Lines(o), ElementsAre("ipv4 60.10.1.115"));
    return;
  }
  FAIL() << "indicator with 'domain autuo.xicp.net' not found";
}

TEST(PostingExtractor, Apt1CidrsHashesAndCertificateSerials) {
  const auto objects = ReadBundle(kExamples + "apt1.json");
  std::vector<std::string> all;
  for (const stix::Object& o : objects) {
    for (std::string& line : Lines(o)) all.push_back(std::move(line));
  }
  EXPECT_THAT(all, ::testing::IsSupersetOf({"cidr4 223.166.0.0/15", "domain hugesoft.org",
                                             "md5 001dd76872d80801692ff942308c64e6",
                                             // DER-padded "0e:97:…" loses its leading zero and colons
                                             "x509-serial e97881c6ca137964203bc454224756c",
                                             "x509-serial 4c0b1d197486a766b41abf4027217628"}));
  EXPECT_EQ(all.size(), 12u);  // one value per indicator
}

TEST(PostingExtractor, ScosOfInfrastructureExample) {
  const auto objects = ReadBundle(kExamples + "infrastructure.json");
  const stix::Object* ip = Find(objects, "ipv4-addr--1e4ffad7-0b88-41d4-ba4d-77d27490b956");
  const stix::Object* domain = Find(objects, "domain-name--ecb120bf-2694-4902-a737-62b74539a41b");
  ASSERT_TRUE(ip && domain);
  EXPECT_THAT(Lines(*ip), ElementsAre("ipv4 198.51.100.3"));
  EXPECT_THAT(Lines(*domain), ElementsAre("domain example.com"));
}

TEST(PostingExtractor, AddressPostingsCarryTheirAddressAndPrefix) {
  std::vector<store::Posting> out;
  PostingExtractor().Extract(Parse(R"({"type":"ipv6-addr","spec_version":"2.1",
      "id":"ipv6-addr--00000000-0000-4000-8000-000000000001","value":"2001:DB8::1:0:0:1/64"})"), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, static_cast<uint8_t>(Kind::kCidr6));
  EXPECT_EQ(out[0].value, "2001:db8::/64");
  EXPECT_EQ(out[0].prefix_length, 64);
  EXPECT_EQ(out[0].address, AddressOf(Kind::kIpv6, "2001:db8::"));
  out.clear();
  PostingExtractor().Extract(Parse(R"({"type":"ipv4-addr","spec_version":"2.1",
      "id":"ipv4-addr--00000000-0000-4000-8000-000000000002","value":"10.0.0.1/32"})"), out);
  ASSERT_EQ(out.size(), 1u);  // a host prefix is the host
  EXPECT_EQ(out[0].kind, static_cast<uint8_t>(Kind::kIpv4));
  EXPECT_EQ(out[0].value, "10.0.0.1");
  EXPECT_EQ(out[0].prefix_length, -1);
  const std::array<uint8_t, 16> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
  EXPECT_EQ(out[0].address, mapped);
}

TEST(PostingExtractor, EveryScoTypeWithValues) {
  const std::pair<const char*, std::vector<std::string>> cases[] = {
      {R"({"type":"file","spec_version":"2.1","id":"file--00000000-0000-4000-8000-000000000001","name":" evil.exe ",
          "hashes":{"MD5":"D41D8CD98F00B204E9800998ECF8427E","SHA-256":"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                    "SHA3-256":"A7FFC6F8BF1ED76651C14756A061D662F580FF4DE43B49FA82D80A4B80F8434A","SSDEEP":"3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C",
                    "TLSH":"T1A1B2","x_custom":"ignored"}})",
       {"md5 d41d8cd98f00b204e9800998ecf8427e",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha3-256 a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
        "ssdeep 3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C", "tlsh T1A1B2", "filename evil.exe"}},
      {R"({"type":"mutex","spec_version":"2.1","id":"mutex--00000000-0000-4000-8000-000000000002","name":"Global\\evil"})",
       {"mutex Global\\evil"}},
      {R"({"type":"windows-registry-key","spec_version":"2.1","id":"windows-registry-key--00000000-0000-4000-8000-000000000003",
          "key":"hklm\\Software\\Evil"})",
       {"registry-key HKEY_LOCAL_MACHINE\\Software\\Evil"}},
      {R"({"type":"autonomous-system","spec_version":"2.1","id":"autonomous-system--00000000-0000-4000-8000-000000000004",
          "number":64500})",
       {"asn 64500"}},
      {R"({"type":"mac-addr","spec_version":"2.1","id":"mac-addr--00000000-0000-4000-8000-000000000005",
          "value":"aa:bb:cc:dd:ee:ff"})",
       {"mac aa:bb:cc:dd:ee:ff"}},
      {R"({"type":"x509-certificate","spec_version":"2.1","id":"x509-certificate--00000000-0000-4000-8000-000000000006",
          "serial_number":"00:AB:01","hashes":{"SHA-1":"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"}})",
       {"sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709", "x509-serial ab01"}},
      {R"({"type":"email-addr","spec_version":"2.1","id":"email-addr--00000000-0000-4000-8000-000000000007",
          "value":"John@Example.COM"})",
       {"email John@example.com"}},
      {R"({"type":"url","spec_version":"2.1","id":"url--00000000-0000-4000-8000-000000000008",
          "value":"HTTP://Evil.Example:80/a/../b"})",
       {"url http://evil.example/b"}},
      {R"({"type":"domain-name","spec_version":"2.1","id":"domain-name--00000000-0000-4000-8000-000000000009",
          "value":"Evil.Example."})",
       {"domain evil.example"}},
      {R"({"type":"ipv6-addr","spec_version":"2.1","id":"ipv6-addr--00000000-0000-4000-8000-00000000000a",
          "value":"::ffff:192.0.2.1"})",
       {"ipv4 192.0.2.1"}},
      // No values of their own: observed-data (2.1 refs name SCOs stored as objects), network-traffic.
      {R"({"type":"observed-data","spec_version":"2.1","id":"observed-data--00000000-0000-4000-8000-00000000000b",
          "created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","first_observed":"2024-01-01T00:00:00Z",
          "last_observed":"2024-01-01T00:00:00Z","number_observed":1,
          "object_refs":["ipv4-addr--00000000-0000-4000-8000-000000000002"]})",
       {}},
      // Only STIX patterns are read.
      {R"({"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-00000000000c",
          "created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","valid_from":"2024-01-01T00:00:00Z",
          "pattern_type":"snort","pattern":"alert ip 10.0.0.1 any -> any any"})",
       {}},
  };
  for (const auto& [json, expected] : cases) {
    SCOPED_TRACE(json);
    const stix::Object object = Parse(json);
    EXPECT_EQ(Lines(object), expected);
  }
}

TEST(PostingExtractor, PatternValuesAreNormalisedAndDeduplicated) {
  const stix::Object object = Parse(R"({"type":"indicator","spec_version":"2.1",
      "id":"indicator--00000000-0000-4000-8000-000000000001","created":"2024-01-01T00:00:00.000Z",
      "modified":"2024-01-01T00:00:00.000Z","valid_from":"2024-01-01T00:00:00Z","pattern_type":"stix",
      "pattern":"[domain-name:value = 'EVIL.example.' OR domain-name:value = 'evil.example'] AND [ipv4-addr:value ISSUBSET '10.1.2.3/8'] AND [file:hashes.'SHA-1' = 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709' AND file:name != 'x.exe'] AND [mac-addr:value = 'AA-BB-CC-DD-EE-FF'] AND [autonomous-system:number = 64500]"})");
  EXPECT_THAT(Lines(object), ElementsAre("cidr4 10.0.0.0/8", "domain evil.example",
                                         "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709", "asn 64500",
                                         "mac aa:bb:cc:dd:ee:ff"));
}

// Over every OASIS example: postings are deterministic and their values are canonical (normalising them
// again changes nothing).
TEST(PostingExtractor, DeterministicAndCanonicalOverTheOasisExamples) {
  size_t total = 0;
  for (const char* file : {"apt1.json", "poisonivy.json", "infrastructure.json", "indicators-for-C2-with-COA.json",
                           "indicator-for-c2-ip-address.json", "malicious-email-indicator-with-attachment.json"}) {
    for (const stix::Object& o : ReadBundle(kExamples + file)) {
      std::vector<store::Posting> first;
      std::vector<store::Posting> second;
      PostingExtractor().Extract(o, first);
      PostingExtractor().Extract(o, second);
      EXPECT_EQ(first, second);
      for (const store::Posting& p : first) {
        auto again = NormalizeAs(static_cast<Kind>(p.kind), p.value);
        ASSERT_TRUE(again.ok()) << again.status();
        EXPECT_EQ(again->value, p.value);
        EXPECT_EQ(MakePosting(static_cast<Kind>(p.kind), p.value), p);
      }
      total += first.size();
    }
  }
  EXPECT_GT(total, 80u);
}

TEST(Addresses, FormatAndPrefix) {
  EXPECT_EQ(FormatAddress(Kind::kIpv4, *AddressOf(Kind::kIpv4, "192.0.2.1")), "192.0.2.1");
  EXPECT_EQ(FormatAddress(Kind::kIpv6, *AddressOf(Kind::kIpv6, "::2:3")), "::2:3");
  EXPECT_EQ(PrefixLengthOf(Kind::kCidr6, "::/0"), 0);
  EXPECT_EQ(PrefixLengthOf(Kind::kCidr4, "10.0.0.0/33"), std::nullopt);
  EXPECT_EQ(AddressOf(Kind::kDomain, "example.com"), std::nullopt);
}


// A sighting has one reference posting (kind 128, outside pattern::ValueKind): sighting_of_ref as written.
TEST(PostingExtractor, SightingHasOneReferencePostingToWhatItSights) {
  const stix::Object sighting = Parse(
      R"({"type":"sighting","spec_version":"2.1","id":"sighting--00000000-0000-4000-8000-000000000001",
      "created":"2024-03-01T00:00:00.000Z","modified":"2024-03-01T00:00:00.000Z",
      "sighting_of_ref":"indicator--00000000-0000-4000-8000-0000000000aa","count":3,
      "where_sighted_refs":["identity--00000000-0000-4000-8000-000000000001"]})");
  std::vector<store::Posting> postings;
  PostingExtractor().Extract(sighting, postings);
  ASSERT_EQ(postings.size(), 1u);
  EXPECT_EQ(postings[0].kind, kSightingOfPosting);
  EXPECT_EQ(postings[0].kind, 128);
  EXPECT_EQ(postings[0].value, "indicator--00000000-0000-4000-8000-0000000000aa");
  EXPECT_EQ(postings[0].address, std::nullopt);
  EXPECT_EQ(postings[0].prefix_length, -1);
  EXPECT_TRUE(IsReferencePosting(postings[0].kind));
  for (int kind = 0; kind < kKindCount; ++kind) EXPECT_FALSE(IsReferencePosting(static_cast<uint8_t>(kind))) << kind;
}

}  // namespace
}  // namespace concord::correlate
