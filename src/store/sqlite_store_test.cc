// SQLite-only store behaviour; what every backend must do is in store_conformance_test.cc.
#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite/migrations.h"
#include "store/store.h"
#include "store/testing/objects.h"

namespace concord::store {
namespace {

using ::testing::HasSubstr;
using testing::Indicator;

constexpr char kId[] = "indicator--11111111-1111-4111-8111-111111111111";

class FixedClock final : public Clock {
 public:
  Timestamp Now() const override { return now; }
  Timestamp now = testing::Ts("2025-06-01T12:00:00.000Z");
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "store_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "concord.db").string();
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Reopen(OpenOptions options = {}) {
    store_.reset();
    options.clock = &clock_;
    auto opened = OpenStore("sqlite:" + path_, options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
  }

  std::vector<PutResult> MustPut(const std::vector<stix::Object>& batch) {
    auto results = store_->Put(batch);
    EXPECT_TRUE(results.ok()) << results.status();
    return results.ok() ? *results : std::vector<PutResult>{};
  }

  // Runs SQL on a second, raw connection (for fault injection and schema inspection).
  void RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
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
  std::unique_ptr<Store> store_;
};

TEST(PutOutcome, Names) {
  EXPECT_EQ(PutOutcomeName(PutOutcome::kNew), "new");
  EXPECT_EQ(PutOutcomeName(PutOutcome::kNewVersion), "new_version");
  EXPECT_EQ(PutOutcomeName(PutOutcome::kUnchanged), "unchanged");
  EXPECT_EQ(PutOutcomeName(PutOutcome::kConflict), "conflict");
  EXPECT_EQ(PutOutcomeName(PutOutcome::kRejected), "rejected");
}

TEST_F(SqliteStoreTest, ReadOnlyRefusesUnmigratedStore) {
  const std::string empty = (dir_ / "empty.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(empty.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE unrelated (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  OpenOptions options;
  options.read_only = true;
  auto opened = OpenStore(empty, options);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(opened.status().message(), HasSubstr(fmt::format("store schema version is 0, this binary needs {}", sqlite::LatestSchemaVersion())));
}

// Lean current-only listings keep the rows they read (sqlite/row_cache.h); what another opener of the file
// stores meanwhile is listed all the same, new versions in place of the ones read before.
TEST_F(SqliteStoreTest, ALeanListingSeesWhatAnotherOpenerStored) {
  MustPut({Indicator(kId, "2024-01-01T00:00:00.000Z"), Indicator("indicator--22222222-2222-4222-8222-222222222222", "2024-01-01T00:00:00.000Z")});
  Query q;
  q.types = {"indicator"};
  q.policy_and_json_only = true;
  auto listed = [&]() {
    std::string out;
    auto end = store_->ListEach(q, [&](const StoredView& v) {
      auto json = boost::json::parse(v.json);
      out += fmt::format("{}:{} ", v.seq, std::string_view(json.at("modified").as_string()));
      return true;
    });
    EXPECT_TRUE(end.ok()) << end.status();
    return out;
  };
  for (int round = 0; round < 3; ++round) {  // missed, missed and kept, found
    EXPECT_EQ(listed(), "1:2024-01-01T00:00:00.000Z 2:2024-01-01T00:00:00.000Z ");
  }
  auto stats = store_->GetStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->row_cache->rows, 2);
  EXPECT_EQ(stats->row_cache->hits, 2u);
  auto other = OpenStore("sqlite:" + path_);
  ASSERT_TRUE(other.ok()) << other.status();
  const std::vector<stix::Object> later = {Indicator(kId, "2024-02-01T00:00:00.000Z"),
                                           Indicator("indicator--33333333-3333-4333-8333-333333333333", "2024-01-01T00:00:00.000Z")};
  ASSERT_TRUE((*other)->Put(later).ok());
  EXPECT_EQ(listed(), "2:2024-01-01T00:00:00.000Z 3:2024-02-01T00:00:00.000Z 4:2024-01-01T00:00:00.000Z ");
}

// A page mostly kept reads the rows it lacks one by one (a mostly cold one joins the tables, as a listing without
// a cache does): the rows listed are the same either way, and an index entry whose version row is gone (a damaged
// file) fails the listing with the version named, rather than listing fewer rows than the index holds.
TEST_F(SqliteStoreTest, APageMostlyKeptReadsTheRestByVersionAndAMissingOneIsDataLoss) {
  std::vector<stix::Object> objects;
  for (int i = 1; i <= 8; ++i) {
    objects.push_back(Indicator(fmt::format("indicator--{:08x}-2222-4222-8222-222222222222", i), "2024-01-01T00:00:00.000Z"));
  }
  MustPut(objects);
  Query q;
  q.policy_and_json_only = true;
  auto seqs = [&]() {
    std::string out;
    auto end = store_->ListEach(q, [&](const StoredView& v) {
      out += fmt::format("{}{} ", v.seq, v.id.substr(11, 8) == fmt::format("{:08x}", v.seq) ? "" : "!");
      return true;
    });
    return end.ok() ? out : std::string(end.status().message());
  };
  EXPECT_EQ(seqs(), "1 2 3 4 5 6 7 8 ");  // missed once: remembered
  EXPECT_EQ(seqs(), "1 2 3 4 5 6 7 8 ");  // missed again: kept
  MustPut({Indicator("indicator--00000009-2222-4222-8222-222222222222", "2024-01-01T00:00:00.000Z"),
           Indicator("indicator--0000000a-2222-4222-8222-222222222222", "2024-01-01T00:00:00.000Z")});
  EXPECT_EQ(seqs(), "1 2 3 4 5 6 7 8 9 10 ");  // 8 kept, 2 read by seq
  RawExec("DELETE FROM versions WHERE seq = 10");
  EXPECT_EQ(seqs(), "store: object index names version 10, which is missing");
}

// --row-cache-mb 0: the lean listing reads the joined tables, nothing is kept, and the rows are the same.
TEST_F(SqliteStoreTest, WithoutARowCacheTheLeanListingJoinsAndKeepsNothing) {
  Reopen({.row_cache_bytes = 0});
  MustPut({Indicator(kId, "2024-01-01T00:00:00.000Z"), Indicator("indicator--22222222-2222-4222-8222-222222222222", "2024-01-01T00:00:00.000Z"),
           Indicator(kId, "2024-02-01T00:00:00.000Z")});
  Query q;
  q.limit = 1;
  q.policy_and_json_only = true;
  for (int round = 0; round < 3; ++round) {
    std::string out;
    auto end = store_->ListEach(q, [&](const StoredView& v) {
      auto json = boost::json::parse(v.json);
      out += fmt::format("{}:{}:{} ", v.seq, v.id, std::string_view(json.at("modified").as_string()));
      return true;
    });
    ASSERT_TRUE(end.ok()) << end.status();
    EXPECT_EQ(out, "2:indicator--22222222-2222-4222-8222-222222222222:2024-01-01T00:00:00.000Z ");
    EXPECT_EQ(end->next_after_seq, 2);
    EXPECT_TRUE(end->more);
  }
  auto stats = store_->GetStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_TRUE(stats->row_cache.has_value());
  EXPECT_EQ(stats->row_cache->capacity_bytes, 0);
  EXPECT_EQ(stats->row_cache->rows, 0);
  EXPECT_EQ(stats->row_cache->hits, 0u);
  EXPECT_EQ(stats->row_cache->misses, 0u);
}

TEST_F(SqliteStoreTest, StoreIsInWalMode) { EXPECT_EQ(RawInt("SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1); }

TEST(OpenStore, DispatchesOnLocation) {
  // postgresql:// goes to the PostgreSQL backend (nothing listens on port 1: Unavailable, not Unimplemented).
  auto pg = OpenStore("postgresql://concord@127.0.0.1:1/concord");
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kUnavailable) << pg.status();
  EXPECT_THAT(pg.status().message(), HasSubstr("opening store 'postgresql://concord@127.0.0.1:1/concord': postgresql: connecting"));
  // Components that only have a SQLite backend still refuse it.
  EXPECT_EQ(SqlitePathOf("postgresql://db.example/concord").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(OpenStore("mysql://db.example/concord").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("sqlite:").status().code(), absl::StatusCode::kInvalidArgument);
  auto memory = OpenStore("sqlite::memory:");
  ASSERT_TRUE(memory.ok()) << memory.status();
  auto put = (*memory)->Put(std::vector{Indicator(kId, "2024-01-02T00:00:00.000Z")});
  ASSERT_TRUE(put.ok());
  EXPECT_EQ((*put)[0].outcome, PutOutcome::kNew);
}

}  // namespace
}  // namespace concord::store
