#include "correlate/correlator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "correlate/postings.h"
#include "correlate/testing/objects.h"
#include "boost/json/serialize.hpp"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace concord::correlate {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Parse;

std::string Id(std::string_view type, int n) { return fmt::format("{}--00000000-0000-4000-8000-{:012d}", type, n); }

stix::Object IndicatorOf(int n, std::string_view pattern) {
  return Parse(fmt::format(R"({{"type":"indicator","spec_version":"2.1","id":"{}","created":"2024-01-01T00:00:00.000Z",
      "modified":"2024-01-01T00:00:00.000Z","valid_from":"2024-01-01T00:00:00Z","pattern_type":"stix","pattern":"{}"}})",
                           Id("indicator", n), pattern));
}

stix::Object Ipv4Of(int n, std::string_view value) {
  return Parse(fmt::format(R"({{"type":"ipv4-addr","spec_version":"2.1","id":"{}","value":"{}"}})", Id("ipv4-addr", n),
                           value));
}

std::vector<std::string> Ids(const std::vector<store::StoredObject>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) out.push_back(o.id);
  return out;
}

class CorrelatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "correlator_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    store::OpenOptions options;
    options.postings = &extractor_;
    auto opened = store::OpenStore("sqlite:" + (dir_ / "concord.db").string(), options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Put(const std::vector<stix::Object>& objects) {
    auto results = store_->Put(objects);
    ASSERT_TRUE(results.ok()) << results.status();
  }
  SearchResult MustSearch(std::string_view value, const SearchOptions& options, Visible visible) {
    auto result = Correlator(*store_, lists_.get()).Search(value, options, visible);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *std::move(result) : SearchResult{};
  }

  PostingExtractor extractor_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Warninglists> lists_;
};

const auto kAll = [](const store::StoredObject&) { return true; };

// 120 objects share a value; the caller sees every third. Pages fill with visible objects only, and paging
// through gives each visible object exactly once.
TEST_F(CorrelatorTest, HiddenObjectsNeverShortenOrLeakIntoPages) {
  std::vector<stix::Object> objects;
  for (int i = 1; i <= 120; ++i) objects.push_back(IndicatorOf(i, "[domain-name:value = 'shared.example']"));
  Put(objects);
  std::set<std::string> visible_ids;
  for (int i = 3; i <= 120; i += 3) visible_ids.insert(Id("indicator", i));
  auto visible = [&](const store::StoredObject& o) { return visible_ids.count(o.id) > 0; };
  SearchOptions options;
  options.limit = 7;
  std::vector<std::string> seen;
  int pages = 0;
  while (true) {
    const SearchResult result = MustSearch("SHARED.example", options, visible);
    EXPECT_EQ(result.kind, Kind::kDomain);
    EXPECT_EQ(result.value, "shared.example");
    ++pages;
    if (result.objects.more) {
      EXPECT_EQ(result.objects.objects.size(), 7u);  // full pages while more follows
    }
    for (const auto& id : Ids(result.objects.objects)) seen.push_back(id);
    if (!result.objects.more) break;
    options.after = result.objects.next_after;
  }
  EXPECT_EQ(pages, 6);  // 40 visible: 5 full pages and one of 5
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), visible_ids);
  EXPECT_EQ(seen.size(), 40u);
  // Seeing nothing: an empty page, no "more".
  const SearchResult none = MustSearch("shared.example", {}, [](const store::StoredObject&) { return false; });
  EXPECT_THAT(none.objects.objects, IsEmpty());
  EXPECT_FALSE(none.objects.more);
}

TEST_F(CorrelatorTest, OverCorrelatingValueIsFlaggedAndStillPaged) {
  std::vector<stix::Object> objects;
  for (int i = 1; i <= 30; ++i) objects.push_back(Ipv4Of(i, fmt::format("192.0.2.{}", i)));
  for (int i = 1; i <= 30; ++i) objects.push_back(IndicatorOf(i, "[ipv4-addr:value = '203.0.113.9']"));
  Put(objects);
  SearchOptions options;
  options.max_correlations = 29;
  options.limit = 25;
  SearchResult result = MustSearch("203.0.113.9", options, kAll);
  EXPECT_TRUE(result.over_correlating);
  EXPECT_EQ(result.objects.objects.size(), 25u);
  EXPECT_TRUE(result.objects.more);
  options.max_correlations = 30;  // exactly at the bound is not over it
  result = MustSearch("203.0.113.9", options, kAll);
  EXPECT_FALSE(result.over_correlating);
  options.after = result.objects.next_after;
  result = MustSearch("203.0.113.9", options, kAll);
  EXPECT_EQ(result.objects.objects.size(), 5u);
  EXPECT_FALSE(result.objects.more);
}

TEST_F(CorrelatorTest, CidrEdgesBothWays) {
  Put({IndicatorOf(1, "[ipv4-addr:value = '0.0.0.0/0']"), IndicatorOf(2, "[ipv4-addr:value = '255.255.255.255']"),
       IndicatorOf(3, "[ipv4-addr:value = '0.0.0.0']"), IndicatorOf(4, "[ipv6-addr:value = '::/0']"),
       IndicatorOf(5, "[ipv6-addr:value = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']"),
       IndicatorOf(6, "[ipv6-addr:value = '::']"), IndicatorOf(7, "[ipv6-addr:value = '2001:db8::/127']"),
       IndicatorOf(8, "[ipv6-addr:value = '2001:db8::1']"), IndicatorOf(9, "[ipv4-addr:value = '198.51.100.0/31']"),
       IndicatorOf(10, "[ipv4-addr:value = '198.51.100.1']")});
  // IPv4 /0 contains the whole IPv4 space, ends included, and nothing of IPv6.
  SearchResult all4 = MustSearch("0.0.0.0/0", {}, kAll);
  std::vector<std::string> inside;
  for (const AddressHit& hit : all4.contained) inside.push_back(hit.value);
  EXPECT_THAT(inside, ElementsAre("0.0.0.0", "198.51.100.1", "255.255.255.255"));
  EXPECT_THAT(all4.containing, IsEmpty());
  // IPv6 /0: IPv6 postings only (IPv4-mapped addresses are IPv4 postings).
  SearchResult all6 = MustSearch("::/0", {}, kAll);
  inside.clear();
  for (const AddressHit& hit : all6.contained) inside.push_back(hit.value);
  EXPECT_THAT(inside, ElementsAre("::", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  // An address: the containing prefixes, most specific first; a /32 search is the address itself.
  SearchResult host = MustSearch("198.51.100.1/32", {}, kAll);
  EXPECT_EQ(host.kind, Kind::kIpv4);  // a host prefix is its address, as postings store it
  SearchResult address = MustSearch("::ffff:198.51.100.1", {}, kAll);  // IPv4-mapped is the IPv4 address
  EXPECT_EQ(address.kind, Kind::kIpv4);
  EXPECT_THAT(Ids(address.objects.objects), ElementsAre(Id("indicator", 10)));
  std::vector<std::string> containing;
  for (const AddressHit& hit : address.containing) containing.push_back(hit.value + " " + hit.object.id);
  EXPECT_THAT(containing, ElementsAre("198.51.100.0/31 " + Id("indicator", 9), "0.0.0.0/0 " + Id("indicator", 1)));
  EXPECT_THAT(Ids(host.objects.objects), ElementsAre(Id("indicator", 10)));
  EXPECT_THAT(host.contained, IsEmpty());
  containing.clear();
  for (const AddressHit& hit : host.containing) containing.push_back(hit.value);
  EXPECT_THAT(containing, ElementsAre("198.51.100.0/31", "0.0.0.0/0"));
  SearchResult v6 = MustSearch("2001:db8::1/128", {}, kAll);
  EXPECT_EQ(v6.value, "2001:db8::1");
  // A CIDR is not inside itself, nor does it contain itself.
  SearchResult net = MustSearch("2001:db8::/127", {}, kAll);
  EXPECT_THAT(Ids(net.objects.objects), ElementsAre(Id("indicator", 7)));
  containing.clear();
  for (const AddressHit& hit : net.containing) containing.push_back(hit.value);
  EXPECT_THAT(containing, ElementsAre("::/0"));
  inside.clear();
  for (const AddressHit& hit : net.contained) inside.push_back(hit.value);
  EXPECT_THAT(inside, ElementsAre("2001:db8::1"));
  containing.clear();
  for (const AddressHit& hit : v6.containing) containing.push_back(hit.value);
  EXPECT_THAT(containing, ElementsAre("2001:db8::/127", "::/0"));
}

TEST_F(CorrelatorTest, ContainedIpsArePagedByCursor) {
  std::vector<stix::Object> objects = {IndicatorOf(1, "[ipv4-addr:value = '10.0.0.0/8']")};
  for (int i = 1; i <= 12; ++i) objects.push_back(Ipv4Of(i, fmt::format("10.0.0.{}", i)));
  Put(objects);
  SearchOptions options;
  options.max_related = 5;
  std::vector<std::string> values;
  for (int page = 0; page < 10; ++page) {
    const SearchResult result = MustSearch("10.0.0.0/8", options, kAll);
    for (const AddressHit& hit : result.contained) values.push_back(hit.value);
    if (!result.contained_more) break;
    options.contained_after = result.contained_next_after;
  }
  ASSERT_EQ(values.size(), 12u);
  EXPECT_EQ(values.front(), "10.0.0.1");
  EXPECT_EQ(values.back(), "10.0.0.12");
}

TEST_F(CorrelatorTest, CorrelationsLeaveOutTheObjectAndWarninglistedValues) {
  std::vector<std::string> warnings;
  auto lists = Warninglists::Build({{"l.json", R"({"name":"test-net","type":"cidr","list":["192.0.2.0/24"]})"}}, &warnings);
  ASSERT_TRUE(lists.ok()) << lists.status();
  lists_ = std::move(*lists);
  Put({IndicatorOf(1, "[ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '198.51.100.1']"), Ipv4Of(2, "192.0.2.1"),
       Ipv4Of(3, "198.51.100.1"), IndicatorOf(4, "[ipv4-addr:value = '198.51.100.0/24']")});
  Correlator correlator(*store_, lists_.get());
  auto correlations = correlator.CorrelationsOf(Id("indicator", 1), {}, kAll);
  ASSERT_TRUE(correlations.ok()) << correlations.status();
  ASSERT_EQ(correlations->size(), 2u);
  const CorrelatedValue& listed = (*correlations)[0];
  EXPECT_EQ(listed.value, "192.0.2.1");
  EXPECT_THAT(listed.warninglists, ElementsAre("test-net"));
  EXPECT_THAT(listed.objects.objects, IsEmpty());  // does not correlate
  const CorrelatedValue& plain = (*correlations)[1];
  EXPECT_EQ(plain.value, "198.51.100.1");
  EXPECT_THAT(Ids(plain.objects.objects), ElementsAre(Id("ipv4-addr", 3)));  // not indicator 1 itself
  ASSERT_EQ(plain.containing.size(), 1u);
  EXPECT_EQ(plain.containing[0].value, "198.51.100.0/24");
  // Search still shows a warninglisted value's objects, with its lists.
  const SearchResult search = MustSearch("192.0.2.1", {}, kAll);
  EXPECT_THAT(search.warninglists, ElementsAre("test-net"));
  EXPECT_EQ(search.objects.objects.size(), 2u);
  // An object the caller may not see is not found.
  auto hidden = correlator.CorrelationsOf(Id("indicator", 1), {},
                                          [](const store::StoredObject& o) { return o.type != "indicator"; });
  EXPECT_EQ(hidden.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(correlator.CorrelationsOf(Id("indicator", 99), {}, kAll).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CorrelatorTest, ExplicitKindOverridesDetectionAndBadValuesAreInvalid) {
  Put({Parse(R"({"type":"file","spec_version":"2.1","id":"file--00000000-0000-4000-8000-000000000001",
      "hashes":{"SHA3-256":"a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"}})")});
  const std::string hash = "A7FFC6F8BF1ED76651C14756A061D662F580FF4DE43B49FA82D80A4B80F8434A";
  EXPECT_THAT(MustSearch(hash, {}, kAll).objects.objects, IsEmpty());  // detected as sha256
  SearchOptions options;
  options.kind = Kind::kSha3_256;
  EXPECT_EQ(MustSearch(hash, options, kAll).objects.objects.size(), 1u);
  auto bad = Correlator(*store_).Search("not a value", {}, kAll);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- CorrelateBatch

// A correlated value as one line of text with everything CorrelationsOf fills in, for exact comparisons.
std::string Render(const CorrelatedValue& v) {
  auto object = [](const store::StoredObject& o) {
    return fmt::format("{}@{}{}:{}:{}:{}", o.id, o.seq, o.revoked ? "r" : "", o.type, o.modified, o.current);
  };
  auto hits = [&](const std::vector<AddressHit>& list) {
    std::string out;
    for (const AddressHit& h : list) {
      out += fmt::format(" {}={}<{}>{}", ValueKindName(h.kind), h.value, fmt::join(h.warninglists, ","), object(h.object));
    }
    return out;
  };
  std::string objects;
  for (const auto& o : v.objects.objects) objects += " " + object(o);
  return fmt::format("{} {} lists<{}> over={} objects[{}] next={} more={} containing[{}] contained[{}] related_more={}",
                     ValueKindName(v.kind), v.value, fmt::join(v.warninglists, ","), v.over_correlating, objects,
                     v.objects.next_after, v.objects.more, hits(v.containing), hits(v.contained), v.related_more);
}

std::vector<std::string> Render(const std::vector<CorrelatedValue>& values) {
  std::vector<std::string> out;
  for (const CorrelatedValue& v : values) out.push_back(Render(v));
  return out;
}

// The object number of an id made by Id().
int NumberOf(std::string_view id) { return std::stoi(std::string(id.substr(id.size() - 12))); }

// Two new objects of one batch naming one value correlate with each other, as they would one by one; each
// object listed is held once in the answer.
TEST_F(CorrelatorTest, BatchObjectsCorrelateWithStoredAndWithEachOther) {
  const std::vector<stix::Object> stored = {IndicatorOf(1, "[domain-name:value = 'shared.example']"),
                                            Ipv4Of(2, "198.51.100.7")};
  const std::vector<stix::Object> fresh = {
      IndicatorOf(3, "[domain-name:value = 'shared.example'] OR [ipv4-addr:value = '198.51.100.7']"),
      IndicatorOf(4, "[domain-name:value = 'SHARED.example.']"), IndicatorOf(5, "[domain-name:value = 'alone.example']")};
  Put(stored);
  Put(fresh);
  std::vector<store::EncodedObject> encoded;
  for (const stix::Object& o : fresh) encoded.push_back(store::Encode(o, &extractor_));
  std::vector<BatchItem> items;
  for (const store::EncodedObject& e : encoded) items.push_back({e.object->id, e.postings});
  auto answer = Correlator(*store_).CorrelateBatch(items, {}, kAll);
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->items.size(), 3u);
  auto ids = [&](const BatchValue& v) {
    std::vector<std::string> out;
    for (ObjectIndex i : v.objects) out.push_back(answer->objects[i].id);
    return out;
  };
  ASSERT_EQ(answer->items[0].size(), 2u);
  EXPECT_EQ(answer->items[0][0].value, "198.51.100.7");
  EXPECT_THAT(ids(answer->items[0][0]), ElementsAre(Id("ipv4-addr", 2)));
  EXPECT_EQ(answer->items[0][1].value, "shared.example");
  EXPECT_THAT(ids(answer->items[0][1]), ElementsAre(Id("indicator", 1), Id("indicator", 4)));
  ASSERT_EQ(answer->items[1].size(), 1u);
  EXPECT_THAT(ids(answer->items[1][0]), ElementsAre(Id("indicator", 1), Id("indicator", 3)));
  ASSERT_EQ(answer->items[2].size(), 1u);
  EXPECT_THAT(answer->items[2][0].objects, IsEmpty());
  EXPECT_FALSE(answer->items[2][0].more);
  // Indicators 1, 3, 4 and the ipv4-addr: each once.
  EXPECT_EQ(answer->objects.size(), 4u);
  EXPECT_EQ(answer->objects[answer->items[1][0].objects[0]].json, "");  // columns only
  EXPECT_THAT(answer->Expand(7), IsEmpty());
}

// Ids that differ only before their last 8 characters (same length, same end: what CorrelateBatch compares
// first when it leaves an item's own object out) are still told apart: each item lists the other, not itself,
// as CorrelationsOf does.
TEST_F(CorrelatorTest, BatchLeavesOutOnlyTheItemItselfAmongIdsWithTheSameEnd) {
  auto indicator = [](std::string_view id) {
    return Parse(fmt::format(R"({{"type":"indicator","spec_version":"2.1","id":"{}",
      "created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","valid_from":"2024-01-01T00:00:00Z",
      "pattern_type":"stix","pattern":"[domain-name:value = 'twin.example']"}})",
                             id));
  };
  const std::string first = "indicator--00000000-0000-4000-8000-000000000001";
  const std::string second = "indicator--00000001-0000-4000-8000-000000000001";
  const std::vector<stix::Object> objects = {indicator(first), indicator(second)};
  Put(objects);
  std::vector<store::EncodedObject> encoded;
  for (const stix::Object& o : objects) encoded.push_back(store::Encode(o, &extractor_));
  std::vector<BatchItem> items;
  for (const store::EncodedObject& e : encoded) items.push_back({e.object->id, e.postings});
  Correlator correlator(*store_);
  auto answer = correlator.CorrelateBatch(items, {}, kAll);
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->items.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_EQ(answer->items[i].size(), 1u);
    const BatchValue& value = answer->items[i][0];
    EXPECT_EQ(value.value, "twin.example");
    ASSERT_EQ(value.objects.size(), 1u);
    EXPECT_EQ(answer->objects[value.objects[0]].id, i == 0 ? second : first);
    EXPECT_FALSE(value.more);
    auto single = correlator.CorrelationsOf(items[i].id, {}, kAll);
    ASSERT_TRUE(single.ok()) << single.status();
    EXPECT_EQ(Render(answer->Expand(i)), Render(*single));
  }
}

// The batch answer equals CorrelationsOf object by object: a few hundred random objects with shared values,
// addresses and CIDRs of both families nested in each other, warninglisted values and prefixes, a value over
// the correlation bound and revoked objects; for a viewer who sees everything with default pages, and for
// one who sees two thirds with small pages and bounds (so that pages are cut, refilled and marked "more").
TEST_F(CorrelatorTest, CorrelateBatchEqualsCorrelationsOf) {
  std::vector<std::string> warnings;
  auto lists = Warninglists::Build({{"a.json", R"({"name":"nets","type":"cidr","list":["10.0.1.0/24"]})"},
                                    {"b.json", R"({"name":"hosts","type":"hostname","list":["listed.example"]})"}},
                                   &warnings);
  ASSERT_TRUE(lists.ok()) << lists.status();
  lists_ = std::move(*lists);
  std::vector<std::string> pool;
  for (int i = 0; i < 12; ++i) pool.push_back(fmt::format("[domain-name:value = 'd{}.example']", i));
  pool.push_back("[domain-name:value = 'listed.example']");
  pool.push_back("[domain-name:value = 'www.listed.example']");
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) pool.push_back(fmt::format("[ipv4-addr:value = '10.0.{}.{}']", i, j * 3));
  }
  for (const char* cidr : {"10.0.0.0/8", "10.0.0.0/16", "10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/23", "10.0.0.0/30",
                           "10.0.1.0/25"}) {
    pool.push_back(fmt::format("[ipv4-addr:value = '{}']", cidr));
  }
  for (const char* v6 : {"2001:db8::1", "2001:db8::3", "2001:db8::1:1", "2001:db8::/64", "2001:db8::/126"}) {
    pool.push_back(fmt::format("[ipv6-addr:value = '{}']", v6));
  }
  std::mt19937 rng(20261122);
  auto object = [&](int n, bool revoked) {
    if (n % 10 == 0) return Ipv4Of(n, fmt::format("10.0.{}.{}", n % 4, (n / 10) % 4 * 3));
    std::string pattern;
    const int values = 1 + static_cast<int>(rng() % 3);
    for (int v = 0; v < values; ++v) pattern += (v ? " OR " : "") + pool[rng() % pool.size()];
    if (n % 7 == 0) pattern += " OR [domain-name:value = 'hot.example']";  // 42 objects: over a bound of 30
    std::string json = fmt::format(R"({{"type":"indicator","spec_version":"2.1","id":"{}","created":"2024-01-01T00:00:00.000Z",
      "modified":"{}","valid_from":"2024-01-01T00:00:00Z","pattern_type":"stix","pattern":"{}"{}}})",
                                   Id("indicator", n), revoked ? "2024-02-01T00:00:00.000Z" : "2024-01-01T00:00:00.000Z",
                                   pattern, revoked ? R"(,"revoked":true)" : "");
    return Parse(json);
  };
  std::vector<stix::Object> stored, fresh;
  for (int n = 1; n <= 200; ++n) stored.push_back(object(n, false));
  Put(stored);
  std::vector<stix::Object> revocations;
  for (const stix::Object& o : stored) {
    if (NumberOf(o.id) % 11 == 0 && o.type == "indicator") {
      stix::Object r = o;
      r.json["modified"] = "2024-02-01T00:00:00.000Z";
      r.json["revoked"] = true;
      revocations.push_back(Parse(boost::json::serialize(r.json)));
    }
  }
  Put(revocations);
  for (int n = 201; n <= 300; ++n) fresh.push_back(object(n, false));
  Put(fresh);
  std::vector<store::EncodedObject> encoded;
  for (const stix::Object& o : fresh) encoded.push_back(store::Encode(o, &extractor_));
  std::vector<BatchItem> items;
  for (const store::EncodedObject& e : encoded) items.push_back({e.object->id, e.postings});

  const Correlator correlator(*store_, lists_.get());
  struct Case {
    std::string name;
    CorrelationOptions options;
    std::function<bool(const store::StoredObject&)> visible;
  };
  CorrelationOptions small;
  small.per_value = 3;
  small.max_correlations = 10;
  small.max_related = 2;
  CorrelationOptions defaults;
  defaults.max_correlations = 30;
  const std::vector<Case> cases = {
      {"everything visible", defaults, [](const store::StoredObject&) { return true; }},
      {"two thirds visible, small pages", small,
       [](const store::StoredObject& o) { return NumberOf(o.id) % 3 != 0; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    int calls = 0;
    std::set<std::string> asked;
    bool asked_twice = false;
    auto visible = [&](const store::StoredObject& o) {
      ++calls;
      asked_twice = asked_twice || !asked.insert(o.id).second;
      return c.visible(o);
    };
    auto batch = correlator.CorrelateBatch(items, c.options, visible);
    ASSERT_TRUE(batch.ok()) << batch.status();
    EXPECT_FALSE(asked_twice);  // once per object and batch
    ASSERT_EQ(batch->items.size(), items.size());
    int compared = 0, listed = 0, over = 0, containing = 0, contained = 0, more = 0, related_more = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      auto single = correlator.CorrelationsOf(items[i].id, c.options, c.visible);
      if (!single.ok()) {
        EXPECT_EQ(single.status().code(), absl::StatusCode::kNotFound);
        EXPECT_EQ(NumberOf(items[i].id) % 3, 0);  // hidden from this viewer
        continue;
      }
      ++compared;
      EXPECT_EQ(Render(batch->Expand(i)), Render(*single)) << items[i].id;
      for (const CorrelatedValue& v : *single) {
        listed += v.warninglists.empty() ? 0 : 1;
        over += v.over_correlating ? 1 : 0;
        containing += v.containing.empty() ? 0 : 1;
        contained += v.contained.empty() ? 0 : 1;
        more += v.objects.more ? 1 : 0;
        related_more += v.related_more ? 1 : 0;
      }
    }
    // The data exercise every rule.
    EXPECT_GE(compared, 60);
    EXPECT_GT(listed, 0);
    EXPECT_GT(over, 0);
    EXPECT_GT(containing, 0);
    EXPECT_GT(contained, 0);
    EXPECT_GT(more, 0);
    if (c.options.max_related == 2) {
      EXPECT_GT(related_more, 0);
    }
    // Only objects the viewer sees are in the answer.
    for (const store::StoredObject& o : batch->objects) EXPECT_TRUE(c.visible(o)) << o.id;
  }
}


// ---- Sightings of the indicators a search finds.

// A sighting of `indicator` by identity `org` (created_by_ref and where_sighted_refs), as `concord match
// --record` writes them; `extra` is added to the JSON (",\"revoked\":true", markings).
stix::Object SightingOf(int n, const std::string& indicator, int count, int org, std::string_view extra = "") {
  return Parse(fmt::format(
      R"({{"type":"sighting","spec_version":"2.1","id":"{}","created":"2024-03-01T00:00:00.000Z",
      "modified":"2024-03-01T00:00:00.000Z","created_by_ref":"{}","sighting_of_ref":"{}","count":{},
      "first_seen":"2024-03-01T10:00:00.000Z","last_seen":"2024-03-01T10:59:59.000Z",
      "where_sighted_refs":["{}"]{}}})",
      Id("sighting", n), Id("identity", org), indicator, count, Id("identity", org), extra));
}

// "sighting-N count first_seen last_seen [where…] by" per sighting.
std::vector<std::string> SightingLines(const IndicatorSightings& s) {
  std::vector<std::string> out;
  for (const Sighting& x : s.sightings) {
    out.push_back(fmt::format("{} {} {} {} [{}] {}", x.object.id, x.count ? std::to_string(*x.count) : "-",
                              x.first_seen, x.last_seen, fmt::join(x.where_sighted_refs, ","),
                              x.object.created_by_ref));
  }
  return out;
}

TEST_F(CorrelatorTest, SearchListsTheSightingsOfTheIndicatorsItFinds) {
  Put({IndicatorOf(1, "[domain-name:value = 'evil.example']"), IndicatorOf(2, "[domain-name:value = 'evil.example']"),
       IndicatorOf(3, "[domain-name:value = 'other.example']"),
       Parse(R"({"type":"domain-name","spec_version":"2.1","id":"domain-name--00000000-0000-4000-8000-000000000001","value":"evil.example"})"),
       SightingOf(1, Id("indicator", 1), 5, 1), SightingOf(2, Id("indicator", 1), 2, 2),
       SightingOf(3, Id("indicator", 3), 9, 1)});
  const SearchResult r = MustSearch("evil.example", {}, kAll);
  EXPECT_THAT(Ids(r.objects.objects), ElementsAre(Id("indicator", 1), Id("indicator", 2),
                                                  "domain-name--00000000-0000-4000-8000-000000000001"));
  // Indicator 2 has none (no entry), indicator 3 does not have the value; the SCO is no indicator.
  ASSERT_EQ(r.sightings.size(), 1u);
  const IndicatorSightings& s = r.sightings[0];
  EXPECT_EQ(s.indicator.id, Id("indicator", 1));
  EXPECT_EQ(s.indicator.type, "indicator");
  EXPECT_EQ(s.via, SightedVia::kValue);
  EXPECT_EQ(s.total, 2);
  EXPECT_FALSE(s.total_more);
  EXPECT_THAT(SightingLines(s),
              ElementsAre(fmt::format("{} 5 2024-03-01T10:00:00.000Z 2024-03-01T10:59:59.000Z [{}] {}",
                                      Id("sighting", 1), Id("identity", 1), Id("identity", 1)),
                          fmt::format("{} 2 2024-03-01T10:00:00.000Z 2024-03-01T10:59:59.000Z [{}] {}",
                                      Id("sighting", 2), Id("identity", 2), Id("identity", 2))));
  EXPECT_EQ(s.sightings[0].object.type, "sighting");
  EXPECT_EQ(s.sightings[0].object.modified, "2024-03-01T00:00:00.000Z");
  EXPECT_TRUE(s.sightings[0].object.json.empty());
  EXPECT_FALSE(r.sightings_more);
  EXPECT_EQ(r.sighted_indicators, 2u);
  // No sightings asked for: none looked up.
  SearchOptions none;
  none.sightings_per_indicator = 0;
  const SearchResult without = MustSearch("evil.example", none, kAll);
  EXPECT_THAT(without.sightings, IsEmpty());
  EXPECT_EQ(without.sighted_indicators, 0u);
}

// Sightings pass the caller's visibility like objects; revoked sightings are withdrawn claims and are left out
// of the list and the total; a new version of a sighting shows its new count.
TEST_F(CorrelatorTest, HiddenAndRevokedSightingsAreLeftOut) {
  Put({IndicatorOf(1, "[ipv4-addr:value = '198.51.100.7']"), SightingOf(1, Id("indicator", 1), 1, 1),
       SightingOf(2, Id("indicator", 1), 2, 2), SightingOf(3, Id("indicator", 1), 3, 3)});
  // Sighting 3 revoked by a later version; sighting 1 updated (count 10).
  Put({Parse(fmt::format(
           R"({{"type":"sighting","spec_version":"2.1","id":"{}","created":"2024-03-01T00:00:00.000Z",
           "modified":"2024-03-02T00:00:00.000Z","created_by_ref":"{}","sighting_of_ref":"{}","revoked":true}})",
           Id("sighting", 3), Id("identity", 3), Id("indicator", 1))),
       Parse(fmt::format(
           R"({{"type":"sighting","spec_version":"2.1","id":"{}","created":"2024-03-01T00:00:00.000Z",
           "modified":"2024-03-02T00:00:00.000Z","created_by_ref":"{}","sighting_of_ref":"{}","count":10}})",
           Id("sighting", 1), Id("identity", 1), Id("indicator", 1)))});
  const auto all_but_2 = [](const store::StoredObject& o) { return o.id != Id("sighting", 2); };
  const SearchResult r = MustSearch("198.51.100.7", {}, all_but_2);
  ASSERT_EQ(r.sightings.size(), 1u);
  EXPECT_EQ(r.sightings[0].total, 1);
  EXPECT_THAT(SightingLines(r.sightings[0]), ElementsAre(fmt::format("{} 10   [] {}", Id("sighting", 1), Id("identity", 1))));
  // Seeing the indicator but none of its sightings: no entry.
  const auto indicator_only = [](const store::StoredObject& o) { return o.type == "indicator"; };
  EXPECT_THAT(MustSearch("198.51.100.7", {}, indicator_only).sightings, IsEmpty());
  // Seeing everything: the revoked one is still left out.
  const SearchResult everything = MustSearch("198.51.100.7", {}, kAll);
  ASSERT_EQ(everything.sightings.size(), 1u);
  EXPECT_EQ(everything.sightings[0].total, 2);
  EXPECT_THAT(SightingLines(everything.sightings[0]),
              ElementsAre(fmt::format("{} 10   [] {}", Id("sighting", 1), Id("identity", 1)),
                          fmt::format("{} 2 2024-03-01T10:00:00.000Z 2024-03-01T10:59:59.000Z [{}] {}",
                                      Id("sighting", 2), Id("identity", 2), Id("identity", 2))));
}

TEST_F(CorrelatorTest, SightingsAreBoundedPerIndicatorAndInIndicators) {
  std::vector<stix::Object> objects;
  for (int i = 1; i <= 3; ++i) objects.push_back(IndicatorOf(i, "[domain-name:value = 'bounded.example']"));
  for (int n = 1; n <= 12; ++n) objects.push_back(SightingOf(n, Id("indicator", 1), n, 1));
  objects.push_back(SightingOf(13, Id("indicator", 2), 1, 1));
  objects.push_back(SightingOf(14, Id("indicator", 3), 1, 1));
  Put(objects);
  SearchOptions options;
  options.sightings_per_indicator = 3;
  options.max_sighted_indicators = 2;
  const SearchResult r = MustSearch("bounded.example", options, kAll);
  ASSERT_EQ(r.sightings.size(), 2u);  // indicator 3 not looked at
  EXPECT_TRUE(r.sightings_more);
  EXPECT_EQ(r.sighted_indicators, 2u);
  EXPECT_EQ(r.sightings[0].indicator.id, Id("indicator", 1));
  EXPECT_EQ(r.sightings[0].total, 12);
  EXPECT_FALSE(r.sightings[0].total_more);
  ASSERT_EQ(r.sightings[0].sightings.size(), 3u);
  EXPECT_EQ(r.sightings[0].sightings[0].object.id, Id("sighting", 1));
  EXPECT_EQ(r.sightings[0].sightings[2].object.id, Id("sighting", 3));
  EXPECT_EQ(r.sightings[1].indicator.id, Id("indicator", 2));
  EXPECT_EQ(r.sightings[1].total, 1);
  // The bounds are capped: 1,000 per indicator asked, 100 listed.
  options.sightings_per_indicator = 1000;
  options.max_sighted_indicators = 1000;
  const SearchResult capped = MustSearch("bounded.example", options, kAll);
  ASSERT_EQ(capped.sightings.size(), 3u);
  EXPECT_FALSE(capped.sightings_more);
  EXPECT_EQ(capped.sightings[0].sightings.size(), 12u);
}

// More than 1,000 visible sightings: the total stops at 1,000 and says so.
TEST_F(CorrelatorTest, SightingTotalStopsAtItsBound) {
  std::vector<stix::Object> objects{IndicatorOf(1, "[domain-name:value = 'busy.example']")};
  for (int n = 1; n <= 1003; ++n) objects.push_back(SightingOf(n, Id("indicator", 1), 1, 1));
  Put(objects);
  const SearchResult r = MustSearch("busy.example", {}, kAll);
  ASSERT_EQ(r.sightings.size(), 1u);
  EXPECT_EQ(r.sightings[0].total, 1000);
  EXPECT_TRUE(r.sightings[0].total_more);
  EXPECT_EQ(r.sightings[0].sightings.size(), 10u);
}

// Indicators reached by address containment, and indicators the caller's matcher says fire (AddSightings).
TEST_F(CorrelatorTest, SightingsOfContainingAndFiringIndicators) {
  Put({IndicatorOf(1, "[ipv4-addr:value = '10.0.0.0/8']"), IndicatorOf(2, "[domain-name:value LIKE '%.fire.example']"),
       IndicatorOf(3, "[domain-name:value LIKE '%.fire.example']"), IndicatorOf(4, "[domain-name:value = 'a.fire.example']"),
       Parse(R"({"type":"domain-name","spec_version":"2.1","id":"domain-name--00000000-0000-4000-8000-000000000001","value":"x.fire.example"})"),
       SightingOf(1, Id("indicator", 1), 4, 1), SightingOf(2, Id("indicator", 2), 6, 1),
       SightingOf(3, Id("indicator", 3), 7, 1), SightingOf(4, Id("indicator", 4), 8, 1)});
  const SearchResult ip = MustSearch("10.1.2.3", {}, kAll);
  ASSERT_EQ(ip.sightings.size(), 1u);
  EXPECT_EQ(ip.sightings[0].indicator.id, Id("indicator", 1));
  EXPECT_EQ(ip.sightings[0].via, SightedVia::kContaining);
  EXPECT_EQ(SightedViaName(ip.sightings[0].via), "containing");

  const auto no_3 = [](const store::StoredObject& o) { return o.id != Id("indicator", 3); };
  SearchResult r = MustSearch("a.fire.example", {}, no_3);
  ASSERT_EQ(r.sightings.size(), 1u);  // indicator 4 has the value
  const std::vector<std::string> firing{Id("indicator", 2), Id("indicator", 3), Id("indicator", 4), Id("indicator", 2),
                                        "domain-name--00000000-0000-4000-8000-000000000001", Id("indicator", 99)};
  // 2 is added once; 3 is hidden; 4 is listed already; an SCO and an unknown id are no indicators.
  ASSERT_TRUE(Correlator(*store_).AddSightings(r, firing, {}, no_3).ok());
  ASSERT_EQ(r.sightings.size(), 2u);
  EXPECT_EQ(r.sightings[0].indicator.id, Id("indicator", 4));
  EXPECT_EQ(r.sightings[0].via, SightedVia::kValue);
  EXPECT_EQ(r.sightings[1].indicator.id, Id("indicator", 2));
  EXPECT_EQ(r.sightings[1].via, SightedVia::kDetection);
  EXPECT_EQ(SightedViaName(r.sightings[1].via), "detection");
  EXPECT_EQ(r.sightings[1].total, 1);
  EXPECT_EQ(r.sightings[1].sightings[0].count, 6);
  EXPECT_EQ(r.sighted_indicators, 2u);  // 4, then 2
  // The indicator bound holds across both calls.
  SearchOptions one;
  one.max_sighted_indicators = 1;
  SearchResult bounded = MustSearch("a.fire.example", one, kAll);
  ASSERT_TRUE(Correlator(*store_).AddSightings(bounded, firing, one, kAll).ok());
  ASSERT_EQ(bounded.sightings.size(), 1u);
  EXPECT_TRUE(bounded.sightings_more);
}

// A sighting's reference posting is no value: it never correlates, neither one object at a time nor in a
// batch, and no user input reaches it.
TEST_F(CorrelatorTest, SightingReferencesNeverCorrelate) {
  Put({IndicatorOf(1, "[domain-name:value = 'ref.example']"), SightingOf(1, Id("indicator", 1), 1, 1),
       SightingOf(2, Id("indicator", 1), 1, 2)});
  const Correlator correlator(*store_);
  auto of_sighting = correlator.CorrelationsOf(Id("sighting", 1), {}, kAll);
  ASSERT_TRUE(of_sighting.ok()) << of_sighting.status();
  EXPECT_THAT(*of_sighting, IsEmpty());
  auto postings = store_->PostingsOf(Id("sighting", 1));
  ASSERT_TRUE(postings.ok());
  ASSERT_EQ(postings->size(), 1u);
  EXPECT_EQ((*postings)[0].kind, kSightingOfPosting);
  EXPECT_EQ((*postings)[0].value, Id("indicator", 1));
  const std::vector<BatchItem> items{{Id("sighting", 1), *postings}};
  auto batch = correlator.CorrelateBatch(items, {}, kAll);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->items.size(), 1u);
  EXPECT_THAT(batch->items[0], IsEmpty());
  EXPECT_THAT(batch->objects, IsEmpty());
  // The indicator correlates with nothing (its sightings are not objects sharing its value).
  auto of_indicator = correlator.CorrelationsOf(Id("indicator", 1), {}, kAll);
  ASSERT_TRUE(of_indicator.ok());
  ASSERT_EQ(of_indicator->size(), 1u);
  EXPECT_THAT((*of_indicator)[0].objects.objects, IsEmpty());
  // An id searched is no value of any kind.
  auto searched = correlator.Search(Id("indicator", 1), {}, kAll);
  EXPECT_EQ(searched.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseKind("sighting-of").has_value());
}

}  // namespace
}  // namespace concord::correlate
