// Auditing of the REST API: which requests leave which entries, the justification rule, GET /api/v1/audit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "api/api.h"
#include "audit/audit.h"
#include "boost/json/parse.hpp"
#include "fmt/format.h"
#include "store/sqlite/connection.h"

namespace concord::api {
namespace {

constexpr char kOrgA[] = "identity--aaaaaaaa-0000-4000-8000-000000000001";
constexpr char kOrgB[] = "identity--bbbbbbbb-0000-4000-8000-000000000002";
constexpr char kTlpRed[] = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
constexpr char kTlpGreen[] = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
constexpr char kTlpClear[] = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";

std::string Indicator(int n, std::string_view marking) {
  return fmt::format(
      R"({{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{:012d}","created_by_ref":"{}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.{}']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","object_marking_refs":["{}"]}})",
      n, kOrgA, n, marking);
}
std::string IndicatorId(int n) { return fmt::format("indicator--00000000-0000-4000-8000-{:012d}", n); }

struct Reply {
  int status;
  std::string body;
  boost::json::value Json() const { return boost::json::parse(body); }
};

class AuditApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("concord_api_audit_{}_{}.db", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Remove();
    auto s = store::OpenStore(path_.string());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    auto a = audit::OpenAuditLog(path_.string());
    ASSERT_TRUE(a.ok()) << a.status();
    audit_ = std::move(*a);
    ctx_.store = store_.get();
    ctx_.audit = audit_.get();
    // "org:role:user" in a test header stands for an authenticated key.
    ctx_.authenticate = [](http::Request& r) -> absl::StatusOr<Caller> {
      auto who = r.headers.Get("X-Test-Caller");
      if (!who) return absl::UnauthenticatedError("missing API key");
      const std::string v(*who);
      const size_t c1 = v.find(':');
      const size_t c2 = v.find(':', c1 + 1);
      return Caller{.user = v.substr(c2 + 1), .org_id = v.substr(0, c1), .role = v.substr(c1 + 1, c2 - c1 - 1),
                    .key_id = "k-" + v.substr(c2 + 1)};
    };
    ASSERT_TRUE(AddObjectRoutes(router_, ctx_).ok());
    ASSERT_TRUE(AddAuditRoutes(router_, ctx_).ok());
  }
  void TearDown() override {
    audit_.reset();
    store_.reset();
    Remove();
  }
  void Remove() {
    for (const std::string& file : {path_.string(), *audit::AuditPathOf(path_.string())}) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file + suffix);
    }
  }

  Reply Call(const std::string& method, const std::string& target, const std::string& caller, std::string body = "",
             std::string justification = "") {
    http::Request req;
    req.method = method;
    req.target = target;
    req.remote_address = "192.0.2.7:40000";
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = http::QueryParams::Parse(target.substr(q + 1));
    if (!caller.empty()) req.headers.Set("X-Test-Caller", caller);
    if (!justification.empty()) req.headers.Set("X-Concord-Justification", justification);
    req.body = std::move(body);
    auto match = router_.Find(method, req.path);
    if (match.handler == nullptr) {
      auto r = router_.RenderError(req.path, match.error);
      return {r.status, r.body};
    }
    req.route = match.route;
    for (auto& [k, v] : match.params) req.path_params[k] = v;
    auto r = (*match.handler)(req);
    if (r.ok()) r = http::AwaitGate(std::move(*r));  // as the server would: after the audit commit
    if (!r.ok()) {
      auto e = router_.RenderError(req.path, r.status());
      return {e.status, e.body};
    }
    return {r->status, r->body};
  }
  std::vector<audit::Entry> Entries(std::optional<audit::Action> action = {}) {
    auto page = audit_->List({.action = action, .limit = 1000});
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->entries : std::vector<audit::Entry>{};
  }

  std::filesystem::path path_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<audit::AuditLog> audit_;
  ApiContext ctx_;
  http::Router router_;
};

const std::string kWriterA = std::string(kOrgA) + ":analyst:alice";
const std::string kReaderB = std::string(kOrgB) + ":analyst:bob";
const std::string kAdmin = std::string(kOrgA) + ":admin:root";
const std::string kOrgAdminB = std::string(kOrgB) + ":org-admin:boss";

TEST_F(AuditApiTest, WriteIsOneEntryWithTheStoredIds) {
  Reply r = Call("POST", "/api/v1/objects", kWriterA, "[" + Indicator(1, kTlpGreen) + "," + Indicator(2, kTlpClear) + "]");
  ASSERT_EQ(r.status, 200) << r.body;
  auto writes = Entries(audit::Action::kWrite);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].event.user, "alice");
  EXPECT_EQ(writes[0].event.org, kOrgA);
  EXPECT_EQ(writes[0].event.key_id, "k-alice");
  EXPECT_EQ(writes[0].event.remote_address, "192.0.2.7");
  EXPECT_EQ(writes[0].event.object_ids, (std::vector<std::string>{IndicatorId(1), IndicatorId(2)}));
  EXPECT_EQ(writes[0].event.outcome, "ok");
  EXPECT_EQ(writes[0].event.detail.at("totals").at("new").as_int64(), 2);
}

// Fail closed: a read whose audit entry cannot be committed is not answered with the object.
TEST_F(AuditApiTest, ReadThatCannotBeAuditedIs503WithoutTheObject) {
  ASSERT_EQ(Call("POST", "/api/v1/objects", kWriterA, "[" + Indicator(1, kTlpGreen) + "," + Indicator(2, kTlpClear) + "]").status, 200);
  {
    auto db = store::sqlite::Connection::Open(*audit::AuditPathOf(path_.string()), false);  // the audit log's file
    ASSERT_TRUE(db.ok()) << db.status();
    // The committer may be indexing the write's entry right now: wait for its lock as every opener does.
    ASSERT_TRUE(db->Exec("PRAGMA busy_timeout = 10000").ok());
    ASSERT_TRUE(db->Exec("CREATE TRIGGER audit_broken BEFORE INSERT ON audit_log "
                         "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END").ok());
  }
  Reply r = Call("GET", "/api/v1/objects/" + IndicatorId(1), kReaderB);
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("the audit log cannot record this request"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("pattern"), std::string::npos) << r.body;
  r = Call("GET", "/api/v1/objects?type=indicator", kReaderB);
  EXPECT_EQ(r.status, 503) << r.body;
  // TLP:CLEAR reads are not audited, so they go on.
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(2), kReaderB).status, 200);
}

TEST_F(AuditApiTest, ReadAboveClearIsAuditedWithJustification) {
  ASSERT_EQ(Call("POST", "/api/v1/objects", kWriterA, "[" + Indicator(1, kTlpGreen) + "]").status, 200);
  Reply r = Call("GET", "/api/v1/objects/" + IndicatorId(1), kReaderB, "", "incident 2024-117");
  ASSERT_EQ(r.status, 200) << r.body;
  auto reads = Entries(audit::Action::kRead);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].event.user, "bob");
  EXPECT_EQ(reads[0].event.org, kOrgB);
  EXPECT_EQ(reads[0].event.object_ids, std::vector<std::string>{IndicatorId(1)});
  EXPECT_EQ(reads[0].event.justification, "incident 2024-117");
  EXPECT_EQ(reads[0].event.detail.at("tlp").as_string(), "green");
  EXPECT_EQ(reads[0].event.detail.at("route").as_string(), "/api/v1/objects/{id}");

  // Versions and lists are audited too, naming what was returned.
  ASSERT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(1) + "/versions", kReaderB).status, 200);
  ASSERT_EQ(Call("GET", "/api/v1/objects", kReaderB).status, 200);
  reads = Entries(audit::Action::kRead);
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_EQ(reads[2].event.object_ids, std::vector<std::string>{IndicatorId(1)});
  EXPECT_TRUE(audit_->Verify()->intact);
}

TEST_F(AuditApiTest, ClearReadsAndUnseenObjectsLeaveNoReadEntry) {
  ASSERT_EQ(Call("POST", "/api/v1/objects", kWriterA, "[" + Indicator(1, kTlpClear) + "," + Indicator(2, kTlpRed) + "]").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(1), kReaderB).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(2), kReaderB).status, 404);  // RED, not a recipient
  Reply list = Call("GET", "/api/v1/objects", kReaderB);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.Json().at("objects").as_array().size(), 1u);
  EXPECT_TRUE(Entries(audit::Action::kRead).empty());
}

TEST_F(AuditApiTest, RedNeedsAJustificationWhenRequired) {
  ctx_.require_justification_for_red = true;
  ASSERT_EQ(Call("POST", "/api/v1/objects", kWriterA, "[" + Indicator(1, kTlpRed) + "," + Indicator(2, kTlpGreen) + "]").status, 200);
  Reply denied = Call("GET", "/api/v1/objects/" + IndicatorId(1), kWriterA);
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.Json().at("error").at("message").as_string(),
            "a justification (X-Concord-Justification) is required to read TLP:RED");
  // Invisible objects stay 404 whatever the header: existence never leaks.
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(1), kReaderB).status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(1) + "/versions", kWriterA).status, 403);
  // A list leaves RED out and says so.
  Reply list = Call("GET", "/api/v1/objects", kWriterA);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.Json().at("objects").as_array().size(), 1u);
  EXPECT_EQ(list.Json().at("withheld").as_int64(), 1);
  EXPECT_TRUE(Entries(audit::Action::kRead).size() == 1u);  // the GREEN one of the list

  Reply ok = Call("GET", "/api/v1/objects/" + IndicatorId(1), kWriterA, "", "case 17: takedown request");
  EXPECT_EQ(ok.status, 200) << ok.body;
  auto reads = Entries(audit::Action::kRead);
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[1].event.object_ids, std::vector<std::string>{IndicatorId(1)});
  EXPECT_EQ(reads[1].event.justification, "case 17: takedown request");
  EXPECT_EQ(reads[1].event.detail.at("tlp").as_string(), "red");
}

TEST_F(AuditApiTest, RedNeedsNoJustificationByDefault) {
  ASSERT_EQ(Call("POST", "/api/v1/objects", kWriterA, "[" + Indicator(1, kTlpRed) + "]").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(1), kWriterA).status, 200);
  EXPECT_EQ(Entries(audit::Action::kRead).size(), 1u);
}

TEST_F(AuditApiTest, RevokeIsAudited) {
  ASSERT_EQ(Call("POST", "/api/v1/objects", kWriterA, "[" + Indicator(1, kTlpClear) + "]").status, 200);
  ASSERT_EQ(Call("POST", "/api/v1/objects/" + IndicatorId(1) + "/revoke", kWriterA).status, 200);
  auto revokes = Entries(audit::Action::kRevoke);
  ASSERT_EQ(revokes.size(), 1u);
  EXPECT_EQ(revokes[0].event.object_ids, std::vector<std::string>{IndicatorId(1)});
}

TEST_F(AuditApiTest, AdminsListTheLogOthersDoNot) {
  ASSERT_EQ(Call("POST", "/api/v1/objects", kWriterA, "[" + Indicator(1, kTlpGreen) + "]").status, 200);
  ASSERT_EQ(Call("GET", "/api/v1/objects/" + IndicatorId(1), kReaderB).status, 200);

  Reply analyst = Call("GET", "/api/v1/audit", kReaderB);
  EXPECT_EQ(analyst.status, 403);
  Reply all = Call("GET", "/api/v1/audit", kAdmin);
  ASSERT_EQ(all.status, 200) << all.body;
  const boost::json::value doc = all.Json();
  const auto& entries = doc.at("entries").as_array();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].at("action").as_string(), "write");
  EXPECT_EQ(entries[1].at("action").as_string(), "read");
  EXPECT_EQ(entries[1].at("prev_hash"), entries[0].at("hash"));

  Reply reads = Call("GET", "/api/v1/audit?action=read&object=" + IndicatorId(1), kAdmin);
  ASSERT_EQ(reads.status, 200);
  EXPECT_EQ(reads.Json().at("entries").as_array().size(), 1u);
  Reply paged = Call("GET", "/api/v1/audit?limit=1", kAdmin);
  EXPECT_TRUE(paged.Json().at("more").as_bool());
  Reply next = Call("GET", "/api/v1/audit?limit=1&cursor=" + std::string(paged.Json().at("next").as_string()), kAdmin);
  EXPECT_EQ(next.Json().at("entries").at(0).at("seq").as_int64(), 2);
  EXPECT_EQ(Call("GET", "/api/v1/audit?action=peek", kAdmin).status, 400);

  // An org-admin sees its own organisation's entries only.
  Reply own = Call("GET", "/api/v1/audit", kOrgAdminB);
  ASSERT_EQ(own.status, 200);
  ASSERT_EQ(own.Json().at("entries").as_array().size(), 1u);
  EXPECT_EQ(own.Json().at("entries").at(0).at("user").as_string(), "bob");
  EXPECT_EQ(Call("GET", std::string("/api/v1/audit?org=") + kOrgA, kOrgAdminB).status, 403);
}

}  // namespace
}  // namespace concord::api
