// Every object of the OASIS examples and the MITRE ATT&CK bundles parses and round-trips (one pass).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "boost/json/parse.hpp"
#include "common/json.h"
#include "stix/bundle.h"
#include "stix/object.h"

namespace concord::stix {
namespace {

namespace fs = std::filesystem;

size_t CheckFiles(const fs::path& dir) {
  size_t objects = 0;
  EXPECT_TRUE(fs::is_directory(dir)) << dir;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto doc = ParseJson(text.str());
    EXPECT_TRUE(doc.ok()) << doc.status();
    if (!doc.ok()) continue;
    auto items = BundleItems(std::move(*doc));
    EXPECT_TRUE(items.ok()) << items.status();
    if (!items.ok()) continue;
    for (size_t i = 0; i < items->size(); ++i) {
      boost::json::value original = (*items)[i];
      EXPECT_TRUE((*items)[i].is_object()) << "item " << i;
      if (!(*items)[i].is_object()) continue;
      auto obj = ParseObject(std::move((*items)[i].as_object()));
      EXPECT_TRUE(obj.ok()) << "item " << i << ": " << obj.status();
      if (!obj.ok()) continue;
      ++objects;
      EXPECT_EQ(boost::json::parse(Serialize(*obj)), original) << obj->id;
    }
  }
  return objects;
}

TEST(RealData, OasisExamplesParseAndRoundTrip) {
  EXPECT_GE(CheckFiles(fs::path(CONCORD_SHARED_DATA) / "stix-examples"), 100u);
}

TEST(RealData, AttackBundlesParseAndRoundTrip) {
  EXPECT_GE(CheckFiles(fs::path(CONCORD_SHARED_DATA) / "attack"), 6000u);
}

}  // namespace
}  // namespace concord::stix
