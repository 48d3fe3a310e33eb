#include "workload.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <vector>

#include "fmt/format.h"

namespace concord::bench {
namespace {

std::string Uuid4(std::mt19937_64& rng) {
  const uint64_t a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFF,
                     8 + (b >> 62), (b >> 48) & 0xFFF, b & 0xFFFFFFFFFFFFull);
}

std::string Hex(std::mt19937_64& rng, int digits) {
  std::string s;
  while (static_cast<int>(s.size()) < digits) s += fmt::format("{:016x}", rng());
  s.resize(static_cast<size_t>(digits));
  return s;
}

// A feed's objects are created over time: `position` (0..1) places the object on a two-year timeline,
// with up to a day of jitter, so timestamps mostly increase as the workload goes on.
std::string Timestamp(std::mt19937_64& rng, double position) {
  const int64_t secs = 1'700'000'000 + static_cast<int64_t>(position * 63'000'000) + static_cast<int64_t>(rng() % 86'400);
  const int64_t days = secs / 86400;
  // Civil date from days (Hinnant).
  int64_t z = days + 719468, era = z / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  const int64_t rem = secs % 86400;
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", y, m, d, rem / 3600, rem / 60 % 60,
                     rem % 60, rng() % 1000);
}

const char* const kTlds[] = {"com", "net", "org", "ru", "cn", "info", "io", "de", "xyz", "top"};

std::string Pattern(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0: return fmt::format("[ipv4-addr:value = '{}.{}.{}.{}']", rng() % 223 + 1, rng() % 256, rng() % 256, rng() % 256);
    case 1: return fmt::format("[domain-name:value = 'h{}.example{}.{}']", Hex(rng, 8), rng() % 1000, kTlds[rng() % 10]);
    case 2: return fmt::format("[file:hashes.'SHA-256' = '{}']", Hex(rng, 64));
    case 3: return fmt::format("[file:hashes.MD5 = '{}']", Hex(rng, 32));
    case 4: return fmt::format("[url:value = 'http://c2-{}.example.{}/gate.php?id={}']", Hex(rng, 6), kTlds[rng() % 10], rng() % 100000);
    default:
      return fmt::format("[network-traffic:dst_ref.value = '{}.{}.{}.{}' AND network-traffic:dst_port = {}]",
                         rng() % 223 + 1, rng() % 256, rng() % 256, rng() % 256, rng() % 65535 + 1);
  }
}

}  // namespace

int64_t WriteWorkload(const WorkloadShape& shape, const std::string& path) {
  std::mt19937_64 rng(shape.seed);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<std::string> recent_ids;  // targets for relationships and report refs (no SROs: STIX forbids
  recent_ids.reserve(20000);            // relationships between relationships)
  const std::string identity = "identity--" + Uuid4(rng);
  int64_t bytes = 0;
  std::string line;
  for (int64_t i = 0; i < shape.objects; ++i) {
    const uint64_t bucket = rng() % 100;
    std::string id;
    if (bucket < 60) {
      id = "indicator--" + Uuid4(rng);
      const std::string t = Timestamp(rng, static_cast<double>(i) / static_cast<double>(shape.objects));
      line = fmt::format(
          R"({{"type":"indicator","spec_version":"2.1","id":"{}","created_by_ref":"{}","created":"{}","modified":"{}","name":"generated indicator {}","indicator_types":["malicious-activity"],"pattern":"{}","pattern_type":"stix","valid_from":"{}","object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}})",
          id, identity, t, t, i, Pattern(rng), t);
    } else if (bucket < 80) {
      switch (rng() % 3) {
        case 0:
          id = "ipv4-addr--" + Uuid4(rng);
          line = fmt::format(R"({{"type":"ipv4-addr","spec_version":"2.1","id":"{}","value":"{}.{}.{}.{}"}})", id,
                             rng() % 223 + 1, rng() % 256, rng() % 256, rng() % 256);
          break;
        case 1:
          id = "domain-name--" + Uuid4(rng);
          line = fmt::format(R"({{"type":"domain-name","spec_version":"2.1","id":"{}","value":"n{}.example.{}"}})", id,
                             Hex(rng, 10), kTlds[rng() % 10]);
          break;
        default:
          id = "file--" + Uuid4(rng);
          line = fmt::format(R"({{"type":"file","spec_version":"2.1","id":"{}","hashes":{{"SHA-256":"{}"}},"name":"s{}.exe"}})",
                             id, Hex(rng, 64), rng() % 100000);
      }
    } else if (bucket < 95 && !recent_ids.empty()) {
      id = "relationship--" + Uuid4(rng);
      const std::string t = Timestamp(rng, static_cast<double>(i) / static_cast<double>(shape.objects));
      line = fmt::format(
          R"({{"type":"relationship","spec_version":"2.1","id":"{}","created":"{}","modified":"{}","relationship_type":"indicates","source_ref":"{}","target_ref":"{}"}})",
          id, t, t, recent_ids[rng() % recent_ids.size()], recent_ids[rng() % recent_ids.size()]);
    } else if (!recent_ids.empty()) {
      id = "report--" + Uuid4(rng);
      const std::string t = Timestamp(rng, static_cast<double>(i) / static_cast<double>(shape.objects));
      // Pareto-like: median around 10 refs, capped at 10,000.
      const double u = std::uniform_real_distribution<double>(1e-9, 1.0)(rng);
      const auto n = static_cast<size_t>(std::min(10000.0, 5.0 / std::pow(u, 1.1)));
      std::string refs;
      for (size_t k = 0; k < std::max<size_t>(n, 1); ++k) {
        if (k) refs += ',';
        refs += '"' + recent_ids[rng() % recent_ids.size()] + '"';
      }
      line = fmt::format(
          R"({{"type":"report","spec_version":"2.1","id":"{}","created":"{}","modified":"{}","name":"generated report {}","published":"{}","report_types":["threat-report"],"object_refs":[{}]}})",
          id, t, t, i, t, refs);
    } else {
      --i;
      continue;
    }
    if (bucket >= 80 && bucket < 95) {
      // a relationship: not a target for others
    } else if (recent_ids.size() < 20000) {
      recent_ids.push_back(id);
    } else {
      recent_ids[rng() % recent_ids.size()] = id;
    }
    line += '\n';
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    bytes += static_cast<int64_t>(line.size());
  }
  return bytes;
}

}  // namespace concord::bench
