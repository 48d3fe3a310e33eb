#include "taxii/cursor.h"

#include <array>
#include <vector>

#include "common/status.h"
#include "openssl/crypto.h"
#include "openssl/evp.h"
#include "openssl/hmac.h"
#include "openssl/sha.h"

namespace concord::taxii {
namespace {

constexpr uint8_t kCursorVersion = 1;
constexpr size_t kDigestBytes = 16;
constexpr size_t kMacBytes = 32;
constexpr size_t kBodyBytes = 1 + 8 + kDigestBytes;
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::array<uint8_t, kDigestBytes> FingerprintDigest(std::string_view fingerprint) {
  std::array<uint8_t, SHA256_DIGEST_LENGTH> full{};
  SHA256(reinterpret_cast<const unsigned char*>(fingerprint.data()), fingerprint.size(), full.data());
  std::array<uint8_t, kDigestBytes> out{};
  std::copy_n(full.begin(), kDigestBytes, out.begin());
  return out;
}

std::array<uint8_t, kMacBytes> Mac(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  std::array<uint8_t, kMacBytes> out{};
  unsigned int len = 0;
  static const uint8_t kEmpty = 0;
  HMAC(EVP_sha256(), key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()), data.data(), data.size(),
       out.data(), &len);
  return out;
}

absl::Status Invalid() { return FieldError("next", "invalid cursor; start again without next"); }

}  // namespace

std::string Base64UrlEncode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{bytes[i]} << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

absl::StatusOr<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return absl::InvalidArgumentError("base64url: impossible length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int d = DecodeChar(c);
    if (d < 0) return absl::InvalidArgumentError("base64url: character outside the URL-safe alphabet");
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("base64url: non-zero trailing bits");
  }
  return out;
}

std::string EncodeCursor(const Cursor& cursor, std::span<const uint8_t> key) {
  std::vector<uint8_t> buf;
  buf.reserve(kBodyBytes + kMacBytes);
  buf.push_back(kCursorVersion);
  const uint64_t seq = static_cast<uint64_t>(cursor.after_seq);
  for (int shift = 56; shift >= 0; shift -= 8) buf.push_back(static_cast<uint8_t>(seq >> shift));
  const auto digest = FingerprintDigest(cursor.fingerprint);
  buf.insert(buf.end(), digest.begin(), digest.end());
  const auto mac = Mac(key, buf);
  buf.insert(buf.end(), mac.begin(), mac.end());
  return Base64UrlEncode(buf);
}

absl::StatusOr<int64_t> DecodeCursor(std::string_view token, std::string_view fingerprint, std::span<const uint8_t> key) {
  if (token.size() > 200) return Invalid();
  auto raw = Base64UrlDecode(token);
  if (!raw.ok() || raw->size() != kBodyBytes + kMacBytes) return Invalid();
  const auto* bytes = reinterpret_cast<const uint8_t*>(raw->data());
  const auto mac = Mac(key, std::span<const uint8_t>(bytes, kBodyBytes));
  if (CRYPTO_memcmp(mac.data(), bytes + kBodyBytes, kMacBytes) != 0) return Invalid();
  if (bytes[0] != kCursorVersion) return Invalid();
  const auto digest = FingerprintDigest(fingerprint);
  if (CRYPTO_memcmp(digest.data(), bytes + 9, kDigestBytes) != 0) {
    return FieldError("next", "cursor belongs to another query; send the same filters as for the first page");
  }
  uint64_t seq = 0;
  for (size_t i = 1; i <= 8; ++i) seq = (seq << 8) | bytes[i];
  if (seq > static_cast<uint64_t>(INT64_MAX)) return Invalid();
  return static_cast<int64_t>(seq);
}

}  // namespace concord::taxii
