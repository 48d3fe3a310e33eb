#include "audit/audit.h"

#include <array>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <utility>

#include "audit/chain.h"
#include "audit/postgres_audit_log.h"
#include "audit/sqlite_audit_log.h"
#include "boost/json/array.hpp"
#include "boost/json/value.hpp"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"
#include "store/postgres/locks.h"
#include "store/store.h"

namespace concord::audit {
namespace {

constexpr std::array<std::pair<Action, std::string_view>, 8> kActionNames = {{
    {Action::kWrite, "write"},
    {Action::kRead, "read"},
    {Action::kExport, "export"},
    {Action::kDisclose, "disclose"},
    {Action::kRevoke, "revoke"},
    {Action::kKeyUse, "key-use"},
    {Action::kAuthFailure, "auth-failure"},
    {Action::kAdmin, "admin"},
}};

boost::json::object HashedMembers(const Entry& e) {
  boost::json::array ids;
  ids.reserve(e.event.object_ids.size());
  for (const auto& id : e.event.object_ids) ids.emplace_back(id);
  return boost::json::object{
      {"action", ActionName(e.event.action)},
      {"detail", e.event.detail},
      {"justification", e.event.justification},
      {"key_id", e.event.key_id},
      {"object_ids", std::move(ids)},
      {"org", e.event.org},
      {"outcome", e.event.outcome},
      {"prev_hash", e.prev_hash},
      {"remote_address", e.event.remote_address},
      {"seq", e.seq},
      {"time_us", e.time_micros},
      {"user", e.event.user},
  };
}

}  // namespace

std::string_view ActionName(Action action) {
  for (const auto& [a, name] : kActionNames) {
    if (a == action) return name;
  }
  return "unknown";
}

std::optional<Action> ParseAction(std::string_view name) {
  for (const auto& [a, n] : kActionNames) {
    if (n == name) return a;
  }
  return std::nullopt;
}

std::string_view ProblemName(Problem problem) {
  switch (problem) {
    case Problem::kNone: return "none";
    case Problem::kAltered: return "altered";
    case Problem::kRemoved: return "removed";
    case Problem::kReordered: return "reordered";
  }
  return "none";
}

namespace internal {

bool IsPlainAscii(std::string_view s) {
  // Eight bytes at a time: none with the high bit, none below 0x20, none equal to '"', '\\' or 0x7f. The last
  // eight bytes are checked as one word too (overlapping the words before), so only strings shorter than 8
  // are checked byte by byte.
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const auto plain = [](const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    const auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    return ((w & kHigh) | ((w - kOnes * 0x20) & ~w & kHigh) | has_zero(w ^ (kOnes * '"')) |
            has_zero(w ^ (kOnes * '\\')) | has_zero(w ^ (kOnes * 0x7f))) == 0;
  };
  if (s.size() >= 8) {
    for (size_t i = 0; i + 8 < s.size(); i += 8) {
      if (!plain(s.data() + i)) return false;
    }
    return plain(s.data() + s.size() - 8);
  }
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

CanonicalParts CanonicalEntryParts(const Entry& entry) {
  // Written member by member rather than through a JSON document (HashedMembers + CanonicalJson): every read
  // above TLP:CLEAR hashes one entry, and a list's entry names up to 1,000 ids, which the document copied
  // once more. The member names are ASCII and listed here in JCS order; only `detail`, free-form, goes
  // through CanonicalJson. Ids that need no escaping (STIX ids never do) are appended whole. audit_test checks
  // that both ways give the same bytes.
  const Event& e = entry.event;
  const std::string detail = CanonicalJson(e.detail);
  size_t size = 256 + detail.size() + e.justification.size() + e.user.size() + e.org.size() + e.key_id.size() +
                e.outcome.size() + e.remote_address.size() + entry.prev_hash.size();
  for (const std::string& id : e.object_ids) size += id.size() + 3;
  CanonicalParts parts;
  std::string& out = parts.bytes;
  out.reserve(size);
  out.append(R"({"action":)");
  AppendCanonicalJsonString(out, ActionName(e.action));
  out.append(R"(,"detail":)");
  parts.detail_pos = out.size();
  parts.detail_size = detail.size();
  out.append(detail);
  out.append(R"(,"justification":)");
  AppendCanonicalJsonString(out, e.justification);
  out.append(R"(,"key_id":)");
  AppendCanonicalJsonString(out, e.key_id);
  out.append(R"(,"object_ids":)");
  parts.ids_pos = out.size();
  out.push_back('[');
  for (size_t i = 0; i < e.object_ids.size(); ++i) {
    if (i > 0) out.push_back(',');
    const std::string& id = e.object_ids[i];
    if (IsPlainAscii(id)) {
      out.push_back('"');
      out.append(id);
      out.push_back('"');
    } else {
      parts.ids_plain = false;
      AppendCanonicalJsonString(out, id);
    }
  }
  out.push_back(']');
  parts.ids_size = out.size() - parts.ids_pos;
  out.append(R"(,"org":)");
  AppendCanonicalJsonString(out, e.org);
  out.append(R"(,"outcome":)");
  AppendCanonicalJsonString(out, e.outcome);
  out.append(R"(,"prev_hash":)");
  AppendCanonicalJsonString(out, entry.prev_hash);
  out.append(R"(,"remote_address":)");
  AppendCanonicalJsonString(out, e.remote_address);
  out.append(R"(,"seq":)");
  out.append(std::to_string(entry.seq));
  out.append(R"(,"time_us":)");
  out.append(std::to_string(entry.time_micros));
  out.append(R"(,"user":)");
  AppendCanonicalJsonString(out, e.user);
  out.push_back('}');
  return parts;
}

}  // namespace internal

std::string CanonicalEntry(const Entry& entry) { return internal::CanonicalEntryParts(entry).bytes; }

std::string EntryHash(const Entry& entry) { return Sha256Hex(CanonicalEntry(entry)); }

boost::json::object EntryJson(const Entry& entry) {
  boost::json::object o = HashedMembers(entry);
  const int64_t micros = entry.time_micros;
  int64_t seconds = micros / 1'000'000;
  int64_t rest = micros % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    --seconds;
  }
  o["time"] = FormatRfc3339(Timestamp{seconds, static_cast<int32_t>(rest * 1000), 6}, 6);
  o["hash"] = entry.hash;
  return o;
}

absl::StatusOr<std::vector<Entry>> AuditLog::AppendBatch(std::vector<Event> events) {
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<absl::StatusOr<std::vector<Entry>>> result;
  };
  auto wait = std::make_shared<Wait>();
  AppendAsync(std::move(events), [wait](absl::StatusOr<std::vector<Entry>> result) {
    std::lock_guard lock(wait->mu);
    wait->result = std::move(result);
    wait->cv.notify_one();
  });
  std::unique_lock lock(wait->mu);
  wait->cv.wait(lock, [&] { return wait->result.has_value(); });
  return std::move(*wait->result);
}

absl::StatusOr<Entry> AuditLog::Append(Event event) {
  std::vector<Event> one;
  one.push_back(std::move(event));
  CONCORD_ASSIGN_OR_RETURN(std::vector<Entry> entries, AppendBatch(std::move(one)));
  if (entries.size() != 1) return absl::InternalError(fmt::format("audit: append returned {} entries", entries.size()));
  return std::move(entries.front());
}

absl::StatusOr<std::unique_ptr<AuditLog>> OpenAuditLog(std::string_view location, const Options& options) {
  // PostgreSQL: the log is in the store's database (postgres_audit_log.h); SQLite: in a file beside the store's.
  if (store::postgres::IsPostgresLocation(location)) {
    auto log = PostgresAuditLog::Create(std::string(location), options);
    if (!log.ok()) return log.status();
    return std::unique_ptr<AuditLog>(std::move(*log));
  }
  CONCORD_ASSIGN_OR_RETURN(std::string path, store::SqlitePathOf(location));
  auto log = SqliteAuditLog::Create(path, options);
  if (!log.ok()) return log.status();
  return std::unique_ptr<AuditLog>(std::move(*log));
}

}  // namespace concord::audit
