#include "detect/key_table.h"

#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace concord::detect {
namespace {

struct Keys {
  std::vector<std::string> text;
  std::string_view operator()(uint32_t handle) const { return text.at(handle); }
};

std::string RandomKey(std::mt19937_64& rng) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789.-";
  const size_t n = std::uniform_int_distribution<size_t>(0, 70)(rng);
  std::string s(n, 'a');
  for (char& c : s) c = kChars[std::uniform_int_distribution<size_t>(0, sizeof kChars - 2)(rng)];
  return s;
}

TEST(KeyTable, EmptyTableFindsNothing) {
  const Keys keys;
  const HashKey key = MakeHashKey(1);
  KeyTable none;
  EXPECT_EQ(none.Find(KeyHash("a", key), "a", keys), kNoMatch);
  EXPECT_EQ(none.MemoryBytes(), 0u);
  KeyTable sized(10);
  EXPECT_TRUE(sized.empty());
  EXPECT_EQ(sized.Find(KeyHash("a", key), "a", keys), kNoMatch);
  EXPECT_EQ(sized.capacity(), 12u + 16u);
  EXPECT_EQ(KeyTable(30, 60).capacity(), 50u + 16u);
}

TEST(KeyTable, FindsEveryInsertedKeyAndNothingElse) {
  std::mt19937_64 rng(7);
  Keys keys;
  const HashKey key = MakeHashKey(42);
  std::set<std::string> distinct;
  while (distinct.size() < 20000) distinct.insert(RandomKey(rng));
  keys.text.assign(distinct.begin(), distinct.end());
  KeyTable table(keys.text.size());
  for (uint32_t i = 0; i < keys.text.size(); ++i) {
    ASSERT_EQ(table.FindOrInsert(KeyHash(keys.text[i], key), keys.text[i], i, keys), i);
  }
  EXPECT_EQ(table.size(), keys.text.size());
  // A second insertion of every key finds the first.
  for (uint32_t i = 0; i < keys.text.size(); ++i) {
    ASSERT_EQ(table.FindOrInsert(KeyHash(keys.text[i], key), keys.text[i], 999999, keys), i);
  }
  EXPECT_EQ(table.size(), keys.text.size());
  for (uint32_t i = 0; i < keys.text.size(); ++i) {
    ASSERT_EQ(table.Find(KeyHash(keys.text[i], key), keys.text[i], keys), i) << keys.text[i];
  }
  for (int i = 0; i < 20000; ++i) {
    const std::string probe = RandomKey(rng) + "!";  // '!' is in no key
    ASSERT_EQ(table.Find(KeyHash(probe, key), probe, keys), kNoMatch) << probe;
  }
  // 6.25 bytes per key at full load, plus the mirrored tags.
  EXPECT_EQ(table.MemoryBytes(), table.capacity() * 5 + 16);
}

// Keys that all hash alike form one run of slots; with the home slot at the end of the array the run
// wraps around to the start, across the mirrored tags.
TEST(KeyTable, OneLongRunThatWrapsAround) {
  Keys keys;
  for (int i = 0; i < 40; ++i) keys.text.push_back("key" + std::to_string(i));
  for (const uint64_t hash : {~uint64_t{0}, uint64_t{0}, uint64_t{1} << 63}) {
    KeyTable table(keys.text.size());
    for (uint32_t i = 0; i < keys.text.size(); ++i) {
      ASSERT_EQ(table.FindOrInsert(hash, keys.text[i], i, keys), i);
    }
    for (uint32_t i = 0; i < keys.text.size(); ++i) ASSERT_EQ(table.Find(hash, keys.text[i], keys), i);
    EXPECT_EQ(table.Find(hash, "key40", keys), kNoMatch);
    // Another tag byte, same home: not found either.
    EXPECT_EQ(table.Find(hash ^ 2, "key3", keys), kNoMatch);
  }
}

TEST(KeyTable, InsertNewAndRewriteHandles) {
  Keys keys;
  const HashKey key = MakeHashKey(3);
  for (int i = 0; i < 1000; ++i) keys.text.push_back("value-" + std::to_string(i));
  KeyTable table(keys.text.size());
  for (uint32_t i = 0; i < keys.text.size(); ++i) table.InsertNew(KeyHash(keys.text[i], key), i);
  Keys moved;
  moved.text.resize(2 * keys.text.size());
  for (size_t i = 0; i < keys.text.size(); ++i) moved.text[2 * i + 1] = keys.text[i];
  table.RewriteHandles([](uint32_t h) { return 2 * h + 1; });
  for (uint32_t i = 0; i < keys.text.size(); ++i) {
    ASSERT_EQ(table.Find(KeyHash(keys.text[i], key), keys.text[i], moved), 2 * i + 1);
  }
}

TEST(KeyHash, DependsOnEveryByteTheLengthAndTheSeed) {
  const HashKey key = MakeHashKey(5);
  std::set<uint64_t> seen;
  std::string base(100, 'x');
  size_t made = 0;
  for (size_t n = 0; n <= base.size(); ++n) {
    const std::string_view s(base.data(), n);
    seen.insert(KeyHash(s, key));
    ++made;
    for (size_t i = 0; i < n; ++i) {
      std::string t(s);
      t[i] = 'y';
      seen.insert(KeyHash(t, key));
      ++made;
    }
  }
  EXPECT_EQ(seen.size(), made);
  EXPECT_EQ(KeyHash("example.com", key), KeyHash(std::string("example.com"), key));
  EXPECT_NE(KeyHash("example.com", key), KeyHash("example.com", MakeHashKey(6)));
}

}  // namespace
}  // namespace concord::detect
