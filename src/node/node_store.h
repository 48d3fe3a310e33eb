// concord/node/node_store.h — how every part of the node (serve and the CLI commands) opens the object store.
//
// The node's stores always write postings with the correlate module's extractor: one place decides it, so
// no opener can forget it and leave the postings incomplete (store.h, PostingsComplete). The extractor is
// stateless and thread-safe; one instance serves the whole process.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "store/store.h"

namespace concord::node {

// OpenStore(location, options) with options.postings set to the node's extractor.
[[nodiscard]] absl::StatusOr<std::unique_ptr<store::Store>> OpenNodeStore(std::string_view location,
                                                                          store::OpenOptions options = {});

// The extractor OpenNodeStore gives every store (for callers that encode objects themselves).
const store::PostingExtractor& NodePostingExtractor();

}  // namespace concord::node
