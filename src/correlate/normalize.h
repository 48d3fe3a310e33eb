// concord/correlate/normalize.h — canonical text of observable values, so that equal observables give
// equal postings and warninglist lookups whoever wrote them and however.
//
// Every function here is pure and thread-safe. Errors are InvalidArgument and read "KIND: what is wrong"
// (for example "cidr4: prefix length 33 is out of range 0..32").
//
// Rules (design.md, Data; issue 4):
//   domain  lower case, IDNA2008 A-labels (libidn2, UTS #46 non-transitional, NFC input), one trailing dot
//           removed, at most 253 octets, labels 1..63 octets of [a-z0-9_-] not starting or ending with '-',
//           top-level label not all digits.
//   ipv4    dotted quad as inet_pton(AF_INET) accepts it, printed back by inet_ntop.
//   ipv6    RFC 5952 text (lower-case hex, longest run of two or more zero groups compressed, first on a
//           tie). An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 address: its kind becomes ipv4.
//   cidr4/6 address masked to its prefix ("10.1.2.3/8" → "10.0.0.0/8"); lengths 0..32 and 0..128. An
//           IPv4-mapped IPv6 prefix of length ≥ 96 becomes the cidr4 it denotes.
//   url     Boost.URL: RFC 3986 normalisation (scheme and host lower case, percent-encoding of unreserved
//           characters decoded, other triplets upper-case hex, dot segments removed), default port dropped,
//           empty path of a hierarchical URL becomes "/", host by the domain or IP rules. A host is required.
//   email   local-part kept as written (RFC 5321 §2.4: it is case-sensitive), domain by the domain rules.
//   hashes  lower-case hex of exactly 32 (md5), 40 (sha1), 64 (sha256, sha3-256) or 128 (sha512,
//           sha3-512) digits.
//   ja3     an MD5 of the TLS ClientHello: 32 hex digits, lower case.
//   asn     the number alone, decimal without leading zeros, 0..4294967295 (RFC 6793); "AS64500",
//           "as64500", "AS 64500" and "64500" are all "64500".
//   mac     EUI-48 as six lower-case hex pairs joined by ':' ("aa:bb:cc:dd:ee:ff"), read from the ':' or '-'
//           form, Cisco's dotted "aabb.ccdd.eeff" or twelve bare hex digits.
//   x509-serial  lower-case hex without ':' separators and without leading zeros ("0" for zero).
//   registry-key  surrounding white space trimmed; a leading hive abbreviation (HKLM, HKCU, HKCR, HKU, HKCC,
//           any case) is expanded and the hive upper-cased (STIX 2.1 §6.13: "the hive portion of the key MUST
//           be fully expanded"), so "hklm\Software\X" and "HKEY_LOCAL_MACHINE\Software\X" correlate. The
//           rest is kept as written: Windows compares key names case-insensitively but STIX asks producers to
//           preserve case, and folding non-ASCII case is not worth its errors here.
//   ssdeep, tlsh, filename, mutex, user-agent  as written, surrounding white space (ASCII) trimmed; empty
//           values and control characters are refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pattern/extract.h"

namespace concord::correlate {

// One vocabulary of observable kinds for patterns, postings, warninglists and detection (design.md,
// "Postings"). Names come from pattern::ValueKindName ("ipv4", "cidr6", "sha3-256", "registry-key", …).
using Kind = pattern::ValueKind;
inline constexpr int kKindCount = static_cast<int>(pattern::ValueKind::kX509Serial) + 1;

// The kind named `name` (exactly as ValueKindName writes it); nullopt for any other text.
std::optional<Kind> ParseKind(std::string_view name);

struct Normalized {
  Kind kind;  // may differ from the kind asked for: ::ffff:1.2.3.4 given as ipv6 is ipv4
  std::string value;

  friend bool operator==(const Normalized&, const Normalized&) = default;
};

// The canonical form of `value` read as `kind`, with the kind of the result.
[[nodiscard]] absl::StatusOr<Normalized> NormalizeAs(Kind kind, std::string_view value);

// The canonical text alone (NormalizeAs(kind, value)->value).
[[nodiscard]] absl::StatusOr<std::string> Normalize(Kind kind, std::string_view value);

// The kind a bare value most plausibly is, from its shape alone; nullopt when it looks like none.
// Order of the tests: URL (has "://"), e-mail (one '@'), CIDR (has '/'), IPv4, MAC (six hex pairs joined by
// ':' or '-'), IPv6, hash (hex of a hash length: 32 md5, 40 sha1, 64 sha256, 128 sha512 — the SHA-3 kinds
// are never guessed), ASN ("AS" and digits, any case), domain (at least two labels). A 32-digit hex string is
// md5, never a domain label; a bare number is nothing (it could be anything).
std::optional<Kind> DetectKind(std::string_view value);

// DetectKind then NormalizeAs. NotFound-free: a value of no known kind is InvalidArgument.
[[nodiscard]] absl::StatusOr<Normalized> NormalizeAny(std::string_view value);

// The registrable domain ("eTLD+1") of a normalised domain by the Public Suffix List that libpsl was built
// with (psl_builtin(); on Debian generated from the publicsuffix package at libpsl's build). nullopt when
// the domain is itself a public suffix ("co.uk", "com") or has no registrable part.
std::optional<std::string> RegistrableDomain(std::string_view normalized_domain);

// The host of a normalised URL as it appears in the text (a domain, an IPv4 address or "[v6]"); nullopt
// when it has none. Does not allocate.
std::optional<std::string_view> UrlHost(std::string_view normalized_url);

// The domain of a normalised e-mail address (the text after the last '@').
std::string_view EmailDomain(std::string_view normalized_email);

}  // namespace concord::correlate
