// Store conformance: the behaviour of the Store interface (store.h), run on every backend — SQLite
// (embedded) and PostgreSQL (a real server started by scripts/pg-test; skipped when its binaries are absent).
// Versions, conflicts, revocation finality, list filters, cursor paging (also with concurrent writers on
// separate handles), stats, migrations, read-only opening, and postings. Backend-specific checks (WAL mode,
// SQLite's file handling) stay in sqlite_store_test.cc and postgres_store_test.cc.
#include <arpa/inet.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "boost/json/serialize.hpp"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/postgres/migrations.h"
#include "store/sqlite/migrations.h"
#include "store/store.h"
#include "store/testing/literal_extractor.h"
#include "store/testing/objects.h"
#include "store/testing/postgres_server.h"

namespace concord::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::DomainName;
using testing::Indicator;
using testing::kCidr;
using testing::kDomain;
using testing::kIp;
using testing::LiteralExtractor;
using testing::V4;
using testing::PostgresServer;
using testing::Ts;

[[maybe_unused]] ::testing::Environment* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new testing::PostgresServerEnvironment);

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
std::string IndicatorId(int n) { return IdOf(n); }


std::string Pattern(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    out += fmt::format("{}[x:value = '{}']", out.empty() ? "" : " OR ", v);
  }
  return out;
}

std::vector<std::string> Ids(const PostingPage& page) {
  std::vector<std::string> ids;
  for (const PostingHit& hit : page.hits) ids.push_back(hit.object.id);
  return ids;
}

enum class Backend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

using PostingRow = std::tuple<std::string, int64_t, std::string, std::string, int64_t>;

// A fresh store of the backend under test for each test: a temporary SQLite file, or a database of its own on
// the test binary's PostgreSQL server.
class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (pg()) {
      PostgresServer& server = PostgresServer::Get();
      if (!server.available()) GTEST_SKIP() << server.skip_reason();
      location_ = server.CreateDatabase();
      ASSERT_FALSE(location_.empty());
      path_ = location_;
    } else {
      std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "store_test_XXXXXX").string();
      ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
      dir_ = tmpl;
      path_ = (dir_ / "concord.db").string();
      location_ = "sqlite:" + path_;
    }
    Reopen(DefaultExtractor());
  }
  void TearDown() override {
    store_.reset();
    if (pg()) {
      PostgresServer::Get().DropDatabase(location_);
    } else if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  virtual const PostingExtractor* DefaultExtractor() { return nullptr; }

  bool pg() const { return GetParam() == Backend::kPostgres; }

  void Reopen(OpenOptions options) {
    store_.reset();
    options.clock = &clock_;
    auto opened = OpenStore(location_, options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
  }
  void Reopen(const PostingExtractor* postings) {
    OpenOptions options;
    options.postings = postings;
    Reopen(options);
  }
  void Reopen() { Reopen(DefaultExtractor()); }

  std::vector<PutResult> MustPut(const std::vector<stix::Object>& batch) {
    auto results = store_->Put(batch);
    EXPECT_TRUE(results.ok()) << results.status();
    return results.ok() ? *results : std::vector<PutResult>{};
  }

  // Seqs 1-5: indicators 1 and 2, a domain name, a newer version of indicator 1 (seq 4, current), indicator 3.
  // The current versions are 2, 3, 4 and 5.
  void PutFiveVersions() {
    MustPut({
        Indicator(IdOf(1), "2024-01-01T00:00:00.000Z"),
        Indicator(IdOf(2), "2024-02-01T00:00:00.000Z"),
        DomainName(kDomainId, "example.com"),
        Indicator(IdOf(1), "2024-03-01T00:00:00.000Z"),
        Indicator(IdOf(3), "2024-03-01T00:00:00.000Z"),
    });
  }

  // SQL on a second, raw connection, in the backend's dialect (for fault injection and schema inspection).
  void RawExec(const std::string& sqlite_sql, const std::string& pg_sql) {
    if (pg()) {
      EXPECT_EQ(testing::PgExec(location_, pg_sql), "") << pg_sql;
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sqlite_sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }
  void RawExec(const std::string& sql) { RawExec(sql, sql); }
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
  int64_t RawInt(const std::string& sql) { return RawInt(sql, sql); }

  // Makes every insert into `table` whose row satisfies `condition` (SQL over NEW) fail with `message`.
  void InjectFault(const std::string& table, const std::string& condition, const std::string& message) {
    RawExec(fmt::format("CREATE TRIGGER fail_{0} BEFORE INSERT ON {0} WHEN {1} BEGIN SELECT RAISE(ABORT, '{2}'); END",
                        table, condition, message),
            fmt::format("CREATE FUNCTION fail_{0}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF {1} THEN "
                        "RAISE EXCEPTION '{2}'; END IF; RETURN NEW; END $$; "
                        "CREATE TRIGGER fail_{0} BEFORE INSERT ON {0} FOR EACH ROW EXECUTE FUNCTION fail_{0}()",
                        table, condition, message));
  }

  // Every posting in the database as (object id, kind, value, address hex, prefix), sorted.
  std::set<PostingRow> AllPostings() {
    std::set<PostingRow> out;
    if (pg()) {
      PGconn* conn = PQconnectdb(location_.c_str());
      PGresult* r = PQexec(conn, "SELECT o.id, p.kind, p.value, coalesce(upper(encode(p.address, 'hex')), ''), "
                                 "coalesce(p.prefix, -1) FROM postings p JOIN objects o USING (oid)");
      EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
      for (int i = 0; i < PQntuples(r); ++i) {
        out.emplace(PQgetvalue(r, i, 0), std::stoll(PQgetvalue(r, i, 1)), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                    std::stoll(PQgetvalue(r, i, 4)));
      }
      PQclear(r);
      PQfinish(conn);
      return out;
    }
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT o.id, p.kind, p.value, coalesce(hex(p.address), ''), coalesce(p.prefix, -1) "
                                 "FROM postings p JOIN objects o USING (oid)",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      out.emplace(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), sqlite3_column_int64(stmt, 1),
                  reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2)),
                  reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3)), sqlite3_column_int64(stmt, 4));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  FixedClock clock_;
  std::filesystem::path dir_;
  std::string path_;      // the SQLite file, or the PostgreSQL URI
  std::string location_;  // what OpenStore is given
  std::unique_ptr<Store> store_;
};

class StoreConformance : public BackendTest {};

class PostingsConformance : public BackendTest {
 protected:
  const PostingExtractor* DefaultExtractor() override { return &extractor_; }

  PostingPage Find(uint8_t kind, const std::string& value, int64_t after = 0, size_t limit = 100) {
    auto page = store_->FindPostings({kind, value, after, limit});
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? *page : PostingPage{};
  }

  std::vector<Posting> Of(std::string_view id) {
    auto postings = store_->PostingsOf(id);
    EXPECT_TRUE(postings.ok()) << postings.status();
    return postings.ok() ? *postings : std::vector<Posting>{};
  }

  bool Complete() {
    auto complete = store_->PostingsComplete();
    EXPECT_TRUE(complete.ok()) << complete.status();
    return complete.ok() && *complete;
  }

  LiteralExtractor extractor_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, PostingsConformance, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         BackendName);

TEST_P(StoreConformance, NewObjectIsStoredWithColumnsAndAddedTime) {
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

// TAXII added_after polls by `added`: it must increase strictly with seq, even when the clock stands still
// or goes back, and within one batch.
TEST_P(StoreConformance, AddedStrictlyIncreasesWithSeqWhateverTheClock) {
  const Timestamp start = clock_.now;
  MustPut({Indicator(IdOf(1), "2024-01-01T00:00:00.000Z"), Indicator(IdOf(2), "2024-01-01T00:00:00.000Z"),
           Indicator(IdOf(1), "2024-01-01T00:00:00.000Z")});  // the third is unchanged: no seq, no added
  MustPut({Indicator(IdOf(3), "2024-01-01T00:00:00.000Z")});  // clock unchanged
  clock_.now = Timestamp::FromUnixMillis(start.UnixMillis() - 60'000);  // clock a minute back
  MustPut({Indicator(IdOf(4), "2024-01-01T00:00:00.000Z")});
  clock_.now = Timestamp::FromUnixMillis(start.UnixMillis() + 1'000);  // a second later than the start
  MustPut({Indicator(IdOf(5), "2024-01-01T00:00:00.000Z")});
  Query all;
  all.current_only = false;
  auto page = store_->List(all);
  ASSERT_TRUE(page.ok()) << page.status();
  std::vector<int64_t> added;
  for (const auto& o : page->objects) added.push_back(o.added.UnixMicros() - start.UnixMicros());
  EXPECT_EQ(added, (std::vector<int64_t>{0, 1, 2, 3, 1'000'000}));
}

TEST_P(StoreConformance, SweepVisitsMatchingVersionsInSeqOrderAndStopsWhenAsked) {
  PutFiveVersions();
  auto sweep = [&](Query q, size_t stop_after) {
    std::vector<int64_t> seqs;
    absl::Status status = store_->Sweep(q, [&](const StoredObject& o) {
      seqs.push_back(o.seq);
      EXPECT_FALSE(o.json.empty());
      return seqs.size() < stop_after;
    });
    EXPECT_TRUE(status.ok()) << status;
    return seqs;
  };
  Query all;
  all.limit = 2;  // batches of two
  EXPECT_EQ(sweep(all, 100), (std::vector<int64_t>{2, 3, 4, 5}));  // current versions only
  all.current_only = false;
  EXPECT_EQ(sweep(all, 100), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(sweep(all, 3), (std::vector<int64_t>{1, 2, 3}));
  all.after_seq = 2;
  all.types = {"indicator"};
  EXPECT_EQ(sweep(all, 100), (std::vector<int64_t>{4, 5}));
  Query none;
  none.types = {"malware"};
  EXPECT_EQ(sweep(none, 100), (std::vector<int64_t>{}));
}

TEST_P(StoreConformance, IdenticalVersionIsUnchanged) {
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

TEST_P(StoreConformance, SameModifiedDifferentContentIsConflictAndKeepsStored) {
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

TEST_P(StoreConformance, NewerVersionBecomesCurrent) {
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

TEST_P(StoreConformance, OlderVersionAfterCurrentIsHistory) {
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

TEST_P(StoreConformance, RevokedVersionIsFinal) {
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

TEST_P(StoreConformance, UnversionedObjectHasOneVersion) {
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

TEST_P(StoreConformance, DuplicatesInOneBatchAreSequential) {
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

TEST_P(StoreConformance, FailedBatchLeavesNothing) {
  InjectFault("versions", fmt::format("NEW.id = '{}'", kOtherId), "injected fault");
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

TEST_P(StoreConformance, GetVersionFindsExactModified) {
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

TEST_P(StoreConformance, UnknownIdIsNotFound) {
  EXPECT_EQ(store_->Get(kId).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get(kId).status().message(), fmt::format("object {} not found", kId));
  EXPECT_EQ(store_->Versions(kId).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreConformance, ListFilters) {
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

TEST_P(StoreConformance, ListPagesWithMoreAndClampsLimit) {
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

// Forwards the pure calls and the single-key posting calls only: LookupPostings and ListEach are the Store
// defaults (a loop over those), as for any wrapper that does not implement them.
class ForwardingStore final : public Store {
 public:
  explicit ForwardingStore(Store& inner) : inner_(inner) {}
  absl::StatusOr<std::vector<PutResult>> PutEncoded(std::span<const EncodedObject> batch) override {
    return inner_.PutEncoded(batch);
  }
  absl::StatusOr<StoredObject> Get(std::string_view id) override { return inner_.Get(id); }
  absl::StatusOr<StoredObject> GetVersion(std::string_view id, const Timestamp& modified) override {
    return inner_.GetVersion(id, modified);
  }
  absl::StatusOr<std::vector<StoredObject>> Versions(std::string_view id) override { return inner_.Versions(id); }
  absl::StatusOr<Page> List(const Query& query) override { return inner_.List(query); }
  absl::StatusOr<Stats> GetStats() override { return inner_.GetStats(); }
  absl::StatusOr<PostingPage> FindPostings(const PostingQuery& query) override { return inner_.FindPostings(query); }
  absl::StatusOr<int64_t> CountPostings(uint8_t kind, std::string_view value, int64_t at_most) override {
    return inner_.CountPostings(kind, value, at_most);
  }

 private:
  Store& inner_;
};

// ListEach visits what List returns, column for column, in place; the default (through List, as any wrapper
// that does not implement it gets) and the backend's own agree on where a stopped listing ends.
TEST_P(StoreConformance, ListEachVisitsTheListPageAndStopsWhenAsked) {
  PutFiveVersions();
  ForwardingStore defaults(*store_);
  for (Store* store : {static_cast<Store*>(store_.get()), static_cast<Store*>(&defaults)}) {
    // Visits `q`'s page until `stop_after` rows: "seqs | next more".
    auto each = [&](Query q, size_t stop_after) {
      std::vector<int64_t> seqs;
      auto end = store->ListEach(q, [&](const StoredView& v) {
        seqs.push_back(v.seq);
        return seqs.size() < stop_after;
      });
      EXPECT_TRUE(end.ok()) << end.status();
      std::string out;
      for (int64_t seq : seqs) out += std::to_string(seq) + " ";
      return end.ok() ? fmt::format("{}| {} {}", out, end->next_after_seq, end->more) : std::string("error");
    };
    Query all;
    all.current_only = false;
    all.limit = 3;
    auto page = store->List(all);
    ASSERT_TRUE(page.ok()) << page.status();
    std::vector<StoredObject> visited;
    auto end = store->ListEach(all, [&](const StoredView& v) {
      visited.push_back(v.ToObject());
      return true;
    });
    ASSERT_TRUE(end.ok()) << end.status();
    ASSERT_EQ(visited.size(), page->objects.size());
    for (size_t i = 0; i < visited.size(); ++i) {
      const StoredObject& a = visited[i];
      const StoredObject& b = page->objects[i];
      EXPECT_EQ(std::tie(a.seq, a.id, a.type, a.spec_version, a.created, a.modified, a.created_by_ref, a.revoked, a.tlp,
                         a.distribution, a.sharing_group_ref, a.current, a.json),
                std::tie(b.seq, b.id, b.type, b.spec_version, b.created, b.modified, b.created_by_ref, b.revoked, b.tlp,
                         b.distribution, b.sharing_group_ref, b.current, b.json));
      EXPECT_EQ(a.added, b.added);
    }
    EXPECT_EQ(end->next_after_seq, page->next_after_seq);
    EXPECT_EQ(end->more, page->more);
    EXPECT_EQ(each(all, 100), "1 2 3 | 3 true");
    EXPECT_EQ(each(all, 2), "1 2 | 2 true");  // stopped inside the page
    EXPECT_EQ(each(all, 3), "1 2 3 | 3 true");  // stopped at the page's end, with more to come
    all.after_seq = 3;
    EXPECT_EQ(each(all, 100), "4 5 | 5 false");
    EXPECT_EQ(each(all, 2), "4 5 | 5 false");  // stopped at the very last version
    EXPECT_EQ(each(all, 1), "4 | 4 true");
    Query current;
    current.types = {"indicator"};
    EXPECT_EQ(each(current, 100), "2 4 5 | 5 false");
    current.types = {"malware"};
    current.after_seq = 2;
    EXPECT_EQ(each(current, 100), "| 2 false");
  }
}

// A lean listing (Query::policy_and_json_only) gives the same rows with the same id, JSON and policy fields as a
// full one, on versions whose policy fields all differ; List fills every field whatever the query says.
TEST_P(StoreConformance, ALeanListingGivesThePolicyFieldsAndTheJson) {
  std::vector<stix::Object> objects = {Indicator(IdOf(1), "2024-01-01T00:00:00.000Z"),
                                       Indicator(IdOf(2), "2024-01-01T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.2']", true),
                                       Indicator(IdOf(1), "2024-02-01T00:00:00.000Z"), DomainName(kDomainId, "example.com")};
  objects[0].created_by_ref = "identity--00000000-0000-4000-8000-00000000000a";
  objects[0].tlp = stix::Tlp::kAmber;
  objects[0].distribution = 2;
  objects[1].created_by_ref = "identity--00000000-0000-4000-8000-00000000000b";
  objects[1].tlp = stix::Tlp::kRed;
  objects[2].tlp = stix::Tlp::kGreen;
  objects[2].distribution = 4;
  objects[2].sharing_group_ref = "x-concord-sharing-group--00000000-0000-4000-8000-00000000000c";
  MustPut(objects);
  ForwardingStore defaults(*store_);
  for (Store* store : {static_cast<Store*>(store_.get()), static_cast<Store*>(&defaults)}) {
    for (bool current_only : {false, true}) {
      Query lean;
      lean.current_only = current_only;
      lean.policy_and_json_only = true;
      Query full = lean;
      full.policy_and_json_only = false;
      auto full_page = store->List(full);
      ASSERT_TRUE(full_page.ok()) << full_page.status();
      ASSERT_EQ(full_page->objects.size(), current_only ? 3u : 4u);
      auto lean_page = store->List(lean);
      ASSERT_TRUE(lean_page.ok()) << lean_page.status();
      ASSERT_EQ(lean_page->objects.size(), full_page->objects.size());
      for (size_t i = 0; i < full_page->objects.size(); ++i) {
        EXPECT_EQ(lean_page->objects[i].type, full_page->objects[i].type);
        EXPECT_EQ(lean_page->objects[i].modified, full_page->objects[i].modified);
      }
      size_t i = 0;
      auto lean_end = store->ListEach(lean, [&](const StoredView& v) {
        EXPECT_LT(i, full_page->objects.size());
        if (i >= full_page->objects.size()) return false;
        const StoredObject& b = full_page->objects[i++];
        EXPECT_EQ(std::tie(v.seq, v.id, v.created_by_ref, v.revoked, v.tlp, v.distribution, v.sharing_group_ref, v.current,
                           v.json),
                  std::tie(b.seq, b.id, b.created_by_ref, b.revoked, b.tlp, b.distribution, b.sharing_group_ref, b.current,
                           b.json));
        return true;
      });
      ASSERT_TRUE(lean_end.ok()) << lean_end.status();
      EXPECT_EQ(i, full_page->objects.size());
      EXPECT_EQ(lean_end->next_after_seq, full_page->next_after_seq);
      EXPECT_EQ(lean_end->more, full_page->more);
    }
  }
}

// A lean current-only listing (the REST list's; SQLite serves its rows from memory, sqlite/row_cache.h) agrees
// with the full listing for every filter, where it stops and whether more follows: cold, warm, and after new
// versions replaced some of the rows it has read (a row once read is never the answer for a newer version),
// which makes pages partly kept.
TEST_P(StoreConformance, ALeanCurrentListingAgreesWithTheFullOneBeforeAndAfterWrites) {
  std::vector<stix::Object> objects;
  for (int i = 0; i < 12; ++i) {
    objects.push_back(Indicator(IdOf(i), fmt::format("2024-01-{:02}T00:00:00.000Z", i + 1)));
    objects.back().tlp = i % 3 == 0 ? stix::Tlp::kAmber : stix::Tlp::kGreen;
    if (i % 4 != 3) objects.back().distribution = i % 4;
    if (i % 2 == 1) objects.back().created_by_ref = fmt::format("identity--00000000-0000-4000-8000-0000000000{:02}", i);
  }
  objects[8].distribution = 4;
  objects[8].sharing_group_ref = "x-concord-sharing-group--00000000-0000-4000-8000-00000000000c";
  objects.push_back(DomainName(kDomainId, "example.com"));
  MustPut(objects);
  std::vector<Query> queries;
  {
    Query q;
    q.limit = 5;
    queries.push_back(q);  // everything, in pages
    q.types = {"indicator"};
    queries.push_back(q);
    q.after_seq = 4;
    queries.push_back(q);
    q = Query();
    q.types = {"indicator", "domain-name"};
    q.limit = 20;
    queries.push_back(q);
    q = Query();
    q.ids = {IdOf(3), IdOf(7), IdOf(40)};
    queries.push_back(q);
    q.ids = {IdOf(5)};
    queries.push_back(q);
    q = Query();
    q.modified_since = Ts("2024-01-04T00:00:00.000Z");
    q.modified_before = Ts("2024-01-09T00:00:00.000Z");
    queries.push_back(q);
  }
  // "seqs | next more" of the visited rows, each checked against the full listing's object of that seq.
  auto lean_each = [&](Query q, size_t stop_after) {
    Query full = q;
    full.limit = 1000;
    auto reference = store_->List(full);
    EXPECT_TRUE(reference.ok()) << reference.status();
    if (!reference.ok()) return std::string("error");
    q.policy_and_json_only = true;
    std::string out;
    size_t visited = 0;
    auto end = store_->ListEach(q, [&](const StoredView& v) {
      out += std::to_string(v.seq) + " ";
      auto b = std::find_if(reference->objects.begin(), reference->objects.end(),
                            [&](const StoredObject& o) { return o.seq == v.seq; });
      EXPECT_NE(b, reference->objects.end()) << v.seq;
      if (b != reference->objects.end()) {
        EXPECT_EQ(std::tie(v.id, v.created_by_ref, v.revoked, v.tlp, v.distribution, v.sharing_group_ref, v.current, v.json),
                  std::tie(b->id, b->created_by_ref, b->revoked, b->tlp, b->distribution, b->sharing_group_ref, b->current,
                           b->json));
      }
      return ++visited < stop_after;
    });
    EXPECT_TRUE(end.ok()) << end.status();
    return end.ok() ? fmt::format("{}| {} {}", out, end->next_after_seq, end->more) : std::string("error");
  };
  // The same from the full listing.
  auto full_each = [&](Query q, size_t stop_after) {
    std::string out;
    size_t visited = 0;
    auto end = store_->ListEach(q, [&](const StoredView& v) {
      out += std::to_string(v.seq) + " ";
      return ++visited < stop_after;
    });
    EXPECT_TRUE(end.ok()) << end.status();
    return end.ok() ? fmt::format("{}| {} {}", out, end->next_after_seq, end->more) : std::string("error");
  };
  auto check_all = [&](const char* when) {
    for (size_t i = 0; i < queries.size(); ++i) {
      for (size_t stop_after : {size_t{1000}, size_t{1}, size_t{2}}) {
        const std::string expected = full_each(queries[i], stop_after);
        EXPECT_EQ(lean_each(queries[i], stop_after), expected) << when << ", query " << i << ", stop after " << stop_after;
      }
    }
  };
  // Exact for one query, so that a listing wrong in both ways at once cannot pass.
  Query first_page;
  first_page.types = {"indicator"};
  first_page.limit = 5;
  EXPECT_EQ(lean_each(first_page, 1000), "1 2 3 4 5 | 5 true");
  check_all("cold");
  check_all("missed twice");  // SQLite keeps a row from its second miss on
  check_all("warm");
  // New versions of objects listed above (their old rows were read), and a new object.
  std::vector<stix::Object> later = {Indicator(IdOf(2), "2024-03-01T00:00:00.000Z"),
                                     Indicator(IdOf(5), "2024-03-01T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.5']", true),
                                     Indicator(IdOf(40), "2024-01-05T00:00:00.000Z")};
  later[0].tlp = stix::Tlp::kRed;
  MustPut(later);
  EXPECT_EQ(lean_each(first_page, 1000), "1 2 4 5 7 | 7 true");
  check_all("after writes");
  Query by_id;
  by_id.ids = {IdOf(5)};
  by_id.policy_and_json_only = true;
  auto revoked = store_->ListEach(by_id, [&](const StoredView& v) {
    EXPECT_EQ(v.seq, 15);
    EXPECT_TRUE(v.revoked);
    return true;
  });
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(revoked->next_after_seq, 15);
}

// Pages through 2,500 versions with limit 1000 while another thread adds versions and objects: the reader
// sees seqs strictly increasing, and every version with a seq up to the last one it saw.
TEST_P(StoreConformance, PagingWhileWritingNeverSkipsOrRepeats) {
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
TEST_P(StoreConformance, PooledReadersSeeEveryEarlierCommit) {
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
  auto other = OpenStore(location_);
  ASSERT_TRUE(other.ok()) << other.status();
  const std::vector<stix::Object> one = {Indicator(IdOf(500), "2024-01-01T00:00:00.000Z")};
  auto more = (*other)->Put(one);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ(*store_->LastSeq(), (*more)[0].seq);
  auto got = store_->Get(IdOf(500));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->seq, (*more)[0].seq);
}

TEST_P(StoreConformance, MigrationsAppliedOnce) {
  auto stats = store_->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->schema_version, sqlite::LatestSchemaVersion());
  // 3: audit log (before it moved to a file of its own), 4: sharing groups and communities, 5: TAXII state,
  // 6: postings, 7: postings looked up by value from the index alone (SQLite; PostgreSQL keeps the number),
  // 8: sightings indexed by what they sight
  EXPECT_EQ(sqlite::LatestSchemaVersion(), 9);
  EXPECT_EQ(postgres::LatestSchemaVersion(), 9);  // the same numbers in both dialects
  EXPECT_EQ(RawInt("SELECT count(*) FROM schema_migrations"), 9);
  EXPECT_EQ(RawInt("SELECT applied_at FROM schema_migrations WHERE version = 1"), clock_.now.UnixMicros());
  clock_.now = Ts("2025-07-01T00:00:00.000Z");
  Reopen();
  EXPECT_EQ(RawInt("SELECT count(*) FROM schema_migrations"), 9);
  EXPECT_EQ(RawInt("SELECT applied_at FROM schema_migrations WHERE version = 1"),
            Ts("2025-06-01T12:00:00.000Z").UnixMicros());
  EXPECT_EQ(RawInt("SELECT count(*) FROM sqlite_master WHERE name = 'versions'",
                   "SELECT count(*) FROM pg_tables WHERE tablename = 'versions'"),
            1);
}

TEST_P(StoreConformance, NewerSchemaIsRefused) {
  store_.reset();
  const int newer = sqlite::LatestSchemaVersion() + 1;
  RawExec(fmt::format("INSERT INTO schema_migrations (version, applied_at) VALUES ({}, 0)", newer));
  auto opened = OpenStore(location_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(opened.status().message(),
            fmt::format("opening store '{}': store schema version {} is newer than this binary supports ({}); "
                        "upgrade Concord",
                        path_, newer, sqlite::LatestSchemaVersion()));
}

TEST_P(StoreConformance, ReadOnlyReadsButRefusesWrites) {
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

  // A database that does not exist is not created by a read-only opener.
  const std::string missing = pg() ? location_.substr(0, location_.rfind('/') + 1) + "concord_missing"
                                   : (dir_ / "missing.db").string();
  auto absent = OpenStore(missing, options);
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kNotFound) << absent.status();
  if (!pg()) {
    EXPECT_FALSE(std::filesystem::exists(missing));
  }
}

TEST_P(StoreConformance, SyncFullStoresAndReadsBack) {
  OpenOptions options;
  options.sync_full = true;
  Reopen(options);
  auto results = MustPut({Indicator(kId, "2024-01-02T00:00:00.000Z")});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, PutOutcome::kNew);
  Reopen();
  EXPECT_TRUE(store_->Get(kId).ok());
}

TEST_P(StoreConformance, StatsFigures) {
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
  if (!pg()) {
    EXPECT_EQ(stats->size_bytes, RawInt("PRAGMA page_count") * RawInt("PRAGMA page_size"));
  }
  EXPECT_GT(stats->size_bytes, 0);
}

TEST_P(PostingsConformance, NewObjectsGetPostingsFoundByValue) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"198.51.100.1", "evil.example"})),
           Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"evil.example", "evil.example"})),
           DomainName("domain-name--33333333-3333-4333-8333-333333333333", "evil.example")});
  EXPECT_TRUE(Complete());
  const PostingPage page = Find(kDomain, "evil.example");
  EXPECT_THAT(Ids(page), ElementsAre(IndicatorId(1), IndicatorId(2), "domain-name--33333333-3333-4333-8333-333333333333"));
  EXPECT_FALSE(page.more);
  ASSERT_EQ(page.hits.size(), 3u);
  EXPECT_EQ(page.hits[0].object.type, "indicator");
  EXPECT_EQ(page.hits[0].object.seq, 1);
  EXPECT_TRUE(page.hits[0].object.current);
  EXPECT_FALSE(page.hits[0].object.revoked);
  EXPECT_EQ(page.hits[0].object.json, "");  // columns only
  EXPECT_EQ(*store_->CountPostings(kDomain, "evil.example", 100), 3);
  EXPECT_EQ(*store_->CountPostings(kDomain, "evil.example", 2), 2);  // counts no further than asked
  EXPECT_EQ(*store_->CountPostings(kIp, "evil.example", 100), 0);   // kind is part of the key
  EXPECT_TRUE(Find(kDomain, "good.example").hits.empty());
  // Each (kind, value) once per object, sorted.
  EXPECT_THAT(Of(IndicatorId(2)), ElementsAre(Posting{kDomain, "evil.example", std::nullopt, -1}));
  EXPECT_THAT(Of(IndicatorId(1)), ElementsAre(Posting{kIp, "198.51.100.1", V4("198.51.100.1"), -1},
                                              Posting{kDomain, "evil.example", std::nullopt, -1}));
  EXPECT_EQ(store_->PostingsOf(IndicatorId(9)).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(PostingsConformance, PagesByCursorWithoutSkipsOrRepeats) {
  std::vector<stix::Object> batch;
  for (int i = 1; i <= 25; ++i) batch.push_back(Indicator(IndicatorId(i), "2024-01-02T00:00:00.000Z", Pattern({"shared.example"})));
  MustPut(batch);
  std::vector<std::string> seen;
  int64_t after = 0;
  int pages = 0;
  while (true) {
    const PostingPage page = Find(kDomain, "shared.example", after, 10);
    for (const auto& id : Ids(page)) seen.push_back(id);
    ++pages;
    after = page.next_after;
    if (!page.more) break;
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  for (int i = 1; i <= 25; ++i) EXPECT_EQ(seen[i - 1], IndicatorId(i));
}

TEST_P(PostingsConformance, FailedBatchLeavesNoPostings) {
  InjectFault("versions", fmt::format("NEW.id = '{}'", IndicatorId(2)), "injected fault");
  Reopen(&extractor_);
  auto results = store_->Put(std::vector{Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"a.example"})),
                                         Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"a.example"}))});
  ASSERT_FALSE(results.ok());
  EXPECT_THAT(results.status().message(), HasSubstr("injected fault"));
  EXPECT_TRUE(AllPostings().empty());
  EXPECT_TRUE(Find(kDomain, "a.example").hits.empty());
}

TEST_P(PostingsConformance, FailedPostingInsertRollsBackTheVersion) {
  InjectFault("postings", "NEW.value = 'bad.example'", "injected posting fault");
  Reopen(&extractor_);
  auto results = store_->Put(std::vector{Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"a.example"})),
                                         Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"bad.example"}))});
  ASSERT_FALSE(results.ok());
  EXPECT_THAT(results.status().message(), HasSubstr("injected posting fault"));
  EXPECT_EQ(store_->Get(IndicatorId(1)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(AllPostings().empty());
}

TEST_P(PostingsConformance, NewCurrentVersionReplacesPostings) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"old.example", "both.example"}))});
  MustPut({Indicator(IndicatorId(1), "2024-01-03T00:00:00.000Z", Pattern({"new.example", "both.example"}))});
  EXPECT_TRUE(Find(kDomain, "old.example").hits.empty());
  EXPECT_THAT(Ids(Find(kDomain, "new.example")), ElementsAre(IndicatorId(1)));
  const PostingPage both = Find(kDomain, "both.example");
  ASSERT_EQ(both.hits.size(), 1u);
  EXPECT_EQ(both.hits[0].object.seq, 2);  // the current version's columns
  EXPECT_EQ(both.hits[0].object.modified, "2024-01-03T00:00:00.000Z");
  // Two versions in one batch: the last current one wins.
  MustPut({Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"first.example"})),
           Indicator(IndicatorId(2), "2024-01-04T00:00:00.000Z", Pattern({"second.example"}))});
  EXPECT_THAT(Of(IndicatorId(2)), ElementsAre(Posting{kDomain, "second.example", std::nullopt, -1}));
}

TEST_P(PostingsConformance, OlderVersionArrivingLaterChangesNothing) {
  MustPut({Indicator(IndicatorId(1), "2024-01-03T00:00:00.000Z", Pattern({"current.example"}))});
  const int calls = extractor_.calls;
  auto older = MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"older.example"}))});
  ASSERT_EQ(older.size(), 1u);
  EXPECT_EQ(older[0].outcome, PutOutcome::kNewVersion);
  EXPECT_TRUE(Find(kDomain, "older.example").hits.empty());
  EXPECT_THAT(Of(IndicatorId(1)), ElementsAre(Posting{kDomain, "current.example", std::nullopt, -1}));
  EXPECT_EQ(extractor_.calls, calls + 1);  // extracted while encoding; nothing written
  // Re-putting the current version is unchanged and leaves them as they are.
  MustPut({Indicator(IndicatorId(1), "2024-01-03T00:00:00.000Z", Pattern({"current.example"}))});
  EXPECT_EQ(AllPostings().size(), 1u);
}

TEST_P(PostingsConformance, RevokedObjectKeepsItsPostings) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"198.51.100.7"}))});
  MustPut({Indicator(IndicatorId(1), "2024-01-03T00:00:00.000Z", Pattern({"198.51.100.7"}), /*revoked=*/true)});
  const PostingPage page = Find(kIp, "198.51.100.7");
  ASSERT_EQ(page.hits.size(), 1u);
  EXPECT_TRUE(page.hits[0].object.revoked);
  EXPECT_EQ(page.hits[0].object.seq, 2);
}

TEST_P(PostingsConformance, AddressRangeAndPrefixLengths) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"10.0.0.1", "10.0.0.0/8"})),
           Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"10.255.255.255", "10.1.0.0/16"})),
           Indicator(IndicatorId(3), "2024-01-02T00:00:00.000Z", Pattern({"11.0.0.0", "0.0.0.0/0"})),
           Indicator(IndicatorId(4), "2024-01-02T00:00:00.000Z", Pattern({"10.0.0.1", "10.2.0.0/16"}))});
  EXPECT_THAT(*store_->PrefixLengths(kCidr), ElementsAre(0, 8, 16));
  EXPECT_TRUE(store_->PrefixLengths(kIp)->empty());

  IpRangeQuery query;
  query.kind = kIp;
  query.low = V4("10.0.0.0");
  query.high = V4("10.255.255.255");
  query.limit = 2;
  auto first = store_->IpPostingsInRange(query);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->postings.size(), 2u);
  EXPECT_EQ(first->postings[0].value, "10.0.0.1");
  EXPECT_EQ(first->postings[0].hit.object.id, IndicatorId(1));
  EXPECT_EQ(first->postings[1].value, "10.0.0.1");
  EXPECT_EQ(first->postings[1].hit.object.id, IndicatorId(4));
  EXPECT_TRUE(first->more);
  query.after = first->next_after;
  auto second = store_->IpPostingsInRange(query);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->postings.size(), 1u);  // the range's upper end is inclusive; 11.0.0.0 is outside
  EXPECT_EQ(second->postings[0].value, "10.255.255.255");
  EXPECT_EQ(second->postings[0].address, V4("10.255.255.255"));
  EXPECT_FALSE(second->more);
}

// A lookup answer as text: "count [id@seq(r) …] more", r for revoked.
std::string Render(const PostingLookup& found) {
  std::string out = fmt::format("{} [", found.count);
  for (const PostingHit& hit : found.hits) {
    out += fmt::format("{}{}@{}{}", out.back() == '[' ? "" : " ", hit.object.id.substr(hit.object.id.size() - 2),
                       hit.object.seq, hit.object.revoked ? "r" : "");
  }
  out += found.more ? "] more" : "]";
  return out;
}

std::vector<std::string> Render(const absl::StatusOr<std::vector<PostingLookup>>& found) {
  EXPECT_TRUE(found.ok()) << found.status();
  std::vector<std::string> out;
  if (found.ok()) {
    for (const PostingLookup& f : *found) out.push_back(Render(f));
  }
  return out;
}

TEST_P(PostingsConformance, LookupPostingsAnswersManyKeysAtOnce) {
  // Ids ending in their number ("…01" to "…06"), so that answers read short.
  auto id = [](int n) { return fmt::format("indicator--00000000-0000-4000-8000-0000000000{:02d}", n); };
  std::vector<stix::Object> batch;
  for (int i = 1; i <= 5; ++i) batch.push_back(Indicator(id(i), "2024-01-02T00:00:00.000Z", Pattern({"shared.example"})));
  batch.push_back(Indicator(id(6), "2024-01-02T00:00:00.000Z", Pattern({"single.example", "198.51.100.7"})));
  MustPut(batch);
  // Revoked: still found, with its revoked current version (seq 7).
  MustPut({Indicator(id(6), "2024-01-03T00:00:00.000Z", Pattern({"single.example", "198.51.100.7"}), true)});

  const std::vector<PostingKey> keys = {{kDomain, "single.example"},  {kDomain, "shared.example"},
                                        {kDomain, "unknown.example"}, {kIp, "198.51.100.7"},
                                        {kDomain, "shared.example"},  {kIp, "shared.example"}};
  const std::vector<std::string> expected = {"1 [06@7r]",           "3 [01@1 02@2] more", "0 []",
                                             "1 [06@7r]",           "3 [01@1 02@2] more", "0 []"};
  EXPECT_EQ(Render(store_->LookupPostings(keys, /*at_most=*/3, /*first=*/2)), expected);
  // Any order gives each key the same answer.
  std::vector<PostingKey> reversed(keys.rbegin(), keys.rend());
  EXPECT_EQ(Render(store_->LookupPostings(reversed, 3, 2)),
            std::vector<std::string>(expected.rbegin(), expected.rend()));
  // A bound above the count counts exactly; a page as large as the listing has no "more".
  EXPECT_THAT(Render(store_->LookupPostings(std::vector<PostingKey>{{kDomain, "shared.example"}}, 100, 5)),
              ElementsAre("5 [01@1 02@2 03@3 04@4 05@5]"));
  EXPECT_THAT(Render(store_->LookupPostings(std::vector<PostingKey>{{kDomain, "shared.example"}}, 5, 4)),
              ElementsAre("5 [01@1 02@2 03@3 04@4] more"));
  // first = 0: counts only; "more" tells whether any object has it. at_most below 1 counts to 1.
  EXPECT_THAT(Render(store_->LookupPostings(keys, 0, 0)),
              ElementsAre("1 [] more", "1 [] more", "0 []", "1 [] more", "1 [] more", "0 []"));
  // A value shared by more objects than the bound costs the bound, and says so.
  EXPECT_THAT(Render(store_->LookupPostings(std::vector<PostingKey>{{kDomain, "shared.example"}}, 2, 1)),
              ElementsAre("2 [01@1] more"));
  EXPECT_THAT(Render(store_->LookupPostings(std::vector<PostingKey>{}, 3, 2)), ::testing::IsEmpty());
  // Exactly what CountPostings and FindPostings answer key by key, and what the Store default (a loop over
  // them, for wrappers) answers.
  for (const PostingKey& key : keys) {
    const PostingPage page = Find(key.kind, key.value, 0, 2);
    PostingLookup single;
    single.count = *store_->CountPostings(key.kind, key.value, 3);
    single.hits = page.hits;
    single.more = page.more;
    EXPECT_EQ(Render(store_->LookupPostings(std::vector<PostingKey>{key}, 3, 2)), std::vector{Render(single)})
        << key.value;
  }
  ForwardingStore forwarding(*store_);
  EXPECT_EQ(Render(forwarding.LookupPostings(keys, 3, 2)), expected);
  EXPECT_EQ(Render(forwarding.LookupPostings(keys, 0, 0)), Render(store_->LookupPostings(keys, 0, 0)));
}

TEST_P(PostingsConformance, LookupPostingsAnswersLargeBatchesWithRepeats) {
  // 3,000 distinct values (more than one PostgreSQL statement's worth), each on one object, and a value on all
  // of them.
  std::vector<stix::Object> batch;
  std::vector<PostingKey> keys;
  for (int i = 1; i <= 3000; ++i) {
    const std::string value = fmt::format("v{}.example", i);
    batch.push_back(Indicator(IndicatorId(i), "2024-01-02T00:00:00.000Z", Pattern({value, "all.example"})));
    keys.push_back({kDomain, value});
    keys.push_back({kDomain, "all.example"});
  }
  MustPut(batch);
  for (int i = 1; i <= 3000; ++i) keys.push_back({kDomain, fmt::format("v{}.example", i)});  // repeats, later
  auto found = store_->LookupPostings(keys, 1001, 1);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), keys.size());
  for (size_t k = 0; k < keys.size(); ++k) {
    const PostingLookup& f = (*found)[k];
    if (keys[k].value == "all.example") {
      EXPECT_EQ(f.count, 1001);
      ASSERT_EQ(f.hits.size(), 1u);
      EXPECT_EQ(f.hits[0].object.id, IndicatorId(1));
      EXPECT_TRUE(f.more);
      continue;
    }
    const int n = std::stoi(keys[k].value.substr(1));
    EXPECT_EQ(f.count, 1) << keys[k].value;
    ASSERT_EQ(f.hits.size(), 1u) << keys[k].value;
    EXPECT_EQ(f.hits[0].object.id, IndicatorId(n));
    EXPECT_EQ(f.hits[0].object.seq, n);
    EXPECT_FALSE(f.more);
  }
}

// A batch large enough for the backends' large-batch paths (SQLite widens the page cache from 10,000
// distinct keys): objects found under several keys (each object has three values), values on no object, one
// key of another kind. Each key answers exactly what CountPostings and FindPostings answer for it alone, and
// the connection serves small lookups as before afterwards.
TEST_P(PostingsConformance, LookupPostingsLargeBatchEqualsSingleKeyAnswers) {
  std::vector<stix::Object> batch;
  for (int i = 1; i <= 300; ++i) {
    batch.push_back(Indicator(IndicatorId(i), "2024-01-02T00:00:00.000Z",
                              Pattern({fmt::format("own{}.example", i), fmt::format("group{}.example", i % 7),
                                       "every.example"})));
  }
  MustPut(batch);
  // A new current version of object 5 moves it from group5 to group0: its old postings are gone.
  MustPut({Indicator(IndicatorId(5), "2024-01-03T00:00:00.000Z",
                     Pattern({"own5.example", "group0.example", "every.example"}))});
  std::vector<PostingKey> keys;
  for (int i = 0; i < 10'500; ++i) keys.push_back({kDomain, fmt::format("absent{}.example", i)});
  for (int i = 1; i <= 300; ++i) keys.push_back({kDomain, fmt::format("own{}.example", i)});
  for (int g = 0; g < 7; ++g) keys.push_back({kDomain, fmt::format("group{}.example", g)});
  keys.push_back({kDomain, "every.example"});
  keys.push_back({kIp, "every.example"});
  auto found = store_->LookupPostings(keys, /*at_most=*/50, /*first=*/3);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), keys.size());
  for (size_t k = 0; k < keys.size(); ++k) {
    if (k < 10'500 && k % 500 != 0) {  // every absent key is checked cheaply, a few against the single calls
      EXPECT_EQ(Render((*found)[k]), "0 []") << keys[k].value;
      continue;
    }
    const PostingPage page = Find(keys[k].kind, keys[k].value, 0, 3);
    PostingLookup single;
    single.count = *store_->CountPostings(keys[k].kind, keys[k].value, 50);
    single.hits = page.hits;
    single.more = page.more;
    EXPECT_EQ(Render((*found)[k]), Render(single)) << keys[k].value;
  }
  // Exact values, spot-checked, as "count [object@seq …] more": group0 has objects 7, 14, … 294 and object 5
  // (seq 301 now, first by cursor: its oid is 5); group5 has lost object 5; every.example is on all 300,
  // counted to the bound.
  auto spelled = [](const PostingLookup& f) {
    std::string out = fmt::format("{} [", f.count);
    for (const PostingHit& hit : f.hits) {
      int n = 0;
      for (int i = 1; i <= 300 && n == 0; ++i) n = hit.object.id == IndicatorId(i) ? i : 0;
      out += fmt::format("{}{}@{}", out.back() == '[' ? "" : " ", n, hit.object.seq);
    }
    return out + (f.more ? "] more" : "]");
  };
  const size_t group0 = 10'500 + 300;
  EXPECT_EQ(spelled((*found)[group0]), "43 [5@301 7@7 14@14] more");
  EXPECT_EQ(spelled((*found)[group0 + 5]), "42 [12@12 19@19 26@26] more");
  EXPECT_EQ(spelled((*found)[group0 + 7]), "50 [1@1 2@2 3@3] more");
  EXPECT_EQ(spelled((*found)[group0 + 8]), "0 []");
  EXPECT_EQ(spelled((*found)[10'500 + 4]), "1 [5@301]");
  // Afterwards a small lookup on the same store answers as before.
  auto small = store_->LookupPostings(std::vector<PostingKey>{{kDomain, "own3.example"}}, 50, 3);
  ASSERT_TRUE(small.ok()) << small.status();
  ASSERT_EQ(small->size(), 1u);
  EXPECT_EQ(spelled((*small)[0]), "1 [3@3]");
}

TEST_P(PostingsConformance, StoreWithoutExtractorMarksPostingsIncomplete) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"a.example"}))});
  EXPECT_TRUE(Complete());
  Reopen(nullptr);
  EXPECT_EQ(store_->posting_extractor(), nullptr);
  MustPut({Indicator(IndicatorId(1), "2024-01-03T00:00:00.000Z", Pattern({"b.example"}))});
  EXPECT_FALSE(Complete());
  // The replaced version's postings are gone even so: a posting never names a version that is not current.
  EXPECT_TRUE(AllPostings().empty());
  EXPECT_EQ(store_->ReindexPostings({}).code(), absl::StatusCode::kFailedPrecondition);
  Reopen(&extractor_);
  ASSERT_TRUE(store_->ReindexPostings({}).ok());
  EXPECT_TRUE(Complete());
  EXPECT_THAT(Of(IndicatorId(1)), ElementsAre(Posting{kDomain, "b.example", std::nullopt, -1}));
}

TEST_P(PostingsConformance, EncodedWithoutPostingsTheStoreExtracts) {
  const stix::Object object = Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"a.example"}));
  const std::vector<EncodedObject> rows = {Encode(object)};  // no extractor: the store's writer extracts
  ASSERT_TRUE(store_->PutEncoded(rows).ok());
  EXPECT_THAT(Of(IndicatorId(1)), ElementsAre(Posting{kDomain, "a.example", std::nullopt, -1}));
}

// Many objects and versions written incrementally, then every posting deleted and rebuilt: the same set.
TEST_P(PostingsConformance, ReindexRebuildsExactlyWhatIncrementalWritesProduce) {
  std::vector<stix::Object> batch;
  for (int i = 1; i <= 4500; ++i) {
    batch.push_back(Indicator(IndicatorId(i), "2024-01-02T00:00:00.000Z",
                              Pattern({fmt::format("h{}.example", i % 97), fmt::format("10.{}.{}.1", i % 7, i % 5),
                                       fmt::format("10.{}.0.0/16", i % 3)})));
  }
  MustPut(batch);
  batch.clear();
  for (int i = 1; i <= 4500; i += 3) {  // new current versions with other values
    batch.push_back(Indicator(IndicatorId(i), "2024-01-03T00:00:00.000Z", Pattern({fmt::format("v2-{}.example", i)})));
  }
  for (int i = 2; i <= 4500; i += 5) {  // older versions: history only
    batch.push_back(Indicator(IndicatorId(i), "2024-01-01T00:00:00.000Z", Pattern({"stale.example"})));
  }
  MustPut(batch);
  MustPut({DomainName("domain-name--33333333-3333-4333-8333-333333333333", "h1.example")});
  const auto incremental = AllPostings();
  ASSERT_GT(incremental.size(), 10000u);

  RawExec("DELETE FROM postings");
  std::vector<ReindexProgress> progress;
  ASSERT_TRUE(store_->ReindexPostings([&](const ReindexProgress& p) { progress.push_back(p); }).ok());
  EXPECT_EQ(AllPostings(), incremental);
  EXPECT_TRUE(Complete());
  ASSERT_EQ(progress.size(), 3u);  // batches of 2000
  EXPECT_EQ(progress.back().objects_done, 4501);
  EXPECT_EQ(progress.back().objects_total, 4501);
  EXPECT_EQ(progress.back().postings, static_cast<int64_t>(incremental.size()));
  // Rebuilding over existing postings changes nothing either.
  ASSERT_TRUE(store_->ReindexPostings({}).ok());
  EXPECT_EQ(AllPostings(), incremental);
}

// A database written by a binary at schema 5 (objects, no postings table) is migrated on open and rebuilt.
TEST_P(PostingsConformance, MigratedVersion5DatabaseIsIncompleteUntilReindexed) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"a.example", "192.0.2.1"})),
           Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"a.example", "192.0.2.0/24"})),
           Indicator(IndicatorId(2), "2024-01-03T00:00:00.000Z", Pattern({"b.example", "192.0.2.0/24"}))});
  const auto expected = AllPostings();
  store_.reset();
  // Back to what migration 5 left.
  RawExec("DROP TABLE postings; DELETE FROM store_meta WHERE name = 'postings_complete'; "
          "DELETE FROM schema_migrations WHERE version >= 6",
          "DROP TABLE postings; DROP TABLE store_state; "
          "DELETE FROM schema_migrations WHERE version >= 6");
  Reopen(&extractor_);
  EXPECT_EQ(store_->GetStats()->schema_version, 9);
  EXPECT_FALSE(Complete());
  EXPECT_TRUE(AllPostings().empty());
  ASSERT_TRUE(store_->ReindexPostings({}).ok());
  EXPECT_TRUE(Complete());
  EXPECT_EQ(AllPostings(), expected);
  EXPECT_THAT(*store_->PrefixLengths(kCidr), ElementsAre(24));
}

// Migration 8: a store that holds sightings was written without their reference postings, so reaching it
// marks the postings incomplete (serve then rebuilds them); a store without sightings stays complete.
TEST_P(PostingsConformance, Migration8MarksPostingsIncompleteOnlyWhenSightingsExist) {
  const std::string indicator = IndicatorId(1);
  MustPut({Indicator(indicator, "2024-01-02T00:00:00.000Z", Pattern({"a.example"}))});
  auto back_to_7 = [&] {
    store_.reset();
    RawExec("DELETE FROM schema_migrations WHERE version >= 8");
  };
  back_to_7();
  Reopen(&extractor_);
  EXPECT_EQ(store_->GetStats()->schema_version, 9);
  EXPECT_TRUE(Complete());  // no sightings: nothing to rebuild

  MustPut({testing::Sighting("sighting--11111111-1111-4111-8111-111111111111", "2024-01-03T00:00:00.000Z", indicator)});
  EXPECT_TRUE(Complete());  // written at schema 8: its postings are there
  back_to_7();
  Reopen(&extractor_);
  EXPECT_FALSE(Complete());
  ASSERT_TRUE(store_->ReindexPostings({}).ok());
  EXPECT_TRUE(Complete());
}

TEST_P(PostingsConformance, EmptyDatabaseStartsComplete) {
  EXPECT_TRUE(Complete());
  EXPECT_EQ(sqlite::LatestSchemaVersion(), 9);
}


// Commit-order visibility (docs/postgresql.md): three writers, each on a handle of its own (own connections:
// to the database they are three processes), commit batches concurrently while a reader pages through every
// version with the cursor. The reader must end with exactly the versions the writers were told were stored:
// none skipped (a version committed after the reader passed its seq would be), none twice.
TEST_P(StoreConformance, ConcurrentWritersNeverLetAPagingReaderSkip) {
  constexpr int kWriters = 3;
  constexpr int kBatches = 25;
  constexpr int kPerBatch = 40;
  std::vector<std::unique_ptr<Store>> writers;
  for (int w = 0; w < kWriters; ++w) {
    auto opened = OpenStore(location_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    writers.push_back(std::move(*opened));
  }
  std::atomic<int> running{kWriters};
  std::vector<std::vector<int64_t>> stored(kWriters);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<stix::Object> batch;
        for (int i = 0; i < kPerBatch; ++i) {
          const int n = (w * kBatches + b) * kPerBatch + i;
          batch.push_back(Indicator(IdOf(n), "2024-01-01T00:00:00.000Z"));
          // A new version of one of this writer's earlier objects, too.
          if (b > 0) batch.push_back(Indicator(IdOf(n - kPerBatch), fmt::format("2024-02-{:02}T00:00:00.000Z", b)));
        }
        auto put = writers[w]->Put(batch);
        EXPECT_TRUE(put.ok()) << put.status();
        if (!put.ok()) break;
        for (const PutResult& r : *put) {
          if (r.seq != 0) stored[w].push_back(r.seq);
        }
      }
      --running;
    });
  }
  std::vector<int64_t> seen;
  Query q;
  q.current_only = false;
  q.limit = 64;
  while (true) {
    const bool writers_done = running.load() == 0;  // read before the page: a page after it sees everything
    auto page = store_->List(q);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& o : page->objects) seen.push_back(o.seq);
    q.after_seq = page->next_after_seq;
    if (!page->more && writers_done) break;
  }
  for (auto& t : threads) t.join();

  for (size_t i = 1; i < seen.size(); ++i) ASSERT_LT(seen[i - 1], seen[i]) << "repeated or out of order at " << i;
  std::set<int64_t> expected;
  for (const auto& seqs : stored) expected.insert(seqs.begin(), seqs.end());
  EXPECT_EQ(expected.size(), static_cast<size_t>(kWriters * (kBatches * kPerBatch * 2 - kPerBatch)));
  const std::set<int64_t> seen_set(seen.begin(), seen.end());
  EXPECT_EQ(seen_set, expected);
  EXPECT_EQ(seen.size(), expected.size());
  auto last = store_->LastSeq();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, *expected.rbegin());
}

}  // namespace
}  // namespace concord::store
