// STIX 2.1 §2.9 deterministic SCO identifiers.
#include <string>

#include "common/json.h"
#include "common/uuid.h"
#include "stix/detail/types.h"
#include "stix/object.h"

namespace concord::stix {
namespace {

// 00abedb4-aa42-466c-9c01-fed23315a9b7, the STIX 2.1 SCO namespace.
constexpr Uuid kScoNamespace{
    {0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7}};

// One hash of a `hashes` dictionary, as cti-python-stix2 picks it.
boost::json::object OneHash(const boost::json::object& hashes) {
  boost::json::object out;
  for (std::string_view name : {"MD5", "SHA-1", "SHA-256", "SHA-512"}) {
    if (const boost::json::value* v = hashes.if_contains(name)) {
      out.emplace(name, *v);
      return out;
    }
  }
  if (!hashes.empty()) out.emplace(hashes.begin()->key(), hashes.begin()->value());
  return out;
}

}  // namespace

std::optional<std::string> ComputeScoId(std::string_view type, const boost::json::object& sco) {
  const detail::TypeSpec* spec = detail::FindType(type);
  if (spec == nullptr || spec->id_properties.empty()) return std::nullopt;
  boost::json::object contributing;
  for (std::string_view name : spec->id_properties) {
    const boost::json::value* v = sco.if_contains(name);
    if (v == nullptr) continue;
    if (name == "hashes" && v->is_object()) {
      contributing.emplace(name, OneHash(v->get_object()));
    } else {
      contributing.emplace(name, *v);
    }
  }
  if (contributing.empty()) return std::nullopt;
  std::string id(type);
  id += "--";
  id += UuidV5(kScoNamespace, CanonicalJson(contributing)).ToString();
  return id;
}

}  // namespace concord::stix
