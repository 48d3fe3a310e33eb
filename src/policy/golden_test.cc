// Golden policy tables under tests/cases/policy/: visible.tsv and egress.tsv hold every combination of TLP,
// distribution, sharing group and relation with the expected decision (generate.py states the rules they
// come from). This runner rebuilds the fixture the tables describe and reports every row that disagrees.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace concord::policy {
namespace {

const std::string kCases = std::string(CONCORD_SOURCE_DIR) + "/tests/cases/policy/";

struct Row {
  int line = 0;
  std::string text;
  std::map<std::string, std::string> cells;  // by column name
};

// The data rows of a TSV file whose first non-comment line names the columns.
std::vector<Row> ReadTable(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<std::string> columns;
  std::vector<Row> rows;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells;
    std::stringstream fields(line);
    for (std::string cell; std::getline(fields, cell, '\t');) cells.push_back(cell);
    if (columns.empty()) {
      columns = cells;
      continue;
    }
    EXPECT_EQ(cells.size(), columns.size()) << path << ":" << n << ": " << line;
    Row row{n, line, {}};
    for (size_t i = 0; i < cells.size() && i < columns.size(); ++i) row.cells[columns[i]] = cells[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

PolicyContext Context() {
  PolicyContext context;
  context.sharing_groups["group"] = {
      "group", {"org-owner", "org-member", "org-peer-member", "org-peer-other-member", "org-origin"}};
  return context;
}

std::map<std::string, Peer> Peers() {
  return {
      {"same-member", {"peer-same-member", "org-peer-member", {"csirts"}}},
      {"same-nonmember", {"peer-same-nonmember", "org-peer-nonmember", {"csirts"}}},
      {"other-member", {"peer-other-member", "org-peer-other-member", {"le-24-7"}}},
      {"other-nonmember", {"peer-other-nonmember", "org-peer-other", {"le-24-7"}}},
      {"origin", {"peer-origin", "org-origin", {"csirts"}}},
  };
}

// The object a row describes. Received objects are owned by the host organisation, org-owner.
ObjectPolicy ObjectOf(const Row& row) {
  ObjectPolicy object;
  const auto tlp = stix::ParseTlpName(row.cells.at("tlp"));
  const auto distribution = ParseDistribution(row.cells.at("distribution"));
  EXPECT_TRUE(tlp && distribution) << "line " << row.line << ": " << row.text;
  object.tlp = tlp.value_or(stix::Tlp::kNone);
  object.distribution = distribution.value_or(Distribution::kOrganisation);
  object.owner_org = "org-owner";
  if (row.cells.at("group") != "-") object.sharing_group = row.cells.at("group");
  const std::string& origin = row.cells.at("origin");
  if (origin == "local-scoped") object.communities = {"csirts"};
  if (origin == "received") {
    object.communities = {"csirts"};
    object.origin_peer = "peer-origin";
  }
  return object;
}

std::string Join(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& s : list) out += (out.empty() ? "" : ",") + s;
  return out;
}

TEST(GoldenPolicy, VisibleTable) {
  const std::vector<Row> rows = ReadTable(kCases + "visible.tsv");
  EXPECT_EQ(rows.size(), 2u * 6u * 9u * 3u);  // origin x TLP x (distribution, group) x viewer
  const PolicyContext context = Context();
  const std::map<std::string, std::string> viewers = {
      {"owner", "org-owner"}, {"member", "org-member"}, {"other", "org-other"}};
  int failures = 0;
  for (const Row& row : rows) {
    const Visibility got = Visible({viewers.at(row.cells.at("viewer"))}, ObjectOf(row), context);
    const std::string got_text = got.visible ? "visible" : "hidden";
    if (got_text != row.cells.at("expected")) {
      ++failures;
      ADD_FAILURE() << "visible.tsv:" << row.line << ": " << row.text << "\n  got " << got_text << " (" << got.reason
                    << ")";
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(GoldenPolicy, EgressTable) {
  const std::vector<Row> rows = ReadTable(kCases + "egress.tsv");
  // (local, local-scoped) x 4 peers + received x 5 peers, each x TLP x (distribution, group) x mode.
  EXPECT_EQ(rows.size(), (2u * 4u + 5u) * 6u * 9u * 2u);
  const PolicyContext context = Context();
  const std::map<std::string, Peer> peers = Peers();
  int failures = 0;
  for (const Row& row : rows) {
    const EgressMode mode = row.cells.at("mode") == "push" ? EgressMode::kPush : EgressMode::kPull;
    const EgressDecision got = Egress(peers.at(row.cells.at("peer")), ObjectOf(row), context, mode);
    const std::string got_text = got.send ? std::string(DistributionName(got.send_as)) : "refuse";
    const std::string got_communities = got.send ? Join(got.communities) : "-";
    if (got_text != row.cells.at("expected") || got_communities != row.cells.at("communities")) {
      ++failures;
      ADD_FAILURE() << "egress.tsv:" << row.line << ": " << row.text << "\n  got " << got_text << "\t"
                    << got_communities << " (" << got.reason << ")";
    }
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace concord::policy
