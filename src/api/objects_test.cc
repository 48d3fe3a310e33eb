// The /api/v1/objects handlers on a real SQLite store, called through the router as the server would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "api/api.h"
#include "boost/json/parse.hpp"
#include "fmt/format.h"

namespace concord::api {
namespace {

constexpr char kOrgA[] = "identity--aaaaaaaa-0000-4000-8000-000000000001";
constexpr char kOrgB[] = "identity--bbbbbbbb-0000-4000-8000-000000000002";
constexpr char kPolicyExt[] = "extension-definition--316340be-3f50-4d51-bfe5-65daffa13801";
constexpr char kTlpRed[] = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
constexpr char kTlpGreen[] = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";

std::string Indicator(int n, std::string_view creator, std::string_view extra = "") {
  return fmt::format(
      R"({{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{:012d}","created_by_ref":"{}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.{}']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"{}}})",
      n, creator, n, extra);
}
std::string IndicatorId(int n) { return fmt::format("indicator--00000000-0000-4000-8000-{:012d}", n); }
std::string Distribution(int d) {
  return fmt::format(R"(,"extensions":{{"{}":{{"extension_type":"property-extension","distribution":{}}}}})", kPolicyExt, d);
}
std::string Marking(std::string_view marking) { return fmt::format(R"(,"object_marking_refs":["{}"])", marking); }

struct Reply {
  int status;
  std::string body;
  boost::json::value Json() const { return boost::json::parse(body); }
};

class ObjectsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("concord_api_{}_{}.db", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto s = store::OpenStore(path_.string());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    ctx_.store = store_.get();
    // Test callers: "org:role[:ro]" in a header stands for an authenticated key.
    ctx_.authenticate = [](http::Request& r) -> absl::StatusOr<Caller> {
      auto who = r.headers.Get("X-Test-Caller");
      if (!who) return absl::UnauthenticatedError("missing API key");
      const std::string v(*who);
      const size_t colon = v.find(':');
      Caller c{.user = "u", .org_id = v.substr(0, colon), .role = v.substr(colon + 1)};
      if (c.role.ends_with(":ro")) {
        c.role.resize(c.role.size() - 3);
        c.read_only = true;
      }
      return c;
    };
    ASSERT_TRUE(AddObjectRoutes(router_, ctx_).ok());
  }
  void TearDown() override {
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + suffix);
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
      return {r.status, r.body};
    }
    for (auto& [k, v] : match.params) req.path_params[k] = v;
    auto r = (*match.handler)(req);
    if (r.ok()) r = http::AwaitGate(std::move(*r));  // as the server would: after the audit commit
    if (!r.ok()) {
      auto e = router_.RenderError(req.path, r.status());
      return {e.status, e.body};
    }
    return {r->status, r->body};
  }
  Reply Post(const std::string& caller, const std::string& objects) {
    return Call("POST", "/api/v1/objects", caller, "[" + objects + "]");
  }
  std::set<std::string> ListIds(const std::string& caller, const std::string& query) {
    std::set<std::string> ids;
    std::string cursor;
    for (int pages = 0; pages < 100; ++pages) {
      Reply r = Call("GET", "/api/v1/objects?limit=2" + query + (cursor.empty() ? "" : "&cursor=" + cursor), caller);
      EXPECT_EQ(r.status, 200) << r.body;
      auto doc = r.Json().as_object();
      for (const auto& o : doc.at("objects").as_array()) {
        EXPECT_TRUE(ids.insert(std::string(o.at("id").as_string())).second) << "repeated " << o.at("id");
      }
      if (!doc.at("more").as_bool()) break;
      cursor = std::string(doc.at("next").as_string());
    }
    return ids;
  }

  std::filesystem::path path_;
  std::unique_ptr<store::Store> store_;
  ApiContext ctx_;
  http::Router router_;
};

const std::string kA = std::string(kOrgA) + ":analyst";
const std::string kB = std::string(kOrgB) + ":analyst";

TEST_F(ObjectsApiTest, PostReportsEveryObject) {
  Reply r = Post(kA, Indicator(1, kOrgA) + "," + Indicator(2, kOrgB) + "," + R"({"type":"indicator"})" + "," +
                         R"({"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = r.Json().as_object();
  EXPECT_EQ(doc.at("totals").at("new").as_int64(), 2);
  EXPECT_EQ(doc.at("totals").at("rejected").as_int64(), 2);
  const auto& items = doc.at("objects").as_array();
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].at("outcome").as_string(), "new");
  EXPECT_EQ(items[1].at("outcome").as_string(), "rejected");
  EXPECT_EQ(items[1].at("field").as_string(), "created_by_ref");
  EXPECT_EQ(items[1].at("reason").as_string(), fmt::format("must be your organisation ({})", kOrgA));
  EXPECT_EQ(items[2].at("outcome").as_string(), "rejected");
  EXPECT_EQ(items[3].at("outcome").as_string(), "new");

  Reply again = Post(kA, Indicator(1, kOrgA));
  EXPECT_EQ(again.Json().at("objects").at(0).at("outcome").as_string(), "unchanged");
}

// A cyber-observable has no creator: a policy only its owner could see would store it for nobody.
TEST_F(ObjectsApiTest, ObservableThatNobodyCouldSeeIsRefused) {
  auto sco = [](int n, std::string_view extra) {
    return fmt::format(R"({{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--{:08d}-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.{}"{}}})",
                       n, n, extra);
  };
  Reply r = Post(kA, sco(1, Distribution(0)) + "," + sco(2, Marking(kTlpRed)) + "," + sco(3, Distribution(2)) + "," +
                         sco(4, Marking(kTlpGreen)));
  ASSERT_EQ(r.status, 200) << r.body;
  const boost::json::value doc = r.Json();
  const auto& items = doc.at("objects").as_array();
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].at("outcome").as_string(), "rejected");
  EXPECT_EQ(items[0].at("field").as_string(), "distribution");
  EXPECT_EQ(items[0].at("reason").as_string(),
            "0 (your organisation only) cannot apply to a cyber-observable, which has no creator: share it in an SDO "
            "(observed-data, report) or choose 1-4");
  EXPECT_EQ(items[1].at("outcome").as_string(), "rejected");
  EXPECT_EQ(items[1].at("field").as_string(), "object_marking_refs");
  EXPECT_EQ(items[2].at("outcome").as_string(), "new");
  EXPECT_EQ(items[3].at("outcome").as_string(), "new");
  // What was stored, the writer sees.
  EXPECT_EQ(Call("GET", "/api/v1/objects/ipv4-addr--00000003-77cd-5a82-a950-b5bc3caf07c4", kA).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/objects/ipv4-addr--00000004-77cd-5a82-a950-b5bc3caf07c4", kA).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/objects/ipv4-addr--00000001-77cd-5a82-a950-b5bc3caf07c4", kA).status, 404);
}

TEST_F(ObjectsApiTest, WritesNeedAWritingKeyAndReadsAKey) {
  EXPECT_EQ(Post(std::string(kOrgA) + ":analyst:ro", Indicator(1, kOrgA)).status, 403);
  EXPECT_EQ(Post(std::string(kOrgA) + ":read-only", Indicator(1, kOrgA)).status, 403);
  Reply anon = Call("GET", "/api/v1/objects", "");
  EXPECT_EQ(anon.status, 401);
  EXPECT_EQ(anon.body, R"({"error":{"code":"UNAUTHENTICATED","message":"missing API key"}})");
  EXPECT_EQ(Call("POST", "/api/v1/objects", kA, "{not json").status, 400);
}

TEST_F(ObjectsApiTest, InvisibleIsIndistinguishableFromUnknown) {
  ASSERT_EQ(Post(kA, Indicator(1, kOrgA, Distribution(0)) + "," + Indicator(2, kOrgA, Marking(kTlpRed)) + "," +
                         Indicator(3, kOrgA, Marking(kTlpGreen)))
                .Json()
                .at("totals")
                .at("new")
                .as_int64(),
            3);
  for (int n : {1, 2, 3}) EXPECT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(n), kA).status, 200);
  Reply hidden = Call("GET", "/api/v1/objects/" + IndicatorId(1), kB);
  Reply unknown = Call("GET", "/api/v1/objects/" + IndicatorId(9), kB);
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(hidden.body, fmt::format(R"({{"error":{{"code":"NOT_FOUND","message":"object {} not found"}}}})", IndicatorId(1)));
  EXPECT_EQ(unknown.body, fmt::format(R"({{"error":{{"code":"NOT_FOUND","message":"object {} not found"}}}})", IndicatorId(9)));
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(2), kB).status, 404);  // RED without a group: owner only
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(3), kB).status, 200);  // GREEN, community: every org here
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(1) + "/versions", kB).status, 404);
  EXPECT_EQ(ListIds(kA, ""), (std::set<std::string>{IndicatorId(1), IndicatorId(2), IndicatorId(3)}));
  EXPECT_EQ(ListIds(kB, ""), (std::set<std::string>{IndicatorId(3)}));
}

TEST_F(ObjectsApiTest, ListFiltersAndCursorPaging) {
  std::string batch;
  for (int n = 1; n <= 9; ++n) {
    batch += (n > 1 ? "," : "") + Indicator(n, kOrgA, n % 3 == 0 ? Marking(kTlpGreen) + R"(,"labels":["apt"])" : "");
  }
  ASSERT_EQ(Post(kA, batch).status, 200);
  EXPECT_EQ(ListIds(kA, "").size(), 9u);
  EXPECT_EQ(ListIds(kA, "&tlp=green"), (std::set<std::string>{IndicatorId(3), IndicatorId(6), IndicatorId(9)}));
  EXPECT_EQ(ListIds(kA, "&label=apt").size(), 3u);
  EXPECT_EQ(ListIds(kA, "&type=malware").size(), 0u);
  EXPECT_EQ(ListIds(kA, "&created_by=" + std::string(kOrgB)).size(), 0u);
  EXPECT_EQ(ListIds(kA, "&revoked=false").size(), 9u);
  EXPECT_EQ(Call("GET", "/api/v1/objects?limit=0", kA).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/objects?cursor=abc", kA).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/objects?cursor=99999999999999999999", kA).status, 400);  // past int64
  EXPECT_EQ(Call("GET", "/api/v1/objects?cursor=-1", kA).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/objects?limit=%C3%A9", kA).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/objects?limit=99999999999999", kA).status, 200);  // clamped to the maximum
  Reply bad_tlp = Call("GET", "/api/v1/objects?tlp=purple", kA);
  EXPECT_EQ(bad_tlp.status, 400);
  EXPECT_EQ(bad_tlp.Json().at("error").at("field").as_string(), "tlp");
  EXPECT_EQ(Call("GET", "/api/v1/objects?modified_since=yesterday", kA).status, 400);
}

TEST_F(ObjectsApiTest, RevokeMakesANewRevokedVersionOnlyForTheCreator) {
  ASSERT_EQ(Post(kA, Indicator(1, kOrgA, Marking(kTlpGreen))).status, 200);
  EXPECT_EQ(Call("POST", "/api/v1/objects/" + IndicatorId(1) + "/revoke", kB).status, 403);
  Reply r = Call("POST", "/api/v1/objects/" + IndicatorId(1) + "/revoke", kA);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json().at("revoked").as_bool(), true);
  EXPECT_EQ(Call("POST", "/api/v1/objects/" + IndicatorId(1) + "/revoke", kA).status, 409);
  Reply versions = Call("GET", "/api/v1/objects/" + IndicatorId(1) + "/versions", kB);
  ASSERT_EQ(versions.status, 200);
  EXPECT_EQ(versions.Json().at("versions").as_array().size(), 2u);
  Reply old = Call("GET", "/api/v1/objects/" + IndicatorId(1) + "?version=2024-01-01T00:00:00.000Z", kA);
  ASSERT_EQ(old.status, 200);
  EXPECT_FALSE(old.Json().as_object().contains("revoked"));
  EXPECT_EQ(ListIds(kA, "&revoked=true"), (std::set<std::string>{IndicatorId(1)}));
}

}  // namespace
}  // namespace concord::api
