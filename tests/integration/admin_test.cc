// End to end: the administrative REST API of a real `concord serve`. The only key made outside the API is
// the first administrator's, by the real CLI; everything else (organisations, users, keys, sharing groups)
// is made over HTTP, and a sharing group's membership is shown to decide what an organisation sees.
#include <gtest/gtest.h>

#include <filesystem>

#include "boost/json/parse.hpp"
#include "node_process.h"

namespace concord::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kHost[] = "CERT-Host";
constexpr char kPolicyExt[] = "extension-definition--316340be-3f50-4d51-bfe5-65daffa13801";
constexpr char kTlpAmber[] = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
constexpr char kTlpRed[] = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string GroupIndicator(int n, const std::string& creator, const std::string& group, const char* marking) {
  return R"({"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-00000000010)" +
         std::to_string(n) + R"(","created_by_ref":")" + creator +
         R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.)" +
         std::to_string(n) + R"(']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","object_marking_refs":[")" +
         marking + R"("],"extensions":{")" + kPolicyExt +
         R"(":{"extension_type":"property-extension","distribution":4,"sharing_group_ref":")" + group + R"("}}})";
}
std::string GroupIndicatorId(int n) { return "indicator--00000000-0000-4000-8000-00000000010" + std::to_string(n); }

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("concord_admin_e2e_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "concord.db").string();
    node_ = std::make_unique<NodeProcess>(std::vector<std::string>{
        "serve", "--db", db_, "--listen", "127.0.0.1:0", "--insecure-http", "--name", kHost});
    ASSERT_NE(node_->port(), 0) << node_->output();
    auto [code, out] = RunConcord({"user", "add", "--db", db_, "root", "--org", kHost, "--role", "admin"});
    ASSERT_EQ(code, 0);
    admin_ = Trim(out);
    ASSERT_TRUE(admin_.starts_with("concord_")) << admin_;
  }
  void TearDown() override {
    if (node_) {
      EXPECT_EQ(node_->Terminate(), 0);
    }
    node_.reset();
    fs::remove_all(dir_);
  }

  struct Result {
    int status = 0;
    boost::json::value json;
    std::string body;
  };
  Result Call(const std::string& method, const std::string& target, const std::string& key, const std::string& body = "") {
    auto r = Request(node_->port(), method, target, key, body);
    Result out;
    if (!r) return out;
    out.status = r->status;
    out.body = r->body;
    boost::system::error_code ec;
    out.json = boost::json::parse(r->body, ec);
    return out;
  }
  // Creates an organisation over REST; its identity id.
  std::string Org(const std::string& name) {
    Result r = Call("POST", "/api/v1/organisations", admin_, R"({"name":")" + name + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? std::string(r.json.at("id").as_string()) : "";
  }
  // Creates a user and a key over REST as `by`; the token.
  std::string UserKey(const std::string& by, const std::string& name, const std::string& org, const std::string& role) {
    Result u = Call("POST", "/api/v1/users", by, R"({"name":")" + name + R"(","org":")" + org + R"(","role":")" + role + R"("})");
    EXPECT_EQ(u.status, 201) << u.body;
    Result k = Call("POST", "/api/v1/users/" + name + "/keys", by);
    EXPECT_EQ(k.status, 201) << k.body;
    return k.status == 201 ? std::string(k.json.at("token").as_string()) : "";
  }

  fs::path dir_;
  std::string db_;
  std::string admin_;
  std::unique_ptr<NodeProcess> node_;
};

TEST_F(AdminTest, AdminBuildsTheDirectoryOverRest) {
  const std::string org = Org("Partner CSIRT");
  ASSERT_TRUE(org.starts_with("identity--"));
  const std::string boss = UserKey(admin_, "pat", "Partner CSIRT", "org-admin");
  ASSERT_TRUE(boss.starts_with("concord_"));

  // The key made over REST authenticates, as that user of that organisation.
  Result self = Call("GET", "/api/v1/users/pat", boss);
  ASSERT_EQ(self.status, 200) << self.body;
  EXPECT_EQ(self.json.at("org_id").as_string(), org);
  EXPECT_EQ(self.json.at("role").as_string(), "org-admin");

  Result orgs = Call("GET", "/api/v1/organisations", boss);
  ASSERT_EQ(orgs.status, 200);
  EXPECT_EQ(orgs.json.at("organisations").as_array().size(), 2u);
  Result keys = Call("GET", "/api/v1/users/pat/keys", admin_);
  ASSERT_EQ(keys.status, 200);
  ASSERT_EQ(keys.json.at("keys").as_array().size(), 1u);
  EXPECT_EQ(keys.body.find(boss.substr(25)), std::string::npos);  // the secret is never listed

  // Revoked over REST: refused at once by the serving process.
  const std::string key_id(keys.json.at("keys").at(0).at("key_id").as_string());
  EXPECT_EQ(Call("DELETE", "/api/v1/users/pat/keys/" + key_id, admin_).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/users/pat", boss).status, 401);

  // The CLI sees what REST made: one store.
  auto [code, out] = RunConcord({"user", "list", "--db", db_, "--json"});
  ASSERT_EQ(code, 0);
  EXPECT_NE(out.find("\"pat\""), std::string::npos) << out;
}

TEST_F(AdminTest, OrgAdminAndAnalystLimits) {
  Org("Blue CERT");
  Org("Red CERT");
  const std::string blue_admin = UserKey(admin_, "bea", "Blue CERT", "org-admin");
  const std::string red_analyst = UserKey(admin_, "rex", "Red CERT", "analyst");

  // An org-admin makes users and keys in its own organisation…
  const std::string blue_analyst = UserKey(blue_admin, "ben", "Blue CERT", "analyst");
  ASSERT_TRUE(blue_analyst.starts_with("concord_"));
  EXPECT_EQ(Call("PATCH", "/api/v1/users/ben", blue_admin, R"({"role":"read-only"})").status, 200);
  // …and nowhere else, and never an admin.
  EXPECT_EQ(Call("POST", "/api/v1/users", blue_admin, R"({"name":"x","org":"Red CERT","role":"analyst"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/users", blue_admin, R"({"name":"y","role":"admin"})").status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/users/rex", blue_admin).status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/users/rex/keys", blue_admin).status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/organisations", blue_admin, R"({"name":"Z"})").status, 403);
  Result listed = Call("GET", "/api/v1/users", blue_admin);
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.json.at("users").as_array().size(), 2u);  // bea, ben

  // An analyst changes nothing.
  EXPECT_EQ(Call("POST", "/api/v1/users", red_analyst, R"({"name":"z","role":"analyst"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/organisations", red_analyst, R"({"name":"Z"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/sharing-groups", red_analyst, R"({"name":"G"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/communities", red_analyst, R"({"name":"eu-nato"})").status, 403);
  EXPECT_EQ(Call("PATCH", "/api/v1/users/rex", red_analyst, R"({"role":"admin"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/users/rex/keys", red_analyst).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/users/rex/keys", red_analyst).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/users", "").status, 401);
}

TEST_F(AdminTest, SharingGroupMembershipDecidesVisibilityFromThenOn) {
  const std::string blue = Org("Blue CERT");
  Org("Red CERT");
  const std::string blue_analyst = UserKey(admin_, "ben", "Blue CERT", "analyst");
  const std::string red_analyst = UserKey(admin_, "rex", "Red CERT", "analyst");
  Result group = Call("POST", "/api/v1/sharing-groups", admin_,
                      R"({"name":"Botnet takedown","owner_org":"Blue CERT","description":"operation"})");
  ASSERT_EQ(group.status, 201) << group.body;
  const std::string id(group.json.at("id").as_string());

  // The analyst of a member organisation finds the group, then posts objects distributed to it.
  EXPECT_EQ(Call("GET", "/api/v1/sharing-groups/Botnet%20takedown", blue_analyst).status, 200);
  Result posted = Call("POST", "/api/v1/objects", blue_analyst,
                       "[" + GroupIndicator(1, blue, id, kTlpAmber) + "," + GroupIndicator(2, blue, id, kTlpRed) + "]");
  ASSERT_EQ(posted.status, 200) << posted.body;
  ASSERT_EQ(posted.json.at("totals").at("new").as_int64(), 2) << posted.body;

  auto status = [&](int n) { return Call("GET", "/api/v1/objects/" + GroupIndicatorId(n), red_analyst).status; };
  auto listed = [&] {
    Result r = Call("GET", "/api/v1/objects?type=indicator", red_analyst);
    return r.status == 200 ? r.json.at("objects").as_array().size() : size_t{999};
  };
  EXPECT_EQ(status(1), 404);
  EXPECT_EQ(status(2), 404);
  EXPECT_EQ(listed(), 0u);
  EXPECT_EQ(Call("GET", "/api/v1/sharing-groups/" + id, red_analyst).status, 404);

  ASSERT_EQ(Call("PUT", "/api/v1/sharing-groups/" + id + "/members/Red%20CERT", admin_).status, 200);
  EXPECT_EQ(status(1), 200);  // stored before Red joined, visible once it has
  EXPECT_EQ(status(2), 200);
  EXPECT_EQ(listed(), 2u);
  EXPECT_EQ(Call("GET", "/api/v1/sharing-groups/" + id, red_analyst).status, 200);

  ASSERT_EQ(Call("DELETE", "/api/v1/sharing-groups/" + id + "/members/Red%20CERT", admin_).status, 200);
  EXPECT_EQ(status(1), 404);
  EXPECT_EQ(status(2), 404);
  EXPECT_EQ(listed(), 0u);
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + GroupIndicatorId(2), blue_analyst).status, 200);
}

}  // namespace
}  // namespace concord::testing
