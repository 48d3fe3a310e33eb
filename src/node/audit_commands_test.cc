#include "node/audit_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "boost/json/parse.hpp"
#include "fmt/format.h"
#include "node/cli.h"

namespace concord::node {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

struct Result {
  int code;
  std::string out;
  std::string err;
};

class AuditCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "audit_commands_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    db_ = (std::filesystem::path(dir_) / "concord.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Append(int n) {
    auto log = audit::OpenAuditLog(db_);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 1; i <= n; ++i) {
      audit::Event e{.action = i % 3 == 0 ? audit::Action::kWrite : audit::Action::kRead,
                     .user = i % 2 ? "alice" : "bob",
                     .org = "identity--aaaaaaaa-0000-4000-8000-000000000001",
                     .object_ids = {fmt::format("indicator--00000000-0000-4000-8000-{:012d}", i)}};
      ASSERT_TRUE((*log)->Append(std::move(e)).ok());
    }
  }
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(audit::AuditPathOf(db_)->c_str(), &db), SQLITE_OK);  // the audit log's own file
    const std::string all = "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete; " + sql;
    EXPECT_EQ(sqlite3_exec(db, all.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  Result Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"concord", "--db", db_});
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    const int code = RunCli(static_cast<int>(argv.size()), argv.data(), out, err);
    return {code, out.str(), err.str()};
  }

  std::string dir_;
  std::string db_;
};

TEST_F(AuditCommandsTest, VerifyIntactLogExitsZeroWithTheHead) {
  Append(4);
  Result r = Cli({"audit", "verify"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, MatchesRegex("audit log intact: 4 entries, head 4 [0-9a-f]{64}\n"));

  Result j = Cli({"--json", "audit", "verify"});
  ASSERT_EQ(j.code, 0);
  auto doc = boost::json::parse(j.out).as_object();
  EXPECT_TRUE(doc.at("intact").as_bool());
  EXPECT_EQ(doc.at("entries").as_int64(), 4);
  // The head anchors a later verification.
  const std::string anchor = fmt::format("4:{}", std::string_view(doc.at("head").at("hash").as_string()));
  EXPECT_EQ(Cli({"audit", "verify", "--anchor", anchor}).code, 0);
  Sql("DELETE FROM audit_log WHERE seq = 4");
  Result truncated = Cli({"audit", "verify", "--anchor", anchor});
  EXPECT_EQ(truncated.code, 1);
  EXPECT_THAT(truncated.out, HasSubstr("audit log broken at entry 4: removed"));
}

TEST_F(AuditCommandsTest, VerifyBrokenLogExitsOneNamingTheEntry) {
  Append(5);
  Sql("UPDATE audit_log SET user_name = 'mallory' WHERE seq = 2");
  Result r = Cli({"audit", "verify"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("audit log broken at entry 2: altered ("));

  Result j = Cli({"--json", "audit", "verify"});
  EXPECT_EQ(j.code, 1);
  auto doc = boost::json::parse(j.out).as_object();
  EXPECT_FALSE(doc.at("intact").as_bool());
  EXPECT_EQ(doc.at("bad_seq").as_int64(), 2);
  EXPECT_EQ(doc.at("problem").as_string(), "altered");
}

TEST_F(AuditCommandsTest, VerifyReportsARemovedEntry) {
  Append(5);
  Sql("DELETE FROM audit_log WHERE seq = 3");
  Result r = Cli({"audit", "verify"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "audit log broken at entry 3: removed (entry 3 is missing)\n");
}

TEST_F(AuditCommandsTest, VerifyWithoutADatabaseIsAUsageError) {
  Result r = Cli({"audit", "verify"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("does not exist"));
  Append(1);
  EXPECT_EQ(Cli({"audit", "verify", "--anchor", "x"}).code, 2);
}

TEST_F(AuditCommandsTest, ListFilters) {
  Append(6);
  Result all = Cli({"--json", "audit", "list"});
  ASSERT_EQ(all.code, 0) << all.err;
  EXPECT_EQ(std::count(all.out.begin(), all.out.end(), '\n'), 6);
  Result bob = Cli({"--json", "audit", "list", "--user", "bob", "--action", "read"});
  ASSERT_EQ(bob.code, 0);
  EXPECT_EQ(std::count(bob.out.begin(), bob.out.end(), '\n'), 2);  // 2 and 4 (6 is a write)
  Result one = Cli({"--json", "audit", "list", "--object", "indicator--00000000-0000-4000-8000-000000000005"});
  EXPECT_EQ(boost::json::parse(one.out).at("seq").as_int64(), 5);
  Result limited = Cli({"audit", "list", "--limit", "2"});
  EXPECT_EQ(std::count(limited.out.begin(), limited.out.end(), '\n'), 3);  // header + 2
  EXPECT_EQ(Cli({"audit", "list", "--action", "peek"}).code, 2);
  EXPECT_EQ(Cli({"audit", "list", "--since", "yesterday"}).code, 2);
}

}  // namespace
}  // namespace concord::node
