// concord/api/openapi.h — the OpenAPI 3 document of every route (src/api/openapi.json, compiled in).
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "http/router.h"

namespace concord::api {

std::string_view OpenApiDocument();

// GET /api/v1/openapi.json (no authentication: it describes, it reveals no data).
absl::Status AddOpenApiRoute(http::Router& router);

}  // namespace concord::api
