// concord/node/serve.h — `concord serve`: the node process.
//
// A Node wires the store, the HTTP server and the routes together. Start() opens the store (applying
// migrations), prepares TLS material (a self-signed pair beside the database when none is configured),
// binds and serves; Run() blocks until SIGTERM/SIGINT (or RequestShutdown) and then drains in-flight
// requests within the configured grace period. Routes: /healthz, /readyz, /metrics, the REST API (objects,
// stream, audit, administration, detection) and TAXII 2.1. Start also builds the detection snapshot and
// starts its refresher thread (api/detection.h), which is joined when the Node is destroyed after Run.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "node/config.h"

namespace concord::node {

class Node {
 public:
  static absl::StatusOr<std::unique_ptr<Node>> Start(const NodeConfig& config);
  ~Node();

  uint16_t port() const;
  std::string url() const;  // "https://127.0.0.1:8443/"
  void HandleSignals();
  void Run();  // until a shutdown is requested, then drains
  void RequestShutdown();
  // Every (method, pattern) the node serves (for the OpenAPI coverage test).
  const std::vector<std::pair<std::string, std::string>>& routes() const;

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The command: prints "concord: serving URL (store PATH)" on `out` once listening, then serves until
// SIGTERM. Exit code 0 after a clean drain, 2 when the node cannot start.
int RunServe(const NodeConfig& config, std::ostream& out, std::ostream& err);

}  // namespace concord::node
