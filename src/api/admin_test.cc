// The administrative routes on a real SQLite store and real accounts, called through the router as the
// server would, with real API keys: who may do what, and sharing-group membership driving visibility.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "api/api.h"
#include "audit/audit.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"

namespace concord::api {
namespace {

constexpr char kPolicyExt[] = "extension-definition--316340be-3f50-4d51-bfe5-65daffa13801";
constexpr char kTlpAmber[] = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
constexpr char kTlpRed[] = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

class TestClock final : public Clock {
 public:
  Timestamp Now() const override { return now; }
  Timestamp now = ParseRfc3339("2025-06-01T12:00:00.000Z").value();
};

struct Reply {
  int status;
  std::string body;
  boost::json::value Json() const { return boost::json::parse(body); }
  std::string Str(std::string_view key) const { return std::string(Json().at(key).as_string()); }
};

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("concord_admin_{}_{}.db", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Remove();
    auto s = store::OpenStore(path_.string());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    accounts_ = OpenAccounts();
    ASSERT_NE(accounts_, nullptr);
    groups_ = std::make_unique<SharingGroupSnapshot>(*accounts_, clock_, 2'000);
    ctx_.store = store_.get();
    ctx_.accounts = accounts_.get();
    ctx_.clock = &clock_;
    ctx_.sharing_groups = [this] { return groups_->Get(); };
    ctx_.sharing_groups_changed = [this] { groups_->Invalidate(); };
    ctx_.authenticate = [this](http::Request& r) -> absl::StatusOr<Caller> {
      auto header = r.headers.Get("Authorization");
      if (!header) return absl::UnauthenticatedError("missing API key");
      CONCORD_ASSIGN_OR_RETURN(store::Principal p, accounts_->AuthenticateHeader(*header, "127.0.0.1"));
      return Caller{.user = p.user.name, .org_id = p.org.id, .role = std::string(store::RoleName(p.role)),
                    .read_only = p.read_only, .key_id = p.key_id};
    };
    ASSERT_TRUE(AddObjectRoutes(router_, ctx_).ok());
    ASSERT_TRUE(AddAdminRoutes(router_, ctx_).ok());

    org_a_ = accounts_->CreateOrganisation("CERT-A", store::OrgKind::kLocal).value().id;
    org_b_ = accounts_->CreateOrganisation("CERT-B", store::OrgKind::kLocal).value().id;
    admin_ = Key("root", "CERT-A", store::Role::kAdmin);
    orgadmin_a_ = Key("olga", "CERT-A", store::Role::kOrgAdmin);
    analyst_a_ = Key("alice", "CERT-A", store::Role::kAnalyst);
    analyst_b_ = Key("bob", "CERT-B", store::Role::kAnalyst);
  }
  void TearDown() override {
    groups_.reset();
    accounts_.reset();
    store_.reset();
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
  std::unique_ptr<store::Accounts> OpenAccounts() {
    store::OpenOptions options;
    options.clock = &clock_;
    auto a = store::OpenAccounts(path_.string(), options);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *std::move(a) : nullptr;
  }
  std::string Key(const std::string& user, const std::string& org, store::Role role, bool read_only = false) {
    auto u = accounts_->CreateUser(user, org, role);
    EXPECT_TRUE(u.ok()) << u.status();
    return accounts_->IssueKey(user, {.read_only = read_only}).value().token;
  }

  Reply Call(const std::string& method, const std::string& target, const std::string& key, std::string body = "") {
    http::Request req;
    req.method = method;
    req.target = target;
    req.remote_address = "192.0.2.7:40000";
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = http::QueryParams::Parse(target.substr(q + 1));
    if (!key.empty()) req.headers.Set("Authorization", "Bearer " + key);
    req.body = std::move(body);
    auto match = router_.Find(method, req.path);
    if (match.handler == nullptr) {
      auto r = router_.RenderError(req.path, match.error);
      return {r.status, r.body};
    }
    req.route = match.route;
    for (auto& [k, v] : match.params) req.path_params[k] = v;
    auto r = (*match.handler)(req);
    if (!r.ok()) {
      auto e = router_.RenderError(req.path, r.status());
      return {e.status, e.body};
    }
    return {r->status, r->body};
  }

  std::string Indicator(int n, const std::string& creator, const std::string& group, const char* marking) {
    return fmt::format(
        R"({{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{:012d}","created_by_ref":"{}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.{}']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","object_marking_refs":["{}"],"extensions":{{"{}":{{"extension_type":"property-extension","distribution":4,"sharing_group_ref":"{}"}}}}}})",
        n, creator, n, marking, kPolicyExt, group);
  }
  static std::string IndicatorId(int n) { return fmt::format("indicator--00000000-0000-4000-8000-{:012d}", n); }

  std::filesystem::path path_;
  TestClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Accounts> accounts_;
  std::unique_ptr<SharingGroupSnapshot> groups_;
  ApiContext ctx_;
  http::Router router_;
  std::string org_a_, org_b_;
  std::string admin_, orgadmin_a_, analyst_a_, analyst_b_;
};

TEST_F(AdminApiTest, EveryRouteNeedsAKey) {
  for (const auto& [method, pattern] : router_.Routes()) {
    std::string target = pattern;
    for (const char* param : {"{org}", "{user}", "{key_id}", "{group}", "{name}", "{id}"}) {
      for (size_t at; (at = target.find(param)) != std::string::npos;) target.replace(at, std::strlen(param), "x");
    }
    EXPECT_EQ(Call(method, target, "", "{}").status, 401) << method << " " << pattern;
  }
}

TEST_F(AdminApiTest, OrganisationsAreCreatedByAdminsAndReadByEveryone) {
  Reply created = Call("POST", "/api/v1/organisations", admin_, R"({"name":"Partner CERT","kind":"remote"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.Str("name"), "Partner CERT");
  EXPECT_EQ(created.Str("kind"), "remote");
  EXPECT_TRUE(created.Str("id").starts_with("identity--"));
  EXPECT_EQ(Call("POST", "/api/v1/organisations", admin_, R"({"name":"partner cert"})").status, 409);
  EXPECT_EQ(Call("POST", "/api/v1/organisations", admin_, R"({"name":"X","kind":"alien"})").status, 400);
  Reply unknown = Call("POST", "/api/v1/organisations", admin_, R"({"name":"X","colour":"red"})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.body, R"({"error":{"code":"INVALID_ARGUMENT","message":"colour: unknown property","field":"colour"}})");
  EXPECT_EQ(Call("POST", "/api/v1/organisations", admin_, "[1]").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/organisations", orgadmin_a_, R"({"name":"Y"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/organisations", analyst_a_, R"({"name":"Y"})").status, 403);

  Reply list = Call("GET", "/api/v1/organisations", analyst_b_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.Json().at("organisations").as_array().size(), 3u);
  Reply one = Call("GET", "/api/v1/organisations/Partner%20CERT", analyst_b_);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.Str("id"), created.Str("id"));
  EXPECT_EQ(Call("GET", "/api/v1/organisations/" + org_b_, analyst_a_).Str("name"), "CERT-B");
  EXPECT_EQ(Call("GET", "/api/v1/organisations/nobody", analyst_a_).status, 404);
}

TEST_F(AdminApiTest, AdminCreatesUserIssuesKeyDisablesAndRevokes) {
  Reply user = Call("POST", "/api/v1/users", admin_, R"({"name":"carol","org":"CERT-B","role":"duty-officer"})");
  ASSERT_EQ(user.status, 201) << user.body;
  EXPECT_EQ(user.Str("org_id"), org_b_);
  EXPECT_EQ(user.Str("role"), "duty-officer");
  const std::string id = user.Str("id");
  EXPECT_EQ(Call("POST", "/api/v1/users", admin_, R"({"name":"carol","org":"CERT-B","role":"analyst"})").status, 409);
  EXPECT_EQ(Call("POST", "/api/v1/users", admin_, R"({"name":"dan","org":"nowhere","role":"analyst"})").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/users", admin_, R"({"name":"dan","role":"wizard"})").status, 400);

  Reply issued = Call("POST", "/api/v1/users/" + id + "/keys", admin_,
                      R"({"expires":"2025-07-01T00:00:00Z","allowed_cidrs":["127.0.0.0/8"],"read_only":true})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  const std::string token = issued.Str("token");
  const auto key = issued.Json().at("key");
  EXPECT_EQ(key.at("status").as_string(), "active");
  EXPECT_EQ(key.at("read_only").as_bool(), true);
  EXPECT_EQ(key.at("allowed_cidrs").at(0).as_string(), "127.0.0.0/8");
  EXPECT_EQ(Call("POST", "/api/v1/users/carol/keys", admin_, R"({"expires":"2020-01-01T00:00:00Z"})").status, 400);

  // The new key works, as carol, and is read-only.
  Reply self = Call("GET", "/api/v1/users/carol", token);
  ASSERT_EQ(self.status, 200) << self.body;
  EXPECT_EQ(self.Str("id"), id);
  EXPECT_EQ(Call("GET", "/api/v1/users", token).Json().at("users").as_array().size(), 1u);

  Reply keys = Call("GET", "/api/v1/users/carol/keys", admin_);
  ASSERT_EQ(keys.status, 200);
  ASSERT_EQ(keys.Json().at("keys").as_array().size(), 1u);
  EXPECT_FALSE(keys.body.find("token") != std::string::npos);  // shown once, at issue

  Reply disabled = Call("PATCH", "/api/v1/users/carol", admin_, R"({"disabled":true})");
  ASSERT_EQ(disabled.status, 200) << disabled.body;
  EXPECT_TRUE(disabled.Json().at("disabled").as_bool());
  EXPECT_EQ(Call("GET", "/api/v1/users/carol", token).status, 401);
  EXPECT_EQ(Call("PATCH", "/api/v1/users/carol", admin_, R"({"disabled":false,"role":"analyst"})").Str("role"), "analyst");
  EXPECT_EQ(Call("GET", "/api/v1/users/carol", token).status, 200);

  const std::string key_id(key.at("key_id").as_string());
  EXPECT_EQ(Call("DELETE", "/api/v1/users/alice/keys/" + key_id, admin_).status, 404);  // not alice's key
  Reply revoked = Call("DELETE", "/api/v1/users/carol/keys/" + key_id, admin_);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(revoked.Str("status"), "revoked");
  EXPECT_EQ(Call("GET", "/api/v1/users/carol", token).status, 401);
}

TEST_F(AdminApiTest, OrgAdminManagesItsOwnOrganisationOnly) {
  Reply made = Call("POST", "/api/v1/users", orgadmin_a_, R"({"name":"anna","role":"analyst"})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.Str("org_id"), org_a_);  // the org-admin's organisation by default
  EXPECT_EQ(Call("POST", "/api/v1/users", orgadmin_a_, R"({"name":"x1","org":"CERT-B","role":"analyst"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/users", orgadmin_a_, R"({"name":"x2","role":"admin"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/users", orgadmin_a_, R"({"name":"x3","role":"sync"})").status, 403);

  // Other organisations' users are not there for it; nor may it act for the admin of its own organisation.
  EXPECT_EQ(Call("GET", "/api/v1/users/bob", orgadmin_a_).status, 404);
  EXPECT_EQ(Call("PATCH", "/api/v1/users/bob", orgadmin_a_, R"({"disabled":true})").status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/users/bob/keys", orgadmin_a_).status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/users/root", orgadmin_a_).status, 200);
  EXPECT_EQ(Call("POST", "/api/v1/users/root/keys", orgadmin_a_).status, 403);
  EXPECT_EQ(Call("PATCH", "/api/v1/users/root", orgadmin_a_, R"({"disabled":true})").status, 403);
  EXPECT_EQ(Call("PATCH", "/api/v1/users/alice", orgadmin_a_, R"({"role":"admin"})").status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/users?org=CERT-B", orgadmin_a_).status, 403);

  Reply list = Call("GET", "/api/v1/users", orgadmin_a_);
  ASSERT_EQ(list.status, 200);
  const boost::json::value users = list.Json();
  for (const auto& u : users.at("users").as_array()) EXPECT_EQ(u.at("org_id").as_string(), org_a_);
  EXPECT_EQ(list.Json().at("users").as_array().size(), 4u);  // alice, anna, olga, root

  Reply key = Call("POST", "/api/v1/users/anna/keys", orgadmin_a_);
  ASSERT_EQ(key.status, 201) << key.body;
  EXPECT_EQ(Call("PATCH", "/api/v1/users/anna", orgadmin_a_, R"({"role":"read-only"})").Str("role"), "read-only");
  Reply own_role = Call("PATCH", "/api/v1/users/olga", orgadmin_a_, R"({"role":"analyst"})");
  EXPECT_EQ(own_role.status, 400);
  EXPECT_EQ(own_role.body, R"({"error":{"code":"FAILED_PRECONDITION","message":"you cannot change your own role"}})");
}

TEST_F(AdminApiTest, AnalystIsRefusedMutationsButSeesAndRevokesOwnKeys) {
  EXPECT_EQ(Call("POST", "/api/v1/users", analyst_a_, R"({"name":"z","role":"analyst"})").status, 403);
  EXPECT_EQ(Call("PATCH", "/api/v1/users/alice", analyst_a_, R"({"role":"admin"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/users/alice/keys", analyst_a_).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/sharing-groups", analyst_a_, R"({"name":"g"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/communities", analyst_a_, R"({"name":"c"})").status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/users/olga", analyst_a_).status, 404);

  Reply users = Call("GET", "/api/v1/users", analyst_a_);
  ASSERT_EQ(users.status, 200);
  ASSERT_EQ(users.Json().at("users").as_array().size(), 1u);
  EXPECT_EQ(users.Json().at("users").at(0).at("name").as_string(), "alice");

  // A read-only key may still revoke its owner's keys (revocation only takes rights away).
  const std::string read_only = accounts_->IssueKey("alice", {.read_only = true}).value().token;
  Reply keys = Call("GET", "/api/v1/users/alice/keys", read_only);
  ASSERT_EQ(keys.status, 200);
  ASSERT_EQ(keys.Json().at("keys").as_array().size(), 2u);
  const std::string writing_key_id = analyst_a_.substr(8, 16);  // concord_<key_id>_<secret>
  EXPECT_EQ(Call("DELETE", "/api/v1/users/alice/keys/" + writing_key_id, read_only).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/users/alice", analyst_a_).status, 401);
  // …but a read-only admin key changes nothing.
  const std::string admin_ro = accounts_->IssueKey("root", {.read_only = true}).value().token;
  EXPECT_EQ(Call("POST", "/api/v1/organisations", admin_ro, R"({"name":"Z"})").status, 403);
}

TEST_F(AdminApiTest, SharingGroupsAreSeenByMembersAndManagedByTheOwner) {
  Reply group = Call("POST", "/api/v1/sharing-groups", orgadmin_a_, R"({"name":"Ransomware task force","description":"RTF"})");
  ASSERT_EQ(group.status, 201) << group.body;
  const std::string id = group.Str("id");
  EXPECT_TRUE(id.starts_with("x-concord-sharing-group--")) << id;
  EXPECT_EQ(group.Str("owner_org"), org_a_);
  ASSERT_EQ(group.Json().at("member_orgs").as_array().size(), 1u);
  EXPECT_EQ(Call("POST", "/api/v1/sharing-groups", orgadmin_a_, R"({"name":"X","owner_org":"CERT-B"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/sharing-groups", admin_, R"({"name":"ransomware TASK force"})").status, 409);
  EXPECT_EQ(Call("POST", "/api/v1/sharing-groups", admin_, R"({"name":"Y","member_orgs":["nobody"]})").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/sharing-groups/Y", admin_).status, 404);  // nothing made

  EXPECT_EQ(Call("GET", "/api/v1/sharing-groups/" + id, analyst_a_).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/sharing-groups/" + id, analyst_b_).status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/sharing-groups", analyst_b_).Json().at("sharing_groups").as_array().size(), 0u);
  EXPECT_EQ(Call("PUT", "/api/v1/sharing-groups/" + id + "/members/CERT-B", analyst_a_).status, 403);
  EXPECT_EQ(Call("PUT", "/api/v1/sharing-groups/" + id + "/members/CERT-B", analyst_b_).status, 404);
  EXPECT_EQ(Call("PUT", "/api/v1/sharing-groups/" + id + "/members/nobody", orgadmin_a_).status, 404);

  Reply joined = Call("PUT", "/api/v1/sharing-groups/" + id + "/members/CERT-B", orgadmin_a_);
  ASSERT_EQ(joined.status, 200) << joined.body;
  EXPECT_EQ(joined.Json().at("member_orgs").as_array().size(), 2u);
  EXPECT_EQ(Call("PUT", "/api/v1/sharing-groups/" + id + "/members/CERT-B", admin_).body, joined.body);  // idempotent
  EXPECT_EQ(Call("GET", "/api/v1/sharing-groups", analyst_b_).Json().at("sharing_groups").as_array().size(), 1u);
  EXPECT_EQ(Call("DELETE", "/api/v1/sharing-groups/" + id + "/members/CERT-A", admin_).status, 400);  // the owner

  Reply left = Call("DELETE", "/api/v1/sharing-groups/" + id + "/members/" + org_b_, admin_);
  ASSERT_EQ(left.status, 200) << left.body;
  EXPECT_EQ(left.Json().at("member_orgs").as_array().size(), 1u);
  EXPECT_EQ(Call("DELETE", "/api/v1/sharing-groups/" + id + "/members/" + org_b_, admin_).status, 200);
}

TEST_F(AdminApiTest, MembershipChangesApplyToWhatIsVisibleFromThenOn) {
  const std::string id = Call("POST", "/api/v1/sharing-groups", admin_, R"({"name":"G","owner_org":"CERT-A"})").Str("id");
  Reply posted = Call("POST", "/api/v1/objects", analyst_a_,
                      "[" + Indicator(1, org_a_, id, kTlpAmber) + "," + Indicator(2, org_a_, id, kTlpRed) + "]");
  ASSERT_EQ(posted.status, 200) << posted.body;
  ASSERT_EQ(posted.Json().at("totals").at("new").as_int64(), 2) << posted.body;

  auto visible = [&](int n) { return Call("GET", "/api/v1/objects/" + IndicatorId(n), analyst_b_).status; };
  auto listed = [&] { return Call("GET", "/api/v1/objects", analyst_b_).Json().at("objects").as_array().size(); };
  EXPECT_EQ(visible(1), 404);
  EXPECT_EQ(visible(2), 404);
  EXPECT_EQ(listed(), 0u);

  ASSERT_EQ(Call("PUT", "/api/v1/sharing-groups/" + id + "/members/CERT-B", admin_).status, 200);
  EXPECT_EQ(visible(1), 200);  // stored before the change, visible after it
  EXPECT_EQ(visible(2), 200);
  EXPECT_EQ(listed(), 2u);

  ASSERT_EQ(Call("DELETE", "/api/v1/sharing-groups/" + id + "/members/CERT-B", admin_).status, 200);
  EXPECT_EQ(visible(1), 404);
  EXPECT_EQ(visible(2), 404);
  EXPECT_EQ(listed(), 0u);
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(2), analyst_a_).status, 200);  // the owner still sees it
}

TEST_F(AdminApiTest, SnapshotSeesOtherProcessesWithinItsMaxAge) {
  const std::string id = accounts_->CreateSharingGroup("G", "", "CERT-A").value().id;
  EXPECT_FALSE(groups_->Get()->IsMember(id, org_b_));
  auto other = OpenAccounts();  // the CLI, or another `concord serve`
  ASSERT_TRUE(other->AddSharingGroupMember(id, "CERT-B").ok());
  EXPECT_FALSE(groups_->Get()->IsMember(id, org_b_));  // still the snapshot
  clock_.now = Timestamp::FromUnixMillis(clock_.now.UnixMillis() + 2'000);
  EXPECT_TRUE(groups_->Get()->IsMember(id, org_b_));
  EXPECT_TRUE(groups_->Get()->IsMember(id, org_a_));  // the owner

  ASSERT_TRUE(other->RemoveSharingGroupMember(id, org_b_).ok());
  groups_->Invalidate();  // as a change made in this process does
  EXPECT_FALSE(groups_->Get()->IsMember(id, org_b_));
}

TEST_F(AdminApiTest, CommunitiesAreManagedByAdminsAndReadByEveryone) {
  Reply made = Call("POST", "/api/v1/communities", admin_,
                    R"({"name":"csirts-network","description":"CSIRTs Network","member_orgs":["CERT-A","CERT-B"]})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.Json().at("member_orgs").as_array().size(), 2u);
  EXPECT_EQ(Call("POST", "/api/v1/communities", admin_, R"({"name":"csirts-network"})").status, 409);
  EXPECT_EQ(Call("POST", "/api/v1/communities", admin_, R"({"name":"EU NATO"})").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/communities", orgadmin_a_, R"({"name":"le-24-7"})").status, 403);

  Reply read = Call("GET", "/api/v1/communities/csirts-network", analyst_b_);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.Str("description"), "CSIRTs Network");
  EXPECT_EQ(Call("GET", "/api/v1/communities", analyst_b_).Json().at("communities").as_array().size(), 1u);
  EXPECT_EQ(Call("GET", "/api/v1/communities/le-24-7", analyst_b_).status, 404);

  EXPECT_EQ(Call("DELETE", "/api/v1/communities/csirts-network/members/CERT-B", analyst_b_).status, 403);
  Reply removed = Call("DELETE", "/api/v1/communities/csirts-network/members/CERT-B", admin_);
  ASSERT_EQ(removed.status, 200);
  EXPECT_EQ(removed.Json().at("member_orgs").as_array().size(), 1u);
  EXPECT_EQ(Call("PUT", "/api/v1/communities/csirts-network/members/CERT-B", admin_).Json().at("member_orgs").as_array().size(),
            2u);
}

// ---- audit of administrative changes -------------------------------------------------------------------

class AdminAuditTest : public AdminApiTest {
 protected:
  void SetUp() override {
    AdminApiTest::SetUp();
    auto a = audit::OpenAuditLog(path_.string());
    ASSERT_TRUE(a.ok()) << a.status();
    audit_ = std::move(*a);
    ctx_.audit = audit_.get();
  }
  void TearDown() override {
    ctx_.audit = nullptr;
    audit_.reset();
    AdminApiTest::TearDown();
  }
  std::vector<audit::Entry> Entries() {
    auto page = audit_->List({.limit = 1000});
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->entries : std::vector<audit::Entry>{};
  }
  static std::string KeyIdOf(const std::string& token) { return token.substr(8, 16); }  // concord_<key_id>_<secret>
  // The stored detail comes back with its members sorted: compare canonical forms (RFC 8785).
  static std::string Detail(const audit::Entry& e) { return CanonicalJson(e.event.detail); }
  static std::string Json(const std::string& text) { return CanonicalJson(boost::json::parse(text)); }

  std::unique_ptr<audit::AuditLog> audit_;
};

TEST_F(AdminAuditTest, EveryChangeIsOneEntryNamingItsTargetAndNoSecret) {
  const std::string partner =
      Call("POST", "/api/v1/organisations", admin_, R"({"name":"Partner CERT","kind":"remote"})").Str("id");
  ASSERT_EQ(Call("POST", "/api/v1/users", admin_, R"({"name":"carol","org":"CERT-B","role":"duty-officer"})").status, 201);
  Reply issued = Call("POST", "/api/v1/users/carol/keys", admin_,
                      R"({"expires":"2025-07-01T00:00:00Z","allowed_cidrs":["10.1.2.3/8"],"read_only":true})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  const std::string token = issued.Str("token");
  const std::string key_id = KeyIdOf(token);
  ASSERT_EQ(Call("PATCH", "/api/v1/users/carol", admin_, R"({"role":"analyst","disabled":true})").status, 200);
  ASSERT_EQ(Call("PATCH", "/api/v1/users/carol", admin_, R"({"role":"analyst"})").status, 200);  // no change
  ASSERT_EQ(Call("DELETE", "/api/v1/users/carol/keys/" + key_id, admin_).status, 200);
  ASSERT_EQ(Call("DELETE", "/api/v1/users/carol/keys/" + key_id, admin_).status, 200);  // already revoked
  const std::string group =
      Call("POST", "/api/v1/sharing-groups", orgadmin_a_, R"({"name":"RTF","member_orgs":["CERT-B"]})").Str("id");
  ASSERT_EQ(Call("DELETE", "/api/v1/sharing-groups/" + group + "/members/CERT-B", orgadmin_a_).status, 200);
  ASSERT_EQ(Call("PUT", "/api/v1/sharing-groups/" + group + "/members/" + org_b_, admin_).status, 200);
  ASSERT_EQ(Call("POST", "/api/v1/communities", admin_, R"({"name":"csirts-network","member_orgs":["CERT-A"]})").status,
            201);
  ASSERT_EQ(Call("PUT", "/api/v1/communities/csirts-network/members/CERT-B", admin_).status, 200);
  ASSERT_EQ(Call("DELETE", "/api/v1/communities/csirts-network/members/" + org_a_, admin_).status, 200);
  // Reads leave no admin entry.
  ASSERT_EQ(Call("GET", "/api/v1/users/carol/keys", admin_).status, 200);

  const std::vector<audit::Entry> entries = Entries();
  const std::vector<std::string> expected = {
      R"({"op":"org.create","name":"Partner CERT","kind":"remote","route":"/api/v1/organisations","method":"POST"})",
      fmt::format(R"({{"op":"user.create","user":"carol","org":"{}","role":"duty-officer","route":"/api/v1/users","method":"POST"}})",
                  org_b_),
      fmt::format(R"({{"op":"key.issue","user":"carol","org":"{}","key_id":"{}","expires":"2025-07-01T00:00:00Z",)"
                  R"("allowed_cidrs":["10.0.0.0/8"],"read_only":true,"route":"/api/v1/users/{{user}}/keys","method":"POST"}})",
                  org_b_, key_id),
      fmt::format(R"({{"op":"user.update","user":"carol","org":"{}","role":"analyst","previous_role":"duty-officer",)"
                  R"("disabled":true,"route":"/api/v1/users/{{user}}","method":"PATCH"}})",
                  org_b_),
      fmt::format(R"({{"op":"key.revoke","user":"carol","org":"{}","key_id":"{}","route":"/api/v1/users/{{user}}/keys/{{key_id}}","method":"DELETE"}})",
                  org_b_, key_id),
      fmt::format(R"({{"op":"group.create","name":"RTF","owner_org":"{}","member_orgs":["{}"],"route":"/api/v1/sharing-groups","method":"POST"}})",
                  org_a_, org_b_),
      fmt::format(R"({{"op":"group.member.remove","group":"{}","org":"{}","route":"/api/v1/sharing-groups/{{group}}/members/{{org}}","method":"DELETE"}})",
                  group, org_b_),
      fmt::format(R"({{"op":"group.member.add","group":"{}","org":"{}","route":"/api/v1/sharing-groups/{{group}}/members/{{org}}","method":"PUT"}})",
                  group, org_b_),
      fmt::format(R"({{"op":"community.create","name":"csirts-network","member_orgs":["{}"],"route":"/api/v1/communities","method":"POST"}})",
                  org_a_),
      fmt::format(R"({{"op":"community.member.add","community":"csirts-network","org":"{}","route":"/api/v1/communities/{{name}}/members/{{org}}","method":"PUT"}})",
                  org_b_),
      fmt::format(R"({{"op":"community.member.remove","community":"csirts-network","org":"{}","route":"/api/v1/communities/{{name}}/members/{{org}}","method":"DELETE"}})",
                  org_a_),
  };
  ASSERT_EQ(entries.size(), expected.size());
  const std::string secret = token.substr(25);
  for (size_t i = 0; i < entries.size(); ++i) {
    const audit::Event& e = entries[i].event;
    SCOPED_TRACE(i);
    EXPECT_EQ(e.action, audit::Action::kAdmin);
    EXPECT_EQ(Detail(entries[i]), Json(expected[i]));
    EXPECT_EQ(e.outcome, "ok");
    EXPECT_EQ(e.object_ids, std::vector<std::string>{});
    EXPECT_EQ(e.remote_address, "192.0.2.7");
    const bool by_orgadmin = i == 5 || i == 6;
    EXPECT_EQ(e.user, by_orgadmin ? "olga" : "root");
    EXPECT_EQ(e.org, org_a_);
    EXPECT_EQ(e.key_id, KeyIdOf(by_orgadmin ? orgadmin_a_ : admin_));
    EXPECT_EQ(audit::CanonicalEntry(entries[i]).find(secret), std::string::npos);
  }
  EXPECT_FALSE(partner.empty());
  auto verified = audit_->Verify();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->intact);
  EXPECT_EQ(verified->entries, 11);
}

TEST_F(AdminAuditTest, RefusedRequestsLeaveNoEntryAndAFailedChangeSaysSo) {
  EXPECT_EQ(Call("POST", "/api/v1/users", analyst_a_, R"({"name":"z","role":"analyst"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/organisations", admin_, R"({"name":"X","colour":"red"})").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/users", admin_, R"({"name":"dan","org":"nowhere","role":"analyst"})").status, 400);
  EXPECT_EQ(Call("PUT", "/api/v1/sharing-groups/nothing/members/CERT-B", admin_).status, 404);
  EXPECT_EQ(Entries().size(), 0u);

  // The store refuses the name only after the entry was written: a second entry says the change did not happen.
  EXPECT_EQ(Call("POST", "/api/v1/organisations", admin_, R"({"name":"cert-a"})").status, 409);
  const std::vector<audit::Entry> entries = Entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].event.outcome, "ok");
  EXPECT_EQ(Detail(entries[0]),
            Json(R"({"op":"org.create","name":"cert-a","kind":"local","route":"/api/v1/organisations","method":"POST"})"));
  EXPECT_EQ(entries[1].event.outcome, "failed");
  EXPECT_EQ(Detail(entries[1]),
            Json(R"({"op":"org.create","name":"cert-a","kind":"local","error":"organisation 'CERT-A' already exists",)"
                 R"("route":"/api/v1/organisations","method":"POST"})"));
}

TEST_F(AdminAuditTest, NothingChangesWhenTheEntryCannotBeWritten) {
  auto read_only = audit::OpenAuditLog(path_.string(), {.read_only = true});
  ASSERT_TRUE(read_only.ok()) << read_only.status();
  ctx_.audit = read_only->get();
  const std::string unavailable =
      R"({"error":{"code":"UNAVAILABLE","message":"the audit log cannot record this request: the audit log is open read-only"}})";

  Reply org = Call("POST", "/api/v1/organisations", admin_, R"({"name":"Ghost CERT"})");
  EXPECT_EQ(org.status, 503);
  EXPECT_EQ(org.body, unavailable);
  EXPECT_EQ(Call("GET", "/api/v1/organisations/Ghost%20CERT", admin_).status, 404);

  Reply disable = Call("PATCH", "/api/v1/users/alice", admin_, R"({"disabled":true})");
  EXPECT_EQ(disable.status, 503);
  EXPECT_FALSE(accounts_->GetUser("alice").value().disabled);

  // The key exists for a moment (its entry names it), but is revoked before anyone sees the token.
  Reply key = Call("POST", "/api/v1/users/alice/keys", admin_);
  EXPECT_EQ(key.status, 503);
  EXPECT_EQ(key.body, unavailable);
  const std::vector<store::ApiKey> keys = accounts_->ListKeys("alice").value();
  ASSERT_EQ(keys.size(), 2u);
  for (const store::ApiKey& k : keys) {
    // The one made in SetUp stays active; the new one is revoked.
    EXPECT_EQ(k.revoked.has_value(), k.key_id != KeyIdOf(analyst_a_)) << k.key_id;
  }

  Reply group = Call("POST", "/api/v1/sharing-groups", admin_, R"({"name":"Ghost group"})");
  EXPECT_EQ(group.status, 503);
  EXPECT_EQ(Call("GET", "/api/v1/sharing-groups/Ghost%20group", admin_).status, 404);
  ctx_.audit = audit_.get();
  EXPECT_EQ(Entries().size(), 0u);
}

}  // namespace
}  // namespace concord::api
