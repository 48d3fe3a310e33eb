#include "taxii/filter.h"

#include <stdlib.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/errors.h"
#include "store/testing/objects.h"

namespace concord::taxii {
namespace {

using ::testing::ElementsAre;
using store::testing::Ts;

constexpr char kId1[] = "indicator--11111111-1111-4111-8111-111111111111";
constexpr char kId2[] = "malware--22222222-2222-4222-8222-222222222222";

absl::StatusOr<TaxiiFilter> Parse(std::string_view query, Endpoint e = Endpoint::kObjects, FilterOptions o = {}) {
  return ParseFilter(http::QueryParams::Parse(query), e, o);
}

// The error message of parsing `query`, which must fail with InvalidArgument (400).
std::string Error(std::string_view query, Endpoint e = Endpoint::kObjects) {
  auto f = Parse(query, e);
  if (f.ok()) return "<ok>";
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(http::HttpStatusFor(f.status()), 400);
  return std::string(f.status().message());
}

TEST(TaxiiFilter, DefaultsForObjects) {
  auto f = Parse("");
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->added_after);
  EXPECT_EQ(f->limit, 1000u);
  EXPECT_FALSE(f->next);
  EXPECT_TRUE(f->ids.empty());
  EXPECT_TRUE(f->types.empty());
  EXPECT_EQ(f->versions, (VersionSelector{.last = true}));
  EXPECT_TRUE(f->spec_versions.empty());
}

TEST(TaxiiFilter, DefaultsPerEndpoint) {
  EXPECT_EQ(Parse("", Endpoint::kManifest)->versions, (VersionSelector{.last = true}));
  EXPECT_EQ(Parse("", Endpoint::kObject)->versions, (VersionSelector{.last = true}));
  EXPECT_EQ(Parse("", Endpoint::kVersions)->versions, (VersionSelector{.all = true}));
  EXPECT_EQ(Parse("", Endpoint::kDeleteObject)->versions, (VersionSelector{.all = true}));
}

TEST(TaxiiFilter, EveryParameter) {
  auto f = Parse(fmt::format("added_after=2024-05-01T10:00:00.123456Z&limit=50&next=abc_-&match[id]={},{}"
                             "&match%5Btype%5D=indicator,malware&match[version]=first,2024-01-01T00:00:00Z,last"
                             "&match[spec_version]=2.0,2.1&cachebuster=1",
                             kId1, kId2));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(*f->added_after, Ts("2024-05-01T10:00:00.123456Z"));
  EXPECT_EQ(f->limit, 50u);
  EXPECT_EQ(*f->next, "abc_-");
  EXPECT_THAT(f->ids, ElementsAre(kId1, kId2));
  EXPECT_THAT(f->types, ElementsAre("indicator", "malware"));
  EXPECT_TRUE(f->versions.first);
  EXPECT_TRUE(f->versions.last);
  EXPECT_FALSE(f->versions.all);
  EXPECT_THAT(f->versions.at, ElementsAre(Ts("2024-01-01T00:00:00Z")));
  EXPECT_THAT(f->spec_versions, ElementsAre("2.0", "2.1"));
}

TEST(TaxiiFilter, DuplicateValuesCollapse) {
  auto f = Parse("match[type]=indicator,indicator,malware");
  ASSERT_TRUE(f.ok());
  EXPECT_THAT(f->types, ElementsAre("indicator", "malware"));
}

TEST(TaxiiFilter, EncodedCommaStaysInsideAValueAndIsThenInvalid) {
  EXPECT_EQ(Error("match[type]=indicator%2Cmalware"), "match[type]: not a STIX type name: 'indicator,malware'");
}

TEST(TaxiiFilter, LimitClampsAndRejects) {
  EXPECT_EQ(Parse("limit=1")->limit, 1u);
  EXPECT_EQ(Parse("limit=10000")->limit, 10000u);
  EXPECT_EQ(Parse("limit=10001")->limit, 10000u);
  EXPECT_EQ(Parse("limit=99999999999999999999999")->limit, 10000u);
  EXPECT_EQ(Parse("", Endpoint::kObjects, {.default_limit = 100, .max_limit = 500})->limit, 100u);
  EXPECT_EQ(Parse("limit=900", Endpoint::kObjects, {.default_limit = 100, .max_limit = 500})->limit, 500u);
  EXPECT_EQ(Error("limit=0"), "limit: must be a positive integer, got '0'");
  EXPECT_EQ(Error("limit=-5"), "limit: must be a positive integer, got '-5'");
  EXPECT_EQ(Error("limit=ten"), "limit: must be a positive integer, got 'ten'");
  EXPECT_EQ(Error("limit="), "limit: must be a positive integer, got ''");
  EXPECT_EQ(Error("limit=1.5"), "limit: must be a positive integer, got '1.5'");
  EXPECT_EQ(Error("limit=+5"), "limit: must be a positive integer, got ' 5'");  // '+' is a space in a query
  EXPECT_EQ(Error("limit=%2B5"), "limit: must be a positive integer, got '+5'");
}

TEST(TaxiiFilter, AddedAfterRejectsNonRfc3339) {
  auto f = Parse("added_after=2024-05-01");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(ErrorField(f.status()), "added_after");
  EXPECT_THAT(std::string(f.status().message()), ::testing::StartsWith("added_after: not an RFC 3339 timestamp ('2024-05-01'): "));
  EXPECT_THAT(Error("added_after=2024-05-01T10:00:00+02:00"), ::testing::StartsWith("added_after: not an RFC 3339 timestamp"));
}

TEST(TaxiiFilter, MatchValuesAreValidated) {
  EXPECT_EQ(Error("match[id]=indicator"), "match[id]: not a STIX identifier: 'indicator'");
  EXPECT_EQ(Error("match[id]=indicator--xyz"), "match[id]: not a STIX identifier: 'indicator--xyz'");
  EXPECT_EQ(Error("match[type]=Indicator"), "match[type]: not a STIX type name: 'Indicator'");
  EXPECT_EQ(Error("match[type]=ab"), "match[type]: not a STIX type name: 'ab'");
  EXPECT_EQ(Error("match[version]=latest"), "match[version]: expected last, first, all or an RFC 3339 timestamp, got 'latest'");
  EXPECT_EQ(Error("match[spec_version]=2"), "match[spec_version]: expected a version like 2.1, got '2'");
  EXPECT_EQ(Error("match[type]=indicator,"), "match[type]: empty value in the comma-separated list");
  EXPECT_EQ(Error("match[type]=,indicator"), "match[type]: empty value in the comma-separated list");
  EXPECT_EQ(Error("match[type]="), "match[type]: empty value in the comma-separated list");
  EXPECT_EQ(Error("next="), "next: empty cursor");
}

TEST(TaxiiFilter, LongValuesAreShortenedInMessages) {
  const std::string long_type(300, 'a');
  EXPECT_EQ(Error("match[type]=" + long_type), fmt::format("match[type]: not a STIX type name: '{}…'", std::string(80, 'a')));
}

TEST(TaxiiFilter, RepeatedParametersAre400) {
  EXPECT_EQ(Error("match[type]=indicator&match[type]=malware"),
            "match[type]: given more than once; send one parameter with a comma-separated list (TAXII 2.1 §3.4)");
  EXPECT_EQ(Error("match[type]=indicator&match%5Btype%5D=malware"),
            "match[type]: given more than once; send one parameter with a comma-separated list (TAXII 2.1 §3.4)");
  EXPECT_EQ(Error("limit=1&limit=2"),
            "limit: given more than once; send one parameter with a comma-separated list (TAXII 2.1 §3.4)");
}

TEST(TaxiiFilter, UnknownAndMisplacedMatchFieldsAre400) {
  EXPECT_EQ(Error("match[foo]=bar"), "match[foo]: unsupported match field; supported: id, type, version, spec_version");
  EXPECT_EQ(Error("match[]=x"), "match[]: malformed match parameter; expected match[<field>]");
  EXPECT_EQ(Error("match[type=x"), "match[type: malformed match parameter; expected match[<field>]");
  EXPECT_EQ(Error(fmt::format("match[id]={}", kId1), Endpoint::kObject), "match[id]: not supported on this endpoint");
  EXPECT_EQ(Error("match[type]=indicator", Endpoint::kVersions), "match[type]: not supported on this endpoint");
  EXPECT_EQ(Error("match[version]=all", Endpoint::kVersions), "match[version]: not supported on this endpoint");
  EXPECT_EQ(Error("limit=5", Endpoint::kDeleteObject), "limit: not supported on this endpoint");
  EXPECT_TRUE(Parse("match[spec_version]=2.1", Endpoint::kVersions).ok());
  EXPECT_TRUE(Parse("match[version]=first", Endpoint::kDeleteObject).ok());
}

TEST(TaxiiFilter, FingerprintIgnoresLimitNextAndListOrder) {
  auto a = Parse("match[type]=indicator,malware&limit=5");
  auto b = Parse("match[type]=malware,indicator&limit=7&next=x");
  auto c = Parse("match[type]=indicator");
  EXPECT_EQ(FilterFingerprint(*a, "r/c/objects"), FilterFingerprint(*b, "r/c/objects"));
  EXPECT_NE(FilterFingerprint(*a, "r/c/objects"), FilterFingerprint(*c, "r/c/objects"));
  EXPECT_NE(FilterFingerprint(*a, "r/c/objects"), FilterFingerprint(*a, "r/c/manifest"));
}

TEST(TaxiiPlan, LastOnlyAsksTheStoreForCurrentVersions) {
  StorePlan p = Plan(*Parse(fmt::format("match[type]=indicator&match[id]={}&limit=20", kId1)), 42);
  EXPECT_TRUE(p.query.current_only);
  EXPECT_FALSE(p.filter_versions);
  EXPECT_THAT(p.query.types, ElementsAre("indicator"));
  EXPECT_THAT(p.query.ids, ElementsAre(kId1));
  EXPECT_EQ(p.query.after_seq, 42);
  EXPECT_EQ(p.query.limit, 20u);
  EXPECT_EQ(p.page_size, 20u);
}

TEST(TaxiiPlan, AllAsksForEveryVersionWithoutPostFilter) {
  StorePlan p = Plan(*Parse("match[version]=all,first"));
  EXPECT_FALSE(p.query.current_only);
  EXPECT_FALSE(p.filter_versions);
  EXPECT_FALSE(p.needs_first_version);
}

TEST(TaxiiPlan, FirstAndTimestampsPostFilter) {
  StorePlan p = Plan(*Parse("match[version]=first,2024-01-01T00:00:00Z"));
  EXPECT_FALSE(p.query.current_only);
  EXPECT_TRUE(p.filter_versions);
  EXPECT_TRUE(p.needs_first_version);
  StorePlan q = Plan(*Parse("match[version]=last,2024-01-01T00:00:00Z"));
  EXPECT_TRUE(q.filter_versions);
  EXPECT_FALSE(q.needs_first_version);
}

store::StoredObject Version(std::string id, std::string modified, bool current, std::string added,
                            std::string spec_version = "2.1") {
  store::StoredObject o;
  o.id = std::move(id);
  o.modified = std::move(modified);
  o.current = current;
  o.added = Ts(added);
  o.spec_version = std::move(spec_version);
  return o;
}

TEST(TaxiiPlan, KeepVersion) {
  const auto v1 = Version(kId1, "2024-01-01T00:00:00.000Z", false, "2025-01-01T00:00:00Z");
  const auto v2 = Version(kId1, "2024-02-01T00:00:00.000Z", false, "2025-01-02T00:00:00Z");
  const auto v3 = Version(kId1, "2024-03-01T00:00:00.000Z", true, "2025-01-03T00:00:00Z");
  StorePlan first = Plan(*Parse("match[version]=first"));
  EXPECT_TRUE(KeepVersion(first, v1, "2024-01-01T00:00:00.000Z"));
  EXPECT_FALSE(KeepVersion(first, v2, "2024-01-01T00:00:00.000Z"));
  EXPECT_FALSE(KeepVersion(first, v3, "2024-01-01T00:00:00.000Z"));
  StorePlan at = Plan(*Parse("match[version]=2024-02-01T00:00:00Z,last"));
  EXPECT_FALSE(KeepVersion(at, v1));
  EXPECT_TRUE(KeepVersion(at, v2));  // same instant, other precision
  EXPECT_TRUE(KeepVersion(at, v3));  // current
  StorePlan added = Plan(*Parse("match[version]=all&added_after=2025-01-02T00:00:00Z"));
  EXPECT_FALSE(KeepVersion(added, v1));
  EXPECT_FALSE(KeepVersion(added, v2));  // strictly after
  EXPECT_TRUE(KeepVersion(added, v3));
  StorePlan spec = Plan(*Parse("match[spec_version]=2.0&match[version]=all"));
  EXPECT_FALSE(KeepVersion(spec, v1));
  EXPECT_TRUE(KeepVersion(spec, Version(kId1, "2024-01-01T00:00:00.000Z", true, "2025-01-01T00:00:00Z", "2.0")));
  StorePlan spec21 = Plan(*Parse("match[spec_version]=2.1"));
  EXPECT_TRUE(KeepVersion(spec21, Version(kId1, "", true, "2025-01-01T00:00:00Z", "")));  // "" counts as 2.1
}

TEST(TaxiiPlan, VersionOfFallsBackToCreatedThenAdded) {
  store::StoredObject o;
  o.added = Ts("2025-01-01T00:00:00.5Z");
  EXPECT_EQ(VersionOf(o), "2025-01-01T00:00:00.500000Z");
  o.created = "2024-01-01T00:00:00Z";
  EXPECT_EQ(VersionOf(o), "2024-01-01T00:00:00Z");
  o.modified = "2024-02-01T00:00:00.000Z";
  EXPECT_EQ(VersionOf(o), "2024-02-01T00:00:00.000Z");
}

// A real SQLite store, written to between pages.
class StepClock final : public Clock {
 public:
  Timestamp Now() const override {
    ++ticks_;
    return Timestamp::FromUnixMillis(1'700'000'000'000 + ticks_ * 1000);
  }
  mutable int64_t ticks_ = 0;
};

class CollectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "taxii_collect_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto s = store::OpenStore((dir_ / "c.db").string(), {.clock = &clock_});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  static std::string IdOf(int n) { return fmt::format("indicator--{:08x}-0000-4000-8000-000000000000", n); }
  void PutIndicator(int n, std::string_view modified) {
    std::vector<stix::Object> batch{store::testing::Indicator(IdOf(n), modified)};
    ASSERT_TRUE(store_->Put(batch).ok());
  }
  CollectCallbacks Callbacks() {
    CollectCallbacks cb;
    cb.list = [this](const store::Query& q) { return store_->List(q); };
    cb.first_version = [this](std::string_view id) -> absl::StatusOr<std::string> {
      CONCORD_ASSIGN_OR_RETURN(auto versions, store_->Versions(id));
      return VersionOf(versions.front());
    };
    return cb;
  }

  StepClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(CollectTest, SweepWhileWritingNeverSkipsOrRepeats) {
  for (int i = 0; i < 25; ++i) PutIndicator(i, "2024-01-01T00:00:00.000Z");
  auto filter = Parse("match[version]=all&limit=7");
  ASSERT_TRUE(filter.ok());
  std::vector<std::string> seen;
  int64_t cursor = 0;
  int next_new = 100;
  for (int pages = 0; pages < 50; ++pages) {
    auto page = Collect(Plan(*filter, cursor), Callbacks());
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& o : page->objects) seen.push_back(o.id + "@" + o.modified);
    cursor = page->next_after_seq;
    // Others write between pages: new ids and new versions of ids already swept.
    if (pages < 3) {
      PutIndicator(next_new++, "2024-01-01T00:00:00.000Z");
      PutIndicator(pages, fmt::format("2024-02-0{}T00:00:00.000Z", pages + 1));
    }
    if (!page->more) break;
  }
  EXPECT_EQ(seen.size(), 25u + 6u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());
}

TEST_F(CollectTest, PostFiltersDropButTheCursorAdvances) {
  for (int i = 0; i < 10; ++i) PutIndicator(i, "2024-01-01T00:00:00.000Z");
  for (int i = 0; i < 10; ++i) PutIndicator(i, "2024-02-01T00:00:00.000Z");  // second versions, seq 11..20
  // first: only the ten first versions; limit 4 → pages of 4, 4, 2.
  auto filter = Parse("match[version]=first&limit=4");
  std::vector<size_t> sizes;
  int64_t cursor = 0;
  for (int i = 0; i < 10; ++i) {
    auto page = Collect(Plan(*filter, cursor), Callbacks());
    ASSERT_TRUE(page.ok()) << page.status();
    sizes.push_back(page->objects.size());
    for (const auto& o : page->objects) EXPECT_EQ(o.modified, "2024-01-01T00:00:00.000Z");
    cursor = page->next_after_seq;
    if (!page->more) break;
  }
  EXPECT_THAT(sizes, ElementsAre(4, 4, 2));  // the third page scans to the end: no empty fourth page
}

TEST_F(CollectTest, VisibilityAndAddedAfter) {
  for (int i = 0; i < 6; ++i) PutIndicator(i, "2024-01-01T00:00:00.000Z");
  auto all = store_->List(store::Query{});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->objects.size(), 6u);
  // Strictly after the third version's `added`.
  auto filter = Parse("added_after=" + FormatRfc3339(all->objects[2].added, 9) + "&limit=10");
  ASSERT_TRUE(filter.ok());
  CollectCallbacks cb = Callbacks();
  cb.visible = [](const store::StoredObject& o) { return o.id != IdOf(4); };
  auto page = Collect(Plan(*filter), cb);
  ASSERT_TRUE(page.ok());
  std::vector<std::string> ids;
  for (const auto& o : page->objects) ids.push_back(o.id);
  EXPECT_THAT(ids, ElementsAre(IdOf(3), IdOf(5)));
  EXPECT_FALSE(page->more);
  EXPECT_EQ(page->next_after_seq, 6);
}

TEST_F(CollectTest, ScanBudgetReturnsAShortPageWithMore) {
  for (int i = 0; i < 10; ++i) PutIndicator(i, "2024-01-01T00:00:00.000Z");
  auto filter = Parse("limit=2");
  CollectCallbacks cb = Callbacks();
  cb.visible = [](const store::StoredObject&) { return false; };
  auto page = Collect(Plan(*filter), cb, /*max_scanned=*/4);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->objects.empty());
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->next_after_seq, 4);
}

}  // namespace
}  // namespace concord::taxii
