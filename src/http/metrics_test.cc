#include "http/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace concord::http {
namespace {

TEST(Metrics, CounterWithLabelsExposition) {
  MetricsRegistry reg;
  auto& requests = reg.AddCounter("http_requests_total", "Requests served.", {"route", "status"});
  requests.WithLabels({"/a/{id}", "200"}).Inc();
  requests.WithLabels({"/a/{id}", "200"}).Inc(2);
  requests.WithLabels({"say \"hi\"", "404"}).Inc();
  EXPECT_EQ(reg.Expose(),
            "# HELP http_requests_total Requests served.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{route=\"/a/{id}\",status=\"200\"} 3\n"
            "http_requests_total{route=\"say \\\"hi\\\"\",status=\"404\"} 1\n");
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  MetricsRegistry reg;
  auto& latency = reg.AddHistogram("latency_seconds", "Latency.", {}, {0.1, 1});
  Histogram& h = latency.WithLabels({});
  h.Observe(0.05);
  h.Observe(0.1);  // upper bounds are inclusive
  h.Observe(0.5);
  h.Observe(7);
  EXPECT_EQ(reg.Expose(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 2\n"
            "latency_seconds_bucket{le=\"1\"} 3\n"
            "latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "latency_seconds_sum 7.65\n"
            "latency_seconds_count 4\n");
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry reg;
  auto& family = reg.AddCounter("c_total", "C.", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) family.WithLabels({i % 2 ? "a" : "b"}).Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(family.WithLabels({"a"}).Value() + family.WithLabels({"b"}).Value(), 40000);
}

}  // namespace
}  // namespace concord::http
