#include "detect/logs/log_reader.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"

namespace concord::detect::logs {
namespace {

using pattern::ValueKind;

struct Got {
  uint64_t line;
  uint64_t offset;
  int64_t time_ms;          // -1: none
  std::string observables;  // "kind field=value; …"
  friend bool operator==(const Got&, const Got&) = default;
};

void PrintTo(const Got& g, std::ostream* os) {
  *os << "{line " << g.line << " @" << g.offset << " t=" << g.time_ms << " " << g.observables << "}";
}

std::unique_ptr<LogReader> Make(Format format, const ReaderOptions& options = {}) {
  auto reader = LogReader::Create(format, options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  return std::move(reader).value();
}

std::vector<Got> ReadAll(LogReader& reader, const std::vector<std::string_view>& pieces, bool finish = true) {
  std::vector<Got> out;
  const auto sink = [&out](const Record& r) {
    std::string obs;
    for (const Observable& o : r.observables) {
      obs += fmt::format("{}{} {}={}", obs.empty() ? "" : "; ", pattern::ValueKindName(o.kind), o.field, o.value);
    }
    out.push_back({r.line, r.offset, r.time_ms.value_or(-1), obs});
  };
  for (std::string_view piece : pieces) reader.Feed(piece, sink);
  if (finish) reader.Finish(sink);
  return out;
}

TEST(Format, NamesRoundTrip) {
  for (Format f : {Format::kEve, Format::kZeek, Format::kJsonl, Format::kCsv, Format::kText}) {
    EXPECT_EQ(ParseFormat(FormatName(f)), f);
  }
  EXPECT_EQ(FormatName(Format::kEve), "eve");
  EXPECT_EQ(ParseFormat("EVE"), std::nullopt);
  EXPECT_EQ(ParseFormat(""), std::nullopt);
}

TEST(LogReader, CreateRejectsBadOptions) {
  ReaderOptions quote;
  quote.csv_delimiter = '"';
  auto r = LogReader::Create(Format::kCsv, quote);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "csv delimiter must not be a quote or a line break (got 0x22)");
  ReaderOptions empty_field;
  empty_field.fields = {{"", ValueKind::kIpv4}};
  r = LogReader::Create(Format::kJsonl, empty_field);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "field mapping with an empty field name");
}

TEST(LogReader, MalformedLinesAreCountedNamedAndSkipped) {
  auto reader = Make(Format::kEve);
  const auto got = ReadAll(*reader, {"{\"src_ip\":\"10.0.0.1\"}\n"
                                     "{\"src_ip\":\n"
                                     "[1,2]\n"
                                     "\n"
                                     "{\"src_ip\":\"10.0.0.2\"}\n"});
  EXPECT_EQ(got, (std::vector<Got>{{1, 0, -1, "ipv4 src_ip=10.0.0.1"}, {5, 40, -1, "ipv4 src_ip=10.0.0.2"}}));
  const ReaderStats& s = reader->stats();
  EXPECT_EQ(s.lines, 5u);
  EXPECT_EQ(s.records, 2u);
  EXPECT_EQ(s.observables, 2u);
  EXPECT_EQ(s.malformed, 2u);
  ASSERT_EQ(s.first_errors.size(), 2u);
  EXPECT_TRUE(s.first_errors[0].starts_with("line 2: invalid JSON: ")) << s.first_errors[0];
  EXPECT_EQ(s.first_errors[1], "line 3: expected a JSON object");
}

TEST(LogReader, KeepsOnlyTheFirstTenErrors) {
  auto reader = Make(Format::kEve);
  std::string input;
  for (int i = 0; i < 25; ++i) input += "nope\n";
  input += "{\"dest_ip\":\"2001:db8::1\"}\n";
  const auto got = ReadAll(*reader, {input});
  EXPECT_EQ(got, (std::vector<Got>{{26, 125, -1, "ipv6 dest_ip=2001:db8::1"}}));
  EXPECT_EQ(reader->stats().malformed, 25u);
  ASSERT_EQ(reader->stats().first_errors.size(), 10u);
  EXPECT_TRUE(reader->stats().first_errors[9].starts_with("line 10: ")) << reader->stats().first_errors[9];
}

TEST(LogReader, OverlongLineIsMalformedAndTheNextLineIsRead) {
  auto reader = Make(Format::kText);
  const std::string chunk(256 * 1024, 'a');
  std::vector<std::string_view> pieces;
  pieces.push_back("10.0.0.1\n");
  for (int i = 0; i < 12; ++i) pieces.push_back(chunk);  // 3 MiB without a newline, in pieces
  pieces.push_back(" 10.0.0.9\n10.0.0.2\n");
  const auto got = ReadAll(*reader, pieces);
  const uint64_t second = 9 + 12 * chunk.size() + 10;
  EXPECT_EQ(got, (std::vector<Got>{{1, 0, -1, "ipv4 =10.0.0.1"}, {3, second, -1, "ipv4 =10.0.0.2"}}));
  EXPECT_EQ(reader->stats().malformed, 1u);
  EXPECT_EQ(reader->stats().lines, 3u);
  EXPECT_EQ(reader->stats().first_errors, std::vector<std::string>{"line 2: longer than 1048576 bytes"});
}

TEST(LogReader, OverlongLineInOnePieceIsMalformedToo) {
  auto reader = Make(Format::kText);
  const std::string input = std::string(kMaxLineBytes + 1, 'x') + "\n1.1.1.1";
  const auto got = ReadAll(*reader, {input});
  EXPECT_EQ(got, (std::vector<Got>{{2, kMaxLineBytes + 2, -1, "ipv4 =1.1.1.1"}}));
  EXPECT_EQ(reader->stats().first_errors, std::vector<std::string>{"line 1: longer than 1048576 bytes"});
  // Exactly the cap is still a line.
  auto exact = Make(Format::kText);
  const std::string at_cap = "8.8.8.8" + std::string(kMaxLineBytes - 7, ' ') + "\n";
  EXPECT_EQ(ReadAll(*exact, {at_cap}).size(), 1u);
  EXPECT_EQ(exact->stats().malformed, 0u);
}

TEST(LogReader, PartialLineWaitsForFinish) {
  auto reader = Make(Format::kText);
  std::vector<Got> got;
  const auto sink = [&got](const Record& r) {
    got.push_back({r.line, r.offset, -1, std::string(r.observables[0].value)});
  };
  reader->Feed("evil.exa", sink);
  reader->Feed("mple.com", sink);
  EXPECT_TRUE(got.empty());
  reader->Finish(sink);
  EXPECT_EQ(got, (std::vector<Got>{{1, 0, -1, "evil.example.com"}}));
  EXPECT_EQ(reader->stats().lines, 1u);
}

TEST(LogReader, RefangedValuesLiveInScratchDuringTheSink) {
  auto reader = Make(Format::kText);
  const std::string line = "see hxxps://evil[.]example[.]com/x and 1[.]2[.]3[.]4\n";
  const auto got = ReadAll(*reader, {line});
  EXPECT_EQ(got,
            (std::vector<Got>{{1, 0, -1, "url =https://evil.example.com/x; domain =evil.example.com; ipv4 =1.2.3.4"}}));
}

TEST(LogReader, EveTimeAndFieldsOfOneEvent) {
  auto reader = Make(Format::kEve);
  const auto got = ReadAll(
      *reader, {R"({"timestamp":"2026-11-22T10:00:00.123456+0000","event_type":"http","src_ip":"10.0.0.5",)"
                R"("dest_ip":"10.0.0.6","dest_port":8080,"http":{"hostname":"h.example.com","url":"/a?b=\"c\"",)"
                R"("http_user_agent":"UA\/1.0"}})"});
  EXPECT_EQ(got, (std::vector<Got>{{1, 0, 1795341600123,
                                    "ipv4 src_ip=10.0.0.5; ipv4 dest_ip=10.0.0.6; domain http.hostname=h.example.com; "
                                    "url http.url=http://h.example.com:8080/a?b=\"c\"; "
                                    "user-agent http.http_user_agent=UA/1.0"}}));
}

TEST(LogReader, EveLineWithInvalidUtf8IsMalformed) {
  auto reader = Make(Format::kEve);
  const auto got = ReadAll(*reader, {"{\"src_ip\":\"10.0.0.1\",\"x\":\"\xff\xfe\"}\n{\"src_ip\":\"10.0.0.2\"}\n"});
  EXPECT_EQ(got, (std::vector<Got>{{2, 31, -1, "ipv4 src_ip=10.0.0.2"}}));
  EXPECT_EQ(reader->stats().malformed, 1u);
  EXPECT_TRUE(reader->stats().first_errors[0].starts_with("line 1: invalid JSON: ")) << reader->stats().first_errors[0];
}

// A truncated line after a longer one: simdjson must not see the longer line's tail in the padding.
TEST(LogReader, TruncatedJsonAfterALongerLineIsMalformed) {
  auto reader = Make(Format::kJsonl);
  const auto got = ReadAll(*reader, {"{\"a\":\"10.0.0.1\",\"b\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n"
                                     "{\"c\":\n"
                                     "{\"d\"}\n"});
  EXPECT_EQ(got, (std::vector<Got>{{1, 0, -1, "ipv4 a=10.0.0.1"}}));
  EXPECT_EQ(reader->stats().malformed, 2u);
}

TEST(LogReader, ZeekRecordBeforeHeaderIsMalformed) {
  auto reader = Make(Format::kZeek);
  const auto got = ReadAll(*reader, {"1.0\t10.0.0.1\n#fields\tts\tid.orig_h\n2.5\t10.0.0.2\n"});
  EXPECT_EQ(got, (std::vector<Got>{{3, 34, 2500, "ipv4 id.orig_h=10.0.0.2"}}));
  EXPECT_EQ(reader->stats().first_errors, std::vector<std::string>{"line 1: a record before any #fields header"});
}

TEST(LogReader, ZeekSeparatorAndUnsetFieldFollowTheHeader) {
  auto reader = Make(Format::kZeek);
  const auto got = ReadAll(*reader, {"#separator \\x7c\n#unset_field|NULL\n#path|dns\n#fields|ts|query|answers\n"
                                     "5|NULL|a.example.com,10.0.0.1\n6|q.example.com|NULL\n"});
  EXPECT_EQ(got, (std::vector<Got>{{5, 69, 5000, "domain answers=a.example.com; ipv4 answers=10.0.0.1"},
                                   {6, 99, 6000, "domain query=q.example.com"}}));
}

TEST(LogReader, CsvOpenQuoteAtEndIsMalformed) {
  auto reader = Make(Format::kCsv, ReaderOptions{.csv_header = false});
  const auto got = ReadAll(*reader, {"1.1.1.1,\"open\n2.2.2.2\n"});
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(reader->stats().first_errors,
            std::vector<std::string>{"line 1: quoted field not closed at the end of the input"});
}

TEST(LogReader, CsvMultiLineRecordIsReportedAtItsFirstLine) {
  auto reader = Make(Format::kCsv);
  const auto got = ReadAll(*reader, {"a,b\r\n\"x\r\n1.1.1.1\",2.2.2.2\r\n3.3.3.3,\r\n"});
  EXPECT_EQ(got, (std::vector<Got>{{2, 5, -1, "ipv4 a=1.1.1.1; ipv4 b=2.2.2.2"}, {4, 27, -1, "ipv4 a=3.3.3.3"}}));
}

TEST(LogReader, JsonlMappedIpKindFollowsTheShape) {
  ReaderOptions options;
  options.fields = {{"a.ip", ValueKind::kIpv4}, {"a.list", ValueKind::kDomain}};
  options.time_field = "t";
  auto reader = Make(Format::kJsonl, options);
  const auto got = ReadAll(*reader, {R"({"t":1795341600.5,"a":{"ip":"2001:db8::1","list":["x.example","y.example"]}})"
                                     "\n"
                                     R"({"a.ip":"10.1.1.1","b":{"ip":"10.2.2.2"}})"});
  EXPECT_EQ(got, (std::vector<Got>{
                     {1, 0, 1795341600500, "ipv6 a.ip=2001:db8::1; domain a.list=x.example; domain a.list=y.example"},
                     {2, 77, -1, "ipv4 a.ip=10.1.1.1"}}));
}

TEST(LogReader, KindsLeaveOutOtherObservablesButNoLineOrError) {
  ReaderOptions options;
  options.kinds = KindBit(ValueKind::kDomain);
  auto zeek = Make(Format::kZeek, options);
  const std::string header = "#path\tdns\n#fields\tts\tid.orig_h\tquery\tanswers\n";
  auto got = ReadAll(*zeek, {header + "1\t10.0.0.1\ta.example\tb.example,10.0.0.2\n"
                                      "2\t10.0.0.1\t-\t10.0.0.3\n"
                                      "3\t10.0.0.1\tshort\n"
                                      "4\t10.0.0.1\tc.example\t-\n"});
  EXPECT_EQ(got, (std::vector<Got>{{3, 45, 1000, "domain query=a.example; domain answers=b.example"},
                                   {6, 124, 4000, "domain query=c.example"}}));
  EXPECT_EQ(zeek->stats().lines, 6u);
  EXPECT_EQ(zeek->stats().records, 2u);
  EXPECT_EQ(zeek->stats().first_errors, std::vector<std::string>{"line 5: 3 fields where #fields names 4"});
  // From the next line on, every kind again.
  zeek->SetKinds(kAllKinds);
  got = ReadAll(*zeek, {"5\t10.0.0.9\t-\t-\n"});
  EXPECT_EQ(got, (std::vector<Got>{{7, 147, 5000, "ipv4 id.orig_h=10.0.0.9"}}));

  auto json = Make(Format::kZeek, options);
  got = ReadAll(*json, {R"({"_path":"dns","ts":7.5,"id.orig_h":"10.0.0.1","query":"q.example","answers":["10.0.0.2"]})"});
  EXPECT_EQ(got, (std::vector<Got>{{1, 0, 7500, "domain query=q.example"}}));

  options.kinds = KindBit(ValueKind::kUrl);
  auto eve = Make(Format::kEve, options);
  got = ReadAll(*eve, {R"({"timestamp":"2026-11-22T10:00:00Z","event_type":"http","src_ip":"10.0.0.5",)"
                       R"("dest_ip":"10.0.0.6","http":{"hostname":"h.example.com","url":"/a"}})"
                       "\n"
                       R"({"src_ip":"10.0.0.5","dns":{"rrname":"x.example"}})"
                       "\n"});
  EXPECT_EQ(got, (std::vector<Got>{{1, 0, 1795341600000, "url http.url=http://h.example.com/a"}}));
  EXPECT_EQ(eve->stats().records, 1u);
  EXPECT_EQ(eve->stats().malformed, 0u);

  options.kinds = KindBit(ValueKind::kMd5);
  auto text = Make(Format::kText, options);
  got = ReadAll(*text, {"seen 10.0.0.1 and evil.example and 0123456789abcdef0123456789abcdef\n"});
  EXPECT_EQ(got, (std::vector<Got>{{1, 0, -1, "md5 =0123456789abcdef0123456789abcdef"}}));
}

TEST(LogReader, ReadAheadHoldsZeekTsvRecordsOneLine) {
  auto reader = Make(Format::kZeek);
  std::vector<std::string> events;
  reader->SetReadAhead([&events](const Record& r) { events.push_back(fmt::format("ahead {}", r.line)); });
  const auto sink = [&events](const Record& r) {
    events.push_back(fmt::format("sink {} {}={}", r.line, r.observables[0].field, r.observables[0].value));
  };
  reader->Feed("#fields\tts\tquery\n1\ta.example\n2\tb.example\n#fields\tts\tname\tquery\n3\tx\tc.example\n"
               "4\tx\td.example\n5\tx\te.exa",
               sink);
  // The last complete line's record is handed over before Feed returns; a header line flushes first.
  EXPECT_EQ(events, (std::vector<std::string>{"ahead 2", "ahead 3", "sink 2 query=a.example", "sink 3 query=b.example",
                                              "ahead 5", "ahead 6", "sink 5 query=c.example",
                                              "sink 6 query=d.example"}));
  events.clear();
  reader->Feed("mple\n", sink);  // a line completed from the pending bytes goes to the sink at once
  reader->Finish(sink);
  EXPECT_EQ(events, (std::vector<std::string>{"ahead 7", "sink 7 query=e.example"}));
  EXPECT_EQ(reader->stats().records, 5u);
}

TEST(LogReader, ReadAheadPassesOtherRecordsAtOnce) {
  auto reader = Make(Format::kEve);
  std::vector<std::string> events;
  reader->SetReadAhead([&events](const Record& r) { events.push_back(fmt::format("ahead {}", r.line)); });
  reader->Feed(R"({"src_ip":"10.0.0.1"})"
               "\n"
               R"({"src_ip":"10.0.0.2"})"
               "\n",
               [&events](const Record& r) { events.push_back(fmt::format("sink {}", r.line)); });
  EXPECT_EQ(events, (std::vector<std::string>{"ahead 1", "sink 1", "ahead 2", "sink 2"}));
}

// Zeek TSV lines ending right before an unreadable page: the separator search reads whole 16-byte blocks
// only where that cannot fault (else the test crashes), and finds every field of every length.
TEST(LogReader, ZeekLinesEndingAtAPageEdge) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  char* const base = static_cast<char*>(map);
  ASSERT_EQ(mprotect(base + page, page, PROT_NONE), 0);
  for (size_t length = 1; length <= 40; ++length) {
    SCOPED_TRACE(length);
    auto reader = Make(Format::kZeek);
    std::vector<Got> got;
    const auto sink = [&got](const Record& r) {
      got.push_back({r.line, r.offset, r.time_ms.value_or(-1), std::string(r.observables[0].value)});
    };
    reader->Feed("#fields\tts\tx\tquery\n", sink);
    // "7\t-\t" then a name of `length` - 4 bytes, and the '\n' as the page's last byte.
    std::string line = "7\t-\t";
    while (line.size() < length) line += static_cast<char>('a' + line.size() % 26);
    line.resize(length);
    line += '\n';
    char* const at = base + page - line.size();
    std::memcpy(at, line.data(), line.size());
    reader->Feed(std::string_view(at, line.size()), sink);
    line.pop_back();
    reader->Finish(sink);
    if (length < 5) {
      EXPECT_TRUE(got.empty());
      EXPECT_EQ(reader->stats().malformed, length < 4 ? 1u : 0u);
    } else {
      ASSERT_EQ(got.size(), 1u);
      EXPECT_EQ(got[0].observables, line.substr(4));
      EXPECT_EQ(got[0].time_ms, 7000);
    }
  }
  munmap(map, 2 * page);
}

}  // namespace
}  // namespace concord::detect::logs
