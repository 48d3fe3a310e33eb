#include "detect/exact_set.h"

#include <string>

#include "gtest/gtest.h"

namespace concord::detect {
namespace {

TEST(ValueSet, FindsExactValuesOnly) {
  ValueSet set;
  set.Add("44d88612fea8a8f36de82e1278abb02f", 1);
  set.Add("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", 2);
  EXPECT_EQ(set.Find("44d88612fea8a8f36de82e1278abb02f"), 1u);
  EXPECT_EQ(set.Find("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"), 2u);
  EXPECT_EQ(set.Find("44d88612fea8a8f36de82e1278abb02"), kNoMatch);
  EXPECT_EQ(set.Find(""), kNoMatch);
  EXPECT_EQ(set.size(), 2u);
  EXPECT_GT(set.MemoryBytes(), 0u);
}

TEST(ValueSet, DuplicateLowestIdWins) {
  ValueSet set;
  set.Add("http://evil.example/a", 7);
  set.Add("http://evil.example/a", 3);
  set.Add("http://evil.example/a", 5);
  EXPECT_EQ(set.Find("http://evil.example/a"), 3u);
  EXPECT_EQ(set.size(), 1u);
}

TEST(DomainSet, DomainMatchesItselfAndSubdomains) {
  DomainSet set;
  set.Add("example.com", 1, DomainScope::kWithSubdomains);
  EXPECT_EQ(set.Match("example.com").id, 1u);
  EXPECT_EQ(set.Match("www.example.com").id, 1u);
  const DomainMatch deep = set.Match("a.b.example.com");
  EXPECT_EQ(deep.id, 1u);
  EXPECT_EQ(deep.matched, "example.com");
}

TEST(DomainSet, LabelsAreWhole) {
  DomainSet set;
  set.Add("example.com", 1, DomainScope::kWithSubdomains);
  EXPECT_FALSE(set.Match("badexample.com").found());
  EXPECT_FALSE(set.Match("example.com.evil").found());
  EXPECT_FALSE(set.Match("xample.com").found());
  EXPECT_FALSE(set.Match("com").found());
  EXPECT_FALSE(set.Match("").found());
}

TEST(DomainSet, ExactScopeDoesNotCoverSubdomains) {
  DomainSet set;
  set.Add("login.example.net", 4, DomainScope::kExact);
  EXPECT_EQ(set.Match("login.example.net").id, 4u);
  EXPECT_FALSE(set.Match("www.login.example.net").found());
  EXPECT_FALSE(set.Match("example.net").found());
}

TEST(DomainSet, MostSpecificSuffixWins) {
  DomainSet set;
  set.Add("example.com", 1, DomainScope::kWithSubdomains);
  set.Add("cdn.example.com", 2, DomainScope::kWithSubdomains);
  set.Add("x.cdn.example.com", 3, DomainScope::kExact);
  EXPECT_EQ(set.Match("x.cdn.example.com").id, 3u);
  EXPECT_EQ(set.Match("y.x.cdn.example.com").id, 2u);  // the exact indicator on x.… does not cover y.x.…
  EXPECT_EQ(set.Match("a.cdn.example.com").id, 2u);
  EXPECT_EQ(set.Match("www.example.com").id, 1u);
  EXPECT_EQ(set.Match("www.example.com").matched, "example.com");
}

TEST(DomainSet, BothScopesOnOneNameLowestIdForTheNameItself) {
  DomainSet set;
  set.Add("example.org", 8, DomainScope::kExact);
  set.Add("example.org", 5, DomainScope::kWithSubdomains);
  EXPECT_EQ(set.Match("example.org").id, 5u);
  EXPECT_EQ(set.Match("www.example.org").id, 5u);
  set.Add("example.org", 2, DomainScope::kExact);
  EXPECT_EQ(set.Match("example.org").id, 2u);
  EXPECT_EQ(set.Match("www.example.org").id, 5u);
  EXPECT_EQ(set.size(), 1u);
}

TEST(DomainSet, TopLevelIndicatorCoversEverythingBelow) {
  DomainSet set;
  set.Add("zip", 6, DomainScope::kWithSubdomains);
  EXPECT_EQ(set.Match("invoice.zip").id, 6u);
  EXPECT_FALSE(set.Match("zip.example").found());
}

}  // namespace
}  // namespace concord::detect
