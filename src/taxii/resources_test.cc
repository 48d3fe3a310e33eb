#include "taxii/resources.h"

#include <string>
#include <vector>

#include "boost/json.hpp"
#include "gtest/gtest.h"
#include "store/testing/objects.h"

namespace concord::taxii {
namespace {

using store::testing::Ts;

boost::json::value J(std::string_view text) { return boost::json::parse(text); }

store::StoredObject Stored(std::string id, std::string modified, std::string added, std::string json) {
  store::StoredObject o;
  o.id = std::move(id);
  o.type = "indicator";
  o.spec_version = "2.1";
  o.modified = std::move(modified);
  o.added = Ts(added);
  o.json = std::move(json);
  return o;
}

TEST(Resources, Discovery) {
  EXPECT_EQ(J(RenderDiscovery({.title = "Concord node", .description = "CSIRT node", .contact = "soc@example.org",
                               .default_root = "https://n.example/taxii2/root/",
                               .api_roots = {"https://n.example/taxii2/root/"}})),
            J(R"({"title":"Concord node","description":"CSIRT node","contact":"soc@example.org",
                  "default":"https://n.example/taxii2/root/","api_roots":["https://n.example/taxii2/root/"]})"));
  EXPECT_EQ(J(RenderDiscovery({.title = "t"})), J(R"({"title":"t"})"));
}

TEST(Resources, ApiRoot) {
  EXPECT_EQ(J(RenderApiRoot({.title = "Root", .description = "d", .max_content_length = 1048576})),
            J(R"({"title":"Root","description":"d","versions":["application/taxii+json;version=2.1"],
                  "max_content_length":1048576})"));
}

Collection Sample() {
  Collection c;
  c.id = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";
  c.title = "Everything";
  c.description = "All you may see";
  c.alias = "all";
  c.read.roles = {"*"};
  c.write.roles = {"analyst"};
  return c;
}

TEST(Resources, CollectionForCallers) {
  const Collection c = Sample();
  EXPECT_EQ(J(RenderCollection(c, {.org_id = "identity--a", .role = "analyst"})),
            J(R"({"id":"91a7b528-80eb-42ed-a74d-c6fbd5a26116","title":"Everything","description":"All you may see",
                  "alias":"all","can_read":true,"can_write":true,"media_types":["application/stix+json;version=2.1"]})"));
  EXPECT_EQ(J(RenderCollection(c, {.org_id = "identity--a", .role = "analyst", .read_only = true})).at("can_write"), false);
  EXPECT_EQ(J(RenderCollection(c, {.org_id = "identity--a", .role = "sync"})).at("can_write"), false);
}

TEST(Resources, CollectionsListsOnlyUsableOnes) {
  Collection hidden = Sample();
  hidden.id = "11111111-1111-4111-8111-111111111111";
  hidden.alias = "";
  hidden.read = {.orgs = {"identity--b"}};
  hidden.write = {};
  std::vector<Collection> cs{Sample(), hidden};
  auto body = J(RenderCollections(cs, {.org_id = "identity--a", .role = "read-only"}));
  ASSERT_EQ(body.at("collections").as_array().size(), 1u);
  EXPECT_EQ(body.at("collections").at(0).at("id"), "91a7b528-80eb-42ed-a74d-c6fbd5a26116");
  EXPECT_EQ(J(RenderCollections({}, {})), J("{}"));
}

TEST(Resources, EnvelopeSplicesStoredJson) {
  std::vector<store::StoredObject> objects{
      Stored("indicator--1", "2024-01-01T00:00:00.000Z", "2025-01-01T00:00:00Z", R"({"type":"indicator","id":"indicator--1","x":[1,2]})"),
      Stored("indicator--2", "2024-01-02T00:00:00.000Z", "2025-01-02T00:00:00Z", R"({"type":"indicator","id":"indicator--2"})")};
  const std::string text = RenderEnvelope(objects, {.more = true, .next = "abc-_"});
  EXPECT_EQ(text, R"({"more":true,"next":"abc-_","objects":[{"type":"indicator","id":"indicator--1","x":[1,2]},)"
                  R"({"type":"indicator","id":"indicator--2"}]})");
  EXPECT_EQ(RenderEnvelope(std::span<const store::StoredObject>(), {}), R"({"more":false})");
  std::vector<std::string> raw{R"({"a":1})"};
  EXPECT_EQ(RenderEnvelope(std::span<const std::string>(raw), {.more = false, .next = "ignored"}), R"({"more":false,"objects":[{"a":1}]})");
}

TEST(Resources, ManifestAndVersions) {
  std::vector<store::StoredObject> objects{
      Stored("indicator--1", "2024-01-01T00:00:00.000Z", "2025-01-01T00:00:00.5Z", "{}"),
      Stored("indicator--1", "", "2025-01-02T00:00:00Z", "{}")};
  objects[1].created = "2023-12-31T00:00:00Z";
  EXPECT_EQ(J(RenderManifest(objects, {.more = true, .next = "n"})),
            J(R"({"more":true,"next":"n","objects":[
                {"id":"indicator--1","date_added":"2025-01-01T00:00:00.500000Z","version":"2024-01-01T00:00:00.000Z",
                 "media_type":"application/stix+json;version=2.1"},
                {"id":"indicator--1","date_added":"2025-01-02T00:00:00.000000Z","version":"2023-12-31T00:00:00Z",
                 "media_type":"application/stix+json;version=2.1"}]})"));
  EXPECT_EQ(J(RenderVersions(objects, {})),
            J(R"({"more":false,"versions":["2024-01-01T00:00:00.000Z","2023-12-31T00:00:00Z"]})"));
  EXPECT_EQ(J(RenderManifest({}, {})), J(R"({"more":false})"));
}

TEST(Resources, Status) {
  StatusResource s;
  s.id = "2d086da7-4bdc-4f91-900e-d77486753710";
  s.complete = true;
  s.request_timestamp = Ts("2016-11-02T12:34:34.123456Z");
  s.successes = {{.id = "indicator--1", .version = "2017-01-27T13:49:53.935Z"}};
  s.failures = {{.id = "malware--2", .version = "2017-01-27T13:49:53.935Z", .message = "pattern: unexpected ']' at 23"}};
  EXPECT_EQ(J(RenderStatus(s)), J(R"({"id":"2d086da7-4bdc-4f91-900e-d77486753710","status":"complete",
      "request_timestamp":"2016-11-02T12:34:34.123456Z","total_count":2,"success_count":1,
      "successes":[{"id":"indicator--1","version":"2017-01-27T13:49:53.935Z"}],"failure_count":1,
      "failures":[{"id":"malware--2","version":"2017-01-27T13:49:53.935Z","message":"pattern: unexpected ']' at 23"}],
      "pending_count":0})"));
  StatusResource pending{.id = "x", .complete = false, .pendings = {{.id = "a", .version = "v"}}, .total_count = 5};
  EXPECT_EQ(J(RenderStatus(pending)), J(R"({"id":"x","status":"pending","total_count":5,"success_count":0,
      "failure_count":0,"pending_count":1,"pendings":[{"id":"a","version":"v"}]})"));
}

TEST(Resources, DateAddedHeaders) {
  std::vector<store::StoredObject> objects{Stored("a", "", "2025-01-02T00:00:00.123Z", "{}"),
                                           Stored("b", "", "2025-01-01T00:00:00Z", "{}"),
                                           Stored("c", "", "2025-01-03T10:11:12.1234567Z", "{}")};
  http::Headers h;
  SetDateAddedHeaders(h, objects);
  EXPECT_EQ(*h.Get("X-TAXII-Date-Added-First"), "2025-01-01T00:00:00.000000Z");
  EXPECT_EQ(*h.Get("X-TAXII-Date-Added-Last"), "2025-01-03T10:11:12.123456Z");
  http::Headers empty;
  SetDateAddedHeaders(empty, {});
  EXPECT_FALSE(empty.Has("X-TAXII-Date-Added-First"));
}

TEST(Resources, TaxiiResponseSetsMediaType) {
  http::Response r = TaxiiResponse(202, "{}");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(*r.headers.Get("Content-Type"), "application/taxii+json;version=2.1");
}

}  // namespace
}  // namespace concord::taxii
