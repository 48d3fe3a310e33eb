#include "taxii/collection.h"

#include <vector>

#include "boost/json/parse.hpp"
#include "common/status.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "stix/object.h"
#include "store/store.h"

namespace concord::taxii {
namespace {

Collection Make() {
  Collection c;
  c.id = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";
  c.title = "Shared";
  c.read = {.orgs = {"identity--org-a"}, .roles = {"duty-officer"}};
  c.write = {.orgs = {"identity--org-a"}};
  return c;
}

TEST(Collection, RightsByOrganisationAndRole) {
  const Collection c = Make();
  EXPECT_TRUE(CanRead(c, {.org_id = "identity--org-a", .role = "analyst"}));
  EXPECT_TRUE(CanWrite(c, {.org_id = "identity--org-a", .role = "analyst"}));
  EXPECT_FALSE(CanWrite(c, {.org_id = "identity--org-a", .role = "analyst", .read_only = true}));
  EXPECT_TRUE(CanRead(c, {.org_id = "identity--org-b", .role = "duty-officer"}));
  EXPECT_FALSE(CanWrite(c, {.org_id = "identity--org-b", .role = "duty-officer"}));
  EXPECT_FALSE(CanRead(c, {.org_id = "identity--org-b", .role = "analyst"}));
  EXPECT_FALSE(CanRead(c, {}));  // empty org and role match nothing
}

TEST(Collection, StarGrantsEveryone) {
  Collection c = Make();
  c.read = {.roles = {"*"}};
  EXPECT_TRUE(CanRead(c, {.org_id = "identity--x", .role = "sync"}));
  EXPECT_FALSE(CanWrite(c, {.org_id = "identity--x", .role = "sync"}));
}

TEST(Collection, Validation) {
  EXPECT_TRUE(ValidateCollection(Make()).ok());
  Collection bad = Make();
  bad.id = "not-a-uuid";
  EXPECT_EQ(ValidateCollection(bad).message(), "id: not a UUID: 'not-a-uuid'");
  bad = Make();
  bad.title = "";
  EXPECT_EQ(ValidateCollection(bad).message(), "title: required");
  bad = Make();
  bad.alias = "a b";
  EXPECT_EQ(ValidateCollection(bad).message(), "alias: 'a b' is not URL-safe ([A-Za-z0-9._~-])");
  bad.alias = "11111111-1111-4111-8111-111111111111";
  EXPECT_EQ(ValidateCollection(bad).message(), "alias: must not look like a collection id (a UUID)");

  std::vector<Collection> two{Make(), Make()};
  absl::Status s = ValidateCollections(two);
  EXPECT_EQ(s.message(), "collections[1].id: duplicate");
  EXPECT_EQ(ErrorField(s), "collections[1].id");
  two[1].id = "11111111-1111-4111-8111-111111111111";
  two[1].title = "";
  EXPECT_EQ(ValidateCollections(two).message(), "collections[1].title: required");
}

TEST(Collection, FindByIdOrAlias) {
  std::vector<Collection> cs{Make()};
  cs[0].alias = "shared";
  EXPECT_EQ(FindCollection(cs, "91A7B528-80EB-42ED-A74D-C6FBD5A26116"), &cs[0]);
  EXPECT_EQ(FindCollection(cs, "shared"), &cs[0]);
  EXPECT_EQ(FindCollection(cs, "Shared"), nullptr);
  EXPECT_EQ(FindCollection(cs, "other"), nullptr);
}

constexpr char kOrgA[] = "identity--0a0a0a0a-0000-4000-8000-000000000001";
constexpr char kOrgB[] = "identity--0b0b0b0b-0000-4000-8000-000000000002";

store::StoredObject Stored(std::string type, stix::Tlp tlp, std::string creator, std::string json = "{}") {
  store::StoredObject o;
  o.id = type + "--00000000-0000-4000-8000-000000000001";
  o.type = std::move(type);
  o.tlp = tlp;
  o.created_by_ref = std::move(creator);
  o.json = std::move(json);
  return o;
}

TEST(Selection, EmptySelectsEverything) {
  const Selection all;
  EXPECT_TRUE(all.empty());
  EXPECT_TRUE(Selects(all, Stored("malware", stix::Tlp::kRed, "")));
  EXPECT_TRUE(Selects(all, Stored("ipv4-addr", stix::Tlp::kNone, "", "not even JSON")));
}

TEST(Selection, TypesAndMaximumTlp) {
  const Selection s{.types = {"indicator", "report"}, .max_tlp = stix::Tlp::kGreen};
  EXPECT_TRUE(Selects(s, Stored("indicator", stix::Tlp::kGreen, kOrgA)));
  EXPECT_TRUE(Selects(s, Stored("report", stix::Tlp::kClear, kOrgA)));
  EXPECT_TRUE(Selects(s, Stored("indicator", stix::Tlp::kNone, kOrgA)));  // unmarked: governed by distribution
  EXPECT_FALSE(Selects(s, Stored("indicator", stix::Tlp::kAmber, kOrgA)));
  EXPECT_FALSE(Selects(s, Stored("indicator", stix::Tlp::kAmberStrict, kOrgA)));
  EXPECT_FALSE(Selects(s, Stored("indicator", stix::Tlp::kRed, kOrgA)));
  EXPECT_FALSE(Selects(s, Stored("malware", stix::Tlp::kClear, kOrgA)));
  const Selection amber{.max_tlp = stix::Tlp::kAmber};
  EXPECT_TRUE(Selects(amber, Stored("malware", stix::Tlp::kAmber, kOrgA)));
  EXPECT_FALSE(Selects(amber, Stored("malware", stix::Tlp::kAmberStrict, kOrgA)));
}

TEST(Selection, CreatorAndLabels) {
  const Selection by_a{.created_by = {kOrgA}};
  EXPECT_TRUE(Selects(by_a, Stored("indicator", stix::Tlp::kNone, kOrgA)));
  EXPECT_FALSE(Selects(by_a, Stored("indicator", stix::Tlp::kNone, kOrgB)));
  EXPECT_FALSE(Selects(by_a, Stored("ipv4-addr", stix::Tlp::kNone, "")));  // SCOs have no creator

  const Selection labelled{.labels = {"phishing", "ransomware"}};
  EXPECT_TRUE(Selects(labelled, Stored("indicator", stix::Tlp::kNone, kOrgA, R"({"labels":["apt","ransomware"]})")));
  EXPECT_FALSE(Selects(labelled, Stored("indicator", stix::Tlp::kNone, kOrgA, R"({"labels":["Ransomware"]})")));
  EXPECT_FALSE(Selects(labelled, Stored("indicator", stix::Tlp::kNone, kOrgA, R"({"labels":"phishing"})")));
  EXPECT_FALSE(Selects(labelled, Stored("indicator", stix::Tlp::kNone, kOrgA, R"({"name":"x"})")));
  EXPECT_FALSE(Selects(labelled, Stored("indicator", stix::Tlp::kNone, kOrgA, "{broken")));

  // Every criterion must hold.
  const Selection both{.created_by = {kOrgA}, .labels = {"phishing"}};
  EXPECT_TRUE(Selects(both, Stored("indicator", stix::Tlp::kNone, kOrgA, R"({"labels":["phishing"]})")));
  EXPECT_FALSE(Selects(both, Stored("indicator", stix::Tlp::kNone, kOrgB, R"({"labels":["phishing"]})")));
}

stix::Object Written(std::string type, stix::Tlp tlp, std::string creator, std::string_view extra_json = "{}") {
  stix::Object o;
  o.type = std::move(type);
  o.tlp = tlp;
  o.created_by_ref = std::move(creator);
  o.json = boost::json::parse(extra_json).as_object();
  return o;
}

TEST(Selection, WritesOutsideNameTheProperty) {
  const Selection s{.types = {"indicator"}, .max_tlp = stix::Tlp::kGreen, .created_by = {kOrgA}, .labels = {"phishing"}};
  EXPECT_TRUE(CheckSelected(s, Written("indicator", stix::Tlp::kGreen, kOrgA, R"({"labels":["phishing"]})")).ok());
  absl::Status type = CheckSelected(s, Written("malware", stix::Tlp::kGreen, kOrgA));
  EXPECT_EQ(type.message(), "type: 'malware' is not in this collection (it holds indicator)");
  EXPECT_EQ(ErrorField(type), "type");
  EXPECT_EQ(CheckSelected(s, Written("indicator", stix::Tlp::kAmberStrict, kOrgA)).message(),
            "object_marking_refs: TLP:amber+strict is above this collection's maximum, TLP:green");
  EXPECT_EQ(CheckSelected(s, Written("indicator", stix::Tlp::kGreen, kOrgB)).message(),
            std::string("created_by_ref: this collection holds objects created by ") + kOrgA + " only");
  EXPECT_EQ(CheckSelected(s, Written("indicator", stix::Tlp::kGreen, kOrgA, R"({"labels":["apt"]})")).message(),
            "labels: this collection holds objects labelled phishing only");
}

TEST(Collection, ValidationOfRightsAndSelection) {
  Collection bad = Make();
  bad.read.roles = {"analyst", "analist"};
  EXPECT_EQ(ValidateCollection(bad).message(),
            "read.roles[1]: unknown role 'analist' (expected admin, org-admin, analyst, duty-officer, read-only, sync or \"*\")");
  bad = Make();
  bad.write.orgs = {""};
  EXPECT_EQ(ValidateCollection(bad).message(), "write.orgs[0]: empty organisation");
  bad = Make();
  bad.selection.types = {"indicator", "Indicator"};
  EXPECT_EQ(ValidateCollection(bad).message(), "types[1]: 'Indicator' is not a STIX type name");
  bad = Make();
  bad.selection.created_by = {"CERT-EU"};
  EXPECT_EQ(ValidateCollection(bad).message(), "created_by[0]: 'CERT-EU' is not an identity id (identity--UUID)");
  bad = Make();
  bad.selection.labels = {""};
  EXPECT_EQ(ValidateCollection(bad).message(), "labels[0]: empty label");
  bad = Make();
  bad.selection.max_tlp = stix::Tlp::kNone;
  EXPECT_EQ(ErrorField(ValidateCollection(bad)), "max_tlp");
  Collection good = Make();
  good.read.roles = {"*", "sync"};
  good.selection = {.types = {"indicator", "x-acme-thing"}, .max_tlp = stix::Tlp::kRed, .created_by = {kOrgA}, .labels = {"a"}};
  EXPECT_TRUE(ValidateCollection(good).ok()) << ValidateCollection(good);
}

TEST(Collection, OrganisationsResolveToIdentityIds) {
  Collection c = Make();
  c.read.orgs = {"CERT-EU", "*", kOrgB};
  c.write.orgs = {"Nowhere"};
  auto lookup = [](std::string_view org) -> absl::StatusOr<std::string> {
    if (org == "CERT-EU" || org == kOrgA) return std::string(kOrgA);
    if (org == kOrgB) return std::string(kOrgB);
    return absl::NotFoundError(fmt::format("no organisation '{}'", org));
  };
  absl::Status s = ResolveOrganisations(c, lookup);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "write.orgs[0]: no organisation 'Nowhere'");
  EXPECT_EQ(c.read.orgs, (std::vector<std::string>{kOrgA, "*", kOrgB}));
  c.write.orgs = {"CERT-EU"};
  ASSERT_TRUE(ResolveOrganisations(c, lookup).ok());
  EXPECT_EQ(c.write.orgs, std::vector<std::string>{kOrgA});
}

}  // namespace
}  // namespace concord::taxii
