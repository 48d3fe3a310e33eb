// libFuzzer target for the TAXII 2.1 request surface: untrusted bytes as a query string (every endpoint's
// filter rules, then the plan and the fingerprint), as an Accept and a Content-Type header, as a `next`
// cursor, and as a POST envelope. Any crash or sanitizer report is a bug; so is a parsed filter that breaks
// the plan's invariants or a cursor that decodes after being forged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"
#include "taxii/cursor.h"
#include "taxii/envelope.h"
#include "taxii/filter.h"
#include "taxii/media.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace concord::taxii;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static const std::vector<uint8_t> kKey(32, 0x42);

  const auto query = concord::http::QueryParams::Parse(input);
  for (Endpoint e : {Endpoint::kObjects, Endpoint::kManifest, Endpoint::kObject, Endpoint::kDeleteObject,
                     Endpoint::kVersions}) {
    auto filter = ParseFilter(query, e);
    if (!filter.ok()) continue;
    if (filter->limit < 1 || filter->limit > 10000) std::abort();
    const StorePlan plan = Plan(*filter, 0);
    if (plan.query.limit != filter->limit) std::abort();
    const std::string fingerprint = FilterFingerprint(*filter, "root/collection");
    if (filter->next) {
      // A cursor the server never issued must not decode.
      if (DecodeCursor(*filter->next, fingerprint, kKey).ok()) std::abort();
    }
    const std::string token = EncodeCursor({.after_seq = static_cast<int64_t>(size), .fingerprint = fingerprint}, kKey);
    auto back = DecodeCursor(token, fingerprint, kKey);
    if (!back.ok() || *back != static_cast<int64_t>(size)) std::abort();
  }

  (void)AcceptsTaxii(input);
  (void)CheckContentType(input);
  (void)DecodeCursor(input, "root/collection", kKey);
  (void)Base64UrlDecode(input);
  (void)ParseEnvelope(input, {.max_depth = 32, .max_objects = 1000});
  return 0;
}
