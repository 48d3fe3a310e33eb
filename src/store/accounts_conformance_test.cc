// Accounts conformance: the behaviour of the Accounts interface (store/accounts.h) on every backend — SQLite
// (the store's file) and PostgreSQL (a real server started by scripts/pg-test; skipped when its binaries are
// absent). Keys (format, hashing, authentication, revocation, expiry, CIDRs, read-only, last_used, the cache),
// organisations and the host, users and roles, sharing groups and communities, read-only opening, several
// handles (processes) writing at once. The pure helpers and SQLite-only opening paths stay in accounts_test.cc.
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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
#include "store/accounts.h"
#include "store/postgres/migrations.h"
#include "store/sqlite/migrations.h"
#include "store/store.h"
#include "store/testing/postgres_server.h"

namespace concord::store {
namespace {

using ::testing::ElementsAre;
using testing::PostgresServer;

[[maybe_unused]] ::testing::Environment* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new testing::PostgresServerEnvironment);

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

constexpr char kSecret[] = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrsq";  // 52 chars, last ends in 0000
constexpr char kKeyId[] = "0123456789abcdef";

enum class Backend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// Fresh accounts of the backend under test for each test (a temporary SQLite file, or a database of its own on
// the binary's PostgreSQL server), with the organisation CERT-EU and its analyst alice.
class AccountsConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (pg()) {
      PostgresServer& server = PostgresServer::Get();
      if (!server.available()) GTEST_SKIP() << server.skip_reason();
      location_ = server.CreateDatabase();
      ASSERT_FALSE(location_.empty());
    } else {
      std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "accounts_test_XXXXXX").string();
      ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
      dir_ = tmpl;
      path_ = (dir_ / "concord.db").string();
      location_ = path_;
    }
    accounts_ = Open();
    ASSERT_NE(accounts_, nullptr);
    org_ = accounts_->CreateOrganisation("CERT-EU", OrgKind::kLocal).value();
    alice_ = accounts_->CreateUser("alice", "CERT-EU", Role::kAnalyst).value();
  }
  void TearDown() override {
    accounts_.reset();
    if (pg()) {
      PostgresServer::Get().DropDatabase(location_);
    } else if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  bool pg() const { return GetParam() == Backend::kPostgres; }

  std::unique_ptr<Accounts> Open(bool read_only = false) {
    OpenOptions options;
    options.clock = &clock_;
    options.read_only = read_only;
    auto opened = OpenAccounts(location_, options);
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

  // One integer from SQL on a second, raw connection, in the backend's dialect.
  int64_t RawInt(const std::string& sqlite_sql, const std::string& pg_sql) {
    if (pg()) return testing::PgInt(location_, pg_sql);
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sqlite_sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    int64_t value = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }

  FixedClock clock_;
  std::filesystem::path dir_;
  std::string path_;
  std::string location_;
  std::unique_ptr<Accounts> accounts_;
  Organisation org_;
  User alice_;
};

INSTANTIATE_TEST_SUITE_P(Backends, AccountsConformance, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         BackendName);

TEST_P(AccountsConformance, IssuedKeyHasTheDocumentedFormatAndEntropy) {
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

TEST_P(AccountsConformance, OnlyTheHashOfTheSecretIsStored) {
  IssuedKey issued = Issue();
  ASSERT_TRUE(Auth(issued.token).ok());
  const std::string secret = ParseToken(issued.token)->secret;
  accounts_.reset();  // SQLite: checkpoints the WAL into the main file; read both anyway
  if (pg()) {
    // Every row of every table of the database, as text: the secret is in none of them.
    const std::string all =
        "SELECT count(*) FROM (SELECT row_to_json(t)::text AS r FROM organisations t UNION ALL "
        "SELECT row_to_json(t)::text FROM users t UNION ALL SELECT row_to_json(t)::text FROM api_keys t UNION ALL "
        "SELECT row_to_json(t)::text FROM audit_log t UNION ALL SELECT row_to_json(t)::text FROM store_meta t) x ";
    EXPECT_EQ(RawInt("", all + "WHERE strpos(r, '" + secret + "') > 0"), 0);
    EXPECT_EQ(RawInt("", all + "WHERE strpos(r, '" + issued.key.key_id + "') > 0"), 1);
  } else {
    std::string bytes = ReadFile(path_);
    if (std::filesystem::exists(path_ + "-wal")) bytes += ReadFile(path_ + "-wal");
    EXPECT_EQ(bytes.find(secret), std::string::npos);
    EXPECT_EQ(bytes.find(issued.token), std::string::npos);
    EXPECT_NE(bytes.find(issued.key.key_id), std::string::npos);
  }
  const std::string count = "SELECT count(*) FROM api_keys WHERE secret_sha256 = '" + Sha256Hex(secret) + "'";
  EXPECT_EQ(RawInt(count, count), 1);
}

TEST_P(AccountsConformance, AuthenticatesAndAttributes) {
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

TEST_P(AccountsConformance, RejectsMalformedUnknownAndWrongSecret) {
  IssuedKey issued = Issue();
  ExpectFailure(Auth("nonsense"), "invalid API key", "malformed");
  ExpectFailure(accounts_->Authenticate({"short", kSecret}, "::1"), "invalid API key", "malformed");
  ExpectFailure(Auth(std::string("concord_") + kKeyId + "_" + kSecret), "invalid API key", "unknown-key");
  ExpectFailure(Auth(std::string("concord_") + issued.key.key_id + "_" + kSecret), "invalid API key", "wrong-secret");
  // A wrong secret for a cached key fails the same way.
  ASSERT_TRUE(Auth(issued.token).ok());
  ExpectFailure(Auth(std::string("concord_") + issued.key.key_id + "_" + kSecret), "invalid API key", "wrong-secret");
}

TEST_P(AccountsConformance, RevocationAppliesAtOnceHere) {
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

TEST_P(AccountsConformance, CacheTtlBoundsRevocationByAnotherProcess) {
  IssuedKey issued = Issue();
  ASSERT_TRUE(Auth(issued.token).ok());  // cached now
  auto other = Open();                   // the CLI, or another `concord serve`
  ASSERT_TRUE(other->RevokeKey(issued.key.key_id).ok());
  clock_.now = Plus(clock_.now, kKeyCacheTtlMillis - 1);
  EXPECT_TRUE(Auth(issued.token).ok());  // still the cached record
  clock_.now = Plus(clock_.now, 1);
  ExpectFailure(Auth(issued.token), "API key revoked", "revoked");
}

TEST_P(AccountsConformance, ExpiryIsExactEvenWhenCached) {
  const Timestamp expires = Plus(clock_.now, 3'600'000);
  IssuedKey issued = Issue({.expires = expires});
  EXPECT_EQ(issued.key.expires, expires);
  ASSERT_TRUE(Auth(issued.token).ok());
  clock_.now = Plus(expires, -1);
  ASSERT_TRUE(Auth(issued.token).ok());
  clock_.now = expires;
  ExpectFailure(Auth(issued.token), "API key expired", "expired");
}

TEST_P(AccountsConformance, DisabledUserIsRefusedAndCanBeEnabled) {
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

TEST_P(AccountsConformance, SourceAddressMustBeInAllowedCidrs) {
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

TEST_P(AccountsConformance, ReadOnlyFlagPropagates) {
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

TEST_P(AccountsConformance, RoleChangeAppliesAtOnce) {
  IssuedKey issued = Issue();
  ASSERT_TRUE(Auth(issued.token).ok());
  ASSERT_TRUE(accounts_->SetRole("alice", Role::kDutyOfficer).ok());
  EXPECT_EQ(Auth(issued.token)->role, Role::kDutyOfficer);
  EXPECT_EQ(accounts_->GetUser("alice")->role, Role::kDutyOfficer);
}

TEST_P(AccountsConformance, LastUsedIsWrittenAtMostOncePerMinute) {
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

TEST_P(AccountsConformance, KeyOptionsAreValidated) {
  auto past = accounts_->IssueKey("alice", {.expires = clock_.now});
  EXPECT_EQ(past.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(past.status().message(), "expires: 2025-06-01T12:00:00.000Z is not in the future");
  auto cidr = accounts_->IssueKey("alice", {.cidrs = {"10.0.0.0/33"}});
  EXPECT_EQ(cidr.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cidr.status().message(), "allowed_cidrs: '10.0.0.0/33': prefix length must be a number from 0 to 32");
  EXPECT_EQ(accounts_->IssueKey("nobody", {}).status().message(), "user 'nobody' not found");
  EXPECT_EQ(accounts_->ListKeys("alice")->size(), 0u);
}

TEST_P(AccountsConformance, ListKeysOldestFirst) {
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

TEST_P(AccountsConformance, OrganisationsAreStixIdentitiesWithUniqueNames) {
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

TEST_P(AccountsConformance, HostOrganisationIsIdempotentAndUnique) {
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
  EXPECT_EQ(RawInt("SELECT count(*) FROM organisations WHERE host = 1", "SELECT count(*) FROM organisations WHERE host"), 1);
}

TEST_P(AccountsConformance, HostOrganisationPromotesAnExistingLocalOne) {
  ASSERT_TRUE(accounts_->CreateOrganisation("Peer CERT", OrgKind::kRemote).ok());
  EXPECT_EQ(accounts_->EnsureHostOrganisation("Peer CERT").status().code(), absl::StatusCode::kFailedPrecondition);
  auto host = accounts_->EnsureHostOrganisation("CERT-EU");
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->id, org_.id);
  EXPECT_TRUE(host->host);
  EXPECT_TRUE(accounts_->GetOrganisation(org_.id)->host);
}

TEST_P(AccountsConformance, UsersHaveUniqueNamesAndBelongToAnOrganisation) {
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

TEST_P(AccountsConformance, ReadOnlyOpenAuthenticatesWithoutWriting) {
  IssuedKey issued = Issue();
  auto reader = Open(/*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(reader->AuthenticateHeader("Bearer " + issued.token, "::1").ok());
  EXPECT_EQ(accounts_->ListKeys("alice")->at(0).last_used, std::nullopt);
  auto write = reader->CreateOrganisation("BSI", OrgKind::kLocal);
  EXPECT_EQ(write.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(write.status().message(), "accounts are open read-only");
}

TEST_P(AccountsConformance, SharesTheStoreDatabaseAndSchema) {
  auto store = OpenStore(location_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->GetStats()->schema_version,
            pg() ? postgres::LatestSchemaVersion() : sqlite::LatestSchemaVersion());
  EXPECT_EQ(RawInt("SELECT count(*) FROM sqlite_master WHERE name IN ('organisations', 'users', 'api_keys')",
                   "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND "
                   "tablename IN ('organisations', 'users', 'api_keys')"),
            3);
}

TEST_P(AccountsConformance, ConcurrentAuthentication) {
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

TEST_P(AccountsConformance, SharingGroupsAndTheirMembers) {
  auto bsi = accounts_->CreateOrganisation("BSI", OrgKind::kLocal);
  auto anssi = accounts_->CreateOrganisation("ANSSI", OrgKind::kRemote);
  ASSERT_TRUE(bsi.ok() && anssi.ok());
  auto group = accounts_->CreateSharingGroup("Energy ISAC", "grid operators", "cert-eu");
  ASSERT_TRUE(group.ok()) << group.status();
  EXPECT_TRUE(group->id.starts_with(kSharingGroupIdPrefix));
  EXPECT_EQ(group->owner_org, org_.id);
  EXPECT_THAT(group->member_orgs, ElementsAre(org_.id));
  EXPECT_EQ(group->created, clock_.now);
  EXPECT_EQ(accounts_->CreateSharingGroup("energy isac", "", "BSI").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(accounts_->CreateSharingGroup("Other", "", "ENISA").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(accounts_->CreateSharingGroup("Other", std::string(2001, 'x'), "BSI").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(accounts_->CreateSharingGroup(std::string(kSharingGroupIdPrefix) + "x", "", "BSI").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto added = accounts_->AddSharingGroupMember("ENERGY ISAC", "BSI");
  ASSERT_TRUE(added.ok()) << added.status();
  auto again = accounts_->AddSharingGroupMember(group->id, bsi->id);  // idempotent
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(accounts_->AddSharingGroupMember(group->id, "ANSSI").ok());
  std::vector<std::string> members = {org_.id, bsi->id, anssi->id};
  std::sort(members.begin(), members.end());
  EXPECT_EQ(accounts_->GetSharingGroup("energy isac")->member_orgs, members);  // sorted by id
  EXPECT_EQ(accounts_->RemoveSharingGroupMember(group->id, "CERT-EU").status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto removed = accounts_->RemoveSharingGroupMember(group->id, "ANSSI");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->member_orgs.size(), 2u);
  ASSERT_TRUE(accounts_->CreateSharingGroup("automotive", "", "BSI").ok());
  ASSERT_TRUE(accounts_->CreateSharingGroup("Banking", "", "BSI").ok());
  auto list = accounts_->ListSharingGroups();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "automotive");  // by name, ignoring ASCII case
  EXPECT_EQ((*list)[1].name, "Banking");
  EXPECT_EQ((*list)[2].name, "Energy ISAC");
  EXPECT_EQ((*list)[2].member_orgs.size(), 2u);
  EXPECT_THAT((*list)[0].member_orgs, ElementsAre(bsi->id));
  EXPECT_EQ(accounts_->GetSharingGroup("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(AccountsConformance, CommunitiesAndTheirMembers) {
  auto bsi = accounts_->CreateOrganisation("BSI", OrgKind::kLocal);
  ASSERT_TRUE(bsi.ok());
  auto le = accounts_->CreateCommunity("le-24-7", "law enforcement");
  ASSERT_TRUE(le.ok()) << le.status();
  EXPECT_TRUE(le->member_orgs.empty());
  EXPECT_EQ(le->created, clock_.now);
  EXPECT_EQ(accounts_->CreateCommunity("le-24-7", "").status().code(), absl::StatusCode::kAlreadyExists);
  for (const char* bad : {"", "LE", "-x", "a b"}) {
    EXPECT_EQ(accounts_->CreateCommunity(bad, "").status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  ASSERT_TRUE(accounts_->CreateCommunity("csirts-network", "").ok());
  ASSERT_TRUE(accounts_->CreateCommunity("eu.nato", "").ok());
  ASSERT_TRUE(accounts_->AddCommunityMember("le-24-7", "bsi").ok());
  ASSERT_TRUE(accounts_->AddCommunityMember("le-24-7", org_.id).ok());
  auto again = accounts_->AddCommunityMember("le-24-7", "BSI");
  ASSERT_TRUE(again.ok()) << again.status();
  std::vector<std::string> members = {org_.id, bsi->id};
  std::sort(members.begin(), members.end());
  EXPECT_EQ(again->member_orgs, members);
  auto list = accounts_->ListCommunities();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "csirts-network");
  EXPECT_EQ((*list)[1].name, "eu.nato");
  EXPECT_EQ((*list)[2].name, "le-24-7");
  EXPECT_EQ((*list)[2].member_orgs, members);
  auto removed = accounts_->RemoveCommunityMember("le-24-7", "BSI");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_THAT(removed->member_orgs, ElementsAre(org_.id));
  EXPECT_EQ(accounts_->GetCommunity("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(accounts_->AddCommunityMember("le-24-7", "ENISA").status().code(), absl::StatusCode::kNotFound);
}

// SQLite's COLLATE NOCASE folds ASCII letters only; so do the PostgreSQL lookups, whatever the collation.
TEST_P(AccountsConformance, NamesIgnoreAsciiCaseOnly) {
  ASSERT_TRUE(accounts_->CreateOrganisation("\xc3\x89mile", OrgKind::kLocal).ok());  // "Émile"
  EXPECT_EQ(accounts_->GetOrganisation("\xc3\xa9mile").status().code(), absl::StatusCode::kNotFound);  // "émile"
  EXPECT_TRUE(accounts_->GetOrganisation("\xc3\x89MILE").ok());
  ASSERT_TRUE(accounts_->CreateOrganisation("zeta", OrgKind::kLocal).ok());
  ASSERT_TRUE(accounts_->CreateOrganisation("Alpha", OrgKind::kLocal).ok());
  auto list = accounts_->ListOrganisations();
  ASSERT_TRUE(list.ok());
  std::vector<std::string> names;
  for (const Organisation& o : *list) names.push_back(o.name);
  // ASCII-folded bytes: "alpha" < "cert-eu" < "zeta" < "\xc3\x89mile".
  EXPECT_THAT(names, ElementsAre("Alpha", "CERT-EU", "zeta", "\xc3\x89mile"));
}

// Several handles on one database (each with its own connections: several processes to the server) creating
// the same names at once: each name is created exactly once, every other attempt is AlreadyExists.
TEST_P(AccountsConformance, ConcurrentWritersFromSeveralHandlesCreateEachNameOnce) {
  constexpr int kHandles = 4;
  constexpr int kNames = 15;
  std::vector<std::unique_ptr<Accounts>> handles;
  for (int h = 0; h < kHandles; ++h) {
    handles.push_back(Open());
    ASSERT_NE(handles.back(), nullptr);
  }
  std::atomic<int> created{0};
  std::atomic<int> taken{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int h = 0; h < kHandles; ++h) {
    threads.emplace_back([&, h] {
      for (int n = 0; n < kNames; ++n) {
        // Differently cased spellings of one name from each handle.
        std::string name = fmt::format("org-{}", n);
        if (h % 2 == 1) name = fmt::format("ORG-{}", n);
        auto org = handles[static_cast<size_t>(h)]->CreateOrganisation(name, OrgKind::kLocal);
        if (org.ok()) {
          ++created;
        } else if (absl::IsAlreadyExists(org.status())) {
          ++taken;
        } else {
          ++other;
          ADD_FAILURE() << org.status();
        }
        auto user = handles[static_cast<size_t>(h)]->CreateUser(fmt::format("user-{}", n), "CERT-EU", Role::kAnalyst);
        if (!user.ok() && !absl::IsAlreadyExists(user.status())) ADD_FAILURE() << user.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), kNames);
  EXPECT_EQ(taken.load(), kNames * (kHandles - 1));
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(accounts_->ListOrganisations()->size(), static_cast<size_t>(kNames + 1));
  EXPECT_EQ(accounts_->ListUsers()->size(), static_cast<size_t>(kNames + 1));
  // And exactly one host, whoever asks first.
  std::vector<std::thread> hosts;
  std::atomic<int> hosted{0};
  for (int h = 0; h < kHandles; ++h) {
    hosts.emplace_back([&, h] {
      if (handles[static_cast<size_t>(h)]->EnsureHostOrganisation("NCSC-NL").ok()) ++hosted;
    });
  }
  for (auto& t : hosts) t.join();
  EXPECT_EQ(hosted.load(), kHandles);
  EXPECT_EQ(RawInt("SELECT count(*) FROM organisations WHERE host = 1", "SELECT count(*) FROM organisations WHERE host"),
            1);
}

// ---- PostgreSQL only ----------------------------------------------------------------------------------

class PostgresAccountsTest : public AccountsConformance {};
INSTANTIATE_TEST_SUITE_P(Postgres, PostgresAccountsTest, ::testing::Values(Backend::kPostgres), BackendName);

// A connection the server dropped fails the call that finds it (Unavailable) and is replaced for the next.
TEST_P(PostgresAccountsTest, DroppedConnectionIsReplaced) {
  IssuedKey issued = Issue();
  const std::string name = location_.substr(location_.rfind('/') + 1);
  EXPECT_EQ(testing::PgExec(location_, fmt::format("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                                                   "datname = '{}' AND pid <> pg_backend_pid()",
                                                   name)),
            "");
  // Until the terminated backend is gone (it exits when it next looks at its signals).
  const std::string others =
      fmt::format("SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()", name);
  for (int i = 0; i < 500 && testing::PgInt(location_, others) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto first = accounts_->GetUser("alice");
  if (!first.ok()) {
    EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable) << first.status();
  }
  auto second = accounts_->GetUser("alice");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->id, alice_.id);
  clock_.now = Plus(clock_.now, kKeyCacheTtlMillis);
  EXPECT_TRUE(Auth(issued.token).ok());
}

TEST_P(PostgresAccountsTest, ReadOnlyOpenerNeedsACurrentSchemaAndADatabase) {
  OpenOptions read_only;
  read_only.read_only = true;
  EXPECT_EQ(OpenAccounts(location_ + "_missing", read_only).status().code(), absl::StatusCode::kNotFound);
  const std::string empty = PostgresServer::Get().CreateDatabase();
  ASSERT_FALSE(empty.empty());
  EXPECT_EQ(OpenAccounts(empty, read_only).status().code(), absl::StatusCode::kFailedPrecondition);
  // A database at schema version 1 (the store's first migration only) is migrated by a read-write opener.
  ASSERT_EQ(testing::PgExec(empty, std::string(postgres::Migrations()[0].sql) +
                                       ";CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at bigint "
                                       "NOT NULL); INSERT INTO schema_migrations VALUES (1, 0)"),
            "");
  EXPECT_EQ(OpenAccounts(empty, read_only).status().code(), absl::StatusCode::kFailedPrecondition);
  auto accounts = OpenAccounts(empty);
  ASSERT_TRUE(accounts.ok()) << accounts.status();
  EXPECT_TRUE((*accounts)->CreateOrganisation("CERT-EU", OrgKind::kLocal).ok());
  EXPECT_EQ(testing::PgInt(empty, "SELECT max(version) FROM schema_migrations"), postgres::LatestSchemaVersion());
  accounts->reset();
  PostgresServer::Get().DropDatabase(empty);
}

}  // namespace
}  // namespace concord::store
