// Golden correlation cases under tests/cases/correlation/: bundle.json is ingested (with postings) into a
// fresh store, the warninglist-*.json files are loaded, and every row of queries.tsv runs one Search or
// CorrelationsOf and compares a one-line rendering of the result. Objects are written as TYPE#N (N the last
// UUID group of the id as a number), "(revoked)" marking revoked ones. The runner reports every row that
// disagrees.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/status.h"
#include "correlate/correlator.h"
#include "correlate/postings.h"
#include "correlate/testing/objects.h"
#include "fmt/format.h"

namespace concord::correlate {
namespace {

const std::string kDir = std::string(CONCORD_SOURCE_DIR) + "/tests/cases/correlation/";

std::string Short(const store::StoredObject& o) {
  const size_t dash = o.id.rfind('-');
  return fmt::format("{}#{}{}", o.type, std::stoll(o.id.substr(dash + 1)), o.revoked ? "(revoked)" : "");
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string cell; std::getline(in, cell, sep);) out.push_back(cell);
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

std::string Objects(const std::vector<store::StoredObject>& objects) {
  std::vector<std::string> parts;
  for (const auto& o : objects) parts.push_back(Short(o));
  return "[" + Join(parts, " ") + "]";
}

std::string Hits(const std::vector<AddressHit>& hits) {
  std::vector<std::string> parts;
  for (const auto& h : hits) parts.push_back(h.value + "@" + Short(h.object));
  return "[" + Join(parts, " ") + "]";
}

struct Options {
  SearchOptions search;
  CorrelationOptions correlations;
  std::set<std::string> hidden;  // TYPE#N
  int page = 1;
};

Options ParseOptions(const std::string& text) {
  Options o;
  if (text == "-") return o;
  for (const std::string& item : Split(text, ',')) {
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    if (key == "limit") o.search.limit = std::stoul(value);
    else if (key == "max") o.search.max_correlations = o.correlations.max_correlations = std::stoll(value);
    else if (key == "related") o.search.max_related = o.correlations.max_related = std::stoul(value);
    else if (key == "per") o.correlations.per_value = std::stoul(value);
    else if (key == "page") o.page = std::stoi(value);
    else if (key == "kind") o.search.kind = ParseKind(value);
    else if (key == "hide") {
      for (const std::string& h : Split(value, '+')) o.hidden.insert(h);
    } else {
      ADD_FAILURE() << "unknown option " << key;
    }
  }
  return o;
}

class CorrelationGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "correlation_golden_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    store::OpenOptions options;
    options.postings = &extractor_;
    auto opened = store::OpenStore("sqlite:" + (dir_ / "concord.db").string(), options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
    auto put = store_->Put(testing::ReadBundle(kDir + "bundle.json"));
    ASSERT_TRUE(put.ok()) << put.status();
    std::vector<WarninglistSource> sources;
    for (const char* name : {"warninglist-hosts.json", "warninglist-net.json"}) {
      std::ifstream in(kDir + name);
      std::stringstream text;
      text << in.rdbuf();
      sources.push_back({name, text.str()});
    }
    auto lists = Warninglists::Build(sources, nullptr);
    ASSERT_TRUE(lists.ok()) << lists.status();
    lists_ = std::move(*lists);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Run(const std::string& query, const std::string& input, const Options& options) {
    Correlator correlator(*store_, lists_.get());
    auto visible = [&](const store::StoredObject& o) {
      const size_t dash = o.id.rfind('-');
      return options.hidden.count(fmt::format("{}#{}", o.type, std::stoll(o.id.substr(dash + 1)))) == 0;
    };
    if (query == "search") {
      SearchOptions search = options.search;
      absl::StatusOr<SearchResult> result = absl::InternalError("not run");
      for (int page = 1; page <= options.page; ++page) {
        result = correlator.Search(input, search, visible);
        if (!result.ok()) break;
        search.after = result->objects.next_after;
      }
      if (!result.ok()) return fmt::format("error: {}", Sv(result.status().message()));
      std::string out = fmt::format("{} {}", ValueKindName(result->kind), result->value);
      if (!result->warninglists.empty()) out += " lists=[" + Join(result->warninglists, " ") + "]";
      out += fmt::format(" over={} objects={} more={}", result->over_correlating ? 1 : 0,
                         Objects(result->objects.objects), result->objects.more ? 1 : 0);
      if (!result->containing.empty()) out += " containing=" + Hits(result->containing);
      if (result->containing_more) out += " containing_more=1";
      if (!result->contained.empty()) out += " contained=" + Hits(result->contained);
      if (result->contained_more) out += " contained_more=1";
      return out;
    }
    if (query == "correlations") {
      auto result = correlator.CorrelationsOf(input, options.correlations, visible);
      if (!result.ok()) return fmt::format("error: {}", Sv(result.status().message()));
      std::vector<std::string> values;
      for (const CorrelatedValue& v : *result) {
        std::string out = fmt::format("{} {}", ValueKindName(v.kind), v.value);
        if (!v.warninglists.empty()) out += " lists=[" + Join(v.warninglists, " ") + "]";
        if (v.over_correlating) out += " over=1";
        out += " objects=" + Objects(v.objects.objects);
        if (v.objects.more) out += " more=1";
        if (!v.containing.empty()) out += " containing=" + Hits(v.containing);
        if (!v.contained.empty()) out += " contained=" + Hits(v.contained);
        if (v.related_more) out += " related_more=1";
        values.push_back(out);
      }
      return Join(values, " ; ");
    }
    return "unknown query " + query;
  }

  PostingExtractor extractor_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Warninglists> lists_;
};

TEST_F(CorrelationGolden, EveryRowMatches) {
  std::ifstream in(kDir + "queries.tsv");
  ASSERT_TRUE(in.good());
  bool header = true;
  int rows = 0;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells = Split(line, '\t');
    if (header) {
      EXPECT_EQ(cells, (std::vector<std::string>{"query", "input", "options", "expected"}));
      header = false;
      continue;
    }
    ASSERT_EQ(cells.size(), 4u) << "queries.tsv:" << n << ": " << line;
    ++rows;
    EXPECT_EQ(Run(cells[0], cells[1], ParseOptions(cells[2])), cells[3])
        << "queries.tsv:" << n << ": " << cells[0] << " " << cells[1] << " " << cells[2];
  }
  EXPECT_GE(rows, 20);
}

}  // namespace
}  // namespace concord::correlate
