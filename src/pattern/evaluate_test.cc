#include "pattern/evaluate.h"

#include "boost/json/parse.hpp"
#include "common/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace concord::pattern {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Pattern MustParse(std::string_view text) {
  auto p = Pattern::Parse(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status();
  if (!p.ok()) std::abort();
  return std::move(p).value();
}

// One observation of the given SCOs (roots, keyed "0", "1", … like the deprecated objects dictionary).
Observation Obs(std::string id, std::string_view first, std::string_view last, std::string_view objects_json) {
  Observation o;
  o.id = std::move(id);
  o.first_observed = *ParseRfc3339(first);
  o.last_observed = *ParseRfc3339(last);
  o.objects = boost::json::parse(objects_json).as_object();
  for (const auto& kv : o.objects) o.roots.emplace_back(kv.key());
  return o;
}

MatchResult EvalOn(std::string_view pattern, const std::vector<Observation>& obs) {
  Pattern p = MustParse(pattern);
  return Evaluate(p, obs);
}

const std::vector<Observation>& Sample() {
  static const auto* kObs = new std::vector<Observation>{
      Obs("od-1", "2020-01-01T00:00:00Z", "2020-01-01T00:00:10Z",
          R"({"0":{"type":"ipv4-addr","value":"198.51.100.1"},
              "1":{"type":"network-traffic","src_ref":"0","dst_port":443,"protocols":["ipv4","tcp"]}})"),
      Obs("od-2", "2020-01-01T00:01:00Z", "2020-01-01T00:01:00Z",
          R"({"0":{"type":"file","name":"caf\u00e9.exe","size":1024,
                   "hashes":{"MD5":"001dd76872d80801692ff942308c64e6"}}})"),
      Obs("od-3", "2020-01-01T00:05:00Z", "2020-01-01T00:05:00Z",
          R"({"0":{"type":"email-addr","value":"evil@example.com"},
              "1":{"type":"email-message","is_multipart":false,"from_ref":"0","to_refs":["0"],
                   "subject":"Invoice 42"}})"),
      Obs("od-4", "2020-01-01T00:06:00Z", "2020-01-01T00:06:00Z",
          R"({"0":{"type":"ipv4-addr","value":"198.51.100.1"}})"),
  };
  return *kObs;
}

TEST(Evaluate, EqualityMatchesAndNamesObservations) {
  MatchResult r = EvalOn("[ipv4-addr:value = '198.51.100.1']", Sample());
  EXPECT_TRUE(r.matched);
  EXPECT_THAT(r.observation_ids, ElementsAre("od-1", "od-4"));
  EXPECT_THAT(r.observation_indexes, ElementsAre(0u, 3u));
}

TEST(Evaluate, TypeMismatchIsFalseNotError) {
  EXPECT_FALSE(EvalOn("[ipv4-addr:value = 198]", Sample()).matched);
  EXPECT_FALSE(EvalOn("[file:size = '1024']", Sample()).matched);
  EXPECT_TRUE(EvalOn("[file:size = 1024]", Sample()).matched);
  EXPECT_TRUE(EvalOn("[file:size = 1024.0]", Sample()).matched);
}

TEST(Evaluate, AndedComparisonsBindToOneObject) {
  // Both values exist in od-1, but on different objects.
  EXPECT_FALSE(EvalOn("[ipv4-addr:value = '198.51.100.1' AND network-traffic:dst_port = 443]", Sample()).matched);
  EXPECT_TRUE(EvalOn("[network-traffic:src_ref.value = '198.51.100.1' AND network-traffic:dst_port = 443]",
                  Sample()).matched);
}

TEST(Evaluate, RefsAndListIndexes) {
  EXPECT_TRUE(EvalOn("[email-message:from_ref.value = 'evil@example.com']", Sample()).matched);
  EXPECT_TRUE(EvalOn("[email-message:to_refs[*].value = 'evil@example.com']", Sample()).matched);
  EXPECT_TRUE(EvalOn("[email-message:to_refs[0].value = 'evil@example.com']", Sample()).matched);
  EXPECT_FALSE(EvalOn("[email-message:to_refs[1].value = 'evil@example.com']", Sample()).matched);
  EXPECT_TRUE(EvalOn("[network-traffic:protocols[*] = 'tcp']", Sample()).matched);
}

TEST(Evaluate, NotAndNotEqualNeedAnExistingProperty) {
  EXPECT_TRUE(EvalOn("[file:name != 'x']", Sample()).matched);
  EXPECT_TRUE(EvalOn("[file:name NOT = 'x']", Sample()).matched);
  EXPECT_FALSE(EvalOn("[file:name NOT = 'caf\u00e9.exe']", Sample()).matched);
  EXPECT_FALSE(EvalOn("[file:mime_type != 'x']", Sample()).matched);
  EXPECT_FALSE(EvalOn("[file:mime_type NOT LIKE 'x%']", Sample()).matched);
}

TEST(Evaluate, ExistsOperator) {
  EXPECT_TRUE(EvalOn("[EXISTS file:hashes.MD5]", Sample()).matched);
  EXPECT_FALSE(EvalOn("[EXISTS file:hashes.'SHA-256']", Sample()).matched);
}

TEST(Evaluate, StringsCompareInNfc) {
  // The property is precomposed; the pattern uses e + combining acute.
  EXPECT_TRUE(EvalOn("[file:name = 'cafe\u0301.exe']", Sample()).matched);
  EXPECT_TRUE(EvalOn("[file:name LIKE 'caf_.exe']", Sample()).matched);
}

TEST(Evaluate, LikeAndMatches) {
  EXPECT_TRUE(EvalOn("[email-message:subject LIKE 'Invoice %']", Sample()).matched);
  EXPECT_FALSE(EvalOn("[email-message:subject LIKE 'invoice %']", Sample()).matched);
  EXPECT_TRUE(EvalOn("[email-message:subject MATCHES '^Invoice [0-9]+$']", Sample()).matched);
  EXPECT_FALSE(EvalOn("[email-message:subject MATCHES '^[0-9]']", Sample()).matched);
  EXPECT_TRUE(EvalOn("[file:name MATCHES '^caf.\\\\.exe$']", Sample()).matched);  // . is one code point
}

TEST(Evaluate, SubsetAndSuperset) {
  EXPECT_TRUE(EvalOn("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", Sample()).matched);
  EXPECT_FALSE(EvalOn("[ipv4-addr:value ISSUBSET '198.51.101.0/24']", Sample()).matched);
  EXPECT_FALSE(EvalOn("[ipv4-addr:value ISSUBSET '2001:db8::/32']", Sample()).matched);
  EXPECT_TRUE(EvalOn("[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']", Sample()).matched);
}

TEST(Evaluate, OrderingAndIn) {
  EXPECT_TRUE(EvalOn("[file:size > 1000 AND file:size <= 1024]", Sample()).matched);
  EXPECT_FALSE(EvalOn("[file:size < 1024]", Sample()).matched);
  EXPECT_TRUE(EvalOn("[ipv4-addr:value IN ('192.0.2.1', '198.51.100.1')]", Sample()).matched);
  EXPECT_FALSE(EvalOn("[ipv4-addr:value NOT IN ('192.0.2.1', '198.51.100.1')]", Sample()).matched);
}

TEST(Evaluate, FollowedByIsOrdered) {
  MatchResult r = EvalOn("[file:size = 1024] FOLLOWEDBY [email-addr:value = 'evil@example.com']", Sample());
  EXPECT_TRUE(r.matched);
  EXPECT_THAT(r.observation_ids, ElementsAre("od-2", "od-3"));
  EXPECT_FALSE(EvalOn("[email-addr:value = 'evil@example.com'] FOLLOWEDBY [file:size = 1024]", Sample()).matched);
}

TEST(Evaluate, WithinBoundsTheSpan) {
  // od-1 starts 00:00:00, od-2 at 00:01:00: a span of 60 s.
  EXPECT_TRUE(EvalOn("([ipv4-addr:value = '198.51.100.1'] AND [file:size = 1024]) WITHIN 60 SECONDS", Sample()).matched);
  EXPECT_FALSE(EvalOn("([ipv4-addr:value = '198.51.100.1'] AND [email-addr:value = 'evil@example.com']) "
                   "WITHIN 59 SECONDS",
                   Sample())
                   .matched);
}

TEST(Evaluate, RepeatsNeedsDistinctObservations) {
  MatchResult r = EvalOn("[ipv4-addr:value = '198.51.100.1'] REPEATS 2 TIMES", Sample());
  EXPECT_TRUE(r.matched);
  EXPECT_THAT(r.observation_ids, ElementsAre("od-1", "od-4"));
  EXPECT_FALSE(EvalOn("[ipv4-addr:value = '198.51.100.1'] REPEATS 3 TIMES", Sample()).matched);
  EXPECT_FALSE(EvalOn("[ipv4-addr:value = '198.51.100.1'] REPEATS 2 TIMES WITHIN 300 SECONDS", Sample()).matched);
  EXPECT_TRUE(EvalOn("[ipv4-addr:value = '198.51.100.1'] REPEATS 2 TIMES WITHIN 360 SECONDS", Sample()).matched);
}

TEST(Evaluate, StartStopIsHalfOpen) {
  EXPECT_TRUE(EvalOn("[file:size = 1024] START t'2020-01-01T00:01:00Z' STOP t'2020-01-01T00:01:01Z'", Sample()).matched);
  EXPECT_FALSE(EvalOn("[file:size = 1024] START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:01:00Z'", Sample()).matched);
  MatchResult r = EvalOn("[ipv4-addr:value = '198.51.100.1'] START t'2020-01-01T00:03:00Z' STOP t'2020-01-02T00:00:00Z'",
                      Sample());
  EXPECT_THAT(r.observation_ids, ElementsAre("od-4"));
}

TEST(Evaluate, TimestampHexAndBinaryLiterals) {
  std::vector<Observation> obs{Obs("od", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z",
                                   R"({"0":{"type":"file","ctime":"2020-01-01T10:00:00.000Z"},
                                       "1":{"type":"artifact","payload_bin":"aGVsbG8="},
                                       "2":{"type":"x509-certificate","serial_number":"00ff"}})")};
  EXPECT_TRUE(EvalOn("[file:ctime = t'2020-01-01T10:00:00Z']", obs).matched);
  EXPECT_TRUE(EvalOn("[file:ctime > t'2020-01-01T09:59:59.999Z']", obs).matched);
  EXPECT_TRUE(EvalOn("[artifact:payload_bin = b'aGVsbG8=']", obs).matched);
  EXPECT_TRUE(EvalOn("[artifact:payload_bin = h'68656c6c6f']", obs).matched);
  EXPECT_TRUE(EvalOn("[x509-certificate:serial_number = h'00FF']", obs).matched);
  EXPECT_FALSE(EvalOn("[artifact:payload_bin = b'aGVsbA==']", obs).matched);
}

TEST(Evaluate, EmptyInputMatchesNothing) {
  MatchResult r = EvalOn("[ipv4-addr:value = '198.51.100.1']", {});
  EXPECT_FALSE(r.matched);
  EXPECT_THAT(r.observation_ids, IsEmpty());
}

TEST(ObservationsFromBundle, ResolvesObjectRefsAndNestedRefs) {
  auto bundle = ParseJson(R"({"type":"bundle","id":"bundle--1","objects":[
    {"type":"observed-data","id":"observed-data--1","first_observed":"2020-01-01T00:00:00Z",
     "last_observed":"2020-01-01T00:00:00Z","number_observed":3,
     "object_refs":["email-message--1"]},
    {"type":"email-message","id":"email-message--1","is_multipart":false,"from_ref":"email-addr--1"},
    {"type":"email-addr","id":"email-addr--1","value":"a@b.example"}]})");
  ASSERT_TRUE(bundle.ok());
  auto obs = ObservationsFromBundle(*bundle);
  ASSERT_TRUE(obs.ok()) << obs.status();
  ASSERT_EQ(obs->size(), 1u);
  EXPECT_EQ((*obs)[0].id, "observed-data--1");
  EXPECT_EQ((*obs)[0].number_observed, 3);
  EXPECT_THAT((*obs)[0].roots, ElementsAre("email-message--1"));
  EXPECT_EQ((*obs)[0].objects.size(), 2u);
  EXPECT_TRUE(EvalOn("[email-message:from_ref.value = 'a@b.example']", *obs).matched);
  // The referenced address is not a root of its own.
  EXPECT_FALSE(EvalOn("[email-addr:value = 'a@b.example']", *obs).matched);
}

TEST(ObservationsFromBundle, MissingRefIsAnError) {
  auto bundle = ParseJson(R"([{"type":"observed-data","id":"observed-data--2","first_observed":"2020-01-01T00:00:00Z",
    "last_observed":"2020-01-01T00:00:00Z","number_observed":1,"object_refs":["file--9"]}])");
  ASSERT_TRUE(bundle.ok());
  auto obs = ObservationsFromBundle(*bundle);
  ASSERT_FALSE(obs.ok());
  EXPECT_EQ(obs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(obs.status().message(), "observed-data--2: object_refs[0]: 'file--9' is not in the bundle");
}

TEST(ObservationsFromBundle, BadTimestampNamesTheField) {
  auto bundle = ParseJson(R"([{"type":"observed-data","id":"observed-data--3","first_observed":"yesterday",
    "last_observed":"2020-01-01T00:00:00Z","objects":{}}])");
  ASSERT_TRUE(bundle.ok());
  auto obs = ObservationsFromBundle(*bundle);
  ASSERT_FALSE(obs.ok());
  EXPECT_THAT(std::string(obs.status().message()), ::testing::StartsWith("observed-data--3: first_observed: "));
}

TEST(MatchesObservation, SingleObservationCheck) {
  Pattern p = MustParse("[ipv4-addr:value = '198.51.100.1']");
  EXPECT_TRUE(MatchesObservation(p, p.root(), Sample()[0]));
  EXPECT_FALSE(MatchesObservation(p, p.root(), Sample()[1]));
}

}  // namespace
}  // namespace concord::pattern

namespace concord::pattern {
namespace {

// Many matching observations and a large REPEATS: bounded work and memory, correct answer.
TEST(Evaluate, LargeRepeatsStaysBounded) {
  std::vector<Observation> obs;
  for (int i = 0; i < 1000; ++i) {
    Observation o;
    o.id = "od-" + std::to_string(i);
    o.first_observed.seconds = i;
    o.last_observed.seconds = i;
    o.objects["0"] = boost::json::object{{"type", "domain-name"}, {"value", "c2.example"}};
    o.roots = {"0"};
    obs.push_back(std::move(o));
  }
  auto p = Pattern::Parse("[domain-name:value = 'c2.example'] REPEATS 800 TIMES");
  ASSERT_TRUE(p.ok());
  MatchResult r = Evaluate(*p, obs);
  EXPECT_TRUE(r.matched);
  auto q = Pattern::Parse("[domain-name:value = 'c2.example'] REPEATS 1001 TIMES");
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(Evaluate(*q, obs).matched);
}

}  // namespace
}  // namespace concord::pattern
