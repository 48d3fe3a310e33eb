// End to end: a property test of the sharing policy on one real `concord serve`. Four organisations write
// random objects (random TLP 2.0 marking, distribution and sharing group, some with later versions that change
// them); then, for every organisation's analyst and every read path (REST get, version, list, versions; TAXII
// objects, manifest, object, versions; the event stream; the audit log), what the node shows must be exactly
// what an oracle written in this file computes. The oracle states the rules as audiences, from design.md
// ("Sharing policy") and tests/cases/policy/generate.py; it does not call the policy module.
//
// The seed is printed; CONCORD_PROPERTY_SEED=<n> replays a run.
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "node_process.h"

namespace concord::testing {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

constexpr uint64_t kDefaultSeed = 20240611;
constexpr int kOrgs = 4;
constexpr int kGroups = 4;
constexpr int kObjects = 200;
constexpr char kPolicyExtension[] = "extension-definition--316340be-3f50-4d51-bfe5-65daffa13801";
constexpr char kCollection[] = "/taxii2/concord/collections/5b32153d-98a1-4c36-a208-1fabb9c60b8a/";
constexpr char kTaxiiAccept[] = "Accept: application/taxii+json;version=2.1\r\n";
constexpr size_t kMaxReported = 12;  // mismatches reported per check, so that a broken rule stays readable

// ---- the random world --------------------------------------------------------------------------------

enum class Tlp { kNone, kClear, kGreen, kAmber, kAmberStrict, kRed };
constexpr std::array<const char*, 6> kTlpNames = {"none", "clear", "green", "amber", "amber+strict", "red"};
// The TLP 2.0 marking definitions (OASIS), by Tlp; none for kNone.
constexpr std::array<const char*, 6> kTlpMarkings = {
    nullptr,
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
};
const char* TlpName(Tlp t) { return kTlpNames[static_cast<size_t>(t)]; }

struct Version {
  std::string modified;
  Tlp tlp = Tlp::kNone;
  int distribution = -1;  // 0..4; -1: the object carries no distribution (the node's default applies)
  std::string group;      // sharing_group_ref; "" when none
  std::string json;       // as written
  boost::json::value parsed;
};

struct Object {
  std::string id;
  std::string type;
  int owner = 0;                  // the creating organisation (index)
  std::vector<Version> versions;  // in the order written, which is the order of `modified`
  const Version& current() const { return versions.back(); }
};

std::string Key(const std::string& id, const std::string& modified) { return id + " @ " + modified; }

// The sharing policy of one node, for objects created on it, stated as audiences (who may have the object):
// design.md's distribution table (organisation: the owner; community, connected, all: every organisation here;
// group: the sharing group's members) intersected with the TLP's audience (RED: the named recipients, i.e. the
// members of the sharing group the object names, nobody without one; every other level, or none, follows the
// distribution for an object created here), plus the owner, who always sees its object. An object without a
// distribution gets the node's default, community. A sharing group this node does not know has no members.
class Oracle {
 public:
  std::map<std::string, std::set<int>> groups;  // sharing group id → member organisations (the owner included)

  bool Visible(int viewer, const Object& o, const Version& v) const {
    if (viewer == o.owner) return true;
    const bool member = IsMember(v.group, viewer);
    const int distribution = v.distribution < 0 ? 1 : v.distribution;
    const bool by_distribution = distribution == 0 ? false : distribution == 4 ? member : true;
    const bool by_tlp = v.tlp == Tlp::kRed ? member : true;
    return by_distribution && by_tlp;
  }
  bool CurrentVisible(int viewer, const Object& o) const { return Visible(viewer, o, o.current()); }
  bool AnyVisible(int viewer, const Object& o) const {
    for (const Version& v : o.versions) {
      if (Visible(viewer, o, v)) return true;
    }
    return false;
  }

 private:
  bool IsMember(const std::string& group, int org) const {
    auto it = groups.find(group);
    return it != groups.end() && it->second.count(org) > 0;
  }
};

// Uniform enough for a test, and the same on every standard library (std::uniform_int_distribution is not).
struct Random {
  explicit Random(uint64_t seed) : engine(seed) {}
  uint64_t Below(uint64_t n) { return engine() % n; }
  bool Chance(uint64_t percent) { return Below(100) < percent; }
  std::string Hex(int digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < digits; ++i) out += kHex[Below(16)];
    return out;
  }
  std::string Uuid() { return Hex(8) + "-" + Hex(4) + "-4" + Hex(3) + "-8" + Hex(3) + "-" + Hex(12); }
  std::mt19937_64 engine;
};

std::string Quote(const std::string& s) { return boost::json::serialize(boost::json::value(s)); }

// 2024-MM-01T00:mm:ss.000Z: versions of one object a month apart; objects apart by their index.
std::string Timestamp(int version, int index) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "2024-%02d-01T%02d:%02d:%02d.000Z", 1 + 2 * version, index / 3600, (index / 60) % 60,
                index % 60);
  return buf;
}

// The JSON of one version: an SDO of `o.type` by organisation identity `creator` under `v`'s policy.
std::string ObjectJson(const Object& o, const Version& v, const std::string& creator, int index, int version,
                       Random& rng) {
  std::string json = R"({"type":")" + o.type + R"(","spec_version":"2.1","id":")" + o.id + R"(","created_by_ref":")" +
                     creator + R"(","created":")" + Timestamp(0, index) + R"(","modified":")" + v.modified +
                     R"(","description":"version )" + std::to_string(version) + " of object " + std::to_string(index) +
                     "\"";
  if (o.type == "indicator") {
    std::string pattern;
    switch (rng.Below(3)) {
      case 0:
        pattern = "[ipv4-addr:value = '10." + std::to_string(rng.Below(256)) + "." + std::to_string(rng.Below(256)) +
                  "." + std::to_string(rng.Below(256)) + "']";
        break;
      case 1:
        pattern = "[domain-name:value = 'h" + rng.Hex(10) + ".example.org']";
        break;
      default:
        pattern = "[file:hashes.'SHA-256' = '" + rng.Hex(64) + "']";
        break;
    }
    json += R"(,"pattern":)" + Quote(pattern) + R"(,"pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z")";
  } else if (o.type == "malware") {
    json += R"(,"name":"malware )" + rng.Hex(6) + R"(","is_family":true)";
  } else {
    json += R"(,"name":")" + o.type + " " + rng.Hex(6) + "\"";
  }
  if (v.tlp != Tlp::kNone) {
    json += R"(,"object_marking_refs":[")" + std::string(kTlpMarkings[static_cast<size_t>(v.tlp)]) + "\"]";
  }
  if (v.distribution >= 0 || !v.group.empty()) {
    json += R"(,"extensions":{")" + std::string(kPolicyExtension) + R"(":{"extension_type":"property-extension")";
    if (v.distribution >= 0) json += R"(,"distribution":)" + std::to_string(v.distribution);
    if (!v.group.empty()) json += R"(,"sharing_group_ref":")" + v.group + "\"";
    json += "}}";
  }
  return json + "}";
}

// One line per version, for failure messages.
std::string Describe(const Object& o, const Oracle& oracle) {
  std::string out = o.id + " (owner org" + std::to_string(o.owner) + ")";
  for (const Version& v : o.versions) {
    out += " [" + v.modified + " tlp=" + TlpName(v.tlp) +
           " dist=" + (v.distribution < 0 ? std::string("default") : std::to_string(v.distribution));
    if (!v.group.empty()) {
      auto it = oracle.groups.find(v.group);
      out += " group=" + v.group.substr(25, 8) + "{";
      if (it == oracle.groups.end()) {
        out += "unknown";
      } else {
        for (int m : it->second) out += (out.back() == '{' ? "org" : ",org") + std::to_string(m);
      }
      out += "}";
    }
    out += "]";
  }
  return out;
}

// ---- HTTP helpers ----------------------------------------------------------------------------------------

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string PercentEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::optional<boost::json::value> ParseBody(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) return std::nullopt;
  return v;
}

std::string Str(const boost::json::value& v) { return v.is_string() ? std::string(v.get_string()) : ""; }

// A client of GET /api/v1/stream: the response head, then its chunked body split into server-sent events.
class EventStreamReader {
 public:
  struct Event {
    std::string id;
    std::string type;
    std::string data;
  };

  EventStreamReader(uint16_t port, const std::string& target, const std::string& key) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
                                "Authorization: Bearer " + key + "\r\n\r\n";
    ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
  }
  ~EventStreamReader() {
    if (fd_ >= 0) ::close(fd_);
  }

  // The status code of the response; 0 when no head arrived before the deadline.
  int ReadHead(SteadyClock::time_point deadline) {
    size_t end;
    while ((end = raw_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return 0;
    }
    const std::string head = raw_.substr(0, end);
    raw_.erase(0, end + 4);
    chunked_ = head.find("chunked") != std::string::npos;
    return head.size() >= 12 ? std::atoi(head.substr(9, 3).c_str()) : 0;
  }

  // The next `event:` block with data; comments, `retry:` and position-only `id:` blocks are skipped.
  std::optional<Event> Next(SteadyClock::time_point deadline) {
    while (true) {
      size_t end;
      while ((end = text_.find("\n\n")) == std::string::npos) {
        if (!chunked_ || ended_ || !Decode(deadline)) return std::nullopt;
      }
      const std::string block = text_.substr(0, end + 1);
      text_.erase(0, end + 2);
      Event e;
      for (size_t pos = 0; pos < block.size();) {
        const size_t eol = block.find('\n', pos);
        const std::string line = block.substr(pos, eol - pos);
        pos = eol + 1;
        const size_t colon = line.find(':');
        if (colon == 0 || colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        const std::string field = line.substr(0, colon);
        if (field == "id") e.id = value;
        if (field == "event") e.type = value;
        if (field == "data") e.data += value;
      }
      if (!e.data.empty()) return e;
    }
  }

 private:
  bool Fill(SteadyClock::time_point deadline) {
    while (fd_ >= 0 && SteadyClock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      raw_.append(buf, static_cast<size_t>(n));
      return true;
    }
    return false;
  }
  // Moves one whole chunk's data from raw_ to text_, reading more as needed.
  bool Decode(SteadyClock::time_point deadline) {
    while (true) {
      const size_t eol = raw_.find("\r\n");
      if (eol != std::string::npos) {
        const size_t size = std::strtoul(raw_.substr(0, eol).c_str(), nullptr, 16);
        if (raw_.size() >= eol + 2 + size + 2) {
          text_ += raw_.substr(eol + 2, size);
          raw_.erase(0, eol + 2 + size + 2);
          ended_ = size == 0;
          return true;
        }
      }
      if (!Fill(deadline)) return false;
    }
  }

  int fd_ = -1;
  bool chunked_ = false;
  bool ended_ = false;
  std::string raw_;
  std::string text_;
};

// ---- the checks ----------------------------------------------------------------------------------------

// Counts checks and keeps mismatches; one per viewer, so that viewers run in parallel threads.
class Report {
 public:
  explicit Report(std::string who) : who_(std::move(who)) {}
  void Expect(bool ok, const std::function<std::string()>& message) {
    ++checks_;
    if (!ok) Fail(message());
  }
  void Fail(const std::string& message) {
    if (failures_.size() < 10 * kMaxReported) failures_.push_back(who_ + ": " + message);
    ++failed_;
  }
  // Expected set vs what was returned (with duplicates): one check per expected and per returned element.
  void ExpectSame(const std::string& what, const std::set<std::string>& expected, const std::vector<std::string>& got,
                  const std::function<std::string(const std::string&)>& explain) {
    std::map<std::string, int> seen;
    for (const std::string& g : got) ++seen[g];
    size_t reported = 0;
    for (const std::string& e : expected) {
      ++checks_;
      if (seen.count(e) == 0 && reported++ < kMaxReported) Fail(what + ": missing " + explain(e));
    }
    for (const auto& [g, n] : seen) {
      ++checks_;
      if (expected.count(g) == 0 && reported++ < kMaxReported) Fail(what + ": must not show " + explain(g));
      if (n > 1 && reported++ < kMaxReported) Fail(what + ": returned " + std::to_string(n) + " times: " + g);
    }
  }
  // Expected multiset vs got multiset (audit entries: one element per object an entry names).
  void ExpectSameCounts(const std::string& what, const std::map<std::string, int>& expected,
                        const std::map<std::string, int>& got,
                        const std::function<std::string(const std::string&)>& explain) {
    size_t reported = 0;
    std::set<std::string> keys;
    for (const auto& [k, n] : expected) keys.insert(k);
    for (const auto& [k, n] : got) keys.insert(k);
    for (const std::string& k : keys) {
      ++checks_;
      const int e = expected.count(k) ? expected.at(k) : 0;
      const int g = got.count(k) ? got.at(k) : 0;
      if (e != g && reported++ < kMaxReported) {
        Fail(what + ": expected " + std::to_string(e) + " mention(s), got " + std::to_string(g) + ": " + explain(k));
      }
    }
  }
  size_t checks() const { return checks_; }
  size_t failed() const { return failed_; }
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  std::string who_;
  size_t checks_ = 0;
  size_t failed_ = 0;
  std::vector<std::string> failures_;
};

struct World {
  std::vector<std::string> orgs;        // identity ids by index
  std::vector<Object> objects;          // the sentinel last
  std::map<std::string, size_t> index;  // id → position in objects
  Oracle oracle;
};

// Every read path, as one organisation's analyst.
class Viewer {
 public:
  Viewer(uint16_t port, std::string key, int org, const World& world, Report& report)
      : port_(port), key_(std::move(key)), org_(org), world_(world), report_(report) {}

  std::string Explain(const std::string& id_or_key) const {
    const std::string id = id_or_key.substr(0, id_or_key.find(' '));
    auto it = world_.index.find(id);
    if (it == world_.index.end()) return id_or_key + " (not written by this test)";
    return id_or_key + " — " + Describe(world_.objects[it->second], world_.oracle);
  }
  std::function<std::string(const std::string&)> Explainer() const {
    return [this](const std::string& k) { return Explain(k); };
  }

  // What the oracle says this viewer sees now.
  std::set<std::string> CurrentVisible() const {
    std::set<std::string> out;
    for (const Object& o : world_.objects) {
      if (world_.oracle.CurrentVisible(org_, o)) out.insert(o.id);
    }
    return out;
  }
  std::set<std::string> VisibleVersions() const {
    std::set<std::string> out;
    for (const Object& o : world_.objects) {
      for (const Version& v : o.versions) {
        if (world_.oracle.Visible(org_, o, v)) out.insert(Key(o.id, v.modified));
      }
    }
    return out;
  }

  // GET /api/v1/objects/{id}: 200 with the current version iff the oracle shows it, else 404 (never 403);
  // with ?version= for every older version: 200 with that version iff visible.
  void RestGet(bool older_versions) {
    for (const Object& o : world_.objects) {
      for (size_t i = 0; i < o.versions.size(); ++i) {
        const bool current = i + 1 == o.versions.size();
        if (!current && !older_versions) continue;
        const Version& v = o.versions[i];
        const std::string target = "/api/v1/objects/" + o.id + (current ? "" : "?version=" + PercentEncode(v.modified));
        auto r = Request(port_, "GET", target, key_);
        const bool visible = world_.oracle.Visible(org_, o, v);
        const int status = r ? r->status : 0;
        report_.Expect(status == (visible ? 200 : 404), [&] {
          return "GET " + target + ": status " + std::to_string(status) + ", expected " + (visible ? "200" : "404") +
                 " — " + Describe(o, world_.oracle) + (r ? " body " + r->body.substr(0, 200) : "");
        });
        if (visible && status == 200) {
          auto body = ParseBody(r->body);
          report_.Expect(body && *body == v.parsed, [&] {
            return "GET " + target + ": content is not version " + v.modified + ": " + r->body.substr(0, 300);
          });
        }
      }
    }
  }

  // GET /api/v1/objects (current versions, or all_versions=true), paged with `next` to the end.
  void RestList(bool all_versions) {
    std::vector<std::string> got;
    std::string cursor;
    const std::string what = all_versions ? "REST list all_versions" : "REST list";
    for (int page = 0; page < 1000; ++page) {
      const std::string target = "/api/v1/objects?limit=17" + std::string(all_versions ? "&all_versions=true" : "") +
                                 (cursor.empty() ? "" : "&cursor=" + cursor);
      auto r = Request(port_, "GET", target, key_);
      auto body = r && r->status == 200 ? ParseBody(r->body) : std::nullopt;
      if (!body || !body->is_object() || !body->as_object().contains("objects")) {
        report_.Fail(what + ": GET " + target + " answered " +
                     (r ? std::to_string(r->status) + " " + r->body.substr(0, 200) : "nothing"));
        return;
      }
      for (const auto& item : body->as_object().at("objects").as_array()) {
        const std::string id = Str(item.as_object().at("id"));
        const std::string modified = Str(item.as_object().at("modified"));
        got.push_back(all_versions ? Key(id, modified) : id);
        CheckContent(what, id, modified, item, !all_versions);
      }
      const auto* more = body->as_object().if_contains("more");
      if (more == nullptr || !more->is_bool() || !more->get_bool()) break;
      cursor = Str(body->as_object().at("next"));
    }
    report_.ExpectSame(what, all_versions ? VisibleVersions() : CurrentVisible(), got, Explainer());
  }

  // GET /api/v1/objects/{id}/versions: 404 iff no version is visible, else exactly the visible versions.
  void RestVersions() {
    for (const Object& o : world_.objects) {
      const std::string target = "/api/v1/objects/" + o.id + "/versions";
      auto r = Request(port_, "GET", target, key_);
      const bool any = world_.oracle.AnyVisible(org_, o);
      const int status = r ? r->status : 0;
      report_.Expect(status == (any ? 200 : 404), [&] {
        return "GET " + target + ": status " + std::to_string(status) + " — " + Describe(o, world_.oracle);
      });
      if (status != 200) continue;
      auto body = ParseBody(r->body);
      if (!body || !body->is_object() || !body->as_object().contains("versions")) {
        report_.Fail("GET " + target + ": not a versions document: " + r->body.substr(0, 200));
        continue;
      }
      std::vector<std::string> got;
      std::set<std::string> expected;
      for (const Version& v : o.versions) {
        if (world_.oracle.Visible(org_, o, v)) expected.insert(Key(o.id, v.modified));
      }
      for (const auto& item : body->as_object().at("versions").as_array()) {
        const auto& object = item.as_object().at("object");
        const auto& meta = item.as_object().at("meta").as_object();
        const std::string modified = Str(object.as_object().at("modified"));
        got.push_back(Key(o.id, modified));
        CheckContent("REST versions", o.id, modified, object, false);
        const Version* v = Find(o, modified);
        if (v == nullptr) continue;
        report_.Expect(Str(meta.at("tlp")) == TlpName(v->tlp),
                       [&] { return "REST versions " + Key(o.id, modified) + ": meta.tlp " + Str(meta.at("tlp")); });
        report_.Expect(meta.at("current").is_bool() && meta.at("current").get_bool() == (v == &o.current()),
                       [&] { return "REST versions " + Key(o.id, modified) + ": meta.current is wrong"; });
      }
      report_.ExpectSame("REST versions of " + o.id, expected, got, Explainer());
    }
  }

  // TAXII GET objects/ (match[version]=last by default, or all) and manifest/, paged with `next`.
  void TaxiiList(const std::string& endpoint, bool all_versions) {
    std::vector<std::string> got;
    std::string next;
    const std::string what = "TAXII " + endpoint + (all_versions ? " match[version]=all" : "");
    for (int page = 0; page < 1000; ++page) {
      const std::string target = kCollection + endpoint + "/?limit=23" +
                                 (all_versions ? "&match%5Bversion%5D=all" : "") +
                                 (next.empty() ? "" : "&next=" + PercentEncode(next));
      auto r = Taxii(target);
      auto body = r && r->status == 200 ? ParseBody(r->body) : std::nullopt;
      if (!body || !body->is_object()) {
        report_.Fail(what + ": GET " + target + " answered " +
                     (r ? std::to_string(r->status) + " " + r->body.substr(0, 200) : "nothing"));
        return;
      }
      if (const auto* objects = body->as_object().if_contains("objects")) {
        for (const auto& item : objects->as_array()) {
          const std::string id = Str(item.as_object().at("id"));
          if (endpoint == "manifest") {
            const std::string version = Str(item.as_object().at("version"));
            got.push_back(Key(id, version));
          } else {
            const std::string modified = Str(item.as_object().at("modified"));
            got.push_back(Key(id, modified));
            CheckContent(what, id, modified, item, !all_versions);
          }
        }
      }
      const auto* more = body->as_object().if_contains("more");
      if (more == nullptr || !more->is_bool() || !more->get_bool()) break;
      next = Str(body->as_object().at("next"));
    }
    std::set<std::string> expected;
    if (all_versions) {
      expected = VisibleVersions();
    } else {
      for (const std::string& id : CurrentVisible()) {
        expected.insert(Key(id, world_.objects[world_.index.at(id)].current().modified));
      }
    }
    report_.ExpectSame(what, expected, got, Explainer());
  }

  // TAXII GET objects/{id}/ (the latest version: the current one when visible) and objects/{id}/versions/.
  // handlers.h: an object of which no version is shown is a 404; one whose current version is hidden but an
  // older one is visible has no latest version to show (an empty envelope).
  void TaxiiObjects() {
    for (const Object& o : world_.objects) {
      const bool current = world_.oracle.CurrentVisible(org_, o);
      const bool any = world_.oracle.AnyVisible(org_, o);
      {
        const std::string target = kCollection + std::string("objects/") + o.id + "/";
        auto r = Taxii(target);
        const int status = r ? r->status : 0;
        report_.Expect(status == (any ? 200 : 404), [&] {
          return "TAXII GET " + target + ": status " + std::to_string(status) + " — " + Describe(o, world_.oracle);
        });
        if (status == 200) {
          std::vector<std::string> got;
          auto body = ParseBody(r->body);
          if (body && body->is_object()) {
            if (const auto* objects = body->as_object().if_contains("objects")) {
              for (const auto& item : objects->as_array()) {
                const std::string modified = Str(item.as_object().at("modified"));
                got.push_back(Key(o.id, modified));
                CheckContent("TAXII object", o.id, modified, item, true);
              }
            }
          }
          std::set<std::string> expected;
          if (current) expected.insert(Key(o.id, o.current().modified));
          report_.ExpectSame("TAXII object " + o.id, expected, got, Explainer());
        }
      }
      {
        const std::string target = kCollection + std::string("objects/") + o.id + "/versions/";
        auto r = Taxii(target);
        const int status = r ? r->status : 0;
        report_.Expect(status == (any ? 200 : 404), [&] {
          return "TAXII GET " + target + ": status " + std::to_string(status) + " — " + Describe(o, world_.oracle);
        });
        if (status == 200) {
          std::vector<std::string> got;
          auto body = ParseBody(r->body);
          if (body && body->is_object()) {
            if (const auto* versions = body->as_object().if_contains("versions")) {
              for (const auto& v : versions->as_array()) got.push_back(Key(o.id, Str(v)));
            }
          }
          std::set<std::string> expected;
          for (const Version& v : o.versions) {
            if (world_.oracle.Visible(org_, o, v)) expected.insert(Key(o.id, v.modified));
          }
          report_.ExpectSame("TAXII versions " + o.id, expected, got, Explainer());
        }
      }
    }
  }

  // GET /api/v1/stream?after=0 until the sentinel (the last object written, visible to all) arrives: every
  // visible version, each once, and nothing else. Events come in change-sequence order, so nothing written
  // before the sentinel can come after it.
  void Stream(const std::string& sentinel) {
    EventStreamReader stream(port_, "/api/v1/stream?after=0", key_);
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    const int status = stream.ReadHead(deadline);
    report_.Expect(status == 200, [&] { return "stream: status " + std::to_string(status); });
    if (status != 200) return;
    std::vector<std::string> got;
    bool done = false;
    while (!done) {
      auto e = stream.Next(deadline);
      if (!e) break;
      auto data = ParseBody(e->data);
      if (!data || !data->is_object()) {
        report_.Fail("stream: event data is not JSON: " + e->data.substr(0, 200));
        continue;
      }
      const auto& d = data->as_object();
      const std::string id = Str(d.at("id"));
      const std::string modified = Str(d.at("modified"));
      got.push_back(Key(id, modified));
      report_.Expect(e->type == "object" && e->id == std::to_string(d.at("seq").to_number<int64_t>()),
                     [&] { return "stream: event " + e->type + " id " + e->id + " for " + Key(id, modified); });
      CheckContent("stream", id, modified, d.at("object"), false);
      done = id == sentinel;
    }
    report_.Expect(done, [&] { return "stream: the sentinel " + sentinel + " did not arrive within 30 s"; });
    report_.ExpectSame("stream", VisibleVersions(), got, Explainer());
  }

 private:
  std::optional<HttpReply> Taxii(const std::string& target) const {
    return RequestWithHeaders(port_, "GET", target, "Authorization: Bearer " + key_ + "\r\n" + kTaxiiAccept);
  }
  static const Version* Find(const Object& o, const std::string& modified) {
    for (const Version& v : o.versions) {
      if (v.modified == modified) return &v;
    }
    return nullptr;
  }
  // A returned object is exactly the version it claims to be (and, where only current versions are listed,
  // the current one).
  void CheckContent(const std::string& what, const std::string& id, const std::string& modified,
                    const boost::json::value& got, bool must_be_current) {
    auto it = world_.index.find(id);
    if (it == world_.index.end()) {
      report_.Fail(what + ": returned " + id + ", which this test did not write");
      return;
    }
    const Object& o = world_.objects[it->second];
    const Version* v = Find(o, modified);
    report_.Expect(v != nullptr && got == v->parsed,
                   [&] { return what + ": content of " + Key(id, modified) + " differs from what was written"; });
    if (must_be_current) {
      report_.Expect(v == &o.current(),
                     [&] { return what + ": " + Key(id, modified) + " is not the current version"; });
    }
  }

  uint16_t port_;
  std::string key_;
  int org_;
  const World& world_;
  Report& report_;
};

// ---- the test ------------------------------------------------------------------------------------------

uint64_t Seed() {
  const char* env = std::getenv("CONCORD_PROPERTY_SEED");
  if (env == nullptr || *env == '\0') return kDefaultSeed;
  return std::strtoull(env, nullptr, 10);
}

class PolicyPropertyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("concord_policy_property_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "concord.db").string();
    // Thousands of requests per key in a few seconds: the rate limit is not under test here.
    std::ofstream(dir_ / "concord.toml")
        << "[server]\nrate_limit_per_second = 1000000.0\nrate_limit_burst = 1000000.0\n";
  }
  void TearDown() override {
    if (node_) {
      EXPECT_EQ(node_->Terminate(), 0);
    }
    node_.reset();
    fs::remove_all(dir_);
  }

  // Runs the CLI against the test's database; its standard output, trimmed.
  std::string Cli(std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"--db", db_});
    auto [code, out] = RunConcord(args);
    EXPECT_EQ(code, 0) << args[0] << " " << args[3] << " " << args[4];
    return Trim(out);
  }

  std::optional<boost::json::value> Call(const std::string& method, const std::string& target, const std::string& key,
                                         int expected_status, const std::string& body = "") {
    auto r = Request(node_->port(), method, target, key, body);
    EXPECT_TRUE(r.has_value()) << method << " " << target;
    if (!r) return std::nullopt;
    EXPECT_EQ(r->status, expected_status) << method << " " << target << ": " << r->body.substr(0, 500);
    if (r->status != expected_status) return std::nullopt;
    return ParseBody(r->body);
  }

  // Every read entry of the audit log that `filter` selects, read as `key` page by page.
  std::vector<boost::json::object> AuditEntries(const std::string& key, const std::string& filter) {
    std::vector<boost::json::object> out;
    std::string cursor;
    for (int page = 0; page < 1000; ++page) {
      auto doc =
          Call("GET", "/api/v1/audit?limit=1000" + filter + (cursor.empty() ? "" : "&cursor=" + cursor), key, 200);
      if (!doc) break;
      for (const auto& e : doc->as_object().at("entries").as_array()) out.push_back(e.as_object());
      if (!doc->as_object().at("more").as_bool()) break;
      cursor = Str(doc->as_object().at("next"));
    }
    return out;
  }

  fs::path dir_;
  std::string db_;
  std::unique_ptr<NodeProcess> node_;
};

TEST_F(PolicyPropertyTest, EveryReadPathShowsExactlyWhatTheOracleAllows) {
  const uint64_t seed = Seed();
  std::printf("policy property test: seed %llu (CONCORD_PROPERTY_SEED=%llu replays it)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  SCOPED_TRACE("CONCORD_PROPERTY_SEED=" + std::to_string(seed));
  Random rng(seed);
  World world;

  // Organisations (org0 is the host), one analyst and one org-admin each, and the administrator.
  const std::array<std::string, kOrgs> names = {"CERT-Host", "CSIRT-North", "Police-Cyber-South", "CERT-East"};
  world.orgs.push_back(Cli({"org", "add", names[0], "--host"}));
  for (int i = 1; i < kOrgs; ++i) world.orgs.push_back(Cli({"org", "add", names[static_cast<size_t>(i)]}));
  std::vector<std::string> analysts, org_admins;
  for (int i = 0; i < kOrgs; ++i) {
    const std::string& org = names[static_cast<size_t>(i)];
    analysts.push_back(Cli({"user", "add", "analyst" + std::to_string(i), "--org", org, "--role", "analyst"}));
    org_admins.push_back(Cli({"user", "add", "orgadmin" + std::to_string(i), "--org", org, "--role", "org-admin"}));
  }
  const std::string admin = Cli({"user", "add", "root", "--org", names[0], "--role", "admin"});
  for (const std::string& id : world.orgs) ASSERT_TRUE(id.starts_with("identity--")) << id;
  for (const std::string& k : analysts) ASSERT_TRUE(k.starts_with("concord_")) << k;
  ASSERT_TRUE(admin.starts_with("concord_")) << admin;

  node_ = std::make_unique<NodeProcess>(
      std::vector<std::string>{"serve", "--config", (dir_ / "concord.toml").string(), "--db", db_, "--listen",
                               "127.0.0.1:0", "--insecure-http", "--name", names[0], "--log-level", "warn"});
  ASSERT_NE(node_->port(), 0) << node_->output();
  const uint16_t port = node_->port();

  // Sharing groups with random owners and members, made over REST; and one id no group has.
  std::vector<std::string> group_ids;
  std::map<std::string, int> group_owner;
  for (int g = 0; g < kGroups; ++g) {
    const int owner = static_cast<int>(rng.Below(kOrgs));
    std::set<int> members{owner};
    std::string member_list;
    for (int m = 0; m < kOrgs; ++m) {
      if (m == owner || !rng.Chance(50)) continue;
      members.insert(m);
      member_list += (member_list.empty() ? "\"" : ",\"") + world.orgs[static_cast<size_t>(m)] + "\"";
    }
    auto doc = Call("POST", "/api/v1/sharing-groups", admin, 201,
                    R"({"name":"group-)" + std::to_string(g) + R"(","owner_org":")" +
                        world.orgs[static_cast<size_t>(owner)] + R"(","member_orgs":[)" + member_list + "]}");
    ASSERT_TRUE(doc.has_value());
    const std::string id = Str(doc->as_object().at("id"));
    std::set<std::string> expected_members, got_members;
    for (int m : members) expected_members.insert(world.orgs[static_cast<size_t>(m)]);
    for (const auto& m : doc->as_object().at("member_orgs").as_array()) got_members.insert(Str(m));
    ASSERT_EQ(got_members, expected_members) << "sharing group " << id << ": members as created (owner included)";
    world.oracle.groups[id] = members;
    group_owner[id] = owner;
    group_ids.push_back(id);
  }
  const std::string unknown_group = "x-concord-sharing-group--" + rng.Uuid();

  // The objects: random type, creator, TLP, distribution and group; some with one or two later versions.
  auto random_group = [&] { return rng.Chance(15) ? unknown_group : group_ids[rng.Below(group_ids.size())]; };
  auto random_policy = [&](Version& v) {
    v.tlp = static_cast<Tlp>(rng.Below(6));
    const uint64_t d = rng.Below(6);
    v.distribution = d == 5 ? -1 : static_cast<int>(d);
    // distribution 4 needs a group; others name one now and then (RED's recipients are the group's members).
    if (v.distribution == 4 || rng.Chance(30)) v.group = random_group();
  };
  constexpr std::array<const char*, 6> kTypes = {"malware",  "attack-pattern", "threat-actor",
                                                 "campaign", "vulnerability",  "intrusion-set"};
  for (int i = 0; i < kObjects; ++i) {
    Object o;
    o.type = rng.Chance(50) ? "indicator" : kTypes[rng.Below(kTypes.size())];
    o.id = o.type + "--" + rng.Uuid();
    o.owner = static_cast<int>(rng.Below(kOrgs));
    const uint64_t r = rng.Below(10);
    const int versions = r < 6 ? 1 : r < 9 ? 2 : 3;
    for (int k = 0; k < versions; ++k) {
      Version v;
      v.modified = Timestamp(k, i);
      random_policy(v);
      v.json = ObjectJson(o, v, world.orgs[static_cast<size_t>(o.owner)], i, k, rng);
      v.parsed = boost::json::parse(v.json);
      o.versions.push_back(std::move(v));
    }
    world.objects.push_back(std::move(o));
  }
  // The sentinel, written last: TLP:CLEAR, distribution all. Streams read until it arrives.
  {
    Object o;
    o.type = "indicator";
    o.id = "indicator--" + rng.Uuid();
    o.owner = 0;
    Version v;
    v.modified = Timestamp(0, kObjects);
    v.tlp = Tlp::kClear;
    v.distribution = 3;
    v.json = ObjectJson(o, v, world.orgs[0], kObjects, 0, rng);
    v.parsed = boost::json::parse(v.json);
    o.versions.push_back(std::move(v));
    world.objects.push_back(std::move(o));
  }
  for (size_t i = 0; i < world.objects.size(); ++i) world.index[world.objects[i].id] = i;
  ASSERT_EQ(world.index.size(), world.objects.size());

  // Written by each creator's analyst over REST, one request per organisation and version rank, so that the
  // change sequence interleaves organisations and versions; the sentinel alone at the end.
  std::map<int, std::map<std::string, int>> written;  // org → id → versions stored
  auto post = [&](int org, const std::vector<const Version*>& batch, const std::vector<std::string>& ids, int rank) {
    std::string body = "[";
    for (size_t i = 0; i < batch.size(); ++i) body += (i ? "," : "") + batch[i]->json;
    body += "]";
    auto doc = Call("POST", "/api/v1/objects", analysts[static_cast<size_t>(org)], 200, body);
    ASSERT_TRUE(doc.has_value());
    const auto& results = doc->as_object().at("objects").as_array();
    ASSERT_EQ(results.size(), batch.size());
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& item = results[i].as_object();
      EXPECT_EQ(Str(item.at("id")), ids[i]);
      EXPECT_EQ(Str(item.at("outcome")), rank == 0 ? "new" : "new_version") << boost::json::serialize(item);
      ++written[org][ids[i]];
    }
  };
  for (int rank = 0; rank < 3; ++rank) {
    for (int org = 0; org < kOrgs; ++org) {
      std::vector<const Version*> batch;
      std::vector<std::string> ids;
      for (size_t i = 0; i + 1 < world.objects.size(); ++i) {
        const Object& o = world.objects[i];
        if (o.owner != org || o.versions.size() <= static_cast<size_t>(rank)) continue;
        batch.push_back(&o.versions[static_cast<size_t>(rank)]);
        ids.push_back(o.id);
      }
      if (!batch.empty()) {
        ASSERT_NO_FATAL_FAILURE(post(org, batch, ids, rank));
      }
    }
  }
  ASSERT_NO_FATAL_FAILURE(post(0, {&world.objects.back().versions[0]}, {world.objects.back().id}, 0));
  if (HasFailure()) return;

  // Phase 1: every analyst, every read path, in parallel (one thread per analyst).
  const std::string sentinel = world.objects.back().id;
  std::vector<std::unique_ptr<Report>> reports;
  for (int org = 0; org < kOrgs; ++org) {
    reports.push_back(std::make_unique<Report>("analyst" + std::to_string(org) + " (org" + std::to_string(org) + ")"));
  }
  auto for_every_analyst = [&](const std::function<void(Viewer&)>& reads) {
    std::vector<std::thread> threads;
    for (int org = 0; org < kOrgs; ++org) {
      threads.emplace_back([&, org] {
        Report& report = *reports[static_cast<size_t>(org)];
        Viewer viewer(port, analysts[static_cast<size_t>(org)], org, world, report);
        try {
          reads(viewer);
        } catch (const std::exception& e) {  // a malformed answer (a missing member): a failure, not a crash
          report.Fail(std::string("unexpected answer: ") + e.what());
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  for_every_analyst([&](Viewer& v) {
    v.RestGet(/*older_versions=*/true);
    v.RestList(/*all_versions=*/false);
    v.RestList(/*all_versions=*/true);
    v.RestVersions();
    v.TaxiiList("objects", /*all_versions=*/false);
    v.TaxiiList("objects", /*all_versions=*/true);
    v.TaxiiList("manifest", /*all_versions=*/false);
    v.TaxiiObjects();
    v.Stream(sentinel);
  });

  // The audit: each read above TLP:CLEAR made above is in the log under its analyst, naming exactly the
  // objects it handed out (counted per path), and no entry names an object the analyst may not see.
  for (int org = 0; org < kOrgs; ++org) {
    Report& report = *reports[static_cast<size_t>(org)];
    const std::string user = "analyst" + std::to_string(org);
    Viewer viewer(port, analysts[static_cast<size_t>(org)], org, world, report);
    std::map<std::string, std::map<std::string, int>> expected, got;  // path → id (get: id @ version) → entries
    for (const Object& o : world.objects) {
      bool any = false;
      for (const Version& v : o.versions) {
        if (!world.oracle.Visible(org, o, v) || v.tlp == Tlp::kClear) continue;
        any = true;
        ++expected["get"][Key(o.id, v.modified)];  // current, and each older one with ?version=
        ++expected["list"][o.id];                  // all_versions=true
        ++expected["taxii"][o.id];                 // objects/ with match[version]=all
        ++expected["stream"][o.id];
      }
      if (any) ++expected["versions"][o.id];
      const Version& c = o.current();
      if (world.oracle.Visible(org, o, c) && c.tlp != Tlp::kClear) {
        ++expected["list"][o.id];      // the list of current versions
        expected["taxii"][o.id] += 2;  // objects/ (latest) and objects/{id}/
      }
    }
    for (const auto& e : AuditEntries(admin, "&action=read&user=" + user)) {
      const auto& detail = e.at("detail").as_object();
      auto flag = [&](const char* name) {
        return detail.contains(name) && detail.at(name).is_bool() && detail.at(name).get_bool();
      };
      const std::string path = flag("stream")                ? "stream"
                               : flag("list")                ? "list"
                               : flag("taxii")               ? "taxii"
                               : flag("versions")            ? "versions"
                               : detail.contains("modified") ? "get"
                                                             : "other";
      report.Expect(
          Str(e.at("user")) == user && Str(e.at("org")) == world.orgs[static_cast<size_t>(org)] &&
              Str(e.at("outcome")) == "ok",
          [&] { return "audit entry of another user, organisation or outcome: " + boost::json::serialize(e); });
      for (const auto& id_value : e.at("object_ids").as_array()) {
        const std::string id = Str(id_value);
        auto it = world.index.find(id);
        report.Expect(it != world.index.end() && world.oracle.AnyVisible(org, world.objects[it->second]),
                      [&] { return "audit names an object the analyst may not see: " + viewer.Explain(id); });
        if (path == "get") {
          const std::string modified = Str(detail.at("modified"));
          ++got[path][Key(id, modified)];
          if (it == world.index.end()) continue;
          for (const Version& v : world.objects[it->second].versions) {
            if (v.modified != modified) continue;
            report.Expect(Str(detail.at("tlp")) == TlpName(v.tlp),
                          [&] { return "audit of GET " + Key(id, modified) + ": tlp " + Str(detail.at("tlp")); });
          }
        } else {
          ++got[path][id];
        }
      }
    }
    for (const char* path : {"get", "list", "versions", "taxii", "stream", "other"}) {
      report.ExpectSameCounts(std::string("audit of reads (") + path + ")", expected[path], got[path],
                              viewer.Explainer());
    }
    // Writes: one mention per version stored.
    std::map<std::string, int> writes;
    for (const auto& e : AuditEntries(admin, "&action=write&user=" + user)) {
      for (const auto& id : e.at("object_ids").as_array()) ++writes[Str(id)];
    }
    report.ExpectSameCounts("audit of writes", written[org], writes, viewer.Explainer());
  }
  // An org-admin reads its own organisation's entries, all of them, and nothing else.
  Report admin_report("audit as org-admin");
  for (int org = 0; org < kOrgs; ++org) {
    const std::string& org_id = world.orgs[static_cast<size_t>(org)];
    const std::string& key = org_admins[static_cast<size_t>(org)];
    std::vector<std::string> seen;
    std::set<std::string> all;
    for (const auto& e : AuditEntries(key, "")) {
      seen.push_back(std::to_string(e.at("seq").to_number<int64_t>()));
      admin_report.Expect(Str(e.at("org")) == org_id,
                          [&] { return "orgadmin" + std::to_string(org) + " sees " + boost::json::serialize(e); });
    }
    for (const auto& e : AuditEntries(admin, "&org=" + org_id))
      all.insert(std::to_string(e.at("seq").to_number<int64_t>()));
    admin_report.Expect(!all.empty(), [&] { return "org" + std::to_string(org) + " has no audit entries"; });
    admin_report.ExpectSame("orgadmin" + std::to_string(org) + "'s audit", all, seen,
                            [](const std::string& s) { return "seq " + s; });
    const std::string& other = world.orgs[static_cast<size_t>((org + 1) % kOrgs)];
    auto r = Request(port, "GET", "/api/v1/audit?org=" + other, key);
    admin_report.Expect(r && r->status == 403, [&] {
      return "orgadmin" + std::to_string(org) + " asking for another org's audit: " + (r ? r->body : "no answer");
    });
  }

  // Phase 2: an organisation leaves a sharing group. The change applies to every read from then on, old
  // objects included. The removal chosen is the one that changes most for the organisation that leaves.
  std::string leave_group;
  int leaver = -1;
  size_t changes = 0;
  for (const std::string& g : group_ids) {
    for (int m : world.oracle.groups[g]) {
      if (m == group_owner[g]) continue;
      Oracle after = world.oracle;
      after.groups[g].erase(m);
      size_t n = 0;
      for (const Object& o : world.objects) n += world.oracle.CurrentVisible(m, o) != after.CurrentVisible(m, o);
      if (n > changes) {
        leave_group = g;
        leaver = m;
        changes = n;
      }
    }
  }
  ASSERT_GT(changes, 0u) << "no sharing group membership decides what anyone sees: try another seed";
  {
    auto doc =
        Call("DELETE", "/api/v1/sharing-groups/" + leave_group + "/members/" + world.orgs[static_cast<size_t>(leaver)],
             admin, 200);
    ASSERT_TRUE(doc.has_value());
    world.oracle.groups[leave_group].erase(leaver);
    std::set<std::string> expected_members, got_members;
    for (int m : world.oracle.groups[leave_group]) expected_members.insert(world.orgs[static_cast<size_t>(m)]);
    for (const auto& m : doc->as_object().at("member_orgs").as_array()) got_members.insert(Str(m));
    ASSERT_EQ(got_members, expected_members);
  }
  for_every_analyst([&](Viewer& v) {
    v.RestGet(/*older_versions=*/false);
    v.RestList(/*all_versions=*/false);
    v.TaxiiList("manifest", /*all_versions=*/false);
    v.Stream(sentinel);
  });

  size_t checks = admin_report.checks();
  size_t failed = admin_report.failed();
  for (const auto& r : reports) {
    checks += r->checks();
    failed += r->failed();
    for (const std::string& f : r->failures()) ADD_FAILURE() << f;
  }
  for (const std::string& f : admin_report.failures()) ADD_FAILURE() << f;
  size_t versions = 0;
  for (const Object& o : world.objects) versions += o.versions.size();
  std::printf(
      "policy property test: seed %llu, %zu objects (%zu versions), %d organisations, %d sharing groups, "
      "%zu users, org%d left a group (%zu objects changed for it), %zu checks, %zu failed\n",
      static_cast<unsigned long long>(seed), world.objects.size(), versions, kOrgs, kGroups,
      analysts.size() + org_admins.size() + 1, leaver, changes, checks, failed);
  EXPECT_EQ(failed, 0u);
}

}  // namespace
}  // namespace concord::testing
