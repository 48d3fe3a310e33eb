// Kills a real writer process (store_crash_writer) with SIGKILL at random points of an import, many times
// over one database, and checks after each kill that every batch the writer reported committed is there,
// that no batch is there in part, and that the database is intact and still usable. On SQLite one writer;
// on PostgreSQL (scripts/pg-test) three writers at once, of which one at a time is killed while the others
// go on.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "store/store.h"
#include "store/testing/postgres_server.h"

extern char** environ;

namespace concord::store {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kIterations = 30;
constexpr int kBatchSize = 200;

// A running store_crash_writer with its stdout on a pipe.
class Writer {
 public:
  Writer(const std::string& db, int64_t first_batch) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    const std::string first = std::to_string(first_batch);
    const std::string size = std::to_string(kBatchSize);
    std::vector<char*> argv = {const_cast<char*>(CONCORD_CRASH_WRITER), const_cast<char*>(db.c_str()),
                               const_cast<char*>(first.c_str()), const_cast<char*>(size.c_str()), nullptr};
    if (posix_spawn(&pid_, CONCORD_CRASH_WRITER, &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fds[0];
  }
  ~Writer() {
    if (pid_ > 0) KillAndReap();
    if (out_ >= 0) close(out_);
  }

  bool started() const { return pid_ > 0 && out_ >= 0; }

  // Reads whatever output arrives until `deadline`, or until a new "committed" line when `until_commit`.
  // False when the writer's stdout closed (it exited).
  bool ReadUntil(Clock::time_point deadline, bool until_commit) {
    const size_t before = committed_.size();
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return true;
      if (until_commit && committed_.size() > before) return true;
      pollfd p{out_, POLLIN, 0};
      const int ready = poll(&p, 1, static_cast<int>(left));
      if (ready <= 0) continue;
      if (!ReadSome()) return false;
    }
  }

  void KillAndReap() {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    killed_by_signal_ = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    pid_ = -1;
    while (ReadSome()) {
    }  // lines written before the kill are still in the pipe
  }

  const std::vector<int64_t>& committed() const { return committed_; }
  bool killed_by_signal() const { return killed_by_signal_; }
  // Whether the last line was "putting K": the kill landed inside a Put (or just before its commit).
  bool killed_in_put() const { return in_put_; }

 private:
  bool ReadSome() {
    char buf[4096];
    const ssize_t n = read(out_, buf, sizeof buf);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    for (size_t eol; (eol = pending_.find('\n')) != std::string::npos; pending_.erase(0, eol + 1)) {
      const std::string line = pending_.substr(0, eol);
      if (line.starts_with("committed ")) committed_.push_back(std::stoll(line.substr(10)));
      in_put_ = line.starts_with("putting ");
    }
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string pending_;
  std::vector<int64_t> committed_;
  bool killed_by_signal_ = false;
  bool in_put_ = false;
};

struct DbState {
  std::string integrity;
  std::map<int64_t, int64_t> rows_per_batch;  // batch → stored versions
  bool seq_in_commit_order = true;            // ids in seq order are batch by batch, item by item
  int64_t versions = 0;
  int64_t objects = 0;
  int64_t counted_versions = 0;  // from type_counts
};

DbState Inspect(const std::string& path) {
  DbState state;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto each = [&](const char* sql, auto on_row) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    while (sqlite3_step(stmt) == SQLITE_ROW) on_row(stmt);
    sqlite3_finalize(stmt);
  };
  each("PRAGMA integrity_check", [&](sqlite3_stmt* s) {
    state.integrity += reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  });
  int64_t last_seq = 0;
  std::pair<int64_t, int64_t> last_item{-1, -1};
  each("SELECT seq, id FROM versions ORDER BY seq", [&](sqlite3_stmt* s) {
    const int64_t seq = sqlite3_column_int64(s, 0);
    const std::string id = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
    // "indicator--KKKKKKKK-0000-4000-8000-IIIIIIIIIIII"
    const std::pair<int64_t, int64_t> item{std::stoll(id.substr(11, 8), nullptr, 16),
                                           std::stoll(id.substr(35, 12), nullptr, 16)};
    if (seq <= last_seq || item <= last_item) state.seq_in_commit_order = false;
    last_seq = seq;
    last_item = item;
    ++state.rows_per_batch[item.first];
    ++state.versions;
  });
  each("SELECT count(*) FROM objects", [&](sqlite3_stmt* s) { state.objects = sqlite3_column_int64(s, 0); });
  each("SELECT coalesce(sum(versions), 0) FROM type_counts",
       [&](sqlite3_stmt* s) { state.counted_versions = sqlite3_column_int64(s, 0); });
  sqlite3_close(db);
  return state;
}

TEST(StoreCrash, SigkillLosesNoCommittedBatchAndLeavesNoPartialOne) {
  std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "store_crash_XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  const std::string path = (dir / "concord.db").string();

  // Seeded for reproducibility; CONCORD_CRASH_SEED picks other kill points.
  const char* seed_env = std::getenv("CONCORD_CRASH_SEED");
  const uint64_t seed = seed_env != nullptr ? std::strtoull(seed_env, nullptr, 10) : 20261122;
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  int64_t present = 0;  // batches 0..present-1 are stored
  int committed_unreported = 0;
  int early_kills = 0;
  int kills_in_put = 0;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    SCOPED_TRACE(fmt::format("iteration {} (first batch {})", iteration, present));
    Writer writer(path, present);
    ASSERT_TRUE(writer.started());
    // A quarter of the kills land during start-up (opening, recovery, migrations); the rest after the
    // first commit, at a random point of the import: between batches or in the middle of one.
    const bool early = std::uniform_int_distribution<int>(0, 3)(rng) == 0;
    if (early) {
      ++early_kills;
      const auto delay = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 30'000)(rng));
      ASSERT_TRUE(writer.ReadUntil(Clock::now() + delay, false)) << "writer exited";
    } else {
      ASSERT_TRUE(writer.ReadUntil(Clock::now() + std::chrono::seconds(20), true)) << "writer exited";
      ASSERT_FALSE(writer.committed().empty()) << "no commit within 20 s";
      const auto delay = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 50'000)(rng));
      ASSERT_TRUE(writer.ReadUntil(Clock::now() + delay, false)) << "writer exited";
    }
    writer.KillAndReap();
    ASSERT_TRUE(writer.killed_by_signal());
    if (writer.killed_in_put()) ++kills_in_put;

    // Reopening through the store runs recovery and any migration the kill interrupted.
    {
      auto store = OpenStore(path);
      ASSERT_TRUE(store.ok()) << store.status();
      auto stats = (*store)->GetStats();
      ASSERT_TRUE(stats.ok()) << stats.status();
    }
    const DbState state = Inspect(path);
    EXPECT_EQ(state.integrity, "ok");
    EXPECT_TRUE(state.seq_in_commit_order);
    for (const auto& [batch, rows] : state.rows_per_batch) {
      EXPECT_EQ(rows, kBatchSize) << "batch " << batch << " is partial";
    }
    // Batches commit one after the other, so the stored ones are exactly 0..n-1.
    const auto n = static_cast<int64_t>(state.rows_per_batch.size());
    if (n > 0) {
      EXPECT_EQ(state.rows_per_batch.rbegin()->first, n - 1);
    }
    for (int64_t reported : writer.committed()) EXPECT_LT(reported, n) << "committed batch " << reported << " lost";
    EXPECT_EQ(state.objects, state.versions);
    EXPECT_EQ(state.counted_versions, state.versions);
    const int64_t reported_end = writer.committed().empty() ? present : writer.committed().back() + 1;
    if (n > reported_end) ++committed_unreported;
    ASSERT_GE(n, present);
    present = n;
  }
  RecordProperty("batches", static_cast<int>(present));
  RecordProperty("early_kills", early_kills);
  RecordProperty("committed_but_unreported", committed_unreported);
  RecordProperty("kills_in_put", kills_in_put);
  EXPECT_GT(present, 0);
  EXPECT_GE(kills_in_put, kIterations / 6) << "too few kills landed inside a batch to test atomicity";
  std::filesystem::remove_all(dir);
}

// What a PostgreSQL database holds, read with libpq: versions by batch, with their seqs.
struct PgState {
  std::map<int64_t, std::vector<std::pair<int64_t, int64_t>>> batches;  // batch → (seq, item) in seq order
  int64_t versions = 0;
  int64_t objects = 0;
  int64_t counted_versions = 0;
};

PgState InspectPostgres(const std::string& uri) {
  PgState state;
  PGconn* conn = PQconnectdb(uri.c_str());
  EXPECT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* rows = PQexec(conn, "SELECT seq, id FROM versions ORDER BY seq");
  EXPECT_EQ(PQresultStatus(rows), PGRES_TUPLES_OK) << PQresultErrorMessage(rows);
  for (int r = 0; r < PQntuples(rows); ++r) {
    const std::string id = PQgetvalue(rows, r, 1);
    state.batches[std::stoll(id.substr(11, 8), nullptr, 16)].emplace_back(std::stoll(PQgetvalue(rows, r, 0)),
                                                                         std::stoll(id.substr(35, 12), nullptr, 16));
    ++state.versions;
  }
  PQclear(rows);
  PQfinish(conn);
  state.objects = testing::PgInt(uri, "SELECT count(*) FROM objects");
  state.counted_versions = testing::PgInt(uri, "SELECT coalesce(sum(versions), 0) FROM type_counts");
  return state;
}

TEST(StoreCrash, PostgresSigkillOfOneOfThreeWritersLosesNothingAndLeavesNoPartialBatch) {
  testing::PostgresServer& server = testing::PostgresServer::Get();
  if (!server.available()) GTEST_SKIP() << server.skip_reason();
  const std::string uri = server.CreateDatabase();
  ASSERT_FALSE(uri.empty());
  // The schema first, so that no kill lands in the first migration (SQLite's test covers that case).
  ASSERT_TRUE(OpenStore(uri).ok());

  constexpr int kWriters = 3;
  constexpr int kKills = 12;
  constexpr int64_t kRange = 0x1000000;  // writer w writes batches w * kRange, w * kRange + 1, …
  std::mt19937_64 rng(20261122);
  std::vector<std::unique_ptr<Writer>> writers;
  std::vector<std::vector<int64_t>> reported(kWriters);  // batches each writer said it committed
  std::vector<int64_t> next(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    next[static_cast<size_t>(w)] = w * kRange;
    writers.push_back(std::make_unique<Writer>(uri, w * kRange));
    ASSERT_TRUE(writers.back()->started());
  }
  int kills_in_put = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    const auto w = static_cast<size_t>(std::uniform_int_distribution<int>(0, kWriters - 1)(rng));
    SCOPED_TRACE(fmt::format("kill {} (writer {})", kill, w));
    Writer& victim = *writers[w];
    ASSERT_TRUE(victim.ReadUntil(Clock::now() + std::chrono::seconds(30), true)) << "writer exited";
    const auto delay = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 50'000)(rng));
    ASSERT_TRUE(victim.ReadUntil(Clock::now() + delay, false)) << "writer exited";
    victim.KillAndReap();
    ASSERT_TRUE(victim.killed_by_signal());
    if (victim.killed_in_put()) ++kills_in_put;
    for (int64_t b : victim.committed()) reported[w].push_back(b);
    // It starts again after its last batch in the database: one killed after COMMIT but before saying so
    // is there, and is not written twice.
    const PgState state = InspectPostgres(uri);
    int64_t last = static_cast<int64_t>(w) * kRange - 1;
    for (const auto& [batch, rows] : state.batches) {
      if (batch / kRange == static_cast<int64_t>(w)) last = std::max(last, batch);
    }
    next[w] = last + 1;
    writers[w] = std::make_unique<Writer>(uri, next[w]);
    ASSERT_TRUE(writers[w]->started());
  }
  for (size_t w = 0; w < writers.size(); ++w) {
    writers[w]->KillAndReap();
    for (int64_t b : writers[w]->committed()) reported[w].push_back(b);
  }

  const PgState state = InspectPostgres(uri);
  for (const auto& [batch, rows] : state.batches) {
    ASSERT_EQ(rows.size(), static_cast<size_t>(kBatchSize)) << "batch " << batch << " is partial";
    // One transaction under the writers' lock: its versions take consecutive seqs, item by item.
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i].first, rows[0].first + static_cast<int64_t>(i)) << "batch " << batch;
      EXPECT_EQ(rows[i].second, static_cast<int64_t>(i)) << "batch " << batch;
    }
  }
  for (size_t w = 0; w < reported.size(); ++w) {
    for (int64_t b : reported[w]) EXPECT_TRUE(state.batches.contains(b)) << "committed batch " << b << " lost";
    // Each writer's batches are stored without a gap: 0..n-1 of its range.
    int64_t expected = static_cast<int64_t>(w) * kRange;
    for (const auto& [batch, rows] : state.batches) {
      if (batch / kRange != static_cast<int64_t>(w)) continue;
      EXPECT_EQ(batch, expected++);
    }
  }
  EXPECT_EQ(state.objects, state.versions);
  EXPECT_EQ(state.counted_versions, state.versions);
  RecordProperty("batches", static_cast<int>(state.batches.size()));
  RecordProperty("kills_in_put", kills_in_put);
  EXPECT_GE(state.batches.size(), static_cast<size_t>(kKills));

  // Still usable: the next Put gets the next seq.
  auto store = OpenStore(uri);
  ASSERT_TRUE(store.ok()) << store.status();
  auto last_seq = (*store)->LastSeq();
  ASSERT_TRUE(last_seq.ok());
  EXPECT_EQ(*last_seq, state.batches.empty() ? 0 : state.versions);
  server.DropDatabase(uri);
}

}  // namespace
}  // namespace concord::store
