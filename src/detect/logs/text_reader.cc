// Plain text: the scanner over each line; no field names, no event time.
#include "detect/logs/line_reader.h"
#include "detect/logs/readers.h"

namespace concord::detect::logs::detail {
namespace {

class TextReader final : public LineReader {
 private:
  void ParseLine(std::string_view line, uint64_t number, uint64_t offset, Sink sink) override {
    Scan(line, arena_, [this](pattern::ValueKind kind, std::string_view value) { Add(kind, value, ""); });
    Emit(number, offset, std::nullopt, sink);
  }
};

}  // namespace

std::unique_ptr<LogReader> NewTextReader() { return std::make_unique<TextReader>(); }

}  // namespace concord::detect::logs::detail
