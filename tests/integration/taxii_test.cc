// End to end: TAXII 2.1 conformance of a real `concord serve`, written as black-box tests.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "node_fixture.h"

namespace concord::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kTaxii[] = "application/taxii+json;version=2.1";
constexpr char kRed[] = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
constexpr char kCollection[] = "/taxii2/concord/collections/5b32153d-98a1-4c36-a208-1fabb9c60b8a/";

std::string Base64(const std::string& in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::string IndicatorId(int n) {
  std::string digits = std::to_string(n);
  return "indicator--00000000-0000-4000-8000-" + std::string(12 - digits.size(), '0') + digits;
}

std::string Indicator(int n, const std::string& creator, const std::string& modified = "2024-01-01T00:00:00.000Z",
                      const std::string& extra = "") {
  return R"({"type":"indicator","spec_version":"2.1","id":")" + IndicatorId(n) + R"(","created_by_ref":")" + creator +
         R"(","created":"2024-01-01T00:00:00.000Z","modified":")" + modified +
         R"(","pattern":"[ipv4-addr:value = '198.51.100.)" + std::to_string(n % 250) +
         R"(']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z")" + extra + "}";
}

std::string Malware(const std::string& creator) {
  return R"({"type":"malware","spec_version":"2.1","id":"malware--00000000-0000-4000-8000-0000000000aa","created_by_ref":")" +
         creator + R"(","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"Emotet","is_family":true})";
}

std::string Envelope(const std::vector<std::string>& objects) {
  std::string out = R"({"objects":[)";
  for (size_t i = 0; i < objects.size(); ++i) out += (i ? "," : "") + objects[i];
  return out + "]}";
}

boost::json::object Json(const HttpReply& r) { return boost::json::parse(r.body).as_object(); }

class TaxiiTest : public NodeFixture {
 protected:
  void SetUp() override { Start({}); }
  // Every TAXII start lifts the per-key rate limit: paging tests make many requests.
  void Start(std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--rate-limit", "100000"});
    NodeFixture::Start(extra);
  }
  void Restart(const std::vector<std::string>& extra) {
    TearDown();
    Start(extra);
  }
  // A TAXII request with Bearer credentials and the TAXII Accept (and Content-Type on POST).
  HttpReply Taxii(const std::string& method, const std::string& target, const std::string& key, const std::string& body = "",
                  const std::string& accept = kTaxii, const std::string& content_type = kTaxii) {
    std::string headers;
    if (!key.empty()) headers += "Authorization: Bearer " + key + "\r\n";
    if (!accept.empty()) headers += "Accept: " + accept + "\r\n";
    if (method == "POST" && !content_type.empty()) headers += "Content-Type: " + content_type + "\r\n";
    auto r = RequestWithHeaders(node_->port(), method, target, headers, body);
    EXPECT_TRUE(r) << method << " " << target;
    return r ? *r : HttpReply{};
  }
  // The ids (or id@modified) of an envelope.
  static std::vector<std::string> Ids(const boost::json::object& envelope, bool with_version = false) {
    std::vector<std::string> out;
    if (!envelope.contains("objects")) return out;
    for (const auto& o : envelope.at("objects").as_array()) {
      std::string id(o.at("id").as_string());
      if (with_version) id += "@" + std::string(o.at("modified").as_string());
      out.push_back(id);
    }
    return out;
  }
  static void ExpectTaxiiError(const HttpReply& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "", kTaxii);
    auto body = boost::json::parse(r.body).as_object();
    EXPECT_TRUE(body.contains("title")) << r.body;
    EXPECT_EQ(body.at("http_status").as_string(), std::to_string(status)) << r.body;
  }
};

TEST_F(TaxiiTest, DiscoveryApiRootAndCollections) {
  const std::string analyst = User("alice", kHost, "analyst");
  const std::string reader = User("ron", kHost, "read-only");

  ExpectTaxiiError(Taxii("GET", "/taxii2/", ""), 401);
  ExpectTaxiiError(Taxii("GET", std::string(kCollection) + "objects/", ""), 401);

  // HTTP Basic: any user name, the API key as password.
  auto basic = RequestWithHeaders(node_->port(), "GET", "/taxii2/",
                                  "Authorization: Basic " + Base64("alice:" + analyst) + "\r\nAccept: " + kTaxii + "\r\n");
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->status, 200) << basic->body;
  auto discovery = Taxii("GET", "/taxii2/", analyst);
  ASSERT_EQ(discovery.status, 200);
  EXPECT_EQ(discovery.headers["content-type"], kTaxii);
  EXPECT_EQ(discovery.body, basic->body);
  auto d = Json(discovery);
  EXPECT_EQ(d.at("default").as_string(), "http://127.0.0.1/taxii2/concord/");
  EXPECT_EQ(d.at("api_roots").as_array().size(), 1u);

  auto root = Json(Taxii("GET", "/taxii2/concord/", analyst));
  EXPECT_EQ(root.at("title").as_string(), kHost);
  EXPECT_EQ(root.at("versions").as_array().at(0).as_string(), kTaxii);
  EXPECT_EQ(root.at("max_content_length").as_int64(), 64ll << 20);
  ExpectTaxiiError(Taxii("GET", "/taxii2/elsewhere/", analyst), 404);

  auto collections = Json(Taxii("GET", "/taxii2/concord/collections/", analyst));
  ASSERT_EQ(collections.at("collections").as_array().size(), 1u);
  const auto& c = collections.at("collections").as_array().at(0).as_object();
  EXPECT_EQ(c.at("id").as_string(), "5b32153d-98a1-4c36-a208-1fabb9c60b8a");
  EXPECT_TRUE(c.at("can_read").as_bool());
  EXPECT_TRUE(c.at("can_write").as_bool());
  EXPECT_EQ(c.at("media_types").as_array().at(0).as_string(), "application/stix+json;version=2.1");
  auto as_reader = Json(Taxii("GET", kCollection, reader));
  EXPECT_TRUE(as_reader.at("can_read").as_bool());
  EXPECT_FALSE(as_reader.at("can_write").as_bool());
  EXPECT_EQ(Taxii("GET", "/taxii2/concord/collections/all/", analyst).status, 200);  // the alias
  ExpectTaxiiError(Taxii("GET", "/taxii2/concord/collections/00000000-0000-4000-8000-000000000000/", analyst), 404);
}

TEST_F(TaxiiTest, NegotiationAndAuthenticationFailures) {
  const std::string analyst = User("alice", kHost, "analyst");
  const std::string objects = std::string(kCollection) + "objects/";
  ExpectTaxiiError(Taxii("GET", objects, analyst, "", "application/json"), 406);
  ExpectTaxiiError(Taxii("GET", objects, analyst, "", "application/taxii+json;version=2.0"), 406);
  EXPECT_EQ(Taxii("GET", objects, analyst, "", "application/taxii+json").status, 200);
  EXPECT_EQ(Taxii("GET", objects, analyst, "", "*/*").status, 200);
  const std::string body = Envelope({Indicator(1, host_id_)});
  ExpectTaxiiError(Taxii("POST", objects, analyst, body, kTaxii, "application/json"), 415);
  ExpectTaxiiError(Taxii("POST", objects, analyst, body, kTaxii, ""), 415);
  ExpectTaxiiError(Taxii("POST", objects, "concord_nonsense", body), 401);
  ExpectTaxiiError(Taxii("GET", objects + "?match[type]=indicator&match[type]=malware", analyst), 400);
  ExpectTaxiiError(Taxii("GET", objects + "?next=forged", analyst), 400);
  ExpectTaxiiError(Taxii("PUT", objects, analyst), 405);
  EXPECT_EQ(Taxii("POST", objects, analyst, body).status, 202);
}

TEST_F(TaxiiTest, OversizedBodyIs413) {
  Restart({"--max-body-bytes", "2048"});
  const std::string analyst = User("alice", kHost, "analyst");
  std::vector<std::string> many;
  for (int n = 1; n <= 20; ++n) many.push_back(Indicator(n, host_id_));
  const std::string body = Envelope(many);
  ASSERT_GT(body.size(), 2048u);
  // Refused on the Content-Length alone, and still in the TAXII error shape.
  ExpectTaxiiError(Taxii("POST", std::string(kCollection) + "objects/", analyst, body), 413);
  EXPECT_EQ(Json(Taxii("GET", "/taxii2/concord/", analyst)).at("max_content_length").as_int64(), 2048);
  EXPECT_EQ(Taxii("POST", std::string(kCollection) + "objects/", analyst, Envelope({Indicator(1, host_id_)})).status, 202);
}

TEST_F(TaxiiTest, AddObjectsStatusFiltersVersionsAndManifest) {
  const std::string analyst = User("alice", kHost, "analyst");
  const std::string other = User("bob", "Other CSIRT", "analyst");
  const std::string objects = std::string(kCollection) + "objects/";
  auto posted = Taxii("POST", objects, analyst,
                      Envelope({Indicator(1, host_id_, "2024-01-01T00:00:00.000Z"), Indicator(1, host_id_, "2024-02-01T00:00:00.000Z"),
                                Indicator(2, host_id_), Malware(host_id_), Indicator(3, other_id_)}));
  ASSERT_EQ(posted.status, 202) << posted.body;
  EXPECT_EQ(posted.headers["content-type"], kTaxii);
  auto status = Json(posted);
  EXPECT_EQ(status.at("status").as_string(), "complete");
  EXPECT_EQ(status.at("total_count").as_int64(), 5);
  EXPECT_EQ(status.at("success_count").as_int64(), 4);
  EXPECT_EQ(status.at("failure_count").as_int64(), 1);
  EXPECT_EQ(status.at("failures").as_array().at(0).at("id").as_string(), IndicatorId(3));
  EXPECT_EQ(status.at("successes").as_array().at(1).at("version").as_string(), "2024-02-01T00:00:00.000Z");
  const std::string status_url = "/taxii2/concord/status/" + std::string(status.at("id").as_string()) + "/";
  auto again = Taxii("GET", status_url, analyst);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, posted.body);
  ExpectTaxiiError(Taxii("GET", status_url, other), 404);  // another organisation's status

  auto all = Taxii("GET", objects, analyst);
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(Ids(Json(all)).size(), 3u);  // last versions: indicator 1, indicator 2, malware
  ASSERT_TRUE(all.headers.count("x-taxii-date-added-first"));
  ASSERT_TRUE(all.headers.count("x-taxii-date-added-last"));
  EXPECT_LE(all.headers["x-taxii-date-added-first"], all.headers["x-taxii-date-added-last"]);

  EXPECT_EQ(Ids(Json(Taxii("GET", objects + "?match[type]=malware", analyst))),
            std::vector<std::string>{"malware--00000000-0000-4000-8000-0000000000aa"});
  EXPECT_EQ(Ids(Json(Taxii("GET", objects + "?match[id]=" + IndicatorId(2), analyst))), std::vector<std::string>{IndicatorId(2)});
  EXPECT_EQ(Ids(Json(Taxii("GET", objects + "?match[type]=indicator,malware&match[id]=" + IndicatorId(1), analyst)), true),
            std::vector<std::string>{IndicatorId(1) + "@2024-02-01T00:00:00.000Z"});
  EXPECT_EQ(Ids(Json(Taxii("GET", objects + "?match[id]=" + IndicatorId(1) + "&match[version]=first", analyst)), true),
            std::vector<std::string>{IndicatorId(1) + "@2024-01-01T00:00:00.000Z"});
  EXPECT_EQ(Ids(Json(Taxii("GET", objects + "?match[id]=" + IndicatorId(1) + "&match[version]=last", analyst)), true),
            std::vector<std::string>{IndicatorId(1) + "@2024-02-01T00:00:00.000Z"});
  EXPECT_EQ(Ids(Json(Taxii("GET", objects + "?match[version]=all", analyst))).size(), 4u);
  EXPECT_EQ(Ids(Json(Taxii("GET", objects + "?match[version]=2024-01-01T00:00:00.000Z&match[type]=indicator", analyst)), true),
            (std::vector<std::string>{IndicatorId(1) + "@2024-01-01T00:00:00.000Z", IndicatorId(2) + "@2024-01-01T00:00:00.000Z"}));

  // added_after: only what was added later than the last object seen.
  const std::string last_added = all.headers["x-taxii-date-added-last"];
  EXPECT_TRUE(Ids(Json(Taxii("GET", objects + "?added_after=" + last_added, analyst))).empty());
  ASSERT_EQ(Taxii("POST", objects, analyst, Envelope({Indicator(4, host_id_)})).status, 202);
  auto later = Taxii("GET", objects + "?added_after=" + last_added, analyst);
  EXPECT_EQ(Ids(Json(later)), std::vector<std::string>{IndicatorId(4)});
  EXPECT_GT(later.headers["x-taxii-date-added-first"], last_added);

  // One object, its versions, the manifest.
  auto one = Taxii("GET", objects + IndicatorId(1) + "/", analyst);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(Ids(Json(one), true), std::vector<std::string>{IndicatorId(1) + "@2024-02-01T00:00:00.000Z"});
  EXPECT_EQ(Ids(Json(Taxii("GET", objects + IndicatorId(1) + "/?match[version]=all", analyst))).size(), 2u);
  ExpectTaxiiError(Taxii("GET", objects + IndicatorId(9) + "/", analyst), 404);
  auto versions = Taxii("GET", objects + IndicatorId(1) + "/versions/", analyst);
  ASSERT_EQ(versions.status, 200);
  EXPECT_EQ(boost::json::serialize(Json(versions).at("versions")), R"(["2024-01-01T00:00:00.000Z","2024-02-01T00:00:00.000Z"])");
  EXPECT_TRUE(versions.headers.count("x-taxii-date-added-first"));
  auto manifest = Taxii("GET", std::string(kCollection) + "manifest/?match[type]=indicator", analyst);
  ASSERT_EQ(manifest.status, 200);
  const auto manifest_json = Json(manifest);
  const auto& entries = manifest_json.at("objects").as_array();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries.at(0).at("id").as_string(), IndicatorId(1));
  EXPECT_EQ(entries.at(0).at("version").as_string(), "2024-02-01T00:00:00.000Z");
  EXPECT_EQ(entries.at(0).at("media_type").as_string(), "application/stix+json;version=2.1");
  EXPECT_TRUE(entries.at(0).as_object().contains("date_added"));
  EXPECT_LE(manifest.headers["x-taxii-date-added-first"], manifest.headers["x-taxii-date-added-last"]);
}

// A sweep by cursor while another client writes: every object is returned exactly once, by one page.
TEST_F(TaxiiTest, PagingWhileAnotherClientWritesNeitherSkipsNorRepeats) {
  const std::string analyst = User("alice", kHost, "analyst");
  const std::string writer_key = User("walt", kHost, "analyst");
  const std::string reader = User("bob", "Other CSIRT", "analyst");
  const std::string objects = std::string(kCollection) + "objects/";
  constexpr int kBefore = 40;
  constexpr int kDuring = 60;
  std::vector<std::string> first;
  for (int n = 1; n <= kBefore; ++n) first.push_back(Indicator(n, host_id_));
  ASSERT_EQ(Taxii("POST", objects, analyst, Envelope(first)).status, 202);

  std::atomic<bool> writing{true};
  std::atomic<int> write_failures{0};
  std::thread writer([&] {
    for (int n = kBefore + 1; n <= kBefore + kDuring; n += 2) {
      auto r = RequestWithHeaders(node_->port(), "POST", objects,
                                  "Authorization: Bearer " + writer_key + "\r\nAccept: " + kTaxii + "\r\nContent-Type: " + kTaxii + "\r\n",
                                  Envelope({Indicator(n, host_id_), Indicator(n + 1, host_id_)}));
      if (!r || r->status != 202) ++write_failures;
    }
    writing = false;
  });

  // Results by the cursor that produced them: a page fetched again (at the end of the store, while the
  // writer is still going) replaces its earlier answer.
  std::map<std::string, std::vector<std::string>> by_cursor;
  std::string cursor;  // "" = first page
  int requests = 0;
  int pages_while_writing = 0;  // how much the sweep overlapped the writes (reported, not asserted: timing)
  while (requests < 2000) {
    ++requests;
    if (writing) ++pages_while_writing;
    auto r = Taxii("GET", objects + "?limit=3" + (cursor.empty() ? "" : "&next=" + cursor), reader);
    ASSERT_EQ(r.status, 200) << r.body;
    auto page = Json(r);
    by_cursor[cursor] = Ids(page);
    if (page.at("more").as_bool()) {
      cursor = std::string(page.at("next").as_string());
      continue;
    }
    if (!writing) {
      // The writer is done; one more look at this page picks up what it wrote last.
      auto last = Taxii("GET", objects + "?limit=3" + (cursor.empty() ? "" : "&next=" + cursor), reader);
      auto last_page = Json(last);
      by_cursor[cursor] = Ids(last_page);
      if (!last_page.at("more").as_bool()) break;
      cursor = std::string(last_page.at("next").as_string());
    }
  }
  writer.join();
  EXPECT_EQ(write_failures, 0);
  std::map<std::string, int> seen;
  for (const auto& [c, ids] : by_cursor) {
    for (const auto& id : ids) ++seen[id];
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kBefore + kDuring));
  for (const auto& [id, count] : seen) EXPECT_EQ(count, 1) << id << " was returned by " << count << " pages";
  EXPECT_GT(by_cursor.size(), 10u);
  RecordProperty("pages_while_writing", pages_while_writing);
  std::printf("pages read while the writer wrote: %d of %d\n", pages_while_writing, requests);
}

TEST_F(TaxiiTest, AnotherOrganisationDoesNotSeeRed) {
  const std::string analyst = User("alice", kHost, "analyst");
  const std::string other = User("bob", "Other CSIRT", "analyst");
  const std::string objects = std::string(kCollection) + "objects/";
  const std::string red = R"(,"object_marking_refs":[")" + std::string(kRed) + "\"]";
  ASSERT_EQ(Taxii("POST", objects, analyst, Envelope({Indicator(1, host_id_, "2024-01-01T00:00:00.000Z", red), Indicator(2, host_id_)})).status,
            202);
  EXPECT_EQ(Ids(Json(Taxii("GET", objects, analyst))).size(), 2u);
  EXPECT_EQ(Ids(Json(Taxii("GET", objects, other))), std::vector<std::string>{IndicatorId(2)});
  EXPECT_EQ(Ids(Json(Taxii("GET", objects + "?match[id]=" + IndicatorId(1) + "&match[version]=all", other))).size(), 0u);
  auto manifest = Json(Taxii("GET", std::string(kCollection) + "manifest/", other));
  ASSERT_EQ(manifest.at("objects").as_array().size(), 1u);
  EXPECT_EQ(manifest.at("objects").as_array().at(0).at("id").as_string(), IndicatorId(2));
  auto hidden = Taxii("GET", objects + IndicatorId(1) + "/", other);
  ExpectTaxiiError(hidden, 404);
  ExpectTaxiiError(Taxii("GET", objects + IndicatorId(1) + "/versions/", other), 404);
  ExpectTaxiiError(Taxii("DELETE", objects + IndicatorId(1) + "/", other), 404);
  // Hidden answers exactly as unknown does, apart from the id it names.
  auto unknown = Taxii("GET", objects + IndicatorId(7) + "/", other);
  std::string hidden_body = hidden.body;
  hidden_body.replace(hidden_body.find(IndicatorId(1)), IndicatorId(1).size(), IndicatorId(7));
  EXPECT_EQ(hidden_body, unknown.body);
  EXPECT_EQ(Taxii("GET", objects + IndicatorId(1) + "/", analyst).status, 200);

  // TAXII reads of content are consultations in the audit log: bob read indicator 2, never indicator 1.
  auto [code, lines] = RunConcord({"audit", "list", "--db", db_, "--json", "--action", "read", "--user", "bob"});
  ASSERT_EQ(code, 0);
  bool read_two = false;
  for (size_t pos = 0; pos < lines.size();) {
    const size_t end = lines.find('\n', pos);
    const auto entry = boost::json::parse(lines.substr(pos, end - pos)).as_object();
    pos = end == std::string::npos ? lines.size() : end + 1;
    for (const auto& id : entry.at("object_ids").as_array()) {
      EXPECT_NE(id.as_string(), IndicatorId(1)) << boost::json::serialize(entry);
      read_two = read_two || id.as_string() == IndicatorId(2);
    }
  }
  EXPECT_TRUE(read_two) << lines;
  EXPECT_EQ(RunConcord({"audit", "verify", "--db", db_}).first, 0);
}

TEST_F(TaxiiTest, DeleteRevokesAndOnlyTheCreatorMay) {
  const std::string analyst = User("alice", kHost, "analyst");
  const std::string read_only_key = User("rita", kHost, "analyst", {"--read-only-key"});
  const std::string other = User("bob", "Other CSIRT", "analyst");
  const std::string objects = std::string(kCollection) + "objects/";
  ASSERT_EQ(Taxii("POST", objects, analyst, Envelope({Indicator(1, host_id_)})).status, 202);
  const std::string one = objects + IndicatorId(1) + "/";
  ExpectTaxiiError(Taxii("DELETE", one, other), 403);          // sees it, did not create it
  ExpectTaxiiError(Taxii("DELETE", one, read_only_key), 403);  // may not write
  ExpectTaxiiError(Taxii("DELETE", one + "?match[version]=first", analyst), 400);
  ExpectTaxiiError(Taxii("DELETE", objects + IndicatorId(2) + "/", analyst), 404);
  ExpectTaxiiError(Taxii("POST", objects, read_only_key, Envelope({Indicator(5, host_id_)})), 403);
  EXPECT_EQ(Taxii("DELETE", one, analyst).status, 200);
  EXPECT_EQ(Taxii("DELETE", one, analyst).status, 200);  // idempotent
  auto current = Json(Taxii("GET", one, other));
  EXPECT_TRUE(current.at("objects").as_array().at(0).at("revoked").as_bool());
  // Nothing was lost: the original version is still there.
  EXPECT_EQ(Json(Taxii("GET", one + "versions/", other)).at("versions").as_array().size(), 2u);
}

// Configured collections ([[taxii.collections]]) and TAXII state kept in the database: a node started with a
// --config naming organisations that exist before it starts.
constexpr char kGreenMarking[] = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
constexpr char kAmberMarking[] = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
constexpr char kGreenCollection[] = "/taxii2/concord/collections/indicators-green/";
constexpr char kInbox[] = "/taxii2/concord/collections/inbox/";

class TaxiiCollectionsTest : public TaxiiTest {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("concord_taxii_cfg_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "concord.db").string();
    auto host = RunConcord({"org", "add", "--db", db_, "--host", kHost});
    ASSERT_EQ(host.first, 0);
    host_id_ = Trim(host.second);
    auto other = RunConcord({"org", "add", "--db", db_, "Other CSIRT"});
    ASSERT_EQ(other.first, 0);
    other_id_ = Trim(other.second);
    config_ = (dir_ / "concord.toml").string();
    FILE* f = std::fopen(config_.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(R"([taxii]
status_keep = 3

[[taxii.collections]]
id = "6a1e4c3b-1c1d-4f00-9a6e-000000000001"
alias = "indicators-green"
title = "Green indicators"
read = { orgs = ["CERT-Test"] }
write = { orgs = ["CERT-Test"] }
types = ["indicator"]
max_tlp = "green"

[[taxii.collections]]
id = "6a1e4c3b-1c1d-4f00-9a6e-000000000002"
alias = "inbox"
title = "Inbox"
write = { roles = ["*"] }
)",
               f);
    std::fclose(f);
    node_ = Serve();
    ASSERT_NE(node_->port(), 0) << node_->output();
  }
  std::unique_ptr<NodeProcess> Serve() {
    return std::make_unique<NodeProcess>(std::vector<std::string>{"serve", "--config", config_, "--db", db_, "--listen",
                                                                  "127.0.0.1:0", "--insecure-http", "--name", kHost,
                                                                  "--rate-limit", "100000"});
  }
  HttpReply TaxiiAt(uint16_t port, const std::string& method, const std::string& target, const std::string& key,
                    const std::string& body = "") {
    std::string headers = "Authorization: Bearer " + key + "\r\nAccept: " + kTaxii + "\r\n";
    if (method == "POST") headers += "Content-Type: " + std::string(kTaxii) + "\r\n";
    auto r = RequestWithHeaders(port, method, target, headers, body);
    EXPECT_TRUE(r) << method << " " << target;
    return r ? *r : HttpReply{};
  }
  static std::string Marked(const char* marking) { return R"(,"object_marking_refs":[")" + std::string(marking) + "\"]"; }
  static std::vector<std::string> CollectionAliases(const boost::json::object& collections) {
    std::vector<std::string> out;
    for (const auto& c : collections.at("collections").as_array()) out.emplace_back(c.at("alias").as_string());
    return out;
  }

  std::string config_;
};

TEST_F(TaxiiCollectionsTest, ConfiguredCollectionsSelectObjectsAndGrantRights) {
  const std::string alice = User("alice", kHost, "analyst");
  const std::string bob = User("bob", "Other CSIRT", "analyst");
  const std::string t0 = "2024-01-01T00:00:00.000Z";
  ASSERT_EQ(Taxii("POST", std::string(kCollection) + "objects/", alice,
                  Envelope({Indicator(1, host_id_), Indicator(2, host_id_, t0, Marked(kGreenMarking)),
                            Indicator(3, host_id_, t0, Marked(kAmberMarking)), Malware(host_id_)}))
                .status,
            202);
  ASSERT_EQ(Taxii("POST", std::string(kCollection) + "objects/", bob, Envelope({Indicator(4, other_id_, t0, Marked(kGreenMarking))})).status,
            202);

  EXPECT_EQ(CollectionAliases(Json(Taxii("GET", "/taxii2/concord/collections/", alice))),
            (std::vector<std::string>{"all", "indicators-green", "inbox"}));
  EXPECT_EQ(CollectionAliases(Json(Taxii("GET", "/taxii2/concord/collections/", bob))), (std::vector<std::string>{"all", "inbox"}));

  // Indicators up to GREEN, whoever created them; not the AMBER one, not the malware.
  EXPECT_EQ(Ids(Json(Taxii("GET", std::string(kGreenCollection) + "objects/", alice))),
            (std::vector<std::string>{IndicatorId(1), IndicatorId(2), IndicatorId(4)}));
  auto manifest = Json(Taxii("GET", std::string(kGreenCollection) + "manifest/", alice));
  ASSERT_EQ(manifest.at("objects").as_array().size(), 3u);
  EXPECT_EQ(manifest.at("objects").as_array().at(2).at("id").as_string(), IndicatorId(4));
  EXPECT_EQ(Ids(Json(Taxii("GET", std::string(kGreenCollection) + "objects/" + IndicatorId(2) + "/", alice))),
            std::vector<std::string>{IndicatorId(2)});
  ExpectTaxiiError(Taxii("GET", std::string(kGreenCollection) + "objects/" + IndicatorId(3) + "/", alice), 404);
  ExpectTaxiiError(Taxii("GET", std::string(kGreenCollection) + "objects/" + IndicatorId(3) + "/versions/", alice), 404);
  ExpectTaxiiError(Taxii("GET", std::string(kGreenCollection) + "objects/malware--00000000-0000-4000-8000-0000000000aa/", alice),
                   404);
  // The other organisation holds no right on it: it does not exist for them.
  ExpectTaxiiError(Taxii("GET", std::string(kGreenCollection) + "objects/", bob), 404);
  ExpectTaxiiError(Taxii("GET", kGreenCollection, bob), 404);
  // The inbox is written by everyone and read by nobody.
  ExpectTaxiiError(Taxii("GET", std::string(kInbox) + "objects/", alice), 403);
  ExpectTaxiiError(Taxii("GET", std::string(kInbox) + "manifest/", bob), 403);
  EXPECT_EQ(Taxii("POST", std::string(kInbox) + "objects/", bob, Envelope({Indicator(5, other_id_)})).status, 202);
  // A write outside the selection fails for that item, with the reason.
  auto posted = Taxii("POST", std::string(kGreenCollection) + "objects/", alice,
                      Envelope({Indicator(6, host_id_, t0, Marked(kAmberMarking)), Indicator(7, host_id_)}));
  ASSERT_EQ(posted.status, 202) << posted.body;
  auto status = Json(posted);
  EXPECT_EQ(status.at("success_count").as_int64(), 1);
  EXPECT_EQ(status.at("failures").as_array().at(0).at("id").as_string(), IndicatorId(6));
  EXPECT_EQ(status.at("failures").as_array().at(0).at("message").as_string(),
            "rejected: object_marking_refs: TLP:amber is above this collection's maximum, TLP:green");
  ExpectTaxiiError(Taxii("GET", std::string(kCollection) + "objects/" + IndicatorId(6) + "/", alice), 404);
}

TEST_F(TaxiiCollectionsTest, ACursorOutlivesARestartOfTheNode) {
  const std::string alice = User("alice", kHost, "analyst");
  std::vector<std::string> objects;
  for (int n = 1; n <= 5; ++n) objects.push_back(Indicator(n, host_id_));
  ASSERT_EQ(Taxii("POST", std::string(kGreenCollection) + "objects/", alice, Envelope(objects)).status, 202);
  auto first = Json(Taxii("GET", std::string(kGreenCollection) + "objects/?limit=2", alice));
  EXPECT_EQ(Ids(first), (std::vector<std::string>{IndicatorId(1), IndicatorId(2)}));
  ASSERT_TRUE(first.at("more").as_bool());
  const std::string next(first.at("next").as_string());

  ASSERT_EQ(node_->Terminate(), 0);
  node_ = Serve();
  ASSERT_NE(node_->port(), 0) << node_->output();
  auto second = Taxii("GET", std::string(kGreenCollection) + "objects/?limit=2&next=" + next, alice);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(Ids(Json(second)), (std::vector<std::string>{IndicatorId(3), IndicatorId(4)}));
  // Still bound to its query.
  ExpectTaxiiError(Taxii("GET", std::string(kCollection) + "objects/?limit=2&next=" + next, alice), 400);
}

TEST_F(TaxiiCollectionsTest, StatusesAndCursorsAreSharedByProcessesAndKeptByRetention) {
  const std::string alice = User("alice", kHost, "analyst");
  const std::string bob = User("bob", "Other CSIRT", "analyst");
  auto second = Serve();
  ASSERT_NE(second->port(), 0) << second->output();
  const uint16_t one = node_->port();
  const uint16_t two = second->port();

  // Posted to one process, read from the other; another organisation gets 404 from either.
  std::vector<std::string> status_urls;
  std::vector<std::string> bodies;
  for (int n = 1; n <= 4; ++n) {
    auto posted = TaxiiAt(n % 2 == 1 ? one : two, "POST", std::string(kCollection) + "objects/", alice,
                          Envelope({Indicator(n, host_id_)}));
    ASSERT_EQ(posted.status, 202) << posted.body;
    status_urls.push_back("/taxii2/concord/status/" + std::string(Json(posted).at("id").as_string()) + "/");
    bodies.push_back(posted.body);
    auto elsewhere = TaxiiAt(n % 2 == 1 ? two : one, "GET", status_urls.back(), alice);
    EXPECT_EQ(elsewhere.status, 200) << elsewhere.body;
    EXPECT_EQ(elsewhere.body, posted.body);
    ExpectTaxiiError(TaxiiAt(two, "GET", status_urls.back(), bob), 404);
  }
  // status_keep = 3: the first status is gone from both processes, the newest three stay.
  ExpectTaxiiError(TaxiiAt(one, "GET", status_urls[0], alice), 404);
  ExpectTaxiiError(TaxiiAt(two, "GET", status_urls[0], alice), 404);
  for (size_t i = 1; i < 4; ++i) {
    auto kept = TaxiiAt(i % 2 == 0 ? one : two, "GET", status_urls[i], alice);
    EXPECT_EQ(kept.status, 200) << status_urls[i];
    EXPECT_EQ(kept.body, bodies[i]);
  }

  // A `next` issued by one process continues on the other.
  auto first = Json(TaxiiAt(one, "GET", std::string(kCollection) + "objects/?limit=3", alice));
  ASSERT_TRUE(first.at("more").as_bool());
  auto rest = TaxiiAt(two, "GET", std::string(kCollection) + "objects/?limit=3&next=" + std::string(first.at("next").as_string()), alice);
  ASSERT_EQ(rest.status, 200) << rest.body;
  EXPECT_EQ(Ids(Json(rest)), std::vector<std::string>{IndicatorId(4)});
  EXPECT_EQ(second->Terminate(), 0);
}

TEST_F(TaxiiCollectionsTest, AnInvalidCollectionStopsTheStartNamingFileTableAndKey) {
  const std::string bad = (dir_ / "bad.toml").string();
  FILE* f = std::fopen(bad.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("[[taxii.collections]]\nid = \"6a1e4c3b-1c1d-4f00-9a6e-000000000001\"\ntitle = \"T\"\n"
             "read = { roles = [\"*\"] }\n\n[[taxii.collections]]\nid = \"not-a-uuid\"\ntitle = \"U\"\n"
             "read = { roles = [\"*\"] }\n",
             f);
  std::fclose(f);
  const std::string command = std::string(CONCORD_BINARY) + " serve --config '" + bad + "' --db '" + db_ +
                              "' --listen 127.0.0.1:0 --insecure-http 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 2) << out;
  EXPECT_NE(out.find(bad + ": taxii.collections[1].id: not a UUID: 'not-a-uuid'"), std::string::npos) << out;
}

}  // namespace
}  // namespace concord::testing
