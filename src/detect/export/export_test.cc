#include "detect/export/export.h"

#include <malloc.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
// From ASan's allocator interface (gcc ships the function in libasan but not the header).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

#include "detect/export/detail/common.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace concord::detect::exports {
namespace {

namespace fs = std::filesystem;
using pattern::ValueKind;
using ::testing::HasSubstr;

constexpr ExportFormat kAllFormats[] = {ExportFormat::kSuricata, ExportFormat::kSnort, ExportFormat::kZeek,
                                        ExportFormat::kRpz,      ExportFormat::kCsv,   ExportFormat::kText,
                                        ExportFormat::kStix};
constexpr char kBundleId[] = "bundle--00000000-0000-4000-8000-000000000001";

std::optional<ValueKind> KindByName(std::string_view name) {
  for (int k = 0; k <= static_cast<int>(ValueKind::kX509Serial); ++k) {
    if (pattern::ValueKindName(static_cast<ValueKind>(k)) == name) return static_cast<ValueKind>(k);
  }
  return std::nullopt;
}

// Golden input fields use C escapes so hostile bytes can be written down: \t \n \r \0 \\ \xHH.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    switch (c) {
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case '0': out += '\0'; break;
      case 'x':
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
        break;
      default: out += c;
    }
  }
  return out;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

struct Row {  // owns what an ExportIndicator borrows
  std::string id, name, value, valid_until, json;
  ValueKind kind;
  bool subdomains;
  stix::Tlp tlp;
  double score;

  ExportIndicator View() const {
    return {.id = id, .name = name, .kind = kind, .value = value, .include_subdomains = subdomains, .tlp = tlp,
            .score = score, .valid_until = valid_until, .object_json = json};
  }
};

std::vector<std::string> Split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) out.push_back(field);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

std::vector<Row> ReadInput(const fs::path& file) {
  std::vector<Row> rows;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto f = Split(line, '\t');
    EXPECT_GE(f.size(), 8u) << file << ": " << line;
    if (f.size() < 8) continue;
    Row r;
    r.id = Unescape(f[0]);
    auto kind = KindByName(f[1]);
    EXPECT_TRUE(kind.has_value()) << f[1];
    r.kind = kind.value_or(ValueKind::kDomain);
    r.value = Unescape(f[2]);
    r.subdomains = f[3] == "1";
    r.tlp = stix::ParseTlpName(f[4]).value_or(stix::Tlp::kNone);
    r.score = std::stod(f[5]);
    r.valid_until = f[6] == "-" ? "" : f[6];
    r.name = f[7] == "-" ? "" : Unescape(f[7]);
    r.json = f.size() > 8 ? f[8] : fmt::format(R"({{"type":"indicator","id":{}}})", JsonString(r.id));
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string ReadFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

ExportOptions ReadOptions(const fs::path& dir) {
  ExportOptions o;
  o.generated_at = "2025-01-02T03:04:05Z";
  o.bundle_id = kBundleId;
  std::ifstream in(dir / "options.txt");
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "dataset_threshold") o.dataset_threshold = std::stoul(value);
    if (key == "first_sid") o.first_sid = static_cast<uint32_t>(std::stoul(value));
    if (key == "source") o.source = Unescape(value);
    if (key == "rpz_origin") o.rpz_origin = value;
  }
  return o;
}

std::string Summary(const ExportWriter& w) {
  std::string s = fmt::format("written {}", w.written());
  for (const auto& [kind, n] : w.skipped()) s += fmt::format(", skipped {} {}", pattern::ValueKindName(kind), n);
  return s;
}

// --- Rule syntax checks (Suricata 6 is not in Debian 12's archive, so the test parses rules strictly) ------

struct ParsedRule {
  std::string header;
  std::vector<std::pair<std::string, std::string>> options;  // keyword, raw argument
};

// Splits a rule the way Suricata's parser does: options end at ';' outside quotes; inside quotes a backslash
// escapes the next byte. Fails (nullopt) on anything it cannot account for.
std::optional<ParsedRule> ParseRule(std::string_view line) {
  ParsedRule rule;
  const size_t open = line.find('(');
  if (open == std::string_view::npos || line.back() != ')') return std::nullopt;
  rule.header = std::string(line.substr(0, open));
  std::string_view body = line.substr(open + 1, line.size() - open - 2);
  std::string current;
  bool quoted = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) return std::nullopt;
    if (quoted && c == '\\') {
      if (i + 1 == body.size()) return std::nullopt;
      current += c;
      current += body[++i];
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (c == ';' && !quoted) {
      std::string_view opt = current;
      while (!opt.empty() && opt.front() == ' ') opt.remove_prefix(1);
      const size_t colon = opt.find(':');
      rule.options.emplace_back(std::string(opt.substr(0, colon)),
                                colon == std::string_view::npos ? "" : std::string(opt.substr(colon + 1)));
      current.clear();
      continue;
    }
    current += c;
  }
  if (quoted) return std::nullopt;
  for (char c : current) {
    if (c != ' ') return std::nullopt;  // text after the last ';'
  }
  return rule;
}

// Every rule parses, uses only keywords this exporter emits, has msg first and exactly one sid and rev, and
// each quoted argument holds no unescaped quote. An injected option (e.g. `pcre`, a second `sid`) fails.
void CheckRules(const std::string& text, ExportFormat format, std::set<uint32_t>& sids) {
  static const std::set<std::string> kSuricata = {
      "msg", "dns.query", "tls.sni", "http.host", "http.uri", "http.user_agent", "ja3.hash", "content", "nocase",
      "bsize", "dotprefix", "endswith", "dataset", "filename", "filemd5", "filesha1", "filesha256", "classtype",
      "metadata", "sid", "rev"};
  static const std::set<std::string> kSnort = {"msg", "content", "nocase", "offset", "depth", "http_header",
                                               "http_uri", "bufferlen", "classtype", "metadata", "sid", "rev"};
  const auto& allowed = format == ExportFormat::kSuricata ? kSuricata : kSnort;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    SCOPED_TRACE(line);
    auto rule = ParseRule(line);
    ASSERT_TRUE(rule.has_value());
    ASSERT_TRUE(rule->header.ends_with(" "));
    auto head = Split(rule->header.substr(0, rule->header.size() - 1), ' ');
    ASSERT_EQ(head.size(), 7u);
    EXPECT_EQ(head[0], "alert");
    EXPECT_THAT(head[4], ::testing::AnyOf("->", "<>"));
    ASSERT_FALSE(rule->options.empty());
    EXPECT_EQ(rule->options.front().first, "msg");
    std::map<std::string, int> count;
    for (const auto& [keyword, arg] : rule->options) {
      EXPECT_TRUE(allowed.count(keyword)) << "unexpected option " << keyword;
      ++count[keyword];
      if (keyword == "content") {
        // A content argument is a quoted string of plain bytes and |hex| runs, nothing else.
        ASSERT_GE(arg.size(), 2u);
        EXPECT_EQ(arg.front(), '"');
        EXPECT_EQ(arg.back(), '"');
        const std::string inner = arg.substr(1, arg.size() - 2);
        EXPECT_EQ(inner.find_first_of("\";\\"), std::string::npos) << inner;
        EXPECT_EQ(std::count(inner.begin(), inner.end(), '|') % 2, 0) << inner;
      }
      if (keyword == "sid") {
        EXPECT_TRUE(sids.insert(static_cast<uint32_t>(std::stoul(arg))).second) << "dup sid";
      }
    }
    EXPECT_EQ(count["msg"], 1);
    EXPECT_EQ(count["sid"], 1);
    EXPECT_EQ(count["rev"], 1);
    EXPECT_LE(count["metadata"], 1);
  }
}

// `named-checkzone ORIGIN FILE` exit status, or -1 when the tool is not installed.
int NamedCheckzone(const std::string& origin, const fs::path& file, std::string* output) {
  if (std::system("command -v named-checkzone >/dev/null 2>&1") != 0) return -1;
  const std::string cmd = fmt::format("named-checkzone '{}' '{}' 2>&1", origin, file.string());
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) output->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

fs::path TempDir(std::string_view name) {
  fs::path dir = fs::temp_directory_path() / fmt::format("concord-export-{}-{}", name, getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// --- Golden cases --------------------------------------------------------------------------------------

TEST(ExportGolden, EveryCaseEveryFormat) {
  const fs::path root = fs::path(CONCORD_SOURCE_DIR) / "tests/cases/exports";
  const bool update = std::getenv("CONCORD_UPDATE_GOLDEN") != nullptr;
  ASSERT_TRUE(fs::is_directory(root)) << root;
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    const fs::path dir = entry.path();
    SCOPED_TRACE(dir.filename().string());
    ++cases;
    const std::vector<Row> rows = ReadInput(dir / "input.tsv");
    const ExportOptions options = ReadOptions(dir);
    std::string summary;
    for (ExportFormat format : kAllFormats) {
      const std::string fname(ExportFormatName(format));
      SCOPED_TRACE(fname);
      const fs::path out_dir = TempDir(dir.filename().string() + "-" + fname);
      // The output set stays open while the files are compared: Finish() must have flushed every output,
      // leaving nothing buffered.
      auto out = DirectoryOutput(out_dir, "main");
      {
        auto writer = ExportWriter::Create(format, *out, options);
        ASSERT_TRUE(writer.ok()) << writer.status();
        for (const Row& r : rows) ASSERT_TRUE((*writer)->Add(r.View()).ok());
        ASSERT_TRUE((*writer)->Finish().ok());
        summary += fmt::format("{}: {}\n", fname, Summary(**writer));
      }
      // Every file produced has an expected twin, and the other way round.
      std::set<std::string> produced;
      for (const auto& f : fs::directory_iterator(out_dir)) {
        const std::string n = f.path().filename().string();
        const std::string expected_name = n == "main" ? "expected." + fname : "expected." + fname + "." + n;
        produced.insert(expected_name);
        if (update) fs::copy_file(f.path(), dir / expected_name, fs::copy_options::overwrite_existing);
        EXPECT_EQ(ReadFile(f.path()), ReadFile(dir / expected_name)) << expected_name;
      }
      for (const auto& f : fs::directory_iterator(dir)) {
        const std::string n = f.path().filename().string();
        const bool mine = n == "expected." + fname || n.starts_with("expected." + fname + ".");
        if (mine && !produced.count(n)) {
          if (update) fs::remove(f.path());
          ADD_FAILURE() << "expected file not produced: " << n;
        }
      }
      const std::string main_text = ReadFile(out_dir / "main");
      if (format == ExportFormat::kSuricata || format == ExportFormat::kSnort) {
        std::set<uint32_t> sids;
        CheckRules(main_text, format, sids);
      }
      if (format == ExportFormat::kRpz) {
        std::string output;
        const int rc = NamedCheckzone(options.rpz_origin, out_dir / "main", &output);
        if (rc != -1) {
          EXPECT_EQ(rc, 0) << output;
        }
      }
      out.reset();
      fs::remove_all(out_dir);
    }
    if (update) std::ofstream(dir / "expected.summary", std::ios::binary) << summary;
    EXPECT_EQ(summary, ReadFile(dir / "expected.summary"));
  }
  EXPECT_GE(cases, 3);
}

TEST(ExportGolden, RpzPassesNamedCheckzone) {
  std::string probe;
  if (NamedCheckzone("x", "/nonexistent", &probe) == -1) GTEST_SKIP() << "named-checkzone not installed";
  // A zone with every trigger shape; the golden runner checks the case files too.
  std::ostringstream zone;
  auto out = StreamOutput(zone);
  ExportOptions o;
  o.generated_at = "2025-06-01T00:00:00Z";
  auto w = ExportWriter::Create(ExportFormat::kRpz, *out, o);
  ASSERT_TRUE(w.ok());
  const std::vector<std::pair<ValueKind, std::string>> values = {
      {ValueKind::kDomain, "evil.example"}, {ValueKind::kIpv4, "192.0.2.1"}, {ValueKind::kCidr4, "198.51.100.0/24"},
      {ValueKind::kIpv6, "2001:db8::1"},   {ValueKind::kCidr6, "2001:db8:0:1::/64"},
      {ValueKind::kIpv6, "::"},             {ValueKind::kIpv6, "1:0:0:2:0:0:0:3"}};
  for (const auto& [kind, value] : values) {
    ASSERT_TRUE((*w)->Add({.id = "indicator--1", .kind = kind, .value = value, .include_subdomains = true}).ok());
  }
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_THAT(zone.str(), HasSubstr("32.1.2.0.192.rpz-ip CNAME ."));
  EXPECT_THAT(zone.str(), HasSubstr("24.0.100.51.198.rpz-ip CNAME ."));
  EXPECT_THAT(zone.str(), HasSubstr("128.1.zz.db8.2001.rpz-ip CNAME ."));
  EXPECT_THAT(zone.str(), HasSubstr("64.zz.1.0.db8.2001.rpz-ip CNAME ."));
  EXPECT_THAT(zone.str(), HasSubstr("128.zz.rpz-ip CNAME ."));
  EXPECT_THAT(zone.str(), HasSubstr("128.3.zz.2.0.0.1.rpz-ip CNAME ."));  // the longer run wins
  EXPECT_THAT(zone.str(), HasSubstr("*.evil.example CNAME ."));
  EXPECT_THAT(zone.str(), HasSubstr(" 1748736000 "));  // serial = generated_at in Unix seconds
  const fs::path dir = TempDir("rpz");
  std::ofstream(dir / "zone") << zone.str();
  std::string output;
  EXPECT_EQ(NamedCheckzone(o.rpz_origin, dir / "zone", &output), 0) << output << zone.str();
  fs::remove_all(dir);
}

// --- Unit behaviour ------------------------------------------------------------------------------------

TEST(ExportFormat, NamesRoundTrip) {
  for (ExportFormat f : kAllFormats) EXPECT_EQ(ParseExportFormat(ExportFormatName(f)), f);
  EXPECT_EQ(ParseExportFormat("Suricata"), std::nullopt);
  EXPECT_EQ(ParseExportFormat(""), std::nullopt);
}

TEST(OutputSet, StreamOutputRefusesNamedOutputs) {
  std::ostringstream s;
  auto out = StreamOutput(s);
  auto main = out->Open("");
  ASSERT_TRUE(main.ok());
  EXPECT_EQ(*main, &s);
  auto extra = out->Open("concord-md5.txt");
  EXPECT_EQ(extra.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(extra.status().message()), HasSubstr("needs a directory"));
  EXPECT_FALSE(out->AcceptsNamedOutputs());
}

TEST(OutputSet, DirectoryOutputRefusesPaths) {
  const fs::path dir = TempDir("paths");
  auto out = DirectoryOutput(dir, "main");
  EXPECT_EQ(out->Open("../x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out->Open("..").status().code(), absl::StatusCode::kInvalidArgument);
  auto a = out->Open("a.lst");
  auto b = out->Open("a.lst");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  fs::remove_all(dir);
}

TEST(SuricataWriter, StreamOutputFallsBackToRulesAndSkipsHashes) {
  std::ostringstream s;
  auto out = StreamOutput(s);
  ExportOptions o;
  o.dataset_threshold = 0;  // would aggregate everything into datasets with a directory
  auto w = ExportWriter::Create(ExportFormat::kSuricata, *out, o);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Add({.id = "indicator--1", .kind = ValueKind::kDomain, .value = "evil.example"}).ok());
  ASSERT_TRUE((*w)->Add({.id = "indicator--1", .kind = ValueKind::kMd5, .value = std::string(32, 'a')}).ok());
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_THAT(s.str(), HasSubstr("dns.query; content:\"evil.example\"; nocase; bsize:12;"));
  EXPECT_EQ((*w)->written(), 1u);
  EXPECT_EQ((*w)->skipped().at(ValueKind::kMd5), 1u);
}

TEST(SuricataWriter, AddressesBeyondThresholdAreChunked) {
  std::ostringstream s;
  auto out = StreamOutput(s);
  ExportOptions o;
  o.dataset_threshold = 1;
  auto w = ExportWriter::Create(ExportFormat::kSuricata, *out, o);
  ASSERT_TRUE(w.ok());
  std::vector<std::string> ips;
  for (int i = 0; i < 251; ++i) ips.push_back(fmt::format("10.0.{}.{}", i / 200, i % 200));
  for (const auto& ip : ips) ASSERT_TRUE((*w)->Add({.id = "indicator--1", .kind = ValueKind::kIpv4, .value = ip}).ok());
  ASSERT_TRUE((*w)->Finish().ok());
  // One attributed rule, then 250 addresses in chunks of 100, 100, 50.
  const std::string text = s.str();
  EXPECT_THAT(text, HasSubstr("alert ip any any <> 10.0.0.0 any (msg:\"Concord ipv4 10.0.0.0 (indicator--1)\";"));
  EXPECT_THAT(text, HasSubstr("address list 1 (100 values)"));
  EXPECT_THAT(text, HasSubstr("address list 2 (100 values)"));
  EXPECT_THAT(text, HasSubstr("address list 3 (50 values)"));
  EXPECT_THAT(text, HasSubstr("<> [10.0.0.1,10.0.0.2,"));
  std::set<uint32_t> sids;
  CheckRules(text, ExportFormat::kSuricata, sids);
  EXPECT_EQ(sids.size(), 4u);
  EXPECT_EQ(*sids.begin(), 9'100'000u);
}

TEST(RuleParser, DetectsInjectedOption) {
  // The checker itself must catch what escaping prevents, or the golden checks prove nothing.
  std::set<uint32_t> sids;
  EXPECT_NONFATAL_FAILURE(
      CheckRules("alert ip any any <> 1.2.3.4 any (msg:\"x\"; content:\"a\"; pcre:\"/b/\"; sid:1; rev:1;)\n",
                 ExportFormat::kSuricata, sids),
      "unexpected option pcre");
}

TEST(StixWriter, RequiresBundleId) {
  std::ostringstream s;
  auto out = StreamOutput(s);
  EXPECT_EQ(ExportWriter::Create(ExportFormat::kStix, *out, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StixWriter, EmptyBundleIsValid) {
  std::ostringstream s;
  auto out = StreamOutput(s);
  ExportOptions o;
  o.bundle_id = kBundleId;
  auto w = ExportWriter::Create(ExportFormat::kStix, *out, o);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_EQ(s.str(), std::string(R"({"type":"bundle","id":")") + kBundleId + R"(","objects":[]})" + "\n");
}

TEST(RpzWriter, RejectsBadOrigin) {
  std::ostringstream s;
  auto out = StreamOutput(s);
  ExportOptions o;
  o.rpz_origin = "bad origin\n";
  EXPECT_EQ(ExportWriter::Create(ExportFormat::kRpz, *out, o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExportWriter, FailedStreamIsDataLoss) {
  std::ostringstream s;
  s.setstate(std::ios::badbit);
  auto out = StreamOutput(s);
  auto w = ExportWriter::Create(ExportFormat::kCsv, *out, {});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->Add({.id = "indicator--1", .kind = ValueKind::kDomain, .value = "a.b"}).code(),
            absl::StatusCode::kDataLoss);
}

TEST(Helpers, Base64) {
  EXPECT_EQ(detail::Base64(""), "");
  EXPECT_EQ(detail::Base64("f"), "Zg==");
  EXPECT_EQ(detail::Base64("fo"), "Zm8=");
  EXPECT_EQ(detail::Base64("foo"), "Zm9v");
  EXPECT_EQ(detail::Base64("google.com"), "Z29vZ2xlLmNvbQ==");  // Suricata's documented example
}

TEST(Helpers, RuleContentHexesSpecialBytes) {
  EXPECT_EQ(detail::RuleContent("a\";b|\\c"), "a|22 3B|b|7C 5C|c");
  EXPECT_EQ(detail::RuleContent(std::string_view("\0\n", 2)), "|00 0A|");
  EXPECT_EQ(detail::RuleContent("evil.example"), "evil.example");
}

TEST(Helpers, ParseIpValue) {
  auto ip = detail::ParseIpValue(ValueKind::kCidr4, "10.1.2.3/8");
  ASSERT_TRUE(ip.has_value());
  EXPECT_EQ(detail::FormatIp(*ip), "10.0.0.0/8");
  EXPECT_FALSE(detail::ParseIpValue(ValueKind::kIpv4, "10.0.0.0/8").has_value());
  EXPECT_FALSE(detail::ParseIpValue(ValueKind::kIpv4, "1.2.3.4\"; sid:1;").has_value());
  EXPECT_FALSE(detail::ParseIpValue(ValueKind::kIpv6, "1.2.3.4").has_value());
  EXPECT_FALSE(detail::ParseIpValue(ValueKind::kCidr6, "2001:db8::/129").has_value());
  EXPECT_FALSE(detail::ParseIpValue(ValueKind::kDomain, "1.2.3.4").has_value());
}

// --- Streaming: constant memory ----------------------------------------------------------------------------

// Discards bytes, counting them.
class CountingBuf : public std::streambuf {
 public:
  uint64_t count = 0;

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) ++count;
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char*, std::streamsize n) override {
    count += static_cast<uint64_t>(n);
    return n;
  }
};

class CountingOutputSet : public OutputSet {
 public:
  absl::StatusOr<std::ostream*> Open(std::string_view name) override {
    for (auto& s : streams_) {
      if (s->name == name) return &s->stream;
    }
    streams_.push_back(std::make_unique<Stream>(std::string(name)));
    return &streams_.back()->stream;
  }
  uint64_t Total() const {
    uint64_t n = 0;
    for (const auto& s : streams_) n += s->buf.count;
    return n;
  }
  size_t Outputs() const { return streams_.size(); }

 private:
  struct Stream {
    explicit Stream(std::string n) : name(std::move(n)), stream(&buf) {}
    std::string name;
    CountingBuf buf;
    std::ostream stream;
  };
  std::vector<std::unique_ptr<Stream>> streams_;
};

size_t HeapInUse() {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

TEST(ExportStreaming, TwoHundredThousandIndicatorsInConstantMemory) {
  constexpr int kCount = 200'000;
  const ValueKind kinds[] = {ValueKind::kDomain, ValueKind::kIpv4, ValueKind::kSha256, ValueKind::kUrl,
                             ValueKind::kCidr6, ValueKind::kUserAgent};
  for (ExportFormat format : kAllFormats) {
    SCOPED_TRACE(std::string(ExportFormatName(format)));
    CountingOutputSet out;
    ExportOptions o;
    o.bundle_id = kBundleId;
    o.dataset_threshold = 1000;
    auto w = ExportWriter::Create(format, out, o);
    ASSERT_TRUE(w.ok());
    std::string id, value, json;
    size_t heap_after_warmup = 0;
    for (int i = 0; i < kCount; ++i) {
      const ValueKind kind = kinds[i % 6];
      id = fmt::format("indicator--00000000-0000-4000-8000-{:012d}", i / 2);  // two values per indicator
      switch (kind) {
        case ValueKind::kDomain: value = fmt::format("host{}.example", i); break;
        case ValueKind::kIpv4: value = fmt::format("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255); break;
        case ValueKind::kSha256: value = fmt::format("{:064x}", i); break;
        case ValueKind::kUrl: value = fmt::format("http://u{}.example/p?q={}", i, i); break;
        case ValueKind::kCidr6: value = fmt::format("2001:db8:{:x}::/48", i & 0xffff); break;
        default: value = fmt::format("agent/{}", i);
      }
      json = fmt::format(R"({{"type":"indicator","id":"{}"}})", id);
      ASSERT_TRUE((*w)->Add({.id = id, .name = "n", .kind = kind, .value = value, .tlp = stix::Tlp::kGreen,
                             .score = 50, .object_json = json})
                      .ok());
      if (i == 20'000) heap_after_warmup = HeapInUse();
    }
    const size_t heap_at_end = HeapInUse();
    ASSERT_TRUE((*w)->Finish().ok());
    // Past the warm-up (aggregation thresholds reached, buffers grown) the heap stays flat while 180,000 more
    // values pass through: nothing per indicator is kept.
    EXPECT_LT(heap_at_end, heap_after_warmup + 64 * 1024) << heap_after_warmup << " → " << heap_at_end;
    EXPECT_GT(out.Total(), static_cast<uint64_t>(kCount) * 5);
    uint64_t skipped = 0;
    for (const auto& [k, n] : (*w)->skipped()) skipped += n;
    EXPECT_EQ((*w)->written() + skipped, static_cast<uint64_t>(kCount));
  }
}

}  // namespace
}  // namespace concord::detect::exports
