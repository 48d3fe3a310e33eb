#include "taxii/errors.h"

#include "boost/json.hpp"
#include "common/status.h"
#include "gtest/gtest.h"
#include "http/errors.h"
#include "taxii/media.h"

namespace concord::taxii {
namespace {

TEST(TaxiiError, PlainStatusRendersTitleDescriptionHttpStatus) {
  http::Response r = RenderError(absl::NotFoundError("collection 'x' not found"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(*r.headers.Get("Content-Type"), "application/taxii+json;version=2.1");
  EXPECT_EQ(boost::json::parse(r.body),
            boost::json::parse(R"({"title":"NOT_FOUND","description":"collection 'x' not found","http_status":"404"})"));
}

TEST(TaxiiError, FieldErrorGoesToDetails) {
  http::Response r = RenderError(FieldError("limit", "must be a positive integer, got '0'"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(boost::json::parse(r.body), boost::json::parse(R"({"title":"INVALID_ARGUMENT",
      "description":"limit: must be a positive integer, got '0'","http_status":"400","details":{"field":"limit"}})"));
}

TEST(TaxiiError, ExtrasAreMerged) {
  ErrorExtras extras;
  extras.title = "Not Acceptable";
  extras.error_id = "req-42";
  extras.error_code = "media-type";
  extras.external_details = "https://docs.oasis-open.org/cti/taxii/v2.1/os/taxii-v2.1-os.html";
  extras.details["offered"] = "application/json";
  absl::Status s = WithErrorExtras(CheckAccept("application/json"), extras);
  http::Response r = RenderError(s);
  EXPECT_EQ(r.status, 406);
  EXPECT_EQ(boost::json::parse(r.body), boost::json::parse(R"({"title":"Not Acceptable",
      "description":"Accept: 'application/json' does not admit application/taxii+json;version=2.1",
      "http_status":"406","error_id":"req-42","error_code":"media-type",
      "external_details":"https://docs.oasis-open.org/cti/taxii/v2.1/os/taxii-v2.1-os.html",
      "details":{"offered":"application/json"}})"));
}

TEST(TaxiiError, RetryAfterSurvives) {
  http::Response r = RenderError(WithErrorExtras(http::RateLimitedError("slow down", std::chrono::milliseconds(1500)),
                                                 ErrorExtras{.error_code = "rate"}));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(*r.headers.Get("Retry-After"), "2");
  EXPECT_EQ(boost::json::parse(r.body).at("error_code"), "rate");
}

TEST(TaxiiError, OkStaysOk) { EXPECT_TRUE(WithErrorExtras(absl::OkStatus(), ErrorExtras{.title = "x"}).ok()); }

}  // namespace
}  // namespace concord::taxii
