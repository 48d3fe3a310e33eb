// The only translation unit that includes Boost.Beast and Boost.Asio: they cost ~40 s to compile, and
// keeping them here keeps every handler module free of them.
#include "http/server.h"

#include <array>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/signal_set.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/ssl/ssl_stream.hpp"
#pragma GCC diagnostic pop

#include "boost/json.hpp"
#include "common/status.h"
#include "fmt/format.h"
#include "openssl/ssl.h"
#include "openssl/x509.h"
#include "spdlog/spdlog.h"

namespace concord::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// A fixed set of threads fed by a bounded queue. Submit never blocks: a full queue is the caller's 503.
class WorkerPool {
 public:
  WorkerPool(size_t threads, size_t capacity) : capacity_(capacity) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~WorkerPool() { Stop(); }

  // `force` admits the job past capacity: used for the next chunk of a response already under way, which
  // is bounded by the number of connections and must not fail half-way.
  bool Submit(std::function<void()> job, bool force = false) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || (!force && queue_.size() >= capacity_)) return false;
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
  }

  // Runs what is queued, then joins.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void Loop() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

std::string FormatEndpoint(const tcp::endpoint& ep) {
  const asio::ip::address a = ep.address();
  return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), ep.port()) : fmt::format("{}:{}", a.to_string(), ep.port());
}

bool ValidFieldName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool ValidFieldValue(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) == s.npos; }

// Status line and header block. The server owns framing (Content-Length, Transfer-Encoding, Connection),
// so a handler's values for those are dropped, as are fields that would split the header (CR/LF).
std::string SerializeHead(const Response& r, bool keep_alive, bool http10, std::optional<size_t> content_length,
                          bool chunked) {
  std::string reason(bhttp::obsolete_reason(static_cast<bhttp::status>(r.status)));
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", r.status, reason);
  for (const auto& [name, value] : r.headers.fields()) {
    if (!ValidFieldName(name) || !ValidFieldValue(value) || EqualsIgnoreCase(name, "Content-Length") ||
        EqualsIgnoreCase(name, "Transfer-Encoding") || EqualsIgnoreCase(name, "Connection")) {
      continue;
    }
    out += fmt::format("{}: {}\r\n", name, value);
  }
  if (content_length) out += fmt::format("Content-Length: {}\r\n", *content_length);
  if (chunked) out += "Transfer-Encoding: chunked\r\n";
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  return out;
}

bool BodyForbidden(int status) { return (status >= 100 && status < 200) || status == 204 || status == 304; }

}  // namespace

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  virtual void Start() = 0;
  // Posted from Shutdown: close if idle, otherwise close after the exchange under way.
  virtual void Drain() = 0;
  // Posted at the shutdown deadline: close now.
  virtual void ForceClose() = 0;
};

struct Server::Impl {
  Impl(ServerOptions o, Router r)
      : options(std::move(o)),
        router(std::move(r)),
        ioc(static_cast<int>(options.io_threads)),
        acceptor(asio::make_strand(ioc)),
        work(asio::make_work_guard(ioc)),
        pool(options.worker_threads, options.worker_queue) {}

  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void Unregister(uint64_t id, bool reject);
  void ForEachSession(void (SessionBase::*fn)());
  void Shutdown(Clock::duration deadline);
  void RequestShutdown() {
    {
      std::lock_guard lock(run_mu);
      shutdown_requested = true;
    }
    run_cv.notify_all();
  }
  void FinishExchange(const Request& req, int status, Clock::time_point start, uint64_t bytes) const;

  const ServerOptions options;
  const Router router;
  std::atomic<bool> draining{false};

  // Declared before ioc: sessions that die with the io_context unregister here.
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<uint64_t, std::weak_ptr<SessionBase>> sessions;
  uint64_t next_id = 0;
  size_t active = 0;     // sessions serving requests
  size_t rejecting = 0;  // sessions answering 503 past max_connections

  std::mutex run_mu;
  std::condition_variable run_cv;
  bool shutdown_requested = false;
  bool stopped = false;
  std::mutex shutdown_mu;  // serialises Shutdown

  std::optional<ssl::context> tls;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::optional<asio::signal_set> signals;
  std::optional<asio::steady_timer> accept_retry;
  uint16_t port = 0;
  WorkerPool pool;
  std::vector<std::thread> io_threads;
};

namespace {

template <class Stream>
class Session final : public SessionBase {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(Server::Impl& server, tcp::socket socket, uint64_t id, bool reject)
      : server_(server), stream_(MakeStream(server, std::move(socket))), id_(id), reject_(reject) {}
  ~Session() override { server_.Unregister(id_, reject_); }

  void Start() override {
    beast::error_code ec;
    const tcp::endpoint ep = lowest().socket().remote_endpoint(ec);
    remote_ = ec ? std::string("unknown") : FormatEndpoint(ep);
    if constexpr (kTls) {
      lowest().expires_after(server_.options.read_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = Self()](beast::error_code e) { self->OnHandshake(e); });
    } else {
      Begin();
    }
  }

  void Drain() override {
    asio::post(stream_.get_executor(), [self = Self()] {
      if (self->state_ == State::kIdle) self->lowest().cancel();
    });
  }

  void ForceClose() override {
    asio::post(stream_.get_executor(), [self = Self()] { self->Abort(); });
  }

 private:
  enum class State { kStarting, kIdle, kReading, kHandling, kWriting, kClosing };
  // What follows a completed write.
  enum class After { kReadBody, kNextChunk, kExchangeDone };

  static Stream MakeStream(Server::Impl& server, tcp::socket socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *server.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const ServerOptions& options() const { return server_.options; }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      spdlog::debug("tls handshake from {} failed: {}", remote_, ec.message());
      lowest().close();
      return;
    }
    if constexpr (kTls) {
      SSL* ssl = stream_.native_handle();
      X509* peer = SSL_get0_peer_certificate(ssl);
      if (peer != nullptr && SSL_get_verify_result(ssl) == X509_V_OK) {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
        if (bio && X509_NAME_print_ex(bio.get(), X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) >= 0) {
          char* data = nullptr;
          const long n = BIO_get_mem_data(bio.get(), &data);
          if (n > 0) client_subject_.assign(data, static_cast<size_t>(n));
        }
      }
    }
    Begin();
  }

  void Begin() {
    if (!reject_) {
      WaitForRequest();
      return;
    }
    // Past max_connections: a clear answer, then close.
    request_ = Request();
    request_.remote_address = remote_;
    start_ = Clock::now();
    exchange_ = true;
    keep_alive_ = false;
    Respond(server_.router.RenderError("", absl::UnavailableError("too many connections")));
  }

  // Keep-alive wait: the idle timeout runs until the first byte of the next request, then the read
  // timeout covers the whole request, so a client trickling bytes cannot hold the connection.
  void WaitForRequest() {
    if (server_.draining.load()) {
      LingerClose();
      return;
    }
    state_ = State::kIdle;
    if (buffer_.size() > 0) {
      ReadHeader();
      return;
    }
    lowest().expires_after(options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = Self()](beast::error_code ec, size_t n) {
      if (ec) {
        self->lowest().close();
        return;
      }
      self->buffer_.commit(n);
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    state_ = State::kReading;
    start_ = Clock::now();
    request_ = Request();
    request_.remote_address = remote_;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(options().max_header_bytes, UINT32_MAX)));
    parser_->body_limit(options().max_body_bytes);
    lowest().expires_after(options().read_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = Self()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    const auto& msg = parser_->get();
    request_.method = std::string(msg.method_string());
    request_.target = std::string(msg.target());
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is invalid. §6.3: a request whose transfer coding
    // does not end in chunked has no knowable length; reading on would let the body pass for a request.
    if (msg.version() >= 11 && msg.find(bhttp::field::host) == msg.end()) {
      FailRequest(absl::InvalidArgumentError("HTTP/1.1 request without Host header"));
      return;
    }
    if (msg.find(bhttp::field::transfer_encoding) != msg.end() && !parser_->chunked()) {
      FailRequest(absl::InvalidArgumentError("request transfer coding must end in chunked"));
      return;
    }
    if (auto len = parser_->content_length(); len && *len > options().max_body_bytes) {
      FailRequest(BodyTooLargeError(fmt::format("request body of {} bytes exceeds the limit of {} bytes", *len,
                                                options().max_body_bytes)));
      return;
    }
    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    auto expect = msg.find(bhttp::field::expect);
    if (expect != msg.end() && EqualsIgnoreCase(expect->value(), "100-continue")) {
      out_head_ = "HTTP/1.1 100 Continue\r\n\r\n";
      out_body_.clear();
      Write(After::kReadBody);
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    state_ = State::kReading;
    lowest().expires_at(start_ + options().read_timeout);  // the request's deadline, not a fresh one
    bhttp::async_read(stream_, buffer_, *parser_, [self = Self()](beast::error_code ec, size_t) {
      if (ec) {
        self->OnReadError(ec);
        return;
      }
      self->Dispatch();
    });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) {
      FailRequest(WithHttpStatus(absl::ResourceExhaustedError(fmt::format(
                                     "request header exceeds the limit of {} bytes", options().max_header_bytes)),
                                 431));
    } else if (ec == bhttp::error::body_limit) {
      // Beast refuses a too-large Content-Length while it reads the header fields; the request line, and so
      // the target that picks the error's shape (TAXII routes answer a TAXII error message), came before.
      if (parser_ && request_.target.empty()) request_.target = std::string(parser_->get().target());
      FailRequest(BodyTooLargeError(
          fmt::format("request body exceeds the limit of {} bytes", options().max_body_bytes)));
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      FailRequest(absl::InvalidArgumentError(fmt::format("malformed HTTP request: {}", ec.message())));
    } else {
      // End of stream, timeout, reset: nobody to answer.
      if (ec == beast::error::timeout) spdlog::debug("closing {}: request not complete in time", remote_);
      lowest().close();
    }
  }

  // Answers a request that could not be read completely, then closes: the rest of the stream cannot
  // be trusted to start at a message boundary.
  void FailRequest(const absl::Status& status) {
    exchange_ = true;
    keep_alive_ = false;
    const std::string_view target = request_.target;
    Respond(server_.router.RenderError(target.substr(0, target.find('?')), status));
  }

  void Dispatch() {
    auto msg = parser_->release();
    parser_.reset();
    exchange_ = true;
    keep_alive_ = msg.keep_alive();
    http10_ = msg.version() == 10;
    auto req_owner = std::make_shared<Request>(std::move(request_));
    Request& req = *req_owner;
    for (const auto& field : msg) req.headers.Add(std::string(field.name_string()), std::string(field.value()));
    req.body = std::move(msg.body());
    req.remote_address = remote_;
    req.tls_client_subject = client_subject_;
    const std::string_view target = req.target;
    const size_t q = target.find('?');
    const std::string_view raw_path = target.substr(0, q);
    if (q != target.npos) req.query = QueryParams::Parse(target.substr(q + 1));
    auto decoded = PercentDecode(raw_path, false);
    req.path = decoded ? *std::move(decoded) : std::string(raw_path);
    head_ = req.method == "HEAD";

    Router::Match m = server_.router.Find(req.method, raw_path);
    req.route = m.route;
    if (m.handler == nullptr) {
      request_ = std::move(req);
      Response r = server_.router.RenderError(request_.path, m.error);
      if (!m.allow.empty()) r.headers.Set("Allow", m.allow);
      Respond(std::move(r));
      return;
    }
    for (auto& [name, value] : m.params) req.path_params.emplace(std::move(name), std::move(value));
    state_ = State::kHandling;
    const Handler* handler = m.handler;
    const bool queued = server_.pool.Submit([self = Self(), handler, req_owner] {
      Request& request = *req_owner;
      absl::StatusOr<Response> result;
      try {
        result = (*handler)(request);
      } catch (const std::exception& e) {
        result = absl::InternalError(fmt::format("handler failed: {}", e.what()));
      }
      Response r =
          result.ok() ? *std::move(result) : self->server_.router.RenderError(request.path, result.status());
      asio::post(self->stream_.get_executor(), [self, r = std::move(r), req_owner]() mutable {
        self->request_ = std::move(*req_owner);
        self->Respond(std::move(r));
      });
    });
    if (!queued) {
      request_ = std::move(*req_owner);
      Respond(server_.router.RenderError(request_.path, absl::UnavailableError("server busy: worker queue full")));
    }
  }

  void Respond(Response r) {
    status_ = r.status;
    body_bytes_ = 0;
    if (server_.draining.load()) keep_alive_ = false;
    if (r.stream && !BodyForbidden(r.status)) {
      // HTTP/1.0 has no chunked encoding: the body then ends where the connection does.
      chunked_ = !http10_;
      if (!chunked_) keep_alive_ = false;
      producer_ = std::move(r.stream);
      out_head_ = SerializeHead(r, keep_alive_, http10_, std::nullopt, chunked_);
      out_body_.clear();
      Write(head_ ? After::kExchangeDone : After::kNextChunk);
      return;
    }
    const bool no_body = BodyForbidden(r.status);
    out_head_ = SerializeHead(r, keep_alive_, http10_, no_body ? std::nullopt : std::optional(r.body.size()), false);
    out_body_ = head_ || no_body ? std::string() : std::move(r.body);
    body_bytes_ = out_body_.size();
    Write(After::kExchangeDone);
  }

  void NextChunk() {
    state_ = State::kHandling;
    const bool queued = server_.pool.Submit(
        [self = Self()] {
          std::string chunk;
          absl::StatusOr<bool> more;
          try {
            more = self->producer_(chunk, self->cancelled_);
          } catch (const std::exception& e) {
            more = absl::InternalError(fmt::format("stream producer failed: {}", e.what()));
          }
          asio::post(self->stream_.get_executor(),
                     [self, more = std::move(more), chunk = std::move(chunk)]() mutable {
                       self->OnChunk(std::move(more), std::move(chunk));
                     });
        },
        /*force=*/true);
    if (!queued) Abort();
  }

  void OnChunk(absl::StatusOr<bool> more, std::string chunk) {
    if (!more.ok()) {
      spdlog::warn("streaming response to {} for {} ended early: {}", remote_, request_.target,
                   Sv(more.status().message()));
      Abort();
      return;
    }
    if (!*more) {
      out_head_ = chunked_ ? "0\r\n\r\n" : "";
      out_body_.clear();
      Write(After::kExchangeDone);
      return;
    }
    if (chunk.empty()) {  // an empty chunk would end the body
      NextChunk();
      return;
    }
    body_bytes_ += chunk.size();
    out_head_ = chunked_ ? fmt::format("{:x}\r\n", chunk.size()) : std::string();
    out_body_ = std::move(chunk);
    if (chunked_) out_body_ += "\r\n";
    Write(After::kNextChunk);
  }

  void Write(After after) {
    state_ = State::kWriting;
    lowest().expires_after(options().write_timeout);
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(out_head_), asio::buffer(out_body_)};
    asio::async_write(stream_, buffers, [self = Self(), after](beast::error_code ec, size_t) {
      if (ec) {
        self->Abort();
        return;
      }
      self->OnWritten(after);
    });
  }

  void OnWritten(After after) {
    switch (after) {
      case After::kReadBody:
        ReadBody();
        return;
      case After::kNextChunk:
        NextChunk();
        return;
      case After::kExchangeDone:
        break;
    }
    exchange_ = false;
    producer_ = nullptr;
    server_.FinishExchange(request_, status_, start_, body_bytes_);
    if (keep_alive_ && !server_.draining.load()) {
      WaitForRequest();
    } else {
      LingerClose();
    }
  }

  // Closes after a response: half-close and discard what the client still sends (for at most a second)
  // so that the kernel does not answer unread data with a reset that could destroy our response.
  void LingerClose() {
    state_ = State::kClosing;
    lowest().expires_after(std::chrono::seconds(1));
    if constexpr (kTls) {
      stream_.async_shutdown([self = Self()](beast::error_code) { self->lowest().close(); });
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      Discard();
    }
  }

  void Discard() {
    lowest().async_read_some(asio::buffer(scratch_), [self = Self()](beast::error_code ec, size_t) {
      if (ec) {
        self->lowest().close();
        return;
      }
      self->Discard();
    });
  }

  void Abort() {
    cancelled_.store(true);
    if (exchange_) {
      exchange_ = false;
      server_.FinishExchange(request_, status_, start_, body_bytes_);
    }
    state_ = State::kClosing;
    lowest().close();
  }

  Server::Impl& server_;
  Stream stream_;
  const uint64_t id_;
  const bool reject_;
  State state_ = State::kStarting;
  std::string remote_;
  std::string client_subject_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request request_;  // the exchange under way; owned by a worker while a handler runs
  Clock::time_point start_;
  bool exchange_ = false;
  bool keep_alive_ = false;
  bool http10_ = false;
  bool head_ = false;
  bool chunked_ = false;
  int status_ = 0;
  uint64_t body_bytes_ = 0;
  std::string out_head_;
  std::string out_body_;
  ChunkProducer producer_;
  std::atomic<bool> cancelled_{false};
  std::array<char, 4096> scratch_;
};

}  // namespace

void Server::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc),
                        [this](beast::error_code ec, tcp::socket socket) { OnAccept(ec, std::move(socket)); });
}

void Server::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    // Out of descriptors and the like: retry soon rather than spin.
    spdlog::warn("accept failed: {}", ec.message());
    accept_retry.emplace(acceptor.get_executor(), std::chrono::milliseconds(50));
    accept_retry->async_wait([this](beast::error_code e) {
      if (!e) Accept();
    });
    return;
  }
  bool reject = false;
  uint64_t id = 0;
  {
    std::lock_guard lock(mu);
    if (draining.load()) return;  // the socket closes as it goes out of scope
    if (active >= options.max_connections) {
      if (rejecting >= options.max_connections / 8 + 8) {
        Accept();
        return;
      }
      reject = true;
      ++rejecting;
    } else {
      ++active;
    }
    id = ++next_id;
  }
  // Small writes (chunks, server-sent events) must not wait for Nagle's algorithm.
  socket.set_option(tcp::no_delay(true), ec);
  std::shared_ptr<SessionBase> session;
  if (tls) {
    session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(*this, std::move(socket), id, reject);
  } else {
    session = std::make_shared<Session<beast::tcp_stream>>(*this, std::move(socket), id, reject);
  }
  {
    std::lock_guard lock(mu);
    sessions.emplace(id, session);
  }
  session->Start();
  Accept();
}

void Server::Impl::Unregister(uint64_t id, bool reject) {
  {
    std::lock_guard lock(mu);
    sessions.erase(id);
    --(reject ? rejecting : active);
  }
  cv.notify_all();
}

void Server::Impl::ForEachSession(void (SessionBase::*fn)()) {
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard lock(mu);
    for (auto& [id, weak] : sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) ((*s).*fn)();
}

void Server::Impl::FinishExchange(const Request& req, int status, Clock::time_point start, uint64_t bytes) const {
  const auto duration = Clock::now() - start;
  if (options.on_request) options.on_request(RequestRecord{req.route, req.method, status, duration, bytes});
  if (!options.access_log) return;
  boost::json::object line;
  line["method"] = req.method;
  line["target"] = req.target;
  line["route"] = req.route;
  line["status"] = status;
  line["duration_ms"] = std::chrono::duration<double, std::milli>(duration).count();
  line["bytes"] = bytes;
  line["remote"] = req.remote_address;
  if (!req.principal.empty()) line["user"] = req.principal;
  if (!req.tls_client_subject.empty()) line["tls_subject"] = req.tls_client_subject;
  spdlog::info("{}", boost::json::serialize(line));
}

void Server::Impl::Shutdown(Clock::duration deadline) {
  std::lock_guard once(shutdown_mu);
  {
    std::lock_guard lock(run_mu);
    if (stopped) return;
  }
  const auto until = Clock::now() + deadline;
  draining.store(true);
  asio::post(acceptor.get_executor(), [this] {
    beast::error_code ec;
    acceptor.close(ec);
    if (accept_retry) accept_retry->cancel();
  });
  {
    std::lock_guard lock(run_mu);
    beast::error_code ec;
    if (signals) signals->cancel(ec);
  }
  ForEachSession(&SessionBase::Drain);
  {
    std::unique_lock lock(mu);
    cv.wait_until(lock, until, [&] { return sessions.empty(); });
  }
  ForEachSession(&SessionBase::ForceClose);
  pool.Stop();
  {
    // Closed sessions finish their last completion handlers; this takes milliseconds.
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(2), [&] { return sessions.empty(); });
  }
  work.reset();
  ioc.stop();
  for (std::thread& t : io_threads) {
    if (t.joinable()) t.join();
  }
  {
    // The close posted above may not have run before ioc.stop(); with the I/O threads gone, close here so
    // that a drained server refuses connections instead of leaving them in the kernel's backlog.
    beast::error_code ec;
    acceptor.close(ec);
  }
  {
    std::lock_guard lock(run_mu);
    stopped = true;
    shutdown_requested = true;
  }
  run_cv.notify_all();
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { impl_->Shutdown(Clock::duration::zero()); }

absl::StatusOr<std::unique_ptr<Server>> Server::Create(ServerOptions options, Router router) {
  if (options.io_threads == 0 || options.worker_threads == 0 || options.worker_queue == 0 ||
      options.max_connections == 0 || options.max_header_bytes == 0) {
    return absl::InvalidArgumentError("io_threads, worker_threads, worker_queue, max_connections and "
                                      "max_header_bytes must be positive");
  }
  if (!options.insecure_http && (options.tls_cert_file.empty() || options.tls_key_file.empty())) {
    return absl::InvalidArgumentError(
        "TLS needs a certificate and a key file (generate a self-signed pair, or set insecure_http)");
  }
  if (options.require_client_cert && options.client_ca_file.empty()) {
    return absl::InvalidArgumentError("require_client_cert needs client_ca_file");
  }
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(options.host, ec);
  if (ec) return absl::InvalidArgumentError(fmt::format("listen host \"{}\" is not an IP literal", options.host));

  auto impl = std::make_unique<Impl>(std::move(options), std::move(router));
  const ServerOptions& o = impl->options;
  if (!o.insecure_http) {
    ssl::context& ctx = impl->tls.emplace(ssl::context::tls_server);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                    ec);
    if (!ec) ctx.use_certificate_chain_file(o.tls_cert_file, ec);
    if (ec) return absl::InvalidArgumentError(fmt::format("TLS certificate {}: {}", o.tls_cert_file, ec.message()));
    ctx.use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
    if (ec) return absl::InvalidArgumentError(fmt::format("TLS key {}: {}", o.tls_key_file, ec.message()));
    if (!o.client_ca_file.empty()) {
      ctx.load_verify_file(o.client_ca_file, ec);
      if (ec) return absl::InvalidArgumentError(fmt::format("client CA {}: {}", o.client_ca_file, ec.message()));
      ssl::verify_mode mode = ssl::verify_peer;
      if (o.require_client_cert) mode |= ssl::verify_fail_if_no_peer_cert;
      ctx.set_verify_mode(mode);
      // Client verification needs a session id context, or resumed sessions fail the handshake.
      static constexpr unsigned char kSessionContext[] = "concord";
      SSL_CTX_set_session_id_context(ctx.native_handle(), kSessionContext, sizeof kSessionContext - 1);
    }
  }

  tcp::acceptor& acc = impl->acceptor;
  const tcp::endpoint endpoint(address, o.port);
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(fmt::format("listen on {}: {}", FormatEndpoint(endpoint), ec.message()));
  impl->port = acc.local_endpoint(ec).port();

  Impl* raw = impl.get();
  asio::post(acc.get_executor(), [raw] { raw->Accept(); });
  for (size_t i = 0; i < o.io_threads; ++i) raw->io_threads.emplace_back([raw] { raw->ioc.run(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::bound_port() const { return impl_->port; }

void Server::Shutdown(std::chrono::steady_clock::duration deadline) { impl_->Shutdown(deadline); }

void Server::RequestShutdown() { impl_->RequestShutdown(); }

void Server::HandleSignals() {
  Impl* raw = impl_.get();
  std::lock_guard lock(raw->run_mu);
  if (raw->signals || raw->stopped || raw->draining.load()) return;
  raw->signals.emplace(raw->ioc, SIGTERM, SIGINT);
  raw->signals->async_wait([raw](beast::error_code ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received: draining", signal);
    raw->RequestShutdown();
  });
}

void Server::Run(std::chrono::steady_clock::duration deadline) {
  {
    std::unique_lock lock(impl_->run_mu);
    impl_->run_cv.wait(lock, [&] { return impl_->shutdown_requested; });
  }
  impl_->Shutdown(deadline);
}

size_t Server::open_connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->active;
}

}  // namespace concord::http
