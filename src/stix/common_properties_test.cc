// Common properties (STIX 2.1 §3.2, §7.2.3, §7.3) and the policy extension.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "stix/object.h"
#include "stix/test_util.h"

namespace concord::stix {
namespace {

using testing::ExpectFieldError;
using testing::ExpectValid;
using testing::Json;
using testing::ValidIndicator;

boost::json::object With(std::string_view key, std::string_view value_json) {
  boost::json::object json = ValidIndicator();
  auto v = ParseJson(value_json);
  EXPECT_TRUE(v.ok()) << v.status();
  json[key] = *v;
  return json;
}

constexpr std::string_view kPolicy = "extension-definition--316340be-3f50-4d51-bfe5-65daffa13801";

TEST(CommonProperties, CreatedByRefMustBeAnIdentity) {
  ExpectFieldError(With("created_by_ref", R"("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")"), "created_by_ref",
                   "must be an identifier of type identity, got \"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\"");
}

TEST(CommonProperties, RevokedMustBeBoolean) {
  ExpectFieldError(With("revoked", R"("true")"), "revoked", "must be a boolean, got string");
}

TEST(CommonProperties, LabelsAreANonEmptyListOfStrings) {
  ExpectFieldError(With("labels", R"(["a", 3])"), "labels[1]", "must be a string, got integer");
  ExpectFieldError(With("labels", "[]"), "labels", "must not be an empty list (omit the property instead)");
  ExpectFieldError(With("labels", R"("a")"), "labels", "must be a list, got string");
}

TEST(CommonProperties, ConfidenceIsAnIntegerFrom0To100) {
  ExpectFieldError(With("confidence", "101"), "confidence", "must be from 0 to 100, got 101");
  ExpectFieldError(With("confidence", "-1"), "confidence", "must be from 0 to 100, got -1");
  ExpectFieldError(With("confidence", "50.5"), "confidence", "must be an integer, got 50.5");
  ExpectValid(With("confidence", "0"));
  ExpectValid(With("confidence", "100"));
}

TEST(CommonProperties, LangIsAString) { ExpectFieldError(With("lang", "1"), "lang", "must be a string, got integer"); }

TEST(ExternalReferences, NeedSourceName) {
  ExpectFieldError(With("external_references", R"([{"url":"https://x.test"}])"), "external_references[0].source_name",
                   "is required");
}

TEST(ExternalReferences, NeedOneOfDescriptionUrlExternalId) {
  ExpectFieldError(With("external_references", R"([{"source_name":"a","url":"u"},{"source_name":"b"}])"),
                   "external_references[1]", "needs at least one of description, url or external_id");
}

TEST(ExternalReferences, CveIdsHaveTheCveForm) {
  ExpectFieldError(With("external_references", R"([{"source_name":"x","url":"u"},{"source_name":"x","url":"u"},
                                                    {"source_name":"cve","external_id":"CVE-2016-123"}])"),
                   "external_references[2].external_id", "must look like CVE-2021-44228, got \"CVE-2016-123\"");
  ExpectFieldError(With("external_references", R"([{"source_name":"cve","url":"https://x.test"}])"),
                   "external_references[0].external_id", "is required when source_name is \"cve\"");
  ExpectFieldError(With("external_references", R"([{"source_name":"cve","external_id":"CVE-2016-01234"}])"),
                   "external_references[0].external_id", "must look like CVE-2021-44228, got \"CVE-2016-01234\"");
  ExpectValid(With("external_references", R"([{"source_name":"cve","external_id":"CVE-2021-44228"},
                                              {"source_name":"cve","external_id":"CVE-2014-0160"}])"));
}

TEST(ExternalReferences, CapecIdsHaveTheCapecForm) {
  ExpectFieldError(With("external_references", R"([{"source_name":"capec","external_id":"capec-163"}])"),
                   "external_references[0].external_id", "must look like CAPEC-163, got \"capec-163\"");
  ExpectValid(With("external_references", R"([{"source_name":"capec","external_id":"CAPEC-1"}])"));
}

TEST(ExternalReferences, HashesAreChecked) {
  ExpectFieldError(With("external_references", R"([{"source_name":"x","url":"u","hashes":{"SHA-256":"abc"}}])"),
                   "external_references[0].hashes.SHA-256", "must be 64 hex digits for SHA-256, got \"abc\"");
}

TEST(ObjectMarkingRefs, MustBeMarkingDefinitionIds) {
  ExpectFieldError(With("object_marking_refs", R"(["identity--f431f809-377b-45e0-aa1c-6a4751cae5ff"])"),
                   "object_marking_refs[0]",
                   "must be an identifier of type marking-definition, got "
                   "\"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff\"");
}

TEST(ObjectMarkingRefs, MostRestrictiveTlpWins) {
  auto obj = ParseObject(With("object_marking_refs", R"([
      "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
      "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
      "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
      "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168"])"));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(obj->tlp, Tlp::kAmberStrict);
}

TEST(ObjectMarkingRefs, Tlp1WhiteMapsToClear) {
  auto obj =
      ParseObject(With("object_marking_refs", R"(["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"])"));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(obj->tlp, Tlp::kClear);
}

TEST(GranularMarkings, SelectorsResolveInsideTheObject) {
  boost::json::object json = With("granular_markings", R"([
      {"marking_ref":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
       "selectors":["pattern","kill_chain_phases.[0].phase_name","kill_chain_phases.[0]"]}])");
  json["kill_chain_phases"] = Json(R"({"k":[{"kill_chain_name":"lm","phase_name":"recon"}]})")["k"];
  ExpectValid(json);
  json["granular_markings"].get_array()[0].get_object()["selectors"].get_array().push_back("kill_chain_phases.[1]");
  ExpectFieldError(json, "granular_markings[0].selectors[3]",
                   "\"kill_chain_phases.[1]\" does not select anything in this object");
}

TEST(GranularMarkings, UnknownPropertySelectorIsAnError) {
  ExpectFieldError(With("granular_markings", R"([{"lang":"en","selectors":["pattern","description"]}])"),
                   "granular_markings[0].selectors[1]", "\"description\" does not select anything in this object");
  ExpectFieldError(With("granular_markings", R"([{"lang":"en","selectors":["pattern.[0]"]}])"),
                   "granular_markings[0].selectors[0]", "\"pattern.[0]\" does not select anything in this object");
}

TEST(GranularMarkings, NeedMarkingRefOrLangButNotBoth) {
  ExpectFieldError(With("granular_markings", R"([{"selectors":["pattern"]}])"), "granular_markings[0]",
                   "needs marking_ref or lang");
  ExpectFieldError(
      With(
          "granular_markings",
          R"([{"lang":"en","marking_ref":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da","selectors":["id"]}])"),
      "granular_markings[0].lang", "must not be present together with marking_ref");
  ExpectFieldError(With("granular_markings", R"([{"lang":"en"}])"), "granular_markings[0].selectors", "is required");
}

TEST(Extensions, KeysAreExtensionDefinitionIdsOrExtNames) {
  ExpectFieldError(With("extensions", R"({"my-extension":{"a":1}})"), "extensions.my-extension",
                   "must be an extension-definition id or a predefined extension name ending in -ext");
  ExpectFieldError(With("extensions", R"({"extension-definition--1234":{"extension_type":"property-extension"}})"),
                   "extensions.extension-definition--1234", "is not a valid extension-definition identifier");
  ExpectFieldError(With("extensions", "{}"), "extensions", "must not be empty (omit the property instead)");
}

TEST(Extensions, ExtensionDefinitionEntriesNeedExtensionType) {
  ExpectFieldError(With("extensions", R"({"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e":{"rank":5}})"),
                   "extensions.extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e.extension_type",
                   "is required");
  ExpectFieldError(
      With("extensions", R"({"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e":{"extension_type":"x"}})"),
      "extensions.extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e.extension_type",
      "must be one of new-sdo, new-sco, new-sro, property-extension, toplevel-property-extension, got \"x\"");
  ExpectValid(With("extensions", R"({"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e":
                                      {"extension_type":"property-extension","rank":5}})"));
}

TEST(PolicyExtension, ExtractsDistributionGroupAndCommunities) {
  auto obj = ParseObject(With("extensions", fmt::format(R"({{"{}":{{"extension_type":"property-extension",
      "distribution":4,"sharing_group_ref":"x-concord-sharing-group--5e0a5b52-7f0d-4c1b-9d3e-2f1a0b6c7d8e",
      "communities":["le-24-7","csirts-network"]}}}})",
                                                        kPolicy)));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(obj->distribution, 4);
  EXPECT_EQ(obj->sharing_group_ref, "x-concord-sharing-group--5e0a5b52-7f0d-4c1b-9d3e-2f1a0b6c7d8e");
  EXPECT_EQ(obj->communities, (std::vector<std::string>{"le-24-7", "csirts-network"}));
}

TEST(PolicyExtension, BadValuesAreFieldErrors) {
  const std::string prefix = fmt::format("extensions.{}.", kPolicy);
  auto with_policy = [](std::string_view body) {
    return With("extensions", fmt::format(R"({{"{}":{{"extension_type":"property-extension",{}}}}})", kPolicy, body));
  };
  ExpectFieldError(with_policy(R"("distribution":5)"), prefix + "distribution", "must be from 0 to 4, got 5");
  ExpectFieldError(with_policy(R"("distribution":"all")"), prefix + "distribution", "must be an integer, got string");
  ExpectFieldError(with_policy(R"("distribution":4)"), prefix + "sharing_group_ref",
                   "is required when distribution is 4 (sharing group)");
  ExpectFieldError(with_policy(R"("sharing_group_ref":"group-7")"), prefix + "sharing_group_ref",
                   "must be an identifier (type--UUID), got \"group-7\"");
  ExpectFieldError(with_policy(R"("communities":["a",""])"), prefix + "communities[1]", "must not be empty");
  ExpectFieldError(with_policy(R"("communities":"a")"), prefix + "communities", "must be a list, got string");
}

}  // namespace
}  // namespace concord::stix
