#include "store/sqlite/row_cache.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace concord::store::sqlite {
namespace {

std::shared_ptr<const CachedRow> Row(int64_t seq, size_t json_bytes = 100) {
  return std::make_shared<const CachedRow>(seq, "indicator--" + std::to_string(seq), "identity--a", seq % 2 == 0,
                                           stix::Tlp::kAmber, seq % 3 == 0 ? std::optional<int>(2) : std::nullopt,
                                           "group", std::string(json_bytes, 'j'));
}

std::string Found(RowCache& cache, const std::vector<int64_t>& seqs) {
  std::vector<std::shared_ptr<const CachedRow>> out;
  cache.Find(seqs, out);
  EXPECT_EQ(out.size(), seqs.size());
  std::string text;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] != nullptr) {
      EXPECT_EQ(out[i]->seq(), seqs[i]);
    }
    text += out[i] != nullptr ? "+" : "-";
  }
  return text;
}

TEST(CachedRowTest, KeepsEveryColumn) {
  const CachedRow row(9, "indicator--x", "identity--y", true, stix::Tlp::kRed, 3, "x-concord-sharing-group--z",
                      R"({"id":"indicator--x"})");
  EXPECT_EQ(row.seq(), 9);
  EXPECT_EQ(row.id(), "indicator--x");
  EXPECT_EQ(row.created_by_ref(), "identity--y");
  EXPECT_TRUE(row.revoked());
  EXPECT_EQ(row.tlp(), stix::Tlp::kRed);
  EXPECT_EQ(row.distribution(), 3);
  EXPECT_EQ(row.sharing_group_ref(), "x-concord-sharing-group--z");
  EXPECT_EQ(row.json(), R"({"id":"indicator--x"})");
  const CachedRow empty(1, "a", "", false, stix::Tlp::kNone, std::nullopt, "", "");
  EXPECT_EQ(empty.id(), "a");
  EXPECT_EQ(empty.created_by_ref(), "");
  EXPECT_EQ(empty.sharing_group_ref(), "");
  EXPECT_EQ(empty.json(), "");
  EXPECT_FALSE(empty.distribution().has_value());
}

TEST(RowCacheTest, FindsWhatWasAddedAndCountsHitsAndMisses) {
  RowCache cache(1 << 20);
  EXPECT_EQ(Found(cache, {1, 2, 3}), "---");
  cache.Add({Row(2), Row(3)});
  EXPECT_EQ(Found(cache, {1, 2, 3, 4}), "-++-");
  const RowCache::Stats stats = cache.GetStats();
  EXPECT_EQ(stats.rows, 2u);
  EXPECT_EQ(stats.bytes, Row(2)->bytes() + Row(3)->bytes());
  EXPECT_EQ(stats.hits, 2u);
  EXPECT_EQ(stats.misses, 5u);
  cache.Add({Row(2)});  // again: replaces, counted once
  EXPECT_EQ(cache.GetStats().rows, 2u);
  EXPECT_EQ(cache.GetStats().bytes, Row(2)->bytes() + Row(3)->bytes());
}

// Capacity for ten rows: two generations of five. The rows read since the young generation started stay; the
// others leave when it fills twice over.
TEST(RowCacheTest, KeepsTheRowsReadAndDropsTheOthersWhenFull) {
  const size_t row_bytes = Row(1)->bytes();
  RowCache cache(10 * row_bytes + row_bytes / 2);
  for (int64_t seq = 1; seq <= 5; ++seq) cache.Add({Row(seq)});  // the sixth row's bytes exceed a generation
  // Adding 1..5 filled the young generation past half only at the sixth row.
  EXPECT_EQ(Found(cache, {1, 2, 3, 4, 5}), "+++++");
  cache.Add({Row(6)});  // young generation full: 1..6 become the old one
  EXPECT_EQ(cache.GetStats().rows, 6u);
  EXPECT_EQ(Found(cache, {1, 2}), "++");  // read: moved to the young generation
  for (int64_t seq = 7; seq <= 9; ++seq) cache.Add({Row(seq)});
  cache.Add({Row(10)});  // young (1, 2, 7..10) full again: the old generation (3..6, never read since) leaves
  EXPECT_EQ(Found(cache, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}), "++----++++");
  EXPECT_LE(cache.GetStats().bytes, 10 * row_bytes + row_bytes / 2);
}

TEST(RowCacheTest, ARowHeldOutlivesItsEviction) {
  const size_t row_bytes = Row(1)->bytes();
  RowCache cache(2 * row_bytes + 1);  // a generation holds one row
  cache.Add({Row(1, 100)});
  std::vector<std::shared_ptr<const CachedRow>> held;
  cache.Find(std::vector<int64_t>{1}, held);
  ASSERT_NE(held[0], nullptr);
  for (int64_t seq = 2; seq <= 5; ++seq) cache.Add({Row(seq, 100)});
  EXPECT_EQ(Found(cache, {1}), "-");
  EXPECT_EQ(held[0]->json(), std::string(100, 'j'));
  EXPECT_EQ(held[0]->id(), "indicator--1");
}

// A row is kept from its second miss on; the seqs missed once are forgotten by generations, as rows are.
TEST(RowCacheTest, ARowIsAdmittedOnItsSecondMiss) {
  RowCache cache(1024 * 8);  // 4 seqs remembered per generation
  std::vector<bool> admit;
  cache.Admit(std::vector<int64_t>{1, 2, 3}, admit);
  EXPECT_EQ(admit, (std::vector<bool>{false, false, false}));
  cache.Admit(std::vector<int64_t>{2, 4}, admit);
  EXPECT_EQ(admit, (std::vector<bool>{true, false}));
  cache.Admit(std::vector<int64_t>{2}, admit);  // admitted once: missed again, it starts over
  EXPECT_EQ(admit, (std::vector<bool>{false}));
  // 1, 3, 4 and 2 remembered (the young generation is full). 10 makes them the old generation, 11..15 the next
  // one, and 1..4 and 10 are forgotten.
  cache.Admit(std::vector<int64_t>{10, 11, 12, 13, 14, 15}, admit);
  cache.Admit(std::vector<int64_t>{1, 3, 14}, admit);
  EXPECT_EQ(admit, (std::vector<bool>{false, false, true}));
  EXPECT_TRUE(cache.enabled());
  RowCache none(0);
  EXPECT_FALSE(none.enabled());
  none.Admit(std::vector<int64_t>{5}, admit);
  none.Admit(std::vector<int64_t>{5}, admit);
  EXPECT_EQ(admit, (std::vector<bool>{false}));
}

TEST(RowCacheTest, ARowLargerThanAGenerationIsNotKept) {
  RowCache cache(1000);
  cache.Add({Row(1, 2000)});
  EXPECT_EQ(Found(cache, {1}), "-");
  EXPECT_EQ(cache.GetStats().rows, 0u);
  cache.Add({nullptr});
  EXPECT_EQ(cache.GetStats().rows, 0u);
}

}  // namespace
}  // namespace concord::store::sqlite
