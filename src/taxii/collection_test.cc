#include "taxii/collection.h"

#include <vector>

#include "common/status.h"
#include "gtest/gtest.h"

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

}  // namespace
}  // namespace concord::taxii
