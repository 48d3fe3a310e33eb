#include "stix/bundle.h"

#include <fmt/format.h>

#include <utility>

#include "common/status.h"
#include "stix/detail/check.h"

namespace concord::stix {

absl::StatusOr<std::vector<boost::json::value>> BundleItems(boost::json::value document) {
  using detail::FieldPath;
  if (!document.is_object()) return detail::WrongKind(FieldPath::Of("document"), "a STIX object or bundle", document);
  boost::json::object& doc = document.get_object();
  std::vector<boost::json::value> items;
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
  items.reserve(list.size());
  for (auto& item : list) items.push_back(std::move(item));
  return items;
}

}  // namespace concord::stix
