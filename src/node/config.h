// concord/node/config.h — the node's configuration: defaults, a TOML file, command-line flags.
//
// Precedence: built-in defaults < the TOML file (`--config`) < flags. Defaults run a demo node with no
// file at all: embedded SQLite in ./var, 127.0.0.1:8443 with TLS from a self-signed certificate that is
// generated on first start. Unknown keys in the file are errors (a typo must not silently fall back to a
// default). Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "detect/indicator.h"
#include "taxii/collection.h"

namespace concord::node {

// [taxii] and its [[taxii.collections]] tables (node/taxii_config.h reads them).
struct TaxiiConfig {
  bool default_collection = true;  // the built-in collection "all" (taxii/handlers.h)
  // Configured collections; organisations in their rights as written (identity ids or names), resolved
  // when the node starts (TaxiiCollections).
  std::vector<taxii::Collection> collections;
  int64_t status_keep = 10000;        // status resources kept, newest first
  int64_t status_max_age_hours = 168;  // and none older than this (7 days)
};

struct NodeConfig {
  // [node]
  std::string name = "Concord demo node";  // the host organisation's name (a STIX identity)
  std::string db = "./var/concord.db";
  std::string default_distribution = "community";
  int64_t row_cache_mb = 64;  // memory for listed rows (store/sqlite/row_cache.h); 0 keeps none
  // [server]
  std::string listen = "127.0.0.1:8443";  // HOST:PORT, IPv6 as [::1]:8443; port 0 picks a free one
  bool insecure_http = false;
  std::string tls_cert;  // empty: <db dir>/tls/node.crt, generated when missing
  std::string tls_key;
  std::string client_ca;
  bool require_client_cert = false;
  int64_t max_body_bytes = 64ll << 20;
  int64_t max_header_bytes = 16ll << 10;
  int64_t max_connections = 1024;
  int64_t read_timeout_ms = 60'000;
  int64_t idle_timeout_ms = 60'000;
  int64_t max_streams = 256;             // concurrent streaming responses (/api/v1/stream); 503 beyond
  int64_t stream_heartbeat_ms = 15'000;  // an idle event stream gets a keep-alive comment this often
  int64_t io_threads = 2;
  int64_t worker_threads = 4;
  double rate_limit_per_second = 100;  // per API key
  double rate_limit_burst = 200;
  int64_t shutdown_grace_ms = 30'000;
  // Reads of TLP:RED and AMBER+STRICT objects need an X-Concord-Justification header (403 without); the
  // justification is recorded in the audit log either way.
  bool require_justification_for_red = false;
  // [detect]
  // MISP warninglists for detection (match, export, search): a directory, "" for the lists shipped with
  // Concord (data/warninglists), "none" for no lists.
  std::string detect_warninglists;
  // The detection snapshot is rebuilt when the store changed, at most once per interval: a stored change is
  // matchable within this (plus one build).
  int64_t detect_rebuild_interval_ms = 5'000;
  // Decay of indicator scores (MISP's polynomial model), per kind: "KIND=DAYS[:SPEED]" entries applied in
  // order over the defaults (ParseDecayPolicy); KIND "all" sets every kind.
  std::vector<std::string> detect_decay;
  // [log]
  std::string log_level = "info";
  std::string log_format = "json";  // json | text
  // [taxii]
  TaxiiConfig taxii;
};

// Reads a TOML file over the defaults. Errors name the file, the key and what was expected.
absl::StatusOr<NodeConfig> LoadConfigFile(const std::string& path, NodeConfig base = {});
// Parses TOML text (for tests and for `--config -`); `source` names it in errors.
absl::StatusOr<NodeConfig> ParseConfig(std::string_view toml, std::string_view source, NodeConfig base = {});
// Every setting of the file ("section.name"), sorted.
std::vector<std::string> ConfigKeys();

// Checks values that have to hold whatever their source (ranges, listen address form).
absl::Status ValidateConfig(const NodeConfig& config);

// The organisation an id or a name denotes, as its identity id (NotFound when there is none).
using OrgLookup = std::function<absl::StatusOr<std::string>(std::string_view org)>;
// The TAXII API root's collections: the default one unless taxii.default_collection is false, then the
// configured ones, with the organisations of their rights resolved by `lookup`. Errors name the setting:
// "taxii.collections[1].read.orgs[0]: no organisation 'CERT-XX' on this node".
absl::StatusOr<std::vector<taxii::Collection>> TaxiiCollections(const TaxiiConfig& taxii, const OrgLookup& lookup);

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
// "127.0.0.1:8443", "[::1]:8443", "0.0.0.0:0".
absl::StatusOr<ListenAddress> ParseListen(std::string_view listen);

// The decay policy of "KIND=DAYS[:SPEED]" entries (e.g. "ipv4=14", "domain=60:0.5", "all=90") applied in order
// over detect::DecayPolicy::Default(): lifetime 0 < DAYS <= 36500, speed 0 < SPEED <= 10 (default 0.3, MISP's).
// Errors are InvalidArgument naming `field` and the entry.
[[nodiscard]] absl::StatusOr<detect::DecayPolicy> ParseDecayPolicy(const std::vector<std::string>& entries,
                                                                   std::string_view field);

}  // namespace concord::node
