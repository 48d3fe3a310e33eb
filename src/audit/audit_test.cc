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
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "audit/chain.h"
#include "audit/sqlite_audit_log.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/packed_ids.h"
#include "fmt/format.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
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
    ASSERT_TRUE(SqliteAuditLog::AddSqlFunctions(db).ok());
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
  // The first column of the first row of `sql` as text, read on a connection of its own; "" when there is none.
  std::string QueryText(const std::string& sql) const {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    EXPECT_TRUE(SqliteAuditLog::AddSqlFunctions(db).ok());
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    std::string v;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
      v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  }
  // The seqs of the entries that name indicator n (ReadEvent's ids), from one List page of 100.
  std::vector<int64_t> SeqsNaming(int n) {
    std::vector<int64_t> seqs;
    auto page = log_->List({.object_id = fmt::format("indicator--00000000-0000-4000-8000-{:012d}", n), .limit = 100});
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const Entry& e : page->entries) seqs.push_back(e.seq);
    }
    return seqs;
  }
  // The same as an integer; -1 when there is none.
  int64_t QueryInt(const std::string& sql) const {
    const std::string v = QueryText(sql);
    return v.empty() ? -1 : std::stoll(v);
  }
  // The object index's mark (audit_meta 'objects_seq'); -1 when unreadable.
  int64_t IndexMark() const { return QueryInt("SELECT value FROM audit_meta WHERE name = 'objects_seq'"); }
  // Polls IndexMark until it is `want` or `wait` has passed (the indexer works on its own thread); returns
  // the last mark read.
  int64_t WaitForIndexMark(int64_t want, std::chrono::seconds wait) const {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (IndexMark() != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return IndexMark();
  }

  // Reopens the log with a run per entry and the given merge fan-in (0: no merges).
  void ReopenForMerges(int fan_in) {
    log_.reset();
    auto opened = OpenAuditLog(path_.string(), {.clock = &clock_, .index_run_pairs = 1, .merge_fan_in = fan_in});
    ASSERT_TRUE(opened.ok()) << opened.status();
    log_ = std::move(*opened);
  }
  // The registered runs, "run-last_seq:level" in run order.
  std::string Runs() const {
    return QueryText("SELECT group_concat(run || '-' || last_seq || ':' || level, ' ') FROM "
                     "(SELECT * FROM audit_object_runs ORDER BY run)");
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
  auto seqs_of = [&](int n) { return SeqsNaming(n); };
  EXPECT_EQ(seqs_of(3), (std::vector<int64_t>{3, 11}));
  EXPECT_EQ(seqs_of(5), (std::vector<int64_t>{5, 11}));
  auto wait_for_mark = [&](int64_t want) { return WaitForIndexMark(want, std::chrono::seconds(10)); };
  // An idle log writes its runs: the mark reaches the head.
  ASSERT_EQ(wait_for_mark(11), 11);
  // Every (object, entry) pair once, in blocks (one run per append here: index_run_pairs = 1), and every
  // entry's user and organisation (file version 3).
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_object_blocks b, json_each(concord_block_json(b.pairs, b.run)) o, json_each(o.value) s "
                      "WHERE o.key NOT LIKE ' %'"),
            12);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_object_blocks b, json_each(concord_block_json(b.pairs, b.run)) o, json_each(o.value) s "
                      "WHERE o.key LIKE ' user:%' OR o.key LIKE ' org:%'"),
            22);
  EXPECT_EQ(QueryText("SELECT group_concat(s.value) FROM audit_object_blocks b, json_each(concord_block_json(b.pairs, b.run)) o, json_each(o.value) s "
                       "WHERE o.key = 'indicator--00000000-0000-4000-8000-000000000005'"),
            "5,11");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_object_index"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_objects"), 0);
  EXPECT_EQ(seqs_of(5), (std::vector<int64_t>{5, 11}));
  EXPECT_EQ(QueryInt("SELECT value FROM audit_meta WHERE name = 'version'"), 5);
  // Entries 1-4 indexed the oldest way (audit_objects), 5-8 in a run of one row per pair (as a Concord before
  // blocks wrote it), 9-11 not at all: still exact, with paging.
  Sql("INSERT INTO audit_objects (object_id, seq) SELECT o.key, s.value FROM audit_object_blocks b, "
      "json_each(concord_block_json(b.pairs, b.run)) o, json_each(o.value) s WHERE s.value <= 4; "
      "INSERT INTO audit_object_index (run, object_id, seq) SELECT 5, o.key, s.value FROM audit_object_blocks b, "
      "json_each(concord_block_json(b.pairs, b.run)) o, json_each(o.value) s WHERE s.value BETWEEN 5 AND 8; "
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
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_object_runs WHERE run = 9 AND last_seq = 12"), 1);
  EXPECT_EQ(seqs_of(3), (std::vector<int64_t>{3, 11}));
  EXPECT_EQ(seqs_of(5), (std::vector<int64_t>{5, 11}));
  EXPECT_EQ(seqs_of(7), (std::vector<int64_t>{7}));
  EXPECT_EQ(seqs_of(1), (std::vector<int64_t>{1, 12}));
  EXPECT_EQ(seqs_of(2), (std::vector<int64_t>{2}));
  // A run larger than one chunk (kRunChunkBytes, 256 KiB, per transaction: here ~340 KB in 118 blocks of 128
  // pairs, the last of 24) is registered only once it is all written.
  std::vector<Event> many;
  for (int i = 0; i < 15000; ++i) many.push_back(ReadEvent(10000 + i));
  ASSERT_TRUE(log_->AppendBatch(std::move(many)).ok());
  ASSERT_EQ(wait_for_mark(15012), 15012);
  EXPECT_GT(QueryInt("SELECT sum(length(pairs)) FROM audit_object_blocks WHERE run = 13"),
            static_cast<int64_t>(SqliteAuditLog::kRunChunkBytes));
  // Two more blocks: the user's and the organisation's 15,000 seqs each (a key's seqs stay in one block).
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_object_blocks WHERE run = 13"), 120);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_object_blocks b, json_each(concord_block_json(b.pairs, b.run)) o, json_each(o.value) s "
                      "WHERE b.run = 13"),
            45000);
  EXPECT_EQ(QueryInt("SELECT last_seq FROM audit_object_runs WHERE run = 13"), 15012);
  EXPECT_EQ(seqs_of(12499), (std::vector<int64_t>{2512}));
  EXPECT_EQ(seqs_of(14999), (std::vector<int64_t>{5012}));
  EXPECT_EQ(seqs_of(10000), (std::vector<int64_t>{13}));
  EXPECT_TRUE(MustVerify().intact);
}

// File version 3: users and organisations are found through the run index, and times by a binary search over
// seq; answers are exact for entries a version-2 file indexed (the partial indexes its upgrade leaves), for
// runs written since, and for entries past the mark, across pages, with every other filter.
TEST_F(AuditLogTest, UserOrgAndTimeFiltersAreExactAcrossAnUpgradeRunsAndTheTail) {
  const std::string org_a = "identity--aaaaaaaa-0000-4000-8000-000000000001";
  const std::string org_b = "identity--bbbbbbbb-0000-4000-8000-000000000002";
  auto reopen = [&](int64_t run_pairs) {
    log_.reset();
    auto opened = OpenAuditLog(path_.string(), {.clock = &clock_, .index_run_pairs = run_pairs});
    ASSERT_TRUE(opened.ok()) << opened.status();
    log_ = std::move(*opened);
  };
  auto wait_for_mark = [&](int64_t want) { return WaitForIndexMark(want, std::chrono::seconds(10)); };
  int n = 0;
  auto append = [&](const std::string& user, const std::string& org, Action action = Action::kRead) {
    clock_.now_ms += 1;
    Event e = ReadEvent(++n, user);
    e.org = org;
    e.action = action;
    ASSERT_TRUE(log_->Append(e).ok());
  };

  // Entries 1-6 in runs, then the file made what version 2 left: the three indexes, no user or organisation
  // keys in its runs.
  reopen(1);
  for (int i = 0; i < 6; ++i) append(i % 2 ? "bob" : "alice", i == 4 ? org_b : org_a);
  ASSERT_EQ(wait_for_mark(6), 6);
  log_.reset();
  Sql("DROP INDEX IF EXISTS audit_log_user_before; DROP INDEX IF EXISTS audit_log_org_before; "
      "CREATE INDEX audit_log_time ON audit_log (time_us); CREATE INDEX audit_log_org ON audit_log (org_id, seq); "
      "CREATE INDEX audit_log_user ON audit_log (user_name, seq); "
      "UPDATE audit_object_blocks SET pairs = json_remove(concord_block_json(pairs, run), '$.\" user:alice\"', '$.\" user:bob\"', "
      "'$.\" org:" + org_a + "\"', '$.\" org:" + org_b + "\"'); "
      "DELETE FROM audit_meta WHERE name = 'actors_from'; UPDATE audit_meta SET value = 2 WHERE name = 'version'");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_object_blocks b, json_each(concord_block_json(b.pairs, b.run)) o WHERE o.key LIKE ' %'"), 0);

  // The upgrade: the three indexes go, two partial ones keep entries 1-6 findable.
  reopen(1);
  EXPECT_EQ(QueryInt("SELECT value FROM audit_meta WHERE name = 'version'"), 5);
  EXPECT_EQ(QueryInt("SELECT value FROM audit_meta WHERE name = 'actors_from'"), 6);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM sqlite_master WHERE name IN ('audit_log_time', 'audit_log_org', 'audit_log_user')"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM sqlite_master WHERE name IN ('audit_log_user_before', 'audit_log_org_before') "
                      "AND sql LIKE '%WHERE seq <= 6'"),
            2);
  // Entries 7-10 in runs with the new keys; 11-14 past the mark (runs wait for 1,000,000 pairs).
  for (int i = 0; i < 4; ++i) append(i % 2 ? "alice" : "carol", i == 1 ? org_b : org_a, i == 2 ? Action::kWrite : Action::kRead);
  ASSERT_EQ(wait_for_mark(10), 10);
  reopen(1'000'000);
  for (int i = 0; i < 2; ++i) append("alice", org_a);
  {
    // Two entries committed together: one time for both.
    clock_.now_ms += 1;
    std::vector<Event> two = {ReadEvent(++n, "bob"), ReadEvent(++n, "carol")};
    two[1].org = org_b;
    ASSERT_TRUE(log_->AppendBatch(std::move(two)).ok());
  }
  ASSERT_EQ(QueryInt("SELECT value FROM audit_meta WHERE name = 'objects_seq'"), 10);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_object_blocks b, json_each(concord_block_json(b.pairs, b.run)) o, json_each(o.value) s "
                      "WHERE o.key = ' user:carol'"),
            2);  // entries 7 and 9; 13 is past the mark

  // The oracle: every entry, filtered here.
  auto all = log_->List({.limit = 1000});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->entries.size(), 14u);
  auto expected = [&](const Filter& f) {
    std::vector<int64_t> seqs;
    for (const Entry& e : all->entries) {
      if (e.seq <= f.after_seq) continue;
      if (f.since && e.time_micros < f.since->UnixMicros()) continue;
      if (f.until && e.time_micros >= f.until->UnixMicros()) continue;
      if (!f.user.empty() && e.event.user != f.user) continue;
      if (!f.org.empty() && e.event.org != f.org) continue;
      if (f.action && e.event.action != *f.action) continue;
      if (!f.object_id.empty() &&
          std::find(e.event.object_ids.begin(), e.event.object_ids.end(), f.object_id) == e.event.object_ids.end()) {
        continue;
      }
      seqs.push_back(e.seq);
    }
    return seqs;
  };
  auto paged = [&](Filter f) {
    std::vector<int64_t> seqs;
    for (int pages = 0; pages < 20; ++pages) {
      auto page = log_->List(f);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const Entry& e : page->entries) seqs.push_back(e.seq);
      if (!page->more) break;
      EXPECT_EQ(page->entries.size(), f.limit);
      f.after_seq = page->next_after_seq;
    }
    return seqs;
  };
  const int64_t t0 = all->entries.front().time_micros;
  auto at = [t0](int64_t offset_us) {
    Timestamp t;
    t.seconds = (t0 + offset_us) / 1'000'000;
    t.nanos = static_cast<int32_t>((t0 + offset_us) % 1'000'000 * 1000);
    return t;
  };
  std::vector<Filter> filters;
  for (const std::string user : {"", "alice", "bob", "carol", "dave"}) {
    for (const std::string& org : {std::string(), org_a, org_b}) {
      filters.push_back({.user = user, .org = org});
      filters.push_back({.user = user, .org = org, .action = Action::kRead});
      filters.push_back({.since = at(3'000), .until = at(11'000),
                         .user = user, .org = org});
    }
  }
  filters.push_back({.user = "alice", .object_id = "indicator--00000000-0000-4000-8000-000000000011"});
  filters.push_back({.org = org_a, .object_id = "indicator--00000000-0000-4000-8000-000000000002"});
  for (int64_t from = -1; from <= 13; from += 2) {  // times on, between, before and after the entries
    for (int64_t to = from; to <= 14; to += 3) {
      filters.push_back({.since = at(from * 1'000),
                         .until = at(to * 1'000 + 500)});
    }
  }
  filters.push_back({.since = at(12'000)});  // the two entries of one commit
  auto check_all = [&](const std::string& when) {
    for (const Filter& f : filters) {
      const std::vector<int64_t> want = expected(f);
      for (size_t limit : {1u, 2u, 3u, 100u}) {
        Filter g = f;
        g.limit = limit;
        EXPECT_EQ(paged(g), want) << when << ": user '" << f.user << "' org '" << f.org << "' since "
                                  << (f.since ? f.since->UnixMicros() - t0 : -999) << " until "
                                  << (f.until ? f.until->UnixMicros() - t0 : -999) << " limit " << limit;
      }
    }
  };
  check_all("runs as written");
  // Merged two at a time as the log opens (entries 11-14 stay past the mark): the same answers. How entries 1-10
  // fell into runs depends on the indexer's timing; runs up to 'actors_from' (6), which have no user or
  // organisation keys, are left as they are, and the others merge until no two in a row share a level.
  struct Run {
    int64_t run, last_seq, level;
  };
  auto runs = [&] {
    std::vector<Run> all_runs;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT run, last_seq, level FROM audit_object_runs ORDER BY run", -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) {
      all_runs.push_back({sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2)});
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return all_runs;
  };
  auto settled = [](const std::vector<Run>& r) {
    for (size_t i = 1; i < r.size(); ++i) {
      if (r[i].run > 6 && r[i - 1].run > 6 && r[i].level == r[i - 1].level) return false;
    }
    return true;
  };
  const std::vector<Run> written = runs();
  log_.reset();
  auto merging = OpenAuditLog(path_.string(), {.clock = &clock_, .index_run_pairs = 1, .merge_fan_in = 2});
  ASSERT_TRUE(merging.ok()) << merging.status();
  log_ = std::move(*merging);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!settled(runs()) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::vector<Run> merged = runs();
  ASSERT_TRUE(settled(merged));
  int64_t next = 1;
  bool any_merged = false;
  for (const Run& r : merged) {
    EXPECT_EQ(r.run, next);
    next = r.last_seq + 1;
    any_merged = any_merged || r.level > 0;
    if (r.run <= 6) {
      EXPECT_TRUE(std::any_of(written.begin(), written.end(),
                              [&](const Run& w) { return w.run == r.run && w.last_seq == r.last_seq && r.level == 0; }))
          << "run " << r.run;
    }
  }
  EXPECT_EQ(next, 11);
  // Two runs or more after 'actors_from' (as the indexer's timing made them, almost always): merged.
  EXPECT_EQ(any_merged, std::count_if(written.begin(), written.end(), [](const Run& w) { return w.run > 6; }) >= 2);
  check_all("runs merged");
  EXPECT_EQ(expected({.user = "alice"}), (std::vector<int64_t>{1, 3, 5, 8, 10, 11, 12}));
  EXPECT_EQ(expected({.org = org_b}), (std::vector<int64_t>{5, 8, 14}));
  EXPECT_EQ(expected({.since = at(12'000)}), (std::vector<int64_t>{13, 14}));
  // Not an object id: the run index's own keys are not for the object filter.
  EXPECT_EQ(log_->List({.object_id = " user:alice"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(MustVerify().intact);
}

// Ids that need JSON escapes take the slow paths (stored through a JSON document, read back by the parser)
// and are found through their block like any other.
// A newer Concord's file is refused, read-write and read-only, before anything in it changes; the same file at
// a version this binary knows opens and verifies.
TEST_F(AuditLogTest, AFileFromANewerConcordIsRefusedAndLeftAsItIs) {
  AppendN(3);
  log_.reset();
  Sql("UPDATE audit_meta SET value = 6 WHERE name = 'version'");
  const std::string schema_before = [&] {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT group_concat(name || ':' || coalesce(sql, ''), ';') FROM sqlite_master", -1, &st, nullptr);
    std::string v = sqlite3_step(st) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "";
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  }();
  for (bool read_only : {false, true}) {
    auto reopened = OpenAuditLog(path_.string(), {.clock = &clock_, .read_only = read_only});
    ASSERT_FALSE(reopened.ok()) << "read_only " << read_only;
    EXPECT_EQ(reopened.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(std::string(reopened.status().message())
                  .find("audit file version 6 is newer than this Concord reads (up to 5): use the Concord that wrote it"),
              std::string::npos)
        << reopened.status();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT (SELECT value FROM audit_meta WHERE name = 'version'), "
                     "(SELECT group_concat(name || ':' || coalesce(sql, ''), ';') FROM sqlite_master)",
                     -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(st, 0), 6);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))), schema_before);
  sqlite3_finalize(st);
  sqlite3_close(db);
  Sql("UPDATE audit_meta SET value = 5 WHERE name = 'version'");
  Open();
  const Verification v = MustVerify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.entries, 3);
}

// An entry the indexer cannot read (written by another process, so read back from the file) fails every run
// that covers it. The committer asks again only after a pause, not after each commit, and the warning comes
// once a minute with the count held back in between.
TEST_F(AuditLogTest, AFailingIndexRunIsRetriedAfterAPauseAndReportedOnceAMinute) {
  AppendN(2);
  log_.reset();
  Sql("UPDATE audit_log SET object_ids = 'not json' WHERE seq = 2");
  std::ostringstream out;
  auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  capture->set_pattern("%v");
  spdlog::set_default_logger(capture);
  auto warnings = [&] {
    capture->flush();
    const std::string text = out.str();
    std::vector<std::string> found;
    for (size_t at = 0; (at = text.find("preparing the object index failed", at)) != std::string::npos; ++at) {
      found.push_back(text.substr(at, text.find('\n', at) - at));
    }
    return found;
  };
  auto wait_for_warnings = [&](size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (warnings().size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return warnings();
  };
  {
    auto opened = OpenAuditLog(path_.string(), {.clock = &clock_, .index_run_pairs = 1});
    ASSERT_TRUE(opened.ok()) << opened.status();
    std::unique_ptr<AuditLog> log = std::move(*opened);
    ASSERT_TRUE(log->Append(ReadEvent(3)).ok());  // asks for a run: it reads entries 1 to 3 from the file
    ASSERT_EQ(wait_for_warnings(1).size(), 1u);
    // Within the pause (the clock stands still): commits ask for no run.
    for (int i = 4; i <= 8; ++i) ASSERT_TRUE(log->Append(ReadEvent(i)).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    clock_.now_ms += 61'000;  // past the pause and the minute
    ASSERT_TRUE(log->Append(ReadEvent(9)).ok());
    const std::vector<std::string> found = wait_for_warnings(2);
    ASSERT_EQ(found.size(), 2u);
    EXPECT_EQ(found[1].substr(0, found[1].find(": ")),
              "preparing the object index failed, will retry (0 more since the last report)");
    EXPECT_NE(found[0].find("audit entry 2: object_ids is not a JSON array"), std::string::npos) << found[0];
  }
  spdlog::set_default_logger(previous);
}

// Appends that never pause: each committed append queues the next one from its callback, before the committer
// looks at its queue again, so the queue is never empty. The index must keep up anyway (the committer writes a
// chunk of the prepared run at least every kRunChunkWait).
TEST_F(AuditLogTest, TheIndexKeepsUpWithAppendsThatNeverPause) {
  log_.reset();
  auto opened = OpenAuditLog(path_.string(), {.clock = &clock_, .index_run_pairs = 200});
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<AuditLog> log = std::move(*opened);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> appended{0};
  std::atomic<int> chains_running{0};
  std::function<void(int)> append_next = [&](int chain) {
    if (stop.load()) {
      --chains_running;
      return;
    }
    Event e = ReadEvent(chain);
    for (int k = 0; k < 20; ++k) e.object_ids.push_back(fmt::format("indicator--00000000-0000-4000-8000-{:012d}", chain * 100 + k));
    std::vector<Event> events;
    events.push_back(std::move(e));
    log->AppendAsync(std::move(events), [&, chain](absl::StatusOr<std::vector<Entry>> entries) {
      if (!entries.ok()) {
        --chains_running;
        return;
      }
      ++appended;
      append_next(chain);
    });
  };
  for (int chain = 0; chain < 8; ++chain) {
    ++chains_running;
    append_next(chain);
  }
  // While the appends go on, the mark passes 2,000 entries (each entry is 22 pairs: a run every ~10 entries).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int64_t mark = 0;
  while ((mark = IndexMark()) < 2'000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int64_t appended_when_checked = appended.load();
  stop = true;
  while (chains_running.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_GE(mark, 2'000) << "entries appended meanwhile: " << appended_when_checked;
}

// A node indexes the backlog an earlier process left past the mark (itself before a restart, a CLI import) from
// its start, full run after full run, without waiting for appends of its own to call for runs; a CLI command,
// which closes in milliseconds, leaves it.
TEST_F(AuditLogTest, ANodeIndexesTheBacklogAnEarlierProcessLeftFromItsStart) {
  log_.reset();
  {
    // 120 entries of 1,000 ids: 120,000 pairs (and the user and organisation keys), more than two full runs.
    auto opened = OpenAuditLog(path_.string(), {.clock = &clock_, .index_run_pairs = int64_t{1} << 40,
                                                .index_run_delay_millis = int64_t{1} << 40});
    ASSERT_TRUE(opened.ok()) << opened.status();
    for (int n = 0; n < 120; ++n) {
      Event e = ReadEvent(n);
      e.object_ids.clear();
      for (int k = 0; k < 1000; ++k) e.object_ids.push_back(fmt::format("indicator--00000000-0000-4000-8000-{:012d}", n * 1000 + k));
      ASSERT_TRUE((*opened)->Append(std::move(e)).ok());
    }
  }
  ASSERT_EQ(IndexMark(), 0);
  {
    auto cli = OpenAuditLog(path_.string(), {.clock = &clock_});
    ASSERT_TRUE(cli.ok()) << cli.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_EQ(IndexMark(), 0);
  auto node = OpenAuditLog(path_.string(), {.clock = &clock_, .catch_up_index = true});
  ASSERT_TRUE(node.ok()) << node.status();
  log_ = std::move(*node);
  EXPECT_EQ(WaitForIndexMark(120, std::chrono::seconds(30)), 120);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_object_runs"), 3);  // 50,000 pairs a run at most
  auto page = log_->List({.object_id = "indicator--00000000-0000-4000-8000-000000077123", .limit = 100});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].seq, 78);
}

// With a checkpoint due every 16 frames, the background checkpoints (each after writing out the WAL's whole
// pages) run hundreds of times while 8 callers append: nothing is lost, the chain verifies, and the entries are
// copied into the database file meanwhile (45 KB with no checkpoint, checked).
TEST_F(AuditLogTest, FrequentCheckpointsLoseNothingAndCopyWhileAppendsGoOn) {
  log_.reset();
  auto opened = OpenAuditLog(path_.string(), {.clock = &clock_, .checkpoint_frames = 16});
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<AuditLog> log = std::move(*opened);
  std::vector<std::thread> callers;
  std::atomic<int> failed{0};
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        Event e = ReadEvent(t * 1000 + i);
        for (int k = 0; k < 40; ++k) e.object_ids.push_back(fmt::format("indicator--00000000-0000-4000-8000-{:012d}", k));
        if (!log->Append(std::move(e)).ok()) ++failed;
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(failed.load(), 0);
  auto verified = log->Verify({});
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->intact) << verified->detail;
  EXPECT_EQ(verified->entries, 1200);
  std::error_code ec;
  // Checkpoints copy the entries into the database file while the log is open: it holds 0.6-1.4 MB of them here
  // by the time the appends end (a moment later on a busy machine), where without checkpoints it keeps its first
  // 45 KB until the log closes. (The WAL's size is no measure: under appends that never pause it restarts only
  // when a checkpoint has caught up; 0.05-4.8 MB in twelve runs.)
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto copied = std::filesystem::file_size(AuditFile(), ec);
  while (!ec && copied <= (uintmax_t{256} << 10) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    copied = std::filesystem::file_size(AuditFile(), ec);
  }
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_GT(copied, uintmax_t{256} << 10);
  log.reset();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM audit_log"), 1200);
}

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
  ASSERT_EQ(WaitForIndexMark(1, std::chrono::seconds(10)), 1);  // the entry is in a block now, no longer found by the scan past the mark
  {
    // One block: each object once with its entries, ids ascending (bytewise), escaped as JSON strings.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_TRUE(SqliteAuditLog::AddSqlFunctions(db).ok());
    sqlite3_prepare_v2(db,
                       "SELECT first_id, concord_block_json(pairs, run), (SELECT count(*) FROM audit_object_blocks), "
                       "typeof(pairs) FROM audit_object_blocks",
                       -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    // The entry's organisation and user are keys too (file version 3), before every object id (a space first).
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))),
              " org:identity--aaaaaaaa-0000-4000-8000-000000000001");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))),
              R"({" org:identity--aaaaaaaa-0000-4000-8000-000000000001":[1]," user:alice":[1],"back\\slash":[1],)"
              R"("indicator--00000000-0000-4000-8000-000000000001":[1],"tab\there":[1],"x\"y":[1]})");
    EXPECT_EQ(sqlite3_column_int64(st, 2), 1);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 3))), "blob");  // file version 5
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  for (const std::string& id : e.object_ids) EXPECT_TRUE(found(id)) << id;
  EXPECT_FALSE(found("x"));
  EXPECT_TRUE(MustVerify().intact);
}

// File version 5: index blocks are packed (sqlite_audit_log.h, Object index), byte for byte as documented; blocks
// a version-4 Concord wrote as JSON text are read beside them, and a packed block that does not decode is an error
// naming the run and the byte, never a shorter answer.
TEST_F(AuditLogTest, IndexBlocksArePackedAndBlocksFromBeforeReadBesideThem) {
  log_.reset();
  auto opened = OpenAuditLog(path_.string(), {.clock = &clock_, .index_run_pairs = 1});
  ASSERT_TRUE(opened.ok()) << opened.status();
  log_ = std::move(*opened);
  Event e = ReadEvent(1);  // indicator ...1, user alice, organisation aaaaaaaa...
  e.object_ids.push_back("x-custom--not-a-uuid");
  ASSERT_TRUE(log_->Append(e).ok());
  ASSERT_EQ(WaitForIndexMark(1, std::chrono::seconds(10)), 1);
  const std::string org_key = " org:identity--aaaaaaaa-0000-4000-8000-000000000001";
  std::string want("\x01", 1);
  auto verbatim = [&](const std::string& key) {
    want.push_back('\0');
    want.push_back(static_cast<char>(key.size()));
    want += key;
  };
  // Keys ascending (bytewise), each with its count (1) and its seq less the run's first seq (0).
  verbatim(org_key);
  want += std::string("\x01\x00", 2);
  verbatim(" user:alice");
  want += std::string("\x01\x00", 2);
  want += std::string("\x07\x00\x00\x00\x00\x00\x00\x40\x00\x80\x00\x00\x00\x00\x00\x00\x01\x01\x00", 19);
  verbatim("x-custom--not-a-uuid");
  want += std::string("\x01\x00", 2);
  EXPECT_EQ(QueryText("SELECT hex(pairs) FROM audit_object_blocks WHERE run = 1"),
            absl::AsciiStrToUpper(absl::BytesToHexString(want)));
  EXPECT_EQ(QueryText("SELECT concord_block_json(pairs, run) FROM audit_object_blocks WHERE run = 1"),
            "{\"" + org_key + "\":[1],\" user:alice\":[1],\"indicator--00000000-0000-4000-8000-000000000001\":[1],"
            "\"x-custom--not-a-uuid\":[1]}");
  // Run 1 as a version-4 Concord wrote it (JSON text); run 2 packed, with seqs 2 and 3 (first 0, then a step of 1).
  Sql("UPDATE audit_object_blocks SET pairs = concord_block_json(pairs, run)");
  EXPECT_EQ(QueryText("SELECT typeof(pairs) FROM audit_object_blocks WHERE run = 1"), "text");
  log_.reset();
  opened = OpenAuditLog(path_.string(), {.clock = &clock_, .index_run_pairs = 2});
  ASSERT_TRUE(opened.ok()) << opened.status();
  log_ = std::move(*opened);
  ASSERT_TRUE(log_->AppendBatch({ReadEvent(1), ReadEvent(1)}).ok());
  ASSERT_EQ(WaitForIndexMark(3, std::chrono::seconds(10)), 3);
  EXPECT_EQ(QueryText("SELECT concord_block_json(pairs, run) FROM audit_object_blocks WHERE run = 2"),
            "{\"" + org_key + "\":[2,3],\" user:alice\":[2,3],\"indicator--00000000-0000-4000-8000-000000000001\":[2,3]}");
  EXPECT_EQ(QueryText("SELECT hex(pairs) FROM audit_object_blocks WHERE run = 2").substr(0, 2), "01");
  EXPECT_EQ(SeqsNaming(1), (std::vector<int64_t>{1, 2, 3}));
  auto by_user = log_->List({.user = "alice", .limit = 10});
  ASSERT_TRUE(by_user.ok()) << by_user.status();
  EXPECT_EQ(by_user->entries.size(), 3u);
  // A packed block cut short: the lookup fails, naming what it could not read.
  Sql("UPDATE audit_object_blocks SET pairs = X'0107000000' WHERE run = 2");
  auto broken = log_->List({.object_id = "indicator--00000000-0000-4000-8000-000000000001", .limit = 10});
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(std::string(broken.status().message()).find("packed ids: truncated UUID at byte 1"), std::string::npos)
      << broken.status();
  EXPECT_TRUE(MustVerify().intact);  // the chain is not the index
}

// A merge whose input holds a block that does not decode (a damaged or edited file) fails once: its runs are left
// unmerged and reported once, the runs after them still merge, and the level-0 runs are not held back.
TEST_F(AuditLogTest, ARunWithADamagedBlockIsLeftUnmergedAndTheOthersMerge) {
  auto append = [&](int i) {
    clock_.now_ms += 1;
    ASSERT_TRUE(log_->Append(ReadEvent(i)).ok());
    ASSERT_EQ(WaitForIndexMark(i, std::chrono::seconds(10)), i);
  };
  ReopenForMerges(0);
  for (int i = 1; i <= 4; ++i) append(i);
  Sql("UPDATE audit_object_blocks SET pairs = X'0107000000' WHERE run = 2");  // a packed id cut short
  std::ostringstream out;
  auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  capture->set_pattern("%v");
  spdlog::set_default_logger(capture);
  ReopenForMerges(4);  // looks for runs to merge at once: 1-4, which fails on run 2
  for (int i = 5; i <= 8; ++i) append(i);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Runs() != "1-1:0 2-2:0 3-6:1 7-7:0 8-8:0" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Runs(), "1-1:0 2-2:0 3-6:1 7-7:0 8-8:0");
  // Lookups still meet the damaged block and say so (as before any merge: the index is not the chain).
  auto broken = log_->List({.object_id = "indicator--00000000-0000-4000-8000-000000000007", .limit = 10});
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(std::string(broken.status().message()).find("packed ids: truncated UUID at byte 1"), std::string::npos)
      << broken.status();
  log_.reset();
  spdlog::set_default_logger(previous);
  capture->flush();
  const std::string text = out.str();
  EXPECT_EQ(text.find("left unmerged"), text.rfind("left unmerged")) << text;  // once
  EXPECT_NE(text.find("audit log: index run 2 is left unmerged: index block of run 2:"), std::string::npos) << text;
  EXPECT_EQ(text.find("will retry"), std::string::npos) << text;
}

// Runs are merged fan_in at a time, level by level (sqlite_audit_log.h, Object index), so that a lookup seeks
// once per run in few runs; lookups by object, user and organisation are exact before, during and after, runs
// stay contiguous, the replaced runs' blocks go with them, blocks an interrupted merge left under its key are
// replaced, and runs whose blocks are JSON text (files before version 5) merge like packed ones.
TEST_F(AuditLogTest, RunsAreMergedLevelByLevelAndLookupsStayExact) {
  // Entry i names indicator (i - 1) % 5 + 1; odd entries are alice's, even ones bob's. One run per entry.
  auto append = [&](int i) {
    clock_.now_ms += 1;
    ASSERT_TRUE(log_->Append(ReadEvent((i - 1) % 5 + 1, i % 2 ? "alice" : "bob")).ok());
    ASSERT_EQ(WaitForIndexMark(i, std::chrono::seconds(10)), i);
  };
  auto wait_for_runs = [&](const std::string& want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (Runs() != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Runs();
  };
  auto expect_exact = [&](int last) {
    for (int k = 1; k <= 5; ++k) {
      std::vector<int64_t> want;
      for (int i = k; i <= last; i += 5) want.push_back(i);
      EXPECT_EQ(SeqsNaming(k), want) << "indicator " << k;
    }
    auto alice = log_->List({.user = "alice", .limit = 100});
    ASSERT_TRUE(alice.ok()) << alice.status();
    EXPECT_EQ(static_cast<int>(alice->entries.size()), (last + 1) / 2);
    for (const Entry& e : alice->entries) EXPECT_EQ(e.seq % 2, 1) << e.seq;
    auto org = log_->List({.org = "identity--aaaaaaaa-0000-4000-8000-000000000001", .limit = 100});
    ASSERT_TRUE(org.ok()) << org.status();
    EXPECT_EQ(static_cast<int>(org->entries.size()), last);
  };

  // Four level-0 runs written with merging off, their blocks then turned into JSON text as a version-4 file has
  // them; opened with a fan-in of 4, the log merges them at once.
  ReopenForMerges(0);
  for (int i = 1; i <= 4; ++i) append(i);
  EXPECT_EQ(Runs(), "1-1:0 2-2:0 3-3:0 4-4:0");
  Sql("UPDATE audit_object_blocks SET pairs = concord_block_json(pairs, run)");
  ReopenForMerges(4);
  EXPECT_EQ(wait_for_runs("1-4:1"), "1-4:1");
  EXPECT_EQ(QueryText("SELECT group_concat(DISTINCT run) FROM audit_object_blocks"),
            std::to_string(SqliteAuditLog::MergedBlocksKey(1, 1)));
  EXPECT_EQ(QueryText("SELECT typeof(pairs) FROM audit_object_blocks LIMIT 1"), "blob");
  expect_exact(4);
  // Blocks left under the key the merge of entries 17-20 will use, by an attempt that did not finish; they name
  // entry 2 for indicator 2... as if it named indicator 1.
  Sql(fmt::format("INSERT INTO audit_object_blocks (run, first_id, pairs) VALUES ({}, 'indicator', "
                  "'{{\"indicator--00000000-0000-4000-8000-000000000001\":[2]}}')",
                  SqliteAuditLog::MergedBlocksKey(1, 17)));
  // Entries 5-20: four more level-1 runs form a level-2 run as the fourth is made.
  for (int i = 5; i <= 20; ++i) append(i);
  EXPECT_EQ(wait_for_runs("1-16:2 17-20:1"), "1-16:2 17-20:1");
  expect_exact(20);
  for (int i = 21; i <= 23; ++i) append(i);
  EXPECT_EQ(wait_for_runs("1-16:2 17-20:1 21-21:0 22-22:0 23-23:0"), "1-16:2 17-20:1 21-21:0 22-22:0 23-23:0");
  expect_exact(23);
  // Only the registered runs' blocks are left (the replaced runs' are deleted once the merged run is registered).
  auto unregistered = [&] {
    return QueryInt("SELECT count(*) FROM audit_object_blocks WHERE run NOT IN "
                    "(SELECT coalesce(blocks, run) FROM audit_object_runs)");
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (unregistered() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(unregistered(), 0);
  EXPECT_EQ(QueryInt("SELECT count(DISTINCT run) FROM audit_object_blocks"), 5);
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

// IsPlainAscii (ids copied whole into the canonical entry and the stored form) against a byte-by-byte check, for
// every byte value at every position of strings shorter and longer than its 8-byte steps.
TEST(AuditEncoding, PlainAsciiIsExactlyWhatNeedsNoEscape) {
  EXPECT_TRUE(internal::IsPlainAscii(""));
  EXPECT_TRUE(internal::IsPlainAscii("indicator--00000000-0000-4000-8000-000000000001"));
  for (size_t size = 1; size <= 19; ++size) {
    for (size_t at = 0; at < size; ++at) {
      for (int b = 0; b < 256; ++b) {
        std::string s(size, 'a');
        s[at] = static_cast<char>(b);
        const bool plain = b >= 0x20 && b <= 0x7e && b != '"' && b != '\\';
        ASSERT_EQ(internal::IsPlainAscii(s), plain) << "size " << size << " at " << at << " byte " << b;
      }
    }
  }
}

// The PostgreSQL committer binds the stored forms of object_ids and detail from inside the canonical entry (the
// SQLite one the detail; its object_ids are packed).
TEST(AuditEncoding, CanonicalPartsAreTheStoredForms) {
  Entry e;
  e.seq = 3;
  e.time_micros = 7;
  e.event = ReadEvent(1);
  e.event.object_ids = {"indicator--00000000-0000-4000-8000-000000000001", "malware--6b4c0f5e-2c1a-4d7e-9f3b-1a2b3c4d5e6f"};
  e.prev_hash = std::string(kGenesisHash);
  internal::CanonicalParts parts = internal::CanonicalEntryParts(e);
  EXPECT_EQ(parts.bytes, CanonicalEntry(e));
  EXPECT_TRUE(parts.ids_plain);
  EXPECT_EQ(parts.ids(), R"(["indicator--00000000-0000-4000-8000-000000000001","malware--6b4c0f5e-2c1a-4d7e-9f3b-1a2b3c4d5e6f"])");
  EXPECT_EQ(parts.ids(), internal::IdsJson(e.event.object_ids));
  EXPECT_EQ(parts.detail(), R"({"n":1,"tlp":"green"})");
  e.event.object_ids.clear();
  e.event.detail = {};
  parts = internal::CanonicalEntryParts(e);
  EXPECT_TRUE(parts.ids_plain);
  EXPECT_EQ(parts.ids(), "[]");
  EXPECT_EQ(parts.detail(), "{}");
  e.event.object_ids = {"indicator--A", "x\"y"};
  parts = internal::CanonicalEntryParts(e);
  EXPECT_FALSE(parts.ids_plain);  // stored through IdsJson then
  EXPECT_EQ(parts.ids(), R"(["indicator--A","x\"y"])");
  e.event.object_ids = {"é"};
  EXPECT_FALSE(internal::CanonicalEntryParts(e).ids_plain);
}

// What the committer stores (file version 4): object_ids packed (common/packed_ids.h), a blob, and detail as
// its canonical JSON. List and Verify read them back into the event that was hashed.
TEST_F(AuditLogTest, StoredColumnsArePackedIdsAndTheJsonOfTheDetail) {
  std::vector<std::vector<std::string>> lists = {
      {"indicator--00000000-0000-4000-8000-000000000001", "indicator--00000000-0000-4000-8000-000000000001"},
      {},
      {"Indicator--ABC", "x\"y", "\xc3\xa9", "tab\there"},
      {"indicator--00000000-0000-4000-8000-000000000002", "malware--00000000-0000-4000-8000-000000000003"},
  };
  for (const auto& ids : lists) {
    Event e = ReadEvent(1);
    e.object_ids = ids;
    ASSERT_TRUE(log_->Append(e).ok());
  }
  log_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT object_ids, detail, typeof(object_ids) FROM audit_log ORDER BY seq", -1, &st,
                               nullptr),
            SQLITE_OK);
  std::vector<std::string> stored;
  while (sqlite3_step(st) == SQLITE_ROW) {
    stored.emplace_back(static_cast<const char*>(sqlite3_column_blob(st, 0)), sqlite3_column_bytes(st, 0));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))), R"({"n":1,"tlp":"green"})");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 2))), "blob");
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  ASSERT_EQ(stored.size(), lists.size());
  for (size_t i = 0; i < lists.size(); ++i) EXPECT_EQ(stored[i], PackIds(lists[i])) << i;
  EXPECT_EQ(stored[0].size(), 1u + 2u * 17u);  // against 99 bytes of JSON
  EXPECT_EQ(stored[1], "\x01");
  Open();
  auto page = log_->List({.limit = 10});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->entries.size(), lists.size());
  for (size_t i = 0; i < lists.size(); ++i) EXPECT_EQ(page->entries[i].event.object_ids, lists[i]);
  EXPECT_TRUE(MustVerify().intact);
}

// A file from before version 4 holds object_ids as JSON text; the entries appended after the upgrade are packed.
// Both forms are read by every path: List (with and without the object filter, in runs and past the mark),
// Verify, and the indexer reading entries back from the file. Nothing written before is rewritten.
TEST_F(AuditLogTest, EntriesFromBeforeThePackedFormReadAsTheyWere) {
  AppendN(3);  // entries 1-3 name indicator ...1, ...2, ...3
  log_.reset();
  // As a version-3 Concord stored them: JSON text, and the version it wrote.
  Sql("UPDATE audit_meta SET value = 3 WHERE name = 'version'");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT seq, object_ids FROM audit_log ORDER BY seq", -1, &st, nullptr), SQLITE_OK);
    std::vector<std::pair<int64_t, std::string>> json;
    while (sqlite3_step(st) == SQLITE_ROW) {
      auto ids = UnpackIds(std::string_view(static_cast<const char*>(sqlite3_column_blob(st, 1)), sqlite3_column_bytes(st, 1)));
      ASSERT_TRUE(ids.ok()) << ids.status();
      json.emplace_back(sqlite3_column_int64(st, 0), internal::IdsJson(*ids));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    for (const auto& [seq, text] : json) Sql(fmt::format("UPDATE audit_log SET object_ids = '{}' WHERE seq = {}", text, seq));
    Sql("DELETE FROM audit_object_blocks; DELETE FROM audit_object_runs; UPDATE audit_meta SET value = 0 WHERE name = 'objects_seq'");
  }
  EXPECT_EQ(QueryText("SELECT group_concat(typeof(object_ids)) FROM audit_log"), "text,text,text");
  Open();
  EXPECT_EQ(QueryText("SELECT value FROM audit_meta WHERE name = 'version'"), "5");
  // Entry 4 names indicator ...2 and is packed.
  ASSERT_TRUE(log_->Append(ReadEvent(2)).ok());
  EXPECT_EQ(QueryText("SELECT group_concat(typeof(object_ids)) FROM audit_log"), "text,text,text,blob");
  auto seqs_naming = [&](int n) { return SeqsNaming(n); };
  // Past the mark: found by reading both forms.
  EXPECT_EQ(seqs_naming(2), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(seqs_naming(3), (std::vector<int64_t>{3}));
  auto all = log_->List({.limit = 10});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->entries.size(), 4u);
  EXPECT_EQ(all->entries[1].event.object_ids, std::vector<std::string>{"indicator--00000000-0000-4000-8000-000000000002"});
  EXPECT_EQ(all->entries[3].event.object_ids, std::vector<std::string>{"indicator--00000000-0000-4000-8000-000000000002"});
  const Verification v = MustVerify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.entries, 4);
  // In a run read back from the file (another process's view: nothing kept in memory), then found through it.
  log_.reset();
  {
    auto indexer = SqliteAuditLog::Create(path_.string(), {.clock = &clock_, .index_run_pairs = 1});
    ASSERT_TRUE(indexer.ok()) << indexer.status();
    log_ = std::move(*indexer);
  }
  ASSERT_TRUE(log_->Append(ReadEvent(7)).ok());
  ASSERT_EQ(WaitForIndexMark(5, std::chrono::seconds(10)), 5);
  EXPECT_EQ(seqs_naming(2), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(seqs_naming(7), (std::vector<int64_t>{5}));
}

// A packed column that does not unpack is an alteration: Verify names the entry and what is wrong with it. One
// whose UUID was replaced unpacks, to another id: the hash finds that.
TEST_F(AuditLogTest, APackedColumnThatDoesNotUnpackIsAnAlteration) {
  AppendN(3);
  log_.reset();
  const std::pair<const char*, const char*> cases[] = {
      {"X'0107AABB'", "object_ids: packed ids: truncated UUID at byte 1"},
      {"CAST(X'0107' || zeroblob(16) AS BLOB)", nullptr},
  };
  for (const auto& [stored, detail] : cases) {
    Sql(fmt::format("UPDATE audit_log SET object_ids = {} WHERE seq = 2", stored));
    Open();
    const Verification v = MustVerify();
    EXPECT_FALSE(v.intact) << stored;
    EXPECT_EQ(v.bad_seq, 2) << stored;
    EXPECT_EQ(v.problem, Problem::kAltered) << stored;
    if (detail != nullptr) {
      EXPECT_EQ(v.detail, detail);
    }
    log_.reset();
  }
}

// The object index runs the indexer builds from the entries this process committed (kept in memory) are the
// runs it builds by reading the same entries back from the file, block for block.
class AuditRunTest : public AuditLogTest {
 protected:
  // A log whose indexer never asks for a run by itself (the test prepares them).
  std::unique_ptr<SqliteAuditLog> OpenIdle() {
    auto log = SqliteAuditLog::Create(path_.string(), {.clock = &clock_,
                                                       .index_run_pairs = int64_t{1} << 40,
                                                       .index_run_delay_millis = int64_t{1} << 30});
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  static std::optional<SqliteAuditLog::PreparedRun> Prepare(SqliteAuditLog& log, SqliteAuditLog::RunSource source) {
    auto run = log.PrepareRunForTesting(source);
    EXPECT_TRUE(run.ok()) << run.status();
    return run.ok() ? *std::move(run) : std::nullopt;
  }
  static void ExpectSameRun(const std::optional<SqliteAuditLog::PreparedRun>& a,
                            const std::optional<SqliteAuditLog::PreparedRun>& b) {
    ASSERT_TRUE(a.has_value());
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(a->run, b->run);
    EXPECT_EQ(a->last_seq, b->last_seq);
    EXPECT_EQ(a->pairs, b->pairs);
    EXPECT_EQ(a->written, 0u);
    ASSERT_EQ(a->blocks.size(), b->blocks.size());
    for (size_t i = 0; i < a->blocks.size(); ++i) {
      EXPECT_EQ(a->blocks[i].first_id, b->blocks[i].first_id) << "block " << i;
      EXPECT_EQ(a->blocks[i].pairs, b->blocks[i].pairs) << "block " << i;
    }
  }
  void SetMark(int64_t mark) { Sql(fmt::format("UPDATE audit_meta SET value = {} WHERE name = 'objects_seq'", mark)); }
  // A block of a prepared run as JSON text (its stored form is packed, file version 5).
  static std::string Json(const SqliteAuditLog::PreparedRun& run, size_t block) {
    auto json = SqliteAuditLog::BlockJson(run.blocks.at(block).pairs, run.run);
    EXPECT_TRUE(json.ok()) << json.status();
    return json.ok() ? *json : std::string();
  }
  static std::string Id(int n) { return fmt::format("indicator--00000000-0000-4000-8000-{:012d}", n); }
};

TEST_F(AuditRunTest, RunFromMemoryIsTheRunFromTheFile) {
  log_.reset();
  std::unique_ptr<SqliteAuditLog> log = OpenIdle();
  ASSERT_NE(log, nullptr);
  // Ids repeated within an entry (one pair) and across entries, several types, escapes, no ids, no user.
  for (int i = 1; i <= 30; ++i) {
    Event e = ReadEvent(i, i % 3 == 0 ? "" : fmt::format("user{}", i % 4));
    e.object_ids.clear();
    if (i % 7 != 0) {
      for (int k = 0; k < 10; ++k) e.object_ids.push_back(Id((i * 10 + k) % 45));
      e.object_ids.push_back(Id(i % 45));
      e.object_ids.push_back(fmt::format("malware--00000000-0000-4000-8000-{:012d}", i % 5));
      if (i % 5 == 0) e.object_ids.push_back("x\"y");
    }
    ASSERT_TRUE(log->Append(std::move(e)).ok());
  }
  auto memory = Prepare(*log, SqliteAuditLog::RunSource::kMemory);
  auto file = Prepare(*log, SqliteAuditLog::RunSource::kFile);
  ExpectSameRun(memory, file);
  EXPECT_EQ(memory->run, 1);
  EXPECT_EQ(memory->last_seq, 30);
  EXPECT_EQ(memory->pairs, 357u);  // the entries' distinct keys, counted by a script from the same rules
  ASSERT_EQ(memory->blocks.size(), 3u);
  EXPECT_EQ(memory->blocks[0].first_id, " org:identity--aaaaaaaa-0000-4000-8000-000000000001");
  EXPECT_EQ(memory->blocks[1].first_id, Id(14));
  EXPECT_EQ(memory->blocks[2].first_id, Id(35));
  ExpectSameRun(Prepare(*log, SqliteAuditLog::RunSource::kAuto), file);
}

// Keys in byte order whatever they share: the first 16 bytes (compared in place), a key that is the prefix of
// another, bytes below 0x20 and above 0x7f.
TEST_F(AuditRunTest, RunKeysAreInByteOrder) {
  log_.reset();
  std::unique_ptr<SqliteAuditLog> log = OpenIdle();
  ASSERT_NE(log, nullptr);
  Event e = ReadEvent(1);
  e.object_ids = {Id(2), Id(1), "indicator--00000000", "indicator--0000000", Id(1) + "0", "\xc3\xa9", "Z", "a\x01", "a"};
  ASSERT_TRUE(log->Append(std::move(e)).ok());
  auto memory = Prepare(*log, SqliteAuditLog::RunSource::kMemory);
  ExpectSameRun(memory, Prepare(*log, SqliteAuditLog::RunSource::kFile));
  ASSERT_EQ(memory->blocks.size(), 1u);
  EXPECT_EQ(Json(*memory, 0),
            "{\" org:identity--aaaaaaaa-0000-4000-8000-000000000001\":[1],\" user:alice\":[1],\"Z\":[1],\"a\":[1],"
            "\"a\\u0001\":[1],\"indicator--0000000\":[1],\"indicator--00000000\":[1],"
            "\"indicator--00000000-0000-4000-8000-000000000001\":[1],\"indicator--00000000-0000-4000-8000-0000000000010\":[1],"
            "\"indicator--00000000-0000-4000-8000-000000000002\":[1],\"\xc3\xa9\":[1]}");
}

// At most kMaxRunPairs pairs: both ways stop after the same entry.
TEST_F(AuditRunTest, RunFromMemoryStopsWhereTheRunFromTheFileStops) {
  log_.reset();
  std::unique_ptr<SqliteAuditLog> log = OpenIdle();
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 51; ++i) {
    Event e = ReadEvent(i);
    e.object_ids.clear();
    for (int k = 0; k < 1000; ++k) e.object_ids.push_back(Id(i * 1000 + k));
    ASSERT_TRUE(log->Append(std::move(e)).ok());
  }
  auto memory = Prepare(*log, SqliteAuditLog::RunSource::kMemory);
  ExpectSameRun(memory, Prepare(*log, SqliteAuditLog::RunSource::kFile));
  // 49 entries of 1,002 pairs (1,000 ids, user, organisation) are below 50,000; the 50th reaches it.
  EXPECT_EQ(memory->last_seq, 50);
  EXPECT_EQ(memory->pairs, 50u * 1002u);
}

// Another writer (process) appends in between: the entries kept in memory stop before its entries, and the
// indexer reads from the file from there until this process's entries continue the mark again.
TEST_F(AuditRunTest, AnotherWriterInBetweenIsReadFromTheFile) {
  log_.reset();
  std::unique_ptr<SqliteAuditLog> a = OpenIdle();
  std::unique_ptr<SqliteAuditLog> b = OpenIdle();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto append = [&](SqliteAuditLog& log, int n) {
    Event e = ReadEvent(n, &log == a.get() ? "a" : "b");
    e.org.clear();
    e.object_ids = {Id(n), Id(0)};
    ASSERT_TRUE(log.Append(std::move(e)).ok());
  };
  append(*a, 1);
  append(*a, 2);
  append(*b, 3);
  append(*b, 4);
  append(*a, 5);
  append(*a, 6);
  // a kept entries 1 and 2 only: its run from memory ends there, exactly.
  auto memory = Prepare(*a, SqliteAuditLog::RunSource::kMemory);
  ASSERT_TRUE(memory.has_value());
  EXPECT_EQ(memory->last_seq, 2);
  EXPECT_EQ(memory->pairs, 6u);
  ASSERT_EQ(memory->blocks.size(), 1u);
  EXPECT_EQ(Json(*memory, 0),
            fmt::format(R"({{" user:a":[1,2],"{}":[1,2],"{}":[1],"{}":[2]}})", Id(0), Id(1), Id(2)));
  // Entries 1 and 2 in a run: nothing of a's continues the mark; the file has b's entries and a's after them.
  SetMark(2);
  EXPECT_FALSE(Prepare(*a, SqliteAuditLog::RunSource::kMemory).has_value());
  auto file = Prepare(*a, SqliteAuditLog::RunSource::kFile);
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(file->run, 3);
  EXPECT_EQ(file->last_seq, 6);
  EXPECT_EQ(Json(*file, 0), fmt::format(R"({{" user:a":[5,6]," user:b":[3,4],"{}":[3,4,5,6],"{}":[3],"{}":[4],)"
                                               R"("{}":[5],"{}":[6]}})",
                                               Id(0), Id(3), Id(4), Id(5), Id(6)));
  ExpectSameRun(Prepare(*a, SqliteAuditLog::RunSource::kAuto), file);
  // a appends again: kept (nothing kept before it), but it does not continue the mark (3 to 6 are not in a run).
  append(*a, 7);
  append(*a, 8);
  EXPECT_FALSE(Prepare(*a, SqliteAuditLog::RunSource::kMemory).has_value());
  ExpectSameRun(Prepare(*a, SqliteAuditLog::RunSource::kAuto), Prepare(*a, SqliteAuditLog::RunSource::kFile));
  // Entries 3 to 6 in a run: a's 7 and 8 continue the mark, and are the file's run past it.
  SetMark(6);
  memory = Prepare(*a, SqliteAuditLog::RunSource::kMemory);
  ExpectSameRun(memory, Prepare(*a, SqliteAuditLog::RunSource::kFile));
  EXPECT_EQ(memory->run, 7);
  EXPECT_EQ(memory->last_seq, 8);
  // And b, which kept 3 and 4 (below the mark now), has nothing in memory past it.
  EXPECT_FALSE(Prepare(*b, SqliteAuditLog::RunSource::kMemory).has_value());
}

// Two writers with their indexers running: every object's entries are found, whoever wrote and indexed them.
TEST_F(AuditRunTest, TwoWritersIndexEveryEntry) {
  log_.reset();
  auto open = [&]() -> std::unique_ptr<AuditLog> {
    auto log = SqliteAuditLog::Create(path_.string(), {.clock = &clock_, .index_run_pairs = 1});
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  };
  std::unique_ptr<AuditLog> a = open();
  std::unique_ptr<AuditLog> b = open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kEntries = 60;
  for (int i = 1; i <= kEntries; ++i) {
    Event e = ReadEvent(i, i % 2 ? "a" : "b");
    e.object_ids = {Id(i), Id(i % 7), Id(1000)};
    // Runs of a few appends each, alternating writers.
    AuditLog& log = (i / 3) % 2 ? *a : *b;
    auto entry = log.Append(std::move(e));
    ASSERT_TRUE(entry.ok()) << entry.status();
    ASSERT_EQ(entry->seq, i);
  }
  auto seqs_of = [&](AuditLog& log, const std::string& id) {
    std::vector<int64_t> seqs;
    auto page = log.List({.object_id = id, .limit = 1000});
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const auto& e : page->entries) seqs.push_back(e.seq);
    }
    return seqs;
  };
  // Exact whatever the runs written so far (each writer's indexer, from memory or from the file) cover.
  auto check = [&](AuditLog& log, int entries) {
    std::vector<int64_t> all(static_cast<size_t>(entries));
    for (int i = 0; i < entries; ++i) all[static_cast<size_t>(i)] = i + 1;
    EXPECT_EQ(seqs_of(log, Id(1000)), all);
    for (int r = 0; r < 7; ++r) {
      std::vector<int64_t> want;
      for (int i = 1; i <= kEntries; ++i) {
        if (i % 7 == r || i == r) want.push_back(i);
      }
      EXPECT_EQ(seqs_of(log, Id(r)), want) << r;
    }
    for (int i = 7; i <= entries; ++i) EXPECT_EQ(seqs_of(log, Id(i)), std::vector<int64_t>{i}) << i;
    auto by_user = log.List({.user = "b", .limit = 1000});
    ASSERT_TRUE(by_user.ok()) << by_user.status();
    EXPECT_EQ(by_user->entries.size(), static_cast<size_t>(kEntries / 2));
  };
  check(*a, kEntries);
  // Two indexers race for the same runs (the loser drops its run, and its count of pairs waiting with it), so
  // the last entries may wait past the mark until the next append. A third writer alone: its first run, read
  // from the file, covers everything up to its own entry.
  a.reset();
  b.reset();
  std::unique_ptr<AuditLog> c = open();
  ASSERT_NE(c, nullptr);
  Event last = ReadEvent(kEntries + 1, "c");
  last.object_ids = {Id(kEntries + 1), Id(1000)};
  ASSERT_TRUE(c->Append(std::move(last)).ok());
  ASSERT_EQ(WaitForIndexMark(kEntries + 1, std::chrono::seconds(20)), kEntries + 1);
  check(*c, kEntries + 1);
  auto v = c->Verify({});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->intact) << v->detail;
  EXPECT_EQ(v->entries, kEntries + 1);
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
