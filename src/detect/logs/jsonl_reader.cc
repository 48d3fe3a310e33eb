// JSON lines. With a field map: the value at each mapped dotted path is one observable of the mapped kind
// (each string of an array; a number's digits as written). Keys may be nested or already dotted: "a.b.c"
// matches {"a":{"b":{"c":…}}}, {"a.b":{"c":…}} and {"a.b.c":…}; array elements share their array's path.
// Subtrees no mapping can reach are skipped unread. Without a map every string leaf is scanned with the
// text scanner, its path being the observable's field.
#include <algorithm>
#include <string>
#include <vector>

#include "detect/logs/json_line.h"
#include "detect/logs/line_reader.h"
#include "detect/logs/readers.h"
#include "fmt/format.h"

namespace concord::detect::logs::detail {
namespace {

using pattern::ValueKind;

// Nesting deeper than this is not read (the line is still valid).
constexpr size_t kMaxDepth = 32;

class JsonlReader final : public LineReader {
 public:
  explicit JsonlReader(const ReaderOptions& options) : options_(options) {}

 private:
  void ParseLine(std::string_view line, uint64_t number, uint64_t offset, Sink sink) override;
  error_code Walk(ondemand::value& v, size_t depth);
  error_code Leaf(ondemand::value& v, ondemand::json_type type);
  // Whether a mapping or the time field is `path_` or lies below it.
  bool Reachable() const;

  const ReaderOptions options_;
  JsonLine json_;
  std::string path_;
  std::optional<int64_t> time_ms_;
};

void JsonlReader::ParseLine(std::string_view line, uint64_t number, uint64_t offset, Sink sink) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.empty()) return;
  time_ms_.reset();
  path_.clear();
  ondemand::document doc;
  ondemand::value root;
  error_code e = json_.Parse(line, &doc);
  if (!e) e = doc.get_value().get(root);
  if (e == simdjson::SCALAR_DOCUMENT_AS_VALUE) return Malformed(number, "expected a JSON object or array");
  if (!e) e = Walk(root, 0);
  if (e) return Malformed(number, fmt::format("invalid JSON: {}", simdjson::error_message(e)));
  Emit(number, offset, time_ms_, sink);
}

bool JsonlReader::Reachable() const {
  const auto below = [this](std::string_view target) {
    return target.starts_with(path_) && (target.size() == path_.size() || target[path_.size()] == '.');
  };
  if (path_.empty()) return true;
  if (!options_.time_field.empty() && below(options_.time_field)) return true;
  return std::any_of(options_.fields.begin(), options_.fields.end(),
                     [&](const FieldMapping& m) { return below(m.field); });
}

error_code JsonlReader::Walk(ondemand::value& v, size_t depth) {
  ondemand::json_type type;
  if (const error_code e = v.type().get(type)) return e;
  if (type == ondemand::json_type::object) {
    if (depth >= kMaxDepth) return simdjson::SUCCESS;
    ondemand::object object;
    if (const error_code e = v.get_object().get(object)) return e;
    for (auto member : object) {
      ondemand::field f;
      std::string_view key;
      if (const error_code e = std::move(member).get(f)) return e;
      if (const error_code e = f.unescaped_key().get(key)) return e;
      const size_t mark = path_.size();
      if (mark != 0) path_ += '.';
      path_ += key;
      if (options_.fields.empty() || Reachable()) {
        if (const error_code e = Walk(f.value(), depth + 1)) return e;
      }
      path_.resize(mark);
    }
    return simdjson::SUCCESS;
  }
  if (type == ondemand::json_type::array) {
    if (depth >= kMaxDepth) return simdjson::SUCCESS;
    ondemand::array array;
    if (const error_code e = v.get_array().get(array)) return e;
    for (auto element : array) {
      ondemand::value item;
      if (const error_code e = std::move(element).get(item)) return e;
      if (const error_code e = Walk(item, depth + 1)) return e;
    }
    return simdjson::SUCCESS;
  }
  return Leaf(v, type);
}

error_code JsonlReader::Leaf(ondemand::value& v, ondemand::json_type type) {
  if (type == ondemand::json_type::null || type == ondemand::json_type::boolean) return simdjson::SUCCESS;
  std::string_view text;
  if (const error_code e = ScalarText(v, &text)) return e;
  if (!options_.time_field.empty() && path_ == options_.time_field) {
    time_ms_ = ParseAnyTimeMs(text);
    return simdjson::SUCCESS;
  }
  if (text.empty()) return simdjson::SUCCESS;
  if (!options_.fields.empty()) {
    for (const FieldMapping& m : options_.fields) {
      if (m.field != path_) continue;
      std::optional<ValueKind> kind = m.kind;
      if (kind == ValueKind::kIpv4 || kind == ValueKind::kIpv6) kind = IpKind(text);  // none: not an address
      if (kind) Add(*kind, text, m.field);
    }
    return simdjson::SUCCESS;
  }
  if (type != ondemand::json_type::string) return simdjson::SUCCESS;
  std::string_view field;  // copied once, when the leaf holds something
  Scan(text, arena_, [&](ValueKind kind, std::string_view value) {
    if (field.empty()) field = arena_.Copy(path_);
    Add(kind, value, field);
  });
  return simdjson::SUCCESS;
}

}  // namespace

std::unique_ptr<LogReader> NewJsonlReader(const ReaderOptions& options) {
  return std::make_unique<JsonlReader>(options);
}

}  // namespace concord::detect::logs::detail
