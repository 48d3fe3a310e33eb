// tests/integration/node_fixture.h — what most end-to-end suites share: a fresh database in a temporary
// directory, a real `concord serve` on a free port whose host organisation is kHost, a second local
// organisation ("Other CSIRT", other_id_), and users made by the real CLI.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "boost/json/parse.hpp"
#include "node_process.h"

namespace concord::testing {

inline constexpr char kHost[] = "CERT-Test";
inline constexpr char kOtherOrg[] = "Other CSIRT";

// The CLI's output without its line end.
inline std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

class NodeFixture : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }
  void TearDown() override {
    if (node_) {
      EXPECT_EQ(node_->Terminate(), 0);
    }
    node_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A fresh directory and database, and a node serving it with `extra` flags after the usual ones.
  void Start(const std::vector<std::string>& extra) {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("concord_e2e_" + std::to_string(::getpid()) + "_" + test->test_suite_name() + "_" + test->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_ = (dir_ / "concord.db").string();
    std::vector<std::string> args{"serve", "--db", db_, "--listen", "127.0.0.1:0", "--insecure-http", "--name", kHost};
    args.insert(args.end(), extra.begin(), extra.end());
    node_ = std::make_unique<NodeProcess>(args);
    ASSERT_NE(node_->port(), 0) << node_->output();
    auto host = RunConcord({"org", "list", "--db", db_, "--json"});
    ASSERT_EQ(host.first, 0);
    host_id_ = std::string(boost::json::parse(host.second).as_array().at(0).at("id").as_string());
    auto other = RunConcord({"org", "add", "--db", db_, kOtherOrg});
    ASSERT_EQ(other.first, 0);
    other_id_ = Trim(other.second);
  }
  // Stops the node and starts a fresh one (new directory, new database).
  void Restart(const std::vector<std::string>& extra) {
    TearDown();
    Start(extra);
  }

  // Adds a user with `concord user add` and returns its API key.
  std::string User(const std::string& name, const std::string& org, const std::string& role = "analyst",
                   const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"user", "add", "--db", db_, name, "--org", org, "--role", role};
    args.insert(args.end(), extra.begin(), extra.end());
    auto [code, out] = RunConcord(args);
    EXPECT_EQ(code, 0) << name;
    return Trim(out);
  }

  std::filesystem::path dir_;
  std::string db_;
  std::string host_id_;
  std::string other_id_;
  std::unique_ptr<NodeProcess> node_;
};

}  // namespace concord::testing
