// `concord match` and the detection formats of `concord export`, in process, end to end: indicators are
// imported into a real store, known values are planted in generated logs of every supported format among
// benign lines, and the exact hit set is asserted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "fmt/format.h"
#include "node/cli.h"
#include "stix/object.h"

namespace concord::node {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code;
  std::string out;
  std::string err;
};

constexpr const char* kIndicators = R"({"type":"bundle","id":"bundle--11111111-1111-4111-8111-111111111111","objects":[
{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"c2 domain","pattern":"[domain-name:value = 'c2.evil.example']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z"},
{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000002","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"bad host","pattern":"[ipv4-addr:value = '203.0.113.66']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z"},
{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000003","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"bad net","pattern":"[ipv6-addr:value = '2001:db8:bad::/48']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z"},
{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000004","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"dropper","pattern":"[file:hashes.'SHA-256' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z"},
{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000005","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"phish","pattern":"[url:value = 'http://phish.example/login.php']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z"},
{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000006","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"revoked","pattern":"[domain-name:value = 'old.example']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z","revoked":true},
{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000007","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"amber red","pattern":"[domain-name:value = 'secret.example']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z","object_marking_refs":["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"]}
]})";

// Hits as "LINE indicator-number value".
std::set<std::string> Hits(const std::string& out) {
  std::set<std::string> hits;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto v = boost::json::parse(line).as_object();
    const std::string id(v["indicator"].as_string());
    hits.insert(fmt::format("{} {} {}", v["line"].as_int64(), id.substr(id.size() - 1), std::string(v["value"].as_string())));
  }
  return hits;
}

class DetectCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("concord_detect_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "concord.db").string();
    ASSERT_EQ(Run({"--db", db_, "import", Write("indicators.json", kIndicators)}).code, 0);
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
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // `count` benign lines from `benign(i)`, with `planted` lines put at fixed positions.
  static std::string Log(std::string header, int count, const std::function<std::string(int)>& benign,
                         const std::map<int, std::string>& planted) {
    std::string text = std::move(header);
    for (int i = 0; i < count; ++i) {
      auto it = planted.find(i);
      text += it != planted.end() ? it->second : benign(i);
      text += '\n';
    }
    return text;
  }
  Result Match(const std::string& format, const std::string& file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--db", db_, "match", "--format", format, "--warninglists", "none", "-q", file};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }

  fs::path dir_;
  std::string db_;
};

TEST_F(DetectCommands, SuricataEve) {
  auto benign = [](int i) {
    return fmt::format(R"({{"timestamp":"2026-11-20T10:00:{:02d}.000000+0000","event_type":"dns","src_ip":"10.0.0.{}","dest_ip":"192.0.2.53","dns":{{"type":"query","rrname":"host{}.benign.example","rrtype":"A"}}}})",
                       i % 60, i % 250, i);
  };
  const std::string log = Log("", 200, benign,
      {{10, R"({"timestamp":"2026-11-20T10:00:10.000000+0000","event_type":"dns","src_ip":"10.0.0.1","dest_ip":"192.0.2.53","dns":{"type":"query","rrname":"WWW.C2.Evil.Example.","rrtype":"A"}})"},
       {50, R"({"timestamp":"2026-11-20T10:00:50.000000+0000","event_type":"flow","src_ip":"10.0.0.2","dest_ip":"203.0.113.66","proto":"TCP"})"},
       {90, R"({"timestamp":"2026-11-20T10:01:30.000000+0000","event_type":"fileinfo","src_ip":"10.0.0.3","dest_ip":"192.0.2.80","fileinfo":{"filename":"x.bin","sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}})"},
       {120, R"({"timestamp":"2026-11-20T10:02:00.000000+0000","event_type":"http","src_ip":"2001:db8:bad:1::5","dest_ip":"192.0.2.80","http":{"hostname":"phish.example","url":"/login.php","http_user_agent":"x"}})"},
       {150, R"({"timestamp":"2026-11-20T10:02:30.000000+0000","event_type":"dns","src_ip":"10.0.0.4","dest_ip":"192.0.2.53","dns":{"type":"query","rrname":"old.example","rrtype":"A"}})"}});
  Result r = Match("eve", Write("eve.json", log));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Hits(r.out), (std::set<std::string>{"11 1 www.c2.evil.example", "51 2 203.0.113.66",
                                                "91 4 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                                "121 3 2001:db8:bad:1::5", "121 5 http://phish.example/login.php"}));
}

TEST_F(DetectCommands, ZeekTsvAndJson) {
  const std::string header =
      "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
      "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tanswers\n"
      "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tstring\tvector[string]\n";
  auto benign = [](int i) {
    return fmt::format("1795600000.{:06d}\tC{}\t10.0.0.{}\t5353\t192.0.2.53\t53\tudp\t{}\thost{}.benign.example\t192.0.2.{}",
                       i, i, i % 250, i, i, i % 250);
  };
  const std::string tsv = Log(header, 300, benign,
      {{100, "1795600100.000000\tCx\t10.0.0.9\t5353\t192.0.2.53\t53\tudp\t1\tc2.evil.example\t203.0.113.66,192.0.2.1"},
       {200, "1795600200.000000\tCy\t10.0.0.9\t5353\t192.0.2.53\t53\tudp\t2\tsecret.example\t-"}});
  Result r = Match("zeek", Write("dns.log", tsv));
  ASSERT_EQ(r.code, 0) << r.err;
  // Header lines count: the planted lines are 7 + 100 + 1 and 7 + 200 + 1. The RED indicator is in the
  // snapshot (matching is local); only exports cap TLP.
  EXPECT_EQ(Hits(r.out), (std::set<std::string>{"108 1 c2.evil.example", "108 2 203.0.113.66", "208 7 secret.example"}));

  const std::string json = Log("", 50, [](int i) { return fmt::format(R"({{"ts":1795600000.{},"id.orig_h":"10.0.0.1","id.resp_h":"192.0.2.53","query":"h{}.benign.example"}})", i, i); },
      {{7, R"({"ts":1795600007.5,"id.orig_h":"10.0.0.1","id.resp_h":"192.0.2.53","query":"c2.evil.example"})"}});
  r = Match("zeek", Write("dns.json", json));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Hits(r.out), (std::set<std::string>{"8 1 c2.evil.example"}));
}

TEST_F(DetectCommands, JsonLinesWithFieldMapCsvAndText) {
  const std::string jsonl = Log("", 20, [](int i) { return fmt::format(R"({{"client":{{"ip":"10.1.1.{}"}},"q":"a{}.benign.example","note":"c2.evil.example"}})", i, i); },
      {{4, R"({"client":{"ip":"203.0.113.66"},"q":"C2.evil.example","note":"x"})"}});
  Result r = Match("jsonl", Write("app.jsonl", jsonl), {"--field", "client.ip=ipv4", "--field", "q=domain"});
  ASSERT_EQ(r.code, 0) << r.err;
  // "note" is not mapped: its planted domain is not read.
  EXPECT_EQ(Hits(r.out), (std::set<std::string>{"5 2 203.0.113.66", "5 1 c2.evil.example"}));

  const std::string csv = Log("time,src,url\n", 30, [](int i) { return fmt::format("2026-11-20T10:00:00Z,10.0.0.{},http://b{}.benign.example/", i, i); },
      {{12, "2026-11-20T10:00:00Z,10.0.0.1,\"http://phish.example/login.php\""}});
  r = Match("csv", Write("proxy.csv", csv));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Hits(r.out), (std::set<std::string>{"14 5 http://phish.example/login.php"}));

  const std::string text = "Report: the actor used hxxp://phish[.]example/login.php and c2[.]evil[.]example.\n"
                           "Benign: version 1.2.3.4.5, file report.pdf, time 10:00:00.\n"
                           "Exfil to 203.0.113.66 and sha256 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
  r = Match("text", Write("report.txt", text));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Hits(r.out), (std::set<std::string>{"1 5 http://phish.example/login.php", "1 1 c2.evil.example",
                                                "3 2 203.0.113.66",
                                                "3 4 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}));
}

TEST_F(DetectCommands, ShippedWarninglistsSilenceBenignValues) {
  // 203.0.113.0/24 is TEST-NET-3 (RFC 5737), on the shipped lists: no hit unless the lists are off.
  const std::string log = "203.0.113.66 c2.evil.example\n";
  Result r = Run({"--db", db_, "match", "--format", "text", "-q", Write("t.txt", log)});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Hits(r.out), (std::set<std::string>{"1 1 c2.evil.example"}));
}

TEST_F(DetectCommands, RecordStoresAggregatedSightingsAndMergesReruns) {
  ASSERT_EQ(Run({"--db", db_, "org", "add", "CERT-Test", "--host"}).code, 0);
  std::string log;
  for (int i = 0; i < 5; ++i) log += fmt::format(R"({{"timestamp":"2026-11-20T10:0{}:00.000000+0000","event_type":"dns","src_ip":"10.0.0.1","dest_ip":"192.0.2.53","dns":{{"type":"query","rrname":"c2.evil.example"}}}})", i) + "\n";
  const std::string file = Write("eve.json", log);
  Result r = Match("eve", file, {"--record", "--window", "3600"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Hits(r.out).size(), 5u);
  Result listed = Run({"--db", db_, "export", "--type", "sighting"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  auto bundle = boost::json::parse(listed.out).as_object();
  ASSERT_EQ(bundle["objects"].as_array().size(), 1u);
  auto s = bundle["objects"].as_array()[0].as_object();
  EXPECT_EQ(s["count"].as_int64(), 5);
  EXPECT_EQ(s["sighting_of_ref"].as_string(), "indicator--00000000-0000-4000-8000-000000000001");
  EXPECT_EQ(s["first_seen"].as_string(), "2026-11-20T10:00:00.000Z");
  EXPECT_EQ(s["last_seen"].as_string(), "2026-11-20T10:04:00.000Z");
  EXPECT_EQ(s["object_marking_refs"].as_array()[0].as_string(), stix::TlpMarkingId(stix::Tlp::kAmber));

  // The same window again: one sighting, its count added up in a new version.
  r = Match("eve", file, {"--record", "--window", "3600"});
  ASSERT_EQ(r.code, 0) << r.err;
  listed = Run({"--db", db_, "export", "--type", "sighting"});
  bundle = boost::json::parse(listed.out).as_object();
  ASSERT_EQ(bundle["objects"].as_array().size(), 1u);
  EXPECT_EQ(bundle["objects"].as_array()[0].as_object()["count"].as_int64(), 10);
}

TEST_F(DetectCommands, RecordNeedsAHostOrganisation) {
  Result r = Match("text", Write("t.txt", "c2.evil.example\n"), {"--record"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("no host organisation"), std::string::npos) << r.err;
}

TEST_F(DetectCommands, ExportCsvLeavesOutRevokedAndRedAndWarninglisted) {
  Result r = Run({"--db", db_, "export", "--format", "csv", "--justification", "SOC feed"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header, "id,kind,value,tlp,score,valid_until,name\r");  // RFC 4180 line ends
  std::set<std::string> rows;
  while (std::getline(in, line)) rows.insert(line.substr(0, line.find(',', line.find(',', line.find(',') + 1) + 1)));
  // 203.0.113.66 and 2001:db8:bad::/48 are documentation ranges on the shipped warninglists; the revoked
  // and the RED indicator never leave.
  EXPECT_EQ(rows, (std::set<std::string>{
                      "indicator--00000000-0000-4000-8000-000000000001,domain,c2.evil.example",
                      "indicator--00000000-0000-4000-8000-000000000004,sha256,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                      "indicator--00000000-0000-4000-8000-000000000005,url,http://phish.example/login.php"}));
  EXPECT_NE(r.err.find("left out: 2 warninglisted"), std::string::npos) << r.err;

  r = Run({"--db", db_, "export", "--format", "text", "--kind", "ipv4", "--warninglists", "none"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "203.0.113.66\n");

  r = Run({"--db", db_, "export", "--format", "rpz", "--max-tlp", "red", "--kind", "domain", "-o", (dir_ / "z.rpz").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream zone(dir_ / "z.rpz");
  std::stringstream z;
  z << zone.rdbuf();
  EXPECT_NE(z.str().find("secret.example CNAME ."), std::string::npos) << z.str();
  EXPECT_EQ(z.str().find("old.example"), std::string::npos);

  // Decay: a lifetime of 0.001 days scores every indicator 0 now, which --min-score 1 leaves out; a
  // century-long one keeps it near 100.
  r = Run({"--db", db_, "export", "--format", "text", "--kind", "domain", "--warninglists", "none", "--min-score", "1",
           "--decay", "all=0.001"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  r = Run({"--db", db_, "export", "--format", "text", "--kind", "domain", "--warninglists", "none", "--min-score", "1",
           "--decay", "all=0.001", "--decay", "domain=36500"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "c2.evil.example\n");
  r = Run({"--db", db_, "export", "--format", "csv", "--decay", "domain=soon"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--decay: 'domain=soon': the lifetime must be a number of days"), std::string::npos) << r.err;

  r = Run({"--db", db_, "export", "--format", "yara"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--format: 'yara' is none of"), std::string::npos);
  r = Run({"--db", db_, "export", "--format", "csv", "--kind", "nonsense"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--kind: 'nonsense' is no value kind"), std::string::npos);
}

TEST_F(DetectCommands, SearchFindsObjectsRelatedAddressesListsAndFiringIndicators) {
  const std::string sco = R"({"type":"domain-name","spec_version":"2.1","id":"domain-name--7c4a3c6a-5d52-5a2c-9d2e-4b4f7f0b7e11","value":"C2.evil.example"})";
  ASSERT_EQ(Run({"--db", db_, "import", Write("sco.json", sco)}).code, 0);

  Result r = Run({"--db", db_, "--json", "search", "c2.EVIL.example."});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = boost::json::parse(r.out).as_object();
  EXPECT_EQ(j["kind"].as_string(), "domain");
  EXPECT_EQ(j["value"].as_string(), "c2.evil.example");
  std::set<std::string> ids;
  for (const auto& o : j["objects"].as_array()) ids.insert(std::string(o.as_object().at("id").as_string()));
  EXPECT_EQ(ids, (std::set<std::string>{"indicator--00000000-0000-4000-8000-000000000001",
                                        "domain-name--7c4a3c6a-5d52-5a2c-9d2e-4b4f7f0b7e11"}));
  ASSERT_EQ(j["detection"].as_array().size(), 1u);
  EXPECT_EQ(j["detection"].as_array()[0].as_object()["indicator"].as_string(),
            "indicator--00000000-0000-4000-8000-000000000001");

  // A subdomain has no postings of its own but the domain indicator fires on it.
  r = Run({"--db", db_, "--json", "search", "www.c2.evil.example"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = boost::json::parse(r.out).as_object();
  EXPECT_TRUE(j["objects"].as_array().empty());
  ASSERT_EQ(j["detection"].as_array().size(), 1u);
  EXPECT_EQ(j["detection"].as_array()[0].as_object()["matched"].as_string(), "c2.evil.example");

  // An address inside a CIDR indicator; a documentation address is on the shipped warninglists.
  r = Run({"--db", db_, "--json", "search", "2001:db8:bad::5"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = boost::json::parse(r.out).as_object();
  ASSERT_EQ(j["containing"].as_array().size(), 1u);
  // The same document as GET /api/v1/search (correlate/result_json.h), plus "detection".
  const boost::json::object& hit = j["containing"].as_array()[0].as_object();
  EXPECT_EQ(hit.at("kind").as_string(), "cidr6");
  EXPECT_EQ(hit.at("value").as_string(), "2001:db8:bad::/48");
  EXPECT_EQ(hit.at("object").at("type").as_string(), "indicator");
  EXPECT_EQ(j["containing_more"], boost::json::value(false));
  EXPECT_EQ(j["contained_more"], boost::json::value(false));
  EXPECT_EQ(j.count("next"), 0u);  // only when more objects follow
  EXPECT_FALSE(j["warninglists"].as_array().empty());

  r = Run({"--db", db_, "search", "c2.evil.example", "--warninglists", "none"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("domain c2.evil.example\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("detection: 1 indicator(s) fire on it now"), std::string::npos) << r.out;

  r = Run({"--db", db_, "search", "x", "--kind", "nonsense"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--kind: 'nonsense' is no value kind"), std::string::npos) << r.err;
  r = Run({"--db", db_, "search", "not a value at all"});
  EXPECT_EQ(r.code, 2);
}


// Sightings recorded by `match --record` and imported ones are listed under the indicators a search finds:
// the indicator having the value, and the one that fires on a subdomain. The revoked sighting is left out.
TEST_F(DetectCommands, SearchListsSightingsOfTheIndicatorsFound) {
  ASSERT_EQ(Run({"--db", db_, "org", "add", "CERT-Test", "--host"}).code, 0);
  std::string log;
  for (int i = 0; i < 3; ++i) log += fmt::format(R"({{"timestamp":"2026-11-20T10:0{}:00.000000+0000","event_type":"dns","src_ip":"10.0.0.1","dest_ip":"192.0.2.53","dns":{{"type":"query","rrname":"c2.evil.example"}}}})", i) + "\n";
  Result r = Match("eve", Write("eve.json", log), {"--record", "--window", "3600"});
  ASSERT_EQ(r.code, 0) << r.err;
  Result listed = Run({"--db", db_, "export", "--type", "sighting"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  auto recorded = boost::json::parse(listed.out).as_object()["objects"].as_array().at(0).as_object();
  const std::string recorded_id(recorded["id"].as_string());
  const std::string host(recorded["created_by_ref"].as_string());
  const std::string other = "identity--00000000-0000-4000-8000-0000000000b2";
  const std::string imported = fmt::format(R"({{"type":"bundle","id":"bundle--22222222-2222-4222-8222-222222222222","objects":[
{{"type":"sighting","spec_version":"2.1","id":"sighting--00000000-0000-4000-8000-0000000000a1","created":"2026-11-21T00:00:00.000Z","modified":"2026-11-21T00:00:00.000Z","created_by_ref":"{0}","sighting_of_ref":"indicator--00000000-0000-4000-8000-000000000001","count":7,"first_seen":"2026-11-21T08:00:00Z","last_seen":"2026-11-21T09:00:00Z","where_sighted_refs":["{0}"],"object_marking_refs":["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]}},
{{"type":"sighting","spec_version":"2.1","id":"sighting--00000000-0000-4000-8000-0000000000a2","created":"2026-11-21T00:00:00.000Z","modified":"2026-11-21T00:00:00.000Z","created_by_ref":"{0}","sighting_of_ref":"indicator--00000000-0000-4000-8000-000000000001","count":1,"revoked":true}}
]}})", other);
  ASSERT_EQ(Run({"--db", db_, "import", Write("sightings.json", imported)}).code, 0);

  r = Run({"--db", db_, "--json", "search", "c2.evil.example"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = boost::json::parse(r.out).as_object();
  EXPECT_FALSE(j["sightings_more"].as_bool());
  ASSERT_EQ(j["sightings"].as_array().size(), 1u);
  auto s = j["sightings"].as_array()[0].as_object();
  EXPECT_EQ(s["indicator"].as_object()["id"].as_string(), "indicator--00000000-0000-4000-8000-000000000001");
  EXPECT_EQ(s["via"].as_string(), "value");
  EXPECT_EQ(s["total"].as_int64(), 2);
  EXPECT_FALSE(s["total_more"].as_bool());
  const auto& list = s["sightings"].as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(boost::json::serialize(list[0]),
            fmt::format(R"({{"id":"{0}","created_by_ref":"{2}","count":3,"first_seen":"2026-11-20T10:00:00.000Z","last_seen":"2026-11-20T10:02:00.000Z","where_sighted_refs":["{2}"],"modified":"{1}","tlp":"amber"}})",
                        recorded_id, std::string(recorded["modified"].as_string()), host));
  EXPECT_EQ(boost::json::serialize(list[1]),
            fmt::format(R"({{"id":"sighting--00000000-0000-4000-8000-0000000000a1","created_by_ref":"{0}","count":7,"first_seen":"2026-11-21T08:00:00Z","last_seen":"2026-11-21T09:00:00Z","where_sighted_refs":["{0}"],"modified":"2026-11-21T00:00:00.000Z","tlp":"red"}})",
                        other));

  // The subdomain has no postings; the domain indicator fires on it and its sightings come with it.
  r = Run({"--db", db_, "--json", "search", "www.c2.evil.example", "--sightings", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = boost::json::parse(r.out).as_object();
  ASSERT_EQ(j["sightings"].as_array().size(), 1u);
  s = j["sightings"].as_array()[0].as_object();
  EXPECT_EQ(s["via"].as_string(), "detection");
  EXPECT_EQ(s["total"].as_int64(), 2);
  ASSERT_EQ(s["sightings"].as_array().size(), 1u);
  EXPECT_EQ(s["sightings"].as_array()[0].as_object()["id"].as_string(), recorded_id);

  r = Run({"--db", db_, "search", "c2.evil.example", "--warninglists", "none", "--sightings", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(fmt::format("sightings: 1 indicator(s) sighted\n"
                                   "  indicator--00000000-0000-4000-8000-000000000001  via value: 2 sighting(s)\n"
                                   "    {0}  count 3  2026-11-20T10:00:00.000Z .. 2026-11-20T10:02:00.000Z  by {1}  at {1}\n"
                                   "    (1 more not listed: --sightings N)\n",
                                   recorded_id, host)),
            std::string::npos)
      << r.out;

  r = Run({"--db", db_, "--json", "search", "c2.evil.example", "--sightings", "0"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(boost::json::parse(r.out).as_object()["sightings"].as_array().empty());
  r = Run({"--db", db_, "search", "c2.evil.example", "--sightings", "101"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--sightings: 101 is not in 0-100"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace concord::node
