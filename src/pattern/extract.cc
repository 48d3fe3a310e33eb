#include "pattern/extract.h"

#include <optional>

#include "fmt/format.h"
#include "pattern/detail/text.h"

namespace concord::pattern {

std::string_view ValueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kIpv4: return "ipv4";
    case ValueKind::kIpv6: return "ipv6";
    case ValueKind::kCidr4: return "cidr4";
    case ValueKind::kCidr6: return "cidr6";
    case ValueKind::kDomain: return "domain";
    case ValueKind::kUrl: return "url";
    case ValueKind::kEmail: return "email";
    case ValueKind::kMd5: return "md5";
    case ValueKind::kSha1: return "sha1";
    case ValueKind::kSha256: return "sha256";
    case ValueKind::kSha512: return "sha512";
    case ValueKind::kSha3_256: return "sha3-256";
    case ValueKind::kSha3_512: return "sha3-512";
    case ValueKind::kSsdeep: return "ssdeep";
    case ValueKind::kTlsh: return "tlsh";
    case ValueKind::kFilename: return "filename";
    case ValueKind::kMutex: return "mutex";
    case ValueKind::kRegistryKey: return "registry-key";
    case ValueKind::kAsn: return "asn";
    case ValueKind::kMac: return "mac";
    case ValueKind::kUserAgent: return "user-agent";
    case ValueKind::kJa3: return "ja3";
    case ValueKind::kX509Serial: return "x509-serial";
  }
  return "?";
}

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::optional<ValueKind> HashKind(std::string_view name) {
  char buf[8];
  size_t len = 0;
  for (char c : name) {
    if (c == '-' || c == '_') continue;
    if (len == sizeof(buf)) return std::nullopt;
    buf[len++] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  const std::string_view k(buf, len);
  if (k == "MD5") return ValueKind::kMd5;
  if (k == "SHA1") return ValueKind::kSha1;
  if (k == "SHA256") return ValueKind::kSha256;
  if (k == "SHA512") return ValueKind::kSha512;
  if (k == "SHA3256") return ValueKind::kSha3_256;
  if (k == "SHA3512") return ValueKind::kSha3_512;
  if (k == "SSDEEP") return ValueKind::kSsdeep;
  if (k == "TLSH") return ValueKind::kTlsh;
  return std::nullopt;
}

// What the path addresses, before looking at the value. kIpv4 here means "an address: decide by form".
enum class Target { kNone, kAddress, kAddressOrDomain, kFixed };

struct PathKind {
  Target target = Target::kNone;
  ValueKind kind = ValueKind::kIpv4;
};

PathKind Classify(const ObjectPath& path) {
  // Property names only: list indexes ([*], [0]) do not change what the values are.
  // No indexable path has more than four property names; longer ones are not indexable.
  std::string_view props[5];
  size_t count = 0;
  for (const PathStep& s : path.steps) {
    if (s.kind != PathStepKind::kProperty) continue;
    if (count == 5) return {};
    props[count++] = s.name;
  }
  const std::string_view type = path.object_type;
  auto fixed = [](ValueKind k) { return PathKind{Target::kFixed, k}; };
  const size_t n = count;
  if (n >= 2 && props[n - 2] == "hashes") {
    if (auto k = HashKind(props[n - 1])) return fixed(*k);
    return {};
  }
  if (n >= 1 && (EqualsIgnoreCase(props[n - 1], "ja3") || EqualsIgnoreCase(props[n - 1], "x_ja3"))) {
    return fixed(ValueKind::kJa3);
  }
  if (n == 1) {
    const std::string_view p = props[0];
    if ((type == "ipv4-addr" || type == "ipv6-addr") && p == "value") return {Target::kAddress, ValueKind::kIpv4};
    if (type == "domain-name" && p == "value") return fixed(ValueKind::kDomain);
    if (type == "url" && p == "value") return fixed(ValueKind::kUrl);
    if (type == "email-addr" && p == "value") return fixed(ValueKind::kEmail);
    if (type == "mac-addr" && p == "value") return fixed(ValueKind::kMac);
    if (type == "file" && p == "name") return fixed(ValueKind::kFilename);
    if (type == "mutex" && p == "name") return fixed(ValueKind::kMutex);
    if (type == "windows-registry-key" && p == "key") return fixed(ValueKind::kRegistryKey);
    if (type == "autonomous-system" && p == "number") return fixed(ValueKind::kAsn);
    if (type == "x509-certificate" && p == "serial_number") return fixed(ValueKind::kX509Serial);
    return {};
  }
  if (n == 2 && props[1] == "value") {
    const std::string_view p = props[0];
    if (type == "network-traffic" && (p == "src_ref" || p == "dst_ref")) return {Target::kAddressOrDomain, {}};
    if (type == "email-message" &&
        (p == "from_ref" || p == "sender_ref" || p == "to_refs" || p == "cc_refs" || p == "bcc_refs")) {
      return fixed(ValueKind::kEmail);
    }
    return {};
  }
  if (type == "network-traffic" && n == 4 && props[0] == "extensions" && props[1] == "http-request-ext" &&
      props[2] == "request_header" && EqualsIgnoreCase(props[3], "User-Agent")) {
    return fixed(ValueKind::kUserAgent);
  }
  return {};
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<IndexableValue> Make(const PathKind& pk, const Literal& lit, bool subset) {
  std::string value;
  if (lit.kind == LiteralKind::kString) {
    value = std::string(lit.value);
  } else if (lit.kind == LiteralKind::kInteger) {
    value = std::to_string(lit.integer);
  } else {
    return std::nullopt;
  }
  if (value.empty()) return std::nullopt;
  IndexableValue out{pk.kind, {}, 0, false};
  switch (pk.target) {
    case Target::kNone: return std::nullopt;
    case Target::kFixed:
      if (subset) return std::nullopt;  // ISSUBSET only makes sense on addresses
      switch (pk.kind) {
        case ValueKind::kMd5:
        case ValueKind::kSha1:
        case ValueKind::kSha256:
        case ValueKind::kSha512:
        case ValueKind::kSha3_256:
        case ValueKind::kSha3_512:
        case ValueKind::kJa3:
          out.value = Lower(value);
          break;
        case ValueKind::kAsn:
          if (lit.kind != LiteralKind::kInteger || lit.integer < 0) return std::nullopt;
          out.value = std::move(value);
          break;
        default:
          if (lit.kind != LiteralKind::kString) return std::nullopt;
          out.value = std::move(value);
          break;
      }
      return out;
    case Target::kAddress:
    case Target::kAddressOrDomain: {
      if (lit.kind != LiteralKind::kString) return std::nullopt;
      auto net = detail::ParseIpNet(value);
      if (!net) {
        if (pk.target == Target::kAddressOrDomain && !subset) {
          out.kind = ValueKind::kDomain;
          out.value = std::move(value);
          return out;
        }
        return std::nullopt;
      }
      const bool host = net->prefix == (net->v6 ? 128 : 32);
      if (host) {
        out.kind = net->v6 ? ValueKind::kIpv6 : ValueKind::kIpv4;
        out.value = value.substr(0, value.find('/'));
      } else {
        out.kind = net->v6 ? ValueKind::kCidr6 : ValueKind::kCidr4;
        out.value = std::move(value);
      }
      return out;
    }
  }
  return std::nullopt;
}

class Extractor {
 public:
  explicit Extractor(const Pattern& p) : p_(p) {}

  void Obs(uint32_t node, bool decisive) {
    const ObservationNode& n = p_.observation_nodes()[node];
    switch (n.kind) {
      case ObservationNodeKind::kObservation: Cmp(n.expression, decisive); return;
      case ObservationNodeKind::kOr:
        for (uint32_t op : n.operands) Obs(op, decisive);
        return;
      case ObservationNodeKind::kAnd:
      case ObservationNodeKind::kFollowedBy:
        for (uint32_t op : n.operands) Obs(op, false);
        return;
      case ObservationNodeKind::kWithin:
      case ObservationNodeKind::kRepeats:
      case ObservationNodeKind::kStartStop: Obs(n.child, false); return;
    }
  }

  void Cmp(uint32_t node, bool decisive) {
    const ComparisonNode& n = p_.comparison_nodes()[node];
    switch (n.kind) {
      case ComparisonNodeKind::kComparison: Leaf(n.comparison, decisive); return;
      case ComparisonNodeKind::kOr:
        for (uint32_t op : n.operands) Cmp(op, decisive);
        return;
      case ComparisonNodeKind::kAnd:
        for (uint32_t op : n.operands) Cmp(op, false);
        return;
    }
  }

  void Leaf(uint32_t index, bool decisive) {
    const Comparison& c = p_.comparisons()[index];
    if (c.negated) return;
    if (c.op != Operator::kEqual && c.op != Operator::kIn && c.op != Operator::kIsSubset) return;
    const PathKind pk = Classify(c.path);
    if (pk.target == Target::kNone) return;
    for (const Literal& lit : c.literals) {
      auto v = Make(pk, lit, c.op == Operator::kIsSubset);
      if (!v) continue;
      v->comparison = index;
      v->decisive = decisive;
      out_.push_back(std::move(*v));
    }
  }

  std::vector<IndexableValue> Take() { return std::move(out_); }

 private:
  const Pattern& p_;
  std::vector<IndexableValue> out_;
};

}  // namespace

std::vector<IndexableValue> Extract(const Pattern& pattern) {
  Extractor e(pattern);
  e.Obs(pattern.root(), true);
  return e.Take();
}

std::vector<TextMatcher> ExtractTextMatchers(const Pattern& pattern) {
  std::vector<TextMatcher> out;
  for (uint32_t i = 0; i < pattern.comparisons().size(); ++i) {
    const Comparison& c = pattern.comparisons()[i];
    if (c.negated || (c.op != Operator::kLike && c.op != Operator::kMatches)) continue;
    if (c.literals.size() != 1 || c.literals[0].kind != LiteralKind::kString) continue;
    const PathKind pk = Classify(c.path);
    const std::string_view literal = c.literals[0].value;
    ValueKind kind = pk.kind;
    switch (pk.target) {
      case Target::kNone: continue;
      case Target::kFixed: break;
      case Target::kAddress: kind = literal.find(':') != std::string_view::npos ? ValueKind::kIpv6 : ValueKind::kIpv4; break;
      case Target::kAddressOrDomain: kind = ValueKind::kDomain; break;
    }
    out.push_back({kind, c.op, literal, i});
  }
  return out;
}

}  // namespace concord::pattern
