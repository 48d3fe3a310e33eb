// concord/ingest/ingest.h — turning untrusted STIX input into stored versions.
//
// An Ingestor validates every object (stix rules, and the pattern of STIX indicators), stores the valid
// ones through a Store in batched transactions, and keeps a report: what became new, a new version,
// unchanged, conflicting or rejected, by type, with one line per rejected object naming the source, the
// item index, the id, the field and the reason. The CLI's `import` uses it now; the REST and TAXII write
// paths will use it too. An Ingestor is single-threaded; the Store it writes to may be shared.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/value.hpp"
#include "correlate/postings.h"
#include "pattern/pattern.h"
#include "stix/object.h"
#include "store/store.h"

namespace concord::ingest {

// One object that was refused, or whose version conflicts with a stored one.
struct ItemProblem {
  std::string source;  // file name, "-" for standard input, or a caller-chosen label
  size_t index = 0;    // position of the item in its source (0-based; JSON lines: line number - 1)
  std::string id;      // the object's id when it had a readable one
  std::string type;
  std::string field;   // the property at fault ("" when the item as a whole is at fault)
  std::string reason;
};

// What happened to one item, for callers that answer per item (REST, TAXII status).
struct ItemOutcome {
  size_t index = 0;
  std::string id;
  std::string type;
  std::string outcome;  // store::PutOutcomeName, or "rejected" for invalid items
  std::string field;
  std::string reason;
};

struct OutcomeCounts {
  int64_t new_objects = 0;
  int64_t new_versions = 0;
  int64_t unchanged = 0;
  int64_t conflicts = 0;
  int64_t rejected = 0;
  int64_t Total() const { return new_objects + new_versions + unchanged + conflicts + rejected; }
};

struct Report {
  OutcomeCounts totals;
  std::map<std::string, OutcomeCounts> by_type;
  std::vector<ItemProblem> rejected;   // invalid objects and store refusals
  std::vector<ItemProblem> conflicts;  // same (id, modified), different content: the stored one was kept
  std::vector<ItemProblem> file_errors;  // sources that could not be read or parsed at all
  std::vector<ItemOutcome> items;        // every item, when Options::record_items (order: see Items())
  int64_t bytes_read = 0;
};

struct Options {
  // Objects per transaction. Each commit rewrites the pages its new ids touch in the store's id index,
  // so large batches amortise that (docs/benchmarks.md: 26k objects/s at 1,000, 54k at 10,000).
  size_t batch_size = 10000;
  // Refuse a whole source on its first invalid object: nothing of that source is stored.
  bool strict = false;
  // Called after each committed batch with the number of items handled so far and how many bytes of
  // input those items span (over all sources: for a progress bar against the total input size).
  std::function<void(int64_t items, int64_t bytes)> on_progress;
  // Called after each batch is committed, before the next one goes to the store, with the batch's objects and
  // their outcomes (same order). An error stops the ingest there and is returned by the AddFile, AddBytes or
  // Flush that found it (the CLI records each batch in the audit log: what cannot be recorded is not followed
  // by more writes).
  std::function<absl::Status(std::span<const stix::Object> objects, std::span<const store::PutResult> results)>
      on_committed;
  // Keep one ItemOutcome per item in Report::items (REST and TAXII answer per object; the CLI does not).
  bool record_items = false;
  // An extra rule of the write path, applied to each valid object before it is stored; an error rejects
  // that object (REST: the creator must be the caller's organisation).
  std::function<absl::Status(const stix::Object&)> admit;
};

// Validates one item as Concord will store it: STIX 2.1 object rules, plus pattern syntax and
// semantics for indicators whose pattern_type is "stix".
absl::StatusOr<stix::Object> ValidateObject(boost::json::object item);

// ValidateObject, keeping the pattern it parsed (for indicators with pattern_type "stix"; nullopt otherwise),
// so that finding the indicator's postings does not parse it again.
struct ValidatedObject {
  stix::Object object;
  std::optional<pattern::Pattern> pattern;
};
absl::StatusOr<ValidatedObject> ValidateObjectKeepingPattern(boost::json::object item);

class Ingestor {
 public:
  Ingestor(store::Store& store, Options options);
  ~Ingestor();  // waits for a batch still being committed (its outcome is then lost: call Flush first)
  Ingestor(const Ingestor&) = delete;
  Ingestor& operator=(const Ingestor&) = delete;

  // Reads a file ("-" for standard input): a STIX bundle, a single object, a JSON array of objects, or
  // JSON lines (one object or bundle per line, read line by line so memory stays bounded). Problems with
  // single objects go to the report; a source that cannot be read or parsed at all is a file error in the
  // report and the returned status.
  absl::Status AddFile(const std::string& path);
  // The same for bytes already in memory; `source` names them in the report.
  absl::Status AddBytes(std::string_view source, std::string_view bytes);
  // Writes what is still buffered and waits until it is committed. Call once at the end.
  absl::Status Flush();

  const Report& report() const { return report_; }

 private:
  struct Where {
    std::string source;
    size_t index;
    int64_t end_byte;  // input bytes consumed up to the end of this item, over all sources
    // The object's postings, found from the pattern parsed during validation (indicators, when the store
    // uses the correlate module's extractor); otherwise Encode extracts them.
    std::optional<std::vector<store::Posting>> postings;
  };
  // A batch handed to the store. While the store commits it on another thread, the caller's thread
  // parses and validates the next one: the two cores of a small node both work.
  struct InFlight;

  absl::Status AddItem(std::string_view source, size_t index, int64_t end_byte, boost::json::value& item,
                       std::vector<stix::Object>& objects, std::vector<Where>& where);
  absl::Status Commit(std::vector<stix::Object> objects, std::vector<Where> where);
  absl::Status Drain();
  void Reject(std::string_view source, size_t index, const boost::json::value& item, const absl::Status& why);

  store::Store& store_;
  Options options_;
  // The store's extractor when it is the correlate module's: then an indicator's postings come from the
  // pattern parsed during validation. Null otherwise (Encode extracts them).
  const correlate::PostingExtractor* pattern_postings_;
  Report report_;
  std::vector<stix::Object> batch_;
  std::vector<Where> batch_where_;
  std::unique_ptr<InFlight> in_flight_;
  int64_t handled_ = 0;
  int64_t bytes_before_source_ = 0;  // input bytes of the sources finished before the current one
};

// Splits a JSON document into STIX items: a bundle's objects, an array's elements, or the single object.
absl::StatusOr<std::vector<boost::json::value>> SplitItems(boost::json::value document);

}  // namespace concord::ingest
