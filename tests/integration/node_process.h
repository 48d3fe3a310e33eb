// tests/integration/node_process.h — a real `concord serve` child process for end-to-end tests, and a
// minimal HTTP/1.1 client over a loopback socket.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace concord::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Sends `request` (complete bytes) to 127.0.0.1:port and reads until the server closes.
inline std::optional<HttpReply> RawHttp(uint16_t port, const std::string& request, int timeout_ms = 10000) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string data;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t head_end = data.find("\r\n\r\n");
  if (data.size() < 12 || head_end == std::string::npos) return std::nullopt;
  HttpReply reply;
  reply.status = std::atoi(data.substr(9, 3).c_str());
  size_t pos = data.find("\r\n") + 2;
  while (pos < head_end) {
    const size_t eol = data.find("\r\n", pos);
    const std::string line = data.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    pos = eol + 2;
  }
  reply.body = data.substr(head_end + 4);
  return reply;
}

inline std::optional<HttpReply> Get(uint16_t port, const std::string& target, const std::string& extra_headers = "") {
  return RawHttp(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers + "\r\n");
}

// Runs the concord binary to completion: exit code and standard output.
inline std::pair<int, std::string> RunConcord(const std::vector<std::string>& args) {
  std::string command = CONCORD_BINARY;
  for (const auto& a : args) {
    command += " '";
    for (char c : a) command += c == '\'' ? std::string("'\\''") : std::string(1, c);
    command += "'";
  }
  command += " 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline std::optional<HttpReply> Request(uint16_t port, const std::string& method, const std::string& target,
                                        const std::string& key, const std::string& body = "") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!key.empty()) req += "Authorization: Bearer " + key + "\r\n";
  if (!body.empty() || method == "POST") {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return RawHttp(port, req + "\r\n" + body);
}

// A request with exactly the header lines given ("Name: value\r\n" each) besides Host, Connection and,
// when there is a body or the method is POST, Content-Length.
inline std::optional<HttpReply> RequestWithHeaders(uint16_t port, const std::string& method, const std::string& target,
                                                   const std::string& header_lines, const std::string& body = "") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + header_lines;
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return RawHttp(port, req + "\r\n" + body);
}

// `concord serve` with the given arguments; the port comes from its "serving URL" line.
class NodeProcess {
 public:
  explicit NodeProcess(const std::vector<std::string>& args) {
    int out_pipe[2];
    if (::pipe(out_pipe) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      // If the test process dies (a crash, a sanitizer abort), the node must not outlive it holding
      // CTest's output pipe open.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(out_pipe[1], STDOUT_FILENO);
      ::close(out_pipe[0]);
      ::close(out_pipe[1]);
      std::vector<char*> argv;
      std::string binary = CONCORD_BINARY;
      argv.push_back(binary.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      std::_Exit(127);
    }
    ::close(out_pipe[1]);
    out_fd_ = out_pipe[0];
    // Wait (with a deadline, never a fixed sleep) for the line that names the URL.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline && output_.find('\n') == std::string::npos) {
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[512];
      const ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) break;
      output_.append(buf, static_cast<size_t>(n));
    }
    const size_t colon = output_.rfind(':', output_.find("/ ("));
    if (output_.starts_with("concord: serving ") && colon != std::string::npos) {
      port_ = static_cast<uint16_t>(std::atoi(output_.c_str() + colon + 1));
    }
  }
  ~NodeProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }
  uint16_t port() const { return port_; }
  const std::string& output() const { return output_; }
  // SIGTERM, then the exit code (or -1 if it did not exit within the deadline).
  int Terminate(std::chrono::seconds deadline = std::chrono::seconds(30)) {
    ::kill(pid_, SIGTERM);
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      ::poll(nullptr, 0, 20);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool exited_ = false;
  uint16_t port_ = 0;
  std::string output_;
};

}  // namespace concord::testing
