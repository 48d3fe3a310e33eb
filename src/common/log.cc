#include "common/log.h"

#include <string>

#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace concord {

void ConfigureLogging(std::string_view level, LogFormat format) {
  spdlog::drop("concord");  // configuring again (tests run several commands in one process) replaces it
  auto logger = spdlog::stderr_logger_mt("concord");
  if (format == LogFormat::kJson) {
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%v"})", spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(logger);
}

bool LogLimiter::Allow(std::chrono::steady_clock::time_point now, int64_t& held_back) {
  std::lock_guard lock(mu_);
  if (logged_ && now - last_ < interval_) {
    ++held_back_;
    return false;
  }
  logged_ = true;
  last_ = now;
  held_back = held_back_;
  held_back_ = 0;
  return true;
}

}  // namespace concord
