// libFuzzer target for the log readers (src/detect/logs): arbitrary bytes as a log of one format, fed in two
// pieces, and again in one piece. Any crash or sanitizer report is a bug; so is a broken invariant
// (std::abort):
//   - both feedings give the same records and statistics (chunking never changes what is read); the
//     two-piece feeding runs with read-ahead (LogReader::SetReadAhead), which must not change them either;
//   - every observable has a non-empty value; record line numbers and offsets increase;
//   - records/observables in stats() are what the sink saw; malformed ≤ lines; at most 10 errors, each
//     "line N: …".
// The plain-text scanner also runs over the whole input; its values must be non-empty.
//
// Input: byte 0 picks the format (value % 5: eve, zeek, jsonl, csv, text) and, with (value / 5) % 4, a
// variant: bit 0 a field map (jsonl, csv), bit 1 CSV with ';' and no header row. The rest is the log.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "detect/logs/log_reader.h"

namespace {

using concord::detect::logs::Format;
using concord::detect::logs::LogReader;
using concord::detect::logs::Observable;
using concord::detect::logs::ReaderOptions;
using concord::detect::logs::ReaderStats;
using concord::detect::logs::Record;
using concord::pattern::ValueKind;

void Check(bool belief) {
  if (!belief) std::abort();
}

struct Seen {
  std::string rendered;
  uint64_t records = 0;
  uint64_t observables = 0;
  uint64_t last_line = 0;
  uint64_t last_offset = 0;
  ReaderStats stats;
};

Seen Read(Format format, const ReaderOptions& options, std::string_view log, size_t cut) {
  auto reader = LogReader::Create(format, options);
  Check(reader.ok());
  Seen seen;
  const auto sink = [&seen](const Record& r) {
    Check(!r.observables.empty());
    Check(r.line > seen.last_line || seen.records == 0);
    Check(r.offset >= seen.last_offset);
    seen.last_line = r.line;
    seen.last_offset = r.offset;
    ++seen.records;
    seen.rendered +=
        std::to_string(r.line) + "@" + std::to_string(r.offset) + " " + std::to_string(r.time_ms.value_or(-1)) + "\n";
    for (const Observable& o : r.observables) {
      Check(!o.value.empty());
      ++seen.observables;
      seen.rendered += std::to_string(static_cast<int>(o.kind));
      seen.rendered += ' ';
      seen.rendered += o.field;
      seen.rendered += '=';
      seen.rendered += o.value;
      seen.rendered += '\n';
    }
  };
  uint64_t ahead = 0;
  if (cut != log.size()) {
    (*reader)->SetReadAhead([&ahead](const Record& r) { ahead += r.observables.size(); });
  }
  (*reader)->Feed(log.substr(0, cut), sink);
  (*reader)->Feed(log.substr(cut), sink);
  (*reader)->Finish(sink);
  seen.stats = (*reader)->stats();
  Check(seen.stats.records == seen.records);
  Check(seen.stats.observables == seen.observables);
  Check(cut == log.size() || ahead == seen.observables);
  Check(seen.stats.malformed <= seen.stats.lines);
  Check(seen.stats.first_errors.size() <= 10);
  for (const std::string& e : seen.stats.first_errors) Check(e.starts_with("line "));
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Format formats[] = {Format::kEve, Format::kZeek, Format::kJsonl, Format::kCsv, Format::kText};
  const Format format = formats[data[0] % 5];
  const int variant = (data[0] / 5) % 4;
  ReaderOptions options;
  if ((variant & 1) != 0) {
    options.fields = {{"src_ip", ValueKind::kIpv4},
                      {"dns.rrname", ValueKind::kDomain},
                      {"url", ValueKind::kUrl},
                      {"1", ValueKind::kIpv4},
                      {"a.b", ValueKind::kMd5}};
    options.time_field = "timestamp";
  }
  if ((variant & 2) != 0) {
    options.csv_delimiter = ';';
    options.csv_header = false;
  }
  const std::string_view log(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Seen two = Read(format, options, log, log.size() / 2);
  const Seen one = Read(format, options, log, log.size());
  Check(two.rendered == one.rendered);
  Check(two.stats.lines == one.stats.lines && two.stats.malformed == one.stats.malformed &&
        two.stats.first_errors == one.stats.first_errors);
  concord::detect::logs::ScanText(log, [](ValueKind, std::string_view value) { Check(!value.empty()); });
  return 0;
}
