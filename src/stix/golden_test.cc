// Golden cases under tests/cases/objects/: invalid.jsonl (object, expected field and message), valid.jsonl
// (object, optional expected columns) and sco_ids.json (object, expected deterministic id or null).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/status.h"
#include "stix/object.h"

namespace concord::stix {
namespace {

const std::string kCases = std::string(CONCORD_SOURCE_DIR) + "/tests/cases/objects/";

std::vector<boost::json::object> ReadJsonLines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<boost::json::object> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    auto v = ParseJson(line);
    EXPECT_TRUE(v.ok() && v->is_object()) << path << ":" << n << ": " << v.status();
    if (v.ok() && v->is_object()) out.push_back(std::move(v->get_object()));
  }
  return out;
}

std::string_view Str(const boost::json::object& o, std::string_view key) { return o.at(key).as_string(); }

TEST(GoldenObjects, InvalidCasesFailWithTheirFieldAndMessage) {
  const auto cases = ReadJsonLines(kCases + "invalid.jsonl");
  EXPECT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    SCOPED_TRACE(Str(c, "name"));
    auto obj = ParseObject(c.at("object").as_object());
    ASSERT_FALSE(obj.ok());
    EXPECT_EQ(obj.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ErrorField(obj.status()), Str(c, "field"));
    EXPECT_EQ(ErrorReason(obj.status()), Str(c, "message"));
  }
}

TEST(GoldenObjects, ValidCasesParseAndRoundTrip) {
  const auto cases = ReadJsonLines(kCases + "valid.jsonl");
  EXPECT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    SCOPED_TRACE(Str(c, "name"));
    const boost::json::object& original = c.at("object").as_object();
    auto obj = ParseObject(original);
    ASSERT_TRUE(obj.ok()) << obj.status();
    EXPECT_EQ(Serialize(*obj), boost::json::serialize(original));
    if (const auto* expect = c.if_contains("expect")) {
      const auto& e = expect->as_object();
      if (const auto* tlp = e.if_contains("tlp")) {
        EXPECT_EQ(TlpName(obj->tlp), tlp->as_string());
      }
      if (const auto* d = e.if_contains("distribution")) {
        EXPECT_EQ(obj->distribution, d->as_int64());
      }
    }
  }
}

TEST(GoldenObjects, ScoIds) {
  std::ifstream in(kCases + "sco_ids.json");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = ParseJson(text.str());
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_GE(doc->as_array().size(), 20u);
  for (const auto& item : doc->as_array()) {
    const auto& c = item.as_object();
    SCOPED_TRACE(Str(c, "name"));
    const auto& sco = c.at("object").as_object();
    const auto id = ComputeScoId(Str(sco, "type"), sco);
    if (c.at("id").is_null()) {
      EXPECT_EQ(id, std::nullopt);
    } else {
      EXPECT_EQ(id, Str(c, "id"));
    }
  }
}

}  // namespace
}  // namespace concord::stix
