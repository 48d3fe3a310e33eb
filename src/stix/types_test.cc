// Type-specific properties of the STIX 2.1 SDOs, SROs, SCOs and meta objects.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "stix/object.h"
#include "stix/test_util.h"

namespace concord::stix {
namespace {

using testing::ExpectFieldError;
using testing::ExpectValid;
using testing::Json;
using testing::Sdo;

constexpr std::string_view kUuid = "6b4ad6e1-bf6c-4a5e-9ab1-b35ba7e2bf9a";
constexpr std::string_view kRef = "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b";

boost::json::object Of(std::string_view type, std::string_view body) { return Sdo(type, kUuid, body); }

TEST(Sdo, NamedTypesRequireName) {
  for (std::string_view type : {"attack-pattern", "campaign", "course-of-action", "identity", "incident",
                                "infrastructure", "intrusion-set", "threat-actor", "tool", "vulnerability"}) {
    SCOPED_TRACE(type);
    ExpectFieldError(Of(type, "{}"), "name", "is required");
    ExpectFieldError(Of(type, R"({"name":5})"), "name", "must be a string, got integer");
    ExpectValid(Of(type, R"({"name":"n"})"));
  }
}

TEST(Sdo, KillChainPhasesNeedBothNames) {
  ExpectFieldError(Of("attack-pattern", R"({"name":"n","kill_chain_phases":[{"kill_chain_name":"k"}]})"),
                   "kill_chain_phases[0].phase_name", "is required");
}

TEST(Indicator, RequiresPatternPatternTypeValidFrom) {
  ExpectFieldError(Of("indicator", R"({"pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"})"), "pattern",
                   "is required");
  ExpectFieldError(Of("indicator", R"({"pattern":"[a:b = 1]","valid_from":"2016-01-01T00:00:00Z"})"), "pattern_type",
                   "is required");
  ExpectFieldError(Of("indicator", R"({"pattern":"[a:b = 1]","pattern_type":"stix"})"), "valid_from", "is required");
}

TEST(Indicator, ValidUntilMustBeLaterThanValidFrom) {
  ExpectFieldError(Of("indicator", R"({"pattern":"p","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z",
                                      "valid_until":"2016-01-01T00:00:00.000Z"})"),
                   "valid_until", "must be later than valid_from (2016-01-01T00:00:00Z)");
}

TEST(Indicator, PatternSyntaxIsNotCheckedHere) {
  ExpectValid(
      Of("indicator", R"({"pattern":"[not a pattern","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"})"));
}

TEST(Malware, RequiresIsFamilyAndNameWhenFamily) {
  ExpectFieldError(Of("malware", R"({"name":"x"})"), "is_family", "is required");
  ExpectFieldError(Of("malware", R"({"is_family":true})"), "name", "is required when is_family is true");
  ExpectValid(Of("malware", R"({"is_family":false})"));
}

TEST(Malware, LastSeenNotBeforeFirstSeen) {
  ExpectFieldError(Of("malware", R"({"is_family":false,"first_seen":"2020-01-02T00:00:00Z",
                                    "last_seen":"2020-01-01T00:00:00Z"})"),
                   "last_seen", "must not be earlier than first_seen (2020-01-02T00:00:00Z)");
}

TEST(Malware, SampleRefsAreFilesOrArtifacts) {
  ExpectFieldError(Of("malware", R"({"is_family":false,"sample_refs":["url--0ee1bd3b-a6ed-5e36-9ddb-1f4b6a0d1ec6"]})"),
                   "sample_refs[0]",
                   "must be an identifier of type file or artifact, got \"url--0ee1bd3b-a6ed-5e36-9ddb-1f4b6a0d1ec6\"");
}

TEST(MalwareAnalysis, NeedsProductAndResultOrScoRefs) {
  ExpectFieldError(Of("malware-analysis", R"({"result":"malicious"})"), "product", "is required");
  ExpectFieldError(Of("malware-analysis", R"({"product":"av"})"), "result",
                   "is required (at least one of result or analysis_sco_refs must be present)");
}

TEST(Report, RequiresNamePublishedObjectRefs) {
  ExpectFieldError(Of("report", R"({"name":"r","published":"2020-01-01T00:00:00Z"})"), "object_refs", "is required");
  ExpectFieldError(Of("report", R"({"name":"r","published":"2020-01-01T00:00:00Z","object_refs":[]})"), "object_refs",
                   "must not be an empty list (omit the property instead)");
  ExpectFieldError(Of("report", R"({"name":"r","object_refs":["malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]})"),
                   "published", "is required");
}

TEST(Grouping, RequiresContextAndObjectRefs) {
  ExpectFieldError(Of("grouping", R"({"object_refs":["malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]})"), "context",
                   "is required");
  ExpectFieldError(Of("grouping", R"({"context":"unspecified"})"), "object_refs", "is required");
}

TEST(Note, RequiresContentAndObjectRefs) {
  ExpectFieldError(Of("note", R"({"object_refs":["malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]})"), "content",
                   "is required");
  ExpectFieldError(Of("note", R"({"content":"c","object_refs":["nope"]})"), "object_refs[0]",
                   "must be an identifier (type--UUID), got \"nope\"");
}

TEST(Opinion, OpinionIsAnEnum) {
  ExpectFieldError(
      Of("opinion", R"({"opinion":"maybe","object_refs":["malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]})"),
      "opinion", "must be one of strongly-disagree, disagree, neutral, agree, strongly-agree, got \"maybe\"");
  ExpectValid(Of("opinion", R"({"opinion":"agree","object_refs":["malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]})"));
}

constexpr std::string_view kObserved =
    R"("first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-02T00:00:00Z")";

TEST(ObservedData, NumberObservedRange) {
  ExpectFieldError(
      Of("observed-data", fmt::format(R"({{{},"number_observed":0,"object_refs":["{}"]}})", kObserved, kRef)),
      "number_observed", "must be from 1 to 999999999, got 0");
  ExpectFieldError(
      Of("observed-data", fmt::format(R"({{{},"number_observed":1000000000,"object_refs":["{}"]}})", kObserved, kRef)),
      "number_observed", "must be from 1 to 999999999, got 1000000000");
}

TEST(ObservedData, ObjectRefsXorObjects) {
  ExpectFieldError(Of("observed-data", fmt::format(R"({{{},"number_observed":1}})", kObserved)), "object_refs",
                   "is required (at least one of object_refs or objects must be present)");
  ExpectFieldError(Of("observed-data", fmt::format(R"({{{},"number_observed":1,"object_refs":["{}"],
                                                        "objects":{{"0":{{"type":"file","name":"a"}}}}}})",
                                                   kObserved, kRef)),
                   "objects", "must not be present together with object_refs");
  ExpectValid(
      Of("observed-data",
         fmt::format(R"({{{},"number_observed":1,"objects":{{"0":{{"type":"file","name":"a"}}}}}})", kObserved)));
}

TEST(ObservedData, LastObservedNotBeforeFirst) {
  ExpectFieldError(Of("observed-data", fmt::format(R"({{"first_observed":"2020-01-02T00:00:00Z",
      "last_observed":"2020-01-01T00:00:00Z","number_observed":1,"object_refs":["{}"]}})",
                                                   kRef)),
                   "last_observed", "must not be earlier than first_observed (2020-01-02T00:00:00Z)");
}

TEST(Location, NeedsRegionCountryOrCoordinates) {
  ExpectFieldError(Of("location", R"({"name":"x"})"), "region",
                   "is required (one of region, country, or latitude and longitude must be present)");
  ExpectFieldError(Of("location", R"({"latitude":48.8})"), "longitude", "is required when latitude is present");
  ExpectFieldError(Of("location", R"({"country":"fr","precision":10})"), "latitude",
                   "is required when precision is present");
  ExpectFieldError(Of("location", R"({"latitude":91,"longitude":2})"), "latitude", "must be from -90 to 90, got 91");
  ExpectValid(Of("location", R"({"latitude":48.8566,"longitude":2.3522,"precision":1000})"));
  ExpectValid(Of("location", R"({"region":"northern-europe"})"));
}

TEST(Relationship, RequiresTypeSourceTarget) {
  ExpectFieldError(Of("relationship", fmt::format(R"({{"source_ref":"{}","target_ref":"{}"}})", kRef, kRef)),
                   "relationship_type", "is required");
  ExpectFieldError(Of("relationship", fmt::format(R"({{"relationship_type":"uses","target_ref":"{}"}})", kRef)),
                   "source_ref", "is required");
  ExpectFieldError(Of("relationship",
                      fmt::format(R"({{"relationship_type":"Uses","source_ref":"{}","target_ref":"{}"}})", kRef, kRef)),
                   "relationship_type", "must use only a-z, 0-9 and '-', got \"Uses\"");
}

TEST(Relationship, MustNotPointAtMetaObjects) {
  ExpectFieldError(Of("relationship", fmt::format(R"({{"relationship_type":"uses","source_ref":"{}",
      "target_ref":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"}})",
                                                  kRef)),
                   "target_ref", "must not refer to a marking-definition object");
}

TEST(Relationship, StopTimeAfterStartTime) {
  ExpectFieldError(Of("relationship", fmt::format(R"({{"relationship_type":"uses","source_ref":"{}","target_ref":"{}",
      "start_time":"2020-01-01T00:00:00Z","stop_time":"2020-01-01T00:00:00Z"}})",
                                                  kRef, kRef)),
                   "stop_time", "must be later than start_time (2020-01-01T00:00:00Z)");
}

TEST(Sighting, RequiresSightingOfRef) { ExpectFieldError(Of("sighting", "{}"), "sighting_of_ref", "is required"); }

TEST(Sighting, CountAndSeenOrder) {
  ExpectFieldError(Of("sighting", fmt::format(R"({{"sighting_of_ref":"{}","count":1000000000}})", kRef)), "count",
                   "must be from 0 to 999999999, got 1000000000");
  ExpectFieldError(Of("sighting", fmt::format(R"({{"sighting_of_ref":"{}","first_seen":"2020-01-02T00:00:00Z",
                                               "last_seen":"2020-01-01T00:00:00Z"}})",
                                              kRef)),
                   "last_seen", "must not be earlier than first_seen (2020-01-02T00:00:00Z)");
  ExpectFieldError(
      Of("sighting", fmt::format(R"({{"sighting_of_ref":"{}","where_sighted_refs":["{}"]}})", kRef, kRef)),
      "where_sighted_refs[0]",
      "must be an identifier of type identity or location, got \"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b\"");
  ExpectValid(Of("sighting", fmt::format(R"({{"sighting_of_ref":"{}","count":0}})", kRef)));
}

TEST(LanguageContent, RequiresObjectRefAndContents) {
  ExpectFieldError(Of("language-content", R"({"contents":{"de":{"name":"x"}}})"), "object_ref", "is required");
  ExpectFieldError(Of("language-content", fmt::format(R"({{"object_ref":"{}"}})", kRef)), "contents", "is required");
}

TEST(ExtensionDefinition, RequiresCreatorSchemaVersionTypes) {
  const std::string base = R"("created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","name":"n",)"
                           R"("schema":"https://x.test/s.json","version":"1.0")";
  ExpectFieldError(Of("extension-definition", "{" + base + "}"), "extension_types", "is required");
  ExpectFieldError(Of("extension-definition", "{" + base + R"(,"extension_types":["new-thing"]})"),
                   "extension_types[0]",
                   "must be one of new-sdo, new-sco, new-sro, property-extension, toplevel-property-extension, got "
                   "\"new-thing\"");
  ExpectFieldError(
      Of("extension-definition", "{" + base + R"(,"extension_types":["new-sdo"],"extension_properties":["a"]})"),
      "extension_properties", "is allowed only when extension_types has toplevel-property-extension");
  ExpectValid(Of("extension-definition", "{" + base + R"(,"extension_types":["property-extension"]})"));
}

boost::json::object Sco(std::string_view type, std::string_view body) {
  boost::json::object out = Json(body);
  out["type"] = type;
  out["id"] = std::string(type) + "--" + std::string(kUuid);
  return out;
}

TEST(Sco, ValueTypesRequireValue) {
  for (std::string_view type : {"domain-name", "email-addr", "ipv4-addr", "ipv6-addr", "mac-addr", "url"}) {
    SCOPED_TRACE(type);
    ExpectFieldError(Sco(type, "{}"), "value", "is required");
    ExpectValid(Sco(type, R"({"value":"v"})"));
  }
}

TEST(Sco, FileNeedsHashesOrName) {
  ExpectFieldError(Sco("file", R"({"size":3})"), "hashes",
                   "is required (at least one of hashes or name must be present)");
  ExpectFieldError(Sco("file", R"({"name":"a","size":-1})"), "size", "must be from 0 to 9223372036854775807, got -1");
}

TEST(Sco, HashesAreCheckedPerAlgorithm) {
  ExpectFieldError(Sco("file", R"({"hashes":{"MD5":"0123456789abcdef0123456789abcdeg"}})"), "hashes.MD5",
                   "must be 32 hex digits for MD5, got \"0123456789abcdef0123456789abcdeg\"");
  ExpectFieldError(Sco("file", R"({"hashes":{"SHA-1":"00"}})"), "hashes.SHA-1",
                   "must be 40 hex digits for SHA-1, got \"00\"");
  ExpectFieldError(Sco("file", R"({"hashes":{"SHA-512":"00"}})"), "hashes.SHA-512",
                   "must be 128 hex digits for SHA-512, got \"00\"");
  ExpectFieldError(Sco("file", R"({"hashes":{"SHA3-256":"00"}})"), "hashes.SHA3-256",
                   "must be 64 hex digits for SHA3-256, got \"00\"");
  ExpectFieldError(Sco("file", R"({"hashes":{"SHA3-512":"00"}})"), "hashes.SHA3-512",
                   "must be 128 hex digits for SHA3-512, got \"00\"");
  ExpectFieldError(Sco("file", R"({"hashes":{"x-custom":7}})"), "hashes.x-custom", "must be a string, got integer");
  ExpectFieldError(Sco("file", R"({"hashes":{}})"), "hashes", "must contain at least one hash");
  // Names are case-sensitive: "sha-256" is not SHA-256, so only its kind is checked.
  ExpectValid(Sco("file", R"({"hashes":{"sha-256":"abc","SSDEEP":"3:a:b",
      "SHA-256":"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}})"));
}

TEST(Sco, ArtifactPayloadOrUrlWithHashes) {
  ExpectFieldError(Sco("artifact", R"({"mime_type":"a/b"})"), "payload_bin",
                   "is required (at least one of payload_bin or url must be present)");
  ExpectFieldError(Sco("artifact", R"({"payload_bin":"AA==","url":"https://x.test/a"})"), "url",
                   "must not be present together with payload_bin");
  ExpectFieldError(Sco("artifact", R"({"url":"https://x.test/a"})"), "hashes", "is required when url is present");
  ExpectFieldError(Sco("artifact", R"({"payload_bin":"AA==","decryption_key":"k"})"), "encryption_algorithm",
                   "is required when decryption_key is present");
}

TEST(Sco, EmailMessageBodyMatchesMultipart) {
  ExpectFieldError(Sco("email-message", "{}"), "is_multipart", "is required");
  ExpectFieldError(Sco("email-message", R"({"is_multipart":true,"body":"x"})"), "body",
                   "must not be present together with is_multipart");
  ExpectFieldError(Sco("email-message", R"({"is_multipart":false,"body":"x","body_multipart":[{"body":"y"}]})"),
                   "body_multipart", "must not be present together with body");
  ExpectFieldError(Sco("email-message", R"({"is_multipart":false,"from_ref":"email-addr"})"), "from_ref",
                   "must be an identifier of type email-addr, got \"email-addr\"");
}

TEST(Sco, NetworkTrafficRules) {
  constexpr std::string_view kSrc = R"("src_ref":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd")";
  ExpectFieldError(Sco("network-traffic", R"({"protocols":["tcp"]})"), "src_ref",
                   "is required (at least one of src_ref or dst_ref must be present)");
  ExpectFieldError(Sco("network-traffic", fmt::format(R"({{{}}})", kSrc)), "protocols", "is required");
  ExpectFieldError(Sco("network-traffic", fmt::format(R"({{{},"protocols":["tcp"],"dst_port":65536}})", kSrc)),
                   "dst_port", "must be from 0 to 65535, got 65536");
  ExpectFieldError(Sco("network-traffic", fmt::format(R"({{{},"protocols":["tcp"],"is_active":true,
                                                      "end":"2020-01-01T00:00:00Z"}})",
                                                      kSrc)),
                   "end", "must not be present when is_active is true");
}

TEST(Sco, AtLeastOnePropertyTypes) {
  for (std::string_view type : {"process", "user-account", "windows-registry-key", "x509-certificate"}) {
    SCOPED_TRACE(type);
    ExpectFieldError(Sco(type, "{}"), "type",
                     fmt::format("a {} object needs at least one {} property besides the common ones", type, type));
  }
  ExpectValid(Sco("process", R"({"pid":4})"));
  ExpectValid(Sco("process", R"({"extensions":{"windows-process-ext":{"aslr_enabled":true}}})"));
}

TEST(Sco, OtherRequiredProperties) {
  ExpectFieldError(Sco("autonomous-system", "{}"), "number", "is required");
  ExpectFieldError(Sco("directory", "{}"), "path", "is required");
  ExpectFieldError(Sco("mutex", "{}"), "name", "is required");
  ExpectFieldError(Sco("software", "{}"), "name", "is required");
  ExpectFieldError(Sco("software", R"({"name":"a","spec_version":"2.1","defanged":"no"})"), "defanged",
                   "must be a boolean, got string");
}

}  // namespace
}  // namespace concord::stix
