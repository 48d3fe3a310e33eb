// concord/node/detect_commands.h — `concord match`, `concord search`, and the detection formats of
// `concord export` (issue 4).
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "correlate/warninglist.h"
#include "store/store.h"

namespace concord::node {

struct MatchArgs {
  std::string format = "text";            // eve, zeek, jsonl, csv, text
  std::vector<std::string> inputs;        // files or directories; none or "-": standard input
  std::vector<std::string> fields;        // jsonl/csv: FIELD=KIND
  std::string time_field;
  std::string csv_delimiter = ",";
  bool no_header = false;
  bool follow = false;                    // -f: keep reading growing files
  bool record = false;                    // store aggregated STIX sightings
  int64_t window_seconds = 3600;          // sighting aggregation window
  std::string sighting_tlp = "amber";
  std::string warninglists;               // directory; "" = the shipped lists, "none" = no lists
  bool quiet = false;
  std::vector<std::string> decay;         // KIND=DAYS[:SPEED] over the default decay (ParseDecayPolicy)
  // Tests stop a follow after this many idle polls (0: follow until interrupted).
  int follow_idle_polls = 0;
};

int RunMatch(const std::string& db, const MatchArgs& args, std::ostream& out, std::ostream& err);

struct SearchArgs {
  std::string value;
  std::string kind;          // "" = detect from the value's shape
  int64_t after = 0;
  size_t limit = 50;
  size_t sightings = 10;     // per indicator found (0..100; 0: none)
  std::string warninglists;  // as MatchArgs::warninglists
};

// `concord search VALUE`: the objects that have the value (postings), addresses related by containment,
// the warninglists it is on, the indicators that would fire on it now, and the sightings of the indicators
// found (correlate::SearchResult::sightings; revoked sightings left out). Reads everything (a local
// operator's view), like `concord get`.
int RunSearch(const std::string& db, const SearchArgs& args, bool json, std::ostream& out, std::ostream& err);

// The warninglists at `directory` ("" → the lists shipped in the project's data/warninglists, "none" →
// none: returns null).
[[nodiscard]] absl::StatusOr<std::unique_ptr<correlate::Warninglists>> LoadWarninglists(const std::string& directory,
                                                                                      std::ostream& err);

}  // namespace concord::node
