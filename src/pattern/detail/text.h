// concord/pattern/detail/text.h — value helpers shared by the parser, evaluator and extractor:
// UTF-8 validation and NFC, base64 and hex decoding, IP/CIDR parsing, SQL LIKE. Pure, thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace concord::pattern::detail {

bool IsValidUtf8(std::string_view s);
bool IsAscii(std::string_view s);
// Unicode NFC of valid UTF-8. ASCII input is returned unchanged without touching ICU.
std::string Nfc(std::string_view s);

std::optional<std::string> DecodeBase64(std::string_view s);  // RFC 4648 with padding
std::optional<std::string> DecodeHex(std::string_view s);     // even length, either case

// An IPv4 or IPv6 network: address bytes (v4 in the first 4) and prefix length.
struct IpNet {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};
  int prefix = 0;  // 0..32 or 0..128; a plain address has the full length
  bool has_prefix = false;
};
std::optional<IpNet> ParseIpNet(std::string_view s);
// True when every address of `inner` lies in `outer` (same family).
bool IpNetContains(const IpNet& outer, const IpNet& inner);

// SQL LIKE: % any run of code points, _ exactly one code point; no escape character (STIX 2.1 §9.5).
bool Like(std::string_view value, std::string_view pattern);

}  // namespace concord::pattern::detail
