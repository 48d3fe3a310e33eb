#include "common/packed_ids.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "common/status.h"
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

void AppendItem(std::string& out, std::string_view id, LastType& last) {
  uint8_t code = 0;
  unsigned char uuid[kUuidBytes];
  if (PackByCode(id, last, code, uuid)) {
    out.push_back(static_cast<char>(code));
    out.append(reinterpret_cast<const char*>(uuid), kUuidBytes);
    return;
  }
  out.push_back('\0');
  AppendLeb128(out, id.size());
  out.append(id);
}

}  // namespace

void AppendLeb128(std::string& out, uint64_t n) {
  for (;; n >>= 7) {
    if (n < 0x80) {
      out.push_back(static_cast<char>(n));
      return;
    }
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
  }
}

bool ReadLeb128(std::string_view in, size_t& at, uint64_t& n) {
  n = 0;
  for (int shift = 0; at < in.size() && shift < 64; shift += 7) {
    const auto byte = static_cast<uint8_t>(in[at++]);
    n |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (byte < 0x80) return true;
  }
  return false;
}

void AppendPackedIds(std::string& out, std::span<const std::string> ids) {
  out.push_back(kPackedIdsTag);
  LastType last;
  for (const std::string& id : ids) AppendItem(out, id, last);
}

void AppendPackedId(std::string& out, std::string_view id) {
  LastType last;
  AppendItem(out, id, last);
}

absl::Status ReadPackedId(std::string_view packed, size_t& at, std::string& scratch, std::string_view& id) {
  const size_t item = at;
  if (at >= packed.size()) return Malformed(item, "truncated item");
  const auto code = static_cast<uint8_t>(packed[at++]);
  if (code == 0) {
    uint64_t length = 0;
    const size_t length_at = at;
    if (!ReadLeb128(packed, at, length)) return Malformed(item, "truncated length");
    if (at - length_at > 5) return Malformed(item, "length too long");
    if (length > packed.size() - at) return Malformed(item, "truncated id");
    id = packed.substr(at, length);
    at += length;
    return absl::OkStatus();
  }
  if (code > kPackedTypes.size()) return Malformed(item, fmt::format("unknown type code {}", code));
  if (packed.size() - at < kUuidBytes) return Malformed(item, "truncated UUID");
  const std::string_view type = kPackedTypes[code - 1];
  scratch.assign(type);
  scratch.append("--");
  size_t byte = at;
  for (size_t i = 0; i < kUuidText; ++i) {
    if (IsHyphenAt(i)) {
      scratch.push_back('-');
      continue;
    }
    const auto b = static_cast<uint8_t>(packed[byte++]);
    scratch.push_back(kHex[b >> 4]);
    scratch.push_back(kHex[b & 15]);
    ++i;
  }
  at += kUuidBytes;
  id = scratch;
  return absl::OkStatus();
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
  std::string scratch;
  size_t at = 1;
  while (at < packed.size()) {
    std::string_view id;
    CONCORD_RETURN_IF_ERROR(ReadPackedId(packed, at, scratch, id));
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
