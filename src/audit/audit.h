// concord/audit/audit.h — the append-only, hash-chained audit and custody log.
//
// What is recorded (issue 3): every write; every read of an object above TLP:CLEAR (a consultation); every
// export and disclosure; revocations; authentication failures; administrative changes. Each entry names
// who (user, organisation, API key id), which object ids, when (server time, µs), the outcome, the
// justification given in `X-Concord-Justification`, the remote address and a detail object.
//
// The chain. Entries are numbered seq = 1, 2, 3, … without gaps. Each entry carries prev_hash, the hash of
// the entry before it (kGenesisHash for entry 1), and hash, computed as
//
//     hash = lower-case hex SHA-256 of the UTF-8 bytes of CanonicalEntry(entry)
//
// where CanonicalEntry is the RFC 8785 (JCS) canonical JSON of the object with exactly these members:
//
//     {"action": string, "detail": object, "justification": string, "key_id": string,
//      "object_ids": [string…], "org": string, "outcome": string, "prev_hash": string,
//      "remote_address": string, "seq": integer, "time_us": integer, "user": string}
//
// (time_us: Unix microseconds; absent values are "" or [] or {}, never omitted). `detail` holds no
// floating-point numbers (Append refuses them), so every number is an integer below 2^53 and JCS reduces
// to: keys sorted, no whitespace, strings escaped minimally. Python's
//     json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
// produces the same bytes as long as no `detail` key contains characters outside the Basic Multilingual
// Plane (Concord writes ASCII keys only). docs/audit.md has a verifier in Python (tests/audit_doc_verifier_test.py runs it).
//
// Verification walks the entries in seq order and reports the first one that is wrong:
//   altered    the entry's content does not hash to its stored hash, or it was rewritten and re-hashed
//              (its hash no longer matches the next entry's prev_hash);
//   removed    a seq is missing (or the first entry is not seq 1);
//   reordered  the entry at seq N holds the content of another position (its content hashes correctly
//              only with another seq, and its prev_hash names a different predecessor).
// Removing entries at the tail (truncation) leaves a valid shorter chain: only an external anchor finds
// it. Verify reports the head (seq, hash) for that purpose; keep it elsewhere (a ticket, a peer, a log
// shipper) and pass it back as VerifyOptions::anchor.
//
// Thread-safety: AuditLog implementations are safe to use from many threads. Appends are serialised (the
// chain needs the previous hash); appends queued while a commit runs are committed together by the next
// one (group commit), so an append costs a share of one transaction. Several processes may append to one
// database: each commit reads the head inside its write transaction, so the chain never forks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boost/json/object.hpp"
#include "common/time.h"

namespace concord::audit {

// prev_hash of entry 1: 64 zeros.
inline constexpr std::string_view kGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

enum class Action {
  kWrite,        // objects stored (POST /api/v1/objects, import)
  kRead,         // objects above TLP:CLEAR returned to a caller
  kExport,       // objects written out in bulk (concord export, feeds)
  kDisclose,     // objects sent to a peer or a third party
  kRevoke,       // an object revoked
  kKeyUse,       // a key used for something that is not otherwise audited
  kAuthFailure,  // credentials presented and refused
  kAdmin,        // administrative changes (organisations, users, keys, settings)
};
// "write", "read", "export", "disclose", "revoke", "key-use", "auth-failure", "admin".
std::string_view ActionName(Action action);
std::optional<Action> ParseAction(std::string_view name);

struct Event {
  Action action = Action::kRead;
  std::string user;    // user name; "" when not authenticated
  std::string org;     // the user's organisation (identity id)
  std::string key_id;  // the API key used (its public id)
  std::vector<std::string> object_ids;
  std::string outcome = "ok";  // "ok", "partial", "denied", "failed", or a reason (auth failures)
  std::string justification;   // X-Concord-Justification as given
  std::string remote_address;
  boost::json::object detail;  // free-form context; no floating-point numbers
};

struct Entry {
  int64_t seq = 0;
  int64_t time_micros = 0;  // server time of the commit, never earlier than the previous entry's
  Event event;
  std::string prev_hash;
  std::string hash;
};

// The canonical bytes that `hash` covers (see the top of this file), and their hash.
std::string CanonicalEntry(const Entry& entry);
std::string EntryHash(const Entry& entry);
// The entry as the API and CLI show it: the canonical members plus "hash" and "time" (RFC 3339, µs).
boost::json::object EntryJson(const Entry& entry);

struct Filter {
  std::optional<Timestamp> since;  // time >= since
  std::optional<Timestamp> until;  // time < until
  std::string user;                // exact user name
  std::string org;                 // exact organisation id
  std::optional<Action> action;
  std::string object_id;           // entries that name this object
  int64_t after_seq = 0;           // cursor: entries with seq > after_seq, ascending
  size_t limit = 100;              // 1..1000
};

struct Page {
  std::vector<Entry> entries;
  int64_t next_after_seq = 0;  // pass back as after_seq
  bool more = false;
};

struct Head {
  int64_t seq = 0;  // 0 for an empty log
  std::string hash{kGenesisHash};
};

enum class Problem { kNone, kAltered, kRemoved, kReordered };
std::string_view ProblemName(Problem problem);  // "none", "altered", "removed", "reordered"

struct VerifyOptions {
  // A head recorded earlier (seq, hash): the log must still contain that entry with that hash. Finds a
  // truncated tail and a chain rebuilt from some point on.
  std::optional<Head> anchor;
};

struct Verification {
  bool intact = true;
  int64_t entries = 0;  // entries checked
  Head head;            // last entry checked
  // When broken: the first bad entry and what is wrong with it.
  int64_t bad_seq = 0;
  Problem problem = Problem::kNone;
  std::string detail;
};

class AuditLog {
 public:
  virtual ~AuditLog() = default;

  // Called once with the committed entries, or with the error that kept them out of the log.
  using AppendCallback = std::function<void(absl::StatusOr<std::vector<Entry>>)>;

  // Appends one event and returns the committed entry. InvalidArgument for an event that cannot be
  // encoded (floating-point numbers in detail); Unavailable/Internal when the database fails.
  [[nodiscard]] absl::StatusOr<Entry> Append(Event event);
  // Appends events as consecutive entries of one commit, and waits for the commit.
  [[nodiscard]] absl::StatusOr<std::vector<Entry>> AppendBatch(std::vector<Event> events);
  // The same without waiting: `done` runs once the events are committed (or refused), on a thread of the
  // log's own (keep it short: hand the result over, do not do work there), or on the calling thread when
  // the events are refused before queueing. Lets a server hold a response until its audit entry is
  // committed without holding a thread.
  virtual void AppendAsync(std::vector<Event> events, AppendCallback done) = 0;

  [[nodiscard]] virtual absl::StatusOr<Page> List(const Filter& filter) = 0;
  [[nodiscard]] virtual absl::StatusOr<Head> GetHead() = 0;
  // Walks the whole chain; an OK status with intact=false when it is broken.
  [[nodiscard]] virtual absl::StatusOr<Verification> Verify(const VerifyOptions& options = {}) = 0;
};

struct Options {
  const Clock* clock = nullptr;  // SystemClock when null
  bool read_only = false;        // List, GetHead and Verify only; the database must be fully migrated
  bool sync_full = false;        // synchronous=FULL: every commit survives power loss
  size_t max_batch = 1024;       // most events in one group commit
  // WAL frames after which a background thread checkpoints (PASSIVE: never blocks an append). Appends
  // never checkpoint themselves, so a checkpoint's copying and fsync stay off the path of the requests
  // that wait for their entries.
  int checkpoint_frames = 16384;  // 64 MiB of the audit file's 4 KiB pages
  // The object index is written in runs (sqlite_audit_log.h, "Object index"): one once this many (object,
  // entry) pairs wait, or once the oldest has waited this long.
  int64_t index_run_pairs = 20'000;
  int64_t index_run_delay_millis = 600'000;
  // Runs are merged this many at a time (SQLite: sqlite_audit_log.h, "Object index"); below 2, never.
  int merge_fan_in = 16;
  // SQLite: index the entries past the mark from the start, and run after full run while a backlog lasts, rather
  // than waiting for this process's own appends to call for a run. For a long-running process (the node, whose
  // "who saw X" would otherwise scan every entry a previous run of it left unindexed); a CLI command that closes
  // in milliseconds leaves it off.
  bool catch_up_index = false;
};

// The file that holds the audit log of the store at `location` (OpenStore's syntax): beside it, "NAME.db"
// → "NAME.audit.db", any other name gets ".audit"; ":memory:" for an in-memory store. A file of its own, so
// that appends neither wait for an import's transactions nor share its 16 KiB pages; back it up with the
// store. FailedPrecondition for a postgresql:// location, whose audit log is in the store's database.
[[nodiscard]] absl::StatusOr<std::string> AuditPathOf(std::string_view location);

// Opens (read-write: creating) the audit log of the store at `location`.
// SQLite ("sqlite:PATH" or a path): the file AuditPathOf names; on first open it moves the entries an older
// Concord kept inside the store's file into the audit file (same seqs and hashes). Read-only: NotFound when no
// audit file exists yet.
// PostgreSQL ("postgresql://…"): tables audit_log and audit_objects of the store's database
// (postgres_audit_log.h); appends of every process on the database extend one chain. Read-only: NotFound when
// the database does not exist or has no schema yet.
[[nodiscard]] absl::StatusOr<std::unique_ptr<AuditLog>> OpenAuditLog(std::string_view location,
                                                                   const Options& options = {});

}  // namespace concord::audit
