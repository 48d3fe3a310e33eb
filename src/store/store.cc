#include "store/store.h"

#include <algorithm>
#include <tuple>

#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"
#include "store/postgres/postgres_store.h"
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

namespace {

// A timestamp property's text exactly as the producer wrote it, or formatted when the JSON lacks it.
std::string AsWritten(const boost::json::object& json, std::string_view key, const Timestamp& ts) {
  if (const boost::json::value* value = json.if_contains(key); value != nullptr && value->is_string()) {
    const boost::json::string& text = value->get_string();
    return std::string(text.data(), text.size());
  }
  return FormatRfc3339(ts);
}

std::optional<std::string> Sortable(const std::optional<Timestamp>& ts) {
  if (!ts) return std::nullopt;
  return FormatSortable(*ts);
}

}  // namespace

PostingExtractor::~PostingExtractor() = default;

void CanonicalisePostings(std::vector<Posting>& postings) {
  auto key = [](const Posting& p) { return std::tie(p.kind, p.value); };
  std::sort(postings.begin(), postings.end(), [&](const Posting& a, const Posting& b) { return key(a) < key(b); });
  postings.erase(std::unique(postings.begin(), postings.end(),
                             [&](const Posting& a, const Posting& b) { return key(a) == key(b); }),
                 postings.end());
}

EncodedObject Encode(const stix::Object& object, const PostingExtractor* postings) {
  EncodedObject row;
  row.object = &object;
  row.json = boost::json::serialize(object.json);
  row.content_hash = Sha256Hex(CanonicalJson(object.json));
  if (object.created) row.created = AsWritten(object.json, "created", *object.created);
  if (object.modified) row.modified = AsWritten(object.json, "modified", *object.modified);
  if (auto key = object.VersionTimestamp()) row.version_key = FormatSortable(*key);
  row.valid_from = Sortable(object.valid_from);
  row.valid_until = Sortable(object.valid_until);
  if (postings != nullptr) {
    postings->Extract(object, row.postings);
    CanonicalisePostings(row.postings);
    row.has_postings = true;
  }
  return row;
}

absl::StatusOr<std::vector<PutResult>> Store::Put(std::span<const stix::Object> batch) {
  std::vector<EncodedObject> encoded;
  encoded.reserve(batch.size());
  for (const stix::Object& object : batch) encoded.push_back(Encode(object, posting_extractor()));
  return PutEncoded(encoded);
}

namespace {
bool IsPostgresLocation(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}
}  // namespace

absl::StatusOr<std::string> SqlitePathOf(std::string_view location) {
  if (IsPostgresLocation(location)) {
    // The object store has a PostgreSQL backend (OpenStore); the callers of this function (accounts, audit
    // log, TAXII state) do not yet.
    return absl::UnimplementedError(fmt::format(
        "store '{}': this component has no PostgreSQL backend yet; use sqlite:PATH", postgres::RedactUri(location)));
  }
  if (location.find("://") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("store '{}': unknown scheme; expected sqlite:PATH, a file path or postgresql://", location));
  }
  std::string_view path = location;
  if (path.starts_with("sqlite:")) path.remove_prefix(7);
  if (path.empty()) return absl::InvalidArgumentError(fmt::format("store location '{}' names no file", location));
  return std::string(path);
}

absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::string_view location, const OpenOptions& options) {
  if (IsPostgresLocation(location)) {
    auto store = PostgresStore::Create(std::string(location), options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }
  CONCORD_ASSIGN_OR_RETURN(std::string path, SqlitePathOf(location));
  auto store = SqliteStore::Create(path, options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(*store));
}

StoredObject StoredView::ToObject() const {
  StoredObject o;
  o.id = id;
  o.type = type;
  o.spec_version = spec_version;
  o.created = created;
  o.modified = modified;
  o.created_by_ref = created_by_ref;
  o.revoked = revoked;
  o.tlp = tlp;
  o.distribution = distribution;
  o.sharing_group_ref = sharing_group_ref;
  o.current = current;
  o.seq = seq;
  o.added = added;
  o.json = json;
  return o;
}

StoredView ViewOf(const StoredObject& o) {
  return StoredView{.id = o.id,
                    .type = o.type,
                    .spec_version = o.spec_version,
                    .created = o.created,
                    .modified = o.modified,
                    .created_by_ref = o.created_by_ref,
                    .revoked = o.revoked,
                    .tlp = o.tlp,
                    .distribution = o.distribution,
                    .sharing_group_ref = o.sharing_group_ref,
                    .current = o.current,
                    .seq = o.seq,
                    .added = o.added,
                    .json = o.json};
}

absl::StatusOr<ListEnd> Store::ListEach(const Query& query, absl::FunctionRef<bool(const StoredView&)> visit) {
  CONCORD_ASSIGN_OR_RETURN(Page page, List(query));
  ListEnd end{.next_after_seq = page.next_after_seq, .more = page.more};
  for (size_t i = 0; i < page.objects.size(); ++i) {
    if (!visit(ViewOf(page.objects[i]))) {
      return ListEnd{.next_after_seq = page.objects[i].seq, .more = page.more || i + 1 < page.objects.size()};
    }
  }
  return end;
}

absl::Status Store::Sweep(const Query& query, const std::function<bool(const StoredObject&)>& visit) {
  Query page_query = query;
  while (true) {
    CONCORD_ASSIGN_OR_RETURN(Page page, List(page_query));
    for (const StoredObject& o : page.objects) {
      if (!visit(o)) return absl::OkStatus();
    }
    if (!page.more) return absl::OkStatus();
    page_query.after_seq = page.next_after_seq;
  }
}

absl::StatusOr<int64_t> Store::LastSeq() {
  CONCORD_ASSIGN_OR_RETURN(Stats stats, GetStats());
  return stats.last_seq;
}

namespace {
absl::Status NoPostings() { return absl::UnimplementedError("this store does not keep postings"); }
}  // namespace

const PostingExtractor* Store::posting_extractor() const { return nullptr; }
absl::StatusOr<PostingPage> Store::FindPostings(const PostingQuery&) { return NoPostings(); }
absl::StatusOr<int64_t> Store::CountPostings(uint8_t, std::string_view, int64_t) { return NoPostings(); }
absl::StatusOr<std::vector<Posting>> Store::PostingsOf(std::string_view) { return NoPostings(); }
std::vector<OrderedPostingKey> OrderPostingKeys(std::span<const PostingKey> keys,
                                                const std::function<int64_t(const PostingKey&)>& hash) {
  std::vector<OrderedPostingKey> order;
  order.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) order.push_back({hash(keys[i]), i, false});
  std::sort(order.begin(), order.end(), [&](const OrderedPostingKey& a, const OrderedPostingKey& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    if (keys[a.index] != keys[b.index]) return keys[a.index] < keys[b.index];
    return a.index < b.index;
  });
  for (size_t k = 1; k < order.size(); ++k) {
    order[k].repeat = order[k - 1].hash == order[k].hash && keys[order[k - 1].index] == keys[order[k].index];
  }
  return order;
}

absl::StatusOr<std::vector<PostingLookup>> Store::LookupPostings(std::span<const PostingKey> keys, int64_t at_most,
                                                                 size_t first) {
  std::vector<PostingLookup> out;
  out.reserve(keys.size());
  for (const PostingKey& key : keys) {
    PostingLookup& found = out.emplace_back();
    CONCORD_ASSIGN_OR_RETURN(found.count, CountPostings(key.kind, key.value, std::max<int64_t>(at_most, 1)));
    if (first == 0) {
      found.more = found.count > 0;
      continue;
    }
    CONCORD_ASSIGN_OR_RETURN(PostingPage page, FindPostings({key.kind, key.value, 0, std::min<size_t>(first, 10'000)}));
    found.hits = std::move(page.hits);
    found.more = page.more;
  }
  return out;
}
absl::StatusOr<IpRangePage> Store::IpPostingsInRange(const IpRangeQuery&) { return NoPostings(); }
absl::StatusOr<std::vector<int>> Store::PrefixLengths(uint8_t) { return NoPostings(); }
absl::StatusOr<bool> Store::PostingsComplete() { return NoPostings(); }
absl::Status Store::ReindexPostings(const std::function<void(const ReindexProgress&)>&) { return NoPostings(); }

}  // namespace concord::store
