// Line-oriented writers: Zeek Intel, CSV, plain text, and the STIX bundle (see export.h).
#include <string>

#include "common/status.h"
#include "detect/export/detail/common.h"
#include "fmt/format.h"

namespace concord::detect::exports::detail {

namespace {

using pattern::ValueKind;

// ---------------------------------------------------------------------------------------------------------
// Zeek Intel

// A field of Zeek's ASCII input: bytes the reader would split on or misread become \xHH, which its
// unescaping turns back into the byte. An empty field is "-" (unset).
std::string ZeekField(std::string_view text) {
  if (text.empty()) return "-";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    // A leading '#' would make the line a comment; "-" and "(empty)" alone would read as unset/empty.
    const bool special_start = i == 0 && (c == '#' || text == "-" || text == "(empty)");
    if (c < 0x20 || c >= 0x7f || c == '\\' || special_start) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string_view ZeekType(ValueKind kind) {
  switch (kind) {
    case ValueKind::kIpv4:
    case ValueKind::kIpv6: return "Intel::ADDR";
    case ValueKind::kCidr4:
    case ValueKind::kCidr6: return "Intel::SUBNET";
    case ValueKind::kDomain: return "Intel::DOMAIN";
    case ValueKind::kUrl: return "Intel::URL";
    case ValueKind::kEmail: return "Intel::EMAIL";
    case ValueKind::kMd5:
    case ValueKind::kSha1:
    case ValueKind::kSha256: return "Intel::FILE_HASH";
    case ValueKind::kFilename: return "Intel::FILE_NAME";
    case ValueKind::kUserAgent: return "Intel::SOFTWARE";
    default: return "";
  }
}

class ZeekWriter final : public WriterBase {
 public:
  using WriterBase::WriterBase;

  void WriteHeader(std::ostream& main) override {
    main << "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n";
  }

  absl::Status Add(const ExportIndicator& ind) override {
    CONCORD_RETURN_IF_ERROR(Start());
    const std::string_view type = ZeekType(ind.kind);
    std::string value;
    if (type.empty() || ind.value.empty()) {
      Skip(ind.kind);
      return absl::OkStatus();
    }
    if (auto ip = ParseIpValue(ind.kind, ind.value)) {
      value = FormatIp(*ip);
      // Zeek's SUBNET needs a prefix even when it covers one address.
      if (ind.kind == ValueKind::kCidr4 && ip->prefix == 32) value += "/32";
      if (ind.kind == ValueKind::kCidr6 && ip->prefix == 128) value += "/128";
    } else if (ind.kind == ValueKind::kIpv4 || ind.kind == ValueKind::kIpv6 || ind.kind == ValueKind::kCidr4 ||
               ind.kind == ValueKind::kCidr6) {
      Skip(ind.kind);
      return absl::OkStatus();
    } else if (ind.kind == ValueKind::kUrl) {
      // Zeek's seen URLs are host[:port]/path as sent: no scheme, and never a fragment.
      std::string_view url = StripScheme(ind.value);
      url = url.substr(0, url.find('#'));
      if (url.empty()) {
        Skip(ind.kind);
        return absl::OkStatus();
      }
      value = std::string(url);
    } else if ((ind.kind == ValueKind::kMd5 || ind.kind == ValueKind::kSha1 || ind.kind == ValueKind::kSha256) &&
               !IsHashValue(ind.kind, ind.value)) {
      Skip(ind.kind);
      return absl::OkStatus();
    } else {
      value = std::string(ind.value);
    }
    const std::string desc =
        ind.name.empty() ? std::string(ind.id) : fmt::format("{} ({})", ind.name, ind.id);
    *main_ << ZeekField(value) << '\t' << type << '\t' << ZeekField(options_.source) << '\t' << ZeekField(desc)
           << "\t-\n";
    Written();
    return Check(*main_, "intel file");
  }

  absl::Status Finish() override {
    CONCORD_RETURN_IF_ERROR(Start());
    main_->flush();
    return Check(*main_, "intel file");
  }
};

// ---------------------------------------------------------------------------------------------------------
// CSV (RFC 4180)

void WriteCsvCell(std::ostream& out, std::string_view text) {
  // OWASP "CSV injection": spreadsheets evaluate cells starting with these; an apostrophe keeps them text.
  const bool formula = !text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@' ||
                                         text[0] == '\t' || text[0] == '\r');
  const bool quote = formula || text.find_first_of(",\"\r\n") != std::string_view::npos;
  if (!quote) {
    out << text;
    return;
  }
  out << '"';
  if (formula) out << '\'';
  for (char c : text) {
    if (c == '"') out << '"';
    out << c;
  }
  out << '"';
}

class CsvWriter final : public WriterBase {
 public:
  using WriterBase::WriterBase;

  void WriteHeader(std::ostream& main) override { main << "id,kind,value,tlp,score,valid_until,name\r\n"; }

  absl::Status Add(const ExportIndicator& ind) override {
    CONCORD_RETURN_IF_ERROR(Start());
    std::ostream& out = *main_;
    WriteCsvCell(out, ind.id);
    out << ',' << pattern::ValueKindName(ind.kind) << ',';
    WriteCsvCell(out, ind.value);
    out << ',' << stix::TlpName(ind.tlp) << ',' << ScoreInt(ind.score) << ',';
    WriteCsvCell(out, ind.valid_until);
    out << ',';
    WriteCsvCell(out, ind.name);
    out << "\r\n";
    Written();
    return Check(out, "csv");
  }

  absl::Status Finish() override {
    CONCORD_RETURN_IF_ERROR(Start());
    main_->flush();
    return Check(*main_, "csv");
  }
};

// ---------------------------------------------------------------------------------------------------------
// Plain text

class TextWriter final : public WriterBase {
 public:
  using WriterBase::WriterBase;

  absl::Status Add(const ExportIndicator& ind) override {
    CONCORD_RETURN_IF_ERROR(Start());
    // Text lists feed blocklist loaders (ipset, DNS filters, hosts files) that trust their lines: kinds with a
    // syntax are written only when valid (addresses canonical), the rest only without line breaks or NUL.
    std::string canonical;
    std::string_view line = ind.value;
    bool ok = !line.empty() && line.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
    if (auto ip = ParseIpValue(ind.kind, ind.value)) {
      canonical = FormatIp(*ip);
      line = canonical;
    } else if (ind.kind == ValueKind::kIpv4 || ind.kind == ValueKind::kIpv6 || ind.kind == ValueKind::kCidr4 ||
               ind.kind == ValueKind::kCidr6) {
      ok = false;
    } else if (ind.kind == ValueKind::kDomain) {
      ok = IsHostName(ind.value);
    } else if (ind.kind == ValueKind::kMd5 || ind.kind == ValueKind::kSha1 || ind.kind == ValueKind::kSha256 ||
               ind.kind == ValueKind::kSha512) {
      ok = IsHashValue(ind.kind, ind.value);
    }
    if (!ok) {
      Skip(ind.kind);
      return absl::OkStatus();
    }
    *main_ << line << '\n';
    Written();
    return Check(*main_, "text");
  }

  absl::Status Finish() override {
    CONCORD_RETURN_IF_ERROR(Start());
    main_->flush();
    return Check(*main_, "text");
  }
};

// ---------------------------------------------------------------------------------------------------------
// STIX bundle

bool IsBundleId(std::string_view id) {
  constexpr std::string_view kPrefix = "bundle--";
  if (id.size() != kPrefix.size() + 36 || id.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view uuid = id.substr(kPrefix.size());
  for (size_t i = 0; i < uuid.size(); ++i) {
    const char c = uuid[i];
    const bool ok = (i == 8 || i == 13 || i == 18 || i == 23) ? c == '-'
                                                               : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!ok) return false;
  }
  return true;
}

class StixWriter final : public WriterBase {
 public:
  using WriterBase::WriterBase;

  void WriteHeader(std::ostream& main) override {
    main << R"({"type":"bundle","id":")" << options_.bundle_id << R"(","objects":[)";
  }

  absl::Status Add(const ExportIndicator& ind) override {
    CONCORD_RETURN_IF_ERROR(Start());
    Written();
    if (objects_ > 0 && ind.id == previous_id_) return absl::OkStatus();  // another value of the same object
    // object_json comes from our own store (validated on ingest); the check only keeps a broken caller from
    // producing a bundle that is not JSON.
    const std::string_view json = ind.object_json;
    if (json.size() < 2 || json.front() != '{' || json.back() != '}') {
      return absl::InvalidArgumentError(fmt::format("export stix: {}: object_json is not a JSON object", ind.id));
    }
    previous_id_.assign(ind.id);
    *main_ << (objects_++ > 0 ? "," : "") << '\n' << json;
    return Check(*main_, "bundle");
  }

  absl::Status Finish() override {
    CONCORD_RETURN_IF_ERROR(Start());
    *main_ << (objects_ > 0 ? "\n" : "") << "]}\n";
    main_->flush();
    return Check(*main_, "bundle");
  }

 private:
  std::string previous_id_;
  uint64_t objects_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ExportWriter>> NewZeekWriter(OutputSet& out, const ExportOptions& options) {
  return std::make_unique<ZeekWriter>(out, options);
}

absl::StatusOr<std::unique_ptr<ExportWriter>> NewCsvWriter(OutputSet& out, const ExportOptions& options) {
  return std::make_unique<CsvWriter>(out, options);
}

absl::StatusOr<std::unique_ptr<ExportWriter>> NewTextWriter(OutputSet& out, const ExportOptions& options) {
  return std::make_unique<TextWriter>(out, options);
}

absl::StatusOr<std::unique_ptr<ExportWriter>> NewStixWriter(OutputSet& out, const ExportOptions& options) {
  if (!IsBundleId(options.bundle_id)) {
    return absl::InvalidArgumentError(
        fmt::format("export stix: bundle_id \"{}\" is not bundle--<lower-case uuid>", options.bundle_id));
  }
  return std::make_unique<StixWriter>(out, options);
}

}  // namespace concord::detect::exports::detail
