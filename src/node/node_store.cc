#include "node/node_store.h"

#include "correlate/postings.h"

namespace concord::node {

const store::PostingExtractor& NodePostingExtractor() {
  // A function-local static: constructed on first use, thread-safe, never destroyed before a store using it.
  static const correlate::PostingExtractor extractor;
  return extractor;
}

absl::StatusOr<std::unique_ptr<store::Store>> OpenNodeStore(std::string_view location, store::OpenOptions options) {
  options.postings = &NodePostingExtractor();
  return store::OpenStore(location, options);
}

}  // namespace concord::node
