#include "correlate/warninglist.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "boost/json.hpp"
#include "common/json.h"
#include "common/status.h"
#include "fmt/format.h"

namespace concord::correlate {

namespace {

// IPv6 addresses as one integer, so that ranges compare and mask like IPv4 ones (a GCC/Clang extension).
__extension__ typedef unsigned __int128 Uint128;

using ListId = uint16_t;

constexpr uint32_t Bit(Kind kind) { return uint32_t{1} << static_cast<int>(kind); }
constexpr uint32_t kIpKinds = Bit(Kind::kIpv4) | Bit(Kind::kIpv6) | Bit(Kind::kCidr4) | Bit(Kind::kCidr6);
constexpr uint32_t kHostKinds = Bit(Kind::kDomain) | Bit(Kind::kUrl) | Bit(Kind::kEmail);
constexpr uint32_t kAllKinds = (uint32_t{1} << kKindCount) - 1;

// Kinds a MISP attribute type denotes; 0 for types we have no kind for.
uint32_t KindsOfMispType(std::string_view type) {
  if (type == "ip-src" || type == "ip-dst" || type == "ip-src|port" || type == "ip-dst|port" || type == "ip") {
    return kIpKinds;
  }
  if (type == "domain|ip") return kIpKinds | Bit(Kind::kDomain);
  if (type == "domain" || type == "hostname" || type == "hostname|port") return Bit(Kind::kDomain);
  if (type == "url" || type == "uri" || type == "link") return Bit(Kind::kUrl);
  if (type == "email" || type == "email-src" || type == "email-dst" || type == "target-email" ||
      type == "whois-registrant-email") {
    return Bit(Kind::kEmail);
  }
  if (type == "md5" || type == "filename|md5") return Bit(Kind::kMd5);
  if (type == "sha1" || type == "filename|sha1") return Bit(Kind::kSha1);
  if (type == "sha256" || type == "filename|sha256") return Bit(Kind::kSha256);
  if (type == "sha512" || type == "filename|sha512") return Bit(Kind::kSha512);
  if (type == "sha3-256" || type == "filename|sha3-256") return Bit(Kind::kSha3_256);
  if (type == "sha3-512" || type == "filename|sha3-512") return Bit(Kind::kSha3_512);
  if (type == "ssdeep" || type == "filename|ssdeep") return Bit(Kind::kSsdeep);
  if (type == "tlsh" || type == "filename|tlsh") return Bit(Kind::kTlsh);
  if (type == "filename") return Bit(Kind::kFilename);
  if (type == "mutex") return Bit(Kind::kMutex);
  if (type == "regkey") return Bit(Kind::kRegistryKey);
  if (type == "AS") return Bit(Kind::kAsn);
  if (type == "mac-address" || type == "mac-eui-64") return Bit(Kind::kMac);
  if (type == "user-agent") return Bit(Kind::kUserAgent);
  if (type == "ja3-fingerprint-md5") return Bit(Kind::kJa3);
  return 0;
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

template <typename Addr>
Addr FromBytes(const uint8_t* bytes) {
  Addr out = 0;
  for (size_t i = 0; i < sizeof(Addr); ++i) out = static_cast<Addr>((out << 8) | bytes[i]);
  return out;
}

// An address range [lo, hi] with the lists it belongs to, flattened into disjoint elementary intervals so
// that a lookup is one binary search whatever the nesting of the listed prefixes.
template <typename Addr>
class RangeTable {
 public:
  static constexpr int kBits = static_cast<int>(sizeof(Addr) * 8);

  void Add(Addr address, int prefix, ListId id) {
    const Addr host_mask = prefix >= kBits ? Addr{0} : static_cast<Addr>(~Addr{0} >> prefix);
    const Addr lo = static_cast<Addr>(address & ~host_mask);
    raw_.push_back({lo, static_cast<Addr>(lo | host_mask), id});
  }

  void Finish(size_t list_count) {
    struct Event {
      Addr at;
      ListId id;
      int delta;
    };
    std::vector<Event> events;
    events.reserve(2 * raw_.size());
    for (const Raw& r : raw_) {
      events.push_back({r.lo, r.id, +1});
      if (r.hi != std::numeric_limits<Addr>::max()) events.push_back({static_cast<Addr>(r.hi + 1), r.id, -1});
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.at < b.at; });
    std::vector<Addr> points = {Addr{0}};  // where the set of covering lists may change
    for (const Event& event : events) {
      if (event.at != points.back()) points.push_back(event.at);
    }
    std::vector<int> count(list_count, 0);
    std::vector<ListId> current;
    size_t e = 0;
    offsets_.push_back(0);
    for (Addr point : points) {
      for (; e < events.size() && events[e].at == point; ++e) count[events[e].id] += events[e].delta;
      current.clear();
      for (size_t id = 0; id < count.size(); ++id) {
        if (count[id] > 0) current.push_back(static_cast<ListId>(id));
      }
      if (!starts_.empty() && std::equal(current.begin(), current.end(), pool_.begin() + offsets_[starts_.size() - 1],
                                         pool_.begin() + offsets_[starts_.size()])) {
        continue;  // same lists as the interval before: extend it
      }
      starts_.push_back(point);
      pool_.insert(pool_.end(), current.begin(), current.end());
      offsets_.push_back(static_cast<uint32_t>(pool_.size()));
    }
    raw_.clear();
    raw_.shrink_to_fit();
  }

  // Lists covering every address of [lo, hi].
  void Covering(Addr lo, Addr hi, std::vector<ListId>* out) const {
    if (starts_.empty()) return;
    const size_t first = Interval(lo);
    const size_t last = Interval(hi);
    std::vector<ListId> lists(pool_.begin() + offsets_[first], pool_.begin() + offsets_[first + 1]);
    for (size_t i = first + 1; i <= last && !lists.empty(); ++i) {
      std::vector<ListId> both;
      std::set_intersection(lists.begin(), lists.end(), pool_.begin() + offsets_[i], pool_.begin() + offsets_[i + 1],
                            std::back_inserter(both));
      lists = std::move(both);
    }
    out->insert(out->end(), lists.begin(), lists.end());
  }

 private:
  struct Raw {
    Addr lo;
    Addr hi;
    ListId id;
  };

  size_t Interval(Addr a) const {
    return static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), a) - starts_.begin()) - 1;
  }

  std::vector<Raw> raw_;
  std::vector<Addr> starts_;       // first address of each elementary interval; starts_[0] == 0
  std::vector<uint32_t> offsets_;  // lists of interval i: pool_[offsets_[i], offsets_[i + 1])
  std::vector<ListId> pool_;
};

struct PcreCodeFree {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};

struct Regex {
  ListId id;
  std::unique_ptr<pcre2_code, PcreCodeFree> code;
};

// An IP or CIDR in canonical text as an address and a prefix length, with its family.
struct Prefix {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
  int length = 0;
};

std::optional<Prefix> ParseCanonicalPrefix(Kind kind, std::string_view text) {
  Prefix p;
  p.v6 = kind == Kind::kIpv6 || kind == Kind::kCidr6;
  p.length = p.v6 ? 128 : 32;
  const size_t slash = text.find('/');
  std::string address(text.substr(0, slash));
  if (slash != std::string_view::npos) {
    // Match() may be handed values that did not come from NormalizeAs: never trust the length.
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    const int max_length = p.length;
    p.length = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      p.length = p.length * 10 + (c - '0');
    }
    if (p.length > max_length) return std::nullopt;
  }
  if (inet_pton(p.v6 ? AF_INET6 : AF_INET, address.c_str(), p.bytes.data()) != 1) return std::nullopt;
  return p;
}

struct ListInfo {
  std::string name;
  uint32_t kinds = 0;
};

absl::StatusOr<const boost::json::string*> StringMember(const boost::json::object& object, std::string_view key,
                                                        std::string_view origin) {
  const boost::json::value* v = object.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return absl::InvalidArgumentError(fmt::format("{}: \"{}\" is missing or not a string", origin, key));
  }
  return &v->get_string();
}

}  // namespace

// Most values are on one list: the ids of a value stay inline, so 100k entries cost no 100k allocations.
using ListIds = absl::InlinedVector<ListId, 2>;

struct Warninglists::Index {
  std::vector<ListInfo> lists;
  absl::flat_hash_map<std::string, ListIds> strings;       // lower case
  absl::flat_hash_map<std::string, ListIds> hostnames;     // normalised domains
  std::vector<std::pair<ListId, std::string>> substrings;  // lower case
  std::vector<Regex> regexes;
  RangeTable<uint32_t> v4;
  RangeTable<Uint128> v6;

  static void AddTo(absl::flat_hash_map<std::string, ListIds>& map, std::string key, ListId id) {
    ListIds& ids = map.try_emplace(std::move(key)).first->second;
    if (ids.empty() || ids.back() != id) ids.push_back(id);
  }

  // Adds one list; bad entries go to `warnings`.
  absl::Status AddList(const WarninglistSource& source, std::vector<std::string>* warnings) {
    const std::string& origin = source.origin;
    auto parsed = ParseJson(source.json);
    if (!parsed.ok()) return Annotate(parsed.status(), origin);
    if (!parsed->is_object()) return absl::InvalidArgumentError(fmt::format("{}: not a JSON object", origin));
    const boost::json::object& object = parsed->get_object();
    CONCORD_ASSIGN_OR_RETURN(const boost::json::string* name, StringMember(object, "name", origin));
    CONCORD_ASSIGN_OR_RETURN(const boost::json::string* type_value, StringMember(object, "type", origin));
    const std::string_view type(type_value->data(), type_value->size());
    uint32_t type_kinds = 0;
    if (type == "cidr") {
      type_kinds = kIpKinds;
    } else if (type == "hostname") {
      type_kinds = kHostKinds;
    } else if (type == "string" || type == "substring" || type == "regex") {
      type_kinds = kAllKinds;
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "{}: unknown warninglist type \"{}\" (expected cidr, hostname, string, substring or regex)", origin, type));
    }
    const boost::json::value* list = object.if_contains("list");
    if (list == nullptr || !list->is_array()) {
      return absl::InvalidArgumentError(fmt::format("{}: \"list\" is missing or not an array", origin));
    }
    uint32_t attribute_kinds = kAllKinds;  // no matching_attributes: the list applies to every kind
    if (const boost::json::value* attrs = object.if_contains("matching_attributes")) {
      if (!attrs->is_array()) {
        return absl::InvalidArgumentError(fmt::format("{}: \"matching_attributes\" is not an array", origin));
      }
      if (!attrs->get_array().empty()) attribute_kinds = 0;
      for (const boost::json::value& a : attrs->get_array()) {
        if (a.is_string())
          attribute_kinds |= KindsOfMispType(std::string_view(a.get_string().data(), a.get_string().size()));
      }
    }
    if (lists.size() >= std::numeric_limits<ListId>::max()) {
      return absl::ResourceExhaustedError(
          fmt::format("{}: more than {} warninglists", origin, std::numeric_limits<ListId>::max()));
    }
    const auto id = static_cast<ListId>(lists.size());
    lists.push_back({std::string(name->data(), name->size()), type_kinds & attribute_kinds});

    auto warn = [&](size_t index, std::string_view entry, std::string_view why) {
      if (warnings != nullptr) {
        warnings->push_back(fmt::format("{}: entry {} \"{}\": {}", origin, index, entry.substr(0, 120), why));
      }
    };
    const boost::json::array& entries = list->get_array();
    if (type == "hostname") hostnames.reserve(hostnames.size() + entries.size());
    if (type == "string") strings.reserve(strings.size() + entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!entries[i].is_string()) {
        warn(i, "", fmt::format("is a JSON {}, not a string", JsonKindName(entries[i])));
        continue;
      }
      const std::string_view entry(entries[i].get_string().data(), entries[i].get_string().size());
      if (type == "cidr") {
        const bool has_colon = entry.find(':') != std::string_view::npos;
        const bool has_slash = entry.find('/') != std::string_view::npos;
        const Kind kind =
            has_slash ? (has_colon ? Kind::kCidr6 : Kind::kCidr4) : (has_colon ? Kind::kIpv6 : Kind::kIpv4);
        auto normalized = NormalizeAs(kind, entry);
        if (!normalized.ok()) {
          warn(i, entry, Sv(normalized.status().message()));
          continue;
        }
        const std::optional<Prefix> prefix = ParseCanonicalPrefix(normalized->kind, normalized->value);
        CONCORD_CHECK(prefix.has_value(), "canonical IP text parses back");
        if (prefix->v6) {
          v6.Add(FromBytes<Uint128>(prefix->bytes.data()), prefix->length, id);
        } else {
          v4.Add(FromBytes<uint32_t>(prefix->bytes.data()), prefix->length, id);
        }
      } else if (type == "hostname") {
        std::string_view host = entry;
        while (!host.empty() && host.front() == '.') host.remove_prefix(1);
        auto domain = Normalize(Kind::kDomain, host);
        if (!domain.ok()) {
          warn(i, entry, Sv(domain.status().message()));
          continue;
        }
        AddTo(hostnames, *std::move(domain), id);
      } else if (type == "string") {
        AddTo(strings, LowerAscii(entry), id);
      } else if (type == "substring") {
        if (entry.empty()) {
          warn(i, entry, "an empty substring would match everything");
          continue;
        }
        substrings.emplace_back(id, LowerAscii(entry));
      } else {
        std::string_view pattern = entry;
        uint32_t options = PCRE2_UTF;
        const size_t close = entry.rfind('/');
        if (entry.size() >= 2 && entry.front() == '/' && close > 0) {
          pattern = entry.substr(1, close - 1);
          for (char flag : entry.substr(close + 1)) {
            if (flag == 'i')
              options |= PCRE2_CASELESS;
            else if (flag == 'm')
              options |= PCRE2_MULTILINE;
            else if (flag == 's')
              options |= PCRE2_DOTALL;
            else if (flag == 'x')
              options |= PCRE2_EXTENDED;
          }
        }
        int error_code = 0;
        PCRE2_SIZE error_offset = 0;
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                                         &error_code, &error_offset, nullptr);
        if (code == nullptr) {
          std::array<PCRE2_UCHAR, 256> message{};
          pcre2_get_error_message(error_code, message.data(), message.size());
          warn(i, entry,
               fmt::format("regex does not compile at offset {}: {}", error_offset,
                           reinterpret_cast<const char*>(message.data())));
          continue;
        }
        regexes.push_back({id, std::unique_ptr<pcre2_code, PcreCodeFree>(code)});
      }
    }
    return absl::OkStatus();
  }

  void HostnameLookup(std::string_view host, std::vector<ListId>* out) const {
    while (!host.empty()) {
      auto it = hostnames.find(AbslSv(host));
      if (it != hostnames.end()) out->insert(out->end(), it->second.begin(), it->second.end());
      const size_t dot = host.find('.');
      if (dot == std::string_view::npos) break;
      host.remove_prefix(dot + 1);
    }
  }

  void AddressLookup(Kind kind, std::string_view value, std::vector<ListId>* out) const {
    const std::optional<Prefix> p = ParseCanonicalPrefix(kind, value);
    if (!p) return;
    if (p->v6) {
      const Uint128 address = FromBytes<Uint128>(p->bytes.data());
      const Uint128 host_mask = p->length >= 128 ? Uint128{0} : static_cast<Uint128>(~Uint128{0} >> p->length);
      v6.Covering(address & ~host_mask, address | host_mask, out);
    } else {
      const uint32_t address = FromBytes<uint32_t>(p->bytes.data());
      const uint32_t host_mask = p->length >= 32 ? 0u : (~0u >> p->length);
      v4.Covering(address & ~host_mask, address | host_mask, out);
    }
  }
};

Warninglists::Warninglists(std::unique_ptr<Index> index) : index_(std::move(index)) {}
Warninglists::~Warninglists() = default;

absl::StatusOr<std::unique_ptr<Warninglists>> Warninglists::Build(const std::vector<WarninglistSource>& sources,
                                                                  std::vector<std::string>* warnings) {
  auto index = std::make_unique<Index>();
  for (const WarninglistSource& source : sources) CONCORD_RETURN_IF_ERROR(index->AddList(source, warnings));
  index->v4.Finish(index->lists.size());
  index->v6.Finish(index->lists.size());
  return std::unique_ptr<Warninglists>(new Warninglists(std::move(index)));
}

absl::StatusOr<std::unique_ptr<Warninglists>> Warninglists::LoadDirectory(const std::filesystem::path& directory,
                                                                          std::vector<std::string>* warnings) {
  std::error_code ec;
  std::vector<std::filesystem::path> paths;
  std::filesystem::recursive_directory_iterator it(directory, ec);
  if (ec) {
    return absl::NotFoundError(
        fmt::format("warninglists: cannot read directory {}: {}", directory.string(), ec.message()));
  }
  for (; it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && it->path().extension() == ".json") paths.push_back(it->path());
  }
  if (ec) {
    return absl::UnavailableError(fmt::format("warninglists: reading {}: {}", directory.string(), ec.message()));
  }
  std::sort(paths.begin(), paths.end());
  std::vector<WarninglistSource> sources;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof()) {
      return absl::UnavailableError(fmt::format("warninglists: cannot read {}", path.string()));
    }
    sources.push_back({path.string(), std::move(text).str()});
  }
  return Build(sources, warnings);
}

std::vector<std::string> Warninglists::Match(Kind kind, std::string_view value) const {
  const Index& index = *index_;
  std::vector<ListId> ids;
  switch (kind) {
    case Kind::kIpv4:
    case Kind::kIpv6:
    case Kind::kCidr4:
    case Kind::kCidr6:
      index.AddressLookup(kind, value, &ids);
      break;
    case Kind::kDomain:
      index.HostnameLookup(value, &ids);
      break;
    case Kind::kUrl:
      if (auto host = UrlHost(value); host && !host->empty() && host->front() != '[') index.HostnameLookup(*host, &ids);
      break;
    case Kind::kEmail:
      index.HostnameLookup(EmailDomain(value), &ids);
      break;
    default:
      break;
  }
  // Normalised values are lower case except URL paths and e-mail local parts: copy only when needed.
  std::string lowered;
  std::string_view lower = value;
  if (std::any_of(value.begin(), value.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    lowered = LowerAscii(value);
    lower = lowered;
  }
  if (auto it = index.strings.find(AbslSv(lower)); it != index.strings.end()) {
    ids.insert(ids.end(), it->second.begin(), it->second.end());
  }
  for (const auto& [id, needle] : index.substrings) {
    if (lower.find(needle) != std::string_view::npos) ids.push_back(id);
  }
  for (const Regex& regex : index.regexes) {
    if ((index.lists[regex.id].kinds & Bit(kind)) == 0) continue;
    pcre2_match_data* data = pcre2_match_data_create_from_pattern(regex.code.get(), nullptr);
    const int rc =
        pcre2_match(regex.code.get(), reinterpret_cast<PCRE2_SPTR>(value.data()), value.size(), 0, 0, data, nullptr);
    pcre2_match_data_free(data);
    if (rc >= 0) ids.push_back(regex.id);
  }
  std::vector<std::string> names;
  for (ListId id : ids) {
    if (index.lists[id].kinds & Bit(kind)) names.push_back(index.lists[id].name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<std::string> Warninglists::Names() const {
  std::vector<std::string> names;
  for (const ListInfo& list : index_->lists) names.push_back(list.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace concord::correlate
