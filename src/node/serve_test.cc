// The node in process: its routes against the OpenAPI document.
#include "node/serve.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "api/openapi.h"
#include "boost/json/parse.hpp"

namespace concord::node {
namespace {

TEST(Serve, OpenApiDocumentNamesExactlyTheRoutesServed) {
  const auto dir = std::filesystem::temp_directory_path() / ("concord_routes_" + std::to_string(::getpid()));
  NodeConfig config;
  config.db = (dir / "concord.db").string();
  config.listen = "127.0.0.1:0";
  config.insecure_http = true;
  auto node = Node::Start(config);
  ASSERT_TRUE(node.ok()) << node.status();

  std::set<std::pair<std::string, std::string>> served;
  for (const auto& [method, pattern] : (*node)->routes()) served.emplace(method, pattern);
  std::set<std::pair<std::string, std::string>> documented;
  const auto doc = boost::json::parse(api::OpenApiDocument()).as_object();
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      std::string upper(method);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.emplace(upper, std::string(path));
    }
  }
  for (const auto& r : served) EXPECT_TRUE(documented.count(r)) << "served but not documented: " << r.first << " " << r.second;
  for (const auto& r : documented) EXPECT_TRUE(served.count(r)) << "documented but not served: " << r.first << " " << r.second;
  node->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace concord::node
