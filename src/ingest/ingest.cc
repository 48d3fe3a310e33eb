#include "ingest/ingest.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <iostream>
#include <fstream>
#include <iterator>
#include <utility>
#include <sstream>

#include "boost/json/object.hpp"
#include "correlate/postings.h"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"
#include "pattern/pattern.h"
#include "stix/bundle.h"

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

absl::StatusOr<ValidatedObject> ValidateObjectKeepingPattern(boost::json::object item) {
  ValidatedObject out;
  CONCORD_ASSIGN_OR_RETURN(out.object, stix::ParseObject(std::move(item)));
  if (out.object.type == "indicator") {
    const auto* type = out.object.json.if_contains("pattern_type");
    const auto* text = out.object.json.if_contains("pattern");
    if (type && type->is_string() && type->get_string() == "stix" && text && text->is_string()) {
      auto parsed = pattern::Pattern::Parse(std::string_view(text->get_string()));
      if (!parsed.ok()) return FieldError("pattern", Sv(parsed.status().message()));
      out.pattern = *std::move(parsed);
    }
  }
  return out;
}

absl::StatusOr<stix::Object> ValidateObject(boost::json::object item) {
  CONCORD_ASSIGN_OR_RETURN(ValidatedObject validated, ValidateObjectKeepingPattern(std::move(item)));
  return std::move(validated.object);
}

struct Ingestor::InFlight {
  std::vector<stix::Object> objects;
  std::vector<store::EncodedObject> encoded;  // point into objects
  std::vector<Where> where;
  std::future<absl::StatusOr<std::vector<store::PutResult>>> results;
};

Ingestor::Ingestor(store::Store& store, Options options)
    : store_(store),
      options_(std::move(options)),
      pattern_postings_(dynamic_cast<const correlate::PostingExtractor*>(store.posting_extractor())) {}

Ingestor::~Ingestor() {
  if (in_flight_) in_flight_->results.wait();
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
  const int64_t base = bytes_before_source_;
  bytes_before_source_ += static_cast<int64_t>(bytes.size());
  report_.bytes_read += static_cast<int64_t>(bytes.size());
  // In strict mode a source is validated whole before any of it is stored; otherwise items join the
  // running batch as they come.
  std::vector<stix::Object> strict_objects;
  std::vector<Where> strict_where;
  std::vector<stix::Object>& objects = options_.strict ? strict_objects : batch_;
  std::vector<Where>& where = options_.strict ? strict_where : batch_where_;

  if (LooksLikeJsonLines(bytes)) {
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
      for (auto& item : *split) {
        CONCORD_RETURN_IF_ERROR(AddItem(source, index, base + static_cast<int64_t>(end), item, objects, where));
      }
    }
  } else {
    auto document = ParseJson(bytes);
    auto split = document.ok() ? SplitItems(std::move(*document)) : document.status();
    if (!split.ok()) {
      report_.file_errors.push_back({.source = std::string(source), .reason = std::string(Sv(split.status().message()))});
      return Annotate(split.status(), source);
    }
    // A document is parsed whole; its items are placed evenly over its bytes for progress.
    const auto n = static_cast<int64_t>(split->size());
    for (int64_t i = 0; i < n; ++i) {
      const int64_t end_byte = base + static_cast<int64_t>(bytes.size()) * (i + 1) / n;
      CONCORD_RETURN_IF_ERROR(AddItem(source, static_cast<size_t>(i), end_byte, (*split)[static_cast<size_t>(i)], objects, where));
    }
  }
  if (!options_.strict) return absl::OkStatus();
  for (size_t start = 0; start < strict_objects.size(); start += options_.batch_size) {
    const size_t stop = std::min(strict_objects.size(), start + options_.batch_size);
    CONCORD_RETURN_IF_ERROR(Commit({std::make_move_iterator(strict_objects.begin() + static_cast<ptrdiff_t>(start)),
                                    std::make_move_iterator(strict_objects.begin() + static_cast<ptrdiff_t>(stop))},
                                   {strict_where.begin() + static_cast<ptrdiff_t>(start),
                                    strict_where.begin() + static_cast<ptrdiff_t>(stop)}));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<boost::json::value>> SplitItems(boost::json::value document) {
  if (!document.is_array()) return stix::BundleItems(std::move(document));
  auto& arr = document.get_array();  // a plain JSON array of objects, as some tools export them
  return std::vector<boost::json::value>(std::make_move_iterator(arr.begin()), std::make_move_iterator(arr.end()));
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
  if (options_.record_items) {
    const ItemProblem& p = report_.rejected.back();
    report_.items.push_back({p.index, p.id, p.type, "rejected", p.field, p.reason});
  }
}

absl::Status Ingestor::AddItem(std::string_view source, size_t index, int64_t end_byte, boost::json::value& item,
                               std::vector<stix::Object>& objects, std::vector<Where>& where) {
  if (!item.is_object()) {
    absl::Status why = FieldError("", fmt::format("expected a STIX object, found a JSON {}", JsonKindName(item)));
    Reject(source, index, item, why);
    return options_.strict ? Annotate(why, fmt::format("{} item {}", source, index)) : absl::OkStatus();
  }
  // Validation takes the item by value; keep what identifies it for the report.
  boost::json::object identity;
  if (const auto* id = item.get_object().if_contains("id")) identity["id"] = *id;
  if (const auto* type = item.get_object().if_contains("type")) identity["type"] = *type;
  auto validated = ValidateObjectKeepingPattern(std::move(item.get_object()));
  if (validated.ok() && options_.admit) {
    if (absl::Status admitted = options_.admit(validated->object); !admitted.ok()) validated = admitted;
  }
  if (!validated.ok()) {
    Reject(source, index, identity, validated.status());
    return options_.strict ? Annotate(validated.status(), fmt::format("{} item {}", source, index)) : absl::OkStatus();
  }
  Where& w = where.emplace_back(Where{std::string(source), index, end_byte, std::nullopt});
  // The pattern was parsed once to validate it: find the indicator's postings from that parse.
  if (validated->pattern && pattern_postings_ != nullptr) {
    pattern_postings_->ExtractFromPattern(*validated->pattern, w.postings.emplace());
  }
  objects.push_back(std::move(validated->object));
  if (!options_.strict && batch_.size() >= options_.batch_size) {
    return Commit(std::exchange(batch_, {}), std::exchange(batch_where_, {}));
  }
  return absl::OkStatus();
}

absl::Status Ingestor::Flush() {
  if (!batch_.empty()) CONCORD_RETURN_IF_ERROR(Commit(std::exchange(batch_, {}), std::exchange(batch_where_, {})));
  return Drain();
}

absl::Status Ingestor::Commit(std::vector<stix::Object> objects, std::vector<Where> where) {
  auto flight = std::make_unique<InFlight>();
  flight->objects = std::move(objects);
  flight->where = std::move(where);
  // Encoding (serialising, hashing) costs about as much as the database work: done here, while the store
  // still commits the previous batch, so that the store's thread does only the database part.
  flight->encoded.reserve(flight->objects.size());
  for (size_t i = 0; i < flight->objects.size(); ++i) {
    const stix::Object& object = flight->objects[i];
    if (std::optional<std::vector<store::Posting>>& found = flight->where[i].postings) {
      store::EncodedObject& row = flight->encoded.emplace_back(store::Encode(object, nullptr));
      row.postings = *std::move(found);
      row.has_postings = true;
    } else {
      flight->encoded.push_back(store::Encode(object, store_.posting_extractor()));
    }
  }
  CONCORD_RETURN_IF_ERROR(Drain());  // one batch in flight at a time keeps batches in order
  InFlight* f = flight.get();
  f->results = std::async(std::launch::async, [this, f] { return store_.PutEncoded(f->encoded); });
  in_flight_ = std::move(flight);
  return absl::OkStatus();
}

absl::Status Ingestor::Drain() {
  if (!in_flight_) return absl::OkStatus();
  std::unique_ptr<InFlight> flight = std::move(in_flight_);
  CONCORD_ASSIGN_OR_RETURN(std::vector<store::PutResult> results, flight->results.get());
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    const stix::Object& object = flight->objects[i];
    OutcomeCounts& by_type = report_.by_type[object.type];
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
            .push_back({.source = flight->where[i].source,
                        .index = flight->where[i].index,
                        .id = object.id,
                        .type = object.type,
                        .field = conflict ? "modified" : "",
                        .reason = r.reason});
        break;
      }
    }
  }
  if (options_.record_items) {
    for (size_t i = 0; i < results.size(); ++i) {
      const stix::Object& object = flight->objects[i];
      report_.items.push_back({flight->where[i].index, object.id, object.type,
                               std::string(store::PutOutcomeName(results[i].outcome)),
                               results[i].outcome == store::PutOutcome::kConflict ? "modified" : "", results[i].reason});
    }
  }
  handled_ += static_cast<int64_t>(results.size());
  if (options_.on_committed) CONCORD_RETURN_IF_ERROR(options_.on_committed(flight->objects, results));
  if (options_.on_progress && !flight->where.empty()) options_.on_progress(handled_, flight->where.back().end_byte);
  return absl::OkStatus();
}

}  // namespace concord::ingest
