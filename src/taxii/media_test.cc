#include "taxii/media.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "http/errors.h"

namespace concord::taxii {
namespace {

struct AcceptCase {
  std::optional<std::string> accept;
  bool ok;
};

class AcceptMatrix : public ::testing::TestWithParam<AcceptCase> {};

TEST_P(AcceptMatrix, DecidesAsRfc9110AndTaxii) {
  const AcceptCase& c = GetParam();
  std::optional<std::string_view> header;
  if (c.accept) header = *c.accept;
  EXPECT_EQ(AcceptsTaxii(header), c.ok) << (c.accept ? *c.accept : "<none>");
  absl::Status s = CheckAccept(header);
  if (c.ok) {
    EXPECT_TRUE(s.ok());
  } else {
    EXPECT_EQ(http::HttpStatusFor(s), 406);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Taxii, AcceptMatrix,
    ::testing::Values(AcceptCase{std::nullopt, true}, AcceptCase{"application/taxii+json;version=2.1", true},
                      AcceptCase{"application/taxii+json", true}, AcceptCase{"application/taxii+json; version=2.1", true},
                      AcceptCase{"Application/TAXII+JSON;VERSION=2.1", true},
                      AcceptCase{"application/taxii+json;version=\"2.1\"", true},
                      AcceptCase{"application/taxii+json ; charset=utf-8 ; version=2.1", true},
                      AcceptCase{"*/*", true}, AcceptCase{"application/*", true},
                      AcceptCase{"text/html, */*;q=0.1", true},
                      AcceptCase{"application/taxii+json;version=2.0, application/taxii+json;version=2.1;q=0.5", true},
                      AcceptCase{"application/taxii+json;version=2.1;q=1.000", true},
                      // refused
                      AcceptCase{"", false}, AcceptCase{"application/json", false},
                      AcceptCase{"application/taxii+json;version=2.0", false},
                      AcceptCase{"application/stix+json;version=2.1", false}, AcceptCase{"text/*", false},
                      AcceptCase{"application/taxii+json;q=0", false}, AcceptCase{"*/*;q=0", false},
                      AcceptCase{"application/taxii+json;version=2.1;q=0, */*", false},
                      AcceptCase{"application/*;q=0, */*;q=1", false},
                      AcceptCase{"application/taxii+json;q=2", false}, AcceptCase{"application/taxii+json;q=abc", false},
                      AcceptCase{"garbage", false}, AcceptCase{"*/json", false},
                      AcceptCase{"application/taxii+json;version", false}));

TEST(Accept, ErrorNamesHeaderAndMediaType) {
  absl::Status s = CheckAccept("application/json");
  EXPECT_EQ(s.message(), "Accept: 'application/json' does not admit application/taxii+json;version=2.1");
}

struct ContentTypeCase {
  std::optional<std::string> content_type;
  bool ok;
};
class ContentTypeMatrix : public ::testing::TestWithParam<ContentTypeCase> {};

TEST_P(ContentTypeMatrix, Decides) {
  const ContentTypeCase& c = GetParam();
  std::optional<std::string_view> header;
  if (c.content_type) header = *c.content_type;
  absl::Status s = CheckContentType(header);
  EXPECT_EQ(s.ok(), c.ok) << (c.content_type ? *c.content_type : "<none>");
  if (!c.ok) {
    EXPECT_EQ(http::HttpStatusFor(s), 415);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Taxii, ContentTypeMatrix,
    ::testing::Values(ContentTypeCase{"application/taxii+json;version=2.1", true},
                      ContentTypeCase{"application/taxii+json", true},
                      ContentTypeCase{"application/taxii+json; charset=utf-8; version=2.1", true},
                      ContentTypeCase{"APPLICATION/Taxii+Json;Version=2.1", true}, ContentTypeCase{std::nullopt, false},
                      ContentTypeCase{"", false}, ContentTypeCase{"application/json", false},
                      ContentTypeCase{"application/taxii+json;version=2.0", false},
                      ContentTypeCase{"application/stix+json;version=2.1", false},
                      ContentTypeCase{"application/*", false}, ContentTypeCase{"*/*", false}));

TEST(ContentType, ErrorMessages) {
  EXPECT_EQ(CheckContentType(std::nullopt).message(),
            "Content-Type: missing; send application/taxii+json;version=2.1");
  EXPECT_EQ(CheckContentType("text/plain").message(),
            "Content-Type: 'text/plain' is not application/taxii+json;version=2.1");
}

TEST(MediaType, StixMediaTypeForSpecVersion) {
  EXPECT_EQ(StixMediaTypeFor("2.1"), "application/stix+json;version=2.1");
  EXPECT_EQ(StixMediaTypeFor(""), "application/stix+json;version=2.1");
  EXPECT_EQ(StixMediaTypeFor("2.0"), "application/stix+json;version=2.0");
}

}  // namespace
}  // namespace concord::taxii
