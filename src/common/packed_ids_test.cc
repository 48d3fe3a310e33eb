#include "common/packed_ids.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace concord {
namespace {

std::vector<std::string> RoundTrip(const std::vector<std::string>& ids) {
  auto unpacked = UnpackIds(PackIds(ids));
  EXPECT_TRUE(unpacked.ok()) << unpacked.status();
  return unpacked.ok() ? *unpacked : std::vector<std::string>{};
}

TEST(PackedIds, AStixIdIsItsTypeCodeAndSixteenBytes) {
  const std::string packed = PackIds(std::vector<std::string>{"indicator--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b"});
  EXPECT_EQ(packed, std::string("\x01\x07\x01\x23\xab\xcd\x45\x67\x89\xef\x0a\x1b\x2c\x3d\x4e\x5f\x6a\x7b", 18));
  EXPECT_EQ(RoundTrip({"indicator--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b"}),
            std::vector<std::string>{"indicator--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b"});
}

TEST(PackedIds, EveryTypeOfTheTablePacksByCode) {
  for (size_t i = 0; i < kPackedTypes.size(); ++i) {
    const std::string id = std::string(kPackedTypes[i]) + "--ffffffff-0000-4000-8000-00000000000" + std::to_string(i % 10);
    const std::string packed = PackIds(std::vector<std::string>{id});
    ASSERT_EQ(packed.size(), 18u) << id;
    EXPECT_EQ(static_cast<uint8_t>(packed[1]), i + 1) << id;
    EXPECT_EQ(RoundTrip({id}), std::vector<std::string>{id});
  }
}

TEST(PackedIds, AHundredIndicatorsTakeAThirdOfTheirJson) {
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    ids.push_back("indicator--00000000-0000-4000-8000-" + std::string(12 - std::to_string(i).size(), '0') + std::to_string(i));
  }
  // As JSON text: 100 × (47 characters, 2 quotes) + 99 commas + 2 brackets = 5001 bytes.
  EXPECT_EQ(PackIds(ids).size(), 1u + 100u * 17u);
  EXPECT_EQ(RoundTrip(ids), ids);
}

// Whatever is not exactly a known type and a lower-case UUID with its hyphens goes verbatim, and comes back as it was.
TEST(PackedIds, EverythingElseGoesVerbatim) {
  const std::vector<std::string> ids = {
      "Indicator--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b",   // type in upper case
      "indicator--0123ABCD-4567-89ef-0a1b-2c3d4e5f6a7b",   // UUID in upper case
      "indicator--0123abcd4567-89ef-0a1b-2c3d4e5f6a7b-",   // hyphens elsewhere
      "indicator--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7",    // one character short
      "indicator-0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b",    // one separator hyphen
      "x-acme-widget--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b",  // a custom type
      "--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b",            // no type
      "",
      "x\"y",
      std::string("nul\0inside", 10),
      "\xc3\xa9t\xc3\xa9",
      std::string(127, 'a'),
      std::string(128, 'b'),   // a length of two bytes
      std::string(20000, 'c'),  // three bytes
  };
  const std::string packed = PackIds(ids);
  EXPECT_EQ(RoundTrip(ids), ids);
  // One verbatim item: 0x00, the length, the bytes.
  EXPECT_EQ(PackIds(std::vector<std::string>{"x\"y"}), std::string("\x01\x00\x03x\"y", 6));
  EXPECT_EQ(PackIds(std::vector<std::string>{std::string(128, 'b')}).substr(0, 4), std::string("\x01\x00\x80\x01", 4));
  EXPECT_EQ(PackIds(std::vector<std::string>{std::string(20000, 'c')}).substr(0, 5), std::string("\x01\x00\xa0\x9c\x01", 5));
}

// Types alternating within one list each get their own code (the packer remembers the last type it looked up).
TEST(PackedIds, MixedTypesInOneListKeepTheirCodes) {
  const std::string uuid = "--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b";
  const std::vector<std::string> ids = {"indicator" + uuid, "malware" + uuid, "malware" + uuid, "x-acme" + uuid,
                                        "indicator" + uuid, "x-acme" + uuid, "file" + uuid};
  const std::string packed = PackIds(ids);
  EXPECT_EQ(packed.size(), 1u + 5u * 17u + 2u * (2u + 6u + 38u));
  EXPECT_EQ(static_cast<uint8_t>(packed[1]), 7u);        // indicator
  EXPECT_EQ(static_cast<uint8_t>(packed[1 + 17]), 11u);  // malware
  EXPECT_EQ(static_cast<uint8_t>(packed[1 + 34]), 11u);
  EXPECT_EQ(static_cast<uint8_t>(packed[1 + 51]), 0u);   // x-acme, verbatim
  EXPECT_EQ(RoundTrip(ids), ids);
}

TEST(PackedIds, AnEmptyListIsTheTagAlone) {
  EXPECT_EQ(PackIds(std::vector<std::string>{}), "\x01");
  EXPECT_EQ(RoundTrip({}), std::vector<std::string>{});
}

TEST(PackedIds, JsonTextIsNotPacked) {
  EXPECT_FALSE(IsPackedIds(R"(["indicator--a"])"));
  EXPECT_FALSE(IsPackedIds(" []"));
  EXPECT_FALSE(IsPackedIds(""));
  EXPECT_TRUE(IsPackedIds("\x01"));
}

TEST(PackedIds, MalformedInputIsRefusedWithTheOffset) {
  const std::string good = PackIds(std::vector<std::string>{"indicator--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b", "x"});
  struct Case {
    std::string packed;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"(["x"])", "packed ids: no leading 0x01 at byte 0"},
      {"", "packed ids: no leading 0x01 at byte 0"},
      {std::string("\x01\x31", 2) + std::string(16, 'a'), "packed ids: unknown type code 49 at byte 1"},
      {std::string("\x01\xff", 2), "packed ids: unknown type code 255 at byte 1"},
      {good.substr(0, 10), "packed ids: truncated UUID at byte 1"},
      {good.substr(0, 19), "packed ids: truncated length at byte 18"},
      {good.substr(0, 19) + "\x05" "ab", "packed ids: truncated id at byte 18"},
      {std::string("\x01\x00\x80\x80\x80\x80\x80\x01", 8), "packed ids: length too long at byte 1"},
      {std::string("\x01\x00\xff\xff\xff\xff\x0f", 7), "packed ids: truncated id at byte 1"},
  };
  for (const Case& c : cases) {
    auto unpacked = UnpackIds(c.packed);
    ASSERT_FALSE(unpacked.ok()) << c.message;
    EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(unpacked.status().message(), c.message);
  }
  // The ids before the bad item have been handed out.
  std::vector<std::string> seen;
  EXPECT_FALSE(UnpackIds(good.substr(0, 19), [&](std::string_view id) { seen.emplace_back(id); }).ok());
  EXPECT_EQ(seen, std::vector<std::string>{"indicator--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b"});
}

// The pieces other formats embed (the audit index blocks): one item without the tag, and LEB128 numbers.
TEST(PackedIds, OneItemAndLeb128RoundTrip) {
  std::string out;
  AppendPackedId(out, "indicator--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b");
  AppendPackedId(out, " user:alice");
  EXPECT_EQ(out, std::string("\x07\x01\x23\xab\xcd\x45\x67\x89\xef\x0a\x1b\x2c\x3d\x4e\x5f\x6a\x7b", 17) +
                     std::string("\x00\x0b user:alice", 13));
  size_t at = 0;
  std::string scratch;
  std::string_view id;
  ASSERT_TRUE(ReadPackedId(out, at, scratch, id).ok());
  EXPECT_EQ(id, "indicator--0123abcd-4567-89ef-0a1b-2c3d4e5f6a7b");
  EXPECT_EQ(at, 17u);
  ASSERT_TRUE(ReadPackedId(out, at, scratch, id).ok());
  EXPECT_EQ(id, " user:alice");
  EXPECT_EQ(at, out.size());
  absl::Status past_end = ReadPackedId(out, at, scratch, id);
  EXPECT_EQ(past_end.message(), "packed ids: truncated item at byte 30");

  std::string numbers;
  for (uint64_t n : {uint64_t{0}, uint64_t{127}, uint64_t{128}, uint64_t{300}, ~uint64_t{0}}) AppendLeb128(numbers, n);
  EXPECT_EQ(numbers, std::string("\x00\x7f\x80\x01\xac\x02", 6) + std::string(9, '\xff') + "\x01");
  at = 0;
  for (uint64_t want : {uint64_t{0}, uint64_t{127}, uint64_t{128}, uint64_t{300}, ~uint64_t{0}}) {
    uint64_t n = 1;
    ASSERT_TRUE(ReadLeb128(numbers, at, n));
    EXPECT_EQ(n, want);
  }
  EXPECT_EQ(at, numbers.size());
  uint64_t n = 0;
  size_t cut = 0;
  EXPECT_FALSE(ReadLeb128(std::string_view("\x80\x80", 2), cut, n));  // truncated
  cut = 0;
  EXPECT_FALSE(ReadLeb128(std::string(11, '\x80') + "\x01", cut, n));  // longer than 64 bits
}

}  // namespace
}  // namespace concord
