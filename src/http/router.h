// concord/http/router.h — maps (method, path) to a handler, and errors to their rendering.
//
// Patterns are literal segments and `{name}` parameters, one per segment: "/api/v1/objects/{id}",
// "/taxii2/{root}/collections/{id}/objects/". A trailing slash is significant (TAXII URLs end in one).
// Literal segments win over parameters at the same position. An unknown path answers 404; a known path
// with another method answers 405 with an Allow header. A GET route also answers HEAD.
//
// Build the Router fully, then hand it to the Server: after that it is only read, from many threads,
// which is safe. Add/SetErrorRenderer are not thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "http/errors.h"
#include "http/message.h"

namespace concord::http {

// Runs on a worker thread, may block (database, disk). A non-OK status is rendered by the route's
// ErrorRenderer. Handlers must return in bounded time: Shutdown waits for them.
using Handler = std::function<absl::StatusOr<Response>(Request&)>;

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // InvalidArgument for a malformed pattern; AlreadyExists for a (method, pattern) given twice, or a
  // pattern that differs from an existing one only in parameter names.
  absl::Status Add(std::string_view method, std::string_view pattern, Handler handler);
  // Errors of paths under `prefix` (matched or not) render with `renderer`; the longest prefix wins.
  // Default: JsonErrorResponse.
  void SetErrorRenderer(std::string_view prefix, ErrorRenderer renderer);

  struct Match {
    const Handler* handler = nullptr;  // null when nothing matched; `error` then says why
    std::string route;                 // the matched pattern
    std::vector<std::pair<std::string, std::string>> params;
    absl::Status error;  // NotFound (404) or 405 with `allow` filled
    std::string allow;   // "GET, HEAD, POST" for 405
  };
  // `raw_path` is the path as sent (no query). It is split at '/' before each segment is percent-decoded,
  // so an encoded slash (%2F) stays inside a parameter. A malformed escape is InvalidArgument (400).
  Match Find(std::string_view method, std::string_view raw_path) const;

  // Every (method, pattern) registered, in registration order (HEAD, implied by GET, is not listed).
  std::vector<std::pair<std::string, std::string>> Routes() const;

  // Renders `status` as the error response for `path`.
  Response RenderError(std::string_view path, const absl::Status& status) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace concord::http
