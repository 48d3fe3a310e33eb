// Golden log-reader cases under tests/cases/logs/: NAME.FORMAT (eve, zeek, jsonl, csv, text) is read whole
// by a reader of that format and must give exactly NAME.expected, one line per observable in record order:
//   line<TAB>kind<TAB>field<TAB>value        (bytes < 0x20, 0x7f and '\' in value written as \xNN)
// plus directives: "@time<TAB>line<TAB>ms" (the record of that line carries that event time; records of
// other lines carry none), "@malformed<TAB>count" (else 0), "@error<TAB>message" (each of first_errors).
// Lines starting with '#' are comments. Optional NAME.options configures the reader:
//   field<TAB>path<TAB>kind   delimiter<TAB>;|tab   header<TAB>false   time_field<TAB>name
// The second test feeds every case in random pieces (seeded) and expects the same records and stats.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "detect/logs/log_reader.h"
#include "fmt/format.h"

namespace concord::detect::logs {
namespace {

const std::filesystem::path kDir = std::filesystem::path(CONCORD_SOURCE_DIR) / "tests/cases/logs";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::vector<std::string> Split(std::string_view s, char sep, size_t max_parts) {
  std::vector<std::string> out;
  while (out.size() + 1 < max_parts) {
    const size_t at = s.find(sep);
    if (at == std::string_view::npos) break;
    out.emplace_back(s.substr(0, at));
    s.remove_prefix(at + 1);
  }
  out.emplace_back(s);
  return out;
}

std::optional<pattern::ValueKind> KindByName(std::string_view name) {
  for (int k = 0; k <= static_cast<int>(pattern::ValueKind::kX509Serial); ++k) {
    const auto kind = static_cast<pattern::ValueKind>(k);
    if (pattern::ValueKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string Escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\') {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

struct Outcome {
  std::vector<std::string> lines;  // rendered as NAME.expected writes them
  std::string records;             // everything about every record, for the chunking comparison
  std::string ahead;               // with read-ahead: the records as the read-ahead callback saw them
  ReaderStats stats;
};

std::string Render(const Record& r) {
  std::string out = fmt::format("record {} @{} t={}\n", r.line, r.offset, r.time_ms ? *r.time_ms : -1);
  for (const Observable& o : r.observables) {
    out += fmt::format("{}\t{}\t{}\t{}\n", r.line, pattern::ValueKindName(o.kind), o.field, Escape(o.value));
  }
  return out;
}

Outcome Read(Format format, const ReaderOptions& options, std::string_view input, std::vector<size_t> cuts,
             bool read_ahead = false) {
  auto reader = LogReader::Create(format, options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  Outcome out;
  if (!reader.ok()) return out;
  size_t ahead = 0;
  size_t sunk = 0;
  if (read_ahead) {
    (*reader)->SetReadAhead([&out, &ahead](const Record& r) {
      out.ahead += Render(r);
      ++ahead;
    });
  }
  const auto sink = [&out, &sunk](const Record& r) {
    ++sunk;
    EXPECT_FALSE(r.observables.empty());
    if (r.time_ms) out.lines.push_back(fmt::format("@time\t{}\t{}", r.line, *r.time_ms));
    out.records += fmt::format("record {} @{} t={}\n", r.line, r.offset, r.time_ms ? *r.time_ms : -1);
    for (const Observable& o : r.observables) {
      const std::string row =
          fmt::format("{}\t{}\t{}\t{}", r.line, pattern::ValueKindName(o.kind), o.field, Escape(o.value));
      out.lines.push_back(row);
      out.records += row + "\n";
    }
  };
  size_t at = 0;
  cuts.push_back(input.size());
  for (size_t cut : cuts) {
    (*reader)->Feed(input.substr(at, cut - at), sink);
    EXPECT_EQ(sunk, read_ahead ? ahead : sunk) << "a record still held when Feed returned";
    at = cut;
  }
  (*reader)->Finish(sink);
  EXPECT_EQ(sunk, read_ahead ? ahead : sunk) << "a record still held when Finish returned";
  out.stats = (*reader)->stats();
  if (out.stats.malformed != 0) out.lines.push_back(fmt::format("@malformed\t{}", out.stats.malformed));
  for (const std::string& e : out.stats.first_errors) out.lines.push_back("@error\t" + e);
  return out;
}

struct Case {
  std::string name;
  Format format;
  ReaderOptions options;
  std::string input;
  std::vector<std::string> expected;
};

std::vector<Case> LoadCases() {
  std::vector<Case> cases;
  for (const auto& entry : std::filesystem::directory_iterator(kDir)) {
    const std::string ext = entry.path().extension().string();
    if (ext.size() < 2) continue;
    const std::optional<Format> format = ParseFormat(std::string_view(ext).substr(1));
    if (!format) continue;
    Case c{.name = entry.path().filename().string(), .format = *format};
    c.input = ReadFile(entry.path());
    const std::filesystem::path stem = entry.path().parent_path() / entry.path().stem();
    const std::string options = ReadFile(stem.string() + ".options");
    for (const std::string& line : Split(options, '\n', SIZE_MAX)) {
      const std::vector<std::string> cells = Split(line, '\t', 3);
      if (cells[0] == "field" && cells.size() == 3) {
        const auto kind = KindByName(cells[2]);
        EXPECT_TRUE(kind.has_value()) << c.name << ": unknown kind " << cells[2];
        if (kind) c.options.fields.push_back({cells[1], *kind});
      } else if (cells[0] == "delimiter" && cells.size() == 2) {
        c.options.csv_delimiter = cells[1] == "tab" ? '\t' : cells[1][0];
      } else if (cells[0] == "header" && cells.size() == 2) {
        c.options.csv_header = cells[1] != "false";
      } else if (cells[0] == "time_field" && cells.size() == 2) {
        c.options.time_field = cells[1];
      }
    }
    const std::string expected = ReadFile(stem.string() + ".expected");
    EXPECT_FALSE(expected.empty()) << c.name << ": no " << stem.filename().string() << ".expected";
    for (const std::string& line : Split(expected, '\n', SIZE_MAX)) {
      if (!line.empty() && line[0] != '#') c.expected.push_back(line);
    }
    cases.push_back(std::move(c));
  }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.name < b.name; });
  return cases;
}

// Puts the @time lines of a record right before its first observable, as Read renders them, so that an
// expected file may write them anywhere; everything else keeps its order.
std::vector<std::string> Canonical(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  std::map<std::string, std::string> times;  // line number → "@time…"
  for (const std::string& l : lines) {
    if (l.starts_with("@time\t")) times[Split(l, '\t', 3)[1]] = l;
  }
  for (const std::string& l : lines) {
    if (l.starts_with("@time\t")) continue;
    if (l[0] != '@') {
      const std::string number = Split(l, '\t', 2)[0];
      if (auto it = times.find(number); it != times.end()) {
        out.push_back(it->second);
        times.erase(it);
      }
    }
    out.push_back(l);
  }
  for (const auto& [number, l] : times) out.push_back(l);  // a time without observables: reported as extra
  return out;
}

TEST(LogReaderGolden, EveryCaseMatches) {
  const std::vector<Case> cases = LoadCases();
  ASSERT_GE(cases.size(), 25u);
  std::map<Format, int> per_format;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ++per_format[c.format];
    const Outcome got = Read(c.format, c.options, c.input, {});
    EXPECT_EQ(got.lines, Canonical(c.expected));
    // CONCORD_GOLDEN_OUT=dir writes what was read, to review and copy when a case is added or changed.
    if (const char* dir = std::getenv("CONCORD_GOLDEN_OUT"); dir != nullptr) {
      std::ofstream out(std::filesystem::path(dir) / (std::filesystem::path(c.name).stem().string() + ".expected"));
      for (const std::string& line : got.lines) out << line << "\n";
    }
  }
  for (Format f : {Format::kEve, Format::kZeek, Format::kJsonl, Format::kCsv, Format::kText}) {
    EXPECT_GE(per_format[f], 2) << FormatName(f);
  }
}

TEST(LogReaderGolden, AnyChunkingGivesTheSameRecords) {
  std::mt19937_64 rng(20261122);
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    const Outcome whole = Read(c.format, c.options, c.input, {});
    for (int round = 0; round < 40; ++round) {
      std::vector<size_t> cuts;
      if (round < 3) {  // byte by byte, then every 2 and 3 bytes
        for (size_t at = 1; at < c.input.size(); at += static_cast<size_t>(round) + 1) cuts.push_back(at);
      } else {
        const size_t pieces = std::uniform_int_distribution<size_t>(1, 30)(rng);
        for (size_t k = 0; k < pieces && !c.input.empty(); ++k) {
          cuts.push_back(std::uniform_int_distribution<size_t>(0, c.input.size())(rng));
        }
        std::sort(cuts.begin(), cuts.end());
      }
      const Outcome split = Read(c.format, c.options, c.input, cuts);
      ASSERT_EQ(split.records, whole.records) << "round " << round;
      EXPECT_EQ(split.stats.lines, whole.stats.lines);
      EXPECT_EQ(split.stats.records, whole.stats.records);
      EXPECT_EQ(split.stats.observables, whole.stats.observables);
      EXPECT_EQ(split.stats.malformed, whole.stats.malformed);
      EXPECT_EQ(split.stats.first_errors, whole.stats.first_errors);
    }
  }
}

// Read-ahead (LogReader::SetReadAhead) changes when records reach the sink, never what they hold: every
// case, whole and in random pieces, gives the records read without it, the read-ahead callback saw each of
// them before the sink did (rendered the same, so the held views were still valid), and none is left
// held when Feed or Finish returns (checked in Read).
TEST(LogReaderGolden, ReadAheadGivesTheSameRecords) {
  std::mt19937_64 rng(20261123);
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    const Outcome plain = Read(c.format, c.options, c.input, {});
    for (int round = 0; round < 20; ++round) {
      std::vector<size_t> cuts;
      if (round == 1) {
        for (size_t at = 1; at < c.input.size(); ++at) cuts.push_back(at);
      } else if (round > 1) {
        const size_t pieces = std::uniform_int_distribution<size_t>(1, 30)(rng);
        for (size_t k = 0; k < pieces && !c.input.empty(); ++k) {
          cuts.push_back(std::uniform_int_distribution<size_t>(0, c.input.size())(rng));
        }
        std::sort(cuts.begin(), cuts.end());
      }
      const Outcome ahead = Read(c.format, c.options, c.input, cuts, /*read_ahead=*/true);
      ASSERT_EQ(ahead.records, plain.records) << "round " << round;
      EXPECT_EQ(ahead.ahead, plain.records) << "round " << round;
      EXPECT_EQ(ahead.lines, plain.lines);
      EXPECT_EQ(ahead.stats.records, plain.stats.records);
      EXPECT_EQ(ahead.stats.first_errors, plain.stats.first_errors);
    }
  }
}

}  // namespace
}  // namespace concord::detect::logs
