// End to end: the REST API of a real `concord serve`, with keys made by the real CLI.
#include <gtest/gtest.h>

#include <filesystem>

#include "boost/json/parse.hpp"
#include "node_fixture.h"

namespace concord::testing {
namespace {

namespace fs = std::filesystem;

std::string Indicator(int n, const std::string& creator, const std::string& extra = "") {
  return R"({"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-00000000000)" +
         std::to_string(n) + R"(","created_by_ref":")" + creator +
         R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.)" +
         std::to_string(n) + R"(']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z")" + extra + "}";
}
std::string IndicatorId(int n) { return "indicator--00000000-0000-4000-8000-00000000000" + std::to_string(n); }

class ApiTest : public NodeFixture {
 protected:
  int Status(const std::string& method, const std::string& target, const std::string& key, const std::string& body = "") {
    auto r = Request(node_->port(), method, target, key, body);
    return r ? r->status : 0;
  }
};

// The REST list's rows come from the store's row cache from their second reading on (store/sqlite/row_cache.h),
// and /metrics says how it does: exact counts of rows found and rows read from the database.
TEST_F(ApiTest, ListedRowsAreKeptAndTheMetricsCountThem) {
  const std::string analyst = User("alice", kHost, "analyst");
  auto metric = [&](const std::string& name) -> int64_t {
    auto r = Get(node_->port(), "/metrics");
    if (!r) return -1;
    const size_t at = r->body.find("\n" + name + " ");
    if (at == std::string::npos) return -2;
    return std::stoll(r->body.substr(at + name.size() + 2));
  };
  auto posted = Request(node_->port(), "POST", "/api/v1/objects", analyst,
                        "[" + Indicator(1, host_id_) + "," + Indicator(2, host_id_) + "," + Indicator(3, host_id_) + "]");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 200) << posted->body;
  EXPECT_EQ(metric("concord_store_row_cache_hits_total"), 0);
  EXPECT_EQ(metric("concord_store_row_cache_misses_total"), 0);
  EXPECT_EQ(metric("concord_store_row_cache_capacity_bytes"), int64_t{64} << 20);
  std::string first_body;
  for (int round = 0; round < 3; ++round) {
    auto listed = Request(node_->port(), "GET", "/api/v1/objects?type=indicator", analyst);
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->status, 200) << listed->body;
    EXPECT_EQ(boost::json::parse(listed->body).at("objects").as_array().size(), 3u) << listed->body;
    if (round == 0) first_body = listed->body;
    EXPECT_EQ(listed->body, first_body);  // the same page, byte for byte, from the cache
  }
  EXPECT_EQ(metric("concord_store_row_cache_misses_total"), 6);  // missed once, then missed and kept
  EXPECT_EQ(metric("concord_store_row_cache_hits_total"), 3);
  EXPECT_GT(metric("concord_store_row_cache_bytes"), 3 * 300);
}

TEST_F(ApiTest, AuthorisationMatrix) {
  const std::string analyst = User("alice", kHost, "analyst");
  const std::string reader = User("rita", kHost, "analyst", {"--read-only-key"});
  const std::string readonly_role = User("ron", kHost, "read-only");
  const std::string expired = User("eve", kHost, "analyst", {"--expires", "1s"});
  const std::string far_away = User("fay", kHost, "analyst", {"--cidr", "192.0.2.0/24"});
  const std::string other = User("bob", "Other CSIRT", "analyst");
  ASSERT_TRUE(analyst.starts_with("concord_")) << analyst;

  const std::string red = R"(,"object_marking_refs":["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"])";
  auto posted = Request(node_->port(), "POST", "/api/v1/objects", analyst, "[" + Indicator(1, host_id_, red) + "]");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 200) << posted->body;
  EXPECT_EQ(boost::json::parse(posted->body).at("totals").at("new").as_int64(), 1);

  const std::string one = "/api/v1/objects/" + IndicatorId(1);
  EXPECT_EQ(Status("GET", one, ""), 401);                     // no key
  EXPECT_EQ(Status("GET", one, "concord_0000_nonsense"), 401);  // not a key
  // The key expires a second after it was made: poll with a deadline, never a fixed sleep.
  int expired_status = 0;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       std::chrono::steady_clock::now() < until && expired_status != 401;) {
    expired_status = Status("GET", one, expired);
  }
  EXPECT_EQ(expired_status, 401);  // expired key
  EXPECT_EQ(Status("GET", one, far_away), 401);               // wrong source address
  EXPECT_EQ(Status("GET", one, analyst), 200);
  EXPECT_EQ(Status("GET", one, reader), 200);
  EXPECT_EQ(Status("GET", one, other), 404);                  // TLP:RED of another organisation: not there
  EXPECT_EQ(Status("POST", "/api/v1/objects", reader, "[" + Indicator(2, host_id_) + "]"), 403);
  EXPECT_EQ(Status("POST", "/api/v1/objects", readonly_role, "[" + Indicator(2, host_id_) + "]"), 403);
  EXPECT_EQ(Status("POST", one + "/revoke", other), 404);
  EXPECT_EQ(Status("POST", one + "/revoke", analyst), 200);

  auto unauth = Request(node_->port(), "GET", "/api/v1/objects", "");
  ASSERT_TRUE(unauth);
  EXPECT_EQ(unauth->body,
            R"x({"error":{"code":"UNAUTHENTICATED","message":"missing API key: send Authorization: Bearer <key> (or HTTP Basic)"}})x");
}

TEST_F(ApiTest, WriteReadListAndOpenApi) {
  const std::string analyst = User("alice", kHost, "analyst");
  const std::string other = User("bob", "Other CSIRT", "analyst");
  std::string bundle = R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[)";
  for (int n = 1; n <= 5; ++n) bundle += (n > 1 ? "," : "") + Indicator(n, host_id_);
  bundle += "]}";
  auto posted = Request(node_->port(), "POST", "/api/v1/objects", analyst, bundle);
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 200) << posted->body;

  auto list = Request(node_->port(), "GET", "/api/v1/objects?type=indicator&limit=3", other);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->status, 200) << list->body;
  auto page = boost::json::parse(list->body).as_object();
  EXPECT_EQ(page.at("objects").as_array().size(), 3u);
  EXPECT_TRUE(page.at("more").as_bool());
  auto rest = Request(node_->port(), "GET",
                      "/api/v1/objects?type=indicator&limit=3&cursor=" + std::string(page.at("next").as_string()), other);
  ASSERT_TRUE(rest);
  EXPECT_EQ(boost::json::parse(rest->body).at("objects").as_array().size(), 2u);

  auto doc = Request(node_->port(), "GET", "/api/v1/openapi.json", "");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->status, 200);
  EXPECT_EQ(boost::json::parse(doc->body).at("openapi").as_string(), "3.0.3");

  auto ready = Get(node_->port(), "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->body, R"({"status":"ready","objects":5})");
}

}  // namespace
}  // namespace concord::testing
