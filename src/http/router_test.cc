#include "http/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "boost/json.hpp"
#include "common/status.h"
#include "http/errors.h"
#include "http/rate_limit.h"
#include "fmt/format.h"

namespace concord::http {
namespace {

using ::testing::ElementsAre;

Handler Reply(std::string text) {
  return [text](Request&) -> absl::StatusOr<Response> { return Response::Text(200, text); };
}

TEST(Router, MatchesLiteralsAndParameters) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/api/v1/objects/{id}", Reply("one")).ok());
  ASSERT_TRUE(r.Add("GET", "/taxii2/{root}/collections/{id}/objects/", Reply("objects")).ok());
  Router::Match m = r.Find("GET", "/taxii2/r1/collections/c%2F2/objects/");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.route, "/taxii2/{root}/collections/{id}/objects/");
  EXPECT_THAT(m.params, ElementsAre(std::pair<std::string, std::string>("root", "r1"),
                                    std::pair<std::string, std::string>("id", "c/2")));
  m = r.Find("GET", "/api/v1/objects/indicator--1");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params.at(0).second, "indicator--1");
}

TEST(Router, TrailingSlashIsSignificant) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/taxii2/{root}/", Reply("root")).ok());
  EXPECT_NE(r.Find("GET", "/taxii2/r1/").handler, nullptr);
  EXPECT_EQ(r.Find("GET", "/taxii2/r1").handler, nullptr);
  EXPECT_EQ(r.Find("GET", "/taxii2//").handler, nullptr);  // an empty parameter does not match
}

TEST(Router, LiteralBeatsParameter) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/api/v1/objects/{id}", Reply("param")).ok());
  ASSERT_TRUE(r.Add("GET", "/api/v1/objects/stats", Reply("literal")).ok());
  Router::Match m = r.Find("GET", "/api/v1/objects/stats");
  EXPECT_EQ(m.route, "/api/v1/objects/stats");
  EXPECT_TRUE(m.params.empty());
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/a/{x}", Reply("get")).ok());
  ASSERT_TRUE(r.Add("POST", "/a/{x}", Reply("post")).ok());
  Router::Match m = r.Find("GET", "/nope");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(HttpStatusFor(m.error), 404);
  m = r.Find("DELETE", "/a/1");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(HttpStatusFor(m.error), 405);
  EXPECT_EQ(m.allow, "GET, HEAD, POST");
  EXPECT_NE(r.Find("HEAD", "/a/1").handler, nullptr);  // GET answers HEAD
}

TEST(Router, RejectsBadAndDuplicatePatterns) {
  Router r;
  EXPECT_EQ(r.Add("GET", "no-slash", Reply("x")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.Add("GET", "/a/x{id}", Reply("x")).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(r.Add("GET", "/a/{id}", Reply("x")).ok());
  EXPECT_EQ(r.Add("GET", "/a/{id}", Reply("x")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r.Add("POST", "/a/{other}", Reply("x")).code(), absl::StatusCode::kAlreadyExists);
}

TEST(Router, MalformedEscapeInPathIs400) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/a/{id}", Reply("x")).ok());
  EXPECT_EQ(HttpStatusFor(r.Find("GET", "/a/%zz").error), 400);
}

TEST(Router, ErrorRendererByLongestPrefix) {
  Router r;
  r.SetErrorRenderer("/taxii2/", TaxiiErrorResponse);
  Response taxii = r.RenderError("/taxii2/x/", absl::NotFoundError("no such root"));
  EXPECT_EQ(taxii.status, 404);
  EXPECT_EQ(*taxii.headers.Get("content-type"), "application/taxii+json;version=2.1");
  EXPECT_EQ(boost::json::parse(taxii.body),
            boost::json::parse(R"({"title":"NOT_FOUND","description":"no such root","http_status":"404"})"));
  Response plain = r.RenderError("/api/v1/x", absl::NotFoundError("gone"));
  EXPECT_EQ(boost::json::parse(plain.body), boost::json::parse(R"({"error":{"code":"NOT_FOUND","message":"gone"}})"));
}

TEST(QueryParams, DecodesRepeatedKeysAndCommas) {
  QueryParams q = QueryParams::Parse("match%5Btype%5D=indicator,sighting&match[type]=malware&limit=5&q=a+b%2Cc&flag");
  EXPECT_THAT(q.GetAll("match[type]"), ElementsAre("indicator,sighting", "malware"));
  EXPECT_THAT(q.GetList("match[type]"), ElementsAre("indicator", "sighting", "malware"));
  EXPECT_EQ(*q.Get("limit"), "5");
  EXPECT_THAT(q.GetList("q"), ElementsAre("a b,c"));  // %2C is not a separator
  EXPECT_EQ(*q.Get("flag"), "");
  EXPECT_FALSE(q.Get("absent").has_value());
  EXPECT_EQ(*QueryParams::Parse("x=%zz").Get("x"), "%zz");
}

TEST(Headers, CaseInsensitive) {
  Headers h;
  h.Add("Content-Type", "a");
  h.Add("X-Multi", "1");
  h.Add("x-multi", "2");
  EXPECT_EQ(*h.Get("content-type"), "a");
  EXPECT_THAT(h.GetAll("X-MULTI"), ElementsAre("1", "2"));
  h.Set("X-Multi", "3");
  EXPECT_THAT(h.GetAll("x-multi"), ElementsAre("3"));
}

TEST(Errors, StatusMapping) {
  EXPECT_EQ(HttpStatusFor(absl::InvalidArgumentError("")), 400);
  EXPECT_EQ(HttpStatusFor(absl::FailedPreconditionError("")), 400);
  EXPECT_EQ(HttpStatusFor(absl::UnauthenticatedError("")), 401);
  EXPECT_EQ(HttpStatusFor(absl::PermissionDeniedError("")), 403);
  EXPECT_EQ(HttpStatusFor(absl::NotFoundError("")), 404);
  EXPECT_EQ(HttpStatusFor(absl::AlreadyExistsError("")), 409);
  EXPECT_EQ(HttpStatusFor(absl::AbortedError("")), 409);
  EXPECT_EQ(HttpStatusFor(absl::ResourceExhaustedError("")), 429);
  EXPECT_EQ(HttpStatusFor(BodyTooLargeError("big")), 413);
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("")), 503);
  EXPECT_EQ(HttpStatusFor(absl::InternalError("")), 500);
  EXPECT_EQ(HttpStatusFor(absl::UnimplementedError("")), 501);
}

TEST(Errors, JsonBodyNamesFieldAndRetryAfter) {
  Response r = JsonErrorResponse(FieldError("pattern", "unexpected ']'"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(boost::json::parse(r.body),
            boost::json::parse(
                R"({"error":{"code":"INVALID_ARGUMENT","message":"pattern: unexpected ']'","field":"pattern"}})"));
  Response limited = JsonErrorResponse(RateLimitedError("slow down", std::chrono::milliseconds(1200)));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(*limited.headers.Get("Retry-After"), "2");
}

TEST(RateLimiter, BurstThenRefill) {
  auto now = std::chrono::steady_clock::time_point();
  RateLimiter limiter({.rate_per_second = 2, .burst = 3, .max_keys = 100}, [&] { return now; });
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Acquire("alice").allowed);
  RateLimiter::Decision d = limiter.Acquire("alice");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, std::chrono::milliseconds(500));
  EXPECT_TRUE(limiter.Acquire("bob").allowed);  // keys are independent
  now += std::chrono::milliseconds(500);
  EXPECT_TRUE(limiter.Acquire("alice").allowed);
  EXPECT_FALSE(limiter.Acquire("alice").allowed);
}

TEST(RateLimiter, ForgetsOnlyFullBuckets) {
  auto now = std::chrono::steady_clock::time_point();
  RateLimiter limiter({.rate_per_second = 1, .burst = 1, .max_keys = 16}, [&] { return now; });
  EXPECT_TRUE(limiter.Acquire("hot").allowed);
  for (int i = 0; i < 200; ++i) limiter.Acquire(fmt::format("k{}", i));
  EXPECT_FALSE(limiter.Acquire("hot").allowed);  // still empty: not forgotten
}

TEST(RateLimiter, WrapperAnswers429) {
  auto now = std::chrono::steady_clock::time_point();
  RateLimiter limiter({.rate_per_second = 1, .burst = 1, .max_keys = 100}, [&] { return now; });
  Handler h = RateLimited(limiter, [](const Request& req) { return req.principal; }, Reply("ok"));
  Request req;
  req.principal = "alice";
  EXPECT_TRUE(h(req).ok());
  absl::StatusOr<Response> refused = h(req);
  EXPECT_EQ(HttpStatusFor(refused.status()), 429);
  EXPECT_EQ(*JsonErrorResponse(refused.status()).headers.Get("Retry-After"), "1");
}

}  // namespace
}  // namespace concord::http
