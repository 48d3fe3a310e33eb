// concord/store/postgres/connection.h — a thin RAII layer over libpq for the PostgreSQL store.
//
// Connection owns one PGconn; Result owns one PGresult. Every call returns absl::Status(Or): libpq errors
// become statuses whose message is the server's primary message (plus what the caller adds as context), and
// whose code follows the SQLSTATE class (connection failures Unavailable, serialisation failures and
// deadlocks Aborted, everything else Internal). Parameters and results travel in text format, except that
// bytea values are read from their hex text form.
//
// Not thread-safe: a Connection is used by one thread at a time (the store's pool hands them out).
#pragma once

#include <libpq-fe.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

namespace concord::store::postgres {

// A query parameter in text format; nullopt is SQL NULL.
using Param = std::optional<std::string>;

class Result {
 public:
  Result() = default;
  explicit Result(PGresult* result) : result_(result) {}

  int rows() const { return result_ ? PQntuples(result_.get()) : 0; }
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string_view Text(int row, int column) const;
  int64_t Int(int row, int column) const;  // 0 for NULL
  bool Bool(int row, int column) const { return Text(row, column) == "t"; }
  // A bytea column (hex output format) decoded; empty for NULL.
  std::string Bytes(int row, int column) const;

 private:
  struct Free {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Free> result_;
};

class Connection {
 public:
  // Connects to `uri` (a libpq connection URI). NotFound when the database does not exist, Unavailable when
  // the server cannot be reached or refuses.
  [[nodiscard]] static absl::StatusOr<Connection> Open(const std::string& uri);

  Connection() = default;
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

  bool ok() const { return conn_ != nullptr && PQstatus(conn_.get()) == CONNECTION_OK; }
  // Whether no transaction is open (idle): a connection given back to a pool must be.
  bool idle() const { return conn_ != nullptr && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE; }

  // Runs one or more statements without parameters (e.g. "BEGIN", a migration's DDL).
  [[nodiscard]] absl::Status Exec(std::string_view sql);
  // Runs one statement with text parameters ($1, $2, …) and returns its rows.
  [[nodiscard]] absl::StatusOr<Result> Query(const std::string& sql, std::span<const Param> params = {});
  // The single integer of a one-row, one-column query (0 when the value is NULL).
  [[nodiscard]] absl::StatusOr<int64_t> QueryInt(const std::string& sql, std::span<const Param> params = {});

  // COPY `copy_sql` (… FROM STDIN, text format) with `data` as the whole input. On a failure that names a line
  // ("COPY t, line N"), `failed_line` is set to N (1-based).
  [[nodiscard]] absl::Status CopyIn(const std::string& copy_sql, std::string_view data, int* failed_line = nullptr);
  // The same with the input produced piece by piece: `fill` appends the next lines to its (cleared) argument
  // and returns whether more follow. Each piece is sent before the next is produced, so the server parses and
  // inserts while the client formats the rest (a batch's COPY versions: the JSON of every object escaped).
  [[nodiscard]] absl::Status CopyIn(const std::string& copy_sql, absl::FunctionRef<bool(std::string&)> fill,
                                    int* failed_line = nullptr);

  // Ends an open transaction with ROLLBACK after a failure, ignoring errors (the failure is what matters; a
  // failed ROLLBACK means the server already ended it or the connection is gone).
  void RollbackQuietly();

  // ---- asynchronous notifications (LISTEN/NOTIFY), for a connection that only listens

  // The connection's socket, to wait on with poll(); -1 when there is none.
  int socket() const { return conn_ ? PQsocket(conn_.get()) : -1; }
  // Reads what the server sent without blocking; Unavailable when the connection is broken.
  [[nodiscard]] absl::Status ConsumeInput();
  // The next notification received (channel, payload), or nullopt when none is pending.
  std::optional<std::pair<std::string, std::string>> NextNotification();

 private:
  struct Free {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  explicit Connection(PGconn* conn) : conn_(conn) {}
  absl::Status Check(PGresult* result, ExecStatusType expected, int* failed_line = nullptr);

  std::unique_ptr<PGconn, Free> conn_;
};

// ---- text encodings for parameters and COPY

// Appends `value` to a COPY text-format line, escaped (backslash, tab, newline, carriage return).
void AppendCopyText(std::string& line, std::string_view value);
// "\N": COPY's NULL.
inline constexpr std::string_view kCopyNull = "\\N";
// A bytea value in text form ("\x0a0b…"), for parameters; AppendCopyBytes for COPY (backslash doubled).
std::string ByteaText(std::span<const uint8_t> bytes);
void AppendCopyBytes(std::string& line, std::span<const uint8_t> bytes);
// Array literals for "$1::text[]" and "$1::bigint[]" parameters.
std::string TextArray(std::span<const std::string> values);
std::string TextArray(std::span<const std::optional<std::string>> values);  // nullopt: NULL
std::string IntArray(std::span<const int64_t> values);

// The URI with any password replaced by "***", for messages and logs.
std::string RedactUri(std::string_view uri);

}  // namespace concord::store::postgres
