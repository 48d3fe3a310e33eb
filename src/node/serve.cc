#include "node/serve.h"
#include "node/detect_commands.h"
#include "node/node_store.h"

#include <chrono>
#include <filesystem>
#include <ostream>
#include <sstream>

#include "api/api.h"
#include "api/detection.h"
#include "api/openapi.h"
#include "api/stream.h"
#include "audit/audit.h"
#include "boost/json/serialize.hpp"
#include "common/log.h"
#include "common/status.h"
#include "fmt/format.h"
#include "http/errors.h"
#include "http/metrics.h"
#include "http/rate_limit.h"
#include "http/server.h"
#include "http/tls_cert.h"
#include "spdlog/spdlog.h"
#include "store/accounts.h"
#include "store/change_listener.h"
#include "store/store.h"
#include "taxii/handlers.h"
#include "taxii/status_log.h"

namespace concord::node {
namespace {

namespace fs = std::filesystem;

// Without configured TLS material the node makes its own self-signed pair beside the database, once, so
// that a demo node is encrypted from the first start and keeps its certificate across restarts.
absl::Status EnsureTls(NodeConfig& config) {
  if (config.insecure_http || !config.tls_cert.empty()) return absl::OkStatus();
  const fs::path dir = fs::path(config.db).parent_path() / "tls";
  config.tls_cert = (dir / "node.crt").string();
  config.tls_key = (dir / "node.key").string();
  if (fs::exists(config.tls_cert) && fs::exists(config.tls_key)) return absl::OkStatus();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  spdlog::info("generating a self-signed TLS certificate in {}", dir.string());
  return http::GenerateSelfSignedCertificate({}, config.tls_cert, config.tls_key);
}

// "127.0.0.1:51234" → "127.0.0.1"; "[::1]:51234" → "::1".
std::string_view HostOf(std::string_view remote) {
  if (remote.starts_with('[')) return remote.substr(1, remote.find(']') - 1);
  return remote.substr(0, remote.rfind(':'));
}

}  // namespace

struct Node::Impl {
  NodeConfig config;
  std::unique_ptr<store::Store> store;  // an api::ChangePublishingStore: every write wakes the streams
  // What /api/v1/stream waits on: this process's writes through `store`, other processes' by a poll.
  // Declared after `store` and before `server`: it outlives every stream and dies before the store.
  std::unique_ptr<api::StoreChangeSource> change_source;
  std::unique_ptr<api::ChangeFeed> changes;
  api::StreamOptions stream_options;
  std::unique_ptr<store::Accounts> accounts;
  std::unique_ptr<audit::AuditLog> audit;  // before `api` and `server`, which use it
  std::unique_ptr<taxii::StatusLog> taxii_statuses;  // before `taxii`, which points to it
  std::unique_ptr<api::SharingGroupSnapshot> sharing_groups;  // what the policy reads; refreshed on change
  // PostgreSQL only: hears other processes' commits at once (store/change_listener.h) and tells `changes`,
  // `accounts` and `sharing_groups`; declared after them, so its thread is joined before they go.
  std::unique_ptr<store::ChangeListener> listener;
  std::unique_ptr<http::RateLimiter> limiter;
  api::ApiContext api;
  taxii::TaxiiContext taxii;  // after `api`, which it points to
  // Detection (api/detection.h): the lists, then the snapshot that filters through them and whose refresher
  // thread listens to `changes`; destroyed (thread joined) after the server has drained, before the store.
  std::unique_ptr<correlate::Warninglists> warninglists;
  std::unique_ptr<api::IndicatorSnapshots> snapshots;
  api::DetectionContext detection;
  http::MetricsRegistry metrics;
  http::Family<http::Counter>* requests = nullptr;
  http::Family<http::Histogram>* latency = nullptr;
  std::unique_ptr<http::Server> server;
  std::vector<std::pair<std::string, std::string>> routes;

  // The server stops (drained, its threads joined) before the audit log's committer thread ends, and the
  // audit log ends before the server's io_context goes: an audited read waits for its entry's commit, and
  // the committer's pending callbacks may hold the last reference to that request's session, whose socket
  // and timers belong to the io_context (destroyed after it, they were a use after free: an ASan report in
  // a restart test).
  ~Impl() {
    if (server) server->Shutdown(std::chrono::steady_clock::duration::zero());
    audit.reset();
  }

  absl::StatusOr<http::Router> Routes();
  absl::StatusOr<api::Caller> Authenticate(http::Request& request);
  std::string Metrics();
};

absl::StatusOr<http::Router> Node::Impl::Routes() {
  http::Router router;
  CONCORD_RETURN_IF_ERROR(router.Add("GET", "/healthz", [](http::Request&) -> absl::StatusOr<http::Response> {
    return http::Response::Json(200, R"({"status":"ok"})");
  }));
  CONCORD_RETURN_IF_ERROR(router.Add("GET", "/readyz", [this](http::Request&) -> absl::StatusOr<http::Response> {
    // Ready means the store answers: a node whose database is gone must leave the load balancer.
    auto stats = store->GetStats();
    if (!stats.ok()) return absl::UnavailableError(fmt::format("store: {}", Sv(stats.status().message())));
    return http::Response::Json(
        200, boost::json::serialize(boost::json::object{{"status", "ready"}, {"objects", stats->objects}}));
  }));
  CONCORD_RETURN_IF_ERROR(router.Add("GET", "/metrics", [this](http::Request&) -> absl::StatusOr<http::Response> {
    http::Response r = http::Response::Text(200, Metrics());
    r.headers.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return r;
  }));
  CONCORD_RETURN_IF_ERROR(api::AddOpenApiRoute(router));
  CONCORD_RETURN_IF_ERROR(api::AddObjectRoutes(router, api));
  CONCORD_RETURN_IF_ERROR(api::AddStreamRoutes(router, api, *changes, stream_options));
  CONCORD_RETURN_IF_ERROR(api::AddAuditRoutes(router, api));
  CONCORD_RETURN_IF_ERROR(api::AddAdminRoutes(router, api));
  CONCORD_RETURN_IF_ERROR(api::AddDetectionRoutes(router, detection));
  CONCORD_RETURN_IF_ERROR(taxii::AddRoutes(router, taxii));
  return router;
}

// Every API request: who is calling (401 otherwise), then the per-key rate limit (429 beyond).
absl::StatusOr<api::Caller> Node::Impl::Authenticate(http::Request& request) {
  auto authorization = request.headers.Get("Authorization");
  if (!authorization) {
    return absl::UnauthenticatedError("missing API key: send Authorization: Bearer <key> (or HTTP Basic)");
  }
  auto authenticated = accounts->AuthenticateHeader(*authorization, HostOf(request.remote_address));
  if (!authenticated.ok()) {
    // Presented and refused credentials are audited with the precise reason (accounts.h), never the secret.
    audit::Event e{.action = audit::Action::kAuthFailure,
                   .outcome = store::AuthFailureReason(authenticated.status()),
                   .remote_address = std::string(HostOf(request.remote_address))};
    if (auto credentials = store::ParseAuthorization(*authorization); credentials.ok()) e.key_id = credentials->key_id;
    if (e.outcome.empty()) e.outcome = "failed";
    e.detail = {{"route", request.route}, {"method", request.method}};
    if (auto logged = audit->Append(std::move(e)); !logged.ok()) {
      spdlog::error("audit: cannot record an authentication failure: {}", Sv(logged.status().message()));
    }
    return authenticated.status();
  }
  store::Principal& who = *authenticated;
  request.principal = who.user.name;
  const auto decision = limiter->Acquire(who.key_id);
  if (!decision.allowed) {
    return http::RateLimitedError(fmt::format("rate limit of key {} exceeded", who.key_id), decision.retry_after);
  }
  return api::Caller{.user = who.user.name,
                     .org_id = who.org.id,
                     .role = std::string(store::RoleName(who.role)),
                     .read_only = who.read_only,
                     .key_id = who.key_id};
}

std::string Node::Impl::Metrics() {
  std::string text = metrics.Expose();
  // Store figures are read at scrape time: gauges, not counters.
  if (auto stats = store->GetStats(); stats.ok()) {
    text += "# HELP concord_store_objects Objects (distinct ids) in the store, by type.\n"
            "# TYPE concord_store_objects gauge\n";
    for (const auto& [type, c] : stats->by_type) {
      text += fmt::format("concord_store_objects{{type=\"{}\"}} {}\n", type, c.objects);
    }
    text += fmt::format(
        "# HELP concord_store_versions Stored versions.\n# TYPE concord_store_versions gauge\n"
        "concord_store_versions {}\n"
        "# HELP concord_store_size_bytes On-disk size of the store.\n# TYPE concord_store_size_bytes gauge\n"
        "concord_store_size_bytes {}\n"
        "# HELP concord_store_last_seq Last change sequence number.\n# TYPE concord_store_last_seq gauge\n"
        "concord_store_last_seq {}\n",
        stats->versions, stats->size_bytes, stats->last_seq);
    if (const auto& cache = stats->row_cache) {
      text += fmt::format(
          "# HELP concord_store_row_cache_hits_total Listed rows found in the row cache.\n"
          "# TYPE concord_store_row_cache_hits_total counter\n"
          "concord_store_row_cache_hits_total {}\n"
          "# HELP concord_store_row_cache_misses_total Listed rows read from the database instead.\n"
          "# TYPE concord_store_row_cache_misses_total counter\n"
          "concord_store_row_cache_misses_total {}\n"
          "# HELP concord_store_row_cache_bytes Memory the row cache holds.\n# TYPE concord_store_row_cache_bytes gauge\n"
          "concord_store_row_cache_bytes {}\n"
          "# HELP concord_store_row_cache_capacity_bytes The row cache's limit (--row-cache-mb).\n"
          "# TYPE concord_store_row_cache_capacity_bytes gauge\n"
          "concord_store_row_cache_capacity_bytes {}\n",
          cache->hits, cache->misses, cache->bytes, cache->capacity_bytes);
    }
  }
  if (listener) {
    text += fmt::format(
        "# HELP concord_change_notifications_total Commits heard through LISTEN/NOTIFY, by channel.\n"
        "# TYPE concord_change_notifications_total counter\n"
        "concord_change_notifications_total{{channel=\"objects\"}} {}\n"
        "concord_change_notifications_total{{channel=\"accounts\"}} {}\n"
        "# HELP concord_change_listener_connections_total Connections of the change listener (1 + reconnections).\n"
        "# TYPE concord_change_listener_connections_total counter\n"
        "concord_change_listener_connections_total {}\n",
        listener->object_notifications(), listener->account_notifications(), listener->connections());
  }
  return text;
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() = default;

absl::StatusOr<std::unique_ptr<Node>> Node::Start(const NodeConfig& given) {
  CONCORD_RETURN_IF_ERROR(ValidateConfig(given));
  auto impl = std::make_unique<Impl>();
  impl->config = given;
  NodeConfig& config = impl->config;
  CONCORD_ASSIGN_OR_RETURN(ListenAddress listen, ParseListen(config.listen));
  if (const auto parent = fs::path(config.db).parent_path(); !parent.empty() && config.db.find("://") == std::string::npos) {
    std::error_code ec;
    fs::create_directories(parent, ec);
  }
  {
    CONCORD_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> opened,
                             OpenNodeStore(config.db, {.row_cache_bytes = static_cast<size_t>(config.row_cache_mb) << 20}));
    // A database written before postings existed (or by an opener without the extractor) gets them now,
    // before the node serves correlation. Batches of 2,000 objects; the demo data takes a second or two.
    if (auto complete = opened->PostingsComplete(); complete.ok() && !*complete) {
      spdlog::info("postings are incomplete: rebuilding them from the stored objects");
      CONCORD_RETURN_IF_ERROR(opened->ReindexPostings(nullptr));
    }
    impl->change_source = std::make_unique<api::StoreChangeSource>(*opened);
    CONCORD_ASSIGN_OR_RETURN(int64_t last_seq, impl->change_source->LastSeq());
    // On PostgreSQL other processes' commits are heard through LISTEN/NOTIFY (below) and the poll is only a
    // safety net; the embedded store has no notifications and is polled four times a second.
    const bool notified = store::SendsChangeNotifications(config.db);
    impl->changes = std::make_unique<api::ChangeFeed>(
        *impl->change_source, last_seq,
        api::ChangeFeed::Options{.poll_interval = std::chrono::milliseconds(notified ? 5'000 : 250)});
    impl->store = std::make_unique<api::ChangePublishingStore>(std::move(opened), *impl->changes);
  }
  CONCORD_ASSIGN_OR_RETURN(impl->accounts, store::OpenAccounts(config.db));
  CONCORD_ASSIGN_OR_RETURN(impl->audit, audit::OpenAuditLog(config.db, {.catch_up_index = true}));
  CONCORD_ASSIGN_OR_RETURN(store::Organisation host, impl->accounts->EnsureHostOrganisation(config.name));
  CONCORD_RETURN_IF_ERROR(EnsureTls(config));
  auto distribution = policy::ParseDistribution(config.default_distribution);
  if (!distribution) {
    return FieldError("node.default_distribution",
                      fmt::format("'{}': expected organisation, community, connected, all or group", config.default_distribution));
  }
  impl->limiter = std::make_unique<http::RateLimiter>(
      http::RateLimitOptions{.rate_per_second = config.rate_limit_per_second, .burst = config.rate_limit_burst});
  impl->api.store = impl->store.get();
  impl->api.defaults = policy::NodeDefaults{.distribution = *distribution, .host_org = host.id};
  impl->api.authenticate = [raw = impl.get()](http::Request& r) { return raw->Authenticate(r); };
  impl->api.audit = impl->audit.get();
  impl->api.require_justification_for_red = config.require_justification_for_red;
  // Sharing groups from memory: reloaded after a change made here, and every 2 s for changes made by the CLI
  // or another process (api.h, SharingGroupSnapshot).
  impl->api.accounts = impl->accounts.get();
  impl->sharing_groups = std::make_unique<api::SharingGroupSnapshot>(*impl->accounts, SystemClock::Instance());
  impl->api.sharing_groups = [g = impl->sharing_groups.get()] { return g->Get(); };
  impl->api.sharing_groups_changed = [g = impl->sharing_groups.get()] { g->Invalidate(); };
  {
    Impl* raw = impl.get();
    auto accounts_changed = [raw] {
      raw->accounts->ForgetCachedKeys();
      raw->sharing_groups->Invalidate();
    };
    auto listener = store::ListenForChanges(
        config.db, {.objects_committed = [raw](int64_t seq) { raw->changes->Publish(seq); },
                    .accounts_changed = accounts_changed,
                    // Commits made while not listening (before the first connection, or while it was
                    // down) are read from the store.
                    .resynchronise =
                        [raw, accounts_changed] {
                          if (auto refreshed = raw->changes->Refresh(); !refreshed.ok()) {
                            spdlog::warn("change feed: {}", Sv(refreshed.status().message()));
                          }
                          accounts_changed();
                        }});
    if (listener.ok()) {
      impl->listener = *std::move(listener);
    } else if (!absl::IsUnimplemented(listener.status())) {
      return listener.status();
    }
  }
  // Detection: the snapshot is built now, with the postings complete, so that the node never matches
  // against an empty one; then a background thread keeps it current (api::IndicatorSnapshots).
  {
    std::ostringstream warnings;
    auto lists = LoadWarninglists(config.detect_warninglists, warnings);
    if (!lists.ok()) return FieldError("detect.warninglists", Sv(lists.status().message()));
    impl->warninglists = *std::move(lists);
    if (std::string w = warnings.str(); !w.empty()) {
      while (!w.empty() && w.back() == '\n') w.pop_back();
      spdlog::warn("{}", w);
    }
    CONCORD_ASSIGN_OR_RETURN(detect::DecayPolicy decay, ParseDecayPolicy(config.detect_decay, "detect.decay"));
    CONCORD_ASSIGN_OR_RETURN(
        impl->snapshots,
        api::IndicatorSnapshots::Start(
            *impl->store, impl->warninglists.get(), impl->changes.get(), SystemClock::Instance(),
            {.rebuild_interval = std::chrono::milliseconds(config.detect_rebuild_interval_ms), .decay = decay}));
    impl->detection = api::DetectionContext{.api = &impl->api,
                                            .snapshots = impl->snapshots.get(),
                                            .warninglists = impl->warninglists.get(),
                                            .decay = decay};
  }
  // TAXII 2.1: one API root with the configured collections (taxii/handlers.h). Status resources and the
  // cursor key live in the database, so they survive restarts and are shared by every process on it.
  impl->taxii.api = &impl->api;
  impl->taxii.root_title = config.name;
  impl->taxii.scheme = config.insecure_http ? "http" : "https";
  impl->taxii.max_content_length = config.max_body_bytes;
  CONCORD_ASSIGN_OR_RETURN(
      impl->taxii.collections,
      TaxiiCollections(config.taxii, [accounts = impl->accounts.get()](std::string_view org) -> absl::StatusOr<std::string> {
        CONCORD_ASSIGN_OR_RETURN(store::Organisation found, accounts->GetOrganisation(org));
        return found.id;
      }));
  CONCORD_ASSIGN_OR_RETURN(
      impl->taxii_statuses,
      taxii::OpenStatusLog(config.db, {.retention = {.max_statuses = static_cast<size_t>(config.taxii.status_keep),
                                                     .max_age = std::chrono::hours(config.taxii.status_max_age_hours)}}));
  impl->taxii.statuses = impl->taxii_statuses.get();
  CONCORD_ASSIGN_OR_RETURN(impl->taxii.cursor_key, taxii::LoadCursorKey(config.db));

  impl->requests = &impl->metrics.AddCounter("concord_http_requests_total", "HTTP requests by route, method and status.",
                                             {"route", "method", "status"});
  impl->latency = &impl->metrics.AddHistogram("concord_http_request_duration_seconds",
                                              "Time from the first byte of a request to the last byte of its response.",
                                              {"route"}, http::DefaultLatencyBuckets());
  CONCORD_ASSIGN_OR_RETURN(http::Router router, impl->Routes());
  impl->routes = router.Routes();

  http::ServerOptions options;
  options.host = listen.host;
  options.port = listen.port;
  options.insecure_http = config.insecure_http;
  options.tls_cert_file = config.tls_cert;
  options.tls_key_file = config.tls_key;
  options.client_ca_file = config.client_ca;
  options.require_client_cert = config.require_client_cert;
  options.io_threads = static_cast<size_t>(config.io_threads);
  options.worker_threads = static_cast<size_t>(config.worker_threads);
  options.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
  options.max_header_bytes = static_cast<size_t>(config.max_header_bytes);
  options.max_connections = static_cast<size_t>(config.max_connections);
  options.read_timeout = std::chrono::milliseconds(config.read_timeout_ms);
  options.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  options.max_streams = static_cast<size_t>(config.max_streams);
  options.stream_heartbeat = std::chrono::milliseconds(config.stream_heartbeat_ms);
  Impl* raw = impl.get();
  options.on_request = [raw](const http::RequestRecord& r) {
    const std::string route = r.route.empty() ? "(unmatched)" : std::string(r.route);
    raw->requests->WithLabels({route, std::string(r.method), std::to_string(r.status)}).Inc();
    raw->latency->WithLabels({route}).Observe(std::chrono::duration<double>(r.duration).count());
  };
  CONCORD_ASSIGN_OR_RETURN(impl->server, http::Server::Create(std::move(options), std::move(router)));
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

const std::vector<std::pair<std::string, std::string>>& Node::routes() const { return impl_->routes; }

uint16_t Node::port() const { return impl_->server->bound_port(); }

std::string Node::url() const {
  auto listen = ParseListen(impl_->config.listen);
  std::string host = listen.ok() ? listen->host : "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return fmt::format("{}://{}:{}/", impl_->config.insecure_http ? "http" : "https", host, port());
}

void Node::HandleSignals() { impl_->server->HandleSignals(); }
void Node::RequestShutdown() { impl_->server->RequestShutdown(); }
void Node::Run() { impl_->server->Run(std::chrono::milliseconds(impl_->config.shutdown_grace_ms)); }

int RunServe(const NodeConfig& config, std::ostream& out, std::ostream& err) {
  ConfigureLogging(config.log_level, config.log_format == "text" ? LogFormat::kText : LogFormat::kJson);
  auto node = Node::Start(config);
  if (!node.ok()) {
    err << "concord: cannot start the node: " << Sv(node.status().message()) << '\n';
    return 2;
  }
  (*node)->HandleSignals();
  out << "concord: serving " << (*node)->url() << " (store " << config.db << ")" << std::endl;
  (*node)->Run();
  spdlog::info("stopped after draining in-flight requests");
  return 0;
}

}  // namespace concord::node
