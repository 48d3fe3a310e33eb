// libFuzzer target for the HTTP request path before any handler logic: arbitrary bytes, possibly several
// pipelined requests, go through the server's own request reader (src/http/parse.h) in pieces as a socket
// would deliver them, and each request read is routed through a Router shaped like the node's (REST and
// TAXII patterns with parameters) whose handlers touch every Request field; errors are rendered as the
// server renders them. Any crash or sanitizer report is a bug; so is a broken invariant (std::abort):
//   - the reader consumes no more than it is given, and stops (complete or refused) or waits for more;
//   - a refusal is 400, 413 or 431; a complete request's body fits the limit, its header fields fit the
//     header limit, it has at most one Host, its path is its target's path percent-decoded;
//   - a routed request's target starts with '/', its route is a registered pattern and every parameter of
//     the pattern is filled with a non-empty value; an unrouted one is 400, 404 or 405 (405 with Allow);
//   - an error response has the status HttpStatusFor gives and a body.
//
// Input: byte 0 picks the read size (low 7 bits: 1-127 bytes per read, 0 = everything at once) and, with its
// high bit, small limits (header 512 bytes, body 256) instead of the server's defaults; the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/errors.h"
#include "http/message.h"
#include "http/parse.h"
#include "http/router.h"

namespace {

using concord::http::HttpStatusFor;
using concord::http::ParsedRequest;
using concord::http::Request;
using concord::http::RequestReader;
using concord::http::Response;
using concord::http::Router;

void Check(bool belief) {
  if (!belief) std::abort();
}

// Reads every field a handler might, so that the sanitizers see each one used.
size_t Touch(const Request& r) {
  size_t n = r.method.size() + r.target.size() + r.path.size() + r.route.size() + r.body.size();
  for (const auto& [name, value] : r.path_params) n += name.size() + value.size();
  for (const auto& item : r.query.items()) n += item.key.size() + item.value.size() + item.raw_value.size();
  for (const auto& [name, value] : r.headers.fields()) n += name.size() + value.size();
  n += r.headers.Get("content-type").value_or("").size() + r.headers.GetAll("accept").size();
  n += r.headers.Has("Authorization") ? 1 : 0;
  return n;
}

absl::StatusOr<Response> Echo(Request& r) {
  const size_t n = Touch(r);
  if (r.body.size() % 7 == 3) return concord::FieldError("body", "seven");  // an error from a handler
  return Response::Json(200, std::to_string(n));
}

absl::StatusOr<Response> Object(Request& r) {
  const std::string_view id = r.Param("id");
  Check(!id.empty());
  if (id.find("--") == std::string_view::npos) return concord::FieldError("id", "not a STIX id");
  if (auto v = r.query.Get("version"); v && v->empty()) return absl::InvalidArgumentError("empty version");
  Touch(r);
  return Response::Json(200, std::string(id));
}

absl::StatusOr<Response> TaxiiObjects(Request& r) {
  Check(!r.Param("root").empty() && !r.Param("id").empty());
  size_t n = Touch(r);
  for (const char* key : {"match[type]", "match[id]", "match[version]", "match[spec_version]"}) {
    for (const std::string& v : r.query.GetList(key)) n += v.size();
  }
  if (auto limit = r.query.Get("limit"); limit && limit->find_first_not_of("0123456789") != std::string_view::npos) {
    return absl::InvalidArgumentError("limit must be a positive integer");
  }
  return Response::Json(200, std::to_string(n));
}

const Router& TheRouter() {
  static const Router* router = [] {
    auto* r = new Router();
    auto add = [r](const char* method, const char* pattern, concord::http::Handler h) {
      Check(r->Add(method, pattern, std::move(h)).ok());
    };
    add("GET", "/healthz", Echo);
    add("GET", "/api/v1/objects", Echo);
    add("POST", "/api/v1/objects", Echo);
    add("GET", "/api/v1/objects/{id}", Object);
    add("GET", "/api/v1/objects/{id}/versions", Object);
    add("POST", "/api/v1/objects/{id}/revoke", Object);
    add("PATCH", "/api/v1/users/{user}", Echo);
    add("DELETE", "/api/v1/users/{user}/keys/{key_id}", Echo);
    add("PUT", "/api/v1/sharing-groups/{group}/members/{org}", Echo);
    add("GET", "/taxii2/", Echo);
    add("GET", "/taxii2/{root}/", Echo);
    add("GET", "/taxii2/{root}/collections/", Echo);
    add("GET", "/taxii2/{root}/collections/{id}/objects/", TaxiiObjects);
    add("POST", "/taxii2/{root}/collections/{id}/objects/", TaxiiObjects);
    add("GET", "/taxii2/{root}/collections/{id}/objects/{object_id}/", TaxiiObjects);
    add("DELETE", "/taxii2/{root}/collections/{id}/objects/{object_id}/", TaxiiObjects);
    r->SetErrorRenderer("/taxii2/", concord::http::TaxiiErrorResponse);
    return r;
  }();
  return *router;
}

size_t Params(std::string_view pattern) {
  size_t n = 0;
  for (char c : pattern) n += c == '{' ? 1 : 0;
  return n;
}

void CheckError(const Response& r, const absl::Status& status) {
  Check(r.status == HttpStatusFor(status));
  Check(!r.body.empty());
}

// What Session::Dispatch does with a request the reader produced, without the worker pool.
void Route(ParsedRequest parsed, const concord::http::ReaderLimits& limits) {
  Request& req = parsed.request;
  Check(req.body.size() <= limits.max_body_bytes);
  Check(!req.method.empty() && !req.target.empty());
  size_t header_bytes = 0;
  for (const auto& [name, value] : req.headers.fields()) header_bytes += name.size() + value.size();
  Check(header_bytes <= limits.max_header_bytes);
  Check(req.headers.GetAll("host").size() <= 1);
  const std::string_view raw_path = std::string_view(req.target).substr(0, req.target.find('?'));
  Check(req.path == concord::http::PercentDecode(raw_path, false).value_or(std::string(raw_path)));

  const Router& router = TheRouter();
  Router::Match m = router.Find(req.method, raw_path);
  req.route = m.route;
  if (m.handler == nullptr) {
    const int status = HttpStatusFor(m.error);
    Check(status == 400 || status == 404 || status == 405);
    Check((status == 405) == !m.allow.empty());
    CheckError(router.RenderError(req.path, m.error), m.error);
    return;
  }
  Check(raw_path.starts_with('/'));
  Check(m.params.size() == Params(m.route));
  for (const auto& [name, value] : m.params) {
    Check(!value.empty());
    req.path_params.emplace(name, value);
  }
  req.remote_address = "192.0.2.1:4000";
  absl::StatusOr<Response> result = (*m.handler)(req);
  if (!result.ok()) CheckError(router.RenderError(req.path, result.status()), result.status());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = data[0] & 0x7f;
  const concord::http::ReaderLimits limits =
      (data[0] & 0x80) != 0 ? concord::http::ReaderLimits{.max_header_bytes = 512, .max_body_bytes = 256}
                            : concord::http::ReaderLimits{};
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::string buffer;  // what the socket delivered and the reader has not consumed
  size_t pos = 0;
  RequestReader reader(limits);
  while (true) {
    const size_t used = reader.Put(buffer);
    Check(used <= buffer.size());
    buffer.erase(0, used);
    switch (reader.state()) {
      case RequestReader::State::kHeaderDone:
        continue;  // the server may send 100 Continue here; then it reads the body
      case RequestReader::State::kComplete:
        Route(reader.Take(), limits);
        reader = RequestReader(limits);
        if (buffer.empty() && pos == input.size()) return 0;
        continue;
      case RequestReader::State::kFailed: {
        const int status = HttpStatusFor(reader.error());
        Check(status == 400 || status == 413 || status == 431);
        const std::string_view target = reader.target();
        CheckError(TheRouter().RenderError(target.substr(0, target.find('?')), reader.error()), reader.error());
        return 0;  // the server closes the connection
      }
      case RequestReader::State::kHeader:
      case RequestReader::State::kBody:
        if (pos == input.size()) return 0;  // the peer stopped sending: the server waits, then times out
        break;
    }
    const size_t n = step == 0 ? input.size() - pos : std::min(step, input.size() - pos);
    buffer.append(input.substr(pos, n));
    pos += n;
  }
}
