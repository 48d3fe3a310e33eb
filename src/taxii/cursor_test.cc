#include "taxii/cursor.h"

#include <string>
#include <vector>

#include "common/status.h"
#include "gtest/gtest.h"
#include "http/errors.h"

namespace concord::taxii {
namespace {

const std::vector<uint8_t> kKey(32, 0x5a);
const std::vector<uint8_t> kOtherKey(32, 0x5b);

TEST(Cursor, RoundTrip) {
  for (int64_t seq : {int64_t{0}, int64_t{1}, int64_t{255}, int64_t{1} << 40, INT64_MAX}) {
    const std::string token = EncodeCursor({.after_seq = seq, .fingerprint = "root/c1/objects\nq"}, kKey);
    EXPECT_EQ(token.size(), 76u);
    EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    auto back = DecodeCursor(token, "root/c1/objects\nq", kKey);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, seq);
  }
}

TEST(Cursor, EveryFlippedCharacterIsRejected) {
  const std::string token = EncodeCursor({.after_seq = 1234, .fingerprint = "f"}, kKey);
  for (size_t i = 0; i < token.size(); ++i) {
    std::string bad = token;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    auto r = DecodeCursor(bad, "f", kKey);
    ASSERT_FALSE(r.ok()) << "position " << i;
    EXPECT_EQ(r.status().message(), "next: invalid cursor; start again without next");
    EXPECT_EQ(ErrorField(r.status()), "next");
    EXPECT_EQ(http::HttpStatusFor(r.status()), 400);
  }
}

TEST(Cursor, OtherKeyOtherQueryGarbage) {
  const std::string token = EncodeCursor({.after_seq = 7, .fingerprint = "f"}, kKey);
  EXPECT_EQ(DecodeCursor(token, "f", kOtherKey).status().message(), "next: invalid cursor; start again without next");
  EXPECT_EQ(DecodeCursor(token, "g", kKey).status().message(),
            "next: cursor belongs to another query; send the same filters as for the first page");
  const std::vector<std::string> junks{"", "abc", "====", "a+b/", token.substr(1), token.substr(0, 75)};
  for (const std::string& junk : junks) {
    EXPECT_EQ(DecodeCursor(junk, "f", kKey).status().code(), absl::StatusCode::kInvalidArgument) << junk;
  }
  EXPECT_FALSE(DecodeCursor(token + "AA", "f", kKey).ok());
  EXPECT_FALSE(DecodeCursor(std::string(10000, 'A'), "f", kKey).ok());
}

TEST(Base64Url, Rfc4648Vectors) {
  auto enc = [](std::string_view s) {
    return Base64UrlEncode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg");
  EXPECT_EQ(enc("fo"), "Zm8");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foob"), "Zm9vYg");
  EXPECT_EQ(enc("fooba"), "Zm9vYmE");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
  EXPECT_EQ(enc("\xfb\xff"), "-_8");
  EXPECT_EQ(*Base64UrlDecode("Zm9vYmE"), "fooba");
  EXPECT_EQ(*Base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_FALSE(Base64UrlDecode("Zh").ok());  // non-zero trailing bits
  EXPECT_FALSE(Base64UrlDecode("Z").ok());
  EXPECT_FALSE(Base64UrlDecode("Zm9v+g").ok());
  EXPECT_FALSE(Base64UrlDecode("Zg==").ok());
}

}  // namespace
}  // namespace concord::taxii
