// concord/policy/policy.h — the sharing policy: who may see an object on this node, and whether (and as
// what) it may go to a peer. design.md, "Sharing policy", is the source; this header is the contract.
//
// Two decisions, one module:
//   Visible(viewer, object, context)       — may an organisation on this node see the object?
//   Egress(peer, object, context, mode)    — may the object go to this peer, and with which distribution
//                                            and communities on the wire?
// Every egress path (REST, TAXII, export, sync, stream, UI) asks these; none decides on its own.
//
// The policy is pure: no I/O, no store, no clock. Callers pass the object's policy columns, the sharing
// groups as they are now and the peer as configured. Because membership is read at decision time, a
// membership change applies to everything decided from then on, including objects stored before it.
// All functions are thread-safe; the types are plain values.
//
// Decisions where design.md is silent:
//  - The owning organisation always sees its object. For an object created here the owner is its creator
//    (created_by_ref); for an object received from a peer it is the node's host organisation, as MISP
//    assigns a pulled event to the organisation of the sync link. Nobody else bypasses the policy: a node
//    administrator is a viewer of their own organisation ("an object never reaches an organisation that
//    its policy excludes"); maintenance that must touch every object goes to the store by id.
//  - The audience is the intersection of what the distribution allows and what the TLP allows.
//    TLP:RED on this node: the owner and the sharing group's members (no group: the owner alone).
//    TLP:AMBER(+STRICT) created here follows its distribution: the owner shared it with this node's
//    organisations, which are its recipients. TLP:AMBER+STRICT received from a peer is for the recipient
//    organisation only: the owner, or the group's members when its distribution is `group`.
//  - A sharing group this node does not know has no members.
//  - On the wire, the distribution never claims more than the TLP allows, so that a receiver that only
//    understands distribution (a MISP instance) still keeps the TLP: RED goes as `group` (or
//    `organisation` when the distribution downgrade already gives that), AMBER+STRICT as `organisation`
//    (or `group`), AMBER as at most `community`.
//  - Received objects are never forwarded when TLP:RED, AMBER or AMBER+STRICT (a recipient never passes
//    them on) and never go back to the peer they came from.
//  - Communities bound every egress, whatever the TLP ("nothing crosses from one community to another on
//    its own"; TLP:CLEAR lifts the TLP cap, not the community boundary): the peer must share a community
//    with the object. A received object belongs to the communities its extension names that the link to
//    its origin peer is in (none named: the link's communities). A local object belongs to the
//    communities its extension names; when it names none it may go to any peer, except that TLP:GREEN
//    needs a peer that is in at least one community with this node. Crossing takes a person: an
//    organisation here publishing the content again as its own object.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stix/object.h"

namespace concord::policy {

// MISP's distribution levels, same numbers (design.md's table).
enum class Distribution { kOrganisation = 0, kCommunity = 1, kConnected = 2, kAll = 3, kGroup = 4 };

std::string_view DistributionName(Distribution d);  // "organisation", "community", "connected", "all", "group"
// A name as DistributionName writes it ("organization" is accepted too) or a digit "0".."4".
std::optional<Distribution> ParseDistribution(std::string_view text);
std::optional<Distribution> DistributionFromInt(int64_t level);  // 0..4

// The TLP level of a MISP tag: tlp:clear, tlp:white (TLP 1.0, → CLEAR), tlp:green, tlp:amber,
// tlp:amber+strict, tlp:red, case-insensitive. nullopt for any other tag (tlp:ex:chr, tlp:unclear, …).
std::optional<stix::Tlp> TlpFromMispTag(std::string_view tag);
// The most restrictive TLP among MISP tags; kNone when no tag is a TLP tag.
stix::Tlp TlpFromMispTags(std::span<const std::string> tags);

// Node configuration the policy needs.
struct NodeDefaults {
  Distribution distribution = Distribution::kCommunity;  // for objects without Concord's policy extension
  std::string host_org;  // identity id of the organisation operating this node; owns received objects
};

// A peer node as configured here.
struct Peer {
  std::string id;                        // the peer's id in this node's configuration
  std::string org;                       // identity id of the organisation operating the peer
  std::vector<std::string> communities;  // trust communities this node and the peer are linked in
};

// The policy columns of one object.
struct ObjectPolicy {
  stix::Tlp tlp = stix::Tlp::kNone;
  Distribution distribution = Distribution::kCommunity;
  std::string owner_org;                 // the owning organisation on this node (see the header comment)
  std::string sharing_group;             // sharing group id; "" when none
  std::vector<std::string> communities;  // communities the object was shared in (see the header comment)
  std::string origin_peer;               // id of the peer it came from; "" when created here

  // The policy of an object created on this node: owner = created_by_ref, the extension's distribution
  // (or the node's default), sharing group and communities.
  static ObjectPolicy FromObject(const stix::Object& object, const NodeDefaults& defaults);
  // The policy of an object received from `origin`: owner = the host organisation, communities = those
  // named by the extension that the link to `origin` is in (none named: the link's communities).
  static ObjectPolicy FromReceived(const stix::Object& object, const NodeDefaults& defaults, const Peer& origin);
};

struct SharingGroup {
  std::string id;
  std::set<std::string, std::less<>> member_orgs;  // identity ids
};

// The sharing groups as they are now.
struct PolicyContext {
  std::map<std::string, SharingGroup, std::less<>> sharing_groups;  // by id

  // Whether `org` is a member of group `group_id` now; false for an unknown group or an empty org.
  bool IsMember(std::string_view group_id, std::string_view org) const;
};

// A user's organisation on this node.
struct Viewer {
  std::string org;  // identity id
};

// Reasons point to static text: keep them, log them, compare them; they allocate nothing.
struct Visibility {
  bool visible = false;
  std::string_view reason;
};

enum class EgressMode { kPush, kPull };

struct EgressDecision {
  bool send = false;
  Distribution send_as = Distribution::kOrganisation;  // meaningful when send
  std::vector<std::string> communities;                // stamp on the sent object; sorted, meaningful when send
  std::string_view reason;
};

// May `viewer` see the object on this node? Allocates nothing.
Visibility Visible(const Viewer& viewer, const ObjectPolicy& object, const PolicyContext& context);

// What Visible reads of an ObjectPolicy, as views: a listing decides row by row without copying strings.
struct ObjectPolicyRef {
  stix::Tlp tlp = stix::Tlp::kNone;
  Distribution distribution = Distribution::kCommunity;
  std::string_view owner_org;
  std::string_view sharing_group;
  std::string_view origin_peer;
};
Visibility Visible(const Viewer& viewer, const ObjectPolicyRef& object, const PolicyContext& context);

// May the object go to `peer` (pushed by us, or pulled by the peer), and as what? When several rules
// refuse, the reason names the first in this order: origin, distribution, TLP, community.
EgressDecision Egress(const Peer& peer, const ObjectPolicy& object, const PolicyContext& context, EgressMode mode);

}  // namespace concord::policy
