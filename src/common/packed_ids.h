// concord/common/packed_ids.h — a compact binary form of a list of STIX ids.
//
// The audit log names the objects of every audited read, a list of 100 ids for a page of 100. As JSON text a
// STIX id costs about 50 bytes ("indicator--" and 36 characters of UUID, quotes and a comma); packed it
// costs 17: a byte naming its type and the 16 bytes of its UUID. Audit file version 4 stores object_ids this
// way (sqlite_audit_log.h), which cut the audit file, its write-ahead log and the checkpoints copying it
// back by about two thirds under listing load. The hash chain is unchanged: it covers the ids as text, so
// a packed column is unpacked before it is hashed.
//
//     packed := 0x01 item*
//     item   := code uuid            code 1..kPackedTypes.size(): the id is
//                                    "<kPackedTypes[code - 1]>--<uuid>", uuid 16 bytes, written as 36
//                                    characters of lower-case hex in groups 8-4-4-4-12
//             | 0x00 length bytes    any other id, verbatim: length as LEB128 (7 bits per byte, low first)
//
// An id packs by code when its type is in kPackedTypes and its UUID is written exactly that way (lower case,
// with its hyphens); everything else (custom types, upper case, not an id at all) goes verbatim, so that
// every list of strings packs and unpacks to itself. The leading 0x01 tells the packed form from JSON text,
// which never starts with that byte. The type table is part of the format: it is only ever appended to.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace concord {

inline constexpr char kPackedIdsTag = '\x01';

// The object types with a code, in code order (code = index + 1): STIX 2.1's, then the custom types of MITRE
// ATT&CK (the most widely shared data with custom types).
inline constexpr std::array<std::string_view, 48> kPackedTypes = {
    "attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident", "indicator",
    "infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note", "observed-data",
    "opinion", "report", "threat-actor", "tool", "vulnerability", "relationship", "sighting", "artifact",
    "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file", "ipv4-addr",
    "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url", "user-account",
    "windows-registry-key", "x509-certificate", "marking-definition", "language-content",
    "extension-definition", "x-mitre-tactic", "x-mitre-matrix", "x-mitre-data-source", "x-mitre-data-component",
    "x-mitre-collection", "x-mitre-asset",
};

// Whether `stored` is in the packed form (else it is JSON text, as audit files before version 4 hold it).
inline bool IsPackedIds(std::string_view stored) { return !stored.empty() && stored.front() == kPackedIdsTag; }

// The packed form of `ids`, appended to `out`.
void AppendPackedIds(std::string& out, std::span<const std::string> ids);
std::string PackIds(std::span<const std::string> ids);

// Calls add(id) for each id of a packed list, in order. InvalidArgument, naming the byte offset, for anything
// that is not the packed form exactly (no tag, an unknown code, a truncated item); ids before the bad item
// have been passed to `add` by then.
absl::Status UnpackIds(std::string_view packed, absl::FunctionRef<void(std::string_view)> add);
absl::StatusOr<std::vector<std::string>> UnpackIds(std::string_view packed);

// One item of the form alone (no leading tag), for formats that embed packed ids (the audit log's index blocks).
void AppendPackedId(std::string& out, std::string_view id);
// Reads the item at `at` and moves `at` past it; `id` is then a view into `packed` or into `scratch`.
// InvalidArgument, naming the byte offset, as UnpackIds.
absl::Status ReadPackedId(std::string_view packed, size_t& at, std::string& scratch, std::string_view& id);

// Unsigned LEB128 (7 bits per byte, low first), the lengths above; ReadLeb128 is false for a truncated or
// over-long number and leaves `at` past what it read.
void AppendLeb128(std::string& out, uint64_t n);
bool ReadLeb128(std::string_view in, size_t& at, uint64_t& n);

}  // namespace concord
