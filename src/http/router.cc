#include "http/router.h"

#include <algorithm>
#include <map>

#include "common/status.h"
#include "fmt/format.h"

namespace concord::http {

namespace {
struct Segment {
  std::string text;  // literal text, or the parameter name
  bool param = false;
};
}  // namespace

struct Router::Impl {
  struct Route {
    std::string pattern;
    std::vector<Segment> segments;
    std::map<std::string, Handler, std::less<>> handlers;  // by method
  };
  std::vector<Route> routes;
  std::vector<std::pair<std::string, ErrorRenderer>> renderers;
};

namespace {

// Splits "/a/b/" into {"a", "b", ""}: the empty last segment keeps a trailing slash significant.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// A route beats another at the same depth when, at the first position where they differ in kind, it has
// a literal.
bool MoreSpecific(const std::vector<Segment>& a, const std::vector<Segment>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].param != b[i].param) return !a[i].param;
  }
  return false;
}

}  // namespace

Router::Router() : impl_(std::make_unique<Impl>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

std::vector<std::pair<std::string, std::string>> Router::Routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& route : impl_->routes) {
    for (const auto& [method, handler] : route.handlers) out.emplace_back(method, route.pattern);
  }
  return out;
}

absl::Status Router::Add(std::string_view method, std::string_view pattern, Handler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    return absl::InvalidArgumentError(fmt::format("route pattern must start with '/': \"{}\"", pattern));
  }
  if (method.empty() || !handler) return absl::InvalidArgumentError("route needs a method and a handler");
  std::vector<Segment> segments;
  for (std::string_view s : SplitPath(pattern)) {
    if (s.size() >= 2 && s.front() == '{' && s.back() == '}') {
      std::string_view name = s.substr(1, s.size() - 2);
      if (name.find_first_of("{}/") != std::string_view::npos) {
        return absl::InvalidArgumentError(fmt::format("bad parameter \"{}\" in route \"{}\"", s, pattern));
      }
      segments.push_back({std::string(name), true});
    } else if (s.find_first_of("{}") != std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("a parameter must fill a whole segment: \"{}\" in route \"{}\"", s, pattern));
    } else {
      segments.push_back({std::string(s), false});
    }
  }
  auto same_shape = [&](const Impl::Route& r) {
    if (r.segments.size() != segments.size()) return false;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (r.segments[i].param != segments[i].param) return false;
      if (!segments[i].param && r.segments[i].text != segments[i].text) return false;
    }
    return true;
  };
  auto it = std::find_if(impl_->routes.begin(), impl_->routes.end(), same_shape);
  if (it == impl_->routes.end()) {
    impl_->routes.push_back({std::string(pattern), std::move(segments), {}});
    it = impl_->routes.end() - 1;
  } else if (it->pattern != pattern) {
    return absl::AlreadyExistsError(
        fmt::format("route \"{}\" clashes with \"{}\" (same shape, other parameter names)", pattern, it->pattern));
  }
  if (!it->handlers.emplace(std::string(method), std::move(handler)).second) {
    return absl::AlreadyExistsError(fmt::format("route {} {} added twice", method, pattern));
  }
  return absl::OkStatus();
}

void Router::SetErrorRenderer(std::string_view prefix, ErrorRenderer renderer) {
  impl_->renderers.emplace_back(std::string(prefix), std::move(renderer));
}

Router::Match Router::Find(std::string_view method, std::string_view raw_path) const {
  Match m;
  if (raw_path.empty() || raw_path.front() != '/') {
    m.error = absl::InvalidArgumentError("request target must be an absolute path");
    return m;
  }
  const std::vector<std::string_view> parts = SplitPath(raw_path);
  std::vector<std::string> decoded;
  decoded.reserve(parts.size());
  for (std::string_view p : parts) {
    auto d = PercentDecode(p, false);
    if (!d) {
      m.error = absl::InvalidArgumentError("malformed percent-escape in path");
      return m;
    }
    decoded.push_back(*std::move(d));
  }
  const Impl::Route* best = nullptr;
  for (const Impl::Route& r : impl_->routes) {
    if (r.segments.size() != decoded.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < decoded.size() && ok; ++i) {
      const Segment& s = r.segments[i];
      ok = s.param ? !decoded[i].empty() : s.text == decoded[i];
    }
    if (ok && (best == nullptr || MoreSpecific(r.segments, best->segments))) best = &r;
  }
  if (best == nullptr) {
    m.error = absl::NotFoundError(fmt::format("no resource at {}", raw_path));
    return m;
  }
  m.route = best->pattern;
  for (size_t i = 0; i < decoded.size(); ++i) {
    if (best->segments[i].param) m.params.emplace_back(best->segments[i].text, decoded[i]);
  }
  auto h = best->handlers.find(method);
  if (h == best->handlers.end() && method == "HEAD") h = best->handlers.find("GET");
  if (h != best->handlers.end()) {
    m.handler = &h->second;
    return m;
  }
  std::vector<std::string> allowed;
  for (const auto& [name, unused] : best->handlers) allowed.push_back(name);
  if (best->handlers.count("GET") && !best->handlers.count("HEAD")) allowed.emplace_back("HEAD");
  std::sort(allowed.begin(), allowed.end());
  m.allow = fmt::format("{}", fmt::join(allowed, ", "));
  m.error = WithHttpStatus(absl::InvalidArgumentError(fmt::format("method {} not allowed on {}; allowed: {}", method,
                                                                  best->pattern, m.allow)),
                           405);
  return m;
}

Response Router::RenderError(std::string_view path, const absl::Status& status) const {
  const ErrorRenderer* renderer = nullptr;
  size_t best = 0;
  for (const auto& [prefix, r] : impl_->renderers) {
    if (path.substr(0, prefix.size()) == prefix && prefix.size() >= best) {
      best = prefix.size();
      renderer = &r;
    }
  }
  return renderer ? (*renderer)(status) : JsonErrorResponse(status);
}

}  // namespace concord::http
