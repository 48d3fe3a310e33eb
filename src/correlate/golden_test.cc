// Golden normalisation cases under tests/cases/normalize/normalize.tsv: one row per input with the exact
// canonical value or the exact error message. The runner reports every row that disagrees.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/status.h"
#include "correlate/normalize.h"

namespace concord::correlate {
void PrintTo(const Normalized& n, std::ostream* os) { *os << ValueKindName(n.kind) << " " << n.value; }

namespace {

const std::string kCases = std::string(CONCORD_SOURCE_DIR) + "/tests/cases/normalize/normalize.tsv";

struct Case {
  int line = 0;
  std::string kind;
  std::string input;
  std::string result_kind;
  std::string expected;
};

std::vector<Case> ReadCases() {
  std::ifstream in(kCases);
  EXPECT_TRUE(in.good()) << kCases;
  std::vector<Case> cases;
  bool header = true;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells;
    std::stringstream fields(line);
    for (std::string cell; std::getline(fields, cell, '\t');) cells.push_back(cell);
    if (header) {
      EXPECT_EQ(cells, (std::vector<std::string>{"kind", "input", "result_kind", "expected"}));
      header = false;
      continue;
    }
    EXPECT_EQ(cells.size(), 4u) << kCases << ":" << n << ": " << line;
    if (cells.size() != 4) continue;
    cases.push_back({n, cells[0], cells[1], cells[2], cells[3]});
  }
  return cases;
}

TEST(NormalizeGolden, EveryRowMatches) {
  const std::vector<Case> cases = ReadCases();
  ASSERT_GE(cases.size(), 120u);  // the table is read as a whole, not cut short by a stray line
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "normalize.tsv:" << c.line << ": " << c.kind << " \"" << c.input << "\"");
    absl::StatusOr<Normalized> got = absl::InvalidArgumentError("kind not read");
    if (c.kind == "any") {
      got = NormalizeAny(c.input);
    } else {
      const std::optional<Kind> kind = ParseKind(c.kind);
      ASSERT_TRUE(kind.has_value()) << "unknown kind";
      got = NormalizeAs(*kind, c.input);
    }
    if (c.result_kind == "error") {
      ASSERT_FALSE(got.ok()) << "expected an error, got " << ValueKindName(got->kind) << " " << got->value;
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(Sv(got.status().message()), c.expected);
    } else {
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(ValueKindName(got->kind), c.result_kind);
      EXPECT_EQ(got->value, c.expected);
      // Canonical text is a fixed point: normalising it again changes nothing.
      auto again = NormalizeAs(got->kind, got->value);
      ASSERT_TRUE(again.ok()) << again.status();
      EXPECT_EQ(*again, *got);
    }
  }
}

}  // namespace
}  // namespace concord::correlate
