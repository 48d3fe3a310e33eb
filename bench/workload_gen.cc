// workload_gen --objects N --out FILE [--seed S]: writes the benchmark workload (bench/workload.h) as JSON
// lines, for benchmarks that drive the real binary (scripts/bench-api).
#include <cstdio>
#include <cstring>
#include <string>

#include "workload.h"

int main(int argc, char** argv) {
  concord::bench::WorkloadShape shape;
  std::string out;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--objects")) shape.objects = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--out")) out = argv[i + 1];
    else if (!std::strcmp(argv[i], "--seed")) shape.seed = std::stoull(argv[i + 1]);
  }
  if (out.empty()) {
    std::fprintf(stderr, "usage: workload_gen --objects N --out FILE [--seed S]\n");
    return 2;
  }
  const long long bytes = concord::bench::WriteWorkload(shape, out);
  std::printf("%lld objects, %lld bytes -> %s\n", static_cast<long long>(shape.objects), bytes, out.c_str());
  return 0;
}
