#include "http/metrics.h"

#include <cmath>
#include <mutex>

#include "common/status.h"
#include "fmt/format.h"

namespace concord::http {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Exposition format: label values escape backslash, double quote and newline.
std::string EscapeLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

// {a="x",b="y"} plus an optional extra label (le for histogram buckets); "" when there are none.
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", names[i], EscapeLabel(values[i]));
  }
  if (!extra_name.empty()) out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", extra_name, extra_value);
  return out.empty() ? out : "{" + out + "}";
}

}  // namespace

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_->size() && v > (*bounds_)[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_->size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

template <typename Series>
Family<Series>::Family(std::string name, std::string help, std::vector<std::string> labels, std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)), bounds_(std::move(bounds)) {}

template <typename Series>
Series& Family<Series>::WithLabels(const std::vector<std::string>& values) {
  CONCORD_CHECK(values.size() == labels_.size(), "a metric gets one value per label name");
  {
    std::shared_lock lock(mu_);
    if (auto it = series_.find(values); it != series_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  auto& slot = series_[values];
  if (!slot) {
    if constexpr (std::is_same_v<Series, Histogram>) {
      slot = std::make_unique<Histogram>(&bounds_);
    } else {
      slot = std::make_unique<Series>();
    }
  }
  return *slot;
}

template class Family<Counter>;
template class Family<Histogram>;

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

Family<Counter>& MetricsRegistry::AddCounter(std::string name, std::string help, std::vector<std::string> labels) {
  CONCORD_CHECK(ValidName(name), "metric names are valid Prometheus names");
  std::unique_lock lock(mu_);
  counters_.push_back(std::unique_ptr<Family<Counter>>(new Family<Counter>(std::move(name), std::move(help),
                                                                           std::move(labels))));
  order_.emplace_back(false, counters_.size() - 1);
  return *counters_.back();
}

Family<Histogram>& MetricsRegistry::AddHistogram(std::string name, std::string help, std::vector<std::string> labels,
                                                 std::vector<double> bounds) {
  CONCORD_CHECK(ValidName(name), "metric names are valid Prometheus names");
  for (size_t i = 1; i < bounds.size(); ++i) CONCORD_CHECK(bounds[i - 1] < bounds[i], "bucket bounds increase");
  std::unique_lock lock(mu_);
  histograms_.push_back(std::unique_ptr<Family<Histogram>>(
      new Family<Histogram>(std::move(name), std::move(help), std::move(labels), std::move(bounds))));
  order_.emplace_back(true, histograms_.size() - 1);
  return *histograms_.back();
}

std::string MetricsRegistry::Expose() const {
  std::string out;
  std::shared_lock lock(mu_);
  for (const auto& [is_histogram, index] : order_) {
    if (!is_histogram) {
      const Family<Counter>& f = *counters_[index];
      out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", f.name_, f.help_, f.name_);
      std::shared_lock series_lock(f.mu_);
      for (const auto& [values, c] : f.series_) {
        out += fmt::format("{}{} {}\n", f.name_, LabelSet(f.labels_, values), FormatValue(c->Value()));
      }
      continue;
    }
    const Family<Histogram>& f = *histograms_[index];
    out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", f.name_, f.help_, f.name_);
    std::shared_lock series_lock(f.mu_);
    for (const auto& [values, h] : f.series_) {
      const std::vector<uint64_t> counts = h->BucketCounts();
      uint64_t cumulative = 0;
      for (size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        const std::string le = i < f.bounds_.size() ? FormatValue(f.bounds_[i]) : "+Inf";
        out += fmt::format("{}_bucket{} {}\n", f.name_, LabelSet(f.labels_, values, "le", le), cumulative);
      }
      // Count from the buckets, so that a scrape racing an Observe stays self-consistent.
      out += fmt::format("{}_sum{} {}\n", f.name_, LabelSet(f.labels_, values), FormatValue(h->Sum()));
      out += fmt::format("{}_count{} {}\n", f.name_, LabelSet(f.labels_, values), cumulative);
    }
  }
  return out;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace concord::http
