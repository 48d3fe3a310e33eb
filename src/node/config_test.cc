#include "node/config.h"

#include <gtest/gtest.h>

#include "common/status.h"

namespace concord::node {
namespace {

TEST(Config, DefaultsAreValidAndServeTlsOnLoopback) {
  NodeConfig c;
  EXPECT_TRUE(ValidateConfig(c).ok());
  EXPECT_EQ(c.listen, "127.0.0.1:8443");
  EXPECT_FALSE(c.insecure_http);
  EXPECT_EQ(c.max_body_bytes, 64 << 20);
}

TEST(Config, FileOverridesDefaults) {
  auto c = ParseConfig("[node]\nname = \"CERT-EU\"\n[server]\nlisten = \"[::1]:9443\"\nmax_connections = 10\n"
                       "rate_limit_per_second = 2.5\n",
                       "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "CERT-EU");
  EXPECT_EQ(c->listen, "[::1]:9443");
  EXPECT_EQ(c->max_connections, 10);
  EXPECT_EQ(c->rate_limit_per_second, 2.5);
  EXPECT_EQ(c->db, "./var/concord.db");
}

TEST(Config, UnknownKeysAndWrongTypesNameTheKey) {
  EXPECT_EQ(ParseConfig("[server]\nlisen = \"x\"\n", "t.toml").status().message(), "t.toml: unknown setting 'server.lisen'");
  EXPECT_EQ(ParseConfig("[server]\nmax_connections = \"ten\"\n", "t.toml").status().message(),
            "t.toml: server.max_connections: expected an integer");
  EXPECT_EQ(ParseConfig("name = 1\n", "t.toml").status().message(),
            "t.toml: 'name' must be a section ([node], [server], [detect], [log] or [taxii])");
  auto syntax = ParseConfig("[server\n", "t.toml");
  EXPECT_EQ(syntax.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Sv(syntax.status().message()).starts_with("t.toml:1:")) << syntax.status();
}

TEST(Config, ListenForms) {
  auto v4 = ParseListen("0.0.0.0:0");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 0);
  auto v6 = ParseListen("[::1]:8443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8443);
  EXPECT_EQ(ParseListen("::1:8443").status().message(), "listen: '::1:8443': expected HOST:PORT (IPv6 as [::1]:PORT)");
  EXPECT_EQ(ParseListen("host:65536").status().message(), "listen: 'host:65536': expected HOST:PORT with a port 0-65535");
  EXPECT_FALSE(ParseListen(":80").ok());
  EXPECT_FALSE(ParseListen("[::1]8443").ok());
}

TEST(Config, StreamSettings) {
  EXPECT_EQ(NodeConfig{}.max_streams, 256);
  EXPECT_EQ(NodeConfig{}.stream_heartbeat_ms, 15'000);
  auto c = ParseConfig("[server]\nmax_streams = 3\nstream_heartbeat_ms = 500\n", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_streams, 3);
  EXPECT_EQ(c->stream_heartbeat_ms, 500);
  c->max_streams = 0;
  EXPECT_EQ(ValidateConfig(*c).message(), "server.max_streams: must be between 1 and 1000000, got 0");
  c->max_streams = 3;
  c->stream_heartbeat_ms = 0;
  EXPECT_EQ(ValidateConfig(*c).message(), "server.stream_heartbeat_ms: must be between 1 and 3600000, got 0");
}

TEST(Config, RowCacheSetting) {
  EXPECT_EQ(NodeConfig{}.row_cache_mb, 64);
  auto c = ParseConfig("[node]\nrow_cache_mb = 0\n", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->row_cache_mb, 0);  // none kept: valid
  EXPECT_TRUE(ValidateConfig(*c).ok());
  c->row_cache_mb = -1;
  EXPECT_EQ(ValidateConfig(*c).message(), "node.row_cache_mb: must be between 0 and 1048576, got -1");
}

TEST(Config, DetectSettings) {
  EXPECT_EQ(NodeConfig{}.detect_warninglists, "");  // the shipped lists
  EXPECT_EQ(NodeConfig{}.detect_rebuild_interval_ms, 5'000);
  auto c = ParseConfig("[detect]\nwarninglists = \"none\"\nrebuild_interval_ms = 250\n", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->detect_warninglists, "none");
  EXPECT_EQ(c->detect_rebuild_interval_ms, 250);
  EXPECT_EQ(ParseConfig("[detect]\nrebuild_interval_ms = \"5s\"\n", "t.toml").status().message(),
            "t.toml: detect.rebuild_interval_ms: expected an integer");
  EXPECT_EQ(ParseConfig("[detect]\nwarninglist = \"x\"\n", "t.toml").status().message(),
            "t.toml: unknown setting 'detect.warninglist'");
  c->detect_rebuild_interval_ms = 0;
  EXPECT_EQ(ValidateConfig(*c).message(), "detect.rebuild_interval_ms: must be between 1 and 86400000, got 0");
}

TEST(Config, ValidationNamesTheSetting) {
  NodeConfig c;
  c.max_connections = 0;
  EXPECT_EQ(ValidateConfig(c).message(), "server.max_connections: must be between 1 and 1000000, got 0");
  c = NodeConfig{};
  c.require_client_cert = true;
  EXPECT_EQ(ErrorField(ValidateConfig(c)), "server.client_ca");
  c = NodeConfig{};
  c.tls_cert = "a.crt";
  EXPECT_EQ(ErrorField(ValidateConfig(c)), "server.tls_key");
  c = NodeConfig{};
  c.log_format = "xml";
  EXPECT_EQ(ValidateConfig(c).message(), "log.format: expected json or text");
}

TEST(Config, DecayEntriesApplyInOrderOverTheDefaults) {
  auto c = ParseConfig("[detect]\ndecay = [\"all=200\", \"ipv4=14:0.5\", \"domain=60\"]\n", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->detect_decay, (std::vector<std::string>{"all=200", "ipv4=14:0.5", "domain=60"}));
  auto policy = ParseDecayPolicy(c->detect_decay, "detect.decay");
  ASSERT_TRUE(policy.ok()) << policy.status();
  auto model = [&](pattern::ValueKind kind) { return policy->models[static_cast<size_t>(kind)]; };
  EXPECT_EQ(model(pattern::ValueKind::kIpv4).lifetime_days, 14);
  EXPECT_EQ(model(pattern::ValueKind::kIpv4).speed, 0.5);
  EXPECT_EQ(model(pattern::ValueKind::kDomain).lifetime_days, 60);
  EXPECT_EQ(model(pattern::ValueKind::kDomain).speed, 0.3);
  EXPECT_EQ(model(pattern::ValueKind::kSha256).lifetime_days, 200);
  EXPECT_EQ(model(pattern::ValueKind::kIpv6).lifetime_days, 200);
  // None given: MISP-like defaults.
  auto defaults = ParseDecayPolicy({}, "detect.decay");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->models[static_cast<size_t>(pattern::ValueKind::kIpv4)].lifetime_days, 30);
  EXPECT_EQ(defaults->models[static_cast<size_t>(pattern::ValueKind::kUrl)].lifetime_days, 90);
}

TEST(Config, BadDecayEntriesNameTheFieldAndTheEntry) {
  auto error = [](const std::string& entry) {
    return std::string(ParseDecayPolicy({entry}, "detect.decay").status().message());
  };
  EXPECT_EQ(error("ipv4"), "detect.decay: 'ipv4': no '=' (expected KIND=DAYS[:SPEED], e.g. ipv4=14 or domain=60:0.5)");
  EXPECT_EQ(error("dns=3"), "detect.decay: 'dns=3': unknown kind (ipv4, cidr4, domain, url, email, sha256, …, or all) "
                            "(expected KIND=DAYS[:SPEED], e.g. ipv4=14 or domain=60:0.5)");
  EXPECT_EQ(error("ipv4=0"), "detect.decay: 'ipv4=0': the lifetime must be a number of days, 0 < DAYS <= 36500 "
                             "(expected KIND=DAYS[:SPEED], e.g. ipv4=14 or domain=60:0.5)");
  EXPECT_EQ(error("ipv4=14:x"), "detect.decay: 'ipv4=14:x': the speed must be a number, 0 < SPEED <= 10 "
                                "(expected KIND=DAYS[:SPEED], e.g. ipv4=14 or domain=60:0.5)");
  EXPECT_EQ(ParseDecayPolicy({"ipv4=14:11"}, "detect.decay").status().code(), absl::StatusCode::kInvalidArgument);
  // The configuration is checked as a whole before the node starts.
  NodeConfig config;
  config.detect_decay = {"url=-1"};
  EXPECT_EQ(ValidateConfig(config).code(), absl::StatusCode::kInvalidArgument);
  auto not_strings = ParseConfig("[detect]\ndecay = [1, 2]\n", "t.toml");
  EXPECT_EQ(not_strings.status().message(), "t.toml: detect.decay: expected an array of strings");
}

}  // namespace
}  // namespace concord::node
