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

// Produces the body of a streaming response one chunk at a time (chunked transfer encoding).
// Called on a worker thread, never concurrently with itself; the next call comes after the previous chunk
// has been written to the socket, so a slow client slows the producer instead of growing a buffer.
// Writes the next chunk into `chunk` and returns true, or returns false when the body is complete. An
// error ends the response without the terminating chunk, so the client sees a truncated body.
// `cancelled` turns true when the client has gone or the server is draining: a producer that waits for
// events (server-sent events) must look at it at least once per second and then return false.
using ChunkProducer = std::function<absl::StatusOr<bool>(std::string& chunk, const std::atomic<bool>& cancelled)>;

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // When set, `body` is ignored and the body is streamed with chunked transfer encoding.
  ChunkProducer stream;

  static Response Json(int status, std::string body);
  static Response Text(int status, std::string body);
  static Response Stream(int status, std::string content_type, ChunkProducer producer);
};

}  // namespace concord::http
