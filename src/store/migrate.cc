#include "store/migrate.h"

#include <sodium.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "boost/json/array.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/packed_ids.h"
#include "common/status.h"
#include "fmt/format.h"
#include "store/postgres/connection.h"
#include "store/postgres/locks.h"
#include "store/postgres/migrations.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"

namespace concord::store {
namespace {

using PgConnection = postgres::Connection;
using PgParam = postgres::Param;
using PgResult = postgres::Result;
using SqliteConnection = sqlite::Connection;
using SqliteStatement = sqlite::Statement;
using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// How a column travels. The source value is always taken as SQLite renders it (text for every class but
// blobs), so that a value PostgreSQL would have to reinterpret ("007" in an integer column, 2 in a boolean)
// either fails the COPY or fails verification — it is never silently changed.
enum class Kind {
  kInt,   // bigint/integer/smallint: SQLite's decimal text
  kText,  // text: the bytes
  kBool,  // SQLite 0/1 → boolean (PostgreSQL reads '0'/'1')
  kBlob,  // bytea
  kIds,   // the audit log's object_ids → text: JSON text as it is; the packed form of audit file version 4
          // (common/packed_ids.h) as the JSON array of its ids, which is what PostgreSQL's audit log stores
};

struct Column {
  const char* name;
  Kind kind;
};

enum class From { kStore, kAudit };

// One table copied as it is. Copy order respects the foreign keys (organisations before users, …).
struct TableSpec {
  const char* name;
  From from;
  std::vector<Column> columns;
  const char* order_by;  // source order: the primary key, so that the target's b-trees fill in order
};

std::vector<TableSpec> CopiedTables() {
  constexpr Kind I = Kind::kInt, T = Kind::kText, B = Kind::kBool, X = Kind::kBlob;
  return {
      {"organisations", From::kStore, {{"id", T}, {"name", T}, {"kind", T}, {"host", B}, {"created", I}}, "id"},
      {"users",
       From::kStore,
       {{"id", T}, {"name", T}, {"org_id", T}, {"role", T}, {"created", I}, {"disabled", B}},
       "id"},
      {"api_keys",
       From::kStore,
       {{"key_id", T},
        {"user_id", T},
        {"secret_sha256", T},
        {"created", I},
        {"expires", I},
        {"allowed_cidrs", T},
        {"read_only", B},
        {"revoked", I},
        {"last_used", I}},
       "key_id"},
      {"sharing_groups",
       From::kStore,
       {{"id", T}, {"name", T}, {"description", T}, {"owner_org", T}, {"created", I}},
       "id"},
      {"sharing_group_members", From::kStore, {{"group_id", T}, {"org_id", T}, {"added", I}}, "group_id, org_id"},
      {"communities", From::kStore, {{"name", T}, {"description", T}, {"created", I}}, "name"},
      {"community_members", From::kStore, {{"community", T}, {"org_id", T}, {"added", I}}, "community, org_id"},
      {"objects",
       From::kStore,
       {{"oid", I},
        {"id", T},
        {"id_hash", I},
        {"type", T},
        {"current_seq", I},
        {"version_key", T},
        {"revoked", B},
        {"revoked_since", T}},
       "oid"},
      {"versions",
       From::kStore,
       {{"seq", I},
        {"oid", I},
        {"id", T},
        {"type", T},
        {"spec_version", T},
        {"created", T},
        {"modified", T},
        {"version_key", T},
        {"created_by_ref", T},
        {"revoked", B},
        {"valid_from", T},
        {"valid_until", T},
        {"tlp", I},
        {"distribution", I},
        {"sharing_group_ref", T},
        {"origin", T},
        {"added", I},
        {"content_hash", T},
        {"json", T}},
       "seq"},
      {"type_counts", From::kStore, {{"type", T}, {"objects", I}, {"versions", I}, {"revoked", I}}, "type"},
      {"postings",
       From::kStore,
       {{"oid", I}, {"kind", I}, {"vhash", I}, {"value", T}, {"address", X}, {"prefix", I}},
       "rowid"},
      {"taxii_statuses", From::kStore, {{"seq", I}, {"id", T}, {"org_id", T}, {"created_us", I}, {"json", T}}, "seq"},
      {"audit_log",
       From::kAudit,
       {{"seq", I},
        {"time_us", I},
        {"action", T},
        {"user_name", T},
        {"org_id", T},
        {"key_id", T},
        {"object_ids", Kind::kIds},
        {"outcome", T},
        {"justification", T},
        {"remote_address", T},
        {"detail", T},
        {"prev_hash", T},
        {"hash", T}},
       "seq"},
  };
}

// audit_objects is derived, not copied (see migrate.h): its columns for the digest.
std::vector<Column> AuditObjectsColumns() { return {{"object_id", Kind::kText}, {"seq", Kind::kInt}}; }

// Every table the source files may hold, and what happens to it. A table not listed here makes the migration
// refuse: a newer Concord's state must never be left behind silently.
constexpr std::array kStoreFileOthers = {
    "store_meta",         // id_hash_key, taxii_cursor_key → store_meta; postings_complete → store_state
    "schema_migrations",  // the target has its own (same versions, checked)
    "audit_log",          // the audit log of a Concord older than the audit file (read when there is no audit file)
    "audit_objects",
};
constexpr std::array kAuditFileOthers = {
    "audit_objects",      // pairs moved from the store file: superseded by the derived audit_objects
    "audit_object_runs",  // SQLite's sorted-run object index: PostgreSQL indexes each entry as it is written
    "audit_object_index",
    "audit_object_blocks",  // the same index in blocks (audit file version 2)
    "audit_meta",  // the audit file's own bookkeeping (version, creation time, index mark)
};

// ---- row digests: per row SHA-256 of its values joined by \x1f (NULL as \x1e), first 7 bytes as an integer,
// summed modulo 2^64. The same is computed by PostgreSQL over the target's rows (DigestSql).

constexpr char kFieldSeparator = '\x1f';
constexpr char kNullMarker = '\x1e';

class RowDigest {
 public:
  void Add(std::string_view row) {
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(row.data()), row.size());
    uint64_t value = 0;
    for (int i = 0; i < 7; ++i) value = (value << 8) | hash[i];
    sum_ += value;  // modulo 2^64
    ++rows_;
  }
  int64_t rows() const { return rows_; }
  std::string sum() const { return std::to_string(sum_); }

 private:
  uint64_t sum_ = 0;
  int64_t rows_ = 0;
};

std::string DigestSql(std::string_view table, const std::vector<Column>& columns) {
  std::string row;
  for (const Column& c : columns) {
    if (!row.empty()) row += ", ";
    std::string value;
    switch (c.kind) {
      case Kind::kInt:
        value = fmt::format("{}::text", c.name);
        break;
      case Kind::kText:
      case Kind::kIds:
        value = c.name;
        break;
      case Kind::kBool:
        value = fmt::format("CASE WHEN {0} THEN '1' WHEN NOT {0} THEN '0' END", c.name);
        break;
      case Kind::kBlob:
        value = fmt::format("encode({}, 'hex')", c.name);
        break;
    }
    row += fmt::format("coalesce({}, chr(30))", value);
  }
  return fmt::format(
      "SELECT count(*), (coalesce(sum(('x' || encode(substring(sha256(convert_to(concat_ws(chr(31), {}), 'UTF8')) "
      "FROM 1 FOR 7), 'hex'))::bit(56)::bigint), 0) % 18446744073709551616)::text FROM {}",
      row, table);
}

// The JSON array of a packed object_ids column (audit file version 4), as the audit log's IdsJson writes it:
// the text PostgreSQL's audit log stores, and hashes the same. `seq` names the entry in an error.
absl::StatusOr<std::string> PackedIdsJson(std::string_view packed, std::string_view seq) {
  boost::json::array ids;
  absl::Status unpacked = UnpackIds(packed, [&](std::string_view id) { ids.emplace_back(boost::json::string_view(id.data(), id.size())); });
  if (!unpacked.ok()) return absl::DataLossError(fmt::format("audit entry {}: object_ids: {}", seq, Sv(unpacked.message())));
  return boost::json::serialize(ids);
}

void AppendHex(std::string& out, std::span<const uint8_t> bytes) {
  constexpr char kHex[] = "0123456789abcdef";
  for (const uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
}

std::string ColumnList(const std::vector<Column>& columns) {
  std::string out;
  for (const Column& c : columns) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

// ---- the source

struct SourceTable {
  std::string name;
  From from;
};

absl::StatusOr<std::set<std::string>> TablesOf(SqliteConnection& db) {
  CONCORD_ASSIGN_OR_RETURN(
      SqliteStatement s,
      db.Prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"));
  std::set<std::string> out;
  while (true) {
    CONCORD_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.emplace(s.ColumnText(0));
  }
  return out;
}

absl::StatusOr<SqliteConnection> OpenSource(const std::string& path) {
  CONCORD_ASSIGN_OR_RETURN(SqliteConnection db, SqliteConnection::Open(path, /*read_only=*/true));
  CONCORD_RETURN_IF_ERROR(sqlite::ConfigureConnection(db, path, /*read_only=*/true, /*sync_full=*/false));
  // One read transaction for everything read from this file: a consistent snapshot (WAL).
  CONCORD_RETURN_IF_ERROR(db.Exec("BEGIN"));
  return db;
}

absl::Status RefuseUnknown(const std::set<std::string>& tables, const std::set<std::string>& known,
                           std::string_view file) {
  for (const std::string& t : tables) {
    if (!known.contains(t)) {
      return absl::FailedPreconditionError(fmt::format(
          "'{}' has a table '{}' that this version of the migration does not know how to copy; refusing rather "
          "than leaving it behind",
          file, t));
    }
  }
  return absl::OkStatus();
}

// ---- the copy

class Copier {
 public:
  Copier(PgConnection& target, const MigrateOptions& options) : target_(target), options_(options) {}

  // Copies `select`'s rows (columns in `columns` order) into `table`, chunk by chunk, adding each row to `digest`.
  absl::Status Copy(SqliteConnection& source, std::string_view table, const std::vector<Column>& columns,
                    const std::string& select, int64_t total, RowDigest& digest) {
    const auto start = SteadyClock::now();
    const std::string copy_sql = fmt::format("COPY {} ({}) FROM STDIN WITH (FREEZE)", table, ColumnList(columns));
    CONCORD_ASSIGN_OR_RETURN(SqliteStatement s, source.Prepare(select));
    std::string data;
    std::string row;
    std::string ids_json;
    int64_t sent = 0;
    int64_t in_chunk = 0;
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(bool more, s.Step());
      if (more) {
        row.clear();
        for (size_t i = 0; i < columns.size(); ++i) {
          const int col = static_cast<int>(i);
          if (i > 0) {
            data.push_back('\t');
            row.push_back(kFieldSeparator);
          }
          if (s.ColumnIsNull(col)) {
            data += postgres::kCopyNull;
            row.push_back(kNullMarker);
          } else if (columns[i].kind == Kind::kBlob) {
            const std::span<const uint8_t> bytes = s.ColumnBlob(col);
            postgres::AppendCopyBytes(data, bytes);
            AppendHex(row, bytes);
          } else {
            std::string_view text = s.ColumnText(col);
            if (columns[i].kind == Kind::kIds && IsPackedIds(text)) {
              CONCORD_ASSIGN_OR_RETURN(ids_json, PackedIdsJson(text, s.ColumnText(0)));
              text = ids_json;
            }
            postgres::AppendCopyText(data, text);
            row.append(text);
          }
        }
        data.push_back('\n');
        digest.Add(row);
        ++in_chunk;
      }
      if (in_chunk > 0 && (!more || in_chunk >= static_cast<int64_t>(options_.chunk_rows))) {
        CONCORD_RETURN_IF_ERROR(Send(table, copy_sql, data, sent));
        sent += in_chunk;
        in_chunk = 0;
        data.clear();
        Progress(table, sent, total, start);
        if (options_.after_chunk) CONCORD_RETURN_IF_ERROR(options_.after_chunk(table, sent));
      }
      if (!more) break;
    }
    Progress(table, sent, total, start);
    return absl::OkStatus();
  }

  // audit_objects from every entry's object_ids: one row per distinct object of an entry, as PostgresAuditLog
  // writes them.
  absl::Status CopyAuditObjects(SqliteConnection& source, std::string_view audit_table, RowDigest& digest) {
    const auto start = SteadyClock::now();
    const std::string copy_sql = "COPY audit_objects (object_id, seq) FROM STDIN WITH (FREEZE)";
    CONCORD_ASSIGN_OR_RETURN(SqliteStatement s,
                             source.Prepare(fmt::format("SELECT seq, object_ids FROM {} ORDER BY seq", audit_table)));
    std::string data;
    std::string row;
    int64_t sent = 0;
    int64_t in_chunk = 0;
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(bool more, s.Step());
      if (more) {
        const std::string seq(s.ColumnText(0));
        std::set<std::string> named;
        if (IsPackedIds(s.ColumnText(1))) {
          absl::Status unpacked = UnpackIds(s.ColumnText(1), [&](std::string_view id) { named.emplace(id); });
          if (!unpacked.ok()) {
            return absl::DataLossError(fmt::format("audit entry {}: object_ids: {}", seq, Sv(unpacked.message())));
          }
        } else {
          auto ids = ParseJson(s.ColumnText(1));
          if (!ids.ok() || !ids->is_array()) {
            return absl::DataLossError(fmt::format("audit entry {}: object_ids is not a JSON array", seq));
          }
          for (const boost::json::value& id : ids->get_array()) {
            if (!id.is_string())
              return absl::DataLossError(fmt::format("audit entry {}: object_ids holds a non-string", seq));
            named.emplace(id.get_string().data(), id.get_string().size());
          }
        }
        for (const std::string& id : named) {
          postgres::AppendCopyText(data, id);
          data.push_back('\t');
          data += seq;
          data.push_back('\n');
          row.clear();
          row += id;
          row.push_back(kFieldSeparator);
          row += seq;
          digest.Add(row);
          ++in_chunk;
        }
      }
      if (in_chunk > 0 && (!more || in_chunk >= static_cast<int64_t>(options_.chunk_rows))) {
        CONCORD_RETURN_IF_ERROR(Send("audit_objects", copy_sql, data, sent));
        sent += in_chunk;
        in_chunk = 0;
        data.clear();
        Progress("audit_objects", sent, 0, start);
        if (options_.after_chunk) CONCORD_RETURN_IF_ERROR(options_.after_chunk("audit_objects", sent));
      }
      if (!more) break;
    }
    Progress("audit_objects", sent, sent, start);
    return absl::OkStatus();
  }

 private:
  absl::Status Send(std::string_view table, const std::string& copy_sql, std::string_view data, int64_t sent_before) {
    int failed_line = 0;
    absl::Status status = target_.CopyIn(copy_sql, data, &failed_line);
    if (status.ok()) return status;
    if (failed_line > 0)
      return Annotate(status, fmt::format("copying {}, source row {}", table, sent_before + failed_line));
    return Annotate(status, fmt::format("copying {}", table));
  }

  void Progress(std::string_view table, int64_t done, int64_t total, SteadyClock::time_point start) const {
    if (options_.progress)
      options_.progress({.table = table, .rows_done = done, .rows_total = total, .seconds = SecondsSince(start)});
  }

  PgConnection& target_;
  const MigrateOptions& options_;
};

struct Expected {
  std::string table;
  std::vector<Column> columns;
  RowDigest digest;
};

absl::Status CheckTarget(PgConnection& target, const Expected& e) {
  CONCORD_ASSIGN_OR_RETURN(PgResult r, target.Query(DigestSql(e.table, e.columns)));
  const int64_t rows = r.Int(0, 0);
  if (rows != e.digest.rows()) {
    return absl::DataLossError(
        fmt::format("verification: {} has {} rows in the target, {} in the source", e.table, rows, e.digest.rows()));
  }
  if (r.Text(0, 1) != e.digest.sum()) {
    return absl::DataLossError(
        fmt::format("verification: the rows of {} read back from the target differ from the source (digest {} ≠ {})",
                    e.table, r.Text(0, 1), e.digest.sum()));
  }
  return absl::OkStatus();
}

// Everything inside the target transaction: checks, copy, verification. The caller commits or rolls back.
struct Run {
  const MigrateOptions& options;
  SqliteConnection& store;
  SqliteConnection* audit;  // null: the audit log is read from the store file's own tables
  PgConnection& target;
  MigrateReport& report;
};

absl::Status CopyInTransaction(Run& run) {
  PgConnection& target = run.target;
  std::vector<TableSpec> tables = CopiedTables();
  std::vector<std::string> names;
  for (const TableSpec& t : tables) names.emplace_back(t.name);
  names.emplace_back("audit_objects");
  std::string name_list;
  for (const std::string& n : names) name_list += (name_list.empty() ? "" : ", ") + n;

  // Every Concord writer's lock, then every table to ourselves: no process writes, and none reads a partial
  // copy (they wait for the commit). lock_timeout turns "someone holds a lock" into a clear error, not a hang.
  CONCORD_RETURN_IF_ERROR(target.Exec(fmt::format(
      "SET LOCAL lock_timeout = '10s'; SELECT pg_advisory_xact_lock({}), pg_advisory_xact_lock({}), "
      "pg_advisory_xact_lock({}), pg_advisory_xact_lock({}); LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
      postgres::kWriterLock, postgres::kAccountsLock, postgres::kAuditLock, postgres::kTaxiiStatusLock, name_list)));
  for (const std::string& n : names) {
    CONCORD_ASSIGN_OR_RETURN(int64_t any,
                             target.QueryInt(fmt::format("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1) t", n)));
    if (any > 0) {
      return absl::FailedPreconditionError(
          fmt::format("the target database is not empty (table {} has rows); migrate into a new, empty database", n));
    }
  }
  // Empty, so TRUNCATE loses nothing; it lets COPY FREEZE write the rows frozen (no hint-bit rewrite of every
  // page by the first readers, and pages all-visible for index-only scans).
  CONCORD_RETURN_IF_ERROR(target.Exec("TRUNCATE " + name_list));

  // Secondary indexes (not backing a constraint; also any a DBA added): dropped now, built in bulk after the copy
  // from their own definitions.
  std::vector<std::string> index_defs;
  {
    const std::array<PgParam, 1> params = {postgres::TextArray(names)};
    CONCORD_ASSIGN_OR_RETURN(
        PgResult r, target.Query("SELECT quote_ident(i.relname), pg_get_indexdef(i.oid) FROM pg_index x "
                                 "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
                                 "JOIN pg_namespace n ON n.oid = t.relnamespace "
                                 "WHERE n.nspname = current_schema() AND t.relname = ANY($1::text[]) "
                                 "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
                                 "ORDER BY i.relname",
                                 params));
    std::string drop;
    for (int i = 0; i < r.rows(); ++i) {
      drop += fmt::format("DROP INDEX {}; ", r.Text(i, 0));
      index_defs.emplace_back(r.Text(i, 1));
    }
    if (!run.options.rebuild_secondary_indexes) index_defs.clear();
    if (!index_defs.empty()) CONCORD_RETURN_IF_ERROR(target.Exec(drop));
  }

  // ---- copy
  const auto copy_start = SteadyClock::now();
  Copier copier(target, run.options);
  std::vector<Expected> expected;
  expected.reserve(tables.size() + 1);  // references into it are held while copying
  const bool audit_in_store = run.audit == nullptr;
  for (const TableSpec& t : tables) {
    SqliteConnection& source = t.from == From::kAudit && !audit_in_store ? *run.audit : run.store;
    const auto start = SteadyClock::now();
    CONCORD_ASSIGN_OR_RETURN(int64_t total, source.QueryInt(fmt::format("SELECT count(*) FROM {}", t.name)));
    Expected& e = expected.emplace_back(Expected{t.name, t.columns, {}});
    const std::string select = fmt::format("SELECT {} FROM {} ORDER BY {}", ColumnList(t.columns), t.name, t.order_by);
    CONCORD_RETURN_IF_ERROR(copier.Copy(source, t.name, t.columns, select, total, e.digest));
    if (e.digest.rows() != total) {
      return absl::DataLossError(
          fmt::format("source table {}: counted {} rows, read {}", t.name, total, e.digest.rows()));
    }
    run.report.tables.push_back({.name = t.name,
                                 .source = t.from == From::kStore ? "store" : "audit",
                                 .rows = total,
                                 .seconds = SecondsSince(start)});
    if (t.from == From::kAudit) {
      const auto derived_start = SteadyClock::now();
      Expected& objects = expected.emplace_back(Expected{"audit_objects", AuditObjectsColumns(), {}});
      CONCORD_RETURN_IF_ERROR(copier.CopyAuditObjects(source, t.name, objects.digest));
      run.report.tables.push_back({.name = "audit_objects",
                                   .source = "audit (derived)",
                                   .rows = objects.digest.rows(),
                                   .seconds = SecondsSince(derived_start)});
    }
  }
  run.report.copy_seconds = SecondsSince(copy_start);

  // store_meta: the keys (bytes) replace the ones the target's migrations made; postings_complete (an integer
  // in SQLite's store_meta) is store_state's on PostgreSQL.
  std::map<std::string, std::string> meta;  // name → bytes
  std::optional<int64_t> postings_complete;
  {
    CONCORD_ASSIGN_OR_RETURN(SqliteStatement s,
                             run.store.Prepare("SELECT name, typeof(value), value FROM store_meta ORDER BY name"));
    while (true) {
      CONCORD_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      const std::string name(s.ColumnText(0));
      const std::string_view type = s.ColumnText(1);
      if (name == "postings_complete") {
        if (type != "integer") return absl::DataLossError("store_meta.postings_complete is not an integer");
        postings_complete = s.ColumnInt(2);
      } else if (type == "blob" || type == "text") {
        const std::span<const uint8_t> bytes = s.ColumnBlob(2);
        meta[name] = std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      } else {
        return absl::FailedPreconditionError(fmt::format(
            "store_meta.{} is a {}, which this version of the migration does not know how to copy", name, type));
      }
    }
    for (const auto& [name, bytes] : meta) {
      const std::array<PgParam, 2> params = {
          name, postgres::ByteaText({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()})};
      CONCORD_RETURN_IF_ERROR(target
                                  .Query("INSERT INTO store_meta (name, value) VALUES ($1, $2::bytea) "
                                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                                         params)
                                  .status());
    }
    if (postings_complete) {
      const std::array<PgParam, 1> params = {std::to_string(*postings_complete)};
      CONCORD_RETURN_IF_ERROR(target
                                  .Query("INSERT INTO store_state (name, value) VALUES ('postings_complete', $1) "
                                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                                         params)
                                  .status());
    }
  }

  // Sequences behind identity and serial columns (taxii_statuses.seq) continue after the copied maximum.
  {
    CONCORD_ASSIGN_OR_RETURN(PgResult r, target.Query("SELECT table_name, column_name FROM information_schema.columns "
                                                      "WHERE table_schema = current_schema() AND (is_identity = 'YES' "
                                                      "OR column_default LIKE 'nextval(%') ORDER BY 1, 2"));
    for (int i = 0; i < r.rows(); ++i) {
      const std::string table(r.Text(i, 0));
      const std::string column(r.Text(i, 1));
      CONCORD_RETURN_IF_ERROR(target.Exec(fmt::format(
          "SELECT setval(pg_get_serial_sequence('{0}', '{1}'), greatest(max({1}), 1), max({1}) IS NOT NULL) FROM {0}",
          table, column)));
    }
  }

  // ---- indexes
  const auto index_start = SteadyClock::now();
  for (size_t i = 0; i < index_defs.size(); ++i) {
    if (run.options.progress) {
      run.options.progress({.table = "indexes",
                            .rows_done = static_cast<int64_t>(i),
                            .rows_total = static_cast<int64_t>(index_defs.size()),
                            .seconds = SecondsSince(index_start)});
    }
    CONCORD_RETURN_IF_ERROR(target.Exec(index_defs[i]));
  }
  run.report.index_seconds = SecondsSince(index_start);

  // ---- verification, still inside the transaction
  const auto verify_start = SteadyClock::now();
  for (const Expected& e : expected) CONCORD_RETURN_IF_ERROR(CheckTarget(target, e));
  {
    CONCORD_ASSIGN_OR_RETURN(int64_t source_seq, run.store.QueryInt("SELECT coalesce(max(seq), 0) FROM versions"));
    CONCORD_ASSIGN_OR_RETURN(int64_t target_seq, target.QueryInt("SELECT coalesce(max(seq), 0) FROM versions"));
    if (source_seq != target_seq) {
      return absl::DataLossError(
          fmt::format("verification: last seq {} in the target, {} in the source", target_seq, source_seq));
    }
    run.report.last_seq = target_seq;
    CONCORD_ASSIGN_OR_RETURN(int64_t source_oid, run.store.QueryInt("SELECT coalesce(max(oid), 0) FROM objects"));
    CONCORD_ASSIGN_OR_RETURN(int64_t target_oid, target.QueryInt("SELECT coalesce(max(oid), 0) FROM objects"));
    if (source_oid != target_oid) {
      return absl::DataLossError(
          fmt::format("verification: last oid {} in the target, {} in the source", target_oid, source_oid));
    }
  }
  {
    SqliteConnection& source = audit_in_store ? run.store : *run.audit;
    CONCORD_ASSIGN_OR_RETURN(SqliteStatement s,
                             source.Prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
    CONCORD_ASSIGN_OR_RETURN(bool any, s.Step());
    const int64_t source_head = any ? s.ColumnInt(0) : 0;
    const std::string source_hash = any ? std::string(s.ColumnText(1)) : std::string();
    CONCORD_ASSIGN_OR_RETURN(PgResult r, target.Query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
    const int64_t target_head = r.rows() > 0 ? r.Int(0, 0) : 0;
    const std::string target_hash = r.rows() > 0 ? std::string(r.Text(0, 1)) : std::string();
    if (source_head != target_head || source_hash != target_hash) {
      return absl::DataLossError(fmt::format("verification: audit head {} {} in the target, {} {} in the source",
                                             target_head, target_hash, source_head, source_hash));
    }
    run.report.audit_head_seq = target_head;
    run.report.audit_head_hash = target_hash;
  }
  for (const auto& [name, bytes] : meta) {
    const std::array<PgParam, 1> params = {name};
    CONCORD_ASSIGN_OR_RETURN(PgResult r, target.Query("SELECT value FROM store_meta WHERE name = $1", params));
    if (r.rows() != 1 || r.Bytes(0, 0) != bytes) {
      return absl::DataLossError(fmt::format("verification: store_meta.{} differs in the target", name));
    }
  }
  if (postings_complete) {
    CONCORD_ASSIGN_OR_RETURN(int64_t value,
                             target.QueryInt("SELECT value FROM store_state WHERE name = 'postings_complete'"));
    if (value != *postings_complete) {
      return absl::DataLossError("verification: postings_complete differs in the target");
    }
  }
  run.report.verify_seconds = SecondsSince(verify_start);
  return absl::OkStatus();
}

absl::StatusOr<MigrateReport> MigrateImpl(const MigrateSource& from, const std::string& to_uri,
                                          const MigrateOptions& options) {
  const auto start = SteadyClock::now();
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  if (sqlite::LatestSchemaVersion() != postgres::LatestSchemaVersion()) {
    return absl::InternalError("the SQLite and PostgreSQL schemas of this binary have different versions");
  }
  MigrateReport report;

  // ---- the source: its schema must be exactly this binary's, and every table must be known.
  auto store_db = OpenSource(from.store_path);
  if (!store_db.ok()) return Annotate(store_db.status(), fmt::format("source store '{}'", from.store_path));
  SqliteConnection& store = *store_db;
  {
    CONCORD_ASSIGN_OR_RETURN(int version, sqlite::SchemaVersion(store));
    if (version > sqlite::LatestSchemaVersion()) {
      return absl::FailedPreconditionError(
          fmt::format("source store '{}' has schema version {}, newer than this binary supports ({}): migrate with the "
                      "Concord that wrote it",
                      from.store_path, version, sqlite::LatestSchemaVersion()));
    }
    if (version != sqlite::LatestSchemaVersion()) {
      return absl::FailedPreconditionError(fmt::format(
          "source store '{}' has schema version {}, this binary needs {}: start the node once with this version "
          "of Concord (`concord serve --db {}`, then stop it) so that the store migrates, then migrate again",
          from.store_path, version, sqlite::LatestSchemaVersion(), from.store_path));
    }
    report.schema_version = version;
  }
  std::set<std::string> known;
  for (const TableSpec& t : CopiedTables()) {
    if (t.from == From::kStore) known.emplace(t.name);
  }
  for (const char* t : kStoreFileOthers) known.emplace(t);
  CONCORD_ASSIGN_OR_RETURN(std::set<std::string> store_tables, TablesOf(store));
  CONCORD_RETURN_IF_ERROR(RefuseUnknown(store_tables, known, from.store_path));

  std::optional<SqliteConnection> audit;
  std::error_code ec;
  if (!from.audit_path.empty() && std::filesystem::exists(from.audit_path, ec)) {
    auto opened = OpenSource(from.audit_path);
    if (!opened.ok()) return Annotate(opened.status(), fmt::format("source audit log '{}'", from.audit_path));
    audit = std::move(*opened);
    CONCORD_ASSIGN_OR_RETURN(std::set<std::string> audit_tables, TablesOf(*audit));
    if (!audit_tables.contains("audit_log") || !audit_tables.contains("audit_meta")) {
      return absl::FailedPreconditionError(fmt::format(
          "'{}' is not an initialised audit log; open the node once with this version of Concord", from.audit_path));
    }
    std::set<std::string> audit_known = {"audit_log"};
    for (const char* t : kAuditFileOthers) audit_known.emplace(t);
    CONCORD_RETURN_IF_ERROR(RefuseUnknown(audit_tables, audit_known, from.audit_path));
    report.audit_source = from.audit_path;
  } else {
    CONCORD_ASSIGN_OR_RETURN(int64_t entries, store.QueryInt("SELECT count(*) FROM audit_log"));
    if (entries > 0) report.audit_source = from.store_path;
  }
  CONCORD_ASSIGN_OR_RETURN(report.audit_entries, (audit ? *audit : store).QueryInt("SELECT count(*) FROM audit_log"));

  // ---- the target: schema created or brought up to date (each migration commits on its own: an empty schema
  // is not data), then nobody else connected.
  CONCORD_ASSIGN_OR_RETURN(PgConnection target, PgConnection::Open(to_uri));
  CONCORD_RETURN_IF_ERROR(target.Exec("SET client_encoding = 'UTF8'"));
  {
    CONCORD_ASSIGN_OR_RETURN(PgResult r, target.Query("SHOW server_encoding"));
    if (r.rows() != 1 || r.Text(0, 0) != "UTF8") {
      return absl::FailedPreconditionError(
          fmt::format("the target database's encoding is {}, not UTF8: create it with ENCODING 'UTF8'",
                      r.rows() == 1 ? r.Text(0, 0) : "unknown"));
    }
  }
  {
    CONCORD_ASSIGN_OR_RETURN(int version, postgres::EnsureSchema(target, /*read_only=*/false, SystemClock::Instance()));
    if (version != report.schema_version) {
      return absl::InternalError(fmt::format("the target's schema is at version {} after migrating", version));
    }
  }
  {
    CONCORD_ASSIGN_OR_RETURN(
        PgResult r, target.Query("SELECT count(*), coalesce(string_agg(DISTINCT coalesce(nullif(application_name, ''), "
                                 "client_addr::text, 'local'), ', '), '') FROM pg_stat_activity WHERE datname = "
                                 "current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"));
    if (r.Int(0, 0) > 0) {
      return absl::FailedPreconditionError(fmt::format(
          "{} other session(s) are connected to the target database ({}): stop every Concord process using it first",
          r.Int(0, 0), r.Text(0, 1)));
    }
  }

  CONCORD_RETURN_IF_ERROR(target.Exec("BEGIN ISOLATION LEVEL READ COMMITTED"));
  Run run{options, store, audit ? &*audit : nullptr, target, report};
  absl::Status copied = CopyInTransaction(run);
  if (copied.ok()) copied = target.Exec("COMMIT");
  if (!copied.ok()) {
    target.RollbackQuietly();
    return copied;
  }
  // Planner statistics for the new rows (autovacuum would get there, but the first queries would plan blind).
  std::string analyze = "ANALYZE ";
  for (size_t i = 0; i < report.tables.size(); ++i) analyze += (i > 0 ? ", " : "") + report.tables[i].name;
  CONCORD_RETURN_IF_ERROR(Annotate(target.Exec(analyze), "copied and committed, but ANALYZE failed"));
  report.seconds = SecondsSince(start);
  return report;
}

}  // namespace

absl::StatusOr<MigrateReport> Migrate(const MigrateSource& from, const std::string& to_uri,
                                      const MigrateOptions& options) {
  auto report = MigrateImpl(from, to_uri, options);
  if (!report.ok()) {
    return Annotate(report.status(),
                    fmt::format("migrating '{}' to '{}'", from.store_path, postgres::RedactUri(to_uri)));
  }
  return report;
}

}  // namespace concord::store
