#include "common/time.h"

#include <chrono>
#include <cstdio>

#include "fmt/format.h"

namespace concord {
namespace {

// Days from civil date, Howard Hinnant's algorithm (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

absl::Status Expected(std::string_view text, size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(
      fmt::format("invalid timestamp '{}': expected {} at offset {}", text, what, offset));
}

}  // namespace

Timestamp Timestamp::FromUnixMillis(int64_t ms) {
  Timestamp ts;
  ts.seconds = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  ts.nanos = static_cast<int32_t>((ms - ts.seconds * 1000) * 1'000'000);
  ts.precision = 3;
  return ts;
}

absl::StatusOr<Timestamp> ParseRfc3339(std::string_view text) {
  size_t i = 0;
  auto digits = [&](size_t n, int64_t& out) -> bool {
    if (i + n > text.size()) return false;
    out = 0;
    for (size_t k = 0; k < n; ++k) {
      const char c = text[i + k];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    i += n;
    return true;
  };
  auto lit = [&](char c) -> bool {
    if (i < text.size() && text[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int64_t year = 0, mon = 0, day = 0, hh = 0, mm = 0, ss = 0;
  if (!digits(4, year)) return Expected(text, i, "4-digit year");
  if (!lit('-')) return Expected(text, i, "'-'");
  if (!digits(2, mon) || mon < 1 || mon > 12) return Expected(text, 5, "month 01-12");
  if (!lit('-')) return Expected(text, i, "'-'");
  if (!digits(2, day) || day < 1 || day > DaysInMonth(year, static_cast<unsigned>(mon)))
    return Expected(text, 8, "valid day of month");
  if (!lit('T')) return Expected(text, i, "'T'");
  if (!digits(2, hh) || hh > 23) return Expected(text, 11, "hour 00-23");
  if (!lit(':')) return Expected(text, i, "':'");
  if (!digits(2, mm) || mm > 59) return Expected(text, 14, "minute 00-59");
  if (!lit(':')) return Expected(text, i, "':'");
  // 60 is accepted for a leap second and folded into the next second.
  if (!digits(2, ss) || ss > 60) return Expected(text, 17, "second 00-60");
  Timestamp ts;
  ts.precision = 0;
  if (lit('.')) {
    int64_t frac = 0;
    int n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n < 9) frac = frac * 10 + (text[i] - '0');
      ++n;
      ++i;
    }
    if (n == 0) return Expected(text, i, "fractional second digits");
    if (n > 9) return Expected(text, i - static_cast<size_t>(n - 9), "at most 9 fractional digits");
    for (int k = n; k < 9; ++k) frac *= 10;
    ts.nanos = static_cast<int32_t>(frac);
    ts.precision = static_cast<int8_t>(n);
  }
  if (!lit('Z')) return Expected(text, i, "'Z' (UTC)");
  if (i != text.size()) return Expected(text, i, "end of timestamp");
  ts.seconds = DaysFromCivil(year, static_cast<unsigned>(mon), static_cast<unsigned>(day)) * 86400 + hh * 3600 +
               mm * 60 + ss;
  return ts;
}

std::string FormatRfc3339(const Timestamp& ts, int digits) {
  if (digits < 0) digits = 0;
  if (digits > 9) digits = 9;
  int64_t days = ts.seconds >= 0 ? ts.seconds / 86400 : -((-ts.seconds + 86399) / 86400);
  int64_t rem = ts.seconds - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", static_cast<long long>(y), m, d,
                        static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                        static_cast<long long>(rem % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (digits > 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, "%09d", ts.nanos);
    out += '.';
    out.append(frac, static_cast<size_t>(digits));
  }
  out += 'Z';
  return out;
}

std::string FormatRfc3339(const Timestamp& ts) { return FormatRfc3339(ts, ts.precision); }
std::string FormatSortable(const Timestamp& ts) { return FormatRfc3339(ts, 9); }

Timestamp SystemClock::Now() const {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  Timestamp ts;
  ts.seconds = ns / 1'000'000'000;
  ts.nanos = static_cast<int32_t>(ns % 1'000'000'000);
  ts.precision = 3;
  return ts;
}

const SystemClock& SystemClock::Instance() {
  static const SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace concord
