// concord/detect/logs/readers.h — the format readers behind LogReader::Create. Internal.
#pragma once

#include <memory>

#include "detect/logs/log_reader.h"

namespace concord::detect::logs::detail {

std::unique_ptr<LogReader> NewEveReader();
std::unique_ptr<LogReader> NewZeekReader();
std::unique_ptr<LogReader> NewJsonlReader(const ReaderOptions& options);
std::unique_ptr<LogReader> NewCsvReader(const ReaderOptions& options);
std::unique_ptr<LogReader> NewTextReader();

}  // namespace concord::detect::logs::detail
