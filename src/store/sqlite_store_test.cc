#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "boost/json/serialize.hpp"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite/migrations.h"
#include "store/store.h"
#include "store/testing/objects.h"

namespace concord::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::DomainName;
using testing::Indicator;
using testing::Ts;

constexpr char kId[] = "indicator--11111111-1111-4111-8111-111111111111";
constexpr char kOtherId[] = "indicator--22222222-2222-4222-8222-222222222222";
constexpr char kDomainId[] = "domain-name--33333333-3333-4333-8333-333333333333";

class FixedClock final : public Clock {
 public:
  Timestamp Now() const override { return now; }
  Timestamp now = Ts("2025-06-01T12:00:00.000Z");
};

std::vector<PutOutcome> Outcomes(const std::vector<PutResult>& results) {
  std::vector<PutOutcome> out;
  for (const PutResult& r : results) out.push_back(r.outcome);
  return out;
}

std::string IdOf(int n) { return fmt::format("indicator--{:08x}-0000-4000-8000-000000000000", n); }

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

TEST_F(SqliteStoreTest, NewObjectIsStoredWithColumnsAndAddedTime) {
  const stix::Object v1 = Indicator(kId, "2024-01-02T00:00:00.123Z");
  auto results = MustPut({v1});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, PutOutcome::kNew);
  EXPECT_EQ(results[0].seq, 1);
  EXPECT_EQ(results[0].reason, "");

  auto got = store_->Get(kId);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, kId);
  EXPECT_EQ(got->type, "indicator");
  EXPECT_EQ(got->spec_version, "2.1");
  EXPECT_EQ(got->created, "2024-01-01T00:00:00.000Z");
  EXPECT_EQ(got->modified, "2024-01-02T00:00:00.123Z");
  EXPECT_FALSE(got->revoked);
  EXPECT_TRUE(got->current);
  EXPECT_EQ(got->seq, 1);
  EXPECT_EQ(got->added, clock_.now);
  EXPECT_EQ(got->json, boost::json::serialize(v1.json));
}

TEST_F(SqliteStoreTest, IdenticalVersionIsUnchanged) {
  MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z")});
  auto results = MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z")});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, PutOutcome::kUnchanged);
  EXPECT_EQ(results[0].seq, 0);
  auto stats = store_->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->versions, 1);
  EXPECT_EQ(stats->last_seq, 1);
}

TEST_F(SqliteStoreTest, SameModifiedDifferentContentIsConflictAndKeepsStored) {
  MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.1']")});
  auto results = MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z", "[ipv4-addr:value = '203.0.113.9']")});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, PutOutcome::kConflict);
  EXPECT_EQ(results[0].seq, 0);
  EXPECT_EQ(results[0].reason, "a different version with modified 2024-01-02T00:00:00.000Z is already stored");
  auto got = store_->Get(kId);
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(got->json, HasSubstr("198.51.100.1"));
}

TEST_F(SqliteStoreTest, NewerVersionBecomesCurrent) {
  MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z")});
  auto results = MustPut({Indicator(kId, "2024-01-03T00:00:00.000Z", "[ipv4-addr:value = '203.0.113.9']")});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, PutOutcome::kNewVersion);
  EXPECT_EQ(results[0].seq, 2);
  auto got = store_->Get(kId);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->seq, 2);
  EXPECT_EQ(got->modified, "2024-01-03T00:00:00.000Z");
}

TEST_F(SqliteStoreTest, OlderVersionAfterCurrentIsHistory) {
  MustPut({Indicator(kId, "2024-01-03T00:00:00.000Z")});
  auto results = MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z")});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, PutOutcome::kNewVersion);
  EXPECT_EQ(results[0].seq, 2);
  auto got = store_->Get(kId);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->seq, 1);
  EXPECT_EQ(got->modified, "2024-01-03T00:00:00.000Z");

  auto versions = store_->Versions(kId);
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].modified, "2024-01-02T00:00:00.000Z");
  EXPECT_EQ((*versions)[0].seq, 2);
  EXPECT_FALSE((*versions)[0].current);
  EXPECT_EQ((*versions)[1].modified, "2024-01-03T00:00:00.000Z");
  EXPECT_EQ((*versions)[1].seq, 1);
  EXPECT_TRUE((*versions)[1].current);
}

TEST_F(SqliteStoreTest, RevokedVersionIsFinal) {
  MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z")});
  auto revoked = MustPut({Indicator(kId, "2024-01-04T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.1']", true)});
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].outcome, PutOutcome::kNewVersion);

  auto later = MustPut({Indicator(kId, "2024-01-05T00:00:00.000Z")});
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].outcome, PutOutcome::kRejected);
  EXPECT_EQ(later[0].seq, 0);
  EXPECT_EQ(later[0].reason,
            "object is revoked (since version 2024-01-04T00:00:00.000Z); a later version must stay revoked");

  // An older version is still history; the revoked one stays current.
  auto older = MustPut({Indicator(kId, "2024-01-03T00:00:00.000Z")});
  ASSERT_EQ(older.size(), 1u);
  EXPECT_EQ(older[0].outcome, PutOutcome::kNewVersion);
  EXPECT_EQ(older[0].seq, 3);
  auto again = MustPut({Indicator(kId, "2024-01-04T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.1']", true)});
  EXPECT_EQ(again[0].outcome, PutOutcome::kUnchanged);

  auto got = store_->Get(kId);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->revoked);
  EXPECT_EQ(got->seq, 2);
  auto stats = store_->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->by_type["indicator"].revoked, 1);
  EXPECT_EQ(stats->by_type["indicator"].versions, 3);
  EXPECT_EQ(stats->by_type["indicator"].objects, 1);

  // A later version that restates the revocation is a new version and becomes current.
  auto restated = MustPut({Indicator(kId, "2024-01-06T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.1']", true)});
  ASSERT_EQ(restated.size(), 1u);
  EXPECT_EQ(restated[0].outcome, PutOutcome::kNewVersion);
  EXPECT_EQ(restated[0].seq, 4);
  auto now = store_->Get(kId);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->modified, "2024-01-06T00:00:00.000Z");
  EXPECT_TRUE(now->revoked);
  auto after = store_->GetStats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->by_type["indicator"].revoked, 1);
}

TEST_F(SqliteStoreTest, UnversionedObjectHasOneVersion) {
  auto first = MustPut({DomainName(kDomainId, "example.com")});
  EXPECT_EQ(first[0].outcome, PutOutcome::kNew);
  auto same = MustPut({DomainName(kDomainId, "example.com")});
  EXPECT_EQ(same[0].outcome, PutOutcome::kUnchanged);
  auto different = MustPut({DomainName(kDomainId, "example.org")});
  EXPECT_EQ(different[0].outcome, PutOutcome::kConflict);
  EXPECT_EQ(different[0].reason, "a different object with this id is already stored (unversioned)");
  auto got = store_->Get(kDomainId);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->created, "");
  EXPECT_EQ(got->modified, "");
  EXPECT_TRUE(got->current);
  EXPECT_THAT(got->json, HasSubstr("example.com"));
}

TEST_F(SqliteStoreTest, DuplicatesInOneBatchAreSequential) {
  auto results = MustPut({
      Indicator(kId, "2024-01-02T00:00:00.000Z"),
      Indicator(kId, "2024-01-02T00:00:00.000Z"),
      Indicator(kId, "2024-01-02T00:00:00.000Z", "[domain-name:value = 'example.com']"),
      Indicator(kId, "2024-01-03T00:00:00.000Z"),
      Indicator(kOtherId, "2024-01-02T00:00:00.000Z"),
  });
  EXPECT_THAT(Outcomes(results), ElementsAre(PutOutcome::kNew, PutOutcome::kUnchanged, PutOutcome::kConflict,
                                             PutOutcome::kNewVersion, PutOutcome::kNew));
  EXPECT_EQ(results[0].seq, 1);
  EXPECT_EQ(results[3].seq, 2);
  EXPECT_EQ(results[4].seq, 3);
}

TEST_F(SqliteStoreTest, FailedBatchLeavesNothing) {
  RawExec(fmt::format("CREATE TRIGGER fail BEFORE INSERT ON versions WHEN NEW.id = '{}' "
                      "BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
                      kOtherId));
  Reopen();
  auto results = store_->Put(std::vector{Indicator(kId, "2024-01-02T00:00:00.000Z"),
                                         Indicator(kOtherId, "2024-01-02T00:00:00.000Z")});
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(results.status().message(), HasSubstr(fmt::format("batch item 1 ({})", kOtherId)));
  EXPECT_THAT(results.status().message(), HasSubstr("injected fault"));
  EXPECT_EQ(store_->Get(kId).status().code(), absl::StatusCode::kNotFound);
  auto stats = store_->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->versions, 0);
  EXPECT_EQ(stats->objects, 0);
  // The store stays usable after the failed batch.
  auto next = MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z")});
  EXPECT_EQ(next[0].outcome, PutOutcome::kNew);
}

TEST_F(SqliteStoreTest, GetVersionFindsExactModified) {
  MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z"), Indicator(kId, "2024-01-03T00:00:00.000Z")});
  auto v1 = store_->GetVersion(kId, Ts("2024-01-02T00:00:00Z"));  // same instant, other precision
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->seq, 1);
  EXPECT_FALSE(v1->current);
  EXPECT_EQ(v1->modified, "2024-01-02T00:00:00.000Z");
  auto missing = store_->GetVersion(kId, Ts("2024-01-04T00:00:00.000Z"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            fmt::format("object {} has no version modified 2024-01-04T00:00:00.000Z", kId));
}

TEST_F(SqliteStoreTest, UnknownIdIsNotFound) {
  EXPECT_EQ(store_->Get(kId).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get(kId).status().message(), fmt::format("object {} not found", kId));
  EXPECT_EQ(store_->Versions(kId).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, ListFilters) {
  MustPut({
      Indicator(IdOf(1), "2024-01-01T00:00:00.000Z"),  // seq 1
      Indicator(IdOf(2), "2024-02-01T00:00:00.000Z"),  // seq 2
      DomainName(kDomainId, "example.com"),            // seq 3
      Indicator(IdOf(1), "2024-03-01T00:00:00.000Z"),  // seq 4, current of 1
  });
  auto seqs = [&](const Query& q) {
    std::vector<int64_t> out;
    auto page = store_->List(q);
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const auto& o : page->objects) out.push_back(o.seq);
    }
    return out;
  };
  Query all;
  EXPECT_THAT(seqs(all), ElementsAre(2, 3, 4));
  all.current_only = false;
  EXPECT_THAT(seqs(all), ElementsAre(1, 2, 3, 4));

  Query by_type;
  by_type.types = {"indicator"};
  EXPECT_THAT(seqs(by_type), ElementsAre(2, 4));
  by_type.types = {"indicator", "domain-name"};
  EXPECT_THAT(seqs(by_type), ElementsAre(2, 3, 4));
  by_type.types = {"malware"};
  EXPECT_THAT(seqs(by_type), ElementsAre());

  Query by_id;
  by_id.ids = {IdOf(1)};
  EXPECT_THAT(seqs(by_id), ElementsAre(4));
  by_id.current_only = false;
  EXPECT_THAT(seqs(by_id), ElementsAre(1, 4));
  by_id.ids = {IdOf(1), kDomainId};
  EXPECT_THAT(seqs(by_id), ElementsAre(1, 3, 4));

  Query range;
  range.current_only = false;
  range.modified_since = Ts("2024-02-01T00:00:00.000Z");  // inclusive
  EXPECT_THAT(seqs(range), ElementsAre(2, 4));
  range.modified_before = Ts("2024-03-01T00:00:00.000Z");  // exclusive
  EXPECT_THAT(seqs(range), ElementsAre(2));
  range.modified_since.reset();
  EXPECT_THAT(seqs(range), ElementsAre(1, 2));  // unversioned objects match no modified filter

  Query after;
  after.current_only = false;
  after.after_seq = 2;
  EXPECT_THAT(seqs(after), ElementsAre(3, 4));
}

TEST_F(SqliteStoreTest, ListPagesWithMoreAndClampsLimit) {
  std::vector<stix::Object> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(Indicator(IdOf(i), "2024-01-01T00:00:00.000Z"));
  MustPut(batch);
  Query q;
  q.limit = 2;
  auto first = store_->List(q);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->objects.size(), 2u);
  EXPECT_EQ(first->next_after_seq, 2);
  EXPECT_TRUE(first->more);
  q.after_seq = 4;
  auto last = store_->List(q);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->objects.size(), 1u);
  EXPECT_EQ(last->next_after_seq, 5);
  EXPECT_FALSE(last->more);
  q.after_seq = 5;
  auto empty = store_->List(q);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->objects.empty());
  EXPECT_EQ(empty->next_after_seq, 5);
  EXPECT_FALSE(empty->more);
  q.after_seq = 0;
  q.limit = 0;  // clamped to 1
  auto one = store_->List(q);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->objects.size(), 1u);
  EXPECT_TRUE(one->more);
}

// Pages through 2,500 versions with limit 1000 while another thread adds versions and objects: the reader
// sees seqs strictly increasing, and every version with a seq up to the last one it saw.
TEST_F(SqliteStoreTest, PagingWhileWritingNeverSkipsOrRepeats) {
  for (int b = 0; b < 5; ++b) {
    std::vector<stix::Object> batch;
    for (int i = 0; i < 500; ++i) batch.push_back(Indicator(IdOf(b * 500 + i), "2024-01-01T00:00:00.000Z"));
    MustPut(batch);
  }
  for (bool current_only : {false, true}) {
    std::atomic<bool> stop{false};
    std::thread writer([&, current_only] {
      for (int b = 0; b < 40 && !stop; ++b) {
        std::vector<stix::Object> batch;
        for (int i = 0; i < 25; ++i) {
          const int n = (b * 97 + i * 31) % 2500;  // new versions of stored ids, spread over the range
          batch.push_back(Indicator(IdOf(n), fmt::format("2024-0{}-{:02}T00:00:00.000Z", current_only ? 3 : 2, b + 1)));
          batch.push_back(Indicator(IdOf(100000 * (current_only ? 2 : 1) + b * 25 + i), "2024-01-01T00:00:00.000Z"));
        }
        auto put = store_->Put(batch);
        EXPECT_TRUE(put.ok()) << put.status();
        std::this_thread::yield();
      }
    });
    std::vector<int64_t> seen;
    Query q;
    q.current_only = current_only;
    q.limit = 1000;
    while (true) {
      auto page = store_->List(q);
      ASSERT_TRUE(page.ok()) << page.status();
      for (const auto& o : page->objects) seen.push_back(o.seq);
      q.after_seq = page->next_after_seq;
      if (!page->more) break;
    }
    stop = true;
    writer.join();

    ASSERT_GE(seen.size(), 2500u);
    for (size_t i = 1; i < seen.size(); ++i) ASSERT_LT(seen[i - 1], seen[i]) << "at " << i;
    // Every version (current: every current version) with seq <= the last seen was seen.
    Query check;
    check.current_only = current_only;
    check.limit = 10000;
    std::vector<int64_t> expected;
    while (true) {
      auto page = store_->List(check);
      ASSERT_TRUE(page.ok());
      for (const auto& o : page->objects) {
        if (o.seq <= seen.back()) expected.push_back(o.seq);
      }
      check.after_seq = page->next_after_seq;
      if (!page->more) break;
    }
    if (current_only) {
      // A version current while paged may since have been superseded: the reader saw it, the check
      // does not. Every still-current version up to the last seen must have been seen.
      std::set<int64_t> seen_set(seen.begin(), seen.end());
      for (int64_t s : expected) EXPECT_TRUE(seen_set.count(s)) << "skipped seq " << s;
    } else {
      EXPECT_EQ(seen, expected);
    }
  }
}

// Reads run on pooled connections of their own: many threads at once, each seeing every commit made
// before it started, including one made through another handle (another process) while its connection
// sat idle in the pool.
TEST_F(SqliteStoreTest, PooledReadersSeeEveryEarlierCommit) {
  auto empty = store_->LastSeq();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, 0);
  std::vector<stix::Object> batch;
  for (int i = 0; i < 200; ++i) batch.push_back(Indicator(IdOf(i), "2024-01-01T00:00:00.000Z"));
  auto put = MustPut(batch);
  EXPECT_EQ(*store_->LastSeq(), put.back().seq);
  std::vector<std::thread> readers;
  std::atomic<int> found{0};
  for (int t = 0; t < 8; ++t) {
    readers.emplace_back([&, t] {
      for (int i = t; i < 200; i += 8) {
        auto o = store_->Get(IdOf(i));
        if (o.ok() && o->id == IdOf(i)) ++found;
      }
    });
  }
  for (auto& r : readers) r.join();
  EXPECT_EQ(found.load(), 200);
  // Another handle on the same file commits; this handle's idle readers see it on their next call.
  auto other = OpenStore("sqlite:" + path_);
  ASSERT_TRUE(other.ok()) << other.status();
  const std::vector<stix::Object> one = {Indicator(IdOf(500), "2024-01-01T00:00:00.000Z")};
  auto more = (*other)->Put(one);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ(*store_->LastSeq(), (*more)[0].seq);
  auto got = store_->Get(IdOf(500));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->seq, (*more)[0].seq);
}

TEST_F(SqliteStoreTest, MigrationsAppliedOnce) {
  auto stats = store_->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->schema_version, sqlite::LatestSchemaVersion());
  // 3: audit log (before it moved to a file of its own), 4: sharing groups and communities, 5: TAXII state,
  // 6: postings
  EXPECT_EQ(sqlite::LatestSchemaVersion(), 6);
  EXPECT_EQ(RawInt("SELECT count(*) FROM schema_migrations"), 6);
  EXPECT_EQ(RawInt("SELECT applied_at FROM schema_migrations WHERE version = 1"), clock_.now.UnixMicros());
  clock_.now = Ts("2025-07-01T00:00:00.000Z");
  Reopen();
  EXPECT_EQ(RawInt("SELECT count(*) FROM schema_migrations"), 6);
  EXPECT_EQ(RawInt("SELECT applied_at FROM schema_migrations WHERE version = 1"),
            Ts("2025-06-01T12:00:00.000Z").UnixMicros());
  EXPECT_EQ(RawInt("SELECT count(*) FROM sqlite_master WHERE name = 'versions'"), 1);
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefused) {
  store_.reset();
  const int newer = sqlite::LatestSchemaVersion() + 1;
  RawExec(fmt::format("INSERT INTO schema_migrations (version, applied_at) VALUES ({}, 0)", newer));
  auto opened = OpenStore(path_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(opened.status().message(),
            fmt::format("opening store '{}': store schema version {} is newer than this binary supports ({}); "
                        "upgrade Concord",
                        path_, newer, sqlite::LatestSchemaVersion()));
}

TEST_F(SqliteStoreTest, ReadOnlyReadsButRefusesWrites) {
  MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z")});
  OpenOptions options;
  options.read_only = true;
  Reopen(options);
  auto got = store_->Get(kId);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->seq, 1);
  auto put = store_->Put(std::vector{Indicator(kOtherId, "2024-01-02T00:00:00.000Z")});
  EXPECT_EQ(put.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(put.status().message(), "store is open read-only");

  const std::string missing = (dir_ / "missing.db").string();
  auto absent = OpenStore(missing, options);
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(missing));
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

TEST_F(SqliteStoreTest, SyncFullStoresAndReadsBack) {
  OpenOptions options;
  options.sync_full = true;
  Reopen(options);
  auto results = MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z")});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, PutOutcome::kNew);
  Reopen();
  EXPECT_TRUE(store_->Get(kId).ok());
}

TEST_F(SqliteStoreTest, StatsFigures) {
  MustPut({
      Indicator(IdOf(1), "2024-01-01T00:00:00.000Z"),
      Indicator(IdOf(1), "2024-01-02T00:00:00.000Z"),
      Indicator(IdOf(2), "2024-01-01T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.1']", true),
      DomainName(kDomainId, "example.com"),
  });
  auto stats = store_->GetStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->by_type.size(), 2u);
  const TypeCount& indicators = stats->by_type.at("indicator");
  EXPECT_EQ(indicators.objects, 2);
  EXPECT_EQ(indicators.versions, 3);
  EXPECT_EQ(indicators.revoked, 1);
  const TypeCount& domains = stats->by_type.at("domain-name");
  EXPECT_EQ(domains.objects, 1);
  EXPECT_EQ(domains.versions, 1);
  EXPECT_EQ(domains.revoked, 0);
  EXPECT_EQ(stats->objects, 3);
  EXPECT_EQ(stats->versions, 4);
  EXPECT_EQ(stats->last_seq, 4);
  EXPECT_EQ(stats->schema_version, sqlite::LatestSchemaVersion());
  EXPECT_EQ(stats->size_bytes, RawInt("PRAGMA page_count") * RawInt("PRAGMA page_size"));
  EXPECT_GT(stats->size_bytes, 0);
}

TEST_F(SqliteStoreTest, StoreIsInWalMode) { EXPECT_EQ(RawInt("SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1); }

TEST(OpenStore, DispatchesOnLocation) {
  auto pg = OpenStore("postgresql://db.example/concord");
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(pg.status().message(), HasSubstr("PostgreSQL backend is not available yet"));
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
