// concord/api/stream.h — the change feed of a node process, and GET /api/v1/stream (server-sent events).
//
// ChangeFeed: one per node process. It knows the highest change sequence (`seq`) known to be committed and
// wakes the streams that subscribed when it advances. It hears of commits two ways: at once from this
// process's writes (ChangePublishingStore wraps the store that every write path uses), and by asking a
// ChangeSource every poll interval for commits made by other processes on the same database (`concord
// import`, a second `concord serve`). The feed carries no data: a woken stream reads the store itself from
// its own position, so a stream that falls behind pages through Store::List at its own pace and memory per
// stream stays bounded. A PostgreSQL backend (issue 5) replaces the poll with LISTEN/NOTIFY: its listener
// calls Publish on each notification, and the poll becomes a rare safety net (or none: poll_interval 0).
//
// Thread-safety: every ChangeFeed member is thread-safe. Subscribers' wake functions run on the poller's
// thread or on a writer's thread, outside the feed's lock; they must be quick and must not block (the HTTP
// server's StreamContext::wake is). A wake may still run shortly after its Subscription was destroyed.
//
// The stream route (AddStreamRoutes) states its contract in stream.cc's header comment and in openapi.json.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "api/api.h"
#include "http/router.h"
#include "store/store.h"

namespace concord::api {

// Where a ChangeFeed learns the store's last committed seq.
class ChangeSource {
 public:
  virtual ~ChangeSource() = default;
  // The highest seq committed to the store now (0 when it is empty). Blocking (a database read).
  [[nodiscard]] virtual absl::StatusOr<int64_t> LastSeq() = 0;
};

// Asks the store (Store::LastSeq: the last entry of the seq index).
class StoreChangeSource final : public ChangeSource {
 public:
  explicit StoreChangeSource(store::Store& store) : store_(store) {}
  absl::StatusOr<int64_t> LastSeq() override;

 private:
  store::Store& store_;
};

class ChangeFeed {
 public:
  struct Options {
    // How often the source is asked; zero: never (a source that publishes by itself).
    std::chrono::milliseconds poll_interval{250};
  };

  // Ends the subscription when destroyed. Move-only.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept;
    Subscription& operator=(Subscription&& other) noexcept;
    ~Subscription();

   private:
    friend class ChangeFeed;
    Subscription(ChangeFeed* feed, uint64_t id) : feed_(feed), id_(id) {}
    void Reset();
    ChangeFeed* feed_ = nullptr;
    uint64_t id_ = 0;
  };

  // Starts polling `source`, which must outlive the feed; `last_seq` is where the feed starts (usually
  // source.LastSeq() at startup). Subscriptions must not outlive the feed.
  ChangeFeed(ChangeSource& source, int64_t last_seq, Options options);
  ~ChangeFeed();  // stops the poller and joins it
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // The highest seq known to be committed. Lags the store by at most a poll interval for commits of other
  // processes; never ahead of it.
  int64_t last_seq() const { return last_seq_.load(); }
  // Raises last_seq to `seq` (a committed seq) and wakes every subscriber when it advanced.
  void Publish(int64_t seq);
  // Asks the source now (blocking), publishes what it says and returns it: a stream that starts "from now"
  // starts from the store's real end, not from a poll that may be a quarter of a second old.
  absl::StatusOr<int64_t> Refresh();
  // `wake` is called after each advance of last_seq until the subscription ends.
  [[nodiscard]] Subscription Subscribe(std::function<void()> wake);
  size_t subscribers() const;

 private:
  void Unsubscribe(uint64_t id);
  void Poll();

  ChangeSource& source_;
  const Options options_;
  std::atomic<int64_t> last_seq_;
  mutable std::mutex mu_;  // guards subscribers_ and next_id_; never held while a wake runs
  std::vector<std::pair<uint64_t, std::shared_ptr<const std::function<void()>>>> subscribers_;
  uint64_t next_id_ = 0;
  std::mutex poll_mu_;  // guards stopping_
  std::condition_variable poll_cv_;
  bool stopping_ = false;
  bool source_failing_ = false;  // poller thread only: log a failing source once, not four times a second
  std::thread poller_;
};

// A Store that publishes the seq of every version it stores to a ChangeFeed once the batch has committed,
// so that streams hear of this process's writes (REST, TAXII, revocations) at once. Everything else is
// forwarded to `inner`. Thread-safe as `inner` is.
class ChangePublishingStore final : public store::Store {
 public:
  ChangePublishingStore(std::unique_ptr<store::Store> inner, ChangeFeed& feed)
      : inner_(std::move(inner)), feed_(feed) {}

  absl::StatusOr<std::vector<store::PutResult>> PutEncoded(std::span<const store::EncodedObject> batch) override;
  absl::StatusOr<store::StoredObject> Get(std::string_view id) override { return inner_->Get(id); }
  absl::StatusOr<store::StoredObject> GetVersion(std::string_view id, const Timestamp& modified) override {
    return inner_->GetVersion(id, modified);
  }
  absl::StatusOr<std::vector<store::StoredObject>> Versions(std::string_view id) override {
    return inner_->Versions(id);
  }
  absl::StatusOr<store::Page> List(const store::Query& query) override { return inner_->List(query); }
  absl::StatusOr<store::ListEnd> ListEach(const store::Query& query,
                                         absl::FunctionRef<bool(const store::StoredView&)> visit) override {
    return inner_->ListEach(query, visit);
  }
  // The backend's own sweep (PostgreSQL: one consistent snapshot through a server-side cursor).
  absl::Status Sweep(const store::Query& query, const std::function<bool(const store::StoredObject&)>& visit) override {
    return inner_->Sweep(query, visit);
  }
  absl::StatusOr<store::Stats> GetStats() override { return inner_->GetStats(); }
  absl::StatusOr<int64_t> LastSeq() override { return inner_->LastSeq(); }
  // Postings and correlation reads pass straight through (writes carry their postings in PutEncoded).
  const store::PostingExtractor* posting_extractor() const override { return inner_->posting_extractor(); }
  absl::StatusOr<store::PostingPage> FindPostings(const store::PostingQuery& query) override {
    return inner_->FindPostings(query);
  }
  absl::StatusOr<int64_t> CountPostings(uint8_t kind, std::string_view value, int64_t at_most) override {
    return inner_->CountPostings(kind, value, at_most);
  }
  absl::StatusOr<std::vector<store::Posting>> PostingsOf(std::string_view id) override { return inner_->PostingsOf(id); }
  absl::StatusOr<store::IpRangePage> IpPostingsInRange(const store::IpRangeQuery& query) override {
    return inner_->IpPostingsInRange(query);
  }
  absl::StatusOr<std::vector<int>> PrefixLengths(uint8_t kind) override { return inner_->PrefixLengths(kind); }
  absl::StatusOr<bool> PostingsComplete() override { return inner_->PostingsComplete(); }
  absl::Status ReindexPostings(const std::function<void(const store::ReindexProgress&)>& progress) override {
    return inner_->ReindexPostings(progress);
  }

  store::Store& inner() { return *inner_; }

 private:
  std::unique_ptr<store::Store> inner_;
  ChangeFeed& feed_;
};

struct StreamOptions {
  // Sent as the stream's first field: how long an EventSource waits before it reconnects.
  int64_t retry_millis = 3'000;
  // Versions read per Store::List call, and at most this many calls per producer turn: bounds the memory
  // and the worker time of one stream, however far behind it is.
  size_t page_size = 200;
  size_t pages_per_turn = 10;
  // When versions the caller may not see moved its position past the last event it received, the position
  // alone (`id: N` without data) is sent at most this often, so that a resumed stream does not rescan them
  // and the moment of an invisible write is not revealed more precisely than this.
  std::chrono::milliseconds position_interval{15'000};
  // The caller's key is checked again before a batch is delivered when this much time has passed since the
  // last check: a revoked or expired key ends the stream.
  std::chrono::milliseconds reauthenticate_interval{5'000};
};

// One server-sent event for a stored version:
// "id: <seq>\nevent: object\ndata: {"seq","id","type","modified","revoked","added","object"}\n\n".
std::string FormatStreamEvent(const store::StoredObject& object);
// A Last-Event-ID value or `after` parameter: a decimal seq 0..2^63-1. InvalidArgument naming `field` else.
absl::StatusOr<int64_t> ParseStreamPosition(std::string_view field, std::string_view text);

// AddStreamRoutes (GET /api/v1/stream) is declared in api.h beside the other routes.

}  // namespace concord::api
