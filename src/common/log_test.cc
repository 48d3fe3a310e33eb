#include "common/log.h"

#include <chrono>

#include "gtest/gtest.h"

namespace concord {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

TEST(LogLimiter, OnePerIntervalAndTheRestCounted) {
  LogLimiter limiter(seconds(60));
  const Clock::time_point t0{};
  int64_t held_back = -1;
  ASSERT_TRUE(limiter.Allow(t0, held_back));
  EXPECT_EQ(held_back, 0);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter.Allow(t0 + seconds(i * 10), held_back));
  EXPECT_FALSE(limiter.Allow(t0 + seconds(59), held_back));
  ASSERT_TRUE(limiter.Allow(t0 + seconds(60), held_back));
  EXPECT_EQ(held_back, 6);  // the six refused since the first
  ASSERT_TRUE(limiter.Allow(t0 + seconds(200), held_back));
  EXPECT_EQ(held_back, 0);
}

}  // namespace
}  // namespace concord
