// store_crash_writer DB FIRST_BATCH BATCH_SIZE — puts batch FIRST_BATCH, FIRST_BATCH+1, … into the store at
// DB (a SQLite path or a postgresql:// URI) until killed, writing "putting K" to stdout (unbuffered) before the Put of batch K and "committed K"
// after it returned OK.
// Batch K holds BATCH_SIZE new indicators "indicator--KKKKKKKK-0000-4000-8000-IIIIIIIIIIII" (hex K and item I),
// so that store_crash_test can tell from the ids alone which batch a stored row belongs to. After every
// third batch (SQLite only) a second connection checkpoints the WAL into the database, so that kills also land in the
// middle of checkpoints (the store's own checkpoints come only every 64 MiB).
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "store/store.h"
#include "store/testing/objects.h"

namespace {

bool WriteAll(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DB FIRST_BATCH BATCH_SIZE\n", argv[0]);
    return 2;
  }
  const std::string db = argv[1];
  const long first = std::strtol(argv[2], nullptr, 10);
  const long size = std::strtol(argv[3], nullptr, 10);
  auto store = concord::store::OpenStore(db);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  // SQLite only: a second connection that checkpoints (PostgreSQL checkpoints by itself).
  const bool sqlite = db.find("://") == std::string::npos;
  sqlite3* checkpointer = nullptr;
  if (sqlite && sqlite3_open(db.c_str(), &checkpointer) != SQLITE_OK) {
    std::fprintf(stderr, "checkpoint connection: %s\n", sqlite3_errmsg(checkpointer));
    return 1;
  }
  if (sqlite) sqlite3_busy_timeout(checkpointer, 10'000);
  std::vector<concord::stix::Object> batch;
  for (long k = first;; ++k) {
    batch.clear();
    for (long i = 0; i < size; ++i) {
      batch.push_back(concord::store::testing::Indicator(
          fmt::format("indicator--{:08x}-0000-4000-8000-{:012x}", k, i), "2024-02-01T00:00:00.000Z",
          fmt::format("[ipv4-addr:value = '10.{}.{}.{}']", k % 256, i / 256, i % 256)));
    }
    if (!WriteAll(fmt::format("putting {}\n", k))) return 1;
    auto results = (*store)->Put(batch);
    if (!results.ok()) {
      std::fprintf(stderr, "batch %ld: %s\n", k, results.status().ToString().c_str());
      return 1;
    }
    for (const auto& result : *results) {
      if (result.outcome != concord::store::PutOutcome::kNew) {
        std::fprintf(stderr, "batch %ld: unexpected outcome %s\n", k,
                     std::string(concord::store::PutOutcomeName(result.outcome)).c_str());
        return 1;
      }
    }
    if (!WriteAll(fmt::format("committed {}\n", k))) return 1;
    if (sqlite && k % 3 == 2 && sqlite3_exec(checkpointer, "PRAGMA wal_checkpoint(PASSIVE)", nullptr, nullptr, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "checkpoint: %s\n", sqlite3_errmsg(checkpointer));
      return 1;
    }
  }
}
