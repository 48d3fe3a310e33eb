// The PostgreSQL ChangeListener (store/change_listener.h): one connection that only LISTENs, one thread that
// waits on its socket and on a wake-up pipe, and reconnects with backoff when the connection breaks.
#include "store/change_listener.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <charconv>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "common/status.h"
#include "common/thread.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"
#include "store/postgres/connection.h"
#include "store/postgres/locks.h"

namespace concord::store {
namespace {

using postgres::Connection;

class PostgresChangeListener final : public ChangeListener {
 public:
  PostgresChangeListener(std::string uri, ChangeHandlers handlers, Connection first, int wake_read, int wake_write)
      : uri_(std::move(uri)), handlers_(std::move(handlers)), wake_read_(wake_read), wake_write_(wake_write) {
    thread_ = std::thread([this, connection = std::move(first)]() mutable {
      NameThisThread("pg-listen");
      Run(std::move(connection));
    });
  }

  ~PostgresChangeListener() override {
    stopping_.store(true);
    const char byte = 1;
    // The pipe is non-blocking: when it is full the thread is awake anyway.
    [[maybe_unused]] const ssize_t written = write(wake_write_, &byte, 1);
    thread_.join();
    close(wake_read_);
    close(wake_write_);
  }

  uint64_t object_notifications() const override { return object_notifications_.load(); }
  uint64_t account_notifications() const override { return account_notifications_.load(); }
  uint64_t connections() const override { return connections_.load(); }

  // LISTEN on both channels; Unavailable/Internal on failure.
  static absl::Status Listen(Connection& connection) {
    return connection.Exec(
        fmt::format("LISTEN {}; LISTEN {}", postgres::kObjectsChannel, postgres::kAccountsChannel));
  }

 private:
  void Run(Connection connection) {
    auto backoff = std::chrono::milliseconds(100);
    bool connected = true;
    ++connections_;
    if (handlers_.resynchronise) handlers_.resynchronise();
    while (!stopping_.load()) {
      if (!connected) {
        auto reopened = Connection::Open(uri_);
        absl::Status status = reopened.status();
        if (status.ok()) status = Listen(*reopened);
        if (!status.ok()) {
          spdlog::warn("change listener: {}; retrying in {} ms", Sv(status.message()), backoff.count());
          if (WaitForWake(static_cast<int>(backoff.count()))) break;
          backoff = std::min(backoff * 2, std::chrono::milliseconds(5'000));
          continue;
        }
        connection = *std::move(reopened);
        connected = true;
        backoff = std::chrono::milliseconds(100);
        ++connections_;
        spdlog::info("change listener: reconnected");
        // Whatever was notified while the connection was down is lost: the handlers re-read.
        if (handlers_.resynchronise) handlers_.resynchronise();
      }
      pollfd fds[2] = {{connection.socket(), POLLIN, 0}, {wake_read_, POLLIN, 0}};
      const int ready = poll(fds, 2, -1);
      if (ready < 0) continue;  // EINTR
      if ((fds[1].revents & POLLIN) != 0 || stopping_.load()) break;
      if (absl::Status consumed = connection.ConsumeInput(); !consumed.ok()) {
        spdlog::warn("change listener: connection lost ({}); reconnecting", Sv(consumed.message()));
        connection = Connection();
        connected = false;
        continue;
      }
      Dispatch(connection);
    }
  }

  void Dispatch(Connection& connection) {
    int64_t highest = -1;
    bool accounts = false;
    while (auto notification = connection.NextNotification()) {
      const auto& [channel, payload] = *notification;
      if (channel == postgres::kObjectsChannel) {
        ++object_notifications_;
        int64_t seq = 0;
        const auto parsed = std::from_chars(payload.data(), payload.data() + payload.size(), seq);
        // A payload we cannot read still says "something committed": ask for a re-read (seq 0 never lowers
        // a feed, so resynchronise is the one that does the work).
        if (parsed.ec != std::errc() || parsed.ptr != payload.data() + payload.size()) {
          if (handlers_.resynchronise) handlers_.resynchronise();
        } else {
          highest = std::max(highest, seq);
        }
      } else if (channel == postgres::kAccountsChannel) {
        ++account_notifications_;
        accounts = true;
      }
    }
    if (highest >= 0 && handlers_.objects_committed) handlers_.objects_committed(highest);
    if (accounts && handlers_.accounts_changed) handlers_.accounts_changed();
  }

  // Waits up to `millis` for the wake-up pipe; true when asked to stop.
  bool WaitForWake(int millis) {
    pollfd fd{wake_read_, POLLIN, 0};
    poll(&fd, 1, millis);
    return stopping_.load();
  }

  const std::string uri_;
  const ChangeHandlers handlers_;
  const int wake_read_;
  const int wake_write_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> object_notifications_{0};
  std::atomic<uint64_t> account_notifications_{0};
  std::atomic<uint64_t> connections_{0};
  std::thread thread_;
};

}  // namespace

bool SendsChangeNotifications(std::string_view location) { return postgres::IsPostgresLocation(location); }

absl::StatusOr<std::unique_ptr<ChangeListener>> ListenForChanges(std::string_view location, ChangeHandlers handlers) {
  if (!SendsChangeNotifications(location)) {
    return absl::UnimplementedError("the embedded SQLite store sends no change notifications: poll it");
  }
  const std::string uri(location);
  auto connection = Connection::Open(uri);
  if (!connection.ok()) return connection.status();
  // LISTEN before the caller reads its starting point, so that nothing committed after that read is missed.
  if (absl::Status listening = PostgresChangeListener::Listen(*connection); !listening.ok()) return listening;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::ResourceExhaustedError(fmt::format("change listener: pipe: {}", std::strerror(errno)));
  }
  return std::make_unique<PostgresChangeListener>(uri, std::move(handlers), *std::move(connection), fds[0], fds[1]);
}

}  // namespace concord::store
