// Accounts: the pure helpers (roles, CIDRs, tokens) and the SQLite-only opening paths. The behaviour of
// the accounts store on both backends is in accounts_conformance_test.cc.
#include "store/accounts.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "store/sqlite/migrations.h"
#include "store/store.h"

namespace concord::store {
namespace {

std::string Base64(std::string_view text) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    const auto n = (static_cast<uint32_t>(static_cast<unsigned char>(text[i])) << 16) |
                   (static_cast<uint32_t>(static_cast<unsigned char>(text[i + 1])) << 8) |
                   static_cast<unsigned char>(text[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i < text.size()) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(text[i])) << 16;
    if (i + 1 < text.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(text[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < text.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// ---- pure helpers ------------------------------------------------------------------------------------

TEST(Role, NamesRoundTrip) {
  for (Role r : {Role::kAdmin, Role::kOrgAdmin, Role::kAnalyst, Role::kDutyOfficer, Role::kReadOnly, Role::kSync}) {
    EXPECT_EQ(ParseRole(RoleName(r)), r);
  }
  EXPECT_EQ(RoleName(Role::kOrgAdmin), "org-admin");
  EXPECT_EQ(RoleName(Role::kDutyOfficer), "duty-officer");
  EXPECT_EQ(ParseRole("Admin"), std::nullopt);
  EXPECT_EQ(ParseRole("readonly"), std::nullopt);
  EXPECT_EQ(ParseRole(""), std::nullopt);
}

bool Contains(std::string_view cidr, std::string_view address) {
  auto c = ParseCidr(cidr);
  auto a = ParseIpAddress(address);
  EXPECT_TRUE(c.ok()) << cidr;
  EXPECT_TRUE(a.has_value()) << address;
  return c.ok() && a && CidrContains(*c, *a);
}

TEST(Cidr, ParsesAndCanonicalises) {
  EXPECT_EQ(ParseCidr("10.1.2.3/8")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(ParseCidr("192.0.2.7")->ToString(), "192.0.2.7/32");
  EXPECT_EQ(ParseCidr("0.0.0.0/0")->ToString(), "0.0.0.0/0");
  EXPECT_EQ(ParseCidr("2001:DB8:0:0::1/32")->ToString(), "2001:db8::/32");
  EXPECT_EQ(ParseCidr("2001:db8::1")->ToString(), "2001:db8::1/128");
  EXPECT_EQ(ParseCidr("::/0")->ToString(), "::/0");
  EXPECT_EQ(ParseCidr("::ffff:192.0.2.9/120")->ToString(), "::ffff:192.0.2.0/120");
  EXPECT_TRUE(ParseCidr("10.0.0.0/8")->v4);
  EXPECT_EQ(ParseCidr("10.0.0.0/8")->prefix_bits, 104);
  EXPECT_FALSE(ParseCidr("::ffff:10.0.0.0/104")->v4);
}

TEST(Cidr, RejectsMalformed) {
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/+8",
                          "10.0.0.0/8/8", "10.0.0.0/1000", "2001:db8::/129", "fe80::1%eth0", "1.2.3", "01.2.3.4",
                          "1.2.3.4 ", "[2001:db8::1]", "example.org/24"}) {
    auto parsed = ParseCidr(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ParseCidr("10.0.0.0/33").status().message(), "'10.0.0.0/33': prefix length must be a number from 0 to 32");
  EXPECT_EQ(ParseCidr("1.2.3").status().message(), "'1.2.3' is not an IP address or CIDR");
}

TEST(Cidr, ContainsIpv4) {
  EXPECT_TRUE(Contains("0.0.0.0/0", "203.0.113.5"));
  EXPECT_FALSE(Contains("0.0.0.0/0", "2001:db8::1"));
  EXPECT_TRUE(Contains("192.0.2.7/32", "192.0.2.7"));
  EXPECT_FALSE(Contains("192.0.2.7/32", "192.0.2.8"));
  EXPECT_TRUE(Contains("192.0.2.0/25", "192.0.2.127"));
  EXPECT_FALSE(Contains("192.0.2.0/25", "192.0.2.128"));
  EXPECT_TRUE(Contains("10.0.0.0/8", "10.255.255.255"));
  EXPECT_FALSE(Contains("10.0.0.0/8", "11.0.0.0"));
}

TEST(Cidr, ContainsIpv6) {
  EXPECT_TRUE(Contains("::/0", "2001:db8::1"));
  EXPECT_TRUE(Contains("2001:db8::1/128", "2001:db8::1"));
  EXPECT_FALSE(Contains("2001:db8::1/128", "2001:db8::2"));
  EXPECT_TRUE(Contains("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(Contains("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(Contains("2001:db8::/33", "2001:db8:7fff::"));
  EXPECT_FALSE(Contains("2001:db8::/33", "2001:db8:8000::"));
}

TEST(Cidr, Ipv4MappedAddressesMatchIpv4Networks) {
  EXPECT_TRUE(Contains("192.0.2.0/24", "::ffff:192.0.2.7"));
  EXPECT_FALSE(Contains("192.0.2.0/24", "::ffff:198.51.100.7"));
  EXPECT_TRUE(Contains("0.0.0.0/0", "::ffff:198.51.100.7"));
  EXPECT_TRUE(Contains("::ffff:0:0/96", "192.0.2.7"));
  EXPECT_FALSE(Contains("192.0.2.0/24", "::192.0.2.7"));  // IPv4-compatible (deprecated) is not mapped
  EXPECT_EQ(ParseIpAddress("::ffff:192.0.2.7"), ParseIpAddress("192.0.2.7"));
  EXPECT_TRUE(ParseIpAddress("::ffff:192.0.2.7")->IsV4());
  EXPECT_FALSE(ParseIpAddress("2001:db8::1")->IsV4());
}

constexpr char kKeyId[] = "0123456789abcdef";
constexpr char kSecret[] = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrsq";  // 52 chars, last ends in 0000

TEST(Token, ParsesExactForm) {
  const std::string token = std::string("concord_") + kKeyId + "_" + kSecret;
  auto parsed = ParseToken(token);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->key_id, kKeyId);
  EXPECT_EQ(parsed->secret, kSecret);
  EXPECT_FALSE(ParseToken("Concord_" + token.substr(8)));
  EXPECT_FALSE(ParseToken(token + "a"));
  EXPECT_FALSE(ParseToken(token.substr(0, token.size() - 1)));
  EXPECT_FALSE(ParseToken(std::string("concord_0123456789ABCDEF_") + kSecret));  // key id is lower-case hex
  EXPECT_FALSE(ParseToken(std::string("concord_0123456789abcdef-") + kSecret));
  std::string upper = token;
  upper[30] = 'A';
  EXPECT_FALSE(ParseToken(upper));
  std::string padding_bits = token;
  padding_bits.back() = 'b';  // sets a padding bit: a second spelling of some secret
  EXPECT_FALSE(ParseToken(padding_bits));
  EXPECT_FALSE(ParseToken(""));
}

TEST(Token, AuthorizationHeaderForms) {
  const std::string token = std::string("concord_") + kKeyId + "_" + kSecret;
  for (const std::string& header :
       {"Bearer " + token, "bearer " + token, "BEARER  " + token + " ", "Basic " + Base64(std::string(kKeyId) + ":" + token),
        "Basic " + Base64("alice:" + token), "Basic " + Base64(":" + token),
        "Basic " + Base64(std::string(kKeyId) + ":" + kSecret)}) {
    auto parsed = ParseAuthorization(header);
    ASSERT_TRUE(parsed.ok()) << header << ": " << parsed.status();
    EXPECT_EQ(parsed->key_id, kKeyId) << header;
    EXPECT_EQ(parsed->secret, kSecret) << header;
  }
  for (const std::string& header :
       std::vector<std::string>{std::string(), "Bearer", "Bearer ", "Token " + token, "Bearer " + std::string(kSecret),
        "Basic " + Base64(std::string("alice:") + kSecret), "Basic " + Base64(std::string(kKeyId) + kSecret),
        "Basic not*base64", "Basic " + Base64(std::string("fedcba9876543210:") + kSecret + "x")}) {
    auto parsed = ParseAuthorization(header);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kUnauthenticated) << header;
    EXPECT_EQ(parsed.status().message(), "invalid API key") << header;
    EXPECT_EQ(AuthFailureReason(parsed.status()), "malformed") << header;
  }
}

// The Accounts behaviour on SQLite and PostgreSQL (AccountsConformance) is in accounts_conformance_test.cc.

TEST(OpenAccounts, MigratesADatabaseAtSchemaVersionOne) {
  std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "accounts_v1_XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string path = (std::filesystem::path(tmpl) / "v1.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string v1(sqlite::Migrations()[0].sql);
  ASSERT_EQ(sqlite::Migrations()[0].version, 1);
  ASSERT_EQ(sqlite3_exec(db, v1.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);"
                         "INSERT INTO schema_migrations VALUES (1, 0)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  OpenOptions read_only;
  read_only.read_only = true;
  EXPECT_EQ(OpenAccounts(path, read_only).status().code(), absl::StatusCode::kFailedPrecondition);
  auto accounts = OpenAccounts("sqlite:" + path);
  ASSERT_TRUE(accounts.ok()) << accounts.status();
  EXPECT_TRUE((*accounts)->CreateOrganisation("CERT-EU", OrgKind::kLocal).ok());
  auto store = OpenStore(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->GetStats()->schema_version, sqlite::LatestSchemaVersion());
  accounts->reset();
  store->reset();
  std::filesystem::remove_all(tmpl);
}

TEST(OpenAccounts, DispatchesOnLocation) {
  // postgresql:// goes to the PostgreSQL backend: here a port nothing listens on.
  EXPECT_EQ(OpenAccounts("postgresql://concord@127.0.0.1:1/concord?connect_timeout=5").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(OpenAccounts("mysql://db.example/concord").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenAccounts("sqlite:").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(OpenAccounts("sqlite::memory:").ok());
}

}  // namespace
}  // namespace concord::store
