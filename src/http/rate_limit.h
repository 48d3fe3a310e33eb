// concord/http/rate_limit.h — per-key request rate limiting with token buckets.
//
// The key is whatever the authentication layer decides identifies a caller (principal, API key id, peer
// node, or remote address for anonymous calls). Each key has a bucket of `burst` tokens refilled at
// `rate_per_second`; a request takes one token or is refused with the time until one is available.
// Thread-safe: keys are spread over mutex-protected shards so that unrelated callers rarely contend.
// Memory is bounded: a shard that grows past its share of `max_keys` forgets buckets that have refilled
// completely (forgetting them changes no decision).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/router.h"

namespace concord::http {

struct RateLimitOptions {
  double rate_per_second = 50;
  double burst = 100;
  size_t max_keys = 100'000;
};

class RateLimiter {
 public:
  // Monotonic time source; injected so tests control time.
  using Now = std::function<std::chrono::steady_clock::time_point()>;

  explicit RateLimiter(RateLimitOptions options, Now now = std::chrono::steady_clock::now);

  struct Decision {
    bool allowed = false;
    std::chrono::milliseconds retry_after{0};  // when refused: until one token is available
  };
  Decision Acquire(std::string_view key);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point updated;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
  };
  static constexpr size_t kShards = 16;

  void Refill(Bucket& b, std::chrono::steady_clock::time_point now) const;

  const RateLimitOptions options_;
  const Now now_;
  std::array<Shard, kShards> shards_;
};

// Wraps `handler` so that each call first takes a token for key(request); an empty key is not limited.
// Refusals are RateLimitedError (429 with Retry-After), rendered by the route's error renderer.
// `limiter` must outlive the returned handler.
Handler RateLimited(RateLimiter& limiter, std::function<std::string(const Request&)> key, Handler handler);

}  // namespace concord::http
