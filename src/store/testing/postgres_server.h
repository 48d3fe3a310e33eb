// concord/store/testing/postgres_server.h — a real PostgreSQL server for store tests.
//
// One server per test binary, started on first use by scripts/pg-test (initdb in a temporary directory as
// an unprivileged user, a free port, fsync off) and stopped when the tests end: by the GoogleTest
// environment registered here, at exit, on SIGTERM/SIGINT (the postmaster gets SIGQUIT), and — should the
// test process die by SIGKILL — by the watcher pg-test leaves behind for the process's pid.
// CONCORD_TEST_POSTGRES_URI=postgresql://… uses an existing server instead (a role that may create
// databases). Each test gets a database of its own (CreateDatabase) and drops it (DropDatabase).
// When the PostgreSQL binaries are missing, available() is false and skip_reason() says why: tests skip.
#pragma once

#include <libpq-fe.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>

#include "fmt/format.h"
#include "gtest/gtest.h"

namespace concord::store::testing {

// Runs `sql` (one or more statements) on `uri`; "" on success, else the error.
inline std::string PgExec(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* result = PQexec(conn, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) error = PQresultErrorMessage(result);
    PQclear(result);
  }
  PQfinish(conn);
  return error;
}

// The first column of the first row of `sql` on `uri` as text; "<error: …>" on failure, "<null>" for NULL.
inline std::string PgText(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    out = fmt::format("<error: {}>", PQerrorMessage(conn));
  } else {
    PGresult* result = PQexec(conn, sql.c_str());
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
      out = fmt::format("<error: {}>", PQresultErrorMessage(result));
    } else if (PQntuples(result) < 1 || PQgetisnull(result, 0, 0)) {
      out = "<null>";
    } else {
      out = PQgetvalue(result, 0, 0);
    }
    PQclear(result);
  }
  PQfinish(conn);
  return out;
}

inline int64_t PgInt(const std::string& uri, const std::string& sql) {
  const std::string text = PgText(uri, sql);
  try {
    return std::stoll(text);
  } catch (...) {
    ADD_FAILURE() << sql << ": " << text;
    return -1;
  }
}

class PostgresServer {
 public:
  static PostgresServer& Get() {
    static PostgresServer* server = new PostgresServer();  // never destroyed: Stop() runs from the environment
    return *server;
  }

  // Starts the server unless it runs (or failed to start) already. Thread-safe.
  bool available() {
    std::call_once(started_, [this] { Start(); });
    return !admin_uri_.empty();
  }
  const std::string& skip_reason() const { return skip_reason_; }

  // A new, empty database; returns its URI ("" with a test failure when that fails).
  std::string CreateDatabase() {
    if (!available()) return "";
    const std::string name = fmt::format("concord_t{}_{}", getpid(), ++databases_);
    const std::string error = PgExec(admin_uri_, fmt::format("CREATE DATABASE {}", name));
    if (!error.empty()) {
      ADD_FAILURE() << "CREATE DATABASE " << name << ": " << error;
      return "";
    }
    return UriOf(name);
  }

  void DropDatabase(const std::string& uri) {
    if (uri.empty() || admin_uri_.empty()) return;
    const std::string name = uri.substr(uri.rfind('/') + 1);
    const std::string error = PgExec(admin_uri_, fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name));
    EXPECT_EQ(error, "") << "DROP DATABASE " << name;
  }

  void Stop() {
    if (dir_.empty()) return;
    const std::string command = fmt::format("'{}/scripts/pg-test' stop '{}' >&2", CONCORD_SOURCE_DIR, dir_);
    if (std::system(command.c_str()) != 0) std::fprintf(stderr, "postgres_server: %s failed\n", command.c_str());
    dir_.clear();
    postmaster_pid.store(0);
  }

 private:
  static inline std::atomic<pid_t> postmaster_pid{0};

  // SIGTERM/SIGINT (ctest's timeout, Ctrl-C): stop the server at once, then die of the signal as before.
  static void OnSignal(int signal) {
    if (const pid_t pid = postmaster_pid.load(); pid > 0) kill(pid, SIGQUIT);
    ::signal(signal, SIG_DFL);
    raise(signal);
  }

  std::string UriOf(const std::string& database) const {
    const size_t query = admin_uri_.find('?');
    const std::string base = admin_uri_.substr(0, query);
    const std::string rest = query == std::string::npos ? "" : admin_uri_.substr(query);
    return base.substr(0, base.rfind('/') + 1) + database + rest;
  }

  void Start() {
    if (const char* uri = std::getenv("CONCORD_TEST_POSTGRES_URI"); uri != nullptr && *uri != '\0') {
      admin_uri_ = uri;
      return;
    }
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "concord-pg-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      skip_reason_ = "cannot create a temporary directory for PostgreSQL";
      return;
    }
    const std::string command = fmt::format("'{}/scripts/pg-test' start '{}' --no-fsync --owner-pid {}",
                                            CONCORD_SOURCE_DIR, tmpl, getpid());
    FILE* out = popen(command.c_str(), "r");
    if (out == nullptr) {
      skip_reason_ = "cannot run scripts/pg-test";
      return;
    }
    std::string uri;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, out) != nullptr) uri += buffer;
    const int status = pclose(out);
    while (!uri.empty() && (uri.back() == '\n' || uri.back() == '\r')) uri.pop_back();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
      std::filesystem::remove_all(tmpl);
      skip_reason_ = "PostgreSQL server binaries not found (scripts/setup installs them)";
      return;
    }
    dir_ = tmpl;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !uri.starts_with("postgresql://")) {
      // The binaries are there but the server did not start: that is a failure, not a skip.
      Stop();
      ADD_FAILURE() << "scripts/pg-test start failed (status " << status << ")";
      skip_reason_ = "PostgreSQL failed to start (see above)";
      return;
    }
    admin_uri_ = uri;
    std::ifstream pid_file(std::filesystem::path(dir_) / "data" / "postmaster.pid");
    pid_t pid = 0;
    if (pid_file >> pid) postmaster_pid.store(pid);
    ::signal(SIGTERM, OnSignal);
    ::signal(SIGINT, OnSignal);
    std::atexit([] { PostgresServer::Get().Stop(); });
  }

  std::once_flag started_;
  std::string admin_uri_;
  std::string skip_reason_;
  std::string dir_;
  std::atomic<int> databases_{0};
};

// Stops the server when the tests end (it starts on first use).
class PostgresServerEnvironment final : public ::testing::Environment {
 public:
  void TearDown() override { PostgresServer::Get().Stop(); }
};

// A test with a database of its own (uri_) on the binary's server, dropped afterwards; skipped, saying why,
// when PostgreSQL is not installed. Subclasses that override SetUp/TearDown call these first/last.
class PostgresDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PostgresServer& server = PostgresServer::Get();
    if (!server.available()) GTEST_SKIP() << server.skip_reason();
    uri_ = server.CreateDatabase();
    ASSERT_FALSE(uri_.empty());
  }
  void TearDown() override {
    if (!uri_.empty()) PostgresServer::Get().DropDatabase(uri_);
  }

  std::string uri_;
};

}  // namespace concord::store::testing
