// concord/api/api.h — the REST API under /api/v1.
//
// Handlers are registered on an http::Router. Who is calling comes from an injected authenticator (the
// node wires the accounts store to it), so the API is tested without a key store. Every response is
// filtered by policy::Visible: an object the caller may not see answers 404 exactly like an unknown id,
// so its existence does not leak. Handlers run on the server's worker threads; the context's members
// must be thread-safe (Store is; the policy functions are pure).
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "http/router.h"
#include "policy/policy.h"
#include "store/store.h"

namespace concord::api {

// The caller of a request, as the authentication layer established it.
struct Caller {
  std::string user;
  std::string org_id;  // the caller organisation's STIX identity id
  std::string role;    // admin, org-admin, analyst, duty-officer, read-only, sync
  bool read_only = false;  // the key is read-only

  bool MayWrite() const { return !read_only && role != "read-only"; }
};

// Unauthenticated (401) when the request carries no valid credentials.
using Authenticator = std::function<absl::StatusOr<Caller>(http::Request&)>;

struct ApiContext {
  store::Store* store = nullptr;
  Authenticator authenticate;
  policy::NodeDefaults defaults;
  // The sharing groups as they are now; called per request.
  std::function<policy::PolicyContext()> sharing_groups = [] { return policy::PolicyContext{}; };
  const Clock* clock = &SystemClock::Instance();
};

// The policy of a stored version on this node (owner = created_by_ref; see docs/architecture.md).
policy::ObjectPolicy PolicyOf(const store::StoredObject& object, const policy::NodeDefaults& defaults);

// Registers the /api/v1/objects routes. `context` must outlive the router.
absl::Status AddObjectRoutes(http::Router& router, const ApiContext& context);

}  // namespace concord::api
