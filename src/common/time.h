// concord/common/time.h — RFC 3339 UTC timestamps as STIX 2.1 uses them, and an injectable clock.
//
// A Timestamp is an instant with nanosecond resolution plus the number of fractional digits it was
// written with, so that STIX content round-trips exactly while comparisons use the instant alone.
// All functions are pure and thread-safe; Clock implementations must be thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace concord {

struct Timestamp {
  int64_t seconds = 0;   // since 1970-01-01T00:00:00Z
  int32_t nanos = 0;     // 0..999'999'999
  int8_t precision = 3;  // fractional digits as written (0..9); not part of identity

  friend bool operator==(const Timestamp& a, const Timestamp& b) {
    return a.seconds == b.seconds && a.nanos == b.nanos;
  }
  friend std::strong_ordering operator<=>(const Timestamp& a, const Timestamp& b) {
    if (auto c = a.seconds <=> b.seconds; c != 0) return c;
    return a.nanos <=> b.nanos;
  }

  static Timestamp FromUnixMillis(int64_t ms);
  int64_t UnixMillis() const { return seconds * 1000 + nanos / 1'000'000; }
  int64_t UnixMicros() const { return seconds * 1'000'000 + nanos / 1000; }
};

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (upper-case T and Z, UTC only, as STIX 2.1 §3.2 requires).
// Errors name the offset and what was expected.
absl::StatusOr<Timestamp> ParseRfc3339(std::string_view text);

// Formats with the timestamp's own precision: "2016-04-06T20:03:00.000Z".
std::string FormatRfc3339(const Timestamp& ts);
// Formats with exactly `digits` fractional digits (0..9).
std::string FormatRfc3339(const Timestamp& ts, int digits);
// Fixed-width, 9 fractional digits: sorts lexicographically in instant order (store columns, cursors).
std::string FormatSortable(const Timestamp& ts);

// Source of the current time. Production uses SystemClock; tests inject a fixed or stepping clock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
  static const SystemClock& Instance();
};

}  // namespace concord
