// The change feed and GET /api/v1/stream on a real SQLite store and audit log. The stream's producer is driven
// here as the HTTP server would drive it, one call at a time, with a clock the test moves.
#include "api/stream.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <span>
#include <thread>

#include "audit/audit.h"
#include "boost/json/parse.hpp"
#include "common/status.h"
#include "fmt/format.h"
#include "stix/object.h"

namespace concord::api {
namespace {

using namespace std::chrono_literals;

constexpr char kOrgA[] = "identity--aaaaaaaa-0000-4000-8000-000000000001";
constexpr char kOrgB[] = "identity--bbbbbbbb-0000-4000-8000-000000000002";
constexpr char kTlpClear[] = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
constexpr char kTlpGreen[] = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
constexpr char kTlpAmberStrict[] = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
constexpr char kTlpRed[] = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

class ManualClock final : public Clock {
 public:
  Timestamp Now() const override { return Timestamp::FromUnixMillis(millis_.load()); }
  void Advance(std::chrono::milliseconds d) { millis_ += d.count(); }

 private:
  std::atomic<int64_t> millis_{1'704'067'200'000};  // 2024-01-01T00:00:00Z
};

std::string Indicator(int n, std::string_view creator, std::string_view marking,
                      std::string_view modified = "2024-01-01T00:00:00.000Z") {
  return fmt::format(
      R"({{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{:012d}","created_by_ref":"{}","created":"2024-01-01T00:00:00.000Z","modified":"{}","pattern":"[ipv4-addr:value = '203.0.113.{}']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","object_marking_refs":["{}"]}})",
      n, creator, modified, n, marking);
}
std::string IndicatorId(int n) { return fmt::format("indicator--00000000-0000-4000-8000-{:012d}", n); }

// Polls `condition` until it holds or 5 s pass.
bool Eventually(const std::function<bool()>& condition) {
  for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;) {
    if (condition()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return condition();
}

// ---- event format and positions ------------------------------------------------------------------------------

TEST(StreamEvent, FormatsOneEventPerVersionOnOneLine) {
  store::StoredObject o;
  o.id = "indicator--00000000-0000-4000-8000-000000000001";
  o.type = "indicator";
  o.modified = "2024-01-01T00:00:00.000Z";
  o.revoked = true;
  o.seq = 42;
  o.added = Timestamp::FromUnixMillis(1'704'067'200'123);
  o.json = R"({"type":"indicator","id":"indicator--00000000-0000-4000-8000-000000000001","name":"a\nb"})";
  EXPECT_EQ(FormatStreamEvent(o),
            "id: 42\nevent: object\ndata: {\"seq\":42,\"id\":\"indicator--00000000-0000-4000-8000-000000000001\","
            "\"type\":\"indicator\",\"modified\":\"2024-01-01T00:00:00.000Z\",\"revoked\":true,"
            "\"added\":\"2024-01-01T00:00:00.123Z\",\"object\":{\"type\":\"indicator\","
            "\"id\":\"indicator--00000000-0000-4000-8000-000000000001\",\"name\":\"a\\nb\"}}\n\n");
}

TEST(StreamEvent, UnversionedObjectHasNullModifiedAndLineBreaksBecomeSpaces) {
  store::StoredObject o;
  o.id = "ipv4-addr--a2e4a2d5-41b2-5f39-9b5a-2d3c6f0f2a11";
  o.type = "ipv4-addr";
  o.seq = 7;
  o.added = Timestamp::FromUnixMillis(0);
  o.json = "{\"type\":\"ipv4-addr\",\r\n\"value\":\"198.51.100.1\"}";
  EXPECT_EQ(FormatStreamEvent(o),
            "id: 7\nevent: object\ndata: {\"seq\":7,\"id\":\"ipv4-addr--a2e4a2d5-41b2-5f39-9b5a-2d3c6f0f2a11\","
            "\"type\":\"ipv4-addr\",\"modified\":null,\"revoked\":false,\"added\":\"1970-01-01T00:00:00.000Z\","
            "\"object\":{\"type\":\"ipv4-addr\",  \"value\":\"198.51.100.1\"}}\n\n");
}

TEST(StreamPosition, AcceptsDecimalSeqs) {
  EXPECT_EQ(*ParseStreamPosition("Last-Event-ID", "0"), 0);
  EXPECT_EQ(*ParseStreamPosition("Last-Event-ID", "17"), 17);
  EXPECT_EQ(*ParseStreamPosition("after", "9223372036854775807"), INT64_MAX);
}

TEST(StreamPosition, RejectsEverythingElseNamingTheField) {
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1x", "0x1f", "abc", "9223372036854775808", "1.5"}) {
    auto p = ParseStreamPosition("Last-Event-ID", bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ErrorField(p.status()), "Last-Event-ID");
    EXPECT_EQ(p.status().message(),
              fmt::format("Last-Event-ID: expected a change sequence number (decimal digits, at most "
                          "9223372036854775807), got '{}'",
                          bad));
  }
  EXPECT_EQ(ErrorField(ParseStreamPosition("after", "x").status()), "after");
}

// ---- the change feed and the stream on a real store --------------------------------------------------------

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("concord_stream_{}_{}.db", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Remove();
    auto s = store::OpenStore(path_.string());
    ASSERT_TRUE(s.ok()) << s.status();
    source_ = std::make_unique<StoreChangeSource>(**s);
    // No poll: the feed advances through the publishing store, or Refresh, or a poll a test starts itself.
    feed_ = std::make_unique<ChangeFeed>(*source_, 0, ChangeFeed::Options{.poll_interval = 0ms});
    store_ = std::make_unique<ChangePublishingStore>(*std::move(s), *feed_);
    auto a = audit::OpenAuditLog(path_.string());
    ASSERT_TRUE(a.ok()) << a.status();
    audit_ = std::move(*a);
    ctx_.store = store_.get();
    ctx_.audit = audit_.get();
    ctx_.clock = &clock_;
    ctx_.defaults.host_org = kOrgA;
    // "org:user" in a test header stands for an authenticated key; keys in revoked_ no longer authenticate.
    ctx_.authenticate = [this](http::Request& r) -> absl::StatusOr<Caller> {
      auto who = r.headers.Get("X-Test-Caller");
      if (!who) return absl::UnauthenticatedError("missing API key");
      const std::string v(*who);
      if (v == revoked_) return absl::UnauthenticatedError("key revoked");
      const size_t colon = v.find(':');
      return Caller{.user = v.substr(colon + 1), .org_id = v.substr(0, colon), .role = "analyst", .key_id = "k"};
    };
    ASSERT_TRUE(AddStreamRoutes(router_, ctx_, *feed_, options_).ok());
  }
  void TearDown() override {
    audit_.reset();
    store_.reset();
    feed_.reset();
    source_.reset();
    Remove();
  }
  // The store's files and its audit log's (a file left behind was reopened by a later run whose process got the
  // same pid, with that run's entries in it).
  void Remove() {
    const std::string audit_file = audit::AuditPathOf(path_.string()).value_or(path_.string() + ".audit");
    for (const std::string& file : {path_.string(), audit_file}) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file + suffix);
    }
  }

  int64_t Put(const std::string& json) {
    auto parsed = stix::ParseObject(boost::json::parse(json).as_object());
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    auto results = ctx_.store->Put(std::span<const stix::Object>(&*parsed, 1));
    EXPECT_TRUE(results.ok()) << results.status();
    return results.ok() ? results->at(0).seq : 0;
  }

  struct Opened {
    int status = 0;
    std::string body;  // the error, when status != 200
    http::Response response;
  };
  Opened Open(const std::string& target, const std::string& caller, const std::string& headers = "") {
    http::Request req;
    req.method = "GET";
    req.target = target;
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    req.route = "/api/v1/stream";
    req.remote_address = "192.0.2.7:4711";
    if (q != std::string::npos) req.query = http::QueryParams::Parse(target.substr(q + 1));
    if (!caller.empty()) req.headers.Set("X-Test-Caller", caller);
    for (size_t at = 0; at < headers.size();) {  // "Name: value\n…"
      const size_t eol = headers.find('\n', at);
      const std::string line = headers.substr(at, eol - at);
      req.headers.Add(line.substr(0, line.find(':')), line.substr(line.find(':') + 2));
      at = eol == std::string::npos ? headers.size() : eol + 1;
    }
    auto match = router_.Find("GET", req.path);
    EXPECT_NE(match.handler, nullptr);
    auto r = (*match.handler)(req);
    if (!r.ok()) {
      auto e = router_.RenderError(req.path, r.status());
      return {e.status, e.body, {}};
    }
    return {r->status, "", *std::move(r)};
  }

  // Calls the producer as the server does until it answers kPending or kEnd; returns what it wrote.
  std::string Drain(http::Response& r, http::Produced* last = nullptr) {
    std::string out;
    for (int calls = 0; calls < 1000; ++calls) {
      std::string chunk;
      auto more = r.stream(chunk, http::StreamContext{cancelled_, wake_});
      EXPECT_TRUE(more.ok()) << more.status();
      if (!more.ok()) return out;
      out += chunk;
      if (last) *last = *more;
      if (*more != http::Produced::kChunk) return out;
    }
    ADD_FAILURE() << "the producer never went idle";
    return out;
  }

  std::string Event(int64_t seq) {
    auto page = store_->List({.current_only = false, .after_seq = seq - 1, .limit = 1});
    EXPECT_TRUE(page.ok() && page->objects.size() == 1 && page->objects[0].seq == seq);
    return FormatStreamEvent(page->objects.at(0));
  }

  std::vector<audit::Entry> AuditEntries() {
    auto page = audit_->List({.action = audit::Action::kRead, .limit = 1000});
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->entries : std::vector<audit::Entry>{};
  }

  std::filesystem::path path_;
  ManualClock clock_;
  std::unique_ptr<StoreChangeSource> source_;
  std::unique_ptr<ChangeFeed> feed_;
  std::unique_ptr<ChangePublishingStore> store_;
  std::unique_ptr<audit::AuditLog> audit_;
  ApiContext ctx_;
  StreamOptions options_;
  http::Router router_;
  std::string revoked_;
  std::atomic<bool> cancelled_{false};
  std::atomic<int> wakes_{0};
  std::function<void()> wake_ = [this] { ++wakes_; };
};

// The publishing store hands reads to the backend's own implementations, not to the Store defaults built on
// List (PostgreSQL's Sweep is one snapshot through a server-side cursor; SQLite's ListEach reads in place).
class CountingStore final : public store::Store {
 public:
  absl::StatusOr<std::vector<store::PutResult>> PutEncoded(std::span<const store::EncodedObject>) override { return NotForwarded(); }
  absl::StatusOr<store::StoredObject> Get(std::string_view) override { return NotForwarded(); }
  absl::StatusOr<store::StoredObject> GetVersion(std::string_view, const Timestamp&) override { return NotForwarded(); }
  absl::StatusOr<std::vector<store::StoredObject>> Versions(std::string_view) override { return NotForwarded(); }
  absl::StatusOr<store::Page> List(const store::Query&) override { return NotForwarded(); }
  absl::StatusOr<store::Stats> GetStats() override { return store::Stats{}; }
  absl::StatusOr<store::ListEnd> ListEach(const store::Query& q, absl::FunctionRef<bool(const store::StoredView&)>) override {
    ++list_each;
    return store::ListEnd{.next_after_seq = q.after_seq + 7, .more = true};
  }
  absl::Status Sweep(const store::Query&, const std::function<bool(const store::StoredObject&)>&) override {
    ++sweeps;
    return absl::OkStatus();
  }
  int list_each = 0;
  int sweeps = 0;

 private:
  // What the wrapper reaches only if it fell back to a Store default built on List instead of forwarding.
  static absl::Status NotForwarded() {
    return absl::UnimplementedError("CountingStore answers ListEach and Sweep only: the call was not forwarded");
  }
};

TEST(ChangePublishingStore, ListEachAndSweepReachTheBackend) {
  auto inner = std::make_unique<CountingStore>();
  CountingStore& counts = *inner;
  StoreChangeSource source(counts);
  ChangeFeed feed(source, 0, ChangeFeed::Options{.poll_interval = 0ms});
  ChangePublishingStore store(std::move(inner), feed);
  store::Query q;
  q.after_seq = 5;
  auto end = store.ListEach(q, [](const store::StoredView&) { return true; });
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->next_after_seq, 12);
  EXPECT_TRUE(end->more);
  EXPECT_TRUE(store.Sweep(q, [](const store::StoredObject&) { return true; }).ok());
  EXPECT_EQ(counts.list_each, 1);
  EXPECT_EQ(counts.sweeps, 1);
}

TEST_F(StreamTest, FeedWakesSubscribersOnlyWhenItAdvances) {
  std::atomic<int> a{0}, b{0};
  auto sub_a = feed_->Subscribe([&] { ++a; });
  {
    auto sub_b = feed_->Subscribe([&] { ++b; });
    EXPECT_EQ(feed_->subscribers(), 2u);
    feed_->Publish(5);
    feed_->Publish(5);  // not an advance
    feed_->Publish(3);  // nor this
    EXPECT_EQ(feed_->last_seq(), 5);
    EXPECT_EQ(a.load(), 1);
    EXPECT_EQ(b.load(), 1);
  }
  EXPECT_EQ(feed_->subscribers(), 1u);
  feed_->Publish(6);
  EXPECT_EQ(a.load(), 2);
  EXPECT_EQ(b.load(), 1);
  ChangeFeed::Subscription moved = std::move(sub_a);
  feed_->Publish(7);
  EXPECT_EQ(a.load(), 3);
  moved = ChangeFeed::Subscription();
  EXPECT_EQ(feed_->subscribers(), 0u);
}

TEST_F(StreamTest, WritesThroughThePublishingStoreAdvanceTheFeedAtOnce) {
  std::atomic<int> woken{0};
  auto sub = feed_->Subscribe([&] { ++woken; });
  const int64_t seq = Put(Indicator(1, kOrgA, kTlpClear));
  EXPECT_EQ(feed_->last_seq(), seq);
  EXPECT_EQ(woken.load(), 1);
  EXPECT_EQ(Put(Indicator(1, kOrgA, kTlpClear)), 0);  // unchanged: no new seq, no wake
  EXPECT_EQ(woken.load(), 1);
}

TEST_F(StreamTest, PollSeesCommitsOfAnotherProcess) {
  // A second handle on the same file writes as `concord import` would; only the poll can notice.
  auto other = store::OpenStore(path_.string());
  ASSERT_TRUE(other.ok());
  ChangeFeed polled(*source_, 0, {.poll_interval = 5ms});
  std::atomic<int> woken{0};
  auto sub = polled.Subscribe([&] { ++woken; });
  auto parsed = stix::ParseObject(boost::json::parse(Indicator(1, kOrgA, kTlpClear)).as_object());
  ASSERT_TRUE(parsed.ok());
  auto put = (*other)->Put(std::span<const stix::Object>(&*parsed, 1));
  ASSERT_TRUE(put.ok());
  const int64_t seq = put->at(0).seq;
  EXPECT_TRUE(Eventually([&] { return polled.last_seq() == seq && woken.load() == 1; }));
  EXPECT_EQ(feed_->last_seq(), 0);    // the unpolled feed has not heard of it…
  EXPECT_EQ(*feed_->Refresh(), seq);  // …until it asks
  EXPECT_EQ(feed_->last_seq(), seq);
}

TEST_F(StreamTest, StartsFromNowAndDeliversWhatTheCallerMaySee) {
  const int64_t before = Put(Indicator(1, kOrgA, kTlpClear));  // before the stream: not sent
  Opened s = Open("/api/v1/stream", fmt::format("{}:bob", kOrgB));
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.response.headers.Get("Content-Type"), "text/event-stream");
  EXPECT_EQ(s.response.heartbeat, ": keep-alive\n\n");
  EXPECT_EQ(Drain(s.response), "retry: 3000\n\n");
  EXPECT_EQ(feed_->subscribers(), 1u);

  const int64_t clear = Put(Indicator(2, kOrgA, kTlpClear));
  const int64_t red = Put(Indicator(3, kOrgA, kTlpRed));  // A's alone
  const int64_t green = Put(Indicator(4, kOrgA, kTlpGreen));
  EXPECT_EQ(wakes_.load(), 3);
  EXPECT_EQ(red, clear + 1);
  EXPECT_EQ(Drain(s.response), Event(clear) + Event(green));
  EXPECT_EQ(Drain(s.response), "");  // nothing new

  // Invisible versions move the position; it reaches the client only after position_interval.
  const int64_t red2 = Put(Indicator(5, kOrgA, kTlpRed));
  EXPECT_EQ(Drain(s.response), "");
  clock_.Advance(options_.position_interval - 1ms);
  EXPECT_EQ(Drain(s.response), "");
  clock_.Advance(1ms);
  EXPECT_EQ(Drain(s.response), fmt::format("id: {}\n\n", red2));
  EXPECT_EQ(Drain(s.response), "");

  // The owner sees its own RED: a stream of A from after=0 gets everything, in seq order.
  Opened a = Open("/api/v1/stream?after=0", fmt::format("{}:alice", kOrgA));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(Drain(a.response),
            "retry: 3000\n\n" + Event(before) + Event(clear) + Event(red) + Event(green) + Event(red2));
}

TEST_F(StreamTest, ResumesAfterLastEventIdWhichWinsOverAfter) {
  std::vector<int64_t> seqs;
  for (int n = 1; n <= 4; ++n) seqs.push_back(Put(Indicator(n, kOrgA, kTlpClear)));
  Opened s = Open("/api/v1/stream?after=0", fmt::format("{}:bob", kOrgB), fmt::format("Last-Event-ID: {}", seqs[1]));
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(Drain(s.response), "retry: 3000\n\n" + Event(seqs[2]) + Event(seqs[3]));
  // A new version of an object is a new event.
  const int64_t v2 = Put(Indicator(1, kOrgA, kTlpClear, "2024-02-01T00:00:00.000Z"));
  EXPECT_EQ(Drain(s.response), Event(v2));
}

TEST_F(StreamTest, TypeFilterKeepsThoseTypesAndStillAdvances) {
  Opened s = Open("/api/v1/stream?type=malware,indicator", fmt::format("{}:bob", kOrgB));
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(Drain(s.response), "retry: 3000\n\n");
  const int64_t indicator = Put(Indicator(1, kOrgA, kTlpClear));
  const int64_t identity = Put(fmt::format(
      R"({{"type":"identity","spec_version":"2.1","id":"{}","created_by_ref":"{}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"A","identity_class":"organization"}})",
      kOrgA, kOrgA));
  EXPECT_EQ(identity, indicator + 1);
  EXPECT_EQ(Drain(s.response), Event(indicator));
  // The identity was passed over (not rescanned on every wake): the position says so after the interval.
  clock_.Advance(options_.position_interval);
  EXPECT_EQ(Drain(s.response), fmt::format("id: {}\n\n", identity));
}

TEST_F(StreamTest, BadRequestsAreRefusedNamingTheField) {
  const std::string bob = fmt::format("{}:bob", kOrgB);
  Opened no_key = Open("/api/v1/stream", "");
  EXPECT_EQ(no_key.status, 401);
  EXPECT_EQ(no_key.body, R"({"error":{"code":"UNAUTHENTICATED","message":"missing API key"}})");
  Opened bad_id = Open("/api/v1/stream", bob, "Last-Event-ID: 12a");
  EXPECT_EQ(bad_id.status, 400);
  EXPECT_EQ(
      bad_id.body,
      R"({"error":{"code":"INVALID_ARGUMENT","message":"Last-Event-ID: expected a change sequence number (decimal digits, at most 9223372036854775807), got '12a'","field":"Last-Event-ID"}})");
  Opened bad_after = Open("/api/v1/stream?after=-3", bob);
  EXPECT_EQ(bad_after.status, 400);
  EXPECT_NE(bad_after.body.find(R"("field":"after")"), std::string::npos) << bad_after.body;
  const int64_t seq = Put(Indicator(1, kOrgA, kTlpClear));
  Opened ahead = Open("/api/v1/stream", bob, fmt::format("Last-Event-ID: {}", seq + 1));
  EXPECT_EQ(ahead.status, 400);
  EXPECT_EQ(
      ahead.body,
      fmt::format(
          R"({{"error":{{"code":"INVALID_ARGUMENT","message":"Last-Event-ID: {} is past the last change of this node ({}): an id from another node?","field":"Last-Event-ID"}}}})",
          seq + 1, seq));
  Opened bad_type = Open("/api/v1/stream?type=Indicator", bob);
  EXPECT_EQ(bad_type.status, 400);
  EXPECT_EQ(
      bad_type.body,
      R"x({"error":{"code":"INVALID_ARGUMENT","message":"type: 'Indicator' is not a STIX type name (a-z, 0-9 and '-')","field":"type"}})x");
}

TEST_F(StreamTest, AuditsOneEntryPerDeliveredBatchAboveClear) {
  Opened s = Open("/api/v1/stream", fmt::format("{}:bob", kOrgB), "X-Concord-Justification: case 2024-17");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(Drain(s.response), "retry: 3000\n\n");
  const int64_t clear = Put(Indicator(1, kOrgA, kTlpClear));
  const int64_t g2 = Put(Indicator(2, kOrgA, kTlpGreen));
  const int64_t g3 = Put(Indicator(3, kOrgA, kTlpGreen));
  EXPECT_EQ(Drain(s.response), Event(clear) + Event(g2) + Event(g3));
  auto entries = AuditEntries();
  ASSERT_EQ(entries.size(), 1u);
  const audit::Event& e = entries[0].event;
  EXPECT_EQ(e.user, "bob");
  EXPECT_EQ(e.org, kOrgB);
  EXPECT_EQ(e.object_ids, (std::vector<std::string>{IndicatorId(2), IndicatorId(3)}));
  EXPECT_EQ(e.justification, "case 2024-17");
  EXPECT_EQ(e.remote_address, "192.0.2.7");
  EXPECT_EQ(e.detail.at("route"), "/api/v1/stream");
  EXPECT_EQ(e.detail.at("first_seq"), clear);
  EXPECT_EQ(e.detail.at("last_seq"), g3);
  // CLEAR alone is not audited.
  const int64_t clear2 = Put(Indicator(4, kOrgA, kTlpClear));
  EXPECT_EQ(Drain(s.response), Event(clear2));
  EXPECT_EQ(AuditEntries().size(), 1u);
}

TEST_F(StreamTest, AuditFailureEndsTheStreamWithoutTheBatch) {
  auto read_only = audit::OpenAuditLog(path_.string(), {.read_only = true});
  ASSERT_TRUE(read_only.ok()) << read_only.status();
  ctx_.audit = read_only->get();  // appends fail
  Opened s = Open("/api/v1/stream", fmt::format("{}:bob", kOrgB));
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(Drain(s.response), "retry: 3000\n\n");
  Put(Indicator(1, kOrgA, kTlpGreen));
  std::string chunk;
  auto more = s.response.stream(chunk, http::StreamContext{cancelled_, wake_});
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(chunk, "");
}

TEST_F(StreamTest, RedNeedingAJustificationIsSkippedUnlessOneWasGiven) {
  ctx_.require_justification_for_red = true;
  const std::string alice = fmt::format("{}:alice", kOrgA);
  Opened without = Open("/api/v1/stream?after=0", alice);
  Opened with = Open("/api/v1/stream?after=0", alice, "X-Concord-Justification: incident 7");
  ASSERT_EQ(without.status, 200);
  ASSERT_EQ(with.status, 200);
  const int64_t red = Put(Indicator(1, kOrgA, kTlpRed));
  const int64_t strict = Put(Indicator(2, kOrgA, kTlpAmberStrict));
  const int64_t green = Put(Indicator(3, kOrgA, kTlpGreen));
  EXPECT_EQ(Drain(without.response), "retry: 3000\n\n" + Event(green));
  EXPECT_EQ(Drain(with.response), "retry: 3000\n\n" + Event(red) + Event(strict) + Event(green));
  Opened too_long = Open("/api/v1/stream", alice, "X-Concord-Justification: " + std::string(1025, 'x'));
  EXPECT_EQ(too_long.status, 400);
}

TEST_F(StreamTest, RevokedKeyEndsTheStreamAtTheNextBatch) {
  const std::string bob = fmt::format("{}:bob", kOrgB);
  Opened s = Open("/api/v1/stream", bob);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(Drain(s.response), "retry: 3000\n\n");
  revoked_ = bob;
  const int64_t first = Put(Indicator(1, kOrgA, kTlpClear));
  EXPECT_EQ(Drain(s.response), Event(first));  // checked again only every reauthenticate_interval
  clock_.Advance(options_.reauthenticate_interval);
  Put(Indicator(2, kOrgA, kTlpClear));
  http::Produced last = http::Produced::kChunk;
  EXPECT_EQ(Drain(s.response, &last), "");
  EXPECT_EQ(last, http::Produced::kEnd);
}

TEST_F(StreamTest, CancellationHandsOverThePositionThenEnds) {
  const std::string bob = fmt::format("{}:bob", kOrgB);
  Opened s = Open("/api/v1/stream", bob);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(Drain(s.response), "retry: 3000\n\n");
  const int64_t red = Put(Indicator(1, kOrgA, kTlpRed));
  EXPECT_EQ(Drain(s.response), "");
  cancelled_ = true;  // the server drains
  http::Produced last = http::Produced::kChunk;
  EXPECT_EQ(Drain(s.response, &last), fmt::format("id: {}\n\n", red));
  EXPECT_EQ(last, http::Produced::kEnd);
  s.response.stream = nullptr;  // the server drops the producer: the subscription ends with it
  EXPECT_EQ(feed_->subscribers(), 0u);
}

}  // namespace
}  // namespace concord::api
