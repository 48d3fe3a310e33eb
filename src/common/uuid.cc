#include "common/uuid.h"

#include <openssl/rand.h>
#include <openssl/evp.h>

#include <cstring>

#include "fmt/format.h"
#include "common/status.h"

namespace concord {
namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string Uuid::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xF];
  }
  return out;
}

absl::StatusOr<Uuid> ParseUuid(std::string_view text) {
  if (text.size() != 36) {
    return absl::InvalidArgumentError(fmt::format("invalid UUID '{}': expected 36 characters", text));
  }
  Uuid u;
  size_t b = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') {
        return absl::InvalidArgumentError(fmt::format("invalid UUID '{}': expected '-' at offset {}", text, i));
      }
      ++i;
      continue;
    }
    const int hi = HexValue(text[i]);
    const int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          fmt::format("invalid UUID '{}': expected hex digit at offset {}", text, hi < 0 ? i : i + 1));
    }
    u.bytes[b++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return u;
}

void SecureRandomBytes(uint8_t* out, size_t n) {
  CONCORD_CHECK(RAND_bytes(out, static_cast<int>(n)) == 1, "OpenSSL's CSPRNG always yields bytes");
}

Uuid UuidV4(const RandomBytes& random) {
  Uuid u;
  random(u.bytes.data(), u.bytes.size());
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0F) | 0x40);
  u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3F) | 0x80);
  return u;
}

Uuid UuidV5(const Uuid& name_space, std::string_view name) {
  std::string input(reinterpret_cast<const char*>(name_space.bytes.data()), name_space.bytes.size());
  input.append(name);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  CONCORD_CHECK(EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr) == 1 && len == 20,
                "SHA-1 is always available in OpenSSL");
  Uuid u;
  std::memcpy(u.bytes.data(), digest, 16);
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0F) | 0x50);
  u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3F) | 0x80);
  return u;
}

}  // namespace concord
