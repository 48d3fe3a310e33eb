// concord/store/change_listener.h — hearing at once of what other processes commit to the same database.
//
// Several node processes may share one PostgreSQL database (docs/postgresql.md, "Several processes"). Each
// learns of the others' commits through LISTEN/NOTIFY: every Put that stores a version notifies the
// objects channel with its highest seq, every account write notifies the accounts channel, and a listener
// (one connection, one thread) turns the notifications into calls of the handlers below. Notifications are
// sent inside the writing transaction, so they are delivered after its COMMIT and only if it committed;
// since seq order is commit order (postgres_store.h), a seq heard means every smaller seq is readable.
//
// Notifications are an optimisation of latency, not the only path: when the listener's connection breaks
// (server restart, network) it reconnects with backoff and calls `resynchronise`, because notifications sent
// meanwhile are lost; callers keep a slow poll as a safety net. The embedded SQLite store has no
// notifications (ListenForChanges says Unimplemented): its node polls.
//
// Thread-safety: handlers run on the listener's thread, one at a time, and must not block for long. The
// destructor stops the thread and joins it; no handler runs after it returned.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"

namespace concord::store {

struct ChangeHandlers {
  // Versions up to `seq` are committed (by any process, this one included). Several notifications read
  // together are coalesced into one call with the highest seq.
  std::function<void(int64_t seq)> objects_committed;
  // Organisations, users, keys, sharing groups or communities changed (by any process).
  std::function<void()> accounts_changed;
  // The listener (re)connected and notifications may have been missed since the last one: re-read what
  // depends on them. Called once after the first connection too.
  std::function<void()> resynchronise;
};

class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  // Notifications received since start on the objects and on the accounts channel (metrics and tests).
  virtual uint64_t object_notifications() const = 0;
  virtual uint64_t account_notifications() const = 0;
  // Times the listener (re)connected, the first connection included.
  virtual uint64_t connections() const = 0;
};

// Whether the database named by `location` sends change notifications (PostgreSQL does, SQLite does not):
// a node polls those that do not often, and those that do only as a safety net.
bool SendsChangeNotifications(std::string_view location);

// Starts listening on the database named by `location`. Unimplemented for SQLite locations (poll instead);
// Unavailable when the PostgreSQL server cannot be reached for the first connection (later losses are
// retried by the listener itself). Handlers may be empty.
[[nodiscard]] absl::StatusOr<std::unique_ptr<ChangeListener>> ListenForChanges(std::string_view location,
                                                                               ChangeHandlers handlers);

}  // namespace concord::store
