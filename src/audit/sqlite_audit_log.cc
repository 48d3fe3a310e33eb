#include "audit/sqlite_audit_log.h"

#include "audit/chain.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iterator>
#include <limits>
#include <memory>
#include <span>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "boost/json/array.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/log.h"
#include "common/packed_ids.h"
#include "common/status.h"
#include "common/thread.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"
#include "store/postgres/locks.h"
#include "store/store.h"
#include "store/sqlite/migrations.h"

namespace concord::audit {
namespace {

using store::sqlite::Connection;
using store::sqlite::Statement;

constexpr char kColumns[] =
    "seq, time_us, action, user_name, org_id, key_id, object_ids, outcome, justification, remote_address, detail, "
    "prev_hash, hash";

using internal::CheckNoFloats;

// A JSON string; ids that need no escaping (STIX ids never do) are copied as they are.
void AppendJsonString(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      out.append(boost::json::serialize(boost::json::value(boost::json::string_view(s.data(), s.size()))));
      return;
    }
  }
  out.push_back('"');
  out.append(s);
  out.push_back('"');
}

// Calls add(id) for each id of a stored object_ids column; false when it is neither the packed form (audit file
// version 4, common/packed_ids.h) nor a JSON array of strings (before). The JSON an older Concord wrote is read
// without a JSON document when it needs no escapes; anything else (escapes, spaces) is parsed.
// A packed column that does not unpack may have passed some ids to `add` by then.
template <typename Add>
bool ReadIds(std::string_view text, Add&& add) {
  if (IsPackedIds(text)) return UnpackIds(text, [&](std::string_view id) { add(id); }).ok();
  const bool plain = text.size() >= 2 && text.front() == '[' && text.back() == ']' &&
                     std::none_of(text.begin(), text.end(), [](char c) {
                       return c == '\\' || c == ' ' || static_cast<unsigned char>(c) < 0x20;
                     });
  if (plain) {
    // Checked whole before anything is added, so that a malformed text falls back without duplicates.
    std::vector<std::string_view> ids;
    size_t i = 1;
    bool ok = true;
    while (ok && i < text.size() - 1) {
      const size_t end = text[i] == '"' ? text.find('"', i + 1) : std::string_view::npos;
      if (end == std::string_view::npos || end >= text.size() - 1) {
        ok = false;
        break;
      }
      ids.push_back(text.substr(i + 1, end - i - 1));
      i = end + 1;
      if (i < text.size() - 1) {
        if (text[i] != ',') ok = false;
        ++i;
        if (i == text.size() - 1) ok = false;  // a trailing comma
      }
    }
    if (ok) {
      for (std::string_view id : ids) add(id);
      return true;
    }
  }
  auto ids = ParseJson(text);
  if (!ids.ok() || !ids->is_array()) return false;
  for (const auto& id : ids->get_array()) {
    if (id.is_string()) add(std::string_view(id.get_string().data(), id.get_string().size()));
  }
  return true;
}

// SQL concord_names_object(object_ids, id): 1 when the stored column (either form, ReadIds) names the id, else 0.
// List finds the entries past the mark with it (json_each cannot read the packed form).
void NamesObject(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  const auto* bytes = static_cast<const char*>(sqlite3_value_blob(argv[0]));
  const std::string_view stored(bytes == nullptr ? "" : bytes, static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  const auto* wanted_text = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  const std::string_view wanted(wanted_text == nullptr ? "" : wanted_text, static_cast<size_t>(sqlite3_value_bytes(argv[1])));
  bool named = false;
  if (!ReadIds(stored, [&](std::string_view id) { named = named || id == wanted; })) {
    sqlite3_result_error(ctx, "audit_log.object_ids is neither a packed list nor a JSON array of strings", -1);
    return;
  }
  sqlite3_result_int(ctx, named ? 1 : 0);
}

}  // namespace

absl::Status SqliteAuditLog::ForEachKey(std::string_view stored, int64_t run,
                                        absl::FunctionRef<void(std::string_view key, std::span<const int64_t> seqs)> visit,
                                        std::optional<std::string_view> only) {
  std::vector<int64_t> seqs;
  if (!IsPackedIds(stored)) {
    // Before file version 5: {"key": [seq, …], …}, keys ascending.
    auto parsed = ParseJson(stored);
    if (!parsed.ok() || !parsed->is_object()) {
      return absl::InvalidArgumentError(fmt::format("index block of run {}: neither packed nor a JSON object", run));
    }
    for (const auto& [key, value] : parsed->get_object()) {
      if (only && std::string_view(key.data(), key.size()) != *only) continue;
      seqs.clear();
      if (!value.is_array()) return absl::InvalidArgumentError(fmt::format("index block of run {}: not an array of seqs", run));
      for (const auto& seq : value.get_array()) {
        // A seq is an int64 in the file; anything else (a float, text, an integer past 2^63, which to_number would
        // throw for) is an altered block (audit_block_fuzz).
        if (seq.is_int64()) {
          seqs.push_back(seq.get_int64());
        } else if (seq.is_uint64() && seq.get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          seqs.push_back(static_cast<int64_t>(seq.get_uint64()));
        } else {
          return absl::InvalidArgumentError(fmt::format("index block of run {}: a seq that is not a 64-bit integer", run));
        }
      }
      visit(std::string_view(key.data(), key.size()), seqs);
    }
    return absl::OkStatus();
  }
  std::string scratch;
  size_t at = 1;
  auto bad = [&](size_t where, std::string_view what) {
    return absl::InvalidArgumentError(fmt::format("index block of run {}: {} at byte {}", run, what, where));
  };
  while (at < stored.size()) {
    std::string_view key;
    absl::Status read = ReadPackedId(stored, at, scratch, key);
    if (!read.ok()) return Annotate(read, fmt::format("index block of run {}", run));
    uint64_t count = 0;
    const size_t count_at = at;
    if (!ReadLeb128(stored, at, count) || count == 0 || count > stored.size()) return bad(count_at, "bad seq count");
    if (only && key != *only) {
      // Another key's seqs, skipped without decoding (a lookup reads one key of a block).
      if (key > *only) return absl::OkStatus();  // keys ascending: the wanted one is not in this block
      for (uint64_t i = 0; i < count; ++i) {
        while (at < stored.size() && static_cast<uint8_t>(stored[at]) >= 0x80) ++at;
        if (at++ >= stored.size()) return bad(at - 1, "bad seq");
      }
      continue;
    }
    seqs.clear();
    uint64_t seq = static_cast<uint64_t>(run);
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t step = 0;
      const size_t step_at = at;
      if (!ReadLeb128(stored, at, step) || (i > 0 && step == 0) || step > (uint64_t{1} << 62)) {
        return bad(step_at, "bad seq");
      }
      seq += step;
      seqs.push_back(static_cast<int64_t>(seq));
    }
    visit(key, seqs);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SqliteAuditLog::BlockJson(std::string_view stored, int64_t run) {
  if (!IsPackedIds(stored)) return std::string(stored);
  std::string json = "{";
  CONCORD_RETURN_IF_ERROR(ForEachKey(stored, run, [&](std::string_view key, std::span<const int64_t> seqs) {
    if (json.size() > 1) json.push_back(',');
    AppendJsonString(json, key);
    json.push_back(':');
    json.push_back('[');
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (i > 0) json.push_back(',');
      json.append(fmt::format_int(seqs[i]).str());
    }
    json.push_back(']');
  }));
  json.push_back('}');
  return json;
}

namespace {

// SQL concord_block_seqs(pairs, run, key): the JSON array of the key's seqs in a block, [] when it has none; the
// lookups' json_each reads it (decoding one key, where concord_block_json would format a merged run's whole block).
void BlockSeqsSql(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  const auto* bytes = static_cast<const char*>(sqlite3_value_blob(argv[0]));
  const std::string_view stored(bytes == nullptr ? "" : bytes, static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  const auto* key_text = reinterpret_cast<const char*>(sqlite3_value_text(argv[2]));
  const std::string_view key(key_text == nullptr ? "" : key_text, static_cast<size_t>(sqlite3_value_bytes(argv[2])));
  std::string json = "[";
  absl::Status status = SqliteAuditLog::ForEachKey(
      stored, sqlite3_value_int64(argv[1]),
      [&](std::string_view, std::span<const int64_t> seqs) {
        for (int64_t seq : seqs) {
          if (json.size() > 1) json.push_back(',');
          json.append(fmt::format_int(seq).str());
        }
      },
      key);
  if (!status.ok()) {
    sqlite3_result_error(ctx, std::string(Sv(status.message())).c_str(), -1);
    return;
  }
  json.push_back(']');
  sqlite3_result_text(ctx, json.data(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
}

// SQL concord_block_json(pairs, run): BlockJson, for json_each.
void BlockJsonSql(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  const auto* bytes = static_cast<const char*>(sqlite3_value_blob(argv[0]));
  const std::string_view stored(bytes == nullptr ? "" : bytes, static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  auto json = SqliteAuditLog::BlockJson(stored, sqlite3_value_int64(argv[1]));
  if (!json.ok()) {
    sqlite3_result_error(ctx, std::string(Sv(json.status().message())).c_str(), -1);
    return;
  }
  sqlite3_result_text(ctx, json->data(), static_cast<int>(json->size()), SQLITE_TRANSIENT);
}

}  // namespace

absl::Status SqliteAuditLog::AddSqlFunctions(sqlite3* db) {
  int rc = sqlite3_create_function_v2(db, "concord_names_object", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY,
                                      nullptr, &NamesObject, nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) {
    rc = sqlite3_create_function_v2(db, "concord_block_json", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY,
                                    nullptr, &BlockJsonSql, nullptr, nullptr, nullptr);
  }
  if (rc == SQLITE_OK) {
    rc = sqlite3_create_function_v2(db, "concord_block_seqs", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY,
                                    nullptr, &BlockSeqsSql, nullptr, nullptr, nullptr);
  }
  if (rc != SQLITE_OK) return store::sqlite::SqliteError(db, rc, "audit log: registering its SQL functions");
  return absl::OkStatus();
}

namespace {

// Ends the read transaction begun on `db` when it leaves scope (ending a read cannot lose anything).
struct EndRead {
  Connection& db;
  ~EndRead() { (void)db.Exec("COMMIT"); }
};

// Keys of the run index beside the object ids: an entry's user and organisation (file version 3). The leading
// space keeps them apart from object ids (a STIX id starts with its type); List compares the columns too.
constexpr std::string_view kUserKey = " user:";
constexpr std::string_view kOrgKey = " org:";
std::string ActorKey(std::string_view prefix, std::string_view value) {
  std::string key(prefix);
  key.append(value);
  return key;
}

// An entry from a row of kColumns (internal::EntryFromColumns).
absl::StatusOr<Entry> ReadEntry(const Statement& s) {
  return internal::EntryFromColumns({.seq = s.ColumnInt(0),
                                     .time_us = s.ColumnInt(1),
                                     .action = s.ColumnText(2),
                                     .user = s.ColumnText(3),
                                     .org = s.ColumnText(4),
                                     .key_id = s.ColumnText(5),
                                     .object_ids = s.ColumnText(6),
                                     .outcome = s.ColumnText(7),
                                     .justification = s.ColumnText(8),
                                     .remote_address = s.ColumnText(9),
                                     .detail = s.ColumnText(10),
                                     .prev_hash = s.ColumnText(11),
                                     .hash = s.ColumnText(12)});
}

// Writes a run's blocks in the packed form (file version 5, sqlite_audit_log.h): per key its packed id, its seq
// count and its seqs as LEB128 steps, the first from the run's first seq. Keys ascending, each once, seqs
// ascending; a key's seqs stay in one block, and a block ends once it holds kBlockPairs pairs.
class BlockWriter {
 public:
  explicit BlockWriter(int64_t run) : run_(run) {}
  void Add(std::string_view key, std::span<const int64_t> seqs) {
    item_.clear();
    AppendPackedId(item_, key);
    steps_.clear();
    int64_t previous = run_;
    for (int64_t seq : seqs) {
      AppendLeb128(steps_, static_cast<uint64_t>(seq - previous));
      previous = seq;
    }
    AddEncoded(key, item_, seqs.size(), steps_);
  }
  // A key whose packed item and seqs are encoded already (`seqs`: the first less the run's first seq, then the
  // steps), as a merge copies them.
  void AddEncoded(std::string_view key, std::string_view item, uint64_t count, std::string_view seqs) {
    if (in_block_ == 0) {
      block_.first_id = std::string(key);
      block_.pairs.push_back(kPackedIdsTag);
    }
    block_.pairs.append(item);
    AppendLeb128(block_.pairs, count);
    block_.pairs.append(seqs);
    in_block_ += count;
    if (in_block_ >= SqliteAuditLog::kBlockPairs) Cut();
  }
  std::vector<SqliteAuditLog::PreparedRun::Block> Finish() && {
    if (in_block_ > 0) Cut();
    return std::move(blocks_);
  }

 private:
  void Cut() {
    blocks_.push_back(std::move(block_));
    block_ = SqliteAuditLog::PreparedRun::Block();
    in_block_ = 0;
  }
  int64_t run_;
  SqliteAuditLog::PreparedRun::Block block_;
  size_t in_block_ = 0;
  std::string item_, steps_;  // Add's scratch
  std::vector<SqliteAuditLog::PreparedRun::Block> blocks_;
};

// Sorts the (key, entry) pairs of the entries past the mark into a run (sqlite_audit_log.h, "Object index"):
// each key's seqs ascending, keys ascending (bytewise), in blocks of about kBlockPairs pairs with a key's seqs in
// one block. Flat: a key's index in a hash map, the pairs in one array, then each key's seqs gathered in place by
// counting (no container per key, which cost a cache miss or two per distinct id when the blocks were written).
// The keys are not copied: they must outlive Finish.
class RunBuilder {
 public:
  using PreparedRun = SqliteAuditLog::PreparedRun;

  explicit RunBuilder(int64_t mark) {
    run_.run = mark + 1;
    run_.last_seq = mark;
  }
  size_t pairs() const { return pairs_.size(); }
  int64_t last_seq() const { return run_.last_seq; }
  // Seqs ascending; an entry naming a key twice is one pair.
  void StartEntry(int64_t seq) { run_.last_seq = seq; }
  void Add(std::string_view key) {
    const auto [it, added] = index_.try_emplace(key, static_cast<uint32_t>(keys_.size()));
    if (added) {
      keys_.push_back(key);
      last_seq_.push_back(0);
      count_.push_back(0);
    }
    const uint32_t k = it->second;
    if (last_seq_[k] == run_.last_seq) return;
    last_seq_[k] = run_.last_seq;
    ++count_[k];
    pairs_.emplace_back(k, run_.last_seq);
  }

  PreparedRun Finish() && {
    run_.pairs = pairs_.size();
    // Each key's seqs, gathered by key in pair order (so ascending).
    std::vector<uint32_t> start(keys_.size() + 1, 0);
    for (size_t k = 0; k < keys_.size(); ++k) start[k + 1] = start[k] + count_[k];
    std::vector<int64_t> seqs(pairs_.size());
    {
      std::vector<uint32_t> at(start.begin(), start.end() - 1);
      for (const auto& [k, seq] : pairs_) seqs[at[k]++] = seq;
    }
    // Keys ascending, compared first by their first 16 bytes held in place (big-endian, zero-padded: the same
    // order as the bytes, a tie when equal), which decides almost every comparison of distinct ids without
    // reaching for the keys themselves.
    struct SortKey {
      uint64_t head[2];
      std::string_view key;
      uint32_t k;
    };
    std::vector<SortKey> order(keys_.size());
    for (uint32_t k = 0; k < order.size(); ++k) {
      unsigned char bytes[16] = {};
      std::memcpy(bytes, keys_[k].data(), std::min<size_t>(keys_[k].size(), sizeof bytes));
      uint64_t head[2] = {0, 0};
      for (size_t b = 0; b < 16; ++b) head[b / 8] = (head[b / 8] << 8) | bytes[b];
      order[k] = SortKey{{head[0], head[1]}, keys_[k], k};
    }
    std::sort(order.begin(), order.end(), [](const SortKey& a, const SortKey& b) {
      if (a.head[0] != b.head[0]) return a.head[0] < b.head[0];
      if (a.head[1] != b.head[1]) return a.head[1] < b.head[1];
      return a.key < b.key;
    });
    BlockWriter blocks(run_.run);
    for (size_t i = 0; i < order.size(); ++i) {
      const uint32_t k = order[i].k;
      blocks.Add(keys_[k], std::span(seqs).subspan(start[k], count_[k]));
    }
    run_.blocks = std::move(blocks).Finish();
    return std::move(run_);
  }

 private:
  PreparedRun run_;
  absl::flat_hash_map<std::string_view, uint32_t> index_;
  std::vector<std::string_view> keys_;
  std::vector<int64_t> last_seq_;  // the last entry that named the key
  std::vector<uint32_t> count_;    // its pairs
  std::vector<std::pair<uint32_t, int64_t>> pairs_;  // (key, seq) in seq order
};

}  // namespace

namespace {

// The audit file's own tables: migration 3's audit tables, the object index runs and audit_meta.
constexpr char kAuditFileSchema[] = R"sql(
CREATE TABLE audit_object_runs (
  run      INTEGER PRIMARY KEY,
  last_seq INTEGER NOT NULL
);
CREATE TABLE audit_object_index (
  run       INTEGER NOT NULL,
  object_id TEXT NOT NULL,
  seq       INTEGER NOT NULL,
  PRIMARY KEY (run, object_id, seq)
) WITHOUT ROWID;
CREATE TABLE audit_object_blocks (
  run      INTEGER NOT NULL,
  first_id TEXT NOT NULL,
  pairs    TEXT NOT NULL
);
CREATE UNIQUE INDEX audit_object_blocks_key ON audit_object_blocks (run, first_id);
CREATE TABLE audit_meta (
  name  TEXT PRIMARY KEY,
  value NOT NULL
) WITHOUT ROWID;
)sql";
constexpr int kAuditFileVersion = 5;  // see AddActorKeys (3), StartPackedIds (4) and StartPackedBlocks (5)
// Version 2 added the blocks of the object index; a version-1 file gets the table on its first read-write open.
constexpr char kAddBlocks[] = R"sql(
CREATE TABLE IF NOT EXISTS audit_object_blocks (
  run      INTEGER NOT NULL,
  first_id TEXT NOT NULL,
  pairs    TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS audit_object_blocks_key ON audit_object_blocks (run, first_id);
UPDATE audit_meta SET value = 2 WHERE name = 'version' AND value < 2;
)sql";

// Version 3: the entries' user and organisation are keys of the run index (kUserKey, kOrgKey) instead of
// b-tree indexes written with every commit, and the time filter finds its seqs by a binary search (time never
// runs backwards along the chain) instead of an index on time_us. Each of the three indexes cost every group
// commit a page of WAL beside the table's own page: with them, audited reads at 10k req/s wrote 4 times the
// WAL, and the checkpoints that copy it back stalled the appends (docs/benchmarks.md, session 6). Entries up
// to the mark when a file is upgraded are in runs without those keys: two partial indexes cover them
// (audit_log_user_before, audit_log_org_before: WHERE seq <= the mark, recorded as 'actors_from'), and are
// never written again.
// A file a newer Concord wrote is refused, before anything in it is changed: an older binary would misread
// what it does not know (its List and Verify would take new forms of a column for altered entries).
absl::Status CheckKnownVersion(Connection& db) {
  CONCORD_ASSIGN_OR_RETURN(int64_t version, db.QueryInt("SELECT value FROM audit_meta WHERE name = 'version'"));
  if (version > kAuditFileVersion) {
    return absl::FailedPreconditionError(fmt::format(
        "audit file version {} is newer than this Concord reads (up to {}): use the Concord that wrote it, or a newer one",
        version, kAuditFileVersion));
  }
  return absl::OkStatus();
}

absl::Status AddActorKeys(Connection& db) {
  CONCORD_ASSIGN_OR_RETURN(int64_t version, db.QueryInt("SELECT value FROM audit_meta WHERE name = 'version'"));
  if (version >= 3) return absl::OkStatus();
  CONCORD_ASSIGN_OR_RETURN(int64_t mark, db.QueryInt("SELECT value FROM audit_meta WHERE name = 'objects_seq'"));
  std::string sql =
      "DROP INDEX IF EXISTS audit_log_time; DROP INDEX IF EXISTS audit_log_org; DROP INDEX IF EXISTS audit_log_user;";
  if (mark > 0) {
    sql += fmt::format(
        "CREATE INDEX audit_log_user_before ON audit_log (user_name, seq) WHERE seq <= {0};"
        "CREATE INDEX audit_log_org_before ON audit_log (org_id, seq) WHERE seq <= {0};",
        mark);
  }
  sql += fmt::format("INSERT INTO audit_meta (name, value) VALUES ('actors_from', {});"
                     "UPDATE audit_meta SET value = 3 WHERE name = 'version';",
                     mark);
  CONCORD_RETURN_IF_ERROR(db.Exec(sql));
  if (mark > 0) spdlog::info("audit log: file upgraded to version 3 (entries 1 to {} keep their user and organisation indexes)", mark);
  return absl::OkStatus();
}

// Version 4: object_ids is stored packed (common/packed_ids.h: 17 bytes for a STIX id instead of about 50 of
// JSON), from the first entry appended after the upgrade on; earlier entries keep their JSON text, and readers
// tell the two apart by the first byte. Nothing is rewritten: the upgrade only records the version, so that a
// Concord that cannot read the packed form refuses the file (CheckKnownVersion) instead of taking those
// entries for altered ones.
absl::Status StartPackedIds(Connection& db) {
  return db.Exec("UPDATE audit_meta SET value = 4 WHERE name = 'version' AND value < 4");
}

// File version 5: the object index's blocks written from then on are in the packed form (sqlite_audit_log.h, Object
// index); blocks written before keep their JSON text, and concord_block_json reads both. A Concord that cannot
// read the packed blocks refuses the file (CheckKnownVersion) instead of answering "who saw X" without them.
// The same version lets runs be merged (SqliteAuditLog::PrepareMerge): a run has a level (0 as written from the
// entries) and the key its blocks are stored under (NULL: its run number; merged runs use MergedBlocksKey).
absl::Status StartPackedBlocks(Connection& db) {
  CONCORD_ASSIGN_OR_RETURN(int64_t levels, db.QueryInt("SELECT count(*) FROM pragma_table_info('audit_object_runs') "
                                                        "WHERE name = 'blocks'"));
  if (levels == 0) {
    CONCORD_RETURN_IF_ERROR(db.Exec("ALTER TABLE audit_object_runs ADD COLUMN level INTEGER NOT NULL DEFAULT 0;"
                                    "ALTER TABLE audit_object_runs ADD COLUMN blocks INTEGER"));
  }
  return db.Exec("UPDATE audit_meta SET value = 5 WHERE name = 'version' AND value < 5");
}

// Creates the audit file's tables on first open, moving the entries an older Concord kept in the store's
// own file (they keep their seq, hashes and chain; their object index comes along as audit_objects, which
// the mark then covers). Safe against another process doing the same at once (BEGIN IMMEDIATE, then check).
absl::Status InitAuditFile(Connection& db, const std::string& store_path, const Clock& clock) {
  auto has_table = [&db](const char* name) -> absl::StatusOr<bool> {
    CONCORD_ASSIGN_OR_RETURN(int64_t n, db.QueryInt(fmt::format(
                                            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{}'", name)));
    return n > 0;
  };
  // ATTACH cannot run inside a transaction, and must not create the store file when it is missing.
  std::error_code ec;
  const bool old_store = store_path != ":memory:" && std::filesystem::exists(store_path, ec);
  if (old_store) {
    CONCORD_ASSIGN_OR_RETURN(Statement attach, db.Prepare("ATTACH DATABASE ?1 AS store"));
    attach.BindText(1, store_path);  // read from only; it exists, so ATTACH creates nothing
    (void)attach.Step();  // an unreadable store is not an error here: the move is then skipped
  }
  absl::Status status = [&]() -> absl::Status {
    CONCORD_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    CONCORD_ASSIGN_OR_RETURN(bool ready, has_table("audit_meta"));
    if (ready) {
      CONCORD_RETURN_IF_ERROR(CheckKnownVersion(db));
      CONCORD_RETURN_IF_ERROR(db.Exec(kAddBlocks));
      CONCORD_RETURN_IF_ERROR(AddActorKeys(db));
      CONCORD_RETURN_IF_ERROR(StartPackedIds(db));
      CONCORD_RETURN_IF_ERROR(StartPackedBlocks(db));
      return db.Exec("COMMIT");
    }
    CONCORD_RETURN_IF_ERROR(db.Exec(store::sqlite::AuditLogSchema()));
    CONCORD_RETURN_IF_ERROR(db.Exec(kAuditFileSchema));
    int64_t moved = 0;
    CONCORD_ASSIGN_OR_RETURN(int64_t attached,
                             db.QueryInt("SELECT count(*) FROM pragma_database_list WHERE name = 'store'"));
    if (attached > 0) {
      CONCORD_ASSIGN_OR_RETURN(
          int64_t old_tables,
          db.QueryInt("SELECT count(*) FROM store.sqlite_master WHERE type = 'table' AND name IN ('audit_log', 'audit_objects')"));
      if (old_tables == 2) {
        CONCORD_RETURN_IF_ERROR(db.Exec(fmt::format("INSERT INTO audit_log ({0}) SELECT {0} FROM store.audit_log ORDER BY seq; "
                                                    "INSERT INTO audit_objects (object_id, seq) SELECT object_id, seq FROM store.audit_objects",
                                                    kColumns)));
        CONCORD_ASSIGN_OR_RETURN(moved, db.QueryInt("SELECT coalesce(max(seq), 0) FROM audit_log"));
      }
    }
    CONCORD_ASSIGN_OR_RETURN(Statement meta, db.Prepare("INSERT INTO audit_meta (name, value) VALUES "
                                                        "('version', ?1), ('created_us', ?2), ('objects_seq', ?3), ('moved_from_store', ?3)"));
    meta.BindInt(1, 2);  // the layout the schema above creates; AddActorKeys, StartPackedIds and StartPackedBlocks take it to 5
    meta.BindInt(2, clock.Now().UnixMicros());
    meta.BindInt(3, moved);
    CONCORD_RETURN_IF_ERROR(meta.Step().status());
    CONCORD_RETURN_IF_ERROR(AddActorKeys(db));
    CONCORD_RETURN_IF_ERROR(StartPackedIds(db));
    CONCORD_RETURN_IF_ERROR(StartPackedBlocks(db));
    if (moved > 0) spdlog::info("audit log: moved {} entries from {} to a file of its own", moved, store_path);
    return db.Exec("COMMIT");
  }();
  if (!status.ok()) (void)db.Exec("ROLLBACK");
  if (old_store) (void)db.Exec("DETACH DATABASE store");
  return status;
}

}  // namespace

absl::StatusOr<std::string> AuditPathOf(std::string_view location) {
  if (store::postgres::IsPostgresLocation(location)) {
    return absl::FailedPreconditionError(
        "the audit log of a PostgreSQL store is in the store's database (tables audit_log, audit_objects), not a file");
  }
  CONCORD_ASSIGN_OR_RETURN(std::string path, store::SqlitePathOf(location));
  if (path == ":memory:" || path.empty()) return std::string(":memory:");
  if (path.ends_with(".db")) return path.substr(0, path.size() - 3) + ".audit.db";
  return path + ".audit";
}

absl::StatusOr<std::unique_ptr<SqliteAuditLog>> SqliteAuditLog::Create(const std::string& store_path,
                                                                      const Options& options) {
  const Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Instance();
  CONCORD_ASSIGN_OR_RETURN(const std::string path, AuditPathOf(store_path));
  auto opened = [&]() -> absl::StatusOr<std::unique_ptr<SqliteAuditLog>> {
    Connection writer;
    if (!options.read_only) {
      CONCORD_ASSIGN_OR_RETURN(writer, Connection::Open(path, false));
      CONCORD_RETURN_IF_ERROR(store::sqlite::ConfigureConnection(writer, path, false, options.sync_full, 4096));
      // Nothing in the audit file is deleted to be forgotten: only index blocks that merged runs replace. Debian's
      // SQLite zeroes every freed page (SECURE_DELETE), which doubled what deleting them wrote.
      CONCORD_RETURN_IF_ERROR(writer.Exec("PRAGMA secure_delete = FAST"));
      CONCORD_RETURN_IF_ERROR(InitAuditFile(writer, store_path, clock));
    }
    auto reader_opened = Connection::Open(path, true);
    if (!reader_opened.ok() && absl::IsNotFound(reader_opened.status())) {
      std::error_code ec;
      if (!std::filesystem::exists(store_path, ec)) {
        return absl::NotFoundError(fmt::format("store '{}' does not exist", store_path));
      }
      return absl::NotFoundError(fmt::format("no audit log at '{}' (a node or command that writes creates it)", path));
    }
    CONCORD_ASSIGN_OR_RETURN(Connection reader, std::move(reader_opened));
    CONCORD_RETURN_IF_ERROR(store::sqlite::ConfigureConnection(reader, path, true, false));
    CONCORD_ASSIGN_OR_RETURN(int64_t version, reader.QueryInt("SELECT count(*) FROM sqlite_master WHERE name = 'audit_meta'"));
    if (version == 0) {
      return absl::FailedPreconditionError(fmt::format("'{}' is not initialised; open it read-write once", path));
    }
    CONCORD_RETURN_IF_ERROR(CheckKnownVersion(reader));
    CONCORD_RETURN_IF_ERROR(AddSqlFunctions(reader.handle()));
    CONCORD_ASSIGN_OR_RETURN(int64_t blocks,
                             reader.QueryInt("SELECT count(*) FROM sqlite_master WHERE name = 'audit_object_blocks'"));
    CONCORD_ASSIGN_OR_RETURN(int64_t levels, reader.QueryInt("SELECT count(*) FROM pragma_table_info('audit_object_runs') "
                                                             "WHERE name = 'blocks'"));
    auto log = std::unique_ptr<SqliteAuditLog>(new SqliteAuditLog(std::move(writer), std::move(reader), options));
    log->has_blocks_ = blocks > 0;
    log->has_run_levels_ = levels > 0;
    if (!options.read_only) {
      std::lock_guard lock(log->write_mu_);
      CONCORD_ASSIGN_OR_RETURN(log->head_,
                               log->writer_.Prepare("SELECT seq, time_us, hash FROM audit_log ORDER BY seq DESC LIMIT 1", true));
      CONCORD_ASSIGN_OR_RETURN(log->insert_, log->writer_.Prepare(
                                                 fmt::format("INSERT INTO audit_log ({}) VALUES "
                                                             "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                                                             kColumns),
                                                 true));
      CONCORD_ASSIGN_OR_RETURN(
          log->insert_block_,
          log->writer_.Prepare("INSERT INTO audit_object_blocks (run, first_id, pairs) VALUES (?1, ?2, ?3)", true));
    }
    if (!options.read_only) CONCORD_RETURN_IF_ERROR(log->Start(path));
    return log;
  }();
  if (!opened.ok()) return Annotate(opened.status(), fmt::format("opening the audit log '{}'", path));
  return opened;
}

absl::Status SqliteAuditLog::Start(const std::string& path) {
  {
    std::lock_guard lock(write_mu_);
    CONCORD_RETURN_IF_ERROR(writer_.Exec("PRAGMA wal_autocheckpoint = 0"));
    sqlite3_wal_hook(writer_.handle(), &SqliteAuditLog::OnWalCommit, this);
  }
  if (path != ":memory:") {
    CONCORD_ASSIGN_OR_RETURN(Connection checkpoints, Connection::Open(path, false));
    CONCORD_RETURN_IF_ERROR(store::sqlite::ConfigureConnection(checkpoints, path, false, options_.sync_full));
    // Checkpoints and index runs are housekeeping no request waits for: on a busy node they yield the CPU
    // to the threads that answer requests (docs/architecture.md, threads).
    wal_fd_ = ::open((path + "-wal").c_str(), O_RDONLY | O_CLOEXEC);  // -1: checkpoints without PrecleanWal
    checkpointer_ = std::thread([this, db = std::move(checkpoints)]() mutable {
      NameThisThread("audit-ckpt");
      RankThisThreadAsBackground();
      CheckpointLoop(std::move(db));
    });
    CONCORD_ASSIGN_OR_RETURN(Connection index_reader, Connection::Open(path, true));
    CONCORD_RETURN_IF_ERROR(store::sqlite::ConfigureConnection(index_reader, path, true, false));
    keep_committed_ = true;
    if (options_.catch_up_index) {
      std::lock_guard lock(queue_mu_);
      run_wanted_ = true;  // whatever an earlier process left past the mark (nothing: the indexer finds none)
    }
    indexer_ = std::thread([this, db = std::move(index_reader)]() mutable {
      NameThisThread("audit-index");
      RankThisThreadAsBackground();
      IndexLoop(std::move(db));
    });
  }
  committer_ = std::thread([this] {
    NameThisThread("audit-commit");
    CommitLoop();
  });
  return absl::OkStatus();
}

int SqliteAuditLog::OnWalCommit(void* self, sqlite3*, const char*, int frames) {
  auto* log = static_cast<SqliteAuditLog*>(self);
  if (frames >= log->options_.checkpoint_frames) {
    std::lock_guard lock(log->queue_mu_);
    log->checkpoint_due_ = true;
    log->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteAuditLog::PrecleanWal() {
  // A checkpoint first fsyncs the WAL, which writes out every dirty page of it, the last one too; the committer's
  // next frame goes into that last page (frames are 4,120 bytes, pages 4,096), and its write waits until the
  // page's I/O is done, behind all the others (session 8 traced commits of 10-43 ms to this). Writing out the
  // whole pages first, which no append touches again, leaves the fsync a few pages and the commit a short wait.
  // Best effort: durability is still the checkpoint's fsync.
#ifdef __linux__
  if (wal_fd_ < 0) return;
  struct stat st {};
  if (::fstat(wal_fd_, &st) != 0) return;
  const off_t whole = st.st_size / 4096 * 4096;
  if (whole <= 0) return;
  (void)::sync_file_range(wal_fd_, 0, whole, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
#endif
}

void SqliteAuditLog::CheckpointLoop(Connection db) {
  std::unique_lock lock(queue_mu_);
  for (;;) {
    checkpoint_cv_.wait(lock, [this] { return checkpoint_due_ || stopping_; });
    if (stopping_) return;
    checkpoint_due_ = false;
    lock.unlock();
    // PASSIVE: copies what no reader still needs and never waits for a lock; the next writer restarts the
    // WAL from its beginning once it has all been copied. Under constant reads and writes that moment may
    // never come (checkpoint starvation), so once the WAL holds 8 times the threshold a TRUNCATE checkpoint
    // waits for the readers of the moment (milliseconds), holding writers back meanwhile, and empties it.
    int log_frames = 0;
    int copied = 0;
    PrecleanWal();
    int rc = sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
    if (rc == SQLITE_OK && log_frames >= 8 * options_.checkpoint_frames) {
      rc = sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &copied);
    }
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      int64_t held_back = 0;
      if (checkpoint_warnings_.Allow(LogTime(), held_back)) {
        spdlog::warn("audit log: checkpoint failed ({} more since the last report): {}", held_back,
                     Sv(store::sqlite::SqliteError(db.handle(), rc, "checkpoint").message()));
      }
    }
    lock.lock();
  }
}

SqliteAuditLog::SqliteAuditLog(Connection writer, Connection reader, const Options& options)
    : clock_(options.clock != nullptr ? *options.clock : SystemClock::Instance()),
      options_(options),
      writer_(std::move(writer)),
      reader_(std::move(reader)) {}

SqliteAuditLog::~SqliteAuditLog() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;  // the committer drains the queue first
  }
  queue_cv_.notify_all();
  checkpoint_cv_.notify_all();
  index_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
  if (checkpointer_.joinable()) checkpointer_.join();
  if (wal_fd_ >= 0) ::close(wal_fd_);
  index_cv_.notify_all();
  if (indexer_.joinable()) indexer_.join();
  // Statements before their connection.
  std::lock_guard lock(write_mu_);
  if (writer_.handle() != nullptr) sqlite3_wal_hook(writer_.handle(), nullptr, nullptr);
  head_ = Statement();
  insert_ = Statement();
  insert_block_ = Statement();
}

void SqliteAuditLog::AppendAsync(std::vector<Event> events, AppendCallback done) {
  if (options_.read_only) return done(absl::FailedPreconditionError("the audit log is open read-only"));
  if (events.empty()) return done(std::vector<Entry>{});
  for (size_t i = 0; i < events.size(); ++i) {
    // Checked before queueing, so that a bad event fails alone and never the batch it would share.
    absl::Status s = CheckNoFloats(events[i].detail, "detail");
    if (!s.ok()) return done(Annotate(s, fmt::format("audit event {} ({})", i, ActionName(events[i].action))));
  }
  std::unique_lock lock(queue_mu_);
  if (stopping_) {
    lock.unlock();
    return done(absl::UnavailableError("the audit log is closing"));
  }
  queue_.push_back(Pending{std::move(events), {}, std::move(done)});
  lock.unlock();
  queue_cv_.notify_one();
}

void SqliteAuditLog::CommitLoop() {
  std::unique_lock lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(lock, [this] { return !queue_.empty() || stopping_ || run_.has_value() || merge_.has_value(); });
    if (queue_.empty() && stopping_) return;  // nothing left to commit (a run not yet written is redone later)
    // A run's or a merge's next chunk (a level-0 run first), when nobody waits or when it has waited kRunChunkWait
    // behind appends that never pause (the appends then wait for a chunk, a few ms, at most once per
    // kRunChunkWait for each), so that the index keeps up under constant load instead of leaving ever more
    // entries to scan past the mark. A merge never holds up a level-0 run: each has its slot.
    const auto now = std::chrono::steady_clock::now();
    std::optional<PreparedRun>* slot = nullptr;
    std::chrono::steady_clock::time_point* due = nullptr;
    if (run_ && (queue_.empty() || now >= run_chunk_due_)) {
      slot = &run_;
      due = &run_chunk_due_;
    } else if (merge_ && !run_ && (queue_.empty() || now >= merge_chunk_due_)) {
      // Merges only between level-0 runs: under load that outruns the index, the mark catching up comes first
      // (entries past it are found by reading each one).
      slot = &merge_;
      due = &merge_chunk_due_;
    }
    if (slot != nullptr) {
      PreparedRun run = std::move(**slot);
      slot->reset();
      lock.unlock();
      auto finished = WriteRunChunk(run);
      lock.lock();
      if (!finished.ok()) {
        int64_t held_back = 0;
        if (index_warnings_.Allow(LogTime(), held_back)) {
          spdlog::warn("audit log: writing the object index failed, will retry ({} more since the last report): {}",
                       held_back, Sv(finished.status().message()));
        }
      } else if (!*finished) {
        *slot = std::move(run);
        *due = std::chrono::steady_clock::now() + kRunChunkWait;
      } else {
        if (run.level == 0) {
          unindexed_pairs_ = std::max<int64_t>(unindexed_pairs_ - static_cast<int64_t>(run.pairs), 0);
          // A full run leaves entries past it (a backlog another process, or this one before a restart, left):
          // the next run at once.
          if (options_.catch_up_index && static_cast<int64_t>(run.pairs) >= kMaxRunPairs && !run_wanted_) {
            run_wanted_ = true;
            index_cv_.notify_one();
          }
        }
        // One run more (or several fewer) may make runs to merge.
        merge_wanted_ = options_.merge_fan_in > 1;
        if (merge_wanted_) index_cv_.notify_one();
        // Appends committed while this run was prepared and written may already call for the next one.
        MaybeAskForRun();
      }
      continue;
    }
    // Take what is queued, up to max_batch events (always at least one call's events).
    std::vector<Pending> batch;
    size_t events_taken = 0;
    while (!queue_.empty() && (batch.empty() || events_taken + queue_.front().events.size() <= options_.max_batch)) {
      events_taken += queue_.front().events.size();
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    const absl::Status status = Commit(batch);
    if (status.ok() && keep_committed_) KeepCommitted(batch);
    for (Pending& p : batch) {
      if (status.ok()) {
        for (const Entry& e : p.entries) {
          unindexed_pairs_ += static_cast<int64_t>(e.event.object_ids.size()) + (e.event.user.empty() ? 0 : 1) +
                              (e.event.org.empty() ? 0 : 1);
        }
        p.done(std::move(p.entries));
      } else {
        p.done(status);
      }
    }
    lock.lock();
    MaybeAskForRun();
  }
}

void SqliteAuditLog::MaybeAskForRun() {
  // Enough pairs wait (or they have waited long enough), and no run is under way: ask the indexer for one.
  const int64_t now = clock_.Now().UnixMicros();
  if (last_run_micros_ == 0) last_run_micros_ = now;
  if (now < retry_after_micros_) return;
  if (indexer_.joinable() && !run_wanted_ && !run_ &&
      (unindexed_pairs_ >= options_.index_run_pairs ||
       (unindexed_pairs_ > 0 && now - last_run_micros_ >= options_.index_run_delay_millis * 1000))) {
    run_wanted_ = true;
    last_run_micros_ = now;
    index_cv_.notify_one();
  }
}

void SqliteAuditLog::IndexLoop(Connection db) {
  std::unique_lock lock(queue_mu_);
  for (;;) {
    // One level-0 run (run_) and one merge (merge_) at a time, written by the committer: only the indexer fills
    // them, so the slot is still empty when what is prepared here is done. A level-0 run first.
    index_cv_.wait(lock, [this] { return (run_wanted_ && !run_) || (merge_wanted_ && !merge_) || stopping_; });
    if (stopping_) return;
    const bool merge = !(run_wanted_ && !run_);
    if (merge) merge_wanted_ = false;
    lock.unlock();
    auto prepared = merge ? PrepareMerge(db) : PrepareRun(db, RunSource::kAuto);
    lock.lock();
    if (!merge) run_wanted_ = false;
    const absl::Status failed = prepared.status();
    if (merge && (absl::IsDataLoss(failed) || absl::IsInvalidArgument(failed)) && !merging_runs_.empty()) {
      // A block of the group does not decode: the group is left as it is (lookups read its runs one by one and
      // report the damage they meet), the runs around it merge as usual, and nothing else waits.
      unmergeable_runs_.insert(merging_runs_.begin(), merging_runs_.end());
      spdlog::warn("audit log: {} left unmerged: {}",
                   merging_runs_.size() == 1 ? fmt::format("index run {} is", merging_runs_.front())
                                             : fmt::format("index runs {} to {} are", merging_runs_.front(), merging_runs_.back()),
                   Sv(failed.message()));
      merge_wanted_ = true;
    } else if (!prepared.ok()) {
      // Asked again after a pause, not after the very next commit (MaybeAskForRun), and reported once a minute.
      retry_after_micros_ = clock_.Now().UnixMicros() + kIndexRetryMicros;
      int64_t held_back = 0;
      if (index_warnings_.Allow(LogTime(), held_back)) {
        spdlog::warn("audit log: preparing the object index failed, will retry ({} more since the last report): {}",
                     held_back, Sv(prepared.status().message()));
      }
    } else if (*prepared) {
      (merge ? merge_ : run_) = std::move(**prepared);
      (merge ? merge_chunk_due_ : run_chunk_due_) = std::chrono::steady_clock::now() + kRunChunkWait;
      queue_cv_.notify_one();
    }
  }
}

void SqliteAuditLog::KeepCommitted(const std::vector<Pending>& batch) {
  auto kept = std::make_shared<Committed>();
  size_t bytes = 0;
  size_t keys = 0;
  size_t entries = 0;
  for (const Pending& p : batch) {
    for (const Entry& e : p.entries) {
      for (const std::string& id : e.event.object_ids) bytes += id.size();
      bytes += kUserKey.size() + e.event.user.size() + kOrgKey.size() + e.event.org.size();
      keys += e.event.object_ids.size() + 2;
      ++entries;
    }
  }
  if (entries == 0) return;
  kept->keys.reserve(bytes);
  kept->key_ends.reserve(keys);
  kept->entries.reserve(entries);
  auto add = [&](std::string_view a, std::string_view b = {}) {
    kept->keys.append(a);
    kept->keys.append(b);
    kept->key_ends.push_back(static_cast<uint32_t>(kept->keys.size()));
  };
  for (const Pending& p : batch) {
    for (const Entry& e : p.entries) {
      // The keys PrepareRun reads from the file for the entry, in the same order.
      for (const std::string& id : e.event.object_ids) add(id);
      if (!e.event.user.empty()) add(kUserKey, e.event.user);
      if (!e.event.org.empty()) add(kOrgKey, e.event.org);
      kept->entries.emplace_back(e.seq, static_cast<uint32_t>(kept->key_ends.size()));
    }
  }
  if (kept->keys.size() > std::numeric_limits<uint32_t>::max() / 2) return;  // never for a batch of max_batch events
  std::lock_guard lock(committed_mu_);
  // Contiguous seqs only, from the first entry not yet in a run on: a batch that does not follow the last one
  // kept (another process appended in between, or a batch was not kept) is not kept either, until the indexer
  // has used up those before; it then reads the entries from the file. Bounded, should the indexer fall behind
  // (the committer writes runs only while no append waits).
  if (!committed_.empty() && (committed_.back()->entries.back().first + 1 != kept->entries.front().first ||
                              committed_pairs_ + kept->pairs() > kMaxKeptPairs)) {
    return;
  }
  committed_pairs_ += kept->pairs();
  committed_.push_back(std::move(kept));
}

std::optional<SqliteAuditLog::PreparedRun> SqliteAuditLog::RunFromMemory(int64_t mark) {
  std::vector<std::shared_ptr<const Committed>> batches;
  {
    std::lock_guard lock(committed_mu_);
    while (!committed_.empty() && committed_.front()->entries.back().first <= mark) {
      committed_pairs_ -= committed_.front()->pairs();
      committed_.pop_front();
    }
    if (committed_.empty() || committed_.front()->entries.front().first > mark + 1) return std::nullopt;
    batches.assign(committed_.begin(), committed_.end());  // kept alive here: the keys below point into them
  }
  // As PrepareRun does from the file (same pairs, same limit, same blocks), with the keys where they are.
  RunBuilder run(mark);
  for (const auto& batch : batches) {
    uint32_t key = 0;
    for (const auto& [seq, keys_end] : batch->entries) {
      if (seq <= mark) {
        key = keys_end;
        continue;
      }
      if (static_cast<int64_t>(run.pairs()) >= kMaxRunPairs) break;
      run.StartEntry(seq);
      for (; key < keys_end; ++key) {
        const uint32_t begin = key == 0 ? 0 : batch->key_ends[key - 1];
        run.Add(std::string_view(batch->keys).substr(begin, batch->key_ends[key] - begin));
      }
    }
  }
  if (run.last_seq() == mark) return std::nullopt;
  return std::move(run).Finish();
}

absl::StatusOr<std::optional<SqliteAuditLog::PreparedRun>> SqliteAuditLog::PrepareRunForTesting(RunSource source) {
  std::lock_guard lock(read_mu_);
  return PrepareRun(reader_, source);
}

absl::StatusOr<std::optional<SqliteAuditLog::PreparedRun>> SqliteAuditLog::PrepareRun(Connection& db, RunSource source) {
  // One read transaction: the mark and the entries after it from one snapshot.
  CONCORD_RETURN_IF_ERROR(db.Exec("BEGIN"));
  const EndRead end_read{db};
  CONCORD_ASSIGN_OR_RETURN(int64_t mark, db.QueryInt("SELECT value FROM audit_meta WHERE name = 'objects_seq'"));
  if (source != RunSource::kFile) {
    // Entries this process committed past the mark need not be read back (they are committed, so the file holds
    // exactly them); the run may end before the file's last entry, the next one starts there.
    std::optional<PreparedRun> run = RunFromMemory(mark);
    if (run || source == RunSource::kMemory) return run;
  }
  CONCORD_ASSIGN_OR_RETURN(Statement s,
                           db.Prepare("SELECT seq, object_ids, user_name, org_id FROM audit_log WHERE seq > ?1 ORDER BY seq"));
  Statement::Scoped reset(s);
  s.BindInt(1, mark);
  RunBuilder run(mark);
  // Each entry's keys copied once, back to back (a row's text lasts only until the next step); never changed
  // after, so the builder's views into them stay valid (a deque does not move its elements).
  std::deque<std::string> texts;
  std::vector<std::pair<size_t, size_t>> spans;
  while (static_cast<int64_t>(run.pairs()) < kMaxRunPairs) {
    CONCORD_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    const int64_t seq = s.ColumnInt(0);
    std::string& keys = texts.emplace_back();
    keys.reserve(s.ColumnText(1).size() + kUserKey.size() + s.ColumnText(2).size() + kOrgKey.size() +
                 s.ColumnText(3).size());
    spans.clear();
    auto add = [&](std::string_view prefix, std::string_view id) {
      spans.emplace_back(keys.size(), prefix.size() + id.size());
      keys.append(prefix);
      keys.append(id);
    };
    const bool read = ReadIds(s.ColumnText(1), [&](std::string_view id) { add({}, id); });
    if (!read) {
      return absl::DataLossError(fmt::format("audit entry {}: object_ids is {}", seq,
                                             IsPackedIds(s.ColumnText(1)) ? "not a valid packed list" : "not a JSON array"));
    }
    if (!s.ColumnText(2).empty()) add(kUserKey, s.ColumnText(2));
    if (!s.ColumnText(3).empty()) add(kOrgKey, s.ColumnText(3));
    run.StartEntry(seq);
    for (const auto& [at, size] : spans) run.Add(std::string_view(keys).substr(at, size));
  }
  if (run.last_seq() == mark) return std::optional<PreparedRun>();
  return std::optional<PreparedRun>(std::move(run).Finish());
}

absl::StatusOr<std::optional<SqliteAuditLog::PreparedRun>> SqliteAuditLog::PrepareMerge(Connection& db) {
  merging_runs_.clear();
  const size_t fan_in = static_cast<size_t>(std::max(options_.merge_fan_in, 0));
  if (fan_in < 2) return std::optional<PreparedRun>();
  CONCORD_RETURN_IF_ERROR(db.Exec("BEGIN"));
  const EndRead end_read{db};
  // Runs up to 'actors_from' have no user or organisation keys (written before file version 3): never merged,
  // so that a merged run holds them for all its entries or for none.
  CONCORD_ASSIGN_OR_RETURN(const int64_t actors_from,
                           db.QueryInt("SELECT coalesce((SELECT value FROM audit_meta WHERE name = 'actors_from'), 0)"));
  CONCORD_ASSIGN_OR_RETURN(
      Statement runs, db.Prepare("SELECT run, last_seq, level, coalesce(blocks, run) FROM audit_object_runs WHERE run > ?1 "
                                 "ORDER BY run"));
  runs.BindInt(1, actors_from);
  struct Input {
    int64_t run, last_seq, level, key;
  };
  // The oldest fan_in runs in a row of one level below kMaxMergeLevel whose blocks are at most kMaxMergeBytes.
  std::vector<Input> group;
  for (;;) {
    CONCORD_ASSIGN_OR_RETURN(bool row, runs.Step());
    if (!row) return std::optional<PreparedRun>();
    const Input in{runs.ColumnInt(0), runs.ColumnInt(1), runs.ColumnInt(2), runs.ColumnInt(3)};
    if (unmergeable_runs_.count(in.run) != 0) {
      group.clear();
      continue;
    }
    if (!group.empty() && (in.level != group.back().level || in.run != group.back().last_seq + 1)) group.clear();
    if (in.level >= kMaxMergeLevel) continue;
    group.push_back(in);
    if (group.size() < fan_in) continue;
    std::string keys;
    for (const Input& g : group) keys += fmt::format("{}{}", keys.empty() ? "" : ",", g.key);
    CONCORD_ASSIGN_OR_RETURN(int64_t bytes, db.QueryInt(fmt::format(
                                                "SELECT coalesce(sum(length(pairs)), 0) FROM audit_object_blocks WHERE run IN ({})", keys)));
    if (bytes <= static_cast<int64_t>(kMaxMergeBytes)) break;
    group.erase(group.begin());  // too large together: try the window one run later
  }
  merging_runs_.clear();
  for (const Input& g : group) merging_runs_.push_back(g.run);
  // A k-way merge by key: each run's blocks in key order, one block read at a time; a key's seqs from the runs in
  // run order, so ascending. A key's steps (LEB128, each seq less the one before) are copied as they are stored:
  // only the first seq of each run's list is written anew, from the previous run's last.
  struct Key {
    std::string text;        // the key (the order)
    std::string_view item;   // its packed item, as stored
    uint64_t count = 0;
    int64_t first = 0, last = 0;
    std::string_view steps;  // the steps after the first seq, as stored
  };
  struct Cursor {
    Statement blocks;
    int64_t run = 0;
    std::string block;  // the block read last, packed (a JSON block from before version 5 packed here first)
    std::vector<Key> keys;
    size_t at = 0;
    bool done = false;
  };
  std::vector<Cursor> cursors(group.size());
  std::string scratch;
  auto read_block = [&](Cursor& c) -> absl::Status {
    c.keys.clear();
    c.at = 0;
    const std::string_view stored = c.blocks.ColumnText(0);
    if (IsPackedIds(stored)) {
      c.block.assign(stored);
    } else {
      BlockWriter packed(c.run);
      CONCORD_RETURN_IF_ERROR(ForEachKey(stored, c.run, [&](std::string_view key, std::span<const int64_t> seqs) {
        packed.Add(key, seqs);
      }));
      auto blocks = std::move(packed).Finish();
      c.block.clear();
      for (size_t i = 0; i < blocks.size(); ++i) c.block.append(blocks[i].pairs.substr(i == 0 ? 0 : 1));
    }
    const std::string_view b = c.block;
    size_t at = 1;
    auto bad = [&](std::string_view what) {
      return absl::DataLossError(fmt::format("index block of run {}: {} at byte {}", c.run, what, at));
    };
    while (at < b.size()) {
      Key k;
      const size_t item_at = at;
      std::string_view text;
      absl::Status read = ReadPackedId(b, at, scratch, text);
      if (!read.ok()) return Annotate(read, fmt::format("index block of run {}", c.run));
      k.text.assign(text);
      k.item = b.substr(item_at, at - item_at);
      uint64_t first = 0;
      if (!ReadLeb128(b, at, k.count) || k.count == 0 || !ReadLeb128(b, at, first) || first > (uint64_t{1} << 62)) {
        return bad("bad seq count or seq");
      }
      // Unsigned (wrapping) sums: a corrupt block makes a wrong seq, caught as an overlap, never an overflow.
      uint64_t seq = static_cast<uint64_t>(c.run) + first;
      k.first = static_cast<int64_t>(seq);
      const size_t steps_at = at;
      for (uint64_t i = 1; i < k.count; ++i) {
        uint64_t step = 0;
        if (!ReadLeb128(b, at, step) || step == 0 || step > (uint64_t{1} << 62)) return bad("bad seq");
        seq += step;
      }
      k.last = static_cast<int64_t>(seq);
      k.steps = b.substr(steps_at, at - steps_at);
      c.keys.push_back(std::move(k));
    }
    return absl::OkStatus();
  };
  auto advance = [&](Cursor& c) -> absl::Status {
    if (++c.at < c.keys.size()) return absl::OkStatus();
    for (;;) {
      CONCORD_ASSIGN_OR_RETURN(bool row, c.blocks.Step());
      if (!row) {
        c.done = true;
        return absl::OkStatus();
      }
      if (absl::Status read = read_block(c); !read.ok()) {
        merging_runs_ = {c.run};  // the run to leave unmerged, rather than the whole group
        return read;
      }
      if (!c.keys.empty()) return absl::OkStatus();
    }
  };
  for (size_t i = 0; i < group.size(); ++i) {
    CONCORD_ASSIGN_OR_RETURN(cursors[i].blocks,
                             db.Prepare("SELECT pairs FROM audit_object_blocks WHERE run = ?1 ORDER BY first_id"));
    cursors[i].blocks.BindInt(1, group[i].key);
    cursors[i].run = group[i].run;
    cursors[i].at = std::numeric_limits<size_t>::max();  // advance reads the first block
    CONCORD_RETURN_IF_ERROR(advance(cursors[i]));
  }
  PreparedRun merged;
  merged.run = group.front().run;
  merged.last_seq = group.back().last_seq;
  merged.level = static_cast<int>(group.front().level) + 1;
  merged.blocks_key = MergedBlocksKey(merged.level, merged.run);
  for (const Input& g : group) merged.merges.push_back(g.key);
  BlockWriter out(merged.run);
  std::string seqs;
  for (;;) {
    const Key* least = nullptr;
    for (const Cursor& c : cursors) {
      if (!c.done && (least == nullptr || c.keys[c.at].text < least->text)) least = &c.keys[c.at];
    }
    if (least == nullptr) break;
    const std::string key = least->text;
    const std::string item(least->item);
    seqs.clear();
    uint64_t count = 0;
    int64_t last = merged.run;
    for (Cursor& c : cursors) {
      if (c.done || c.keys[c.at].text != key) continue;
      const Key& k = c.keys[c.at];
      if (count > 0 && k.first <= last) {
        return absl::DataLossError(fmt::format("audit log: index runs {} and before overlap on '{}'", c.run, key));
      }
      AppendLeb128(seqs, static_cast<uint64_t>(k.first - last));
      seqs.append(k.steps);
      count += k.count;
      last = k.last;
      CONCORD_RETURN_IF_ERROR(advance(c));
    }
    merged.pairs += count;
    out.AddEncoded(key, item, count, seqs);
  }
  merged.blocks = std::move(out).Finish();
  return std::optional<PreparedRun>(std::move(merged));
}

absl::StatusOr<bool> SqliteAuditLog::WriteRunChunk(PreparedRun& run) {
  std::lock_guard lock(write_mu_);
  const size_t before = run.written;
  const bool registered_before = run.registered;
  CONCORD_RETURN_IF_ERROR(writer_.Exec("BEGIN IMMEDIATE"));
  auto finished = [&]() -> absl::StatusOr<bool> {
    const bool merge = run.level > 0;
    const int64_t blocks_key = merge ? run.blocks_key : run.run;
    if (merge && run.registered) {
      // The replaced runs' blocks, which nothing reads any more, deleted a chunk at a time (all at once, a level-2
      // merge's deletes held up the appends for tens of milliseconds).
      CONCORD_ASSIGN_OR_RETURN(
          Statement drop, writer_.Prepare("DELETE FROM audit_object_blocks WHERE rowid IN "
                                          "(SELECT rowid FROM audit_object_blocks WHERE run = ?1 LIMIT ?2)"));
      int64_t budget = kDeleteChunkBlocks;
      while (budget > 0 && !run.merges.empty()) {
        Statement::Scoped reset_drop(drop);
        drop.BindInt(1, run.merges.back());
        drop.BindInt(2, budget);
        CONCORD_RETURN_IF_ERROR(drop.Step().status());
        const int64_t deleted = sqlite3_changes(writer_.handle());
        if (deleted < budget) run.merges.pop_back();
        budget -= deleted;
      }
      return run.merges.empty();
    }
    if (merge) {
      // The runs it replaces, as they were when it was prepared (another process may have merged them meanwhile:
      // then it is dropped, and its blocks written so far are removed when the same merge is next written).
      std::string keys;
      for (int64_t key : run.merges) keys += fmt::format("{}{}", keys.empty() ? "" : ",", key);
      CONCORD_ASSIGN_OR_RETURN(
          Statement same, writer_.Prepare(fmt::format("SELECT count(*), coalesce(sum(level = ?3 AND coalesce(blocks, run) IN ({})), 0) "
                                                      "FROM audit_object_runs WHERE run >= ?1 AND run <= ?2",
                                                      keys)));
      same.BindInt(1, run.run);
      same.BindInt(2, run.last_seq);
      same.BindInt(3, run.level - 1);
      CONCORD_ASSIGN_OR_RETURN(bool row, same.Step());
      const auto n = static_cast<int64_t>(run.merges.size());
      if (!row || same.ColumnInt(0) != n || same.ColumnInt(1) != n) return true;
    } else {
      // Another process may have indexed past this run's start since it was prepared: then it is dropped
      // (rows already written stay unregistered, and so unread).
      CONCORD_ASSIGN_OR_RETURN(int64_t mark,
                               writer_.QueryInt("SELECT value FROM audit_meta WHERE name = 'objects_seq'"));
      if (mark != run.run - 1) return true;
    }
    if (run.written == 0) {
      // Blocks under this key are left from an attempt that did not finish (it may have covered other entries):
      // no registered run has the key, and a stale block would shadow a new one.
      CONCORD_ASSIGN_OR_RETURN(Statement stale, writer_.Prepare("DELETE FROM audit_object_blocks WHERE run = ?1"));
      stale.BindInt(1, blocks_key);
      CONCORD_RETURN_IF_ERROR(stale.Step().status());
    }
    size_t end = run.written;
    for (size_t bytes = 0; end < run.blocks.size() && bytes < kRunChunkBytes; ++end) {
      const PreparedRun::Block& block = run.blocks[end];
      Statement::Scoped reset_insert(insert_block_);
      insert_block_.BindInt(1, blocks_key);
      insert_block_.BindText(2, block.first_id);
      insert_block_.BindBlob(3, std::span(reinterpret_cast<const uint8_t*>(block.pairs.data()), block.pairs.size()));
      CONCORD_RETURN_IF_ERROR(insert_block_.Step().status());
      bytes += block.pairs.size();
    }
    if (end < run.blocks.size()) {
      run.written = end;
      return false;
    }
    if (merge) {
      // All written (and nothing else under its key: the same merge by another process would have removed this
      // one's first chunks as stale): the merged run replaces the runs it holds, in this one transaction (a reader
      // sees those or it); their blocks are deleted by the next chunks.
      CONCORD_ASSIGN_OR_RETURN(Statement count, writer_.Prepare("SELECT count(*) FROM audit_object_blocks WHERE run = ?1"));
      count.BindInt(1, blocks_key);
      CONCORD_ASSIGN_OR_RETURN(bool counted, count.Step());
      if (!counted || count.ColumnInt(0) != static_cast<int64_t>(run.blocks.size())) return true;
      CONCORD_ASSIGN_OR_RETURN(Statement drop_runs,
                               writer_.Prepare("DELETE FROM audit_object_runs WHERE run >= ?1 AND run <= ?2"));
      drop_runs.BindInt(1, run.run);
      drop_runs.BindInt(2, run.last_seq);
      CONCORD_RETURN_IF_ERROR(drop_runs.Step().status());
      CONCORD_ASSIGN_OR_RETURN(Statement add_merged, writer_.Prepare(
                                                         "INSERT INTO audit_object_runs (run, last_seq, level, blocks) "
                                                         "VALUES (?1, ?2, ?3, ?4)"));
      add_merged.BindInt(1, run.run);
      add_merged.BindInt(2, run.last_seq);
      add_merged.BindInt(3, run.level);
      add_merged.BindInt(4, run.blocks_key);
      CONCORD_RETURN_IF_ERROR(add_merged.Step().status());
      run.written = end;
      run.registered = true;
      return false;
    }
    CONCORD_ASSIGN_OR_RETURN(Statement add_run,
                             writer_.Prepare("INSERT INTO audit_object_runs (run, last_seq) VALUES (?1, ?2)"));
    add_run.BindInt(1, run.run);
    add_run.BindInt(2, run.last_seq);
    CONCORD_RETURN_IF_ERROR(add_run.Step().status());
    CONCORD_ASSIGN_OR_RETURN(Statement update,
                             writer_.Prepare("UPDATE audit_meta SET value = ?1 WHERE name = 'objects_seq'"));
    update.BindInt(1, run.last_seq);
    CONCORD_RETURN_IF_ERROR(update.Step().status());
    run.written = end;
    return true;
  }();
  if (finished.ok()) {
    absl::Status committed = writer_.Exec("COMMIT");
    if (committed.ok()) return finished;
    finished = committed;
  }
  (void)writer_.Exec("ROLLBACK");
  run.written = before;  // the chunk is not written
  run.registered = registered_before;
  return Annotate(finished.status(), "audit log: object index");
}

absl::Status SqliteAuditLog::Commit(std::vector<Pending>& batch) {
  std::lock_guard lock(write_mu_);
  CONCORD_RETURN_IF_ERROR(Annotate(writer_.Exec("BEGIN IMMEDIATE"), "audit log"));
  absl::Status status = CommitInTransaction(batch);
  if (status.ok()) status = writer_.Exec("COMMIT");
  if (!status.ok()) {
    (void)writer_.Exec("ROLLBACK");  // the first error is the one to report
    return Annotate(status, "audit log");
  }
  return absl::OkStatus();
}

absl::Status SqliteAuditLog::CommitInTransaction(std::vector<Pending>& batch) {
  // The head as committed by anyone (another process included), read under the write lock.
  Head head;
  int64_t head_time = 0;
  {
    Statement::Scoped reset(head_);
    CONCORD_ASSIGN_OR_RETURN(bool row, head_.Step());
    if (row) {
      head.seq = head_.ColumnInt(0);
      head_time = head_.ColumnInt(1);
      head.hash = std::string(head_.ColumnText(2));
    }
  }
  // Time never runs backwards along the chain, so that time ranges and seq ranges agree.
  const int64_t now = std::max(clock_.Now().UnixMicros(), head_time);
  std::string packed;  // object_ids as stored (file version 4): packed, not the JSON that is hashed
  for (Pending& p : batch) {
    p.entries.clear();
    p.entries.reserve(p.events.size());
    for (Event& event : p.events) {
      Entry e;
      e.seq = head.seq + 1;
      e.time_micros = now;
      e.event = std::move(event);
      e.prev_hash = head.hash;
      // The canonical entry holds the stored form of detail.
      const internal::CanonicalParts canonical = internal::CanonicalEntryParts(e);
      e.hash = Sha256Hex(canonical.bytes);
      packed.clear();
      AppendPackedIds(packed, e.event.object_ids);
      const std::string_view detail = canonical.detail();
      const std::string_view action = ActionName(e.event.action);
      {
        Statement::Scoped reset(insert_);
        insert_.BindInt(1, e.seq);
        insert_.BindInt(2, e.time_micros);
        insert_.BindText(3, action);
        insert_.BindText(4, e.event.user);
        insert_.BindText(5, e.event.org);
        insert_.BindText(6, e.event.key_id);
        insert_.BindBlob(7, std::span(reinterpret_cast<const uint8_t*>(packed.data()), packed.size()));
        insert_.BindText(8, e.event.outcome);
        insert_.BindText(9, e.event.justification);
        insert_.BindText(10, e.event.remote_address);
        insert_.BindText(11, detail);
        insert_.BindText(12, e.prev_hash);
        insert_.BindText(13, e.hash);
        CONCORD_RETURN_IF_ERROR(insert_.Step().status());
      }
      head.seq = e.seq;
      head.hash = e.hash;
      p.entries.push_back(std::move(e));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Head> SqliteAuditLog::GetHead() {
  std::lock_guard lock(read_mu_);
  CONCORD_ASSIGN_OR_RETURN(Statement s, reader_.Prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
  Statement::Scoped reset(s);
  Head head;
  CONCORD_ASSIGN_OR_RETURN(bool row, s.Step());
  if (row) {
    head.seq = s.ColumnInt(0);
    head.hash = std::string(s.ColumnText(1));
  }
  return head;
}

namespace {

// The first seq whose entry's time is at or after `time_us`, or past the last entry: entries are in seq order
// and their times never decrease along it (CommitInTransaction), so `seq >= the answer` selects exactly the
// entries at or after that time. A binary search over seq, one rowid seek per step.
absl::StatusOr<int64_t> FirstSeqAtOrAfter(Connection& db, int64_t time_us) {
  CONCORD_ASSIGN_OR_RETURN(Statement bounds, db.Prepare("SELECT min(seq), max(seq) FROM audit_log"));
  Statement::Scoped reset_bounds(bounds);
  CONCORD_ASSIGN_OR_RETURN(bool row, bounds.Step());
  if (!row || bounds.ColumnIsNull(0)) return 1;  // no entries
  int64_t lo = bounds.ColumnInt(0);
  int64_t hi = bounds.ColumnInt(1) + 1;
  CONCORD_ASSIGN_OR_RETURN(Statement probe,
                           db.Prepare("SELECT seq, time_us FROM audit_log WHERE seq >= ?1 ORDER BY seq LIMIT 1"));
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    Statement::Scoped reset_probe(probe);
    probe.BindInt(1, mid);
    CONCORD_ASSIGN_OR_RETURN(bool found, probe.Step());
    if (!found) return absl::DataLossError(fmt::format("audit log: no entry at or after seq {} below the last", mid));
    if (probe.ColumnInt(1) >= time_us) {
      hi = mid;  // the answer is below mid, or is the entry found (no entry lies between mid and it)
    } else {
      lo = probe.ColumnInt(0) + 1;
    }
  }
  return lo;
}

}  // namespace

absl::StatusOr<Page> SqliteAuditLog::List(const Filter& filter) {
  if (filter.limit < 1 || filter.limit > 1000) return FieldError("limit", "must be 1 to 1000");
  if (filter.object_id.starts_with(' ')) return FieldError("object_id", "is not an object id");
  std::lock_guard lock(read_mu_);
  // One read transaction: the time bounds, the marks and the entries from one snapshot while appends go on.
  CONCORD_RETURN_IF_ERROR(reader_.Exec("BEGIN"));
  const EndRead end_read{reader_};

  // The time range as a seq range [first, end).
  int64_t first = filter.after_seq + 1;
  int64_t end = std::numeric_limits<int64_t>::max();
  if (filter.since) {
    CONCORD_ASSIGN_OR_RETURN(int64_t since, FirstSeqAtOrAfter(reader_, filter.since->UnixMicros()));
    first = std::max(first, since);
  }
  if (filter.until) {
    CONCORD_ASSIGN_OR_RETURN(end, FirstSeqAtOrAfter(reader_, filter.until->UnixMicros()));
  }

  // Every filter, on the columns (exact whatever the indexes hold), for the rows an index proposes.
  std::string conditions;
  if (filter.since) conditions += " AND time_us >= :since";
  if (filter.until) conditions += " AND time_us < :until";
  if (!filter.user.empty()) conditions += " AND user_name = :user";
  if (!filter.org.empty()) conditions += " AND org_id = :org";
  if (filter.action) conditions += " AND action = :action";
  const std::string action(filter.action ? ActionName(*filter.action) : "");
  auto bind_all = [&](Statement& s) {
    auto bind_int = [&s](const char* name, int64_t v) {
      if (int i = s.ParameterIndex(name); i > 0) s.BindInt(i, v);
    };
    auto bind_text = [&s](const char* name, std::string_view v) {
      if (int i = s.ParameterIndex(name); i > 0) s.BindText(i, v);
    };
    bind_int(":after", filter.after_seq);
    bind_int(":first", first);
    bind_int(":end", end);
    if (filter.since) bind_int(":since", filter.since->UnixMicros());
    if (filter.until) bind_int(":until", filter.until->UnixMicros());
    bind_text(":user", filter.user);
    bind_text(":org", filter.org);
    bind_text(":action", action);
    bind_text(":object", filter.object_id);
    bind_int(":limit", static_cast<int64_t>(filter.limit) + 1);
  };
  Page page;
  page.next_after_seq = filter.after_seq;
  // Adds the entry in the current row of `s`; false once the page is full (and `more` is known).
  auto take = [&](const Statement& s) -> absl::StatusOr<bool> {
    if (page.entries.size() == filter.limit) {
      page.more = true;
      return false;
    }
    auto entry = ReadEntry(s);
    if (!entry.ok()) return Annotate(entry.status(), fmt::format("audit entry {}", s.ColumnInt(0)));
    page.next_after_seq = entry->seq;
    page.entries.push_back(std::move(*entry));
    return true;
  };

  // Version 3 files find a user's or an organisation's entries through the run index (AddActorKeys); a
  // version-2 file opened read-only (no 'actors_from', -1 here) still has its full indexes.
  CONCORD_ASSIGN_OR_RETURN(
      const int64_t before,
      reader_.QueryInt("SELECT coalesce((SELECT value FROM audit_meta WHERE name = 'actors_from'), -1)"));
  if ((!filter.user.empty() || !filter.org.empty()) && before >= 0) {
    const bool by_user = !filter.user.empty();
    const std::string key = by_user ? ActorKey(kUserKey, filter.user) : ActorKey(kOrgKey, filter.org);
    const std::string_view column = by_user ? "user_name" : "org_id";
    CONCORD_ASSIGN_OR_RETURN(int64_t mark, reader_.QueryInt("SELECT value FROM audit_meta WHERE name = 'objects_seq'"));
    std::string one_sql = fmt::format("SELECT {} FROM audit_log WHERE seq = :seq{}", kColumns, conditions);
    if (!filter.object_id.empty()) {
      one_sql += " AND concord_names_object(object_ids, :object)";
    }
    CONCORD_ASSIGN_OR_RETURN(Statement one, reader_.Prepare(one_sql));
    // Offers the candidates of `s` (seqs ascending, in column 0) in turn; false once the page is full or the
    // seqs reach `end` (the sources below follow one another in seq order, so nothing after can qualify).
    auto offer_all = [&](Statement& s) -> absl::StatusOr<bool> {
      for (;;) {
        CONCORD_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) return true;
        const int64_t seq = s.ColumnInt(0);
        if (seq >= end) return false;
        Statement::Scoped reset_one(one);
        bind_all(one);
        one.BindInt(one.ParameterIndex(":seq"), seq);
        CONCORD_ASSIGN_OR_RETURN(bool found, one.Step());
        if (!found) continue;
        CONCORD_ASSIGN_OR_RETURN(bool go_on, take(one));
        if (!go_on) return false;
      }
    };
    // 1. Entries up to 'actors_from': the partial index the upgrade left (its WHERE repeated, so that it applies).
    if (before > 0 && first <= before) {
      CONCORD_ASSIGN_OR_RETURN(
          Statement s, reader_.Prepare(fmt::format("SELECT seq FROM audit_log INDEXED BY audit_log_{}_before WHERE {} = ?1 "
                                                   "AND seq >= ?2 AND seq <= {} ORDER BY seq",
                                                   by_user ? "user" : "org", column, before)));
      s.BindText(1, by_user ? filter.user : filter.org);
      s.BindInt(2, first);
      CONCORD_ASSIGN_OR_RETURN(bool go_on, offer_all(s));
      if (!go_on) return page;
    }
    // 2. Entries in the runs written since: one block per run.
    {
      CONCORD_ASSIGN_OR_RETURN(Statement runs,
                               reader_.Prepare(fmt::format("SELECT run, {} FROM audit_object_runs WHERE run > ?1 AND "
                                                           "last_seq >= ?2 AND run <= ?3 ORDER BY run",
                                                           has_run_levels_ ? "coalesce(blocks, run)" : "run")));
      runs.BindInt(1, before);
      runs.BindInt(2, first);
      runs.BindInt(3, mark);
      CONCORD_ASSIGN_OR_RETURN(
          Statement seqs,
          reader_.Prepare("SELECT s.value FROM audit_object_blocks b CROSS JOIN json_each(concord_block_seqs(b.pairs, ?4, ?2)) s "
                          "WHERE b.rowid = (SELECT k.rowid FROM audit_object_blocks k "
                          "WHERE k.run = ?1 AND k.first_id <= ?2 ORDER BY k.first_id DESC LIMIT 1) "
                          "AND s.value >= ?3 ORDER BY s.value"));
      for (;;) {
        CONCORD_ASSIGN_OR_RETURN(bool row, runs.Step());
        if (!row) break;
        Statement::Scoped reset_seqs(seqs);
        seqs.BindInt(1, runs.ColumnInt(1));
        seqs.BindText(2, key);
        seqs.BindInt(3, first);
        seqs.BindInt(4, runs.ColumnInt(0));
        CONCORD_ASSIGN_OR_RETURN(bool go_on, offer_all(seqs));
        if (!go_on) return page;
      }
    }
    // 3. Entries past the mark, not in a run yet.
    CONCORD_ASSIGN_OR_RETURN(Statement tail, reader_.Prepare(fmt::format(
                                                 "SELECT seq FROM audit_log WHERE seq > ?1 AND seq >= ?2 AND {} = ?3 "
                                                 "ORDER BY seq",
                                                 column)));
    tail.BindInt(1, std::max(mark, before));
    tail.BindInt(2, first);
    tail.BindText(3, by_user ? filter.user : filter.org);
    CONCORD_RETURN_IF_ERROR(offer_all(tail).status());
    return page;
  }

  std::string sql = fmt::format("SELECT {} FROM audit_log WHERE seq >= :first AND seq < :end{}", kColumns, conditions);
  if (!filter.object_id.empty()) {
    // The entries indexed before migration 6 (audit_objects), those in runs (one seek per run), and those
    // past the mark by their object_ids (header: Object index).
    // Runs an older Concord wrote have a row per pair (audit_object_index); newer ones blocks, where the
    // block of the object in a run is the one with the greatest first_id <= the id.
    const std::string blocks =
        has_blocks_ ? fmt::format(" UNION ALL SELECT s.value FROM audit_object_runs r CROSS JOIN audit_object_blocks b ON b.rowid ="
                                  " (SELECT k.rowid FROM audit_object_blocks k WHERE k.run = {} AND k.first_id <= :object"
                                  " ORDER BY k.first_id DESC LIMIT 1) CROSS JOIN json_each(concord_block_seqs(b.pairs, r.run, :object)) s"
                                  " WHERE r.last_seq > :after AND s.value > :after",
                                  has_run_levels_ ? "coalesce(r.blocks, r.run)" : "r.run")
                    : "";
    sql += " AND seq IN (SELECT seq FROM audit_objects WHERE object_id = :object AND seq > :after"
           " UNION ALL SELECT i.seq FROM audit_object_runs r CROSS JOIN audit_object_index i"
           " ON i.run = r.run AND i.object_id = :object WHERE r.last_seq > :after AND i.seq > :after";
    sql += blocks;
    sql += " UNION ALL SELECT t.seq FROM audit_log t WHERE t.seq > max(:after, (SELECT value FROM audit_meta"
           " WHERE name = 'objects_seq')) AND concord_names_object(t.object_ids, :object))";
  }
  sql += " ORDER BY seq LIMIT :limit";
  CONCORD_ASSIGN_OR_RETURN(Statement s, reader_.Prepare(sql));
  Statement::Scoped reset(s);
  bind_all(s);
  for (;;) {
    CONCORD_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    CONCORD_ASSIGN_OR_RETURN(bool go_on, take(s));
    if (!go_on) break;
  }
  return page;
}

absl::StatusOr<Verification> SqliteAuditLog::Verify(const VerifyOptions& options) {
  std::lock_guard lock(read_mu_);
  // One read transaction: a consistent snapshot while appends go on.
  CONCORD_RETURN_IF_ERROR(reader_.Exec("BEGIN"));
  const EndRead end_read{reader_};
  CONCORD_ASSIGN_OR_RETURN(Statement s, reader_.Prepare(fmt::format("SELECT {} FROM audit_log ORDER BY seq", kColumns)));
  Statement::Scoped reset(s);
  // The entry stored at `seq` (the walk's look-ahead), in the same read transaction.
  internal::ChainVerifier verifier(options, [this](int64_t seq) -> absl::StatusOr<std::optional<Entry>> {
    CONCORD_ASSIGN_OR_RETURN(Statement one,
                             reader_.Prepare(fmt::format("SELECT {} FROM audit_log WHERE seq = ?1", kColumns)));
    Statement::Scoped reset_one(one);
    one.BindInt(1, seq);
    CONCORD_ASSIGN_OR_RETURN(bool row, one.Step());
    if (!row) return std::optional<Entry>();
    auto e = ReadEntry(one);
    if (!e.ok()) return std::optional<Entry>();
    return std::optional<Entry>(*std::move(e));
  });
  for (;;) {
    CONCORD_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    CONCORD_ASSIGN_OR_RETURN(bool go_on, verifier.Add(s.ColumnInt(0), ReadEntry(s)));
    if (!go_on) break;
  }
  return verifier.Finish();
}

}  // namespace concord::audit
