// concord/node/taxii_config.h — the [taxii] section of the node's TOML file.
//
//   [taxii]
//   default_collection = true      # the built-in collection "all"; false removes it
//   status_keep = 10000            # status resources kept (the newest)
//   status_max_age_hours = 168     # and none older than this
//
//   [[taxii.collections]]          # one table per collection
//   id = "UUID"                    # required
//   alias = "indicators-green"     # optional, URL-safe, unique
//   title = "…"                    # required
//   description = "…"
//   read = { orgs = ["CERT-EU", "identity--…"], roles = ["duty-officer"] }   # "*": everyone
//   write = { roles = ["analyst"] }
//   types = ["indicator"]          # the selection (taxii/collection.h): every key optional
//   max_tlp = "green"              # clear | green | amber | amber+strict | red
//   created_by = ["identity--…"]
//   labels = ["phishing"]
//
// Unknown keys are errors, and every error names the key: "taxii.collections[1].max_tlp: …". ParseConfig
// (config.h) prefixes the file. Only config.cc and tests include this header (it brings toml++).
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "node/config.h"
#include "toml++/toml.h"

namespace concord::node {

// Reads the key `name` of the [taxii] table into `taxii`.
absl::Status SetTaxiiSetting(std::string_view name, const toml::node& node, TaxiiConfig& taxii);

// What must hold of the section as a whole: each collection valid and granting some right, ids and aliases
// unique (the default collection's included, unless it is turned off), retention in range.
absl::Status ValidateTaxiiConfig(const TaxiiConfig& taxii);

}  // namespace concord::node
