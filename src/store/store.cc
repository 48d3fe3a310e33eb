#include "store/store.h"

#include "fmt/format.h"
#include "store/sqlite/sqlite_store.h"

namespace concord::store {

std::string_view PutOutcomeName(PutOutcome outcome) {
  switch (outcome) {
    case PutOutcome::kNew:
      return "new";
    case PutOutcome::kNewVersion:
      return "new_version";
    case PutOutcome::kUnchanged:
      return "unchanged";
    case PutOutcome::kConflict:
      return "conflict";
    case PutOutcome::kRejected:
      return "rejected";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::string_view location, const OpenOptions& options) {
  if (location.starts_with("postgresql://") || location.starts_with("postgres://")) {
    return absl::UnimplementedError(
        fmt::format("store '{}': the PostgreSQL backend is not available yet; use sqlite:PATH", location));
  }
  if (location.find("://") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("store '{}': unknown scheme; expected sqlite:PATH, a file path or postgresql://", location));
  }
  std::string_view path = location;
  if (path.starts_with("sqlite:")) path.remove_prefix(7);
  if (path.empty()) return absl::InvalidArgumentError(fmt::format("store location '{}' names no file", location));
  auto store = SqliteStore::Create(std::string(path), options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace concord::store
