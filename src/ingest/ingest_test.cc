#include "ingest/ingest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "boost/json/parse.hpp"
#include "common/json.h"
#include "common/status.h"
#include "correlate/postings.h"
#include "fmt/format.h"

namespace concord::ingest {
namespace {

std::string Indicator(int i, std::string_view modified = "2020-01-01T00:00:00.000Z") {
  return fmt::format(
      R"({{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{:012d}","created":"2020-01-01T00:00:00.000Z","modified":"{}","pattern":"[ipv4-addr:value = '10.0.0.{}']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}})",
      i, modified, i % 250);
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("concord_ingest_{}_{}.db", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto s = store::OpenStore(path_.string());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + suffix);
  }
  std::filesystem::path path_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(IngestTest, BatchesCommitAsTheyFillAndProgressIsReported) {
  std::vector<int64_t> progress;
  Ingestor ingestor(*store_, {.batch_size = 2, .on_progress = [&](int64_t items, int64_t) { progress.push_back(items); }});
  std::string lines;
  for (int i = 0; i < 5; ++i) lines += Indicator(i) + "\n";
  ASSERT_TRUE(ingestor.AddBytes("five.jsonl", lines).ok());
  // One batch is committed on another thread while the next is read: outcomes arrive one batch late.
  EXPECT_EQ(progress, (std::vector<int64_t>{2}));
  ASSERT_TRUE(ingestor.Flush().ok());
  EXPECT_EQ(progress, (std::vector<int64_t>{2, 4, 5}));
  EXPECT_EQ(ingestor.report().totals.new_objects, 5);
  EXPECT_EQ(ingestor.report().by_type.at("indicator").new_objects, 5);
}

// Each committed batch is handed over with its outcomes before the next one goes to the store; an error there
// stops the ingest: what follows is not stored (the CLI's audit log: no write goes unrecorded).
TEST_F(IngestTest, AnErrorAfterACommittedBatchStopsTheIngestThere) {
  std::vector<std::vector<std::string>> seen;
  Ingestor ingestor(*store_, {.batch_size = 2,
                              .on_committed = [&](std::span<const stix::Object> objects,
                                                  std::span<const store::PutResult> results) -> absl::Status {
                                std::vector<std::string> batch;
                                for (size_t i = 0; i < objects.size(); ++i) {
                                  batch.push_back(fmt::format("{} {}", objects[i].id.substr(objects[i].id.size() - 2),
                                                              store::PutOutcomeName(results[i].outcome)));
                                }
                                seen.push_back(std::move(batch));
                                if (seen.size() == 2) return absl::UnavailableError("the audit log cannot record this");
                                return absl::OkStatus();
                              }});
  std::string lines = Indicator(0) + "\n" + Indicator(0) + "\n";
  for (int i = 1; i < 6; ++i) lines += Indicator(i) + "\n";
  const absl::Status status = ingestor.AddBytes("seven.jsonl", lines);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_EQ(seen, (std::vector<std::vector<std::string>>{{"00 new", "00 unchanged"}, {"01 new", "02 new"}}));
  // Batches 1 and 2 are stored; batch 3 (3, 4) was read but not handed to the store.
  for (int i = 0; i < 6; ++i) {
    const auto found = store_->Get(fmt::format("indicator--00000000-0000-4000-8000-{:012d}", i));
    EXPECT_EQ(found.ok(), i <= 2) << i;
  }
}

TEST_F(IngestTest, SameVersionTwiceInOneBatchIsUnchangedTheSecondTime) {
  Ingestor ingestor(*store_, {});
  const std::string bundle = "[" + Indicator(7) + "," + Indicator(7) + "," + Indicator(7, "2021-01-01T00:00:00.000Z") + "]";
  ASSERT_TRUE(ingestor.AddBytes("dup.json", bundle).ok());
  ASSERT_TRUE(ingestor.Flush().ok());
  const auto& t = ingestor.report().totals;
  EXPECT_EQ(t.new_objects, 1);
  EXPECT_EQ(t.unchanged, 1);
  EXPECT_EQ(t.new_versions, 1);
}

TEST_F(IngestTest, PatternErrorsNameThePatternField) {
  boost::json::object bad = boost::json::parse(Indicator(1)).as_object();
  bad["pattern"] = "[ipv4-addr:value = '10.0.0.1'";
  auto r = ValidateObject(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrorField(r.status()), "pattern");
}

TEST_F(IngestTest, StrictRefusesTheWholeSource) {
  Ingestor ingestor(*store_, {.strict = true});
  const std::string bundle = "[" + Indicator(1) + ",{\"type\":\"indicator\"}," + Indicator(2) + "]";
  EXPECT_EQ(ingestor.AddBytes("bad.json", bundle).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(ingestor.Flush().ok());
  EXPECT_EQ(ingestor.report().totals.new_objects, 0);
  EXPECT_EQ(ingestor.report().totals.rejected, 1);
  auto stats = store_->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->objects, 0);
}

TEST_F(IngestTest, RecordsOneOutcomePerItem) {
  Ingestor ingestor(*store_, {.record_items = true});
  const std::string bundle = "[" + Indicator(1) + ",{\"type\":\"indicator\",\"id\":\"indicator--x\"}," + Indicator(1) + "]";
  ASSERT_TRUE(ingestor.AddBytes("post", bundle).ok());
  ASSERT_TRUE(ingestor.Flush().ok());
  auto items = ingestor.report().items;
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].outcome, "new");
  EXPECT_EQ(items[0].id, "indicator--00000000-0000-4000-8000-000000000001");
  EXPECT_EQ(items[1].outcome, "rejected");
  EXPECT_EQ(items[1].id, "indicator--x");
  EXPECT_EQ(items[1].field, "id");
  EXPECT_EQ(items[2].outcome, "unchanged");
}

// Ingest finds an indicator's postings from the pattern it parsed to validate it (no second parse); they
// must be exactly what the store's extractor finds from the object itself, and the store must call them
// complete.
TEST(IngestPostings, PostingsFromTheValidatedPatternEqualTheExtractorsOwn) {
  const auto path = std::filesystem::temp_directory_path() / fmt::format("concord_ingest_postings_{}.db", ::getpid());
  const correlate::PostingExtractor extractor;
  {
    auto s = store::OpenStore(path.string(), {.postings = &extractor});
    ASSERT_TRUE(s.ok()) << s.status();
    const std::vector<std::string> patterns = {
        "[ipv4-addr:value = '198.51.100.7'] OR [ipv4-addr:value = '10.0.0.0/8']",
        "[domain-name:value = 'Evil.EXAMPLE.'] AND [url:value = 'HTTP://evil.example:80/a%7e']",
        "[file:hashes.'SHA-256' = 'AABBCCDDEEFF00112233445566778899AABBCCDDEEFF00112233445566778899' OR file:name = 'x.exe']",
        "[email-addr:value = 'Bob@Example.org'] FOLLOWEDBY [ipv6-addr:value = '2001:DB8::1'] WITHIN 60 SECONDS",
        "[process:name = 'nothing-indexed']"};
    std::string lines;
    for (size_t i = 0; i < patterns.size(); ++i) {
      lines += fmt::format(
          R"({{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{:012d}","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","pattern":"{}","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}})",
          i, patterns[i]) + "\n";
    }
    // A SCO: its postings come from Encode, as before.
    lines += R"({"type":"domain-name","spec_version":"2.1","id":"domain-name--3c10e5a7-6b4c-4c2b-9c5b-000000000001","value":"sco.example"})"
             "\n";
    Ingestor ingestor(**s, {});
    ASSERT_TRUE(ingestor.AddBytes("postings.jsonl", lines).ok());
    ASSERT_TRUE(ingestor.Flush().ok());
    EXPECT_EQ(ingestor.report().totals.new_objects, static_cast<int64_t>(patterns.size() + 1));
    auto page = (*s)->List(store::Query{});
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->objects.size(), patterns.size() + 1);
    size_t with_postings = 0;
    for (const store::StoredObject& o : page->objects) {
      auto parsed = ParseJson(o.json);
      ASSERT_TRUE(parsed.ok());
      auto object = stix::ParseObject(std::move(parsed->as_object()));
      ASSERT_TRUE(object.ok());
      std::vector<store::Posting> expected;
      extractor.Extract(*object, expected);
      auto stored = (*s)->PostingsOf(o.id);
      ASSERT_TRUE(stored.ok()) << stored.status();
      EXPECT_EQ(*stored, expected) << o.id;
      with_postings += expected.empty() ? 0 : 1;
    }
    EXPECT_EQ(with_postings, patterns.size());  // every indexed pattern and the SCO; not process:name
    auto complete = (*s)->PostingsComplete();
    ASSERT_TRUE(complete.ok());
    EXPECT_TRUE(*complete);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

}  // namespace
}  // namespace concord::ingest
