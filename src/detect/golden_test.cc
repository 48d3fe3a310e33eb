// Runs the matching golden cases in tests/cases/matching (format: its README.md).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_split.h"
#include "boost/json/serialize.hpp"
#include "detect/matcher.h"
#include "detect/snapshot.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

namespace concord::detect {
namespace {

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(absl::string_view(s.data(), s.size()), sep)) out.emplace_back(part);
  return out;
}

std::optional<ValueKind> KindNamed(std::string_view name) {
  for (size_t k = 0; k < kValueKindCount; ++k) {
    if (ValueKindName(static_cast<ValueKind>(k)) == name) return static_cast<ValueKind>(k);
  }
  return std::nullopt;
}

Timestamp Ts(std::string_view text) {
  auto ts = ParseRfc3339(text);
  EXPECT_TRUE(ts.ok()) << text;
  return ts.ok() ? *ts : Timestamp{};
}

struct Case {
  std::string file;
  Timestamp now = Ts("2026-06-01T00:00:00Z");
  std::vector<std::string> names;  // by indicator number
  std::vector<store::StoredObject> indicators;
};

store::StoredObject IndicatorObject(size_t n, std::string_view name, std::string_view pattern,
                                    std::string_view options) {
  store::StoredObject o;
  o.id = fmt::format("indicator--00000000-0000-4000-8000-{:012x}", n + 1);
  o.type = "indicator";
  boost::json::object json{{"type", "indicator"},     {"spec_version", "2.1"},   {"id", o.id},
                           {"created", "2026-01-01T00:00:00.000Z"}, {"modified", "2026-01-01T00:00:00.000Z"},
                           {"name", name},            {"pattern", pattern},      {"pattern_type", "stix"},
                           {"valid_from", "2026-01-01T00:00:00Z"}};
  for (const std::string& option : Split(options, ' ')) {
    if (option.empty()) continue;
    const size_t eq = option.find('=');
    const std::string key = option.substr(0, eq);
    const std::string value = option.substr(eq + 1);
    if (key == "revoked") {
      o.revoked = value == "true";
      json["revoked"] = o.revoked;
    } else if (key == "subdomains") {
      json["x_concord_subdomains"] = value == "true";
    } else if (key == "confidence") {
      json["confidence"] = std::stoi(value);
    } else {
      json[key] = value;
    }
  }
  o.json = boost::json::serialize(json);
  return o;
}

std::string Names(const Case& c, const std::set<uint32_t>& hits, const Snapshot& snap) {
  std::set<std::string> names;
  for (uint32_t h : hits) {
    const std::string id = snap.IndicatorId(h);
    const size_t n = std::stoul(id.substr(id.size() - 12), nullptr, 16) - 1;
    names.insert(c.names[n]);
  }
  if (names.empty()) return "-";
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

void RunCase(const std::filesystem::path& path) {
  SCOPED_TRACE(path.filename().string());
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  Case c;
  std::shared_ptr<const Snapshot> snap;
  std::unique_ptr<Matcher> matcher;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    SCOPED_TRACE(fmt::format("line {}: {}", line_no, line));
    const std::vector<std::string> f = Split(line, '\t');
    if (f[0] == "now") {
      c.now = Ts(f.at(1));
    } else if (f[0] == "indicator") {
      ASSERT_GE(f.size(), 3u);
      c.indicators.push_back(IndicatorObject(c.names.size(), f[1], f[2], f.size() > 3 ? f[3] : ""));
      c.names.push_back(f[1]);
    } else {
      if (!snap) {
        SnapshotBuilder builder({}, c.now);
        for (const store::StoredObject& o : c.indicators) ASSERT_TRUE(builder.AddStored(o).ok());
        auto built = builder.Build();
        ASSERT_TRUE(built.ok()) << built.status();
        snap = *built;
        auto m = Matcher::Create(snap);
        ASSERT_TRUE(m.ok()) << m.status();
        matcher = std::move(*m);
      }
      std::set<uint32_t> hits;
      auto collect = [&](const Hit& h) { hits.insert(h.indicator); };
      ASSERT_GE(f.size(), 3u);
      if (f[0] == "match") {
        ASSERT_GE(f.size(), 4u);
        auto kind = KindNamed(f[1]);
        ASSERT_TRUE(kind) << f[1];
        std::optional<int64_t> time;
        if (f.size() > 4) time = Ts(f[4]).UnixMillis();
        matcher->MatchValue(*kind, f[2], time, collect);
        EXPECT_EQ(Names(c, hits, *snap), f[3]);
      } else if (f[0] == "record") {
        std::vector<std::string> parts = Split(f[1], ' ');
        std::vector<std::string> values, fields;
        std::vector<logs::Observable> observables;
        values.reserve(parts.size());
        fields.reserve(parts.size());
        for (const std::string& p : parts) {
          const size_t eq = p.find('=');
          const size_t at = p.find('@', eq);
          auto kind = KindNamed(p.substr(0, eq));
          ASSERT_TRUE(kind) << p;
          values.push_back(p.substr(eq + 1, at == std::string::npos ? std::string::npos : at - eq - 1));
          fields.push_back(at == std::string::npos ? "" : p.substr(at + 1));
          observables.push_back({*kind, values.back(), fields.back()});
        }
        logs::Record record;
        record.line = static_cast<uint64_t>(line_no);
        if (f.size() > 3) record.time_ms = Ts(f[3]).UnixMillis();
        record.observables = observables;
        matcher->Match(record, collect);
        EXPECT_EQ(Names(c, hits, *snap), f[2]);
      } else {
        ADD_FAILURE() << "unknown directive " << f[0];
      }
    }
  }
}

TEST(MatchingGolden, AllCases) {
  const std::filesystem::path dir = std::filesystem::path(CONCORD_SOURCE_DIR) / "tests/cases/matching";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".case") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 7u);
  for (const auto& f : files) RunCase(f);
}

}  // namespace
}  // namespace concord::detect
