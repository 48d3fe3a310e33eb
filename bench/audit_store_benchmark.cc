// Audit entry storage benchmark (issue 3): what storing one audited list of 100 costs in the audit file's SQLite
// table (today's audit_log) against the append-only entry file (audit/entry_file.h), in the same run.
//
//   audit_store_benchmark [--entries N] [--group G] [--rounds R] [--dir DIR]
//
// Both stores get the same prepared columns: the entry of GET /api/v1/objects?type=indicator&limit=100 (100
// indicator ids packed, 1,701 bytes; a detail of route and method; two hashes), N entries (default 100,000) in
// group commits of G (default 4: what the node commits per transaction under lists of 100 at 9k/s, session 11).
//   sqlite  the audit file's settings (4 KiB pages, WAL, synchronous=NORMAL, no autocheckpoint): per group
//           BEGIN IMMEDIATE, G INSERTs of the 13 columns, COMMIT; a PASSIVE checkpoint whenever the WAL holds
//           16,384 frames, as the node's checkpointer does (here on the same thread: the CPU is the process's).
//   file    per group one EntryFile::Append of G records; an fdatasync (Sync) after as many entries as the
//           sqlite run's checkpoints came on average, so that both make their entries durable as often.
// Neither builds the entry (canonical JSON, hash, packing: the same for both). Reported per store and round: CPU
// per entry (getrusage, user + system) and entries/s; then the medians and their ratio. The rounds alternate.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "audit/entry_file.h"
#include "audit_bench_util.h"
#include "common/packed_ids.h"
#include "fmt/format.h"

namespace {

namespace audit = concord::audit;

using concord::bench::CpuSeconds;
[[noreturn]] void Fail(const std::string& what) { concord::bench::Fail("audit_store_benchmark", what); }

struct Columns {
  std::string packed, detail, prev_hash, hash;
};

struct Figures {
  double cpu_us = 0;  // per entry
  double rate = 0;    // entries/s
  int64_t syncs = 0;  // checkpoints (sqlite) or fdatasyncs (file)
};

void Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error != nullptr ? error : "?";
    sqlite3_free(error);
    Fail(fmt::format("{}: {}", sql, message));
  }
}

Figures RunSqlite(const std::string& path, const Columns& c, int64_t entries, int64_t group) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) Fail("opening " + path);
  Exec(db, "PRAGMA page_size = 4096");
  Exec(db, "PRAGMA journal_mode = WAL");
  Exec(db, "PRAGMA synchronous = NORMAL");
  Exec(db, "PRAGMA wal_autocheckpoint = 0");
  Exec(db,
       "CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, action TEXT NOT NULL, "
       "user_name TEXT NOT NULL, org_id TEXT NOT NULL, key_id TEXT NOT NULL, object_ids TEXT NOT NULL, "
       "outcome TEXT NOT NULL, justification TEXT NOT NULL, remote_address TEXT NOT NULL, detail TEXT NOT NULL, "
       "prev_hash TEXT NOT NULL, hash TEXT NOT NULL)");
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v3(db, "INSERT INTO audit_log VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                         -1, SQLITE_PREPARE_PERSISTENT, &insert, nullptr) != SQLITE_OK) {
    Fail("prepare");
  }
  int wal_frames = 0;  // the WAL's size after the last commit
  sqlite3_wal_hook(
      db,
      [](void* frames, sqlite3*, const char*, int n) {
        *static_cast<int*>(frames) = n;
        return SQLITE_OK;
      },
      &wal_frames);
  const std::string prev_hex = audit::HashHex(c.prev_hash);
  const std::string hash_hex = audit::HashHex(c.hash);
  Figures f;
  const double cpu = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  for (int64_t seq = 1; seq <= entries;) {
    Exec(db, "BEGIN IMMEDIATE");
    for (int64_t i = 0; i < group && seq <= entries; ++i, ++seq) {
      sqlite3_bind_int64(insert, 1, seq);
      sqlite3_bind_int64(insert, 2, 1'700'000'000'000'000 + seq);
      sqlite3_bind_text(insert, 3, "read", 4, SQLITE_STATIC);
      sqlite3_bind_text(insert, 4, "bench", 5, SQLITE_STATIC);
      sqlite3_bind_text(insert, 5, "identity--0b8c1a2e-5f2e-4d55-9a1c-2c7f3c1d9e01", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 6, "concord_21ab", -1, SQLITE_STATIC);
      sqlite3_bind_blob(insert, 7, c.packed.data(), static_cast<int>(c.packed.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert, 8, "ok", 2, SQLITE_STATIC);
      sqlite3_bind_text(insert, 9, "", 0, SQLITE_STATIC);
      sqlite3_bind_text(insert, 10, "127.0.0.1", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 11, c.detail.data(), static_cast<int>(c.detail.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert, 12, prev_hex.data(), static_cast<int>(prev_hex.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert, 13, hash_hex.data(), static_cast<int>(hash_hex.size()), SQLITE_STATIC);
      if (sqlite3_step(insert) != SQLITE_DONE) Fail(sqlite3_errmsg(db));
      sqlite3_reset(insert);
    }
    Exec(db, "COMMIT");
    if (wal_frames >= 16384) {  // as the node's checkpointer (SqliteAuditLog::CheckpointLoop)
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      wal_frames = 0;
      ++f.syncs;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  f.cpu_us = (CpuSeconds() - cpu) * 1e6 / static_cast<double>(entries);
  f.rate = static_cast<double>(entries) / seconds;
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return f;
}

Figures RunFile(const std::string& path, const Columns& c, int64_t entries, int64_t group, int64_t sync_every) {
  auto file = audit::EntryFile::Open(path, {});
  if (!file.ok()) Fail(std::string(file.status().message()));
  Figures f;
  const double cpu = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  int64_t since_sync = 0;
  for (int64_t done = 0; done < entries;) {
    const int64_t n = std::min(group, entries - done);
    absl::Status s = (*file)->Append([&](int64_t last, std::string_view, std::string& records) -> absl::StatusOr<size_t> {
      for (int64_t i = 1; i <= n; ++i) {
        audit::StoredRecord r{.seq = last + i,
                              .time_us = 1'700'000'000'000'000 + last + i,
                              .action = "read",
                              .user = "bench",
                              .org = "identity--0b8c1a2e-5f2e-4d55-9a1c-2c7f3c1d9e01",
                              .key_id = "concord_21ab",
                              .object_ids = c.packed,
                              .outcome = "ok",
                              .justification = "",
                              .remote_address = "127.0.0.1",
                              .detail = c.detail,
                              .prev_hash = c.prev_hash,
                              .hash = c.hash};
        if (absl::Status a = audit::AppendEntryRecord(records, r); !a.ok()) return a;
      }
      return static_cast<size_t>(n);
    });
    if (!s.ok()) Fail(std::string(s.message()));
    done += n;
    since_sync += n;
    if (sync_every > 0 && since_sync >= sync_every) {
      if (!(*file)->Sync().ok()) Fail("sync");
      ++f.syncs;
      since_sync = 0;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  f.cpu_us = (CpuSeconds() - cpu) * 1e6 / static_cast<double>(entries);
  f.rate = static_cast<double>(entries) / seconds;
  return f;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t entries = 100'000;
  int64_t group = 4;
  int rounds = 3;
  std::string dir = std::filesystem::temp_directory_path().string() + fmt::format("/audit_store_benchmark.{}", getpid());
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Fail(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--entries") {
      entries = std::stoll(value());
    } else if (arg == "--group") {
      group = std::stoll(value());
    } else if (arg == "--rounds") {
      rounds = std::stoi(value());
    } else if (arg == "--dir") {
      dir = value();
    } else {
      Fail("usage: audit_store_benchmark [--entries N] [--group G] [--rounds R] [--dir DIR]");
    }
  }
  if (entries < 1 || group < 1 || rounds < 1) Fail("bad arguments");
  std::mt19937_64 rng(20261123);
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(concord::bench::RandomIndicatorId(rng));
  Columns c;
  c.packed = concord::PackIds(ids);
  c.detail = R"({"list":true,"method":"GET","route":"/api/v1/objects"})";
  c.prev_hash = std::string(32, '\x5a');
  c.hash = std::string(32, '\xa5');
  std::vector<double> sqlite_cpu, file_cpu;
  std::filesystem::create_directories(dir);
  for (int round = 1; round <= rounds; ++round) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const Figures s = RunSqlite(dir + "/audit.db", c, entries, group);
    // As many fdatasyncs as the checkpoints (each ends with one), at least one.
    const int64_t sync_every = s.syncs > 0 ? entries / s.syncs : entries;
    const Figures f = RunFile(dir + "/audit.log", c, entries, group, sync_every);
    std::printf("round %d  sqlite: %.2f us/entry, %.0f entries/s, %lld checkpoints   file: %.2f us/entry, %.0f "
                "entries/s, %lld fdatasyncs\n",
                round, s.cpu_us, s.rate, static_cast<long long>(s.syncs), f.cpu_us, f.rate,
                static_cast<long long>(f.syncs));
    std::fflush(stdout);
    sqlite_cpu.push_back(s.cpu_us);
    file_cpu.push_back(f.cpu_us);
  }
  std::filesystem::remove_all(dir);
  const double sm = Median(sqlite_cpu);
  const double fm = Median(file_cpu);
  std::printf("entries=%lld group=%lld rounds=%d  median CPU per entry: sqlite %.2f us, file %.2f us, file/sqlite %.2f\n",
              static_cast<long long>(entries), static_cast<long long>(group), rounds, sm, fm, fm / sm);
  return 0;
}
