// End to end: detection over REST on a real `concord serve` (POST /api/v1/match, GET /api/v1/export/{format},
// GET /api/v1/search, GET /api/v1/objects/{id}/correlations) with the shipped warninglists, keys made by the
// real CLI, and the audit log read back with `concord audit list`.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "node_fixture.h"

namespace concord::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kPolicyExt[] = "extension-definition--316340be-3f50-4d51-bfe5-65daffa13801";
constexpr char kTlpAmber[] = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
constexpr char kTlpRed[] = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

std::string Id(int n) { return "indicator--00000000-0000-4000-8000-0000000000" + std::string(n < 10 ? "0" : "") + std::to_string(n); }

std::string Indicator(int n, const std::string& creator, const std::string& pattern, const std::string& extra = "") {
  return R"({"type":"indicator","spec_version":"2.1","id":")" + Id(n) + R"(","created_by_ref":")" + creator +
         R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"test )" +
         std::to_string(n) + R"(","pattern":")" + pattern +
         R"(","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z")" + extra + "}";
}
std::string Marking(const char* marking) { return std::string(R"(,"object_marking_refs":[")") + marking + "\"]"; }
std::string OwnOrgOnly() {
  return std::string(R"(,"extensions":{")") + kPolicyExt + R"(":{"extension_type":"property-extension","distribution":0}})";
}

// Undoes chunked transfer coding (RFC 9112 §7.1); a body that is not chunked is returned as it is.
std::string Dechunk(const HttpReply& r) {
  auto te = r.headers.find("transfer-encoding");
  if (te == r.headers.end() || te->second != "chunked") return r.body;
  std::string out;
  size_t pos = 0;
  while (pos < r.body.size()) {
    const size_t eol = r.body.find("\r\n", pos);
    if (eol == std::string::npos) break;
    const size_t size = std::strtoul(r.body.substr(pos, eol - pos).c_str(), nullptr, 16);
    if (size == 0) break;
    out += r.body.substr(eol + 2, size);
    pos = eol + 2 + size + 2;
  }
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
    pos = end + 1;
  }
  return out;
}

class DetectionTest : public NodeFixture {
 protected:
  void SetUp() override {
    // A short rebuild interval, through the configuration file ([detect]), so that the tests wait little.
    config_ = fs::temp_directory_path() / ("concord_detect_" + std::to_string(::getpid()) + ".toml");
    std::ofstream(config_) << "[detect]\nrebuild_interval_ms = 200\n";
    Start({"--config", config_.string()});
    alice_ = User("alice", kHost, "analyst");
    bob_ = User("bob", kOtherOrg, "analyst");
  }
  void TearDown() override {
    NodeFixture::TearDown();
    fs::remove(config_);
  }

  // The host's indicators (alice) and one of the other organisation's (bob).
  //   1 domain evil-concord.net (with subdomains)   2 CIDR 45.33.0.0/16        3 8.8.8.8 (warninglisted)
  //   4 TLP:RED 45.80.1.1 (host only)                5 AMBER, distribution 0 (host only): 45.77.1.2
  //   6 bob's shared indicator on 45.77.1.2
  void PostFixture() {
    Post(alice_, Indicator(1, host_id_, "[domain-name:value = 'evil-concord.net']") + "," +
                     Indicator(2, host_id_, "[ipv4-addr:value = '45.33.0.0/16']") + "," +
                     Indicator(3, host_id_, "[ipv4-addr:value = '8.8.8.8']") + "," +
                     Indicator(4, host_id_, "[ipv4-addr:value = '45.80.1.1']", Marking(kTlpRed)) + "," +
                     Indicator(5, host_id_, "[ipv4-addr:value = '45.77.1.2']", Marking(kTlpAmber) + OwnOrgOnly()));
    Post(bob_, Indicator(6, other_id_, "[ipv4-addr:value = '45.77.1.2']"));
    // The snapshot catches up within the rebuild interval: poll with a deadline.
    ASSERT_TRUE(WaitForHit(alice_, "45.77.1.2", Id(6))) << "indicator 6 never became matchable";
  }

  void Post(const std::string& key, const std::string& objects) {
    auto r = Request(node_->port(), "POST", "/api/v1/objects", key, "[" + objects + "]");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto totals = boost::json::parse(r->body).at("totals");
    ASSERT_EQ(totals.at("rejected").as_int64(), 0) << r->body;
  }

  boost::json::value Json(const std::string& method, const std::string& target, const std::string& key,
                          const std::string& body = "", int expected = 200) {
    auto r = Request(node_->port(), method, target, key, body);
    EXPECT_TRUE(r) << target;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, expected) << target << ": " << r->body.substr(0, 500);
    return boost::json::parse(r->body);
  }

  // The indicator ids hit per value.
  std::vector<std::set<std::string>> Match(const std::string& key, const std::string& values_json) {
    auto doc = Json("POST", "/api/v1/match", key, R"({"values":)" + values_json + "}");
    std::vector<std::set<std::string>> out;
    if (!doc.is_object()) return out;
    for (const auto& result : doc.at("results").as_array()) {
      std::set<std::string> ids;
      for (const auto& h : result.at("hits").as_array()) ids.insert(std::string(h.at("indicator").as_string()));
      out.push_back(std::move(ids));
    }
    return out;
  }

  bool WaitForHit(const std::string& key, const std::string& value, const std::string& id,
                  std::chrono::seconds deadline = std::chrono::seconds(15)) {
    for (auto until = std::chrono::steady_clock::now() + deadline; std::chrono::steady_clock::now() < until;) {
      auto hits = Match(key, "[\"" + value + "\"]");
      if (hits.size() == 1 && hits[0].count(id)) return true;
      ::poll(nullptr, 0, 20);  // a short pause between polls, not a wait for the result
    }
    return false;
  }

  struct Exported {
    int status = 0;
    std::string content_type;
    std::string body;
  };
  Exported Export(const std::string& key, const std::string& format, const std::string& query = "") {
    auto r = Request(node_->port(), "GET", "/api/v1/export/" + format + query, key);
    if (!r) return {};
    return {r->status, r->headers.count("content-type") ? r->headers.at("content-type") : "", Dechunk(*r)};
  }

  // Audit entries (JSON lines of `concord audit list`) of `action` by `user`.
  std::vector<boost::json::object> AuditEntries(const std::string& action, const std::string& user) {
    auto [code, lines] = RunConcord({"audit", "list", "--db", db_, "--json", "--action", action, "--user", user});
    EXPECT_EQ(code, 0);
    std::vector<boost::json::object> out;
    for (const std::string& line : Lines(lines)) {
      if (!line.empty()) out.push_back(boost::json::parse(line).as_object());
    }
    return out;
  }
  static std::set<std::string> Ids(const boost::json::object& entry) {
    std::set<std::string> out;
    for (const auto& id : entry.at("object_ids").as_array()) out.insert(std::string(id.as_string()));
    return out;
  }

  fs::path config_;
  std::string alice_;
  std::string bob_;
};

using Hits = std::vector<std::set<std::string>>;

TEST_F(DetectionTest, MatchHitsMissesAndVisibility) {
  PostFixture();
  auto doc = Json("POST", "/api/v1/match", alice_,
                  R"({"values":["a.b.evil-concord.net",{"value":"45.33.200.7","kind":"ipv4"},"8.8.8.8","notevil-concord.net",)"
                  R"("45.77.1.2","45.80.1.1",{"value":"45.33.1.1","time":"2023-01-01T00:00:00Z"}]})");
  ASSERT_TRUE(doc.is_object());
  const auto& results = doc.at("results").as_array();
  ASSERT_EQ(results.size(), 7u);
  auto ids = [&](size_t i) {
    std::set<std::string> out;
    for (const auto& h : results[i].at("hits").as_array()) out.insert(std::string(h.at("indicator").as_string()));
    return out;
  };
  EXPECT_EQ(ids(0), std::set<std::string>{Id(1)});  // a subdomain
  EXPECT_EQ(results[0].at("hits").at(0).at("matched").as_string(), "evil-concord.net");
  EXPECT_EQ(ids(1), std::set<std::string>{Id(2)});  // inside the CIDR
  EXPECT_EQ(results[1].at("hits").at(0).at("matched_kind").as_string(), "cidr4");
  EXPECT_TRUE(ids(2).empty());  // warninglisted: not in the snapshot, and the result says why
  EXPECT_EQ(results[2].at("kind").as_string(), "ipv4");
  EXPECT_FALSE(results[2].at("warninglists").as_array().empty()) << boost::json::serialize(results[2]);
  EXPECT_TRUE(ids(3).empty());  // not a subdomain of evil-concord.net
  EXPECT_EQ(ids(4), (std::set<std::string>{Id(5), Id(6)}));
  EXPECT_EQ(ids(5), std::set<std::string>{Id(4)});
  EXPECT_EQ(results[5].at("hits").at(0).at("tlp").as_string(), "red");
  EXPECT_TRUE(ids(6).empty());  // observed before the indicator was valid
  EXPECT_GE(doc.at("snapshot").at("indicators").to_number<int64_t>(), 5);

  // bob sees neither the host's organisation-only AMBER indicator nor its RED one.
  EXPECT_EQ(Match(bob_, R"(["45.77.1.2","45.80.1.1","sub.evil-concord.net"])"),
            (Hits{{Id(6)}, {}, {Id(1)}}));

  // Hits above TLP:CLEAR are disclosures: alice's match is audited as a read naming them, bob's never names
  // what he could not see.
  bool alice_read = false;
  for (const auto& e : AuditEntries("read", "alice")) {
    if (e.at("detail").at("route").as_string() != "/api/v1/match") continue;
    alice_read = alice_read || (Ids(e).count(Id(5)) && Ids(e).count(Id(4)));
  }
  EXPECT_TRUE(alice_read);
  for (const auto& e : AuditEntries("read", "bob")) {
    EXPECT_FALSE(Ids(e).count(Id(5)) || Ids(e).count(Id(4))) << boost::json::serialize(e);
  }

  // At most 10,000 values.
  std::string many = R"({"values":[)";
  for (int i = 0; i < 10'001; ++i) many += (i ? ",\"" : "\"") + std::to_string(i % 250) + ".1.2.3\"";
  many += "]}";
  auto refused = Json("POST", "/api/v1/match", alice_, many, 400);
  EXPECT_EQ(refused.at("error").at("field").as_string(), "values");
  auto bad_kind = Json("POST", "/api/v1/match", alice_, R"({"values":[{"value":"x","kind":"dns"}]})", 400);
  EXPECT_EQ(bad_kind.at("error").at("field").as_string(), "values[0].kind");
  EXPECT_EQ(Request(node_->port(), "POST", "/api/v1/match", "", R"({"values":[]})")->status, 401);
}

TEST_F(DetectionTest, NewIndicatorBecomesMatchableWithinTheRebuildInterval) {
  EXPECT_EQ(Match(alice_, R"(["bad.new-concord.org"])"), (Hits{{}}));
  const auto posted = std::chrono::steady_clock::now();
  Post(alice_, Indicator(7, host_id_, "[domain-name:value = 'new-concord.org']"));
  ASSERT_TRUE(WaitForHit(alice_, "bad.new-concord.org", Id(7)));
  // Generous: the interval is 200 ms, but this machine is shared and sanitised.
  EXPECT_LT(std::chrono::steady_clock::now() - posted, std::chrono::seconds(10));
}

TEST_F(DetectionTest, ExportFormatsTypesAndVisibility) {
  PostFixture();
  // text: the host's values up to AMBER, without the warninglisted one; RED (4) only when asked.
  Exported text = Export(alice_, "text");
  ASSERT_EQ(text.status, 200) << text.body;
  EXPECT_EQ(text.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(text.body, "evil-concord.net\n45.33.0.0/16\n45.77.1.2\n45.77.1.2\n");
  EXPECT_EQ(Export(alice_, "text", "?max_tlp=red").body,
            "evil-concord.net\n45.33.0.0/16\n45.80.1.1\n45.77.1.2\n45.77.1.2\n");
  EXPECT_EQ(Export(alice_, "text", "?include_warninglisted=true&kind=ipv4").body, "8.8.8.8\n45.77.1.2\n45.77.1.2\n");

  // bob: neither the RED indicator nor the organisation-only one, whatever he asks for.
  Exported csv = Export(bob_, "csv", "?max_tlp=red");
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  const auto rows = Lines(csv.body);
  ASSERT_GE(rows.size(), 1u);
  EXPECT_EQ(rows[0], "id,kind,value,tlp,score,valid_until,name");
  std::set<std::string> csv_ids;
  for (size_t i = 1; i < rows.size(); ++i) {
    if (!rows[i].empty()) csv_ids.insert(rows[i].substr(0, rows[i].find(',')));
  }
  EXPECT_EQ(csv_ids, (std::set<std::string>{Id(1), Id(2), Id(6)}));

  Exported stix = Export(alice_, "stix", "?kind=domain");
  ASSERT_EQ(stix.status, 200) << stix.body;
  EXPECT_EQ(stix.content_type, "application/stix+json;version=2.1");
  const auto bundle = boost::json::parse(stix.body);
  ASSERT_EQ(bundle.at("objects").as_array().size(), 1u);
  EXPECT_EQ(bundle.at("objects").at(0).at("id").as_string(), Id(1));

  Exported suricata = Export(alice_, "suricata");
  ASSERT_EQ(suricata.status, 200);
  EXPECT_EQ(suricata.content_type, "text/plain; charset=utf-8");
  EXPECT_NE(suricata.body.find("alert ip any any <> 45.33.0.0/16 any"), std::string::npos) << suricata.body;
  EXPECT_NE(suricata.body.find("dns.query"), std::string::npos);
  EXPECT_EQ(suricata.body.find("45.80.1.1"), std::string::npos);
  Exported snort = Export(alice_, "snort");
  ASSERT_EQ(snort.status, 200);
  EXPECT_NE(snort.body.find("45.33.0.0/16"), std::string::npos) << snort.body;
  Exported zeek = Export(alice_, "zeek");
  ASSERT_EQ(zeek.status, 200);
  EXPECT_TRUE(zeek.body.starts_with("#")) << zeek.body;
  EXPECT_NE(zeek.body.find("evil-concord.net\tIntel::DOMAIN"), std::string::npos) << zeek.body;
  EXPECT_NE(zeek.body.find("45.33.0.0/16\tIntel::SUBNET"), std::string::npos);

  Exported rpz = Export(alice_, "rpz");
  ASSERT_EQ(rpz.status, 200);
  EXPECT_EQ(rpz.content_type, "text/plain; charset=utf-8");
  EXPECT_NE(rpz.body.find("evil-concord.net CNAME ."), std::string::npos) << rpz.body;
  EXPECT_NE(rpz.body.find("*.evil-concord.net CNAME ."), std::string::npos);
  const fs::path zone = dir_ / "export.rpz.zone";
  std::ofstream(zone, std::ios::binary) << rpz.body;
  const std::string check = "named-checkzone -q rpz.concord.local '" + zone.string() + "' >/dev/null 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << rpz.body;

  // Bad parameters are refused naming the parameter.
  EXPECT_EQ(Json("GET", "/api/v1/export/pdf", alice_, "", 400).at("error").at("field").as_string(), "format");
  EXPECT_EQ(Json("GET", "/api/v1/export/csv?kind=dns", alice_, "", 400).at("error").at("field").as_string(), "kind");
  EXPECT_EQ(Json("GET", "/api/v1/export/csv?max_tlp=purple", alice_, "", 400).at("error").at("field").as_string(), "max_tlp");
  EXPECT_EQ(Json("GET", "/api/v1/export/csv?min_score=high", alice_, "", 400).at("error").at("field").as_string(), "min_score");

  // HEAD answers with GET's headers, checks the same parameters, and neither exports nor audits.
  auto head = Request(node_->port(), "HEAD", "/api/v1/export/csv?max_tlp=red", bob_);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["content-type"], "text/csv; charset=utf-8");
  EXPECT_EQ(head->headers["content-disposition"], "attachment; filename=\"concord.csv\"");
  EXPECT_EQ(head->headers.count("x-concord-values"), 0u);
  EXPECT_EQ(head->body, "");
  auto bad_head = Request(node_->port(), "HEAD", "/api/v1/export/csv?kind=dns", bob_);
  ASSERT_TRUE(bad_head.has_value());
  EXPECT_EQ(bad_head->status, 400);

  // Every export is in the audit log, naming what left and nothing else.
  const auto bob_exports = AuditEntries("export", "bob");
  ASSERT_EQ(bob_exports.size(), 1u);
  EXPECT_EQ(Ids(bob_exports[0]), (std::set<std::string>{Id(1), Id(2), Id(6)}));
  EXPECT_EQ(bob_exports[0].at("detail").at("format").as_string(), "csv");
  EXPECT_EQ(bob_exports[0].at("detail").at("filter").at("max_tlp").as_string(), "red");
  EXPECT_GE(AuditEntries("export", "alice").size(), 8u);
  EXPECT_EQ(RunConcord({"audit", "verify", "--db", db_}).first, 0);
}

TEST_F(DetectionTest, SearchAndCorrelations) {
  PostFixture();
  auto ids = [](const boost::json::value& doc) {
    std::set<std::string> out;
    for (const auto& o : doc.at("objects").as_array()) out.insert(std::string(o.at("id").as_string()));
    return out;
  };
  auto alice = Json("GET", "/api/v1/search?value=45.77.1.2", alice_);
  EXPECT_EQ(alice.at("kind").as_string(), "ipv4");
  EXPECT_EQ(alice.at("value").as_string(), "45.77.1.2");
  EXPECT_EQ(ids(alice), (std::set<std::string>{Id(5), Id(6)}));
  auto bob = Json("GET", "/api/v1/search?value=45.77.1.2", bob_);
  EXPECT_EQ(ids(bob), std::set<std::string>{Id(6)});
  // A warninglisted value is still found, and flagged.
  auto listed = Json("GET", "/api/v1/search?value=8.8.8.8", alice_);
  EXPECT_EQ(ids(listed), std::set<std::string>{Id(3)});
  EXPECT_FALSE(listed.at("warninglists").as_array().empty());
  // An address inside a CIDR posting: the CIDR's indicator among the containing hits.
  auto inside = Json("GET", "/api/v1/search?value=45.33.9.9", bob_);
  ASSERT_EQ(inside.at("containing").as_array().size(), 1u);
  EXPECT_EQ(inside.at("containing").at(0).at("object").at("id").as_string(), Id(2));
  EXPECT_EQ(Json("GET", "/api/v1/search?value=EVIL-concord.NET.", bob_).at("value").as_string(), "evil-concord.net");
  EXPECT_EQ(Json("GET", "/api/v1/search?value=42", bob_, "", 400).at("error").at("field").as_string(), "value");

  // Correlations: 404 for what bob cannot see, exactly like an unknown id; his view of 6 omits 5.
  EXPECT_EQ(Request(node_->port(), "GET", "/api/v1/objects/" + Id(5) + "/correlations", bob_)->status, 404);
  EXPECT_EQ(Request(node_->port(), "GET", "/api/v1/objects/" + Id(4) + "/correlations", bob_)->status, 404);
  EXPECT_EQ(Request(node_->port(), "GET", "/api/v1/objects/" + Id(40) + "/correlations", bob_)->status, 404);
  auto of6 = Json("GET", "/api/v1/objects/" + Id(6) + "/correlations", bob_);
  ASSERT_EQ(of6.at("values").as_array().size(), 1u);
  EXPECT_TRUE(of6.at("values").at(0).at("objects").as_array().empty());
  auto of6_alice = Json("GET", "/api/v1/objects/" + Id(6) + "/correlations", alice_);
  EXPECT_EQ(ids(of6_alice.at("values").at(0)), std::set<std::string>{Id(5)});

  // Reads above TLP:CLEAR are audited: alice's search names 5; bob's names nothing of the host's private ones.
  bool searched = false;
  for (const auto& e : AuditEntries("read", "alice")) {
    searched = searched || (e.at("detail").at("route").as_string() == "/api/v1/search" && Ids(e).count(Id(5)));
  }
  EXPECT_TRUE(searched);
  for (const auto& e : AuditEntries("read", "bob")) {
    EXPECT_FALSE(Ids(e).count(Id(5)) || Ids(e).count(Id(4))) << boost::json::serialize(e);
  }
}


std::string SightingId(int n) { return "sighting--00000000-0000-4000-8000-0000000005" + std::string(n < 10 ? "0" : "") + std::to_string(n); }

std::string Sighting(int n, const std::string& creator, const std::string& of, int count, const std::string& extra = "") {
  return R"({"type":"sighting","spec_version":"2.1","id":")" + SightingId(n) + R"(","created_by_ref":")" + creator +
         R"(","created":"2024-02-01T00:00:00.000Z","modified":"2024-02-01T00:00:00.000Z","sighting_of_ref":")" + of +
         R"(","count":)" + std::to_string(count) +
         R"(,"first_seen":"2024-02-01T10:00:00Z","last_seen":"2024-02-01T11:00:00Z","where_sighted_refs":[")" + creator +
         "\"]" + extra + "}";
}

// GET /api/v1/search lists the sightings of the indicators it finds that the caller may see: the other
// organisation's TLP:RED sighting is invisible (both ways), a revoked one is left out, an indicator that fires on
// a subdomain brings its sightings, and what is above TLP:CLEAR is audited.
TEST_F(DetectionTest, SearchListsTheSightingsTheCallerMaySee) {
  PostFixture();
  Post(alice_, Sighting(1, host_id_, Id(6), 4, Marking(kTlpAmber)) + "," + Sighting(2, host_id_, Id(6), 2, Marking(kTlpRed)) +
                   "," + Sighting(4, host_id_, Id(6), 9, R"(,"revoked":true)") + "," + Sighting(5, host_id_, Id(1), 1));
  Post(bob_, Sighting(3, other_id_, Id(6), 3, Marking(kTlpRed)));
  const auto sighting = [](int n, const std::string& creator, int count, const std::string& tlp) {
    return R"({"id":")" + SightingId(n) + R"(","created_by_ref":")" + creator + R"(","count":)" + std::to_string(count) +
           R"(,"first_seen":"2024-02-01T10:00:00Z","last_seen":"2024-02-01T11:00:00Z","where_sighted_refs":[")" + creator +
           R"("],"modified":"2024-02-01T00:00:00.000Z","tlp":")" + tlp + R"("})";
  };
  const std::string indicator6 = R"({"id":")" + Id(6) + R"(","type":"indicator","revoked":false,"tlp":"none","modified":"2024-01-01T00:00:00.000Z","created_by_ref":")" + other_id_ + R"("})";

  auto alice = Json("GET", "/api/v1/search?value=45.77.1.2", alice_);
  EXPECT_EQ(boost::json::serialize(alice.at("sightings")),
            R"([{"indicator":)" + indicator6 + R"(,"via":"value","total":2,"total_more":false,"sightings":[)" +
                sighting(1, host_id_, 4, "amber") + "," + sighting(2, host_id_, 2, "red") + "]}]");
  EXPECT_FALSE(alice.at("sightings_more").as_bool());
  auto bob = Json("GET", "/api/v1/search?value=45.77.1.2", bob_);
  EXPECT_EQ(boost::json::serialize(bob.at("sightings")),
            R"([{"indicator":)" + indicator6 + R"(,"via":"value","total":2,"total_more":false,"sightings":[)" +
                sighting(1, host_id_, 4, "amber") + "," + sighting(3, other_id_, 3, "red") + "]}]");
  // One listed per indicator; the total still counts both.
  auto one = Json("GET", "/api/v1/search?value=45.77.1.2&sightings=1", bob_);
  EXPECT_EQ(one.at("sightings").at(0).at("total").as_int64(), 2);
  ASSERT_EQ(one.at("sightings").at(0).at("sightings").as_array().size(), 1u);
  EXPECT_EQ(one.at("sightings").at(0).at("sightings").at(0).at("id").as_string(), SightingId(1));
  EXPECT_TRUE(Json("GET", "/api/v1/search?value=45.77.1.2&sightings=0", bob_).at("sightings").as_array().empty());
  EXPECT_EQ(Json("GET", "/api/v1/search?value=45.77.1.2&sightings=101", bob_, "", 400).at("error").at("field").as_string(),
            "sightings");

  // A subdomain has no postings: the domain indicator fires on it (the node's snapshot) and brings its sighting.
  auto sub = Json("GET", "/api/v1/search?value=www.evil-concord.net", bob_);
  EXPECT_TRUE(sub.at("objects").as_array().empty());
  ASSERT_EQ(sub.at("sightings").as_array().size(), 1u);
  EXPECT_EQ(sub.at("sightings").at(0).at("indicator").at("id").as_string(), Id(1));
  EXPECT_EQ(sub.at("sightings").at(0).at("via").as_string(), "detection");
  EXPECT_EQ(sub.at("sightings").at(0).at("total").as_int64(), 1);
  EXPECT_EQ(sub.at("sightings").at(0).at("sightings").at(0).at("id").as_string(), SightingId(5));
  EXPECT_EQ(sub.at("sightings").at(0).at("sightings").at(0).at("tlp").as_string(), "none");

  // The sightings' own postings never show as correlations of a value, nor of the sighting itself.
  auto of_sighting = Json("GET", "/api/v1/objects/" + SightingId(1) + "/correlations", alice_);
  EXPECT_TRUE(of_sighting.at("values").as_array().empty());
  EXPECT_EQ(Request(node_->port(), "GET", "/api/v1/objects/" + SightingId(3) + "/correlations", alice_)->status, 404);

  // Audited: alice's search names both her sightings above CLEAR; bob's never names alice's RED one.
  bool named = false;
  for (const auto& e : AuditEntries("read", "alice")) {
    named = named || (e.at("detail").at("route").as_string() == "/api/v1/search" && Ids(e).count(SightingId(1)) &&
                      Ids(e).count(SightingId(2)));
    EXPECT_FALSE(Ids(e).count(SightingId(3))) << boost::json::serialize(e);
  }
  EXPECT_TRUE(named);
  for (const auto& e : AuditEntries("read", "bob")) EXPECT_FALSE(Ids(e).count(SightingId(2))) << boost::json::serialize(e);
}

}  // namespace
}  // namespace concord::testing
