// tests/integration/event_stream_client.h — a client of one server-sent events response
// (GET /api/v1/stream), shared by the stream and multi-process end-to-end tests.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace concord::testing {

struct SseBlock {
  std::string id;
  std::string event;
  std::string data;
  std::string retry;
  std::vector<std::string> comments;
};

// A client of one server-sent events response: reads the head, undoes the chunked framing and splits the
// text into blocks (the lines up to a blank line), each read with a deadline.
class EventStreamClient {
 public:
  using Clock = std::chrono::steady_clock;

  EventStreamClient(uint16_t port, const std::string& target, const std::string& key, const std::string& extra = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
    if (!key.empty()) req += "Authorization: Bearer " + key + "\r\n";
    req += extra + "\r\n";
    connected_ = ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  }
  ~EventStreamClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  // The status line and headers; for a response that is not chunked, its body too.
  bool ReadHead(std::chrono::seconds timeout = std::chrono::seconds(10)) {
    const auto deadline = Clock::now() + timeout;
    size_t end;
    while ((end = raw_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return false;
    }
    const std::string head = raw_.substr(0, end);
    raw_.erase(0, end + 4);
    status = std::atoi(head.substr(9, 3).c_str());
    for (size_t pos = head.find("\r\n"); pos != std::string::npos;) {
      const size_t next = head.find("\r\n", pos + 2);
      const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      std::string name = line.substr(0, line.find(':'));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      headers[name] = line.substr(line.find(':') + 2);
      pos = next;
    }
    if (headers["transfer-encoding"] != "chunked") {
      const size_t length = std::stoul(headers["content-length"]);
      while (raw_.size() < length) {
        if (!Fill(deadline)) return false;
      }
      body = raw_.substr(0, length);
    }
    return true;
  }

  // The next block; nullopt when the body ended or the deadline passed first.
  std::optional<SseBlock> NextBlock(Clock::time_point deadline) {
    size_t end;
    while ((end = text_.find("\n\n")) == std::string::npos) {
      if (ended_ || !Decode(deadline)) return std::nullopt;
    }
    SseBlock b;
    const std::string block = text_.substr(0, end + 1);
    text_.erase(0, end + 2);
    for (size_t pos = 0; pos < block.size();) {
      const size_t eol = block.find('\n', pos);
      const std::string line = block.substr(pos, eol - pos);
      pos = eol + 1;
      const size_t colon = line.find(':');
      const std::string field = line.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (field.empty()) {
        b.comments.push_back(value);
      } else if (field == "id") {
        b.id = value;
      } else if (field == "event") {
        b.event = value;
      } else if (field == "data") {
        b.data += value;
      } else if (field == "retry") {
        b.retry = value;
      }
    }
    return b;
  }

  // The next block that dispatches an event (has data), skipping comments, `retry` and position-only ids.
  std::optional<SseBlock> NextEvent(std::chrono::seconds timeout = std::chrono::seconds(10)) {
    const auto deadline = Clock::now() + timeout;
    while (auto b = NextBlock(deadline)) {
      if (!b->data.empty()) return b;
    }
    return std::nullopt;
  }

  // Reads to the end: true when the body ended with its last chunk and then the server closed. Blocks that
  // came first are kept in `before`.
  bool EndsCleanly(std::vector<SseBlock>& before, std::chrono::seconds timeout = std::chrono::seconds(10)) {
    const auto deadline = Clock::now() + timeout;
    while (auto b = NextBlock(deadline)) before.push_back(*b);
    if (!ended_) return false;
    char c;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      return ::recv(fd_, &c, 1, 0) <= 0;
    }
    return false;
  }

  bool connected() const { return connected_; }
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;

 private:
  bool Fill(Clock::time_point deadline) {
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[16384];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      raw_.append(buf, static_cast<size_t>(n));
      return true;
    }
    return false;
  }

  // Moves the data of whole chunks from raw_ to text_; reads more when there is no whole chunk.
  bool Decode(Clock::time_point deadline) {
    while (true) {
      const size_t eol = raw_.find("\r\n");
      if (eol != std::string::npos) {
        const size_t size = std::stoul(raw_.substr(0, eol), nullptr, 16);
        if (raw_.size() >= eol + 2 + size + 2) {
          text_ += raw_.substr(eol + 2, size);
          raw_.erase(0, eol + 2 + size + 2);
          if (size == 0) ended_ = true;
          return true;
        }
      }
      if (!Fill(deadline)) return false;
    }
  }

  int fd_ = -1;
  bool connected_ = false;
  bool ended_ = false;
  std::string raw_;
  std::string text_;
};

}  // namespace concord::testing
