// concord/stix/detail/check.h — typed access to STIX properties with field-path errors (internal).
//
// A FieldPath names where a value sits inside an object ("external_references[2].external_id"). It is a
// chain of stack frames and costs nothing until an error renders it, so that the valid path allocates
// nothing for names. Every Check* function returns OK or a FieldError naming the full path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boost/json/object.hpp"
#include "boost/json/value.hpp"
#include "common/time.h"

namespace concord::stix::detail {

class FieldPath {
 public:
  FieldPath() = default;  // the object itself
  // A top-level property, standing alone.
  static FieldPath Of(std::string_view key) { return FieldPath(nullptr, key, 0, false); }
  // A child keeps a pointer to its parent, so the parent must be a named variable that outlives it.
  FieldPath Key(std::string_view key) const& { return FieldPath(this, key, 0, false); }
  FieldPath Index(size_t index) const& { return FieldPath(this, {}, index, true); }
  FieldPath Key(std::string_view key) const&& = delete;
  FieldPath Index(size_t index) const&& = delete;
  std::string ToString() const;

 private:
  FieldPath(const FieldPath* parent, std::string_view key, size_t index, bool is_index)
      : parent_(parent), key_(key), index_(index), is_index_(is_index) {}
  void Append(std::string& out) const;

  const FieldPath* parent_ = nullptr;
  std::string_view key_;
  size_t index_ = 0;
  bool is_index_ = false;
};

absl::Status Error(const FieldPath& path, std::string_view reason);
absl::Status Missing(const FieldPath& path);  // "is required"
absl::Status WrongKind(const FieldPath& path, std::string_view expected, const boost::json::value& got);

// True for "type--UUID" where type is a valid STIX type name and UUID an RFC 4122 UUID (versions 1-5).
bool IsIdentifier(std::string_view text);
// STIX 2.1 §3.1: 3-250 characters a-z, 0-9 and hyphen, starting with a letter, no "--".
bool IsTypeName(std::string_view text);
// The "type" part of an identifier (text before "--"); the whole text when there is none.
std::string_view IdentifierType(std::string_view id);

absl::StatusOr<std::string_view> CheckString(const boost::json::value& v, const FieldPath& path);
absl::Status CheckBool(const boost::json::value& v, const FieldPath& path);
// Integers in [min, max]; JSON numbers with a fraction are rejected.
absl::StatusOr<int64_t> CheckInteger(const boost::json::value& v, const FieldPath& path, int64_t min, int64_t max);
absl::StatusOr<double> CheckNumber(const boost::json::value& v, const FieldPath& path, double min, double max);
absl::StatusOr<Timestamp> CheckTimestamp(const boost::json::value& v, const FieldPath& path);
// A non-empty list (STIX 2.1 "list" type: an empty list MUST NOT stand in for an absent property).
absl::StatusOr<const boost::json::array*> CheckList(const boost::json::value& v, const FieldPath& path);
absl::Status CheckStringList(const boost::json::value& v, const FieldPath& path);
absl::StatusOr<const boost::json::object*> CheckObject(const boost::json::value& v, const FieldPath& path);
// `allowed` is "" (any type) or type names separated by '|' ("identity|location").
absl::Status CheckIdentifier(const boost::json::value& v, const FieldPath& path, std::string_view allowed);
absl::Status CheckIdentifierList(const boost::json::value& v, const FieldPath& path, std::string_view allowed);
// STIX 2.1 §2.7 hashes: a non-empty dictionary of strings; values of the known algorithms are length- and
// hex-checked (key names are case-sensitive, as in the hash-algorithm-ov vocabulary).
absl::Status CheckHashes(const boost::json::value& v, const FieldPath& path);
absl::Status CheckKillChainPhases(const boost::json::value& v, const FieldPath& path);

}  // namespace concord::stix::detail
