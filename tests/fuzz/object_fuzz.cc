// libFuzzer target for the stix module: untrusted bytes → bounded JSON → bundle items → ParseObject →
// Serialize. Any crash, sanitizer report or round-trip mismatch is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "boost/json/parse.hpp"
#include "common/json.h"
#include "stix/bundle.h"
#include "stix/object.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto doc = concord::ParseJson(std::string_view(reinterpret_cast<const char*>(data), size),
                                concord::JsonLimits{.max_depth = 32});
  if (!doc.ok()) return 0;
  auto items = concord::stix::BundleItems(std::move(*doc));
  if (!items.ok()) return 0;
  for (boost::json::value& value : *items) {
    if (!value.is_object()) continue;
    const boost::json::object& item = value.get_object();
    for (const auto& options :
         {concord::stix::ParseOptions{}, concord::stix::ParseOptions{.allow_unknown_types = false}}) {
      auto obj = concord::stix::ParseObject(item, options);
      if (!obj.ok()) continue;
      // Serialising an accepted object must give back the same JSON.
      if (boost::json::parse(concord::stix::Serialize(*obj)) != boost::json::value(item)) std::abort();
      (void)concord::stix::ComputeScoId(obj->type, obj->json);
    }
  }
  return 0;
}
