// concord/audit/chain.h — what every AuditLog backend shares: the checks an event passes before it is
// queued, the stored form of an entry's columns, and the verification walk along the chain (audit.h, "Verification").
// Internal to the audit module.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/audit.h"
#include "boost/json/value.hpp"

namespace concord::audit::internal {

// JSON without floating-point numbers and with integers within ±2^53: its canonical form is then the same in
// every JSON library. InvalidArgument naming the path of the first offending value.
absl::Status CheckNoFloats(const boost::json::value& v, std::string_view path);

// Whether `s` is printable ASCII (0x20 to 0x7e) without '"' and '\\': a JSON string of it needs no escape, in
// canonical JSON and in every encoder.
bool IsPlainAscii(std::string_view s);

// CanonicalEntry, and where in it the object_ids array and the detail object are: the detail's bytes are
// CanonicalJson(detail), which both backends store, and when every id is plain ASCII (ids_plain) the array's
// bytes are PostgreSQL's stored form of object_ids too (IdsJson), so the committers bind them from here (the
// SQLite audit file stores object_ids packed since its version 4: common/packed_ids.h).
struct CanonicalParts {
  std::string bytes;
  size_t detail_pos = 0, detail_size = 0;
  size_t ids_pos = 0, ids_size = 0;
  bool ids_plain = true;
  std::string_view detail() const { return std::string_view(bytes).substr(detail_pos, detail_size); }
  std::string_view ids() const { return std::string_view(bytes).substr(ids_pos, ids_size); }
};
CanonicalParts CanonicalEntryParts(const Entry& entry);

// Event::object_ids as a JSON array of strings: PostgreSQL's stored form, and the SQLite one before audit file
// version 4.
std::string IdsJson(const std::vector<std::string>& ids);

// One stored row of audit_log, as text (both backends keep the columns of migration 3).
struct StoredColumns {
  int64_t seq = 0;
  int64_t time_us = 0;
  std::string_view action, user, org, key_id, object_ids, outcome, justification, remote_address, detail,
      prev_hash, hash;
};
// The entry of a row; InvalidArgument naming the column when the stored JSON does not parse back into the
// shape that was hashed (which Verify reports as an alteration).
absl::StatusOr<Entry> EntryFromColumns(const StoredColumns& row);

// The verification walk, fed the stored rows in seq order by a backend.
class ChainVerifier {
 public:
  // The entry stored at a seq (nullopt when there is none or it does not parse), for the walk's look-ahead.
  using Fetch = std::function<absl::StatusOr<std::optional<Entry>>(int64_t seq)>;

  ChainVerifier(const VerifyOptions& options, Fetch fetch) : options_(options), fetch_(std::move(fetch)) {}

  // The next row (its seq, and its entry or the error reading it). Returns false once the chain is found
  // broken (stop feeding then); an error only when fetching the look-ahead fails.
  absl::StatusOr<bool> Add(int64_t seq, absl::StatusOr<Entry> entry);
  // After the last row: the result (truncation against the anchor checked here).
  Verification Finish();

 private:
  void Broken(int64_t seq, Problem problem, std::string detail);

  const VerifyOptions options_;
  const Fetch fetch_;
  Verification v_;
  int64_t expected_ = 1;
  std::string prev_hash_{kGenesisHash};
};

}  // namespace concord::audit::internal
