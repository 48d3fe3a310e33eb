// concord/common/uuid.h — RFC 9562 UUIDs: parsing, formatting, v4 (random) and v5 (SHA-1 name-based).
// All functions are pure and thread-safe; randomness is injected.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace concord {

struct Uuid {
  std::array<uint8_t, 16> bytes{};

  // Lower-case "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
  std::string ToString() const;
  int Version() const { return bytes[6] >> 4; }
  // RFC 9562 variant bits 10xx.
  bool IsRfcVariant() const { return (bytes[8] & 0xC0) == 0x80; }

  friend bool operator==(const Uuid&, const Uuid&) = default;
};

// Accepts the canonical 8-4-4-4-12 hex form (either case).
absl::StatusOr<Uuid> ParseUuid(std::string_view text);

// Fills `out` with random bytes; production uses OpenSSL's CSPRNG.
using RandomBytes = std::function<void(uint8_t* out, size_t n)>;
void SecureRandomBytes(uint8_t* out, size_t n);

Uuid UuidV4(const RandomBytes& random = SecureRandomBytes);
Uuid UuidV5(const Uuid& name_space, std::string_view name);

}  // namespace concord
