// concord/detect/logs/json_line.h — simdjson on-demand over one line at a time, for the EVE, Zeek JSON and
// JSON-lines readers. One parser and one padded buffer per reader, grown to the longest line and then
// reused: no allocation per line in steady state. Errors are simdjson codes; no exception is thrown
// (only the error-code API is used). Internal; not thread-safe.
#pragma once

#include <cstring>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "simdjson.h"

namespace concord::detect::logs::detail {

namespace ondemand = simdjson::ondemand;
using simdjson::error_code;

class JsonLine {
 public:
  // Copies `line` into the padded buffer and starts iterating it. The document and every string read
  // from it stay valid until the next Parse.
  [[nodiscard]] error_code Parse(std::string_view line, ondemand::document* doc) {
    if (buffer_.size() < line.size() + simdjson::SIMDJSON_PADDING)
      buffer_.resize(line.size() + simdjson::SIMDJSON_PADDING);
    if (!line.empty()) std::memcpy(buffer_.data(), line.data(), line.size());
    // Zero the padding as simdjson::padded_string does: on-demand may look past the end of a truncated
    // document, and must not find the tail of a longer earlier line there (a quote would open a string
    // running past simdjson's string buffer; found by log_reader_fuzz).
    std::memset(buffer_.data() + line.size(), 0, simdjson::SIMDJSON_PADDING);
    return parser_.iterate(buffer_.data(), line.size(), buffer_.size()).get(*doc);
  }

 private:
  ondemand::parser parser_;
  std::vector<char> buffer_;
};

// The string in `v`, or an empty view (and SUCCESS) when `v` holds another type.
[[nodiscard]] inline error_code StringOf(ondemand::value& v, std::string_view* out) {
  *out = {};
  ondemand::json_type type;
  if (const error_code e = v.type().get(type)) return e;
  if (type != ondemand::json_type::string) return simdjson::SUCCESS;
  return v.get_string().get(*out);
}

// Calls `each` for the string in `v`, or for each string element when `v` is an array; other types
// (and non-string elements) are skipped.
[[nodiscard]] inline error_code ForEachString(ondemand::value& v, absl::FunctionRef<void(std::string_view)> each) {
  ondemand::json_type type;
  if (const error_code e = v.type().get(type)) return e;
  if (type == ondemand::json_type::string) {
    std::string_view s;
    if (const error_code e = v.get_string().get(s)) return e;
    each(s);
    return simdjson::SUCCESS;
  }
  if (type != ondemand::json_type::array) return simdjson::SUCCESS;
  ondemand::array array;
  if (const error_code e = v.get_array().get(array)) return e;
  for (auto element : array) {
    ondemand::value item;
    if (const error_code e = std::move(element).get(item)) return e;
    ondemand::json_type item_type;
    if (const error_code e = item.type().get(item_type)) return e;
    if (item_type != ondemand::json_type::string) continue;
    std::string_view s;
    if (const error_code e = item.get_string().get(s)) return e;
    each(s);
  }
  return simdjson::SUCCESS;
}

// The raw text of a scalar (a number's digits) with trailing blanks dropped; empty for containers.
[[nodiscard]] inline error_code ScalarText(ondemand::value& v, std::string_view* out) {
  *out = {};
  ondemand::json_type type;
  if (const error_code e = v.type().get(type)) return e;
  if (type == ondemand::json_type::string) return v.get_string().get(*out);
  if (type == ondemand::json_type::array || type == ondemand::json_type::object) return simdjson::SUCCESS;
  std::string_view raw = v.raw_json_token();
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r' || raw.back() == '\n')) {
    raw.remove_suffix(1);
  }
  *out = raw;
  return simdjson::SUCCESS;
}

}  // namespace concord::detect::logs::detail
