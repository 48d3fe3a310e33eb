// concord/taxii/cursor.h — the opaque `next` token of TAXII 2.1 paging (§3.5).
//
// A cursor holds the store's change-sequence position (store::Page::next_after_seq) and a digest of the
// query it belongs to (FilterFingerprint), authenticated with HMAC-SHA256 under a server secret and
// written in URL-safe base64 without padding, so it can go into a query string as is. A client can
// neither forge a position nor carry a cursor over to another query or collection: both are 400.
//
// Layout before base64: version (1 byte, 1) | after_seq (8 bytes, big-endian) | SHA-256(fingerprint)[0..16)
// | HMAC-SHA256(key, everything before) (32 bytes) — 57 bytes, 76 characters.
// Rotating the key invalidates outstanding cursors (clients restart their sweep with added_after).
// Pure and thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace concord::taxii {

struct Cursor {
  int64_t after_seq = 0;
  std::string fingerprint;  // FilterFingerprint of the query; only its digest travels
};

// `key` is the server secret (at least 16 bytes is sensible; 32 random bytes recommended).
std::string EncodeCursor(const Cursor& cursor, std::span<const uint8_t> key);

// The after_seq of `token` when it is authentic and was issued for `fingerprint`; otherwise
// InvalidArgument naming the `next` parameter.
absl::StatusOr<int64_t> DecodeCursor(std::string_view token, std::string_view fingerprint, std::span<const uint8_t> key);

// URL-safe base64 (RFC 4648 §5) without padding; decoding refuses padding, other alphabets and
// non-canonical trailing bits.
std::string Base64UrlEncode(std::span<const uint8_t> bytes);
absl::StatusOr<std::string> Base64UrlDecode(std::string_view text);

}  // namespace concord::taxii
