#include "stix/bundle.h"

#include <fmt/format.h>

#include <utility>

#include "common/status.h"
#include "stix/detail/check.h"

namespace concord::stix {

absl::StatusOr<std::vector<boost::json::object>> BundleItems(boost::json::value document) {
  using detail::FieldPath;
  if (!document.is_object()) return detail::WrongKind(FieldPath::Of("document"), "a STIX object or bundle", document);
  boost::json::object& doc = document.get_object();
  std::vector<boost::json::object> items;
  const boost::json::value* type = doc.if_contains("type");
  if (type == nullptr || !type->is_string() || type->get_string() != "bundle") {
    items.push_back(std::move(doc));
    return items;
  }
  const boost::json::value* id = doc.if_contains("id");
  if (id == nullptr) return detail::Missing(FieldPath::Of("id"));
  CONCORD_RETURN_IF_ERROR(detail::CheckIdentifier(*id, FieldPath::Of("id"), "bundle"));
  boost::json::value* objects = doc.if_contains("objects");
  if (objects == nullptr) return items;
  if (!objects->is_array()) return detail::WrongKind(FieldPath::Of("objects"), "a list", *objects);
  boost::json::array& list = objects->get_array();
  const FieldPath objects_path = FieldPath::Of("objects");
  items.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object()) return detail::WrongKind(objects_path.Index(i), "an object", list[i]);
    items.push_back(std::move(list[i].get_object()));
  }
  return items;
}

}  // namespace concord::stix
