// The postings part of the Store interface itself; the postings behaviour every backend must have is in
// store_conformance_test.cc (PostingsConformance).
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "store/store.h"

namespace concord::store {
namespace {

TEST(PostingsDefaults, StoresWithoutPostingsSayUnimplemented) {
  class Bare final : public Store {
   public:
    absl::StatusOr<std::vector<PutResult>> PutEncoded(std::span<const EncodedObject>) override { return std::vector<PutResult>{}; }
    absl::StatusOr<StoredObject> Get(std::string_view) override { return StoredObject{}; }
    absl::StatusOr<StoredObject> GetVersion(std::string_view, const Timestamp&) override { return StoredObject{}; }
    absl::StatusOr<std::vector<StoredObject>> Versions(std::string_view) override { return std::vector<StoredObject>{}; }
    absl::StatusOr<Page> List(const Query&) override { return Page{}; }
    absl::StatusOr<Stats> GetStats() override { return Stats{}; }
  } bare;
  EXPECT_EQ(bare.posting_extractor(), nullptr);
  EXPECT_EQ(bare.FindPostings({}).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(bare.PostingsComplete().status().code(), absl::StatusCode::kUnimplemented);
}

TEST(Postings, CanonicaliseSortsAndRemovesRepeatedValues) {
  std::vector<Posting> postings = {{4, "b.example", std::nullopt, -1},
                                   {0, "198.51.100.1", std::nullopt, -1},
                                   {4, "a.example", std::nullopt, -1},
                                   {4, "b.example", std::nullopt, -1}};
  CanonicalisePostings(postings);
  ASSERT_EQ(postings.size(), 3u);
  EXPECT_EQ(postings[0].value, "198.51.100.1");
  EXPECT_EQ(postings[1].value, "a.example");
  EXPECT_EQ(postings[2].value, "b.example");
}

}  // namespace
}  // namespace concord::store
