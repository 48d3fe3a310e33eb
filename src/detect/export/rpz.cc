// DNS Response Policy Zone writer (see export.h). Trigger syntax from the RPZ draft
// (draft-vixie-dnsop-dns-rpz): QNAME triggers are the name under the origin, IP triggers
// `<prefix>.<reversed address>.rpz-ip`, the NXDOMAIN action is `CNAME .`.
#include <string>

#include "absl/time/time.h"
#include "common/status.h"
#include "detect/export/detail/common.h"
#include "fmt/format.h"

namespace concord::detect::exports::detail {

namespace {

using pattern::ValueKind;

// The RPZ trigger owner (relative to the origin) of an address or network.
std::string IpTrigger(const IpValue& ip) {
  std::string out = fmt::format("{}", ip.prefix);
  if (!ip.v6) {
    for (int i = 3; i >= 0; --i) out += fmt::format(".{}", ip.bytes[i]);
    return out + ".rpz-ip";
  }
  uint32_t groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = static_cast<uint32_t>(ip.bytes[2 * i]) << 8 | ip.bytes[2 * i + 1];
  // The longest run of two or more zero groups (the first of equals) becomes "zz", as "::" in RFC 5952.
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  for (int i = 7; i >= 0; --i) {
    if (best >= 0 && i >= best && i < best + best_len) {
      if (i == best) out += ".zz";
      continue;
    }
    out += fmt::format(".{:x}", groups[i]);
  }
  return out + ".rpz-ip";
}

// A domain this zone can hold as a QNAME trigger: a host name whose labels do not start with "rpz-" (those
// are RPZ's own trigger and action names: "x.rpz-ip" as a domain would become an IP trigger).
bool IsQnameTrigger(std::string_view name, size_t origin_size) {
  if (!IsHostName(name) || name.size() + 2 + 1 + origin_size > 255) return false;  // "*." + "." + origin
  size_t start = 0;
  while (start < name.size()) {
    const size_t dot = std::min(name.find('.', start), name.size());
    std::string_view label = name.substr(start, dot - start);
    if (label.size() >= 4 && (label[0] | 0x20) == 'r' && (label[1] | 0x20) == 'p' && (label[2] | 0x20) == 'z' &&
        label[3] == '-') {
      return false;
    }
    start = dot + 1;
  }
  return true;
}

class RpzWriter final : public WriterBase {
 public:
  using WriterBase::WriterBase;

  void WriteHeader(std::ostream& main) override {
    uint32_t serial = 1;
    absl::Time t;
    std::string error;
    if (!options_.generated_at.empty() &&
        absl::ParseTime(absl::RFC3339_full, options_.generated_at, &t, &error)) {
      const int64_t seconds = absl::ToUnixSeconds(t);
      if (seconds > 0 && seconds <= 0xffffffffLL) serial = static_cast<uint32_t>(seconds);
    }
    main << fmt::format(
        "; {} response policy zone, generated {}\n"
        "$TTL 300\n"
        "$ORIGIN {}.\n"
        "@ IN SOA localhost. hostmaster.localhost. ( {} 3600 600 86400 300 )\n"
        "@ IN NS localhost.\n",
        SafeToken(options_.source), SafeToken(options_.generated_at.empty() ? "-" : options_.generated_at),
        options_.rpz_origin, serial);
  }

  absl::Status Add(const ExportIndicator& ind) override {
    CONCORD_RETURN_IF_ERROR(Start());
    std::ostream& out = *main_;
    if (ind.kind == ValueKind::kDomain) {
      if (!IsQnameTrigger(ind.value, options_.rpz_origin.size())) {
        Skip(ind.kind);
        return absl::OkStatus();
      }
      std::string name(ind.value);
      for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      const std::string comment = SafeToken(ind.id);
      out << name << " CNAME . ; " << comment << '\n';
      if (ind.include_subdomains) out << "*." << name << " CNAME . ; " << comment << '\n';
    } else if (auto ip = ParseIpValue(ind.kind, ind.value); ip && ip->prefix > 0) {
      out << IpTrigger(*ip) << " CNAME . ; " << SafeToken(ind.id) << '\n';
    } else {
      Skip(ind.kind);
      return absl::OkStatus();
    }
    Written();
    return Check(out, "zone");
  }

  absl::Status Finish() override {
    CONCORD_RETURN_IF_ERROR(Start());
    main_->flush();
    return Check(*main_, "zone");
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<ExportWriter>> NewRpzWriter(OutputSet& out, const ExportOptions& options) {
  std::string_view origin = options.rpz_origin;
  if (!origin.empty() && origin.back() == '.') origin.remove_suffix(1);
  if (!IsHostName(origin) || origin.size() > 200) {
    return absl::InvalidArgumentError(fmt::format("export rpz: rpz_origin \"{}\" is not a zone name", origin));
  }
  ExportOptions copy = options;
  copy.rpz_origin = std::string(origin);
  return std::make_unique<RpzWriter>(out, copy);
}

}  // namespace concord::detect::exports::detail
