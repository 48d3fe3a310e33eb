// End to end: three real `concord serve` processes on one PostgreSQL database (started by scripts/pg-test).
// Cursors over the change sequence (REST cursor, TAXII added_after, the event stream) never skip or repeat a
// version while all three write; each process hears of the others' commits through LISTEN/NOTIFY (streams
// deliver, indicator snapshots refresh, a key revoked elsewhere is refused at once).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "boost/json/parse.hpp"
#include "event_stream_client.h"
#include "fmt/format.h"
#include "node_fixture.h"
#include "store/testing/postgres_server.h"

namespace concord::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kCollection[] = "/taxii2/concord/collections/5b32153d-98a1-4c36-a208-1fabb9c60b8a/";
constexpr char kTaxii[] = "application/taxii+json;version=2.1";
constexpr int kNodes = 3;

std::string IndicatorId(int writer, int n) {
  return fmt::format("indicator--00000000-0000-4000-80{:02d}-{:012d}", writer, n);
}

std::string Indicator(int writer, int n, const std::string& creator, const std::string& value) {
  return fmt::format(
      R"({{"type":"indicator","spec_version":"2.1","id":"{}","created_by_ref":"{}","created":"2024-01-01T00:00:00.000Z",)"
      R"("modified":"2024-01-01T00:00:00.000Z","pattern":"[domain-name:value = '{}']","pattern_type":"stix",)"
      R"("valid_from":"2024-01-01T00:00:00Z","object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]}})",
      IndicatorId(writer, n), creator, value);
}

boost::json::value Json(const std::optional<HttpReply>& reply) {
  if (!reply) return nullptr;
  boost::system::error_code ec;
  auto v = boost::json::parse(reply->body, ec);
  return ec ? boost::json::value(nullptr) : v;
}

std::vector<std::string> Ids(const boost::json::value& page) {
  std::vector<std::string> ids;
  if (!page.is_object()) return ids;
  if (const auto* objects = page.as_object().if_contains("objects"); objects != nullptr && objects->is_array()) {
    for (const auto& o : objects->as_array()) ids.emplace_back(o.at("id").as_string());
  }
  return ids;
}

std::optional<HttpReply> Taxii(uint16_t port, const std::string& target, const std::string& key) {
  return RequestWithHeaders(port, "GET", target, fmt::format("Accept: {}\r\nAuthorization: Bearer {}\r\n", kTaxii, key));
}

// The value of one unlabelled metric in a Prometheus text exposition; -1 when absent.
int64_t Metric(uint16_t port, const std::string& name) {
  auto reply = Get(port, "/metrics");
  if (!reply) return -1;
  const std::string& text = reply->body;
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::atoll(text.c_str() + at + name.size() + 2);
}

class MultiProcessTest : public store::testing::PostgresDatabaseTest {
 protected:
  void SetUp() override {
    PostgresDatabaseTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    for (int i = 0; i < kNodes; ++i) {
      nodes_.push_back(std::make_unique<NodeProcess>(std::vector<std::string>{
          "serve", "--db", uri_, "--listen", "127.0.0.1:0", "--insecure-http", "--name", kHost,
          "--detect-rebuild-interval-ms", "100"}));
      ASSERT_NE(nodes_.back()->port(), 0) << nodes_.back()->output();
    }
    auto host = RunConcord({"org", "list", "--db", uri_, "--json"});
    ASSERT_EQ(host.first, 0);
    host_id_ = std::string(boost::json::parse(host.second).as_array().at(0).at("id").as_string());
    analyst_ = User("writer", "analyst");
    admin_ = User("boss", "admin");
  }

  void TearDown() override {
    for (auto& node : nodes_) EXPECT_EQ(node->Terminate(), 0);
    nodes_.clear();
    PostgresDatabaseTest::TearDown();
  }

  std::string User(const std::string& name, const std::string& role) {
    auto [code, out] = RunConcord({"user", "add", "--db", uri_, name, "--org", kHost, "--role", role});
    EXPECT_EQ(code, 0) << name;
    return Trim(out);
  }

  uint16_t port(int node) const { return nodes_[static_cast<size_t>(node % kNodes)]->port(); }

  std::string host_id_;
  std::string analyst_;
  std::string admin_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
};

// Three writers, each through its own process, while three readers page through all three processes in turn:
// the REST cursor, TAXII added_after polling, and an event stream on one process. Each reader must end with
// every object exactly once, in the order the store committed them.
TEST_F(MultiProcessTest, CursorsNeverSkipOrRepeatWhileThreeProcessesWrite) {
  constexpr int kBatches = 20;
  constexpr int kPerBatch = 10;
  constexpr int kTotal = kNodes * kBatches * kPerBatch;
  std::atomic<int> writers_left{kNodes};
  std::atomic<int> write_failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kNodes; ++w) {
    writers.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        std::string body = "[";
        for (int i = 0; i < kPerBatch; ++i) {
          const int n = b * kPerBatch + i;
          body += (i ? "," : "") + Indicator(w, n, host_id_, fmt::format("w{}-{}.example", w, n));
        }
        body += "]";
        auto r = Request(port(w), "POST", "/api/v1/objects", analyst_, body);
        if (!r || r->status != 200) ++write_failures;
      }
      --writers_left;
    });
  }

  // The stream on the third process, from the start: it hears the other two only through NOTIFY (its poll is a
  // 5 s safety net) and must still deliver every version.
  EventStreamClient stream(port(2), "/api/v1/stream?after=0&type=indicator", analyst_);
  ASSERT_TRUE(stream.connected());
  ASSERT_TRUE(stream.ReadHead());
  ASSERT_EQ(stream.status, 200);

  std::vector<std::string> rest_seen;
  std::vector<std::string> taxii_seen;
  std::string cursor;
  std::string added_after;
  int request = 0;
  const auto deadline = Clock::now() + std::chrono::minutes(3);
  // Readers go on until the writers are done and a last look through every path finds nothing new.
  for (bool final_round = false;;) {
    ASSERT_LT(Clock::now(), deadline) << "readers did not finish";
    const bool done_before = writers_left.load() == 0;
    bool got_any = false;
    {
      auto r = Request(port(request++), "GET",
                       "/api/v1/objects?type=indicator&limit=7" + (cursor.empty() ? "" : "&cursor=" + cursor), analyst_);
      ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
      auto page = Json(r);
      for (auto& id : Ids(page)) rest_seen.push_back(id);
      got_any = got_any || !Ids(page).empty();
      // Every page names where to go on from, the last one too: that is how a client polls for what is new.
      ASSERT_TRUE(page.as_object().contains("next")) << r->body;
      cursor = std::string(page.at("next").as_string());
    }
    {
      auto r = Taxii(port(request++), std::string(kCollection) + "objects/?match[type]=indicator&limit=7" +
                                          (added_after.empty() ? "" : "&added_after=" + added_after),
                     analyst_);
      ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
      auto ids = Ids(Json(r));
      for (auto& id : ids) taxii_seen.push_back(id);
      if (!ids.empty()) {
        got_any = true;
        added_after = r->headers["x-taxii-date-added-last"];
        ASSERT_FALSE(added_after.empty());
      }
    }
    if (final_round && !got_any) break;
    final_round = done_before && !got_any;
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(write_failures.load(), 0);

  std::set<std::string> all;
  for (int w = 0; w < kNodes; ++w) {
    for (int n = 0; n < kBatches * kPerBatch; ++n) all.insert(IndicatorId(w, n));
  }
  auto check = [&](const std::vector<std::string>& seen, const char* path) {
    EXPECT_EQ(seen.size(), static_cast<size_t>(kTotal)) << path << ": a version skipped or repeated";
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), all) << path;
  };
  check(rest_seen, "REST cursor");
  check(taxii_seen, "TAXII added_after");
  EXPECT_EQ(taxii_seen, rest_seen) << "both paths list in commit order";

  std::vector<std::string> streamed;
  int64_t last_seq = 0;
  while (streamed.size() < static_cast<size_t>(kTotal)) {
    auto event = stream.NextEvent(std::chrono::seconds(30));
    ASSERT_TRUE(event.has_value()) << "stream stopped after " << streamed.size() << " events";
    const int64_t seq = std::stoll(event->id);
    EXPECT_GT(seq, last_seq);
    last_seq = seq;
    streamed.emplace_back(boost::json::parse(event->data).at("id").as_string());
  }
  EXPECT_EQ(streamed, rest_seen);

  // Every batch, whichever process wrote it, was heard as a notification by every process.
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_EQ(Metric(port(i), "concord_change_notifications_total{channel=\"objects\"}"), kNodes * kBatches)
        << "node " << i;
    EXPECT_EQ(Metric(port(i), "concord_change_listener_connections_total"), 1) << "node " << i;
  }
}

// An indicator written through one process is matched by another once its snapshot refreshes, which the
// notification triggers (the refresh interval is 100 ms, the safety poll 5 s).
TEST_F(MultiProcessTest, IndicatorWrittenElsewhereIsMatchedByEveryProcess) {
  auto r = Request(port(0), "POST", "/api/v1/objects", analyst_, "[" + Indicator(9, 1, host_id_, "shared.evil.example") + "]");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
  for (int node = 1; node < kNodes; ++node) {
    bool hit = false;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (!hit && Clock::now() < deadline) {
      auto m = Request(port(node), "POST", "/api/v1/match", analyst_, R"({"values":["www.shared.evil.example"]})");
      ASSERT_TRUE(m && m->status == 200) << (m ? m->body : "no reply");
      hit = m->body.find(IndicatorId(9, 1)) != std::string::npos;
    }
    EXPECT_TRUE(hit) << "node " << node << " never matched the indicator";
  }
}

// A key revoked through one process is refused by another at once, not when its key cache expires (5 s).
TEST_F(MultiProcessTest, KeyRevokedThroughAnotherProcessIsRefusedAtOnce) {
  const std::string key = User("temp", "analyst");
  auto listed = Json(Request(port(0), "GET", "/api/v1/users/temp/keys", admin_));
  ASSERT_TRUE(listed.is_object());
  const std::string key_id(listed.at("keys").at(0).at("key_id").as_string());

  // The second process has the key in its cache from now on.
  const auto loaded = Clock::now();
  auto before = Request(port(1), "GET", "/api/v1/objects?limit=1", key);
  ASSERT_TRUE(before && before->status == 200);
  auto revoked = Request(port(0), "DELETE", "/api/v1/users/temp/keys/" + key_id, admin_);
  ASSERT_TRUE(revoked && revoked->status == 200) << (revoked ? revoked->body : "no reply");

  int status = 200;
  while (status == 200 && Clock::now() - loaded < std::chrono::seconds(10)) {
    auto r = Request(port(1), "GET", "/api/v1/objects?limit=1", key);
    ASSERT_TRUE(r.has_value());
    status = r->status;
  }
  EXPECT_EQ(status, 401);
  // Without the notification the key, cached no earlier than `loaded`, would have been accepted until 5 s
  // (the cache TTL) after it: a refusal before then can only come from the notification.
  EXPECT_LT(Clock::now() - loaded, std::chrono::milliseconds(4900));
}

}  // namespace
}  // namespace concord::testing
