#include "node/pattern_commands.h"

#include <fstream>
#include <ostream>
#include <sstream>

#include "boost/json/serialize.hpp"
#include "common/status.h"
#include "common/json.h"
#include "fmt/format.h"
#include "pattern/evaluate.h"
#include "pattern/pattern.h"

namespace concord::node {

int RunPatternValidate(const PatternArgs& args, bool json, std::ostream& out, std::ostream& err) {
  auto parsed = pattern::Pattern::Parse(args.pattern);
  if (parsed.ok()) {
    out << (json ? R"({"valid":true})" : "valid") << '\n';
    return 0;
  }
  const auto detail = pattern::GetParseError(parsed.status());
  const size_t offset = detail ? detail->offset : 0;
  const std::string message = detail ? detail->message : std::string(Sv(parsed.status().message()));
  if (json) {
    out << boost::json::serialize(boost::json::object{{"valid", false}, {"offset", offset}, {"error", message}})
        << '\n';
  } else {
    err << "invalid pattern at offset " << offset << ": " << message << '\n';
    err << "  " << args.pattern << '\n' << "  " << std::string(std::min(offset, args.pattern.size()), ' ') << "^\n";
  }
  return 1;
}

int RunPatternMatch(const PatternArgs& args, bool json, std::ostream& out, std::ostream& err) {
  auto parsed = pattern::Pattern::Parse(args.pattern);
  if (!parsed.ok()) return RunPatternValidate(args, json, out, err) == 0 ? 1 : 2;
  std::ifstream in(args.file, std::ios::binary);
  if (!in) {
    err << "concord: " << args.file << ": cannot open\n";
    return 2;
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  auto document = ParseJson(bytes.str());
  if (!document.ok()) {
    err << "concord: " << args.file << ": " << Sv(document.status().message()) << '\n';
    return 2;
  }
  auto observations = pattern::ObservationsFromBundle(*document);
  if (!observations.ok()) {
    err << "concord: " << args.file << ": " << Sv(observations.status().message()) << '\n';
    return 2;
  }
  const pattern::MatchResult result = pattern::Evaluate(*parsed, *observations);
  if (json) {
    boost::json::array ids;
    for (const auto& id : result.observation_ids) ids.push_back(boost::json::value(id));
    out << boost::json::serialize(boost::json::object{{"matched", result.matched},
                                                      {"observations", observations->size()},
                                                      {"matched_observations", std::move(ids)},
                                                      {"truncated", result.truncated}})
        << '\n';
  } else {
    out << (result.matched ? "match" : "no match") << fmt::format(" ({} observation(s) read)", observations->size())
        << '\n';
    for (size_t i = 0; i < result.observation_ids.size(); ++i) {
      const size_t index = result.observation_indexes[i];
      const auto& o = (*observations)[index];
      out << "  " << (o.id.empty() ? fmt::format("observation #{}", index) : o.id) << "  "
          << FormatRfc3339(o.first_observed) << " .. " << FormatRfc3339(o.last_observed) << '\n';
    }
    if (result.truncated) out << "  (search truncated: too many combinations; the result may be incomplete)\n";
  }
  return result.matched ? 0 : 1;
}

}  // namespace concord::node
