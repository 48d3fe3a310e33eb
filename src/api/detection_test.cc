// The detection routes (match, export, search, correlations) and the snapshot refresher, on a real SQLite
// store with postings, called through the router as the server would.
#include "api/detection.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "correlate/postings.h"
#include "fmt/format.h"

namespace concord::api {
namespace {

constexpr char kOrgA[] = "identity--aaaaaaaa-0000-4000-8000-000000000001";
constexpr char kOrgB[] = "identity--bbbbbbbb-0000-4000-8000-000000000002";
constexpr char kPolicyExt[] = "extension-definition--316340be-3f50-4d51-bfe5-65daffa13801";
constexpr char kTlpAmber[] = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
constexpr char kTlpRed[] = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

std::string Id(int n) { return fmt::format("indicator--00000000-0000-4000-8000-{:012d}", n); }

// An indicator of `creator` with `pattern` (single quotes inside are fine: they are JSON string content).
std::string Indicator(int n, std::string_view creator, std::string_view pattern, std::string_view extra = "") {
  return fmt::format(
      R"({{"type":"indicator","spec_version":"2.1","id":"{}","created_by_ref":"{}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"test {}","pattern":"{}","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"{}}})",
      Id(n), creator, n, pattern, extra);
}
std::string Private(std::string_view marking) {
  return fmt::format(R"(,"object_marking_refs":["{}"],"extensions":{{"{}":{{"extension_type":"property-extension","distribution":0}}}})",
                     marking, kPolicyExt);
}

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
  boost::json::value Json() const { return boost::json::parse(body); }
};

class DetectionApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("concord_detect_api_{}_{}.db", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto s = store::OpenStore(path_.string(), {.postings = &extractor_});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    ctx_.store = store_.get();
    ctx_.authenticate = [](http::Request& r) -> absl::StatusOr<Caller> {
      auto who = r.headers.Get("X-Test-Caller");
      if (!who) return absl::UnauthenticatedError("missing API key");
      return Caller{.user = "u", .org_id = std::string(*who), .role = "analyst"};
    };
    Put(Indicator(1, kOrgA, "[domain-name:value = 'evil-concord.net']") + "," +
        Indicator(2, kOrgA, "[ipv4-addr:value = '45.33.0.0/16']") + "," +
        Indicator(3, kOrgA, "[ipv4-addr:value = '45.77.1.2']", Private(kTlpAmber)) + "," +
        Indicator(4, kOrgB, "[ipv4-addr:value = '45.77.1.2']"));
  }
  void TearDown() override {
    snapshots_.reset();
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + suffix);
  }

  void Put(const std::string& objects) {
    auto parsed = boost::json::parse("[" + objects + "]");
    std::vector<stix::Object> batch;
    for (const auto& v : parsed.as_array()) {
      auto o = stix::ParseObject(v.as_object());
      ASSERT_TRUE(o.ok()) << o.status();
      batch.push_back(std::move(*o));
    }
    ASSERT_TRUE(store_->Put(batch).ok());
  }

  void StartDetection(std::chrono::milliseconds interval = std::chrono::seconds(60)) {
    auto s = IndicatorSnapshots::Start(*store_, nullptr, nullptr, SystemClock::Instance(), {.rebuild_interval = interval});
    ASSERT_TRUE(s.ok()) << s.status();
    snapshots_ = std::move(*s);
    detection_.api = &ctx_;
    detection_.snapshots = snapshots_.get();
    detection_.max_match_values = 5;
    ASSERT_TRUE(AddDetectionRoutes(router_, detection_).ok());
  }

  Reply Call(const std::string& method, const std::string& target, const std::string& caller, std::string body = "") {
    http::Request req;
    req.method = method;
    req.target = target;
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = http::QueryParams::Parse(target.substr(q + 1));
    if (!caller.empty()) req.headers.Set("X-Test-Caller", caller);
    req.body = std::move(body);
    auto match = router_.Find(method, req.path);
    if (match.handler == nullptr) {
      auto r = router_.RenderError(req.path, match.error);
      return {r.status, r.body, ""};
    }
    for (auto& [k, v] : match.params) req.path_params[k] = v;
    auto r = (*match.handler)(req);
    if (r.ok()) r = http::AwaitGate(std::move(*r));
    if (!r.ok()) {
      auto e = router_.RenderError(req.path, r.status());
      return {e.status, e.body, ""};
    }
    Reply reply{r->status, r->body, std::string(r->headers.Get("Content-Type").value_or(""))};
    if (r->stream) {
      // Drains the producer as the server would.
      std::atomic<bool> cancelled{false};
      std::function<void()> wake = [] {};
      http::StreamContext context{cancelled, wake};
      for (int calls = 0; calls < 1000; ++calls) {
        std::string chunk;
        auto produced = r->stream(chunk, context);
        EXPECT_TRUE(produced.ok()) << produced.status();
        if (!produced.ok() || *produced == http::Produced::kEnd) break;
        reply.body += chunk;
      }
    }
    return reply;
  }

  // The indicator ids hit per value of a match of `values` (a JSON array).
  std::vector<std::set<std::string>> Hits(const std::string& caller, const std::string& values) {
    Reply r = Call("POST", "/api/v1/match", caller, R"({"values":)" + values + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::set<std::string>> out;
    if (r.status != 200) return out;
    const boost::json::value doc = r.Json();
    for (const auto& result : doc.at("results").as_array()) {
      std::set<std::string> ids;
      for (const auto& h : result.at("hits").as_array()) ids.insert(std::string(h.at("indicator").as_string()));
      out.push_back(std::move(ids));
    }
    return out;
  }

  correlate::PostingExtractor extractor_;
  std::filesystem::path path_;
  std::unique_ptr<store::Store> store_;
  ApiContext ctx_;
  std::unique_ptr<IndicatorSnapshots> snapshots_;
  DetectionContext detection_;
  http::Router router_;
};

TEST_F(DetectionApiTest, MatchFindsSubdomainsAndAddressesInsideCidrs) {
  StartDetection();
  Reply r = Call("POST", "/api/v1/match", kOrgA,
                 R"({"values":["a.b.evil-concord.net",{"value":"45.33.7.9","kind":"ipv4","time":"2024-06-01T00:00:00Z"},"notevil-concord.net","42","::ffff:45.33.1.1"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto doc = r.Json();
  const auto& results = doc.at("results").as_array();
  ASSERT_EQ(results.size(), 5u);
  const auto& sub = results[0].as_object();
  EXPECT_EQ(sub.at("kind").as_string(), "domain");
  ASSERT_EQ(sub.at("hits").as_array().size(), 1u);
  const auto& hit = sub.at("hits").as_array()[0].as_object();
  EXPECT_EQ(hit.at("indicator").as_string(), Id(1));
  EXPECT_EQ(hit.at("name").as_string(), "test 1");
  EXPECT_EQ(hit.at("matched").as_string(), "evil-concord.net");
  EXPECT_EQ(hit.at("matched_kind").as_string(), "domain");
  EXPECT_EQ(hit.at("tlp").as_string(), "none");
  EXPECT_FALSE(hit.at("confirmed").as_bool());
  const auto& cidr = results[1].as_object().at("hits").as_array();
  ASSERT_EQ(cidr.size(), 1u);
  EXPECT_EQ(cidr[0].at("indicator").as_string(), Id(2));
  EXPECT_EQ(cidr[0].at("matched").as_string(), "45.33.0.0/16");
  EXPECT_EQ(cidr[0].at("matched_kind").as_string(), "cidr4");
  EXPECT_TRUE(results[2].at("hits").as_array().empty());  // not a subdomain: a different name
  EXPECT_TRUE(results[3].at("kind").is_null());           // a bare number is no kind
  EXPECT_TRUE(results[3].as_object().contains("error"));
  EXPECT_EQ(results[4].at("kind").as_string(), "ipv4");   // IPv4-mapped IPv6 is the IPv4 address
  EXPECT_EQ(results[4].at("hits").as_array().size(), 1u);
  EXPECT_EQ(doc.at("snapshot").at("indicators").to_number<uint64_t>(), 4u);
}

TEST_F(DetectionApiTest, MatchShowsOnlyIndicatorsTheCallerSees) {
  StartDetection();
  // 45.77.1.2 is in A's private AMBER indicator 3 and in B's shared indicator 4.
  EXPECT_EQ(Hits(kOrgA, R"(["45.77.1.2"])"), (std::vector<std::set<std::string>>{{Id(3), Id(4)}}));
  EXPECT_EQ(Hits(kOrgB, R"(["45.77.1.2"])"), (std::vector<std::set<std::string>>{{Id(4)}}));
}

TEST_F(DetectionApiTest, MatchRefusesMalformedRequestsNamingTheField) {
  StartDetection();
  auto field = [&](const std::string& body) {
    Reply r = Call("POST", "/api/v1/match", kOrgA, body);
    EXPECT_EQ(r.status, 400) << body << " → " << r.body;
    return r.status == 400 ? std::string(r.Json().at("error").at("field").as_string()) : std::string();
  };
  EXPECT_EQ(field(R"({"values":["1","2","3","4","5","6"]})"), "values");  // over max_match_values (5 here)
  EXPECT_EQ(field(R"({"value":"x"})"), "values");
  EXPECT_EQ(field(R"({"values":[{"value":"x","kind":"dns"}]})"), "values[0].kind");
  EXPECT_EQ(field(R"({"values":["a.com",{"value":"x","time":"yesterday"}]})"), "values[1].time");
  EXPECT_EQ(field(R"({"values":[{"kind":"domain"}]})"), "values[0].value");
  EXPECT_EQ(field(R"({"values":[17]})"), "values[0]");
  EXPECT_EQ(Call("POST", "/api/v1/match", "", R"({"values":[]})").status, 401);
}

TEST_F(DetectionApiTest, RefresherPicksUpNewIndicators) {
  StartDetection(std::chrono::milliseconds(20));
  EXPECT_EQ(Hits(kOrgA, R"(["8.26.3.4"])"), (std::vector<std::set<std::string>>{{}}));
  Put(Indicator(5, kOrgA, "[ipv4-addr:value = '8.26.3.4']"));
  std::vector<std::set<std::string>> got;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       std::chrono::steady_clock::now() < until;) {
    got = Hits(kOrgA, R"(["8.26.3.4"])");
    if (!got.empty() && !got[0].empty()) break;
  }
  EXPECT_EQ(got, (std::vector<std::set<std::string>>{{Id(5)}}));
  EXPECT_GE(snapshots_->builds(), 2u);
  snapshots_->Stop();
  snapshots_->Stop();  // idempotent
}

TEST_F(DetectionApiTest, ExportStreamsWhatTheCallerSees) {
  StartDetection();
  Reply a = Call("GET", "/api/v1/export/text", kOrgA);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(a.body, "evil-concord.net\n45.33.0.0/16\n45.77.1.2\n45.77.1.2\n");
  Reply b = Call("GET", "/api/v1/export/text", kOrgB);
  EXPECT_EQ(b.body, "evil-concord.net\n45.33.0.0/16\n45.77.1.2\n");  // not A's private indicator
  Reply csv = Call("GET", "/api/v1/export/csv?kind=ipv4,cidr4&max_tlp=clear", kOrgA);
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_TRUE(csv.body.starts_with("id,kind,value,tlp,score,valid_until,name\r\n")) << csv.body;
  EXPECT_EQ(csv.body.find(Id(3)), std::string::npos);  // AMBER is above max_tlp=clear
  EXPECT_NE(csv.body.find(Id(4)), std::string::npos);
  EXPECT_EQ(csv.body.find("evil-concord.net"), std::string::npos);  // kind not asked
  Reply stix = Call("GET", "/api/v1/export/stix", kOrgB);
  EXPECT_EQ(stix.content_type, "application/stix+json;version=2.1");
  EXPECT_EQ(boost::json::parse(stix.body).at("objects").as_array().size(), 3u);
  auto field = [&](const std::string& target) {
    Reply r = Call("GET", target, kOrgA);
    EXPECT_EQ(r.status, 400) << target << " → " << r.body;
    return r.status == 400 ? std::string(r.Json().at("error").at("field").as_string()) : std::string();
  };
  EXPECT_EQ(field("/api/v1/export/pdf"), "format");
  EXPECT_EQ(field("/api/v1/export/csv?kind=dns"), "kind");
  EXPECT_EQ(field("/api/v1/export/csv?max_tlp=purple"), "max_tlp");
  EXPECT_EQ(field("/api/v1/export/csv?min_score=101"), "min_score");
  EXPECT_EQ(field("/api/v1/export/csv?min_score=x"), "min_score");
  EXPECT_EQ(field("/api/v1/export/csv?since=today"), "since");
  EXPECT_EQ(field("/api/v1/export/csv?include_warninglisted=yes"), "include_warninglisted");
}

TEST_F(DetectionApiTest, SearchAndCorrelationsRespectVisibility) {
  StartDetection();
  auto ids = [](const Reply& r) {
    std::set<std::string> out;
    const boost::json::value doc = r.Json();
    for (const auto& o : doc.at("objects").as_array()) out.insert(std::string(o.at("id").as_string()));
    return out;
  };
  Reply a = Call("GET", "/api/v1/search?value=45.77.1.2", kOrgA);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.Json().at("kind").as_string(), "ipv4");
  EXPECT_EQ(ids(a), (std::set<std::string>{Id(3), Id(4)}));
  Reply b = Call("GET", "/api/v1/search?value=45.77.1.2", kOrgB);
  EXPECT_EQ(ids(b), (std::set<std::string>{Id(4)}));
  // An address inside a CIDR posting finds the CIDR's indicator among the containing hits.
  Reply inside = Call("GET", "/api/v1/search?value=45.33.200.1", kOrgB);
  ASSERT_EQ(inside.status, 200) << inside.body;
  const boost::json::value inside_doc = inside.Json();
  const auto& containing = inside_doc.at("containing").as_array();
  ASSERT_EQ(containing.size(), 1u);
  EXPECT_EQ(containing[0].at("object").at("id").as_string(), Id(2));
  EXPECT_EQ(Call("GET", "/api/v1/search?value=42", kOrgA).Json().at("error").at("field").as_string(), "value");
  EXPECT_EQ(Call("GET", "/api/v1/search?value=a.com&kind=dns", kOrgA).Json().at("error").at("field").as_string(), "kind");
  EXPECT_EQ(Call("GET", "/api/v1/search", kOrgA).status, 400);

  Reply c = Call("GET", "/api/v1/objects/" + Id(4) + "/correlations", kOrgA);
  ASSERT_EQ(c.status, 200) << c.body;
  const boost::json::value c_doc = c.Json();
  const auto& values = c_doc.at("values").as_array();
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].at("value").as_string(), "45.77.1.2");
  ASSERT_EQ(values[0].at("objects").as_array().size(), 1u);
  EXPECT_EQ(values[0].at("objects").as_array()[0].at("id").as_string(), Id(3));
  // B cannot see indicator 3: 404 as for an unknown id, and 4's correlations do not show it.
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + Id(3) + "/correlations", kOrgB).status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + Id(99) + "/correlations", kOrgB).status, 404);
  Reply d = Call("GET", "/api/v1/objects/" + Id(4) + "/correlations", kOrgB);
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_TRUE(d.Json().at("values").as_array()[0].at("objects").as_array().empty());
}

TEST_F(DetectionApiTest, RedNeedsAJustificationWhenTheNodeSaysSo) {
  Put(Indicator(6, kOrgA, "[ipv4-addr:value = '45.78.1.1']", std::string(R"(,"object_marking_refs":[")") + kTlpRed + "\"]"));
  ctx_.require_justification_for_red = true;
  StartDetection();
  EXPECT_EQ(Hits(kOrgA, R"(["45.78.1.1"])"), (std::vector<std::set<std::string>>{{}}));
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + Id(6) + "/correlations", kOrgA).status, 403);
}

// An audit log whose every append fails: what cannot be recorded must not be handed out.
class FailingAuditLog final : public audit::AuditLog {
 public:
  void AppendAsync(std::vector<audit::Event>, AppendCallback done) override {
    done(absl::UnavailableError("disk full"));
  }
  absl::StatusOr<audit::Page> List(const audit::Filter&) override { return WriteOnly(); }
  absl::StatusOr<audit::Head> GetHead() override { return WriteOnly(); }
  absl::StatusOr<audit::Verification> Verify(const audit::VerifyOptions&) override {
    return WriteOnly();
  }

 private:
  // The tests only append; a read of this fake is a test bug and says so.
  static absl::Status WriteOnly() { return absl::FailedPreconditionError("FailingAuditLog is append-only"); }
};

TEST_F(DetectionApiTest, FailsClosedWhenTheAuditCannotRecord) {
  FailingAuditLog log;
  ctx_.audit = &log;
  StartDetection();
  EXPECT_EQ(Call("POST", "/api/v1/match", kOrgA, R"({"values":["45.77.1.2"]})").status, 503);
  EXPECT_EQ(Call("POST", "/api/v1/match", kOrgA, R"({"values":["45.200.1.1"]})").status, 200);  // no hit: nothing to record
  EXPECT_EQ(Call("GET", "/api/v1/export/text", kOrgA).status, 503);
  EXPECT_EQ(Call("GET", "/api/v1/search?value=45.77.1.2", kOrgA).status, 503);
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + Id(4) + "/correlations", kOrgA).status, 503);
  ctx_.audit = nullptr;
}

}  // namespace
}  // namespace concord::api
