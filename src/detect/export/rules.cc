// Suricata 6.0 and Snort 3 rule writers (see export.h for what each expresses and skips).
#include <array>
#include <limits>

#include "common/status.h"
#include "detect/export/detail/common.h"
#include "fmt/format.h"

namespace concord::detect::exports::detail {

namespace {

using pattern::ValueKind;

constexpr size_t kKindCount = static_cast<size_t>(ValueKind::kX509Serial) + 1;

bool IsIpKind(ValueKind kind) {
  return kind == ValueKind::kIpv4 || kind == ValueKind::kIpv6 || kind == ValueKind::kCidr4 ||
         kind == ValueKind::kCidr6;
}

// What Suricata and Snort rule writers share: sids, msg and metadata composition.
class RuleWriterBase : public WriterBase {
 protected:
  RuleWriterBase(OutputSet& out, const ExportOptions& options, std::string_view dialect)
      : WriterBase(out, options), next_sid_(options.first_sid), dialect_(dialect) {}

  void WriteHeader(std::ostream& main) override {
    main << fmt::format("# {} {} rules, generated {}\n", SafeToken(options_.source), dialect_,
                        SafeToken(options_.generated_at.empty() ? "-" : options_.generated_at));
  }

  // `head` is "alert ip any any <> X any"; `body` the detection options, each ending in "; ".
  [[nodiscard]] absl::Status WriteRule(std::string_view head, std::string_view msg, std::string_view body,
                                       std::string_view metadata) {
    if (next_sid_ == 0) return absl::ResourceExhaustedError("export: sid range exhausted");
    const uint32_t sid = next_sid_;
    next_sid_ = sid == std::numeric_limits<uint32_t>::max() ? 0 : sid + 1;
    *main_ << head << " (msg:\"" << msg << "\"; " << body << "classtype:trojan-activity; ";
    if (!metadata.empty()) *main_ << "metadata:" << metadata << "; ";
    *main_ << "sid:" << sid << "; rev:1;)\n";
    return Check(*main_, "rules");
  }

  std::string Msg(const ExportIndicator& ind, std::string_view shown_value) const {
    return RuleMsgText(fmt::format("{} {} {} ({})", options_.source, pattern::ValueKindName(ind.kind),
                                   shown_value, Label(ind)));
  }
  std::string Metadata(const ExportIndicator& ind) const {
    return fmt::format("concord_id {}, tlp {}, score {}", SafeToken(ind.id), SafeToken(stix::TlpName(ind.tlp)),
                       ScoreInt(ind.score));
  }

 private:
  uint32_t next_sid_;  // 0 once the range is used up
  std::string_view dialect_;
};

// ---------------------------------------------------------------------------------------------------------
// Suricata 6.0

struct Aggregate {
  ValueKind kind;
  std::string_view file;         // dataset or list file
  std::string_view description;  // for the msg
};

class SuricataWriter final : public RuleWriterBase {
 public:
  SuricataWriter(OutputSet& out, const ExportOptions& options) : RuleWriterBase(out, options, "Suricata 6.0") {}

  absl::Status Add(const ExportIndicator& ind) override {
    CONCORD_RETURN_IF_ERROR(Start());
    if (ind.value.empty()) {
      Skip(ind.kind);
      return absl::OkStatus();
    }
    switch (ind.kind) {
      case ValueKind::kIpv4:
      case ValueKind::kIpv6:
      case ValueKind::kCidr4:
      case ValueKind::kCidr6: return AddAddress(ind);
      case ValueKind::kDomain: return AddDomain(ind);
      case ValueKind::kUrl: return AddUrl(ind);
      case ValueKind::kUserAgent:
        return AddBuffer(ind, "alert http any any -> any any", "http.user_agent", "concord-user-agent");
      case ValueKind::kJa3: return AddBuffer(ind, "alert tls any any -> any any", "ja3.hash", "concord-ja3");
      case ValueKind::kFilename: return AddFilename(ind);
      case ValueKind::kMd5: return AddHash(ind, 0);
      case ValueKind::kSha1: return AddHash(ind, 1);
      case ValueKind::kSha256: return AddHash(ind, 2);
      default: Skip(ind.kind); return absl::OkStatus();
    }
  }

  absl::Status Finish() override {
    CONCORD_RETURN_IF_ERROR(Start());
    CONCORD_RETURN_IF_ERROR(FlushAddresses());
    // One rule per dataset that received values: a dataset is declared by the rules that load it.
    if (dataset_used_[kDomainSet]) {
      static constexpr std::string_view kHeads[][2] = {{"alert dns any any -> any any", "dns.query"},
                                                       {"alert tls any any -> any any", "tls.sni"},
                                                       {"alert http any any -> any any", "http.host"}};
      for (const auto& [head, buffer] : kHeads) {
        CONCORD_RETURN_IF_ERROR(WriteDatasetRule(head, buffer, "concord-domain", "domain"));
      }
    }
    if (dataset_used_[kUserAgentSet]) {
      CONCORD_RETURN_IF_ERROR(
          WriteDatasetRule("alert http any any -> any any", "http.user_agent", "concord-user-agent", "user-agent"));
    }
    if (dataset_used_[kJa3Set]) {
      CONCORD_RETURN_IF_ERROR(WriteDatasetRule("alert tls any any -> any any", "ja3.hash", "concord-ja3", "ja3"));
    }
    static constexpr std::string_view kHashKeyword[] = {"filemd5", "filesha1", "filesha256"};
    static constexpr std::string_view kHashName[] = {"md5", "sha1", "sha256"};
    for (size_t i = 0; i < 3; ++i) {
      if (hash_count_[i] == 0) continue;
      const std::string msg =
          RuleMsgText(fmt::format("{} {} list ({} values)", options_.source, kHashName[i], hash_count_[i]));
      CONCORD_RETURN_IF_ERROR(WriteRule("alert http any any -> any any", msg,
                                        fmt::format("{}:concord-{}.txt; ", kHashKeyword[i], kHashName[i]), ""));
    }
    // Flush every list and dataset file too, so that nothing stays buffered once Finish() returns.
    static constexpr std::string_view kSetFile[] = {"concord-domain.lst", "concord-user-agent.lst",
                                                    "concord-ja3.lst"};
    for (size_t i = 0; i < 3; ++i) {
      if (dataset_used_[i]) CONCORD_RETURN_IF_ERROR(FlushOutput(kSetFile[i]));
      if (hash_count_[i] > 0) CONCORD_RETURN_IF_ERROR(FlushOutput(fmt::format("concord-{}.txt", kHashName[i])));
    }
    main_->flush();
    return Check(*main_, "rules");
  }

 private:
  static constexpr size_t kDomainSet = 0, kUserAgentSet = 1, kJa3Set = 2;

  // True when this value goes to an aggregate rather than a rule of its own.
  bool Aggregated(ValueKind kind) {
    if (!out_.AcceptsNamedOutputs() && !IsIpKind(kind)) return false;
    return per_kind_[static_cast<size_t>(kind)]++ >= options_.dataset_threshold;
  }

  absl::Status AddAddress(const ExportIndicator& ind) {
    auto ip = ParseIpValue(ind.kind, ind.value);
    if (!ip) {
      Skip(ind.kind);
      return absl::OkStatus();
    }
    const std::string addr = FormatIp(*ip);
    Written();
    if (Aggregated(ind.kind)) {
      if (chunk_count_ == kAddressChunk) CONCORD_RETURN_IF_ERROR(FlushAddresses());
      if (chunk_count_++ > 0) chunk_ += ',';
      chunk_ += addr;
      return absl::OkStatus();
    }
    return WriteRule(fmt::format("alert ip any any <> {} any", addr), Msg(ind, addr), "", Metadata(ind));
  }

  absl::Status FlushAddresses() {
    if (chunk_count_ == 0) return absl::OkStatus();
    ++chunk_number_;
    const std::string msg = RuleMsgText(
        fmt::format("{} address list {} ({} values)", options_.source, chunk_number_, chunk_count_));
    absl::Status status = WriteRule(fmt::format("alert ip any any <> [{}] any", chunk_), msg, "", "");
    chunk_.clear();
    chunk_count_ = 0;
    return status;
  }

  absl::Status AddDomain(const ExportIndicator& ind) {
    std::string lower(ind.value);
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    Written();
    if (!ind.include_subdomains && Aggregated(ind.kind)) return AddToDataset(kDomainSet, "concord-domain", lower);
    static constexpr std::string_view kHeads[][2] = {{"alert dns any any -> any any", "dns.query"},
                                                     {"alert tls any any -> any any", "tls.sni"},
                                                     {"alert http any any -> any any", "http.host"}};
    const std::string msg = Msg(ind, ind.include_subdomains ? "*." + lower : lower);
    for (const auto& [head, buffer] : kHeads) {
      // http.host is lower-cased by libhtp, where nocase is redundant; DNS names and SNI are not.
      const std::string_view nocase = buffer == "http.host" ? "" : "nocase; ";
      std::string body =
          ind.include_subdomains
              // dotprefix turns "a.evil.com" into ".a.evil.com", so ".evil.com" at the end matches the domain
              // and every name below it, and never "notevil.com".
              ? fmt::format("{}; dotprefix; content:\"{}\"; {}endswith; ", buffer, RuleContent("." + lower), nocase)
              : fmt::format("{}; content:\"{}\"; {}bsize:{}; ", buffer, RuleContent(lower), nocase, lower.size());
      CONCORD_RETURN_IF_ERROR(WriteRule(head, msg, body, Metadata(ind)));
    }
    return absl::OkStatus();
  }

  absl::Status AddUrl(const ExportIndicator& ind) {
    auto url = ParseHttpUrl(ind.value);
    if (!url) {
      Skip(ind.kind);
      return absl::OkStatus();
    }
    Written();
    const std::string body =
        fmt::format("http.host; content:\"{}\"; bsize:{}; http.uri; content:\"{}\"; bsize:{}; ",
                    RuleContent(url->host), url->host.size(), RuleContent(url->path_query), url->path_query.size());
    return WriteRule("alert http any any -> any any", Msg(ind, ind.value), body, Metadata(ind));
  }

  absl::Status AddBuffer(const ExportIndicator& ind, std::string_view head, std::string_view buffer,
                         std::string_view dataset) {
    Written();
    if (Aggregated(ind.kind)) {
      return AddToDataset(ind.kind == ValueKind::kJa3 ? kJa3Set : kUserAgentSet, dataset, ind.value);
    }
    const std::string body =
        fmt::format("{}; content:\"{}\"; bsize:{}; ", buffer, RuleContent(ind.value), ind.value.size());
    return WriteRule(head, Msg(ind, ind.value), body, Metadata(ind));
  }

  absl::Status AddFilename(const ExportIndicator& ind) {
    // Suricata 6.0's `filename` takes a quoted string with its own escaping (no hex); only plain names fit.
    for (unsigned char c : ind.value) {
      if (c < 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' || c == '|') {
        Skip(ind.kind);
        return absl::OkStatus();
      }
    }
    Written();
    return WriteRule("alert http any any -> any any", Msg(ind, ind.value),
                     fmt::format("filename:\"{}\"; ", ind.value), Metadata(ind));
  }

  absl::Status AddHash(const ExportIndicator& ind, size_t which) {
    static constexpr std::string_view kFile[] = {"concord-md5.txt", "concord-sha1.txt", "concord-sha256.txt"};
    if (!IsHashValue(ind.kind, ind.value) || !out_.AcceptsNamedOutputs()) {
      Skip(ind.kind);
      return absl::OkStatus();
    }
    CONCORD_ASSIGN_OR_RETURN(std::ostream * list, out_.Open(kFile[which]));
    for (char c : ind.value) *list << static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    *list << '\n';
    ++hash_count_[which];
    Written();
    return Check(*list, kFile[which]);
  }

  absl::Status FlushOutput(std::string_view name) {
    CONCORD_ASSIGN_OR_RETURN(std::ostream * stream, out_.Open(name));
    stream->flush();
    return Check(*stream, name);
  }

  absl::Status AddToDataset(size_t set, std::string_view name, std::string_view value) {
    CONCORD_ASSIGN_OR_RETURN(std::ostream * file, out_.Open(fmt::format("{}.lst", name)));
    *file << Base64(value) << '\n';  // `string` datasets hold base64 lines
    dataset_used_[set] = true;
    return Check(*file, name);
  }

  absl::Status WriteDatasetRule(std::string_view head, std::string_view buffer, std::string_view name,
                                std::string_view kind) {
    const std::string msg = RuleMsgText(fmt::format("{} {} dataset {}", options_.source, kind, name));
    return WriteRule(head, msg, fmt::format("{}; dataset:isset,{},type string,load {}.lst; ", buffer, name, name),
                     "");
  }

  std::array<uint64_t, kKindCount> per_kind_{};  // values seen per kind, for the aggregation threshold
  std::array<bool, 3> dataset_used_{};
  std::array<uint64_t, 3> hash_count_{};
  std::string chunk_;  // pending aggregated addresses, at most kAddressChunk
  size_t chunk_count_ = 0;
  uint64_t chunk_number_ = 0;
};

// ---------------------------------------------------------------------------------------------------------
// Snort 3

class SnortWriter final : public RuleWriterBase {
 public:
  SnortWriter(OutputSet& out, const ExportOptions& options) : RuleWriterBase(out, options, "Snort 3") {}

  absl::Status Add(const ExportIndicator& ind) override {
    CONCORD_RETURN_IF_ERROR(Start());
    switch (ind.kind) {
      case ValueKind::kIpv4:
      case ValueKind::kIpv6:
      case ValueKind::kCidr4:
      case ValueKind::kCidr6: {
        auto ip = ParseIpValue(ind.kind, ind.value);
        if (!ip) break;
        const std::string addr = FormatIp(*ip);
        Written();
        return WriteRule(fmt::format("alert ip any any <> {} any", addr), Msg(ind, addr), "", Metadata(ind));
      }
      case ValueKind::kDomain: {
        if (!IsHostName(ind.value)) break;
        std::string lower(ind.value);
        for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        // The query name in DNS wire format: length-prefixed labels, closed by the root's zero.
        std::string wire;
        size_t start = 0;
        while (start <= lower.size()) {
          const size_t dot = std::min(lower.find('.', start), lower.size());
          wire += static_cast<char>(dot - start);
          wire += lower.substr(start, dot - start);
          start = dot + 1;
        }
        wire += '\0';
        Written();
        const std::string msg = Msg(ind, ind.include_subdomains ? "*." + lower : lower);
        // Exact: the question's name starts right after the 12-byte DNS header (UDP). With subdomains the
        // labels may follow others, so the content floats.
        const std::string anchor =
            ind.include_subdomains ? "" : fmt::format("offset:12; depth:{}; ", wire.size());
        CONCORD_RETURN_IF_ERROR(WriteRule("alert udp any any -> any 53", msg,
                                          fmt::format("content:\"{}\"; nocase; {}", RuleContent(wire), anchor),
                                          Metadata(ind)));
        const std::string host_body =
            ind.include_subdomains
                ? fmt::format("http_header:field host; content:\"{}\"; nocase; ", RuleContent(lower))
                : fmt::format("http_header:field host; content:\"{}\"; nocase; bufferlen:{}; ", RuleContent(lower),
                              lower.size());
        return WriteRule("alert http any any -> any any", msg, host_body, Metadata(ind));
      }
      case ValueKind::kUrl: {
        auto url = ParseHttpUrl(ind.value);
        if (!url || ind.value.empty()) break;
        Written();
        const std::string body = fmt::format(
            "http_header:field host; content:\"{}\"; nocase; bufferlen:{}; http_uri; content:\"{}\"; bufferlen:{}; ",
            RuleContent(url->host), url->host.size(), RuleContent(url->path_query), url->path_query.size());
        return WriteRule("alert http any any -> any any", Msg(ind, ind.value), body, Metadata(ind));
      }
      case ValueKind::kUserAgent: {
        if (ind.value.empty()) break;
        Written();
        const std::string body = fmt::format("http_header:field user-agent; content:\"{}\"; bufferlen:{}; ",
                                             RuleContent(ind.value), ind.value.size());
        return WriteRule("alert http any any -> any any", Msg(ind, ind.value), body, Metadata(ind));
      }
      default: break;
    }
    Skip(ind.kind);
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    CONCORD_RETURN_IF_ERROR(Start());
    main_->flush();
    return Check(*main_, "rules");
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<ExportWriter>> NewSuricataWriter(OutputSet& out, const ExportOptions& options) {
  return std::make_unique<SuricataWriter>(out, options);
}

absl::StatusOr<std::unique_ptr<ExportWriter>> NewSnortWriter(OutputSet& out, const ExportOptions& options) {
  return std::make_unique<SnortWriter>(out, options);
}

}  // namespace concord::detect::exports::detail
