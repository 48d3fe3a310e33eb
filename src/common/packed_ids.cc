#include "common/packed_ids.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "fmt/format.h"

namespace concord {
namespace {

constexpr size_t kUuidText = 36;   // 8-4-4-4-12
constexpr size_t kUuidBytes = 16;
constexpr char kHex[] = "0123456789abcdef";

bool IsHyphenAt(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

// Lower-case hex digits' values, -1 for every other byte (upper case too: it would not unpack to the same text).
constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int c = '0'; c <= '9'; ++c) table[static_cast<size_t>(c)] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) table[static_cast<size_t>(c)] = static_cast<int8_t>(c - 'a' + 10);
  return table;
}();
int HexValue(char c) { return kHexValue[static_cast<unsigned char>(c)]; }

// The code of a type (1-based), or 0 when it has none.
uint8_t CodeOf(std::string_view type) {
  static const auto* const codes = [] {
    auto* map = new absl::flat_hash_map<std::string_view, uint8_t>();
    for (size_t i = 0; i < kPackedTypes.size(); ++i) map->emplace(kPackedTypes[i], static_cast<uint8_t>(i + 1));
    return map;
  }();
  const auto it = codes->find(type);
  return it == codes->end() ? 0 : it->second;
}

// The last type looked up and its code: the ids of one list are mostly of one type.
struct LastType {
  std::string_view type;
  uint8_t code = 0;
};

// The code and UUID bytes of an id that packs by code.
bool PackByCode(std::string_view id, LastType& last, uint8_t& code, unsigned char (&uuid)[kUuidBytes]) {
  if (id.size() < kUuidText + 3) return false;
  const size_t sep = id.size() - kUuidText - 2;
  if (id[sep] != '-' || id[sep + 1] != '-') return false;
  const std::string_view type = id.substr(0, sep);
  if (type != last.type) last = {type, CodeOf(type)};
  code = last.code;
  if (code == 0) return false;
  const std::string_view text = id.substr(sep + 2);
  size_t out = 0;
  for (size_t i = 0; i < kUuidText; ++i) {
    if (IsHyphenAt(i)) {
      if (text[i] != '-') return false;
      continue;
    }
    const int high = HexValue(text[i]);
    const int low = i + 1 < kUuidText ? HexValue(text[i + 1]) : -1;
    if (high < 0 || low < 0) return false;
    uuid[out++] = static_cast<unsigned char>(high * 16 + low);
    ++i;
  }
  return out == kUuidBytes;
}

absl::Status Malformed(size_t at, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("packed ids: {} at byte {}", what, at));
}

}  // namespace

void AppendPackedIds(std::string& out, std::span<const std::string> ids) {
  out.push_back(kPackedIdsTag);
  LastType last;
  for (const std::string& id : ids) {
    uint8_t code = 0;
    unsigned char uuid[kUuidBytes];
    if (PackByCode(id, last, code, uuid)) {
      out.push_back(static_cast<char>(code));
      out.append(reinterpret_cast<const char*>(uuid), kUuidBytes);
      continue;
    }
    out.push_back('\0');
    for (uint64_t n = id.size();; n >>= 7) {
      if (n < 0x80) {
        out.push_back(static_cast<char>(n));
        break;
      }
      out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    }
    out.append(id);
  }
}

std::string PackIds(std::span<const std::string> ids) {
  std::string out;
  size_t size = 1;
  for (const std::string& id : ids) size += 1 + std::min<size_t>(id.size() + 2, kUuidBytes);  // a guess
  out.reserve(size);
  AppendPackedIds(out, ids);
  return out;
}

absl::Status UnpackIds(std::string_view packed, absl::FunctionRef<void(std::string_view)> add) {
  if (!IsPackedIds(packed)) return Malformed(0, "no leading 0x01");
  std::string id;
  size_t at = 1;
  while (at < packed.size()) {
    const size_t item = at;
    const auto code = static_cast<uint8_t>(packed[at++]);
    if (code == 0) {
      uint64_t length = 0;
      for (int shift = 0;; shift += 7) {
        if (at == packed.size()) return Malformed(item, "truncated length");
        if (shift > 28) return Malformed(item, "length too long");
        const auto byte = static_cast<uint8_t>(packed[at++]);
        length |= static_cast<uint64_t>(byte & 0x7f) << shift;
        if (byte < 0x80) break;
      }
      if (length > packed.size() - at) return Malformed(item, "truncated id");
      add(packed.substr(at, length));
      at += length;
      continue;
    }
    if (code > kPackedTypes.size()) return Malformed(item, fmt::format("unknown type code {}", code));
    if (packed.size() - at < kUuidBytes) return Malformed(item, "truncated UUID");
    const std::string_view type = kPackedTypes[code - 1];
    id.assign(type);
    id.append("--");
    size_t byte = at;
    for (size_t i = 0; i < kUuidText; ++i) {
      if (IsHyphenAt(i)) {
        id.push_back('-');
        continue;
      }
      const auto b = static_cast<uint8_t>(packed[byte++]);
      id.push_back(kHex[b >> 4]);
      id.push_back(kHex[b & 15]);
      ++i;
    }
    at += kUuidBytes;
    add(id);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> UnpackIds(std::string_view packed) {
  std::vector<std::string> ids;
  absl::Status status = UnpackIds(packed, [&](std::string_view id) { ids.emplace_back(id); });
  if (!status.ok()) return status;
  return ids;
}

}  // namespace concord
