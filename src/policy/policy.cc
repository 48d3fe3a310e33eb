// The sharing policy: visibility on this node and egress to peers (policy.h states the contract).
#include "policy/policy.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace concord::policy {
namespace {

using stix::Tlp;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::vector<std::string> SortedUnique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// The communities in both lists, sorted and without duplicates.
std::vector<std::string> Shared(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> out;
  for (const std::string& c : a) {
    if (std::find(b.begin(), b.end(), c) != b.end()) out.push_back(c);
  }
  return SortedUnique(std::move(out));
}

EgressDecision Refuse(std::string_view reason) { return {false, Distribution::kOrganisation, {}, reason}; }

}  // namespace

std::string_view DistributionName(Distribution d) {
  switch (d) {
    case Distribution::kOrganisation:
      return "organisation";
    case Distribution::kCommunity:
      return "community";
    case Distribution::kConnected:
      return "connected";
    case Distribution::kAll:
      return "all";
    case Distribution::kGroup:
      return "group";
  }
  return "organisation";
}

std::optional<Distribution> DistributionFromInt(int64_t level) {
  if (level < 0 || level > 4) return std::nullopt;
  return static_cast<Distribution>(level);
}

std::optional<Distribution> ParseDistribution(std::string_view text) {
  if (text.size() == 1 && text[0] >= '0' && text[0] <= '4') return DistributionFromInt(text[0] - '0');
  if (text == "organization") return Distribution::kOrganisation;
  for (int64_t level = 0; level <= 4; ++level) {
    const Distribution d = static_cast<Distribution>(level);
    if (DistributionName(d) == text) return d;
  }
  return std::nullopt;
}

std::optional<Tlp> TlpFromMispTag(std::string_view tag) {
  constexpr std::pair<std::string_view, Tlp> kTags[] = {
      {"tlp:clear", Tlp::kClear},
      {"tlp:white", Tlp::kClear},
      {"tlp:green", Tlp::kGreen},
      {"tlp:amber", Tlp::kAmber},
      {"tlp:amber+strict", Tlp::kAmberStrict},
      {"tlp:red", Tlp::kRed},
  };
  for (const auto& [name, tlp] : kTags) {
    if (EqualsIgnoreCase(tag, name)) return tlp;
  }
  return std::nullopt;
}

Tlp TlpFromMispTags(std::span<const std::string> tags) {
  Tlp out = Tlp::kNone;
  for (const std::string& tag : tags) {
    // The enum is ordered from least to most restrictive, as stix orders several TLP markings.
    if (auto tlp = TlpFromMispTag(tag); tlp && *tlp > out) out = *tlp;
  }
  return out;
}

ObjectPolicy ObjectPolicy::FromObject(const stix::Object& object, const NodeDefaults& defaults) {
  ObjectPolicy p;
  p.tlp = object.tlp;
  // ParseObject admits 0..4 only; a hand-built object with another level gets the most restrictive one.
  p.distribution = object.distribution ? DistributionFromInt(*object.distribution).value_or(Distribution::kOrganisation)
                                       : defaults.distribution;
  p.owner_org = object.created_by_ref;
  p.sharing_group = object.sharing_group_ref;
  p.communities = SortedUnique(object.communities);
  return p;
}

ObjectPolicy ObjectPolicy::FromReceived(const stix::Object& object, const NodeDefaults& defaults, const Peer& origin) {
  ObjectPolicy p = FromObject(object, defaults);
  p.owner_org = defaults.host_org;
  // A peer cannot place an object in a community its link to us is not in.
  p.communities =
      object.communities.empty() ? SortedUnique(origin.communities) : Shared(object.communities, origin.communities);
  p.origin_peer = origin.id;
  return p;
}

bool PolicyContext::IsMember(std::string_view group_id, std::string_view org) const {
  if (org.empty() || group_id.empty()) return false;  // no group has an empty id
  const auto it = sharing_groups.find(group_id);
  return it != sharing_groups.end() && it->second.member_orgs.contains(org);
}

Visibility Visible(const Viewer& viewer, const ObjectPolicy& object, const PolicyContext& context) {
  return Visible(viewer,
                 ObjectPolicyRef{.tlp = object.tlp,
                                 .distribution = object.distribution,
                                 .owner_org = object.owner_org,
                                 .sharing_group = object.sharing_group,
                                 .origin_peer = object.origin_peer},
                 context);
}

Visibility Visible(const Viewer& viewer, const ObjectPolicyRef& object, const PolicyContext& context) {
  if (!viewer.org.empty() && viewer.org == object.owner_org) return {true, "the owning organisation"};
  const bool member = context.IsMember(object.sharing_group, viewer.org);
  switch (object.distribution) {
    case Distribution::kOrganisation:
      return {false, "distribution organisation: only the owning organisation sees it"};
    case Distribution::kGroup:
      if (!member) return {false, "distribution group: the viewer's organisation is not in the sharing group"};
      break;
    case Distribution::kCommunity:
    case Distribution::kConnected:
    case Distribution::kAll:
      break;
  }
  switch (object.tlp) {
    case Tlp::kRed:
      if (object.sharing_group.empty()) {
        return {false, "TLP:RED without a sharing group: only the owning organisation sees it"};
      }
      if (!member) return {false, "TLP:RED: the viewer's organisation is not a named recipient"};
      return {true, "TLP:RED: the viewer's organisation is a named recipient"};
    case Tlp::kAmberStrict:
      if (!object.origin_peer.empty() && object.distribution != Distribution::kGroup) {
        return {false, "TLP:AMBER+STRICT received: only the recipient organisation sees it"};
      }
      break;
    case Tlp::kNone:
    case Tlp::kClear:
    case Tlp::kGreen:
    case Tlp::kAmber:
      break;
  }
  if (object.distribution == Distribution::kGroup) {
    return {true, "distribution group: the viewer's organisation is in the sharing group"};
  }
  return {true, "shared with every organisation on this node"};
}

EgressDecision Egress(const Peer& peer, const ObjectPolicy& object, const PolicyContext& context, EgressMode mode) {
  const bool received = !object.origin_peer.empty();
  if (received && peer.id == object.origin_peer) return Refuse("never sent back to the peer it came from");

  // design.md's table: what a peer receives, by distribution.
  Distribution send_as = Distribution::kOrganisation;
  switch (object.distribution) {
    case Distribution::kOrganisation:
      return Refuse("distribution organisation: never leaves this node");
    case Distribution::kCommunity:
      if (mode == EgressMode::kPush) return Refuse("distribution community: pulled only, never pushed");
      send_as = Distribution::kOrganisation;
      break;
    case Distribution::kConnected:
      send_as = Distribution::kCommunity;
      break;
    case Distribution::kAll:
      send_as = Distribution::kAll;
      break;
    case Distribution::kGroup:
      if (!context.IsMember(object.sharing_group, peer.org)) {
        return Refuse("distribution group: the peer's organisation is not in the sharing group");
      }
      send_as = Distribution::kGroup;
      break;
  }

  // TLP caps the distribution, and the distribution on the wire never claims more than the TLP allows.
  switch (object.tlp) {
    case Tlp::kRed:
      if (received) return Refuse("TLP:RED: a recipient never passes it on");
      if (object.sharing_group.empty()) return Refuse("TLP:RED without a sharing group: never leaves this node");
      if (!context.IsMember(object.sharing_group, peer.org)) {
        return Refuse("TLP:RED: the peer's organisation is not a named recipient");
      }
      if (send_as != Distribution::kOrganisation) send_as = Distribution::kGroup;
      break;
    case Tlp::kAmberStrict:
      if (received) return Refuse("TLP:AMBER+STRICT: a recipient never passes it on");
      if (send_as != Distribution::kGroup) send_as = Distribution::kOrganisation;
      break;
    case Tlp::kAmber:
      if (received) return Refuse("TLP:AMBER: a recipient never passes it on");
      if (send_as == Distribution::kAll) send_as = Distribution::kCommunity;
      break;
    case Tlp::kGreen:
      if (peer.communities.empty()) return Refuse("TLP:GREEN: the peer is in no community with this node");
      break;
    case Tlp::kNone:
    case Tlp::kClear:
      break;
  }

  // Nothing crosses from one community to another on its own.
  EgressDecision out{true, send_as, {}, "allowed by distribution, TLP and communities"};
  if (received || !object.communities.empty()) {
    out.communities = Shared(object.communities, peer.communities);
    if (out.communities.empty()) {
      return Refuse("community: the peer is in none of the communities the object was shared in");
    }
  } else {
    out.communities = SortedUnique(peer.communities);
  }
  return out;
}

}  // namespace concord::policy
