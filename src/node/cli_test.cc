// End-to-end tests of the `concord` command line, in process, on the real shared data.
#include "node/cli.h"
#include "node/config.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "common/json.h"
#include "fmt/format.h"

namespace concord::node {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("concord_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "concord.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result Run(std::vector<std::string> args) {
    args.insert(args.begin(), "concord");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    const int code = RunCli(static_cast<int>(argv.size()), argv.data(), out, err);
    return {code, out.str(), err.str()};
  }
  std::string Write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  static std::string Shared(const std::string& rel) { return std::string(CONCORD_SHARED_DATA) + "/" + rel; }
  static boost::json::value ReadJson(const std::string& path) {
    std::ifstream in(path);
    std::stringstream buf;
    buf << in.rdbuf();
    return boost::json::parse(buf.str());
  }

  fs::path dir_;
  std::string db_;
};

boost::json::object Totals(const std::string& json_report) {
  return boost::json::parse(json_report).as_object().at("totals").as_object();
}

TEST_F(CliTest, HelpOnEveryCommand) {
  for (std::vector<std::string> cmd :
       {std::vector<std::string>{"--help"}, {"import", "--help"}, {"export", "--help"}, {"get", "--help"},
        {"stats", "--help"}, {"pattern", "--help"}, {"pattern", "validate", "--help"},
        {"pattern", "match", "--help"}}) {
    Result r = Run(cmd);
    EXPECT_EQ(r.code, 0) << cmd.front();
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << r.out;
  }
  Result bad = Run({"frobnicate"});
  EXPECT_EQ(bad.code, 2);
}

// Every setting of the configuration file has a flag of `concord serve` (node.db and log.level: the global
// --db and --log-level, which serve reads too).
TEST_F(CliTest, ServeHasAFlagForEverySettingOfTheFile) {
  const std::map<std::string, std::string> flag_of = {
      {"node.name", "--name"},
      {"node.db", "--db"},
      {"node.default_distribution", "--default-distribution"},
      {"node.row_cache_mb", "--row-cache-mb"},
      {"server.listen", "--listen"},
      {"server.insecure_http", "--insecure-http"},
      {"server.tls_cert", "--tls-cert"},
      {"server.tls_key", "--tls-key"},
      {"server.client_ca", "--client-ca"},
      {"server.require_client_cert", "--require-client-cert"},
      {"server.max_body_bytes", "--max-body-bytes"},
      {"server.max_header_bytes", "--max-header-bytes"},
      {"server.max_connections", "--max-connections"},
      {"server.read_timeout_ms", "--read-timeout-ms"},
      {"server.idle_timeout_ms", "--idle-timeout-ms"},
      {"server.max_streams", "--max-streams"},
      {"server.stream_heartbeat_ms", "--stream-heartbeat-ms"},
      {"server.io_threads", "--io-threads"},
      {"server.worker_threads", "--worker-threads"},
      {"server.rate_limit_per_second", "--rate-limit"},
      {"server.rate_limit_burst", "--rate-limit-burst"},
      {"server.shutdown_grace_ms", "--shutdown-grace-ms"},
      {"server.require_justification_for_red", "--require-justification-for-red"},
      {"detect.warninglists", "--warninglists"},
      {"detect.rebuild_interval_ms", "--detect-rebuild-interval-ms"},
      {"detect.decay", "--decay"},
      {"log.level", "--log-level"},
      {"log.format", "--log-format"},
  };
  Result help = Run({"serve", "--help"});
  ASSERT_EQ(help.code, 0) << help.err;
  Result global = Run({"--help"});
  // The flag as a whole word of the help (not the start of a longer one).
  auto lists = [](const std::string& text, const std::string& flag) {
    for (size_t at = text.find(flag); at != std::string::npos; at = text.find(flag, at + 1)) {
      const size_t end = at + flag.size();
      if (end == text.size() || text[end] == ' ' || text[end] == '\n') return true;
    }
    return false;
  };
  for (const std::string& key : ConfigKeys()) {
    const auto it = flag_of.find(key);
    ASSERT_NE(it, flag_of.end()) << key << " has no flag in this test's table";
    const bool global_flag = key == "node.db" || key == "log.level";
    EXPECT_TRUE(lists(global_flag ? global.out : help.out, it->second)) << key << ": " << it->second;
  }
  EXPECT_EQ(flag_of.size(), ConfigKeys().size());
}

TEST_F(CliTest, IcsAttackRoundTripsEveryObject) {
  const std::string ics = Shared("attack/ics-attack-18.1.json");
  Result r = Run({"import", "--db", db_, "--json", ics});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  auto totals = Totals(r.out);
  EXPECT_EQ(totals.at("new").as_int64(), 1826);
  EXPECT_EQ(totals.at("rejected").as_int64(), 0);

  const std::string out = (dir_ / "export.json").string();
  Result e = Run({"export", "--db", db_, "-o", out});
  ASSERT_EQ(e.code, 0) << e.err;
  auto original = ReadJson(ics).as_object().at("objects").as_array();
  auto exported = ReadJson(out).as_object().at("objects").as_array();
  ASSERT_EQ(exported.size(), 1826u);
  std::map<std::string, boost::json::value> by_id;
  for (auto& o : exported) by_id[std::string(o.as_object().at("id").as_string())] = o;
  for (const auto& o : original) {
    const std::string id(o.as_object().at("id").as_string());
    ASSERT_TRUE(by_id.count(id)) << id;
    EXPECT_EQ(by_id[id], o) << id;
  }

  // Re-importing changes nothing.
  Result again = Run({"import", "--db", db_, "--json", ics});
  EXPECT_EQ(Totals(again.out).at("unchanged").as_int64(), 1826);
  EXPECT_EQ(Totals(again.out).at("new").as_int64(), 0);
}

// Figures worked out independently by tests/oracle/attack_versions.py (plain Python json): 17.1 holds 2,148 objects,
// all ids known from 17.0; 561 have a later `modified`; 258 are identical; 1,329 keep `modified` but add
// x_mitre_deprecated — a producer error that keeps the stored version.
TEST_F(CliTest, MobileAttackVersionFigures) {
  Result first = Run({"import", "--db", db_, "--json", Shared("attack/mobile-attack-17.0.json")});
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_EQ(Totals(first.out).at("new").as_int64(), 2150);
  Result second = Run({"import", "--db", db_, "--json", Shared("attack/mobile-attack-17.1.json")});
  ASSERT_EQ(second.code, 0) << second.err;
  auto totals = Totals(second.out);
  EXPECT_EQ(totals.at("new").as_int64(), 0);
  EXPECT_EQ(totals.at("new_version").as_int64(), 561);
  EXPECT_EQ(totals.at("unchanged").as_int64(), 258);
  EXPECT_EQ(totals.at("conflict").as_int64(), 1329);
  EXPECT_EQ(totals.at("rejected").as_int64(), 0);

  Result stats = Run({"stats", "--db", db_, "--json"});
  ASSERT_EQ(stats.code, 0);
  auto s = boost::json::parse(stats.out).as_object();
  EXPECT_EQ(s.at("objects").as_int64(), 2150);
  EXPECT_EQ(s.at("versions").as_int64(), 2150 + 561);
}

TEST_F(CliTest, EveryOasisExampleIsValid) {
  for (const auto& entry : fs::directory_iterator(Shared("stix-examples"))) {
    if (entry.path().extension() != ".json") continue;
    Result r = Run({"import", "--db", db_, "--json", entry.path().string()});
    EXPECT_EQ(r.code, 0) << entry.path() << r.out << r.err;
    EXPECT_EQ(Totals(r.out).at("rejected").as_int64(), 0) << entry.path() << r.out;
  }
}

TEST_F(CliTest, InvalidObjectsAreReportedAndValidOnesStored) {
  const std::string file = Write("mixed.json", R"({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
 {"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--9e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[ipv4-addr:value = ","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"},
 {"type":"malware","spec_version":"2.1","id":"malware--aaaaaaaa-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-05T20:03:48.000Z","name":"x","is_family":false},
 42
]})");
  Result r = Run({"import", "--db", db_, "--json", file});
  EXPECT_EQ(r.code, 1);
  auto doc = boost::json::parse(r.out).as_object();
  EXPECT_EQ(doc.at("totals").at("new").as_int64(), 1);
  EXPECT_EQ(doc.at("totals").at("rejected").as_int64(), 3);
  const auto& rejected = doc.at("rejected").as_array();
  ASSERT_EQ(rejected.size(), 3u);
  EXPECT_EQ(rejected[0].at("index").as_int64(), 1);
  EXPECT_EQ(rejected[0].at("id").as_string(), "indicator--9e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
  EXPECT_EQ(rejected[0].at("field").as_string(), "pattern");
  EXPECT_EQ(rejected[1].at("index").as_int64(), 2);
  EXPECT_EQ(rejected[1].at("field").as_string(), "modified");
  EXPECT_EQ(rejected[2].at("index").as_int64(), 3);
  EXPECT_EQ(rejected[2].at("reason").as_string(), "expected a STIX object, found a JSON integer");

  // The valid one is there; the refused ones are not.
  EXPECT_EQ(Run({"get", "--db", db_, "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}).code, 0);
  Result missing = Run({"get", "--db", db_, "malware--aaaaaaaa-17d4-4cbf-938f-98ee46b3cd3f"});
  EXPECT_EQ(missing.code, 1);

  // --strict refuses the whole file.
  const std::string db2 = (dir_ / "strict.db").string();
  Result strict = Run({"import", "--db", db2, "--strict", "--json", file});
  EXPECT_EQ(strict.code, 1);
  EXPECT_EQ(Totals(strict.out).at("new").as_int64(), 0);
}

TEST_F(CliTest, JsonLinesAndBrokenFiles) {
  const std::string lines = Write("objects.jsonl",
      R"({"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"}
{"type":"domain-name","spec_version":"2.1","id":"domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7","value":"example.com"}
{"type": "broken"
)");
  Result r = Run({"import", "--db", db_, "--json", lines});
  EXPECT_EQ(r.code, 1);
  auto doc = boost::json::parse(r.out).as_object();
  EXPECT_EQ(doc.at("totals").at("new").as_int64(), 2);
  EXPECT_EQ(doc.at("rejected").as_array()[0].at("index").as_int64(), 2);

  const std::string truncated = Write("truncated.json", R"({"type":"bundle","objects":[{"type":)");
  Result t = Run({"import", "--db", db_, "--json", truncated});
  EXPECT_EQ(t.code, 1);
  auto tdoc = boost::json::parse(t.out).as_object();
  ASSERT_EQ(tdoc.at("file_errors").as_array().size(), 1u);

  Result none = Run({"import", "--db", db_, (dir_ / "nope.json").string()});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("cannot open"), std::string::npos) << none.err;
}

TEST_F(CliTest, GetVersionsAndExportFilters) {
  const std::string v1 = Write("v1.json", R"({"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z","name":"Poison Ivy","is_family":true})");
  const std::string v2 = Write("v2.json", R"({"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09.000Z","modified":"2017-01-01T00:00:00.000Z","name":"Poison Ivy RAT","is_family":true})");
  ASSERT_EQ(Run({"import", "--db", db_, v2, v1}).code, 0);
  Result cur = Run({"get", "--db", db_, "--json", "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"});
  ASSERT_EQ(cur.code, 0);
  EXPECT_EQ(boost::json::parse(cur.out).at("name").as_string(), "Poison Ivy RAT");
  Result old = Run({"get", "--db", db_, "--json", "--version", "2016-04-06T20:07:09Z",
                    "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"});
  ASSERT_EQ(old.code, 0) << old.err;
  EXPECT_EQ(boost::json::parse(old.out).at("name").as_string(), "Poison Ivy");
  Result versions = Run({"get", "--db", db_, "--json", "--versions", "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"});
  ASSERT_EQ(versions.code, 0);
  EXPECT_EQ(boost::json::parse(versions.out).as_array().size(), 2u);

  Result all = Run({"export", "--db", db_, "--all-versions"});
  EXPECT_EQ(boost::json::parse(all.out).at("objects").as_array().size(), 2u);
  Result since = Run({"export", "--db", db_, "--modified-since", "2016-12-31T00:00:00Z", "--all-versions"});
  EXPECT_EQ(boost::json::parse(since.out).at("objects").as_array().size(), 1u);
  Result by_type = Run({"export", "--db", db_, "--type", "indicator"});
  EXPECT_EQ(boost::json::parse(by_type.out).at("objects").as_array().size(), 0u);
}

// ---- export audit --------------------------------------------------------------------------------------

std::string ExpectedCliUser() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr ? std::string("cli:") + pw->pw_name : fmt::format("cli:uid:{}", ::geteuid());
}

std::string IdentityId(int n) { return fmt::format("identity--00000000-0000-4000-8000-{:012d}", n); }
std::string Identity(int n) {
  return fmt::format(R"({{"type":"identity","spec_version":"2.1","id":"{}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"org {}"}})",
                     IdentityId(n), n);
}

// An output that takes `capacity` bytes and then fails, as a full disk or a closed pipe does.
class FullAfter : public std::streambuf {
 public:
  explicit FullAfter(size_t capacity) : capacity_(capacity) {}
  const std::string& written() const { return written_; }

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    if (written_.size() >= capacity_) return traits_type::eof();
    written_.push_back(traits_type::to_char_type(c));
    return c;
  }

 private:
  size_t capacity_;
  std::string written_;
};

// Stored details come back with their members sorted: compare canonical forms (RFC 8785).
std::string Obj(const std::string& text) { return CanonicalJson(boost::json::parse(text)); }

std::vector<audit::Entry> EntriesOf(const std::string& db, audit::Action action) {
  auto log = audit::OpenAuditLog(db, {.read_only = true});
  EXPECT_TRUE(log.ok()) << log.status();
  if (!log.ok()) return {};
  auto page = (*log)->List({.action = action, .limit = 1000});
  EXPECT_TRUE(page.ok()) << page.status();
  return page.ok() ? page->entries : std::vector<audit::Entry>{};
}
std::vector<audit::Entry> ExportEntries(const std::string& db) { return EntriesOf(db, audit::Action::kExport); }

// Identities 0 to 10,002 recorded 10,000 ids per entry: the first entry names 0-9,999 in order, the second the rest.
void ExpectIdentitiesInTwoEntries(const std::vector<audit::Entry>& entries) {
  ASSERT_EQ(entries.size(), 2u);
  ASSERT_EQ(entries[0].event.object_ids.size(), 10'000u);
  for (int i = 0; i < 10'000; ++i) ASSERT_EQ(entries[0].event.object_ids[static_cast<size_t>(i)], IdentityId(i));
  EXPECT_EQ(entries[1].event.object_ids,
            (std::vector<std::string>{IdentityId(10'000), IdentityId(10'001), IdentityId(10'002)}));
}

// An import is a write: one entry per committed batch that stored something, naming the ids stored (new or new
// version) with the batch's outcome counts; a batch that stored nothing leaves none.
TEST_F(CliTest, ImportIsAuditedOneEntryPerBatch) {
  std::string lines;
  for (int i = 0; i < 10'003; ++i) lines += Identity(i) + "\n";
  const std::string first = Write("many.jsonl", lines);
  ASSERT_EQ(Run({"import", "--db", db_, "-q", first}).code, 0);
  std::vector<audit::Entry> entries = EntriesOf(db_, audit::Action::kWrite);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(CanonicalJson(entries[0].event.detail),
            Obj(fmt::format(R"({{"command":"import","files":["{}"],"batch":1,"totals":{{"new":10000,"new_version":0,)"
                            R"("unchanged":0,"conflict":0,"rejected":0}}}})",
                            first)));
  EXPECT_EQ(CanonicalJson(entries[1].event.detail),
            Obj(fmt::format(R"({{"command":"import","files":["{}"],"batch":2,"totals":{{"new":3,"new_version":0,)"
                            R"("unchanged":0,"conflict":0,"rejected":0}}}})",
                            first)));
  ExpectIdentitiesInTwoEntries(entries);
  for (const audit::Entry& e : entries) {
    EXPECT_EQ(e.event.user, ExpectedCliUser());
    EXPECT_EQ(e.event.remote_address, "local");
    EXPECT_EQ(e.event.outcome, "ok");
  }

  // The same file again stores nothing: no entry.
  ASSERT_EQ(Run({"import", "--db", db_, "-q", first}).code, 0);
  EXPECT_EQ(EntriesOf(db_, audit::Action::kWrite).size(), 2u);

  // A new version, a conflict (same modified, other content) and a new object: "partial", the two stored ids.
  const std::string later = Write(
      "later.jsonl",
      fmt::format(R"({{"type":"identity","spec_version":"2.1","id":"{}","created":"2024-01-01T00:00:00.000Z","modified":"2024-02-01T00:00:00.000Z","name":"renamed"}})"
                  "\n"
                  R"({{"type":"identity","spec_version":"2.1","id":"{}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"other"}})"
                  "\n{}\n",
                  IdentityId(1), IdentityId(2), Identity(20'000)));
  Result r = Run({"import", "--db", db_, "-q", later});
  EXPECT_EQ(r.code, 0) << r.err;
  entries = EntriesOf(db_, audit::Action::kWrite);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].event.outcome, "partial");
  EXPECT_EQ(entries[2].event.object_ids, (std::vector<std::string>{IdentityId(1), IdentityId(20'000)}));
  EXPECT_EQ(CanonicalJson(entries[2].event.detail.at("totals")),
            Obj(R"({"new":1,"new_version":1,"unchanged":0,"conflict":1,"rejected":0})"));
}

// An import that cannot be audited does not start: nothing is stored.
TEST_F(CliTest, ImportWithoutAnAuditLogStoresNothing) {
  fs::create_directories(dir_ / "concord.audit.db");  // where the audit file would be: it cannot be opened
  Result r = Run({"import", "--db", db_, "-q", Write("one.jsonl", Identity(1) + "\n")});
  EXPECT_EQ(r.code, 2);  // an error, not a report of problems with the input (1)
  EXPECT_NE(r.err.find("the audit log cannot be opened, so nothing is done"), std::string::npos) << r.err;
  fs::remove_all(dir_ / "concord.audit.db");
  Result get = Run({"get", "--db", db_, IdentityId(1)});
  EXPECT_EQ(get.code, 1) << get.out;
  EXPECT_EQ(get.err, fmt::format("concord: object {} not found\n", IdentityId(1)));
}

TEST_F(CliTest, ExportIsAuditedTenThousandIdsPerEntry) {
  std::string lines;
  for (int i = 0; i < 10'003; ++i) lines += Identity(i) + "\n";
  ASSERT_EQ(Run({"import", "--db", db_, "-q", Write("many.jsonl", lines)}).code, 0);
  const std::string path = (dir_ / "out" / ".." / "export.json").string();
  const std::string normal = (dir_ / "export.json").string();
  fs::create_directories(dir_ / "out");
  Result r = Run({"export", "--db", db_, "--type", "identity", "-o", path, "--justification", "case 2025-17: CERT-EU"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadJson(normal).at("objects").as_array().size(), 10'003u);

  const std::vector<audit::Entry> entries = ExportEntries(db_);
  ASSERT_EQ(entries.size(), 2u);
  const std::string filter = R"("filter":{"types":["identity"],"ids":[],"modified_since":"","all_versions":false})";
  EXPECT_EQ(CanonicalJson(entries[0].event.detail),
            Obj(fmt::format(R"({{"format":"stix",{},"output":"{}","chunk":1,"objects":10000}})", filter, normal)));
  EXPECT_EQ(CanonicalJson(entries[1].event.detail),
            Obj(fmt::format(R"({{"format":"stix",{},"output":"{}","chunk":2,"objects":3}})", filter, normal)));
  ExpectIdentitiesInTwoEntries(entries);
  for (const audit::Entry& e : entries) {
    EXPECT_EQ(e.event.user, ExpectedCliUser());
    EXPECT_EQ(e.event.org, "");
    EXPECT_EQ(e.event.remote_address, "local");
    EXPECT_EQ(e.event.outcome, "ok");
    EXPECT_EQ(e.event.justification, "case 2025-17: CERT-EU");
  }
  Result verify = Run({"audit", "verify", "--db", db_});
  EXPECT_EQ(verify.code, 0) << verify.err;
  EXPECT_EQ(verify.out.substr(0, 29), "audit log intact: 4 entries, ");  // 2 of the import, 2 of the export
}

TEST_F(CliTest, ExportThatFailsMidwayRecordsWhatWasWritten) {
  ASSERT_EQ(Run({"import", "--db", db_, "-q", Write("three.jsonl", Identity(1) + "\n" + Identity(2) + "\n" + Identity(3) + "\n")})
                .code,
            0);
  // Room for the bundle's head and the first object, not for the second.
  const size_t head = std::string(R"({"type":"bundle","id":"bundle--)").size() + 36 + std::string(R"(","objects":[)").size();
  FullAfter full(head + 1 + Identity(1).size() + 10);
  std::ostream out(&full);
  std::ostringstream err;
  const std::vector<const char*> argv = {"concord", "export", "--db", db_.c_str()};
  EXPECT_EQ(RunCli(static_cast<int>(argv.size()), argv.data(), out, err), 2);
  EXPECT_EQ(err.str(), "concord: write to the output failed\n");

  // Nothing matched: still an export, of nothing.
  ASSERT_EQ(Run({"export", "--db", db_, "--type", "indicator"}).code, 0);
  Result long_reason = Run({"export", "--db", db_, "--justification", std::string(1025, 'x')});
  EXPECT_EQ(long_reason.code, 2);
  EXPECT_EQ(long_reason.err, "concord: --justification: at most 1024 bytes, got 1025\n");

  const std::vector<audit::Entry> entries = ExportEntries(db_);
  ASSERT_EQ(entries.size(), 3u);
  const std::string all = R"({"format":"stix","filter":{"types":[],"ids":[],"modified_since":"","all_versions":false},"output":"-")";
  EXPECT_EQ(entries[0].event.outcome, "ok");
  EXPECT_EQ(entries[0].event.object_ids, (std::vector<std::string>{IdentityId(1), IdentityId(2), IdentityId(3)}));
  EXPECT_EQ(CanonicalJson(entries[0].event.detail), Obj(all + R"(,"chunk":1,"objects":3})"));
  EXPECT_EQ(entries[1].event.outcome, "failed");
  EXPECT_EQ(entries[1].event.object_ids, std::vector<std::string>{});
  EXPECT_EQ(CanonicalJson(entries[1].event.detail),
            Obj(all + R"(,"objects_written":1,"output_removed":false,"error":"write to the output failed"})"));
  EXPECT_EQ(entries[2].event.object_ids, std::vector<std::string>{});
  EXPECT_EQ(CanonicalJson(entries[2].event.detail),
            Obj(R"({"format":"stix","filter":{"types":["indicator"],"ids":[],"modified_since":"","all_versions":false},)"
                R"("output":"-","chunk":1,"objects":0})"));
}

TEST_F(CliTest, PatternValidateAndMatch) {
  Result ok = Run({"pattern", "validate", "[ipv4-addr:value = '198.51.100.1']"});
  EXPECT_EQ(ok.code, 0);
  EXPECT_EQ(ok.out, "valid\n");
  Result bad = Run({"pattern", "validate", "[ipv4-addr:value = '198.51.100.1'"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("invalid pattern at offset 33"), std::string::npos) << bad.err;
  Result bad_json = Run({"pattern", "validate", "--json", "[file:hashes.MD5 = 'abc']"});
  EXPECT_EQ(bad_json.code, 1);
  auto doc = boost::json::parse(bad_json.out).as_object();
  EXPECT_EQ(doc.at("valid").as_bool(), false);
  EXPECT_EQ(doc.at("offset").as_int64(), 19);

  const std::string bundle = Write("observed.json", R"({"type":"bundle","id":"bundle--1a0b7fd2-1f57-4b1c-9d3a-2b8a4e7c0f11","objects":[
 {"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"},
 {"type":"observed-data","spec_version":"2.1","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created":"2016-04-06T19:58:16.000Z","modified":"2016-04-06T19:58:16.000Z","first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":1,"object_refs":["ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"]}
]})");
  Result hit = Run({"pattern", "match", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", bundle});
  EXPECT_EQ(hit.code, 0) << hit.err;
  EXPECT_NE(hit.out.find("match (1 observation(s) read)"), std::string::npos) << hit.out;
  EXPECT_NE(hit.out.find("observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf"), std::string::npos) << hit.out;
  Result miss = Run({"pattern", "match", "--json", "[ipv4-addr:value = '198.51.100.4']", bundle});
  EXPECT_EQ(miss.code, 1);
  EXPECT_EQ(boost::json::parse(miss.out).at("matched").as_bool(), false);
}

}  // namespace
}  // namespace concord::node
