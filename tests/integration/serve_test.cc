// End to end: a real `concord serve` process on a free loopback port.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "node_process.h"

namespace concord::testing {
namespace {

namespace fs = std::filesystem;

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("concord_serve_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Db() const { return (dir_ / "var" / "concord.db").string(); }
  fs::path dir_;
};

TEST_F(ServeTest, HealthReadinessMetricsAndCleanDrain) {
  NodeProcess node({"serve", "--db", Db(), "--listen", "127.0.0.1:0", "--insecure-http"});
  ASSERT_NE(node.port(), 0) << node.output();
  EXPECT_TRUE(node.output().starts_with("concord: serving http://127.0.0.1:")) << node.output();

  auto health = Get(node.port(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, R"({"status":"ok"})");

  auto ready = Get(node.port(), "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, R"({"status":"ready","objects":0})");

  auto missing = Get(node.port(), "/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, R"({"error":{"code":"NOT_FOUND","message":"no resource at /nope"}})");

  auto metrics = Get(node.port(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics->body.find(R"(concord_http_requests_total{route="/healthz",method="GET",status="200"} 1)"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find(R"x(concord_http_requests_total{route="(unmatched)",method="GET",status="404"} 1)x"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("concord_store_versions 0\n"), std::string::npos) << metrics->body;

  EXPECT_EQ(node.Terminate(), 0);
}

TEST_F(ServeTest, DefaultIsTlsWithAGeneratedCertificate) {
  NodeProcess node({"serve", "--db", Db(), "--listen", "127.0.0.1:0"});
  ASSERT_NE(node.port(), 0) << node.output();
  EXPECT_TRUE(node.output().starts_with("concord: serving https://127.0.0.1:")) << node.output();
  EXPECT_TRUE(fs::exists(dir_ / "var" / "tls" / "node.crt"));
  EXPECT_TRUE(fs::exists(dir_ / "var" / "tls" / "node.key"));
  EXPECT_EQ(fs::status(dir_ / "var" / "tls" / "node.key").permissions() & fs::perms::others_read, fs::perms::none);
  // Plain HTTP on the TLS port gets no HTTP answer.
  auto plain = Get(node.port(), "/healthz");
  EXPECT_TRUE(!plain || plain->status != 200);
  EXPECT_EQ(node.Terminate(), 0);
}

TEST_F(ServeTest, ConfigurationFileAndFlags) {
  const std::string config = (dir_ / "concord.toml").string();
  std::ofstream(config) << "[node]\nname = \"CERT-Test\"\ndb = \"" << Db() << "\"\n[server]\nlisten = \"127.0.0.1:1\"\n"
                        << "insecure_http = true\n[log]\nformat = \"text\"\n";
  // The flag wins over the file's port.
  NodeProcess node({"serve", "--config", config, "--listen", "127.0.0.1:0"});
  ASSERT_NE(node.port(), 0) << node.output();
  EXPECT_NE(node.port(), 1);
  EXPECT_TRUE(node.output().starts_with("concord: serving http://")) << node.output();
  EXPECT_EQ(node.Terminate(), 0);

  std::ofstream(config) << "[server]\nlisten = 8443\n";
  NodeProcess bad({"serve", "--config", config});
  EXPECT_EQ(bad.port(), 0);
  EXPECT_EQ(bad.Terminate(), 2);
}

}  // namespace
}  // namespace concord::testing
