#include "store/postgres/postgres_store.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"
#include "store/postgres/locks.h"
#include "store/postgres/migrations.h"

namespace concord::store {

using postgres::Connection;
using postgres::Param;
using postgres::Result;

namespace {

constexpr size_t kMaxLimit = 10000;

// Columns read back into a StoredObject, in ReadStored's order; `v` is versions, `o` the id's objects row.
#define CONCORD_STORED_COLUMNS                                                                              \
  "v.seq, v.id, v.type, v.spec_version, v.created, v.modified, v.created_by_ref, v.revoked, v.tlp, v.added, " \
  "v.json, o.current_seq = v.seq, v.distribution, v.sharing_group_ref"
// The same for posting searches, without the JSON.
#define CONCORD_POSTING_COLUMNS                                                                             \
  "v.seq, v.id, v.type, v.spec_version, v.created, v.modified, v.created_by_ref, v.revoked, v.tlp, v.added, " \
  "'', true, v.distribution, v.sharing_group_ref"

const std::string kSelectCurrent = "SELECT " CONCORD_STORED_COLUMNS
                                   " FROM objects o JOIN versions v ON v.seq = o.current_seq "
                                   "WHERE o.id_hash = $2 AND o.id = $1";
const std::string kSelectOneVersion = "SELECT " CONCORD_STORED_COLUMNS
                                      " FROM objects o JOIN versions v ON v.oid = o.oid "
                                      "WHERE o.id_hash = $2 AND o.id = $1 AND v.version_key = $3";
const std::string kSelectAllVersions = "SELECT " CONCORD_STORED_COLUMNS
                                       " FROM objects o JOIN versions v ON v.oid = o.oid "
                                       "WHERE o.id_hash = $2 AND o.id = $1 ORDER BY v.version_key";

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

StoredObject ReadStored(const Result& r, int row) {
  StoredObject out;
  out.seq = r.Int(row, 0);
  out.id = r.Text(row, 1);
  out.type = r.Text(row, 2);
  out.spec_version = r.Text(row, 3);
  out.created = r.Text(row, 4);
  out.modified = r.Text(row, 5);
  out.created_by_ref = r.Text(row, 6);
  out.revoked = r.Bool(row, 7);
  out.tlp = TlpFromColumn(r.Int(row, 8));
  out.added = FromUnixMicros(r.Int(row, 9));
  out.json = r.Text(row, 10);
  out.current = r.Bool(row, 11);
  if (!r.IsNull(row, 12)) out.distribution = static_cast<int>(r.Int(row, 12));
  out.sharing_group_ref = r.Text(row, 13);
  return out;
}

std::optional<std::array<uint8_t, 16>> ReadAddress(const Result& r, int row, int column) {
  const std::string bytes = r.Bytes(row, column);
  if (bytes.size() != 16) return std::nullopt;
  std::array<uint8_t, 16> out{};
  std::memcpy(out.data(), bytes.data(), 16);
  return out;
}

// How a version is named in messages: its modified, else its created (the version key as written).
std::string VersionLabel(std::string_view modified, std::string_view created) {
  return std::string(modified.empty() ? created : modified);
}

void Field(std::string& line, std::string_view value) {
  postgres::AppendCopyText(line, value);
  line += '\t';
}
void Field(std::string& line, int64_t value) {
  line += std::to_string(value);
  line += '\t';
}
void Field(std::string& line, const std::string& value) { Field(line, std::string_view(value)); }
void Field(std::string& line, const std::optional<std::string>& value) {
  if (value) {
    postgres::AppendCopyText(line, *value);
  } else {
    line += postgres::kCopyNull;
  }
  line += '\t';
}
void Bool(std::string& line, bool value) { line += value ? "t\t" : "f\t"; }
// Ends a COPY line: the last field's tab becomes a newline.
void EndLine(std::string& line) { line.back() = '\n'; }

}  // namespace

// ---- the batch's state, computed in memory under the writers' lock

struct PostgresStore::Batch {
  struct Object {
    int64_t oid = 0;
    std::string id;
    std::string type;      // set for new objects only
    bool in_db = false;    // stored before this batch
    bool changed = false;  // in_db and its current version or revocation changed
    int64_t current_seq = 0;
    std::string current_key;
    bool current_revoked = false;
    std::optional<std::string> revoked_since;
  };
  struct Version {
    std::string content_hash;
    std::string label;
  };
  struct NewVersion {
    size_t row = 0;  // index in the batch
    int64_t seq = 0;
    int64_t oid = 0;
  };
  struct TypeDelta {
    int64_t objects = 0;
    int64_t versions = 0;
    int64_t revoked = 0;
  };

  int64_t first_new_oid = 0;  // oids from here on were given by this batch: no rows of theirs are stored yet
  std::vector<Object> objects;                            // every id of the batch, stored or new
  std::unordered_map<std::string_view, size_t> by_id;     // id → objects index (views into objects[].id)
  std::map<std::pair<int64_t, std::string>, Version> versions;  // (oid, version key) → stored version
  std::vector<NewVersion> new_versions;
  // Objects whose current version changed in this batch: their postings are replaced by these (empty when
  // stored by an opener without extractor). Ordered so that COPY input is grouped by object.
  std::map<int64_t, std::vector<Posting>> postings;
  std::map<std::string, TypeDelta> deltas;
  bool postings_missing = false;
};

// ---- opening

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Create(const std::string& uri,
                                                                     const OpenOptions& options) {
  const Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Instance();
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  auto opened = [&]() -> absl::StatusOr<std::unique_ptr<PostgresStore>> {
    CONCORD_ASSIGN_OR_RETURN(Connection db, Connection::Open(uri));
    if (options.sync_full) CONCORD_RETURN_IF_ERROR(db.Exec("SET synchronous_commit = on"));
    CONCORD_ASSIGN_OR_RETURN(const int version, postgres::EnsureSchema(db, options.read_only, clock));
    CONCORD_ASSIGN_OR_RETURN(Result key_row, db.Query("SELECT value FROM store_meta WHERE name = 'id_hash_key'"));
    IdHashKey key{};
    const std::string bytes = key_row.rows() == 1 ? key_row.Bytes(0, 0) : std::string();
    if (bytes.size() != key.size()) return absl::DataLossError("store_meta: id_hash_key is not 16 bytes");
    std::memcpy(key.data(), bytes.data(), key.size());
    return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(db), uri, options, clock, version, key));
  }();
  if (!opened.ok()) return Annotate(opened.status(), fmt::format("opening store '{}'", postgres::RedactUri(uri)));
  return opened;
}

PostgresStore::PostgresStore(Connection writer, std::string uri, const OpenOptions& options, const Clock& clock,
                             int schema_version, const IdHashKey& id_hash_key)
    : uri_(std::move(uri)),
      options_(options),
      clock_(clock),
      read_only_(options.read_only),
      schema_version_(schema_version),
      id_hash_key_(id_hash_key) {
  std::lock_guard lock(mu_);
  writer_ = std::move(writer);
}

int64_t PostgresStore::IdHash(std::string_view id) const {
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, reinterpret_cast<const unsigned char*>(id.data()), id.size(), id_hash_key_.data());
  uint64_t h = 0;
  std::memcpy(&h, out, sizeof h);
  return static_cast<int64_t>(h);
}

int64_t PostgresStore::PostingHash(uint8_t kind, std::string_view value) const {
  std::string input;
  input.reserve(value.size() + 1);
  input += static_cast<char>(kind);
  input.append(value);
  return IdHash(input);
}

template <typename Fn>
auto PostgresStore::WithReader(Fn&& read) -> decltype(read(std::declval<Connection&>())) {
  std::unique_ptr<Connection> reader;
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (reader == nullptr) {
    auto opened = Connection::Open(uri_);
    if (!opened.ok()) return opened.status();
    reader = std::make_unique<Connection>(std::move(*opened));
  }
  auto result = read(*reader);
  reader->RollbackQuietly();  // a read that failed inside a transaction leaves none open
  if (reader->ok() && reader->idle()) {
    std::lock_guard lock(readers_mu_);
    if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(reader));
  }
  return result;
}

// ---- writing

absl::StatusOr<std::vector<PutResult>> PostgresStore::PutEncoded(std::span<const EncodedObject> rows) {
  if (read_only_) return absl::FailedPreconditionError("store is open read-only");
  if (rows.empty()) return std::vector<PutResult>{};
  std::lock_guard lock(mu_);
  if (!writer_.ok()) {
    // The server went away (restart, network): one new connection, then the batch as usual.
    auto reconnected = Connection::Open(uri_);
    if (!reconnected.ok()) return Annotate(reconnected.status(), "postgresql: put batch");
    writer_ = std::move(*reconnected);
    if (options_.sync_full) CONCORD_RETURN_IF_ERROR(writer_.Exec("SET synchronous_commit = on"));
  }
  // The writers' lock, held until COMMIT: seq order is commit order (postgres_store.h).
  absl::StatusOr<std::vector<PutResult>> results;
  if (absl::Status begun = writer_.Exec(fmt::format("BEGIN; SELECT pg_advisory_xact_lock({})", postgres::kWriterLock));
      begun.ok()) {
    results = PutInTransaction(rows);
  } else {
    results = begun;
  }
  if (results.ok()) {
    // Other processes hear of the batch through LISTEN/NOTIFY (store/change_listener.h); the notification
    // is delivered only if the COMMIT below succeeds.
    int64_t highest = 0;
    for (const PutResult& r : *results) highest = std::max(highest, r.seq);
    absl::Status committed =
        highest > 0 ? writer_.Exec(fmt::format("NOTIFY {}, '{}'; COMMIT", postgres::kObjectsChannel, highest))
                    : writer_.Exec("COMMIT");
    if (committed.ok()) return results;
    results = committed;
  }
  writer_.RollbackQuietly();
  return Annotate(results.status(), "postgresql: put batch");
}

absl::StatusOr<std::vector<PutResult>> PostgresStore::PutInTransaction(std::span<const EncodedObject> rows) {
  Batch batch;
  int64_t next_seq = 0;
  int64_t next_oid = 0;
  // `added` strictly increases with seq, across batches and processes (store.h): read under the writers'
  // lock, one microsecond apart within the batch, never at or before the last stored version's.
  int64_t first_added = clock_.Now().UnixMicros();
  {
    CONCORD_ASSIGN_OR_RETURN(Result max, writer_.Query("SELECT coalesce((SELECT max(seq) FROM versions), 0), "
                                                       "coalesce((SELECT max(oid) FROM objects), 0), "
                                                       "(SELECT added FROM versions ORDER BY seq DESC LIMIT 1)"));
    next_seq = max.Int(0, 0) + 1;
    next_oid = max.Int(0, 1) + 1;
    if (!max.IsNull(0, 2)) first_added = std::max(first_added, max.Int(0, 2) + 1);
  }
  batch.first_new_oid = next_oid;
  const int64_t first_seq = next_seq;

  // The stored state of every id of the batch, in one query.
  {
    // One index probe per id, in hash order (neighbouring probes share b-tree pages). The LATERAL subquery
    // behind OFFSET 0 keeps the plan a nested loop over objects_id_hash: given `id_hash = ANY(10,000
    // values)`, the planner preferred a sequential scan of the whole table once it held some 100,000 rows,
    // which made every batch cost in proportion to the store (100 ms per batch at 1M objects, against 18).
    std::vector<std::pair<int64_t, std::string_view>> keys;
    std::unordered_map<std::string_view, bool> seen;
    for (const EncodedObject& row : rows) {
      if (seen.emplace(row.object->id, true).second) keys.emplace_back(IdHash(row.object->id), row.object->id);
    }
    std::sort(keys.begin(), keys.end());
    std::vector<int64_t> hashes;
    std::vector<std::string> ids;
    hashes.reserve(keys.size());
    ids.reserve(keys.size());
    for (const auto& [hash, id] : keys) {
      hashes.push_back(hash);
      ids.emplace_back(id);
    }
    const std::array<Param, 2> params = {postgres::IntArray(hashes), postgres::TextArray(ids)};
    CONCORD_ASSIGN_OR_RETURN(
        Result found,
        writer_.Query("SELECT o.oid, o.id, o.current_seq, o.version_key, o.revoked, o.revoked_since "
                      "FROM unnest($1::bigint[], $2::text[]) AS k (id_hash, id) CROSS JOIN LATERAL "
                      "(SELECT * FROM objects WHERE objects.id_hash = k.id_hash AND objects.id = k.id OFFSET 0) o",
                      params));
    batch.objects.reserve(ids.size());
    for (int r = 0; r < found.rows(); ++r) {
      Batch::Object& o = batch.objects.emplace_back();
      o.oid = found.Int(r, 0);
      o.id = found.Text(r, 1);
      o.in_db = true;
      o.current_seq = found.Int(r, 2);
      o.current_key = found.Text(r, 3);
      o.current_revoked = found.Bool(r, 4);
      if (!found.IsNull(r, 5)) o.revoked_since = std::string(found.Text(r, 5));
    }
  }
  // objects[] does not grow past ids.size() (reserved), so views into its ids stay valid.
  for (size_t i = 0; i < batch.objects.size(); ++i) batch.by_id.emplace(batch.objects[i].id, i);

  // The stored versions the rules may ask about: each row's (oid, version key) and each revoked object's
  // first revoked version (for the rejection's message).
  {
    std::vector<int64_t> oids;
    std::vector<std::string> keys;
    for (const EncodedObject& row : rows) {
      auto it = batch.by_id.find(row.object->id);
      if (it == batch.by_id.end()) continue;
      oids.push_back(batch.objects[it->second].oid);
      keys.push_back(row.version_key);
    }
    for (const Batch::Object& o : batch.objects) {
      if (!o.revoked_since) continue;
      oids.push_back(o.oid);
      keys.push_back(*o.revoked_since);
    }
    if (!oids.empty()) {
      const std::array<Param, 2> params = {postgres::IntArray(oids), postgres::TextArray(keys)};
      CONCORD_ASSIGN_OR_RETURN(
          Result found, writer_.Query("SELECT v.oid, v.version_key, v.content_hash, v.modified, v.created "
                                      "FROM versions v JOIN unnest($1::bigint[], $2::text[]) AS k (oid, key) "
                                      "ON v.oid = k.oid AND v.version_key = k.key",
                                      params));
      for (int r = 0; r < found.rows(); ++r) {
        batch.versions[{found.Int(r, 0), std::string(found.Text(r, 1))}] =
            Batch::Version{std::string(found.Text(r, 2)), VersionLabel(found.Text(r, 3), found.Text(r, 4))};
      }
    }
  }

  // The store's rules, row by row in batch order, over the in-memory state (store/sqlite/sqlite_store.cc
  // PutOne applies the same rules row by row in SQL).
  std::vector<PutResult> results;
  results.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const EncodedObject& row = rows[i];
    const stix::Object& object = *row.object;
    auto it = batch.by_id.find(object.id);
    const bool known = it != batch.by_id.end();
    if (known) {
      Batch::Object& o = batch.objects[it->second];
      if (auto same = batch.versions.find({o.oid, row.version_key}); same != batch.versions.end()) {
        if (same->second.content_hash == row.content_hash) {
          results.push_back({PutOutcome::kUnchanged, 0, {}});
          continue;
        }
        std::string reason =
            row.version_key.empty()
                ? std::string("a different object with this id is already stored (unversioned)")
                : fmt::format("a different version with modified {} is already stored", same->second.label);
        results.push_back({PutOutcome::kConflict, 0, std::move(reason)});
        continue;
      }
      // STIX 2.1 §3.6: revocation is final; a later version may only restate it.
      if (o.revoked_since && row.version_key > *o.revoked_since && !object.revoked) {
        auto revoked = batch.versions.find({o.oid, *o.revoked_since});
        results.push_back({PutOutcome::kRejected, 0,
                           fmt::format("object is revoked (since version {}); a later version must stay revoked",
                                       revoked != batch.versions.end() ? revoked->second.label : *o.revoked_since)});
        continue;
      }
    } else {
      Batch::Object& o = batch.objects.emplace_back();
      o.oid = next_oid++;
      o.id = object.id;
      o.type = object.type;
      it = batch.by_id.emplace(batch.objects.back().id, batch.objects.size() - 1).first;
    }
    Batch::Object& o = batch.objects[it->second];
    const int64_t seq = next_seq++;
    batch.new_versions.push_back({i, seq, o.oid});
    batch.versions[{o.oid, row.version_key}] = Batch::Version{row.content_hash, VersionLabel(row.modified, row.created)};

    Batch::TypeDelta& delta = batch.deltas[object.type];
    ++delta.versions;
    std::optional<std::string> revoked_since = o.revoked_since;
    if (object.revoked && (!revoked_since || row.version_key < *revoked_since)) revoked_since = row.version_key;
    const bool becomes_current = !known || row.version_key > o.current_key;

    if (becomes_current) {
      std::vector<Posting>& postings = batch.postings[o.oid];
      postings.clear();
      if (options_.postings == nullptr) {
        batch.postings_missing = true;
      } else if (row.has_postings) {
        postings = row.postings;
      } else {
        options_.postings->Extract(object, postings);
        CanonicalisePostings(postings);
      }
    }

    if (!known) {
      o.current_seq = seq;
      o.current_key = row.version_key;
      o.current_revoked = object.revoked;
      o.revoked_since = revoked_since;
      ++delta.objects;
      if (object.revoked) ++delta.revoked;
      results.push_back({PutOutcome::kNew, seq, {}});
      continue;
    }
    if (becomes_current || revoked_since != o.revoked_since) {
      const bool revoked_now = becomes_current ? object.revoked : o.current_revoked;
      delta.revoked += static_cast<int64_t>(revoked_now) - static_cast<int64_t>(o.current_revoked);
      if (becomes_current) {
        o.current_seq = seq;
        o.current_key = row.version_key;
      }
      o.current_revoked = revoked_now;
      o.revoked_since = revoked_since;
      o.changed = o.in_db;
    }
    results.push_back({PutOutcome::kNewVersion, seq, {}});
  }

  // Seqs of the batch are first_seq, first_seq + 1, …: each version's added is first_added + (seq - first_seq).
  CONCORD_RETURN_IF_ERROR(WriteBatch(batch, rows, first_added - first_seq));
  return results;
}

void PostgresStore::AppendPostings(std::string& data, int64_t oid, const std::vector<Posting>& postings) const {
  for (const Posting& p : postings) {
    Field(data, oid);
    Field(data, static_cast<int64_t>(p.kind));
    Field(data, PostingHash(p.kind, p.value));
    Field(data, p.value);
    if (p.address) {
      postgres::AppendCopyBytes(data, *p.address);
      data += '\t';
    } else {
      data += postgres::kCopyNull;
      data += '\t';
    }
    if (p.prefix_length >= 0) {
      Field(data, static_cast<int64_t>(p.prefix_length));
    } else {
      data += postgres::kCopyNull;
      data += '\t';
    }
    EndLine(data);
  }
}

absl::Status PostgresStore::WriteBatch(const Batch& batch, std::span<const EncodedObject> rows, int64_t added_base) {
  // Names the batch item a failed COPY line came from.
  auto item = [&](size_t row, const absl::Status& status) {
    return Annotate(status, fmt::format("batch item {} ({})", row, rows[row].object->id));
  };

  if (!batch.new_versions.empty()) {
    // Formatted and sent in pieces of about 1 MiB, so that the server inserts while the rest is formatted.
    size_t next = 0;
    auto fill = [&](std::string& data) {
      for (; next < batch.new_versions.size() && data.size() < (size_t{1} << 20); ++next) {
        const Batch::NewVersion& v = batch.new_versions[next];
        const EncodedObject& row = rows[v.row];
        const stix::Object& object = *row.object;
        Field(data, v.seq);
        Field(data, v.oid);
        Field(data, object.id);
        Field(data, object.type);
        Field(data, object.spec_version);
        Field(data, row.created);
        Field(data, row.modified);
        Field(data, row.version_key);
        Field(data, object.created_by_ref);
        Bool(data, object.revoked);
        Field(data, row.valid_from);
        Field(data, row.valid_until);
        Field(data, static_cast<int64_t>(object.tlp));
        Field(data, object.distribution ? std::optional<std::string>(std::to_string(*object.distribution)) : std::nullopt);
        Field(data, object.sharing_group_ref);
        Field(data, added_base + v.seq);
        Field(data, row.content_hash);
        Field(data, row.json);
        EndLine(data);
      }
      return next < batch.new_versions.size();
    };
    int line = 0;
    absl::Status copied = writer_.CopyIn(
        "COPY versions (seq, oid, id, type, spec_version, created, modified, version_key, created_by_ref, revoked, "
        "valid_from, valid_until, tlp, distribution, sharing_group_ref, added, content_hash, json) FROM STDIN",
        fill, &line);
    if (!copied.ok()) {
      if (line >= 1 && static_cast<size_t>(line) <= batch.new_versions.size()) {
        return item(batch.new_versions[static_cast<size_t>(line) - 1].row, copied);
      }
      return Annotate(copied, "versions");
    }
  }

  // New objects by COPY; changed ones by one UPDATE over arrays.
  {
    std::string inserted;
    std::vector<int64_t> oids, seqs;
    std::vector<std::string> keys, revoked;
    std::vector<std::optional<std::string>> since;
    for (const Batch::Object& o : batch.objects) {
      if (!o.in_db) {
        Field(inserted, o.oid);
        Field(inserted, o.id);
        Field(inserted, IdHash(o.id));
        Field(inserted, o.type);
        Field(inserted, o.current_seq);
        Field(inserted, o.current_key);
        Bool(inserted, o.current_revoked);
        Field(inserted, o.revoked_since);
        EndLine(inserted);
      } else if (o.changed) {
        oids.push_back(o.oid);
        seqs.push_back(o.current_seq);
        keys.push_back(o.current_key);
        revoked.emplace_back(o.current_revoked ? "t" : "f");
        since.push_back(o.revoked_since);
      }
    }
    if (!inserted.empty()) {
      CONCORD_RETURN_IF_ERROR(Annotate(
          writer_.CopyIn("COPY objects (oid, id, id_hash, type, current_seq, version_key, revoked, revoked_since) "
                         "FROM STDIN",
                         inserted),
          "objects"));
    }
    if (!oids.empty()) {
      const std::array<Param, 5> params = {postgres::IntArray(oids), postgres::IntArray(seqs),
                                           postgres::TextArray(keys),
                                           "{" + [&] {
                                             std::string out;
                                             for (size_t i = 0; i < revoked.size(); ++i) {
                                               if (i > 0) out += ',';
                                               out += revoked[i];
                                             }
                                             return out;
                                           }() + "}",
                                           postgres::TextArray(since)};
      CONCORD_RETURN_IF_ERROR(Annotate(
          writer_
              .Query("UPDATE objects o SET current_seq = u.seq, version_key = u.key, revoked = u.revoked, "
                     "revoked_since = u.since FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::boolean[], "
                     "$5::text[]) AS u (oid, seq, key, revoked, since) WHERE o.oid = u.oid",
                     params)
              .status(),
          "objects"));
    }
  }

  // Postings: the old ones of every object whose current version changed go; the new current ones come.
  if (!batch.postings.empty()) {
    std::vector<int64_t> stale;
    std::string data;
    std::vector<int64_t> line_oids;  // COPY line → object, for messages
    for (const auto& [oid, postings] : batch.postings) {
      // Objects new in this batch have none stored: asking the server to look (one index probe each) cost an
      // import of 1M new objects 2.8 s of its 41.
      if (oid < batch.first_new_oid) stale.push_back(oid);
      AppendPostings(data, oid, postings);
      line_oids.insert(line_oids.end(), postings.size(), oid);
    }
    if (!stale.empty()) {
      const std::array<Param, 1> params = {postgres::IntArray(stale)};
      CONCORD_RETURN_IF_ERROR(
          Annotate(writer_.Query("DELETE FROM postings WHERE oid = ANY($1::bigint[])", params).status(), "postings"));
    }
    if (!data.empty()) {
      int line = 0;
      absl::Status copied =
          writer_.CopyIn("COPY postings (oid, kind, vhash, value, address, prefix) FROM STDIN", data, &line);
      if (!copied.ok()) {
        if (line >= 1 && static_cast<size_t>(line) <= line_oids.size()) {
          const int64_t oid = line_oids[static_cast<size_t>(line) - 1];
          for (const Batch::NewVersion& v : batch.new_versions) {
            if (v.oid == oid) return item(v.row, Annotate(copied, "postings"));
          }
        }
        return Annotate(copied, "postings");
      }
    }
  }

  if (!batch.deltas.empty()) {
    std::vector<std::string> types;
    std::vector<int64_t> objects, versions, revoked;
    for (const auto& [type, delta] : batch.deltas) {
      types.push_back(type);
      objects.push_back(delta.objects);
      versions.push_back(delta.versions);
      revoked.push_back(delta.revoked);
    }
    const std::array<Param, 4> params = {postgres::TextArray(types), postgres::IntArray(objects),
                                         postgres::IntArray(versions), postgres::IntArray(revoked)};
    CONCORD_RETURN_IF_ERROR(Annotate(
        writer_
            .Query("INSERT INTO type_counts (type, objects, versions, revoked) "
                   "SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) "
                   "ON CONFLICT (type) DO UPDATE SET objects = type_counts.objects + excluded.objects, "
                   "versions = type_counts.versions + excluded.versions, "
                   "revoked = type_counts.revoked + excluded.revoked",
                   params)
            .status(),
        "type counts"));
  }
  if (batch.postings_missing) {
    CONCORD_RETURN_IF_ERROR(
        writer_.Exec("UPDATE store_state SET value = 0 WHERE name = 'postings_complete' AND value <> 0"));
  }
  return absl::OkStatus();
}

// ---- reading

absl::StatusOr<std::vector<StoredObject>> PostgresStore::ReadObjects(const std::string& sql, std::string_view id,
                                                                     std::optional<std::string> version_key) {
  std::vector<Param> params = {std::string(id), std::to_string(IdHash(id))};
  if (version_key) params.push_back(std::move(*version_key));
  return WithReader([&](Connection& reader) -> absl::StatusOr<std::vector<StoredObject>> {
    CONCORD_ASSIGN_OR_RETURN(Result found, reader.Query(sql, params));
    std::vector<StoredObject> out;
    out.reserve(static_cast<size_t>(found.rows()));
    for (int r = 0; r < found.rows(); ++r) out.push_back(ReadStored(found, r));
    return out;
  });
}

absl::StatusOr<StoredObject> PostgresStore::Get(std::string_view id) {
  auto found = ReadObjects(kSelectCurrent, id, std::nullopt);
  if (!found.ok()) return Annotate(found.status(), "postgresql: get");
  if (found->empty()) return absl::NotFoundError(fmt::format("object {} not found", id));
  return std::move(found->front());
}

absl::StatusOr<StoredObject> PostgresStore::GetVersion(std::string_view id, const Timestamp& modified) {
  auto found = ReadObjects(kSelectOneVersion, id, FormatSortable(modified));
  if (!found.ok()) return Annotate(found.status(), "postgresql: get version");
  if (found->empty()) {
    return absl::NotFoundError(fmt::format("object {} has no version modified {}", id, FormatRfc3339(modified)));
  }
  return std::move(found->front());
}

absl::StatusOr<std::vector<StoredObject>> PostgresStore::Versions(std::string_view id) {
  auto found = ReadObjects(kSelectAllVersions, id, std::nullopt);
  if (!found.ok()) return Annotate(found.status(), "postgresql: versions");
  if (found->empty()) return absl::NotFoundError(fmt::format("object {} not found", id));
  return found;
}

std::string PostgresStore::ListSql(const Query& query, std::vector<Param>& params) const {
  // As on SQLite: the current-only listing walks objects by current_seq; one-value filters use '=' so that
  // the (type, seq) indexes give seq order without a sort; lists go in as array parameters.
  const char* seq = query.current_only ? "o.current_seq" : "v.seq";
  const char* key = query.current_only ? "o.version_key" : "v.version_key";
  const char* type = query.current_only ? "o.type" : "v.type";
  std::string sql = query.current_only
                        ? "SELECT " CONCORD_STORED_COLUMNS " FROM objects o JOIN versions v ON v.seq = o.current_seq"
                        : "SELECT " CONCORD_STORED_COLUMNS " FROM versions v JOIN objects o ON o.oid = v.oid";
  auto param = [&](std::string value) {
    params.push_back(std::move(value));
    return fmt::format("${}", params.size());
  };
  sql += fmt::format(" WHERE {} > {}", seq, param(std::to_string(query.after_seq)));
  if (query.types.size() == 1) sql += fmt::format(" AND {} = {}", type, param(query.types.front()));
  if (query.types.size() > 1) sql += fmt::format(" AND {} = ANY({}::text[])", type, param(postgres::TextArray(query.types)));
  if (query.ids.size() == 1) {
    sql += fmt::format(" AND o.id_hash = {} AND o.id = {}", param(std::to_string(IdHash(query.ids.front()))),
                       param(query.ids.front()));
  }
  if (query.ids.size() > 1) {
    std::vector<int64_t> hashes;
    for (const std::string& id : query.ids) hashes.push_back(IdHash(id));
    sql += fmt::format(" AND o.id_hash = ANY({}::bigint[]) AND o.id = ANY({}::text[])",
                       param(postgres::IntArray(hashes)), param(postgres::TextArray(query.ids)));
  }
  if (query.modified_since) sql += fmt::format(" AND {} >= {}", key, param(FormatSortable(*query.modified_since)));
  if (query.modified_before) {
    sql += fmt::format(" AND {0} <> '' AND {0} < {1}", key, param(FormatSortable(*query.modified_before)));
  }
  sql += fmt::format(" ORDER BY {}", seq);
  return sql;
}

absl::StatusOr<Page> PostgresStore::List(const Query& query) {
  const size_t limit = std::clamp<size_t>(query.limit, 1, kMaxLimit);
  std::vector<Param> params;
  std::string sql = ListSql(query, params);
  // One row more than the page tells whether another page follows.
  params.push_back(std::to_string(limit + 1));
  sql += fmt::format(" LIMIT ${}", params.size());

  auto page = WithReader([&](Connection& reader) -> absl::StatusOr<Page> {
    CONCORD_ASSIGN_OR_RETURN(Result found, reader.Query(sql, params));
    Page out;
    out.next_after_seq = query.after_seq;
    const int n = std::min(found.rows(), static_cast<int>(limit));
    out.objects.reserve(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r) out.objects.push_back(ReadStored(found, r));
    if (!out.objects.empty()) out.next_after_seq = out.objects.back().seq;
    out.more = found.rows() > static_cast<int>(limit);
    return out;
  });
  if (!page.ok()) return Annotate(page.status(), "postgresql: list");
  return page;
}

absl::Status PostgresStore::Sweep(const Query& query, const std::function<bool(const StoredObject&)>& visit) {
  const size_t batch = std::clamp<size_t>(query.limit, 1, kMaxLimit);
  std::vector<Param> params;
  const std::string sql = ListSql(query, params);
  absl::Status swept = WithReader([&](Connection& reader) -> absl::Status {
    CONCORD_RETURN_IF_ERROR(reader.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    absl::Status status = [&]() -> absl::Status {
      CONCORD_RETURN_IF_ERROR(reader.Query("DECLARE concord_sweep NO SCROLL CURSOR FOR " + sql, params).status());
      const std::string fetch = fmt::format("FETCH FORWARD {} FROM concord_sweep", batch);
      while (true) {
        CONCORD_ASSIGN_OR_RETURN(Result rows, reader.Query(fetch));
        for (int r = 0; r < rows.rows(); ++r) {
          if (!visit(ReadStored(rows, r))) return absl::OkStatus();
        }
        if (rows.rows() < static_cast<int>(batch)) return absl::OkStatus();
      }
    }();
    // COMMIT closes the cursor; after a failure the transaction is rolled back instead.
    if (status.ok()) return reader.Exec("COMMIT");
    reader.RollbackQuietly();
    return status;
  });
  return swept.ok() ? swept : Annotate(swept, "postgresql: sweep");
}

absl::StatusOr<Stats> PostgresStore::GetStats() {
  Stats stats;
  stats.schema_version = schema_version_;
  auto read = WithReader([&](Connection& reader) -> absl::Status {
    // One snapshot, so the figures agree with each other even while others write.
    CONCORD_RETURN_IF_ERROR(reader.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    CONCORD_ASSIGN_OR_RETURN(Result counts,
                             reader.Query("SELECT type, objects, versions, revoked FROM type_counts ORDER BY type"));
    for (int r = 0; r < counts.rows(); ++r) {
      TypeCount& count = stats.by_type[std::string(counts.Text(r, 0))];
      count.objects = counts.Int(r, 1);
      count.versions = counts.Int(r, 2);
      count.revoked = counts.Int(r, 3);
      stats.objects += count.objects;
      stats.versions += count.versions;
    }
    CONCORD_ASSIGN_OR_RETURN(stats.last_seq, reader.QueryInt("SELECT coalesce(max(seq), 0) FROM versions"));
    CONCORD_ASSIGN_OR_RETURN(stats.size_bytes, reader.QueryInt("SELECT pg_database_size(current_database())"));
    return reader.Exec("COMMIT");
  });
  if (!read.ok()) return Annotate(read, "postgresql: stats");
  return stats;
}

absl::StatusOr<int64_t> PostgresStore::LastSeq() {
  // Seqs are committed in order (the writers' lock), so the largest visible one has every smaller one visible.
  auto last = WithReader([](Connection& reader) { return reader.QueryInt("SELECT coalesce(max(seq), 0) FROM versions"); });
  if (!last.ok()) return Annotate(last.status(), "postgresql: last seq");
  return last;
}

// ---- postings

absl::StatusOr<PostingPage> PostgresStore::FindPostings(const PostingQuery& query) {
  static const std::string kSql =
      "SELECT " CONCORD_POSTING_COLUMNS ", p.oid FROM postings p JOIN objects o ON o.oid = p.oid "
      "JOIN versions v ON v.seq = o.current_seq "
      "WHERE p.vhash = $1 AND p.kind = $2 AND p.value = $3 AND p.oid > $4 ORDER BY p.oid LIMIT $5";
  const size_t limit = std::clamp<size_t>(query.limit, 1, kMaxLimit);
  const std::array<Param, 5> params = {std::to_string(PostingHash(query.kind, query.value)), std::to_string(query.kind),
                                       query.value, std::to_string(query.after), std::to_string(limit + 1)};
  auto page = WithReader([&](Connection& reader) -> absl::StatusOr<PostingPage> {
    CONCORD_ASSIGN_OR_RETURN(Result found, reader.Query(kSql, params));
    PostingPage out;
    out.next_after = query.after;
    const int n = std::min(found.rows(), static_cast<int>(limit));
    for (int r = 0; r < n; ++r) {
      PostingHit& hit = out.hits.emplace_back();
      hit.object = ReadStored(found, r);
      hit.cursor = found.Int(r, 14);
      out.next_after = hit.cursor;
    }
    out.more = found.rows() > static_cast<int>(limit);
    return out;
  });
  if (!page.ok()) return Annotate(page.status(), "postgresql: find postings");
  return page;
}

absl::StatusOr<int64_t> PostgresStore::CountPostings(uint8_t kind, std::string_view value, int64_t at_most) {
  static const std::string kSql =
      "SELECT count(*) FROM (SELECT 1 FROM postings WHERE vhash = $1 AND kind = $2 AND value = $3 LIMIT $4) AS t";
  const std::array<Param, 4> params = {std::to_string(PostingHash(kind, value)), std::to_string(kind),
                                       std::string(value), std::to_string(std::max<int64_t>(at_most, 1))};
  auto count = WithReader([&](Connection& reader) { return reader.QueryInt(kSql, params); });
  if (!count.ok()) return Annotate(count.status(), "postgresql: count postings");
  return count;
}

absl::StatusOr<std::vector<PostingLookup>> PostgresStore::LookupPostings(std::span<const PostingKey> keys,
                                                                         int64_t at_most, size_t first) {
  // One statement per chunk of distinct keys, sent as arrays in postings_vhash order: per key a bounded count
  // and the first `first` + 1 objects (one more tells whether more follow), by index lookups inside LATERAL
  // joins, so that a key costs at most at_most + first + 1 postings read whatever its count.
  static const std::string kSql =
      "SELECT h.*, k.i, c.n FROM unnest($1::bigint[], $2::int[], $3::text[]) WITH ORDINALITY AS k(vhash, kind, value, i) "
      "CROSS JOIN LATERAL (SELECT count(*) AS n FROM (SELECT 1 FROM postings p WHERE p.vhash = k.vhash AND "
      "p.kind = k.kind AND p.value = k.value LIMIT $4) AS t) AS c "
      "LEFT JOIN LATERAL (SELECT " CONCORD_POSTING_COLUMNS ", p.oid FROM postings p JOIN objects o ON o.oid = p.oid "
      "JOIN versions v ON v.seq = o.current_seq WHERE p.vhash = k.vhash AND p.kind = k.kind AND p.value = k.value "
      "ORDER BY p.oid LIMIT $5) AS h ON true ORDER BY k.i, h.oid";
  constexpr size_t kChunk = 2000;
  at_most = std::max<int64_t>(at_most, 1);
  first = std::min(first, kMaxLimit);
  const std::vector<OrderedPostingKey> order =
      OrderPostingKeys(keys, [this](const PostingKey& key) { return PostingHash(key.kind, key.value); });
  // Distinct keys, each with the places in `keys` it answers.
  std::vector<size_t> distinct;  // positions in `order` where a new key starts
  for (size_t k = 0; k < order.size(); ++k) {
    if (!order[k].repeat) distinct.push_back(k);
  }
  std::vector<PostingLookup> out(keys.size());
  auto read = WithReader([&](Connection& reader) -> absl::Status {
    // One snapshot for every key. The planner estimates one posting per vhash, so it may pick a bitmap scan,
    // which reads every posting of a value before the LIMIT applies (500,000 for a value shared that
    // widely): an index scan in (vhash, oid) order stops at the bound. JIT only adds compile time to these
    // index lookups (25 ms a statement measured).
    CONCORD_RETURN_IF_ERROR(reader.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
                                        "SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off"));
    for (size_t from = 0; from < distinct.size(); from += kChunk) {
      const size_t to = std::min(distinct.size(), from + kChunk);
      std::vector<int64_t> hashes, kinds;
      std::vector<std::string> values;
      for (size_t d = from; d < to; ++d) {
        const OrderedPostingKey& key = order[distinct[d]];
        hashes.push_back(key.hash);
        kinds.push_back(keys[key.index].kind);
        values.push_back(keys[key.index].value);
      }
      const std::array<Param, 5> params = {postgres::IntArray(hashes), postgres::IntArray(kinds),
                                           postgres::TextArray(values), std::to_string(at_most),
                                           std::to_string(first + 1)};
      CONCORD_ASSIGN_OR_RETURN(Result found, reader.Query(kSql, params));
      for (int r = 0; r < found.rows(); ++r) {
        const int64_t i = found.Int(r, 15);  // 1-based position in this chunk's arrays
        if (i < 1 || static_cast<size_t>(i) > to - from) return absl::InternalError("a lookup row names no key");
        PostingLookup& lookup = out[order[distinct[from + static_cast<size_t>(i) - 1]].index];
        lookup.count = std::min(found.Int(r, 16), at_most);
        if (found.IsNull(r, 14)) continue;  // no object has the posting
        if (lookup.hits.size() == first) {
          lookup.more = true;
          continue;
        }
        PostingHit& hit = lookup.hits.emplace_back();
        hit.object = ReadStored(found, r);
        hit.cursor = found.Int(r, 14);
      }
    }
    // Repeats get the answer of their key's first place.
    for (size_t d = 0; d < distinct.size(); ++d) {
      const size_t end = d + 1 < distinct.size() ? distinct[d + 1] : order.size();
      for (size_t k = distinct[d] + 1; k < end; ++k) out[order[k].index] = out[order[distinct[d]].index];
    }
    return reader.Exec("COMMIT");
  });
  if (!read.ok()) return Annotate(read, "postgresql: look up postings");
  return out;
}

absl::StatusOr<std::vector<Posting>> PostgresStore::PostingsOf(std::string_view id) {
  static const std::string kSql =
      "SELECT p.kind, p.value, p.address, p.prefix, o.oid FROM objects o LEFT JOIN postings p ON p.oid = o.oid "
      "WHERE o.id_hash = $2 AND o.id = $1 ORDER BY p.kind, p.value";
  const std::array<Param, 2> params = {std::string(id), std::to_string(IdHash(id))};
  auto postings = WithReader([&](Connection& reader) -> absl::StatusOr<std::vector<Posting>> {
    CONCORD_ASSIGN_OR_RETURN(Result found, reader.Query(kSql, params));
    if (found.rows() == 0) return absl::NotFoundError(fmt::format("object {} not found", id));
    std::vector<Posting> out;
    for (int r = 0; r < found.rows(); ++r) {
      if (found.IsNull(r, 0)) continue;  // the object has none
      Posting& p = out.emplace_back();
      p.kind = static_cast<uint8_t>(found.Int(r, 0));
      p.value = found.Text(r, 1);
      p.address = ReadAddress(found, r, 2);
      p.prefix_length = found.IsNull(r, 3) ? -1 : static_cast<int>(found.Int(r, 3));
    }
    return out;
  });
  if (!postings.ok() && postings.status().code() != absl::StatusCode::kNotFound) {
    return Annotate(postings.status(), "postgresql: postings of");
  }
  return postings;
}

absl::StatusOr<IpRangePage> PostgresStore::IpPostingsInRange(const IpRangeQuery& query) {
  static const std::string kSql =
      "SELECT " CONCORD_POSTING_COLUMNS ", p.oid, p.value, p.address FROM postings p "
      "JOIN objects o ON o.oid = p.oid JOIN versions v ON v.seq = o.current_seq "
      "WHERE p.kind = $1 AND p.address IS NOT NULL AND p.address >= $2::bytea AND p.address <= $3::bytea "
      "AND (p.address, p.oid) > ($4::bytea, $5::bigint) ORDER BY p.address, p.oid LIMIT $6";
  const size_t limit = std::clamp<size_t>(query.limit, 1, kMaxLimit);
  // Without a cursor, start before (low, any oid): oids are ≥ 1.
  const std::array<uint8_t, 16> after_address = query.after ? query.after->first : query.low;
  const int64_t after_oid = query.after ? query.after->second : 0;
  const std::array<Param, 6> params = {std::to_string(query.kind),        postgres::ByteaText(query.low),
                                       postgres::ByteaText(query.high),   postgres::ByteaText(after_address),
                                       std::to_string(after_oid),         std::to_string(limit + 1)};
  auto page = WithReader([&](Connection& reader) -> absl::StatusOr<IpRangePage> {
    CONCORD_ASSIGN_OR_RETURN(Result found, reader.Query(kSql, params));
    IpRangePage out;
    out.next_after = query.after;
    const int n = std::min(found.rows(), static_cast<int>(limit));
    for (int r = 0; r < n; ++r) {
      IpPosting& posting = out.postings.emplace_back();
      posting.hit.object = ReadStored(found, r);
      posting.hit.cursor = found.Int(r, 14);
      posting.value = found.Text(r, 15);
      auto address = ReadAddress(found, r, 16);
      if (!address) return absl::DataLossError("postings: an address is not 16 bytes");
      posting.address = *address;
      out.next_after = std::make_pair(posting.address, posting.hit.cursor);
    }
    out.more = found.rows() > static_cast<int>(limit);
    return out;
  });
  if (!page.ok()) return Annotate(page.status(), "postgresql: postings in range");
  return page;
}

absl::StatusOr<std::vector<int>> PostgresStore::PrefixLengths(uint8_t kind) {
  // A loose index scan of postings_prefix in one statement: one seek per distinct length.
  static const std::string kSql =
      "WITH RECURSIVE lengths (prefix) AS ("
      " (SELECT prefix FROM postings WHERE kind = $1 AND prefix IS NOT NULL ORDER BY prefix LIMIT 1)"
      " UNION ALL"
      " SELECT (SELECT p.prefix FROM postings p WHERE p.kind = $1 AND p.prefix IS NOT NULL AND p.prefix > l.prefix"
      "         ORDER BY p.prefix LIMIT 1) FROM lengths l WHERE l.prefix IS NOT NULL"
      ") SELECT prefix FROM lengths WHERE prefix IS NOT NULL";
  const std::array<Param, 1> params = {std::to_string(kind)};
  auto lengths = WithReader([&](Connection& reader) -> absl::StatusOr<std::vector<int>> {
    CONCORD_ASSIGN_OR_RETURN(Result found, reader.Query(kSql, params));
    std::vector<int> out;
    for (int r = 0; r < found.rows(); ++r) out.push_back(static_cast<int>(found.Int(r, 0)));
    return out;
  });
  if (!lengths.ok()) return Annotate(lengths.status(), "postgresql: prefix lengths");
  return lengths;
}

absl::StatusOr<bool> PostgresStore::PostingsComplete() {
  auto value = WithReader([](Connection& reader) {
    return reader.QueryInt("SELECT value FROM store_state WHERE name = 'postings_complete'");
  });
  if (!value.ok()) return Annotate(value.status(), "postgresql: postings complete");
  return *value == 1;
}

absl::StatusOr<int64_t> PostgresStore::ReindexBatch(int64_t after_oid, size_t limit, ReindexProgress& progress) {
  static const std::string kSelect =
      "SELECT o.oid, v.id, v.type, v.spec_version, v.json FROM objects o JOIN versions v ON v.seq = o.current_seq "
      "WHERE o.oid > $1 ORDER BY o.oid LIMIT $2";
  struct Row {
    int64_t oid;
    stix::Object object;
  };
  std::vector<Row> rows;
  {
    const std::array<Param, 2> params = {std::to_string(after_oid), std::to_string(limit)};
    CONCORD_ASSIGN_OR_RETURN(Result found, writer_.Query(kSelect, params));
    for (int r = 0; r < found.rows(); ++r) {
      Row& row = rows.emplace_back();
      row.oid = found.Int(r, 0);
      row.object.id = found.Text(r, 1);
      row.object.type = found.Text(r, 2);
      row.object.spec_version = found.Text(r, 3);
      auto json = ParseJson(found.Text(r, 4));
      if (!json.ok() || !json->is_object()) {
        return absl::DataLossError(fmt::format("object {}: the stored JSON does not parse", row.object.id));
      }
      row.object.json = std::move(json->get_object());
    }
  }
  if (rows.empty()) return after_oid;
  {
    const std::array<Param, 2> params = {std::to_string(after_oid), std::to_string(rows.back().oid)};
    CONCORD_RETURN_IF_ERROR(writer_.Query("DELETE FROM postings WHERE oid > $1 AND oid <= $2", params).status());
  }
  std::string data;
  std::vector<Posting> postings;
  for (const Row& row : rows) {
    postings.clear();
    options_.postings->Extract(row.object, postings);
    CanonicalisePostings(postings);
    AppendPostings(data, row.oid, postings);
    progress.postings += static_cast<int64_t>(postings.size());
  }
  if (!data.empty()) {
    CONCORD_RETURN_IF_ERROR(writer_.CopyIn("COPY postings (oid, kind, vhash, value, address, prefix) FROM STDIN", data));
  }
  progress.objects_done += static_cast<int64_t>(rows.size());
  return rows.back().oid;
}

absl::Status PostgresStore::ReindexPostings(const std::function<void(const ReindexProgress&)>& progress) {
  if (read_only_) return absl::FailedPreconditionError("store is open read-only");
  if (options_.postings == nullptr) {
    return absl::FailedPreconditionError("rebuilding postings needs a posting extractor (OpenOptions::postings)");
  }
  // Small enough that a concurrent ingest (any process) waits at most one batch for the writers' lock.
  constexpr size_t kBatch = 2000;
  ReindexProgress done;
  auto fail = [](const absl::Status& status) { return Annotate(status, "postgresql: rebuilding postings"); };
  {
    std::lock_guard lock(mu_);
    auto total = writer_.QueryInt("SELECT count(*) FROM objects");
    if (!total.ok()) return fail(total.status());
    done.objects_total = *total;
    // 2: rebuilding. A Put without an extractor meanwhile sets 0, and then the end does not claim completeness.
    absl::Status marked = writer_.Exec("UPDATE store_state SET value = 2 WHERE name = 'postings_complete'");
    if (!marked.ok()) return fail(marked);
  }
  int64_t after = 0;
  while (true) {
    int64_t last = 0;
    {
      std::lock_guard lock(mu_);
      const absl::Status begun =
          writer_.Exec(fmt::format("BEGIN; SELECT pg_advisory_xact_lock({})", postgres::kWriterLock));
      absl::StatusOr<int64_t> batch = begun.ok() ? ReindexBatch(after, kBatch, done) : absl::StatusOr<int64_t>(begun);
      absl::Status status = batch.status();
      if (status.ok()) status = writer_.Exec("COMMIT");
      if (!status.ok()) {
        writer_.RollbackQuietly();
        return fail(status);
      }
      last = *batch;
    }
    if (last == after) break;
    after = last;
    if (progress) progress(done);
  }
  std::lock_guard lock(mu_);
  absl::Status finished = writer_.Exec("UPDATE store_state SET value = 1 WHERE name = 'postings_complete' AND value = 2");
  if (!finished.ok()) return fail(finished);
  return absl::OkStatus();
}

#undef CONCORD_POSTING_COLUMNS
#undef CONCORD_STORED_COLUMNS

}  // namespace concord::store
