// concord/store/accounts.h — organisations, users and API keys: who may talk to this node, and as whom.
//
// Every request is attributed to a user and the organisation the user belongs to (issue 3). The node's host
// organisation and every other organisation are STIX identities: their ids are `identity--UUIDv4`, so that
// objects they create name them in created_by_ref and the policy module can compare them.
//
// API keys. A key is 256 random bits (libsodium's CSPRNG) shown once, as the token
//     concord_<key_id>_<secret>
// key_id: 16 lower-case hex digits (64 random bits), public, names the key in listings, logs and audit;
// secret: 52 characters of lower-case RFC 4648 base32 (no padding) encoding 32 random bytes. Both alphabets
// survive shells, URLs, HTTP headers and double-click selection. The store keeps only the SHA-256 of the
// secret (a slow password hash buys nothing against 256 random bits) and compares digests in constant time.
//
// Presentations (ParseAuthorization), the two that TAXII 2.1 clients and scripts use:
//   Authorization: Bearer <token>
//   Authorization: Basic base64(<username>:<password>) where the password is the whole token (the username
//       is then not used: clients that insist on one may send the user name or anything) or the secret
//       alone (the username must then be the key_id).
//
// Authentication failures are Unauthenticated (HTTP 401), with messages that tell a client what it can act
// on without telling someone holding a stolen key more than they know: "invalid API key" (malformed, unknown
// key id, wrong secret, and also a source address outside the key's allowed CIDRs, because that key is alive
// and a thief must not learn it), "API key revoked", "API key expired", "user disabled". The precise reason
// rides along as a payload for the audit log (AuthFailureReason). Revoked, expired and disabled are reported
// only after the secret was verified.
//
// Hot path: verified key records are cached in memory by key_id for kKeyCacheTtl, so authentication costs
// one SHA-256 and no database work. A revocation, a disabled user or a role change made through this object
// applies at once; one made by another process (the CLI, another `concord serve`) applies within
// kKeyCacheTtl, or at once on PostgreSQL where the node hears of it (ForgetCachedKeys). last_used is written at most once per kLastUsedInterval per key and process. Expiry is
// checked on every call against the clock, never cached.
//
// Thread-safety: Accounts implementations are safe to use from several threads; each call is one
// transaction. Authenticate may touch the database (cache miss, last_used), so it belongs on the blocking
// pool, not on network threads. The free functions are pure and thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/time.h"
#include "store/store.h"

namespace concord::store {

inline constexpr int64_t kKeyCacheTtlMillis = 5'000;
inline constexpr int64_t kLastUsedIntervalMillis = 60'000;

// ---- model -------------------------------------------------------------------------------------------

enum class OrgKind { kLocal, kRemote };  // an organisation with users on this node, or one reached via a peer
std::string_view OrgKindName(OrgKind kind);  // "local", "remote"

struct Organisation {
  std::string id;  // identity--UUIDv4
  std::string name;
  OrgKind kind = OrgKind::kLocal;
  bool host = false;  // the organisation operating this node (exactly one, local)
  Timestamp created;
};

enum class Role { kAdmin, kOrgAdmin, kAnalyst, kDutyOfficer, kReadOnly, kSync };
// "admin", "org-admin", "analyst", "duty-officer", "read-only", "sync".
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);  // exactly the names RoleName writes

struct User {
  std::string id;  // UUIDv4
  std::string name;
  std::string org_id;
  Role role = Role::kAnalyst;
  Timestamp created;
  bool disabled = false;
};

struct ApiKey {
  std::string key_id;
  std::string user_id;
  Timestamp created;
  std::optional<Timestamp> expires;
  std::vector<std::string> allowed_cidrs;  // canonical (masked) CIDRs; empty: any source address
  bool read_only = false;
  std::optional<Timestamp> revoked;
  std::optional<Timestamp> last_used;  // to within kLastUsedIntervalMillis
};

struct KeyOptions {
  std::optional<Timestamp> expires;  // must lie in the future
  std::vector<std::string> cidrs;    // ParseCidr syntax; stored canonical
  bool read_only = false;
};

struct IssuedKey {
  ApiKey key;
  std::string token;  // the only place the secret ever appears
};

// A sharing group (design.md, "Sharing policy"): the audience of objects with distribution `group` (4), named
// by the policy extension's sharing_group_ref. Its id is a STIX-style identifier so that the extension
// validates it as any other reference. The owning organisation is always a member; membership is read by
// the policy at decision time, so a change applies to everything decided from then on.
inline constexpr std::string_view kSharingGroupIdPrefix = "x-concord-sharing-group--";

struct SharingGroup {
  std::string id;  // x-concord-sharing-group--UUIDv4
  std::string name;
  std::string description;
  std::string owner_org;                 // identity id
  std::vector<std::string> member_orgs;  // identity ids, sorted; includes owner_org
  Timestamp created;
};

// A trust community (le-24-7, csirts-network, eu-nato): a named set of organisations. Nothing crosses from
// one community to another on its own (design.md); sync stamps and checks them.
struct Community {
  std::string name;  // 1..64 of [a-z0-9._-], starting with a letter or digit
  std::string description;
  std::vector<std::string> member_orgs;  // identity ids, sorted
  Timestamp created;
};

// Who made a request.
struct Principal {
  User user;
  Organisation org;
  Role role = Role::kAnalyst;
  std::string key_id;
  bool read_only = false;  // the key is read-only, or the user's role is read-only
};

// ---- pure helpers ------------------------------------------------------------------------------------

// An IP address in IPv6 form; IPv4 a.b.c.d is held as the IPv4-mapped ::ffff:a.b.c.d, so that "1.2.3.4"
// and "::ffff:1.2.3.4" (what a dual-stack socket reports) are the same address.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool IsV4() const;  // IPv4 or IPv4-mapped
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};
// Dotted-quad IPv4 or RFC 4291 IPv6 text; no zone index, no port, no brackets.
std::optional<IpAddress> ParseIpAddress(std::string_view text);

// A network. An IPv4 CIDR a.b.c.d/n is held as ::ffff:a.b.c.d/(96+n), so it contains exactly the IPv4
// addresses and their mapped forms; ::/0 contains every address, 0.0.0.0/0 every IPv4 address.
struct Cidr {
  IpAddress network;    // host bits zero
  int prefix_bits = 0;  // 0..128, in the IPv6 form
  bool v4 = false;      // written as IPv4
  std::string ToString() const;  // "10.0.0.0/8", "2001:db8::/32"
  friend bool operator==(const Cidr&, const Cidr&) = default;
};
// "ADDRESS/PREFIX" (prefix in decimal without leading zeros, ≤ 32 or ≤ 128) or a bare address (/32, /128).
// Host bits are masked off: "10.1.2.3/8" is 10.0.0.0/8.
absl::StatusOr<Cidr> ParseCidr(std::string_view text);
bool CidrContains(const Cidr& cidr, const IpAddress& address);

struct Credentials {
  std::string key_id;
  std::string secret;
};
// Splits "concord_<key_id>_<secret>"; nullopt unless every part has the exact length and alphabet.
std::optional<Credentials> ParseToken(std::string_view token);
// An Authorization header value ("Bearer …" or "Basic …", scheme case-insensitive); Unauthenticated
// ("invalid API key") when it presents no well-formed credentials.
absl::StatusOr<Credentials> ParseAuthorization(std::string_view header);

// The precise reason of an authentication failure, for the audit log: "malformed", "unknown-key",
// "wrong-secret", "revoked", "expired", "user-disabled", "address-not-allowed"; "" for other statuses.
std::string AuthFailureReason(const absl::Status& status);

namespace detail {
// For Accounts backends: key material and failure statuses, one definition for every backend.
std::string NewKeyId();   // 16 lower-case hex digits from libsodium's CSPRNG
std::string NewSecret();  // 32 random bytes as 52 base32 characters
std::string MakeToken(std::string_view key_id, std::string_view secret);
std::string HashSecret(std::string_view secret);  // lower-case hex SHA-256
bool IsWellFormed(const Credentials& credentials);
absl::Status AuthFailure(std::string_view message, std::string_view reason);  // Unauthenticated + reason

// What a backend loads for one API key, kept in its KeyCache for kKeyCacheTtlMillis.
struct CachedKey {
  std::string secret_sha256;
  std::optional<int64_t> expires_micros;
  bool restricted = false;  // allowed only from `cidrs`
  std::vector<Cidr> cidrs;
  bool read_only = false;
  bool revoked = false;
  User user;
  Organisation org;
  int64_t loaded_micros = 0;
  mutable std::atomic<int64_t> last_used_micros{0};  // last written or read; throttles the writes
};

// The key cache every backend keeps, so that a request costs no database read. Thread-safe; its mutex is
// never held across database work.
class KeyCache {
 public:
  // The key loaded less than kKeyCacheTtlMillis ago, or null (also when the clock went back).
  std::shared_ptr<const CachedKey> Get(const std::string& key_id, int64_t now_micros);
  void Put(const std::string& key_id, std::shared_ptr<const CachedKey> key);
  void ForgetUser(std::string_view user_id);  // after a user is disabled, enabled or changes role
  void ForgetKey(const std::string& key_id);  // after a revocation
  void Clear();  // after another process changed accounts (change_listener.h)

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const CachedKey>> keys_;
};

// The decision every backend makes once a key is loaded, in one place because it is the gate: the secret
// (constant-time), revocation, expiry, a disabled user, the allowed source addresses (a refusal for the
// address says no more than for an unknown key). `record_last_used` is true at most once per
// kLastUsedIntervalMillis for a key, across threads, unless the store is read-only: the caller then writes
// last_used, best effort.
struct KeyDecision {
  Principal principal;
  bool record_last_used = false;
};
absl::StatusOr<KeyDecision> CheckKey(const CachedKey& key, const Credentials& credentials, int64_t now_micros,
                                     std::string_view remote_address, bool read_only_store);
}  // namespace detail

// ---- the accounts store ------------------------------------------------------------------------------

// Names: organisation names are 1..200 bytes without control characters, without a leading or trailing
// space and not starting with "identity--"; user names are 1..64 of [A-Za-z0-9._@-] and not a UUID. Both are unique ignoring ASCII case.
// Where a call takes `org` or `user`, it accepts the id or the name. Unknown ones are NotFound, taken names
// AlreadyExists, invalid input InvalidArgument naming the field.
class Accounts {
 public:
  virtual ~Accounts() = default;

  [[nodiscard]] virtual absl::StatusOr<Organisation> CreateOrganisation(std::string_view name, OrgKind kind) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<Organisation>> ListOrganisations() = 0;  // by name
  [[nodiscard]] virtual absl::StatusOr<Organisation> GetOrganisation(std::string_view org) = 0;
  // The host organisation, created (or an existing local organisation of that name promoted) when there is
  // none. Idempotent. FailedPrecondition when another organisation is already the host, or the name is a
  // remote organisation's.
  [[nodiscard]] virtual absl::StatusOr<Organisation> EnsureHostOrganisation(std::string_view name) = 0;

  [[nodiscard]] virtual absl::StatusOr<User> CreateUser(std::string_view name, std::string_view org, Role role) = 0;
  // By name; only the users of `org` when given (NotFound when that organisation is unknown).
  [[nodiscard]] virtual absl::StatusOr<std::vector<User>> ListUsers(std::optional<std::string_view> org = {}) = 0;
  [[nodiscard]] virtual absl::StatusOr<User> GetUser(std::string_view user) = 0;
  // A disabled user's keys stop authenticating; enabling restores those not revoked or expired meanwhile.
  [[nodiscard]] virtual absl::Status DisableUser(std::string_view user) = 0;
  [[nodiscard]] virtual absl::Status EnableUser(std::string_view user) = 0;
  [[nodiscard]] virtual absl::Status SetRole(std::string_view user, Role role) = 0;

  // FailedPrecondition for a disabled user.
  [[nodiscard]] virtual absl::StatusOr<IssuedKey> IssueKey(std::string_view user, const KeyOptions& options) = 0;
  // Oldest first, revoked and expired ones included.
  [[nodiscard]] virtual absl::StatusOr<std::vector<ApiKey>> ListKeys(std::string_view user) = 0;
  // Idempotent: a revoked key keeps its first revocation time. NotFound for an unknown key id.
  [[nodiscard]] virtual absl::StatusOr<ApiKey> RevokeKey(std::string_view key_id) = 0;

  // Sharing groups (migration 4). Where a call takes `group` it accepts the id or the name; names follow the
  // organisation-name rules, must not start with kSharingGroupIdPrefix, and are unique ignoring ASCII case.
  // Descriptions are at most 2000 bytes. The owner becomes the first member.
  [[nodiscard]] virtual absl::StatusOr<SharingGroup> CreateSharingGroup(std::string_view name,
                                                                        std::string_view description,
                                                                        std::string_view owner_org) = 0;
  // By name, each with its members.
  [[nodiscard]] virtual absl::StatusOr<std::vector<SharingGroup>> ListSharingGroups() = 0;
  [[nodiscard]] virtual absl::StatusOr<SharingGroup> GetSharingGroup(std::string_view group) = 0;
  // Idempotent; return the group as it is afterwards. Removing the owner is FailedPrecondition.
  [[nodiscard]] virtual absl::StatusOr<SharingGroup> AddSharingGroupMember(std::string_view group,
                                                                           std::string_view org) = 0;
  [[nodiscard]] virtual absl::StatusOr<SharingGroup> RemoveSharingGroupMember(std::string_view group,
                                                                              std::string_view org) = 0;

  // Trust communities (migration 4), by name (Community::name's syntax).
  [[nodiscard]] virtual absl::StatusOr<Community> CreateCommunity(std::string_view name,
                                                                  std::string_view description) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<Community>> ListCommunities() = 0;  // by name
  [[nodiscard]] virtual absl::StatusOr<Community> GetCommunity(std::string_view name) = 0;
  // Idempotent; return the community as it is afterwards.
  [[nodiscard]] virtual absl::StatusOr<Community> AddCommunityMember(std::string_view name, std::string_view org) = 0;
  [[nodiscard]] virtual absl::StatusOr<Community> RemoveCommunityMember(std::string_view name,
                                                                        std::string_view org) = 0;

  // Verifies credentials presented from `remote_address` (ParseIpAddress syntax) now. Failures are
  // Unauthenticated with the messages described at the top of this file.
  [[nodiscard]] virtual absl::StatusOr<Principal> Authenticate(const Credentials& credentials,
                                                              std::string_view remote_address) = 0;
  // Drops every cached key, so that the next use of each reloads it: a change made by another process
  // (heard through store/change_listener.h) then applies at once instead of within kKeyCacheTtlMillis.
  virtual void ForgetCachedKeys() = 0;
  // ParseAuthorization, then Authenticate.
  [[nodiscard]] absl::StatusOr<Principal> AuthenticateHeader(std::string_view authorization,
                                                             std::string_view remote_address);
};

// Opens the accounts of the store at `location` (OpenStore's syntax: the same SQLite file or PostgreSQL
// database, through connections of its own), applying the same migrations as OpenStore, so either opener
// creates the schema.
// OpenOptions::clock drives creation times, expiry, the cache and last_used; read_only refuses every
// write (Authenticate then never records last_used).
[[nodiscard]] absl::StatusOr<std::unique_ptr<Accounts>> OpenAccounts(std::string_view location,
                                                                     const OpenOptions& options = {});

}  // namespace concord::store
