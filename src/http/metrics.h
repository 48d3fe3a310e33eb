// concord/http/metrics.h — a small Prometheus text-exposition registry (format 0.0.4).
//
// Families are registered up front (MetricsRegistry owns them; references stay valid for the registry's
// life). Looking up a labelled series takes a shared lock once; callers on hot paths keep the returned
// Counter&/Histogram& and then update it with relaxed atomics only. Everything is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace concord::http {

class Counter {
 public:
  void Inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double v);
  // Non-cumulative count per bucket (the last one is +Inf), sum and count, for exposition.
  std::vector<uint64_t> BucketCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// A metric name plus label names; series are created on first use of a label-value tuple.
template <typename Series>
class Family {
 public:
  // `values` must have one entry per label name (checked: our own code's invariant).
  Series& WithLabels(const std::vector<std::string>& values);

 private:
  friend class MetricsRegistry;
  Family(std::string name, std::string help, std::vector<std::string> labels, std::vector<double> bounds = {});

  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  std::vector<double> bounds_;  // histograms only
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  // Names follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*), checked.
  Family<Counter>& AddCounter(std::string name, std::string help, std::vector<std::string> labels);
  // `bounds` are the upper bounds of the finite buckets, strictly increasing; +Inf is implied.
  Family<Histogram>& AddHistogram(std::string name, std::string help, std::vector<std::string> labels,
                                  std::vector<double> bounds);
  // The text exposition, families in registration order, series in label order.
  std::string Expose() const;

 private:
  mutable std::shared_mutex mu_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::pair<bool, size_t>> order_;  // (is_histogram, index)
};

// Buckets for request durations in seconds: 5 ms … 10 s.
std::vector<double> DefaultLatencyBuckets();

}  // namespace concord::http
