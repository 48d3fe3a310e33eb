// The SQLite audit log's own matters: the canonical encoding, the audit file beside the store's, the object
// index written in runs, entries moved from the store's file. The AuditLog behaviour on both backends (the
// chain, verification against tampering, filters, appends from many threads and processes) is in
// audit_conformance_test.cc.
#include "audit/audit.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "fmt/format.h"
#include "store/store.h"

namespace concord::audit {
namespace {

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

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("concord_audit_{}_{}.db", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Remove();
    Open();
  }
  void TearDown() override {
    log_.reset();
    Remove();
  }
  void Remove() {
    for (const std::string& file : {path_.string(), AuditFile()}) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file + suffix);
    }
  }
  void Open() {
    auto log = OpenAuditLog(path_.string(), {.clock = &clock_});
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }
  void AppendN(int n) {
    for (int i = 1; i <= n; ++i) {
      clock_.now_ms += 1;
      ASSERT_TRUE(log_->Append(ReadEvent(i, i % 2 ? "alice" : "bob")).ok());
    }
  }
  // Tampering as an attacker with the file would: triggers off, then plain SQL.
  void Sql(const std::string& sql) {
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

  FixedClock clock_;
  // The audit log's own file beside the store's.
  std::string AuditFile() const {
    auto p = AuditPathOf(path_.string());
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : std::string();
  }

  std::filesystem::path path_;
  std::unique_ptr<AuditLog> log_;
};

TEST(AuditEncoding, CanonicalFormIsTheDocumentedJcsObject) {
  Entry e;
  e.seq = 1;
  e.time_micros = 1'700'000'000'123'456;
  e.event = ReadEvent(7);
  e.prev_hash = std::string(kGenesisHash);
  EXPECT_EQ(CanonicalEntry(e),
            R"({"action":"read","detail":{"n":7,"tlp":"green"},"justification":"case 2024-17","key_id":"0123456789abcdef",)"
            R"("object_ids":["indicator--00000000-0000-4000-8000-000000000007"],)"
            R"("org":"identity--aaaaaaaa-0000-4000-8000-000000000001","outcome":"ok",)"
            R"("prev_hash":"0000000000000000000000000000000000000000000000000000000000000000",)"
            R"("remote_address":"192.0.2.1","seq":1,"time_us":1700000000123456,"user":"alice"})");
  EXPECT_EQ(EntryHash(e), Sha256Hex(CanonicalEntry(e)));
  EXPECT_EQ(ActionName(Action::kAuthFailure), "auth-failure");
  EXPECT_EQ(ParseAction("key-use"), Action::kKeyUse);
  EXPECT_EQ(ParseAction("nope"), std::nullopt);
}

// CanonicalEntry writes the members itself; it must give exactly the JCS bytes of the hashed members as a JSON
// document (what docs/audit.md's verifier recomputes), escapes and non-ASCII text included.
TEST(AuditEncoding, CanonicalEntryIsTheJcsOfTheHashedMembers) {
  Entry e;
  e.seq = 9'007'199'254'740'991;
  e.time_micros = -5;
  e.event.action = Action::kExport;
  e.event.user = "\"quoted\" \\ back\x01\x1f\t\n\r\b\f";
  e.event.org = "identité ✓ 𝄞";
  e.event.key_id = "";
  e.event.object_ids = {"indicator--a", "x\"y", "", "\x7f del", "é"};
  e.event.outcome = "partial";
  e.event.justification = std::string("nul\0inside", 11);
  e.event.remote_address = "::1";
  e.event.detail = boost::json::parse(R"({"z":1,"a":{"é":[true,null,-3],"e":"\u0001"},"𝄞":"","\uffff":2})").as_object();
  e.prev_hash = std::string(kGenesisHash);
  boost::json::object members = EntryJson(e);
  members.erase("time");
  members.erase("hash");
  EXPECT_EQ(CanonicalEntry(e), CanonicalJson(members));
  e.event.object_ids.clear();
  e.event.detail = {};
  members = EntryJson(e);
  members.erase("time");
  members.erase("hash");
  EXPECT_EQ(CanonicalEntry(e), CanonicalJson(members));
}

// The object index is written in runs after the fact; answers by object are the same before, during and
// after, and for entries indexed the old way (audit_objects, before migration 6).
TEST_F(AuditLogTest, ObjectFilterIsExactWhateverTheIndexHolds) {
  log_.reset();
  auto opened = OpenAuditLog(path_.string(), {.clock = &clock_, .index_run_pairs = 1});
  ASSERT_TRUE(opened.ok()) << opened.status();
  log_ = std::move(*opened);
  AppendN(10);
  Event w = ReadEvent(3, "carol");
  w.object_ids.push_back("indicator--00000000-0000-4000-8000-000000000005");
  ASSERT_TRUE(log_->Append(w).ok());
  auto seqs_of = [&](int n) {
    std::vector<int64_t> seqs;
    auto page = log_->List({.object_id = fmt::format("indicator--00000000-0000-4000-8000-{:012}", n), .limit = 100});
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const auto& e : page->entries) seqs.push_back(e.seq);
    }
    return seqs;
  };
  EXPECT_EQ(seqs_of(3), (std::vector<int64_t>{3, 11}));
  EXPECT_EQ(seqs_of(5), (std::vector<int64_t>{5, 11}));
  auto query_int = [&](const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
    const int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  };
  auto mark = [&] { return query_int("SELECT value FROM audit_meta WHERE name = 'objects_seq'"); };
  auto wait_for_mark = [&](int64_t want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (mark() != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return mark();
  };
  // An idle log writes its runs: the mark reaches the head.
  ASSERT_EQ(wait_for_mark(11), 11);
  auto query_text = [&](const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
    std::string v = sqlite3_step(st) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "";
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  };
  // Every (object, entry) pair once, in blocks (one run per append here: index_run_pairs = 1).
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_blocks b, json_each(b.pairs) o, json_each(o.value) s"), 12);
  EXPECT_EQ(query_text("SELECT group_concat(s.value) FROM audit_object_blocks b, json_each(b.pairs) o, json_each(o.value) s "
                       "WHERE o.key = 'indicator--00000000-0000-4000-8000-000000000005'"),
            "5,11");
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_index"), 0);
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_objects"), 0);
  EXPECT_EQ(seqs_of(5), (std::vector<int64_t>{5, 11}));
  EXPECT_EQ(query_int("SELECT value FROM audit_meta WHERE name = 'version'"), 2);
  // Entries 1-4 indexed the oldest way (audit_objects), 5-8 in a run of one row per pair (as a Concord before
  // blocks wrote it), 9-11 not at all: still exact, with paging.
  Sql("INSERT INTO audit_objects (object_id, seq) SELECT o.key, s.value FROM audit_object_blocks b, "
      "json_each(b.pairs) o, json_each(o.value) s WHERE s.value <= 4; "
      "INSERT INTO audit_object_index (run, object_id, seq) SELECT 5, o.key, s.value FROM audit_object_blocks b, "
      "json_each(b.pairs) o, json_each(o.value) s WHERE s.value BETWEEN 5 AND 8; "
      "DELETE FROM audit_object_blocks; DELETE FROM audit_object_runs; "
      "INSERT INTO audit_object_runs (run, last_seq) VALUES (5, 8); "
      "UPDATE audit_meta SET value = 8 WHERE name = 'objects_seq'");
  EXPECT_EQ(seqs_of(3), (std::vector<int64_t>{3, 11}));
  EXPECT_EQ(seqs_of(5), (std::vector<int64_t>{5, 11}));
  EXPECT_EQ(seqs_of(7), (std::vector<int64_t>{7}));
  EXPECT_EQ(seqs_of(10), (std::vector<int64_t>{10}));
  auto first = log_->List({.object_id = "indicator--00000000-0000-4000-8000-000000000005", .limit = 1});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->entries.size(), 1u);
  EXPECT_TRUE(first->more);
  auto second = log_->List({.object_id = "indicator--00000000-0000-4000-8000-000000000005",
                            .after_seq = first->next_after_seq, .limit = 1});
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->entries.size(), 1u);
  EXPECT_EQ(second->entries[0].seq, 11);
  EXPECT_FALSE(second->more);
  // A block left by an attempt that did not finish (it names entry 12 for object 2, wrongly) is replaced
  // when the run under its number is written.
  Sql("INSERT INTO audit_object_blocks (run, first_id, pairs) VALUES "
      "(9, 'indicator--00000000-0000-4000-8000-000000000002', '{\"indicator--00000000-0000-4000-8000-000000000002\":[12]}')");
  // The next idle moment writes one run from the mark on: oldest index, pair rows, blocks and tail all
  // answer together.
  AppendN(1);
  ASSERT_EQ(wait_for_mark(12), 12);
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_runs WHERE run = 9 AND last_seq = 12"), 1);
  EXPECT_EQ(seqs_of(3), (std::vector<int64_t>{3, 11}));
  EXPECT_EQ(seqs_of(5), (std::vector<int64_t>{5, 11}));
  EXPECT_EQ(seqs_of(7), (std::vector<int64_t>{7}));
  EXPECT_EQ(seqs_of(1), (std::vector<int64_t>{1, 12}));
  EXPECT_EQ(seqs_of(2), (std::vector<int64_t>{2}));
  // A run larger than one chunk (kRunChunkBytes, 256 KiB, per transaction: here ~285 KB in 40 blocks of 128
  // pairs, the last of 8) is registered only once it is all written.
  std::vector<Event> many;
  for (int i = 0; i < 5000; ++i) many.push_back(ReadEvent(10000 + i));
  ASSERT_TRUE(log_->AppendBatch(std::move(many)).ok());
  ASSERT_EQ(wait_for_mark(5012), 5012);
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_blocks WHERE run = 13"), 40);
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_blocks b, json_each(b.pairs) o, json_each(o.value) s "
                      "WHERE b.run = 13"),
            5000);
  EXPECT_EQ(query_int("SELECT last_seq FROM audit_object_runs WHERE run = 13"), 5012);
  EXPECT_EQ(seqs_of(12499), (std::vector<int64_t>{2512}));
  EXPECT_EQ(seqs_of(14999), (std::vector<int64_t>{5012}));
  EXPECT_EQ(seqs_of(10000), (std::vector<int64_t>{13}));
  EXPECT_TRUE(MustVerify().intact);
}

// Ids that need JSON escapes take the slow paths (stored through a JSON document, read back by the parser)
// and are found through their block like any other.
TEST_F(AuditLogTest, IdsWithEscapesAreIndexedToo) {
  log_.reset();
  auto opened = OpenAuditLog(path_.string(), {.clock = &clock_, .index_run_pairs = 1});
  ASSERT_TRUE(opened.ok()) << opened.status();
  log_ = std::move(*opened);
  Event e = ReadEvent(1);
  e.object_ids = {"x\"y", "back\\slash", "tab\there", "indicator--00000000-0000-4000-8000-000000000001"};
  ASSERT_TRUE(log_->Append(e).ok());
  auto found = [&](const std::string& id) {
    auto listed = log_->List({.object_id = id, .limit = 10});
    EXPECT_TRUE(listed.ok()) << listed.status();
    return listed.ok() && listed->entries.size() == 1 && listed->entries[0].event.object_ids == e.object_ids;
  };
  auto mark = [&] {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT value FROM audit_meta WHERE name = 'objects_seq'", -1, &st, nullptr);
    const int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (mark() != 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(mark(), 1);  // the entry is in a block now, no longer found by the scan past the mark
  {
    // One block: each object once with its entries, ids ascending (bytewise), escaped as JSON strings.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT first_id, pairs, (SELECT count(*) FROM audit_object_blocks) FROM audit_object_blocks",
                       -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))), "back\\slash");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))),
              R"({"back\\slash":[1],"indicator--00000000-0000-4000-8000-000000000001":[1],"tab\there":[1],"x\"y":[1]})");
    EXPECT_EQ(sqlite3_column_int64(st, 2), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  for (const std::string& id : e.object_ids) EXPECT_TRUE(found(id)) << id;
  EXPECT_FALSE(found("x"));
  EXPECT_TRUE(MustVerify().intact);
}

TEST(AuditPath, BesideTheStore) {
  EXPECT_EQ(*AuditPathOf("var/concord.db"), "var/concord.audit.db");
  EXPECT_EQ(*AuditPathOf("sqlite:/srv/node.sqlite"), "/srv/node.sqlite.audit");
  EXPECT_EQ(*AuditPathOf("sqlite::memory:"), ":memory:");
  // A PostgreSQL store keeps its audit log in its database.
  EXPECT_EQ(AuditPathOf("postgresql://db.example/concord").status().code(), absl::StatusCode::kFailedPrecondition);
}

// Entries an older Concord kept in the store's own file move to the audit file on first open, unchanged.
TEST_F(AuditLogTest, EntriesInTheStoreFileMoveToTheAuditFile) {
  AppendN(3);
  log_.reset();
  // Put the three entries where the previous layout kept them (the store's migration 3 tables) and remove
  // the audit file, as if this store had never had one.
  {
    auto store = store::OpenStore(path_.string());
    ASSERT_TRUE(store.ok()) << store.status();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  const std::string copy = "ATTACH DATABASE '" + AuditFile() + "' AS a; INSERT INTO audit_log SELECT * FROM a.audit_log; "
                           "INSERT INTO audit_objects VALUES ('indicator--00000000-0000-4000-8000-000000000002', 2); "
                           "DETACH DATABASE a";
  ASSERT_EQ(sqlite3_exec(db, copy.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  auto before = std::filesystem::file_size(path_);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(AuditFile() + suffix);
  Open();
  auto v = MustVerify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.entries, 3);
  auto by_object = log_->List({.object_id = "indicator--00000000-0000-4000-8000-000000000002", .limit = 10});
  ASSERT_TRUE(by_object.ok());
  ASSERT_EQ(by_object->entries.size(), 1u);
  EXPECT_EQ(by_object->entries[0].seq, 2);
  // The chain goes on from the moved head; reopening moves nothing twice.
  AppendN(1);
  log_.reset();
  Open();
  v = MustVerify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.entries, 4);
  EXPECT_GE(std::filesystem::file_size(path_), before);
}

// A measurement, not a check: run with --gtest_also_run_disabled_tests.
TEST_F(AuditLogTest, DISABLED_AppendThroughput) {
  for (int threads : {1, 4, 16, 64}) {
    constexpr int kTotal = 20'000;
    const int each = kTotal / threads;
    std::vector<std::thread> pool;
    const auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int i = 0; i < each; ++i) (void)log_->Append(ReadEvent(t * each + i));
      });
    }
    for (auto& t : pool) t.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%2d threads: %.0f appends/s\n", threads, each * threads / secs);
  }
  const auto start = std::chrono::steady_clock::now();
  Verification v = MustVerify();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("verify: %lld entries in %.2f s (%.0f entries/s)\n", static_cast<long long>(v.entries), secs,
              static_cast<double>(v.entries) / secs);
}

}  // namespace
}  // namespace concord::audit
