#include "common/time.h"

#include <gtest/gtest.h>

namespace concord {
namespace {

TEST(Time, ParsesMillisecondsAndKeepsPrecision) {
  auto ts = ParseRfc3339("2016-04-06T20:03:00.123Z");
  ASSERT_TRUE(ts.ok()) << ts.status();
  EXPECT_EQ(ts->seconds, 1459972980);
  EXPECT_EQ(ts->nanos, 123'000'000);
  EXPECT_EQ(ts->precision, 3);
  EXPECT_EQ(FormatRfc3339(*ts), "2016-04-06T20:03:00.123Z");
  EXPECT_EQ(FormatSortable(*ts), "2016-04-06T20:03:00.123000000Z");
}

TEST(Time, NoFractionRoundTrips) {
  auto ts = ParseRfc3339("2017-01-01T00:00:00Z");
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(ts->precision, 0);
  EXPECT_EQ(FormatRfc3339(*ts), "2017-01-01T00:00:00Z");
}

TEST(Time, NanosecondsCompareByInstant) {
  auto a = ParseRfc3339("2020-02-29T23:59:59.1Z");
  auto b = ParseRfc3339("2020-02-29T23:59:59.100000000Z");
  auto c = ParseRfc3339("2020-02-29T23:59:59.100000001Z");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_LT(*b, *c);
}

TEST(Time, RejectsNonUtcAndBadFields) {
  EXPECT_EQ(ParseRfc3339("2016-04-06T20:03:00+01:00").status().message(),
            "invalid timestamp '2016-04-06T20:03:00+01:00': expected 'Z' (UTC) at offset 19");
  EXPECT_EQ(ParseRfc3339("2019-02-29T00:00:00Z").status().message(),
            "invalid timestamp '2019-02-29T00:00:00Z': expected valid day of month at offset 8");
  EXPECT_EQ(ParseRfc3339("2016-13-06T20:03:00Z").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseRfc3339("2016-04-06 20:03:00Z").ok());
  EXPECT_FALSE(ParseRfc3339("2016-04-06T20:03:00.Z").ok());
  EXPECT_FALSE(ParseRfc3339("2016-04-06T20:03:00.1234567891Z").ok());
  EXPECT_FALSE(ParseRfc3339("2016-04-06T20:03:00z").ok());
  EXPECT_FALSE(ParseRfc3339("").ok());
}

TEST(Time, BeforeEpoch) {
  auto ts = ParseRfc3339("1969-12-31T23:59:59.500Z");
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(ts->seconds, -1);
  EXPECT_EQ(ts->nanos, 500'000'000);
  EXPECT_EQ(FormatRfc3339(*ts), "1969-12-31T23:59:59.500Z");
  EXPECT_EQ(FormatRfc3339(Timestamp::FromUnixMillis(-1500)), "1969-12-31T23:59:58.500Z");
}

}  // namespace
}  // namespace concord
