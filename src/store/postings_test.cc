// Store conformance tests for postings (store.h): written in the batch's transaction, following the current
// version, rebuilt by ReindexPostings exactly as incremental writes left them, and searchable by value, by
// address range and by prefix length. The extractor here is a stand-in: the store never interprets kinds.
#include <arpa/inet.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite/migrations.h"
#include "store/store.h"
#include "store/testing/objects.h"

namespace concord::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::DomainName;
using testing::Indicator;

constexpr uint8_t kIp = 0;
constexpr uint8_t kCidr = 2;
constexpr uint8_t kDomain = 4;

std::array<uint8_t, 16> V4(std::string_view text) {
  std::array<uint8_t, 16> out{};
  out[10] = out[11] = 0xff;
  const std::string s(text);
  EXPECT_EQ(inet_pton(AF_INET, s.c_str(), out.data() + 12), 1) << text;
  return out;
}

// Every quoted literal of an indicator's pattern and a domain-name's value: an IPv4 address (kind 0), a
// CIDR (kind 2) or anything else (kind 4).
class LiteralExtractor final : public PostingExtractor {
 public:
  void Extract(const stix::Object& object, std::vector<Posting>& out) const override {
    ++calls;
    if (object.type == "domain-name") {
      out.push_back({kDomain, std::string(object.json.at("value").as_string()), std::nullopt, -1});
      return;
    }
    const auto* pattern = object.json.if_contains("pattern");
    if (pattern == nullptr) return;
    const std::string_view text = pattern->as_string();
    for (size_t open = text.find('\''); open != std::string_view::npos; open = text.find('\'', open + 1)) {
      const size_t close = text.find('\'', open + 1);
      if (close == std::string_view::npos) break;
      const std::string value(text.substr(open + 1, close - open - 1));
      open = close;
      const size_t slash = value.find('/');
      in_addr a;
      if (slash != std::string::npos) {
        out.push_back({kCidr, value, V4(value.substr(0, slash)), std::stoi(value.substr(slash + 1))});
      } else if (inet_pton(AF_INET, value.c_str(), &a) == 1) {
        out.push_back({kIp, value, V4(value), -1});
      } else {
        out.push_back({kDomain, value, std::nullopt, -1});
      }
    }
  }
  mutable std::atomic<int> calls{0};
};

std::string IndicatorId(int n) { return fmt::format("indicator--{:08x}-0000-4000-8000-000000000000", n); }

std::string Pattern(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    out += fmt::format("{}[x:value = '{}']", out.empty() ? "" : " OR ", v);
  }
  return out;
}

std::vector<std::string> Ids(const PostingPage& page) {
  std::vector<std::string> ids;
  for (const PostingHit& hit : page.hits) ids.push_back(hit.object.id);
  return ids;
}

class PostingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "postings_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "concord.db").string();
    Reopen(&extractor_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Reopen(const PostingExtractor* postings) {
    store_.reset();
    OpenOptions options;
    options.postings = postings;
    auto opened = OpenStore("sqlite:" + path_, options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
  }

  std::vector<PutResult> MustPut(const std::vector<stix::Object>& batch) {
    auto results = store_->Put(batch);
    EXPECT_TRUE(results.ok()) << results.status();
    return results.ok() ? *results : std::vector<PutResult>{};
  }

  void RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  // Every posting in the database as (object id, kind, value, address hex, prefix), sorted.
  std::set<std::tuple<std::string, int64_t, std::string, std::string, int64_t>> AllPostings() {
    std::set<std::tuple<std::string, int64_t, std::string, std::string, int64_t>> out;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT o.id, p.kind, p.value, coalesce(hex(p.address), ''), coalesce(p.prefix, -1), "
                                 "p.vhash FROM postings p JOIN objects o USING (oid)",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      out.emplace(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), sqlite3_column_int64(stmt, 1),
                  reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2)),
                  reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3)), sqlite3_column_int64(stmt, 4));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  PostingPage Find(uint8_t kind, const std::string& value, int64_t after = 0, size_t limit = 100) {
    auto page = store_->FindPostings({kind, value, after, limit});
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? *page : PostingPage{};
  }

  std::vector<Posting> Of(std::string_view id) {
    auto postings = store_->PostingsOf(id);
    EXPECT_TRUE(postings.ok()) << postings.status();
    return postings.ok() ? *postings : std::vector<Posting>{};
  }

  bool Complete() {
    auto complete = store_->PostingsComplete();
    EXPECT_TRUE(complete.ok()) << complete.status();
    return complete.ok() && *complete;
  }

  LiteralExtractor extractor_;
  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_F(PostingsTest, NewObjectsGetPostingsFoundByValue) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"198.51.100.1", "evil.example"})),
           Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"evil.example", "evil.example"})),
           DomainName("domain-name--33333333-3333-4333-8333-333333333333", "evil.example")});
  EXPECT_TRUE(Complete());
  const PostingPage page = Find(kDomain, "evil.example");
  EXPECT_THAT(Ids(page), ElementsAre(IndicatorId(1), IndicatorId(2), "domain-name--33333333-3333-4333-8333-333333333333"));
  EXPECT_FALSE(page.more);
  ASSERT_EQ(page.hits.size(), 3u);
  EXPECT_EQ(page.hits[0].object.type, "indicator");
  EXPECT_EQ(page.hits[0].object.seq, 1);
  EXPECT_TRUE(page.hits[0].object.current);
  EXPECT_FALSE(page.hits[0].object.revoked);
  EXPECT_EQ(page.hits[0].object.json, "");  // columns only
  EXPECT_EQ(*store_->CountPostings(kDomain, "evil.example", 100), 3);
  EXPECT_EQ(*store_->CountPostings(kDomain, "evil.example", 2), 2);  // counts no further than asked
  EXPECT_EQ(*store_->CountPostings(kIp, "evil.example", 100), 0);   // kind is part of the key
  EXPECT_TRUE(Find(kDomain, "good.example").hits.empty());
  // Each (kind, value) once per object, sorted.
  EXPECT_THAT(Of(IndicatorId(2)), ElementsAre(Posting{kDomain, "evil.example", std::nullopt, -1}));
  EXPECT_THAT(Of(IndicatorId(1)), ElementsAre(Posting{kIp, "198.51.100.1", V4("198.51.100.1"), -1},
                                              Posting{kDomain, "evil.example", std::nullopt, -1}));
  EXPECT_EQ(store_->PostingsOf(IndicatorId(9)).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PostingsTest, PagesByCursorWithoutSkipsOrRepeats) {
  std::vector<stix::Object> batch;
  for (int i = 1; i <= 25; ++i) batch.push_back(Indicator(IndicatorId(i), "2024-01-02T00:00:00.000Z", Pattern({"shared.example"})));
  MustPut(batch);
  std::vector<std::string> seen;
  int64_t after = 0;
  int pages = 0;
  while (true) {
    const PostingPage page = Find(kDomain, "shared.example", after, 10);
    for (const auto& id : Ids(page)) seen.push_back(id);
    ++pages;
    after = page.next_after;
    if (!page.more) break;
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  for (int i = 1; i <= 25; ++i) EXPECT_EQ(seen[i - 1], IndicatorId(i));
}

TEST_F(PostingsTest, FailedBatchLeavesNoPostings) {
  RawExec(fmt::format("CREATE TRIGGER fail BEFORE INSERT ON versions WHEN NEW.id = '{}' "
                      "BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
                      IndicatorId(2)));
  Reopen(&extractor_);
  auto results = store_->Put(std::vector{Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"a.example"})),
                                         Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"a.example"}))});
  ASSERT_FALSE(results.ok());
  EXPECT_THAT(results.status().message(), HasSubstr("injected fault"));
  EXPECT_TRUE(AllPostings().empty());
  EXPECT_TRUE(Find(kDomain, "a.example").hits.empty());
}

TEST_F(PostingsTest, FailedPostingInsertRollsBackTheVersion) {
  RawExec("CREATE TRIGGER fail BEFORE INSERT ON postings WHEN NEW.value = 'bad.example' "
          "BEGIN SELECT RAISE(ABORT, 'injected posting fault'); END");
  Reopen(&extractor_);
  auto results = store_->Put(std::vector{Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"a.example"})),
                                         Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"bad.example"}))});
  ASSERT_FALSE(results.ok());
  EXPECT_THAT(results.status().message(), HasSubstr("injected posting fault"));
  EXPECT_EQ(store_->Get(IndicatorId(1)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(AllPostings().empty());
}

TEST_F(PostingsTest, NewCurrentVersionReplacesPostings) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"old.example", "both.example"}))});
  MustPut({Indicator(IndicatorId(1), "2024-01-03T00:00:00.000Z", Pattern({"new.example", "both.example"}))});
  EXPECT_TRUE(Find(kDomain, "old.example").hits.empty());
  EXPECT_THAT(Ids(Find(kDomain, "new.example")), ElementsAre(IndicatorId(1)));
  const PostingPage both = Find(kDomain, "both.example");
  ASSERT_EQ(both.hits.size(), 1u);
  EXPECT_EQ(both.hits[0].object.seq, 2);  // the current version's columns
  EXPECT_EQ(both.hits[0].object.modified, "2024-01-03T00:00:00.000Z");
  // Two versions in one batch: the last current one wins.
  MustPut({Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"first.example"})),
           Indicator(IndicatorId(2), "2024-01-04T00:00:00.000Z", Pattern({"second.example"}))});
  EXPECT_THAT(Of(IndicatorId(2)), ElementsAre(Posting{kDomain, "second.example", std::nullopt, -1}));
}

TEST_F(PostingsTest, OlderVersionArrivingLaterChangesNothing) {
  MustPut({Indicator(IndicatorId(1), "2024-01-03T00:00:00.000Z", Pattern({"current.example"}))});
  const int calls = extractor_.calls;
  auto older = MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"older.example"}))});
  ASSERT_EQ(older.size(), 1u);
  EXPECT_EQ(older[0].outcome, PutOutcome::kNewVersion);
  EXPECT_TRUE(Find(kDomain, "older.example").hits.empty());
  EXPECT_THAT(Of(IndicatorId(1)), ElementsAre(Posting{kDomain, "current.example", std::nullopt, -1}));
  EXPECT_EQ(extractor_.calls, calls + 1);  // extracted while encoding; nothing written
  // Re-putting the current version is unchanged and leaves them as they are.
  MustPut({Indicator(IndicatorId(1), "2024-01-03T00:00:00.000Z", Pattern({"current.example"}))});
  EXPECT_EQ(AllPostings().size(), 1u);
}

TEST_F(PostingsTest, RevokedObjectKeepsItsPostings) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"198.51.100.7"}))});
  MustPut({Indicator(IndicatorId(1), "2024-01-03T00:00:00.000Z", Pattern({"198.51.100.7"}), /*revoked=*/true)});
  const PostingPage page = Find(kIp, "198.51.100.7");
  ASSERT_EQ(page.hits.size(), 1u);
  EXPECT_TRUE(page.hits[0].object.revoked);
  EXPECT_EQ(page.hits[0].object.seq, 2);
}

TEST_F(PostingsTest, AddressRangeAndPrefixLengths) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"10.0.0.1", "10.0.0.0/8"})),
           Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"10.255.255.255", "10.1.0.0/16"})),
           Indicator(IndicatorId(3), "2024-01-02T00:00:00.000Z", Pattern({"11.0.0.0", "0.0.0.0/0"})),
           Indicator(IndicatorId(4), "2024-01-02T00:00:00.000Z", Pattern({"10.0.0.1", "10.2.0.0/16"}))});
  EXPECT_THAT(*store_->PrefixLengths(kCidr), ElementsAre(0, 8, 16));
  EXPECT_TRUE(store_->PrefixLengths(kIp)->empty());

  IpRangeQuery query;
  query.kind = kIp;
  query.low = V4("10.0.0.0");
  query.high = V4("10.255.255.255");
  query.limit = 2;
  auto first = store_->IpPostingsInRange(query);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->postings.size(), 2u);
  EXPECT_EQ(first->postings[0].value, "10.0.0.1");
  EXPECT_EQ(first->postings[0].hit.object.id, IndicatorId(1));
  EXPECT_EQ(first->postings[1].value, "10.0.0.1");
  EXPECT_EQ(first->postings[1].hit.object.id, IndicatorId(4));
  EXPECT_TRUE(first->more);
  query.after = first->next_after;
  auto second = store_->IpPostingsInRange(query);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->postings.size(), 1u);  // the range's upper end is inclusive; 11.0.0.0 is outside
  EXPECT_EQ(second->postings[0].value, "10.255.255.255");
  EXPECT_EQ(second->postings[0].address, V4("10.255.255.255"));
  EXPECT_FALSE(second->more);
}

TEST_F(PostingsTest, StoreWithoutExtractorMarksPostingsIncomplete) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"a.example"}))});
  EXPECT_TRUE(Complete());
  Reopen(nullptr);
  EXPECT_EQ(store_->posting_extractor(), nullptr);
  MustPut({Indicator(IndicatorId(1), "2024-01-03T00:00:00.000Z", Pattern({"b.example"}))});
  EXPECT_FALSE(Complete());
  // The replaced version's postings are gone even so: a posting never names a version that is not current.
  EXPECT_TRUE(AllPostings().empty());
  EXPECT_EQ(store_->ReindexPostings({}).code(), absl::StatusCode::kFailedPrecondition);
  Reopen(&extractor_);
  ASSERT_TRUE(store_->ReindexPostings({}).ok());
  EXPECT_TRUE(Complete());
  EXPECT_THAT(Of(IndicatorId(1)), ElementsAre(Posting{kDomain, "b.example", std::nullopt, -1}));
}

TEST_F(PostingsTest, EncodedWithoutPostingsTheStoreExtracts) {
  const stix::Object object = Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"a.example"}));
  const std::vector<EncodedObject> rows = {Encode(object)};  // no extractor: the store's writer extracts
  ASSERT_TRUE(store_->PutEncoded(rows).ok());
  EXPECT_THAT(Of(IndicatorId(1)), ElementsAre(Posting{kDomain, "a.example", std::nullopt, -1}));
}

// Many objects and versions written incrementally, then every posting deleted and rebuilt: the same set.
TEST_F(PostingsTest, ReindexRebuildsExactlyWhatIncrementalWritesProduce) {
  std::vector<stix::Object> batch;
  for (int i = 1; i <= 4500; ++i) {
    batch.push_back(Indicator(IndicatorId(i), "2024-01-02T00:00:00.000Z",
                              Pattern({fmt::format("h{}.example", i % 97), fmt::format("10.{}.{}.1", i % 7, i % 5),
                                       fmt::format("10.{}.0.0/16", i % 3)})));
  }
  MustPut(batch);
  batch.clear();
  for (int i = 1; i <= 4500; i += 3) {  // new current versions with other values
    batch.push_back(Indicator(IndicatorId(i), "2024-01-03T00:00:00.000Z", Pattern({fmt::format("v2-{}.example", i)})));
  }
  for (int i = 2; i <= 4500; i += 5) {  // older versions: history only
    batch.push_back(Indicator(IndicatorId(i), "2024-01-01T00:00:00.000Z", Pattern({"stale.example"})));
  }
  MustPut(batch);
  MustPut({DomainName("domain-name--33333333-3333-4333-8333-333333333333", "h1.example")});
  const auto incremental = AllPostings();
  ASSERT_GT(incremental.size(), 10000u);

  RawExec("DELETE FROM postings");
  std::vector<ReindexProgress> progress;
  ASSERT_TRUE(store_->ReindexPostings([&](const ReindexProgress& p) { progress.push_back(p); }).ok());
  EXPECT_EQ(AllPostings(), incremental);
  EXPECT_TRUE(Complete());
  ASSERT_EQ(progress.size(), 3u);  // batches of 2000
  EXPECT_EQ(progress.back().objects_done, 4501);
  EXPECT_EQ(progress.back().objects_total, 4501);
  EXPECT_EQ(progress.back().postings, static_cast<int64_t>(incremental.size()));
  // Rebuilding over existing postings changes nothing either.
  ASSERT_TRUE(store_->ReindexPostings({}).ok());
  EXPECT_EQ(AllPostings(), incremental);
}

// A database written by a binary at schema 5 (objects, no postings table) is migrated on open and rebuilt.
TEST_F(PostingsTest, MigratedVersion5DatabaseIsIncompleteUntilReindexed) {
  MustPut({Indicator(IndicatorId(1), "2024-01-02T00:00:00.000Z", Pattern({"a.example", "192.0.2.1"})),
           Indicator(IndicatorId(2), "2024-01-02T00:00:00.000Z", Pattern({"a.example", "192.0.2.0/24"})),
           Indicator(IndicatorId(2), "2024-01-03T00:00:00.000Z", Pattern({"b.example", "192.0.2.0/24"}))});
  const auto expected = AllPostings();
  store_.reset();
  // Back to what migration 5 left.
  RawExec("DROP TABLE postings; DELETE FROM store_meta WHERE name = 'postings_complete'; "
          "DELETE FROM schema_migrations WHERE version = 6");
  Reopen(&extractor_);
  EXPECT_EQ(store_->GetStats()->schema_version, 6);
  EXPECT_FALSE(Complete());
  EXPECT_TRUE(AllPostings().empty());
  ASSERT_TRUE(store_->ReindexPostings({}).ok());
  EXPECT_TRUE(Complete());
  EXPECT_EQ(AllPostings(), expected);
  EXPECT_THAT(*store_->PrefixLengths(kCidr), ElementsAre(24));
}

TEST_F(PostingsTest, EmptyDatabaseStartsComplete) {
  EXPECT_TRUE(Complete());
  EXPECT_EQ(sqlite::LatestSchemaVersion(), 6);
}

TEST(PostingsDefaults, StoresWithoutPostingsSayUnimplemented) {
  class Bare final : public Store {
   public:
    absl::StatusOr<std::vector<PutResult>> PutEncoded(std::span<const EncodedObject>) override { return std::vector<PutResult>{}; }
    absl::StatusOr<StoredObject> Get(std::string_view) override { return StoredObject{}; }
    absl::StatusOr<StoredObject> GetVersion(std::string_view, const Timestamp&) override { return StoredObject{}; }
    absl::StatusOr<std::vector<StoredObject>> Versions(std::string_view) override { return std::vector<StoredObject>{}; }
    absl::StatusOr<Page> List(const Query&) override { return Page{}; }
    absl::StatusOr<Stats> GetStats() override { return Stats{}; }
  } bare;
  EXPECT_EQ(bare.posting_extractor(), nullptr);
  EXPECT_EQ(bare.FindPostings({}).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(bare.PostingsComplete().status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace concord::store
