// concord/common/log.h — process-wide logging set-up over spdlog.
// Call ConfigureLogging once from main; afterwards spdlog's free functions are thread-safe.
#pragma once

#include <string_view>

namespace concord {

enum class LogFormat { kText, kJson };

// Logs go to standard error so that standard output stays clean for data and --json results.
void ConfigureLogging(std::string_view level, LogFormat format);

}  // namespace concord
