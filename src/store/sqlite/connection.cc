#include "store/sqlite/connection.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "common/status.h"
#include "fmt/format.h"

namespace concord::store::sqlite {

absl::Status SqliteError(sqlite3* db, int rc, std::string_view context) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = fmt::format("sqlite: {} (code {}) in: {}", detail, rc, context);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_READONLY:
      return absl::FailedPreconditionError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(message);
    case SQLITE_CANTOPEN:
      return absl::NotFoundError(message);
    default:
      return absl::InternalError(message);
  }
}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), sql_(std::move(other.sql_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    sql_ = std::move(other.sql_);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

// Bind results are not checked one by one: the only failures are a wrong index or out of memory, and
// either makes the following Step() fail with SQLite's message, which is reported there.
void Statement::BindInt(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Statement::BindText(int index, std::string_view value) {
  sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8);
}

void Statement::BindBlob(int index, std::span<const uint8_t> value) {
  sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_STATIC);
}

void Statement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }

int Statement::ParameterIndex(const char* name) const { return sqlite3_bind_parameter_index(stmt_, name); }

absl::StatusOr<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(sqlite3_db_handle(stmt_), rc, sql_);
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string_view Statement::ColumnText(int column) const {
  // sqlite3_column_blob, not _text: a TEXT value read from a page is not NUL-terminated, and _text copies
  // it into a buffer of its own to add the terminator (a list of 100 objects copied its JSON once more that
  // way). _blob hands out the bytes in place; the files are UTF-8, so they are the text. Other storage
  // classes (an INTEGER read as text) are converted to text as before.
  const auto* text = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  if (text == nullptr) return {};
  return {text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::span<const uint8_t> Statement::ColumnBlob(int column) const {
  const auto* bytes = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
  if (bytes == nullptr) return {};
  return {bytes, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

bool Statement::ColumnIsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

absl::StatusOr<Connection> Connection::Open(const std::string& path, bool read_only) {
  std::error_code ec;
  if (read_only && path != ":memory:" && !std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(fmt::format("store '{}' does not exist", path));
  }
  sqlite3* db = nullptr;
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  Connection connection(db);  // owns the handle even when opening failed
  if (rc != SQLITE_OK) return SqliteError(db, rc, fmt::format("open '{}'", path));
  return connection;
}

Connection::Connection(Connection&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Connection::~Connection() { sqlite3_close_v2(db_); }

absl::Status Connection::Exec(std::string_view sql) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
  return absl::OkStatus();
}

absl::StatusOr<Statement> Connection::Prepare(std::string_view sql, bool persistent) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(db_, rc, sql);
  }
  return Statement(stmt, std::string(sql));
}

absl::StatusOr<int64_t> Connection::QueryInt(std::string_view sql) {
  auto statement = Prepare(sql);
  if (!statement.ok()) return statement.status();
  auto row = statement->Step();
  if (!row.ok()) return row.status();
  return *row ? statement->ColumnInt(0) : 0;
}

absl::StatusOr<std::string> Connection::QueryText(std::string_view sql) {
  auto statement = Prepare(sql);
  if (!statement.ok()) return statement.status();
  auto row = statement->Step();
  if (!row.ok()) return row.status();
  return *row ? std::string(statement->ColumnText(0)) : std::string();
}

int64_t Connection::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

absl::Status ConfigureConnection(Connection& db, const std::string& path, bool read_only, bool sync_full,
                                 int page_size) {
  sqlite3_busy_timeout(db.handle(), 10'000);  // another process's batch; longer waits surface as Unavailable
  if (read_only) return db.Exec("PRAGMA query_only = 1");
  // Pages of 16 KiB hold several objects' JSON each (most are 0.3-2 KiB) and keep the b-trees shallow;
  // the size only takes effect on a new database, before the first table exists.
  CONCORD_RETURN_IF_ERROR(db.Exec(fmt::format("PRAGMA page_size = {}", page_size)));
  CONCORD_ASSIGN_OR_RETURN(std::string mode, db.QueryText("PRAGMA journal_mode = WAL"));
  if (mode != "wal" && path != ":memory:") {
    return absl::FailedPreconditionError(
        fmt::format("sqlite: cannot switch '{}' to WAL mode (journal_mode is '{}')", path, mode));
  }
  return db.Exec(sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
}

}  // namespace concord::store::sqlite
