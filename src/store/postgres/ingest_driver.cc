// A throwaway ingest measurement for the PostgreSQL store (not a test, not built by default):
//
//   scripts/pg-test start /tmp/pg-bench            # prints URI (fsync on: the server's defaults)
//   ninja -C build/h-pg-rel store_pg_ingest_driver
//   build/h-pg-rel/src/store/store_pg_ingest_driver URI [OBJECTS] [BATCH]
//   scripts/pg-test stop /tmp/pg-bench
//
// Generates OBJECTS indicators (random UUID ids, one IPv4 and one domain literal each), encodes them
// beforehand, and times Store::PutEncoded in batches of BATCH: the store's share of an import.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/uuid.h"
#include "fmt/format.h"
#include "store/store.h"
#include "store/testing/objects.h"

int main(int argc, char** argv) {
  using namespace concord;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s URI [OBJECTS] [BATCH]\n", argv[0]);
    return 2;
  }
  const std::string uri = argv[1];
  const size_t total = argc > 2 ? std::stoul(argv[2]) : 100000;
  const size_t batch_size = argc > 3 ? std::stoul(argv[3]) : 1000;

  auto store = store::OpenStore(uri);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  std::vector<stix::Object> objects;
  objects.reserve(total);
  for (size_t i = 0; i < total; ++i) {
    const std::string id = "indicator--" + UuidV4().ToString();  // random, as real ids are
    objects.push_back(store::testing::Indicator(
        id, "2024-01-02T00:00:00.000Z",
        fmt::format("[ipv4-addr:value = '10.{}.{}.{}'] OR [domain-name:value = 'h{}.example']", (i >> 16) & 255,
                    (i >> 8) & 255, i & 255, i)));
  }
  std::vector<store::EncodedObject> encoded;
  encoded.reserve(total);
  for (const stix::Object& o : objects) encoded.push_back(store::Encode(o));

  const auto start = std::chrono::steady_clock::now();
  for (size_t at = 0; at < total; at += batch_size) {
    const size_t n = std::min(batch_size, total - at);
    auto put = (*store)->PutEncoded(std::span<const store::EncodedObject>(encoded).subspan(at, n));
    if (!put.ok()) {
      std::fprintf(stderr, "%s\n", std::string(put.status().message()).c_str());
      return 1;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto stats = (*store)->GetStats();
  std::printf("%zu objects in batches of %zu: %.2f s, %.0f objects/s (store now %lld versions, %lld MB)\n", total,
              batch_size, seconds, static_cast<double>(total) / seconds,
              stats.ok() ? static_cast<long long>(stats->versions) : -1LL,
              stats.ok() ? static_cast<long long>(stats->size_bytes >> 20) : -1LL);
  return 0;
}
