// concord/correlate/testing/objects.h — STIX objects for correlate tests, read through the real parser.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "stix/bundle.h"
#include "stix/object.h"

namespace concord::correlate::testing {

// One object from JSON text; fails the test when it is not a valid STIX object.
inline stix::Object Parse(std::string_view json) {
  auto value = ParseJson(json);
  EXPECT_TRUE(value.ok() && value->is_object()) << json;
  if (!value.ok() || !value->is_object()) return {};
  auto object = stix::ParseObject(std::move(value->get_object()));
  EXPECT_TRUE(object.ok()) << object.status() << ": " << json;
  return object.ok() ? *std::move(object) : stix::Object{};
}

// Every object of a bundle file.
inline std::vector<stix::Object> ReadBundle(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream text;
  text << in.rdbuf();
  auto document = ParseJson(text.str());
  EXPECT_TRUE(document.ok()) << path << ": " << document.status();
  std::vector<stix::Object> out;
  if (!document.ok()) return out;
  auto items = stix::BundleItems(std::move(*document));
  EXPECT_TRUE(items.ok()) << path << ": " << items.status();
  if (!items.ok()) return out;
  for (boost::json::value& item : *items) {
    auto object = stix::ParseObject(std::move(item.as_object()));
    EXPECT_TRUE(object.ok()) << path << ": " << object.status();
    if (object.ok()) out.push_back(*std::move(object));
  }
  return out;
}

}  // namespace concord::correlate::testing
