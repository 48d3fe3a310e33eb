// concord/store/testing/literal_extractor.h — a posting extractor for store tests that needs no correlate
// module: every quoted literal of an indicator's pattern and a domain-name's value, as an IPv4 address
// (kind kIp, with its address), a CIDR (kind kCidr, with address and prefix) or anything else (kind kDomain).
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace concord::store::testing {

inline constexpr uint8_t kIp = 0;
inline constexpr uint8_t kCidr = 2;
inline constexpr uint8_t kDomain = 4;

// A dotted quad as the store's 16-byte address (IPv4-mapped IPv6).
inline std::array<uint8_t, 16> V4(std::string_view text) {
  std::array<uint8_t, 16> out{};
  out[10] = out[11] = 0xff;
  const std::string s(text);
  EXPECT_EQ(inet_pton(AF_INET, s.c_str(), out.data() + 12), 1) << text;
  return out;
}

class LiteralExtractor final : public PostingExtractor {
 public:
  void Extract(const stix::Object& object, std::vector<Posting>& out) const override {
    ++calls;
    if (object.type == "domain-name") {
      out.push_back({kDomain, std::string(object.json.at("value").as_string()), std::nullopt, -1});
      return;
    }
    const auto* pattern = object.json.if_contains("pattern");
    if (pattern == nullptr) return;
    const std::string_view text = pattern->as_string();
    for (size_t open = text.find('\''); open != std::string_view::npos; open = text.find('\'', open + 1)) {
      const size_t close = text.find('\'', open + 1);
      if (close == std::string_view::npos) break;
      const std::string value(text.substr(open + 1, close - open - 1));
      open = close;
      const size_t slash = value.find('/');
      in_addr a;
      if (slash != std::string::npos) {
        out.push_back({kCidr, value, V4(value.substr(0, slash)), std::stoi(value.substr(slash + 1))});
      } else if (inet_pton(AF_INET, value.c_str(), &a) == 1) {
        out.push_back({kIp, value, V4(value), -1});
      } else {
        out.push_back({kDomain, value, std::nullopt, -1});
      }
    }
  }

  mutable std::atomic<int> calls{0};  // Extract calls so far
};

}  // namespace concord::store::testing
