#include "stix/bundle.h"

#include <gtest/gtest.h>

#include "common/json.h"
#include "common/status.h"

namespace concord::stix {
namespace {

boost::json::value Doc(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : boost::json::value();
}

TEST(BundleItems, ReturnsTheObjectsOfABundle) {
  auto items = BundleItems(Doc(R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
                                   "objects":[{"type":"a","n":1},{"type":"b","n":2}]})"));
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ((*items)[1].as_object().at("n").as_int64(), 2);
}

TEST(BundleItems, ASingleObjectIsOneItem) {
  auto items = BundleItems(Doc(R"({"type":"indicator","id":"x"})"));
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].as_object().at("type").as_string(), "indicator");
}

TEST(BundleItems, EmptyBundleHasNoItems) {
  auto items = BundleItems(Doc(R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d"})"));
  ASSERT_TRUE(items.ok());
  EXPECT_TRUE(items->empty());
}

TEST(BundleItems, NonObjectItemsAreLeftToTheCaller) {
  auto items = BundleItems(Doc(R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
                                   "objects":[{"type":"a"},{"type":"b"},{"type":"c"},"oops"]})"));
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 4u);
  EXPECT_EQ((*items)[3].as_string(), "oops");
}

TEST(BundleItems, BundleIdIsChecked) {
  auto items =
      BundleItems(Doc(R"({"type":"bundle","id":"report--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[]})"));
  ASSERT_FALSE(items.ok());
  EXPECT_EQ(items.status().message(),
            "id: must be an identifier of type bundle, got \"report--5d0092c5-5f74-4287-9642-33f4c354e56d\"");
  EXPECT_EQ(BundleItems(Doc(R"({"type":"bundle","objects":[]})")).status().message(), "id: is required");
  EXPECT_EQ(BundleItems(Doc(R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":{}})"))
                .status()
                .message(),
            "objects: must be a list, got object");
}

TEST(BundleItems, DocumentMustBeAnObject) {
  EXPECT_EQ(BundleItems(Doc("[1]")).status().message(), "document: must be a STIX object or bundle, got array");
}

}  // namespace
}  // namespace concord::stix
