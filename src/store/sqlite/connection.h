// concord/store/sqlite/connection.h — thin RAII wrappers over the SQLite C API for the SQLite backend.
//
// Connection owns one sqlite3 handle; Statement owns one prepared statement. Every SQLite error becomes an
// absl::Status naming the SQL (or the step) it happened in. Neither class is thread-safe: the owner
// serialises access (SqliteStore holds its mutex around every use).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace concord::store::sqlite {

// Maps an SQLite result code and the connection's message to a Status: busy/locked → Unavailable,
// read-only → FailedPrecondition, corrupt/not-a-database → DataLoss, full → ResourceExhausted,
// cannot-open → NotFound, anything else → Internal.
absl::Status SqliteError(sqlite3* db, int rc, std::string_view context);

class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  // Binds by 1-based index. Text is bound without copying: the bytes must stay alive until Reset().
  void BindInt(int index, int64_t value);
  void BindText(int index, std::string_view value);
  void BindBlob(int index, std::span<const uint8_t> value);  // not copied either
  void BindNull(int index);
  // 1-based index of a named parameter (":name"), 0 when the statement has none by that name.
  int ParameterIndex(const char* name) const;

  // Advances: true when a row is ready, false when done.
  [[nodiscard]] absl::StatusOr<bool> Step();
  // Resets and clears bindings, ending the statement's read of the database. Callers reset every
  // statement after use (see Scoped) so that no statement holds a snapshot open between calls.
  void Reset();

  int64_t ColumnInt(int column) const;
  std::string_view ColumnText(int column) const;  // "" for NULL; valid until the next Step/Reset
  std::span<const uint8_t> ColumnBlob(int column) const;  // empty for NULL; valid until the next Step/Reset
  bool ColumnIsNull(int column) const;

  // Resets the statement when it goes out of scope.
  class Scoped {
   public:
    explicit Scoped(Statement& statement) : statement_(statement) {}
    ~Scoped() { statement_.Reset(); }
    Scoped(const Scoped&) = delete;
    Scoped& operator=(const Scoped&) = delete;

   private:
    Statement& statement_;
  };

 private:
  friend class Connection;
  Statement(sqlite3_stmt* stmt, std::string sql) : stmt_(stmt), sql_(std::move(sql)) {}

  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;  // for error context
};

class Connection {
 public:
  // Opens (read-write creating the file, or read-only) with extended result codes on.
  // A read-only open of a file that does not exist is NotFound ("store 'PATH' does not exist").
  [[nodiscard]] static absl::StatusOr<Connection> Open(const std::string& path, bool read_only);

  Connection() = default;
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  ~Connection();

  // Runs one or more statements that return no rows of interest.
  [[nodiscard]] absl::Status Exec(std::string_view sql);
  // Prepares one statement; `persistent` hints SQLite that it will be reused many times.
  [[nodiscard]] absl::StatusOr<Statement> Prepare(std::string_view sql, bool persistent = false);
  // Runs a single-row, single-column query and returns its integer (0 when the result is NULL or empty).
  [[nodiscard]] absl::StatusOr<int64_t> QueryInt(std::string_view sql);
  // Same, for a text result ("" when NULL or empty).
  [[nodiscard]] absl::StatusOr<std::string> QueryText(std::string_view sql);

  int64_t LastInsertRowid() const;
  sqlite3* handle() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// The settings every connection to a Concord database file uses, whoever opens it first (the object store,
// the accounts, the audit log): a 10 s busy timeout for another process's batch, then, for writers, 16 KiB
// pages (effective on a new file only), WAL, and synchronous NORMAL or FULL. Read-only connections are
// put in query_only mode instead.
// `page_size` applies to a new file only (the audit log uses 4 KiB: its writes are small appends).
[[nodiscard]] absl::Status ConfigureConnection(Connection& db, const std::string& path, bool read_only, bool sync_full,
                                               int page_size = 16384);

}  // namespace concord::store::sqlite
