// Golden cases for the pattern module, read from tests/cases/patterns/ (see the header of each file):
//   valid.txt    — must parse; the canonical rendering must parse back to itself
//   invalid.txt  — must fail at the given byte offset with the given message substring
//   match/*.json — a pattern, a bundle, and the expected match result with its observed-data ids
// and every indicator pattern in the shared STIX example and ATT&CK data must parse.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "boost/json/value.hpp"
#include "common/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pattern/evaluate.h"
#include "pattern/extract.h"
#include "pattern/pattern.h"

namespace concord::pattern {
namespace {

namespace fs = std::filesystem;

const fs::path kCases = fs::path(CONCORD_SOURCE_DIR) / "tests" / "cases" / "patterns";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> DataLines(const fs::path& p) {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(p));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    out.push_back(line);
  }
  return out;
}

TEST(PatternGolden, ValidPatternsParseAndRoundTrip) {
  const auto lines = DataLines(kCases / "valid.txt");
  ASSERT_GE(lines.size(), 60u);
  for (const std::string& text : lines) {
    auto p = Pattern::Parse(text);
    ASSERT_TRUE(p.ok()) << text << "\n  " << p.status();
    const std::string canonical = p->ToString();
    auto q = Pattern::Parse(canonical);
    ASSERT_TRUE(q.ok()) << text << "\n  canonical: " << canonical << "\n  " << q.status();
    EXPECT_EQ(q->ToString(), canonical) << text;
    // Extraction and evaluation must work on every valid pattern.
    (void)Extract(*p);
    (void)Evaluate(*p, {});
  }
}

TEST(PatternGolden, InvalidPatternsFailAtTheRightOffset) {
  const auto lines = DataLines(kCases / "invalid.txt");
  ASSERT_GE(lines.size(), 40u);
  for (const std::string& line : lines) {
    const size_t t1 = line.find('\t');
    const size_t t2 = line.find('\t', t1 + 1);
    ASSERT_NE(t2, std::string::npos) << "malformed case line: " << line;
    const std::string text = line.substr(0, t1);
    const size_t offset = std::stoul(line.substr(t1 + 1, t2 - t1 - 1));
    const std::string expect = line.substr(t2 + 1);
    auto p = Pattern::Parse(text);
    ASSERT_FALSE(p.ok()) << "parsed but should not: " << text;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << text;
    auto e = GetParseError(p.status());
    ASSERT_TRUE(e.has_value()) << text;
    EXPECT_EQ(e->offset, offset) << text << "\n  got: " << p.status().message();
    EXPECT_THAT(e->message, ::testing::HasSubstr(expect)) << text;
    EXPECT_THAT(std::string(p.status().message()), ::testing::StartsWith("offset " + std::to_string(offset) + ": "));
  }
}

TEST(PatternGolden, MatchCases) {
  size_t n = 0;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kCases / "match")) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    auto doc = ParseJson(ReadFile(file));
    ASSERT_TRUE(doc.ok()) << doc.status();
    const boost::json::object& c = doc->as_object();
    const std::string text(c.at("pattern").as_string());
    auto p = Pattern::Parse(text);
    ASSERT_TRUE(p.ok()) << text << ": " << p.status();
    auto obs = ObservationsFromBundle(c.at("bundle"));
    ASSERT_TRUE(obs.ok()) << obs.status();
    MatchResult r = Evaluate(*p, *obs);
    EXPECT_EQ(r.matched, c.at("matched").as_bool()) << text;
    std::vector<std::string> want;
    for (const auto& v : c.at("observations").as_array()) want.emplace_back(v.as_string());
    EXPECT_EQ(r.observation_ids, want) << text;
    EXPECT_FALSE(r.truncated);
    ++n;
  }
  EXPECT_GE(n, 25u);
}

// Every indicator pattern (pattern_type stix) in the shared example data parses.
TEST(PatternGolden, SharedDataIndicatorsParse) {
  size_t n = 0;
  for (const char* dir : {"stix-examples", "attack"}) {
    const fs::path d = fs::path(CONCORD_SHARED_DATA) / dir;
    if (!fs::exists(d)) continue;
    for (const auto& entry : fs::directory_iterator(d)) {
      if (entry.path().extension() != ".json") continue;
      auto doc = ParseJson(ReadFile(entry.path()), JsonLimits{128});
      ASSERT_TRUE(doc.ok()) << entry.path() << ": " << doc.status();
      const boost::json::array* objects = nullptr;
      if (doc->is_object() && doc->as_object().contains("objects")) objects = &doc->as_object().at("objects").as_array();
      if (doc->is_array()) objects = &doc->as_array();
      if (objects == nullptr) continue;
      for (const auto& o : *objects) {
        if (!o.is_object()) continue;
        const auto& obj = o.as_object();
        auto type = obj.find("type");
        auto pattern = obj.find("pattern");
        if (type == obj.end() || type->value() != "indicator" || pattern == obj.end()) continue;
        auto pattern_type = obj.find("pattern_type");
        if (pattern_type != obj.end() && pattern_type->value() != "stix") continue;
        const std::string text(pattern->value().as_string());
        auto p = Pattern::Parse(text);
        EXPECT_TRUE(p.ok()) << entry.path().filename() << ": " << text << ": " << p.status();
        ++n;
      }
    }
  }
  EXPECT_GE(n, 40u);
}

}  // namespace
}  // namespace concord::pattern
