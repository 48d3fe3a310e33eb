// concord/http/parse.h — bytes to http::Request: the server's request reader, without any I/O.
//
// RequestReader reads one HTTP/1.1 request from bytes as they arrive: Boost.Beast's parser under the
// server's limits, then the checks the server makes before routing, then the conversion into a Request
// (headers in arrival order, body, percent-decoded path, query parameters). The server feeds it from the
// socket; the fuzz target (tests/fuzz/http_request_fuzz.cc) feeds it arbitrary bytes; both run this code.
//
// What it refuses (state kFailed, then error() is the answer and the connection must be closed, because
// the rest of the stream cannot be trusted to start at a message boundary):
//   a header block larger than max_header_bytes                     → 431 (ResourceExhausted + status)
//   a body larger than max_body_bytes (Content-Length or chunks)    → 413 (BodyTooLargeError)
//   malformed HTTP (Beast's grammar: request line, field syntax, chunk syntax, Content-Length together
//   with Transfer-Encoding, conflicting Content-Lengths, …)        → 400 "malformed HTTP request: …"
//   HTTP/1.1 without Host, or with more than one Host (RFC 9112 §3.2) → 400
//   a transfer coding that does not end in chunked (RFC 9112 §6.3)   → 400
// The request target's form is the router's business (Router::Find answers 400 for anything but a path),
// since the message itself is intact and the connection may be kept.
//
// Thread-safety: none; one reader per request, used by one thread at a time. Beast stays inside parse.cc.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "http/message.h"

namespace concord::http {

struct ReaderLimits {
  size_t max_header_bytes = 16u << 10;  // request line and header fields, CRLFs included
  size_t max_body_bytes = 64u << 20;    // decoded body bytes (chunk framing not counted)
};

// A complete request and how its connection continues.
struct ParsedRequest {
  Request request;  // method, target, path, query, headers, body; the caller adds remote address etc.
  bool keep_alive = false;  // the client allows another request on this connection
  bool http10 = false;      // HTTP/1.0: no chunked responses
};

class RequestReader {
 public:
  enum class State {
    kHeader,      // reading the request line and header fields
    kHeaderDone,  // the header was read and accepted and a body follows: send `100 Continue` now if
                  // expects_continue(), then keep putting bytes
    kBody,        // reading the body
    kComplete,    // a whole request: Take() it
    kFailed,      // refused: answer error() and close
  };

  explicit RequestReader(const ReaderLimits& limits);
  ~RequestReader();
  RequestReader(RequestReader&&) noexcept;
  RequestReader& operator=(RequestReader&&) noexcept;

  // Parses what it can of `bytes` and returns how many it consumed; the caller keeps the rest (part of a
  // header not yet complete, to be offered again with more bytes appended, or the next pipelined request).
  // Stops at the end of the header (kHeaderDone) so that the caller can answer Expect: 100-continue before
  // the client sends the body. Consumes nothing once kComplete or kFailed.
  size_t Put(std::string_view bytes);

  State state() const { return state_; }
  // In kHeaderDone: the client sent `Expect: 100-continue` and waits for the interim response.
  bool expects_continue() const { return expects_continue_; }
  // In kFailed: the status to answer (see the top of this file).
  const absl::Status& error() const { return error_; }
  // The request's method and target as far as they can be trusted, for error rendering and the access log:
  // both once the header was accepted; for a body over the limit also when Beast refused it while reading
  // the header (the request line came before); otherwise empty.
  const std::string& method() const { return method_; }
  const std::string& target() const { return target_; }

  // In kComplete: the request. The reader is spent afterwards.
  ParsedRequest Take();

 private:
  struct Impl;
  void Fail(absl::Status status);
  void AcceptHeader();

  std::unique_ptr<Impl> impl_;
  ReaderLimits limits_;
  State state_ = State::kHeader;
  bool expects_continue_ = false;
  absl::Status error_;
  std::string method_;
  std::string target_;
  // The header section as it was when the header ended. Beast appends the fields of a chunked body's
  // trailer section to the same field list; RFC 9110 §6.5.1 forbids merging them into the header, and a
  // trailer could otherwise add a second Host, an Authorization or a justification after the fact.
  Headers header_fields_;
  size_t header_bytes_ = 0;  // of header_fields_, counted as the trailer limit counts them
};

}  // namespace concord::http
