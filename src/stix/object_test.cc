#include "stix/object.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "boost/json/parse.hpp"
#include "common/time.h"
#include "stix/test_util.h"

namespace concord::stix {
namespace {

using testing::ExpectFieldError;
using testing::ExpectValid;
using testing::Json;
using testing::ValidIndicator;

TEST(ParseObject, ExtractsColumnsOfAnIndicator) {
  boost::json::object json = ValidIndicator();
  json["created_by_ref"] = testing::kIdentityId;
  json["revoked"] = true;
  json["valid_until"] = "2017-01-01T00:00:00.5Z";
  json["modified"] = "2016-05-01T00:00:00.123Z";
  auto obj = ParseObject(std::move(json));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(obj->id, "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
  EXPECT_EQ(obj->type, "indicator");
  EXPECT_EQ(obj->spec_version, "2.1");
  EXPECT_EQ(obj->kind, ObjectKind::kSdo);
  EXPECT_EQ(obj->created_by_ref, testing::kIdentityId);
  EXPECT_TRUE(obj->revoked);
  EXPECT_EQ(FormatRfc3339(*obj->created), "2016-04-06T20:03:48.000Z");
  EXPECT_EQ(FormatRfc3339(*obj->modified), "2016-05-01T00:00:00.123Z");
  EXPECT_EQ(FormatRfc3339(*obj->VersionTimestamp()), "2016-05-01T00:00:00.123Z");
  EXPECT_EQ(FormatRfc3339(*obj->valid_from), "2016-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(*obj->valid_until), "2017-01-01T00:00:00.5Z");
  EXPECT_EQ(obj->tlp, Tlp::kNone);
  EXPECT_FALSE(obj->distribution.has_value());
}

TEST(ParseObject, ScoHasNoVersionTimestamps) {
  auto obj = ParseObject(Json(R"({"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
                                  "value":"198.51.100.3"})"));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(obj->kind, ObjectKind::kSco);
  EXPECT_EQ(obj->spec_version, "2.1");
  EXPECT_FALSE(obj->created.has_value());
  EXPECT_FALSE(obj->VersionTimestamp().has_value());
}

TEST(ParseObject, SerializeKeepsMemberOrderAndUnknownProperties) {
  const std::string text =
      R"({"x_custom":{"b":1,"a":[true,null]},"type":"indicator","spec_version":"2.1",)"
      R"("id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z",)"
      R"("modified":"2016-04-06T20:03:48.000Z","pattern":"[a:b = 'c']","pattern_type":"stix",)"
      R"("valid_from":"2016-01-01T00:00:00Z","unknown_property":"kept","z_last":-7})";
  auto obj = ParseObject(Json(text));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(Serialize(*obj), text);
}

TEST(ParseObject, CustomTypesRoundTrip) {
  const std::string text =
      R"({"type":"x-mitre-tactic","id":"x-mitre-tactic--2558fd61-8c75-4730-94c4-11926db2a263",)"
      R"("created":"2018-10-17T00:14:20.652Z","modified":"2019-07-19T17:42:06.909Z","spec_version":"2.1",)"
      R"("x_mitre_shortname":"credential-access","name":"Credential Access"})";
  auto obj = ParseObject(Json(text));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(obj->kind, ObjectKind::kCustom);
  EXPECT_EQ(Serialize(*obj), text);
}

TEST(ParseObject, StrictModeRejectsUnknownNonXTypes) {
  ParseOptions strict;
  strict.allow_unknown_types = false;
  auto obj = ParseObject(Json(R"({"type":"widget","id":"widget--2558fd61-8c75-4730-94c4-11926db2a263"})"), strict);
  ASSERT_FALSE(obj.ok());
  EXPECT_EQ(obj.status().message(), "type: unknown type \"widget\" (custom types must start with \"x-\")");
  EXPECT_TRUE(
      ParseObject(Json(R"({"type":"x-widget","id":"x-widget--2558fd61-8c75-4730-94c4-11926db2a263"})"), strict).ok());
  EXPECT_TRUE(ParseObject(Json(R"({"type":"widget","id":"widget--2558fd61-8c75-4730-94c4-11926db2a263"})")).ok());
}

TEST(ParseObject, TypeIsRequired) {
  boost::json::object json = ValidIndicator();
  json.erase("type");
  ExpectFieldError(std::move(json), "type", "is required");
}

TEST(ParseObject, TypeNameSyntax) {
  for (std::string_view bad : {"ab", "Indicator", "1abc", "a--b", "ab_c"}) {
    auto obj = ParseObject(Json(fmt::format(R"({{"type":"{}","id":"x--2558fd61-8c75-4730-94c4-11926db2a263"}})", bad)));
    ASSERT_FALSE(obj.ok()) << bad;
    EXPECT_EQ(ErrorField(obj.status()), "type") << bad;
  }
  EXPECT_TRUE(ParseObject(Json(R"({"type":"abc","id":"abc--2558fd61-8c75-4730-94c4-11926db2a263"})")).ok());
}

TEST(ParseObject, IdPrefixMustBeTheType) {
  boost::json::object json = ValidIndicator();
  json["id"] = "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
  ExpectFieldError(std::move(json), "id",
                   "must start with \"indicator--\", got \"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\"");
}

TEST(ParseObject, IdMustHoldAnRfc4122Uuid) {
  boost::json::object json = ValidIndicator();
  json["id"] = "indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f";  // variant bits 110x
  ExpectFieldError(std::move(json), "id",
                   "must be an identifier (type--UUID), got \"indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f\"");
  json = ValidIndicator();
  json["id"] = 7;
  ExpectFieldError(std::move(json), "id", "must be an identifier (type--UUID), got integer");
}

TEST(ParseObject, SpecVersionRequiredOnSdoOptionalOnSco) {
  boost::json::object json = ValidIndicator();
  json.erase("spec_version");
  ExpectFieldError(std::move(json), "spec_version", "is required");
  json = ValidIndicator();
  json["spec_version"] = "2.0";
  ExpectFieldError(std::move(json), "spec_version", "must be \"2.1\", got \"2.0\"");
  ExpectValid(Json(R"({"type":"url","id":"url--0ee1bd3b-a6ed-5e36-9ddb-1f4b6a0d1ec6","value":"https://x.test/"})"));
}

TEST(ParseObject, CreatedAndModifiedRequiredOnSdo) {
  boost::json::object json = ValidIndicator();
  json.erase("created");
  ExpectFieldError(std::move(json), "created", "is required");
  json = ValidIndicator();
  json.erase("modified");
  ExpectFieldError(std::move(json), "modified", "is required");
}

TEST(ParseObject, CreatedNeedsMillisecondPrecision) {
  boost::json::object json = ValidIndicator();
  json["created"] = "2016-04-06T20:03:48Z";
  ExpectFieldError(std::move(json), "created",
                   "must have at least millisecond precision, got \"2016-04-06T20:03:48Z\"");
  json = ValidIndicator();
  json["modified"] = "2016-04-06T20:03:48.1Z";
  ExpectFieldError(std::move(json), "modified",
                   "must have at least millisecond precision, got \"2016-04-06T20:03:48.1Z\"");
  json = ValidIndicator();
  json["modified"] = "2016-04-06T20:03:48.123456Z";
  ExpectValid(std::move(json));
}

TEST(ParseObject, ModifiedNotBeforeCreated) {
  boost::json::object json = ValidIndicator();
  json["modified"] = "2016-04-06T20:03:47.999Z";
  ExpectFieldError(std::move(json), "modified", "must not be earlier than created (2016-04-06T20:03:48.000Z)");
}

TEST(ParseObject, TimestampsMustBeRfc3339Utc) {
  boost::json::object json = ValidIndicator();
  json["created"] = "2016-04-06 20:03:48.000";
  auto obj = ParseObject(std::move(json));
  ASSERT_FALSE(obj.ok());
  EXPECT_EQ(ErrorField(obj.status()), "created");
  EXPECT_TRUE(ErrorReason(obj.status()).starts_with("\"2016-04-06 20:03:48.000\" is not an RFC 3339 UTC timestamp ("))
      << obj.status();
}

TEST(ParseObject, CustomObjectsWithCreatedAreVersioned) {
  auto obj = ParseObject(Json(R"({"type":"x-thing","id":"x-thing--2558fd61-8c75-4730-94c4-11926db2a263",
                                  "created":"2020-01-01T00:00:00Z"})"));
  ASSERT_FALSE(obj.ok());
  EXPECT_EQ(obj.status().message(), "spec_version: is required");
}

TEST(KindOfType, KnowsAllStixTypes) {
  EXPECT_EQ(KindOfType("attack-pattern"), ObjectKind::kSdo);
  EXPECT_EQ(KindOfType("vulnerability"), ObjectKind::kSdo);
  EXPECT_EQ(KindOfType("sighting"), ObjectKind::kSro);
  EXPECT_EQ(KindOfType("x509-certificate"), ObjectKind::kSco);
  EXPECT_EQ(KindOfType("language-content"), ObjectKind::kMeta);
  EXPECT_EQ(KindOfType("x-mitre-tactic"), ObjectKind::kCustom);
  EXPECT_EQ(KindOfType("bundle"), ObjectKind::kCustom);
}

}  // namespace
}  // namespace concord::stix
