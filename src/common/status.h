// concord/common/status.h — error propagation for every module.
//
// Fallible functions return absl::Status or absl::StatusOr<T>. These macros propagate them, and
// CONCORD_CHECK states an invariant of our own code (never of untrusted input): when it breaks, the
// process stops with the belief that failed.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"

#define CONCORD_INTERNAL_CONCAT_IMPL(a, b) a##b
#define CONCORD_INTERNAL_CONCAT(a, b) CONCORD_INTERNAL_CONCAT_IMPL(a, b)

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define CONCORD_RETURN_IF_ERROR(expr)                          \
  do {                                                         \
    ::absl::Status concord_status_ = (expr);                   \
    if (!concord_status_.ok()) return concord_status_;         \
  } while (false)

// CONCORD_ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr()) assigns the value or returns the error.
#define CONCORD_ASSIGN_OR_RETURN(lhs, expr) \
  CONCORD_INTERNAL_ASSIGN_OR_RETURN(CONCORD_INTERNAL_CONCAT(concord_statusor_, __LINE__), lhs, expr)
#define CONCORD_INTERNAL_ASSIGN_OR_RETURN(tmp, lhs, expr) \
  auto tmp = (expr);                                      \
  if (!tmp.ok()) return std::move(tmp).status();          \
  lhs = std::move(tmp).value()

// Fatal check of an internal invariant. Untrusted input must never reach it.
#define CONCORD_CHECK(cond, belief)                                                        \
  do {                                                                                     \
    if (!(cond)) ::concord::internal::CheckFailed(__FILE__, __LINE__, #cond, (belief));    \
  } while (false)

namespace concord {

namespace internal {
[[noreturn]] inline void CheckFailed(const char* file, int line, const char* cond, std::string_view belief) {
  std::fprintf(stderr, "%s:%d: CHECK failed: %s: %.*s\n", file, line, cond, static_cast<int>(belief.size()),
               belief.data());
  std::abort();
}
}  // namespace internal

// Prefixes `context` to the message of a non-OK status, keeping its code.
// Example: Annotate(s, "bundle item 17 (indicator--…)") → "bundle item 17 (indicator--…): pattern: …".
inline absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  std::string msg(context);
  msg += ": ";
  msg.append(status.message().data(), status.message().size());
  absl::Status out(status.code(), msg);
  status.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

// Debian's abseil is built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0), so the two
// view types do not convert implicitly. Our code speaks std::string_view; these cross the border.
inline std::string_view Sv(absl::string_view s) { return {s.data(), s.size()}; }
inline absl::string_view AbslSv(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace concord

namespace concord {

// Validation errors name the field they concern. The message reads "FIELD: REASON" and the field is
// also kept as a payload, so that reports (import, REST) can show it in a column of its own.
inline constexpr char kFieldPayloadUrl[] = "concord/field";

inline absl::Status FieldError(std::string_view field, std::string_view reason) {
  if (field.empty()) return absl::InvalidArgumentError(std::string(reason));  // the item as a whole
  std::string msg(field);
  msg += ": ";
  msg += reason;
  absl::Status s = absl::InvalidArgumentError(msg);
  s.SetPayload(kFieldPayloadUrl, absl::Cord(AbslSv(field)));
  return s;
}

// The field a FieldError names, or "" when the status carries none.
inline std::string ErrorField(const absl::Status& status) {
  auto p = status.GetPayload(kFieldPayloadUrl);
  return p ? std::string(*p) : std::string();
}

// The reason alone: the message without the leading "FIELD: ".
inline std::string_view ErrorReason(const absl::Status& status) {
  std::string_view msg = Sv(status.message());
  const std::string field = ErrorField(status);
  if (!field.empty() && msg.size() > field.size() + 2 && msg.substr(0, field.size()) == field &&
      msg.substr(field.size(), 2) == ": ") {
    msg.remove_prefix(field.size() + 2);
  }
  return msg;
}

}  // namespace concord
