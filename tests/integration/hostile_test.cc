// Hostile input against a real `concord serve`: the node keeps serving others and stores nothing partial.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "boost/json/parse.hpp"
#include "node_process.h"

namespace concord::testing {
namespace {

namespace fs = std::filesystem;

int Connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the server has closed `fd` (recv returns 0 or an error) within `ms`.
bool ClosedWithin(int fd, int ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  char buf[4096];
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("concord_hostile_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "concord.db").string();
    node_ = std::make_unique<NodeProcess>(std::vector<std::string>{
        "serve", "--db", db_, "--listen", "127.0.0.1:0", "--insecure-http", "--name", "CERT-Test",
        "--max-body-bytes", "1048576", "--read-timeout-ms", "1000", "--max-connections", "64"});
    ASSERT_NE(node_->port(), 0) << node_->output();
    auto [code, token] = RunConcord({"user", "add", "--db", db_, "alice", "--org", "CERT-Test", "--role", "analyst"});
    ASSERT_EQ(code, 0);
    key_ = token.substr(0, token.find('\n'));
    auto orgs = RunConcord({"org", "list", "--db", db_, "--json"});
    host_id_ = std::string(boost::json::parse(orgs.second).as_array().at(0).at("id").as_string());
  }
  void TearDown() override {
    if (node_) {
      EXPECT_EQ(node_->Terminate(), 0);
    }
    node_.reset();
    fs::remove_all(dir_);
  }
  int Post(const std::string& body) {
    auto r = Request(node_->port(), "POST", "/api/v1/objects", key_, body);
    return r ? r->status : 0;
  }
  int64_t Stored() {
    auto r = Get(node_->port(), "/readyz");
    return r && r->status == 200 ? boost::json::parse(r->body).at("objects").as_int64() : -1;
  }
  std::string Indicator(int n) {
    return R"({"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-00000000000)" +
           std::to_string(n) + R"(","created_by_ref":")" + host_id_ +
           R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"})";
  }

  fs::path dir_;
  std::string db_;
  std::string key_;
  std::string host_id_;
  std::unique_ptr<NodeProcess> node_;
};

TEST_F(HostileTest, BadBodiesAreRefusedWholeAndStoreNothing) {
  const std::string three = "[" + Indicator(1) + "," + Indicator(2) + "," + Indicator(3) + "]";
  EXPECT_EQ(Post(three.substr(0, three.size() - 40)), 400);  // truncated after two whole objects
  EXPECT_EQ(Post("{not json"), 400);
  EXPECT_EQ(Post("[" + Indicator(1) + ",\"\xff\xfe\"]"), 400);  // invalid UTF-8
  EXPECT_EQ(Post(std::string(10000, '[') + std::string(10000, ']')), 400);  // 10,000-deep nesting
  EXPECT_EQ(Post("[" + std::string(2 << 20, ' ') + "]"), 413);  // over --max-body-bytes
  EXPECT_EQ(Stored(), 0);
  EXPECT_EQ(Post(three), 200);  // and the node still works
  EXPECT_EQ(Stored(), 3);
}

TEST_F(HostileTest, MalformedHttpGetsA400AndOthersAreServed) {
  for (const std::string& garbage : {std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n"), std::string("GET\r\n\r\n"),
                                    std::string("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzzzz\r\n")}) {
    auto r = RawHttp(node_->port(), garbage, 3000);
    EXPECT_TRUE(!r || r->status == 400) << (r ? r->status : 0);
  }
  auto flood = RawHttp(node_->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n" + [] {
    std::string h;
    for (int i = 0; i < 4000; ++i) h += "X-Flood-" + std::to_string(i) + ": yes\r\n";
    return h;
  }() + "\r\n");
  ASSERT_TRUE(flood);
  EXPECT_EQ(flood->status, 431);
  auto ok = Get(node_->port(), "/healthz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HostileTest, SlowDripClientIsCutWhileOthersAreServed) {
  const int slow = Connect(node_->port());
  ASSERT_GE(slow, 0);
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::atomic<bool> cut{false};
  std::thread dripper([&] {
    for (size_t i = 0; i < request.size() && !cut; ++i) {
      if (::send(slow, &request[i], 1, MSG_NOSIGNAL) <= 0) break;
      pollfd p{slow, POLLIN, 0};
      if (::poll(&p, 1, 200) > 0) {  // the server spoke or closed: it cut us off
        char c;
        if (::recv(slow, &c, 1, MSG_PEEK) <= 0) cut = true;
        break;
      }
    }
  });
  // Meanwhile the node answers everybody else at once.
  for (int i = 0; i < 5; ++i) {
    auto ok = Get(node_->port(), "/healthz");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
  }
  dripper.join();
  EXPECT_TRUE(cut || ClosedWithin(slow, 3000)) << "a client sending one byte per 200 ms outlived the 1 s read timeout";
  ::close(slow);
}

TEST_F(HostileTest, ManyIdleConnectionsDoNotStarveOthers) {
  std::vector<int> idle;
  for (int i = 0; i < 48; ++i) {
    const int fd = Connect(node_->port());
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  auto ok = Get(node_->port(), "/healthz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  // Past --max-connections the node answers 503 instead of leaving clients hanging.
  std::vector<int> more;
  for (int i = 0; i < 20; ++i) more.push_back(Connect(node_->port()));
  auto over = Get(node_->port(), "/healthz");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 503);
  for (int fd : idle) ::close(fd);
  for (int fd : more) {
    if (fd >= 0) ::close(fd);
  }
  // Once they are gone, service resumes (poll with a deadline).
  int status = 0;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       std::chrono::steady_clock::now() < until && status != 200;) {
    auto r = Get(node_->port(), "/healthz");
    status = r ? r->status : 0;
  }
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace concord::testing
