// Ingest benchmark: a generated workload (bench/workload.h) imported end to end into a fresh SQLite
// store, next to the raw speed of JSON parsers on the same bytes, all in one run.
//
//   ingest_benchmark [--objects N] [--batch N] [--dir DIR] [--seed S] [--postings off|on|both]
//
// Prints one line per measurement: objects/s and the ratio to the parse-only baselines. --postings both
// (the default) imports the same workload twice, into fresh stores without and with the correlate module's
// posting extractor, and prints the cost of postings and the size of the postings table per posting.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "boost/json/parser.hpp"
#include "common/json.h"
#include "fmt/format.h"
#include <sqlite3.h>

#include "correlate/postings.h"
#include "ingest/ingest.h"
#include "simdjson.h"
#include "store/store.h"
#include "workload.h"

namespace {

double Seconds(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<std::string_view> Lines(const std::string& bytes) {
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < bytes.size();) {
    size_t end = bytes.find('\n', pos);
    if (end == std::string::npos) end = bytes.size();
    if (end > pos) lines.emplace_back(bytes.data() + pos, end - pos);
    pos = end + 1;
  }
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  concord::bench::WorkloadShape shape;
  size_t batch = 10000;  // the import default
  std::string postings_mode = "both";
  std::string dir = std::filesystem::temp_directory_path().string();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--objects")) shape.objects = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    else if (!std::strcmp(argv[i], "--seed")) shape.seed = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--postings")) postings_mode = argv[i + 1];
    else {
      std::fprintf(stderr,
                   "usage: ingest_benchmark [--objects N] [--batch N] [--dir DIR] [--seed S] [--postings off|on|both]\n");
      return 2;
    }
  }
  const std::string base = fmt::format("{}/concord_ingest_bench_{}", dir, ::getpid());
  const std::string input = base + ".jsonl";
  const std::string db_path = base + ".db";
  const int64_t bytes = concord::bench::WriteWorkload(shape, input);
  std::string data;
  {
    std::ifstream in(input, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    data = buf.str();
  }
  const auto lines = Lines(data);
  const auto n = static_cast<double>(lines.size());
  std::printf("workload: %zu objects, %.1f MiB (seed %llu)\n", lines.size(), static_cast<double>(bytes) / 1048576.0,
              static_cast<unsigned long long>(shape.seed));

  size_t sink = 0;
  const double t_boost = Seconds([&] {
    boost::json::parser p;
    for (auto line : lines) {
      p.reset();
      boost::system::error_code ec;
      p.write(line.data(), line.size(), ec);
      if (!ec) sink += p.release().as_object().size();
    }
  });
  simdjson::dom::parser sp;
  const double t_simd = Seconds([&] {
    for (auto line : lines) {
      simdjson::dom::element doc;
      if (!sp.parse(line.data(), line.size()).get(doc)) sink += doc.is_object() ? 1 : 0;
    }
  });

  // Validation alone (JSON parse + STIX rules + pattern parse), no store: where the CPU goes.
  const double t_validate = Seconds([&] {
    for (auto line : lines) {
      auto v = concord::ParseJson(line);
      if (v.ok() && v->is_object()) sink += concord::ingest::ValidateObject(std::move(v->get_object())).ok() ? 1 : 0;
    }
  });

  const concord::correlate::PostingExtractor extractor;
  // Imports the workload into a fresh store; returns seconds, and the objects stored.
  auto import = [&](const concord::store::PostingExtractor* postings, int64_t& stored) {
    for (const char* suffix : {".db", ".db-wal", ".db-shm"}) std::filesystem::remove(base + suffix);
    return Seconds([&] {
      auto db = concord::store::OpenStore(db_path, {.postings = postings});
      if (!db.ok()) {
        std::fprintf(stderr, "open: %s\n", std::string(db.status().message()).c_str());
        std::exit(1);
      }
      concord::ingest::Ingestor ingestor(**db, {.batch_size = batch});
      absl::Status s = ingestor.AddFile(input);
      if (s.ok()) s = ingestor.Flush();
      if (!s.ok()) {
        std::fprintf(stderr, "ingest: %s\n", std::string(s.message()).c_str());
        std::exit(1);
      }
      stored = ingestor.report().totals.new_objects;
      if (ingestor.report().totals.rejected) {
        std::fprintf(stderr, "ingest rejected %lld objects; first: %s\n",
                     static_cast<long long>(ingestor.report().totals.rejected),
                     ingestor.report().rejected.front().reason.c_str());
        std::exit(1);
      }
    });
  };
  // Postings in the last database imported: rows, and bytes of the table and its indexes (dbstat).
  auto postings_size = [&](int64_t& rows, int64_t& table_bytes, int64_t& index_bytes) {
    sqlite3* db = nullptr;
    sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    auto query = [&](const char* sql) {
      sqlite3_stmt* stmt = nullptr;
      int64_t value = -1;
      if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        value = sqlite3_column_int64(stmt, 0);
      }
      sqlite3_finalize(stmt);
      return value;
    };
    rows = query("SELECT count(*) FROM postings");
    table_bytes = query("SELECT sum(pgsize) FROM dbstat WHERE name = 'postings'");
    index_bytes = query("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'postings\\_%' ESCAPE '\\'");
    sqlite3_close(db);
  };

  int64_t stored = 0;
  double t_ingest = 0;
  double t_plain = 0;
  double t_postings = 0;
  if (postings_mode == "off" || postings_mode == "both") {
    t_plain = import(nullptr, stored);
    t_ingest = t_plain;
  }
  if (postings_mode == "on" || postings_mode == "both") {
    t_postings = import(&extractor, stored);
    if (t_ingest == 0) t_ingest = t_postings;
  }
  if (t_ingest == 0) {
    std::fprintf(stderr, "--postings must be off, on or both\n");
    return 2;
  }

  const double ingest_rate = static_cast<double>(stored) / t_ingest;
  std::printf("%-40s %12.0f objects/s %8.1f MiB/s\n", "parse only, Boost.JSON (baseline)", n / t_boost,
              static_cast<double>(bytes) / 1048576.0 / t_boost);
  std::printf("%-40s %12.0f objects/s %8.1f MiB/s\n", "parse only, simdjson DOM (baseline)", n / t_simd,
              static_cast<double>(bytes) / 1048576.0 / t_simd);
  std::printf("%-40s %12.0f objects/s %8.1f MiB/s\n", "parse + validate, no store", n / t_validate,
              static_cast<double>(bytes) / 1048576.0 / t_validate);
  std::printf("%-40s %12.0f objects/s %8.1f MiB/s\n", "import end to end into SQLite", ingest_rate,
              static_cast<double>(bytes) / 1048576.0 / t_ingest);
  std::printf("ratio import / Boost.JSON parse: %.3f; import / simdjson parse: %.3f; target 50000 objects/s: %s\n",
              t_boost / t_ingest, t_simd / t_ingest, ingest_rate >= 50000 ? "met" : "NOT met");
  if (t_postings > 0) {
    int64_t rows = 0;
    int64_t table_bytes = 0;
    int64_t index_bytes = 0;
    postings_size(rows, table_bytes, index_bytes);
    std::printf("%-40s %12.0f objects/s %8.1f MiB/s\n", "import end to end, with postings",
                static_cast<double>(stored) / t_postings, static_cast<double>(bytes) / 1048576.0 / t_postings);
    if (t_plain > 0) {
      std::printf("postings cost: %.1f%% of import time (%.2f s without, %.2f s with)\n",
                  100.0 * (t_postings - t_plain) / t_plain, t_plain, t_postings);
    }
    std::printf("postings: %lld rows (%.2f per object); table %.1f B/posting, indexes %.1f B/posting\n",
                static_cast<long long>(rows), static_cast<double>(rows) / static_cast<double>(stored),
                rows > 0 ? static_cast<double>(table_bytes) / static_cast<double>(rows) : 0.0,
                rows > 0 ? static_cast<double>(index_bytes) / static_cast<double>(rows) : 0.0);
  }
  std::printf("stored %lld objects (sink %zu)\n", static_cast<long long>(stored), sink);
  for (const char* suffix : {".jsonl", ".db", ".db-wal", ".db-shm"}) std::filesystem::remove(base + suffix);
  return stored == static_cast<int64_t>(lines.size()) ? 0 : 1;
}
