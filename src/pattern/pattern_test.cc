#include "pattern/pattern.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/status.h"

namespace concord::pattern {
namespace {

using ::testing::HasSubstr;

Pattern MustParse(std::string_view text) {
  auto p = Pattern::Parse(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status();
  if (!p.ok()) std::abort();
  return std::move(p).value();
}

ParseError MustFail(std::string_view text) {
  auto p = Pattern::Parse(text);
  EXPECT_FALSE(p.ok()) << text;
  if (p.ok()) return {};
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  auto e = GetParseError(p.status());
  EXPECT_TRUE(e.has_value());
  return e.value_or(ParseError{});
}

TEST(Pattern, SimpleEqualityBuildsOneComparison) {
  Pattern p = MustParse("[ipv4-addr:value = '198.51.100.1']");
  ASSERT_EQ(p.observation_nodes().size(), 1u);
  const ObservationNode& root = p.observation_nodes()[p.root()];
  EXPECT_EQ(root.kind, ObservationNodeKind::kObservation);
  EXPECT_EQ(root.offset, 0u);
  ASSERT_EQ(p.comparisons().size(), 1u);
  const Comparison& c = p.comparisons()[0];
  EXPECT_EQ(c.path.object_type, "ipv4-addr");
  ASSERT_EQ(c.path.steps.size(), 1u);
  EXPECT_EQ(c.path.steps[0].name, "value");
  EXPECT_EQ(c.op, Operator::kEqual);
  EXPECT_FALSE(c.negated);
  ASSERT_EQ(c.literals.size(), 1u);
  EXPECT_EQ(c.literals[0].kind, LiteralKind::kString);
  EXPECT_EQ(c.literals[0].value, "198.51.100.1");
  EXPECT_EQ(c.literals[0].offset, 19u);
  EXPECT_EQ(c.offset, 1u);
}

TEST(Pattern, QuotedPathPartsAndIndexes) {
  Pattern p = MustParse("[windows-registry-key:values[*].name = 'x' AND file:hashes.'SHA-256' = "
                        "'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c' AND "
                        "email-message:to_refs[0].value = 'a@b.example']");
  ASSERT_EQ(p.comparisons().size(), 3u);
  const auto& s0 = p.comparisons()[0].path.steps;
  ASSERT_EQ(s0.size(), 3u);
  EXPECT_EQ(s0[0].name, "values");
  EXPECT_EQ(s0[1].kind, PathStepKind::kAnyIndex);
  EXPECT_EQ(s0[2].name, "name");
  const auto& s1 = p.comparisons()[1].path.steps;
  ASSERT_EQ(s1.size(), 2u);
  EXPECT_EQ(s1[1].name, "SHA-256");
  const auto& s2 = p.comparisons()[2].path.steps;
  ASSERT_EQ(s2.size(), 3u);
  EXPECT_EQ(s2[1].kind, PathStepKind::kIndex);
  EXPECT_EQ(s2[1].index, 0);
  const ComparisonNode& root = p.comparison_nodes()[p.observation_nodes()[p.root()].expression];
  EXPECT_EQ(root.kind, ComparisonNodeKind::kAnd);
  EXPECT_EQ(root.operands.size(), 3u);
}

TEST(Pattern, AndBindsTighterThanOrInsideBrackets) {
  Pattern p = MustParse("[a-b:x = 1 OR a-b:y = 2 AND a-b:z = 3]");
  EXPECT_EQ(p.ToString(), "[a-b:x = 1 OR (a-b:y = 2 AND a-b:z = 3)]");
}

TEST(Pattern, ObservationPrecedenceAndOverOrOverFollowedBy) {
  Pattern p = MustParse("[a-b:x = 1] FOLLOWEDBY [a-b:x = 2] OR [a-b:x = 3] AND [a-b:x = 4]");
  EXPECT_EQ(p.ToString(), "[a-b:x = 1] FOLLOWEDBY ([a-b:x = 2] OR ([a-b:x = 3] AND [a-b:x = 4]))");
  const ObservationNode& root = p.observation_nodes()[p.root()];
  EXPECT_EQ(root.kind, ObservationNodeKind::kFollowedBy);
  ASSERT_EQ(root.operands.size(), 2u);
}

TEST(Pattern, ParenthesesOverridePrecedence) {
  Pattern p = MustParse("([a-b:x = 1] FOLLOWEDBY [a-b:x = 2]) AND [a-b:x = 3]");
  EXPECT_EQ(p.observation_nodes()[p.root()].kind, ObservationNodeKind::kAnd);
  Pattern q = MustParse("[(a-b:x = 1 OR a-b:y = 2) AND a-b:z = 3]");
  EXPECT_EQ(q.ToString(), "[(a-b:x = 1 OR a-b:y = 2) AND a-b:z = 3]");
}

TEST(Pattern, QualifiersStackInOrder) {
  Pattern p = MustParse("[file:name = 'a'] REPEATS 5 TIMES WITHIN 10 SECONDS");
  const ObservationNode& root = p.observation_nodes()[p.root()];
  ASSERT_EQ(root.kind, ObservationNodeKind::kWithin);
  EXPECT_DOUBLE_EQ(root.within_seconds, 10);
  const ObservationNode& rep = p.observation_nodes()[root.child];
  ASSERT_EQ(rep.kind, ObservationNodeKind::kRepeats);
  EXPECT_EQ(rep.repeats, 5);
  EXPECT_EQ(rep.offset, 18u);
}

TEST(Pattern, StartStop) {
  Pattern p = MustParse("[file:name = 'a'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'");
  const ObservationNode& root = p.observation_nodes()[p.root()];
  ASSERT_EQ(root.kind, ObservationNodeKind::kStartStop);
  EXPECT_EQ(FormatRfc3339(root.start, 0), "2016-06-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(root.stop, 0), "2016-07-01T00:00:00Z");
}

TEST(Pattern, LiteralValues) {
  Pattern p = MustParse(
      "[x-t:b = -42 OR x-t:c = 3.25 OR x-t:d = true OR x-t:e = FALSE OR "
      "x-t:f = t'2020-01-02T03:04:05.5Z' OR x-t:g = h'00ff' OR x-t:h = b'aGVsbG8=' OR x-t:i = 'a\\'b\\\\c']");
  auto lit = [&](size_t i) -> const Literal& { return p.comparisons()[i].literals[0]; };
  EXPECT_EQ(lit(0).kind, LiteralKind::kInteger);
  EXPECT_EQ(lit(0).integer, -42);
  EXPECT_EQ(lit(1).kind, LiteralKind::kFloat);
  EXPECT_DOUBLE_EQ(lit(1).real, 3.25);
  EXPECT_EQ(lit(2).kind, LiteralKind::kBoolean);
  EXPECT_TRUE(lit(2).boolean);
  EXPECT_FALSE(lit(3).boolean);
  EXPECT_EQ(lit(4).kind, LiteralKind::kTimestamp);
  EXPECT_EQ(lit(4).timestamp.nanos, 500'000'000);
  EXPECT_EQ(lit(5).kind, LiteralKind::kHex);
  EXPECT_EQ(lit(5).value, std::string("\x00\xff", 2));
  EXPECT_EQ(lit(6).kind, LiteralKind::kBinary);
  EXPECT_EQ(lit(6).value, "hello");
  EXPECT_EQ(lit(7).value, "a'b\\c");
  EXPECT_EQ(lit(7).text, "'a\\'b\\\\c'");
}

TEST(Pattern, StringsAreNfcNormalised) {
  // "e" + COMBINING ACUTE ACCENT becomes U+00E9.
  Pattern p = MustParse("[file:name = 'caf\x65\xcc\x81']");
  EXPECT_EQ(p.comparisons()[0].literals[0].value, "caf\xc3\xa9");
}

TEST(Pattern, InListAndOperators) {
  Pattern p = MustParse("[ipv4-addr:value NOT IN ('1.2.3.4', '5.6.7.8') AND file:size >= 10 AND file:size < 20 "
                        "AND file:name LIKE 'a%' AND file:name NOT MATCHES '^x' AND ipv4-addr:value ISSUBSET "
                        "'10.0.0.0/8' AND ipv4-addr:value ISSUPERSET '10.1.2.3' AND EXISTS file:ctime AND "
                        "file:size <> 3 AND file:size == 4 AND file:size > 1 AND file:size <= 9]");
  const auto cs = p.comparisons();
  ASSERT_EQ(cs.size(), 12u);
  EXPECT_EQ(cs[0].op, Operator::kIn);
  EXPECT_TRUE(cs[0].negated);
  EXPECT_EQ(cs[0].literals.size(), 2u);
  EXPECT_EQ(cs[0].literals[1].value, "5.6.7.8");
  EXPECT_EQ(cs[1].op, Operator::kGreaterEqual);
  EXPECT_EQ(cs[2].op, Operator::kLess);
  EXPECT_EQ(cs[3].op, Operator::kLike);
  EXPECT_EQ(cs[4].op, Operator::kMatches);
  EXPECT_NE(cs[4].regex, nullptr);
  EXPECT_EQ(cs[5].op, Operator::kIsSubset);
  EXPECT_EQ(cs[6].op, Operator::kIsSuperset);
  EXPECT_EQ(cs[7].op, Operator::kExists);
  EXPECT_TRUE(cs[7].literals.empty());
  EXPECT_EQ(cs[8].op, Operator::kNotEqual);
  EXPECT_EQ(cs[9].op, Operator::kEqual);
  EXPECT_EQ(cs[10].op, Operator::kGreater);
  EXPECT_EQ(cs[11].op, Operator::kLessEqual);
}

TEST(Pattern, ErrorCarriesOffsetAndMessage) {
  auto p = Pattern::Parse("[ipv4-addr:value = '1.2.3.4' AND]");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "offset 32: expected an object path or '(', found ']'");
  auto e = GetParseError(p.status());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->offset, 32u);
  EXPECT_EQ(e->message, "expected an object path or '(', found ']'");
}

TEST(Pattern, MissingCloseBracketNamesTheToken) {
  ParseError e = MustFail("[file:name = 'a' file:size = 1]");
  EXPECT_EQ(e.offset, 17u);
  EXPECT_EQ(e.message, "expected ']', found 'file'");
}

TEST(Pattern, HashLengthsAreChecked) {
  EXPECT_THAT(MustFail("[file:hashes.MD5 = 'abc']").message, HasSubstr("expected 32 hex digits"));
  EXPECT_THAT(MustFail("[file:hashes.'SHA-1' = '0123456789012345678901234567890123456789a']").message,
              HasSubstr("expected 40 hex digits"));
  EXPECT_EQ(MustFail("[file:hashes.'SHA-256' = 'zz']").offset, 25u);
  MustParse("[file:hashes.md5 = '001dd76872d80801692ff942308c64e6']");
  MustParse("[file:hashes.SSDEEP = 'anything goes']");
}

TEST(Pattern, QualifierRules) {
  EXPECT_THAT(MustFail("[a-b:c = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS").message, HasSubstr("more than one WITHIN"));
  EXPECT_EQ(MustFail("[a-b:c = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS").offset, 29u);
  MustParse("([a-b:c = 1] WITHIN 5 SECONDS) WITHIN 6 SECONDS");
  EXPECT_THAT(MustFail("[a-b:c = 1] REPEATS 0 TIMES").message, HasSubstr("positive integer"));
  EXPECT_THAT(MustFail("[a-b:c = 1] WITHIN -1 SECONDS").message, HasSubstr("positive number"));
  EXPECT_THAT(MustFail("[a-b:c = 1] START t'2020-01-02T00:00:00Z' STOP t'2020-01-01T00:00:00Z'").message,
              HasSubstr("STOP must be later than START"));
}

TEST(Pattern, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100000, '(');
  deep += "[a-b:c = 1]";
  ParseError e = MustFail(deep);
  EXPECT_EQ(e.offset, 100u);
  EXPECT_THAT(e.message, HasSubstr("nesting deeper than 100"));
  std::string cmp = "[" + std::string(5000, '(') + "a-b:c = 1]";
  EXPECT_THAT(MustFail(cmp).message, HasSubstr("nesting"));
}

TEST(Pattern, LongChainsAreFlat) {
  std::string s = "[a-b:c = 0";
  for (int i = 1; i < 20000; ++i) s += " OR a-b:c = " + std::to_string(i);
  s += "]";
  Pattern p = MustParse(s);
  EXPECT_EQ(p.comparisons().size(), 20000u);
  EXPECT_EQ(p.comparison_nodes()[p.observation_nodes()[p.root()].expression].operands.size(), 20000u);
}

TEST(Pattern, MoveKeepsViewsValid) {
  auto parsed = Pattern::Parse("[x:y = 'short']");
  ASSERT_FALSE(parsed.ok());  // "x" is not a valid type (3 characters minimum)
  Pattern a = MustParse("[abc:y = 'caf\x65\xcc\x81']");
  Pattern b = std::move(a);
  EXPECT_EQ(b.comparisons()[0].path.object_type, "abc");
  EXPECT_EQ(b.comparisons()[0].literals[0].value, "caf\xc3\xa9");
  EXPECT_EQ(b.text(), "[abc:y = 'caf\x65\xcc\x81']");
}

TEST(Pattern, ToStringRoundTrips) {
  const char* kPatterns[] = {
      "[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']",
      "([a-b:c = 1] OR [a-b:c = 2]) FOLLOWEDBY [a-b:d NOT LIKE 'x%'] WITHIN 300 SECONDS",
      "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'curl/8']",
  };
  for (const char* text : kPatterns) {
    Pattern p = MustParse(text);
    Pattern q = MustParse(p.ToString());
    EXPECT_EQ(p.ToString(), q.ToString());
  }
}

}  // namespace
}  // namespace concord::pattern

namespace concord::pattern {
namespace {

TEST(Pattern, ParseErrorSurvivesAnnotation) {
  auto p = Pattern::Parse("[file:name = 'a' AND]");
  ASSERT_FALSE(p.ok());
  absl::Status annotated = Annotate(p.status(), "bundle item 3 (indicator--x): pattern");
  EXPECT_EQ(annotated.message(), "bundle item 3 (indicator--x): pattern: offset 20: expected an object path or '(', "
                                 "found ']'");
  auto e = GetParseError(annotated);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->offset, 20u);
  EXPECT_FALSE(GetParseError(absl::InvalidArgumentError("other")).has_value());
}

TEST(Pattern, LengthLimit) {
  ParseOptions options;
  options.max_length = 10;
  auto p = Pattern::Parse("[file:name = 'a']", options);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "offset 10: pattern longer than 10 bytes");
}

TEST(Pattern, ToStringWritesWithinWithoutAnExponent) {
  // Found by pattern_fuzz: a huge WITHIN was rendered "2.7777777777777777e+57", which does not parse.
  for (const char* within : {"27777777777777777777777777777777777777777777777777777777777.5", "0.000000001", "10",
                             "1.5"}) {
    auto p = Pattern::Parse(std::string("[file:name = 'a'] WITHIN ") + within + " SECONDS");
    ASSERT_TRUE(p.ok()) << within << ": " << p.status();
    const std::string canonical = p->ToString();
    const size_t from = canonical.find("WITHIN ") + 7;
    const std::string number = canonical.substr(from, canonical.find(" SECONDS") - from);
    EXPECT_EQ(number.find_first_not_of("0123456789."), std::string::npos) << canonical;
    auto again = Pattern::Parse(canonical);
    ASSERT_TRUE(again.ok()) << canonical << ": " << again.status();
    EXPECT_EQ(again->observation_nodes()[again->root()].within_seconds,
              p->observation_nodes()[p->root()].within_seconds)
        << canonical;
    EXPECT_EQ(again->ToString(), canonical);
  }
}

}  // namespace
}  // namespace concord::pattern
