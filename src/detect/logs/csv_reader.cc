// CSV as RFC 4180 writes it: fields separated by the delimiter, optionally quoted; a quoted field may hold
// the delimiter, doubled quotes and line breaks (the record then spans lines and is reported at its first
// line; a CR before each LF is dropped). A quote inside an unquoted field, or anything but the delimiter
// after a closing quote, makes the record malformed, as does a quoted field still open at the end.
// The header row (ReaderOptions::csv_header) names the columns; without it columns are named "1", "2", ….
#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "detect/logs/line_reader.h"
#include "detect/logs/readers.h"
#include "fmt/format.h"

namespace concord::detect::logs::detail {
namespace {

using pattern::ValueKind;

class CsvReader final : public LineReader {
 public:
  explicit CsvReader(const ReaderOptions& options) : options_(options), delimiter_(options.csv_delimiter) {}

 private:
  enum class Quote : uint8_t { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };

  void ParseLine(std::string_view line, uint64_t number, uint64_t offset, Sink sink) override;
  void EndOfSource(Sink sink) override;
  // The quoting state after `text`, starting from `state`.
  Quote Track(std::string_view text, Quote state) const;
  void Record(std::string_view text, uint64_t number, uint64_t offset, Sink sink);
  // Splits `text` into cells_ (unescaped); an error message when the record is malformed.
  std::string_view Split(std::string_view text);
  void Header();
  std::string_view ColumnName(size_t column);

  const ReaderOptions options_;
  const char delimiter_;

  // A record whose quoted field spans lines.
  std::string record_;
  bool open_ = false;
  Quote state_ = Quote::kFieldStart;
  uint64_t record_number_ = 0;
  uint64_t record_offset_ = 0;

  bool have_header_ = false;
  std::vector<std::string_view> cells_;
  std::deque<std::string> names_;  // column names; a deque keeps their addresses while it grows
};

CsvReader::Quote CsvReader::Track(std::string_view text, Quote state) const {
  for (char c : text) {
    switch (state) {
      case Quote::kFieldStart:
        state = c == '"' ? Quote::kQuoted : (c == delimiter_ ? Quote::kFieldStart : Quote::kUnquoted);
        break;
      case Quote::kUnquoted:
        if (c == delimiter_) state = Quote::kFieldStart;
        break;
      case Quote::kQuoted:
        if (c == '"') state = Quote::kQuoteInQuoted;
        break;
      case Quote::kQuoteInQuoted:  // "" is a quote; anything else closed the field
        state = c == '"' ? Quote::kQuoted : (c == delimiter_ ? Quote::kFieldStart : Quote::kUnquoted);
        break;
    }
  }
  return state;
}

void CsvReader::ParseLine(std::string_view line, uint64_t number, uint64_t offset, Sink sink) {
  if (open_) {
    if (record_.size() + 1 + line.size() > kMaxLineBytes) {
      open_ = false;
      record_.clear();
      return Malformed(record_number_, fmt::format("quoted field runs past {} bytes", kMaxLineBytes));
    }
    record_ += '\n';
    record_ += line;
    state_ = Track(line, Quote::kQuoted);
    if (state_ == Quote::kQuoted) return;
    open_ = false;
    Record(record_, record_number_, record_offset_, sink);
    return;
  }
  if (line.empty()) return;
  if (Track(line, Quote::kFieldStart) == Quote::kQuoted) {
    open_ = true;
    record_.assign(line);
    record_number_ = number;
    record_offset_ = offset;
    return;
  }
  Record(line, number, offset, sink);
}

void CsvReader::EndOfSource(Sink) {
  if (!open_) return;
  open_ = false;
  record_.clear();
  Malformed(record_number_, "quoted field not closed at the end of the input");
}

std::string_view CsvReader::Split(std::string_view text) {
  cells_.clear();
  size_t i = 0;
  while (true) {
    if (i < text.size() && text[i] == '"') {
      // Quoted: find the closing quote, unescaping "" only when there is one.
      ++i;
      const size_t start = i;
      bool doubled = false;
      while (true) {
        const size_t q = text.find('"', i);
        if (q == std::string_view::npos) return "quoted field not closed";
        if (q + 1 < text.size() && text[q + 1] == '"') {
          doubled = true;
          i = q + 2;
          continue;
        }
        i = q;
        break;
      }
      std::string_view cell = text.substr(start, i - start);
      if (doubled) {
        char* out = arena_.Allocate(cell.size());
        size_t o = 0;
        for (size_t k = 0; k < cell.size(); ++k) {
          out[o++] = cell[k];
          if (cell[k] == '"') ++k;  // the second of a pair
        }
        cell = std::string_view(out, o);
      }
      cells_.push_back(cell);
      ++i;  // past the closing quote
      if (i == text.size()) return {};
      if (text[i] != delimiter_) return "unexpected character after a closing quote";
      ++i;
      continue;
    }
    const size_t d = text.find(delimiter_, i);
    const std::string_view cell = text.substr(i, d == std::string_view::npos ? std::string_view::npos : d - i);
    if (cell.find('"') != std::string_view::npos) return "quote inside an unquoted field";
    cells_.push_back(cell);
    if (d == std::string_view::npos) return {};
    i = d + 1;
  }
}

std::string_view CsvReader::ColumnName(size_t column) {
  while (names_.size() <= column) names_.push_back(std::to_string(names_.size() + 1));
  return names_[column];
}

void CsvReader::Header() {
  names_.assign(cells_.begin(), cells_.end());
  have_header_ = true;
}

void CsvReader::Record(std::string_view text, uint64_t number, uint64_t offset, Sink sink) {
  if (const std::string_view error = Split(text); !error.empty()) return Malformed(number, error);
  if (options_.csv_header && !have_header_) return Header();
  std::optional<int64_t> time_ms;
  for (size_t col = 0; col < cells_.size(); ++col) {
    const std::string_view cell = cells_[col];
    if (cell.empty()) continue;
    const std::string_view name = ColumnName(col);
    if (!options_.time_field.empty() && name == options_.time_field) {
      time_ms = ParseAnyTimeMs(cell);
      continue;
    }
    if (options_.fields.empty()) {
      Scan(cell, arena_, [&](ValueKind kind, std::string_view value) { Add(kind, value, name); });
      continue;
    }
    for (const FieldMapping& m : options_.fields) {
      if (m.field != name) continue;
      std::optional<ValueKind> kind = m.kind;
      if (kind == ValueKind::kIpv4 || kind == ValueKind::kIpv6) kind = IpKind(cell);  // none: not an address
      if (kind) Add(*kind, cell, m.field);
    }
  }
  Emit(number, offset, time_ms, sink);
}

}  // namespace

std::unique_ptr<LogReader> NewCsvReader(const ReaderOptions& options) { return std::make_unique<CsvReader>(options); }

}  // namespace concord::detect::logs::detail
