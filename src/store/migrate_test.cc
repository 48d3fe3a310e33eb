// store::Migrate (migrate.h): a SQLite node built through the real APIs (store, accounts, audit log, TAXII
// status log) is copied into a real PostgreSQL database (scripts/pg-test, one server per binary) and read back
// through the PostgreSQL backends' public APIs, field by field. Also: what is refused (a non-empty or busy
// target, a source at another schema version or with a table the migration does not know), and that a failure
// or a kill in the middle of the copy leaves the target empty.
//
// The test links the audit and TAXII modules (above the store) to check their tables through their own APIs;
// the library itself does not depend on them.
#include "store/migrate.h"

#include <arpa/inet.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/accounts.h"
#include "store/sqlite/migrations.h"
#include "store/store.h"
#include "store/testing/literal_extractor.h"
#include "store/testing/objects.h"
#include "store/testing/postgres_server.h"
#include "taxii/status_log.h"

namespace concord::store {
namespace {

using testing::DomainName;
using ::testing::HasSubstr;
using testing::Indicator;
using testing::kCidr;
using testing::kDomain;
using testing::kIp;
using testing::LiteralExtractor;
using testing::V4;
using testing::PgInt;
using testing::PostgresServer;
using testing::Ts;

[[maybe_unused]] ::testing::Environment* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new testing::PostgresServerEnvironment);

// A clock the test moves: every object version, account and audit entry gets a distinct, known time.
class SteppingClock final : public Clock {
 public:
  Timestamp Now() const override {
    Timestamp t = Ts("2025-06-01T12:00:00.000Z");
    t.seconds += ticks_++;
    t.nanos = 123'456'000;
    t.precision = 6;
    return t;
  }

 private:
  mutable std::atomic<int64_t> ticks_{0};
};

std::string IdOf(int n) { return fmt::format("indicator--{:08x}-0000-4000-8000-000000000000", n); }

// Every version, oldest seq first, with every column the API gives back.
std::vector<StoredObject> AllVersions(Store& store) {
  std::vector<StoredObject> out;
  Query q;
  q.current_only = false;
  q.limit = 7;  // several pages
  while (true) {
    auto page = store.List(q);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return out;
    for (StoredObject& o : page->objects) out.push_back(std::move(o));
    if (!page->more) return out;
    q.after_seq = page->next_after_seq;
  }
}

void ExpectSameObject(const StoredObject& a, const StoredObject& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.spec_version, b.spec_version);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.modified, b.modified);
  EXPECT_EQ(a.created_by_ref, b.created_by_ref);
  EXPECT_EQ(a.revoked, b.revoked);
  EXPECT_EQ(a.tlp, b.tlp);
  EXPECT_EQ(a.distribution, b.distribution);
  EXPECT_EQ(a.sharing_group_ref, b.sharing_group_ref);
  EXPECT_EQ(a.current, b.current) << a.id << " seq " << a.seq;
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.added.UnixMicros(), b.added.UnixMicros());
  EXPECT_EQ(a.json, b.json);
}

std::vector<std::string> HitIds(const PostingPage& page) {
  std::vector<std::string> out;
  for (const PostingHit& hit : page.hits) out.push_back(hit.object.id + "@" + std::to_string(hit.object.seq));
  return out;
}

class MigrateTest : public testing::PostgresDatabaseTest {
 protected:
  void SetUp() override {
    PostgresDatabaseTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "migrate_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (std::filesystem::path(dir_) / "concord.db").string();
  }
  void TearDown() override {
    PostgresDatabaseTest::TearDown();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  MigrateSource Source() const { return {path_, *audit::AuditPathOf(path_)}; }

  // A node with a bit of everything, made through the real APIs. Leaves every handle closed.
  void BuildNode() {
    {
      auto store = OpenStore(path_, {.clock = &clock_, .postings = &extractor_});
      ASSERT_TRUE(store.ok()) << store.status();
      // Three versions of one indicator, the last one revoked (with a CIDR posting), and an older version
      // arriving after the current one.
      stix::Object v1 = Indicator(IdOf(1), "2024-02-01T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.1']");
      v1.tlp = stix::Tlp::kAmber;
      v1.distribution = 4;
      v1.sharing_group_ref = "x-concord-sharing-group--11111111-1111-4111-8111-111111111111";
      v1.created_by_ref = "identity--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
      v1.json["created_by_ref"] = v1.created_by_ref;
      ASSERT_TRUE((*store)->Put(std::vector{v1}).ok());
      ASSERT_TRUE((*store)
                      ->Put(std::vector{Indicator(IdOf(1), "2024-04-01T00:00:00.000Z",
                                                  "[ipv4-addr:value = '10.0.0.0/8']", /*revoked=*/true)})
                      .ok());
      ASSERT_TRUE(
          (*store)
              ->Put(std::vector{Indicator(IdOf(1), "2024-03-01T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.2']")})
              .ok());
      // Batches of plain indicators sharing values (several objects per posting), and unversioned SCOs.
      for (int batch = 0; batch < 4; ++batch) {
        std::vector<stix::Object> objects;
        for (int i = 0; i < 10; ++i) {
          const int n = 100 + batch * 10 + i;
          objects.push_back(Indicator(IdOf(n), "2024-05-01T00:00:00.000Z",
                                      fmt::format("[ipv4-addr:value = '203.0.113.{}'] OR [domain-name:value = "
                                                  "'shared-{}.example']",
                                                  n % 7, n % 3)));
          objects.back().tlp = static_cast<stix::Tlp>(n % 6);
          if (n % 2 == 0) objects.back().distribution = n % 5;
        }
        objects.push_back(DomainName(fmt::format("domain-name--{:08x}-1111-4111-8111-111111111111", batch),
                                     fmt::format("täst-{}.example\ttab\\backslash", batch)));
        auto put = (*store)->Put(objects);
        ASSERT_TRUE(put.ok()) << put.status();
      }
      // A new version of one of them, so that it has two.
      ASSERT_TRUE(
          (*store)
              ->Put(std::vector{Indicator(IdOf(105), "2024-06-01T00:00:00.000Z", "[ipv4-addr:value = '192.0.2.55']")})
              .ok());
    }
    {
      auto accounts = OpenAccounts(path_, {.clock = &clock_});
      ASSERT_TRUE(accounts.ok()) << accounts.status();
      Accounts& a = **accounts;
      ASSERT_TRUE(a.EnsureHostOrganisation("CERT-Host").ok());
      auto partner = a.CreateOrganisation("Partner CSIRT", OrgKind::kLocal);
      ASSERT_TRUE(partner.ok()) << partner.status();
      ASSERT_TRUE(a.CreateOrganisation("Remote Team", OrgKind::kRemote).ok());
      ASSERT_TRUE(a.CreateUser("alice", "CERT-Host", Role::kAdmin).ok());
      ASSERT_TRUE(a.CreateUser("bob", "Partner CSIRT", Role::kAnalyst).ok());
      ASSERT_TRUE(a.CreateUser("carol", "Partner CSIRT", Role::kReadOnly).ok());
      auto key = a.IssueKey("alice", {});
      ASSERT_TRUE(key.ok()) << key.status();
      alice_token_ = key->token;
      auto restricted =
          a.IssueKey("bob", {.expires = Ts("2030-01-01T00:00:00Z"), .cidrs = {"192.0.2.0/24"}, .read_only = true});
      ASSERT_TRUE(restricted.ok()) << restricted.status();
      bob_token_ = restricted->token;
      auto revoked = a.IssueKey("bob", {});
      ASSERT_TRUE(revoked.ok());
      revoked_token_ = revoked->token;
      ASSERT_TRUE(a.RevokeKey(revoked->key.key_id).ok());
      auto carol = a.IssueKey("carol", {});
      ASSERT_TRUE(carol.ok());
      carol_token_ = carol->token;
      ASSERT_TRUE(a.DisableUser("carol").ok());
      ASSERT_TRUE(a.Authenticate(*ParseToken(alice_token_), "127.0.0.1").ok());  // writes last_used
      auto group = a.CreateSharingGroup("Benelux", "ops group", "CERT-Host");
      ASSERT_TRUE(group.ok()) << group.status();
      ASSERT_TRUE(a.AddSharingGroupMember("Benelux", "Partner CSIRT").ok());
      ASSERT_TRUE(a.CreateCommunity("csirts-network", "CSIRTs").ok());
      ASSERT_TRUE(a.AddCommunityMember("csirts-network", "Partner CSIRT").ok());
      ASSERT_TRUE(a.AddCommunityMember("csirts-network", "Remote Team").ok());
    }
    {
      auto log = audit::OpenAuditLog(path_, {.clock = &clock_});
      ASSERT_TRUE(log.ok()) << log.status();
      for (int i = 0; i < 25; ++i) {
        audit::Event e{.action = i % 4 == 0 ? audit::Action::kWrite : audit::Action::kRead,
                       .user = i % 2 ? "alice" : "bob",
                       .org = "identity--aaaaaaaa-0000-4000-8000-000000000001",
                       .key_id = "0123456789abcdef",
                       .object_ids = {IdOf(100 + i % 5), IdOf(1), IdOf(100 + i % 5)},  // a repeat, as callers may
                       .justification = i == 3 ? "case 2025/17 — ünïcode" : "",
                       .remote_address = "192.0.2.7"};
        e.detail["route"] = "/api/v1/objects";
        e.detail["n"] = i;
        ASSERT_TRUE((*log)->Append(std::move(e)).ok());
      }
      auto head = (*log)->GetHead();
      ASSERT_TRUE(head.ok());
      source_head_ = *head;
    }
    {
      auto statuses = taxii::OpenStatusLog(
          path_, {.retention = {.max_statuses = 100, .max_age = std::chrono::hours(24 * 365 * 20)}, .clock = &clock_});
      ASSERT_TRUE(statuses.ok()) << statuses.status();
      for (int i = 0; i < 3; ++i) {
        taxii::StatusResource s;
        s.id = fmt::format("2d086da7-4bdc-4f91-900e-d77486753710{}", i);
        s.complete = i != 1;
        s.successes.push_back({IdOf(100 + i), "2024-05-01T00:00:00.000Z", ""});
        if (i == 2) s.failures.push_back({IdOf(999), "", "conflict"});
        ASSERT_TRUE((*statuses)->Put(i == 2 ? kOtherOrg : kOrg, s).ok());
      }
    }
  }

  static constexpr char kOrg[] = "identity--aaaaaaaa-0000-4000-8000-000000000001";
  static constexpr char kOtherOrg[] = "identity--bbbbbbbb-0000-4000-8000-000000000002";

  // Whether every table the migration writes is empty in the target (read through SQL, and the store's API).
  void ExpectTargetEmpty() {
    for (const char* table : {"objects", "versions", "type_counts", "postings", "organisations", "users", "api_keys",
                              "sharing_groups", "sharing_group_members", "communities", "community_members",
                              "taxii_statuses", "audit_log", "audit_objects"}) {
      EXPECT_EQ(PgInt(uri_, fmt::format("SELECT count(*) FROM {}", table)), 0) << table;
    }
    auto store = OpenStore(uri_, {.read_only = true});
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ(*(*store)->LastSeq(), 0);
  }

  // Polls until the server has no session on the target left (a killed client's backend ends on its own).
  void WaitForNoSessions() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    const std::string database = uri_.substr(uri_.rfind('/') + 1);
    const std::string sql = fmt::format(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid() AND backend_type = "
        "'client backend'",
        database);
    while (PgInt(uri_, sql) > 0) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "sessions on the target did not end";
      std::this_thread::yield();
    }
  }

  SteppingClock clock_;
  LiteralExtractor extractor_;
  std::string dir_;
  std::string path_;
  std::string alice_token_, bob_token_, revoked_token_, carol_token_;
  audit::Head source_head_;
};

TEST_F(MigrateTest, CopiesEverythingFaithfully) {
  ASSERT_NO_FATAL_FAILURE(BuildNode());
  std::vector<std::string> progress_tables;
  auto report = Migrate(Source(), uri_,
                        {.progress =
                             [&](const MigrateProgress& p) {
                               if (progress_tables.empty() || progress_tables.back() != p.table) {
                                 progress_tables.emplace_back(p.table);
                               }
                             },
                         .chunk_rows = 4});
  ASSERT_TRUE(report.ok()) << report.status();

  // The report: every table with its exact row count, in copy order.
  std::map<std::string, int64_t> rows;
  for (const MigratedTable& t : report->tables) rows[t.name] = t.rows;
  EXPECT_EQ(rows, (std::map<std::string, int64_t>{{"organisations", 3},
                                                  {"users", 3},
                                                  {"api_keys", 4},
                                                  {"sharing_groups", 1},
                                                  {"sharing_group_members", 2},
                                                  {"communities", 1},
                                                  {"community_members", 2},
                                                  {"objects", 45},
                                                  {"versions", 48},
                                                  {"type_counts", 2},
                                                  {"postings", 84},
                                                  {"taxii_statuses", 3},
                                                  {"audit_log", 25},
                                                  {"audit_objects", 50}}));
  EXPECT_EQ(report->tables.front().name, "organisations");
  EXPECT_EQ(report->last_seq, 48);
  EXPECT_EQ(report->audit_entries, 25);
  EXPECT_EQ(report->audit_head_seq, 25);
  EXPECT_EQ(report->audit_head_hash, source_head_.hash);
  EXPECT_EQ(report->audit_source, *audit::AuditPathOf(path_));
  EXPECT_EQ(report->schema_version, sqlite::LatestSchemaVersion());
  EXPECT_EQ(progress_tables.back(), "indexes");

  // ---- objects: every version with every field, both sides.
  auto from = OpenStore(path_, {.clock = &clock_, .read_only = true, .postings = &extractor_});
  ASSERT_TRUE(from.ok()) << from.status();
  auto to = OpenStore(uri_, {.clock = &clock_, .postings = &extractor_});
  ASSERT_TRUE(to.ok()) << to.status();
  const std::vector<StoredObject> before = AllVersions(**from);
  const std::vector<StoredObject> after = AllVersions(**to);
  ASSERT_EQ(before.size(), 48u);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) ExpectSameObject(before[i], after[i]);
  EXPECT_EQ(after.back().seq, 48);
  std::set<std::string> ids;
  for (const StoredObject& o : before) ids.insert(o.id);
  for (const std::string& id : ids) {
    auto a = (*from)->Versions(id);
    auto b = (*to)->Versions(id);  // by id: finds it through id_hash, so the hash key came along
    ASSERT_TRUE(a.ok() && b.ok()) << id << ": " << b.status();
    ASSERT_EQ(a->size(), b->size()) << id;
    for (size_t i = 0; i < a->size(); ++i) ExpectSameObject((*a)[i], (*b)[i]);
    EXPECT_EQ(*(*from)->PostingsOf(id), *(*to)->PostingsOf(id)) << id;
  }
  auto revoked = (*to)->Get(IdOf(1));
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(revoked->revoked);
  EXPECT_EQ(revoked->modified, "2024-04-01T00:00:00.000Z");
  auto stats_from = (*from)->GetStats();
  auto stats_to = (*to)->GetStats();
  ASSERT_TRUE(stats_from.ok() && stats_to.ok());
  EXPECT_EQ(stats_to->objects, 45);
  EXPECT_EQ(stats_to->versions, 48);
  EXPECT_EQ(stats_to->last_seq, 48);
  ASSERT_EQ(stats_to->by_type.size(), stats_from->by_type.size());
  for (const auto& [type, count] : stats_from->by_type) {
    EXPECT_EQ(stats_to->by_type[type].objects, count.objects) << type;
    EXPECT_EQ(stats_to->by_type[type].versions, count.versions) << type;
    EXPECT_EQ(stats_to->by_type[type].revoked, count.revoked) << type;
  }
  EXPECT_EQ(stats_to->by_type["indicator"].revoked, 1);

  // ---- postings: the same searches give the same answers (the value hashes use the copied key).
  for (const auto& [kind, value] :
       std::vector<std::pair<uint8_t, std::string>>{{kIp, "203.0.113.3"},
                                                    {kDomain, "shared-1.example"},
                                                    {kCidr, "10.0.0.0/8"},
                                                    {kDomain, "täst-2.example\ttab\\backslash"},
                                                    {kIp, "198.51.100.1"}}) {
    auto a = (*from)->FindPostings({.kind = kind, .value = value, .limit = 3});
    auto b = (*to)->FindPostings({.kind = kind, .value = value, .limit = 3});
    ASSERT_TRUE(a.ok() && b.ok()) << value;
    EXPECT_EQ(HitIds(*a), HitIds(*b)) << value;
    EXPECT_EQ(a->more, b->more) << value;
    EXPECT_EQ(*(*from)->CountPostings(kind, value, 100), *(*to)->CountPostings(kind, value, 100)) << value;
  }
  EXPECT_EQ(*(*to)->CountPostings(kDomain, "shared-1.example", 100), 14);
  EXPECT_EQ(*(*to)->PrefixLengths(kCidr), std::vector<int>{8});
  IpRangeQuery range{.kind = kIp, .low = V4("203.0.113.0"), .high = V4("203.0.113.255"), .limit = 100};
  auto range_from = (*from)->IpPostingsInRange(range);
  auto range_to = (*to)->IpPostingsInRange(range);
  ASSERT_TRUE(range_from.ok() && range_to.ok());
  ASSERT_EQ(range_to->postings.size(), 39u);
  ASSERT_EQ(range_from->postings.size(), range_to->postings.size());
  for (size_t i = 0; i < range_to->postings.size(); ++i) {
    EXPECT_EQ(range_from->postings[i].value, range_to->postings[i].value);
    EXPECT_EQ(range_from->postings[i].hit.object.id, range_to->postings[i].hit.object.id);
  }
  EXPECT_TRUE(*(*to)->PostingsComplete());

  // ---- writes continue after the copy: seq and oid go on, a known id gets a new version (not a new object).
  auto put =
      (*to)->Put(std::vector{Indicator(IdOf(105), "2024-07-01T00:00:00.000Z", "[ipv4-addr:value = '192.0.2.56']"),
                             Indicator(IdOf(7777), "2024-07-01T00:00:00.000Z"),
                             Indicator(IdOf(1), "2024-02-01T00:00:00.000Z", "[ipv4-addr:value = '198.51.100.1']")});
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ((*put)[0].outcome, PutOutcome::kNewVersion);
  EXPECT_EQ((*put)[0].seq, 49);
  EXPECT_EQ((*put)[1].outcome, PutOutcome::kNew);
  EXPECT_EQ((*put)[1].seq, 50);
  EXPECT_EQ((*put)[2].outcome, PutOutcome::kConflict);  // same (id, modified), other content: v1 had markings
  EXPECT_EQ(*(*to)->LastSeq(), 50);
  EXPECT_EQ(PgInt(uri_, "SELECT oid FROM objects WHERE id = '" + IdOf(7777) + "'"), 46);
  from->reset();
  to->reset();

  // ---- accounts: the same organisations, users, keys, groups, communities; the old tokens still work.
  auto accounts_from = OpenAccounts(path_, {.clock = &clock_, .read_only = true});
  auto accounts_to = OpenAccounts(uri_, {.clock = &clock_});
  ASSERT_TRUE(accounts_from.ok() && accounts_to.ok()) << accounts_to.status();
  Accounts& af = **accounts_from;
  Accounts& at = **accounts_to;
  auto orgs_from = af.ListOrganisations();
  auto orgs_to = at.ListOrganisations();
  ASSERT_TRUE(orgs_from.ok() && orgs_to.ok());
  ASSERT_EQ(orgs_to->size(), 3u);
  ASSERT_EQ(orgs_from->size(), orgs_to->size());
  for (size_t i = 0; i < orgs_to->size(); ++i) {
    const Organisation& a = (*orgs_from)[i];
    const Organisation& b = (*orgs_to)[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.host, b.host);
    EXPECT_EQ(a.created.UnixMicros(), b.created.UnixMicros());
  }
  auto users_from = af.ListUsers();
  auto users_to = at.ListUsers();
  ASSERT_TRUE(users_from.ok() && users_to.ok());
  ASSERT_EQ(users_to->size(), 3u);
  for (size_t i = 0; i < users_to->size(); ++i) {
    const User& a = (*users_from)[i];
    const User& b = (*users_to)[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.org_id, b.org_id);
    EXPECT_EQ(a.role, b.role);
    EXPECT_EQ(a.disabled, b.disabled);
    EXPECT_EQ(a.created.UnixMicros(), b.created.UnixMicros());
    auto keys_from = af.ListKeys(a.name);
    auto keys_to = at.ListKeys(b.name);
    ASSERT_TRUE(keys_from.ok() && keys_to.ok());
    ASSERT_EQ(keys_from->size(), keys_to->size()) << a.name;
    for (size_t k = 0; k < keys_to->size(); ++k) {
      const ApiKey& x = (*keys_from)[k];
      const ApiKey& y = (*keys_to)[k];
      EXPECT_EQ(x.key_id, y.key_id);
      EXPECT_EQ(x.user_id, y.user_id);
      EXPECT_EQ(x.created.UnixMicros(), y.created.UnixMicros());
      EXPECT_EQ(x.expires.has_value(), y.expires.has_value());
      if (x.expires && y.expires) {
        EXPECT_EQ(x.expires->UnixMicros(), y.expires->UnixMicros());
      }
      EXPECT_EQ(x.allowed_cidrs, y.allowed_cidrs);
      EXPECT_EQ(x.read_only, y.read_only);
      EXPECT_EQ(x.revoked.has_value(), y.revoked.has_value());
      EXPECT_EQ(x.last_used.has_value(), y.last_used.has_value());
      if (x.last_used && y.last_used) {
        EXPECT_EQ(x.last_used->UnixMicros(), y.last_used->UnixMicros());
      }
    }
  }
  auto alice = at.Authenticate(*ParseToken(alice_token_), "198.51.100.9");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->user.name, "alice");
  EXPECT_EQ(alice->role, Role::kAdmin);
  EXPECT_TRUE(alice->org.host);
  EXPECT_FALSE(alice->read_only);
  auto bob = at.Authenticate(*ParseToken(bob_token_), "192.0.2.200");
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_TRUE(bob->read_only);
  auto bob_elsewhere = at.Authenticate(*ParseToken(bob_token_), "198.51.100.9");
  EXPECT_EQ(bob_elsewhere.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthFailureReason(bob_elsewhere.status()), "address-not-allowed");
  auto gone = at.Authenticate(*ParseToken(revoked_token_), "192.0.2.1");
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthFailureReason(gone.status()), "revoked");
  auto disabled = at.Authenticate(*ParseToken(carol_token_), "192.0.2.1");
  EXPECT_EQ(AuthFailureReason(disabled.status()), "user-disabled");
  auto groups = at.ListSharingGroups();
  auto groups_from = af.ListSharingGroups();
  ASSERT_TRUE(groups.ok() && groups_from.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].id, (*groups_from)[0].id);
  EXPECT_EQ((*groups)[0].name, "Benelux");
  EXPECT_EQ((*groups)[0].description, "ops group");
  EXPECT_EQ((*groups)[0].owner_org, (*groups_from)[0].owner_org);
  EXPECT_EQ((*groups)[0].member_orgs, (*groups_from)[0].member_orgs);
  EXPECT_EQ((*groups)[0].member_orgs.size(), 2u);
  EXPECT_EQ((*groups)[0].created.UnixMicros(), (*groups_from)[0].created.UnixMicros());
  auto communities = at.ListCommunities();
  auto communities_from = af.ListCommunities();
  ASSERT_TRUE(communities.ok() && communities_from.ok());
  ASSERT_EQ(communities->size(), 1u);
  EXPECT_EQ((*communities)[0].name, "csirts-network");
  EXPECT_EQ((*communities)[0].description, "CSIRTs");
  EXPECT_EQ((*communities)[0].member_orgs, (*communities_from)[0].member_orgs);
  EXPECT_EQ((*communities)[0].member_orgs.size(), 2u);
  // New accounts go on after the copied ones.
  ASSERT_TRUE(at.CreateUser("dave", "Partner CSIRT", Role::kAnalyst).ok());
  EXPECT_EQ(at.CreateUser("ALICE", "CERT-Host", Role::kAnalyst).status().code(), absl::StatusCode::kAlreadyExists);
  accounts_from->reset();
  accounts_to->reset();

  // ---- audit log: intact on the target, the same head, the same entries; "who saw X" answers the same.
  auto log_from = audit::OpenAuditLog(path_, {.read_only = true});
  auto log_to = audit::OpenAuditLog(uri_, {.clock = &clock_});
  ASSERT_TRUE(log_from.ok() && log_to.ok()) << log_to.status();
  auto verified = (*log_to)->Verify();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->intact) << verified->detail;
  EXPECT_EQ(verified->entries, 25);
  EXPECT_EQ(verified->head.seq, 25);
  EXPECT_EQ(verified->head.hash, source_head_.hash);
  for (const std::string& object : {IdOf(1), IdOf(102), IdOf(999)}) {
    auto a = (*log_from)->List({.object_id = object, .limit = 1000});
    auto b = (*log_to)->List({.object_id = object, .limit = 1000});
    ASSERT_TRUE(a.ok() && b.ok()) << b.status();
    ASSERT_EQ(a->entries.size(), b->entries.size()) << object;
    for (size_t i = 0; i < a->entries.size(); ++i) {
      EXPECT_EQ(a->entries[i].seq, b->entries[i].seq);
      EXPECT_EQ(a->entries[i].hash, b->entries[i].hash);
      EXPECT_EQ(audit::CanonicalEntry(a->entries[i]), audit::CanonicalEntry(b->entries[i]));
    }
  }
  EXPECT_EQ((*log_to)->List({.object_id = IdOf(1), .limit = 1000})->entries.size(), 25u);
  EXPECT_EQ((*log_to)->List({.object_id = IdOf(102), .limit = 1000})->entries.size(), 5u);
  auto appended = (*log_to)->Append({.action = audit::Action::kAdmin, .user = "cli:test"});
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->seq, 26);
  EXPECT_EQ(appended->prev_hash, source_head_.hash);
  auto reverified = (*log_to)->Verify();
  ASSERT_TRUE(reverified.ok());
  EXPECT_TRUE(reverified->intact);
  EXPECT_EQ(reverified->entries, 26);
  log_from->reset();
  log_to->reset();

  // ---- TAXII: statuses visible to their organisation only, the same cursor key, new statuses go on.
  auto cursor_from = taxii::LoadCursorKey(path_);
  auto cursor_to = taxii::LoadCursorKey(uri_);
  ASSERT_TRUE(cursor_from.ok() && cursor_to.ok()) << cursor_to.status();
  EXPECT_EQ(*cursor_from, *cursor_to);
  EXPECT_EQ(cursor_to->size(), 32u);
  auto statuses_from =
      taxii::OpenStatusLog(path_, {.retention = {.max_statuses = 100, .max_age = std::chrono::hours(24 * 365 * 20)}});
  auto statuses_to =
      taxii::OpenStatusLog(uri_, {.retention = {.max_statuses = 100, .max_age = std::chrono::hours(24 * 365 * 20)}});
  ASSERT_TRUE(statuses_from.ok() && statuses_to.ok()) << statuses_to.status();
  for (int i = 0; i < 3; ++i) {
    const std::string id = fmt::format("2d086da7-4bdc-4f91-900e-d77486753710{}", i);
    const char* org = i == 2 ? kOtherOrg : kOrg;
    auto a = (*statuses_from)->Get(id, org);
    auto b = (*statuses_to)->Get(id, org);
    ASSERT_TRUE(a.ok() && b.ok()) << b.status();
    ASSERT_TRUE(a->has_value() && b->has_value()) << id;
    EXPECT_EQ(taxii::RenderStatus(**a), taxii::RenderStatus(**b));
    EXPECT_FALSE((*statuses_to)->Get(id, i == 2 ? kOrg : kOtherOrg)->has_value());
  }
  taxii::StatusResource later;
  later.id = "99999999-4bdc-4f91-900e-d77486753710";
  ASSERT_TRUE((*statuses_to)->Put(kOrg, later).ok());  // its seq comes after the copied ones (the identity)
  EXPECT_EQ(PgInt(uri_, "SELECT seq FROM taxii_statuses WHERE id = '99999999-4bdc-4f91-900e-d77486753710'"),
            PgInt(uri_, "SELECT max(seq) FROM taxii_statuses WHERE id <> '99999999-4bdc-4f91-900e-d77486753710'") + 1);
  EXPECT_EQ(PgInt(uri_, "SELECT count(*) FROM taxii_statuses"), 4);
}

TEST_F(MigrateTest, EmptyNodeMigrates) {
  {
    auto store = OpenStore(path_);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  auto report = Migrate(Source(), uri_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->last_seq, 0);
  EXPECT_EQ(report->audit_entries, 0);
  EXPECT_EQ(report->audit_source, "");
  for (const MigratedTable& t : report->tables) EXPECT_EQ(t.rows, 0) << t.name;
  EXPECT_EQ(report->tables.size(), 14u);
  auto store = OpenStore(uri_);
  ASSERT_TRUE(store.ok());
  auto put = (*store)->Put(std::vector{Indicator(IdOf(1), "2024-02-01T00:00:00.000Z")});
  ASSERT_TRUE(put.ok());
  EXPECT_EQ((*put)[0].seq, 1);
}

TEST_F(MigrateTest, RefusesANonEmptyTargetAndLeavesItAlone) {
  ASSERT_NO_FATAL_FAILURE(BuildNode());
  {
    auto store = OpenStore(uri_);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Put(std::vector{Indicator(IdOf(42), "2024-02-01T00:00:00.000Z")}).ok());
  }
  const std::string key_before =
      testing::PgText(uri_, "SELECT encode(value, 'hex') FROM store_meta WHERE name = 'id_hash_key'");
  auto report = Migrate(Source(), uri_);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(
      report.status().message(),
      HasSubstr("the target database is not empty (table objects has rows); migrate into a new, empty database"));
  EXPECT_EQ(PgInt(uri_, "SELECT count(*) FROM versions"), 1);
  EXPECT_EQ(PgInt(uri_, "SELECT count(*) FROM organisations"), 0);
  EXPECT_EQ(testing::PgText(uri_, "SELECT encode(value, 'hex') FROM store_meta WHERE name = 'id_hash_key'"),
            key_before);

  // An organisation alone is data too.
  PostgresServer::Get().DropDatabase(uri_);
  uri_ = PostgresServer::Get().CreateDatabase();
  {
    auto accounts = OpenAccounts(uri_);
    ASSERT_TRUE(accounts.ok()) << accounts.status();
    ASSERT_TRUE((*accounts)->CreateOrganisation("Somebody", OrgKind::kLocal).ok());
  }
  report = Migrate(Source(), uri_);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(report.status().message(), HasSubstr("(table organisations has rows)"));
}

TEST_F(MigrateTest, RefusesATargetOthersAreConnectedTo) {
  ASSERT_NO_FATAL_FAILURE(BuildNode());
  auto running = OpenStore(uri_);  // a node still running on the target would keep a stale id hash key
  ASSERT_TRUE(running.ok());
  ASSERT_TRUE((*running)->LastSeq().ok());
  auto report = Migrate(Source(), uri_);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(report.status().message(), HasSubstr("other session(s) are connected to the target database"));
  EXPECT_THAT(report.status().message(), HasSubstr("stop every Concord process using it first"));
  running->reset();
  ASSERT_NO_FATAL_FAILURE(WaitForNoSessions());
  report = Migrate(Source(), uri_);
  EXPECT_TRUE(report.ok()) << report.status();
}

TEST_F(MigrateTest, RefusesASourceAtAnotherSchemaVersion) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    std::string sql = "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);";
    for (const sqlite::Migration& m : sqlite::Migrations()) {
      if (m.version > 5) break;
      sql += std::string(m.sql) + fmt::format("; INSERT INTO schema_migrations VALUES ({}, 0);", m.version);
    }
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto report = Migrate(Source(), uri_);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(report.status().message(),
              HasSubstr(fmt::format("has schema version 5, this binary needs {}: start the node once with this "
                                    "version of Concord",
                                    sqlite::LatestSchemaVersion())));
  // The target was not touched: not even its schema.
  EXPECT_EQ(PgInt(uri_, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);

  // Newer than this binary: refused too.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 0)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  report = Migrate(Source(), uri_);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(report.status().message(), HasSubstr("has schema version 99, newer than this binary supports"));
}

TEST_F(MigrateTest, RefusesASourceWithATableItDoesNotKnow) {
  ASSERT_NO_FATAL_FAILURE(BuildNode());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE sync_peers (id TEXT)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto report = Migrate(Source(), uri_);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(report.status().message(),
              HasSubstr("has a table 'sync_peers' that this version of the migration does not know"));
}

TEST_F(MigrateTest, RefusesAMissingSource) {
  auto report = Migrate({(std::filesystem::path(dir_) / "nothing.db").string(), ""}, uri_);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(report.status().message(), HasSubstr("nothing.db' does not exist"));
}

TEST_F(MigrateTest, AFailureMidCopyLeavesTheTargetEmpty) {
  ASSERT_NO_FATAL_FAILURE(BuildNode());
  int chunks = 0;
  auto report = Migrate(Source(), uri_, {.chunk_rows = 5, .after_chunk = [&](std::string_view table, int64_t rows) {
                                           ++chunks;
                                           if (table == "versions" && rows == 10) return absl::AbortedError("injected");
                                           return absl::OkStatus();
                                         }});
  EXPECT_EQ(report.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(report.status().message(), HasSubstr("injected"));
  EXPECT_GT(chunks, 10);  // accounts and objects were sent before
  ASSERT_NO_FATAL_FAILURE(ExpectTargetEmpty());
  // And the same target then takes the whole migration.
  report = Migrate(Source(), uri_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(PgInt(uri_, "SELECT count(*) FROM versions"), 48);
}

TEST_F(MigrateTest, AKilledMigrationLeavesTheTargetEmpty) {
  ASSERT_NO_FATAL_FAILURE(BuildNode());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child is killed by SIGKILL in the middle of the versions table, its COPY open on the server.
    auto report = Migrate(Source(), uri_, {.chunk_rows = 5, .after_chunk = [](std::string_view table, int64_t rows) {
                                             if (table == "versions" && rows == 20) raise(SIGKILL);
                                             return absl::OkStatus();
                                           }});
    _exit(report.ok() ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  ASSERT_NO_FATAL_FAILURE(WaitForNoSessions());
  ASSERT_NO_FATAL_FAILURE(ExpectTargetEmpty());
  auto report = Migrate(Source(), uri_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->last_seq, 48);
}

TEST_F(MigrateTest, ReadsTheAuditLogFromTheStoreFileWhenThereIsNoAuditFile) {
  // A Concord older than the audit file kept the log in the store's own tables: build the log in an audit file,
  // then put its rows where the older version had them and remove the file.
  ASSERT_NO_FATAL_FAILURE(BuildNode());
  const std::string audit_path = *audit::AuditPathOf(path_);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    const std::string sql = fmt::format(
        "ATTACH DATABASE '{}' AS a; INSERT INTO audit_log SELECT * FROM a.audit_log; "
        "DETACH DATABASE a",
        audit_path);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(audit_path + suffix);
  auto report = Migrate(Source(), uri_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->audit_source, path_);
  EXPECT_EQ(report->audit_entries, 25);
  auto log = audit::OpenAuditLog(uri_, {.read_only = true});
  ASSERT_TRUE(log.ok());
  auto verified = (*log)->Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->intact);
  EXPECT_EQ(verified->head.hash, source_head_.hash);
  EXPECT_EQ((*log)->List({.object_id = IdOf(1), .limit = 1000})->entries.size(), 25u);
}

}  // namespace
}  // namespace concord::store
