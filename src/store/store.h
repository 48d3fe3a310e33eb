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
//
// Postings (design.md, "Postings"; principle 3): (kind, normalised value) → object, one per value found in an
// object's current version, written in the same transaction as the version. The store does not know what
// kinds mean or how values are found: a PostingExtractor given at open (the correlate module's) does, and
// the store keeps, replaces and looks up what it yields. Postings belong to the current version: a new
// current version replaces its object's postings, an older version arriving later changes none, and a
// revoked current version keeps its postings (searches show the object as revoked).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
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
  // Server time when this version was stored: strictly increasing in seq order, across batches and processes
  // (read under the write lock, one microsecond apart within a batch), so a TAXII `added_after` poll can
  // neither skip nor repeat a version.
  Timestamp added;
  std::string json;      // the object's JSON as received (compact)
};

// One stored version as a listing hands it to a visitor (Store::ListEach): the columns as views into the
// backend's current row, valid only during the visitor's call. Copy (ToObject) what must outlive it.
struct StoredView {
  std::string_view id;
  std::string_view type;
  std::string_view spec_version;
  std::string_view created;
  std::string_view modified;
  std::string_view created_by_ref;
  bool revoked = false;
  stix::Tlp tlp = stix::Tlp::kNone;
  std::optional<int> distribution;
  std::string_view sharing_group_ref;
  bool current = false;
  int64_t seq = 0;
  Timestamp added;
  std::string_view json;

  StoredObject ToObject() const;
};
StoredView ViewOf(const StoredObject& object);

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
  // ListEach only, for a caller that reads the JSON and decides visibility (the REST list): the views need only
  // seq, id, json, current and the fields the sharing policy reads (created_by_ref, revoked, tlp, distribution,
  // sharing_group_ref). A backend may then leave type, spec_version, created, modified and added empty (SQLite
  // reads 8 columns instead of 14). List and Sweep fill every field whatever this says.
  bool policy_and_json_only = false;
};

struct Page {
  std::vector<StoredObject> objects;
  int64_t next_after_seq = 0;  // seq of the last object returned (or the query's after_seq when empty)
  bool more = false;           // whether another page may follow
};

// Where a Store::ListEach stopped.
struct ListEnd {
  int64_t next_after_seq = 0;  // seq of the last version visited (the query's after_seq when none was)
  bool more = false;           // whether another version matching the query may follow it
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
  // The listing row cache (OpenOptions::row_cache_bytes), where the backend has one.
  struct RowCache {
    int64_t rows = 0;
    int64_t bytes = 0;
    int64_t capacity_bytes = 0;
    uint64_t hits = 0;    // rows found, since the store was opened
    uint64_t misses = 0;  // rows read from the database instead
  };
  std::optional<RowCache> row_cache;
};

// One posting of an object: a kind (the correlate module's pattern::ValueKind, as a number the store does not
// interpret) and the normalised value.
struct Posting {
  uint8_t kind = 0;
  std::string value;
  // Address postings (IPs and CIDRs) only: the address, or a prefix's network address, as 16 bytes big-endian
  // with IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), so that one byte order sorts both families.
  std::optional<std::array<uint8_t, 16>> address;
  // CIDR postings only: the prefix length as the value writes it (0..32 for IPv4, 0..128 for IPv6); -1 otherwise.
  int prefix_length = -1;

  friend bool operator==(const Posting&, const Posting&) = default;
  friend auto operator<=>(const Posting&, const Posting&) = default;
};

// Finds the postings of an object. Implemented by the correlate module (correlate/postings.h), so that the
// store depends on nothing above it. Extract is called from any thread, concurrently: it must be thread-safe
// and must not call back into the store. It appends to `out` and must not fail: values it cannot normalise
// are left out. It reads only `object.type`, `object.id` and `object.json`: when the store rebuilds
// postings (ReindexPostings) it passes objects rebuilt from their stored JSON with only those members set.
class PostingExtractor {
 public:
  virtual ~PostingExtractor();
  virtual void Extract(const stix::Object& object, std::vector<Posting>& out) const = 0;
};

// Sorts `postings` by (kind, value) and removes repeated (kind, value) pairs: the form every backend stores.
void CanonicalisePostings(std::vector<Posting>& postings);

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
  // The object's postings (canonical: sorted by kind and value, each pair once) when `has_postings`. A store
  // opened with an extractor writes them if this version becomes current; given a row encoded without one
  // (has_postings false) it extracts them itself, on the writer's thread.
  std::vector<Posting> postings;
  bool has_postings = false;
};

// Pure and thread-safe (as `postings` is). With an extractor the row carries the object's postings; pass the
// store's own (Store::posting_extractor()) so that extraction runs on the encoding thread.
EncodedObject Encode(const stix::Object& object, const PostingExtractor* postings = nullptr);

// An object that has a posting, as a posting search returns it: the columns of its current version (the
// `json` member is left empty; Get reads it), and the position to resume after it.
struct PostingHit {
  int64_t cursor = 0;  // opaque, increasing along one search; pass as `after` to continue after this object
  StoredObject object;
};

// The objects having posting (kind, value), ordered by cursor. Paged: pass `next_after` back as `after`.
struct PostingQuery {
  uint8_t kind = 0;
  std::string value;
  int64_t after = 0;   // cursor: objects after this one (0: from the start)
  size_t limit = 100;  // page size (1..10000)
};

struct PostingPage {
  std::vector<PostingHit> hits;
  int64_t next_after = 0;  // cursor of the last hit (the query's `after` when empty)
  bool more = false;       // whether another page may follow
};

// Address postings of one kind whose address lies in [low, high] (16-byte big-endian, IPv4 as IPv4-mapped),
// ordered by (address, cursor).
struct IpRangeQuery {
  uint8_t kind = 0;  // the ipv4 or ipv6 kind (or a CIDR kind: then the network addresses are compared)
  std::array<uint8_t, 16> low{};
  std::array<uint8_t, 16> high{};
  std::optional<std::pair<std::array<uint8_t, 16>, int64_t>> after;  // resume after (address, cursor)
  size_t limit = 100;                                                 // page size (1..10000)
};

struct IpPosting {
  std::string value;  // the posting's normalised value
  std::array<uint8_t, 16> address{};
  PostingHit hit;
};

struct IpRangePage {
  std::vector<IpPosting> postings;
  std::optional<std::pair<std::array<uint8_t, 16>, int64_t>> next_after;  // (address, cursor) of the last one
  bool more = false;
};

// One (kind, value) key of a batch lookup (LookupPostings).
struct PostingKey {
  uint8_t kind = 0;
  std::string value;

  friend bool operator==(const PostingKey&, const PostingKey&) = default;
  friend auto operator<=>(const PostingKey&, const PostingKey&) = default;
};

// For the backends' LookupPostings: the keys in the order of a postings index keyed by `hash` (hash, then key,
// then position), so that a large batch walks the index forward; equal keys end up adjacent, and every one
// but the first is marked a repeat (it gets the first one's answer).
struct OrderedPostingKey {
  int64_t hash = 0;
  size_t index = 0;     // into the keys
  bool repeat = false;  // the same key as the one before it in this order
};
std::vector<OrderedPostingKey> OrderPostingKeys(std::span<const PostingKey> keys,
                                                const std::function<int64_t(const PostingKey&)>& hash);

// What LookupPostings found for one key: what CountPostings(kind, value, at_most) and the first page of
// FindPostings({kind, value, after = 0, limit = first}) answer.
struct PostingLookup {
  int64_t count = 0;             // objects having the posting, counted no further than `at_most`
  std::vector<PostingHit> hits;  // the first `first` of them, by cursor (continue with FindPostings after the last)
  bool more = false;             // objects beyond `hits` exist
};

struct ReindexProgress {
  int64_t objects_done = 0;   // objects whose postings have been rebuilt
  int64_t objects_total = 0;  // objects in the store when the rebuild started
  int64_t postings = 0;       // postings written so far
};

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
  // List's page without copying it: calls `visit` for the page's versions (at most query.limit) in seq order
  // until it returns false. Hot read paths (REST lists) use it: the views point into the backend's row
  // buffers. The default lists a Page and visits views of its objects.
  [[nodiscard]] virtual absl::StatusOr<ListEnd> ListEach(const Query& query,
                                                         absl::FunctionRef<bool(const StoredView&)> visit);
  // Every version matching `query` (its filters; versions after `after_seq`; `limit` is the batch size
  // fetched at a time, 1..10000) in seq order, calling `visit` for each until it returns false. For long
  // reads (indicator snapshots, exports, migrations): the PostgreSQL backend reads through a server-side
  // cursor in one REPEATABLE READ READ ONLY transaction, so the sweep sees one consistent state of the store
  // and costs one query whatever its length; the default pages through List, and then versions committed
  // during the sweep may be visited too. A sweep never skips a version committed before it started.
  [[nodiscard]] virtual absl::Status Sweep(const Query& query, const std::function<bool(const StoredObject&)>& visit);
  [[nodiscard]] virtual absl::StatusOr<Stats> GetStats() = 0;
  // The last change sequence number committed (0 for an empty store): what change feeds poll, so it must
  // be cheap. Defaults to GetStats().last_seq.
  [[nodiscard]] virtual absl::StatusOr<int64_t> LastSeq();

  // ---- Postings. The defaults are Unimplemented (null for posting_extractor), for stores without postings
  // and for wrappers that do not forward them.

  // The extractor given at open (OpenOptions::postings), or null. Callers that encode for this store call
  // Encode(object, store.posting_extractor()).
  virtual const PostingExtractor* posting_extractor() const;
  // One page of the objects having posting (kind, value). An unknown value gives an empty page.
  [[nodiscard]] virtual absl::StatusOr<PostingPage> FindPostings(const PostingQuery& query);
  // How many objects have posting (kind, value), counting no further than `at_most` (≥ 1): min(count,
  // at_most). The bound keeps the cost of a value shared by many objects proportional to the question asked
  // ("more than N?").
  [[nodiscard]] virtual absl::StatusOr<int64_t> CountPostings(uint8_t kind, std::string_view value, int64_t at_most);
  // The postings of the current version of `id`, sorted by (kind, value); NotFound when the id is unknown.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Posting>> PostingsOf(std::string_view id);
  // Many keys at once, in one read transaction (every key sees the same committed state): per key, in the
  // order given (a repeated key is answered at each place), min(count, at_most) and the first `first`
  // (0..10,000) objects by cursor. at_most is clamped to ≥ 1. Backends sort the keys in their index order so
  // that a large batch walks the index mostly forward, and look each distinct key up once; a key's cost is
  // bounded by at_most + first postings read, whatever its count. The default loops over CountPostings and
  // FindPostings (one transaction each), so wrappers that forward those keep working.
  [[nodiscard]] virtual absl::StatusOr<std::vector<PostingLookup>> LookupPostings(std::span<const PostingKey> keys,
                                                                                  int64_t at_most, size_t first);
  // Address postings in a range (see IpRangeQuery): the IPs inside a CIDR.
  [[nodiscard]] virtual absl::StatusOr<IpRangePage> IpPostingsInRange(const IpRangeQuery& query);
  // The distinct prefix lengths of the postings of `kind` (a CIDR kind), ascending: to find the CIDRs that
  // contain an address, mask it to each length and look the prefix up exactly.
  [[nodiscard]] virtual absl::StatusOr<std::vector<int>> PrefixLengths(uint8_t kind);
  // Whether every current version has its postings: false after opening an older database (migrated, with
  // objects) or after versions were stored by an opener without an extractor, until ReindexPostings ran.
  [[nodiscard]] virtual absl::StatusOr<bool> PostingsComplete();
  // Rebuilds the postings of every object from its stored current version with the configured extractor
  // (FailedPrecondition without one), in batches of its own transactions; concurrent Puts stay correct.
  // `progress` (may be empty) is called after each batch. On success PostingsComplete() is true unless an
  // opener without an extractor stored versions meanwhile.
  [[nodiscard]] virtual absl::Status ReindexPostings(const std::function<void(const ReindexProgress&)>& progress);
};

struct OpenOptions {
  const Clock* clock = nullptr;  // for `added`; SystemClock when null
  bool read_only = false;        // no writes, no migrations: Put fails, an unmigrated store is refused
  // Durability of an acknowledged Put. By default a committed batch survives the process being killed
  // (SIGKILL, crash) but the last commits may be lost on power failure or kernel panic (SQLite WAL with
  // synchronous=NORMAL). `sync_full` fsyncs every commit (synchronous=FULL): survives power loss, slower.
  bool sync_full = false;
  // Finds the postings written with every version that becomes current; null writes none (and marks the
  // postings incomplete once such a version is stored). Borrowed: must outlive the store.
  const PostingExtractor* postings = nullptr;
  // Memory for the rows of lean current-only listings (the REST list's), kept by seq (SQLite:
  // sqlite/row_cache.h); 0 keeps none. Backends without such a cache ignore it.
  size_t row_cache_bytes = size_t{64} << 20;
};

// The SQLite file a location names (shared by every opener of the database: store, accounts, audit).
// Unimplemented for postgresql:// (accounts, audit and TAXII statuses have no PostgreSQL backend yet),
// InvalidArgument for other schemes.
[[nodiscard]] absl::StatusOr<std::string> SqlitePathOf(std::string_view location);

// Opens (creating when missing, applying numbered migrations) the store named by `location`:
// "sqlite:PATH" or a plain file path for SQLite (sqlite/sqlite_store.h), "postgresql://…" for PostgreSQL
// (postgres/postgres_store.h; docs/postgresql.md).
[[nodiscard]] absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::string_view location, const OpenOptions& options = {});

}  // namespace concord::store
