// concord/stix/test_util.h — helpers for the stix module's tests: minimal valid objects to mutate and
// an assertion on FieldErrors.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>

#include "boost/json/object.hpp"
#include "common/json.h"
#include "common/status.h"
#include "stix/object.h"

namespace concord::stix::testing {

inline boost::json::object Json(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() && v->is_object() ? std::move(v->get_object()) : boost::json::object();
}

inline constexpr std::string_view kIdentityId = "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff";

// A minimal valid indicator; tests change one property at a time.
inline boost::json::object ValidIndicator() {
  return Json(R"({
    "type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z",
    "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix",
    "valid_from": "2016-01-01T00:00:00Z"})");
}

// Envelope for SDOs/SROs under test: the common properties of a valid version 1.
inline boost::json::object Sdo(std::string_view type, std::string_view uuid, std::string_view body) {
  boost::json::object o = Json(body);
  boost::json::object out;
  out["type"] = type;
  out["spec_version"] = "2.1";
  out["id"] = std::string(type) + "--" + std::string(uuid);
  out["created"] = "2016-04-06T20:03:48.000Z";
  out["modified"] = "2016-04-06T20:03:48.000Z";
  for (auto& [k, v] : o) out[k] = std::move(v);
  return out;
}

// Asserts that `json` is rejected with exactly this field and reason.
inline void ExpectFieldError(boost::json::object json, std::string_view field, std::string_view reason) {
  auto parsed = ParseObject(std::move(json));
  ASSERT_FALSE(parsed.ok()) << "accepted; expected " << field << ": " << reason;
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorField(parsed.status()), field) << parsed.status();
  EXPECT_EQ(ErrorReason(parsed.status()), reason) << parsed.status();
}

inline void ExpectValid(boost::json::object json) {
  auto parsed = ParseObject(std::move(json));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
}

}  // namespace concord::stix::testing
