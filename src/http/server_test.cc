// Real sockets on 127.0.0.1, port 0. The client is raw POSIX sockets plus OpenSSL, so that this test does
// not pay for a second Beast translation unit and speaks exactly the bytes it means to.
#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "boost/json.hpp"
#include "common/status.h"
#include "fmt/format.h"
#include "http/rate_limit.h"
#include "http/tls_cert.h"
#include "openssl/err.h"
#include "openssl/ssl.h"

namespace concord::http {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A one-shot latch with a deadline, so that a broken server fails the test instead of hanging it.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool chunked = false;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct TlsClientConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// One client connection with deadlines on every read.
class Conn {
 public:
  static std::unique_ptr<Conn> Open(uint16_t port, const TlsClientConfig* tls = nullptr, std::string* error = nullptr) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (error) *error = "connect failed";
      ::close(fd);
      return nullptr;
    }
    auto c = std::unique_ptr<Conn>(new Conn(fd));
    if (tls && !c->Handshake(*tls, error)) return nullptr;
    return c;
  }
  ~Conn() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    ::close(fd_);
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const long n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                          : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response; nullopt if the connection ended first or the deadline passed.
  std::optional<HttpResponse> Read(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto head = ReadHead(deadline);
    if (!head) return std::nullopt;
    HttpResponse r = *std::move(head);
    if (r.status < 200 || r.status == 204 || r.status == 304) return r;
    if (r.chunked) {
      while (true) {
        auto chunk = ReadChunk(deadline);
        if (!chunk) return std::nullopt;
        if (chunk->empty()) break;
        r.body += *chunk;
      }
    } else if (!r.header("content-length").empty()) {
      const size_t size = std::stoul(r.header("content-length"));
      while (buf_.size() < size) {
        if (!Fill(deadline)) return std::nullopt;
      }
      r.body = buf_.substr(0, size);
      buf_.erase(0, size);
    } else {
      while (Fill(deadline)) {
      }
      r.body = std::move(buf_);
      buf_.clear();
    }
    return r;
  }

  // The status line and header fields of a response, without its body (for streaming responses).
  std::optional<HttpResponse> ReadHead(std::chrono::steady_clock::time_point deadline) {
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    HttpResponse r;
    std::string head = buf_.substr(0, head_end);
    buf_.erase(0, head_end + 4);
    size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const size_t next = head.find("\r\n", line_end + 2);
      std::string line = head.substr(line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
      const size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      r.headers[name] = line.substr(colon + 2);
      line_end = next;
    }
    r.chunked = r.header("transfer-encoding") == "chunked";
    return r;
  }
  std::optional<HttpResponse> ReadHead(std::chrono::milliseconds timeout = 5000ms) {
    return ReadHead(std::chrono::steady_clock::now() + timeout);
  }

  // The data of the next chunk of a chunked body: "" for the last chunk, nullopt when the connection ended
  // or the deadline passed first.
  std::optional<std::string> ReadChunk(std::chrono::steady_clock::time_point deadline) {
    size_t eol;
    while ((eol = buf_.find("\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    const size_t size = std::stoul(buf_.substr(0, eol), nullptr, 16);
    while (buf_.size() < eol + 2 + size + 2) {
      if (!Fill(deadline)) return std::nullopt;
    }
    std::string data = buf_.substr(eol + 2, size);
    buf_.erase(0, eol + 2 + size + 2);
    return data;
  }
  std::optional<std::string> ReadChunk(std::chrono::milliseconds timeout = 5000ms) {
    return ReadChunk(std::chrono::steady_clock::now() + timeout);
  }

  // True when the server closes (EOF or reset) before the deadline; data received meanwhile is dropped.
  bool WaitClosed(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!Fill(deadline)) return !timed_out_;
    }
    return false;
  }

  int fd() const { return fd_; }

 private:
  explicit Conn(int fd) : fd_(fd) {}

  bool Handshake(const TlsClientConfig& tls, std::string* error) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_, tls.ca_file.c_str(), nullptr) != 1) return Fail(error, "load CA");
    if (!tls.cert_file.empty() &&
        (SSL_CTX_use_certificate_chain_file(ctx_, tls.cert_file.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx_, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
      return Fail(error, "client cert");
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    SSL_set1_host(ssl_, "localhost");
    if (SSL_connect(ssl_) != 1) return Fail(error, "handshake");
    return true;
  }

  bool Fail(std::string* error, const char* what) {
    char buf[256] = "";
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    if (error) *error = fmt::format("{}: {}", what, buf);
    return false;
  }

  // Reads more bytes; false on EOF, error or deadline (timed_out_ says which).
  bool Fill(std::chrono::steady_clock::time_point deadline) {
    timed_out_ = false;
    if (!ssl_ || SSL_pending(ssl_) == 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) {
        timed_out_ = true;
        return false;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        timed_out_ = true;
        return false;
      }
    }
    char tmp[16384];
    const long n = ssl_ ? SSL_read(ssl_, tmp, sizeof tmp) : ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      if (ssl_ && SSL_get_error(ssl_, static_cast<int>(n)) == SSL_ERROR_WANT_READ) return Fill(deadline);
      ERR_clear_error();
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buf_;
  bool timed_out_ = false;
};

std::string Get(std::string_view target, std::string_view extra = "") {
  return fmt::format("GET {} HTTP/1.1\r\nHost: localhost\r\n{}\r\n", target, extra);
}

ServerOptions TestOptions() {
  ServerOptions o;
  o.insecure_http = true;
  o.io_threads = 2;
  o.worker_threads = 2;
  o.read_timeout = 2000ms;
  o.idle_timeout = 2000ms;
  o.write_timeout = 2000ms;
  o.access_log = false;
  return o;
}

std::unique_ptr<Server> Start(Router router, ServerOptions options = TestOptions()) {
  auto server = Server::Create(std::move(options), std::move(router));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

Handler Echo() {
  return [](Request& req) -> absl::StatusOr<Response> {
    boost::json::object o;
    o["method"] = req.method;
    o["route"] = req.route;
    o["path"] = req.path;
    boost::json::object params;
    for (const auto& [k, v] : req.path_params) params[k] = v;
    o["params"] = params;
    boost::json::array types;
    for (const auto& t : req.query.GetList("match[type]")) types.emplace_back(t);
    o["types"] = types;
    o["x_test"] = std::string(req.headers.Get("x-TEST").value_or(""));
    o["body"] = req.body;
    o["remote"] = req.remote_address;
    o["subject"] = req.tls_client_subject;
    return Response::Json(200, boost::json::serialize(o));
  };
}

Router EchoRouter() {
  Router r;
  EXPECT_TRUE(r.Add("GET", "/api/v1/objects/{id}", Echo()).ok());
  EXPECT_TRUE(r.Add("POST", "/api/v1/objects/{id}", Echo()).ok());
  EXPECT_TRUE(r.Add("GET", "/taxii2/{root}/collections/{id}/objects/", Echo()).ok());
  r.SetErrorRenderer("/taxii2/", TaxiiErrorResponse);
  return r;
}

boost::json::object Body(const HttpResponse& r) { return boost::json::parse(r.body).as_object(); }

TEST(Server, RoutesWithParamsQueryAndHeaders) {
  auto server = Start(EchoRouter());
  auto c = Conn::Open(server->bound_port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Send(Get("/taxii2/api%201/collections/c1/objects/?match[type]=indicator,malware&match%5Btype%5D=x",
                          "X-Test: yes\r\n")));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto b = Body(*r);
  EXPECT_EQ(b["route"], "/taxii2/{root}/collections/{id}/objects/");
  EXPECT_EQ(b["path"], "/taxii2/api 1/collections/c1/objects/");
  EXPECT_EQ(b["params"], boost::json::parse(R"({"root":"api 1","id":"c1"})"));
  EXPECT_EQ(b["types"], boost::json::parse(R"(["indicator","malware","x"])"));
  EXPECT_EQ(b["x_test"], "yes");
  EXPECT_THAT(std::string(b["remote"].as_string()), StartsWith("127.0.0.1:"));
}

TEST(Server, UnknownPath404WrongMethod405WithAllow) {
  auto server = Start(EchoRouter());
  auto c = Conn::Open(server->bound_port());
  ASSERT_TRUE(c->Send(Get("/nowhere")));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(Body(*r)["error"].at("code"), "NOT_FOUND");
  ASSERT_TRUE(c->Send("DELETE /api/v1/objects/x HTTP/1.1\r\nHost: h\r\n\r\n"));
  r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD, POST");
  ASSERT_TRUE(c->Send("POST /taxii2/r/collections/c/objects/ HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"));
  r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(Body(*r)["http_status"], "405");  // TAXII routes render the TAXII error shape
}

TEST(Server, KeepAliveServesTwoRequestsOnOneConnection) {
  auto server = Start(EchoRouter());
  auto c = Conn::Open(server->bound_port());
  ASSERT_TRUE(c->Send(Get("/api/v1/objects/a")));
  auto first = c->Read();
  ASSERT_TRUE(c->Send("POST /api/v1/objects/b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"));
  auto second = c->Read();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(Body(*first)["params"].at("id"), "a");
  EXPECT_EQ(Body(*second)["body"], "hello");
  EXPECT_EQ(Body(*first)["remote"], Body(*second)["remote"]);  // same connection
  EXPECT_EQ(second->header("connection"), "");
}

TEST(Server, HeadAnswersWithoutBody) {
  auto server = Start(EchoRouter());
  auto c = Conn::Open(server->bound_port());
  ASSERT_TRUE(c->Send("HEAD /api/v1/objects/a HTTP/1.1\r\nHost: h\r\n\r\n"));
  // The Content-Length of the GET is announced, but no body follows: the next response starts at once.
  ASSERT_TRUE(c->Send(Get("/api/v1/objects/b")));
  char buf[4096];
  std::string all;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (all.find("\"b\"") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{c->fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const long n = ::recv(c->fd(), buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  EXPECT_THAT(all, StartsWith("HTTP/1.1 200 OK\r\n"));
  const size_t second = all.find("HTTP/1.1 200 OK", 1);
  ASSERT_NE(second, std::string::npos);
  EXPECT_EQ(all.substr(second - 4, 4), "\r\n\r\n");  // nothing between the HEAD response header and the next
}

TEST(Server, BodyOverLimitIs413) {
  ServerOptions o = TestOptions();
  o.max_body_bytes = 1024;
  auto server = Start(EchoRouter(), o);
  auto c = Conn::Open(server->bound_port());
  ASSERT_TRUE(c->Send("POST /api/v1/objects/a HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n"));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(Body(*r)["error"].at("code"), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c->WaitClosed());

  // Chunked bodies are counted as they arrive.
  auto c2 = Conn::Open(server->bound_port());
  std::string chunked = "POST /api/v1/objects/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "200\r\n" + std::string(512, 'x') + "\r\n";
  ASSERT_TRUE(c2->Send(chunked));
  r = c2->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST(Server, HeaderOverLimitIs431) {
  ServerOptions o = TestOptions();
  o.max_header_bytes = 1024;
  auto server = Start(EchoRouter(), o);
  auto c = Conn::Open(server->bound_port());
  ASSERT_TRUE(c->Send(Get("/api/v1/objects/a", "X-Big: " + std::string(4000, 'a') + "\r\n")));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(c->WaitClosed());
}

TEST(Server, ExpectContinueIsHonoured) {
  auto server = Start(EchoRouter());
  auto c = Conn::Open(server->bound_port());
  ASSERT_TRUE(c->Send("POST /api/v1/objects/a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c->Read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c->Send("abc"));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(Body(*r)["body"], "abc");
}

TEST(Server, SlowlorisIsCutOffByReadTimeout) {
  ServerOptions o = TestOptions();
  o.read_timeout = 300ms;
  auto server = Start(EchoRouter(), o);
  auto c = Conn::Open(server->bound_port());
  const std::string request = Get("/api/v1/objects/a", "X-Pad: " + std::string(200, 'p') + "\r\n");
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  // One byte every 20 ms: the whole request would take over 4 s, far beyond the 300 ms allowed.
  for (size_t i = 0; i < request.size() && !closed; ++i) {
    if (!c->Send(request.substr(i, 1))) break;
    closed = c->WaitClosed(20ms);
  }
  if (!closed) closed = c->WaitClosed(2000ms);
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(Server, IdleKeepAliveConnectionIsClosed) {
  ServerOptions o = TestOptions();
  o.idle_timeout = 300ms;
  auto server = Start(EchoRouter(), o);
  auto c = Conn::Open(server->bound_port());
  ASSERT_TRUE(c->Send(Get("/api/v1/objects/a")));
  ASSERT_TRUE(c->Read());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c->WaitClosed(3000ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

TEST(Server, ConnectionsPastTheLimitGet503) {
  ServerOptions o = TestOptions();
  o.max_connections = 2;
  auto server = Start(EchoRouter(), o);
  auto a = Conn::Open(server->bound_port());
  auto b = Conn::Open(server->bound_port());
  for (Conn* c : {a.get(), b.get()}) {
    ASSERT_TRUE(c->Send(Get("/api/v1/objects/x")));
    ASSERT_EQ(c->Read()->status, 200);
  }
  auto extra = Conn::Open(server->bound_port());
  auto r = extra->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(Body(*r)["error"].at("code"), "UNAVAILABLE");
  EXPECT_TRUE(extra->WaitClosed());
  a.reset();
  // Once a slot frees (the server notices the close asynchronously), new connections are served again.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  int status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    auto c = Conn::Open(server->bound_port());
    if (c && c->Send(Get("/api/v1/objects/y"))) {
      if (auto again = c->Read()) status = again->status;
    }
  }
  EXPECT_EQ(status, 200);
}

TEST(Server, FullWorkerQueueIs503) {
  Gate started, release;
  Router r;
  ASSERT_TRUE(r.Add("GET", "/slow", [&](Request&) -> absl::StatusOr<Response> {
                 started.Open();
                 release.Wait();
                 return Response::Text(200, "done");
               }).ok());
  ServerOptions o = TestOptions();
  o.worker_threads = 1;
  o.worker_queue = 1;
  auto server = Start(std::move(r), o);
  auto running = Conn::Open(server->bound_port());
  ASSERT_TRUE(running->Send(Get("/slow")));
  ASSERT_TRUE(started.Wait());
  // Three more: one takes the queue's only slot, the other two are refused at once.
  std::vector<std::unique_ptr<Conn>> extra;
  std::vector<std::optional<HttpResponse>> answers(3);
  for (int i = 0; i < 3; ++i) {
    extra.push_back(Conn::Open(server->bound_port()));
    ASSERT_TRUE(extra.back()->Send(Get("/slow")));
  }
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  int refused = 0;
  while (refused < 2 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 3; ++i) {
      if (!answers[i] && (answers[i] = extra[i]->Read(20ms))) {
        EXPECT_EQ(answers[i]->status, 503);
        ++refused;
      }
    }
  }
  release.Open();
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(running->Read()->status, 200);
  for (int i = 0; i < 3; ++i) {
    if (!answers[i]) {
      EXPECT_EQ(extra[i]->Read()->status, 200);
    }
  }
}

TEST(Server, RateLimitedRouteAnswers429WithRetryAfter) {
  RateLimiter limiter({.rate_per_second = 0.5, .burst = 2, .max_keys = 100});
  Router r;
  ASSERT_TRUE(r.Add("GET", "/limited",
                    RateLimited(limiter, [](const Request& req) { return std::string(req.headers.Get("x-key").value_or("")); },
                                [](Request&) -> absl::StatusOr<Response> { return Response::Text(200, "ok"); }))
                  .ok());
  auto server = Start(std::move(r));
  auto c = Conn::Open(server->bound_port());
  std::vector<int> statuses;
  std::string retry_after;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c->Send(Get("/limited", "X-Key: alice\r\n")));
    auto resp = c->Read();
    ASSERT_TRUE(resp);
    statuses.push_back(resp->status);
    retry_after = resp->header("retry-after");
  }
  EXPECT_THAT(statuses, ::testing::ElementsAre(200, 200, 429));
  EXPECT_EQ(retry_after, "2");
  ASSERT_TRUE(c->Send(Get("/limited", "X-Key: bob\r\n")));
  EXPECT_EQ(c->Read()->status, 200);
}

TEST(Server, MetricsHookAndPrincipal) {
  std::mutex mu;
  std::vector<std::string> seen;
  Router r;
  ASSERT_TRUE(r.Add("GET", "/who/{name}", [](Request& req) -> absl::StatusOr<Response> {
                 req.principal = std::string(req.Param("name"));
                 return absl::PermissionDeniedError("no");
               }).ok());
  ServerOptions o = TestOptions();
  o.access_log = true;
  o.on_request = [&](const RequestRecord& rec) {
    std::lock_guard lock(mu);
    seen.push_back(fmt::format("{} {} {}", rec.method, rec.route, rec.status));
  };
  auto server = Start(std::move(r), o);
  auto c = Conn::Open(server->bound_port());
  ASSERT_TRUE(c->Send(Get("/who/alice")));
  EXPECT_EQ(c->Read()->status, 403);
  ASSERT_TRUE(c->Send(Get("/missing")));
  EXPECT_EQ(c->Read()->status, 404);
  server->Shutdown(1s);
  EXPECT_THAT(seen, ::testing::ElementsAre("GET /who/{name} 403", "GET  404"));
}

TEST(Server, ChunkedStreamingResponse) {
  Router r;
  ASSERT_TRUE(r.Add("GET", "/export", [](Request&) -> absl::StatusOr<Response> {
                 auto n = std::make_shared<int>(0);
                 return Response::Stream(200, "application/x-ndjson", [n](std::string& chunk, const StreamContext&) {
                   if (*n == 4) return absl::StatusOr<Produced>(Produced::kEnd);
                   // An empty chunk in the middle must not end the body.
                   chunk = *n == 1 ? "" : fmt::format("{{\"n\":{}}}\n", *n);
                   ++*n;
                   return absl::StatusOr<Produced>(Produced::kChunk);
                 });
               }).ok());
  auto server = Start(std::move(r));
  auto c = Conn::Open(server->bound_port());
  for (int round = 0; round < 2; ++round) {  // keep-alive holds after a chunked body
    ASSERT_TRUE(c->Send(Get("/export")));
    auto resp = c->Read();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status, 200);
    EXPECT_TRUE(resp->chunked);
    EXPECT_EQ(resp->header("content-type"), "application/x-ndjson");
    EXPECT_EQ(resp->body, "{\"n\":0}\n{\"n\":2}\n{\"n\":3}\n");
  }
}

// A gated response waits for its release without holding a worker: with one worker, a second request is
// answered while the first is held, and the first is sent only when released (or replaced by the error it
// was released with).
TEST(Server, GatedResponseWaitsForReleaseWithoutHoldingAWorker) {
  std::mutex mu;
  std::map<std::string, std::function<void(absl::Status)>> held;  // by request
  Router r;
  ASSERT_TRUE(r.Add("GET", "/held/{n}", [&](Request& req) -> absl::StatusOr<Response> {
                 const std::string n(req.Param("n"));
                 Response out = Response::Text(200, "held " + n);
                 out.gate = [&, n](std::function<void(absl::Status)> release) {
                   std::lock_guard lock(mu);
                   held[n] = std::move(release);
                 };
                 return out;
               }).ok());
  ASSERT_TRUE(r.Add("GET", "/free", [](Request&) -> absl::StatusOr<Response> { return Response::Text(200, "free"); }).ok());
  ServerOptions o = TestOptions();
  o.worker_threads = 1;
  auto server = Start(std::move(r), o);
  auto first = Conn::Open(server->bound_port());
  auto second = Conn::Open(server->bound_port());
  auto other = Conn::Open(server->bound_port());
  ASSERT_TRUE(first->Send(Get("/held/1")));
  ASSERT_TRUE(second->Send(Get("/held/2")));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::lock_guard lock(mu);
    if (held.size() == 2) break;
  }
  ASSERT_TRUE(other->Send(Get("/free")));
  auto free = other->Read();
  ASSERT_TRUE(free);
  EXPECT_EQ(free->body, "free");
  EXPECT_FALSE(first->Read(100ms));  // still held
  std::map<std::string, std::function<void(absl::Status)>> releases;
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(held.size(), 2u);
    releases = std::move(held);
  }
  // Released from threads of their own, as the audit log's committer does.
  std::thread([&] { releases.at("1")(absl::OkStatus()); }).join();
  std::thread([&] { releases.at("2")(absl::UnavailableError("the audit log cannot record this request")); }).join();
  auto one = first->Read();
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200);
  EXPECT_EQ(one->body, "held 1");
  auto two = second->Read();
  ASSERT_TRUE(two);
  EXPECT_EQ(two->status, 503);
  EXPECT_NE(two->body.find("the audit log cannot record this request"), std::string::npos) << two->body;
  EXPECT_EQ(two->body.find("held 2"), std::string::npos);
}

TEST(Server, MalformedRequestsAre400AndServerKeepsServing) {
  auto server = Start(EchoRouter());
  static constexpr char kGarbage[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n";
  const std::vector<std::string> bad = {
      std::string(kGarbage, sizeof kGarbage - 1),
      "GET\r\n\r\n",
      "GET /api/v1/objects/a HTTP/9.Z\r\n\r\n",
      "POST /api/v1/objects/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffffffff\r\n",
      "GET /api/v1/objects/a HTTP/1.1\r\nBad Header\r\n\r\n",
      "GET /api/v1/objects/a HTTP/1.1\r\n\r\n",  // no Host
      // Request smuggling shapes: both framings, or a transfer coding that does not end in chunked.
      "POST /api/v1/objects/a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST /api/v1/objects/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nGET / HTTP/1.1\r\n\r\n",
  };
  for (const std::string& request : bad) {
    auto c = Conn::Open(server->bound_port());
    ASSERT_TRUE(c->Send(request));
    auto r = c->Read();
    ASSERT_TRUE(r) << request;
    EXPECT_EQ(r->status, 400) << request;
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c->WaitClosed()) << request;
  }
  auto good = Conn::Open(server->bound_port());
  ASSERT_TRUE(good->Send(Get("/api/v1/objects/a")));
  EXPECT_EQ(good->Read()->status, 200);
}

TEST(Server, GracefulShutdownFinishesInFlightAndRefusesNew) {
  Gate started, release;
  Router r;
  ASSERT_TRUE(r.Add("GET", "/slow", [&](Request&) -> absl::StatusOr<Response> {
                 started.Open();
                 release.Wait();
                 return Response::Text(200, "finished");
               }).ok());
  ASSERT_TRUE(r.Add("GET", "/fast", [](Request&) -> absl::StatusOr<Response> { return Response::Text(200, "f"); }).ok());
  auto server = Start(std::move(r));
  const uint16_t port = server->bound_port();
  auto idle = Conn::Open(port);
  ASSERT_TRUE(idle->Send(Get("/fast")));
  ASSERT_EQ(idle->Read()->status, 200);
  auto busy = Conn::Open(port);
  ASSERT_TRUE(busy->Send(Get("/slow")));
  ASSERT_TRUE(started.Wait());

  std::thread stopper([&] { server->Shutdown(10s); });
  EXPECT_TRUE(idle->WaitClosed());  // idle keep-alive connections go first
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    refused = Conn::Open(port) == nullptr;
  }
  EXPECT_TRUE(refused);
  release.Open();
  auto resp = busy->Read();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "finished");
  EXPECT_EQ(resp->header("connection"), "close");
  stopper.join();
}

TEST(Server, ShutdownCancelsEndlessStreamAtDeadline) {
  Gate streaming;
  Router r;
  ASSERT_TRUE(r.Add("GET", "/events", [&](Request&) -> absl::StatusOr<Response> {
                 // A producer that blocks and ignores cancellation: only the deadline stops it.
                 return Response::Stream(200, "text/event-stream", [&](std::string& chunk, const StreamContext&) {
                   streaming.Open();
                   std::this_thread::sleep_for(5ms);
                   chunk = ": heartbeat\n\n";
                   return absl::StatusOr<Produced>(Produced::kChunk);
                 });
               }).ok());
  auto server = Start(std::move(r));
  auto c = Conn::Open(server->bound_port());
  ASSERT_TRUE(c->Send(Get("/events")));
  ASSERT_TRUE(streaming.Wait());
  const auto start = std::chrono::steady_clock::now();
  server->Shutdown(200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_TRUE(c->WaitClosed());
}

// An event source that the test drives: the producer answers kPending until the test publishes, keeping the
// waker it was handed so that Publish can wake the stream.
class EventSource {
 public:
  void Publish(std::string event) {
    std::function<void()> wake;
    {
      std::lock_guard lock(mu_);
      events_.push_back(std::move(event));
      wake = wake_;
    }
    if (wake) wake();
  }
  ChunkProducer Producer() {
    return [this, alive = alive_](std::string& chunk, const StreamContext& context) -> absl::StatusOr<Produced> {
      std::lock_guard lock(mu_);
      ++calls_;
      wake_ = context.wake;
      if (context.cancelled.load()) return Produced::kEnd;
      if (events_.empty()) return Produced::kPending;
      chunk = std::move(events_.front());
      events_.pop_front();
      return Produced::kChunk;
    };
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  // Producers made by Producer() that the server still holds.
  long producers_alive() const { return alive_.use_count() - 1; }

 private:
  std::mutex mu_;
  std::deque<std::string> events_;
  std::function<void()> wake_;
  int calls_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

Router EventRouter(EventSource& events, std::string heartbeat = ": keep-alive\n\n") {
  Router r = EchoRouter();
  EXPECT_TRUE(r.Add("GET", "/events", [&events, heartbeat](Request&) -> absl::StatusOr<Response> {
                 Response response = Response::Stream(200, "text/event-stream", events.Producer());
                 response.heartbeat = heartbeat;
                 return response;
               }).ok());
  return r;
}

// Polls `condition` until it holds or 5 s pass.
bool Eventually(const std::function<bool()>& condition) {
  for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;) {
    if (condition()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return condition();
}

TEST(Server, IdleStreamHoldsNoWorker) {
  EventSource events;
  ServerOptions o = TestOptions();
  o.worker_threads = 1;
  o.stream_heartbeat = 1h;  // nothing but a wake calls the producer again
  auto server = Start(EventRouter(events), o);
  auto stream = Conn::Open(server->bound_port());
  ASSERT_TRUE(stream->Send(Get("/events")));
  auto head = stream->ReadHead();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->chunked);
  EXPECT_EQ(head->header("content-type"), "text/event-stream");
  ASSERT_TRUE(Eventually([&] { return events.calls() == 1; }));

  // The only worker serves other requests while the stream waits, and the stream is not polled meanwhile.
  for (int i = 0; i < 3; ++i) {
    auto c = Conn::Open(server->bound_port());
    ASSERT_TRUE(c->Send(Get("/api/v1/objects/other")));
    auto r = c->Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(events.calls(), 1);
  EXPECT_EQ(server->open_streams(), 1u);

  events.Publish("data: one\n\n");
  EXPECT_EQ(stream->ReadChunk(), "data: one\n\n");
  events.Publish("data: two\n\n");
  events.Publish("data: three\n\n");
  EXPECT_EQ(stream->ReadChunk(), "data: two\n\n");
  EXPECT_EQ(stream->ReadChunk(), "data: three\n\n");
}

TEST(Server, WakeDuringProducerCallIsNotLost) {
  auto calls = std::make_shared<int>(0);
  Router r;
  ASSERT_TRUE(r.Add("GET", "/events", [calls](Request&) -> absl::StatusOr<Response> {
                 return Response::Stream(200, "text/event-stream", [calls](std::string& chunk, const StreamContext& context) {
                   if (++*calls == 1) {
                     context.wake();  // news arrive while this call is still deciding that there is nothing
                     return absl::StatusOr<Produced>(Produced::kPending);
                   }
                   if (*calls > 2) return absl::StatusOr<Produced>(Produced::kEnd);
                   chunk = "data: woken\n\n";
                   return absl::StatusOr<Produced>(Produced::kChunk);
                 });
               }).ok());
  ServerOptions o = TestOptions();
  o.stream_heartbeat = 1h;
  auto server = Start(std::move(r), o);
  auto c = Conn::Open(server->bound_port());
  ASSERT_TRUE(c->Send(Get("/events")));
  auto resp = c->Read();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->body, "data: woken\n\n");
}

TEST(Server, HeartbeatsKeepAStreamPastTheReadAndIdleTimeouts) {
  EventSource events;
  ServerOptions o = TestOptions();
  o.read_timeout = 100ms;
  o.idle_timeout = 100ms;
  o.stream_heartbeat = 20ms;
  auto server = Start(EventRouter(events), o);
  auto stream = Conn::Open(server->bound_port());
  ASSERT_TRUE(stream->Send(Get("/events")));
  ASSERT_EQ(stream->ReadHead()->status, 200);
  // A heartbeat goes out only after 20 ms without a write: 20 of them span more than both timeouts.
  for (int i = 0; i < 20; ++i) ASSERT_EQ(stream->ReadChunk(), ": keep-alive\n\n") << i;
  events.Publish("data: still here\n\n");
  std::optional<std::string> chunk;
  do {
    chunk = stream->ReadChunk();
  } while (chunk == ": keep-alive\n\n");
  EXPECT_EQ(chunk, "data: still here\n\n");
}

TEST(Server, SilentStreamIsPolledAtTheHeartbeatIntervalAndOutlivesTimeouts) {
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> calls;
  Router r;
  ASSERT_TRUE(r.Add("GET", "/events", [&](Request&) -> absl::StatusOr<Response> {
                 // No heartbeat text: nothing is written while the stream waits, but it is polled.
                 return Response::Stream(200, "text/event-stream", [&](std::string& chunk, const StreamContext&) {
                   std::lock_guard lock(mu);
                   calls.push_back(std::chrono::steady_clock::now());
                   if (calls.size() < 12) return absl::StatusOr<Produced>(Produced::kPending);
                   if (calls.size() > 12) return absl::StatusOr<Produced>(Produced::kEnd);
                   chunk = "data: late\n\n";
                   return absl::StatusOr<Produced>(Produced::kChunk);
                 });
               }).ok());
  ServerOptions o = TestOptions();
  o.read_timeout = 100ms;
  o.idle_timeout = 100ms;
  o.stream_heartbeat = 20ms;
  auto server = Start(std::move(r), o);
  auto stream = Conn::Open(server->bound_port());
  ASSERT_TRUE(stream->Send(Get("/events")));
  ASSERT_EQ(stream->ReadHead()->status, 200);
  EXPECT_EQ(stream->ReadChunk(), "data: late\n\n");
  std::lock_guard lock(mu);
  // Never a busy loop: from the second call on, each poll waits a whole interval (so eleven of them span
  // more than both timeouts, and the stream was not cut).
  for (size_t i = 2; i < 12; ++i) EXPECT_GE(calls[i] - calls[i - 1], 20ms) << i;
}

TEST(Server, StreamsPastTheLimitGet503AndALeavingClientFreesItsSlot) {
  EventSource events;
  ServerOptions o = TestOptions();
  o.max_streams = 1;
  o.stream_heartbeat = 1h;  // no write would notice the client leaving: the watch on the socket must
  auto server = Start(EventRouter(events), o);
  auto first = Conn::Open(server->bound_port());
  ASSERT_TRUE(first->Send(Get("/events")));
  ASSERT_EQ(first->ReadHead()->status, 200);

  auto second = Conn::Open(server->bound_port());
  ASSERT_TRUE(second->Send(Get("/events")));
  auto refused = second->Read();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->body,
            R"({"error":{"code":"UNAVAILABLE","message":"too many open streams (the limit is 1): try again later"}})");
  ASSERT_TRUE(second->Send(Get("/api/v1/objects/a")));  // the connection itself is still served
  EXPECT_EQ(second->Read()->status, 200);

  first.reset();  // the client hangs up
  ASSERT_TRUE(Eventually([&] { return server->open_streams() == 0 && events.producers_alive() == 0; }));
  auto third = Conn::Open(server->bound_port());
  ASSERT_TRUE(third->Send(Get("/events")));
  ASSERT_EQ(third->ReadHead()->status, 200);
  events.Publish("data: for the third\n\n");
  EXPECT_EQ(third->ReadChunk(), "data: for the third\n\n");
}

TEST(Server, DrainEndsIdleStreamsCleanly) {
  EventSource events;
  ServerOptions o = TestOptions();
  o.stream_heartbeat = 1h;
  auto server = Start(EventRouter(events), o);
  auto stream = Conn::Open(server->bound_port());
  ASSERT_TRUE(stream->Send(Get("/events")));
  ASSERT_EQ(stream->ReadHead()->status, 200);
  events.Publish("data: before\n\n");
  ASSERT_EQ(stream->ReadChunk(), "data: before\n\n");
  // Well before the 60 s deadline, the stream gets its last chunk and the connection closes.
  std::thread stopper([&] { server->Shutdown(60s); });
  EXPECT_EQ(stream->ReadChunk(), "");
  EXPECT_TRUE(stream->WaitClosed());
  stopper.join();
  EXPECT_EQ(server->open_streams(), 0u);
}

TEST(Server, RunReturnsAfterSigterm) {
  auto server = Start(EchoRouter());
  server->HandleSignals();
  std::thread runner([&] { server->Run(1s); });
  std::raise(SIGTERM);
  runner.join();
  EXPECT_EQ(Conn::Open(server->bound_port()), nullptr);
}

TEST(Server, ListensOnIpv6Loopback) {
  ServerOptions o = TestOptions();
  o.host = "::1";
  auto server = Server::Create(o, EchoRouter());
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << server.status();
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons((*server)->bound_port());
  addr.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = Get("/api/v1/objects/six");
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<long>(req.size()));
  char buf[4096];
  std::string got;
  while (got.find("\"six\"") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_GT(::poll(&p, 1, 5000), 0);
    const long n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_THAT(got, HasSubstr("\"remote\":\"[::1]:"));
  ::close(fd);
}

TEST(Server, RejectsBadOptions) {
  ServerOptions o = TestOptions();
  o.insecure_http = false;
  EXPECT_EQ(Server::Create(o, Router()).status().code(), absl::StatusCode::kInvalidArgument);
  o = TestOptions();
  o.host = "localhost";  // literals only: no resolver on the listening path
  EXPECT_EQ(Server::Create(o, Router()).status().code(), absl::StatusCode::kInvalidArgument);
}

class TlsServer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           fmt::format("concord_http_tls_{}_{}", ::getpid(), ::testing::UnitTest::GetInstance()->random_seed());
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(GenerateSelfSignedCertificate({}, Path("server.pem"), Path("server.key")).ok());
    SelfSignedOptions client;
    client.key_type = KeyType::kRsa2048;
    client.common_name = "test-client";
    client.organization = "Concord test";
    client.alt_names = {};
    ASSERT_TRUE(GenerateSelfSignedCertificate(client, Path("client.pem"), Path("client.key")).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const char* name) const { return (dir_ / name).string(); }

  ServerOptions Options() const {
    ServerOptions o = TestOptions();
    o.insecure_http = false;
    o.tls_cert_file = Path("server.pem");
    o.tls_key_file = Path("server.key");
    return o;
  }

  std::filesystem::path dir_;
};

TEST_F(TlsServer, ServesWithSelfSignedCertificate) {
  struct stat st {};
  ASSERT_EQ(::stat(Path("server.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto server = Start(EchoRouter(), Options());
  TlsClientConfig tls{Path("server.pem"), "", ""};
  std::string error;
  auto c = Conn::Open(server->bound_port(), &tls, &error);
  ASSERT_TRUE(c) << error;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c->Send(Get("/api/v1/objects/tls")));
    auto r = c->Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(Body(*r)["subject"], "");
  }
}

TEST_F(TlsServer, StreamsWakeAndEndWhenTheClientLeaves) {
  EventSource events;
  ServerOptions o = Options();
  o.stream_heartbeat = 1h;
  auto server = Start(EventRouter(events), o);
  TlsClientConfig tls{Path("server.pem"), "", ""};
  std::string error;
  auto c = Conn::Open(server->bound_port(), &tls, &error);
  ASSERT_TRUE(c) << error;
  ASSERT_TRUE(c->Send(Get("/events")));
  ASSERT_EQ(c->ReadHead()->status, 200);
  events.Publish("data: sealed\n\n");
  EXPECT_EQ(c->ReadChunk(), "data: sealed\n\n");
  c.reset();  // closes the socket without a TLS close_notify
  EXPECT_TRUE(Eventually([&] { return server->open_streams() == 0; }));
}

TEST_F(TlsServer, ClientCertificateRequired) {
  ServerOptions o = Options();
  o.client_ca_file = Path("client.pem");
  o.require_client_cert = true;
  auto server = Start(EchoRouter(), o);

  TlsClientConfig anonymous{Path("server.pem"), "", ""};
  std::string error;
  auto c = Conn::Open(server->bound_port(), &anonymous, &error);
  // TLS 1.3 reports the missing certificate after the client's handshake completes: either way, no answer.
  if (c) {
    c->Send(Get("/api/v1/objects/x"));
    EXPECT_FALSE(c->Read(2000ms).has_value());
  }

  TlsClientConfig with_cert{Path("server.pem"), Path("client.pem"), Path("client.key")};
  auto ok = Conn::Open(server->bound_port(), &with_cert, &error);
  ASSERT_TRUE(ok) << error;
  ASSERT_TRUE(ok->Send(Get("/api/v1/objects/x")));
  auto r = ok->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(*r)["subject"], "CN=test-client,O=Concord test");
}

}  // namespace
}  // namespace concord::http
