#include <gtest/gtest.h>

#include "stix/object.h"
#include "stix/test_util.h"

namespace concord::stix {
namespace {

using testing::Json;

TEST(ComputeScoId, SpecVectors) {
  EXPECT_EQ(ComputeScoId("file", Json(R"({"type":"file","name":"foo.exe"})")),
            "file--7af1312c-4402-5d2f-b169-b118d73b85c4");
  EXPECT_EQ(ComputeScoId("ipv4-addr", Json(R"({"type":"ipv4-addr","value":"198.51.100.3"})")),
            "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4");
  EXPECT_EQ(ComputeScoId("domain-name", Json(R"({"value":"example.com"})")),
            "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7");
  EXPECT_EQ(ComputeScoId("email-addr", Json(R"({"value":"john@example.com"})")),
            "email-addr--7165e2a9-671f-585d-b1e1-ca59c671d934");
}

TEST(ComputeScoId, IgnoresNonContributingProperties) {
  EXPECT_EQ(ComputeScoId("file", Json(R"({"type":"file","id":"file--x","size":9,"name":"foo.exe","x_y":1})")),
            "file--7af1312c-4402-5d2f-b169-b118d73b85c4");
}

TEST(ComputeScoId, PicksOneHashMd5First) {
  const auto both = ComputeScoId("file", Json(R"({"hashes":{"SHA-256":
      "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb","MD5":"0cc175b9c0f1b6a831c399e269772661"}})"));
  const auto md5 = ComputeScoId("file", Json(R"({"hashes":{"MD5":"0cc175b9c0f1b6a831c399e269772661"}})"));
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(both, md5);
}

TEST(ComputeScoId, NoneWithoutContributingProperties) {
  EXPECT_EQ(ComputeScoId("process", Json(R"({"pid":1})")), std::nullopt);
  EXPECT_EQ(ComputeScoId("file", Json(R"({"size":1})")), std::nullopt);
  EXPECT_EQ(ComputeScoId("x-custom", Json(R"({"value":"a"})")), std::nullopt);
  EXPECT_EQ(ComputeScoId("indicator", Json(R"({"name":"a"})")), std::nullopt);
}

TEST(ParseObject, AcceptsScoIdsThatDifferFromTheComputedOne) {
  auto obj = ParseObject(Json(R"({"type":"file","id":"file--00000000-0000-5000-8000-000000000000","name":"foo.exe"})"));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_NE(ComputeScoId(obj->type, obj->json), obj->id);
}

}  // namespace
}  // namespace concord::stix
