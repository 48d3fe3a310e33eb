// concord/store/store.h — the object store: every version of every STIX object, with a node-local
// change sequence.
//
// Callers see only this interface; the embedded SQLite backend (sqlite_store.h) implements it now and a
// PostgreSQL backend will later, without callers changing. A Store is safe to use from several threads
// (implementations serialise writers internally); each call is one transaction.
//
// Versioning rules (STIX 2.1 §3.6): versions share an id and differ by `modified`; the one with the highest
// `modified` is current; every version is kept. Re-putting an identical version (same RFC 8785 canonical
// JSON) changes nothing. A different object under an existing (id, modified) is a producer error: the stored
// version stays and the put reports a conflict. Once a version with `revoked: true` is stored, a later version
// that is not itself revoked is refused (revocation is final; restating it is allowed). Unversioned objects (SCOs, marking definitions) have one version keyed by their id.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "stix/object.h"

namespace concord::store {

// What happened to one object of a batch.
enum class PutOutcome {
  kNew,         // first version of this id
  kNewVersion,  // another version of a known id (it may or may not be the current one)
  kUnchanged,   // this exact version was already stored
  kConflict,    // same (id, modified), different content: kept the stored one
  kRejected,    // refused by a store rule (e.g. the object is revoked); reason says which
};
std::string_view PutOutcomeName(PutOutcome outcome);  // "new", "new_version", "unchanged", "conflict", "rejected"

struct PutResult {
  PutOutcome outcome = PutOutcome::kNew;
  int64_t seq = 0;     // the change sequence of the stored version (kNew, kNewVersion); 0 otherwise
  std::string reason;  // for kConflict and kRejected
};

// One stored version, as read back.
struct StoredObject {
  std::string id;
  std::string type;
  std::string spec_version;
  std::string created;   // RFC 3339 as in the object, "" when absent
  std::string modified;  // RFC 3339 as in the object, "" when absent
  std::string created_by_ref;
  bool revoked = false;
  stix::Tlp tlp = stix::Tlp::kNone;
  std::optional<int> distribution;  // from the policy extension; absent: the node's default applies
  std::string sharing_group_ref;
  bool current = false;  // is this the current version of its id?
  int64_t seq = 0;       // node-local change sequence, strictly increasing in commit order
  Timestamp added;       // server time when this version was stored
  std::string json;      // the object's JSON as received (compact)
};

// A filtered, cursor-paged listing. Results are ordered by seq ascending; pass `next_after_seq` back as
// `after_seq` for the next page. Paging never skips or repeats a version while others write.
struct Query {
  std::vector<std::string> types;            // empty: all types
  std::vector<std::string> ids;              // empty: all ids
  // The modified filters compare the version timestamp (modified, or created when there is none);
  // unversioned objects (no created/modified) match neither.
  std::optional<Timestamp> modified_since;   // modified >= this (inclusive)
  std::optional<Timestamp> modified_before;  // modified < this (exclusive)
  bool current_only = true;                  // only the current version of each id
  int64_t after_seq = 0;                     // cursor: versions with seq > after_seq
  size_t limit = 1000;                       // page size (1..10000)
};

struct Page {
  std::vector<StoredObject> objects;
  int64_t next_after_seq = 0;  // seq of the last object returned (or the query's after_seq when empty)
  bool more = false;           // whether another page may follow
};

struct TypeCount {
  int64_t objects = 0;   // distinct ids
  int64_t versions = 0;  // stored versions
  int64_t revoked = 0;   // ids whose current version is revoked
};

struct Stats {
  std::map<std::string, TypeCount> by_type;
  int64_t objects = 0;
  int64_t versions = 0;
  int64_t last_seq = 0;
  int64_t size_bytes = 0;  // on-disk size of the database, where known
  int schema_version = 0;
};

// A version as every backend writes it: the object plus what is computed from it without a database
// (serialised JSON, content hash, timestamp columns). Encoding costs about as much as the database work,
// so callers that pipeline (ingest) encode on their own thread and hand encoded batches to the store.
struct EncodedObject {
  const stix::Object* object = nullptr;  // borrowed: must outlive the Put
  std::string json;                      // compact, member order as received
  std::string content_hash;              // SHA-256 of the RFC 8785 form: identity of a version's content
  std::string created;                   // RFC 3339 as written, "" when absent
  std::string modified;
  std::string version_key;  // FormatSortable(modified, else created), "" for unversioned objects
  std::optional<std::string> valid_from;  // FormatSortable
  std::optional<std::string> valid_until;
};

// Pure and thread-safe.
EncodedObject Encode(const stix::Object& object);

class Store {
 public:
  virtual ~Store() = default;

  // Stores a batch in one transaction: either every stored version of the batch is committed, or none
  // (on error nothing of the batch is visible). Results are in batch order. Duplicates inside one batch
  // are handled as if they arrived one after the other.
  [[nodiscard]] absl::StatusOr<std::vector<PutResult>> Put(std::span<const stix::Object> batch);
  // The same for a batch encoded beforehand (Encode).
  [[nodiscard]] virtual absl::StatusOr<std::vector<PutResult>> PutEncoded(std::span<const EncodedObject> batch) = 0;

  // The current version of `id`; NotFound when the id is unknown.
  [[nodiscard]] virtual absl::StatusOr<StoredObject> Get(std::string_view id) = 0;
  // The version of `id` whose modified equals `modified` (an RFC 3339 instant); NotFound otherwise.
  [[nodiscard]] virtual absl::StatusOr<StoredObject> GetVersion(std::string_view id, const Timestamp& modified) = 0;
  // Every version of `id`, oldest modified first; NotFound when the id is unknown.
  [[nodiscard]] virtual absl::StatusOr<std::vector<StoredObject>> Versions(std::string_view id) = 0;

  [[nodiscard]] virtual absl::StatusOr<Page> List(const Query& query) = 0;
  [[nodiscard]] virtual absl::StatusOr<Stats> GetStats() = 0;
  // The last change sequence number committed (0 for an empty store): what change feeds poll, so it must
  // be cheap. Defaults to GetStats().last_seq.
  [[nodiscard]] virtual absl::StatusOr<int64_t> LastSeq();
};

struct OpenOptions {
  const Clock* clock = nullptr;  // for `added`; SystemClock when null
  bool read_only = false;        // no writes, no migrations: Put fails, an unmigrated store is refused
  // Durability of an acknowledged Put. By default a committed batch survives the process being killed
  // (SIGKILL, crash) but the last commits may be lost on power failure or kernel panic (SQLite WAL with
  // synchronous=NORMAL). `sync_full` fsyncs every commit (synchronous=FULL): survives power loss, slower.
  bool sync_full = false;
};

// Opens (creating when missing, applying numbered migrations) the store named by `location`:
// "sqlite:PATH" or a plain file path for SQLite. "postgresql://…" is reserved for the PostgreSQL backend
// (Unimplemented until it exists).
// The SQLite file a location names (shared by every opener of the database: store, accounts, audit).
// Unimplemented for postgresql:// (until that backend exists), InvalidArgument for other schemes.
[[nodiscard]] absl::StatusOr<std::string> SqlitePathOf(std::string_view location);

[[nodiscard]] absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::string_view location, const OpenOptions& options = {});

}  // namespace concord::store
