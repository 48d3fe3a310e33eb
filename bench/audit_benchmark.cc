// Audit log benchmark (issue 3): the CPU one audited list read costs the SQLite audit log.
//
//   audit_benchmark [--entries N] [--threads T] [--ids same|fresh|both] [--dir DIR] [--seed S]
//
// Opens a SqliteAuditLog on a temporary file the way the node does (audit::OpenAuditLog with the default
// Options: group commit, background checkpoints, object index runs), then T threads (default 8, like the
// node's HTTP workers) each append read events through AppendAsync and wait for the callback before the next
// one, N entries in all (default 50,000). Each event is what GET /api/v1/objects?type=indicator&limit=100
// records: action read, a user, an organisation, a key id, 100 ids "indicator--<random v4 uuid>" and the
// detail {"list":true,"route":…,"method":"GET"}. Two workloads, each on a fresh file:
//   same   every entry names the same 100 ids (a page polled again);
//   fresh  every entry names ids no other entry of its index run names.
// Reported per workload: entries/s (wall clock, first append to last) and the process's CPU time per entry
// (getrusage RUSAGE_SELF, user + system, so the committer, checkpointer and indexer threads count too), from the
// first append until the object index has caught up (fewer pairs than make a run left past its mark: 8 callers
// that never pause keep the committer from writing runs, which it does only while no append waits) and the log
// is closed; the CPU of the appending phase alone is shown beside it. CPU per entry is the steadier figure on a
// shared machine: compare against a baseline binary in the same run, alternating.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "audit/audit.h"
#include "audit_bench_util.h"
#include "fmt/format.h"

namespace {

namespace audit = concord::audit;

using concord::bench::CpuSeconds;
using concord::bench::RandomIndicatorId;
[[noreturn]] void Fail(const std::string& what) { concord::bench::Fail("audit_benchmark", what); }

struct Result {
  double append_wall = 0;  // until the last append returned
  double append_cpu = 0;
  double wall = 0;  // until the object index caught up and the log closed
  double cpu = 0;
  int64_t mark = 0;  // the last entry in the object index then
};

Result Run(const std::string& dir, int64_t entries, int threads, bool same, uint64_t seed) {
  constexpr size_t kIdsPerEntry = 100;
  std::mt19937_64 rng(seed);
  // The ids: one page for "same"; for "fresh" a pool that entries take in turn (more ids than an index run covers).
  const size_t pool_size = same ? kIdsPerEntry : 400'000;
  std::vector<std::string> pool;
  pool.reserve(pool_size);
  for (size_t i = 0; i < pool_size; ++i) pool.push_back(RandomIndicatorId(rng));
  const std::string org = "identity--" + RandomIndicatorId(rng).substr(11);
  const std::string key_id = "ck_" + RandomIndicatorId(rng).substr(11, 8);

  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string store = dir + "/store.db";
  auto opened = audit::OpenAuditLog(store);
  if (!opened.ok()) Fail(std::string(opened.status().message()));
  std::unique_ptr<audit::AuditLog> log = std::move(*opened);

  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  auto worker = [&](int w) {
    std::mutex mu;
    std::condition_variable cv;
    for (;;) {
      const int64_t i = next.fetch_add(1);
      if (i >= entries) return;
      audit::Event e;
      e.action = audit::Action::kRead;
      e.user = fmt::format("analyst{}", w);
      e.org = org;
      e.key_id = key_id;
      e.remote_address = "127.0.0.1";
      const size_t start = same ? 0 : (static_cast<size_t>(i) * kIdsPerEntry) % (pool_size - kIdsPerEntry + 1);
      e.object_ids.assign(pool.begin() + static_cast<std::ptrdiff_t>(start),
                          pool.begin() + static_cast<std::ptrdiff_t>(start + kIdsPerEntry));
      e.detail["list"] = true;
      e.detail["route"] = "/api/v1/objects";
      e.detail["method"] = "GET";
      std::vector<audit::Event> events;
      events.push_back(std::move(e));
      bool done = false;
      log->AppendAsync(std::move(events), [&](absl::StatusOr<std::vector<audit::Entry>> result) {
        if (!result.ok()) {
          std::fprintf(stderr, "append: %s\n", std::string(result.status().message()).c_str());
          failed = true;
        }
        std::lock_guard lock(mu);
        done = true;
        cv.notify_one();
      });
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return done; });
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w) workers.emplace_back(worker, w);
  for (auto& t : workers) t.join();
  Result r;
  r.append_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.append_cpu = CpuSeconds() - cpu0;
  // The object index catches up: the log writes its runs once appends stop. Waits until fewer pairs than make a
  // run (Options::index_run_pairs) are left past the mark, so that the figures include indexing the entries.
  const std::string audit_path = *audit::AuditPathOf(store);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(audit_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) Fail("open " + audit_path);
  sqlite3_busy_timeout(db, 5000);
  auto query = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
  };
  const int64_t pairs_per_entry = static_cast<int64_t>(kIdsPerEntry) + 2;  // the ids, the user and the organisation
  const int64_t run_pairs = audit::Options{}.index_run_pairs;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    r.mark = query("SELECT value FROM audit_meta WHERE name = 'objects_seq'");
    if ((entries - r.mark) * pairs_per_entry < run_pairs) break;
    if (std::chrono::steady_clock::now() > deadline) Fail("the object index did not catch up in 120 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  sqlite3_close(db);
  log.reset();  // the committer drains; the checkpointer and indexer stop
  r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu = CpuSeconds() - cpu0;
  if (failed) Fail("appends failed");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t entries = 50'000;
  int threads = 8;
  std::string ids = "both";
  std::string dir = std::filesystem::temp_directory_path().string() + fmt::format("/audit_benchmark.{}", getpid());
  uint64_t seed = 20261122;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Fail(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--entries") {
      entries = std::stoll(value());
    } else if (arg == "--threads") {
      threads = std::stoi(value());
    } else if (arg == "--ids") {
      ids = value();
    } else if (arg == "--dir") {
      dir = value();
    } else if (arg == "--seed") {
      seed = std::stoull(value());
    } else {
      Fail("usage: audit_benchmark [--entries N] [--threads T] [--ids same|fresh|both] [--dir DIR] [--seed S]");
    }
  }
  if (entries < 1 || threads < 1 || (ids != "same" && ids != "fresh" && ids != "both")) Fail("bad arguments");
  for (const bool same : {true, false}) {
    if ((same && ids == "fresh") || (!same && ids == "same")) continue;
    const Result r = Run(dir, entries, threads, same, seed);
    const auto n = static_cast<double>(entries);
    std::printf("ids=%-5s entries=%lld threads=%d  entries/s=%.0f  cpu_us/entry=%.2f  (appending: %.2f us/entry, "
                "%.2fs; indexed to %lld, total %.2fs)\n",
                same ? "same" : "fresh", static_cast<long long>(entries), threads, n / r.append_wall, r.cpu * 1e6 / n,
                r.append_cpu * 1e6 / n, r.append_wall, static_cast<long long>(r.mark), r.wall);
    std::fflush(stdout);
  }
  return 0;
}
