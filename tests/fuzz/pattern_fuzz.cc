// libFuzzer target for the STIX pattern parser: parse arbitrary bytes; when they parse, also render,
// re-parse the rendering (it must parse and render identically), extract, and evaluate against a fixed
// small set of observations. Crashes, sanitizer reports and broken invariants are findings.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "boost/json/parse.hpp"
#include "pattern/evaluate.h"
#include "pattern/extract.h"
#include "pattern/pattern.h"

namespace {

const std::vector<concord::pattern::Observation>& FixedObservations() {
  static const auto* kObs = [] {
    auto* v = new std::vector<concord::pattern::Observation>(3);
    const char* kObjects[] = {
        R"({"0":{"type":"ipv4-addr","value":"198.51.100.1"},
            "1":{"type":"network-traffic","src_ref":"0","dst_port":443,"protocols":["ipv4","tcp"]}})",
        R"({"0":{"type":"file","name":"caf\u00e9.exe","size":1024,"ctime":"2020-01-01T00:00:00Z",
                 "hashes":{"MD5":"001dd76872d80801692ff942308c64e6"}},
            "1":{"type":"artifact","payload_bin":"aGVsbG8="}})",
        R"({"0":{"type":"email-addr","value":"evil@example.com"},
            "1":{"type":"email-message","from_ref":"0","to_refs":["0"],"subject":"Invoice 42"}})",
    };
    for (size_t i = 0; i < v->size(); ++i) {
      auto& o = (*v)[i];
      o.id = "observed-data--" + std::to_string(i);
      o.first_observed.seconds = 1577836800 + static_cast<int64_t>(i) * 60;
      o.last_observed = o.first_observed;
      o.objects = boost::json::parse(kObjects[i]).as_object();
      for (const auto& kv : o.objects) o.roots.emplace_back(kv.key());
    }
    return v;
  }();
  return *kObs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = concord::pattern::Pattern::Parse(text);
  if (!parsed.ok()) {
    if (!concord::pattern::GetParseError(parsed.status()).has_value()) std::abort();
    return 0;
  }
  const std::string canonical = parsed->ToString();
  auto again = concord::pattern::Pattern::Parse(canonical);
  if (!again.ok() || again->ToString() != canonical) {
    std::fprintf(stderr, "rendering does not round-trip:\n  %s\n  %s\n", std::string(text).c_str(), canonical.c_str());
    std::abort();
  }
  (void)concord::pattern::Extract(*parsed);
  concord::pattern::EvaluateOptions options;
  options.max_bindings = 256;
  (void)concord::pattern::Evaluate(*parsed, FixedObservations(), options);
  return 0;
}
