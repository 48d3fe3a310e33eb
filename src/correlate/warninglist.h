// concord/correlate/warninglist.h — MISP warninglists: known-benign values (RFC 1918 ranges, public
// resolvers, top sites, hashes of empty files, …). A value on a list is flagged with the list names, does not
// correlate and stays out of detection exports unless asked (issue 4).
//
// Format: the MISP warninglist list.json (name, type, list, matching_attributes; other members ignored).
// Types and how a normalised value of our kinds matches (values must come from Normalize/NormalizeAs):
//   cidr       ipv4/ipv6 inside a listed range; cidr4/cidr6 when every address of the prefix is on the list
//              (inside one listed range or several adjacent ones). Entries without "/N" are single addresses.
//   hostname   domain equal to an entry or below it ("a.b.example.com" is on "example.com"); url by its host,
//              email by its domain. Leading and trailing dots of entries are ignored (".example.com" is
//              MISP's way of writing "example.com and below").
//   string     exact equality, ASCII case-insensitive (the IANA TLD list is upper case, our values lower).
//   substring  the entry occurs in the value, ASCII case-insensitive.
//   regex      PCRE2 (MISP writes PHP delimiters "/…/flags"; i, m, s, x flags are honoured), searched in
//              the value.
// matching_attributes (MISP attribute types) restrict a list to the kinds they denote, e.g. "ip-dst" →
// ipv4, ipv6, cidr4, cidr6; "domain"/"hostname" → domain; "url" → url; "md5" → md5; "user-agent" →
// user-agent; "AS" → asn; "regkey" → registry-key. A list without them applies to every kind its type can
// match; a list naming only types we have no kind for (e.g. "btc") matches none of our kinds.
//
// Errors: a file that is not JSON, lacks name/type/list or has an unknown type fails the whole load with
// an error naming the file — a node must not run with a list silently missing. A single bad entry (a
// cidr that is no prefix, a regex that does not compile, a hostname that is no domain) is skipped and
// reported in `warnings` ("FILE: entry 17 \"…\": …") for the caller to log.
//
// A Warninglists object is immutable once built; Match is thread-safe and takes no locks.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "correlate/normalize.h"

namespace concord::correlate {

// One list.json: `origin` names it in errors (a path), `json` is its content.
struct WarninglistSource {
  std::string origin;
  std::string json;
};

class Warninglists {
 public:
  // Builds the index from list texts. `warnings` (may be null) receives one line per skipped entry.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Warninglists>> Build(
      const std::vector<WarninglistSource>& sources, std::vector<std::string>* warnings);

  // Reads every "*.json" file below `directory` (recursively, in path order) and builds from them.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Warninglists>> LoadDirectory(
      const std::filesystem::path& directory, std::vector<std::string>* warnings);

  ~Warninglists();
  Warninglists(const Warninglists&) = delete;
  Warninglists& operator=(const Warninglists&) = delete;

  // Names of the lists `normalized_value` (of `kind`) is on, sorted and without duplicates.
  std::vector<std::string> Match(Kind kind, std::string_view normalized_value) const;

  // Names of all loaded lists, sorted.
  std::vector<std::string> Names() const;

  struct Index;  // defined in warninglist.cc

 private:
  explicit Warninglists(std::unique_ptr<Index> index);
  std::unique_ptr<Index> index_;
};

}  // namespace concord::correlate
