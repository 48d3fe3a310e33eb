#include "node/account_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <string>

#include "audit/audit.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"
#include "store/accounts.h"

namespace concord::node {
namespace {

using ::testing::HasSubstr;

class FixedClock final : public Clock {
 public:
  Timestamp Now() const override { return now; }
  Timestamp now = ParseRfc3339("2025-06-01T12:00:00.000Z").value();
};

struct Result {
  int code;
  std::string out;
  std::string err;
};

const std::regex kToken("concord_[0-9a-f]{16}_[a-z2-7]{52}\n");

class AccountCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "account_commands_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    db_ = (dir_ / "var" / "concord.db").string();  // the directory is created on first write
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  template <typename Fn>
  Result Capture(Fn fn) {
    std::ostringstream out, err;
    const int code = fn(out, err);
    return {code, out.str(), err.str()};
  }
  Result OrgAdd(const OrgAddArgs& a, bool json = false) {
    return Capture([&](auto& out, auto& err) { return RunOrgAdd(db_, a, json, out, err, clock_); });
  }
  Result OrgList(bool json = false) {
    return Capture([&](auto& out, auto& err) { return RunOrgList(db_, json, out, err, clock_); });
  }
  Result UserAdd(const UserAddArgs& a, bool json = false) {
    return Capture([&](auto& out, auto& err) { return RunUserAdd(db_, a, json, out, err, clock_); });
  }
  Result UserList(const UserListArgs& a, bool json = false) {
    return Capture([&](auto& out, auto& err) { return RunUserList(db_, a, json, out, err, clock_); });
  }
  Result UserKey(const UserKeyArgs& a, bool json = false) {
    return Capture([&](auto& out, auto& err) { return RunUserKey(db_, a, json, out, err, clock_); });
  }

  std::unique_ptr<store::Accounts> Accounts() {
    store::OpenOptions options;
    options.clock = &clock_;
    return store::OpenAccounts(db_, options).value();
  }
  static std::string KeyIdOf(const std::string& token_line) { return token_line.substr(8, 16); }
  std::string AddCertEu() {
    Result r = OrgAdd({.name = "CERT-EU"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out.substr(0, r.out.size() - 1);
  }

  FixedClock clock_;
  std::filesystem::path dir_;
  std::string db_;
};

TEST_F(AccountCommandsTest, OrgAddPrintsTheIdAlone) {
  Result r = OrgAdd({.name = "CERT-EU"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::regex_match(r.out, std::regex("identity--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                                 "[0-9a-f]{12}\n")))
      << r.out;
  EXPECT_EQ(r.err, "organisation 'CERT-EU' added (local)\n");
  Result dup = OrgAdd({.name = "cert-eu", .remote = true});
  EXPECT_EQ(dup.code, 1);
  EXPECT_EQ(dup.out, "");
  EXPECT_EQ(dup.err, "concord: organisation 'CERT-EU' already exists\n");
  Result bad = OrgAdd({.name = ""});
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.err, "concord: name: must be 1 to 200 bytes long\n");
}

TEST_F(AccountCommandsTest, OrgList) {
  const std::string cert_eu = AddCertEu();
  Result remote = OrgAdd({.name = "BSI", .remote = true}, /*json=*/true);
  ASSERT_EQ(remote.code, 0);
  const auto bsi = boost::json::parse(remote.out).as_object();
  EXPECT_EQ(bsi.at("kind"), "remote");
  EXPECT_EQ(bsi.at("host"), false);
  EXPECT_EQ(bsi.at("created"), "2025-06-01T12:00:00.000Z");
  const std::string bsi_id(bsi.at("id").as_string());
  Result list = OrgList();
  EXPECT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(list.out, fmt::format("{:<46} kind   host created              name\n"
                                  "{} remote      2025-06-01T12:00:00Z BSI\n"
                                  "{} local       2025-06-01T12:00:00Z CERT-EU\n",
                                  "id", bsi_id, cert_eu));
  Result json = OrgList(/*json=*/true);
  const auto array = boost::json::parse(json.out).as_array();
  ASSERT_EQ(array.size(), 2u);
  EXPECT_EQ(array[1].at("id").as_string(), cert_eu);
  EXPECT_EQ(array[1].at("name"), "CERT-EU");
}

TEST_F(AccountCommandsTest, ListsNeedAnExistingDatabase) {
  Result r = OrgList();
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("does not exist"));
  EXPECT_FALSE(std::filesystem::exists(db_));
}

TEST_F(AccountCommandsTest, UserAddPrintsOnlyTheToken) {
  const std::string cert_eu = AddCertEu();
  Result r = UserAdd({.name = "alice", .org = cert_eu, .role = "analyst"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::regex_match(r.out, kToken)) << r.out;
  EXPECT_EQ(r.err, fmt::format("API key {} for user 'alice' (CERT-EU): this is the only time it is shown; store it "
                               "now\n",
                               KeyIdOf(r.out)));
  auto principal = Accounts()->AuthenticateHeader("Bearer " + r.out.substr(0, r.out.size() - 1), "192.0.2.1");
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->user.name, "alice");
  EXPECT_EQ(principal->org.id, cert_eu);
  EXPECT_EQ(principal->role, store::Role::kAnalyst);
  EXPECT_FALSE(principal->read_only);
}

TEST_F(AccountCommandsTest, UserAddKeyOptions) {
  AddCertEu();
  Result r = UserAdd({.name = "bob",
                      .org = "CERT-EU",
                      .role = "sync",
                      .key = {.expires = "90d", .cidrs = {"192.0.2.9/24", "2001:db8::/32"}, .read_only = true}});
  ASSERT_EQ(r.code, 0) << r.err;
  auto keys = Accounts()->ListKeys("bob");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  const store::ApiKey& key = (*keys)[0];
  EXPECT_EQ(key.key_id, KeyIdOf(r.out));
  EXPECT_EQ(key.expires, ParseRfc3339("2025-08-30T12:00:00.000Z").value());
  EXPECT_THAT(key.allowed_cidrs, ::testing::ElementsAre("192.0.2.0/24", "2001:db8::/32"));
  EXPECT_TRUE(key.read_only);
}

TEST_F(AccountCommandsTest, UserAddJson) {
  AddCertEu();
  Result r = UserAdd({.name = "alice", .org = "CERT-EU", .role = "duty-officer"}, /*json=*/true);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = boost::json::parse(r.out).as_object();
  EXPECT_TRUE(std::regex_match(std::string(doc.at("token").as_string()) + "\n", kToken));
  EXPECT_EQ(doc.at("user").at("name"), "alice");
  EXPECT_EQ(doc.at("user").at("role"), "duty-officer");
  EXPECT_EQ(doc.at("user").at("org"), "CERT-EU");
  EXPECT_EQ(doc.at("key").at("status"), "active");
  EXPECT_EQ(doc.at("key").at("expires"), nullptr);
  EXPECT_EQ(std::string(doc.at("key").at("key_id").as_string()), std::string(doc.at("token").as_string()).substr(8, 16));
}

TEST_F(AccountCommandsTest, UserAddErrorsCreateNothing) {
  AddCertEu();
  Result no_org = UserAdd({.name = "alice", .org = "ENISA", .role = "analyst"});
  EXPECT_EQ(no_org.code, 1);
  EXPECT_EQ(no_org.out, "");
  EXPECT_EQ(no_org.err, "concord: --org (add it first with 'concord org add NAME'): organisation 'ENISA' not found\n");
  Result role = UserAdd({.name = "alice", .org = "CERT-EU", .role = "root"});
  EXPECT_EQ(role.code, 2);
  EXPECT_EQ(role.err, "concord: --role root: expected admin, org-admin, analyst, duty-officer, read-only or sync\n");
  Result cidr = UserAdd({.name = "alice", .org = "CERT-EU", .role = "analyst", .key = {.cidrs = {"10.0.0.0/33"}}});
  EXPECT_EQ(cidr.code, 2);
  EXPECT_EQ(cidr.err, "concord: --cidr '10.0.0.0/33': prefix length must be a number from 0 to 32\n");
  Result expires = UserAdd({.name = "alice", .org = "CERT-EU", .role = "analyst", .key = {.expires = "soon"}});
  EXPECT_EQ(expires.code, 2);
  EXPECT_THAT(expires.err, HasSubstr("--expires soon: expected an RFC 3339 time"));
  Result past = UserAdd(
      {.name = "alice", .org = "CERT-EU", .role = "analyst", .key = {.expires = "2020-01-01T00:00:00Z"}});
  EXPECT_EQ(past.code, 2);
  EXPECT_EQ(past.err, "concord: --expires 2020-01-01T00:00:00Z: lies in the past\n");
  EXPECT_EQ(Accounts()->ListUsers()->size(), 0u);
  ASSERT_EQ(UserAdd({.name = "alice", .org = "CERT-EU", .role = "analyst"}).code, 0);
  Result dup = UserAdd({.name = "alice", .org = "CERT-EU", .role = "analyst"});
  EXPECT_EQ(dup.code, 1);
  EXPECT_EQ(dup.err, "concord: user 'alice' already exists\n");
}

TEST_F(AccountCommandsTest, UserList) {
  AddCertEu();
  ASSERT_EQ(OrgAdd({.name = "BSI"}).code, 0);
  ASSERT_EQ(UserAdd({.name = "zoe", .org = "BSI", .role = "admin"}).code, 0);
  ASSERT_EQ(UserAdd({.name = "alice", .org = "CERT-EU", .role = "analyst"}).code, 0);
  ASSERT_TRUE(Accounts()->DisableUser("zoe").ok());
  Result all = UserList({});
  EXPECT_EQ(all.code, 0) << all.err;
  EXPECT_EQ(all.out,
            "name                     role         status   created              organisation\n"
            "alice                    analyst      active   2025-06-01T12:00:00Z CERT-EU\n"
            "zoe                      admin        disabled 2025-06-01T12:00:00Z BSI\n");
  Result bsi = UserList({.org = "BSI"}, /*json=*/true);
  EXPECT_EQ(bsi.code, 0) << bsi.err;
  const auto array = boost::json::parse(bsi.out).as_array();
  ASSERT_EQ(array.size(), 1u);
  EXPECT_EQ(array[0].at("name"), "zoe");
  EXPECT_EQ(array[0].at("disabled"), true);
  Result unknown = UserList({.org = "ENISA"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_EQ(unknown.err, "concord: organisation 'ENISA' not found\n");
}

TEST_F(AccountCommandsTest, UserKeyIssuesListsAndRevokes) {
  AddCertEu();
  Result first = UserAdd({.name = "alice", .org = "CERT-EU", .role = "analyst"});
  ASSERT_EQ(first.code, 0);
  clock_.now = ParseRfc3339("2025-06-02T08:00:00.000Z").value();
  Result second = UserKey({.name = "alice", .key = {.expires = "2026-01-01T00:00:00Z", .cidrs = {"10.0.0.0/8"},
                                                     .read_only = true}});
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_TRUE(std::regex_match(second.out, kToken)) << second.out;
  EXPECT_THAT(second.err, HasSubstr("this is the only time it is shown"));
  const std::string a = KeyIdOf(first.out);
  const std::string b = KeyIdOf(second.out);

  Result revoke = UserKey({.name = "alice", .revoke = a});
  EXPECT_EQ(revoke.code, 0) << revoke.err;
  EXPECT_EQ(revoke.out, "revoked " + a + "\n");
  auto refused = Accounts()->AuthenticateHeader("Bearer " + first.out.substr(0, first.out.size() - 1), "::1");
  EXPECT_EQ(refused.status().message(), "API key revoked");

  Result list = UserKey({.name = "alice", .list = true});
  EXPECT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(list.out, fmt::format("key_id           status  created              expires              last_used    "
                                  "        access     allowed_cidrs\n"
                                  "{} revoked 2025-06-01T12:00:00Z never                never                "
                                  "read-write any\n"
                                  "{} active  2025-06-02T08:00:00Z 2026-01-01T00:00:00Z never                "
                                  "read-only  10.0.0.0/8\n",
                                  a, b));
  Result json = UserKey({.name = "alice", .list = true}, /*json=*/true);
  const auto keys = boost::json::parse(json.out).as_array();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].at("status"), "revoked");
  EXPECT_EQ(keys[1].at("allowed_cidrs").as_array().size(), 1u);
}

TEST_F(AccountCommandsTest, UserKeyErrors) {
  AddCertEu();
  ASSERT_EQ(UserAdd({.name = "alice", .org = "CERT-EU", .role = "analyst"}).code, 0);
  Result bob = UserAdd({.name = "bob", .org = "CERT-EU", .role = "analyst"});
  ASSERT_EQ(bob.code, 0);
  Result foreign = UserKey({.name = "alice", .revoke = KeyIdOf(bob.out)});
  EXPECT_EQ(foreign.code, 1);
  EXPECT_EQ(foreign.err, fmt::format("concord: user 'alice' has no key '{}'\n", KeyIdOf(bob.out)));
  Result both = UserKey({.name = "alice", .revoke = KeyIdOf(bob.out), .list = true});
  EXPECT_EQ(both.code, 2);
  EXPECT_EQ(both.err, "concord: --list and --revoke cannot be used together\n");
  Result options = UserKey({.name = "alice", .key = {.cidrs = {"10.0.0.0/8"}}, .list = true});
  EXPECT_EQ(options.code, 2);
  Result nobody = UserKey({.name = "nobody"});
  EXPECT_EQ(nobody.code, 1);
  EXPECT_EQ(nobody.err, "concord: user 'nobody' not found\n");
  ASSERT_TRUE(Accounts()->DisableUser("alice").ok());
  Result disabled = UserKey({.name = "alice"});
  EXPECT_EQ(disabled.code, 1);
  EXPECT_EQ(disabled.out, "");
  EXPECT_EQ(disabled.err, "concord: user 'alice' is disabled\n");
}

// ---- audit ---------------------------------------------------------------------------------------------

// Who the entries must name: the login name of the effective uid, looked up here independently of CliUser().
std::string ExpectedCliUser() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr ? std::string("cli:") + pw->pw_name : fmt::format("cli:uid:{}", ::geteuid());
}

class AccountAuditTest : public AccountCommandsTest {
 protected:
  std::vector<audit::Entry> Entries() {
    auto log = audit::OpenAuditLog(db_, {.read_only = true});
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return {};
    auto page = (*log)->List({.limit = 1000});
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->entries : std::vector<audit::Entry>{};
  }
  // A fault the audit log cannot get past, while the accounts tables stay writable: the disk is full for it.
  void BlockAuditAppends() {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(audit::AuditPathOf(db_)->c_str(), &db), SQLITE_OK);  // the audit log's own file
    sqlite3_busy_timeout(db, 10000);
    char* error = nullptr;
    const int rc = sqlite3_exec(
        db, "CREATE TRIGGER test_audit_full BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END",
        nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }
  // The stored detail comes back with its members sorted: compare canonical forms (RFC 8785).
  static std::string Detail(const audit::Entry& e) { return CanonicalJson(e.event.detail); }
};

TEST_F(AccountAuditTest, AdministrativeCommandsAreAuditedAsTheOsUser) {
  const std::string cert_eu = AddCertEu();
  Result host = OrgAdd({.name = "CERT-XX", .host = true});
  ASSERT_EQ(host.code, 0) << host.err;
  Result first = UserAdd({.name = "alice", .org = "CERT-EU", .role = "analyst", .key = {.cidrs = {"10.0.0.0/8"}}});
  ASSERT_EQ(first.code, 0) << first.err;
  Result second = UserKey({.name = "alice", .key = {.expires = "90d", .read_only = true}});
  ASSERT_EQ(second.code, 0) << second.err;
  const std::string a = KeyIdOf(first.out);
  const std::string b = KeyIdOf(second.out);
  ASSERT_EQ(UserKey({.name = "alice", .revoke = a}).code, 0);
  ASSERT_EQ(UserKey({.name = "alice", .revoke = a}).code, 0);  // already revoked: nothing changes
  ASSERT_EQ(UserKey({.name = "alice", .list = true}).code, 0);  // a read
  ASSERT_EQ(OrgList().code, 0);
  ASSERT_EQ(UserAdd({.name = "alice", .org = "CERT-EU", .role = "analyst"}).code, 1);  // taken: recorded as failed

  const std::vector<audit::Entry> entries = Entries();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"ok", R"({"op":"org.create","name":"CERT-EU","kind":"local","command":"org add"})"},
      {"ok", R"({"op":"org.host","name":"CERT-XX","kind":"local","command":"org add"})"},
      {"ok", fmt::format(R"({{"op":"user.create","user":"alice","org":"{}","role":"analyst","command":"user add"}})", cert_eu)},
      {"ok", fmt::format(R"({{"op":"key.issue","user":"alice","org":"{}","key_id":"{}","expires":null,)"
                         R"("allowed_cidrs":["10.0.0.0/8"],"read_only":false,"command":"user add"}})",
                         cert_eu, a)},
      {"ok", fmt::format(R"({{"op":"key.issue","user":"alice","org":"{}","key_id":"{}","expires":"2025-08-30T12:00:00.000Z",)"
                         R"("allowed_cidrs":[],"read_only":true,"command":"user key"}})",
                         cert_eu, b)},
      {"ok", fmt::format(R"({{"op":"key.revoke","user":"alice","org":"{}","key_id":"{}","command":"user key --revoke"}})",
                         cert_eu, a)},
      {"ok", fmt::format(R"({{"op":"user.create","user":"alice","org":"{}","role":"analyst","command":"user add"}})", cert_eu)},
      {"failed", fmt::format(R"({{"op":"user.create","user":"alice","org":"{}","role":"analyst","command":"user add",)"
                             R"("error":"user 'alice' already exists"}})",
                             cert_eu)},
  };
  ASSERT_EQ(entries.size(), expected.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    SCOPED_TRACE(i);
    const audit::Event& e = entries[i].event;
    EXPECT_EQ(e.action, audit::Action::kAdmin);
    EXPECT_EQ(e.outcome, expected[i].first);
    EXPECT_EQ(Detail(entries[i]), CanonicalJson(boost::json::parse(expected[i].second)));
    EXPECT_EQ(e.user, ExpectedCliUser());
    EXPECT_EQ(e.remote_address, "local");
    EXPECT_EQ(e.org, "");
    EXPECT_EQ(e.key_id, "");
    EXPECT_EQ(e.object_ids, std::vector<std::string>{});
    EXPECT_EQ(entries[i].time_micros, clock_.now.UnixMicros());
    for (const Result* issued : {&first, &second}) {
      EXPECT_EQ(audit::CanonicalEntry(entries[i]).find(issued->out.substr(25, 52)), std::string::npos);
    }
  }
  auto log = audit::OpenAuditLog(db_, {.read_only = true});
  ASSERT_TRUE(log.ok());
  auto verified = (*log)->Verify();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->intact);
  EXPECT_EQ(verified->entries, 8);
}

TEST_F(AccountAuditTest, NothingIsDoneWhenTheEntryCannotBeWritten) {
  AddCertEu();
  Result alice = UserAdd({.name = "alice", .org = "CERT-EU", .role = "analyst"});
  ASSERT_EQ(alice.code, 0);
  const std::string first_key = KeyIdOf(alice.out);
  BlockAuditAppends();

  Result org = OrgAdd({.name = "BSI"});
  EXPECT_EQ(org.code, 1);
  EXPECT_EQ(org.out, "");
  EXPECT_THAT(org.err, HasSubstr("concord: the audit log cannot record this: "));
  EXPECT_EQ(Accounts()->GetOrganisation("BSI").status().code(), absl::StatusCode::kNotFound);

  Result user = UserAdd({.name = "bob", .org = "CERT-EU", .role = "analyst"});
  EXPECT_EQ(user.code, 1);
  EXPECT_EQ(user.out, "");
  EXPECT_EQ(Accounts()->GetUser("bob").status().code(), absl::StatusCode::kNotFound);

  // A key's entry comes after the key (it names it): the key is revoked and its token never printed.
  Result key = UserKey({.name = "alice"});
  EXPECT_EQ(key.code, 1);
  EXPECT_EQ(key.out, "");
  EXPECT_THAT(key.err, HasSubstr("was revoked unseen: the audit log cannot record this: "));
  auto keys = Accounts()->ListKeys("alice");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  for (const store::ApiKey& k : *keys) EXPECT_EQ(k.revoked.has_value(), k.key_id != first_key) << k.key_id;

  Result revoke = UserKey({.name = "alice", .revoke = first_key});
  EXPECT_EQ(revoke.code, 1);
  const std::vector<store::ApiKey> after = Accounts()->ListKeys("alice").value();
  for (const store::ApiKey& k : after) {
    if (k.key_id == first_key) {
      EXPECT_FALSE(k.revoked.has_value());
    }
  }
  EXPECT_EQ(Entries().size(), 3u);  // org add, user add and its key, from before the fault
}

TEST(ParseExpiry, DurationsAndInstants) {
  const Timestamp now = ParseRfc3339("2025-06-01T12:00:00.000Z").value();
  EXPECT_EQ(FormatRfc3339(ParseExpiry("90d", now).value()), "2025-08-30T12:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(ParseExpiry("2w", now).value()), "2025-06-15T12:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(ParseExpiry("12h", now).value()), "2025-06-02T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(ParseExpiry("30m", now).value()), "2025-06-01T12:30:00.000Z");
  EXPECT_EQ(FormatRfc3339(ParseExpiry("45s", now).value()), "2025-06-01T12:00:45.000Z");
  EXPECT_EQ(ParseExpiry("2026-01-01T00:00:00Z", now).value(), ParseRfc3339("2026-01-01T00:00:00Z").value());
  for (const char* bad : {"", "d", "0d", "90", "9x", "-1d", "1.5d", "1000000000d", "2026-13-01T00:00:00Z"}) {
    EXPECT_EQ(ParseExpiry(bad, now).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace concord::node
