// End to end: GET /api/v1/stream of a real `concord serve`, written to by the REST API of two organisations
// and by a separate `concord import` process on the same database.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "event_stream_client.h"
#include "node_fixture.h"

namespace concord::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kPolicyExt[] = "extension-definition--316340be-3f50-4d51-bfe5-65daffa13801";
constexpr char kClear[] = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
constexpr char kGreen[] = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
constexpr char kAmber[] = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
constexpr char kRed[] = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

std::string IndicatorId(int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "indicator--00000000-0000-4000-8000-%012d", n);
  return buf;
}

// An indicator by `creator` under `marking`; `distribution` >= 0 adds Concord's policy extension.
std::string Indicator(int n, const std::string& creator, const char* marking, int distribution = -1) {
  std::string json =
      R"({"type":"indicator","spec_version":"2.1","id":")" + IndicatorId(n) + R"(","created_by_ref":")" + creator +
      R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.)" +
      std::to_string(n) + R"(']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","object_marking_refs":[")" +
      marking + "\"]";
  if (distribution >= 0) {
    json += R"(,"extensions":{")" + std::string(kPolicyExt) +
            R"(":{"extension_type":"property-extension","distribution":)" + std::to_string(distribution) + "}}";
  }
  return json + "}";
}

class StreamTest : public NodeFixture {
 protected:
  // Short heartbeat and timeouts, so that a test sees a stream outlive them.
  void SetUp() override { Start({"--stream-heartbeat-ms", "100", "--idle-timeout-ms", "300", "--read-timeout-ms", "300"}); }
  void Post(const std::string& key, const std::string& object) {
    auto r = Request(node_->port(), "POST", "/api/v1/objects", key, "[" + object + "]");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    ASSERT_EQ(boost::json::parse(r->body).at("totals").at("new").as_int64(), 1) << r->body;
  }
  // Opens a stream and reads up to its `retry` field: from then on the stream sees every commit.
  std::unique_ptr<EventStreamClient> Open(const std::string& key, const std::string& target = "/api/v1/stream",
                                          const std::string& headers = "") {
    auto s = std::make_unique<EventStreamClient>(node_->port(), target, key, headers);
    EXPECT_TRUE(s->connected());
    EXPECT_TRUE(s->ReadHead());
    EXPECT_EQ(s->status, 200) << s->body;
    EXPECT_EQ(s->headers["content-type"], "text/event-stream");
    auto first = s->NextBlock(Clock::now() + std::chrono::seconds(10));
    EXPECT_TRUE(first && first->retry == "3000");
    return s;
  }
  // The next `count` object events: checks each one's shape and returns the object ids, in order.
  std::vector<std::string> Ids(EventStreamClient& s, size_t count, std::string* last_event_id = nullptr) {
    std::vector<std::string> ids;
    while (ids.size() < count) {
      auto e = s.NextEvent();
      if (!e) {
        ADD_FAILURE() << "stream ended or stalled after " << ids.size() << " events";
        break;
      }
      EXPECT_EQ(e->event, "object");
      const auto data = boost::json::parse(e->data).as_object();
      EXPECT_EQ(e->id, std::to_string(data.at("seq").as_int64()));
      EXPECT_EQ(data.at("type"), "indicator");
      EXPECT_EQ(data.at("revoked"), false);
      EXPECT_EQ(data.at("modified"), "2024-01-01T00:00:00.000Z");
      EXPECT_EQ(data.at("object").at("id"), data.at("id"));
      ids.emplace_back(data.at("id").as_string());
      if (last_event_id) *last_event_id = e->id;
    }
    return ids;
  }
};

TEST_F(StreamTest, EachUserGetsWhatTheyMaySeeAndResumesExactly) {
  const std::string alice = User("alice", kHost);
  const std::string bob = User("bob", "Other CSIRT");
  auto alice_stream = Open(alice);
  auto bob_stream = Open(bob);

  Post(alice, Indicator(1, host_id_, kClear));
  Post(alice, Indicator(2, host_id_, kRed));  // the host organisation's alone
  Post(alice, Indicator(3, host_id_, kGreen));
  Post(alice, Indicator(4, host_id_, kAmber));
  Post(bob, Indicator(5, other_id_, kGreen, 0));  // distribution organisation: bob's organisation alone
  Post(bob, Indicator(6, other_id_, kClear));
  EXPECT_EQ(Ids(*alice_stream, 5),
            (std::vector<std::string>{IndicatorId(1), IndicatorId(2), IndicatorId(3), IndicatorId(4), IndicatorId(6)}));
  std::string bob_last;
  EXPECT_EQ(Ids(*bob_stream, 5, &bob_last),
            (std::vector<std::string>{IndicatorId(1), IndicatorId(3), IndicatorId(4), IndicatorId(5), IndicatorId(6)}));

  // Bob goes away; meanwhile Alice writes and another process imports into the same database.
  bob_stream.reset();
  Post(alice, Indicator(7, host_id_, kClear));
  Post(alice, Indicator(8, host_id_, kRed));
  Post(alice, Indicator(9, host_id_, kGreen));
  const fs::path file = dir_ / "import.json";
  std::ofstream(file) << Indicator(10, other_id_, kClear);
  auto imported = RunConcord({"import", "--db", db_, file.string()});
  ASSERT_EQ(imported.first, 0) << imported.second;
  EXPECT_EQ(Ids(*alice_stream, 4),
            (std::vector<std::string>{IndicatorId(7), IndicatorId(8), IndicatorId(9), IndicatorId(10)}));

  // Bob comes back with the id of the last event he got (and the URL his client had: after=0 loses to it).
  auto back = Open(bob, "/api/v1/stream?after=0", "Last-Event-ID: " + bob_last + "\r\n");
  EXPECT_EQ(Ids(*back, 3), (std::vector<std::string>{IndicatorId(7), IndicatorId(9), IndicatorId(10)}));
  // Nothing else was pending: the next event is the next write.
  Post(alice, Indicator(11, host_id_, kClear));
  EXPECT_EQ(Ids(*back, 1), (std::vector<std::string>{IndicatorId(11)}));
  EXPECT_EQ(Ids(*alice_stream, 1), (std::vector<std::string>{IndicatorId(11)}));

  // A filtered replay from the beginning.
  auto replay = Open(bob, "/api/v1/stream?after=0&type=indicator");
  EXPECT_EQ(Ids(*replay, 9),
            (std::vector<std::string>{IndicatorId(1), IndicatorId(3), IndicatorId(4), IndicatorId(5), IndicatorId(6),
                                      IndicatorId(7), IndicatorId(9), IndicatorId(10), IndicatorId(11)}));
}

TEST_F(StreamTest, RefusesMissingKeysAndBadPositions) {
  const std::string alice = User("alice", kHost);
  auto no_key = Request(node_->port(), "GET", "/api/v1/stream", "");
  ASSERT_TRUE(no_key);
  EXPECT_EQ(no_key->status, 401);
  EXPECT_EQ(
      no_key->body,
      R"x({"error":{"code":"UNAUTHENTICATED","message":"missing API key: send Authorization: Bearer <key> (or HTTP Basic)"}})x");
  auto bad = RequestWithHeaders(node_->port(), "GET", "/api/v1/stream",
                                "Authorization: Bearer " + alice + "\r\nLast-Event-ID: 7b\r\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(
      bad->body,
      R"({"error":{"code":"INVALID_ARGUMENT","message":"Last-Event-ID: expected a change sequence number (decimal digits, at most 9223372036854775807), got '7b'","field":"Last-Event-ID"}})");
  auto bad_after = Request(node_->port(), "GET", "/api/v1/stream?after=x", alice);
  ASSERT_TRUE(bad_after);
  EXPECT_EQ(bad_after->status, 400);
  EXPECT_EQ(boost::json::parse(bad_after->body).at("error").at("field"), "after");
}

TEST_F(StreamTest, IdleStreamGetsHeartbeatsPastTheTimeoutsAndEndsCleanlyOnSigterm) {
  const std::string alice = User("alice", kHost);
  auto s = Open(alice);
  // Heartbeats come 100 ms apart at the least: ten of them outlast the 300 ms idle and read timeouts.
  int heartbeats = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (heartbeats < 10) {
    auto b = s->NextBlock(deadline);
    ASSERT_TRUE(b) << "the stream ended after " << heartbeats << " heartbeats";
    ASSERT_EQ(b->comments, (std::vector<std::string>{"keep-alive"}));
    ++heartbeats;
  }
  Post(alice, Indicator(1, host_id_, kClear));
  EXPECT_EQ(Ids(*s, 1), (std::vector<std::string>{IndicatorId(1)}));

  EXPECT_EQ(node_->Terminate(), 0);
  node_.reset();
  std::vector<SseBlock> rest;
  EXPECT_TRUE(s->EndsCleanly(rest));
  for (const SseBlock& b : rest) EXPECT_EQ(b.data, "") << "an event after SIGTERM";
}

}  // namespace
}  // namespace concord::testing
