// bench/workload.h — a generated, seeded STIX workload shaped like a national CSIRT's feed:
// 60% indicators with STIX patterns, 20% SCOs, 15% relationships, 5% reports with up to 10,000
// object_refs (heavy-tailed: most reports are small, a few are huge). Deterministic for a seed.
#pragma once

#include <cstdint>
#include <string>

namespace concord::bench {

struct WorkloadShape {
  int64_t objects = 1'000'000;
  uint64_t seed = 20261122;
};

// Writes the workload as JSON lines (one object per line) to `path`; returns the byte count.
int64_t WriteWorkload(const WorkloadShape& shape, const std::string& path);

}  // namespace concord::bench
