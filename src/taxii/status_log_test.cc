// Status documents round-tripping, and the dispatch of locations. The StatusLog itself on both backends:
// status_log_conformance_test.cc.
#include "taxii/status_log.h"

#include <gtest/gtest.h>

#include <string>

#include "common/status.h"
#include "fmt/format.h"

namespace concord::taxii {
namespace {

StatusResource Status(std::string id, int successes = 1) {
  StatusResource s;
  s.id = std::move(id);
  s.request_timestamp = Timestamp{.seconds = 1'700'000'000, .nanos = 123'456'000};
  for (int i = 0; i < successes; ++i) s.successes.push_back({.id = fmt::format("indicator--{}", i), .version = "v"});
  s.failures.push_back({.id = "malware--x", .version = "", .message = "rejected: type: no"});
  return s;
}

// The StatusLog behaviour on both backends is in status_log_conformance_test.cc.

TEST(OpenStatusLog, DispatchesOnLocation) {
  // postgresql:// goes to the PostgreSQL backend: here a port nothing listens on.
  const std::string nowhere = "postgresql://concord@127.0.0.1:1/concord?connect_timeout=5";
  EXPECT_EQ(LoadCursorKey(nowhere).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(OpenStatusLog(nowhere).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(OpenStatusLog(nowhere, {.retention = {.max_statuses = 0}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadCursorKey("mysql://db/concord").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseStatus, RoundTripsWhatRenderStatusWrites) {
  StatusResource pending;
  pending.id = "p1";
  pending.complete = false;
  pending.pendings.push_back({.id = "indicator--1", .version = "2024-01-01T00:00:00.000Z"});
  pending.total_count = 10;
  auto parsed = ParseStatus(RenderStatus(pending));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(RenderStatus(*parsed), RenderStatus(pending));
  EXPECT_FALSE(parsed->complete);
  EXPECT_EQ(parsed->total_count, 10);
  EXPECT_EQ(parsed->request_timestamp, std::nullopt);

  const StatusResource full = Status("c1", 3);
  parsed = ParseStatus(RenderStatus(full));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(RenderStatus(*parsed), RenderStatus(full));
  EXPECT_EQ(parsed->total_count, std::nullopt);  // the sum, as RenderStatus computes it

  EXPECT_EQ(ParseStatus("[]").status().message(), "status: expected a JSON object");
  EXPECT_EQ(ParseStatus(R"({"id":"x","status":"done","total_count":0})").status().message(),
            "status: expected complete or pending");
  EXPECT_EQ(ParseStatus(R"({"id":"x","status":"complete","total_count":1,"successes":[{"id":"a"}]})").status().message(),
            "successes[0].version: expected a string");
}

}  // namespace
}  // namespace concord::taxii
