// concord/store/testing/objects.h — hand-built STIX objects for store tests and the crash writer.
//
// Builds stix::Object values with consistent JSON and extracted columns without the stix parser, so that
// store tests depend only on the object model. Test-only: invalid timestamps stop the process.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "boost/json/object.hpp"
#include "common/status.h"
#include "common/time.h"
#include "stix/object.h"

namespace concord::store::testing {

inline Timestamp Ts(std::string_view rfc3339) {
  auto ts = ParseRfc3339(rfc3339);
  CONCORD_CHECK(ts.ok(), "test timestamps are valid RFC 3339");
  return *ts;
}

// An indicator version: created 2024-01-01T00:00:00.000Z unless given, `modified` as given.
inline stix::Object Indicator(std::string_view id, std::string_view modified, std::string_view pattern = "[ipv4-addr:value = '198.51.100.1']",
                              bool revoked = false, std::string_view created = "2024-01-01T00:00:00.000Z") {
  stix::Object o;
  o.id = id;
  o.type = "indicator";
  o.spec_version = "2.1";
  o.kind = stix::ObjectKind::kSdo;
  o.created = Ts(created);
  o.modified = Ts(modified);
  o.valid_from = o.created;
  o.revoked = revoked;
  o.json["type"] = o.type;
  o.json["spec_version"] = o.spec_version;
  o.json["id"] = o.id;
  o.json["created"] = created;
  o.json["modified"] = modified;
  o.json["pattern"] = pattern;
  o.json["pattern_type"] = "stix";
  o.json["valid_from"] = created;
  if (revoked) o.json["revoked"] = true;
  return o;
}

// An unversioned cyber-observable (no created/modified): a domain name.
inline stix::Object DomainName(std::string_view id, std::string_view value) {
  stix::Object o;
  o.id = id;
  o.type = "domain-name";
  o.spec_version = "2.1";
  o.kind = stix::ObjectKind::kSco;
  o.json["type"] = o.type;
  o.json["spec_version"] = o.spec_version;
  o.json["id"] = o.id;
  o.json["value"] = value;
  return o;
}

// A sighting of `of` (an SRO; created 2024-01-01T00:00:00.000Z, `modified` as given).
inline stix::Object Sighting(std::string_view id, std::string_view modified, std::string_view of) {
  stix::Object o;
  o.id = id;
  o.type = "sighting";
  o.spec_version = "2.1";
  o.kind = stix::ObjectKind::kSro;
  o.created = Ts("2024-01-01T00:00:00.000Z");
  o.modified = Ts(modified);
  o.json["type"] = o.type;
  o.json["spec_version"] = o.spec_version;
  o.json["id"] = o.id;
  o.json["created"] = "2024-01-01T00:00:00.000Z";
  o.json["modified"] = modified;
  o.json["sighting_of_ref"] = of;
  o.json["count"] = 1;
  return o;
}

}  // namespace concord::store::testing
