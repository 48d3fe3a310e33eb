#include "store/accounts.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "common/uuid.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite/migrations.h"
#include "store/store.h"

namespace concord::store {
namespace {

using ::testing::ElementsAre;

Timestamp Ts(std::string_view text) { return ParseRfc3339(text).value(); }

Timestamp Plus(Timestamp t, int64_t millis) { return Timestamp::FromUnixMillis(t.UnixMillis() + millis); }

class FixedClock final : public Clock {
 public:
  Timestamp Now() const override { return now; }
  Timestamp now = Ts("2025-06-01T12:00:00.000Z");
};

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

// The bytes a base32 secret encodes, or "" when it is not base32.
std::string Base32Decode(std::string_view text) {
  constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) return "";
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
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

// ---- the SQLite accounts -----------------------------------------------------------------------------

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "accounts_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "concord.db").string();
    accounts_ = Open();
    org_ = accounts_->CreateOrganisation("CERT-EU", OrgKind::kLocal).value();
    alice_ = accounts_->CreateUser("alice", "CERT-EU", Role::kAnalyst).value();
  }
  void TearDown() override {
    accounts_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Accounts> Open(bool read_only = false) {
    OpenOptions options;
    options.clock = &clock_;
    options.read_only = read_only;
    auto opened = OpenAccounts(path_, options);
    EXPECT_TRUE(opened.ok()) << opened.status();
    return opened.ok() ? *std::move(opened) : nullptr;
  }

  IssuedKey Issue(const KeyOptions& options = {}, std::string_view user = "alice") {
    auto issued = accounts_->IssueKey(user, options);
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? *std::move(issued) : IssuedKey{};
  }

  absl::StatusOr<Principal> Auth(const std::string& token, std::string_view address = "192.0.2.10") {
    return accounts_->AuthenticateHeader("Bearer " + token, address);
  }

  static void ExpectFailure(const absl::StatusOr<Principal>& result, std::string_view message,
                            std::string_view reason) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(Sv(result.status().message()), message);
    EXPECT_EQ(AuthFailureReason(result.status()), reason);
  }

  int64_t RawInt(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    int64_t value = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }

  FixedClock clock_;
  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<Accounts> accounts_;
  Organisation org_;
  User alice_;
};

TEST_F(AccountsTest, IssuedKeyHasTheDocumentedFormatAndEntropy) {
  IssuedKey a = Issue();
  IssuedKey b = Issue();
  EXPECT_TRUE(std::regex_match(a.token, std::regex("concord_[0-9a-f]{16}_[a-z2-7]{52}"))) << a.token;
  EXPECT_EQ(a.token.size(), 8u + 16 + 1 + 52);
  auto parsed = ParseToken(a.token);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->key_id, a.key.key_id);
  EXPECT_EQ(Base32Decode(parsed->secret).size(), 32u);  // 256 random bits
  EXPECT_NE(a.key.key_id, b.key.key_id);
  EXPECT_NE(ParseToken(a.token)->secret, ParseToken(b.token)->secret);
  EXPECT_EQ(a.key.user_id, alice_.id);
  EXPECT_EQ(a.key.created, clock_.now);
  EXPECT_EQ(a.key.expires, std::nullopt);
  EXPECT_EQ(a.key.revoked, std::nullopt);
  EXPECT_FALSE(a.key.read_only);
}

TEST_F(AccountsTest, OnlyTheHashOfTheSecretIsStored) {
  IssuedKey issued = Issue();
  ASSERT_TRUE(Auth(issued.token).ok());
  const std::string secret = ParseToken(issued.token)->secret;
  accounts_.reset();  // checkpoints the WAL into the main file; read both anyway
  std::string bytes = ReadFile(path_);
  if (std::filesystem::exists(path_ + "-wal")) bytes += ReadFile(path_ + "-wal");
  EXPECT_EQ(bytes.find(secret), std::string::npos);
  EXPECT_EQ(bytes.find(issued.token), std::string::npos);
  EXPECT_NE(bytes.find(issued.key.key_id), std::string::npos);
  EXPECT_EQ(RawInt("SELECT count(*) FROM api_keys WHERE secret_sha256 = '" + Sha256Hex(secret) + "'"), 1);
}

TEST_F(AccountsTest, AuthenticatesAndAttributes) {
  IssuedKey issued = Issue();
  auto principal = Auth(issued.token);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->user.id, alice_.id);
  EXPECT_EQ(principal->user.name, "alice");
  EXPECT_EQ(principal->org.id, org_.id);
  EXPECT_EQ(principal->org.name, "CERT-EU");
  EXPECT_EQ(principal->role, Role::kAnalyst);
  EXPECT_EQ(principal->key_id, issued.key.key_id);
  EXPECT_FALSE(principal->read_only);
  // Basic, both forms.
  const Credentials c = *ParseToken(issued.token);
  EXPECT_TRUE(accounts_->AuthenticateHeader("Basic " + Base64(c.key_id + ":" + issued.token), "::1").ok());
  EXPECT_TRUE(accounts_->AuthenticateHeader("Basic " + Base64(c.key_id + ":" + c.secret), "::1").ok());
}

TEST_F(AccountsTest, RejectsMalformedUnknownAndWrongSecret) {
  IssuedKey issued = Issue();
  ExpectFailure(Auth("nonsense"), "invalid API key", "malformed");
  ExpectFailure(accounts_->Authenticate({"short", kSecret}, "::1"), "invalid API key", "malformed");
  ExpectFailure(Auth(std::string("concord_") + kKeyId + "_" + kSecret), "invalid API key", "unknown-key");
  ExpectFailure(Auth(std::string("concord_") + issued.key.key_id + "_" + kSecret), "invalid API key", "wrong-secret");
  // A wrong secret for a cached key fails the same way.
  ASSERT_TRUE(Auth(issued.token).ok());
  ExpectFailure(Auth(std::string("concord_") + issued.key.key_id + "_" + kSecret), "invalid API key", "wrong-secret");
}

TEST_F(AccountsTest, RevocationAppliesAtOnceHere) {
  IssuedKey issued = Issue();
  ASSERT_TRUE(Auth(issued.token).ok());
  clock_.now = Plus(clock_.now, 1000);
  auto revoked = accounts_->RevokeKey(issued.key.key_id);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(revoked->revoked, clock_.now);
  ExpectFailure(Auth(issued.token), "API key revoked", "revoked");
  clock_.now = Plus(clock_.now, 1000);
  EXPECT_EQ(accounts_->RevokeKey(issued.key.key_id)->revoked, Plus(clock_.now, -1000));  // first time kept
  EXPECT_EQ(accounts_->RevokeKey("ffffffffffffffff").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AccountsTest, CacheTtlBoundsRevocationByAnotherProcess) {
  IssuedKey issued = Issue();
  ASSERT_TRUE(Auth(issued.token).ok());  // cached now
  auto other = Open();                   // the CLI, or another `concord serve`
  ASSERT_TRUE(other->RevokeKey(issued.key.key_id).ok());
  clock_.now = Plus(clock_.now, kKeyCacheTtlMillis - 1);
  EXPECT_TRUE(Auth(issued.token).ok());  // still the cached record
  clock_.now = Plus(clock_.now, 1);
  ExpectFailure(Auth(issued.token), "API key revoked", "revoked");
}

TEST_F(AccountsTest, ExpiryIsExactEvenWhenCached) {
  const Timestamp expires = Plus(clock_.now, 3'600'000);
  IssuedKey issued = Issue({.expires = expires});
  EXPECT_EQ(issued.key.expires, expires);
  ASSERT_TRUE(Auth(issued.token).ok());
  clock_.now = Plus(expires, -1);
  ASSERT_TRUE(Auth(issued.token).ok());
  clock_.now = expires;
  ExpectFailure(Auth(issued.token), "API key expired", "expired");
}

TEST_F(AccountsTest, DisabledUserIsRefusedAndCanBeEnabled) {
  IssuedKey issued = Issue();
  ASSERT_TRUE(Auth(issued.token).ok());
  ASSERT_TRUE(accounts_->DisableUser("alice").ok());
  EXPECT_TRUE(accounts_->GetUser("alice")->disabled);
  ExpectFailure(Auth(issued.token), "user disabled", "user-disabled");
  EXPECT_EQ(accounts_->IssueKey("alice", {}).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(accounts_->EnableUser(alice_.id).ok());
  EXPECT_TRUE(Auth(issued.token).ok());
  EXPECT_EQ(accounts_->DisableUser("nobody").code(), absl::StatusCode::kNotFound);
}

TEST_F(AccountsTest, SourceAddressMustBeInAllowedCidrs) {
  IssuedKey issued = Issue({.cidrs = {"192.0.2.0/24", "2001:db8:1::/48"}});
  EXPECT_THAT(issued.key.allowed_cidrs, ElementsAre("192.0.2.0/24", "2001:db8:1::/48"));
  EXPECT_TRUE(Auth(issued.token, "192.0.2.200").ok());
  EXPECT_TRUE(Auth(issued.token, "::ffff:192.0.2.200").ok());
  EXPECT_TRUE(Auth(issued.token, "2001:db8:1:2::3").ok());
  ExpectFailure(Auth(issued.token, "198.51.100.1"), "invalid API key", "address-not-allowed");
  ExpectFailure(Auth(issued.token, "::ffff:198.51.100.1"), "invalid API key", "address-not-allowed");
  ExpectFailure(Auth(issued.token, "2001:db8:2::1"), "invalid API key", "address-not-allowed");
  ExpectFailure(Auth(issued.token, ""), "invalid API key", "address-not-allowed");
  ExpectFailure(Auth(issued.token, "192.0.2.1:443"), "invalid API key", "address-not-allowed");
  // Without CIDRs any address will do, even one the server could not name.
  IssuedKey open = Issue();
  EXPECT_TRUE(Auth(open.token, "198.51.100.1").ok());
  EXPECT_TRUE(Auth(open.token, "").ok());
}

TEST_F(AccountsTest, ReadOnlyFlagPropagates) {
  IssuedKey read_only = Issue({.read_only = true});
  EXPECT_TRUE(read_only.key.read_only);
  EXPECT_TRUE(Auth(read_only.token)->read_only);
  EXPECT_FALSE(Auth(Issue().token)->read_only);
  ASSERT_TRUE(accounts_->CreateUser("reader", org_.id, Role::kReadOnly).ok());
  auto principal = Auth(Issue({}, "reader").token);
  ASSERT_TRUE(principal.ok());
  EXPECT_EQ(principal->role, Role::kReadOnly);
  EXPECT_TRUE(principal->read_only);
}

TEST_F(AccountsTest, RoleChangeAppliesAtOnce) {
  IssuedKey issued = Issue();
  ASSERT_TRUE(Auth(issued.token).ok());
  ASSERT_TRUE(accounts_->SetRole("alice", Role::kDutyOfficer).ok());
  EXPECT_EQ(Auth(issued.token)->role, Role::kDutyOfficer);
  EXPECT_EQ(accounts_->GetUser("alice")->role, Role::kDutyOfficer);
}

TEST_F(AccountsTest, LastUsedIsWrittenAtMostOncePerMinute) {
  IssuedKey issued = Issue();
  EXPECT_EQ(accounts_->ListKeys("alice")->at(0).last_used, std::nullopt);
  const Timestamp first = clock_.now;
  ASSERT_TRUE(Auth(issued.token).ok());
  EXPECT_EQ(accounts_->ListKeys("alice")->at(0).last_used, first);
  clock_.now = Plus(first, kLastUsedIntervalMillis - 1);
  ASSERT_TRUE(Auth(issued.token).ok());
  EXPECT_EQ(accounts_->ListKeys("alice")->at(0).last_used, first);
  clock_.now = Plus(first, kLastUsedIntervalMillis);
  ASSERT_TRUE(Auth(issued.token).ok());
  EXPECT_EQ(accounts_->ListKeys("alice")->at(0).last_used, clock_.now);
}

TEST_F(AccountsTest, KeyOptionsAreValidated) {
  auto past = accounts_->IssueKey("alice", {.expires = clock_.now});
  EXPECT_EQ(past.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(past.status().message(), "expires: 2025-06-01T12:00:00.000Z is not in the future");
  auto cidr = accounts_->IssueKey("alice", {.cidrs = {"10.0.0.0/33"}});
  EXPECT_EQ(cidr.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cidr.status().message(), "allowed_cidrs: '10.0.0.0/33': prefix length must be a number from 0 to 32");
  EXPECT_EQ(accounts_->IssueKey("nobody", {}).status().message(), "user 'nobody' not found");
  EXPECT_EQ(accounts_->ListKeys("alice")->size(), 0u);
}

TEST_F(AccountsTest, ListKeysOldestFirst) {
  IssuedKey a = Issue({.cidrs = {"10.9.8.7/8"}, .read_only = true});
  clock_.now = Plus(clock_.now, 1);
  IssuedKey b = Issue({.expires = Ts("2026-01-01T00:00:00.000Z")});
  ASSERT_TRUE(accounts_->RevokeKey(a.key.key_id).ok());
  auto keys = accounts_->ListKeys(alice_.id);
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].key_id, a.key.key_id);
  EXPECT_THAT((*keys)[0].allowed_cidrs, ElementsAre("10.0.0.0/8"));
  EXPECT_TRUE((*keys)[0].read_only);
  EXPECT_TRUE((*keys)[0].revoked.has_value());
  EXPECT_EQ((*keys)[1].key_id, b.key.key_id);
  EXPECT_EQ((*keys)[1].expires, Ts("2026-01-01T00:00:00.000Z"));
  EXPECT_FALSE((*keys)[1].revoked.has_value());
}

TEST_F(AccountsTest, OrganisationsAreStixIdentitiesWithUniqueNames) {
  EXPECT_TRUE(org_.id.starts_with("identity--"));
  auto uuid = ParseUuid(std::string_view(org_.id).substr(10));
  ASSERT_TRUE(uuid.ok());
  EXPECT_EQ(uuid->Version(), 4);
  EXPECT_EQ(org_.kind, OrgKind::kLocal);
  EXPECT_FALSE(org_.host);
  EXPECT_EQ(org_.created, clock_.now);
  auto dup = accounts_->CreateOrganisation("cert-eu", OrgKind::kRemote);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.status().message(), "organisation 'CERT-EU' already exists");
  ASSERT_TRUE(accounts_->CreateOrganisation("BSI", OrgKind::kRemote).ok());
  auto list = accounts_->ListOrganisations();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "BSI");
  EXPECT_EQ((*list)[0].kind, OrgKind::kRemote);
  EXPECT_EQ((*list)[1].id, org_.id);
  EXPECT_EQ(accounts_->GetOrganisation(org_.id)->name, "CERT-EU");
  EXPECT_EQ(accounts_->GetOrganisation("cert-eu")->id, org_.id);
  EXPECT_EQ(accounts_->GetOrganisation("ENISA").status().message(), "organisation 'ENISA' not found");
  for (const char* bad : {"", " CERT", "a\tb", "identity--x"}) {
    auto created = accounts_->CreateOrganisation(bad, OrgKind::kLocal);
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(ErrorField(created.status()), "name") << bad;
  }
}

TEST_F(AccountsTest, HostOrganisationIsIdempotentAndUnique) {
  auto host = accounts_->EnsureHostOrganisation("NCSC-NL");
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_TRUE(host->host);
  EXPECT_EQ(host->kind, OrgKind::kLocal);
  auto again = accounts_->EnsureHostOrganisation("ncsc-nl");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, host->id);
  EXPECT_EQ(again->name, "NCSC-NL");
  auto other = accounts_->EnsureHostOrganisation("CERT-EU");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(other.status().message(), fmt::format("the host organisation is already 'NCSC-NL' ({})", host->id));
  EXPECT_EQ(RawInt("SELECT count(*) FROM organisations WHERE host = 1"), 1);
}

TEST_F(AccountsTest, HostOrganisationPromotesAnExistingLocalOne) {
  ASSERT_TRUE(accounts_->CreateOrganisation("Peer CERT", OrgKind::kRemote).ok());
  EXPECT_EQ(accounts_->EnsureHostOrganisation("Peer CERT").status().code(), absl::StatusCode::kFailedPrecondition);
  auto host = accounts_->EnsureHostOrganisation("CERT-EU");
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->id, org_.id);
  EXPECT_TRUE(host->host);
  EXPECT_TRUE(accounts_->GetOrganisation(org_.id)->host);
}

TEST_F(AccountsTest, UsersHaveUniqueNamesAndBelongToAnOrganisation) {
  EXPECT_EQ(alice_.org_id, org_.id);
  EXPECT_EQ(alice_.role, Role::kAnalyst);
  EXPECT_FALSE(alice_.disabled);
  EXPECT_EQ(ParseUuid(alice_.id)->Version(), 4);
  auto dup = accounts_->CreateUser("Alice", "CERT-EU", Role::kAdmin);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.status().message(), "user 'alice' already exists");
  auto no_org = accounts_->CreateUser("bob", "ENISA", Role::kAdmin);
  EXPECT_EQ(no_org.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(no_org.status().message(), "organisation 'ENISA' not found");
  for (const char* bad : {"", "bob smith", "bob/x", "11111111-1111-4111-8111-111111111111"}) {
    auto created = accounts_->CreateUser(bad, "CERT-EU", Role::kAdmin);
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(ErrorField(created.status()), "name") << bad;
  }
  auto bsi = accounts_->CreateOrganisation("BSI", OrgKind::kLocal);
  ASSERT_TRUE(bsi.ok());
  ASSERT_TRUE(accounts_->CreateUser("bob@bsi.example", bsi->id, Role::kSync).ok());
  auto all = accounts_->ListUsers();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "alice");
  EXPECT_EQ((*all)[1].name, "bob@bsi.example");
  auto of_bsi = accounts_->ListUsers("BSI");
  ASSERT_EQ(of_bsi->size(), 1u);
  EXPECT_EQ((*of_bsi)[0].role, Role::kSync);
  EXPECT_EQ(accounts_->ListUsers("ENISA").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(accounts_->GetUser(alice_.id)->name, "alice");
  EXPECT_EQ(accounts_->GetUser("ALICE")->id, alice_.id);
}

TEST_F(AccountsTest, ReadOnlyOpenAuthenticatesWithoutWriting) {
  IssuedKey issued = Issue();
  auto reader = Open(/*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(reader->AuthenticateHeader("Bearer " + issued.token, "::1").ok());
  EXPECT_EQ(accounts_->ListKeys("alice")->at(0).last_used, std::nullopt);
  auto write = reader->CreateOrganisation("BSI", OrgKind::kLocal);
  EXPECT_EQ(write.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(write.status().message(), "accounts are open read-only");
}

TEST_F(AccountsTest, SharesTheStoreFileAndSchema) {
  auto store = OpenStore(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->GetStats()->schema_version, sqlite::LatestSchemaVersion());
  EXPECT_EQ(RawInt("SELECT count(*) FROM sqlite_master WHERE name IN ('organisations', 'users', 'api_keys')"), 3);
}

TEST_F(AccountsTest, ConcurrentAuthentication) {
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) tokens.push_back(Issue().token);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) ok += Auth(tokens[static_cast<size_t>((t + i) % 4)]).ok() ? 1 : 0;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 2000);
}

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
  EXPECT_EQ(OpenAccounts("postgresql://db.example/concord").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(OpenAccounts("mysql://db.example/concord").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenAccounts("sqlite:").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(OpenAccounts("sqlite::memory:").ok());
}

}  // namespace
}  // namespace concord::store
