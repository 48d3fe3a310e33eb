// The request reader on its own: bytes in, a Request or a refusal out, as the server and the fuzz target use it.
#include "http/parse.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "http/errors.h"

namespace concord::http {
namespace {

using State = RequestReader::State;

// A connection as the server reads it: one buffer, `step` new bytes per socket read (0: everything at once),
// a fresh reader per request, until the bytes run out or a request is refused.
struct Connection {
  std::vector<ParsedRequest> requests;
  State last = State::kHeader;  // the state of the last reader
  absl::Status error;           // when last == kFailed
  std::string method, target;   // of the refused request
  bool saw_header_done = false;
  bool expected_continue = false;
};

Connection Read(std::string_view bytes, size_t step = 0, ReaderLimits limits = {}) {
  Connection c;
  std::string buffer;
  size_t pos = 0;
  RequestReader reader(limits);
  while (true) {
    buffer.erase(0, reader.Put(buffer));
    c.last = reader.state();
    switch (c.last) {
      case State::kHeaderDone:
        c.saw_header_done = true;
        c.expected_continue = c.expected_continue || reader.expects_continue();
        continue;
      case State::kComplete:
        c.requests.push_back(reader.Take());
        reader = RequestReader(limits);
        if (buffer.empty() && pos == bytes.size()) return c;
        continue;
      case State::kFailed:
        c.error = reader.error();
        c.method = reader.method();
        c.target = reader.target();
        return c;
      case State::kHeader:
      case State::kBody:
        if (pos == bytes.size()) return c;
        break;
    }
    const size_t n = step == 0 ? bytes.size() - pos : std::min(step, bytes.size() - pos);
    buffer.append(bytes.substr(pos, n));
    pos += n;
  }
}

std::vector<std::pair<std::string, std::string>> Fields(const Request& r) { return r.headers.fields(); }

TEST(RequestReader, ConvertsAGetWithQueryAndHeaders) {
  RequestReader reader({});
  const std::string bytes =
      "GET /api/v1/objects/a%20b%2Fc?x=1&match%5Btype%5D=indicator,sighting&y HTTP/1.1\r\n"
      "Host: node.example\r\nX-Two: 1\r\nx-two: 2\r\n\r\n";
  EXPECT_EQ(reader.Put(bytes), bytes.size());
  ASSERT_EQ(reader.state(), State::kComplete);
  ParsedRequest p = reader.Take();
  EXPECT_EQ(p.request.method, "GET");
  EXPECT_EQ(p.request.target, "/api/v1/objects/a%20b%2Fc?x=1&match%5Btype%5D=indicator,sighting&y");
  EXPECT_EQ(p.request.path, "/api/v1/objects/a b/c");
  EXPECT_EQ(p.request.query.Get("x"), "1");
  EXPECT_EQ(p.request.query.GetList("match[type]"), (std::vector<std::string>{"indicator", "sighting"}));
  EXPECT_EQ(p.request.query.Get("y"), "");
  EXPECT_EQ(Fields(p.request), (std::vector<std::pair<std::string, std::string>>{
                                   {"Host", "node.example"}, {"X-Two", "1"}, {"x-two", "2"}}));
  EXPECT_EQ(p.request.body, "");
  EXPECT_TRUE(p.keep_alive);
  EXPECT_FALSE(p.http10);
  EXPECT_EQ(reader.state(), State::kFailed);  // spent
  EXPECT_EQ(reader.Put("GET / HTTP/1.1\r\n\r\n"), 0u);
}

TEST(RequestReader, MalformedEscapeKeepsThePathAsSent) {
  Connection c = Read("GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(c.requests.size(), 1u);
  EXPECT_EQ(c.requests[0].request.path, "/a%zz");
}

TEST(RequestReader, PipelinedRequestsWhateverTheReadSize) {
  const std::string bytes =
      "POST /api/v1/objects HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
      "GET /healthz HTTP/1.0\r\n\r\n"
      "DELETE /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: t\r\n\r\n";
  for (size_t step : {0, 1, 2, 5, 17, 64}) {
    SCOPED_TRACE(step);
    Connection c = Read(bytes, step);
    ASSERT_EQ(c.requests.size(), 3u);
    EXPECT_EQ(c.last, State::kComplete);
    EXPECT_EQ(c.requests[0].request.method, "POST");
    EXPECT_EQ(c.requests[0].request.body, "hello");
    EXPECT_TRUE(c.requests[0].keep_alive);
    EXPECT_EQ(c.requests[1].request.target, "/healthz");
    EXPECT_TRUE(c.requests[1].http10);
    EXPECT_FALSE(c.requests[1].keep_alive);
    EXPECT_EQ(c.requests[2].request.method, "DELETE");
    EXPECT_EQ(c.requests[2].request.body, "abc");
    EXPECT_TRUE(c.saw_header_done);
    EXPECT_FALSE(c.expected_continue);
  }
}

TEST(RequestReader, StopsAfterTheHeaderForExpectContinue) {
  RequestReader reader({});
  const std::string head = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n";
  EXPECT_EQ(reader.Put(head + "ab"), head.size());  // the body bytes wait
  ASSERT_EQ(reader.state(), State::kHeaderDone);
  EXPECT_TRUE(reader.expects_continue());
  EXPECT_EQ(reader.method(), "POST");
  EXPECT_EQ(reader.target(), "/a");
  EXPECT_EQ(reader.Put("ab"), 2u);
  EXPECT_EQ(reader.state(), State::kBody);
  EXPECT_EQ(reader.Put("cGET"), 1u);
  ASSERT_EQ(reader.state(), State::kComplete);
  EXPECT_EQ(reader.Take().request.body, "abc");
}

TEST(RequestReader, HeaderOverTheLimitIs431WithoutATarget) {
  Connection c = Read("GET /taxii2/ HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(300, 'a') + "\r\n\r\n", 10,
                      {.max_header_bytes = 256, .max_body_bytes = 1024});
  ASSERT_EQ(c.last, State::kFailed);
  EXPECT_EQ(HttpStatusFor(c.error), 431);
  EXPECT_EQ(c.error.message(), "request header exceeds the limit of 256 bytes");
  EXPECT_EQ(c.target, "");
}

TEST(RequestReader, BodyOverTheLimitIs413WithTheTarget) {
  const ReaderLimits limits{.max_header_bytes = 1024, .max_body_bytes = 8};
  Connection declared = Read("POST /taxii2/r/collections/c/objects/?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n",
                             0, limits);
  ASSERT_EQ(declared.last, State::kFailed);
  EXPECT_EQ(HttpStatusFor(declared.error), 413);
  EXPECT_EQ(declared.error.message(), "request body exceeds the limit of 8 bytes");
  EXPECT_EQ(declared.target, "/taxii2/r/collections/c/objects/?x=1");

  Connection chunked = Read("POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n5\r\n12345\r\n0\r\n\r\n",
                            0, limits);
  ASSERT_EQ(chunked.last, State::kFailed);
  EXPECT_EQ(HttpStatusFor(chunked.error), 413);
  EXPECT_EQ(chunked.method, "POST");
  EXPECT_EQ(chunked.target, "/a");

  Connection exact = Read("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n12345678", 0, limits);
  ASSERT_EQ(exact.requests.size(), 1u);
  EXPECT_EQ(exact.requests[0].request.body, "12345678");
}

TEST(RequestReader, HostRules) {
  Connection none = Read("GET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(none.last, State::kFailed);
  EXPECT_EQ(none.error, absl::InvalidArgumentError("HTTP/1.1 request without Host header"));
  EXPECT_EQ(none.target, "/");

  Connection two = Read("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  ASSERT_EQ(two.last, State::kFailed);
  EXPECT_EQ(two.error, absl::InvalidArgumentError("request with more than one Host header"));

  Connection http10 = Read("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(http10.requests.size(), 1u);
  EXPECT_TRUE(http10.requests[0].http10);
}

TEST(RequestReader, FramingThatCouldSmuggleARequestIs400) {
  Connection gzip = Read("POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(gzip.last, State::kFailed);
  EXPECT_EQ(gzip.error, absl::InvalidArgumentError("request transfer coding must end in chunked"));
  EXPECT_TRUE(gzip.requests.empty());

  for (const char* bad : {"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                          "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                          "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                          "GET /a HTTP/1.1\r\nBad Header\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.Z\r\n\r\n"}) {
    Connection c = Read(bad);
    ASSERT_EQ(c.last, State::kFailed) << bad;
    EXPECT_EQ(c.error.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(HttpStatusFor(c.error), 400) << bad;
    EXPECT_TRUE(c.requests.empty()) << bad;
  }
}

TEST(RequestReader, TrailerFieldsNeverJoinTheHeader) {
  // RFC 9110 §6.5.1. The fuzzer found Beast merging a trailer's Host into the request's fields; a trailer
  // must not add credentials or a justification after the body either.
  const std::string big(1'000, 'a');
  for (size_t step : {0u, 3u}) {
    Connection c = Read("POST /a HTTP/1.1\r\nHost: node\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
                        "Host: other\r\nAuthorization: Bearer stolen\r\nX-Concord-Justification: late\r\n"
                        "X-Big: " + big + "\r\n\r\n",
                        step);
    ASSERT_EQ(c.requests.size(), 1u) << step;
    const Request& r = c.requests[0].request;
    EXPECT_EQ(r.body, "hello");
    EXPECT_EQ(r.headers.GetAll("host").size(), 1u);
    EXPECT_EQ(r.headers.Get("host"), "node");
    EXPECT_FALSE(r.headers.Get("authorization").has_value());
    EXPECT_FALSE(r.headers.Get("x-concord-justification").has_value());
    EXPECT_FALSE(r.headers.Get("x-big").has_value());
  }
}

TEST(RequestReader, OversizedOrEndlessTrailersAreRefusedNotThrown) {
  // A trailer field over Beast's 64 KiB field limit made it throw out of put() (found by the fuzzer):
  // that must be a 400 for this request, never an exception on a server thread.
  Connection big = Read("POST /a HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Big: " +
                        std::string(70'000, 'a') + "\r\n\r\n");
  ASSERT_EQ(big.last, State::kFailed);
  EXPECT_EQ(big.error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpStatusFor(big.error), 400);
  std::string many = "POST /a HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  for (int i = 0; i < 20'000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  many += "\r\n";
  Connection endless = Read(many, 0, ReaderLimits{.max_header_bytes = 8192, .max_body_bytes = 1024});
  ASSERT_EQ(endless.last, State::kFailed);
  EXPECT_EQ(HttpStatusFor(endless.error), 431) << endless.error;
}

TEST(RequestReader, ObsFoldIsJoinedWithASpace) {
  Connection c = Read("GET / HTTP/1.1\r\nHost: h\r\nX-Fold: a\r\n  b\r\n\tc\r\n\r\n", 4);
  ASSERT_EQ(c.requests.size(), 1u);
  EXPECT_EQ(c.requests[0].request.headers.Get("x-fold"), "a b c");
}

TEST(RequestReader, IncompleteRequestWaitsForMore) {
  Connection c = Read("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(c.last, State::kBody);
  EXPECT_TRUE(c.requests.empty());
  Connection header = Read("GET /a HTTP/1.1\r\nHost: h\r\n");
  EXPECT_EQ(header.last, State::kHeader);
}

}  // namespace
}  // namespace concord::http
