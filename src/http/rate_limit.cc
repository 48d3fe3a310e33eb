#include "http/rate_limit.h"

#include <algorithm>
#include <cmath>

#include "fmt/format.h"

namespace concord::http {

RateLimiter::RateLimiter(RateLimitOptions options, Now now) : options_(options), now_(std::move(now)) {}

void RateLimiter::Refill(Bucket& b, std::chrono::steady_clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed > 0) {
    b.tokens = std::min(options_.burst, b.tokens + elapsed * options_.rate_per_second);
    b.updated = now;
  }
}

RateLimiter::Decision RateLimiter::Acquire(std::string_view key) {
  const auto now = now_();
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
  std::lock_guard lock(shard.mu);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= std::max<size_t>(1, options_.max_keys / kShards)) {
      // Only full buckets are forgotten: a new bucket starts full, so nothing changes for their keys.
      for (auto b = shard.buckets.begin(); b != shard.buckets.end();) {
        Refill(b->second, now);
        b = b->second.tokens >= options_.burst ? shard.buckets.erase(b) : std::next(b);
      }
    }
    it = shard.buckets.emplace(std::string(key), Bucket{options_.burst, now}).first;
  }
  Bucket& b = it->second;
  Refill(b, now);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return {true, std::chrono::milliseconds(0)};
  }
  const double wait_s = options_.rate_per_second > 0 ? (1 - b.tokens) / options_.rate_per_second : 3600.0;
  return {false, std::chrono::milliseconds(static_cast<int64_t>(std::ceil(wait_s * 1000)))};
}

Handler RateLimited(RateLimiter& limiter, std::function<std::string(const Request&)> key, Handler handler) {
  return [&limiter, key = std::move(key), handler = std::move(handler)](Request& req) -> absl::StatusOr<Response> {
    const std::string k = key(req);
    if (!k.empty()) {
      const RateLimiter::Decision d = limiter.Acquire(k);
      if (!d.allowed) {
        return RateLimitedError(fmt::format("rate limit exceeded; retry in {} ms", d.retry_after.count()),
                                d.retry_after);
      }
    }
    return handler(req);
  };
}

}  // namespace concord::http
