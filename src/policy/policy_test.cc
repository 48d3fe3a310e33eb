// Unit tests for the rules that the golden tables cannot show in one row: membership changes, objects built
// from STIX, the origin peer, forwarding by recipients, community crossing and the reasons given.
#include "policy/policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/json.h"
#include "stix/object.h"

namespace concord::policy {
namespace {

using stix::Tlp;

constexpr std::string_view kOwner = "identity--0c0e2d4f-3f1a-4c3e-9d2e-3a1b5c7d9e01";
constexpr std::string_view kHost = "identity--6f2b1c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
constexpr std::string_view kGroup = "x-concord-sharing-group--5b1f8e2c-9a3d-4f6e-8b7c-1d2e3f4a5b6c";

stix::Object Parse(std::string_view text) {
  auto json = ParseJson(text);
  EXPECT_TRUE(json.ok()) << json.status();
  auto object = stix::ParseObject(json->as_object());
  EXPECT_TRUE(object.ok()) << object.status();
  return object.ok() ? *std::move(object) : stix::Object{};
}

// An indicator created by kOwner; `extension` is the body of Concord's policy extension or "".
stix::Object Indicator(std::string_view marking, std::string_view extension) {
  std::string text = std::string(R"({"type":"indicator","spec_version":"2.1",)") +
                     R"("id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",)" +
                     R"("created":"2024-04-06T20:03:48.000Z","modified":"2024-04-06T20:03:48.000Z",)" +
                     R"("created_by_ref":")" + std::string(kOwner) + R"(",)" +
                     R"("pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix",)" +
                     R"("valid_from":"2024-01-01T00:00:00Z")";
  if (!marking.empty()) text += R"(,"object_marking_refs":[")" + std::string(marking) + R"("])";
  if (!extension.empty()) {
    text += R"(,"extensions":{")" + std::string(stix::kPolicyExtensionId) +
            R"(":{"extension_type":"property-extension",)" + std::string(extension) + "}}";
  }
  return Parse(text + "}");
}

PolicyContext Groups(std::set<std::string, std::less<>> members) {
  PolicyContext context;
  context.sharing_groups["g"] = {"g", std::move(members)};
  return context;
}

ObjectPolicy Local(Tlp tlp, Distribution distribution, std::string group = "") {
  ObjectPolicy object;
  object.tlp = tlp;
  object.distribution = distribution;
  object.owner_org = "org-a";
  object.sharing_group = std::move(group);
  return object;
}

ObjectPolicy Received(Tlp tlp, Distribution distribution, std::vector<std::string> communities) {
  ObjectPolicy object = Local(tlp, distribution);
  object.communities = std::move(communities);
  object.origin_peer = "peer-origin";
  return object;
}

TEST(Distribution, NamesRoundTripAndDigitsParse) {
  for (int64_t level = 0; level <= 4; ++level) {
    const Distribution d = *DistributionFromInt(level);
    EXPECT_EQ(static_cast<int64_t>(d), level);
    EXPECT_EQ(ParseDistribution(DistributionName(d)), d);
    EXPECT_EQ(ParseDistribution(std::to_string(level)), d);
  }
  EXPECT_EQ(ParseDistribution("organization"), Distribution::kOrganisation);
  EXPECT_EQ(ParseDistribution("5"), std::nullopt);  // MISP's "inherit" is not a level an object keeps
  EXPECT_EQ(ParseDistribution("Community"), std::nullopt);
  EXPECT_EQ(DistributionFromInt(-1), std::nullopt);
  EXPECT_EQ(DistributionFromInt(5), std::nullopt);
}

TEST(MispTags, TlpTagsMapToTlp2CaseInsensitively) {
  EXPECT_EQ(TlpFromMispTag("tlp:white"), Tlp::kClear);  // TLP 1.0
  EXPECT_EQ(TlpFromMispTag("tlp:clear"), Tlp::kClear);
  EXPECT_EQ(TlpFromMispTag("TLP:GREEN"), Tlp::kGreen);
  EXPECT_EQ(TlpFromMispTag("tlp:Amber"), Tlp::kAmber);
  EXPECT_EQ(TlpFromMispTag("tlp:amber+strict"), Tlp::kAmberStrict);
  EXPECT_EQ(TlpFromMispTag("tlp:red"), Tlp::kRed);
  EXPECT_EQ(TlpFromMispTag("tlp:ex:chr"), std::nullopt);
  EXPECT_EQ(TlpFromMispTag("tlp:unclear"), std::nullopt);
  EXPECT_EQ(TlpFromMispTag("tlp:red "), std::nullopt);
  EXPECT_EQ(TlpFromMispTag("red"), std::nullopt);
  EXPECT_EQ(TlpFromMispTag("pap:red"), std::nullopt);
}

TEST(MispTags, SeveralTlpTagsGiveTheMostRestrictive) {
  const std::vector<std::string> tags = {"osint", "tlp:green", "tlp:amber+strict", "tlp:amber"};
  EXPECT_EQ(TlpFromMispTags(tags), Tlp::kAmberStrict);
  const std::vector<std::string> none = {"osint", "type:OSINT"};
  EXPECT_EQ(TlpFromMispTags(none), Tlp::kNone);
}

TEST(ObjectPolicy, WithoutExtensionTakesTheNodeDefault) {
  const stix::Object object = Indicator(stix::TlpMarkingId(Tlp::kGreen), "");
  const ObjectPolicy p = ObjectPolicy::FromObject(object, {});
  EXPECT_EQ(p.tlp, Tlp::kGreen);
  EXPECT_EQ(p.distribution, Distribution::kCommunity);
  EXPECT_EQ(p.owner_org, kOwner);
  EXPECT_EQ(p.sharing_group, "");
  EXPECT_TRUE(p.communities.empty());
  EXPECT_EQ(p.origin_peer, "");
  EXPECT_EQ(ObjectPolicy::FromObject(object, {Distribution::kConnected, ""}).distribution, Distribution::kConnected);
}

TEST(ObjectPolicy, ExtensionGivesDistributionGroupAndCommunities) {
  const stix::Object object =
      Indicator(stix::TlpMarkingId(Tlp::kRed), R"("distribution":4,"sharing_group_ref":")" + std::string(kGroup) +
                                                   R"(","communities":["le-24-7","csirts","le-24-7"])");
  const ObjectPolicy p = ObjectPolicy::FromObject(object, {});
  EXPECT_EQ(p.tlp, Tlp::kRed);
  EXPECT_EQ(p.distribution, Distribution::kGroup);
  EXPECT_EQ(p.sharing_group, kGroup);
  EXPECT_EQ(p.communities, (std::vector<std::string>{"csirts", "le-24-7"}));
}

TEST(ObjectPolicy, NoTlpMarkingMeansDistributionAlone) {
  const ObjectPolicy p = ObjectPolicy::FromObject(Indicator("", R"("distribution":0)"), {});
  EXPECT_EQ(p.tlp, Tlp::kNone);
  EXPECT_EQ(p.distribution, Distribution::kOrganisation);
  EXPECT_TRUE(Visible({"org-x"}, p, {}).visible == false);
  EXPECT_TRUE(Visible({std::string(kOwner)}, p, {}).visible);
}

TEST(ObjectPolicy, ReceivedIsOwnedByTheHostAndKeptToTheLinksCommunities) {
  const Peer origin{"peer-1", "identity--peer", {"csirts", "eu-nato"}};
  const NodeDefaults defaults{Distribution::kCommunity, std::string(kHost)};
  // The sender names a community its link to us is not in: it is dropped.
  const ObjectPolicy named = ObjectPolicy::FromReceived(
      Indicator(stix::TlpMarkingId(Tlp::kGreen), R"("distribution":2,"communities":["le-24-7","csirts"])"), defaults,
      origin);
  EXPECT_EQ(named.owner_org, kHost);
  EXPECT_EQ(named.origin_peer, "peer-1");
  EXPECT_EQ(named.distribution, Distribution::kConnected);
  EXPECT_EQ(named.communities, std::vector<std::string>{"csirts"});
  // No community named: the link's communities.
  const ObjectPolicy unnamed =
      ObjectPolicy::FromReceived(Indicator(stix::TlpMarkingId(Tlp::kGreen), ""), defaults, origin);
  EXPECT_EQ(unnamed.communities, (std::vector<std::string>{"csirts", "eu-nato"}));
  // Only communities the link is not in: the object belongs to none and goes nowhere.
  const ObjectPolicy foreign =
      ObjectPolicy::FromReceived(Indicator("", R"("distribution":3,"communities":["le-24-7"])"), defaults, origin);
  EXPECT_TRUE(foreign.communities.empty());
  const EgressDecision d = Egress({"peer-2", "identity--p2", {"le-24-7", "csirts"}}, foreign, {}, EgressMode::kPush);
  EXPECT_FALSE(d.send);
  EXPECT_EQ(d.reason, "community: the peer is in none of the communities the object was shared in");
}

TEST(Policy, MembershipChangeAppliesFromThenOn) {
  const ObjectPolicy object = Local(Tlp::kGreen, Distribution::kGroup, "g");
  const Peer peer{"peer-b", "org-b", {"csirts"}};
  PolicyContext context = Groups({"org-a"});
  EXPECT_FALSE(Visible({"org-b"}, object, context).visible);
  EXPECT_FALSE(Egress(peer, object, context, EgressMode::kPush).send);

  context.sharing_groups["g"].member_orgs.insert("org-b");  // joins: sees what the group already holds
  EXPECT_TRUE(Visible({"org-b"}, object, context).visible);
  EXPECT_TRUE(Egress(peer, object, context, EgressMode::kPush).send);

  context.sharing_groups["g"].member_orgs.erase("org-b");  // leaves: sees nothing more, old objects included
  const Visibility v = Visible({"org-b"}, object, context);
  EXPECT_FALSE(v.visible);
  EXPECT_EQ(v.reason, "distribution group: the viewer's organisation is not in the sharing group");
  EXPECT_FALSE(Egress(peer, object, context, EgressMode::kPull).send);
}

TEST(Policy, UnknownSharingGroupHasNoMembers) {
  const PolicyContext context = Groups({"org-b"});
  EXPECT_FALSE(context.IsMember("other-group", "org-b"));
  EXPECT_FALSE(context.IsMember("g", ""));
  EXPECT_FALSE(Visible({"org-b"}, Local(Tlp::kClear, Distribution::kGroup, "other-group"), context).visible);
  EXPECT_TRUE(Visible({"org-a"}, Local(Tlp::kClear, Distribution::kGroup, "other-group"), context).visible);
}

TEST(Policy, NeverSentBackToItsOriginPeer) {
  const ObjectPolicy object = Received(Tlp::kClear, Distribution::kAll, {"csirts"});
  const Peer origin{"peer-origin", "org-o", {"csirts"}};
  for (EgressMode mode : {EgressMode::kPush, EgressMode::kPull}) {
    const EgressDecision d = Egress(origin, object, {}, mode);
    EXPECT_FALSE(d.send);
    EXPECT_EQ(d.reason, "never sent back to the peer it came from");
  }
  // Another peer of the same organisation and community gets it.
  const EgressDecision d = Egress({"peer-other", "org-o", {"csirts"}}, object, {}, EgressMode::kPush);
  EXPECT_TRUE(d.send);
  EXPECT_EQ(d.send_as, Distribution::kAll);
  EXPECT_EQ(d.communities, std::vector<std::string>{"csirts"});
}

TEST(Policy, AmberIsNeverForwardedByRecipient) {
  const Peer peer{"peer-b", "org-b", {"csirts"}};
  const PolicyContext context = Groups({"org-a", "org-b"});
  for (Tlp tlp : {Tlp::kAmber, Tlp::kAmberStrict, Tlp::kRed}) {
    SCOPED_TRACE(stix::TlpName(tlp));
    for (Distribution dist : {Distribution::kConnected, Distribution::kAll, Distribution::kGroup}) {
      ObjectPolicy object = Received(tlp, dist, {"csirts"});
      object.sharing_group = "g";
      EXPECT_FALSE(Egress(peer, object, context, EgressMode::kPush).send);
      EXPECT_FALSE(Egress(peer, object, context, EgressMode::kPull).send);
    }
  }
  EXPECT_EQ(Egress(peer, Received(Tlp::kAmber, Distribution::kAll, {"csirts"}), context, EgressMode::kPull).reason,
            "TLP:AMBER: a recipient never passes it on");
  // The owner's node sends AMBER, and the wire does not license spreading it.
  const EgressDecision amber = Egress(peer, Local(Tlp::kAmber, Distribution::kAll), context, EgressMode::kPush);
  EXPECT_TRUE(amber.send);
  EXPECT_EQ(amber.send_as, Distribution::kCommunity);
  const EgressDecision strict =
      Egress(peer, Local(Tlp::kAmberStrict, Distribution::kConnected), context, EgressMode::kPush);
  EXPECT_TRUE(strict.send);
  EXPECT_EQ(strict.send_as, Distribution::kOrganisation);
}

TEST(Policy, ReceivedAmberStrictIsForTheRecipientOrganisationOnly) {
  ObjectPolicy object = Received(Tlp::kAmberStrict, Distribution::kCommunity, {"csirts"});
  EXPECT_TRUE(Visible({"org-a"}, object, {}).visible);  // the owner: the host organisation that received it
  EXPECT_EQ(Visible({"org-c"}, object, {}).reason,
            "TLP:AMBER+STRICT received: only the recipient organisation sees it");
  // Created here, it follows its distribution: the owner shared it with this node's organisations.
  EXPECT_TRUE(Visible({"org-c"}, Local(Tlp::kAmberStrict, Distribution::kCommunity), {}).visible);
}

TEST(Policy, CommunitiesAreNotCrossed) {
  const ObjectPolicy object = Received(Tlp::kClear, Distribution::kAll, {"csirts"});
  const EgressDecision other = Egress({"peer-le", "org-le", {"le-24-7"}}, object, {}, EgressMode::kPush);
  EXPECT_FALSE(other.send);
  EXPECT_EQ(other.reason, "community: the peer is in none of the communities the object was shared in");
  // A peer in both communities receives it, stamped with the community it was shared in only.
  const EgressDecision both = Egress({"peer-both", "org-both", {"le-24-7", "csirts"}}, object, {}, EgressMode::kPush);
  EXPECT_TRUE(both.send);
  EXPECT_EQ(both.communities, std::vector<std::string>{"csirts"});
  // A local object naming no community goes to any peer, stamped with the peer's communities.
  const EgressDecision local = Egress({"peer-le", "org-le", {"le-24-7", "eu-nato"}},
                                      Local(Tlp::kGreen, Distribution::kAll), {}, EgressMode::kPush);
  EXPECT_TRUE(local.send);
  EXPECT_EQ(local.communities, (std::vector<std::string>{"eu-nato", "le-24-7"}));
}

TEST(Policy, GreenNeedsACommunityClearDoesNot) {
  const Peer bilateral{"peer-x", "org-x", {}};
  const EgressDecision green = Egress(bilateral, Local(Tlp::kGreen, Distribution::kAll), {}, EgressMode::kPush);
  EXPECT_FALSE(green.send);
  EXPECT_EQ(green.reason, "TLP:GREEN: the peer is in no community with this node");
  const EgressDecision clear = Egress(bilateral, Local(Tlp::kClear, Distribution::kAll), {}, EgressMode::kPush);
  EXPECT_TRUE(clear.send);
  EXPECT_TRUE(clear.communities.empty());
}

TEST(Policy, RedWithoutGroupStaysWithItsOwner) {
  const ObjectPolicy object = Local(Tlp::kRed, Distribution::kAll);
  const PolicyContext context = Groups({"org-a", "org-b"});
  EXPECT_TRUE(Visible({"org-a"}, object, context).visible);
  const Visibility v = Visible({"org-b"}, object, context);
  EXPECT_FALSE(v.visible);
  EXPECT_EQ(v.reason, "TLP:RED without a sharing group: only the owning organisation sees it");
  const EgressDecision d = Egress({"peer-b", "org-b", {"csirts"}}, object, context, EgressMode::kPush);
  EXPECT_FALSE(d.send);
  EXPECT_EQ(d.reason, "TLP:RED without a sharing group: never leaves this node");
}

TEST(Policy, RedGoesToNamedRecipientsAsGroup) {
  const ObjectPolicy object = Local(Tlp::kRed, Distribution::kAll, "g");
  const PolicyContext context = Groups({"org-a", "org-b"});
  EXPECT_TRUE(Visible({"org-b"}, object, context).visible);
  EXPECT_EQ(Visible({"org-c"}, object, context).reason, "TLP:RED: the viewer's organisation is not a named recipient");
  const EgressDecision member = Egress({"peer-b", "org-b", {"csirts"}}, object, context, EgressMode::kPush);
  EXPECT_TRUE(member.send);
  EXPECT_EQ(member.send_as, Distribution::kGroup);
  EXPECT_EQ(Egress({"peer-c", "org-c", {"csirts"}}, object, context, EgressMode::kPush).reason,
            "TLP:RED: the peer's organisation is not a named recipient");
}

TEST(Policy, DistributionTableForPeers) {
  const Peer peer{"peer-b", "org-b", {"csirts"}};
  const ObjectPolicy community = Local(Tlp::kClear, Distribution::kCommunity);
  EXPECT_EQ(Egress(peer, community, {}, EgressMode::kPush).reason, "distribution community: pulled only, never pushed");
  EXPECT_EQ(Egress(peer, community, {}, EgressMode::kPull).send_as, Distribution::kOrganisation);
  EXPECT_EQ(Egress(peer, Local(Tlp::kClear, Distribution::kConnected), {}, EgressMode::kPush).send_as,
            Distribution::kCommunity);
  EXPECT_EQ(Egress(peer, Local(Tlp::kClear, Distribution::kAll), {}, EgressMode::kPush).send_as, Distribution::kAll);
  EXPECT_EQ(Egress(peer, Local(Tlp::kClear, Distribution::kOrganisation), {}, EgressMode::kPull).reason,
            "distribution organisation: never leaves this node");
}

TEST(Policy, NobodyWithoutAnOrganisationIsTheOwner) {
  ObjectPolicy object = Local(Tlp::kNone, Distribution::kOrganisation);
  object.owner_org = "";
  EXPECT_FALSE(Visible({""}, object, {}).visible);
}

}  // namespace
}  // namespace concord::policy
