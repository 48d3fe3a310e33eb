#include "node/config.h"

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "common/status.h"
#include "correlate/normalize.h"
#include "fmt/format.h"
#include "node/taxii_config.h"
#include "toml++/toml.h"

namespace concord::node {
namespace {

// One settable key: how to read it from a TOML node into the config.
using Setter = std::function<absl::Status(const toml::node&, NodeConfig&, const std::string& key)>;

template <typename T>
Setter Set(T NodeConfig::*field) {
  return [field](const toml::node& node, NodeConfig& config, const std::string& key) -> absl::Status {
    if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = node.value_exact<std::string>()) {
        config.*field = *v;
        return absl::OkStatus();
      }
      return FieldError(key, "expected a string");
    } else if constexpr (std::is_same_v<T, bool>) {
      if (auto v = node.value_exact<bool>()) {
        config.*field = *v;
        return absl::OkStatus();
      }
      return FieldError(key, "expected true or false");
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      const auto* array = node.as_array();
      if (array == nullptr) return FieldError(key, "expected an array of strings");
      std::vector<std::string> values;
      for (const toml::node& element : *array) {
        auto v = element.value_exact<std::string>();
        if (!v) return FieldError(key, "expected an array of strings");
        values.push_back(*v);
      }
      config.*field = std::move(values);
      return absl::OkStatus();
    } else if constexpr (std::is_same_v<T, int64_t>) {
      if (auto v = node.value_exact<int64_t>()) {
        config.*field = *v;
        return absl::OkStatus();
      }
      return FieldError(key, "expected an integer");
    } else {
      if (auto v = node.value<double>()) {
        config.*field = *v;
        return absl::OkStatus();
      }
      return FieldError(key, "expected a number");
    }
  };
}

const std::map<std::string, Setter, std::less<>>& Keys() {
  static const auto* keys = new std::map<std::string, Setter, std::less<>>{
      {"node.name", Set(&NodeConfig::name)},
      {"node.db", Set(&NodeConfig::db)},
      {"node.default_distribution", Set(&NodeConfig::default_distribution)},
      {"node.row_cache_mb", Set(&NodeConfig::row_cache_mb)},
      {"server.listen", Set(&NodeConfig::listen)},
      {"server.insecure_http", Set(&NodeConfig::insecure_http)},
      {"server.tls_cert", Set(&NodeConfig::tls_cert)},
      {"server.tls_key", Set(&NodeConfig::tls_key)},
      {"server.client_ca", Set(&NodeConfig::client_ca)},
      {"server.require_client_cert", Set(&NodeConfig::require_client_cert)},
      {"server.max_body_bytes", Set(&NodeConfig::max_body_bytes)},
      {"server.max_header_bytes", Set(&NodeConfig::max_header_bytes)},
      {"server.max_connections", Set(&NodeConfig::max_connections)},
      {"server.read_timeout_ms", Set(&NodeConfig::read_timeout_ms)},
      {"server.idle_timeout_ms", Set(&NodeConfig::idle_timeout_ms)},
      {"server.max_streams", Set(&NodeConfig::max_streams)},
      {"server.stream_heartbeat_ms", Set(&NodeConfig::stream_heartbeat_ms)},
      {"server.io_threads", Set(&NodeConfig::io_threads)},
      {"server.worker_threads", Set(&NodeConfig::worker_threads)},
      {"server.rate_limit_per_second", Set(&NodeConfig::rate_limit_per_second)},
      {"server.rate_limit_burst", Set(&NodeConfig::rate_limit_burst)},
      {"server.shutdown_grace_ms", Set(&NodeConfig::shutdown_grace_ms)},
      {"server.require_justification_for_red", Set(&NodeConfig::require_justification_for_red)},
      {"detect.warninglists", Set(&NodeConfig::detect_warninglists)},
      {"detect.rebuild_interval_ms", Set(&NodeConfig::detect_rebuild_interval_ms)},
      {"detect.decay", Set(&NodeConfig::detect_decay)},
      {"log.level", Set(&NodeConfig::log_level)},
      {"log.format", Set(&NodeConfig::log_format)},
  };
  return *keys;
}

}  // namespace

std::vector<std::string> ConfigKeys() {
  std::vector<std::string> out;
  for (const auto& [key, setter] : Keys()) out.push_back(key);
  return out;
}

absl::StatusOr<NodeConfig> ParseConfig(std::string_view text, std::string_view source, NodeConfig base) {
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(fmt::format("{}:{}:{}: {}", source, e.source().begin.line,
                                                  e.source().begin.column, e.description()));
  }
  for (const auto& [section, value] : table) {
    const auto* inner = value.as_table();
    if (inner == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("{}: '{}' must be a section ([node], [server], [detect], [log] or [taxii])", source, section.str()));
    }
    if (section.str() == "taxii") {
      for (const auto& [name, node] : *inner) {
        CONCORD_RETURN_IF_ERROR(Annotate(SetTaxiiSetting(name.str(), node, base.taxii), source));
      }
      continue;
    }
    for (const auto& [name, node] : *inner) {
      const std::string key = fmt::format("{}.{}", section.str(), name.str());
      auto it = Keys().find(key);
      if (it == Keys().end()) return absl::InvalidArgumentError(fmt::format("{}: unknown setting '{}'", source, key));
      CONCORD_RETURN_IF_ERROR(Annotate(it->second(node, base, key), source));
    }
  }
  CONCORD_RETURN_IF_ERROR(Annotate(ValidateTaxiiConfig(base.taxii), source));
  return base;
}

absl::StatusOr<NodeConfig> LoadConfigFile(const std::string& path, NodeConfig base) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open the configuration file", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path, std::move(base));
}

absl::StatusOr<ListenAddress> ParseListen(std::string_view listen) {
  ListenAddress out;
  std::string_view port;
  if (listen.starts_with('[')) {
    const size_t close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return FieldError("listen", fmt::format("'{}': expected [IPv6]:PORT", listen));
    }
    out.host = std::string(listen.substr(1, close - 1));
    port = listen.substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos || listen.find(':') != colon) {
      return FieldError("listen", fmt::format("'{}': expected HOST:PORT (IPv6 as [::1]:PORT)", listen));
    }
    out.host = std::string(listen.substr(0, colon));
    port = listen.substr(colon + 1);
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (out.host.empty() || port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return FieldError("listen", fmt::format("'{}': expected HOST:PORT with a port 0-65535", listen));
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

absl::StatusOr<detect::DecayPolicy> ParseDecayPolicy(const std::vector<std::string>& entries, std::string_view field) {
  detect::DecayPolicy policy = detect::DecayPolicy::Default();
  for (const std::string& entry : entries) {
    auto bad = [&](std::string_view why) {
      return FieldError(field, fmt::format("'{}': {} (expected KIND=DAYS[:SPEED], e.g. ipv4=14 or domain=60:0.5)",
                                           entry.substr(0, 100), why));
    };
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) return bad("no '='");
    const std::string_view name = std::string_view(entry).substr(0, eq);
    std::string_view rest = std::string_view(entry).substr(eq + 1);
    std::optional<pattern::ValueKind> kind;
    if (name != "all") {
      kind = correlate::ParseKind(name);
      if (!kind) return bad("unknown kind (ipv4, cidr4, domain, url, email, sha256, …, or all)");
    }
    auto number = [](std::string_view text) -> std::optional<double> {
      double v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
      return v;
    };
    detect::DecayModel model;
    const size_t colon = rest.find(':');
    const auto days = number(rest.substr(0, colon));
    if (!days || !(*days > 0 && *days <= 36'500)) return bad("the lifetime must be a number of days, 0 < DAYS <= 36500");
    model.lifetime_days = *days;
    if (colon != std::string_view::npos) {
      const auto speed = number(rest.substr(colon + 1));
      if (!speed || !(*speed > 0 && *speed <= 10)) return bad("the speed must be a number, 0 < SPEED <= 10");
      model.speed = *speed;
    }
    if (kind) {
      policy.models[static_cast<size_t>(*kind)] = model;
    } else {
      policy.models.fill(model);
    }
  }
  return policy;
}

absl::Status ValidateConfig(const NodeConfig& c) {
  CONCORD_RETURN_IF_ERROR(ParseListen(c.listen).status());
  CONCORD_RETURN_IF_ERROR(ParseDecayPolicy(c.detect_decay, "detect.decay").status());
  auto positive = [](std::string_view key, int64_t v, int64_t max) -> absl::Status {
    if (v < 1 || v > max) return FieldError(key, fmt::format("must be between 1 and {}, got {}", max, v));
    return absl::OkStatus();
  };
  CONCORD_RETURN_IF_ERROR(positive("server.max_body_bytes", c.max_body_bytes, int64_t{1} << 34));
  CONCORD_RETURN_IF_ERROR(positive("server.max_header_bytes", c.max_header_bytes, 1 << 20));
  CONCORD_RETURN_IF_ERROR(positive("server.max_connections", c.max_connections, 1'000'000));
  CONCORD_RETURN_IF_ERROR(positive("server.read_timeout_ms", c.read_timeout_ms, 3'600'000));
  CONCORD_RETURN_IF_ERROR(positive("server.idle_timeout_ms", c.idle_timeout_ms, 3'600'000));
  CONCORD_RETURN_IF_ERROR(positive("server.max_streams", c.max_streams, 1'000'000));
  CONCORD_RETURN_IF_ERROR(positive("server.stream_heartbeat_ms", c.stream_heartbeat_ms, 3'600'000));
  CONCORD_RETURN_IF_ERROR(positive("server.io_threads", c.io_threads, 256));
  if (c.row_cache_mb < 0 || c.row_cache_mb > (int64_t{1} << 20)) {
    return FieldError("node.row_cache_mb", fmt::format("must be between 0 and {}, got {}", int64_t{1} << 20, c.row_cache_mb));
  }
  CONCORD_RETURN_IF_ERROR(positive("server.worker_threads", c.worker_threads, 1024));
  CONCORD_RETURN_IF_ERROR(positive("server.shutdown_grace_ms", c.shutdown_grace_ms, 3'600'000));
  CONCORD_RETURN_IF_ERROR(positive("detect.rebuild_interval_ms", c.detect_rebuild_interval_ms, 86'400'000));
  if (!(c.rate_limit_per_second > 0) || !(c.rate_limit_burst >= 1)) {
    return FieldError("server.rate_limit_per_second", "rate must be > 0 and burst >= 1");
  }
  if (c.log_format != "json" && c.log_format != "text") return FieldError("log.format", "expected json or text");
  if (!c.insecure_http && (c.tls_cert.empty() != c.tls_key.empty())) {
    return FieldError("server.tls_key", "tls_cert and tls_key go together");
  }
  if (c.require_client_cert && c.client_ca.empty()) {
    return FieldError("server.client_ca", "require_client_cert needs a client_ca to verify against");
  }
  return ValidateTaxiiConfig(c.taxii);
}

}  // namespace concord::node
