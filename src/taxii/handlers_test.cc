// The TAXII 2.1 handlers in process: a real SQLite store, a fake authenticator, requests through the router.
#include "taxii/handlers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "boost/json/parse.hpp"
#include "common/status.h"
#include "fmt/format.h"
#include "taxii/media.h"

namespace concord::taxii {
namespace {

namespace fs = std::filesystem;

constexpr char kOrgA[] = "identity--0a0a0a0a-0000-4000-8000-000000000001";
constexpr char kOrgB[] = "identity--0b0b0b0b-0000-4000-8000-000000000002";
constexpr char kRed[] = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
constexpr char kAmber[] = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
constexpr char kGreen[] = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
constexpr char kMalwareId[] = "malware--00000000-0000-4000-8000-0000000000aa";

std::string Marked(const char* marking) { return fmt::format(R"(,"object_marking_refs":["{}"])", marking); }

std::string Malware(std::string_view creator) {
  return fmt::format(R"({{"type":"malware","spec_version":"2.1","id":"{}","created_by_ref":"{}",)"
                     R"("created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"Emotet","is_family":true}})",
                     kMalwareId, creator);
}

std::string IndicatorId(int n) { return fmt::format("indicator--00000000-0000-4000-8000-{:012}", n); }

std::string Indicator(int n, std::string_view creator, std::string_view modified = "2024-01-01T00:00:00.000Z",
                      std::string_view extra = "") {
  return fmt::format(
      R"({{"type":"indicator","spec_version":"2.1","id":"{}","created_by_ref":"{}","created":"2024-01-01T00:00:00.000Z",)"
      R"("modified":"{}","pattern":"[ipv4-addr:value = '203.0.113.{}']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"{}}})",
      IndicatorId(n), creator, modified, n % 250, extra);
}

std::string Envelope(const std::vector<std::string>& objects) {
  std::string out = R"({"objects":[)";
  for (size_t i = 0; i < objects.size(); ++i) out += (i ? "," : "") + objects[i];
  return out + "]}";
}

class HandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("concord_taxii_handlers_{}_{}", ::getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto store = store::OpenStore((dir_ / "concord.db").string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    callers_["alice"] = api::Caller{.user = "alice", .org_id = kOrgA, .role = "analyst"};
    callers_["rita"] = api::Caller{.user = "rita", .org_id = kOrgA, .role = "analyst", .read_only = true};
    callers_["ron"] = api::Caller{.user = "ron", .org_id = kOrgA, .role = "read-only"};
    callers_["bob"] = api::Caller{.user = "bob", .org_id = kOrgB, .role = "analyst"};
    api_.store = store_.get();
    api_.defaults = policy::NodeDefaults{.host_org = kOrgA};
    api_.authenticate = [this](http::Request& r) -> absl::StatusOr<api::Caller> {
      auto auth = r.headers.Get("Authorization");
      if (!auth || !auth->starts_with("Bearer ")) return absl::UnauthenticatedError("missing API key");
      auto it = callers_.find(std::string(auth->substr(7)));
      if (it == callers_.end()) return absl::UnauthenticatedError("invalid API key");
      return it->second;
    };
    auto statuses = OpenStatusLog((dir_ / "concord.db").string());
    ASSERT_TRUE(statuses.ok()) << statuses.status();
    statuses_ = std::move(*statuses);
    ctx_ = std::make_unique<TaxiiContext>();
    ctx_->api = &api_;
    ctx_->statuses = statuses_.get();
    ctx_->root_title = "CERT-Test";
    ctx_->cursor_key = RandomCursorKey();
    ctx_->filter.default_limit = 100;
    ctx_->collections = {DefaultCollection(), GreenIndicators(), Inbox()};
    ASSERT_TRUE(AddRoutes(router_, *ctx_).ok());
  }
  void TearDown() override {
    ctx_.reset();
    statuses_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  http::Response Send(const std::string& method, const std::string& target, const std::string& user,
                      const std::string& body = "", std::map<std::string, std::string> headers = {}) {
    http::Request req;
    req.method = method;
    req.target = target;
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    req.query = http::QueryParams::Parse(q == std::string::npos ? "" : target.substr(q + 1));
    if (!user.empty()) req.headers.Set("Authorization", "Bearer " + user);
    req.headers.Set("Host", "node.example:8443");
    if (!headers.count("Accept")) req.headers.Set("Accept", std::string(kTaxiiMediaType));
    if (method == "POST" && !headers.count("Content-Type")) req.headers.Set("Content-Type", std::string(kTaxiiMediaType));
    for (auto& [k, v] : headers) req.headers.Set(k, v);
    req.body = body;
    auto m = router_.Find(method, req.path);
    if (m.handler == nullptr) return router_.RenderError(req.path, m.error);
    for (auto& [k, v] : m.params) req.path_params[k] = v;
    req.route = m.route;
    auto r = (*m.handler)(req);
    if (r.ok()) r = http::AwaitGate(std::move(*r));  // as the server would: after the audit commit
    return r.ok() ? *std::move(r) : router_.RenderError(req.path, r.status());
  }
  boost::json::object Json(const http::Response& r) { return boost::json::parse(r.body).as_object(); }
  std::string CollectionUrl() const { return fmt::format("/taxii2/concord/collections/{}/", kDefaultCollectionId); }
  std::string Objects() const { return CollectionUrl() + "objects/"; }

  // Indicators up to TLP:GREEN, readable by organisation A only, written by analysts.
  static Collection GreenIndicators() {
    Collection c;
    c.id = "6a1e4c3b-1c1d-4f00-9a6e-000000000001";
    c.alias = "indicators-green";
    c.title = "Green indicators";
    c.read = {.orgs = {kOrgA}};
    c.write = {.orgs = {kOrgA}};
    c.selection = {.types = {"indicator"}, .max_tlp = stix::Tlp::kGreen};
    return c;
  }
  // Written by everyone, read by nobody.
  static Collection Inbox() {
    Collection c;
    c.id = "6a1e4c3b-1c1d-4f00-9a6e-000000000002";
    c.alias = "inbox";
    c.title = "Inbox";
    c.write = {.roles = {"*"}};
    return c;
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<StatusLog> statuses_;
  std::map<std::string, api::Caller> callers_;
  api::ApiContext api_;
  std::unique_ptr<TaxiiContext> ctx_;
  http::Router router_;
};

TEST_F(HandlersTest, DiscoveryNeedsAKeyAndNamesTheApiRoot) {
  http::Response anonymous = Send("GET", "/taxii2/", "");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.headers.Get("Content-Type"), kTaxiiMediaType);
  EXPECT_EQ(Json(anonymous).at("http_status").as_string(), "401");

  http::Response d = Send("GET", "/taxii2/", "alice");
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.body, R"({"title":"Concord TAXII 2.1","default":"https://node.example:8443/taxii2/concord/",)"
                    R"("api_roots":["https://node.example:8443/taxii2/concord/"]})");
  http::Response root = Send("GET", "/taxii2/concord/", "alice");
  ASSERT_EQ(root.status, 200);
  EXPECT_EQ(root.body, R"({"title":"CERT-Test","versions":["application/taxii+json;version=2.1"],"max_content_length":67108864})");
  EXPECT_EQ(Send("GET", "/taxii2/other/", "alice").status, 404);
}

TEST_F(HandlersTest, CollectionsShowTheCallersRights) {
  auto analyst = Json(Send("GET", "/taxii2/concord/collections/", "alice"));
  const auto& c = analyst.at("collections").as_array().at(0).as_object();
  EXPECT_EQ(c.at("id").as_string(), kDefaultCollectionId);
  EXPECT_EQ(c.at("alias").as_string(), "all");
  EXPECT_TRUE(c.at("can_read").as_bool());
  EXPECT_TRUE(c.at("can_write").as_bool());
  for (const char* user : {"rita", "ron"}) {
    auto reader = Json(Send("GET", CollectionUrl(), user));
    EXPECT_TRUE(reader.at("can_read").as_bool()) << user;
    EXPECT_FALSE(reader.at("can_write").as_bool()) << user;
  }
  EXPECT_EQ(Send("GET", "/taxii2/concord/collections/all/", "alice").status, 200);
  EXPECT_EQ(Send("GET", "/taxii2/concord/collections/5b32153d-0000-4c36-a208-1fabb9c60b8a/", "alice").status, 404);
}

TEST_F(HandlersTest, NegotiationFailuresAreTaxiiErrors) {
  http::Response na = Send("GET", Objects(), "alice", "", {{"Accept", "application/json"}});
  EXPECT_EQ(na.status, 406);
  EXPECT_EQ(Json(na).at("http_status").as_string(), "406");
  http::Response ct = Send("POST", Objects(), "alice", Envelope({Indicator(1, kOrgA)}), {{"Content-Type", "application/json"}});
  EXPECT_EQ(ct.status, 415);
  http::Response bad = Send("GET", Objects() + "?limit=0", "alice");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Json(bad).at("details").at("field").as_string(), "limit");
}

TEST_F(HandlersTest, PostAnswersACompleteStatusVisibleToThePostingOrganisationOnly) {
  http::Response posted =
      Send("POST", Objects(), "alice", Envelope({Indicator(1, kOrgA), Indicator(2, kOrgB), R"({"type":"indicator"})"}));
  ASSERT_EQ(posted.status, 202) << posted.body;
  auto status = Json(posted);
  EXPECT_EQ(status.at("status").as_string(), "complete");
  EXPECT_EQ(status.at("total_count").as_int64(), 3);
  EXPECT_EQ(status.at("success_count").as_int64(), 1);
  EXPECT_EQ(status.at("failure_count").as_int64(), 2);
  const auto& ok = status.at("successes").as_array().at(0).as_object();
  EXPECT_EQ(ok.at("id").as_string(), IndicatorId(1));
  EXPECT_EQ(ok.at("version").as_string(), "2024-01-01T00:00:00.000Z");
  const auto& refused = status.at("failures").as_array().at(0).as_object();
  EXPECT_EQ(refused.at("id").as_string(), IndicatorId(2));
  EXPECT_NE(std::string(refused.at("message").as_string()).find("created_by_ref"), std::string::npos) << refused;

  const std::string url = fmt::format("/taxii2/concord/status/{}/", std::string(status.at("id").as_string()));
  http::Response again = Send("GET", url, "alice");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body, posted.body);
  EXPECT_EQ(Send("GET", url, "bob").status, 404);

  EXPECT_EQ(Send("POST", Objects(), "rita", Envelope({Indicator(3, kOrgA)})).status, 403);
  EXPECT_EQ(Send("POST", Objects(), "ron", Envelope({Indicator(3, kOrgA)})).status, 403);
  EXPECT_EQ(Send("POST", Objects(), "alice", R"({"objects":[]})").status, 400);
}

TEST_F(HandlersTest, RedObjectsOfAnotherOrganisationAreAbsent) {
  const std::string red = fmt::format(R"(,"object_marking_refs":["{}"])", kRed);
  ASSERT_EQ(Send("POST", Objects(), "alice", Envelope({Indicator(1, kOrgA, "2024-01-01T00:00:00.000Z", red), Indicator(2, kOrgA)})).status,
            202);
  auto mine = Json(Send("GET", Objects(), "alice"));
  EXPECT_EQ(mine.at("objects").as_array().size(), 2u);
  auto theirs = Json(Send("GET", Objects(), "bob"));
  ASSERT_EQ(theirs.at("objects").as_array().size(), 1u);
  EXPECT_EQ(theirs.at("objects").as_array().at(0).at("id").as_string(), IndicatorId(2));
  auto manifest = Json(Send("GET", CollectionUrl() + "manifest/", "bob"));
  EXPECT_EQ(manifest.at("objects").as_array().size(), 1u);
  const std::string one = Objects() + IndicatorId(1) + "/";
  EXPECT_EQ(Send("GET", one, "alice").status, 200);
  http::Response hidden = Send("GET", one, "bob");
  http::Response unknown = Send("GET", Objects() + IndicatorId(99) + "/", "bob");
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(Send("GET", one + "versions/", "bob").status, 404);
  // Hidden and unknown answer alike, apart from the id they name.
  EXPECT_EQ(hidden.body.replace(hidden.body.find(IndicatorId(1)), IndicatorId(1).size(), IndicatorId(99)), unknown.body);
}

TEST_F(HandlersTest, PagesFollowTheCursorAndTheCursorBindsToItsQuery) {
  std::vector<std::string> objects;
  for (int n = 1; n <= 7; ++n) objects.push_back(Indicator(n, kOrgA));
  ASSERT_EQ(Send("POST", Objects(), "alice", Envelope(objects)).status, 202);
  std::set<std::string> seen;
  std::string next;
  int pages = 0;
  do {
    http::Response r = Send("GET", Objects() + "?match[type]=indicator&limit=3" + (next.empty() ? "" : "&next=" + next), "alice");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.headers.Has("X-TAXII-Date-Added-First"));
    auto page = Json(r);
    for (const auto& o : page.at("objects").as_array()) EXPECT_TRUE(seen.insert(std::string(o.at("id").as_string())).second);
    next = page.at("more").as_bool() ? std::string(page.at("next").as_string()) : "";
    ++pages;
  } while (!next.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(pages, 3);

  auto first = Json(Send("GET", Objects() + "?limit=3", "alice"));
  const std::string cursor(first.at("next").as_string());
  EXPECT_EQ(Send("GET", Objects() + "?limit=3&next=" + cursor, "alice").status, 200);
  EXPECT_EQ(Send("GET", Objects() + "?limit=3&match[type]=malware&next=" + cursor, "alice").status, 400);
  EXPECT_EQ(Send("GET", CollectionUrl() + "manifest/?limit=3&next=" + cursor, "alice").status, 400);
}

TEST_F(HandlersTest, VersionsAndVersionFilters) {
  ASSERT_EQ(Send("POST", Objects(), "alice",
                 Envelope({Indicator(1, kOrgA, "2024-01-01T00:00:00.000Z"), Indicator(1, kOrgA, "2024-02-01T00:00:00.000Z"),
                           Indicator(1, kOrgA, "2024-03-01T00:00:00.000Z")}))
                .status,
            202);
  auto versions = Json(Send("GET", Objects() + IndicatorId(1) + "/versions/", "alice"));
  ASSERT_EQ(versions.at("versions").as_array().size(), 3u);
  EXPECT_EQ(versions.at("versions").as_array().at(0).as_string(), "2024-01-01T00:00:00.000Z");
  auto version_of = [&](const std::string& query) {
    auto page = Json(Send("GET", Objects() + query, "alice"));
    std::vector<std::string> out;
    for (const auto& o : page.at("objects").as_array()) out.emplace_back(o.at("modified").as_string());
    return out;
  };
  EXPECT_EQ(version_of(""), std::vector<std::string>{"2024-03-01T00:00:00.000Z"});
  EXPECT_EQ(version_of("?match[version]=first"), std::vector<std::string>{"2024-01-01T00:00:00.000Z"});
  EXPECT_EQ(version_of("?match[version]=all").size(), 3u);
  EXPECT_EQ(version_of("?match[version]=2024-02-01T00:00:00.000Z"), std::vector<std::string>{"2024-02-01T00:00:00.000Z"});
}

TEST_F(HandlersTest, DeleteRevokesAndOnlyTheCreatorMay) {
  ASSERT_EQ(Send("POST", Objects(), "alice", Envelope({Indicator(1, kOrgA)})).status, 202);
  const std::string one = Objects() + IndicatorId(1) + "/";
  EXPECT_EQ(Send("DELETE", one, "bob").status, 403);   // visible (community), not the creator
  EXPECT_EQ(Send("DELETE", one, "rita").status, 403);  // read-only key
  EXPECT_EQ(Send("DELETE", one + "?match[version]=first", "alice").status, 400);
  EXPECT_EQ(Send("DELETE", Objects() + IndicatorId(2) + "/", "alice").status, 404);
  http::Response deleted = Send("DELETE", one, "alice");
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(Send("DELETE", one, "alice").status, 200);  // idempotent
  auto versions = Json(Send("GET", one + "versions/", "alice"));
  EXPECT_EQ(versions.at("versions").as_array().size(), 2u);  // nothing lost
  auto current = Json(Send("GET", one, "alice"));
  EXPECT_TRUE(current.at("objects").as_array().at(0).at("revoked").as_bool());
}

TEST_F(HandlersTest, ACollectionShowsItsSelectionOnEveryReadPath) {
  const std::string t0 = "2024-01-01T00:00:00.000Z";
  ASSERT_EQ(Send("POST", Objects(), "alice",
                 Envelope({Indicator(1, kOrgA), Indicator(2, kOrgA, t0, Marked(kGreen)), Indicator(3, kOrgA, t0, Marked(kAmber)),
                           Malware(kOrgA)}))
                .status,
            202);
  const std::string green = "/taxii2/concord/collections/indicators-green/";
  auto ids = [&](const http::Response& r) {
    std::vector<std::string> out;
    auto body = Json(r);
    if (body.contains("objects")) {
      for (const auto& o : body.at("objects").as_array()) out.emplace_back(o.at("id").as_string());
    }
    return out;
  };
  // Unmarked and GREEN indicators; not the AMBER one, not the malware.
  EXPECT_EQ(ids(Send("GET", green + "objects/", "alice")), (std::vector<std::string>{IndicatorId(1), IndicatorId(2)}));
  EXPECT_EQ(ids(Send("GET", green + "manifest/", "alice")), (std::vector<std::string>{IndicatorId(1), IndicatorId(2)}));
  EXPECT_EQ(ids(Send("GET", green + "objects/?match[type]=malware", "alice")), std::vector<std::string>{});
  EXPECT_EQ(ids(Send("GET", green + "objects/" + IndicatorId(2) + "/", "alice")), std::vector<std::string>{IndicatorId(2)});
  EXPECT_EQ(Json(Send("GET", green + "objects/" + IndicatorId(2) + "/versions/", "alice")).at("versions").as_array().size(), 1u);
  // Outside the selection by id: 404, the same answer as an unknown id.
  http::Response amber = Send("GET", green + "objects/" + IndicatorId(3) + "/", "alice");
  http::Response unknown = Send("GET", green + "objects/" + IndicatorId(99) + "/", "alice");
  EXPECT_EQ(amber.status, 404);
  EXPECT_EQ(amber.body.replace(amber.body.find(IndicatorId(3)), IndicatorId(3).size(), IndicatorId(99)), unknown.body);
  EXPECT_EQ(Send("GET", green + "objects/" + IndicatorId(3) + "/versions/", "alice").status, 404);
  EXPECT_EQ(Send("GET", green + "objects/" + std::string(kMalwareId) + "/", "alice").status, 404);
  EXPECT_EQ(Send("DELETE", green + "objects/" + IndicatorId(3) + "/", "alice").status, 404);
  // The default collection still has everything.
  EXPECT_EQ(ids(Send("GET", Objects(), "alice")).size(), 4u);
  // Organisation B holds no right on it: the collection does not exist for B.
  EXPECT_EQ(Send("GET", green + "objects/", "bob").status, 404);
  EXPECT_EQ(Send("GET", green, "bob").status, 404);
  EXPECT_EQ(Json(Send("GET", "/taxii2/concord/collections/", "bob")).at("collections").as_array().size(), 2u);
}

TEST_F(HandlersTest, WritesOutsideTheSelectionFailPerItem) {
  const std::string t0 = "2024-01-01T00:00:00.000Z";
  const std::string green = "/taxii2/concord/collections/indicators-green/";
  http::Response posted = Send("POST", green + "objects/", "alice",
                               Envelope({Indicator(1, kOrgA, t0, Marked(kAmber)), Indicator(2, kOrgA, t0, Marked(kGreen)), Malware(kOrgA)}));
  ASSERT_EQ(posted.status, 202) << posted.body;
  auto status = Json(posted);
  EXPECT_EQ(status.at("success_count").as_int64(), 1);
  EXPECT_EQ(status.at("successes").as_array().at(0).at("id").as_string(), IndicatorId(2));
  const auto& failures = status.at("failures").as_array();
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures.at(0).at("id").as_string(), IndicatorId(1));
  EXPECT_EQ(failures.at(0).at("message").as_string(),
            "rejected: object_marking_refs: TLP:amber is above this collection's maximum, TLP:green");
  EXPECT_EQ(failures.at(1).at("id").as_string(), kMalwareId);
  EXPECT_EQ(failures.at(1).at("message").as_string(), "rejected: type: 'malware' is not in this collection (it holds indicator)");
  EXPECT_EQ(Send("GET", Objects() + IndicatorId(1) + "/", "alice").status, 404);  // nothing of it was stored
  EXPECT_EQ(Send("DELETE", green + "objects/" + IndicatorId(2) + "/", "alice").status, 200);

  // The inbox: everybody writes, nobody reads.
  const std::string inbox = "/taxii2/concord/collections/inbox/";
  EXPECT_EQ(Send("POST", inbox + "objects/", "bob", Envelope({Indicator(5, kOrgB)})).status, 202);
  EXPECT_EQ(Send("GET", inbox + "objects/", "bob").status, 403);
  EXPECT_EQ(Send("GET", inbox + "manifest/", "alice").status, 403);
  EXPECT_EQ(Send("GET", inbox + "objects/" + IndicatorId(5) + "/", "bob").status, 403);
  auto described = Json(Send("GET", inbox, "bob"));
  EXPECT_FALSE(described.at("can_read").as_bool());
  EXPECT_TRUE(described.at("can_write").as_bool());
}

TEST_F(HandlersTest, PagingCountsShownObjectsAndResumesAfterTheLastScanned) {
  const std::string t0 = "2024-01-01T00:00:00.000Z";
  std::vector<std::string> objects;
  for (int n = 1; n <= 4; ++n) objects.push_back(Indicator(n, kOrgA, t0, Marked(kAmber)));  // outside
  objects.push_back(Indicator(5, kOrgA, t0, Marked(kGreen)));
  for (int n = 6; n <= 8; ++n) objects.push_back(Indicator(n, kOrgA, t0, Marked(kAmber)));  // outside
  objects.push_back(Indicator(9, kOrgA));
  objects.push_back(Indicator(10, kOrgA));
  ASSERT_EQ(Send("POST", Objects(), "alice", Envelope(objects)).status, 202);
  const std::string green = "/taxii2/concord/collections/indicators-green/objects/";
  // Two shown objects per page, whatever was skipped to find them.
  auto first = Json(Send("GET", green + "?limit=2", "alice"));
  ASSERT_EQ(first.at("objects").as_array().size(), 2u);
  EXPECT_EQ(first.at("objects").as_array().at(0).at("id").as_string(), IndicatorId(5));
  EXPECT_EQ(first.at("objects").as_array().at(1).at("id").as_string(), IndicatorId(9));
  ASSERT_TRUE(first.at("more").as_bool());
  auto second = Json(Send("GET", green + "?limit=2&next=" + std::string(first.at("next").as_string()), "alice"));
  ASSERT_EQ(second.at("objects").as_array().size(), 1u);
  EXPECT_EQ(second.at("objects").as_array().at(0).at("id").as_string(), IndicatorId(10));
  EXPECT_FALSE(second.at("more").as_bool());

  // With a scan bound of 2 versions per page, pages may be empty but `more`; the sweep still returns each
  // shown object once.
  ctx_->max_scanned = 2;
  std::vector<std::string> seen;
  std::vector<size_t> sizes;
  std::string next;
  for (int pages = 0; pages < 20; ++pages) {
    auto page = Json(Send("GET", green + "?limit=1" + (next.empty() ? "" : "&next=" + next), "alice"));
    size_t n = 0;
    if (page.contains("objects")) {
      for (const auto& o : page.at("objects").as_array()) {
        seen.emplace_back(o.at("id").as_string());
        ++n;
      }
    }
    sizes.push_back(n);
    if (!page.at("more").as_bool()) break;
    next = std::string(page.at("next").as_string());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{IndicatorId(5), IndicatorId(9), IndicatorId(10)}));
  // Scans: [1,2] → nothing; [3,4] → nothing; [5] → 5; [6,7] → nothing; [8,9] → 9; [10] → 10, last.
  EXPECT_EQ(sizes, (std::vector<size_t>{0, 0, 1, 0, 1, 1}));
}

TEST_F(HandlersTest, StatusesOutliveTheContextThatPostedThem) {
  http::Response posted = Send("POST", Objects(), "alice", Envelope({Indicator(1, kOrgA)}));
  ASSERT_EQ(posted.status, 202);
  const std::string url = fmt::format("/taxii2/concord/status/{}/", std::string(Json(posted).at("id").as_string()));
  // Another status log on the same database: what a second process or a restarted node would open.
  auto other = OpenStatusLog((dir_ / "concord.db").string());
  ASSERT_TRUE(other.ok()) << other.status();
  ctx_->statuses = other->get();
  http::Response again = Send("GET", url, "alice");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, posted.body);
  EXPECT_EQ(Send("GET", url, "bob").status, 404);
  ctx_->statuses = statuses_.get();
}


TEST(TaxiiRoutes, RefuseAnIncompleteContext) {
  http::Router router;
  TaxiiContext ctx;
  EXPECT_EQ(AddRoutes(router, ctx).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace concord::taxii
