#include "store/sqlite/sqlite_store.h"

#include <sodium.h>
#include <sqlite3.h>

#include <cstring>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "boost/json/array.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"
#include "store/sqlite/migrations.h"

namespace concord::store {

using sqlite::Connection;
using sqlite::Statement;

// Per-type counter changes of one batch, applied once per type at the end of the transaction.
struct SqliteStore::TypeDelta {
  int64_t objects = 0;
  int64_t versions = 0;
  int64_t revoked = 0;
};

namespace {

constexpr size_t kMaxLimit = 10000;
// The writer's memory map: it remaps once per committed batch at most.
constexpr int64_t kMmapBytes = int64_t{256} << 20;
// The readers' memory map (OpenReader).
constexpr int64_t kReaderMmapBytes = int64_t{1} << 30;

constexpr char kSelectObject[] =
    "SELECT oid, current_seq, version_key, revoked, revoked_since FROM objects WHERE id_hash = ?2 AND id = ?1";
constexpr char kSelectVersion[] =
    "SELECT content_hash, modified, created FROM versions WHERE oid = ?1 AND version_key = ?2";
constexpr char kSelectMaxOid[] = "SELECT max(oid) FROM objects";
constexpr char kSelectLastAdded[] = "SELECT added FROM versions ORDER BY seq DESC LIMIT 1";
constexpr char kInsertVersion[] =
    "INSERT INTO versions (id, type, spec_version, created, modified, version_key, created_by_ref, revoked, "
    "valid_from, valid_until, tlp, distribution, sharing_group_ref, origin, added, content_hash, json, oid) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, NULL, ?14, ?15, ?16, ?17)";
constexpr char kInsertObject[] =
    "INSERT INTO objects (id, type, current_seq, version_key, revoked, revoked_since, oid, id_hash) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr char kUpdateObject[] =
    "UPDATE objects SET current_seq = ?2, version_key = ?3, revoked = ?4, revoked_since = ?5 WHERE oid = ?1";
constexpr char kDeletePostings[] = "DELETE FROM postings WHERE oid = ?1";
constexpr char kInsertPosting[] =
    "INSERT INTO postings (oid, kind, vhash, value, address, prefix) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
// Only changes the row (and dirties its page) when it says complete or rebuilding.
constexpr char kMarkPostingsIncomplete[] =
    "UPDATE store_meta SET value = 0 WHERE name = 'postings_complete' AND value <> 0";
constexpr char kAddTypeCounts[] =
    "INSERT INTO type_counts (type, objects, versions, revoked) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (type) DO UPDATE SET objects = objects + excluded.objects, "
    "versions = versions + excluded.versions, revoked = revoked + excluded.revoked";

// Columns read back into a StoredObject, in ReadStored's order; `v` is versions, `o` the id's objects row.
#define CONCORD_STORED_COLUMNS                                                                              \
  "v.seq, v.id, v.type, v.spec_version, v.created, v.modified, v.created_by_ref, v.revoked, v.tlp, v.added, " \
  "v.json, o.current_seq = v.seq, v.distribution, v.sharing_group_ref"

// The same for a current-only listing: every row is current (a constant, not a comparison per row).
#define CONCORD_LISTED_COLUMNS                                                                              \
  "v.seq, v.id, v.type, v.spec_version, v.created, v.modified, v.created_by_ref, v.revoked, v.tlp, v.added, " \
  "v.json, 1, v.distribution, v.sharing_group_ref"

// A listing for a caller that needs only the JSON and what the sharing policy reads (Query::policy_and_json_only):
// the stored columns' order (RowView reads it), constants for the rest, which SQLite returns without decoding the
// record; {} is the current column (a constant for a current-only listing).
#define CONCORD_LEAN_COLUMNS(current)                                                       \
  "v.seq, v.id, '', '', '', '', v.created_by_ref, v.revoked, v.tlp, 0, v.json, " current \
  ", v.distribution, v.sharing_group_ref"

// The same for posting searches, without the JSON (callers filter by the columns; Get reads the object).
#define CONCORD_POSTING_COLUMNS                                                                             \
  "v.seq, v.id, v.type, v.spec_version, v.created, v.modified, v.created_by_ref, v.revoked, v.tlp, v.added, " \
  "'', 1, v.distribution, v.sharing_group_ref"

constexpr char kSelectCurrent[] =
    "SELECT " CONCORD_STORED_COLUMNS " FROM objects o JOIN versions v ON v.seq = o.current_seq WHERE o.id_hash = ?3 AND o.id = ?1";
constexpr char kSelectOneVersion[] =
    "SELECT " CONCORD_STORED_COLUMNS
    " FROM objects o JOIN versions v ON v.oid = o.oid WHERE o.id_hash = ?3 AND o.id = ?1 AND v.version_key = ?2";
constexpr char kSelectAllVersions[] =
    "SELECT " CONCORD_STORED_COLUMNS
    " FROM objects o JOIN versions v ON v.oid = o.oid WHERE o.id_hash = ?3 AND o.id = ?1 ORDER BY v.version_key";

void BindOptionalText(Statement& statement, int index, const std::optional<std::string>& value) {
  if (value) {
    statement.BindText(index, *value);
  } else {
    statement.BindNull(index);
  }
}

Timestamp FromUnixMicros(int64_t micros) {
  Timestamp ts;
  ts.seconds = micros >= 0 ? micros / 1'000'000 : -((-micros + 999'999) / 1'000'000);
  ts.nanos = static_cast<int32_t>((micros - ts.seconds * 1'000'000) * 1000);
  ts.precision = 6;
  return ts;
}

stix::Tlp TlpFromColumn(int64_t value) {
  if (value < static_cast<int64_t>(stix::Tlp::kNone) || value > static_cast<int64_t>(stix::Tlp::kRed)) {
    return stix::Tlp::kNone;
  }
  return static_cast<stix::Tlp>(value);
}

// The current row of a query of CONCORD_STORED_COLUMNS' order (or the lean or posting columns, which keep it),
// as views valid until the statement's next Step or Reset.
StoredView RowView(const Statement& s) {
  StoredView out;
  out.seq = s.ColumnInt(0);
  out.id = s.ColumnText(1);
  out.type = s.ColumnText(2);
  out.spec_version = s.ColumnText(3);
  out.created = s.ColumnText(4);
  out.modified = s.ColumnText(5);
  out.created_by_ref = s.ColumnText(6);
  out.revoked = s.ColumnInt(7) != 0;
  out.tlp = TlpFromColumn(s.ColumnInt(8));
  out.added = FromUnixMicros(s.ColumnInt(9));
  out.json = s.ColumnText(10);
  out.current = s.ColumnInt(11) != 0;
  if (!s.ColumnIsNull(12)) out.distribution = static_cast<int>(s.ColumnInt(12));
  out.sharing_group_ref = s.ColumnText(13);
  return out;
}

StoredObject ReadStored(const Statement& s) { return RowView(s).ToObject(); }

// Steps a listing of `limit` + 1 rows (bound already), visiting each of the first `limit` until `visit` stops:
// where the listing ended, and whether another row follows.
absl::StatusOr<ListEnd> VisitRows(Statement& select, int64_t after_seq, size_t limit,
                                  absl::FunctionRef<bool(const StoredView&)> visit) {
  ListEnd end{.next_after_seq = after_seq};
  size_t visited = 0;
  while (true) {
    CONCORD_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    if (visited == limit) {
      end.more = true;
      break;
    }
    const StoredView view = RowView(select);
    ++visited;
    end.next_after_seq = view.seq;
    if (!visit(view)) {
      // Stopped by the caller: whether another row follows tells `more`.
      CONCORD_ASSIGN_OR_RETURN(end.more, select.Step());
      break;
    }
  }
  return end;
}

// How a version is named in messages: its modified, else its created (the version key as written).
std::string VersionLabel(std::string_view modified, std::string_view created) {
  return std::string(modified.empty() ? created : modified);
}

std::string JsonArray(const std::vector<std::string>& values) {
  boost::json::array array;
  array.reserve(values.size());
  for (const std::string& value : values) array.emplace_back(value);
  return boost::json::serialize(array);
}

absl::Status ApplyPragmas(Connection& db, const std::string& path, const OpenOptions& options) {
  // A 64 MiB page cache and a 256 MiB memory map keep the id and seq indexes of a large store in memory.
  CONCORD_RETURN_IF_ERROR(db.Exec(fmt::format("PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; "
                                              "PRAGMA mmap_size = {}",
                                              kMmapBytes)));
  CONCORD_RETURN_IF_ERROR(sqlite::ConfigureConnection(db, path, options.read_only, options.sync_full));
  if (options.read_only) return absl::OkStatus();
  // Checkpoint every 64 MiB of WAL instead of SQLite's 4 MiB: a batch of 1000 new objects dirties pages all
  // over the id index (STIX ids end in random UUIDs), so small checkpoints rewrite and fsync the same pages
  // after nearly every batch. Measured on the development VM: about twice the import rate. The WAL file is
  // truncated back to 64 MiB after a checkpoint.
  return db.Exec("PRAGMA wal_autocheckpoint = 16384; PRAGMA journal_size_limit = 67108864");
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Create(const std::string& path,
                                                                 const OpenOptions& options) {
  const Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Instance();
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  auto opened = [&]() -> absl::StatusOr<std::unique_ptr<SqliteStore>> {
    CONCORD_ASSIGN_OR_RETURN(Connection db, Connection::Open(path, options.read_only));
    CONCORD_RETURN_IF_ERROR(ApplyPragmas(db, path, options));
    CONCORD_ASSIGN_OR_RETURN(const int version, sqlite::EnsureSchema(db, options.read_only, clock));
    CONCORD_ASSIGN_OR_RETURN(std::string key_hex,
                             db.QueryText("SELECT hex(value) FROM store_meta WHERE name = 'id_hash_key'"));
    IdHashKey key{};
    if (key_hex.size() != 2 * key.size()) return absl::DataLossError("store_meta: id_hash_key is not 16 bytes");
    for (size_t i = 0; i < key.size(); ++i) {
      key[i] = static_cast<unsigned char>(std::stoi(key_hex.substr(2 * i, 2), nullptr, 16));
    }
    return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db), path, options, clock, version, key));
  }();
  if (!opened.ok()) return Annotate(opened.status(), fmt::format("opening store '{}'", path));
  return opened;
}

SqliteStore::SqliteStore(Connection db, std::string path, const OpenOptions& options, const Clock& clock,
                         int schema_version, const IdHashKey& id_hash_key)
    : path_(std::move(path)),
      options_(options),
      shared_reader_(path_ == ":memory:" || path_.empty()),
      clock_(clock),
      read_only_(options.read_only),
      schema_version_(schema_version),
      id_hash_key_(id_hash_key),
      rows_(options.row_cache_bytes) {
  std::lock_guard lock(mu_);
  writer_.db = std::move(db);
}

int64_t SqliteStore::IdHash(std::string_view id) const {
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, reinterpret_cast<const unsigned char*>(id.data()), id.size(), id_hash_key_.data());
  uint64_t h = 0;
  std::memcpy(&h, out, sizeof h);
  return static_cast<int64_t>(h);
}

int64_t SqliteStore::PostingHash(uint8_t kind, std::string_view value) const {
  std::string input;
  input.reserve(value.size() + 1);
  input += static_cast<char>(kind);
  input.append(value);
  return IdHash(input);
}

absl::StatusOr<Statement*> SqliteStore::Handle::Prepared(const std::string& sql) {
  auto it = statements.find(sql);
  if (it == statements.end()) {
    CONCORD_ASSIGN_OR_RETURN(Statement statement, db.Prepare(sql, /*persistent=*/true));
    it = statements.emplace(sql, std::move(statement)).first;
  }
  return &it->second;
}

absl::StatusOr<Statement*> SqliteStore::Prepared(const std::string& sql) { return writer_.Prepared(sql); }

absl::StatusOr<std::unique_ptr<SqliteStore::Handle>> SqliteStore::OpenReader() {
  auto reader = std::make_unique<Handle>();
  CONCORD_ASSIGN_OR_RETURN(reader->db, Connection::Open(path_, /*read_only=*/true));
  // Readers map the file: a page read is then a memory access instead of a pread into the connection's cache
  // (profiled under wrk on a 200k store, the readers' pread calls were 2-3% of the node's CPU). SQLite
  // remaps a connection's mapping when the file has grown since its last read; that once cost a munmap and a
  // TLB shootdown per audited read, when the audit log shared this file. It has a file of its own now, so
  // the store file grows only with writes (once per committed batch at most). Up to kReaderMmapBytes (SQLite
  // caps it at its compile-time maximum, 2 GiB in Debian's build); pages beyond go through pread.
  CONCORD_RETURN_IF_ERROR(reader->db.Exec(fmt::format(
      "PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = {}", kReaderMmapBytes)));
  CONCORD_RETURN_IF_ERROR(sqlite::ConfigureConnection(reader->db, path_, /*read_only=*/true, options_.sync_full));
  return reader;
}

template <typename Fn>
auto SqliteStore::WithReader(Fn&& read) -> decltype(read(std::declval<Handle&>())) {
  if (shared_reader_) {
    std::lock_guard lock(mu_);
    return read(writer_);
  }
  std::unique_ptr<Handle> reader;
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (reader == nullptr) {
    auto opened = OpenReader();
    if (!opened.ok()) return Annotate(opened.status(), fmt::format("opening a read connection to '{}'", path_));
    reader = std::move(*opened);
  }
  auto result = read(*reader);
  std::lock_guard lock(readers_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(reader));
  return result;
}

absl::StatusOr<std::vector<PutResult>> SqliteStore::PutEncoded(std::span<const EncodedObject> rows) {
  if (read_only_) return absl::FailedPreconditionError("store is open read-only");
  std::lock_guard lock(mu_);
  CONCORD_RETURN_IF_ERROR(writer_.db.Exec("BEGIN IMMEDIATE"));
  auto results = PutInTransaction(rows);
  if (results.ok()) {
    absl::Status committed = writer_.db.Exec("COMMIT");
    if (committed.ok()) return results;
    results = committed;
  }
  // Nothing of the batch may stay visible: roll back whatever the failed statement left open. The
  // original error is the one to report; a failing ROLLBACK means SQLite already ended the transaction.
  (void)writer_.db.Exec("ROLLBACK");
  return results;
}

absl::StatusOr<std::vector<PutResult>> SqliteStore::PutInTransaction(std::span<const EncodedObject> rows) {
  // `added` strictly increases with seq, across batches and processes (store.h): read under the write lock,
  // one microsecond apart within the batch, never at or before the last stored version's.
  int64_t next_added = clock_.Now().UnixMicros();
  {
    CONCORD_ASSIGN_OR_RETURN(Statement * last, Prepared(kSelectLastAdded));
    Statement::Scoped scoped(*last);
    CONCORD_ASSIGN_OR_RETURN(bool row, last->Step());
    if (row) next_added = std::max(next_added, last->ColumnInt(0) + 1);
  }
  std::vector<PutResult> results;
  results.reserve(rows.size());
  std::unordered_map<std::string, TypeDelta> deltas;
  // Inside BEGIN IMMEDIATE nobody else writes, so new ids take oids counted on from the largest.
  int64_t next_oid = 0;
  {
    CONCORD_ASSIGN_OR_RETURN(Statement * max_oid, Prepared(kSelectMaxOid));
    Statement::Scoped scoped(*max_oid);
    CONCORD_ASSIGN_OR_RETURN(bool row, max_oid->Step());
    next_oid = (row ? max_oid->ColumnInt(0) : 0) + 1;
  }
  bool postings_missing = false;
  for (size_t i = 0; i < rows.size(); ++i) {
    auto result = PutOne(rows[i], next_added, next_oid, deltas, postings_missing);
    if (!result.ok()) {
      return Annotate(result.status(), fmt::format("batch item {} ({})", i, rows[i].object->id));
    }
    results.push_back(std::move(*result));
  }
  CONCORD_ASSIGN_OR_RETURN(Statement * counts, Prepared(kAddTypeCounts));
  for (const auto& [type, delta] : deltas) {
    Statement::Scoped scoped(*counts);
    counts->BindText(1, type);
    counts->BindInt(2, delta.objects);
    counts->BindInt(3, delta.versions);
    counts->BindInt(4, delta.revoked);
    CONCORD_RETURN_IF_ERROR(counts->Step().status());
  }
  if (postings_missing) {
    CONCORD_ASSIGN_OR_RETURN(Statement * mark, Prepared(kMarkPostingsIncomplete));
    Statement::Scoped scoped(*mark);
    CONCORD_RETURN_IF_ERROR(mark->Step().status());
  }
  return results;
}

absl::Status SqliteStore::InsertPostings(int64_t oid, const std::vector<Posting>& postings) {
  if (postings.empty()) return absl::OkStatus();
  CONCORD_ASSIGN_OR_RETURN(Statement * insert, Prepared(kInsertPosting));
  for (const Posting& posting : postings) {
    Statement::Scoped scoped(*insert);
    insert->BindInt(1, oid);
    insert->BindInt(2, posting.kind);
    insert->BindInt(3, PostingHash(posting.kind, posting.value));
    insert->BindText(4, posting.value);
    if (posting.address) {
      insert->BindBlob(5, *posting.address);
    } else {
      insert->BindNull(5);
    }
    if (posting.prefix_length >= 0) {
      insert->BindInt(6, posting.prefix_length);
    } else {
      insert->BindNull(6);
    }
    CONCORD_RETURN_IF_ERROR(insert->Step().status());
  }
  return absl::OkStatus();
}

absl::StatusOr<PutResult> SqliteStore::PutOne(const EncodedObject& row, int64_t& next_added, int64_t& next_oid,
                                              std::unordered_map<std::string, TypeDelta>& deltas,
                                              bool& postings_missing) {
  const stix::Object& object = *row.object;

  // The id's current state, if any.
  bool known = false;
  int64_t oid = 0;
  int64_t current_seq = 0;
  std::string current_key;
  bool current_revoked = false;
  std::optional<std::string> revoked_since;
  {
    CONCORD_ASSIGN_OR_RETURN(Statement * select, Prepared(kSelectObject));
    Statement::Scoped scoped(*select);
    select->BindText(1, object.id);
    select->BindInt(2, IdHash(object.id));
    CONCORD_ASSIGN_OR_RETURN(known, select->Step());
    if (known) {
      oid = select->ColumnInt(0);
      current_seq = select->ColumnInt(1);
      current_key = select->ColumnText(2);
      current_revoked = select->ColumnInt(3) != 0;
      if (!select->ColumnIsNull(4)) revoked_since = std::string(select->ColumnText(4));
    }
  }

  // Looks up a stored version by key: its content hash and label.
  auto stored_version = [&](const std::string& key) -> absl::StatusOr<std::optional<std::pair<std::string, std::string>>> {
    CONCORD_ASSIGN_OR_RETURN(Statement * select, Prepared(kSelectVersion));
    Statement::Scoped scoped(*select);
    select->BindInt(1, oid);
    select->BindText(2, key);
    CONCORD_ASSIGN_OR_RETURN(bool found, select->Step());
    if (!found) return std::nullopt;
    return std::make_pair(std::string(select->ColumnText(0)),
                          VersionLabel(select->ColumnText(1), select->ColumnText(2)));
  };

  if (known) {
    CONCORD_ASSIGN_OR_RETURN(auto same_key, stored_version(row.version_key));
    if (same_key) {
      if (same_key->first == row.content_hash) return PutResult{PutOutcome::kUnchanged, 0, {}};
      std::string reason = row.version_key.empty()
                               ? std::string("a different object with this id is already stored (unversioned)")
                               : fmt::format("a different version with modified {} is already stored", same_key->second);
      return PutResult{PutOutcome::kConflict, 0, std::move(reason)};
    }
    // STIX 2.1 §3.6: revocation is final. A later version may only restate it (ATT&CK re-issues revoked
    // objects with a new `modified`); one that would un-revoke is refused. Older versions are history.
    if (revoked_since && row.version_key > *revoked_since && !object.revoked) {
      CONCORD_ASSIGN_OR_RETURN(auto revoked_version, stored_version(*revoked_since));
      return PutResult{PutOutcome::kRejected, 0,
                       fmt::format("object is revoked (since version {}); a later version must stay revoked",
                                   revoked_version ? revoked_version->second : *revoked_since)};
    }
  }

  if (!known) oid = next_oid++;
  int64_t seq = 0;
  {
    CONCORD_ASSIGN_OR_RETURN(Statement * insert, Prepared(kInsertVersion));
    Statement::Scoped scoped(*insert);
    insert->BindText(1, object.id);
    insert->BindText(2, object.type);
    insert->BindText(3, object.spec_version);
    insert->BindText(4, row.created);
    insert->BindText(5, row.modified);
    insert->BindText(6, row.version_key);
    insert->BindText(7, object.created_by_ref);
    insert->BindInt(8, object.revoked ? 1 : 0);
    BindOptionalText(*insert, 9, row.valid_from);
    BindOptionalText(*insert, 10, row.valid_until);
    insert->BindInt(11, static_cast<int64_t>(object.tlp));
    if (object.distribution) {
      insert->BindInt(12, *object.distribution);
    } else {
      insert->BindNull(12);
    }
    insert->BindText(13, object.sharing_group_ref);
    insert->BindInt(14, next_added++);
    insert->BindText(15, row.content_hash);
    insert->BindText(16, row.json);
    insert->BindInt(17, oid);
    CONCORD_RETURN_IF_ERROR(insert->Step().status());
    seq = writer_.db.LastInsertRowid();
  }

  TypeDelta& delta = deltas[object.type];
  ++delta.versions;
  std::optional<std::string> new_revoked_since = revoked_since;
  if (object.revoked && (!revoked_since || row.version_key < *revoked_since)) new_revoked_since = row.version_key;
  const bool becomes_current = !known || row.version_key > current_key;

  // Postings follow the current version: replaced when this one becomes current, untouched otherwise
  // (an older version arriving late is history). A revoked current version keeps its postings.
  if (becomes_current) {
    if (known) {
      CONCORD_ASSIGN_OR_RETURN(Statement * remove, Prepared(kDeletePostings));
      Statement::Scoped scoped(*remove);
      remove->BindInt(1, oid);
      CONCORD_RETURN_IF_ERROR(remove->Step().status());
    }
    if (options_.postings == nullptr) {
      postings_missing = true;
    } else if (row.has_postings) {
      CONCORD_RETURN_IF_ERROR(InsertPostings(oid, row.postings));
    } else {
      std::vector<Posting> postings;
      options_.postings->Extract(object, postings);
      CanonicalisePostings(postings);
      CONCORD_RETURN_IF_ERROR(InsertPostings(oid, postings));
    }
  }

  if (!known) {
    CONCORD_ASSIGN_OR_RETURN(Statement * insert, Prepared(kInsertObject));
    Statement::Scoped scoped(*insert);
    insert->BindText(1, object.id);
    insert->BindText(2, object.type);
    insert->BindInt(3, seq);
    insert->BindText(4, row.version_key);
    insert->BindInt(5, object.revoked ? 1 : 0);
    BindOptionalText(*insert, 6, new_revoked_since);
    insert->BindInt(7, oid);
    insert->BindInt(8, IdHash(object.id));
    CONCORD_RETURN_IF_ERROR(insert->Step().status());
    ++delta.objects;
    if (object.revoked) ++delta.revoked;
    return PutResult{PutOutcome::kNew, seq, {}};
  }

  if (becomes_current || new_revoked_since != revoked_since) {
    CONCORD_ASSIGN_OR_RETURN(Statement * update, Prepared(kUpdateObject));
    Statement::Scoped scoped(*update);
    const bool revoked_now = becomes_current ? object.revoked : current_revoked;
    update->BindInt(1, oid);
    update->BindInt(2, becomes_current ? seq : current_seq);
    update->BindText(3, becomes_current ? row.version_key : current_key);
    update->BindInt(4, revoked_now ? 1 : 0);
    BindOptionalText(*update, 5, new_revoked_since);
    CONCORD_RETURN_IF_ERROR(update->Step().status());
    delta.revoked += static_cast<int64_t>(revoked_now) - static_cast<int64_t>(current_revoked);
  }
  return PutResult{PutOutcome::kNewVersion, seq, {}};
}

absl::StatusOr<StoredObject> SqliteStore::Get(std::string_view id) {
  CONCORD_ASSIGN_OR_RETURN(auto found, WithReader([&](Handle& r) { return ReadObjects(r, kSelectCurrent, id, std::nullopt); }));
  if (found.empty()) return absl::NotFoundError(fmt::format("object {} not found", id));
  return std::move(found.front());
}

absl::StatusOr<StoredObject> SqliteStore::GetVersion(std::string_view id, const Timestamp& modified) {
  const std::string key = FormatSortable(modified);
  CONCORD_ASSIGN_OR_RETURN(auto found, WithReader([&](Handle& r) { return ReadObjects(r, kSelectOneVersion, id, key); }));
  if (found.empty()) {
    return absl::NotFoundError(fmt::format("object {} has no version modified {}", id, FormatRfc3339(modified)));
  }
  return std::move(found.front());
}

absl::StatusOr<std::vector<StoredObject>> SqliteStore::Versions(std::string_view id) {
  CONCORD_ASSIGN_OR_RETURN(auto found,
                           WithReader([&](Handle& r) { return ReadObjects(r, kSelectAllVersions, id, std::nullopt); }));
  if (found.empty()) return absl::NotFoundError(fmt::format("object {} not found", id));
  return found;
}

absl::StatusOr<std::vector<StoredObject>> SqliteStore::ReadObjects(Handle& reader, const std::string& sql,
                                                                   std::string_view id,
                                                                   std::optional<std::string_view> version_key) {
  CONCORD_ASSIGN_OR_RETURN(Statement * select, reader.Prepared(sql));
  Statement::Scoped scoped(*select);
  select->BindText(1, id);
  if (version_key) select->BindText(2, *version_key);
  select->BindInt(3, IdHash(id));
  std::vector<StoredObject> out;
  while (true) {
    CONCORD_ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    out.push_back(ReadStored(*select));
  }
  return out;
}

absl::StatusOr<Page> SqliteStore::List(const Query& query) {
  Page page;
  page.objects.reserve(std::min<size_t>(std::clamp<size_t>(query.limit, 1, kMaxLimit), 256));
  Query every_field = query;
  every_field.policy_and_json_only = false;
  CONCORD_ASSIGN_OR_RETURN(ListEnd end, ListEach(every_field, [&](const StoredView& row) {
                             page.objects.push_back(row.ToObject());
                             return true;
                           }));
  page.next_after_seq = end.next_after_seq;
  page.more = end.more;
  return page;
}

absl::StatusOr<ListEnd> SqliteStore::ListEach(const Query& query, absl::FunctionRef<bool(const StoredView&)> visit) {
  const size_t limit = std::clamp<size_t>(query.limit, 1, kMaxLimit);
  // The current-only listing walks objects by current_seq (an index), never groups versions. Filters that
  // take one value bind it with '=' so that the (type, seq) indexes give seq order without a sort; lists
  // go in as one JSON array, so the SQL text (and its cached statement) depends only on which filters
  // are present.
  const char* seq = query.current_only ? "o.current_seq" : "v.seq";
  const char* key = query.current_only ? "o.version_key" : "v.version_key";
  const bool lean = query.policy_and_json_only;
  std::string where = fmt::format(" WHERE {} > :after", seq);
  const std::string types_json = query.types.size() > 1 ? JsonArray(query.types) : std::string();
  const std::string ids_json = query.ids.size() > 1 ? JsonArray(query.ids) : std::string();
  std::string id_hashes_json;
  if (query.ids.size() > 1) {
    boost::json::array hashes;
    for (const std::string& id : query.ids) hashes.emplace_back(IdHash(id));
    id_hashes_json = boost::json::serialize(hashes);
  }
  if (query.types.size() == 1) where += fmt::format(" AND {}.type = :type", query.current_only ? "o" : "v");
  if (query.types.size() > 1) {
    where += fmt::format(" AND {}.type IN (SELECT value FROM json_each(:types))", query.current_only ? "o" : "v");
  }
  if (query.ids.size() == 1) where += " AND o.id_hash = :id_hash AND o.id = :id";
  if (query.ids.size() > 1) {
    where += " AND o.id_hash IN (SELECT value FROM json_each(:id_hashes)) AND o.id IN (SELECT value FROM json_each(:ids))";
  }
  if (query.modified_since) where += fmt::format(" AND {} >= :since", key);
  if (query.modified_before) where += fmt::format(" AND {0} <> '' AND {0} < :before", key);
  where += fmt::format(" ORDER BY {} LIMIT :limit", seq);

  const std::string since = query.modified_since ? FormatSortable(*query.modified_since) : std::string();
  const std::string before = query.modified_before ? FormatSortable(*query.modified_before) : std::string();
  // One row more than the page tells whether another page follows.
  auto bind = [&](Statement& select) {
    select.BindInt(select.ParameterIndex(":after"), query.after_seq);
    if (query.types.size() == 1) select.BindText(select.ParameterIndex(":type"), query.types.front());
    if (query.types.size() > 1) select.BindText(select.ParameterIndex(":types"), types_json);
    if (query.ids.size() == 1) {
      select.BindText(select.ParameterIndex(":id"), query.ids.front());
      select.BindInt(select.ParameterIndex(":id_hash"), IdHash(query.ids.front()));
    }
    if (query.ids.size() > 1) {
      select.BindText(select.ParameterIndex(":ids"), ids_json);
      select.BindText(select.ParameterIndex(":id_hashes"), id_hashes_json);
    }
    if (query.modified_since) select.BindText(select.ParameterIndex(":since"), since);
    if (query.modified_before) select.BindText(select.ParameterIndex(":before"), before);
    select.BindInt(select.ParameterIndex(":limit"), static_cast<int64_t>(limit) + 1);
  };
  // Every filter of a current-only listing is on `objects`: its index gives the seqs, the cache the rows.
  if (lean && query.current_only && rows_.enabled()) return ListLeanCurrent(query, where, limit, bind, visit);

  const std::string sql =
      (query.current_only
           ? (lean ? "SELECT " CONCORD_LEAN_COLUMNS("1") " FROM objects o JOIN versions v ON v.seq = o.current_seq"
                   : "SELECT " CONCORD_LISTED_COLUMNS " FROM objects o JOIN versions v ON v.seq = o.current_seq")
           : (lean ? "SELECT " CONCORD_LEAN_COLUMNS("o.current_seq = v.seq") " FROM versions v JOIN objects o ON o.oid = v.oid"
                   : "SELECT " CONCORD_STORED_COLUMNS " FROM versions v JOIN objects o ON o.oid = v.oid")) +
      where;
  return WithReader([&](Handle& reader) -> absl::StatusOr<ListEnd> {
    CONCORD_ASSIGN_OR_RETURN(Statement * select, reader.Prepared(sql));
    Statement::Scoped scoped(*select);
    bind(*select);
    return VisitRows(*select, query.after_seq, limit, visit);
  });
}

absl::StatusOr<ListEnd> SqliteStore::ListLeanCurrent(const Query& query, const std::string& where, size_t limit,
                                                     absl::FunctionRef<void(Statement&)> bind,
                                                     absl::FunctionRef<bool(const StoredView&)> visit) {
  auto view_of = [](const sqlite::CachedRow& row) {
    StoredView view;
    view.seq = row.seq();
    view.id = row.id();
    view.created_by_ref = row.created_by_ref();
    view.revoked = row.revoked();
    view.tlp = row.tlp();
    view.json = row.json();
    view.current = true;
    view.distribution = row.distribution();
    view.sharing_group_ref = row.sharing_group_ref();
    return view;
  };
  auto keep = [](const StoredView& v) {
    return std::make_shared<const sqlite::CachedRow>(v.seq, v.id, v.created_by_ref, v.revoked, v.tlp, v.distribution,
                                                     v.sharing_group_ref, v.json);
  };
  return WithReader([&](Handle& reader) -> absl::StatusOr<ListEnd> {
    std::vector<int64_t> seqs;
    {
      CONCORD_ASSIGN_OR_RETURN(Statement * select, reader.Prepared("SELECT o.current_seq FROM objects o" + where));
      Statement::Scoped scoped(*select);
      bind(*select);
      seqs.reserve(limit + 1);
      for (;;) {
        CONCORD_ASSIGN_OR_RETURN(bool row, select->Step());
        if (!row) break;
        seqs.push_back(select->ColumnInt(0));
      }
    }
    // The row one past the page is never read: only its existence counts.
    const size_t needed = std::min(seqs.size(), limit);
    std::vector<std::shared_ptr<const sqlite::CachedRow>> rows;
    rows_.Find(std::span<const int64_t>(seqs).first(needed), rows);
    std::vector<int64_t> missed;
    for (size_t i = 0; i < needed; ++i) {
      if (rows[i] == nullptr) missed.push_back(seqs[i]);
    }
    std::vector<bool> admit;
    rows_.Admit(missed, admit);
    std::vector<std::shared_ptr<const sqlite::CachedRow>> kept;  // added at the end, under one taking of the lock
    auto admitted = [&](int64_t seq) {
      auto it = std::lower_bound(missed.begin(), missed.end(), seq);  // seqs ascend
      return it != missed.end() && *it == seq && admit[static_cast<size_t>(it - missed.begin())];
    };

    if (missed.size() * 4 > needed) {
      // Mostly rows not kept (a page nobody read lately, a sweep): the joined listing reads them faster than a
      // statement per row, as a listing without a cache does; admitted rows are kept on the way.
      CONCORD_ASSIGN_OR_RETURN(
          Statement * select,
          reader.Prepared("SELECT " CONCORD_LEAN_COLUMNS("1") " FROM objects o JOIN versions v ON v.seq = o.current_seq" + where));
      Statement::Scoped scoped(*select);
      bind(*select);
      auto joined = VisitRows(*select, query.after_seq, limit, [&](const StoredView& view) {
        if (admitted(view.seq)) kept.push_back(keep(view));
        return visit(view);
      });
      rows_.Add(std::move(kept));
      return joined;
    }
    // Mostly rows kept: the others are read by seq (a version's row never changes, so this reading gives the
    // row the index named).
    ListEnd end{.next_after_seq = query.after_seq};
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (i == limit) {
        end.more = true;
        break;
      }
      end.next_after_seq = seqs[i];
      bool go_on = true;
      if (rows[i] != nullptr) {
        go_on = visit(view_of(*rows[i]));
      } else {
        CONCORD_ASSIGN_OR_RETURN(Statement * one,
                                 reader.Prepared("SELECT " CONCORD_LEAN_COLUMNS("1") " FROM versions v WHERE v.seq = ?1"));
        Statement::Scoped scoped(*one);
        one->BindInt(1, seqs[i]);
        CONCORD_ASSIGN_OR_RETURN(bool row, one->Step());
        if (!row) return absl::DataLossError(fmt::format("store: object index names version {}, which is missing", seqs[i]));
        const StoredView view = RowView(*one);
        if (admitted(view.seq)) kept.push_back(keep(view));
        go_on = visit(view);
      }
      if (!go_on) {
        // Stopped by the caller: whether another row follows tells `more`.
        end.more = i + 1 < seqs.size();
        break;
      }
    }
    rows_.Add(std::move(kept));
    return end;
  });
}

absl::StatusOr<Stats> SqliteStore::GetStats() {
  Stats stats;
  stats.schema_version = schema_version_;
  const sqlite::RowCache::Stats cache = rows_.GetStats();
  stats.row_cache = Stats::RowCache{.rows = static_cast<int64_t>(cache.rows),
                                    .bytes = static_cast<int64_t>(cache.bytes),
                                    .capacity_bytes = static_cast<int64_t>(options_.row_cache_bytes),
                                    .hits = cache.hits,
                                    .misses = cache.misses};
  return WithReader([&](Handle& reader) -> absl::StatusOr<Stats> {
    // One read transaction, so the figures agree with each other even while another process writes.
    CONCORD_RETURN_IF_ERROR(reader.db.Exec("BEGIN"));
    auto read = [&]() -> absl::Status {
      CONCORD_ASSIGN_OR_RETURN(Statement * counts,
                               reader.Prepared("SELECT type, objects, versions, revoked FROM type_counts ORDER BY type"));
      Statement::Scoped scoped(*counts);
      while (true) {
        CONCORD_ASSIGN_OR_RETURN(bool row, counts->Step());
        if (!row) break;
        TypeCount& count = stats.by_type[std::string(counts->ColumnText(0))];
        count.objects = counts->ColumnInt(1);
        count.versions = counts->ColumnInt(2);
        count.revoked = counts->ColumnInt(3);
        stats.objects += count.objects;
        stats.versions += count.versions;
      }
      CONCORD_ASSIGN_OR_RETURN(stats.last_seq, reader.db.QueryInt("SELECT max(seq) FROM versions"));
      CONCORD_ASSIGN_OR_RETURN(int64_t pages, reader.db.QueryInt("PRAGMA page_count"));
      CONCORD_ASSIGN_OR_RETURN(int64_t page_size, reader.db.QueryInt("PRAGMA page_size"));
      stats.size_bytes = pages * page_size;
      return absl::OkStatus();
    }();
    (void)reader.db.Exec("COMMIT");  // a read transaction: ending it cannot lose anything
    CONCORD_RETURN_IF_ERROR(read);
    return stats;
  });
}

absl::StatusOr<int64_t> SqliteStore::LastSeq() {
  // seq is the rowid: its maximum is one step down the table's b-tree.
  return WithReader([](Handle& reader) { return reader.db.QueryInt("SELECT max(seq) FROM versions"); });
}

// ---- postings ----

absl::StatusOr<PostingPage> SqliteStore::FindPostings(const PostingQuery& query) {
  static const std::string kSql =
      "SELECT " CONCORD_POSTING_COLUMNS ", p.oid FROM postings p JOIN objects o ON o.oid = p.oid "
      "JOIN versions v ON v.seq = o.current_seq "
      "WHERE p.vhash = ?1 AND p.kind = ?2 AND p.value = ?3 AND p.oid > ?4 ORDER BY p.oid LIMIT ?5";
  const size_t limit = std::clamp<size_t>(query.limit, 1, kMaxLimit);
  const int64_t hash = PostingHash(query.kind, query.value);
  return WithReader([&](Handle& reader) -> absl::StatusOr<PostingPage> {
    CONCORD_ASSIGN_OR_RETURN(Statement * select, reader.Prepared(kSql));
    Statement::Scoped scoped(*select);
    select->BindInt(1, hash);
    select->BindInt(2, query.kind);
    select->BindText(3, query.value);
    select->BindInt(4, query.after);
    select->BindInt(5, static_cast<int64_t>(limit) + 1);  // one more tells whether another page follows
    PostingPage page;
    page.next_after = query.after;
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      if (page.hits.size() == limit) {
        page.more = true;
        break;
      }
      PostingHit& hit = page.hits.emplace_back();
      hit.object = ReadStored(*select);
      hit.cursor = select->ColumnInt(14);
      page.next_after = hit.cursor;
    }
    return page;
  });
}

absl::StatusOr<int64_t> SqliteStore::CountPostings(uint8_t kind, std::string_view value, int64_t at_most) {
  static const std::string kSql =
      "SELECT count(*) FROM (SELECT 1 FROM postings WHERE vhash = ?1 AND kind = ?2 AND value = ?3 LIMIT ?4)";
  const int64_t hash = PostingHash(kind, value);
  return WithReader([&](Handle& reader) -> absl::StatusOr<int64_t> {
    CONCORD_ASSIGN_OR_RETURN(Statement * select, reader.Prepared(kSql));
    Statement::Scoped scoped(*select);
    select->BindInt(1, hash);
    select->BindInt(2, kind);
    select->BindText(3, value);
    select->BindInt(4, std::max<int64_t>(at_most, 1));
    CONCORD_ASSIGN_OR_RETURN(bool row, select->Step());
    return row ? select->ColumnInt(0) : 0;
  });
}

namespace {

// Objects LookupPostings reads with one statement.
constexpr size_t kObjectChunk = 256;

// The current versions of kObjectChunk objects by oid (?1 … ?kObjectChunk), by oid, with the oid last.
const std::string& ObjectsByOid() {
  static const std::string sql = [] {
    std::string text = "SELECT " CONCORD_POSTING_COLUMNS
                       ", o.oid FROM objects o JOIN versions v ON v.seq = o.current_seq WHERE o.oid IN (";
    for (size_t i = 1; i <= kObjectChunk; ++i) {
      if (i > 1) text.push_back(',');
      text.push_back('?');
      text.append(std::to_string(i));
    }
    text.append(") ORDER BY o.oid");
    return text;
  }();
  return sql;
}

}  // namespace

absl::StatusOr<std::vector<PostingLookup>> SqliteStore::LookupPostings(std::span<const PostingKey> keys,
                                                                       int64_t at_most, size_t first) {
  // Two passes in one read transaction. First the postings: per distinct key, in index order, one walk of
  // its postings by oid reads the first `first` + 1 oids and the bound count together (index-only with
  // postings_value, migration 7: the value is compared in the index entry, a hash collision costs nothing
  // more). Then the objects: each distinct oid found once, in oid order, so that the objects and versions
  // b-trees are walked forward (oids and seqs both grow with insertion) instead of one random row read per hit.
  static const std::string kOids =
      "SELECT oid FROM postings WHERE vhash = ?1 AND kind = ?2 AND value = ?3 ORDER BY oid LIMIT ?4";
  at_most = std::max<int64_t>(at_most, 1);
  first = std::min(first, kMaxLimit);
  const int64_t walk = std::max(at_most, static_cast<int64_t>(first) + 1);
  const std::vector<OrderedPostingKey> order =
      OrderPostingKeys(keys, [this](const PostingKey& key) { return PostingHash(key.kind, key.value); });
  std::vector<PostingLookup> out(keys.size());
  return WithReader([&](Handle& reader) -> absl::StatusOr<std::vector<PostingLookup>> {
    CONCORD_RETURN_IF_ERROR(reader.db.Exec("BEGIN"));  // one snapshot for every key
    absl::Status read = [&]() -> absl::Status {
      CONCORD_ASSIGN_OR_RETURN(Statement * oids, reader.Prepared(kOids));
      // Every hit of every key: its object, and where it goes in `out`.
      struct Ref {
        int64_t oid;
        uint32_t key;  // index into `out` (of the key's first place)
        uint32_t hit;  // index into its hits
      };
      std::vector<Ref> refs;
      for (size_t k = 0; k < order.size(); ++k) {
        if (order[k].repeat) continue;  // answered below, from its key's first place
        const PostingKey& key = keys[order[k].index];
        PostingLookup& found = out[order[k].index];
        Statement::Scoped scoped(*oids);
        oids->BindInt(1, order[k].hash);
        oids->BindInt(2, key.kind);
        oids->BindText(3, key.value);
        oids->BindInt(4, walk);
        int64_t seen = 0;
        while (true) {
          CONCORD_ASSIGN_OR_RETURN(bool row, oids->Step());
          if (!row) break;
          if (static_cast<size_t>(seen) < first) {
            refs.push_back({oids->ColumnInt(0), static_cast<uint32_t>(order[k].index),
                            static_cast<uint32_t>(found.hits.size())});
            found.hits.emplace_back().cursor = refs.back().oid;
          }
          ++seen;
        }
        found.count = std::min(seen, at_most);
        found.more = first == 0 ? seen > 0 : static_cast<size_t>(seen) > first;
      }
      // The objects, each read once, in oid order, kObjectChunk to a statement (the last chunk repeats its last
      // oid: IN ignores repeats).
      std::sort(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) { return a.oid < b.oid; });
      std::vector<int64_t> wanted;
      for (const Ref& ref : refs) {
        if (wanted.empty() || wanted.back() != ref.oid) wanted.push_back(ref.oid);
      }
      CONCORD_ASSIGN_OR_RETURN(Statement * objects, reader.Prepared(ObjectsByOid()));
      size_t r = 0;  // the next ref to fill
      for (size_t from = 0; from < wanted.size(); from += kObjectChunk) {
        Statement::Scoped scoped(*objects);
        const size_t to = std::min(wanted.size(), from + kObjectChunk);
        for (size_t i = 0; i < kObjectChunk; ++i) {
          objects->BindInt(static_cast<int>(i + 1), wanted[std::min(from + i, to - 1)]);
        }
        for (size_t w = from; w < to; ++w) {
          CONCORD_ASSIGN_OR_RETURN(bool row, objects->Step());
          if (!row || objects->ColumnInt(14) != wanted[w]) {
            return absl::DataLossError(fmt::format("postings: a posting names object {}, which is missing", wanted[w]));
          }
          StoredObject read_back = ReadStored(*objects);
          for (; r + 1 < refs.size() && refs[r + 1].oid == wanted[w]; ++r) {
            out[refs[r].key].hits[refs[r].hit].object = read_back;
          }
          out[refs[r].key].hits[refs[r].hit].object = std::move(read_back);
          ++r;
        }
      }
      // Repeats get the answer of their key's first place.
      for (size_t k = 1; k < order.size(); ++k) {
        if (order[k].repeat) out[order[k].index] = out[order[k - 1].index];
      }
      return absl::OkStatus();
    }();
    (void)reader.db.Exec("COMMIT");  // a read transaction: ending it cannot lose anything
    CONCORD_RETURN_IF_ERROR(read);
    return std::move(out);
  });
}

namespace {

Posting ReadPosting(const Statement& s, int first) {
  Posting p;
  p.kind = static_cast<uint8_t>(s.ColumnInt(first));
  p.value = std::string(s.ColumnText(first + 1));
  if (const auto blob = s.ColumnBlob(first + 2); blob.size() == 16) {
    p.address.emplace();
    std::copy(blob.begin(), blob.end(), p.address->begin());
  }
  p.prefix_length = s.ColumnIsNull(first + 3) ? -1 : static_cast<int>(s.ColumnInt(first + 3));
  return p;
}

}  // namespace

absl::StatusOr<std::vector<Posting>> SqliteStore::PostingsOf(std::string_view id) {
  static const std::string kObject = "SELECT oid FROM objects WHERE id_hash = ?2 AND id = ?1";
  static const std::string kPostings =
      "SELECT kind, value, address, prefix FROM postings WHERE oid = ?1 ORDER BY kind, value";
  return WithReader([&](Handle& reader) -> absl::StatusOr<std::vector<Posting>> {
    int64_t oid = 0;
    {
      CONCORD_ASSIGN_OR_RETURN(Statement * select, reader.Prepared(kObject));
      Statement::Scoped scoped(*select);
      select->BindText(1, id);
      select->BindInt(2, IdHash(id));
      CONCORD_ASSIGN_OR_RETURN(bool found, select->Step());
      if (!found) return absl::NotFoundError(fmt::format("object {} not found", id));
      oid = select->ColumnInt(0);
    }
    CONCORD_ASSIGN_OR_RETURN(Statement * select, reader.Prepared(kPostings));
    Statement::Scoped scoped(*select);
    select->BindInt(1, oid);
    std::vector<Posting> out;
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      out.push_back(ReadPosting(*select, 0));
    }
    return out;
  });
}

absl::StatusOr<IpRangePage> SqliteStore::IpPostingsInRange(const IpRangeQuery& query) {
  static const std::string kSql =
      "SELECT " CONCORD_POSTING_COLUMNS ", p.oid, p.value, p.address FROM postings p "
      "JOIN objects o ON o.oid = p.oid JOIN versions v ON v.seq = o.current_seq "
      "WHERE p.kind = ?1 AND p.address IS NOT NULL AND p.address >= ?2 AND p.address <= ?3 "
      "AND (p.address, p.oid) > (?4, ?5) ORDER BY p.address, p.oid LIMIT ?6";
  const size_t limit = std::clamp<size_t>(query.limit, 1, kMaxLimit);
  // Without a cursor, start before (low, any oid): oids are ≥ 1.
  const std::array<uint8_t, 16> after_address = query.after ? query.after->first : query.low;
  const int64_t after_oid = query.after ? query.after->second : 0;
  return WithReader([&](Handle& reader) -> absl::StatusOr<IpRangePage> {
    CONCORD_ASSIGN_OR_RETURN(Statement * select, reader.Prepared(kSql));
    Statement::Scoped scoped(*select);
    select->BindInt(1, query.kind);
    select->BindBlob(2, query.low);
    select->BindBlob(3, query.high);
    select->BindBlob(4, after_address);
    select->BindInt(5, after_oid);
    select->BindInt(6, static_cast<int64_t>(limit) + 1);
    IpRangePage page;
    page.next_after = query.after;
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      if (page.postings.size() == limit) {
        page.more = true;
        break;
      }
      IpPosting& posting = page.postings.emplace_back();
      posting.hit.object = ReadStored(*select);
      posting.hit.cursor = select->ColumnInt(14);
      posting.value = std::string(select->ColumnText(15));
      const auto blob = select->ColumnBlob(16);
      if (blob.size() != 16) return absl::DataLossError("postings: an address is not 16 bytes");
      std::copy(blob.begin(), blob.end(), posting.address.begin());
      page.next_after = std::make_pair(posting.address, posting.hit.cursor);
    }
    return page;
  });
}

absl::StatusOr<std::vector<int>> SqliteStore::PrefixLengths(uint8_t kind) {
  // A skip scan of postings_prefix: one seek per distinct length, however many CIDR postings there are.
  static const std::string kSql =
      "SELECT prefix FROM postings WHERE kind = ?1 AND prefix IS NOT NULL AND prefix > ?2 ORDER BY prefix LIMIT 1";
  return WithReader([&](Handle& reader) -> absl::StatusOr<std::vector<int>> {
    CONCORD_ASSIGN_OR_RETURN(Statement * select, reader.Prepared(kSql));
    std::vector<int> lengths;
    int64_t after = -1;
    while (true) {
      Statement::Scoped scoped(*select);
      select->BindInt(1, kind);
      select->BindInt(2, after);
      CONCORD_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      after = select->ColumnInt(0);
      lengths.push_back(static_cast<int>(after));
    }
    return lengths;
  });
}

absl::StatusOr<bool> SqliteStore::PostingsComplete() {
  return WithReader([](Handle& reader) -> absl::StatusOr<bool> {
    CONCORD_ASSIGN_OR_RETURN(int64_t value,
                             reader.db.QueryInt("SELECT value FROM store_meta WHERE name = 'postings_complete'"));
    return value == 1;
  });
}

absl::StatusOr<int64_t> SqliteStore::ReindexBatch(int64_t after_oid, size_t limit, ReindexProgress& progress) {
  static const std::string kSelect =
      "SELECT o.oid, v.id, v.type, v.spec_version, v.json FROM objects o JOIN versions v ON v.seq = o.current_seq "
      "WHERE o.oid > ?1 ORDER BY o.oid LIMIT ?2";
  static const std::string kDeleteRange = "DELETE FROM postings WHERE oid > ?1 AND oid <= ?2";
  struct Row {
    int64_t oid;
    stix::Object object;
  };
  std::vector<Row> rows;
  {
    CONCORD_ASSIGN_OR_RETURN(Statement * select, Prepared(kSelect));
    Statement::Scoped scoped(*select);
    select->BindInt(1, after_oid);
    select->BindInt(2, static_cast<int64_t>(limit));
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      Row& r = rows.emplace_back();
      r.oid = select->ColumnInt(0);
      r.object.id = select->ColumnText(1);
      r.object.type = select->ColumnText(2);
      r.object.spec_version = select->ColumnText(3);
      auto json = ParseJson(select->ColumnText(4));
      if (!json.ok() || !json->is_object()) {
        return absl::DataLossError(fmt::format("object {}: the stored JSON does not parse", r.object.id));
      }
      r.object.json = std::move(json->get_object());
    }
  }
  if (rows.empty()) return after_oid;
  {
    CONCORD_ASSIGN_OR_RETURN(Statement * remove, Prepared(kDeleteRange));
    Statement::Scoped scoped(*remove);
    remove->BindInt(1, after_oid);
    remove->BindInt(2, rows.back().oid);
    CONCORD_RETURN_IF_ERROR(remove->Step().status());
  }
  std::vector<Posting> postings;
  for (const Row& r : rows) {
    postings.clear();
    options_.postings->Extract(r.object, postings);
    CanonicalisePostings(postings);
    CONCORD_RETURN_IF_ERROR(InsertPostings(r.oid, postings));
    progress.postings += static_cast<int64_t>(postings.size());
  }
  progress.objects_done += static_cast<int64_t>(rows.size());
  return rows.back().oid;
}

absl::Status SqliteStore::ReindexPostings(const std::function<void(const ReindexProgress&)>& progress) {
  if (read_only_) return absl::FailedPreconditionError("store is open read-only");
  if (options_.postings == nullptr) {
    return absl::FailedPreconditionError("rebuilding postings needs a posting extractor (OpenOptions::postings)");
  }
  // Small enough that a concurrent ingest waits at most one batch for the writer.
  constexpr size_t kBatch = 2000;
  ReindexProgress done;
  {
    std::lock_guard lock(mu_);
    CONCORD_ASSIGN_OR_RETURN(done.objects_total, writer_.db.QueryInt("SELECT count(*) FROM objects"));
    // 2: rebuilding. A Put without an extractor meanwhile sets 0, and then the end does not claim completeness.
    CONCORD_RETURN_IF_ERROR(writer_.db.Exec("UPDATE store_meta SET value = 2 WHERE name = 'postings_complete'"));
  }
  int64_t after = 0;
  while (true) {
    int64_t last = 0;
    {
      std::lock_guard lock(mu_);
      CONCORD_RETURN_IF_ERROR(writer_.db.Exec("BEGIN IMMEDIATE"));
      auto batch = ReindexBatch(after, kBatch, done);
      absl::Status status = batch.status();
      if (status.ok()) status = writer_.db.Exec("COMMIT");
      if (!status.ok()) {
        (void)writer_.db.Exec("ROLLBACK");  // the batch's error is the one to report
        return Annotate(status, "rebuilding postings");
      }
      last = *batch;
    }
    if (last == after) break;
    after = last;
    if (progress) progress(done);
  }
  std::lock_guard lock(mu_);
  return writer_.db.Exec("UPDATE store_meta SET value = 1 WHERE name = 'postings_complete' AND value = 2");
}

#undef CONCORD_POSTING_COLUMNS
#undef CONCORD_LEAN_COLUMNS
#undef CONCORD_LISTED_COLUMNS
#undef CONCORD_STORED_COLUMNS

}  // namespace concord::store
