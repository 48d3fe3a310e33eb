// The SQLite status log on a real database file, and the persistent cursor key.
#include "taxii/status_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "common/status.h"
#include "fmt/format.h"
#include "store/store.h"

namespace concord::taxii {
namespace {

namespace fs = std::filesystem;

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

class StatusLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("concord_taxii_status_{}_{}", ::getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "concord.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

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

TEST_F(StatusLogTest, ShowsAStatusToThePostingOrganisationOnly) {
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

TEST_F(StatusLogTest, AnotherOpenerOfTheDatabaseSeesTheSameStatuses) {
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

TEST_F(StatusLogTest, KeepsTheNewestN) {
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

TEST_F(StatusLogTest, DropsStatusesOlderThanTheMaximumAge) {
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

TEST_F(StatusLogTest, RetentionOutOfRangeIsRefused) {
  auto none = OpenStatusLog(db_, {.retention = {.max_statuses = 0}});
  EXPECT_EQ(none.status().message(), "max_statuses: must be at least 1");
  auto instant = OpenStatusLog(db_, {.retention = {.max_age = std::chrono::seconds(0)}});
  EXPECT_EQ(instant.status().message(), "max_age: must be at least 1 second");
}

TEST_F(StatusLogTest, TheCursorKeyIsMadeOnceAndKept) {
  {
    auto store = store::OpenStore(db_);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  auto key = LoadCursorKey(db_);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 32u);
  auto again = LoadCursorKey("sqlite:" + db_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *key);

  const std::string other_db = (dir_ / "other.db").string();
  ASSERT_TRUE(store::OpenStore(other_db).ok());
  auto other = LoadCursorKey(other_db);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *key);  // random per database (2^-256 to collide)

  EXPECT_EQ(LoadCursorKey((dir_ / "missing.db").string()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadCursorKey("postgresql://db/concord").status().code(), absl::StatusCode::kUnimplemented);
}

TEST(ParseStatus, RoundTripsWhatRenderStatusWrites) {
  StatusResource pending;
  pending.id = "p1";
  pending.complete = false;
  pending.pendings.push_back({.id = "indicator--1", .version = "2024-01-01T00:00:00.000Z"});
  pending.total_count = 10;
  auto parsed = ParseStatus(RenderStatus(pending));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(RenderStatus(*parsed), RenderStatus(pending));
  EXPECT_FALSE(parsed->complete);
  EXPECT_EQ(parsed->total_count, 10);
  EXPECT_EQ(parsed->request_timestamp, std::nullopt);

  const StatusResource full = Status("c1", 3);
  parsed = ParseStatus(RenderStatus(full));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(RenderStatus(*parsed), RenderStatus(full));
  EXPECT_EQ(parsed->total_count, std::nullopt);  // the sum, as RenderStatus computes it

  EXPECT_EQ(ParseStatus("[]").status().message(), "status: expected a JSON object");
  EXPECT_EQ(ParseStatus(R"({"id":"x","status":"done","total_count":0})").status().message(),
            "status: expected complete or pending");
  EXPECT_EQ(ParseStatus(R"({"id":"x","status":"complete","total_count":1,"successes":[{"id":"a"}]})").status().message(),
            "successes[0].version: expected a string");
}

}  // namespace
}  // namespace concord::taxii
