// concord/http/message.h — what a handler sees and returns: Request, Response, Headers, QueryParams.
//
// These are plain values with no Boost.Beast in sight, so that handler modules (api, taxii) compile fast.
// A Request is owned by the server for one exchange and handed to exactly one handler call; a Response
// is moved back. Neither is shared between threads while in use, so neither needs locking.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace concord::http {

// Header fields in arrival order; names compare ASCII case-insensitively (RFC 9110 §5.1).
class Headers {
 public:
  void Add(std::string name, std::string value);
  // Replaces every field of that name with one.
  void Set(std::string name, std::string value);
  void Remove(std::string_view name);
  // The first value of `name`, if present.
  std::optional<std::string_view> Get(std::string_view name) const;
  std::vector<std::string_view> GetAll(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// ASCII case-insensitive equality, for header names and tokens.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Decoded query parameters in order. Keys and values are percent-decoded and '+' means space
// (application/x-www-form-urlencoded), so `match[type]=a&match%5Btype%5D=b` yields two values of `match[type]`.
class QueryParams {
 public:
  // Never fails: malformed escapes ("%zz") are kept literally, as browsers do.
  static QueryParams Parse(std::string_view query);

  std::optional<std::string_view> Get(std::string_view key) const;
  // Every value given for `key`, in order.
  std::vector<std::string> GetAll(std::string_view key) const;
  // Every value given for `key`, each also split at literal commas (TAXII 2.1 §3.4.1:
  // `match[type]=indicator,sighting`). A percent-encoded comma (%2C) stays inside its value.
  std::vector<std::string> GetList(std::string_view key) const;
  bool empty() const { return items_.empty(); }

  struct Item {
    std::string key;
    std::string value;      // decoded
    std::string raw_value;  // as sent, for GetList
  };
  const std::vector<Item>& items() const { return items_; }

 private:
  std::vector<Item> items_;
};

// Percent-decodes `in`; with `plus_is_space`, '+' becomes ' '. Returns nullopt for malformed escapes.
std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space);

struct Request {
  std::string method;  // as sent, upper-case by convention: "GET"
  std::string target;  // request-target as sent: "/taxii2/r1/collections/?limit=5"
  std::string path;    // percent-decoded path without the query
  std::string route;   // the matched pattern ("/api/v1/objects/{id}"), empty when none matched
  std::map<std::string, std::string, std::less<>> path_params;  // decoded, by parameter name
  QueryParams query;
  Headers headers;
  std::string body;
  std::string remote_address;      // "127.0.0.1:51234", "[::1]:51234"
  std::string tls_client_subject;  // RFC 2253 subject of a verified client certificate, else empty
  // Set by the authentication layer once it knows who is calling; appears in the access log.
  std::string principal;

  // The path parameter `name`; empty when the route has none of that name.
  std::string_view Param(std::string_view name) const;
};

// What a ChunkProducer answers.
enum class Produced {
  kChunk,    // `chunk` holds the next piece of the body (an empty one is skipped: the producer is called again)
  kPending,  // nothing to send now: the server calls again after StreamContext::wake, or when the heartbeat
             // interval has passed, and holds no worker thread meanwhile (server-sent events wait this way)
  kEnd,      // the body is complete
};

// Handed to every call of a ChunkProducer; valid for that call only (copy `wake` to keep it).
struct StreamContext {
  // Turns true when the client has gone or the server is draining: the producer should then return kEnd.
  // A producer that blocks must look at it at least once per second; one that answers kPending instead of
  // blocking is called again at once when it turns true.
  const std::atomic<bool>& cancelled;
  // Asks the server to call the producer again soon after it answered kPending (new data arrived). Thread-
  // safe and cheap, callable from any thread and at any time: a wake during a call makes a kPending answer
  // poll again at once, so no wake is lost; after the response has ended it does nothing.
  const std::function<void()>& wake;
};

// Produces the body of a streaming response one chunk at a time (chunked transfer encoding).
// Called on a worker thread, never concurrently with itself; the next call comes after the previous chunk
// has been written to the socket, so a slow client slows the producer instead of growing a buffer.
// An error ends the response without the terminating chunk, so the client sees a truncated body.
// A producer that may wait for events answers kPending rather than blocking: the server then waits on the
// connection's strand (a timer), writes the response's `heartbeat` when nothing was written for the
// server's heartbeat interval, and calls again when woken, cancelled or at the next heartbeat.
using ChunkProducer = std::function<absl::StatusOr<Produced>(std::string& chunk, const StreamContext& context)>;

// Holds a response back until something else has happened. The server calls the gate once, on the worker
// thread that ran the handler, with `release`; release must then be called exactly once, from any thread:
// OK sends the response as it is, an error replaces it with that error rendered for the route. The audit
// uses it: a read is answered only once its audit entry is committed, and no thread waits meanwhile.
using Gate = std::function<void(std::function<void(absl::Status)> release)>;

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // When set, `body` is ignored and the body is streamed with chunked transfer encoding.
  ChunkProducer stream;
  // For a stream: what to write when it has been idle for the server's heartbeat interval, so that proxies
  // keep the connection (": keep-alive\n\n" for server-sent events); empty: nothing is written.
  std::string heartbeat;

  // When set, the response waits for the gate (see Gate) before it is sent.
  Gate gate;

  static Response Json(int status, std::string body);
  static Response Text(int status, std::string body);
  static Response Stream(int status, std::string content_type, ChunkProducer producer);
};

// Waits for `response`'s gate, if it has one, and returns what the server would send: the response itself,
// or the error its gate released it with. For callers outside the server (tests, in-process clients).
absl::StatusOr<Response> AwaitGate(Response response);

}  // namespace concord::http
