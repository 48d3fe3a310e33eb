// The [taxii] section: collections, their rights and selections, retention; every error names the key.
#include "node/taxii_config.h"

#include <gtest/gtest.h>

#include "common/status.h"
#include "fmt/format.h"
#include "node/config.h"
#include "taxii/handlers.h"

namespace concord::node {
namespace {

constexpr char kOrgA[] = "identity--0a0a0a0a-0000-4000-8000-000000000001";
constexpr char kOrgB[] = "identity--0b0b0b0b-0000-4000-8000-000000000002";

constexpr char kTwoCollections[] = R"(
[taxii]
status_keep = 50
status_max_age_hours = 24

[[taxii.collections]]
id = "6a1e4c3b-1c1d-4f00-9a6e-000000000001"
alias = "indicators-green"
title = "Green indicators"
description = "Indicators up to TLP:GREEN"
read = { orgs = ["CERT-EU"] }
write = { orgs = ["identity--0a0a0a0a-0000-4000-8000-000000000001"], roles = ["analyst"] }
types = ["indicator"]
max_tlp = "green"
created_by = ["identity--0a0a0a0a-0000-4000-8000-000000000001"]
labels = ["phishing", "ransomware"]

[[taxii.collections]]
id = "6a1e4c3b-1c1d-4f00-9a6e-000000000002"
alias = "inbox"
title = "Inbox"
[taxii.collections.write]
roles = ["*"]
)";

absl::StatusOr<std::string> Lookup(std::string_view org) {
  if (org == "CERT-EU" || org == kOrgA) return std::string(kOrgA);
  if (org == "Other CSIRT" || org == kOrgB) return std::string(kOrgB);
  return absl::NotFoundError(fmt::format("organisation '{}' not found", org));
}

// A config whose only collection is `body` (the lines after [[taxii.collections]]).
absl::Status One(std::string_view body) {
  return ParseConfig(fmt::format("[[taxii.collections]]\n{}\n", body), "t.toml").status();
}

constexpr char kValid[] = "id = \"6a1e4c3b-1c1d-4f00-9a6e-000000000001\"\ntitle = \"T\"\nread = { roles = [\"*\"] }";

TEST(TaxiiConfig, ParsesCollectionsRightsAndSelections) {
  auto config = ParseConfig(kTwoCollections, "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->taxii.default_collection);
  EXPECT_EQ(config->taxii.status_keep, 50);
  EXPECT_EQ(config->taxii.status_max_age_hours, 24);
  ASSERT_EQ(config->taxii.collections.size(), 2u);
  const taxii::Collection& green = config->taxii.collections[0];
  EXPECT_EQ(green.id, "6a1e4c3b-1c1d-4f00-9a6e-000000000001");
  EXPECT_EQ(green.alias, "indicators-green");
  EXPECT_EQ(green.title, "Green indicators");
  EXPECT_EQ(green.description, "Indicators up to TLP:GREEN");
  EXPECT_EQ(green.read.orgs, std::vector<std::string>{"CERT-EU"});
  EXPECT_TRUE(green.read.roles.empty());
  EXPECT_EQ(green.write.orgs, std::vector<std::string>{kOrgA});
  EXPECT_EQ(green.write.roles, std::vector<std::string>{"analyst"});
  EXPECT_EQ(green.selection.types, std::vector<std::string>{"indicator"});
  EXPECT_EQ(green.selection.max_tlp, stix::Tlp::kGreen);
  EXPECT_EQ(green.selection.created_by, std::vector<std::string>{kOrgA});
  EXPECT_EQ(green.selection.labels, (std::vector<std::string>{"phishing", "ransomware"}));
  const taxii::Collection& inbox = config->taxii.collections[1];
  EXPECT_EQ(inbox.write.roles, std::vector<std::string>{"*"});
  EXPECT_TRUE(inbox.read.orgs.empty() && inbox.read.roles.empty());
  EXPECT_TRUE(inbox.selection.empty());

  // The API root: the default collection first, names resolved to identity ids.
  auto collections = TaxiiCollections(config->taxii, Lookup);
  ASSERT_TRUE(collections.ok()) << collections.status();
  ASSERT_EQ(collections->size(), 3u);
  EXPECT_EQ((*collections)[0].id, taxii::kDefaultCollectionId);
  EXPECT_EQ((*collections)[1].read.orgs, std::vector<std::string>{kOrgA});
  EXPECT_EQ((*collections)[2].alias, "inbox");
}

TEST(TaxiiConfig, TheDefaultCollectionCanBeLeftOut) {
  auto config = ParseConfig(std::string(kTwoCollections).replace(std::string(kTwoCollections).find("status_keep"), 0,
                                                            "default_collection = false\n"),
                       "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->taxii.default_collection);
  auto collections = TaxiiCollections(config->taxii, Lookup);
  ASSERT_TRUE(collections.ok());
  ASSERT_EQ(collections->size(), 2u);
  EXPECT_EQ((*collections)[0].alias, "indicators-green");

  // Without it, its id and alias are free to take.
  auto reuse = ParseConfig(fmt::format("[taxii]\ndefault_collection = false\n[[taxii.collections]]\nid = \"{}\"\n"
                                       "alias = \"all\"\ntitle = \"Everything\"\nread = {{ roles = [\"admin\"] }}\n",
                                       taxii::kDefaultCollectionId),
                           "t.toml");
  EXPECT_TRUE(reuse.ok()) << reuse.status();
}

TEST(TaxiiConfig, ErrorsNameTheFileTheTableAndTheKey) {
  EXPECT_TRUE(One(kValid).ok()) << One(kValid);
  EXPECT_EQ(One(std::string(kValid) + "\ncolour = \"red\"").message(), "t.toml: unknown setting 'taxii.collections[0].colour'");
  EXPECT_EQ(One("id = \"abc\"\ntitle = \"T\"\nread = { roles = [\"*\"] }").message(),
            "t.toml: taxii.collections[0].id: not a UUID: 'abc'");
  EXPECT_EQ(One("title = \"T\"").message(), "t.toml: taxii.collections[0].id: required (a UUID)");
  EXPECT_EQ(One("id = \"6a1e4c3b-1c1d-4f00-9a6e-000000000001\"").message(), "t.toml: taxii.collections[0].title: required");
  EXPECT_EQ(One(std::string(kValid) + "\nmax_tlp = \"amber-strict\"").message(),
            "t.toml: taxii.collections[0].max_tlp: unknown TLP 'amber-strict' (expected clear, green, amber, amber+strict "
            "or red)");
  EXPECT_EQ(One(std::string(kValid) + "\nmax_tlp = \"none\"").message(),
            "t.toml: taxii.collections[0].max_tlp: unknown TLP 'none' (expected clear, green, amber, amber+strict or red)");
  EXPECT_EQ(One("id = \"6a1e4c3b-1c1d-4f00-9a6e-000000000001\"\ntitle = \"T\"\nread = { roles = [\"analist\"] }").message(),
            "t.toml: taxii.collections[0].read.roles[0]: unknown role 'analist' (expected admin, org-admin, analyst, "
            "duty-officer, read-only, sync or \"*\")");
  EXPECT_EQ(One(std::string(kValid) + "\nwrite = { people = [\"x\"] }").message(),
            "t.toml: unknown setting 'taxii.collections[0].write.people'");
  EXPECT_EQ(One(std::string(kValid) + "\nwrite = [\"analyst\"]").message(),
            "t.toml: taxii.collections[0].write: expected a table: { orgs = [...], roles = [...] }");
  EXPECT_EQ(One(std::string(kValid) + "\ntypes = \"indicator\"").message(),
            "t.toml: taxii.collections[0].types: expected a list of strings");
  EXPECT_EQ(One(std::string(kValid) + "\nlabels = [\"a\", 2]").message(), "t.toml: taxii.collections[0].labels[1]: expected a string");
  EXPECT_EQ(One(std::string(kValid) + "\ncreated_by = [\"CERT-EU\"]").message(),
            "t.toml: taxii.collections[0].created_by[0]: 'CERT-EU' is not an identity id (identity--UUID)");
  EXPECT_EQ(One("id = \"6a1e4c3b-1c1d-4f00-9a6e-000000000001\"\ntitle = \"T\"").message(),
            "t.toml: taxii.collections[0]: grants neither read nor write to anyone; give it read or write");
  EXPECT_EQ(ParseConfig("[taxii]\ncollection = []\n", "t.toml").status().message(), "t.toml: unknown setting 'taxii.collection'");
  EXPECT_EQ(ParseConfig("[taxii]\ndefault_collection = 1\n", "t.toml").status().message(),
            "t.toml: taxii.default_collection: expected true or false");
  EXPECT_EQ(ParseConfig("[taxii]\nstatus_keep = 0\n", "t.toml").status().message(),
            "t.toml: taxii.status_keep: must be between 1 and 10000000, got 0");
}

TEST(TaxiiConfig, DuplicateIdsAndAliasesNameBothPlaces) {
  const std::string second = "\n[[taxii.collections]]\nid = \"6A1E4C3B-1C1D-4F00-9A6E-000000000001\"\ntitle = \"Again\"\n"
                             "read = { roles = [\"*\"] }\n";
  EXPECT_EQ(One(std::string(kValid) + second).message(),
            "t.toml: taxii.collections[1].id: '6A1E4C3B-1C1D-4F00-9A6E-000000000001' is already the id of "
            "taxii.collections[0].id");
  EXPECT_EQ(One(std::string(kValid) + "\nalias = \"all\"").message(),
            "t.toml: taxii.collections[0].alias: 'all' is already the alias of the default collection (set "
            "taxii.default_collection = false to leave it out)");
  EXPECT_EQ(One(fmt::format("id = \"{}\"\ntitle = \"T\"\nread = {{ roles = [\"*\"] }}", taxii::kDefaultCollectionId)).message(),
            fmt::format("t.toml: taxii.collections[0].id: '{}' is already the id of the default collection (set "
                        "taxii.default_collection = false to leave it out)",
                        taxii::kDefaultCollectionId));
  const std::string same_alias = "\n[[taxii.collections]]\nid = \"6a1e4c3b-1c1d-4f00-9a6e-000000000002\"\ntitle = \"B\"\n"
                                 "alias = \"x\"\nread = { roles = [\"*\"] }\n";
  EXPECT_EQ(One(std::string(kValid) + "\nalias = \"x\"" + same_alias).message(),
            "t.toml: taxii.collections[1].alias: 'x' is already the alias of taxii.collections[0].alias");
}

TEST(TaxiiConfig, UnknownOrganisationsStopTheStart) {
  auto config = ParseConfig(std::string(kTwoCollections).replace(std::string(kTwoCollections).find("\"CERT-EU\""), 9,
                                                                 "\"CERT-XX\""),
                            "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  auto collections = TaxiiCollections(config->taxii, Lookup);
  EXPECT_EQ(collections.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(collections.status().message(),
            "taxii.collections[0].read.orgs[0]: no organisation 'CERT-XX' on this node (create it with concord org add, "
            "or name it by its identity id)");
}

TEST(TaxiiConfig, ValidateConfigChecksTheSectionToo) {
  NodeConfig c;
  c.taxii.status_max_age_hours = 0;
  EXPECT_EQ(ValidateConfig(c).message(), "taxii.status_max_age_hours: must be between 1 and 8784 (a year), got 0");
  c = NodeConfig{};
  c.taxii.collections.push_back(taxii::DefaultCollection());
  EXPECT_EQ(ErrorField(ValidateConfig(c)), "taxii.collections[0].id");
}

}  // namespace
}  // namespace concord::node
