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
  // Every (object, entry) pair once, in blocks (one run per append here: index_run_pairs = 1), and every
  // entry's user and organisation (file version 3).
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_blocks b, json_each(b.pairs) o, json_each(o.value) s "
                      "WHERE o.key NOT LIKE ' %'"),
            12);
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_blocks b, json_each(b.pairs) o, json_each(o.value) s "
                      "WHERE o.key LIKE ' user:%' OR o.key LIKE ' org:%'"),
            22);
  EXPECT_EQ(query_text("SELECT group_concat(s.value) FROM audit_object_blocks b, json_each(b.pairs) o, json_each(o.value) s "
                       "WHERE o.key = 'indicator--00000000-0000-4000-8000-000000000005'"),
            "5,11");
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_index"), 0);
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_objects"), 0);
  EXPECT_EQ(seqs_of(5), (std::vector<int64_t>{5, 11}));
  EXPECT_EQ(query_int("SELECT value FROM audit_meta WHERE name = 'version'"), 3);
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
  // Two more blocks: the user's and the organisation's 5,000 seqs each (a key's seqs stay in one block).
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_blocks WHERE run = 13"), 42);
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_blocks b, json_each(b.pairs) o, json_each(o.value) s "
                      "WHERE b.run = 13"),
            15000);
  EXPECT_EQ(query_int("SELECT last_seq FROM audit_object_runs WHERE run = 13"), 5012);
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
  auto query_int = [&](const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(AuditFile().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    const int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  };
  auto wait_for_mark = [&](int64_t want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (query_int("SELECT value FROM audit_meta WHERE name = 'objects_seq'") != want &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return query_int("SELECT value FROM audit_meta WHERE name = 'objects_seq'");
  };
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
      "UPDATE audit_object_blocks SET pairs = json_remove(pairs, '$.\" user:alice\"', '$.\" user:bob\"', "
      "'$.\" org:" + org_a + "\"', '$.\" org:" + org_b + "\"'); "
      "DELETE FROM audit_meta WHERE name = 'actors_from'; UPDATE audit_meta SET value = 2 WHERE name = 'version'");
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_blocks b, json_each(b.pairs) o WHERE o.key LIKE ' %'"), 0);

  // The upgrade: the three indexes go, two partial ones keep entries 1-6 findable.
  reopen(1);
  EXPECT_EQ(query_int("SELECT value FROM audit_meta WHERE name = 'version'"), 3);
  EXPECT_EQ(query_int("SELECT value FROM audit_meta WHERE name = 'actors_from'"), 6);
  EXPECT_EQ(query_int("SELECT count(*) FROM sqlite_master WHERE name IN ('audit_log_time', 'audit_log_org', 'audit_log_user')"), 0);
  EXPECT_EQ(query_int("SELECT count(*) FROM sqlite_master WHERE name IN ('audit_log_user_before', 'audit_log_org_before') "
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
  ASSERT_EQ(query_int("SELECT value FROM audit_meta WHERE name = 'objects_seq'"), 10);
  EXPECT_EQ(query_int("SELECT count(*) FROM audit_object_blocks b, json_each(b.pairs) o, json_each(o.value) s "
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
  for (const Filter& f : filters) {
    const std::vector<int64_t> want = expected(f);
    for (size_t limit : {1u, 2u, 3u, 100u}) {
      Filter g = f;
      g.limit = limit;
      EXPECT_EQ(paged(g), want) << "user '" << f.user << "' org '" << f.org << "' since "
                                << (f.since ? f.since->UnixMicros() - t0 : -999) << " until "
                                << (f.until ? f.until->UnixMicros() - t0 : -999) << " limit " << limit;
    }
  }
  EXPECT_EQ(expected({.user = "alice"}), (std::vector<int64_t>{1, 3, 5, 8, 10, 11, 12}));
  EXPECT_EQ(expected({.org = org_b}), (std::vector<int64_t>{5, 8, 14}));
  EXPECT_EQ(expected({.since = at(12'000)}), (std::vector<int64_t>{13, 14}));
  // Not an object id: the run index's own keys are not for the object filter.
  EXPECT_EQ(log_->List({.object_id = " user:alice"}).status().code(), absl::StatusCode::kInvalidArgument);
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
    // The entry's organisation and user are keys too (file version 3), before every object id (a space first).
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))),
              " org:identity--aaaaaaaa-0000-4000-8000-000000000001");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))),
              R"({" org:identity--aaaaaaaa-0000-4000-8000-000000000001":[1]," user:alice":[1],"back\\slash":[1],)"
              R"("indicator--00000000-0000-4000-8000-000000000001":[1],"tab\there":[1],"x\"y":[1]})");
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
