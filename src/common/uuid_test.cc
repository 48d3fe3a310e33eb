#include "common/uuid.h"

#include <gtest/gtest.h>

#include <cstring>

namespace concord {
namespace {

TEST(Uuid, ParseAndFormatRoundTrip) {
  auto u = ParseUuid("00ABEDB4-aa42-466c-9c01-fed23315a9b7");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->ToString(), "00abedb4-aa42-466c-9c01-fed23315a9b7");
  EXPECT_EQ(u->Version(), 4);
  EXPECT_TRUE(u->IsRfcVariant());
}

TEST(Uuid, ParseErrorsNameOffset) {
  EXPECT_EQ(ParseUuid("00abedb4-aa42-466c-9c01-fed23315a9b").status().message(),
            "invalid UUID '00abedb4-aa42-466c-9c01-fed23315a9b': expected 36 characters");
  EXPECT_EQ(ParseUuid("00abedb4xaa42-466c-9c01-fed23315a9b7").status().message(),
            "invalid UUID '00abedb4xaa42-466c-9c01-fed23315a9b7': expected '-' at offset 8");
  EXPECT_EQ(ParseUuid("00abedb4-aa42-466c-9c01-fed23315a9g7").status().message(),
            "invalid UUID '00abedb4-aa42-466c-9c01-fed23315a9g7': expected hex digit at offset 34");
}

TEST(Uuid, V5MatchesRfcExample) {
  // RFC 9562 Appendix A.4: DNS namespace, "www.example.com".
  auto ns = ParseUuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ(UuidV5(*ns, "www.example.com").ToString(), "2ed6657d-e927-568b-95e1-2665a8aea6a2");
}

TEST(Uuid, V4SetsVersionAndVariant) {
  auto fixed = [](uint8_t* out, size_t n) { std::memset(out, 0xFF, n); };
  Uuid u = UuidV4(fixed);
  EXPECT_EQ(u.ToString(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  Uuid r1 = UuidV4(), r2 = UuidV4();
  EXPECT_NE(r1, r2);
  EXPECT_EQ(r1.Version(), 4);
}

}  // namespace
}  // namespace concord
