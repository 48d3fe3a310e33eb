// concord/correlate/postings.h — which (kind, normalised value) postings an object has (design.md, "Postings").
//
// PostingExtractor is the store's hook (store::PostingExtractor): the store calls it for every version that
// becomes current and writes what it yields in the same transaction. Values come from
//   SCOs        ipv4-addr/ipv6-addr value (ipv4/ipv6, or cidr4/cidr6 when it carries a shorter prefix; a /32 or
//               /128 is the address), domain-name, url and email-addr value, file and artifact hashes (MD5,
//               SHA-1, SHA-256, SHA-512, SHA3-256, SHA3-512, SSDEEP, TLSH; names compared ignoring case, '-'
//               and '_') and file name, mutex name, windows-registry-key key, autonomous-system number,
//               mac-addr value, x509-certificate serial_number and hashes.
//   indicators  pattern_type "stix": every equality / IN / ISSUBSET value of the pattern that
//               pattern::Extract indexes, normalised.
//   sightings   one reference posting (kind kSightingOfPosting, below): sighting_of_ref, the id as written, so
//               that "the sightings of indicator X" is one FindPostings (Correlator::Search lists them).
// Values that do not normalise are left out (the object was validated on the way in; a value of an odd shape
// simply does not correlate). Other types (observed-data, whose 2.1 refs point at SCOs that are objects of
// their own; network-traffic, software, user-account, SDOs) have none. Each (kind, value) once per object,
// sorted by (kind, value).
//
// Thread-safety: PostingExtractor is stateless; Extract may run on any number of threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "correlate/normalize.h"
#include "pattern/pattern.h"
#include "stix/object.h"
#include "store/store.h"

namespace concord::correlate {

// Reference postings: an object's reference to another object, held as a posting so that "the objects that
// refer to X" is one posting lookup. Their kinds are numbered from 128 up, outside pattern::ValueKind (whose
// kinds are 0..kKindCount-1), so no code that handles observable kinds ever meets one: ParseKind and
// DetectKind never give one (no user input names or looks like one), warninglists, normalisation, detection
// snapshots and exports never see one (they read patterns, not postings). They are not observable values and
// never correlate: two sightings of one indicator are not objects sharing a value, so CorrelationsOf and
// CorrelateBatch leave reference postings out.
//   kSightingOfPosting  value: a sighting's sighting_of_ref (the referenced id as written) → the sighting.
inline constexpr uint8_t kSightingOfPosting = 128;
constexpr bool IsReferencePosting(uint8_t kind) { return kind >= 128; }
static_assert(kKindCount <= 128, "observable kinds and reference posting kinds must not meet");

class PostingExtractor final : public store::PostingExtractor {
 public:
  void Extract(const stix::Object& object, std::vector<store::Posting>& out) const override;
  // What Extract appends for an indicator whose STIX pattern the caller has parsed already (ingest parses
  // every pattern to validate it): the same postings, canonical, without parsing the pattern again.
  void ExtractFromPattern(const pattern::Pattern& parsed, std::vector<store::Posting>& out) const;
};

// The store posting for a value already normalised as `kind` (address and prefix filled for IPs and CIDRs).
store::Posting MakePosting(Kind kind, std::string_view normalized_value);

// The 16-byte big-endian address of a normalised ipv4 (as IPv4-mapped IPv6) or ipv6 value, or the network
// address of a normalised cidr4/cidr6 value; nullopt for other kinds or malformed text.
std::optional<std::array<uint8_t, 16>> AddressOf(Kind kind, std::string_view normalized_value);

// The prefix length of a normalised cidr4/cidr6 value (0..32, 0..128); nullopt otherwise.
std::optional<int> PrefixLengthOf(Kind kind, std::string_view normalized_value);

// Formats a 16-byte address as the normalised text of `kind` (ipv4: the last four bytes; ipv6: RFC 5952).
std::string FormatAddress(Kind kind, const std::array<uint8_t, 16>& address);

}  // namespace concord::correlate
