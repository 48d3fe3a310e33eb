// concord/api/detection.h — detection over REST (issue 4): the node's indicator snapshot and kept current,
// and the routes that use it or the correlation index.
//
//   POST /api/v1/match                       SIEM enrichment: values → hits on the indicators the caller sees
//   GET  /api/v1/export/{format}             detection content (suricata, snort, zeek, rpz, csv, text, stix)
//   GET  /api/v1/search?value=…              "who else has seen this?" (correlate::Correlator::Search), with the
//                                            sightings of the indicators found (Correlator::AddSightings)
//   GET  /api/v1/objects/{id}/correlations   every value of one object and what shares it
//
// Every answer holds only objects the caller may see (policy::Visible, as the object routes): an indicator
// the caller cannot see gives no hit, is not exported, is not found, and an invisible object's correlations
// answer 404. Objects that need a justification the request lacks (TLP:RED / AMBER+STRICT when the node
// requires one) are left out the same way. What is handed out above TLP:CLEAR is audited before it is sent
// (match hits and search results as reads, exports as exports, ids per page) and the request fails with 503
// when the audit log cannot record it. openapi.json gives the request and response shapes.
//
// IndicatorSnapshots owns the published detect::Snapshot: built once when the node starts, then rebuilt by
// one background thread when the store changed or a validity boundary passed. Readers (Load) never lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "api/api.h"
#include "api/stream.h"
#include "correlate/warninglist.h"
#include "detect/snapshot.h"
#include "http/router.h"
#include "store/store.h"

namespace concord::api {

struct SnapshotRefreshOptions {
  // A change to the store is matchable at most this long (plus one build) after it was committed: the
  // refresher looks at the store this often, and rebuilds at most once per interval. A change after a
  // quiet interval (the ChangeFeed wakes the refresher) is picked up at once.
  std::chrono::milliseconds rebuild_interval{5'000};
  // Decay of the snapshot's scores (node configuration detect.decay).
  detect::DecayPolicy decay = detect::DecayPolicy::Default();
};

// The node's current indicator snapshot. Start builds the first one (so the node serves no empty
// snapshot) and starts the refresher thread; the destructor (or Stop) ends the thread and joins it, after
// the build in progress, if any, has finished. Load is thread-safe and lock-free.
class IndicatorSnapshots {
 public:
  // `store`, `warninglists` (may be null: no lists), `feed` (may be null: poll the store instead) and
  // `clock` must outlive the object.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<IndicatorSnapshots>> Start(
      store::Store& store, const correlate::Warninglists* warninglists, ChangeFeed* feed, const Clock& clock,
      SnapshotRefreshOptions options);
  ~IndicatorSnapshots();
  IndicatorSnapshots(const IndicatorSnapshots&) = delete;
  IndicatorSnapshots& operator=(const IndicatorSnapshots&) = delete;

  std::shared_ptr<const detect::Snapshot> Load() const { return holder_.Load(); }
  // Stops the refresher and joins it; idempotent.
  void Stop();
  // Snapshots published since Start, the first included (tests and metrics).
  uint64_t builds() const { return builds_.load(); }

 private:
  IndicatorSnapshots(store::Store& store, const correlate::Warninglists* warninglists, ChangeFeed* feed,
                     const Clock& clock, SnapshotRefreshOptions options);
  absl::Status Rebuild();
  void Run();
  bool Stale();  // the store moved past the snapshot, or a validity boundary passed

  store::Store& store_;
  std::unique_ptr<detect::WarninglistsFilter> filter_;
  ChangeFeed* feed_;
  const Clock& clock_;
  const SnapshotRefreshOptions options_;
  detect::SnapshotHolder holder_;
  std::atomic<uint64_t> builds_{0};
  // What the refresher waits on. Shared with the feed's wake function, which may still run shortly after
  // the subscription ended (stream.h), so that a late wake never touches a destroyed object.
  struct Signal {
    std::mutex mu;  // guards the fields below; never held during a build
    std::condition_variable cv;
    bool stopping = false;
    bool woken = false;  // the feed advanced since the refresher last looked
  };
  std::shared_ptr<Signal> signal_ = std::make_shared<Signal>();
  ChangeFeed::Subscription subscription_;
  std::thread thread_;
};

struct DetectionContext {
  const ApiContext* api = nullptr;
  IndicatorSnapshots* snapshots = nullptr;
  const correlate::Warninglists* warninglists = nullptr;  // null: no lists loaded
  // Decay of the scores exports filter on with min_score (the snapshot's is SnapshotRefreshOptions::decay).
  detect::DecayPolicy decay = detect::DecayPolicy::Default();
  // POST /api/v1/match: most values per request (400 naming `values` beyond).
  size_t max_match_values = 10'000;
};

// Registers the four routes above. `context` (and what it points to) must outlive the router.
absl::Status AddDetectionRoutes(http::Router& router, const DetectionContext& context);

}  // namespace concord::api
