#include "detect/export/export.h"

#include <fstream>
#include <utility>
#include <vector>

#include "common/status.h"
#include "detect/export/detail/common.h"
#include "fmt/format.h"

namespace concord::detect::exports {

namespace {

constexpr std::pair<ExportFormat, std::string_view> kFormatNames[] = {
    {ExportFormat::kSuricata, "suricata"}, {ExportFormat::kSnort, "snort"}, {ExportFormat::kZeek, "zeek"},
    {ExportFormat::kRpz, "rpz"},           {ExportFormat::kCsv, "csv"},     {ExportFormat::kText, "text"},
    {ExportFormat::kStix, "stix"},
};

class DirectoryOutputSet final : public OutputSet {
 public:
  DirectoryOutputSet(std::filesystem::path dir, std::string main_file)
      : dir_(std::move(dir)), main_file_(std::move(main_file)) {}

  absl::StatusOr<std::ostream*> Open(std::string_view name) override {
    const std::string file = name.empty() ? main_file_ : std::string(name);
    if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
        file.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(fmt::format("export output: not a plain file name: \"{}\"", file));
    }
    // Few outputs per export (the main one plus a handful of lists): a linear search is the right map.
    for (auto& [n, stream] : streams_) {
      if (n == file) return stream.get();
    }
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return absl::UnavailableError(fmt::format("export output: {}: {}", dir_.string(), ec.message()));
    auto stream = std::make_unique<std::ofstream>(dir_ / file, std::ios::binary | std::ios::trunc);
    if (!*stream) return absl::UnavailableError(fmt::format("export output: cannot open {}", (dir_ / file).string()));
    streams_.emplace_back(file, std::move(stream));
    return streams_.back().second.get();
  }

 private:
  std::filesystem::path dir_;
  std::string main_file_;
  std::vector<std::pair<std::string, std::unique_ptr<std::ofstream>>> streams_;
};

class StreamOutputSet final : public OutputSet {
 public:
  explicit StreamOutputSet(std::ostream& main) : main_(main) {}

  absl::StatusOr<std::ostream*> Open(std::string_view name) override {
    if (name.empty()) return &main_;
    return absl::FailedPreconditionError(fmt::format(
        "export output: this format writes a second file (\"{}\") and needs a directory output", name));
  }
  bool AcceptsNamedOutputs() const override { return false; }

 private:
  std::ostream& main_;
};

}  // namespace

std::optional<ExportFormat> ParseExportFormat(std::string_view name) {
  for (const auto& [format, n] : kFormatNames) {
    if (n == name) return format;
  }
  return std::nullopt;
}

std::string_view ExportFormatName(ExportFormat format) {
  for (const auto& [f, n] : kFormatNames) {
    if (f == format) return n;
  }
  return "?";
}

std::string_view DefaultMainFile(ExportFormat format) {
  switch (format) {
    case ExportFormat::kSuricata: return "concord-suricata.rules";
    case ExportFormat::kSnort: return "concord-snort.rules";
    case ExportFormat::kZeek: return "concord.intel";
    case ExportFormat::kRpz: return "concord.rpz.zone";
    case ExportFormat::kCsv: return "concord.csv";
    case ExportFormat::kText: return "concord.txt";
    case ExportFormat::kStix: return "concord.stix.json";
  }
  return "concord.export";
}

OutputSet::~OutputSet() = default;
ExportWriter::~ExportWriter() = default;

std::unique_ptr<OutputSet> DirectoryOutput(std::filesystem::path dir, std::string main_file) {
  return std::make_unique<DirectoryOutputSet>(std::move(dir), std::move(main_file));
}

std::unique_ptr<OutputSet> StreamOutput(std::ostream& main) { return std::make_unique<StreamOutputSet>(main); }

absl::StatusOr<std::unique_ptr<ExportWriter>> ExportWriter::Create(ExportFormat format, OutputSet& out,
                                                                   const ExportOptions& options) {
  switch (format) {
    case ExportFormat::kSuricata: return detail::NewSuricataWriter(out, options);
    case ExportFormat::kSnort: return detail::NewSnortWriter(out, options);
    case ExportFormat::kZeek: return detail::NewZeekWriter(out, options);
    case ExportFormat::kRpz: return detail::NewRpzWriter(out, options);
    case ExportFormat::kCsv: return detail::NewCsvWriter(out, options);
    case ExportFormat::kText: return detail::NewTextWriter(out, options);
    case ExportFormat::kStix: return detail::NewStixWriter(out, options);
  }
  return absl::InvalidArgumentError("export: unknown format");
}

}  // namespace concord::detect::exports
