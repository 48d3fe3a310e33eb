// Audit log conformance: the AuditLog behaviour (audit/audit.h) on every backend — SQLite (a file beside the
// store's) and PostgreSQL (the store's database on a real server started by scripts/pg-test; skipped when its
// binaries are absent): the chain, its verification against tampering done directly in SQL (as someone
// holding the database would), filters and paging, read-only opening, appends from many threads and from
// several processes. SQLite-only matters stay in audit_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "audit/audit.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "fmt/format.h"
#include "store/store.h"
#include "store/testing/postgres_server.h"

namespace concord::audit {
namespace {

using ::testing::HasSubstr;
using store::testing::PostgresServer;

[[maybe_unused]] ::testing::Environment* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new store::testing::PostgresServerEnvironment);

class FixedClock final : public Clock {
 public:
  Timestamp Now() const override { return Timestamp::FromUnixMillis(now_ms.load()); }
  std::atomic<int64_t> now_ms{1'700'000'000'000};
};

Event ReadEvent(int n, std::string user = "alice") {
  Event e;
  e.action = Action::kRead;
  e.user = std::move(user);
  e.org = "identity--aaaaaaaa-0000-4000-8000-000000000001";
  e.key_id = "0123456789abcdef";
  e.object_ids = {fmt::format("indicator--00000000-0000-4000-8000-{:012d}", n)};
  e.justification = "case 2024-17";
  e.remote_address = "192.0.2.1";
  e.detail = boost::json::object{{"tlp", "green"}, {"n", n}};
  return e;
}

enum class Backend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// A fresh audit log of the backend under test for each test: beside a temporary SQLite store path, or in a
// database of its own on the binary's PostgreSQL server.
class AuditConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (pg()) {
      PostgresServer& server = PostgresServer::Get();
      if (!server.available()) GTEST_SKIP() << server.skip_reason();
      location_ = server.CreateDatabase();
      ASSERT_FALSE(location_.empty());
    } else {
      std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "audit_conformance_XXXXXX").string();
      ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
      dir_ = tmpl;
      path_ = dir_ / "concord.db";
      location_ = path_.string();
    }
    Open();
  }
  void TearDown() override {
    log_.reset();
    if (pg()) {
      PostgresServer::Get().DropDatabase(location_);
    } else if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }
  bool pg() const { return GetParam() == Backend::kPostgres; }

  void Open() {
    auto log = OpenAuditLog(location_, {.clock = &clock_});
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }
  void AppendN(int n) {
    for (int i = 1; i <= n; ++i) {
      clock_.now_ms += 1;
      ASSERT_TRUE(log_->Append(ReadEvent(i, i % 2 ? "alice" : "bob")).ok());
    }
  }
  // Tampering as an attacker with the database would: the append-only triggers off, then plain SQL.
  void Sql(const std::string& sql) {
    if (pg()) {
      EXPECT_EQ(store::testing::PgExec(location_, "ALTER TABLE audit_log DISABLE TRIGGER USER; " + sql), "") << sql;
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* error = nullptr;
    const std::string all =
        "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete; " + sql;
    const int rc = sqlite3_exec(db, all.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }
  Verification MustVerify(const VerifyOptions& options = {}) {
    auto v = log_->Verify(options);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : Verification{};
  }
  // The SQLite audit log's own file beside the store's.
  std::string AuditFile() const {
    auto p = AuditPathOf(path_.string());
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : std::string();
  }

  FixedClock clock_;
  std::filesystem::path dir_;
  std::filesystem::path path_;
  std::string location_;
  std::unique_ptr<AuditLog> log_;
};

INSTANTIATE_TEST_SUITE_P(Backends, AuditConformance, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         BackendName);

TEST_P(AuditConformance, EntriesChainFromGenesis) {
  auto first = log_->Append(ReadEvent(1));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->seq, 1);
  EXPECT_EQ(first->prev_hash, kGenesisHash);
  EXPECT_EQ(first->hash, EntryHash(*first));
  EXPECT_EQ(first->time_micros, clock_.Now().UnixMicros());
  auto batch = log_->AppendBatch({ReadEvent(2), ReadEvent(3)});
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ((*batch)[0].seq, 2);
  EXPECT_EQ((*batch)[0].prev_hash, first->hash);
  EXPECT_EQ((*batch)[1].prev_hash, (*batch)[0].hash);

  Verification v = MustVerify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.entries, 3);
  EXPECT_EQ(v.head.seq, 3);
  EXPECT_EQ(v.head.hash, (*batch)[1].hash);
  auto head = log_->GetHead();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->hash, v.head.hash);
}

TEST_P(AuditConformance, EmptyLogIsIntact) {
  Verification v = MustVerify();
  EXPECT_TRUE(v.intact);
  EXPECT_EQ(v.entries, 0);
  EXPECT_EQ(v.head.hash, kGenesisHash);
}

TEST_P(AuditConformance, TimeNeverRunsBackwards) {
  AppendN(2);
  clock_.now_ms -= 60'000;
  auto e = log_->Append(ReadEvent(3));
  ASSERT_TRUE(e.ok());
  auto page = log_->List({.limit = 10});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(e->time_micros, page->entries[1].time_micros);
}

TEST_P(AuditConformance, ChainSurvivesReopening) {
  AppendN(3);
  log_.reset();
  Open();
  auto e = log_->Append(ReadEvent(4));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->seq, 4);
  EXPECT_TRUE(MustVerify().intact);
}

TEST_P(AuditConformance, TriggersRefuseAccidentalUpdates) {
  AppendN(1);
  if (pg()) {
    EXPECT_THAT(store::testing::PgExec(location_, "UPDATE audit_log SET user_name = 'x'"), HasSubstr("append-only"));
    EXPECT_THAT(store::testing::PgExec(location_, "DELETE FROM audit_log"), HasSubstr("append-only"));
  } else {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    EXPECT_NE(sqlite3_exec(db, "UPDATE audit_log SET user_name = 'x'", nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit_log", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_TRUE(MustVerify().intact);
}

TEST_P(AuditConformance, VerifyFindsAnAlteredField) {
  AppendN(5);
  Sql("UPDATE audit_log SET user_name = 'mallory' WHERE seq = 3");
  Verification v = MustVerify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.bad_seq, 3);
  EXPECT_EQ(v.problem, Problem::kAltered);
  EXPECT_EQ(v.entries, 2);
}

TEST_P(AuditConformance, VerifyFindsAnAlteredDetail) {
  AppendN(5);
  Sql(R"(UPDATE audit_log SET detail = '{"n":4,"tlp":"clear"}' WHERE seq = 4)");
  Verification v = MustVerify();
  EXPECT_EQ(v.bad_seq, 4);
  EXPECT_EQ(v.problem, Problem::kAltered);
}

TEST_P(AuditConformance, VerifyFindsAnEntryRewrittenAndRehashed) {
  AppendN(5);
  // Recompute entry 3's hash after altering it: entry 4 still names the old hash.
  auto page = log_->List({.limit = 10});
  ASSERT_TRUE(page.ok());
  Entry forged = page->entries[2];
  forged.event.user = "mallory";
  forged.hash = EntryHash(forged);
  Sql(fmt::format("UPDATE audit_log SET user_name = 'mallory', hash = '{}' WHERE seq = 3", forged.hash));
  Verification v = MustVerify();
  EXPECT_EQ(v.bad_seq, 3);
  EXPECT_EQ(v.problem, Problem::kAltered);
  EXPECT_EQ(v.detail, "entry 3 was rewritten: its hash is not the prev_hash of entry 4");
}

TEST_P(AuditConformance, VerifyFindsARemovedEntry) {
  AppendN(5);
  Sql("DELETE FROM audit_log WHERE seq = 3");
  Verification v = MustVerify();
  EXPECT_EQ(v.bad_seq, 3);
  EXPECT_EQ(v.problem, Problem::kRemoved);
  EXPECT_EQ(v.detail, "entry 3 is missing");
}

TEST_P(AuditConformance, VerifyFindsARemovedFirstEntry) {
  AppendN(3);
  Sql("DELETE FROM audit_log WHERE seq = 1");
  Verification v = MustVerify();
  EXPECT_EQ(v.bad_seq, 1);
  EXPECT_EQ(v.problem, Problem::kRemoved);
}

TEST_P(AuditConformance, VerifyFindsARemovalHiddenByRenumbering) {
  AppendN(6);
  Sql("DELETE FROM audit_log WHERE seq = 3; UPDATE audit_log SET seq = seq - 1 WHERE seq > 3");
  Verification v = MustVerify();
  EXPECT_EQ(v.bad_seq, 3);
  EXPECT_EQ(v.problem, Problem::kRemoved) << v.detail;
}

TEST_P(AuditConformance, VerifyFindsSwappedEntries) {
  AppendN(6);
  // Swap the content (everything but seq) of entries 3 and 4.
  const std::string cols = "time_us, action, user_name, org_id, key_id, object_ids, outcome, justification, "
                           "remote_address, detail, prev_hash, hash";
  Sql(fmt::format("CREATE TABLE tmp AS SELECT seq, {0} FROM audit_log WHERE seq IN (3, 4);"
                  "DELETE FROM audit_log WHERE seq IN (3, 4);"
                  "INSERT INTO audit_log (seq, {0}) SELECT 7 - seq, {0} FROM tmp;",
                  cols));
  Verification v = MustVerify();
  EXPECT_EQ(v.bad_seq, 3);
  EXPECT_EQ(v.problem, Problem::kReordered) << v.detail;
  EXPECT_EQ(v.detail, "entry 3 holds the content of entry 4");
}

TEST_P(AuditConformance, TruncationNeedsAnAnchor) {
  AppendN(5);
  const Head anchor = MustVerify().head;
  Sql("DELETE FROM audit_log WHERE seq >= 4");
  EXPECT_TRUE(MustVerify().intact);  // a shorter valid chain: only an external anchor tells
  Verification v = MustVerify({.anchor = anchor});
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.bad_seq, 4);
  EXPECT_EQ(v.problem, Problem::kRemoved);
}

TEST_P(AuditConformance, AnchorFindsARebuiltChain) {
  AppendN(5);
  const Head anchor = MustVerify().head;
  // Rebuild entry 5 entirely (altered and re-hashed, nothing after it to betray it).
  auto page = log_->List({.limit = 10});
  Entry forged = page->entries[4];
  forged.event.justification = "none";
  forged.hash = EntryHash(forged);
  Sql(fmt::format("UPDATE audit_log SET justification = 'none', hash = '{}' WHERE seq = 5", forged.hash));
  EXPECT_TRUE(MustVerify().intact);
  Verification v = MustVerify({.anchor = anchor});
  EXPECT_EQ(v.bad_seq, 5);
  EXPECT_EQ(v.problem, Problem::kAltered);
}

TEST_P(AuditConformance, ListFiltersAndPages) {
  AppendN(10);  // odd n: alice, even n: bob
  Event w = ReadEvent(3, "carol");
  w.action = Action::kWrite;
  w.org = "identity--bbbbbbbb-0000-4000-8000-000000000002";
  ASSERT_TRUE(log_->Append(w).ok());

  auto by_user = log_->List({.user = "alice", .limit = 100});
  ASSERT_TRUE(by_user.ok());
  EXPECT_EQ(by_user->entries.size(), 5u);
  auto by_action = log_->List({.action = Action::kWrite, .limit = 100});
  ASSERT_EQ(by_action->entries.size(), 1u);
  EXPECT_EQ(by_action->entries[0].event.user, "carol");
  auto by_org = log_->List({.org = "identity--bbbbbbbb-0000-4000-8000-000000000002", .limit = 100});
  EXPECT_EQ(by_org->entries.size(), 1u);
  auto by_object = log_->List({.object_id = "indicator--00000000-0000-4000-8000-000000000003", .limit = 100});
  ASSERT_EQ(by_object->entries.size(), 2u);
  EXPECT_EQ(by_object->entries[0].seq, 3);
  EXPECT_EQ(by_object->entries[1].seq, 11);
  // Entries 1..10 at 1 ms steps from now_ms+1.
  const Timestamp t0 = Timestamp::FromUnixMillis(1'700'000'000'000);
  auto by_time = log_->List({.since = Timestamp::FromUnixMillis(1'700'000'000'003),
                             .until = Timestamp::FromUnixMillis(1'700'000'000'006),
                             .limit = 100});
  ASSERT_EQ(by_time->entries.size(), 3u);
  EXPECT_EQ(by_time->entries[0].seq, 3);
  (void)t0;

  std::vector<int64_t> seqs;
  Filter f{.limit = 4};
  for (int pages = 0; pages < 10; ++pages) {
    auto page = log_->List(f);
    ASSERT_TRUE(page.ok());
    for (const auto& e : page->entries) seqs.push_back(e.seq);
    if (!page->more) break;
    f.after_seq = page->next_after_seq;
  }
  EXPECT_EQ(seqs, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(log_->List({.limit = 0}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(AuditConformance, FloatsInDetailAreRefused) {
  Event e = ReadEvent(1);
  e.detail["ratio"] = 0.5;
  auto r = log_->Append(e);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find("detail.ratio"), std::string::npos) << r.status();
  EXPECT_TRUE(log_->Append(ReadEvent(1)).ok());  // nothing was queued
}

TEST_P(AuditConformance, ReadOnlyLogListsButDoesNotAppend) {
  AppendN(2);
  auto ro = OpenAuditLog(location_, {.read_only = true});
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_EQ((*ro)->Append(ReadEvent(1)).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*ro)->Verify()->intact);
  EXPECT_EQ(OpenAuditLog(location_ + (pg() ? "_missing" : ".missing"), {.read_only = true}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(AuditConformance, ConcurrentAppendsKeepOneChain) {
  constexpr int kThreads = 8;
  constexpr int kEach = 250;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!log_->Append(ReadEvent(t * kEach + i, fmt::format("user{}", t))).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  Verification v = MustVerify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.entries, kThreads * kEach);
  for (int t = 0; t < kThreads; ++t) {
    auto mine = log_->List({.user = fmt::format("user{}", t), .limit = 1000});
    EXPECT_EQ(mine->entries.size(), static_cast<size_t>(kEach));
  }
}

TEST_P(AuditConformance, SeveralProcessesKeepOneChain) {
  log_.reset();
  constexpr int kProcesses = 3;
  constexpr int kEach = 200;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto log = OpenAuditLog(location_);
      int code = log.ok() ? 0 : 3;
      for (int i = 0; code == 0 && i < kEach; ++i) {
        if (!(*log)->Append(ReadEvent(i, fmt::format("proc{}", p))).ok()) code = 4;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  Open();
  Verification v = MustVerify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.entries, kProcesses * kEach);
  for (int p = 0; p < kProcesses; ++p) {
    auto mine = log_->List({.user = fmt::format("proc{}", p), .limit = 1000});
    ASSERT_TRUE(mine.ok()) << mine.status();
    EXPECT_EQ(mine->entries.size(), static_cast<size_t>(kEach));
  }
}

// Appends go on while another (read-only) handle walks the chain: every walk sees an intact prefix.
TEST_P(AuditConformance, VerifyDuringAppendsSeesAnIntactPrefix) {
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 300; ++i) EXPECT_TRUE(log_->AppendBatch({ReadEvent(i), ReadEvent(i + 1000)}).ok());
    done = true;
  });
  auto other = OpenAuditLog(location_, {.read_only = true});
  ASSERT_TRUE(other.ok()) << other.status();
  int walks = 0;
  int64_t last = 0;
  while (!done || walks == 0) {
    auto v = (*other)->Verify();
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_TRUE(v->intact) << v->detail;
    EXPECT_GE(v->entries, last);
    last = v->entries;
    ++walks;
  }
  writer.join();
  EXPECT_EQ(MustVerify().entries, 600);
}

// ---- PostgreSQL only ----------------------------------------------------------------------------------

class PostgresAuditLogTest : public AuditConformance {};
INSTANTIATE_TEST_SUITE_P(Postgres, PostgresAuditLogTest, ::testing::Values(Backend::kPostgres), BackendName);

// The log is in the store's database: the store and the log open one database in either order, and a
// read-only opener of a database nothing has written to finds no log.
TEST_P(PostgresAuditLogTest, LivesInTheStoresDatabase) {
  AppendN(2);
  auto store = store::OpenStore(location_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(store::testing::PgInt(location_, "SELECT count(*) FROM audit_log"), 2);
  EXPECT_EQ(store::testing::PgInt(location_, "SELECT count(*) FROM audit_objects"), 2);
  const std::string empty = PostgresServer::Get().CreateDatabase();
  ASSERT_FALSE(empty.empty());
  auto none = OpenAuditLog(empty, {.read_only = true});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound) << none.status();
  auto created = OpenAuditLog(empty);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE((*created)->Append(ReadEvent(1)).ok());
  created->reset();
  EXPECT_TRUE(store::OpenStore(empty).ok());
  PostgresServer::Get().DropDatabase(empty);
}

// An event naming one object twice indexes it once; the object filter pages exactly.
TEST_P(PostgresAuditLogTest, ObjectIndexIsWrittenWithTheEntry) {
  Event e = ReadEvent(7);
  e.object_ids.push_back(e.object_ids.front());
  ASSERT_TRUE(log_->Append(e).ok());
  AppendN(8);
  auto page = log_->List({.object_id = "indicator--00000000-0000-4000-8000-000000000007", .limit = 1});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].seq, 1);
  EXPECT_TRUE(page->more);
  auto next = log_->List({.object_id = "indicator--00000000-0000-4000-8000-000000000007",
                          .after_seq = page->next_after_seq, .limit = 1});
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->entries.size(), 1u);
  EXPECT_EQ(next->entries[0].seq, 8);
  EXPECT_FALSE(next->more);
}

// A commit the server fails (here: a conflicting row planted at the next seq) fails every append of its batch,
// leaves no gap, and the log goes on once the obstacle is gone.
TEST_P(PostgresAuditLogTest, FailedCommitLeavesNoGap) {
  AppendN(2);
  Sql("INSERT INTO audit_objects (object_id, seq) VALUES ('indicator--00000000-0000-4000-8000-000000000003', 3)");
  Event e = ReadEvent(3);
  auto failed = log_->Append(e);
  EXPECT_FALSE(failed.ok());
  Sql("DELETE FROM audit_objects WHERE seq = 3");
  auto ok = log_->Append(e);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->seq, 3);
  EXPECT_TRUE(MustVerify().intact);
}

// The server dropping the committer's connection fails the batch in flight at most; the next reconnects.
TEST_P(PostgresAuditLogTest, DroppedConnectionsAreReplaced) {
  AppendN(2);
  const std::string name = location_.substr(location_.rfind('/') + 1);
  EXPECT_EQ(store::testing::PgExec(location_, fmt::format("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                                          "WHERE datname = '{}' AND pid <> pg_backend_pid()",
                                                          name)),
            "");
  const std::string others =
      fmt::format("SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()", name);
  for (int i = 0; i < 500 && store::testing::PgInt(location_, others) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto first = log_->Append(ReadEvent(3));
  if (!first.ok()) {
    EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable) << first.status();
  }
  ASSERT_TRUE(log_->Append(ReadEvent(4)).ok());
  auto head = log_->GetHead();
  if (!head.ok()) head = log_->GetHead();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->seq, first.ok() ? 4 : 3);
  EXPECT_TRUE(MustVerify().intact);
}

}  // namespace
}  // namespace concord::audit
