#include "detect/logs/log_reader.h"

#include "absl/status/status.h"
#include "detect/logs/readers.h"
#include "detect/logs/scan.h"
#include "fmt/format.h"

namespace concord::detect::logs {

std::optional<Format> ParseFormat(std::string_view name) {
  if (name == "eve") return Format::kEve;
  if (name == "zeek") return Format::kZeek;
  if (name == "jsonl") return Format::kJsonl;
  if (name == "csv") return Format::kCsv;
  if (name == "text") return Format::kText;
  return std::nullopt;
}

std::string_view FormatName(Format format) {
  switch (format) {
    case Format::kEve:
      return "eve";
    case Format::kZeek:
      return "zeek";
    case Format::kJsonl:
      return "jsonl";
    case Format::kCsv:
      return "csv";
    case Format::kText:
      return "text";
  }
  return "unknown";
}

LogReader::~LogReader() = default;

absl::StatusOr<std::unique_ptr<LogReader>> LogReader::Create(Format format, const ReaderOptions& options) {
  for (const FieldMapping& m : options.fields) {
    if (m.field.empty()) return absl::InvalidArgumentError("field mapping with an empty field name");
  }
  std::unique_ptr<LogReader> reader;
  switch (format) {
    case Format::kEve:
      reader = detail::NewEveReader();
      break;
    case Format::kZeek:
      reader = detail::NewZeekReader();
      break;
    case Format::kJsonl:
      reader = detail::NewJsonlReader(options);
      break;
    case Format::kCsv:
      if (options.csv_delimiter == '"' || options.csv_delimiter == '\n' || options.csv_delimiter == '\r') {
        return absl::InvalidArgumentError(
            fmt::format("csv delimiter must not be a quote or a line break (got 0x{:02x})",
                        static_cast<unsigned>(static_cast<unsigned char>(options.csv_delimiter))));
      }
      reader = detail::NewCsvReader(options);
      break;
    case Format::kText:
      reader = detail::NewTextReader();
      break;
  }
  if (reader == nullptr) return absl::InvalidArgumentError("unknown log format");
  reader->SetKinds(options.kinds);
  return reader;
}

void ScanText(std::string_view text, absl::FunctionRef<void(pattern::ValueKind, std::string_view)> found) {
  detail::Arena arena;  // allocates only when the text is defanged
  detail::Scan(text, arena, found);
}

}  // namespace concord::detect::logs
