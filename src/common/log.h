// concord/common/log.h — process-wide logging set-up over spdlog.
// Call ConfigureLogging once from main; afterwards spdlog's free functions are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>

namespace concord {

enum class LogFormat { kText, kJson };

// Logs go to standard error so that standard output stays clean for data and --json results.
void ConfigureLogging(std::string_view level, LogFormat format);

// For a message that may repeat at the rate of the work that fails (a retry after every commit): lets one
// through per `interval` and counts the others, to be reported with the next one let through. Thread-safe.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::steady_clock::duration interval) : interval_(interval) {}
  // Whether to log now; if so, `held_back` is how many were not logged since the last one.
  bool Allow(std::chrono::steady_clock::time_point now, int64_t& held_back);

 private:
  const std::chrono::steady_clock::duration interval_;
  std::mutex mu_;
  bool logged_ = false;
  std::chrono::steady_clock::time_point last_;
  int64_t held_back_ = 0;
};

}  // namespace concord
