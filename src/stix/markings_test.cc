#include <gtest/gtest.h>

#include "stix/object.h"
#include "stix/test_util.h"

namespace concord::stix {
namespace {

using testing::ExpectFieldError;
using testing::ExpectValid;
using testing::Json;

TEST(Tlp, NamesRoundTrip) {
  for (Tlp t : {Tlp::kNone, Tlp::kClear, Tlp::kGreen, Tlp::kAmber, Tlp::kAmberStrict, Tlp::kRed}) {
    EXPECT_EQ(ParseTlpName(TlpName(t)), t);
  }
  EXPECT_EQ(TlpName(Tlp::kAmberStrict), "amber+strict");
  EXPECT_EQ(ParseTlpName("white"), std::nullopt);
}

TEST(Tlp, StandardMarkingIdsMapToLevels) {
  EXPECT_EQ(TlpOfMarking("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"), Tlp::kClear);
  EXPECT_EQ(TlpOfMarking("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"), Tlp::kGreen);
  EXPECT_EQ(TlpOfMarking("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"), Tlp::kAmber);
  EXPECT_EQ(TlpOfMarking("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"), Tlp::kRed);
  EXPECT_EQ(TlpOfMarking("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"), Tlp::kClear);
  EXPECT_EQ(TlpOfMarking("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"), Tlp::kGreen);
  EXPECT_EQ(TlpOfMarking("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"), Tlp::kAmber);
  EXPECT_EQ(TlpOfMarking("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"), Tlp::kAmberStrict);
  EXPECT_EQ(TlpOfMarking("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"), Tlp::kRed);
  EXPECT_EQ(TlpOfMarking("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ec"), std::nullopt);
  EXPECT_EQ(TlpMarkingId(Tlp::kAmberStrict), "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003");
  EXPECT_EQ(TlpMarkingId(Tlp::kNone), "");
}

TEST(MarkingDefinition, Tlp2DefinitionsParse) {
  auto obj = ParseObject(Json(R"({"type":"marking-definition","spec_version":"2.1",
      "id":"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1","created":"2022-10-01T00:00:00.000Z",
      "name":"TLP:RED","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
      {"extension_type":"property-extension","tlp_2_0":"red"}}})"));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(obj->kind, ObjectKind::kMeta);
  EXPECT_FALSE(obj->modified.has_value());
}

TEST(MarkingDefinition, Tlp2LevelMustUseItsStandardId) {
  ExpectFieldError(Json(R"({"type":"marking-definition","spec_version":"2.1",
      "id":"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1","created":"2022-10-01T00:00:00.000Z",
      "name":"TLP:CLEAR","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
      {"extension_type":"property-extension","tlp_2_0":"clear"}}})"),
                   "id",
                   "TLP clear must use the standard marking marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487, "
                   "got \"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1\"");
}

TEST(MarkingDefinition, StatementNeedsText) {
  ExpectValid(Json(R"({"type":"marking-definition","spec_version":"2.1",
      "id":"marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168","created":"2017-06-01T00:00:00.000Z",
      "definition_type":"statement","definition":{"statement":"Copyright 2017, The MITRE Corporation"}})"));
  ExpectFieldError(Json(R"({"type":"marking-definition","spec_version":"2.1",
      "id":"marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168","created":"2017-06-01T00:00:00.000Z",
      "definition_type":"statement","definition":{"statement":1}})"),
                   "definition.statement", "must be a string, got integer");
}

TEST(MarkingDefinition, NeedsCreatedButNoModified) {
  ExpectFieldError(Json(R"({"type":"marking-definition","spec_version":"2.1",
      "id":"marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168",
      "definition_type":"statement","definition":{"statement":"s"}})"),
                   "created", "is required");
}

}  // namespace
}  // namespace concord::stix
