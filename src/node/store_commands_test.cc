// `concord store migrate`, in process (RunCli), against a real PostgreSQL server (scripts/pg-test): exit codes,
// the summary on standard output, progress and errors on standard error, and the migrated node read back by
// the other commands with --db postgresql://….
#include "node/store_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "boost/json/parse.hpp"
#include "fmt/format.h"
#include "node/cli.h"
#include "store/testing/postgres_server.h"

namespace concord::node {
namespace {

using store::testing::PgInt;
using store::testing::PostgresServer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

[[maybe_unused]] ::testing::Environment* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new store::testing::PostgresServerEnvironment);

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result Cli(std::vector<std::string> args) {
  args.insert(args.begin(), "concord");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  const int code = RunCli(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

class StoreMigrateCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "store_commands_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    db_ = (std::filesystem::path(dir_) / "concord.db").string();
  }
  void TearDown() override {
    if (!uri_.empty()) PostgresServer::Get().DropDatabase(uri_);
    std::filesystem::remove_all(dir_);
  }
  void NeedPostgres() {
    PostgresServer& server = PostgresServer::Get();
    if (!server.available()) GTEST_SKIP() << server.skip_reason();
    uri_ = server.CreateDatabase();
    ASSERT_FALSE(uri_.empty());
  }

  // A node made by the command line: 30 indicators, a host organisation, a user with a key (audited).
  void BuildNode() {
    std::string bundle = R"({"type":"bundle","id":"bundle--6f1d3f52-4f2e-4c8c-9a53-2d0f1e2a3b4c","objects":[)";
    for (int i = 0; i < 30; ++i) {
      bundle += fmt::format(
          R"({}{{"type":"indicator","spec_version":"2.1","id":"indicator--{:08x}-0000-4000-8000-000000000000",)"
          R"("created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern_type":"stix",)"
          R"("pattern":"[ipv4-addr:value = '198.51.100.{}']","valid_from":"2024-01-01T00:00:00Z"}})",
          i == 0 ? "" : ",", i + 1, i);
    }
    bundle += "]}";
    const std::string file = (std::filesystem::path(dir_) / "bundle.json").string();
    std::ofstream(file) << bundle;
    Result r = Cli({"--db", db_, "import", "-q", file});  // audit entry 1: the write of the 30 indicators
    ASSERT_EQ(r.code, 0) << r.err;
    r = Cli({"--db", db_, "org", "add", "CERT-Test", "--host"});
    ASSERT_EQ(r.code, 0) << r.err;
    r = Cli({"--db", db_, "user", "add", "alice", "--org", "CERT-Test", "--role", "admin"});
    ASSERT_EQ(r.code, 0) << r.err;
  }

  std::string dir_;
  std::string db_;
  std::string uri_;
};

TEST_F(StoreMigrateCliTest, HelpNamesTheOptions) {
  Result r = Cli({"store", "migrate", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("--from"));
  EXPECT_THAT(r.out, HasSubstr("--to"));
  EXPECT_THAT(r.out, HasSubstr("Stop the node first"));
  r = Cli({"store", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("migrate"));
}

TEST_F(StoreMigrateCliTest, MigratesAndTheOtherCommandsReadTheResult) {
  ASSERT_NO_FATAL_FAILURE(NeedPostgres());
  ASSERT_NO_FATAL_FAILURE(BuildNode());
  Result before = Cli({"--db", db_, "audit", "verify"});
  ASSERT_EQ(before.code, 0) << before.err;

  Result r = Cli({"store", "migrate", "--from", "sqlite:" + db_, "--to", uri_});
  ASSERT_EQ(r.code, 0) << r.err;
  // One summary line on standard output; progress, one line per table, on standard error.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_THAT(r.out, StartsWith(fmt::format("migrated {} to {} in ", db_, uri_)));
  EXPECT_THAT(r.out, HasSubstr("objects 30, versions 30, type_counts 1, postings 30, taxii_statuses 0, audit_log 4, "
                               "audit_objects 30; last seq 30;"));
  EXPECT_THAT(r.out, HasSubstr("organisations 1, users 1, api_keys 1,"));
  EXPECT_THAT(r.out, HasSubstr("audit log intact: 4 entries, head 4 "));
  EXPECT_THAT(r.err, HasSubstr("versions: 30 rows copied in "));
  EXPECT_THAT(r.err, HasSubstr("audit_log: 4 rows copied in "));
  EXPECT_THAT(r.err, HasSubstr("indexes: rebuilding "));

  // The same chain, the same head, read by `audit verify` on the target.
  Result verified = Cli({"--db", uri_, "audit", "verify"});
  EXPECT_EQ(verified.code, 0) << verified.err;
  EXPECT_EQ(verified.out, before.out);
  Result stats_before = Cli({"--db", db_, "--json", "stats"});
  Result stats_after = Cli({"--db", uri_, "--json", "stats"});
  ASSERT_EQ(stats_after.code, 0) << stats_after.err;
  EXPECT_EQ(boost::json::parse(stats_after.out).at("objects"), boost::json::parse(stats_before.out).at("objects"));
  EXPECT_EQ(boost::json::parse(stats_after.out).at("by_type"), boost::json::parse(stats_before.out).at("by_type"));
  EXPECT_EQ(boost::json::parse(stats_after.out).at("last_seq").as_int64(), 30);
  Result users = Cli({"--db", uri_, "user", "list"});
  EXPECT_EQ(users.code, 0) << users.err;
  EXPECT_THAT(users.out, HasSubstr("alice"));

  // Into the same database again: refused, nothing changed.
  r = Cli({"store", "migrate", "--from", db_, "--to", uri_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, StartsWith("concord: migrate: "));
  EXPECT_THAT(r.err, HasSubstr("the target database is not empty (table organisations has rows)"));
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(PgInt(uri_, "SELECT count(*) FROM versions"), 30);
}

TEST_F(StoreMigrateCliTest, JsonSummary) {
  ASSERT_NO_FATAL_FAILURE(NeedPostgres());
  ASSERT_NO_FATAL_FAILURE(BuildNode());
  Result r = Cli({"--json", "store", "migrate", "-q", "--from", db_, "--to", uri_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // --quiet: no progress
  const boost::json::value doc = boost::json::parse(r.out);
  EXPECT_EQ(std::string_view(doc.at("from").as_string()), db_);
  EXPECT_EQ(std::string_view(doc.at("to").as_string()), uri_);
  EXPECT_EQ(doc.at("last_seq").as_int64(), 30);
  const auto& tables = doc.at("tables").as_object();
  EXPECT_EQ(tables.size(), 14u);
  EXPECT_EQ(tables.at("versions").as_int64(), 30);
  EXPECT_EQ(tables.at("objects").as_int64(), 30);
  EXPECT_EQ(tables.at("api_keys").as_int64(), 1);
  EXPECT_EQ(tables.at("audit_log").as_int64(), 4);
  EXPECT_EQ(doc.at("audit").at("entries").as_int64(), 4);
  EXPECT_EQ(doc.at("audit").at("intact").as_bool(), true);
  EXPECT_EQ(doc.at("audit").at("head").at("seq").as_int64(), 4);
  EXPECT_GE(doc.at("seconds").as_double(), 0.0);
}

TEST_F(StoreMigrateCliTest, OtherDirectionsAreNotSupported) {
  Result r = Cli({"store", "migrate", "--from", "postgresql://x@127.0.0.1:1/db", "--to", "sqlite:" + db_});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            fmt::format("concord: migrate: from 'postgresql://x@127.0.0.1:1/db' to 'sqlite:{}' is not supported: "
                        "only --from sqlite:PATH (or a path) --to postgresql://… is\n",
                        db_));
  r = Cli({"store", "migrate", "--from", db_, "--to", (std::filesystem::path(dir_) / "other.db").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("is not supported"));
  r = Cli({"store", "migrate", "--from", db_});
  EXPECT_EQ(r.code, 2);  // usage: --to is required
}

TEST_F(StoreMigrateCliTest, MissingSourceFails) {
  ASSERT_NO_FATAL_FAILURE(NeedPostgres());
  Result r = Cli({"store", "migrate", "--from", db_, "--to", uri_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, StartsWith("concord: migrate: "));
  EXPECT_THAT(r.err, HasSubstr(fmt::format("store '{}' does not exist", db_)));
}

TEST_F(StoreMigrateCliTest, BrokenSourceChainIsRefusedUnlessAccepted) {
  ASSERT_NO_FATAL_FAILURE(NeedPostgres());
  ASSERT_NO_FATAL_FAILURE(BuildNode());
  // Alter entry 2 behind the log's back (the triggers only stop accidents).
  const std::string audit_db = (std::filesystem::path(dir_) / "concord.audit.db").string();
  const std::string sql = "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET outcome = 'tampered' WHERE seq = 2;";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(audit_db.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  Result r = Cli({"store", "migrate", "--from", db_, "--to", uri_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("concord: migrate: the source's audit log is broken at entry 2: altered"));
  EXPECT_EQ(PgInt(uri_, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);  // untouched
  r = Cli({"store", "migrate", "--accept-broken-audit-log", "--from", db_, "--to", uri_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("warning: the source's audit log is broken at entry 2: altered"));
  EXPECT_THAT(r.out, HasSubstr("audit log BROKEN (as in the source)"));
  Result verified = Cli({"--db", uri_, "audit", "verify"});
  EXPECT_EQ(verified.code, 1);
  EXPECT_THAT(verified.out, StartsWith("audit log broken at entry 2: altered"));
}

}  // namespace
}  // namespace concord::node
