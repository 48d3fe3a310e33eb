// TLP marking definitions (STIX 2.1 §7.2.1.4 and the FIRST TLP 2.0 extension) and marking-definition checks.
#include <fmt/format.h>

#include <optional>
#include <span>

#include "common/status.h"
#include "stix/detail/check.h"
#include "stix/detail/types.h"
#include "stix/object.h"

namespace concord::stix {
namespace {

struct TlpMarking {
  std::string_view id;
  Tlp tlp;
  std::string_view word;  // definition.tlp (1.0) or tlp_2_0 (2.0)
};

constexpr TlpMarking kTlp1[] = {
    {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", Tlp::kClear, "white"},
    {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", Tlp::kGreen, "green"},
    {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", Tlp::kAmber, "amber"},
    {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", Tlp::kRed, "red"},
};
constexpr TlpMarking kTlp2[] = {
    {"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", Tlp::kClear, "clear"},
    {"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", Tlp::kGreen, "green"},
    {"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", Tlp::kAmber, "amber"},
    {"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", Tlp::kAmberStrict, "amber+strict"},
    {"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", Tlp::kRed, "red"},
};

constexpr std::string_view kTlp2ExtensionId = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

// The standard marking for `word` in `table`, checked against the object's id.
absl::Status CheckStandardTlp(std::span<const TlpMarking> table, std::string_view word, std::string_view id,
                              std::string_view word_field) {
  for (const TlpMarking& m : table) {
    if (m.word != word) continue;
    if (m.id != id) {
      return FieldError("id", fmt::format("TLP {} must use the standard marking {}, got \"{}\"", word, m.id, id));
    }
    return absl::OkStatus();
  }
  std::string words;
  for (const TlpMarking& m : table) words += words.empty() ? std::string(m.word) : fmt::format(", {}", m.word);
  return FieldError(word_field, fmt::format("must be one of {}, got \"{}\"", words, word));
}

}  // namespace

std::string_view TlpName(Tlp tlp) {
  switch (tlp) {
    case Tlp::kNone:
      return "none";
    case Tlp::kClear:
      return "clear";
    case Tlp::kGreen:
      return "green";
    case Tlp::kAmber:
      return "amber";
    case Tlp::kAmberStrict:
      return "amber+strict";
    case Tlp::kRed:
      return "red";
  }
  return "none";
}

std::optional<Tlp> ParseTlpName(std::string_view name) {
  for (Tlp t : {Tlp::kNone, Tlp::kClear, Tlp::kGreen, Tlp::kAmber, Tlp::kAmberStrict, Tlp::kRed}) {
    if (TlpName(t) == name) return t;
  }
  return std::nullopt;
}

std::optional<Tlp> TlpOfMarking(std::string_view marking_definition_id) {
  for (std::span<const TlpMarking> table : {std::span<const TlpMarking>(kTlp1), std::span<const TlpMarking>(kTlp2)}) {
    for (const TlpMarking& m : table) {
      if (m.id == marking_definition_id) return m.tlp;
    }
  }
  return std::nullopt;
}

std::string_view TlpMarkingId(Tlp tlp) {
  for (const TlpMarking& m : kTlp2) {
    if (m.tlp == tlp) return m.id;
  }
  return {};
}

namespace detail {

absl::Status CheckMarkingDefinition(const boost::json::object& json) {
  const std::string_view id = json.at("id").get_string();
  const boost::json::value* extensions = json.if_contains("extensions");
  const boost::json::value* tlp2 = extensions != nullptr && extensions->is_object()
                                       ? extensions->get_object().if_contains(kTlp2ExtensionId)
                                       : nullptr;
  if (tlp2 != nullptr) {
    const FieldPath extensions_path = FieldPath::Of("extensions");
    const FieldPath ext = extensions_path.Key(kTlp2ExtensionId);
    CONCORD_ASSIGN_OR_RETURN(const boost::json::object* body, CheckObject(*tlp2, ext));
    const boost::json::value* word = body->if_contains("tlp_2_0");
    if (word == nullptr) return Missing(ext.Key("tlp_2_0"));
    CONCORD_ASSIGN_OR_RETURN(std::string_view w, CheckString(*word, ext.Key("tlp_2_0")));
    return CheckStandardTlp(kTlp2, w, id, ext.Key("tlp_2_0").ToString());
  }
  // Without an extension, STIX 2.1 §7.2.1 needs definition_type and definition.
  const boost::json::value* type = json.if_contains("definition_type");
  const boost::json::value* definition = json.if_contains("definition");
  if (extensions == nullptr) {
    if (type == nullptr) return FieldError("definition_type", "is required");
    if (definition == nullptr) return FieldError("definition", "is required");
  }
  if (type == nullptr || definition == nullptr) return absl::OkStatus();
  const std::string_view t = type->get_string();
  const FieldPath def = FieldPath::Of("definition");
  if (t == "statement") {
    const boost::json::value* statement = definition->get_object().if_contains("statement");
    if (statement == nullptr) return Missing(def.Key("statement"));
    return CheckString(*statement, def.Key("statement")).status();
  }
  if (t == "tlp") {
    const boost::json::value* word = definition->get_object().if_contains("tlp");
    if (word == nullptr) return Missing(def.Key("tlp"));
    CONCORD_ASSIGN_OR_RETURN(std::string_view w, CheckString(*word, def.Key("tlp")));
    return CheckStandardTlp(kTlp1, w, id, "definition.tlp");
  }
  return absl::OkStatus();
}

}  // namespace detail
}  // namespace concord::stix
