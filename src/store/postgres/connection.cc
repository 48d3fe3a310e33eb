#include "store/postgres/connection.h"

#include <charconv>
#include <cstdlib>
#include <utility>

#include "fmt/format.h"

namespace concord::store::postgres {
namespace {

absl::StatusCode CodeOf(std::string_view sqlstate) {
  if (sqlstate.starts_with("08") || sqlstate.starts_with("57P") || sqlstate.starts_with("53")) {
    return absl::StatusCode::kUnavailable;
  }
  if (sqlstate == "40001" || sqlstate == "40P01") return absl::StatusCode::kAborted;
  if (sqlstate == "3D000" || sqlstate == "42P01") return absl::StatusCode::kNotFound;
  return absl::StatusCode::kInternal;
}

// libpq's messages end in a newline.
std::string Trimmed(const char* text) {
  std::string out = text != nullptr ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::string_view Result::Text(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  return {value, static_cast<size_t>(PQgetlength(result_.get(), row, column))};
}

int64_t Result::Int(int row, int column) const {
  if (IsNull(row, column)) return 0;
  const std::string_view text = Text(row, column);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string Result::Bytes(int row, int column) const {
  if (IsNull(row, column)) return {};
  std::string_view text = Text(row, column);
  if (text.starts_with("\\x")) text.remove_prefix(2);
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<char>(HexDigit(text[i]) * 16 + HexDigit(text[i + 1])));
  }
  return out;
}

absl::StatusOr<Connection> Connection::Open(const std::string& uri) {
  Connection connection(PQconnectdb(uri.c_str()));
  if (connection.conn_ == nullptr) return absl::ResourceExhaustedError("postgresql: out of memory connecting");
  if (PQstatus(connection.conn_.get()) != CONNECTION_OK) {
    const std::string message = Trimmed(PQerrorMessage(connection.conn_.get()));
    const bool missing = message.find("does not exist") != std::string::npos;
    return absl::Status(missing ? absl::StatusCode::kNotFound : absl::StatusCode::kUnavailable,
                        fmt::format("postgresql: connecting to {}: {}", RedactUri(uri), message));
  }
  // Notices (e.g. "relation already exists, skipping") are of no use to the store.
  PQsetNoticeProcessor(connection.conn_.get(), [](void*, const char*) {}, nullptr);
  return connection;
}

absl::Status Connection::Check(PGresult* result, ExecStatusType expected, int* failed_line) {
  if (result != nullptr && PQresultStatus(result) == expected) return absl::OkStatus();
  if (result == nullptr) {
    return absl::UnavailableError(fmt::format("postgresql: {}", Trimmed(PQerrorMessage(conn_.get()))));
  }
  const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  std::string message = primary != nullptr ? Trimmed(primary) : Trimmed(PQresultErrorMessage(result));
  if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL); detail != nullptr) {
    message += fmt::format(" ({})", Trimmed(detail));
  }
  if (failed_line != nullptr) {
    // COPY names the input line it failed on in the context: "COPY versions, line 2[, column …]".
    const std::string context = Trimmed(PQresultErrorField(result, PG_DIAG_CONTEXT));
    if (const size_t at = context.rfind(", line "); at != std::string::npos && context.find("COPY ") != std::string::npos) {
      int line = 0;
      const char* begin = context.data() + at + 7;
      if (std::from_chars(begin, context.data() + context.size(), line).ec == std::errc()) *failed_line = line;
    }
  }
  absl::StatusCode code = sqlstate != nullptr ? CodeOf(sqlstate) : absl::StatusCode::kInternal;
  if (PQstatus(conn_.get()) != CONNECTION_OK) code = absl::StatusCode::kUnavailable;
  if (message.empty()) message = "unknown error";
  return absl::Status(code, message);
}

absl::Status Connection::Exec(std::string_view sql) {
  const std::string text(sql);
  // With several statements PQexec returns the last one's result, or the error that stopped them.
  PGresult* raw = PQexec(conn_.get(), text.c_str());
  if (raw != nullptr && PQresultStatus(raw) == PGRES_TUPLES_OK) {
    PQclear(raw);
    return absl::OkStatus();
  }
  absl::Status status = Check(raw, PGRES_COMMAND_OK);
  PQclear(raw);
  return status;
}

absl::Status Connection::ConsumeInput() {
  if (!conn_) return absl::UnavailableError("postgresql: not connected");
  if (PQconsumeInput(conn_.get()) == 0 || PQstatus(conn_.get()) != CONNECTION_OK) {
    return absl::UnavailableError(fmt::format("postgresql: {}", Trimmed(PQerrorMessage(conn_.get()))));
  }
  return absl::OkStatus();
}

std::optional<std::pair<std::string, std::string>> Connection::NextNotification() {
  if (!conn_) return std::nullopt;
  PGnotify* raw = PQnotifies(conn_.get());
  if (raw == nullptr) return std::nullopt;
  std::pair<std::string, std::string> notification{raw->relname != nullptr ? raw->relname : "",
                                                   raw->extra != nullptr ? raw->extra : ""};
  PQfreemem(raw);
  return notification;
}

absl::StatusOr<Result> Connection::Query(const std::string& sql, std::span<const Param> params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* raw = PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                               nullptr, nullptr, 0);
  if (raw != nullptr && PQresultStatus(raw) == PGRES_COMMAND_OK) return Result(raw);
  absl::Status status = Check(raw, PGRES_TUPLES_OK);
  if (!status.ok()) {
    PQclear(raw);
    return status;
  }
  return Result(raw);
}

absl::StatusOr<int64_t> Connection::QueryInt(const std::string& sql, std::span<const Param> params) {
  auto result = Query(sql, params);
  if (!result.ok()) return result.status();
  if (result->rows() < 1) return absl::InternalError(fmt::format("postgresql: no row from {}", sql));
  return result->Int(0, 0);
}

absl::Status Connection::CopyIn(const std::string& copy_sql, std::string_view data, int* failed_line) {
  // Large inputs go in 1 MiB pieces; libpq buffers and sends them (blocking connection).
  constexpr size_t kPiece = size_t{1} << 20;
  size_t at = 0;
  return CopyIn(
      copy_sql,
      [&](std::string& piece) {
        piece.assign(data.substr(at, kPiece));
        at += kPiece;
        return at < data.size();
      },
      failed_line);
}

absl::Status Connection::CopyIn(const std::string& copy_sql, absl::FunctionRef<bool(std::string&)> fill,
                                int* failed_line) {
  {
    PGresult* raw = PQexec(conn_.get(), copy_sql.c_str());
    absl::Status started = Check(raw, PGRES_COPY_IN);
    PQclear(raw);
    if (!started.ok()) return started;
  }
  std::string piece;
  bool sent = true;
  for (bool more = true; more && sent;) {
    piece.clear();
    more = fill(piece);
    if (!piece.empty()) sent = PQputCopyData(conn_.get(), piece.data(), static_cast<int>(piece.size())) == 1;
  }
  if (PQputCopyEnd(conn_.get(), sent ? nullptr : "client failed to send") != 1) {
    return absl::UnavailableError(fmt::format("postgresql: {}", Trimmed(PQerrorMessage(conn_.get()))));
  }
  absl::Status status;
  while (PGresult* raw = PQgetResult(conn_.get())) {
    if (status.ok()) status = Check(raw, PGRES_COMMAND_OK, failed_line);
    PQclear(raw);
  }
  return status;
}

void Connection::RollbackQuietly() {
  if (conn_ == nullptr || PQtransactionStatus(conn_.get()) == PQTRANS_IDLE) return;
  PQclear(PQexec(conn_.get(), "ROLLBACK"));
}

void AppendCopyText(std::string& line, std::string_view value) {
  // Runs without a character to escape (nearly all of a JSON document) are appended whole: appending byte by
  // byte cost an import on PostgreSQL 15% of its client CPU.
  size_t run = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c != '\\' && c != '\t' && c != '\n' && c != '\r') [[likely]] continue;
    line.append(value.data() + run, i - run);
    line.push_back('\\');
    line.push_back(c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : 'r');
    run = i + 1;
  }
  line.append(value.data() + run, value.size() - run);
}

std::string ByteaText(std::span<const uint8_t> bytes) {
  std::string out = "\\x";
  out.reserve(2 + 2 * bytes.size());
  for (const uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

void AppendCopyBytes(std::string& line, std::span<const uint8_t> bytes) {
  line += "\\\\x";  // COPY unescapes "\\" to "\", leaving bytea's "\x…" input form
  for (const uint8_t b : bytes) {
    line += kHex[b >> 4];
    line += kHex[b & 15];
  }
}

std::string TextArray(std::span<const std::string> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string TextArray(std::span<const std::optional<std::string>> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    if (!values[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (const char c : *values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string IntArray(std::span<const int64_t> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

std::string RedactUri(std::string_view uri) {
  const size_t scheme = uri.find("://");
  if (scheme == std::string_view::npos) return std::string(uri);
  const size_t at = uri.find('@', scheme + 3);
  const size_t slash = uri.find('/', scheme + 3);
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) return std::string(uri);
  const size_t colon = uri.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at) return std::string(uri);
  return fmt::format("{}***{}", uri.substr(0, colon + 1), uri.substr(at));
}

}  // namespace concord::store::postgres
