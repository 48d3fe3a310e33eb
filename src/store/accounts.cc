#include "store/accounts.h"

#include <arpa/inet.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/cord.h"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"
#include "store/postgres/locks.h"
#include "store/postgres/postgres_accounts.h"
#include "store/sqlite/sqlite_accounts.h"

namespace concord::store {
namespace {

constexpr char kAuthFailurePayloadUrl[] = "concord/auth-failure";
constexpr std::string_view kTokenPrefix = "concord_";
constexpr size_t kKeyIdLength = 16;
constexpr size_t kSecretLength = 52;  // ceil(256 / 5) base32 characters
constexpr std::string_view kBase32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

bool IsKeyId(std::string_view s) {
  if (s.size() != kKeyIdLength) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// 52 base32 characters whose last one carries a single bit: its four low (padding) bits must be zero, so
// that every secret has exactly one spelling.
bool IsSecret(std::string_view s) {
  if (s.size() != kSecretLength) return false;
  for (char c : s) {
    if (kBase32Alphabet.find(c) == std::string_view::npos) return false;
  }
  return (kBase32Alphabet.find(s.back()) & 0x0f) == 0;
}

absl::Status Malformed() {
  absl::Status s = absl::UnauthenticatedError("invalid API key");
  s.SetPayload(kAuthFailurePayloadUrl, absl::Cord("malformed"));
  return s;
}

// Parses an address and says whether it was written as IPv4.
std::optional<std::pair<IpAddress, bool>> ParseAddressText(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);  // inet_pton needs a terminated string
  IpAddress a;
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    a.bytes[10] = a.bytes[11] = 0xff;
    std::memcpy(&a.bytes[12], buf, 4);
    return std::pair{a, true};
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    std::memcpy(a.bytes.data(), buf, 16);
    return std::pair{a, false};
  }
  return std::nullopt;
}

}  // namespace

std::string_view OrgKindName(OrgKind kind) { return kind == OrgKind::kLocal ? "local" : "remote"; }

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kOrgAdmin: return "org-admin";
    case Role::kAnalyst: return "analyst";
    case Role::kDutyOfficer: return "duty-officer";
    case Role::kReadOnly: return "read-only";
    case Role::kSync: return "sync";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kAdmin, Role::kOrgAdmin, Role::kAnalyst, Role::kDutyOfficer, Role::kReadOnly, Role::kSync}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

bool IpAddress::IsV4() const {
  for (size_t i = 0; i < 10; ++i) {
    if (bytes[i] != 0) return false;
  }
  return bytes[10] == 0xff && bytes[11] == 0xff;
}

std::optional<IpAddress> ParseIpAddress(std::string_view text) {
  auto parsed = ParseAddressText(text);
  if (!parsed) return std::nullopt;
  return parsed->first;
}

std::string Cidr::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  if (v4) {
    inet_ntop(AF_INET, &network.bytes[12], buf, sizeof buf);
    return fmt::format("{}/{}", buf, prefix_bits - 96);
  }
  inet_ntop(AF_INET6, network.bytes.data(), buf, sizeof buf);
  return fmt::format("{}/{}", buf, prefix_bits);
}

absl::StatusOr<Cidr> ParseCidr(std::string_view text) {
  const size_t slash = text.find('/');
  auto address = ParseAddressText(text.substr(0, slash));
  if (!address) return absl::InvalidArgumentError(fmt::format("'{}' is not an IP address or CIDR", text));
  Cidr cidr;
  cidr.v4 = address->second;
  const int max_bits = cidr.v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    bool ok = !digits.empty() && digits.size() <= 3 && (digits.size() == 1 || digits[0] != '0');
    bits = 0;
    for (char c : digits) {
      ok = ok && c >= '0' && c <= '9';
      bits = bits * 10 + (c - '0');
    }
    if (!ok || bits > max_bits) {
      return absl::InvalidArgumentError(
          fmt::format("'{}': prefix length must be a number from 0 to {}", text, max_bits));
    }
  }
  cidr.prefix_bits = cidr.v4 ? 96 + bits : bits;
  cidr.network = address->first;
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(cidr.prefix_bits - 8 * i, 0, 8);
    cidr.network.bytes[i] &= static_cast<uint8_t>(0xff00 >> keep);
  }
  return cidr;
}

bool CidrContains(const Cidr& cidr, const IpAddress& address) {
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(cidr.prefix_bits - 8 * i, 0, 8);
    if (keep == 0) break;
    const auto mask = static_cast<uint8_t>(0xff00 >> keep);
    if ((address.bytes[i] & mask) != cidr.network.bytes[i]) return false;
  }
  return true;
}

std::optional<Credentials> ParseToken(std::string_view token) {
  if (token.size() != kTokenPrefix.size() + kKeyIdLength + 1 + kSecretLength || !token.starts_with(kTokenPrefix)) {
    return std::nullopt;
  }
  token.remove_prefix(kTokenPrefix.size());
  const std::string_view key_id = token.substr(0, kKeyIdLength);
  const std::string_view secret = token.substr(kKeyIdLength + 1);
  if (token[kKeyIdLength] != '_' || !IsKeyId(key_id) || !IsSecret(secret)) return std::nullopt;
  return Credentials{std::string(key_id), std::string(secret)};
}

absl::StatusOr<Credentials> ParseAuthorization(std::string_view header) {
  const size_t space = header.find(' ');
  if (space == std::string_view::npos) return Malformed();
  const std::string_view scheme = header.substr(0, space);
  std::string_view rest = header.substr(space + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (absl::EqualsIgnoreCase(AbslSv(scheme), "bearer")) {
    auto credentials = ParseToken(rest);
    if (!credentials) return Malformed();
    return *std::move(credentials);
  }
  if (!absl::EqualsIgnoreCase(AbslSv(scheme), "basic")) return Malformed();
  // user:password in base64 (RFC 7617); the longest valid form is a short user name and a whole token.
  if (rest.size() > 512) return Malformed();
  std::string decoded(rest.size(), '\0');
  size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(), rest.data(), rest.size(),
                        nullptr, &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return Malformed();
  }
  decoded.resize(length);
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return Malformed();
  const std::string_view user = std::string_view(decoded).substr(0, colon);
  const std::string_view password = std::string_view(decoded).substr(colon + 1);
  if (auto credentials = ParseToken(password)) return *std::move(credentials);
  if (IsKeyId(user) && IsSecret(password)) return Credentials{std::string(user), std::string(password)};
  return Malformed();
}

std::string AuthFailureReason(const absl::Status& status) {
  auto payload = status.GetPayload(kAuthFailurePayloadUrl);
  return payload ? std::string(*payload) : std::string();
}

namespace detail {

absl::Status AuthFailure(std::string_view message, std::string_view reason) {
  absl::Status s = absl::UnauthenticatedError(AbslSv(message));
  s.SetPayload(kAuthFailurePayloadUrl, absl::Cord(AbslSv(reason)));
  return s;
}

bool IsWellFormed(const Credentials& credentials) {
  return IsKeyId(credentials.key_id) && IsSecret(credentials.secret);
}

std::string NewKeyId() {
  unsigned char bytes[kKeyIdLength / 2];
  randombytes_buf(bytes, sizeof bytes);
  char hex[kKeyIdLength + 1];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  return std::string(hex, kKeyIdLength);
}

std::string NewSecret() {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  std::string out;
  out.reserve(kSecretLength);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += kBase32Alphabet[(buffer >> bits) & 0x1f];
    }
  }
  out += kBase32Alphabet[(buffer << (5 - bits)) & 0x1f];  // the last bit, padded with zeros
  sodium_memzero(bytes, sizeof bytes);
  return out;
}

std::string HashSecret(std::string_view secret) { return Sha256Hex(secret); }

std::string MakeToken(std::string_view key_id, std::string_view secret) {
  return fmt::format("{}{}_{}", kTokenPrefix, key_id, secret);
}


std::shared_ptr<const CachedKey> KeyCache::Get(const std::string& key_id, int64_t now_micros) {
  std::lock_guard lock(mu_);
  auto it = keys_.find(key_id);
  if (it == keys_.end()) return nullptr;
  const int64_t age = now_micros - it->second->loaded_micros;
  if (age < 0 || age >= kKeyCacheTtlMillis * 1000) return nullptr;  // a clock that went back: reload too
  return it->second;
}

void KeyCache::Put(const std::string& key_id, std::shared_ptr<const CachedKey> key) {
  std::lock_guard lock(mu_);
  keys_[key_id] = std::move(key);
}

void KeyCache::ForgetUser(std::string_view user_id) {
  std::lock_guard lock(mu_);
  std::erase_if(keys_, [&](const auto& entry) { return entry.second->user.id == user_id; });
}

void KeyCache::ForgetKey(const std::string& key_id) {
  std::lock_guard lock(mu_);
  keys_.erase(key_id);
}

void KeyCache::Clear() {
  std::lock_guard lock(mu_);
  keys_.clear();
}

absl::StatusOr<KeyDecision> CheckKey(const CachedKey& key, const Credentials& credentials, int64_t now_micros,
                                     std::string_view remote_address, bool read_only_store) {
  const std::string presented = HashSecret(credentials.secret);
  if (presented.size() != key.secret_sha256.size() ||
      sodium_memcmp(presented.data(), key.secret_sha256.data(), presented.size()) != 0) {
    return AuthFailure("invalid API key", "wrong-secret");
  }
  if (key.revoked) return AuthFailure("API key revoked", "revoked");
  if (key.expires_micros && now_micros >= *key.expires_micros) return AuthFailure("API key expired", "expired");
  if (key.user.disabled) return AuthFailure("user disabled", "user-disabled");
  if (key.restricted) {
    const std::optional<IpAddress> address = ParseIpAddress(remote_address);
    const bool allowed = address && std::any_of(key.cidrs.begin(), key.cidrs.end(),
                                                [&](const Cidr& cidr) { return CidrContains(cidr, *address); });
    // The key is alive: say no more than for an unknown key (see accounts.h).
    if (!allowed) return AuthFailure("invalid API key", "address-not-allowed");
  }
  KeyDecision decision;
  decision.principal = Principal{.user = key.user,
                                 .org = key.org,
                                 .role = key.user.role,
                                 .key_id = credentials.key_id,
                                 .read_only = key.read_only || key.user.role == Role::kReadOnly};
  int64_t last = key.last_used_micros.load(std::memory_order_relaxed);
  decision.record_last_used = !read_only_store && now_micros - last >= kLastUsedIntervalMillis * 1000 &&
                              key.last_used_micros.compare_exchange_strong(last, now_micros, std::memory_order_relaxed);
  return decision;
}

}  // namespace detail

absl::StatusOr<Principal> Accounts::AuthenticateHeader(std::string_view authorization,
                                                       std::string_view remote_address) {
  CONCORD_ASSIGN_OR_RETURN(Credentials credentials, ParseAuthorization(authorization));
  return Authenticate(credentials, remote_address);
}

absl::StatusOr<std::unique_ptr<Accounts>> OpenAccounts(std::string_view location, const OpenOptions& options) {
  if (postgres::IsPostgresLocation(location)) {
    auto accounts = PostgresAccounts::Create(std::string(location), options);
    if (!accounts.ok()) return accounts.status();
    return std::unique_ptr<Accounts>(std::move(*accounts));
  }
  CONCORD_ASSIGN_OR_RETURN(std::string path, SqlitePathOf(location));
  auto accounts = SqliteAccounts::Create(path, options);
  if (!accounts.ok()) return accounts.status();
  return std::unique_ptr<Accounts>(std::move(*accounts));
}

}  // namespace concord::store
