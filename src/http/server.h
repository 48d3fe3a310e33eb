// concord/http/server.h — the hardened HTTP/1.1 server every Concord endpoint runs on.
//
// Threads: `io_threads` run network I/O only (accept, TLS, parse, write); handlers run on a fixed pool of
// `worker_threads` fed by a bounded queue, so blocking work never stalls the network. Each connection's
// I/O is serialised on its own strand; a handler's response is posted back to it.
//
// Bounds (each with its answer): body > max_body_bytes → 413; header block > max_header_bytes → 431;
// a request not complete within read_timeout of its first byte (slowloris) → connection closed; no new
// request within idle_timeout on a keep-alive connection → closed; a write not done within write_timeout
// → closed; malformed HTTP → 400 and close; worker queue full → 503.
// Connection limit: the server keeps accepting beyond max_connections, answers each extra connection
// "503 Service Unavailable" with Connection: close and drops it (bounded to a further max_connections/8+8
// such answers in flight; past that, extra connections are closed at once). Clients so learn the node is
// overloaded instead of hanging in the kernel backlog.
//
// Lifecycle: Create binds and starts serving. Shutdown(deadline) drains: stops accepting, closes idle
// keep-alive connections, lets in-flight requests finish and be answered (with Connection: close), and at
// the deadline closes whatever is left; then it joins every thread. Run() waits until a shutdown is
// requested (RequestShutdown, or SIGTERM/SIGINT after HandleSignals) and drains. The destructor drains
// with a zero deadline if nobody did.
// Thread-safety: bound_port, RequestShutdown and HandleSignals may be called from any thread;
// Shutdown and Run from one non-server thread (never from a handler: it would wait for itself).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "http/router.h"

namespace concord::http {

// One finished exchange, for metrics.
struct RequestRecord {
  std::string_view route;  // matched pattern, or "" for 404/unparsable requests
  std::string_view method;
  int status = 0;
  std::chrono::nanoseconds duration{0};  // first byte of the request to the last byte of the response
  uint64_t response_bytes = 0;            // body bytes
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // IPv4 or IPv6 literal ("::", "::1", "0.0.0.0")
  uint16_t port = 0;               // 0: any free port, see bound_port()

  // TLS is the default: both files are required unless insecure_http is set (see tls_cert.h for a
  // self-signed pair). With client_ca_file, client certificates are verified against it; with
  // require_client_cert too, a client without a valid one fails the handshake.
  bool insecure_http = false;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string client_ca_file;
  bool require_client_cert = false;

  size_t io_threads = 2;
  size_t worker_threads = 4;
  size_t worker_queue = 1024;

  size_t max_body_bytes = 64u << 20;
  size_t max_header_bytes = 16u << 10;
  size_t max_connections = 1024;
  std::chrono::milliseconds read_timeout{60'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{60'000};

  // Streaming responses (Response::stream): at most max_streams at once (503 beyond, after the handler ran).
  // A stream waiting for events (Produced::kPending) holds no worker; when nothing was written for
  // stream_heartbeat its Response::heartbeat is written. The read and idle timeouts do not apply while a
  // response streams; write_timeout applies to each chunk. A client that closes its side ends the stream at
  // once (plain TCP; through TLS at the next write). Draining ends every stream (StreamContext::cancelled).
  size_t max_streams = 256;
  std::chrono::milliseconds stream_heartbeat{15'000};

  // Called once per finished exchange on a server thread; must be thread-safe and quick.
  std::function<void(const RequestRecord&)> on_request;
  // One JSON line per exchange through spdlog's default logger, at info level.
  bool access_log = true;
};

class Server {
 public:
  // Binds, loads TLS material and starts the threads. InvalidArgument for bad options, Unavailable
  // when the address cannot be bound, and the TLS library's reason for unreadable certificate files.
  static absl::StatusOr<std::unique_ptr<Server>> Create(ServerOptions options, Router router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t bound_port() const;

  // Drains as described above; returns when every thread has stopped. Later calls return at once.
  void Shutdown(std::chrono::steady_clock::duration deadline);
  // Asks Run() to drain; safe from any thread including handlers and signal handling.
  void RequestShutdown();
  // From now on SIGTERM and SIGINT call RequestShutdown (through asio::signal_set, not a raw handler).
  void HandleSignals();
  // Blocks until a shutdown is requested, then drains with `deadline` and returns.
  void Run(std::chrono::steady_clock::duration deadline = std::chrono::seconds(30));

  // Connections currently open (tests, metrics).
  size_t open_connections() const;
  // Streaming responses under way (tests, metrics).
  size_t open_streams() const;

  struct Impl;  // defined in server.cc only

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace concord::http
