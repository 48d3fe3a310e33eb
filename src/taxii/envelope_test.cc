#include "taxii/envelope.h"

#include <string>

#include "boost/json.hpp"
#include "common/status.h"
#include "gtest/gtest.h"
#include "http/errors.h"

namespace concord::taxii {
namespace {

std::string Error(std::string_view body, EnvelopeLimits limits = {}) {
  auto r = ParseEnvelope(body, limits);
  return r.ok() ? "<ok>" : std::string(r.status().message());
}

TEST(Envelope, ReturnsTheObjectsInOrder) {
  auto r = ParseEnvelope(R"({"more":false,"objects":[{"type":"indicator","id":"a"},{"type":"malware","id":"b"}],"x_custom":1})");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].at("id"), "a");
  EXPECT_EQ((*r)[1].at("id"), "b");
}

TEST(Envelope, ShapeErrorsNameTheField) {
  EXPECT_EQ(Error("[]"), "body must be a TAXII envelope (a JSON object), got array");
  EXPECT_EQ(Error("{}"), "objects: required: the envelope carries no objects");
  EXPECT_EQ(Error(R"({"objects":{}})"), "objects: expected a list, got object");
  EXPECT_EQ(Error(R"({"objects":[]})"), "objects: must not be empty");
  EXPECT_EQ(Error(R"({"objects":[{},{},"x"]})"), "objects[2]: expected a JSON object, got string");
  auto r = ParseEnvelope(R"({"objects":[{},1]})");
  EXPECT_EQ(ErrorField(r.status()), "objects[1]");
  EXPECT_EQ(http::HttpStatusFor(r.status()), 400);
}

TEST(Envelope, MalformedJsonIs400) {
  auto r = ParseEnvelope(R"({"objects":[)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(http::HttpStatusFor(r.status()), 400);
  EXPECT_TRUE(std::string(r.status().message()).starts_with("body is not valid JSON: ")) << r.status();
}

TEST(Envelope, DepthIsBounded) {
  std::string deep = R"({"objects":[{"a":)";
  for (int i = 0; i < 10000; ++i) deep += "[";
  for (int i = 0; i < 10000; ++i) deep += "]";
  deep += "}]}";
  auto r = ParseEnvelope(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(http::HttpStatusFor(r.status()), 400);
}

TEST(Envelope, TooManyObjectsIs413) {
  auto r = ParseEnvelope(R"({"objects":[{},{},{}]})", {.max_objects = 2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(http::HttpStatusFor(r.status()), 413);
  EXPECT_EQ(r.status().message(), "objects: 3 objects in one envelope; at most 2 are accepted");
}

}  // namespace
}  // namespace concord::taxii
