// GET /api/v1/stream: server-sent events (WHATWG HTML §9.2) of the stored versions a caller may see, and the
// change feed that wakes the streams.
//
// The stream: `text/event-stream`, first `retry: N`, then one event per stored version (every version, in seq
// order) that the sharing policy lets the caller see:
//   id: <seq>
//   event: object
//   data: {"seq":…,"id":…,"type":…,"modified":…,"revoked":…,"added":…,"object":{…}}
// It starts after the Last-Event-ID header (what an EventSource sends when it reconnects), else after
// `?after=<seq>`, else at the store's end ("from now": only new changes); `?after=0` replays everything.
// `?type=` (repeated or comma-separated) keeps those types only. Versions the caller may not see, and
// TLP:RED / AMBER+STRICT versions that need a justification the request did not carry, are skipped without
// a trace; the position still moves past them and reaches the client as a bare `id: N` (no event) once it
// has been ahead of the last event for StreamOptions::position_interval, so a resumed stream does not rescan
// them and the moment of an invisible write is not given away. Reads above TLP:CLEAR are audited, one entry
// per delivered batch, before the batch is written; when the entry cannot be recorded the stream ends
// without the batch (fail closed), and a client that reconnects with its Last-Event-ID gets it then.
#include "api/stream.h"

#include <algorithm>
#include <charconv>

#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"
#include "common/status.h"
#include "common/thread.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace concord::api {

// ---- the change feed ------------------------------------------------------------------------------------

absl::StatusOr<int64_t> StoreChangeSource::LastSeq() {
  return store_.LastSeq();
}

ChangeFeed::Subscription::Subscription(Subscription&& other) noexcept : feed_(other.feed_), id_(other.id_) {
  other.feed_ = nullptr;
}

ChangeFeed::Subscription& ChangeFeed::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    feed_ = other.feed_;
    id_ = other.id_;
    other.feed_ = nullptr;
  }
  return *this;
}

ChangeFeed::Subscription::~Subscription() { Reset(); }

void ChangeFeed::Subscription::Reset() {
  if (feed_ != nullptr) feed_->Unsubscribe(id_);
  feed_ = nullptr;
}

ChangeFeed::ChangeFeed(ChangeSource& source, int64_t last_seq, Options options)
    : source_(source), options_(options), last_seq_(last_seq) {
  if (options_.poll_interval > std::chrono::milliseconds::zero()) poller_ = std::thread([this] {
      NameThisThread("concord-feed");
      Poll();
    });
}

ChangeFeed::~ChangeFeed() {
  {
    std::lock_guard lock(poll_mu_);
    stopping_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

void ChangeFeed::Publish(int64_t seq) {
  int64_t known = last_seq_.load();
  do {
    if (seq <= known) return;
  } while (!last_seq_.compare_exchange_weak(known, seq));
  // Called outside the lock: a wake may drop the last reference to a stream, whose Subscription then
  // unsubscribes (and takes the lock).
  std::vector<std::shared_ptr<const std::function<void()>>> wakes;
  {
    std::lock_guard lock(mu_);
    wakes.reserve(subscribers_.size());
    for (const auto& [id, wake] : subscribers_) wakes.push_back(wake);
  }
  for (const auto& wake : wakes) (*wake)();
}

absl::StatusOr<int64_t> ChangeFeed::Refresh() {
  CONCORD_ASSIGN_OR_RETURN(int64_t seq, source_.LastSeq());
  Publish(seq);
  return seq;
}

ChangeFeed::Subscription ChangeFeed::Subscribe(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  const uint64_t id = ++next_id_;
  subscribers_.emplace_back(id, std::make_shared<const std::function<void()>>(std::move(wake)));
  return Subscription(this, id);
}

size_t ChangeFeed::subscribers() const {
  std::lock_guard lock(mu_);
  return subscribers_.size();
}

void ChangeFeed::Unsubscribe(uint64_t id) {
  std::lock_guard lock(mu_);
  std::erase_if(subscribers_, [id](const auto& s) { return s.first == id; });
}

void ChangeFeed::Poll() {
  std::unique_lock lock(poll_mu_);
  while (!poll_cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; })) {
    lock.unlock();
    auto seq = source_.LastSeq();
    if (seq.ok()) {
      if (source_failing_) spdlog::info("change feed: the store answers again");
      source_failing_ = false;
      Publish(*seq);
    } else if (!source_failing_) {
      // Streams then hear only of this process's writes until the store answers again.
      spdlog::warn("change feed: cannot read the store's last change: {}", Sv(seq.status().message()));
      source_failing_ = true;
    }
    lock.lock();
  }
}

absl::StatusOr<std::vector<store::PutResult>> ChangePublishingStore::PutEncoded(
    std::span<const store::EncodedObject> batch) {
  auto results = inner_->PutEncoded(batch);
  if (results.ok()) {
    int64_t last = 0;
    for (const store::PutResult& r : *results) last = std::max(last, r.seq);
    if (last > 0) feed_.Publish(last);  // the batch has committed: every seq up to `last` is readable
  }
  return results;
}

// ---- the event format ------------------------------------------------------------------------------------

namespace {

std::string Quoted(std::string_view s) {
  return boost::json::serialize(boost::json::value(boost::json::string_view(s.data(), s.size())));
}

}  // namespace

std::string FormatStreamEvent(const store::StoredObject& o) {
  // An event's data must be one line. Valid JSON holds CR and LF only as whitespace between tokens (inside
  // strings they are escaped), so turning them into spaces keeps the object's meaning exactly.
  std::string object = o.json;
  std::replace_if(
      object.begin(), object.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return fmt::format(
      "id: {0}\nevent: object\ndata: {{\"seq\":{0},\"id\":{1},\"type\":{2},\"modified\":{3},\"revoked\":{4},"
      "\"added\":{5},\"object\":{6}}}\n\n",
      o.seq, Quoted(o.id), Quoted(o.type), o.modified.empty() ? std::string("null") : Quoted(o.modified),
      o.revoked ? "true" : "false", Quoted(FormatRfc3339(o.added, 3)), object);
}

absl::StatusOr<int64_t> ParseStreamPosition(std::string_view field, std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || text.front() < '0' || text.front() > '9' || ec != std::errc() || stop != end) {
    return FieldError(field, fmt::format("expected a change sequence number (decimal digits, at most {}), got '{}'",
                                         INT64_MAX, text.substr(0, 64)));
  }
  return value;
}

// ---- the stream ---------------------------------------------------------------------------------------------

namespace {

constexpr char kHeartbeat[] = ": keep-alive\n\n";
constexpr size_t kMaxTypeName = 250;

// One open stream: the producer's state. Its calls never overlap (http/message.h), so it needs no lock.
class EventStream {
 public:
  EventStream(const ApiContext& ctx, ChangeFeed& feed, const StreamOptions& options, http::Request request,
              Caller caller, int64_t position, std::vector<std::string> types)
      : ctx_(ctx),
        feed_(feed),
        options_(options),
        request_(std::move(request)),
        caller_(std::move(caller)),
        types_(std::move(types)),
        position_(position),
        announced_(position),
        authenticated_millis_(ctx.clock->Now().UnixMillis()) {}

  absl::StatusOr<http::Produced> Next(std::string& chunk, const http::StreamContext& context) {
    if (!subscribed_) {
      // Subscribing before the first look at the feed: an advance from here on wakes this stream.
      subscription_ = feed_.Subscribe(context.wake);
      subscribed_ = true;
      chunk = fmt::format("retry: {}\n\n", options_.retry_millis);
      return http::Produced::kChunk;
    }
    if (ended_) return http::Produced::kEnd;
    if (context.cancelled.load()) {
      // Draining: hand over the position so that the reconnect does not rescan, then end.
      ended_ = true;
      if (position_ > announced_) {
        chunk = Announce();
        return http::Produced::kChunk;
      }
      return http::Produced::kEnd;
    }
    const int64_t known = feed_.last_seq();
    if (known > position_) {
      CONCORD_ASSIGN_OR_RETURN(bool authorised, StillAuthorised());
      if (!authorised) return http::Produced::kEnd;
      CONCORD_RETURN_IF_ERROR(Scan(known, chunk));
      // An empty chunk after a scan that found nothing visible: called again at once, from further on.
      if (!chunk.empty() || position_ < known) return http::Produced::kChunk;
    }
    const int64_t now = ctx_.clock->Now().UnixMillis();
    if (position_ > announced_ && now - ahead_since_millis_ >= options_.position_interval.count()) {
      chunk = Announce();
      return http::Produced::kChunk;
    }
    return http::Produced::kPending;
  }

 private:
  // Checks the caller's key again every reauthenticate_interval: a revoked or expired key ends the stream.
  // A rate-limited key (429) is still a valid key.
  absl::StatusOr<bool> StillAuthorised() {
    const int64_t now = ctx_.clock->Now().UnixMillis();
    if (now - authenticated_millis_ < options_.reauthenticate_interval.count()) return true;
    auto again = ctx_.authenticate(request_);
    if (!again.ok()) {
      if (again.status().code() == absl::StatusCode::kResourceExhausted) return true;
      spdlog::info("stream of {} ended: {}", caller_.user, Sv(again.status().message()));
      return false;
    }
    caller_ = *std::move(again);
    authenticated_millis_ = now;
    return true;
  }

  // Reads pages after position_ until it finds events or has read pages_per_turn pages, audits what it
  // delivers, and advances position_ only when the batch can be handed out.
  absl::Status Scan(int64_t known, std::string& chunk) {
    const std::shared_ptr<const policy::PolicyContext> snapshot = ctx_.sharing_groups();
    const policy::PolicyContext& groups = *snapshot;
    const policy::Viewer viewer{caller_.org_id};
    std::vector<std::string> audited;
    int64_t first_event = 0;
    int64_t last_event = 0;
    int64_t position = position_;
    for (size_t pages = 0; pages < options_.pages_per_turn && chunk.empty(); ++pages) {
      store::Query q;
      q.types = types_;
      q.current_only = false;
      q.after_seq = position;
      q.limit = options_.page_size;
      CONCORD_ASSIGN_OR_RETURN(store::Page page, ctx_.store->List(q));
      for (const store::StoredObject& o : page.objects) {
        if (!policy::Visible(viewer, PolicyOf(o, ctx_.defaults), groups).visible) continue;
        if (!CheckJustification(ctx_, request_, o.tlp).ok()) continue;
        if (IsAuditedRead(o.tlp)) audited.push_back(o.id);
        chunk += FormatStreamEvent(o);
        if (first_event == 0) first_event = o.seq;
        last_event = o.seq;
      }
      position = page.next_after_seq;
      if (!page.more) {
        // Every version up to `known` had committed before this List began (the feed publishes only
        // committed seqs, and SQLite commits in seq order): the ones it did not return do not match `types`.
        position = std::max(position, known);
        break;
      }
    }
    if (!audited.empty()) {
      absl::Status recorded = Audit(ctx_, caller_, request_, audit::Action::kRead, std::move(audited), "ok",
                                    {{"stream", true}, {"first_seq", first_event}, {"last_seq", last_event}});
      if (!recorded.ok()) {
        chunk.clear();
        return recorded;  // ends the stream without the batch
      }
    }
    position_ = position;
    if (last_event > 0) announced_ = last_event;
    if (position_ > announced_) {
      if (!ahead_) ahead_since_millis_ = ctx_.clock->Now().UnixMillis();
      ahead_ = true;
    } else {
      ahead_ = false;
    }
    return absl::OkStatus();
  }

  std::string Announce() {
    announced_ = position_;
    ahead_ = false;
    return fmt::format("id: {}\n\n", position_);
  }

  const ApiContext& ctx_;
  ChangeFeed& feed_;
  const StreamOptions& options_;
  http::Request request_;  // a copy: its headers carry the key and the justification
  Caller caller_;
  const std::vector<std::string> types_;
  int64_t position_;    // every version up to here has been delivered or skipped
  int64_t announced_;   // the last id the client has (or the start)
  bool ahead_ = false;  // position_ > announced_ since ahead_since_millis_
  int64_t ahead_since_millis_ = 0;
  int64_t authenticated_millis_;
  bool subscribed_ = false;
  bool ended_ = false;
  ChangeFeed::Subscription subscription_;
};

absl::Status CheckTypes(const std::vector<std::string>& types) {
  for (const std::string& t : types) {
    const bool ok = !t.empty() && t.size() <= kMaxTypeName && std::all_of(t.begin(), t.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
    if (!ok) return FieldError("type", fmt::format("'{}' is not a STIX type name (a-z, 0-9 and '-')", t.substr(0, 64)));
  }
  return absl::OkStatus();
}

absl::StatusOr<http::Response> OpenStream(const ApiContext& ctx, ChangeFeed& feed, const StreamOptions& options,
                                          http::Request& req) {
  CONCORD_ASSIGN_OR_RETURN(Caller caller, ctx.authenticate(req));
  // A justification too long to record is refused now rather than skipping every RED version later.
  CONCORD_RETURN_IF_ERROR(Justification(req).status());
  std::vector<std::string> types = req.query.GetList("type");
  CONCORD_RETURN_IF_ERROR(CheckTypes(types));
  std::string_view field;
  std::optional<int64_t> start;
  // An EventSource reconnects to the same URL with Last-Event-ID: the header wins over `after`.
  if (auto id = req.headers.Get("Last-Event-ID")) {
    field = "Last-Event-ID";
    CONCORD_ASSIGN_OR_RETURN(start, ParseStreamPosition(field, *id));
  } else if (auto after = req.query.Get("after")) {
    field = "after";
    CONCORD_ASSIGN_OR_RETURN(start, ParseStreamPosition(field, *after));
  }
  CONCORD_ASSIGN_OR_RETURN(int64_t end, feed.Refresh());
  if (start && *start > end) {
    return FieldError(
        field, fmt::format("{} is past the last change of this node ({}): an id from another node?", *start, end));
  }
  http::Request copy;
  copy.method = req.method;
  copy.target = req.target;
  copy.path = req.path;
  copy.route = req.route;
  copy.query = req.query;
  copy.headers = req.headers;
  copy.remote_address = req.remote_address;
  copy.tls_client_subject = req.tls_client_subject;
  copy.principal = req.principal;
  auto stream = std::make_shared<EventStream>(ctx, feed, options, std::move(copy), std::move(caller),
                                              start.value_or(end), std::move(types));
  http::Response r = http::Response::Stream(
      200, "text/event-stream",
      [stream](std::string& chunk, const http::StreamContext& context) { return stream->Next(chunk, context); });
  r.heartbeat = kHeartbeat;
  r.headers.Set("Cache-Control", "no-store");
  r.headers.Set("X-Accel-Buffering", "no");  // reverse proxies (nginx) pass events on at once
  return r;
}

}  // namespace

absl::Status AddStreamRoutes(http::Router& router, const ApiContext& ctx, ChangeFeed& feed,
                             const StreamOptions& options) {
  const ApiContext* c = &ctx;
  ChangeFeed* f = &feed;
  const StreamOptions* o = &options;
  return router.Add("GET", "/api/v1/stream", [c, f, o](http::Request& r) { return OpenStream(*c, *f, *o, r); });
}

}  // namespace concord::api
