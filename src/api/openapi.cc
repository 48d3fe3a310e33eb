#include "api/openapi.h"

#include "openapi_json.h"  // generated from openapi.json by CMake

namespace concord::api {

std::string_view OpenApiDocument() { return kOpenApiJson; }

absl::Status AddOpenApiRoute(http::Router& router) {
  return router.Add("GET", "/api/v1/openapi.json", [](http::Request&) -> absl::StatusOr<http::Response> {
    return http::Response::Json(200, std::string(kOpenApiJson));
  });
}

}  // namespace concord::api
