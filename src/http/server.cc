// The only translation unit that includes Boost.Beast and Boost.Asio: they cost ~40 s to compile, and
// keeping them here keeps every handler module free of them.
#include "http/server.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
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
#include "boost/beast/http/status.hpp"
#include "boost/beast/ssl/ssl_stream.hpp"
#pragma GCC diagnostic pop

#include "boost/json.hpp"
#include "common/status.h"
#include "common/thread.h"
#include "fmt/format.h"
#include "http/parse.h"
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
    for (size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        NameThisThread("concord-work");
        Loop();
      });
    }
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
  std::atomic<size_t> streams{0};  // streaming responses under way, at most options.max_streams

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
  ~Session() override {
    ReleaseStreamSlot();
    server_.Unregister(id_, reject_);
  }

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
      if (self->producer_) self->CancelStream();
    });
  }

  void ForceClose() override {
    asio::post(stream_.get_executor(), [self = Self()] { self->Abort(); });
  }

 private:
  // kWaiting: a streaming response whose producer answered kPending; the stream timer is armed.
  enum class State { kStarting, kIdle, kReading, kHandling, kWriting, kWaiting, kClosing };
  // What follows a completed write.
  enum class After { kReadBody, kNextChunk, kWaitForEvents, kExchangeDone };

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
    reader_.emplace(ReaderLimits{.max_header_bytes = options().max_header_bytes,
                                 .max_body_bytes = options().max_body_bytes});
    lowest().expires_after(options().read_timeout);
    Parse();
  }

  // Hands what is buffered to the request reader (http/parse.h, the same code the fuzz target runs) and reads
  // from the socket while it needs more. Bytes it does not consume stay buffered: the rest of an incomplete
  // header, or the next pipelined request.
  void Parse() {
    const auto data = buffer_.data();
    buffer_.consume(reader_->Put(std::string_view(static_cast<const char*>(data.data()), data.size())));
    switch (reader_->state()) {
      case RequestReader::State::kHeader:
      case RequestReader::State::kBody:
        ReadMore();
        return;
      case RequestReader::State::kHeaderDone:
        OnHeader();
        return;
      case RequestReader::State::kComplete:
        Dispatch();
        return;
      case RequestReader::State::kFailed:
        request_.method = reader_->method();
        request_.target = reader_->target();
        FailRequest(reader_->error());
        return;
    }
  }

  void ReadMore() {
    // As Beast's own read loop sizes it: what the buffer holds spare, at least 512 bytes, at most 64 KiB.
    const size_t size = std::clamp<size_t>(buffer_.capacity() - buffer_.size(), 512, 65536);
    stream_.async_read_some(buffer_.prepare(size), [self = Self()](beast::error_code ec, size_t n) {
      if (ec) {
        self->OnReadError(ec);
        return;
      }
      self->buffer_.commit(n);
      self->Parse();
    });
  }

  // The header is read and accepted, and a body follows.
  void OnHeader() {
    request_.method = reader_->method();
    request_.target = reader_->target();
    if (reader_->expects_continue()) {
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
    Parse();
  }

  // End of stream, timeout, reset: nobody to answer.
  void OnReadError(beast::error_code ec) {
    if (ec == beast::error::timeout) spdlog::debug("closing {}: request not complete in time", remote_);
    lowest().close();
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
    ParsedRequest parsed = reader_->Take();
    reader_.reset();
    exchange_ = true;
    keep_alive_ = parsed.keep_alive;
    http10_ = parsed.http10;
    auto req_owner = std::make_shared<Request>(std::move(parsed.request));
    Request& req = *req_owner;
    req.remote_address = remote_;
    req.tls_client_subject = client_subject_;
    const std::string_view target = req.target;
    const std::string_view raw_path = target.substr(0, target.find('?'));
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
      auto deliver = [self, req_owner](Response out) {
        asio::post(self->stream_.get_executor(), [self, out = std::move(out), req_owner]() mutable {
          self->request_ = std::move(*req_owner);
          self->Respond(std::move(out));
        });
      };
      if (!r.gate) {
        deliver(std::move(r));
        return;
      }
      // Held until released (message.h, Gate), without holding this worker.
      Gate gate = std::move(r.gate);
      auto held = std::make_shared<Response>(std::move(r));
      gate([self, req_owner, held, deliver](absl::Status released) {
        deliver(released.ok() ? std::move(*held) : self->server_.router.RenderError(req_owner->path, released));
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
      if (!head_ && !AcquireStreamSlot()) {
        Respond(server_.router.RenderError(
            request_.path, absl::UnavailableError(fmt::format("too many open streams (the limit is {}): try again later",
                                                              options().max_streams))));
        return;
      }
      // HTTP/1.0 has no chunked encoding: the body then ends where the connection does.
      chunked_ = !http10_;
      if (!chunked_) keep_alive_ = false;
      out_head_ = SerializeHead(r, keep_alive_, http10_, std::nullopt, chunked_);
      out_body_.clear();
      if (head_) {
        Write(After::kExchangeDone);
        return;
      }
      StartStream(std::move(r));
      Write(After::kNextChunk);
      return;
    }
    const bool no_body = BodyForbidden(r.status);
    out_head_ = SerializeHead(r, keep_alive_, http10_, no_body ? std::nullopt : std::optional(r.body.size()), false);
    out_body_ = head_ || no_body ? std::string() : std::move(r.body);
    body_bytes_ = out_body_.size();
    Write(After::kExchangeDone);
  }

  // ---- streaming responses -------------------------------------------------------------------------------
  // A stream alternates: the producer runs on a worker (kHandling), its chunk is written (kWriting), and when
  // it has nothing (kPending) the session waits on its strand (kWaiting) for a wake, a cancellation or the
  // heartbeat. Nothing reads the socket meanwhile except WatchClient, which only looks for the client leaving.

  bool AcquireStreamSlot() {
    if (server_.streams.fetch_add(1) >= options().max_streams) {
      server_.streams.fetch_sub(1);
      return false;
    }
    holds_stream_slot_ = true;
    return true;
  }

  void ReleaseStreamSlot() {
    if (holds_stream_slot_) server_.streams.fetch_sub(1);
    holds_stream_slot_ = false;
  }

  void StartStream(Response r) {
    producer_ = std::move(r.stream);
    heartbeat_ = std::move(r.heartbeat);
    cancelled_.store(server_.draining.load());
    woken_.store(false);
    if (!wake_) {
      // Holds the session weakly: a change feed may keep the function after the connection is gone.
      wake_ = [weak = std::weak_ptr<Session>(Self())] {
        auto self = weak.lock();
        if (!self || self->woken_.exchange(true)) return;  // gone, or a wake is already on its way
        asio::post(self->stream_.get_executor(), [self] {
          if (self->state_ == State::kWaiting) self->stream_timer_->cancel();
        });
      };
    }
    last_write_ = Clock::now();
    ++stream_generation_;
    WatchClient();
  }

  // While a response streams, the client has nothing to send, so the socket turning readable means it closed
  // (EOF) or reset: end the stream now rather than at the next failed write. The bytes are only peeked; real
  // data (a pipelined request, TLS records) stops the watch and stays for after the stream.
  void WatchClient() {
    watching_ = true;
    lowest().socket().async_wait(tcp::socket::wait_read,
                                 [self = Self(), generation = stream_generation_](beast::error_code ec) {
                                   self->OnClientReadable(ec, generation);
                                 });
  }

  void OnClientReadable(beast::error_code ec, uint64_t generation) {
    if (generation != stream_generation_) return;  // the watch of a stream that has ended
    watching_ = false;
    if (ec == asio::error::operation_aborted || state_ == State::kClosing || !producer_) return;
    char byte = 0;
    const ssize_t n = ec ? -1 : ::recv(lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return;
    if (n < 0 && !ec && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      WatchClient();
      return;
    }
    spdlog::debug("{} left the stream {}", remote_, request_.target);
    Abort();
  }

  void StopWatchingClient() {
    ++stream_generation_;
    if (!watching_) return;
    watching_ = false;
    beast::error_code ec;
    lowest().socket().cancel(ec);  // nothing else is pending on the socket between exchanges
  }

  // Draining, or the client left: the producer sees `cancelled`; a waiting stream is called at once.
  void CancelStream() {
    cancelled_.store(true);
    if (state_ == State::kWaiting) stream_timer_->cancel();
  }

  void WaitForEvents() {
    if (woken_.load() || cancelled_.load()) {  // a wake that came while the producer ran or a write was under way
      NextChunk();
      return;
    }
    state_ = State::kWaiting;
    if (!stream_timer_) stream_timer_.emplace(stream_.get_executor());
    // The producer is called again at the next heartbeat. A stream without heartbeat text writes nothing
    // then, so its last write may be long past: it is polled one interval after this wait began instead.
    const Clock::time_point now = Clock::now();
    Clock::time_point due = last_write_ + options().stream_heartbeat;
    if (due <= now) due = now + options().stream_heartbeat;
    stream_timer_->expires_at(due);
    stream_timer_->async_wait([self = Self()](beast::error_code) {
      if (self->state_ == State::kWaiting) self->NextChunk();
    });
  }

  void NextChunk() {
    state_ = State::kHandling;
    const bool queued = server_.pool.Submit(
        [self = Self()] {
          std::string chunk;
          absl::StatusOr<Produced> more;
          // Cleared before the call: a wake from here on makes a kPending answer poll again (WaitForEvents).
          self->woken_.store(false);
          try {
            more = self->producer_(chunk, StreamContext{self->cancelled_, self->wake_});
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

  void OnChunk(absl::StatusOr<Produced> more, std::string chunk) {
    if (state_ == State::kClosing) return;  // aborted (client gone, deadline) while the producer ran
    if (!more.ok()) {
      spdlog::warn("streaming response to {} for {} ended early: {}", remote_, request_.target,
                   Sv(more.status().message()));
      Abort();
      return;
    }
    switch (*more) {
      case Produced::kEnd:
        EndStream();
        return;
      case Produced::kPending:
        if (cancelled_.load()) {  // nothing more will come: end cleanly rather than wait for the deadline
          EndStream();
        } else if (!heartbeat_.empty() && Clock::now() - last_write_ >= options().stream_heartbeat) {
          WriteChunk(heartbeat_, After::kWaitForEvents);
        } else {
          WaitForEvents();
        }
        return;
      case Produced::kChunk:
        if (chunk.empty()) {  // an empty chunk would end the body
          NextChunk();
          return;
        }
        WriteChunk(std::move(chunk), After::kNextChunk);
        return;
    }
  }

  void WriteChunk(std::string chunk, After after) {
    body_bytes_ += chunk.size();
    out_head_ = chunked_ ? fmt::format("{:x}\r\n", chunk.size()) : std::string();
    out_body_ = std::move(chunk);
    if (chunked_) out_body_ += "\r\n";
    Write(after);
  }

  void EndStream() {
    out_head_ = chunked_ ? "0\r\n\r\n" : "";
    out_body_.clear();
    Write(After::kExchangeDone);
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
        last_write_ = Clock::now();
        NextChunk();
        return;
      case After::kWaitForEvents:
        last_write_ = Clock::now();
        WaitForEvents();
        return;
      case After::kExchangeDone:
        break;
    }
    exchange_ = false;
    if (producer_) {
      StopWatchingClient();
      ReleaseStreamSlot();
    }
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
    if (stream_timer_) stream_timer_->cancel();
    ReleaseStreamSlot();
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
  std::optional<RequestReader> reader_;
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
  // Streaming state (see StartStream).
  std::string heartbeat_;
  std::function<void()> wake_;    // made once per session; producers may keep copies
  std::atomic<bool> woken_{false};  // a wake arrived since the producer was last called
  std::optional<asio::steady_timer> stream_timer_;
  Clock::time_point last_write_;  // of the stream's last chunk (or its head): the heartbeat counts from it
  bool holds_stream_slot_ = false;
  bool watching_ = false;
  uint64_t stream_generation_ = 0;  // tells a stale WatchClient completion from the current one
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
  // The line is built only when it will be written: at the usual production level (warn) it is not, and
  // building it cost every request a JSON document.
  if (!options.access_log || !spdlog::should_log(spdlog::level::info)) return;
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
  if (options.stream_heartbeat <= std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("stream_heartbeat must be positive");
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
  for (size_t i = 0; i < o.io_threads; ++i) raw->io_threads.emplace_back([raw] {
    NameThisThread("concord-io");
    raw->ioc.run();
  });
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

size_t Server::open_streams() const { return impl_->streams.load(); }

}  // namespace concord::http
