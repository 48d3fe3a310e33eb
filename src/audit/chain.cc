#include "audit/chain.h"

#include <utility>

#include "boost/json/array.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/packed_ids.h"
#include "common/status.h"
#include "fmt/format.h"

namespace concord::audit::internal {
namespace {

// How far from its position Verify looks for the seq an out-of-place entry was hashed with.
constexpr int64_t kReorderWindow = 10'000;

// The seq within kReorderWindow of `entry.seq` with which the entry's content hashes to its stored hash.
std::optional<int64_t> HashedSeq(Entry entry) {
  const int64_t at = entry.seq;
  for (int64_t d = 1; d <= kReorderWindow; ++d) {
    for (int64_t candidate : {at + d, at - d}) {
      if (candidate < 1) continue;
      entry.seq = candidate;
      if (EntryHash(entry) == entry.hash) return candidate;
    }
  }
  return std::nullopt;
}

}  // namespace

absl::Status CheckNoFloats(const boost::json::value& v, std::string_view path) {
  switch (v.kind()) {
    case boost::json::kind::double_:
      return FieldError(path, "floating-point numbers are not allowed in audit details (use a string)");
    case boost::json::kind::uint64:
      if (v.get_uint64() > (uint64_t{1} << 53)) return FieldError(path, "integers above 2^53 are not allowed");
      return absl::OkStatus();
    case boost::json::kind::int64:
      if (v.get_int64() > (int64_t{1} << 53) || v.get_int64() < -(int64_t{1} << 53)) {
        return FieldError(path, "integers beyond ±2^53 are not allowed");
      }
      return absl::OkStatus();
    case boost::json::kind::array: {
      size_t i = 0;
      for (const auto& item : v.get_array()) {
        CONCORD_RETURN_IF_ERROR(CheckNoFloats(item, fmt::format("{}[{}]", path, i++)));
      }
      return absl::OkStatus();
    }
    case boost::json::kind::object:
      for (const auto& [key, item] : v.get_object()) {
        CONCORD_RETURN_IF_ERROR(CheckNoFloats(item, fmt::format("{}.{}", path, std::string_view(key.data(), key.size()))));
      }
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

std::string IdsJson(const std::vector<std::string>& ids) {
  boost::json::array a;
  for (const auto& id : ids) a.emplace_back(id);
  return boost::json::serialize(a);
}

absl::StatusOr<Entry> EntryFromColumns(const StoredColumns& row) {
  Entry e;
  e.seq = row.seq;
  e.time_micros = row.time_us;
  auto parsed_action = ParseAction(row.action);
  if (!parsed_action) return FieldError("action", fmt::format("unknown action '{}'", row.action));
  e.event.action = *parsed_action;
  e.event.user = row.user;
  e.event.org = row.org;
  e.event.key_id = row.key_id;
  if (IsPackedIds(row.object_ids)) {
    // Audit file version 4 (sqlite_audit_log.cc, StartPackedIds).
    auto ids = UnpackIds(row.object_ids);
    if (!ids.ok()) return FieldError("object_ids", Sv(ids.status().message()));
    e.event.object_ids = *std::move(ids);
  } else {
    auto ids = ParseJson(row.object_ids);
    if (!ids.ok() || !ids->is_array()) return FieldError("object_ids", "not a JSON array");
    for (const auto& id : ids->get_array()) {
      if (!id.is_string()) return FieldError("object_ids", "not an array of strings");
      e.event.object_ids.emplace_back(id.get_string().data(), id.get_string().size());
    }
  }
  e.event.outcome = row.outcome;
  e.event.justification = row.justification;
  e.event.remote_address = row.remote_address;
  auto detail = ParseJson(row.detail);
  if (!detail.ok() || !detail->is_object()) return FieldError("detail", "not a JSON object");
  e.event.detail = std::move(detail->get_object());
  e.prev_hash = row.prev_hash;
  e.hash = row.hash;
  return e;
}

void ChainVerifier::Broken(int64_t seq, Problem problem, std::string detail) {
  v_.intact = false;
  v_.bad_seq = seq;
  v_.problem = problem;
  v_.detail = std::move(detail);
}

absl::StatusOr<bool> ChainVerifier::Add(int64_t seq, absl::StatusOr<Entry> entry) {
  if (seq != expected_) {
    Broken(expected_, Problem::kRemoved,
           seq == expected_ + 1 ? fmt::format("entry {} is missing", expected_)
                                : fmt::format("entries {} to {} are missing", expected_, seq - 1));
    return false;
  }
  if (!entry.ok()) {
    Broken(seq, Problem::kAltered, std::string(Sv(entry.status().message())));
    return false;
  }
  if (EntryHash(*entry) != entry->hash) {
    if (std::optional<int64_t> original = HashedSeq(*entry)) {
      // Renumbered after a removal: the following entries are shifted by the same amount.
      CONCORD_ASSIGN_OR_RETURN(std::optional<Entry> following, fetch_(seq + 1));
      std::optional<int64_t> next;
      if (following) next = EntryHash(*following) == following->hash ? std::optional<int64_t>(seq + 1) : HashedSeq(*following);
      if (*original > seq && next && *next == *original + 1) {
        Broken(seq, Problem::kRemoved,
               fmt::format("entries from {} on were renumbered: entry {} holds entry {}, so {} entr{} removed before it",
                           seq, seq, *original, *original - seq, *original - seq == 1 ? "y was" : "ies were"));
        return false;
      }
      Broken(seq, Problem::kReordered, fmt::format("entry {} holds the content of entry {}", seq, *original));
      return false;
    }
    Broken(seq, Problem::kAltered, fmt::format("its content does not match its hash {}", entry->hash.substr(0, 16)));
    return false;
  }
  if (entry->prev_hash != prev_hash_) {
    // The entry itself is consistent, so its predecessor was rewritten and re-hashed (or replaced).
    Broken(seq - 1, Problem::kAltered,
           seq == 1 ? std::string("entry 1 does not chain from the genesis value")
                    : fmt::format("entry {} was rewritten: its hash is not the prev_hash of entry {}", seq - 1, seq));
    return false;
  }
  if (options_.anchor && options_.anchor->seq == seq && options_.anchor->hash != entry->hash) {
    Broken(seq, Problem::kAltered,
           fmt::format("entry {} differs from the anchor (hash {}, anchor {})", seq, entry->hash.substr(0, 16),
                       options_.anchor->hash.substr(0, 16)));
    return false;
  }
  prev_hash_ = entry->hash;
  v_.head = Head{seq, entry->hash};
  ++v_.entries;
  ++expected_;
  return true;
}

Verification ChainVerifier::Finish() {
  if (v_.intact && options_.anchor && options_.anchor->seq > v_.head.seq) {
    Broken(v_.head.seq + 1, Problem::kRemoved,
           fmt::format("the log ends at entry {} but the anchor names entry {}: the tail was truncated", v_.head.seq,
                       options_.anchor->seq));
  }
  return v_;
}

}  // namespace concord::audit::internal
