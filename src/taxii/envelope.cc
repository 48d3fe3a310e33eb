#include "taxii/envelope.h"

#include <utility>

#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"
#include "http/errors.h"

namespace concord::taxii {

absl::StatusOr<std::vector<boost::json::value>> ParseEnvelope(std::string_view body, const EnvelopeLimits& limits) {
  auto doc = ParseJson(body, JsonLimits{.max_depth = limits.max_depth});
  if (!doc.ok()) return FieldError("", fmt::format("body is not valid JSON: {}", Sv(doc.status().message())));
  if (!doc->is_object()) {
    return FieldError("", fmt::format("body must be a TAXII envelope (a JSON object), got {}", JsonKindName(*doc)));
  }
  boost::json::object& envelope = doc->get_object();
  auto it = envelope.find("objects");
  if (it == envelope.end()) return FieldError("objects", "required: the envelope carries no objects");
  if (!it->value().is_array()) {
    return FieldError("objects", fmt::format("expected a list, got {}", JsonKindName(it->value())));
  }
  boost::json::array& objects = it->value().get_array();
  // TAXII 2.1 §2.1: a list has at least one value.
  if (objects.empty()) return FieldError("objects", "must not be empty");
  if (objects.size() > limits.max_objects) {
    return http::BodyTooLargeError(
        fmt::format("objects: {} objects in one envelope; at most {} are accepted", objects.size(), limits.max_objects));
  }
  std::vector<boost::json::value> out;
  out.reserve(objects.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    if (!objects[i].is_object()) {
      return FieldError(fmt::format("objects[{}]", i),
                        fmt::format("expected a JSON object, got {}", JsonKindName(objects[i])));
    }
    out.push_back(std::move(objects[i]));
  }
  return out;
}

}  // namespace concord::taxii
