// StatusLog conformance: the TAXII status log (taxii/status_log.h) and the persistent cursor key on every
// backend — SQLite (the store's file) and PostgreSQL (the store's database on a real server started by
// scripts/pg-test; skipped when its binaries are absent).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "fmt/format.h"
#include "store/store.h"
#include "store/testing/postgres_server.h"
#include "taxii/status_log.h"

namespace concord::taxii {
namespace {

namespace fs = std::filesystem;
using store::testing::PostgresServer;

[[maybe_unused]] ::testing::Environment* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new store::testing::PostgresServerEnvironment);

class SteppedClock final : public Clock {
 public:
  explicit SteppedClock(int64_t seconds) : seconds_(seconds) {}
  Timestamp Now() const override { return Timestamp{.seconds = seconds_.load(), .nanos = 0}; }
  void Advance(std::chrono::seconds by) { seconds_ += by.count(); }

 private:
  std::atomic<int64_t> seconds_;
};

StatusResource Status(std::string id, int successes = 1) {
  StatusResource s;
  s.id = std::move(id);
  s.request_timestamp = Timestamp{.seconds = 1'700'000'000, .nanos = 123'456'000};
  for (int i = 0; i < successes; ++i) s.successes.push_back({.id = fmt::format("indicator--{}", i), .version = "v"});
  s.failures.push_back({.id = "malware--x", .version = "", .message = "rejected: type: no"});
  return s;
}

enum class Backend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// A fresh store location of the backend under test for each test: a path in a temporary directory, or a
// database of its own on the binary's PostgreSQL server.
class StatusLogConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (pg()) {
      PostgresServer& server = PostgresServer::Get();
      if (!server.available()) GTEST_SKIP() << server.skip_reason();
      db_ = server.CreateDatabase();
      ASSERT_FALSE(db_.empty());
      return;
    }
    std::string tmpl = (fs::path(::testing::TempDir()) / "status_log_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    db_ = (dir_ / "concord.db").string();
  }
  void TearDown() override {
    if (pg()) {
      PostgresServer::Get().DropDatabase(db_);
    } else if (!dir_.empty()) {
      fs::remove_all(dir_);
    }
  }
  bool pg() const { return GetParam() == Backend::kPostgres; }

  std::unique_ptr<StatusLog> Open(StatusRetention retention = {}, const Clock* clock = nullptr) {
    auto log = OpenStatusLog(db_, {.retention = retention, .clock = clock ? clock : &clock_});
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  // Whether `id` of `org` is there; fails the test on a read error.
  static bool Has(StatusLog& log, std::string_view id, std::string_view org) {
    auto got = log.Get(id, org);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() && got->has_value();
  }

  fs::path dir_;
  std::string db_;
  SteppedClock clock_{1'700'000'000};
};

INSTANTIATE_TEST_SUITE_P(Backends, StatusLogConformance, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         BackendName);

TEST_P(StatusLogConformance, ShowsAStatusToThePostingOrganisationOnly) {
  auto log = Open();
  const StatusResource s = Status("2d086da7-4bdc-4f91-900e-d77486753710", 2);
  ASSERT_TRUE(log->Put("identity--a", s).ok());
  auto mine = log->Get(s.id, "identity--a");
  ASSERT_TRUE(mine.ok()) << mine.status();
  ASSERT_TRUE(mine->has_value());
  EXPECT_EQ(RenderStatus(**mine), RenderStatus(s));
  EXPECT_EQ((*mine)->successes.size(), 2u);
  EXPECT_EQ((*mine)->failures.at(0).message, "rejected: type: no");
  EXPECT_FALSE(Has(*log, s.id, "identity--b"));
  EXPECT_FALSE(Has(*log, "00000000-0000-4000-8000-000000000000", "identity--a"));
}

TEST_P(StatusLogConformance, AnotherOpenerOfTheDatabaseSeesTheSameStatuses) {
  auto first = Open();
  ASSERT_TRUE(first->Put("identity--a", Status("s1")).ok());
  auto second = Open();
  EXPECT_TRUE(Has(*second, "s1", "identity--a"));
  ASSERT_TRUE(second->Put("identity--a", Status("s2")).ok());
  EXPECT_TRUE(Has(*first, "s2", "identity--a"));
  first.reset();
  auto reopened = Open();  // after a "restart"
  EXPECT_TRUE(Has(*reopened, "s1", "identity--a"));
}

TEST_P(StatusLogConformance, KeepsTheNewestN) {
  auto log = Open({.max_statuses = 2});
  ASSERT_TRUE(log->Put("identity--a", Status("s1")).ok());
  ASSERT_TRUE(log->Put("identity--b", Status("s2")).ok());
  EXPECT_TRUE(Has(*log, "s1", "identity--a"));
  ASSERT_TRUE(log->Put("identity--a", Status("s3")).ok());
  EXPECT_FALSE(Has(*log, "s1", "identity--a"));
  EXPECT_TRUE(Has(*log, "s2", "identity--b"));
  EXPECT_TRUE(Has(*log, "s3", "identity--a"));
  // Storing a status again makes it the newest.
  ASSERT_TRUE(log->Put("identity--b", Status("s2")).ok());
  ASSERT_TRUE(log->Put("identity--a", Status("s4")).ok());
  EXPECT_FALSE(Has(*log, "s3", "identity--a"));
  EXPECT_TRUE(Has(*log, "s2", "identity--b"));
  EXPECT_TRUE(Has(*log, "s4", "identity--a"));
}

TEST_P(StatusLogConformance, DropsStatusesOlderThanTheMaximumAge) {
  auto log = Open({.max_age = std::chrono::hours(24 * 7)});
  ASSERT_TRUE(log->Put("identity--a", Status("old")).ok());
  clock_.Advance(std::chrono::hours(24 * 7));
  EXPECT_TRUE(Has(*log, "old", "identity--a"));  // exactly 7 days: still kept
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_FALSE(Has(*log, "old", "identity--a"));  // hidden at once
  ASSERT_TRUE(log->Put("identity--a", Status("new")).ok());
  // ... and deleted by the next insert: a log whose clock is back at the start cannot see it either.
  SteppedClock past(1'700'000'000);
  auto back = Open({}, &past);
  EXPECT_FALSE(Has(*back, "old", "identity--a"));
  EXPECT_TRUE(Has(*back, "new", "identity--a"));
}

TEST_P(StatusLogConformance, RetentionOutOfRangeIsRefused) {
  auto none = OpenStatusLog(db_, {.retention = {.max_statuses = 0}});
  EXPECT_EQ(none.status().message(), "max_statuses: must be at least 1");
  auto instant = OpenStatusLog(db_, {.retention = {.max_age = std::chrono::seconds(0)}});
  EXPECT_EQ(instant.status().message(), "max_age: must be at least 1 second");
}

TEST_P(StatusLogConformance, TheCursorKeyIsMadeOnceAndKept) {
  {
    auto store = store::OpenStore(db_);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  auto key = LoadCursorKey(db_);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 32u);
  auto again = LoadCursorKey(pg() ? db_ : "sqlite:" + db_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *key);

  const std::string other_db = pg() ? PostgresServer::Get().CreateDatabase() : (dir_ / "other.db").string();
  ASSERT_FALSE(other_db.empty());
  ASSERT_TRUE(store::OpenStore(other_db).ok());
  auto other = LoadCursorKey(other_db);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *key);  // random per database (2^-256 to collide)
  if (pg()) PostgresServer::Get().DropDatabase(other_db);

  const std::string missing = pg() ? db_ + "_missing" : (dir_ / "missing.db").string();
  EXPECT_EQ(LoadCursorKey(missing).status().code(), absl::StatusCode::kNotFound);
}

// Puts from several handles (processes) at once: every status kept, retention exact at the end.
TEST_P(StatusLogConformance, SeveralHandlesPutAtOnce) {
  constexpr int kHandles = 3;
  constexpr int kEach = 20;
  std::vector<std::unique_ptr<StatusLog>> logs;
  for (int h = 0; h < kHandles; ++h) logs.push_back(Open({.max_statuses = 50}));
  std::vector<std::thread> threads;
  for (int h = 0; h < kHandles; ++h) {
    threads.emplace_back([&, h] {
      for (int i = 0; i < kEach; ++i) {
        EXPECT_TRUE(logs[static_cast<size_t>(h)]->Put("identity--a", Status(fmt::format("h{}-{}", h, i))).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  int kept = 0;
  for (int h = 0; h < kHandles; ++h) {
    for (int i = 0; i < kEach; ++i) kept += Has(*logs[0], fmt::format("h{}-{}", h, i), "identity--a") ? 1 : 0;
    // The newest of each handle is always among the 50 newest.
    EXPECT_TRUE(Has(*logs[0], fmt::format("h{}-{}", h, kEach - 1), "identity--a"));
  }
  EXPECT_EQ(kept, 50);
}

}  // namespace
}  // namespace concord::taxii
