#include "ingest/ingest.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <fstream>
#include <iterator>
#include <sstream>

#include "boost/json/object.hpp"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"
#include "pattern/pattern.h"

namespace concord::ingest {
namespace {

std::string StringMember(const boost::json::value& item, std::string_view key) {
  if (!item.is_object()) return {};
  const auto* v = item.get_object().if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

absl::StatusOr<std::string> ReadSource(const std::string& path) {
  if (path == "-") {
    std::ostringstream buf;
    buf << std::cin.rdbuf();
    return buf.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(fmt::format("{}: read error", path));
  return bytes;
}

// JSON lines: several top-level values separated by newlines. A document that parses whole is not.
bool LooksLikeJsonLines(std::string_view bytes) {
  const size_t first_nl = bytes.find('\n');
  if (first_nl == std::string_view::npos) return false;
  const size_t next = bytes.find_first_not_of(" \t\r\n", first_nl);
  return next != std::string_view::npos && bytes[next] == '{' &&
         bytes.substr(0, first_nl).find_last_not_of(" \t\r") != std::string_view::npos &&
         bytes[bytes.substr(0, first_nl).find_last_not_of(" \t\r")] == '}';
}

}  // namespace

absl::StatusOr<stix::Object> ValidateObject(boost::json::object item) {
  CONCORD_ASSIGN_OR_RETURN(stix::Object object, stix::ParseObject(std::move(item)));
  if (object.type == "indicator") {
    const auto* type = object.json.if_contains("pattern_type");
    const auto* text = object.json.if_contains("pattern");
    if (type && type->is_string() && type->get_string() == "stix" && text && text->is_string()) {
      auto parsed = pattern::Pattern::Parse(std::string_view(text->get_string()));
      if (!parsed.ok()) return FieldError("pattern", Sv(parsed.status().message()));
    }
  }
  return object;
}

absl::Status Ingestor::AddFile(const std::string& path) {
  auto bytes = ReadSource(path);
  if (!bytes.ok()) {
    report_.file_errors.push_back({.source = path, .reason = std::string(Sv(bytes.status().message()))});
    return bytes.status();
  }
  return AddBytes(path, *bytes);
}

absl::Status Ingestor::AddBytes(std::string_view source, std::string_view bytes) {
  report_.bytes_read += static_cast<int64_t>(bytes.size());
  auto file_error = [&](const absl::Status& s) {
    report_.file_errors.push_back({.source = std::string(source), .reason = std::string(Sv(s.message()))});
    return Annotate(s, source);
  };
  std::vector<Item> items;
  if (LooksLikeJsonLines(bytes)) {
    // Each line stands alone: a bad line is rejected and the others are still read (unless strict).
    size_t line_no = 0;
    for (size_t pos = 0; pos < bytes.size();) {
      size_t end = bytes.find('\n', pos);
      if (end == std::string_view::npos) end = bytes.size();
      const std::string_view line = bytes.substr(pos, end - pos);
      pos = end + 1;
      const size_t index = line_no++;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      auto value = ParseJson(line);
      auto split = value.ok() ? SplitItems(std::move(*value)) : value.status();
      if (!split.ok()) {
        Reject(source, index, boost::json::value(), split.status());
        if (options_.strict) return Annotate(split.status(), fmt::format("{} line {}", source, index + 1));
        continue;
      }
      for (auto& v : *split) items.push_back({index, std::move(v)});
    }
  } else {
    auto document = ParseJson(bytes);
    if (!document.ok()) return file_error(document.status());
    auto split = SplitItems(std::move(*document));
    if (!split.ok()) return file_error(split.status());
    items.reserve(split->size());
    for (size_t i = 0; i < split->size(); ++i) items.push_back({i, std::move((*split)[i])});
  }
  return AddItems(source, items);
}

absl::StatusOr<std::vector<boost::json::value>> SplitItems(boost::json::value document) {
  if (document.is_array()) return std::vector<boost::json::value>(document.get_array().begin(), document.get_array().end());
  if (!document.is_object()) {
    return FieldError("", fmt::format("expected a STIX bundle or object, found a JSON {}", JsonKindName(document)));
  }
  auto& obj = document.get_object();
  const auto* type = obj.if_contains("type");
  if (type && type->is_string() && type->get_string() == "bundle") {
    auto* objects = obj.if_contains("objects");
    if (objects == nullptr) return std::vector<boost::json::value>{};  // an empty bundle may omit it
    if (!objects->is_array()) return FieldError("objects", "a bundle's objects must be an array");
    auto& arr = objects->get_array();
    std::vector<boost::json::value> out;
    out.reserve(arr.size());
    for (auto& v : arr) out.push_back(std::move(v));
    return out;
  }
  std::vector<boost::json::value> out;
  out.push_back(std::move(document));
  return out;
}

void Ingestor::Reject(std::string_view source, size_t index, const boost::json::value& item, const absl::Status& why) {
  std::string type = StringMember(item, "type");
  report_.totals.rejected++;
  report_.by_type[type.empty() ? "(unknown)" : type].rejected++;
  report_.rejected.push_back({.source = std::string(source),
                              .index = index,
                              .id = StringMember(item, "id"),
                              .type = std::move(type),
                              .field = ErrorField(why),
                              .reason = std::string(ErrorReason(why))});
}

absl::Status Ingestor::AddItems(std::string_view source, std::vector<Item>& items) {
  std::vector<Pending> strict_batch;
  std::vector<Pending>& target = options_.strict ? strict_batch : batch_;
  for (auto& [index, item] : items) {
    if (!item.is_object()) {
      absl::Status why = FieldError("", fmt::format("expected a STIX object, found a JSON {}", JsonKindName(item)));
      Reject(source, index, item, why);
      if (options_.strict) return Annotate(why, fmt::format("{} item {}", source, index));
      continue;
    }
    // Validation takes the item by value; keep what identifies it for the report.
    boost::json::object identity;
    if (const auto* id = item.get_object().if_contains("id")) identity["id"] = *id;
    if (const auto* type = item.get_object().if_contains("type")) identity["type"] = *type;
    auto object = ValidateObject(std::move(item.get_object()));
    if (!object.ok()) {
      Reject(source, index, identity, object.status());
      if (options_.strict) return Annotate(object.status(), fmt::format("{} item {}", source, index));
      continue;
    }
    target.push_back({.object = std::move(*object), .source = std::string(source), .index = index});
    if (!options_.strict && batch_.size() >= options_.batch_size) CONCORD_RETURN_IF_ERROR(Commit(batch_));
  }
  if (options_.strict) {
    for (size_t start = 0; start < strict_batch.size(); start += options_.batch_size) {
      std::vector<Pending> chunk;
      for (size_t k = start; k < std::min(strict_batch.size(), start + options_.batch_size); ++k) {
        chunk.push_back(std::move(strict_batch[k]));
      }
      CONCORD_RETURN_IF_ERROR(Commit(chunk));
    }
  }
  return absl::OkStatus();
}

absl::Status Ingestor::Flush() { return Commit(batch_); }

absl::Status Ingestor::Commit(std::vector<Pending>& batch) {
  if (batch.empty()) return absl::OkStatus();
  std::vector<stix::Object> objects;
  objects.reserve(batch.size());
  for (auto& p : batch) objects.push_back(std::move(p.object));
  CONCORD_ASSIGN_OR_RETURN(std::vector<store::PutResult> results, store_.Put(objects));
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    OutcomeCounts& by_type = report_.by_type[objects[i].type];
    switch (r.outcome) {
      case store::PutOutcome::kNew: report_.totals.new_objects++, by_type.new_objects++; break;
      case store::PutOutcome::kNewVersion: report_.totals.new_versions++, by_type.new_versions++; break;
      case store::PutOutcome::kUnchanged: report_.totals.unchanged++, by_type.unchanged++; break;
      case store::PutOutcome::kConflict:
      case store::PutOutcome::kRejected: {
        const bool conflict = r.outcome == store::PutOutcome::kConflict;
        (conflict ? report_.totals.conflicts : report_.totals.rejected)++;
        (conflict ? by_type.conflicts : by_type.rejected)++;
        (conflict ? report_.conflicts : report_.rejected)
            .push_back({.source = batch[i].source,
                        .index = batch[i].index,
                        .id = objects[i].id,
                        .type = objects[i].type,
                        .field = conflict ? "modified" : "",
                        .reason = r.reason});
        break;
      }
    }
  }
  handled_ += static_cast<int64_t>(batch.size());
  batch.clear();
  if (options_.on_progress) options_.on_progress(handled_, report_.bytes_read);
  return absl::OkStatus();
}

}  // namespace concord::ingest
